//! What a table file keeps for global-table replication: the write stamp of every item
//! that changed while the table had replicas (last-writer-wins needs the winner of the
//! last change, deletions included), and, per source region, the last stream record of
//! that region's replica applied here. Both change in the same transaction as the items,
//! so a replicated change is applied exactly once across crashes.

use crate::error::StorageError;
use crate::table::{ItemKey, hash_to_sql};
use rusqlite::{Connection, OptionalExtension, params};

/// The tables (created with the table file's other tables; `docs/formats.md`).
pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS item_stamp (h INTEGER NOT NULL,
         pk BLOB NOT NULL, sk BLOB NOT NULL, ts INTEGER NOT NULL, origin TEXT NOT NULL,
         PRIMARY KEY (h, pk, sk));
     CREATE TABLE IF NOT EXISTS replica_checkpoint (source TEXT PRIMARY KEY, seq INTEGER NOT NULL);";

/// Who wrote an item last, and when: the order of last-writer-wins. Ties on the time
/// are broken by the region name, so every replica picks the same winner.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteStamp {
    /// The write's time, ms since the epoch.
    pub ts_ms: i64,
    /// The region the write was made in.
    pub origin: String,
}

pub(crate) fn stamp_get(
    conn: &Connection,
    key: &ItemKey,
) -> Result<Option<WriteStamp>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT ts, origin FROM item_stamp WHERE h = ?1 AND pk = ?2 AND sk = ?3")?
        .query_row(params![hash_to_sql(key.hash), key.pk, key.sk], |r| {
            Ok(WriteStamp {
                ts_ms: r.get(0)?,
                origin: r.get(1)?,
            })
        })
        .optional()?)
}

pub(crate) fn stamp_put(
    conn: &Connection,
    key: &ItemKey,
    stamp: &WriteStamp,
) -> Result<(), StorageError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO item_stamp (h, pk, sk, ts, origin) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        hash_to_sql(key.hash),
        key.pk,
        key.sk,
        stamp.ts_ms,
        stamp.origin
    ])?;
    Ok(())
}

pub(crate) fn checkpoint_get(conn: &Connection, source: &str) -> Result<Option<i64>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT seq FROM replica_checkpoint WHERE source = ?1")?
        .query_row(params![source], |r| r.get(0))
        .optional()?)
}

pub(crate) fn checkpoint_put(
    conn: &Connection,
    source: &str,
    seq: i64,
) -> Result<(), StorageError> {
    conn.prepare_cached("INSERT OR REPLACE INTO replica_checkpoint (source, seq) VALUES (?1, ?2)")?
        .execute(params![source, seq])?;
    Ok(())
}
