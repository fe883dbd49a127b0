//! The data dir as a whole: one process at a time, a missing table file is corruption,
//! and a root-key rotation leaves every table and every backup usable.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ScalarAttributeType};
use common::Server;
use std::process::Command;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

async fn create(c: &aws_sdk_dynamodb::Client, name: &str) {
    c.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .send()
        .await
        .unwrap();
}

async fn put(c: &aws_sdk_dynamodb::Client, table: &str, pk: &str, v: &str) {
    c.put_item()
        .table_name(table)
        .item("pk", s(pk))
        .item("v", s(v))
        .send()
        .await
        .unwrap();
}

async fn get(c: &aws_sdk_dynamodb::Client, table: &str, pk: &str) -> Option<String> {
    let out = c
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item()
        .and_then(|i| i.get("v"))
        .and_then(|v| v.as_s().ok())
        .cloned()
}

fn sealdb(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_second_process_is_refused_while_the_server_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    for args in [
        &["credentials", "list"][..],
        &["credentials", "create", "--name", "bob"],
        &["rotate-root-key"],
        &["audit", "verify"],
    ] {
        let out = sealdb(args, &dir);
        assert!(!out.status.success(), "{args:?} ran beside the server");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is in use by another sealdb process"),
            "{args:?}: {err}"
        );
    }
    let second = sealdb(&["serve", "--listen", "127.0.0.1:0"], &dir);
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use by another sealdb process"));
    server.stop();
    let out = sealdb(&["credentials", "list"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_missing_table_file_is_corruption_not_an_empty_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let c = server.client();
    create(&c, "lost").await;
    put(&c, "lost", "a", "1").await;
    let table_files = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir.join("tables"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "db"))
            .collect()
    };
    let lost_file = table_files(&dir).pop().unwrap();
    create(&c, "kept").await;
    put(&c, "kept", "a", "2").await;
    assert_eq!(table_files(&dir).len(), 2);
    server.stop();
    std::fs::remove_file(&lost_file).unwrap();
    let server = Server::start_on(&dir);
    let c = server.client();
    let err = c
        .get_item()
        .table_name("lost")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    let code = err.into_service_error().meta().code().map(str::to_owned);
    assert_eq!(code.as_deref(), Some("InternalServerError"));
    let err = c
        .put_item()
        .table_name("lost")
        .item("pk", s("b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InternalServerError")
    );
    assert!(!lost_file.exists(), "the missing file was recreated");
    // The other table keeps serving.
    assert_eq!(get(&c, "kept", "a").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn root_key_rotation_keeps_every_backup_restorable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let c = server.client();
    let kms = server.kms();
    let key = kms.create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    create(&c, "owned").await;
    c.create_table()
        .table_name("kmskey")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .sse_specification(
            aws_sdk_dynamodb::types::SseSpecification::builder()
                .enabled(true)
                .sse_type(aws_sdk_dynamodb::types::SseType::Kms)
                .kms_master_key_id(&key_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut backups = Vec::new();
    for t in ["owned", "kmskey"] {
        put(&c, t, "a", t).await;
        let b = c
            .create_backup()
            .table_name(t)
            .backup_name(format!("{t}-b"))
            .send()
            .await
            .unwrap();
        backups.push((t, b.backup_details().unwrap().backup_arn().to_owned()));
    }
    server.stop();
    let out = sealdb(&["rotate-root-key"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start_on(&dir);
    let c = server.client();
    for (t, arn) in &backups {
        let target = format!("{t}-restored");
        c.restore_table_from_backup()
            .backup_arn(arn)
            .target_table_name(&target)
            .send()
            .await
            .unwrap_or_else(|e| panic!("restore of {t}'s backup: {e:?}"));
        assert_eq!(get(&c, &target, "a").await.as_deref(), Some(*t));
        assert_eq!(get(&c, t, "a").await.as_deref(), Some(*t));
    }
}

/// Every file of the data dir with its bytes (the lock file aside).
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().is_some_and(|n| n != "sealdb.lock") {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_missing_wrong_or_readable_root_key_refuses_to_start_and_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    create(&server.client(), "ttt").await;
    server.stop();
    let key_path = dir.join("root.key");
    let good = std::fs::read(&key_path).unwrap();
    let serve = |dir: &std::path::Path| {
        let out = sealdb(&["serve", "--listen", "127.0.0.1:0"], dir);
        assert!(!out.status.success(), "the server started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = snapshot(&dir);
    let err = serve(&dir);
    assert!(err.contains("root key file"), "{err}");
    assert_eq!(
        snapshot(&dir),
        before,
        "a readable root key changed the data dir"
    );
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();

    std::fs::write(&key_path, [7u8; 32]).unwrap();
    let before = snapshot(&dir);
    let err = serve(&dir);
    assert!(err.contains("does not open the catalog"), "{err}");
    assert_eq!(
        snapshot(&dir),
        before,
        "a wrong root key changed the data dir"
    );

    std::fs::remove_file(&key_path).unwrap();
    let before = snapshot(&dir);
    let err = serve(&dir);
    assert!(
        err.contains("root key") && err.contains("is missing"),
        "{err}"
    );
    assert_eq!(
        snapshot(&dir),
        before,
        "a missing root key changed the data dir"
    );
    assert!(!key_path.exists(), "a new root key was made for old data");

    std::fs::write(&key_path, &good).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = Server::start_on(&dir);
    server
        .client()
        .describe_table()
        .table_name("ttt")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn files_are_owner_only_in_owner_only_dirs() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let c = server.client();
    create(&c, "ttt").await;
    put(&c, "ttt", "a", "1").await;
    c.create_backup()
        .table_name("ttt")
        .backup_name("bbb")
        .send()
        .await
        .unwrap();
    server.stop();
    let mut todo = vec![dir.clone()];
    let mut files = 0;
    while let Some(d) = todo.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "directory {} has mode {mode:o}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "file {} has mode {mode:o}", p.display());
                files += 1;
            }
        }
    }
    assert!(files >= 5, "only {files} files");
}

/// Flips one byte in every page after the first (or in the first page's body when the
/// file has one page); returns the original bytes.
fn flip_pages(path: &std::path::Path) -> Vec<u8> {
    let original = std::fs::read(path).unwrap();
    let mut bad = original.clone();
    if bad.len() <= 4096 {
        bad[200] ^= 0x55;
    } else {
        for page in (4096..bad.len()).step_by(4096) {
            bad[page + 200] ^= 0x55;
        }
    }
    std::fs::write(path, &bad).unwrap();
    original
}

#[tokio::test]
async fn flipped_bytes_are_detected_and_named_and_other_tables_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let c = server.client();
    create(&c, "hurt").await;
    let hurt_file = std::fs::read_dir(dir.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .unwrap();
    create(&c, "whole").await;
    for i in 0..50 {
        put(&c, "hurt", &format!("k{i}"), &"x".repeat(500)).await;
    }
    put(&c, "whole", "a", "1").await;
    server.kms().create_key().send().await.unwrap();
    server.stop();
    let verify = |dir: &std::path::Path| {
        let out = sealdb(&["verify"], dir);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
    assert!(
        out.contains("ok    table hurt")
            && out.contains("ok    audit chain")
            && out.contains("ok    identity store (iam.db)")
            && out.contains("ok    identity records"),
        "{out}"
    );
    for (path, name) in [
        (hurt_file.clone(), "table hurt"),
        (dir.join("catalog.db"), "catalog"),
        (dir.join("keystore.db"), "key store"),
        (dir.join("txlog.db"), "transaction log"),
        (dir.join("iam.db"), "identity store (iam.db)"),
    ] {
        let original = flip_pages(&path);
        let (ok, out) = verify(&dir);
        assert!(!ok, "a flipped byte in {name} went unnoticed: {out}");
        assert!(out.contains(&format!("FAULT {name}")), "{name}: {out}");
        if name == "table hurt" {
            let mut server = Server::start_on(&dir);
            let c = server.client();
            let err = c
                .get_item()
                .table_name("hurt")
                .key("pk", s("k1"))
                .send()
                .await
                .unwrap_err();
            assert_eq!(
                err.into_service_error().meta().code(),
                Some("InternalServerError")
            );
            assert_eq!(get(&c, "whole", "a").await.as_deref(), Some("1"));
            server.stop();
        }
        std::fs::write(&path, original).unwrap();
    }
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
}

/// Starts `serve` on `dir` without any admin credential in the environment and returns
/// its exit status, stdout and stderr; a server that starts instead is killed and the
/// test fails (it would have served with a freshly minted admin key).
fn serve_expecting_refusal(dir: &std::path::Path) -> (std::process::ExitStatus, String, String) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("SEALDB_ACCESS_KEY_ID")
        .env_remove("SEALDB_SECRET_ACCESS_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut stdout = String::new();
    // Until stdout closes (the process ended), or it says it is listening, or 60 s.
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        stdout.push_str(&line);
        stdout.push('\n');
        if line.starts_with("sealdb listening on ") {
            break;
        }
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    (status, stdout, stderr)
}

#[tokio::test]
async fn a_missing_identity_store_refuses_to_start_and_mints_no_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let c = server.client();
    create(&c, "kept").await;
    put(&c, "kept", "a", "1").await;
    server.stop();
    let iam = dir.join("iam.db");
    let saved = std::fs::read(&iam).unwrap();
    std::fs::remove_file(&iam).unwrap();

    // serve: refused, naming the file; no new identity store and no new admin key.
    let (status, stdout, stderr) = serve_expecting_refusal(&dir);
    assert!(!status.success(), "served without iam.db: {stdout}");
    assert!(stderr.contains(&iam.display().to_string()), "{stderr}");
    assert!(stderr.contains("is missing"), "{stderr}");
    assert!(!stdout.contains("admin credential created"), "{stdout}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(!iam.exists(), "iam.db was recreated");
    // verify names the missing file.
    let out = sealdb(&["verify"], &dir);
    assert!(!out.status.success());
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        report.contains("iam.db") && report.contains("is missing"),
        "{report}"
    );
    // The maintenance commands refuse it the same way.
    for args in [
        &["credentials", "list"][..],
        &["credentials", "create", "--name", "bob"],
    ] {
        let out = sealdb(args, &dir);
        assert!(!out.status.success(), "{args:?} ran without iam.db");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is missing"), "{args:?}: {err}");
        assert!(!iam.exists(), "{args:?} recreated iam.db");
    }

    // The file restored from a copy: the same admin key serves the same table.
    std::fs::write(&iam, saved).unwrap();
    let server = Server::start_on(&dir);
    assert_eq!(
        get(&server.client(), "kept", "a").await.as_deref(),
        Some("1")
    );
}
