//! TLS to PostgreSQL (rustls): against a throwaway server that accepts TLS connections
//! only, `connect_tls` with the server's CA works end to end, while a plain connection,
//! an unknown CA and a plain connect with `sslmode=require` are all refused.

// A test file: its helpers panic on failure too.
#![allow(clippy::unwrap_used)]

mod common;

use common::Instance;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sealdb_common::SecretKey32;
use sealdb_postgres::{PgBackend, SortKeyMode};
use sealdb_storage::conformance::{self, key};
use sealdb_storage::{ItemStore, StorageError};
use uuid::Uuid;

fn roots(ca: &std::path::Path) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_verify_the_server_and_plain_ones_are_refused() {
    if common::url("tls_connections_verify_the_server_and_plain_ones_are_refused").is_none() {
        return;
    }
    let (instance, url) = Instance::start(true);
    let ca = instance.dir.path().join("tls/ca.crt");

    let backend = PgBackend::connect_tls(&url, 2, roots(&ca)).await.unwrap();
    let store = backend
        .open_table(
            Uuid::new_v4(),
            &SecretKey32::random().unwrap(),
            SortKeyMode::Sealed,
        )
        .await
        .unwrap();
    conformance::put(&*store, &key(b"over", b"tls"), b"sealed", 6).await;
    let got = store.get(&key(b"over", b"tls")).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"sealed"[..]));

    // The server takes TLS connections only: a plain one is turned away by pg_hba.
    let plain = PgBackend::connect(&url, 1).await;
    assert!(
        matches!(&plain, Err(StorageError::Backend(m)) if m.contains("28000")),
        "{:?}",
        plain.err()
    );
    // A server whose certificate no trusted CA signed is refused.
    let unknown = PgBackend::connect_tls(&url, 1, rustls::RootCertStore::empty()).await;
    assert!(unknown.is_err(), "an unverified server must be refused");
    // A URL that asks for TLS is not quietly served without it.
    let downgrade = PgBackend::connect(&format!("{url}?sslmode=require"), 1).await;
    assert!(matches!(&downgrade, Err(StorageError::Backend(m)) if m.contains("TLS")));
}
