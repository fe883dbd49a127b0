//! Crash points for tests: with `SEALDB_CRASH_POINT=<name>` in its environment the
//! process aborts when it reaches the point of that name, so a test can kill the server
//! at an exact step and prove that the next start recovers. Without the variable a point
//! costs one cached lookup.

use std::sync::OnceLock;

/// The environment variable naming the point to crash at.
pub const CRASH_POINT_ENV: &str = "SEALDB_CRASH_POINT";

/// Aborts the process here if `SEALDB_CRASH_POINT` names this point.
pub fn crash_point(name: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    if WANTED
        .get_or_init(|| std::env::var(CRASH_POINT_ENV).ok())
        .as_deref()
        == Some(name)
    {
        eprintln!("sealdb: crash point {name} reached, aborting");
        std::process::abort();
    }
}
