//! Finding the PostgreSQL of the tests: `SEALDB_TEST_POSTGRES` (a URL; `scripts/test`
//! starts a throwaway server and sets it). Without it a test skips loudly, unless
//! `SEALDB_REQUIRE_POSTGRES=1` (set by `scripts/test`) makes it fail instead.

#![allow(dead_code)]

use sealdb_postgres::PgBackend;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The URL of the test server, or `None` (after a loud message) when there is none.
pub(crate) fn url(test: &str) -> Option<String> {
    match std::env::var("SEALDB_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("SEALDB_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{test}: SEALDB_REQUIRE_POSTGRES=1 but SEALDB_TEST_POSTGRES is not set"
            );
            // Straight to the process's stderr: the test harness would swallow eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** {test} SKIPPED: no PostgreSQL (set SEALDB_TEST_POSTGRES=postgres://..., \
                 as scripts/test does) ***\n"
            );
            None
        }
    }
}

/// A connected backend, or `None` when the test is skipped.
pub(crate) async fn backend(test: &str) -> Option<PgBackend> {
    let url = url(test)?;
    Some(
        PgBackend::connect(&url, 8)
            .await
            .expect("connect to the test PostgreSQL"),
    )
}

/// A throwaway server of a test's own (`scripts/pg-throwaway`), stopped when dropped.
pub(crate) struct Instance {
    pub(crate) dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-throwaway")
}

impl Instance {
    /// Starts one (TLS only when `tls`); returns it and its URL.
    pub(crate) fn start(tls: bool) -> (Instance, String) {
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("throwaway server");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("throwaway server")
                .local_addr()
                .expect("throwaway server")
                .port();
            let out = Command::new(script())
                .args([
                    "start",
                    dir.path().to_str().expect("throwaway server"),
                    &port.to_string(),
                ])
                .args(tls.then_some("tls"))
                .output()
                .expect("throwaway server");
            if out.status.success() {
                let url = String::from_utf8(out.stdout)
                    .expect("throwaway server")
                    .trim()
                    .to_owned();
                return (Instance { dir }, url);
            }
            eprintln!(
                "pg-throwaway start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        panic!("could not start a throwaway PostgreSQL");
    }

    /// Stops it (a fast shutdown: PostgreSQL checkpoints first).
    pub(crate) fn stop(&self) {
        let st = Command::new(script())
            .args(["stop", self.dir.path().to_str().expect("throwaway server")])
            .status()
            .expect("throwaway server");
        assert!(st.success());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}
