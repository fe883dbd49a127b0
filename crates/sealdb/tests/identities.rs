//! The identity store as the binary uses it: a data dir made before `iam.db` existed
//! keeps its credentials working, `sealdb credentials` fronts the same store, and no
//! secret is readable on disk.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ACCESS_KEY, SECRET_KEY, Server, client_with};
use sealdb_common::RootKey;
use sealdb_common::secret::SecretString;
use sealdb_storage::{Credential, Engine, RootKeyVault};
use std::process::Command;
use std::sync::Arc;

const OLD_USER_KEY: &str = "AKIAOLDCATALOGUSER01";
const OLD_USER_SECRET: &str = "OldCatalogSecretOfCarol00000000000000000";

/// A data dir as the previous release left it: credentials in the catalog.
fn legacy_data_dir(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let root = RootKey::generate().unwrap();
    root.save_new(&dir.join("root.key")).unwrap();
    let engine = Engine::open(dir, &root, Arc::new(RootKeyVault::new(&root))).unwrap();
    engine
        .put_credential(Credential {
            access_key_id: OLD_USER_KEY.into(),
            secret: SecretString::new(OLD_USER_SECRET.into()),
            user_name: Some("carol".into()),
        })
        .unwrap();
    engine
        .put_credential(Credential {
            access_key_id: ACCESS_KEY.into(),
            secret: SecretString::new(SECRET_KEY.into()),
            user_name: None,
        })
        .unwrap();
}

fn sealdb(args: &[&str], dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_credentials_migrate_and_keep_working() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    legacy_data_dir(&dir);

    // The migrated user's key still signs: it is authenticated, and then refused because
    // the user has no policy (DynamoDB authorizes every call).
    let mut server = Server::start_on(&dir);
    let denied = client_with(&server.endpoint, OLD_USER_KEY, OLD_USER_SECRET)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        denied.into_service_error().meta().code(),
        Some("AccessDeniedException")
    );
    server.client().list_tables().send().await.unwrap();
    let wrong = client_with(&server.endpoint, OLD_USER_KEY, SECRET_KEY)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        wrong.into_service_error().meta().code(),
        Some("InvalidSignatureException")
    );
    server.stop();

    // The catalog no longer holds them; the identity store does, and the CLI sees it.
    let root = RootKey::load(&dir.join("root.key")).unwrap();
    let engine = Engine::open(&dir, &root, Arc::new(RootKeyVault::new(&root))).unwrap();
    assert!(engine.credentials().is_empty());
    drop(engine);
    let (ok, listed) = sealdb(&["credentials", "list"], &dir);
    assert!(ok);
    assert!(
        listed.contains(&format!("{OLD_USER_KEY}\tActive\tcarol")),
        "{listed}"
    );
    assert!(listed.contains(&format!("{ACCESS_KEY}\tActive\t(admin: account root)")));

    // A key made by the CLI signs requests after a restart; a deleted one no longer does.
    let (ok, created) = sealdb(&["credentials", "create", "--name", "dave"], &dir);
    assert!(ok);
    let field = |name: &str| {
        created
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let (id, secret) = (field("AWS_ACCESS_KEY_ID="), field("AWS_SECRET_ACCESS_KEY="));
    let (ok, _) = sealdb(&["credentials", "delete", OLD_USER_KEY], &dir);
    assert!(ok);
    let (ok, _) = sealdb(&["credentials", "delete", OLD_USER_KEY], &dir);
    assert!(!ok, "deleting twice reports the missing key");

    // Nothing readable on disk: neither secret appears in any file of the data dir.
    for entry in walk(&dir) {
        let bytes = std::fs::read(&entry).unwrap();
        for s in [OLD_USER_SECRET, SECRET_KEY, secret.as_str()] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{} holds a secret",
                entry.display()
            );
        }
    }

    let server = Server::start_on(&dir);
    let denied = client_with(&server.endpoint, &id, &secret)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        denied.into_service_error().meta().code(),
        Some("AccessDeniedException"),
        "the new key is authenticated; its user has no policy"
    );
    let gone = client_with(&server.endpoint, OLD_USER_KEY, OLD_USER_SECRET)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        gone.into_service_error().meta().code(),
        Some("UnrecognizedClientException")
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
