//! One table's encrypted file: a single writer thread with group commit, and a small
//! pool of read connections.
//!
//! ```text
//!  requests ──► WriteUnit queue ──► writer thread (owns the write connection)
//!                                   BEGIN IMMEDIATE
//!                                     SAVEPOINT; unit 1 reads+writes; RELEASE or ROLLBACK TO
//!                                     SAVEPOINT; unit 2 ...              (up to MAX_GROUP)
//!                                   COMMIT (WAL, synchronous=FULL: one fsync for the group)
//!                                   answer every unit
//!  reads ──► a pooled read connection (WAL: sees the last commit); short reads (GetItem,
//!            one Query page) on the calling thread, scans and exports on the blocking pool
//! ```
//! One writer per table makes every unit serializable with the others without a lock
//! manager: a unit's condition check and its write see the same state.

use crate::error::StorageError;
use crate::index::{IndexEntry, IndexEntryKey};
use crate::readers::Readers;
use crate::sqlcipher::{open_encrypted, open_existing};
use crate::writer::{Finisher, UnitFn};
use rusqlite::{Connection, OptionalExtension, params};
use sealdb_common::SecretKey32;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Version of the table file schema, stored in `meta`. DO NOT CHANGE for v1 files.
const TABLE_SCHEMA_V1: i64 = 1;
/// The most write units queued for one table's writer; beyond it writes are throttled
/// (ThrottlingException) instead of growing memory without bound.
pub const MAX_QUEUED_UNITS: usize = 4096;
/// How long DynamoDB Streams records are kept: 24 hours.
pub const STREAM_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// The storage key of an item: partition hash, then the order-preserving encodings of
/// the partition and sort key values (the sort key is empty for hash-only tables).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    /// Stable 64-bit hash of the partition key (Scan order, parallel-scan segments).
    pub hash: u64,
    /// Encoded partition key value.
    pub pk: Vec<u8>,
    /// Encoded sort key value, empty when the table has none.
    pub sk: Vec<u8>,
}

/// An item as stored: its encoded bytes and the DynamoDB size it counts for.
#[derive(Clone, Debug)]
pub struct StoredItem {
    /// The storage key.
    pub key: ItemKey,
    /// Encoded item (the DynamoDB layer's format).
    pub value: Vec<u8>,
}

/// SQLite's INTEGER is signed: flip the top bit so that unsigned hash order is kept.
pub(crate) fn hash_to_sql(h: u64) -> i64 {
    i64::from_be_bytes((h ^ (1 << 63)).to_be_bytes())
}

pub(crate) fn hash_from_sql(h: i64) -> u64 {
    u64::from_be_bytes(h.to_be_bytes()) ^ (1 << 63)
}

