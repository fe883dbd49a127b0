//! The schema sealdb creates and checks, and what `open_table` refuses.

// A test file: its helpers panic on failure too.
#![allow(clippy::unwrap_used)]

mod common;

use sealdb_common::SecretKey32;
use sealdb_postgres::{PgBackend, SCHEMA_VERSION, SortKeyMode};
use sealdb_storage::conformance::{self, key};
use sealdb_storage::{Decision, ItemStore, StorageError};
use uuid::Uuid;

/// A fresh database on the test server, so that its schema can be tampered with.
async fn fresh_database(url: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let name = format!("sealdb_test_{}", Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').expect("URL ends in /database");
    format!("{base}/{name}")
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test]
async fn schema_is_versioned_and_a_newer_one_is_refused() {
    let Some(url) = common::url("schema_is_versioned_and_a_newer_one_is_refused") else {
        return;
    };
    let db = fresh_database(&url).await;
    // Two nodes starting together: the advisory lock makes them take turns.
    let (a, b) = tokio::join!(PgBackend::connect(&db, 2), PgBackend::connect(&db, 2));
    a.unwrap();
    b.unwrap();
    let client = raw(&db).await;
    let rows = client
        .query("SELECT version FROM sealdb.schema_version", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), SCHEMA_VERSION);
    client
        .execute(
            "UPDATE sealdb.schema_version SET version = version + 1",
            &[],
        )
        .await
        .unwrap();
    match PgBackend::connect(&db, 2).await {
        Err(StorageError::Corrupt(m)) => assert!(m.contains("version 2"), "{m}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[tokio::test]
async fn a_table_reopens_only_with_its_mode_and_key() {
    let Some(backend) = common::backend("a_table_reopens_only_with_its_mode_and_key").await else {
        return;
    };
    let (id, k) = (Uuid::new_v4(), SecretKey32::random().unwrap());
    let store = backend
        .open_table(id, &k, SortKeyMode::Sealed)
        .await
        .unwrap();
    let item = key(b"kept", b"1");
    let it = item.clone();
    store
        .write_unit(move |tx| {
            tx.put(&it, b"value", 5)?;
            Ok(Decision::Commit(()))
        })
        .await
        .unwrap();
    drop(store);
    let again = backend
        .open_table(id, &k, SortKeyMode::Sealed)
        .await
        .unwrap();
    assert_eq!(
        again.get(&item).await.unwrap().as_deref(),
        Some(&b"value"[..])
    );
    assert_eq!(again.stats().await.unwrap().item_count, 1);
    let wrong_mode = backend.open_table(id, &k, SortKeyMode::Ordered).await;
    assert!(matches!(wrong_mode, Err(StorageError::Corrupt(_))));
    let other_key = SecretKey32::random().unwrap();
    let wrong_key = backend
        .open_table(id, &other_key, SortKeyMode::Sealed)
        .await;
    assert!(matches!(wrong_key, Err(StorageError::KeyUnavailable(_))));
}

/// A unit that ignores a failed statement and asks to commit is refused: PostgreSQL
/// aborted its transaction, so nothing of it may be reported as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_whose_statement_failed_cannot_commit() {
    let Some(url) = common::url("a_unit_whose_statement_failed_cannot_commit") else {
        return;
    };
    let db = fresh_database(&url).await;
    let backend = PgBackend::connect(&db, 2).await.unwrap();
    let store = backend
        .open_table(
            Uuid::new_v4(),
            &SecretKey32::random().unwrap(),
            SortKeyMode::Ordered,
        )
        .await
        .unwrap();
    // Make every item write fail at the server.
    raw(&db)
        .await
        .batch_execute(
            "ALTER TABLE sealdb.items ADD CONSTRAINT no_writes CHECK (size < 0) NOT VALID",
        )
        .await
        .unwrap();
    let answer = store
        .write_unit(|tx| {
            let failed = tx.put(&key(b"a", b""), b"v", 1).is_err();
            Ok(Decision::Commit(failed))
        })
        .await;
    assert!(
        matches!(answer, Err(StorageError::Backend(_))),
        "{answer:?}"
    );
    assert_eq!(store.stats().await.unwrap().item_count, 0);
    // The connection went back clean: the next unit works once writes are allowed again.
    raw(&db)
        .await
        .batch_execute("ALTER TABLE sealdb.items DROP CONSTRAINT no_writes")
        .await
        .unwrap();
    conformance::put(&*store, &key(b"a", b""), b"v", 1).await;
    assert_eq!(store.stats().await.unwrap().item_count, 1);
}
