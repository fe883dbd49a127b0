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

/// `sealdb credentials create --name <name>`: the new key's id and secret, as printed.
fn create_credential(dir: &std::path::Path, name: &str) -> (String, String) {
    let (ok, created) = sealdb(&["credentials", "create", "--name", name], dir);
    assert!(ok);
    let field = |prefix: &str| {
        created
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .to_owned()
    };
    (field("AWS_ACCESS_KEY_ID="), field("AWS_SECRET_ACCESS_KEY="))
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
    let (id, secret) = create_credential(&dir, "dave");
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

/// Starts `sealdb serve` expecting it to refuse; returns what it printed on stderr.
fn serve_refuses(dir: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("SEALDB_ACCESS_KEY_ID", ACCESS_KEY)
        .env("SEALDB_SECRET_ACCESS_KEY", SECRET_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a damaged identity store");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A damaged `iam.db` — a flipped byte in a page, a record that does not decode, a
/// secret that does not open — is named by the server (which fails closed: identities
/// left out could drop a Deny) and by `sealdb verify`, and changes nothing: with the
/// file restored every identity and every table serve as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_identity_store_is_named_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let c = server.client();
    c.create_table()
        .table_name("ttt")
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def(
            "pk",
            aws_sdk_dynamodb::types::ScalarAttributeType::S,
        ))
        .key_schema(common::key_elem(
            "pk",
            aws_sdk_dynamodb::types::KeyType::Hash,
        ))
        .send()
        .await
        .unwrap();
    c.put_item()
        .table_name("ttt")
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    server.stop();
    let (alice_id, alice_secret) = create_credential(&dir, "alice");
    let iam = dir.join("iam.db");
    let original = std::fs::read(&iam).unwrap();
    let verify = || {
        let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
            .args(["verify", "--data-dir"])
            .arg(&dir)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    // A flipped byte in a page: SQLCipher's HMAC.
    let mut bad = original.clone();
    assert!(bad.len() > 4096, "iam.db has one page");
    bad[4096 + 200] ^= 0x55;
    std::fs::write(&iam, &bad).unwrap();
    let err = serve_refuses(&dir);
    assert!(
        err.contains(&iam.display().to_string()) && err.contains("sealdb verify"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&iam).unwrap(),
        bad,
        "the failed start changed iam.db"
    );
    let (ok, out) = verify();
    assert!(
        !ok && out.contains("FAULT identity store (iam.db)"),
        "{out}"
    );
    assert!(
        out.contains("ok    catalog") && out.contains("ok    table ttt"),
        "{out}"
    );

    // Records whose pages hold but which do not decode / open: each is named.
    std::fs::write(&iam, &original).unwrap();
    {
        let root = RootKey::load(&dir.join("root.key")).unwrap();
        let conn = sealdb_storage::sqlcipher::open_existing(
            &iam,
            &root.derive(sealdb_common::Purpose::Iam),
        )
        .unwrap();
        let blob = |kind: &str, name: &str, col: &str| -> Vec<u8> {
            conn.query_row(
                &format!("SELECT {col} FROM records WHERE kind = ?1 AND name = ?2"),
                [kind, name],
                |r| r.get(0),
            )
            .unwrap()
        };
        let mut user = blob("user", "alice", "record");
        user[0] = 0x02;
        let mut secret = blob("access_key", &alice_id, "sealed_secret");
        *secret.last_mut().unwrap() ^= 1;
        conn.execute(
            "UPDATE records SET record = ?1 WHERE kind = 'user' AND name = 'alice'",
            [&user],
        )
        .unwrap();
        conn.execute(
            "UPDATE records SET sealed_secret = ?1 WHERE kind = 'access_key' AND name = ?2",
            (&secret, &alice_id),
        )
        .unwrap();
    }
    let err = serve_refuses(&dir);
    assert!(
        err.contains("user alice: unknown record version")
            && err.contains(&format!("access_key {alice_id}: secret does not open")),
        "{err}"
    );
    let (ok, out) = verify();
    assert!(!ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("FAULT identity records"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("user alice") && line.contains(&alice_id),
        "{line}"
    );
    assert!(out.contains("ok    identity store (iam.db)"), "{out}");

    // Restored: everything as before the damage.
    std::fs::write(&iam, &original).unwrap();
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("iam.db{ext}")));
    }
    let (ok, out) = verify();
    assert!(ok, "{out}");
    let server = Server::start_on(&dir);
    let got = server
        .client()
        .get_item()
        .table_name("ttt")
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_some());
    let denied = client_with(&server.endpoint, &alice_id, &alice_secret)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        denied.into_service_error().meta().code(),
        Some("AccessDeniedException"),
        "alice's key is authenticated again"
    );
}
