//! The backend conformance suite of `sealdb-storage` against PostgreSQL, in both sort-key
//! modes (SQLCipher runs the same suite in `sealdb-storage`'s tests).

// A test file: its helpers panic on failure too.
#![allow(clippy::unwrap_used)]

mod common;

use sealdb_common::SecretKey32;
use sealdb_postgres::SortKeyMode;
use sealdb_storage::conformance;
use uuid::Uuid;

async fn run(mode: SortKeyMode, test: &str) {
    let Some(backend) = common::backend(test).await else {
        return;
    };
    conformance::run_all(|| {
        let backend = backend.clone();
        async move {
            let key = SecretKey32::random().expect("random key");
            backend
                .open_table(Uuid::new_v4(), &key, mode)
                .await
                .expect("open a fresh table")
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_sort_keys_pass_the_conformance_suite() {
    run(
        SortKeyMode::Ordered,
        "ordered_sort_keys_pass_the_conformance_suite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_sort_keys_pass_the_conformance_suite() {
    run(
        SortKeyMode::Sealed,
        "sealed_sort_keys_pass_the_conformance_suite",
    )
    .await;
}

/// The units of the suite also run on a single-threaded runtime: the blocking thread of a
/// unit drives its statements while the runtime's only thread waits for the unit.
#[tokio::test]
async fn units_run_on_a_current_thread_runtime() {
    run(
        SortKeyMode::Ordered,
        "units_run_on_a_current_thread_runtime",
    )
    .await;
}
