//! The conformance suite of [`ItemStore`]: the same cases against every backend (this
//! crate's tests run it on SQLCipher, `sealdb-postgres`'s on PostgreSQL in both sort-key
//! modes). Each case takes a fresh, empty table. Feature `testing`.

// Test support: a failed step is a failed test, so it panics.
#![allow(clippy::unwrap_used)]

use crate::StorageError;
use crate::item_store::{ItemStore, KeyRange, ReadLimit, Segment};
use crate::table::{Decision, ItemKey, StoredItem, TableStats};
use std::collections::BTreeSet;
use std::future::Future;
use std::ops::Bound;
use std::sync::Arc;

/// An item key whose hash is derived from the partition key, as the DynamoDB layer's is.
pub fn key(pk: &[u8], sk: &[u8]) -> ItemKey {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pk);
    let mut h = [0u8; 8];
    h.copy_from_slice(&d.as_ref()[..8]);
    ItemKey {
        hash: u64::from_be_bytes(h),
        pk: pk.to_vec(),
        sk: sk.to_vec(),
    }
}

/// Puts one item in its own unit.
pub async fn put<S: ItemStore>(s: &S, k: &ItemKey, value: &[u8], size: u64) {
    let (k, value) = (k.clone(), value.to_vec());
    s.write_unit(move |tx| {
        tx.put(&k, &value, size)?;
        Ok(Decision::Commit(()))
    })
    .await
    .expect("put");
}

/// Runs every case, each on a table from `fresh`.
pub async fn run_all<S, F, Fut>(mut fresh: F)
where
    S: ItemStore + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    put_get_delete(&*fresh().await).await;
    rollback_and_errors_change_nothing(&*fresh().await).await;
    unit_reads_its_own_writes(&*fresh().await).await;
    concurrent_units_serialize(fresh().await).await;
    query_in_sort_key_order(&*fresh().await).await;
    query_stops_at_the_byte_limit(&*fresh().await).await;
    scan_segments_cover_every_item_once(&*fresh().await).await;
    stats_follow_writes(&*fresh().await).await;
}

fn keys(items: &[StoredItem]) -> Vec<Vec<u8>> {
    items.iter().map(|i| i.key.sk.clone()).collect()
}

/// Put, get, overwrite, delete; a hash-only key (empty sort key) too.
pub async fn put_get_delete<S: ItemStore>(s: &S) {
    let k = key(b"alpha", b"1");
    let hash_only = key(b"beta", b"");
    assert_eq!(s.get(&k).await.unwrap(), None, "a new table is empty");
    put(s, &k, b"v1", 2).await;
    put(s, &hash_only, b"h", 1).await;
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(s.get(&hash_only).await.unwrap().as_deref(), Some(&b"h"[..]));
    assert_eq!(
        s.get(&key(b"alpha", b"2")).await.unwrap(),
        None,
        "other sort key"
    );
    assert_eq!(
        s.get(&key(b"alph", b"a1")).await.unwrap(),
        None,
        "no key concatenation"
    );
    put(s, &k, b"v2", 2).await;
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"v2"[..]));
    let (k2, k3) = (k.clone(), k.clone());
    let existed = s
        .write_unit(move |tx| Ok(Decision::Commit(tx.delete(&k2)?)))
        .await
        .unwrap();
    assert!(existed);
    assert_eq!(s.get(&k).await.unwrap(), None);
    let again = s
        .write_unit(move |tx| Ok(Decision::Commit(tx.delete(&k3)?)))
        .await
        .unwrap();
    assert!(!again, "deleting a missing item reports it missing");
}

/// A unit that rolls back, or fails, leaves no write behind, and its answer comes back.
pub async fn rollback_and_errors_change_nothing<S: ItemStore>(s: &S) {
    let k = key(b"cond", b"x");
    put(s, &k, b"old", 3).await;
    let before = s.stats().await.unwrap();
    let (k1, k2) = (k.clone(), k.clone());
    let answer = s
        .write_unit(move |tx| {
            tx.put(&k1, b"new", 3)?;
            tx.put(&key(b"cond", b"y"), b"other", 5)?;
            // The condition (say, attribute_not_exists) fails after the writes were made.
            Ok(Decision::Rollback("condition failed"))
        })
        .await
        .unwrap();
    assert_eq!(answer, "condition failed");
    let failed = s
        .write_unit(move |tx| -> Result<Decision<()>, StorageError> {
            tx.delete(&k2)?;
            Err(StorageError::Corrupt("unit failed".into()))
        })
        .await;
    assert!(matches!(failed, Err(StorageError::Corrupt(m)) if m == "unit failed"));
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(s.get(&key(b"cond", b"y")).await.unwrap(), None);
    assert_eq!(s.stats().await.unwrap(), before);
}

