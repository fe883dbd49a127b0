//! The writer thread of a table: group commit of write units, each in a savepoint.
//!
//! A unit that panics fails its group (rolled back, every unit in it answered with an
//! error) and the writer goes on with the next group, so one bad unit never takes the
//! table down. A savepoint that cannot be rolled back fails the whole group, because its
//! writes might otherwise be committed with the others.

use crate::error::StorageError;
use crate::index::IndexEntryKey;
use crate::table::{ItemKey, STREAM_RETENTION_MS, WriteTx, get_item, hash_to_sql};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::mpsc;

/// The write side seen by units: the writer's connection plus this unit's stat deltas.
struct UnitTx<'c> {
    conn: &'c Connection,
    count_delta: i64,
    size_delta: i64,
    /// Per index: (entry count delta, size delta).
    index_deltas: std::collections::BTreeMap<u32, (i64, i64)>,
}

impl UnitTx<'_> {
    fn existing_size(&self, key: &ItemKey) -> Result<Option<i64>, StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sz FROM items WHERE h = ?1 AND pk = ?2 AND sk = ?3")?;
        Ok(stmt
            .query_row(params![hash_to_sql(key.hash), key.pk, key.sk], |r| r.get(0))
            .optional()?)
    }
}

impl WriteTx for UnitTx<'_> {
    fn stream_append(&mut self, ts_ms: i64, record: &[u8]) -> Result<(), StorageError> {
        self.conn
            .prepare_cached("INSERT INTO stream (ts, record) VALUES (?1, ?2)")?
            .execute(params![ts_ms, record])?;
        crate::stream::after_append(self.conn, self.conn.last_insert_rowid(), ts_ms)?;
        // Each append drops a few of the oldest records past retention, so the stream
        // stays about one retention period long without a separate sweeper.
        self.conn
            .prepare_cached(
                "DELETE FROM stream WHERE seq IN (SELECT seq FROM stream ORDER BY seq LIMIT 8)
                 AND ts < ?1",
            )?
            .execute(params![ts_ms.saturating_sub(STREAM_RETENTION_MS)])?;
        Ok(())
    }

    fn pitr_record(
        &mut self,
        key: &ItemKey,
        ts_ms: i64,
        keep_after_ms: i64,
    ) -> Result<(), StorageError> {
        crate::pitr::record(self.conn, key, ts_ms, keep_after_ms)
    }

    fn pitr_clear_some(&mut self, limit: usize) -> Result<usize, StorageError> {
        crate::pitr::clear_some(self.conn, limit)
    }

    fn index_put(
        &mut self,
        ix: u32,
        key: &IndexEntryKey,
        value: &[u8],
        size: u64,
    ) -> Result<(), StorageError> {
        let (dc, dz) = crate::index::put_entry(self.conn, ix, key, value, size)?;
        let e = self.index_deltas.entry(ix).or_default();
        e.0 += dc;
        e.1 += dz;
        Ok(())
    }

    fn index_delete(&mut self, ix: u32, key: &IndexEntryKey) -> Result<bool, StorageError> {
        match crate::index::delete_entry(self.conn, ix, key)? {
            Some(old) => {
                let e = self.index_deltas.entry(ix).or_default();
                e.0 -= 1;
                e.1 -= old;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn index_drop_some(&mut self, ix: u32, limit: usize) -> Result<usize, StorageError> {
        let (n, size) = crate::index::drop_some(self.conn, ix, limit)?;
        let e = self.index_deltas.entry(ix).or_default();
        e.0 -= i64::try_from(n).unwrap_or(i64::MAX);
        e.1 -= size;
        Ok(n)
    }

    fn is_applied(&mut self, id: &str) -> Result<bool, StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM applied_tx WHERE id = ?1")?;
        Ok(stmt
            .query_row(params![id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn mark_applied(&mut self, id: &str) -> Result<(), StorageError> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO applied_tx (id) VALUES (?1)")?
            .execute(params![id])?;
        Ok(())
    }

    fn forget_applied(&mut self, id: &str) -> Result<(), StorageError> {
        self.conn
            .prepare_cached("DELETE FROM applied_tx WHERE id = ?1")?
            .execute(params![id])?;
        Ok(())
    }

    fn get(&mut self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
        get_item(self.conn, key)
    }

    fn stamp_get(&mut self, key: &ItemKey) -> Result<Option<crate::WriteStamp>, StorageError> {
        crate::replication::stamp_get(self.conn, key)
    }

    fn stamp_put(&mut self, key: &ItemKey, stamp: &crate::WriteStamp) -> Result<(), StorageError> {
        crate::replication::stamp_put(self.conn, key, stamp)
    }

    fn checkpoint_get(&mut self, source: &str) -> Result<Option<i64>, StorageError> {
        crate::replication::checkpoint_get(self.conn, source)
    }

    fn checkpoint_put(&mut self, source: &str, seq: i64) -> Result<(), StorageError> {
        crate::replication::checkpoint_put(self.conn, source, seq)
    }

    fn put(&mut self, key: &ItemKey, value: &[u8], size: u64) -> Result<(), StorageError> {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        match self.existing_size(key)? {
            Some(old) => {
                let mut stmt = self.conn.prepare_cached(
                    "UPDATE items SET v = ?4, sz = ?5 WHERE h = ?1 AND pk = ?2 AND sk = ?3",
                )?;
                stmt.execute(params![hash_to_sql(key.hash), key.pk, key.sk, value, size])?;
                self.size_delta += size - old;
            }
            None => {
                let mut stmt = self.conn.prepare_cached(
                    "INSERT INTO items (h, pk, sk, v, sz) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                stmt.execute(params![hash_to_sql(key.hash), key.pk, key.sk, value, size])?;
                self.count_delta += 1;
                self.size_delta += size;
            }
        }
        Ok(())
    }

    fn delete(&mut self, key: &ItemKey) -> Result<bool, StorageError> {
        match self.existing_size(key)? {
            Some(old) => {
                let mut stmt = self
                    .conn
                    .prepare_cached("DELETE FROM items WHERE h = ?1 AND pk = ?2 AND sk = ?3")?;
                stmt.execute(params![hash_to_sql(key.hash), key.pk, key.sk])?;
                self.count_delta -= 1;
                self.size_delta -= old;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Answers a unit once its group has committed or failed.
pub(crate) type Finisher = Box<dyn FnOnce(Result<(), StorageError>) + Send>;
/// A write unit: runs inside the group transaction and says whether to keep its writes.
pub(crate) type UnitFn = Box<dyn FnOnce(&mut dyn WriteTx) -> (bool, Finisher) + Send>;
/// Opens a fresh write connection when the old one is left inside a transaction.
pub(crate) type Reopen = Box<dyn Fn() -> Result<Connection, StorageError> + Send>;

/// The most units committed by one transaction.
const MAX_GROUP: usize = 256;

/// The writer thread: takes up to [`MAX_GROUP`] queued units at a time and commits them
/// together. Runs until every sender is gone.
pub(crate) fn writer_loop(mut conn: Connection, reopen: Reopen, rx: mpsc::Receiver<UnitFn>) {
    while let Ok(first) = rx.recv() {
        let mut units = vec![first];
        while units.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(u) => units.push(u),
                Err(_) => break,
            }
        }
        // Units run so far in the open transaction, answered when it ends.
        let mut pending: Vec<Finisher> = Vec::new();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_group(&conn, units, &mut pending);
        }));
        if run.is_err() {
            // The panicking unit and the units after it were dropped unanswered (their
            // callers see WriterFailed); the ones before it are failed here.
            tracing::error!("a write unit panicked: its group is rolled back and failed");
            let _ = conn.execute_batch("ROLLBACK");
            for fin in pending {
                fin(Err(StorageError::WriterFailed));
            }
        }
        if !conn.is_autocommit() {
            match reopen() {
                Ok(fresh) => conn = fresh,
                Err(e) => tracing::error!(error = %e, "cannot reopen the write connection"),
            }
        }
    }
}

/// Runs `units` in as few transactions as possible: normally one, more when a savepoint
/// could not be ended and the transaction had to be abandoned.
fn run_group(conn: &Connection, units: Vec<UnitFn>, pending: &mut Vec<Finisher>) {
    let mut queue = units.into_iter().peekable();
    while queue.peek().is_some() {
        run_transaction(conn, &mut queue, pending);
    }
}

/// Runs units from `queue` in one transaction, until the queue is empty or a unit's
/// savepoint could not be ended (then every unit of the transaction fails).
fn run_transaction(
    conn: &Connection,
    queue: &mut impl Iterator<Item = UnitFn>,
    pending: &mut Vec<Finisher>,
) {
    if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
        let msg = e.to_string();
        for unit in queue {
            fail_unrun(unit, StorageError::Corrupt(format!("begin failed: {msg}")));
        }
        return;
    }
    let (mut count, mut size) = (0i64, 0i64);
    let mut index_deltas: std::collections::BTreeMap<u32, (i64, i64)> =
        std::collections::BTreeMap::new();
    for unit in queue.by_ref() {
        if let Err(e) = run_cached(conn, "SAVEPOINT unit") {
            fail_unrun(unit, StorageError::Sqlite(e));
            continue;
        }
        let mut tx = UnitTx {
            conn,
            count_delta: 0,
            size_delta: 0,
            index_deltas: std::collections::BTreeMap::new(),
        };
        let (commit, fin) = unit(&mut tx);
        pending.push(fin);
        let end = if commit {
            count += tx.count_delta;
            size += tx.size_delta;
            for (ix, (c, z)) in &tx.index_deltas {
                let e = index_deltas.entry(*ix).or_default();
                e.0 += c;
                e.1 += z;
            }
            run_cached(conn, "RELEASE unit")
        } else {
            rollback_unit(conn)
        };
        if let Err(e) = end {
            // The unit's writes may still be in the transaction: commit nothing of it.
            tracing::error!(error = %e, "savepoint end failed: the transaction is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
            let msg = e.to_string();
            for fin in pending.drain(..) {
                fin(Err(StorageError::Corrupt(format!(
                    "savepoint failed: {msg}"
                ))));
            }
            return;
        }
    }
    let result = apply_stats(conn, count, size)
        .and_then(|()| crate::index::apply_index_stats(conn, &index_deltas))
        .and_then(|()| run_cached(conn, "COMMIT").map_err(StorageError::Sqlite));
    match result {
        Ok(()) => {
            for fin in pending.drain(..) {
                fin(Ok(()));
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let msg = e.to_string();
            tracing::error!(error = %msg, "group commit failed");
            for fin in pending.drain(..) {
                fin(Err(StorageError::Corrupt(format!("commit failed: {msg}"))));
            }
        }
    }
}

/// Runs one statement without result rows from the connection's statement cache, so
/// that the per-unit SAVEPOINT / RELEASE and the group's BEGIN / COMMIT are not parsed
/// again for every unit.
fn run_cached(conn: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Answers a unit that could not run.
fn fail_unrun(unit: UnitFn, error: StorageError) {
    let mut failed = FailTx;
    let (_, fin) = unit(&mut failed);
    fin(Err(error));
}

/// Undoes one unit's writes.
fn rollback_unit(conn: &Connection) -> Result<(), rusqlite::Error> {
    #[cfg(test)]
    if faults::take_rollback_failure(conn) {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some("injected ROLLBACK TO failure".into()),
        ));
    }
    conn.execute_batch("ROLLBACK TO unit; RELEASE unit")
}

/// Faults injected by tests, keyed by file so that tests running at once do not meet.
#[cfg(test)]
pub(crate) mod faults {
    use std::path::PathBuf;
    use std::sync::Mutex;

    static ROLLBACK_FAILS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// The next `ROLLBACK TO` on the file at `path` fails.
    pub(crate) fn fail_next_rollback(path: &std::path::Path) {
        ROLLBACK_FAILS.lock().unwrap().push(path.to_owned());
    }

    pub(super) fn take_rollback_failure(conn: &rusqlite::Connection) -> bool {
        let Some(path) = conn.path() else {
            return false;
        };
        let mut list = ROLLBACK_FAILS.lock().unwrap();
        match list.iter().position(|p| p.to_str() == Some(path)) {
            Some(i) => {
                list.remove(i);
                true
            }
            None => false,
        }
    }
}

fn apply_stats(conn: &Connection, count: i64, size: i64) -> Result<(), StorageError> {
    if count != 0 {
        conn.prepare_cached("UPDATE meta SET v = v + ?1 WHERE k = 'item_count'")?
            .execute(params![count])?;
    }
    if size != 0 {
        conn.prepare_cached("UPDATE meta SET v = v + ?1 WHERE k = 'size_bytes'")?
            .execute(params![size])?;
    }
    Ok(())
}

/// Stands in for a transaction that could not start: every call fails.
struct FailTx;

impl WriteTx for FailTx {
    fn stamp_get(&mut self, _: &ItemKey) -> Result<Option<crate::WriteStamp>, StorageError> {
        Err(StorageError::Closed)
    }
    fn stamp_put(&mut self, _: &ItemKey, _: &crate::WriteStamp) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn checkpoint_get(&mut self, _: &str) -> Result<Option<i64>, StorageError> {
        Err(StorageError::Closed)
    }
    fn checkpoint_put(&mut self, _: &str, _: i64) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn stream_append(&mut self, _: i64, _: &[u8]) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn pitr_record(&mut self, _: &ItemKey, _: i64, _: i64) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn pitr_clear_some(&mut self, _: usize) -> Result<usize, StorageError> {
        Err(StorageError::Closed)
    }
    fn index_put(
        &mut self,
        _: u32,
        _: &IndexEntryKey,
        _: &[u8],
        _: u64,
    ) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn index_delete(&mut self, _: u32, _: &IndexEntryKey) -> Result<bool, StorageError> {
        Err(StorageError::Closed)
    }
    fn index_drop_some(&mut self, _: u32, _: usize) -> Result<usize, StorageError> {
        Err(StorageError::Closed)
    }
    fn is_applied(&mut self, _: &str) -> Result<bool, StorageError> {
        Err(StorageError::Closed)
    }
    fn mark_applied(&mut self, _: &str) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn forget_applied(&mut self, _: &str) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn get(&mut self, _: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
        Err(StorageError::Closed)
    }
    fn put(&mut self, _: &ItemKey, _: &[u8], _: u64) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }
    fn delete(&mut self, _: &ItemKey) -> Result<bool, StorageError> {
        Err(StorageError::Closed)
    }
}

#[cfg(test)]
mod tests {
    use crate::error::StorageError;
    use crate::table::{Decision, ItemKey, MAX_QUEUED_UNITS, TableStore, WriteTx};
    use sealdb_common::SecretKey32;
    use std::sync::Arc;

    fn key(pk: &[u8]) -> ItemKey {
        ItemKey {
            hash: 1,
            pk: pk.to_vec(),
            sk: vec![],
        }
    }

    fn store(dir: &tempfile::TempDir) -> Arc<TableStore> {
        TableStore::create(&dir.path().join("t.db"), SecretKey32::from_bytes([5; 32])).unwrap()
    }

    /// Holds the writer busy until the returned sender is dropped or sent to.
    async fn block_writer(store: &Arc<TableStore>) -> std::sync::mpsc::Sender<()> {
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let s = Arc::clone(store);
        tokio::spawn(async move {
            s.write(move |_tx: &mut dyn WriteTx| {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
                Ok(Decision::Commit(()))
            })
            .await
        });
        started_rx.await.unwrap();
        release_tx
    }

    #[tokio::test]
    async fn a_panicking_unit_fails_its_group_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let release = block_writer(&store).await;
        // Queued behind the blocker, so they run in one group with the panicking unit.
        let s = Arc::clone(&store);
        let before = tokio::spawn(async move {
            s.write(|tx: &mut dyn WriteTx| {
                tx.put(&key(b"before"), b"v", 1)?;
                Ok(Decision::Commit(()))
            })
            .await
        });
        let s = Arc::clone(&store);
        let panicking = tokio::spawn(async move {
            s.write(
                |tx: &mut dyn WriteTx| -> Result<Decision<()>, StorageError> {
                    tx.put(&key(b"panic"), b"v", 1)?;
                    panic!("a bug in a unit");
                },
            )
            .await
        });
        // Let both reach the queue before the blocker lets go.
        while store.free_queue_slots() > MAX_QUEUED_UNITS - 3 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        drop(release);
        assert!(matches!(
            panicking.await.unwrap(),
            Err(StorageError::WriterFailed)
        ));
        assert!(matches!(
            before.await.unwrap(),
            Err(StorageError::WriterFailed)
        ));
        assert!(store.get(&key(b"before")).await.unwrap().is_none());
        assert!(store.get(&key(b"panic")).await.unwrap().is_none());
        // The writer is still there.
        store
            .write(|tx: &mut dyn WriteTx| {
                tx.put(&key(b"after"), b"v", 1)?;
                Ok(Decision::Commit(()))
            })
            .await
            .unwrap();
        assert_eq!(store.get(&key(b"after")).await.unwrap().unwrap(), b"v");
        assert_eq!(store.stats().await.unwrap().item_count, 1);
    }

    #[tokio::test]
    async fn a_failed_rollback_to_fails_its_unit_and_keeps_nothing_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        super::faults::fail_next_rollback(store.path());
        let result = store
            .write(|tx: &mut dyn WriteTx| {
                tx.put(&key(b"undone"), b"v", 1)?;
                Ok(Decision::Rollback(()))
            })
            .await;
        assert!(result.is_err(), "a unit whose rollback failed must fail");
        assert!(store.get(&key(b"undone")).await.unwrap().is_none());
        assert_eq!(store.stats().await.unwrap().item_count, 0);
        store
            .write(|tx: &mut dyn WriteTx| {
                tx.put(&key(b"next"), b"v", 1)?;
                Ok(Decision::Commit(()))
            })
            .await
            .unwrap();
        assert_eq!(store.stats().await.unwrap().item_count, 1);
    }

    #[tokio::test]
    async fn a_full_queue_throttles_and_internal_work_waits() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let release = block_writer(&store).await;
        let mut queued = Vec::new();
        for i in 0..MAX_QUEUED_UNITS - 1 {
            let s = Arc::clone(&store);
            queued.push(tokio::spawn(async move {
                s.write(move |tx: &mut dyn WriteTx| {
                    tx.put(&key(&i.to_be_bytes()), b"v", 1)?;
                    Ok(Decision::Commit(()))
                })
                .await
            }));
        }
        while store.free_queue_slots() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let r = store
            .write(|tx: &mut dyn WriteTx| {
                tx.put(&key(b"extra"), b"v", 1)?;
                Ok(Decision::Commit(()))
            })
            .await;
        assert!(matches!(r, Err(StorageError::Throttled)));
        let s = Arc::clone(&store);
        let waiting = tokio::spawn(async move {
            s.write_when_room(|tx: &mut dyn WriteTx| {
                tx.put(&key(b"internal"), b"v", 1)?;
                Ok(Decision::Commit(()))
            })
            .await
        });
        drop(release);
        for q in queued {
            q.await.unwrap().unwrap();
        }
        waiting.await.unwrap().unwrap();
        assert_eq!(
            store.stats().await.unwrap().item_count,
            u64::try_from(MAX_QUEUED_UNITS).unwrap()
        );
    }
}
