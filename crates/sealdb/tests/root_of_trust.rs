//! The root of trust: the data dir's `root-of-trust` header, mode `file` (with its warning
//! when the key file lies in the data dir) and the migration of a data dir without header.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ScalarAttributeType};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A `serve` whose stderr the test reads; killed on drop.
struct Serve {
    child: Child,
    endpoint: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn client(&self) -> aws_sdk_dynamodb::Client {
        common::client_with(&self.endpoint, common::ACCESS_KEY, common::SECRET_KEY)
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env("SEALDB_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("SEALDB_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines() {
            let Ok(line) = line else { break };
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ep) = line.strip_prefix("sealdb listening on ") {
                let _ = tx.send(ep.to_owned());
            }
        }
    });
    let endpoint = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(ep) => ep,
        Err(_) => panic!("server did not start: {}", stderr.lock().unwrap()),
    };
    // The warning is printed before the listener's line; give the reader a moment.
    std::thread::sleep(Duration::from_millis(100));
    Serve {
        child,
        endpoint,
        stderr,
    }
}

async fn put_and_get(c: &aws_sdk_dynamodb::Client, table: &str, create: bool) -> String {
    if create {
        c.create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
            .key_schema(common::key_elem("pk", KeyType::Hash))
            .send()
            .await
            .unwrap();
        c.put_item()
            .table_name(table)
            .item("pk", AttributeValue::S("a".into()))
            .item("v", AttributeValue::S("kept".into()))
            .send()
            .await
            .unwrap();
    }
    let out = c
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("a".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().unwrap()["v"].as_s().unwrap().clone()
}

const WARNING: &str = "lies inside the data dir";

#[tokio::test]
async fn file_mode_header_warning_and_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let header = dir.join("root-of-trust");
    // First start: a `file` header, and the key inside the data dir is warned about.
    let s = serve(&dir, &[]);
    assert_eq!(
        std::fs::read_to_string(&header).unwrap(),
        "sealdb-root-of-trust 1\nmode file\n"
    );
    assert!(s.stderr.lock().unwrap().contains(WARNING));
    assert_eq!(put_and_get(&s.client(), "t", true).await, "kept");
    drop(s);
    // Every start warns, not only the first.
    let s = serve(&dir, &[]);
    assert!(s.stderr.lock().unwrap().contains(WARNING));
    drop(s);
    // A data dir made before headers existed is `file` mode: the header is written.
    std::fs::remove_file(&header).unwrap();
    let s = serve(&dir, &[]);
    assert_eq!(
        std::fs::read_to_string(&header).unwrap(),
        "sealdb-root-of-trust 1\nmode file\n"
    );
    assert_eq!(put_and_get(&s.client(), "t", false).await, "kept");
    drop(s);
    // The key moved out of the data dir: no warning.
    let outside = tmp.path().join("root.key");
    std::fs::rename(dir.join("root.key"), &outside).unwrap();
    let s = serve(&dir, &["--root-key-file", outside.to_str().unwrap()]);
    assert!(!s.stderr.lock().unwrap().contains(WARNING));
    assert_eq!(put_and_get(&s.client(), "t", false).await, "kept");
    drop(s);
    // A header of an unknown version refuses to start and is left as it is.
    std::fs::write(&header, "sealdb-root-of-trust 9\nmode file\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(["--root-key-file", outside.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a root-of-trust header of a version"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&header).unwrap(),
        "sealdb-root-of-trust 9\nmode file\n"
    );
}