/// Reads in a unit see the unit's earlier writes.
pub async fn unit_reads_its_own_writes<S: ItemStore>(s: &S) {
    let k = key(b"self", b"");
    let seen = s
        .write_unit(move |tx| {
            let before = tx.get(&k)?;
            tx.put(&k, b"mine", 4)?;
            let after = tx.get(&k)?;
            tx.delete(&k)?;
            let gone = tx.get(&k)?;
            tx.put(&k, b"last", 4)?;
            Ok(Decision::Commit((before, after, gone)))
        })
        .await
        .unwrap();
    assert_eq!(seen, (None, Some(b"mine".to_vec()), None));
    assert_eq!(
        s.get(&key(b"self", b"")).await.unwrap().as_deref(),
        Some(&b"last"[..])
    );
}

/// Concurrent read-modify-write units on one key lose no update, and of concurrent
/// put-if-absent units on a missing key exactly one wins.
pub async fn concurrent_units_serialize<S: ItemStore + 'static>(s: Arc<S>) {
    const N: usize = 16;
    let mut tasks = Vec::new();
    for _ in 0..N {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let counter = s
                .write_unit(move |tx| {
                    let k = key(b"counter", b"");
                    let n = match tx.get(&k)? {
                        Some(v) => u64::from_be_bytes(v.try_into().expect("8 bytes")),
                        None => 0,
                    };
                    tx.put(&k, &(n + 1).to_be_bytes(), 8)?;
                    Ok(Decision::Commit(()))
                })
                .await;
            let won = s
                .write_unit(move |tx| {
                    let k = key(b"absent", b"");
                    if tx.get(&k)?.is_some() {
                        return Ok(Decision::Rollback(false));
                    }
                    tx.put(&k, b"first", 5)?;
                    Ok(Decision::Commit(true))
                })
                .await;
            (counter, won)
        }));
    }
    let mut winners = 0;
    for t in tasks {
        let (counter, won) = t.await.expect("task");
        counter.expect("counter unit");
        winners += usize::from(won.expect("put-if-absent unit"));
    }
    let v = s
        .get(&key(b"counter", b""))
        .await
        .unwrap()
        .expect("counter");
    assert_eq!(v, (N as u64).to_be_bytes(), "no increment lost");
    assert_eq!(winners, 1, "exactly one put-if-absent succeeds");
    assert_eq!(s.stats().await.unwrap().item_count, 2);
}

/// Query returns one partition's items within the bounds, in unsigned byte order of the
/// sort key, either way, and stops at the item limit.
pub async fn query_in_sort_key_order<S: ItemStore>(s: &S) {
    let sks: [&[u8]; 6] = [b"\x01", b"\x7f", b"\x80", b"\x80\x00", b"\xff", b"a"];
    // Written out of order, so that no backend returns them sorted by accident.
    for sk in sks.iter().rev() {
        put(s, &key(b"part", sk), &[b'v', sk[0]], 2).await;
    }
    put(s, &key(b"other", b"\x80"), b"no", 2).await;
    let mut sorted: Vec<Vec<u8>> = sks.iter().map(|s| s.to_vec()).collect();
    sorted.sort();
    let p = key(b"part", b"");
    let q = |lo, hi, forward, items| {
        let range = KeyRange { lo, hi, forward };
        let limit = ReadLimit {
            items,
            bytes: usize::MAX,
        };
        s.query(p.hash, p.pk.clone(), range, limit)
    };
    let all = q(Bound::Unbounded, Bound::Unbounded, true, 100)
        .await
        .unwrap();
    assert_eq!(keys(&all), sorted);
    for item in &all {
        assert_eq!(
            item.key,
            key(b"part", &item.key.sk),
            "the key comes back whole"
        );
        assert_eq!(item.value, vec![b'v', item.key.sk[0]]);
    }
    let back = q(
        Bound::Included(b"\x7f".to_vec()),
        Bound::Excluded(b"\xff".to_vec()),
        false,
        100,
    )
    .await
    .unwrap();
    assert_eq!(
        keys(&back),
        vec![b"\x80\x00".to_vec(), b"\x80".to_vec(), b"\x7f".to_vec()]
    );
    let open = q(
        Bound::Excluded(b"\x80".to_vec()),
        Bound::Included(b"\xff".to_vec()),
        true,
        100,
    )
    .await
    .unwrap();
    assert_eq!(keys(&open), vec![b"\x80\x00".to_vec(), b"\xff".to_vec()]);
    let first2 = q(Bound::Unbounded, Bound::Unbounded, true, 2)
        .await
        .unwrap();
    assert_eq!(keys(&first2), sorted[..2].to_vec());
    let last2 = q(Bound::Unbounded, Bound::Unbounded, false, 2)
        .await
        .unwrap();
    assert_eq!(keys(&last2), vec![sorted[5].clone(), sorted[4].clone()]);
    let none = q(
        Bound::Included(b"b".to_vec()),
        Bound::Included(b"c".to_vec()),
        true,
        100,
    )
    .await
    .unwrap();
    assert!(none.is_empty());
    let missing = key(b"nobody", b"");
    let empty = s
        .query(missing.hash, missing.pk, KeyRange::all(), ReadLimit::NONE)
        .await
        .unwrap();
    assert!(empty.is_empty());
}