/// Reads and writes available to a write unit, inside the group transaction.
pub trait WriteTx {
    /// The current value of an item (including writes of earlier units in this group).
    fn get(&mut self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError>;
    /// Inserts or replaces an item; `size` is the DynamoDB item size, kept for statistics.
    fn put(&mut self, key: &ItemKey, value: &[u8], size: u64) -> Result<(), StorageError>;
    /// Deletes an item; true if it existed.
    fn delete(&mut self, key: &ItemKey) -> Result<bool, StorageError>;
    /// Inserts or replaces a secondary-index entry of index number `ix`.
    fn index_put(
        &mut self,
        ix: u32,
        key: &IndexEntryKey,
        value: &[u8],
        size: u64,
    ) -> Result<(), StorageError>;
    /// Deletes a secondary-index entry; true if it existed.
    fn index_delete(&mut self, ix: u32, key: &IndexEntryKey) -> Result<bool, StorageError>;
    /// Deletes up to `limit` entries of index `ix`; returns how many were deleted.
    fn index_drop_some(&mut self, ix: u32, limit: usize) -> Result<usize, StorageError>;
    /// Appends a change record to the table's stream (same transaction as the change).
    fn stream_append(&mut self, ts_ms: i64, record: &[u8]) -> Result<(), StorageError>;
    /// Point-in-time recovery: records the item at `key` as it is now, before a change
    /// at `ts_ms`, trimming history older than `keep_after_ms` (same transaction).
    fn pitr_record(
        &mut self,
        key: &ItemKey,
        ts_ms: i64,
        keep_after_ms: i64,
    ) -> Result<(), StorageError>;
    /// Deletes up to `limit` rows of recovery history; returns how many were deleted.
    fn pitr_clear_some(&mut self, limit: usize) -> Result<usize, StorageError>;
    /// Whether this table's part of multi-table transaction `id` was applied.
    fn is_applied(&mut self, id: &str) -> Result<bool, StorageError>;
    /// Records that this table's part of transaction `id` is applied (same commit).
    fn mark_applied(&mut self, id: &str) -> Result<(), StorageError>;
    /// Forgets the record of transaction `id` (once its redo record is gone).
    fn forget_applied(&mut self, id: &str) -> Result<(), StorageError>;
    /// The write stamp of an item of a replicated table (last-writer-wins).
    fn stamp_get(&mut self, key: &ItemKey) -> Result<Option<crate::WriteStamp>, StorageError>;
    /// Records the write stamp of an item (kept after a deletion, as its tombstone).
    fn stamp_put(&mut self, key: &ItemKey, stamp: &crate::WriteStamp) -> Result<(), StorageError>;
    /// The last stream sequence number of `source`'s replica applied here.
    fn checkpoint_get(&mut self, source: &str) -> Result<Option<i64>, StorageError>;
    /// Records the last stream sequence number of `source`'s replica applied here.
    fn checkpoint_put(&mut self, source: &str, seq: i64) -> Result<(), StorageError>;
}

/// A unit's verdict: keep its writes, or undo them. Both carry the answer for the caller.
pub enum Decision<R> {
    /// Keep the writes; answer `R` once they are durable.
    Commit(R),
    /// Undo the writes (a condition failed, say); answer `R`.
    Rollback(R),
}

/// Statistics kept with the table: item count and total DynamoDB item size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Number of items.
    pub item_count: u64,
    /// Sum of DynamoDB item sizes in bytes.
    pub size_bytes: u64,
}

/// An open table file.
pub struct TableStore {
    path: PathBuf,
    key: SecretKey32,
    /// Read-locked to queue a unit (the runtime's threads queue at once: a mutex here was
    /// contended, 1.4 % of a PutItem's CPU), write-locked to close.
    sender: RwLock<Option<mpsc::Sender<UnitFn>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<Readers>,
    /// One permit per queued or running unit: bounds the writer's queue.
    queue: Arc<tokio::sync::Semaphore>,
}

impl TableStore {
    /// Creates the table file at `path` under `key` (or opens it if it exists), and
    /// starts its writer.
    pub fn create(path: &Path, key: SecretKey32) -> Result<Arc<TableStore>, StorageError> {
        let conn = open_encrypted(path, &key)?;
        crate::readers::tune(&conn)?;
        TableStore::start(path, key, conn)
    }

    /// Opens the existing table file at `path` with `key`, and starts its writer. A
    /// missing file is corruption of the table, never a new empty table.
    pub fn open(path: &Path, key: SecretKey32) -> Result<Arc<TableStore>, StorageError> {
        if !path.exists() {
            return Err(StorageError::Corrupt(format!(
                "table file {} is missing",
                path.display()
            )));
        }
        let conn = open_existing(path, &key)?;
        crate::readers::tune(&conn)?;
        TableStore::start(path, key, conn)
    }

    fn start(
        path: &Path,
        key: SecretKey32,
        conn: Connection,
    ) -> Result<Arc<TableStore>, StorageError> {
        init_schema(&conn)?;
        let (tx, rx) = mpsc::channel::<UnitFn>();
        let (reopen_path, reopen_key) = (path.to_owned(), key.clone());
        let reopen: crate::writer::Reopen = Box::new(move || {
            let conn = open_existing(&reopen_path, &reopen_key)?;
            crate::readers::tune(&conn)?;
            Ok(conn)
        });
        let writer = std::thread::Builder::new()
            .name("sealdb-writer".into())
            .spawn(move || crate::writer::writer_loop(conn, reopen, rx))?;
        let readers = Arc::new(Readers::new(path.to_owned(), key.clone()));
        Ok(Arc::new(TableStore {
            path: path.to_owned(),
            readers,
            key,
            sender: RwLock::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            queue: Arc::new(tokio::sync::Semaphore::new(MAX_QUEUED_UNITS)),
        }))
    }

