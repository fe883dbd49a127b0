//! Write units on PostgreSQL beyond the shared suite: two units that lock the same keys in
//! opposite orders deadlock; PostgreSQL breaks the deadlock, one unit answers Conflict
//! with nothing written, the other commits.

// A test file: its helpers panic on failure too.
#![allow(clippy::unwrap_used)]

mod common;

use sealdb_common::SecretKey32;
use sealdb_postgres::SortKeyMode;
use sealdb_storage::conformance::{self, key};
use sealdb_storage::{Decision, ItemStore, KeyRange, ReadLimit, StorageError};
use std::sync::{Arc, Barrier};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_fails_one_unit_with_conflict_and_nothing_written() {
    let Some(backend) =
        common::backend("a_deadlock_fails_one_unit_with_conflict_and_nothing_written").await
    else {
        return;
    };
    let store = backend
        .open_table(
            Uuid::new_v4(),
            &SecretKey32::random().unwrap(),
            SortKeyMode::Ordered,
        )
        .await
        .unwrap();
    // Both units hold their first key before either asks for its second.
    let barrier = Arc::new(Barrier::new(2));
    let unit = |first: &'static [u8], second: &'static [u8], mark: &'static [u8]| {
        let barrier = Arc::clone(&barrier);
        move |tx: &mut dyn sealdb_storage::ItemTx| {
            tx.put(&key(first, b""), mark, 1)?;
            barrier.wait();
            tx.put(&key(second, b""), mark, 1)?;
            Ok(Decision::Commit(()))
        }
    };
    let (one, two) = tokio::join!(
        store.write_unit(unit(b"a", b"b", b"1")),
        store.write_unit(unit(b"b", b"a", b"2"))
    );
    let conflicts = [&one, &two]
        .iter()
        .filter(|r| matches!(r, Err(StorageError::Conflict)))
        .count();
    assert_eq!(conflicts, 1, "{one:?} {two:?}");
    let winner: &[u8] = if one.is_ok() { b"1" } else { b"2" };
    for k in [b"a", b"b"] {
        let v = store.get(&key(k, b"")).await.unwrap();
        assert_eq!(
            v.as_deref(),
            Some(winner),
            "only the winner's writes are kept"
        );
    }
    assert_eq!(store.stats().await.unwrap().item_count, 2);
}

/// Sealed mode: a new item beyond the partition limit is refused (and nothing of its unit
/// kept); overwrites, other partitions and ordered tables are not limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_partition_takes_no_item_beyond_its_limit() {
    let Some(backend) = common::backend("a_sealed_partition_takes_no_item_beyond_its_limit").await
    else {
        return;
    };
    let open = |mode| {
        let backend = backend.clone();
        async move {
            let k = SecretKey32::random().unwrap();
            backend
                .open_table_limited(Uuid::new_v4(), &k, mode, 3)
                .await
                .unwrap()
        }
    };
    let sealed = open(SortKeyMode::Sealed).await;
    for sk in [b"1", b"2", b"3"] {
        conformance::put(&*sealed, &key(b"p", sk), b"v", 1).await;
    }
    let refused = sealed
        .write_unit(|tx| {
            tx.put(&key(b"other", b"1"), b"v", 1)?;
            tx.put(&key(b"p", b"4"), b"v", 1)?;
            Ok(Decision::Commit(()))
        })
        .await;
    assert!(
        matches!(refused, Err(StorageError::SealedPartitionTooLarge(3))),
        "{refused:?}"
    );
    assert_eq!(
        sealed.stats().await.unwrap().item_count,
        3,
        "the whole unit was undone"
    );
    conformance::put(&*sealed, &key(b"p", b"3"), b"new", 3).await;
    conformance::put(&*sealed, &key(b"other", b"1"), b"v", 1).await;
    let k = key(b"p", b"1");
    sealed
        .write_unit(move |tx| Ok(Decision::Commit(tx.delete(&k)?)))
        .await
        .unwrap();
    conformance::put(&*sealed, &key(b"p", b"5"), b"v", 1).await;
    let p = key(b"p", b"");
    let items = sealed
        .query(p.hash, p.pk, KeyRange::all(), ReadLimit::NONE)
        .await
        .unwrap();
    let sks: Vec<_> = items.iter().map(|i| i.key.sk.clone()).collect();
    assert_eq!(sks, vec![b"2".to_vec(), b"3".to_vec(), b"5".to_vec()]);

    let ordered = open(SortKeyMode::Ordered).await;
    for sk in [b"1", b"2", b"3", b"4", b"5"] {
        conformance::put(&*ordered, &key(b"p", sk), b"v", 1).await;
    }
    assert_eq!(ordered.stats().await.unwrap().item_count, 5);
}
