//! Shard boundaries of a table's stream.
//!
//! Stream records of a table share one sequence of numbers (`stream.seq`). A shard is a
//! run of that sequence: `stream_shard(first_seq, ts)` holds where each shard after a
//! rollover starts and when it was opened. The writer opens a new shard when it appends
//! a record and the current shard is older than the rollover period (DynamoDB: about
//! four hours), so shards roll over with writes; a stream enabled again starts its own
//! shard at the first sequence number after the old stream (the service layer knows
//! that boundary). Rows are written in the same transaction as the record they start.

use crate::error::StorageError;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::atomic::{AtomicI64, Ordering};

/// How long a shard stays open before the next write opens a new one (4 hours).
pub const DEFAULT_SHARD_ROLLOVER_MS: i64 = 4 * 60 * 60 * 1000;

static SHARD_ROLLOVER_MS: AtomicI64 = AtomicI64::new(DEFAULT_SHARD_ROLLOVER_MS);

/// Sets the shard rollover period of every table of this process (tests: seconds).
pub fn set_shard_rollover_ms(ms: i64) {
    SHARD_ROLLOVER_MS.store(ms.max(1), Ordering::Relaxed);
}

/// The schema of the boundaries table (created with the table file's other tables).
pub(crate) const SHARD_SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS stream_shard (first_seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL);";

/// After the record `seq` written at `ts_ms`: opens a shard at it when the current one
/// is past the rollover period, and forgets boundaries of shards whose records are gone.
pub(crate) fn after_append(conn: &Connection, seq: i64, ts_ms: i64) -> Result<(), StorageError> {
    let current: Option<i64> = conn
        .prepare_cached("SELECT ts FROM stream_shard ORDER BY first_seq DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let period = SHARD_ROLLOVER_MS.load(Ordering::Relaxed);
    if current.is_none_or(|opened| ts_ms.saturating_sub(opened) >= period) {
        conn.prepare_cached("INSERT OR IGNORE INTO stream_shard (first_seq, ts) VALUES (?1, ?2)")?
            .execute(params![seq, ts_ms])?;
    }
    // A boundary below the oldest record's shard start describes only trimmed records.
    conn.prepare_cached(
        "DELETE FROM stream_shard WHERE first_seq < (
             SELECT MAX(first_seq) FROM stream_shard
             WHERE first_seq <= (SELECT COALESCE(MIN(seq), 0) FROM stream))",
    )?
    .execute([])?;
    Ok(())
}

/// Every shard start `(first_seq, opened at ms)`, in order.
pub(crate) fn boundaries(conn: &Connection) -> Result<Vec<(i64, i64)>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT first_seq, ts FROM stream_shard ORDER BY first_seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