    /// Runs `f` in the writer, inside a transaction shared with other units, and answers
    /// once the group is durable. A `Rollback` decision undoes `f`'s writes only. When
    /// the writer's queue is full the answer is [`StorageError::Throttled`] at once.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn WriteTx) -> Result<Decision<R>, StorageError> + Send + 'static,
    {
        let permit = Arc::clone(&self.queue)
            .try_acquire_owned()
            .map_err(|_| StorageError::Throttled)?;
        self.enqueue(f, permit).await
    }

    /// [`TableStore::write`] for the server's own work (index backfill, recovery): waits
    /// for room in the queue instead of being throttled.
    pub async fn write_when_room<R, F>(&self, f: F) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn WriteTx) -> Result<Decision<R>, StorageError> + Send + 'static,
    {
        let permit = Arc::clone(&self.queue)
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Closed)?;
        self.enqueue(f, permit).await
    }

    /// How many more units the queue takes now.
    #[cfg(test)]
    pub(crate) fn free_queue_slots(&self) -> usize {
        self.queue.available_permits()
    }

    async fn enqueue<R, F>(
        &self,
        f: F,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn WriteTx) -> Result<Decision<R>, StorageError> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<R, StorageError>>();
        let unit: UnitFn = Box::new(move |tx: &mut dyn WriteTx| {
            let (commit, answer) = match f(tx) {
                Ok(Decision::Commit(r)) => (true, Ok(r)),
                Ok(Decision::Rollback(r)) => (false, Ok(r)),
                Err(e) => (false, Err(e)),
            };
            let fin: Finisher = Box::new(move |res| {
                drop(permit);
                let _ = done_tx.send(match answer {
                    Ok(r) => res.map(|()| r),
                    Err(e) => Err(e),
                });
            });
            (commit, fin)
        });
        {
            let guard = self.sender.read().map_err(|_| StorageError::Closed)?;
            let sender = guard.as_ref().ok_or(StorageError::Closed)?;
            sender.send(unit).map_err(|_| StorageError::Closed)?;
        }
        // A unit dropped unanswered was lost to a panic in the writer.
        done_rx.await.map_err(|_| StorageError::WriterFailed)?
    }

    /// Runs a read on a pooled read connection, off the async threads: for reads that
    /// may take long (scans, exports, statistics).
    async fn read<R, F>(&self, f: F) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StorageError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|_| StorageError::Closed)?
    }

    /// Runs a short read (one item, one page of one partition) on the calling thread.
    /// Such a read takes microseconds when its pages are in the connection's cache, far
    /// less than handing it to another thread and waking this one up again (profiled:
    /// a third of the server's CPU went to those two thread switches per GetItem).
    fn read_here<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        self.readers.with(f)
    }

    /// The current value of one item.
    pub async fn get(&self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
        self.read_here(|conn| get_item(conn, key))
    }

    /// Items in storage order `(hash, pk, sk)`, strictly after `after` when given, within
    /// `[hash_lo, hash_hi]`, at most `limit` items or until `max_bytes` of values were read.
    pub async fn scan(
        &self,
        hash_lo: u64,
        hash_hi: u64,
        after: Option<ItemKey>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredItem>, StorageError> {
        self.read(move |conn| scan_items(conn, hash_lo, hash_hi, after.as_ref(), limit, max_bytes))
            .await
    }

    /// Items of one partition in sort-key order (descending when `forward` is false),
    /// within the sort-key bounds, at most `limit` items or `max_bytes` of values.
    #[allow(clippy::too_many_arguments)]
    pub async fn query(
        &self,
        hash: u64,
        pk: Vec<u8>,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        forward: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredItem>, StorageError> {
        self.read_here(|conn| query_partition(conn, hash, &pk, &lo, &hi, forward, limit, max_bytes))
    }

    /// Entries of index `ix` for one index partition, in index sort-key order (then
    /// table key), within the bounds, strictly after/before `after` when paging.
    #[allow(clippy::too_many_arguments)]
    pub async fn index_query(
        &self,
        ix: u32,
        hash: u64,
        ipk: Vec<u8>,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        after: Option<IndexEntryKey>,
        forward: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<IndexEntry>, StorageError> {
        self.read_here(|conn| {
            crate::index::query(
                conn,
                ix,
                hash,
                &ipk,
                &lo,
                &hi,
                after.as_ref(),
                forward,
                limit,
                max_bytes,
            )
        })
    }

    /// Entries of index `ix` in storage order within a hash range, after `after`.
    pub async fn index_scan(
        &self,
        ix: u32,
        hash_lo: u64,
        hash_hi: u64,
        after: Option<IndexEntryKey>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<IndexEntry>, StorageError> {
        self.read(move |conn| {
            crate::index::scan(conn, ix, hash_lo, hash_hi, after.as_ref(), limit, max_bytes)
        })
        .await
    }

    /// Entry count and total size of index `ix`.
    pub async fn index_stats(&self, ix: u32) -> Result<TableStats, StorageError> {
        self.read(move |conn| crate::index::stats(conn, ix)).await
    }

    /// Copies a consistent snapshot of the table into a new SQLCipher file under `key`
    /// (SQLCipher's export, from one read transaction).
    pub async fn export_to(&self, dest: PathBuf, key: SecretKey32) -> Result<(), StorageError> {
        self.read(move |conn| export(conn, &dest, &key)).await
    }

    /// Stream records with a sequence number above `after`, oldest first, at most `limit`,
    /// not older than `min_ts_ms` (records past retention are skipped), and no more than
    /// `max_bytes` of records, counting `per_record` bytes more for each (always at
    /// least one record when there is one).
    pub async fn stream_read(
        &self,
        after: i64,
        limit: usize,
        min_ts_ms: i64,
        max_bytes: usize,
        per_record: usize,
    ) -> Result<Vec<(i64, i64, Vec<u8>)>, StorageError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, ts, record FROM stream WHERE seq > ?1 AND ts >= ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![after, min_ts_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)),
            )?;
            let mut out = Vec::new();
            let mut total = 0usize;
            for row in rows {
                let row = row?;
                total = total.saturating_add(row.2.len().saturating_add(per_record));
                if total > max_bytes && !out.is_empty() {
                    break;
                }
                out.push(row);
            }
            Ok(out)
        })
        .await
    }

    /// Where the stream's shards start after rollovers: `(first_seq, opened at ms)`.
    pub async fn stream_shard_starts(&self) -> Result<Vec<(i64, i64)>, StorageError> {
        self.read(crate::stream::boundaries).await
    }

    /// The first and last stream sequence numbers (0, 0 when empty).
    pub async fn stream_bounds(&self) -> Result<(i64, i64), StorageError> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM stream",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
    }

    /// The last stream sequence number of `source`'s replica applied to this table.
    pub async fn replica_checkpoint(&self, source: &str) -> Result<Option<i64>, StorageError> {
        let source = source.to_owned();
        self.read(move |conn| crate::replication::checkpoint_get(conn, &source))
            .await
    }

    /// The write stamp of an item (global tables).
    pub async fn write_stamp(
        &self,
        key: &ItemKey,
    ) -> Result<Option<crate::WriteStamp>, StorageError> {
        let key = key.clone();
        self.read(move |conn| crate::replication::stamp_get(conn, &key))
            .await
    }

    /// Item count and total size.
    pub async fn stats(&self) -> Result<TableStats, StorageError> {
        self.read(read_stats).await
    }

    /// Stops the writer after the queued units, and closes every connection.
    pub fn close(&self) {
        if let Ok(mut s) = self.sender.write() {
            s.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.readers.close();
    }

    /// Seals bytes under a key derived from this table's key (redo records), so that
    /// what a table owns stays under its key wherever it is written.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StorageError> {
        crate::seal::seal(&self.key, plaintext)
    }

    /// Opens what [`TableStore::seal`] sealed.
    pub fn open_sealed(&self, sealed: &[u8]) -> Result<Vec<u8>, StorageError> {
        crate::seal::open(&self.key, sealed)
    }

    /// The table key (for re-wrapping it under another KMS key).
    pub fn key(&self) -> &SecretKey32 {
        &self.key
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TableStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Exports the whole database of `conn` into a new file at `dest` under `key`.
pub(crate) fn export(
    conn: &Connection,
    dest: &Path,
    key: &SecretKey32,
) -> Result<(), StorageError> {
    // Read connections may not create files: the copy starts as an empty file (which
    // SQLite takes for a new database), made here, owner-only.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(dest)?;
    let hex = key.to_hex_secret();
    let path = dest
        .to_str()
        .ok_or_else(|| StorageError::Corrupt("path is not UTF-8".into()))?;
    let attach = zeroize::Zeroizing::new(format!(
        "ATTACH DATABASE '{}' AS export KEY \"x'{}'\"",
        path.replace('\'', "''"),
        hex.expose()
    ));
    conn.execute_batch(&attach)?;
    let result = conn
        .query_row("SELECT sqlcipher_export('export')", [], |_| Ok(()))
        .map_err(StorageError::from);
    let detach = conn.execute_batch("DETACH DATABASE export");
    result?;
    detach?;
    // Make the copy durable before anyone relies on it.
    std::fs::File::open(dest)?.sync_all()?;
    Ok(())
}

fn init_schema(conn: &Connection) -> Result<(), StorageError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS items (h INTEGER NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL,
                                           v BLOB NOT NULL, sz INTEGER NOT NULL);
         CREATE UNIQUE INDEX IF NOT EXISTS items_key ON items (h, pk, sk);
         CREATE TABLE IF NOT EXISTS applied_tx (id TEXT PRIMARY KEY);
         CREATE TABLE IF NOT EXISTS idx (ix INTEGER NOT NULL, h INTEGER NOT NULL, ipk BLOB NOT NULL,
                                         isk BLOB NOT NULL, tpk BLOB NOT NULL, tsk BLOB NOT NULL,
                                         v BLOB NOT NULL, sz INTEGER NOT NULL);
         CREATE UNIQUE INDEX IF NOT EXISTS idx_key ON idx (ix, h, ipk, isk, tpk, tsk);
         CREATE TABLE IF NOT EXISTS stream (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,
                                            record BLOB NOT NULL);",
    )?;
    conn.execute_batch(crate::stream::SHARD_SCHEMA)?;
    conn.execute_batch(crate::replication::SCHEMA)?;
    conn.execute_batch(crate::pitr::SCHEMA)?;
    let version: Option<i64> = conn
        .query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))
        .optional()?;
    match version {
        None => {
            conn.execute_batch(&format!(
                "INSERT INTO meta VALUES ('schema', {TABLE_SCHEMA_V1}), ('item_count', 0), ('size_bytes', 0);"
            ))?;
            Ok(())
        }
        Some(TABLE_SCHEMA_V1) => Ok(()),
        Some(v) => Err(StorageError::Corrupt(format!(
            "table file schema version {v} is not supported"
        ))),
    }
}

