//! Finding the PostgreSQL of the tests: `SEALDB_TEST_POSTGRES` (a URL; `scripts/test`
//! starts a throwaway server and sets it). Without it a test skips loudly, unless
//! `SEALDB_REQUIRE_POSTGRES=1` (set by `scripts/test`) makes it fail instead.

#![allow(dead_code)]

use sealdb_postgres::PgBackend;
use std::io::Write;

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