/// A page ends with the item that reaches the byte limit.
pub async fn query_stops_at_the_byte_limit<S: ItemStore>(s: &S) {
    for i in 0..6u8 {
        put(s, &key(b"bytes", &[i]), &[i; 10], 10).await;
    }
    let p = key(b"bytes", b"");
    let limit = ReadLimit {
        items: usize::MAX,
        bytes: 25,
    };
    let page = s
        .query(p.hash, p.pk.clone(), KeyRange::all(), limit)
        .await
        .unwrap();
    assert_eq!(keys(&page), vec![vec![0], vec![1], vec![2]]);
    let limit = ReadLimit {
        items: usize::MAX,
        bytes: 1,
    };
    let one = s.query(p.hash, p.pk, KeyRange::all(), limit).await.unwrap();
    assert_eq!(one.len(), 1, "a page holds at least one item");
}

/// Paging through each segment of a parallel scan returns every item exactly once, each
/// in the segment that `in_segment` names.
pub async fn scan_segments_cover_every_item_once<S: ItemStore>(s: &S) {
    let mut expected = BTreeSet::new();
    for p in 0..20u8 {
        for sk in 0..3u8 {
            let k = key(&[b'p', p], &[sk]);
            put(s, &k, &[p, sk], 2).await;
            expected.insert((k.pk, k.sk));
        }
    }
    for total in [1u32, 3, 7] {
        let mut seen = BTreeSet::new();
        for index in 0..total {
            let seg = Segment::new(index, total).expect("segment");
            let mut after = None;
            loop {
                let limit = ReadLimit {
                    items: 4,
                    bytes: usize::MAX,
                };
                let page = s.scan(seg, after.clone(), limit).await.unwrap();
                assert!(page.len() <= 4);
                for item in &page {
                    assert!(s.in_segment(&item.key, seg), "item reported in its segment");
                    assert_eq!(item.key, key(&item.key.pk, &item.key.sk));
                    assert_eq!(item.value, vec![item.key.pk[1], item.key.sk[0]]);
                    let fresh = seen.insert((item.key.pk.clone(), item.key.sk.clone()));
                    assert!(fresh, "item returned twice (total {total})");
                }
                match page.last() {
                    Some(last) if page.len() == 4 => after = Some(last.key.clone()),
                    _ => break,
                }
            }
        }
        assert_eq!(seen, expected, "TotalSegments {total} covers every item");
    }
    let limit = ReadLimit {
        items: usize::MAX,
        bytes: 5,
    };
    let page = s.scan(Segment::ALL, None, limit).await.unwrap();
    assert_eq!(page.len(), 3, "scan stops at the byte limit");
}

/// Item count and total size are exact after puts, overwrites and deletes.
pub async fn stats_follow_writes<S: ItemStore>(s: &S) {
    assert_eq!(s.stats().await.unwrap(), TableStats::default());
    for i in 0..10u8 {
        put(s, &key(&[i], b"s"), b"v", 100 + u64::from(i)).await;
    }
    let total: u64 = (100..110).sum();
    assert_eq!(
        s.stats().await.unwrap(),
        TableStats {
            item_count: 10,
            size_bytes: total
        }
    );
    put(s, &key(&[0], b"s"), b"bigger", 300).await;
    let k = key(&[1], b"s");
    s.write_unit(move |tx| Ok(Decision::Commit(tx.delete(&k)?)))
        .await
        .unwrap();
    let want = TableStats {
        item_count: 9,
        size_bytes: total - 100 + 300 - 101,
    };
    assert_eq!(s.stats().await.unwrap(), want);
}
