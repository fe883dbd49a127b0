//! A real `sealdb serve` process (DynamoDB and KMS on one port) on an ephemeral port, for
//! the tests that drive the SDK clients. The binary comes from `SEALDB_BIN`, else the
//! workspace's `target/debug/sealdb`; without one these tests skip and say so.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ACCESS_KEY: &str = "AKIDSEALDBTEST0000001";
pub const SECRET_KEY: &str = "sealdbTestSecretKey0000000000000000000000";

pub struct Server {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

fn binary() -> Option<PathBuf> {
    let path = match std::env::var_os("SEALDB_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/sealdb"),
    };
    path.exists().then_some(path)
}

impl Server {
    /// A fresh server, or `None` (after printing why) when no binary is built.
    pub fn start() -> Option<Server> {
        let Some(bin) = binary() else {
            println!("SKIPPED: no sealdb binary (set SEALDB_BIN or build target/debug/sealdb)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("SEALDB_ACCESS_KEY_ID", ACCESS_KEY)
            .env("SEALDB_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(ep) = line.strip_prefix("sealdb listening on ") {
                    let _ = tx.send(ep.to_owned());
                }
            }
        });
        let endpoint = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        Some(Server {
            child,
            endpoint,
            _dir: dir,
        })
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    pub fn kms(&self) -> aws_sdk_kms::Client {
        use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