pub(crate) fn get_item(conn: &Connection, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT v FROM items WHERE h = ?1 AND pk = ?2 AND sk = ?3")?;
    Ok(stmt
        .query_row(params![hash_to_sql(key.hash), key.pk, key.sk], |r| r.get(0))
        .optional()?)
}

fn read_stats(conn: &Connection) -> Result<TableStats, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT k, v FROM meta WHERE k IN ('item_count', 'size_bytes')")?;
    let mut stats = TableStats::default();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (k, v) = row?;
        let v = u64::try_from(v).unwrap_or(0);
        if k == "item_count" {
            stats.item_count = v;
        } else {
            stats.size_bytes = v;
        }
    }
    Ok(stats)
}

fn row_to_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredItem> {
    Ok(StoredItem {
        key: ItemKey {
            hash: hash_from_sql(r.get(0)?),
            pk: r.get(1)?,
            sk: r.get(2)?,
        },
        value: r.get(3)?,
    })
}

fn collect_limited(
    rows: impl Iterator<Item = rusqlite::Result<StoredItem>>,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<StoredItem>, StorageError> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for row in rows {
        let item = row?;
        bytes += item.value.len();
        out.push(item);
        if out.len() >= limit || bytes >= max_bytes {
            break;
        }
    }
    Ok(out)
}

