//! Multi-table transactions: all-or-nothing, and completed after a crash.
#![allow(clippy::unwrap_used)]

use sealdb_common::{RootKey, SecretKey32};
use sealdb_storage::{Engine, ItemKey, PartFn, PartOutcome, RootKeyVault, TxWrite, WriteTx};
use std::sync::Arc;

fn key(pk: &[u8]) -> ItemKey {
    ItemKey {
        hash: 1,
        pk: pk.to_vec(),
        sk: vec![],
    }
}

fn open(dir: &std::path::Path) -> Engine {
    let root = RootKey::from_key(SecretKey32::from_bytes([1; 32]));
    Engine::open(dir, &root, Arc::new(RootKeyVault::new(&root))).unwrap()
}

fn put_part(pk: &'static [u8], ok: bool) -> PartFn<&'static str> {
    Box::new(move |_tx: &mut dyn WriteTx| {
        Ok(PartOutcome {
            ok,
            writes: vec![TxWrite::Item {
                key: key(pk),
                value: Some((b"v".to_vec(), 1)),
            }],
            answer: if ok { "None" } else { "ConditionalCheckFailed" },
        })
    })
}

#[tokio::test]
async fn commits_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let a = engine
        .create_table("a", vec![1], 0, None, None)
        .await
        .unwrap();
    let b = engine
        .create_table("b", vec![1], 0, None, None)
        .await
        .unwrap();
    let sa = engine.store(&engine.table("a").unwrap()).await.unwrap();
    let sb = engine.store(&engine.table("b").unwrap()).await.unwrap();

    let r = engine
        .transact(vec![
            (Arc::clone(&sa), a.id.clone(), put_part(b"x", true)),
            (Arc::clone(&sb), b.id.clone(), put_part(b"y", false)),
        ])
        .await
        .unwrap();
    assert!(!r.committed);
    assert_eq!(r.answers, vec!["None", "ConditionalCheckFailed"]);
    assert!(sa.get(&key(b"x")).await.unwrap().is_none());
    assert!(sb.get(&key(b"y")).await.unwrap().is_none());

    let r = engine
        .transact(vec![
            (Arc::clone(&sa), a.id.clone(), put_part(b"x", true)),
            (Arc::clone(&sb), b.id.clone(), put_part(b"y", true)),
        ])
        .await
        .unwrap();
    assert!(r.committed);
    assert!(sa.get(&key(b"x")).await.unwrap().is_some());
    assert!(sb.get(&key(b"y")).await.unwrap().is_some());
    assert_eq!(engine.recover_transactions().await.unwrap(), 0);
}

#[tokio::test]
async fn index_entries_follow_writes_and_page() {
    use sealdb_storage::{Decision, IndexEntryKey};
    use std::ops::Bound;
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine
        .create_table("t", vec![1], 0, None, None)
        .await
        .unwrap();
    let s = engine.store(&engine.table("t").unwrap()).await.unwrap();
    let ek = |isk: &[u8], tpk: &[u8]| IndexEntryKey {
        hash: 9,
        ipk: b"g".to_vec(),
        isk: isk.to_vec(),
        tpk: tpk.to_vec(),
        tsk: vec![],
    };
    s.write(move |tx: &mut dyn WriteTx| {
        for (isk, tpk) in [(b"a", b"1"), (b"b", b"2"), (b"b", b"3"), (b"c", b"4")] {
            tx.index_put(1, &ek(isk, tpk), b"proj", 10)?;
        }
        tx.index_put(2, &ek(b"a", b"1"), b"other index", 5)?;
        Ok(Decision::Commit(()))
    })
    .await
    .unwrap();
    assert_eq!(s.index_stats(1).await.unwrap().item_count, 4);
    assert_eq!(s.index_stats(1).await.unwrap().size_bytes, 40);
    let page = s
        .index_query(
            1,
            9,
            b"g".to_vec(),
            Bound::Included(b"b".to_vec()),
            Bound::Unbounded,
            None,
            true,
            2,
            usize::MAX,
        )
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.key.tpk.clone()).collect::<Vec<_>>(),
        [b"2".to_vec(), b"3".to_vec()]
    );
    let next = s
        .index_query(
            1,
            9,
            b"g".to_vec(),
            Bound::Included(b"b".to_vec()),
            Bound::Unbounded,
            Some(page[1].key.clone()),
            true,
            2,
            usize::MAX,
        )
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|e| e.key.tpk.clone()).collect::<Vec<_>>(),
        [b"4".to_vec()]
    );
    let all = s
        .index_scan(1, 0, u64::MAX, None, 100, usize::MAX)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    s.write(move |tx: &mut dyn WriteTx| {
        assert!(tx.index_delete(1, &ek(b"a", b"1"))?);
        assert_eq!(tx.index_drop_some(2, 100)?, 1);
        Ok(Decision::Commit(()))
    })
    .await
    .unwrap();
    assert_eq!(s.index_stats(1).await.unwrap().item_count, 3);
    assert_eq!(s.index_stats(2).await.unwrap().item_count, 0);
}
