//! `sealdb audit verify` on a real log: passes, then fails once a record is edited.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_kms::primitives::Blob;
use common::Server;
use std::process::Command;

#[tokio::test]
async fn audit_verify_detects_an_edited_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let kms = server.kms();
    let id = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    kms.encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap();
    server.stop();
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_sealdb"))
            .args(["audit", "verify", "--data-dir"])
            .arg(&dir)
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit log intact: 2 records"));
    // Edit the second record (someone with the key store's key changing history).
    let root = sealdb_common::RootKey::load(&dir.join("root.key")).unwrap();
    let conn = sealdb_storage::sqlcipher::open_encrypted(
        &dir.join("keystore.db"),
        &root.derive(sealdb_common::Purpose::Keystore),
    )
    .unwrap();
    conn.execute(
        "UPDATE audit SET record = replace(record, 'Encrypt', 'Decrypt') WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(conn);
    let bad = verify();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("record 2 was edited"));
}