fn scan_items(
    conn: &Connection,
    hash_lo: u64,
    hash_hi: u64,
    after: Option<&ItemKey>,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<StoredItem>, StorageError> {
    let (lo, hi) = (hash_to_sql(hash_lo), hash_to_sql(hash_hi));
    match after {
        None => {
            let mut stmt = conn.prepare_cached(
                "SELECT h, pk, sk, v FROM items WHERE h >= ?1 AND h <= ?2 ORDER BY h, pk, sk",
            )?;
            let rows = stmt.query_map(params![lo, hi], row_to_item)?;
            collect_limited(rows, limit, max_bytes)
        }
        Some(a) => {
            let mut stmt = conn.prepare_cached(
                "SELECT h, pk, sk, v FROM items WHERE (h, pk, sk) > (?3, ?4, ?5) AND h <= ?2 AND h >= ?1
                 ORDER BY h, pk, sk",
            )?;
            let rows = stmt.query_map(
                params![lo, hi, hash_to_sql(a.hash), a.pk, a.sk],
                row_to_item,
            )?;
            collect_limited(rows, limit, max_bytes)
        }
    }
}

pub(crate) fn bound_parts(b: &Bound<Vec<u8>>) -> (Option<&[u8]>, Option<&[u8]>) {
    match b {
        Bound::Included(v) => (Some(v.as_slice()), None),
        Bound::Excluded(v) => (None, Some(v.as_slice())),
        Bound::Unbounded => (None, None),
    }
}

#[allow(clippy::too_many_arguments)]
fn query_partition(
    conn: &Connection,
    hash: u64,
    pk: &[u8],
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
    forward: bool,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<StoredItem>, StorageError> {
    // Bounds are passed with NULL meaning "no such bound", so one statement serves all shapes.
    let (lo_incl, lo_excl) = bound_parts(lo);
    let (hi_incl, hi_excl) = bound_parts(hi);
    let sql = if forward {
        "SELECT h, pk, sk, v FROM items WHERE h = ?1 AND pk = ?2
           AND (?3 IS NULL OR sk >= ?3) AND (?4 IS NULL OR sk > ?4)
           AND (?5 IS NULL OR sk <= ?5) AND (?6 IS NULL OR sk < ?6)
         ORDER BY sk ASC"
    } else {
        "SELECT h, pk, sk, v FROM items WHERE h = ?1 AND pk = ?2
           AND (?3 IS NULL OR sk >= ?3) AND (?4 IS NULL OR sk > ?4)
           AND (?5 IS NULL OR sk <= ?5) AND (?6 IS NULL OR sk < ?6)
         ORDER BY sk DESC"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![hash_to_sql(hash), pk, lo_incl, lo_excl, hi_incl, hi_excl],
        row_to_item,
    )?;
    collect_limited(rows, limit, max_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(h: u64, pk: &[u8], sk: &[u8]) -> ItemKey {
        ItemKey {
            hash: h,
            pk: pk.to_vec(),
            sk: sk.to_vec(),
        }
    }

    #[test]
    fn hash_order_is_unsigned() {
        let hs = [0u64, 1, 1 << 62, (1 << 63) - 1, 1 << 63, u64::MAX];
        for w in hs.windows(2) {
            assert!(hash_to_sql(w[0]) < hash_to_sql(w[1]));
            assert_eq!(hash_from_sql(hash_to_sql(w[0])), w[0]);
        }
    }

    #[tokio::test]
    async fn writes_group_commit_and_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            TableStore::create(&dir.path().join("t.db"), SecretKey32::from_bytes([1; 32])).unwrap();
        let mut handles = Vec::new();
        for i in 0..50u64 {
            let s = Arc::clone(&store);
            handles.push(tokio::spawn(async move {
                s.write(move |tx| {
                    let k = key(i, b"p", b"");
                    tx.put(&k, b"value", 10)?;
                    if i % 10 == 0 {
                        Ok(Decision::Rollback(false))
                    } else {
                        Ok(Decision::Commit(true))
                    }
                })
                .await
                .unwrap()
            }));
        }
        let mut committed = 0;
        for h in handles {
            if h.await.unwrap() {
                committed += 1;
            }
        }
        assert_eq!(committed, 45);
        let stats = store.stats().await.unwrap();
        assert_eq!(
            stats,
            TableStats {
                item_count: 45,
                size_bytes: 450
            }
        );
        assert!(store.get(&key(0, b"p", b"")).await.unwrap().is_none());
        assert_eq!(
            store.get(&key(1, b"p", b"")).await.unwrap().unwrap(),
            b"value"
        );
        let all = store
            .scan(0, u64::MAX, None, 1000, usize::MAX)
            .await
            .unwrap();
        assert_eq!(all.len(), 45);
        let page = store
            .scan(0, u64::MAX, Some(all[9].key.clone()), 5, usize::MAX)
            .await
            .unwrap();
        assert_eq!(page[0].key, all[10].key);
        assert_eq!(page.len(), 5);
    }

    #[tokio::test]
    async fn stream_appends_read_and_age_out() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            TableStore::create(&dir.path().join("s.db"), SecretKey32::from_bytes([3; 32])).unwrap();
        let day = STREAM_RETENTION_MS;
        // Twenty old records, then one new append per write: each drops old ones.
        store
            .write(move |tx| {
                for i in 0..20 {
                    tx.stream_append(i, format!("old{i}").as_bytes())?;
                }
                Ok(Decision::Commit(()))
            })
            .await
            .unwrap();
        assert_eq!(store.stream_bounds().await.unwrap(), (1, 20));
        let page = store.stream_read(5, 3, 0, usize::MAX, 0).await.unwrap();
        assert_eq!(
            page.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![6, 7, 8],
            "ordered by sequence number, after the position"
        );
        for i in 0..3 {
            store
                .write(move |tx| {
                    tx.stream_append(day + 100 + i, b"new")?;
                    Ok(Decision::Commit(()))
                })
                .await
                .unwrap();
        }
        // 3 appends × 8 trimmed = 20 old records gone; sequence numbers are never reused.
        assert_eq!(store.stream_bounds().await.unwrap(), (21, 23));
        let all = store.stream_read(0, 100, day, usize::MAX, 0).await.unwrap();
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|r| r.2 == b"new"));
    }

    #[tokio::test]
    async fn query_orders_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            TableStore::create(&dir.path().join("q.db"), SecretKey32::from_bytes([2; 32])).unwrap();
        store
            .write(|tx| {
                for sk in [b"a", b"b", b"c", b"d"] {
                    tx.put(&key(7, b"p", sk), sk, 1)?;
                }
                tx.put(&key(7, b"q", b"a"), b"other", 1)?;
                Ok(Decision::Commit(()))
            })
            .await
            .unwrap();
        let sks = |v: Vec<StoredItem>| v.into_iter().map(|i| i.key.sk).collect::<Vec<_>>();
        let fwd = store
            .query(
                7,
                b"p".to_vec(),
                Bound::Unbounded,
                Bound::Unbounded,
                true,
                10,
                usize::MAX,
            )
            .await
            .unwrap();
        assert_eq!(
            sks(fwd),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        let back = store
            .query(
                7,
                b"p".to_vec(),
                Bound::Included(b"b".to_vec()),
                Bound::Excluded(b"d".to_vec()),
                false,
                10,
                usize::MAX,
            )
            .await
            .unwrap();
        assert_eq!(sks(back), vec![b"c".to_vec(), b"b".to_vec()]);
    }
}
