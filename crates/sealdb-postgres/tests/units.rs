//! Write units on PostgreSQL beyond the shared suite: two units that lock the same keys in
//! opposite orders deadlock; PostgreSQL breaks the deadlock, one unit answers Conflict
//! with nothing written, the other commits.

// A test file: its helpers panic on failure too.
#![allow(clippy::unwrap_used)]

mod common;

use sealdb_common::SecretKey32;
use sealdb_postgres::SortKeyMode;
use sealdb_storage::conformance::key;
use sealdb_storage::{Decision, ItemStore, StorageError};
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
