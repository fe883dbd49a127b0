//! Transactions over several tables, atomic across a crash.
//!
//! ```text
//! coordinator (one multi-table transaction at a time)
//!   ├─ unit on table A's writer: check, compute writes ─► ready ─┐  (writer waits)
//!   ├─ unit on table B's writer: check, compute writes ─► ready ─┤
//!   │                        all ready and all ok? ◄─────────────┘
//!   ├─ yes: redo record (each table's writes sealed under its key) → txlog.db, fsync
//!   ├─ decision → every unit: apply writes + mark txid applied, in its table's commit
//!   ├─ every part confirmed its commit → drop the redo record
//!   └─ record dropped → forget the txid marks
//! on start: for every redo record, apply each part whose table has not marked the txid
//! ```
//! A part commits only after the redo record is durable, so after a crash either no part
//! committed and there is no record (the transaction never happened), or the record
//! completes the parts that had not committed. The applied-marks make replay skip parts
//! that did commit, so later writes to those items are never overwritten; they are
//! removed only after the record is gone, so a record that could not be dropped is still
//! skipped where it was applied.
//!
//! A part that did not commit after the commit decision (its writer gave up waiting, or
//! its commit failed) fails the transaction: its part is completed at once from the redo
//! record (or at the next start), and the caller gets an error, not a success.

use crate::engine::Engine;
use crate::error::StorageError;
use crate::index::IndexEntryKey;
use crate::sqlcipher::open_encrypted;
use crate::table::{Decision, ItemKey, TableStore, WriteTx};
use crate::txpart::{decode_part, encode_part};
use rusqlite::{Connection, params};
use sealdb_common::SecretKey32;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the coordinator, and each part's writer, wait.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TxTimeouts {
    /// For every part to be checked and ready (all parts together).
    pub(crate) ready: Duration,
    /// For a ready part, the decision. Longer than `ready` plus the redo record's fsync,
    /// so that a live coordinator always decides first.
    pub(crate) decision: Duration,
}

impl Default for TxTimeouts {
    fn default() -> Self {
        TxTimeouts {
            ready: Duration::from_secs(30),
            decision: Duration::from_secs(120),
        }
    }
}

/// One write: an item or a secondary-index entry put or deleted. A put carries the
/// encoded value and its DynamoDB size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxWrite {
    /// Put or delete an item.
    Item {
        /// The item's key.
        key: ItemKey,
        /// `Some((encoded item, size))` to put, `None` to delete.
        value: Option<(Vec<u8>, u64)>,
    },
    /// Append a stream record.
    Stream {
        /// Time of the change, ms since the epoch.
        ts_ms: i64,
        /// The encoded record.
        record: Vec<u8>,
    },
    /// Point-in-time recovery: keep the item at `key` as it is before the writes that
    /// follow (it must come before them), as of `ts_ms`; history older than
    /// `keep_after_ms` may be trimmed.
    Undo {
        /// The item's key.
        key: ItemKey,
        /// Time of the change, ms since the epoch.
        ts_ms: i64,
        /// The start of the recovery period.
        keep_after_ms: i64,
    },
    /// Record the write stamp of an item of a replicated table.
    Stamp {
        /// The item's key.
        key: ItemKey,
        /// Who wrote it, when.
        stamp: crate::WriteStamp,
    },
    /// Put or delete an entry of index number `ix`.
    Index {
        /// The index number.
        ix: u32,
        /// The entry's key.
        key: IndexEntryKey,
        /// `Some((encoded projection, size))` to put, `None` to delete.
        value: Option<(Vec<u8>, u64)>,
    },
}

/// What a table's part decides after its checks: its writes, whether its checks passed,
/// and an answer for the caller (e.g. cancellation reasons).
pub struct PartOutcome<R> {
    /// Whether every check of this part passed.
    pub ok: bool,
    /// The writes to apply if the transaction commits.
    pub writes: Vec<TxWrite>,
    /// Answer for the caller.
    pub answer: R,
}

/// A table's part: runs in the table's writer, sees the current state.
pub type PartFn<R> =
    Box<dyn FnOnce(&mut dyn WriteTx) -> Result<PartOutcome<R>, StorageError> + Send>;

/// The transaction log file.
pub(crate) struct TxLog {
    conn: Connection,
    /// Tests: the next `forget` fails.
    #[cfg(test)]
    pub(crate) fail_forget: bool,
}

impl TxLog {
    pub(crate) fn open(dir: &Path, key: &SecretKey32) -> Result<TxLog, StorageError> {
        let conn = open_encrypted(&dir.join("txlog.db"), key)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
             INSERT OR IGNORE INTO meta VALUES ('schema', 1);
             CREATE TABLE IF NOT EXISTS redo (id TEXT NOT NULL, table_id TEXT NOT NULL,
                 part BLOB NOT NULL, PRIMARY KEY (id, table_id));",
        )?;
        let v: i64 = conn.query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))?;
        if v != 1 {
            return Err(StorageError::Corrupt(format!(
                "txlog schema version {v} is not supported"
            )));
        }
        Ok(TxLog {
            conn,
            #[cfg(test)]
            fail_forget: false,
        })
    }

    fn record(&self, id: &str, parts: &[(String, Vec<u8>)]) -> Result<(), StorageError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let res = (|| {
            let mut stmt = self
                .conn
                .prepare_cached("INSERT INTO redo (id, table_id, part) VALUES (?1, ?2, ?3)")?;
            for (table_id, part) in parts {
                stmt.execute(params![id, table_id, part])?;
            }
            Ok::<_, rusqlite::Error>(())
        })();
        match res {
            Ok(()) => Ok(self.conn.execute_batch("COMMIT")?),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        }
    }

    fn forget(&mut self, id: &str) -> Result<(), StorageError> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_forget) {
            return Err(StorageError::Corrupt("injected forget failure".into()));
        }
        self.conn
            .execute("DELETE FROM redo WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// Pending records: (transaction id, table id, sealed part).
    fn pending(&self) -> Result<Vec<(String, String, Vec<u8>)>, StorageError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, table_id, part FROM redo ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// Applies writes in order.
pub fn apply(tx: &mut dyn WriteTx, writes: &[TxWrite]) -> Result<(), StorageError> {
    for w in writes {
        match w {
            TxWrite::Item {
                key,
                value: Some((v, size)),
            } => tx.put(key, v, *size)?,
            TxWrite::Item { key, value: None } => {
                tx.delete(key)?;
            }
            TxWrite::Index {
                ix,
                key,
                value: Some((v, size)),
            } => tx.index_put(*ix, key, v, *size)?,
            TxWrite::Index {
                ix,
                key,
                value: None,
            } => {
                tx.index_delete(*ix, key)?;
            }
            TxWrite::Stream { ts_ms, record } => tx.stream_append(*ts_ms, record)?,
            TxWrite::Stamp { key, stamp } => tx.stamp_put(key, stamp)?,
            TxWrite::Undo {
                key,
                ts_ms,
                keep_after_ms,
            } => tx.pitr_record(key, *ts_ms, *keep_after_ms)?,
        }
    }
    Ok(())
}

/// What a transaction came to.
pub struct TxResult<R> {
    /// True if every part's checks passed and all writes are durable.
    pub committed: bool,
    /// Each part's answer, in the order the parts were given.
    pub answers: Vec<R>,
}

/// A part's verdict after its checks: whether they passed, its writes, its answer.
type Verdict<R> = Result<(bool, Vec<TxWrite>, R), StorageError>;

impl Engine {
    /// Runs a transaction over several tables (at most one part per table): every part
    /// checks in its table's writer; if all pass, the writes are made durable
    /// atomically (see the module docs); otherwise nothing is written.
    pub async fn transact<R: Send + 'static>(
        &self,
        parts: Vec<(Arc<TableStore>, String, PartFn<R>)>,
    ) -> Result<TxResult<R>, StorageError> {
        let _one_at_a_time = self.tx_lock.lock().await;
        let timeouts = self.tx_timeouts;
        let txid = uuid::Uuid::new_v4().to_string();
        let multi = parts.len() > 1;
        let mut ready_rx = Vec::new();
        let mut decide_tx = Vec::new();
        let mut done = Vec::new();
        let mut stores = Vec::new();
        for (store, table_id, part) in parts {
            let (r_tx, r_rx) = mpsc::sync_channel::<Verdict<R>>(1);
            let (d_tx, d_rx) = mpsc::sync_channel::<bool>(1);
            let id = txid.clone();
            let unit_store = Arc::clone(&store);
            // The unit answers whether it committed the transaction's writes.
            done.push(tokio::spawn(async move {
                unit_store
                    .write(move |tx: &mut dyn WriteTx| {
                        let outcome = match part(tx) {
                            Ok(o) => o,
                            Err(e) => {
                                let _ = r_tx.send(Err(e));
                                return Ok(Decision::Rollback(false));
                            }
                        };
                        let writes = outcome.writes.clone();
                        let _ = r_tx.send(Ok((outcome.ok, outcome.writes, outcome.answer)));
                        match d_rx.recv_timeout(timeouts.decision) {
                            Ok(true) => {
                                apply(tx, &writes)?;
                                if multi {
                                    tx.mark_applied(&id)?;
                                }
                                Ok(Decision::Commit(true))
                            }
                            _ => Ok(Decision::Rollback(false)),
                        }
                    })
                    .await
            }));
            ready_rx.push(r_rx);
            decide_tx.push(d_tx);
            stores.push((store, table_id));
        }
        // Collect every part's verdict within one deadline (off the async threads: these
        // are blocking waits).
        let verdicts = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + timeouts.ready;
            ready_rx
                .into_iter()
                .map(|rx| {
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(v) => v,
                        // The writer is too busy to take the part in time.
                        Err(mpsc::RecvTimeoutError::Timeout) => Err(StorageError::Throttled),
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            Err(StorageError::WriterFailed)
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| StorageError::WriterFailed)?;
        let mut answers = Vec::new();
        let mut all_ok = true;
        let mut sealed = Vec::new();
        let mut failure = None;
        for (v, (store, table_id)) in verdicts.into_iter().zip(&stores) {
            match v {
                Ok((ok, writes, answer)) => {
                    all_ok &= ok;
                    answers.push(answer);
                    if multi {
                        sealed.push((table_id.clone(), store.seal(&encode_part(&writes))?));
                    }
                }
                Err(e) => {
                    all_ok = false;
                    failure.get_or_insert(e);
                }
            }
        }
        let mut commit = all_ok && failure.is_none();
        if commit && multi {
            let mut log = self.txlog.lock().map_err(|_| StorageError::Closed)?;
            if let Err(e) = log.record(&txid, &sealed) {
                commit = false;
                failure = Some(e);
                // The record must not complete a transaction that was not decided.
                let _ = log.forget(&txid);
            }
        }
        for d in &decide_tx {
            let _ = d.send(commit);
        }
        // Which parts committed; a part that did not after a commit decision fails the
        // transaction.
        let mut missing = Vec::new();
        let mut write_error = None;
        for (i, d) in done.into_iter().enumerate() {
            let committed = match d.await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    write_error.get_or_insert(e);
                    false
                }
                Err(_) => {
                    write_error.get_or_insert(StorageError::WriterFailed);
                    false
                }
            };
            if commit && !committed {
                missing.push(i);
            }
        }
        if let Some(e) = failure {
            // A part refused by a full queue never ran: say so rather than "failed".
            if matches!(write_error, Some(StorageError::Throttled)) {
                return Err(StorageError::Throttled);
            }
            return Err(e);
        }
        if !missing.is_empty() {
            tracing::error!(
                parts = missing.len(),
                "a transaction part did not commit after the commit decision; the transaction fails"
            );
            if multi {
                self.complete_parts(&txid, &stores, &sealed, &missing).await;
            }
            return Err(write_error.unwrap_or_else(|| {
                StorageError::Corrupt("a transaction part did not commit".into())
            }));
        }
        if commit && multi {
            self.forget_transaction(&txid, &stores).await;
        }
        Ok(TxResult {
            committed: commit,
            answers,
        })
    }

    /// Completes, from the redo record, the parts of a decided transaction that did not
    /// commit; the record is dropped only if every part is then applied.
    async fn complete_parts(
        &self,
        txid: &str,
        stores: &[(Arc<TableStore>, String)],
        sealed: &[(String, Vec<u8>)],
        missing: &[usize],
    ) {
        for &i in missing {
            let (Some((store, _)), Some((_, part))) = (stores.get(i), sealed.get(i)) else {
                return;
            };
            if let Err(e) = replay_part(store, txid, part).await {
                tracing::error!(error = %e, "transaction part left for recovery at the next start");
                return;
            }
        }
        self.forget_transaction(txid, stores).await;
    }

    /// Drops a transaction's redo record, then its applied-marks. If the record cannot
    /// be dropped the marks stay, so a later replay skips the parts they mark.
    async fn forget_transaction(&self, txid: &str, stores: &[(Arc<TableStore>, String)]) {
        let forgotten = match self.txlog.lock() {
            Ok(mut log) => log.forget(txid),
            Err(_) => Err(StorageError::Closed),
        };
        if let Err(e) = forgotten {
            tracing::error!(error = %e, "cannot drop a redo record; its applied-marks are kept");
            return;
        }
        for (store, _) in stores {
            forget_mark(store, txid).await;
        }
    }

    /// Completes the transactions a crash interrupted (called once at start).
    pub async fn recover_transactions(&self) -> Result<usize, StorageError> {
        let pending = {
            let log = self.txlog.lock().map_err(|_| StorageError::Closed)?;
            log.pending()?
        };
        let mut finished = std::collections::BTreeSet::new();
        let mut replayed = Vec::new();
        for (txid, table_id, sealed) in pending {
            let handle = self
                .tables_snapshot()
                .into_iter()
                .find(|h| h.record().id == table_id);
            // A part of a table deleted since has nothing left to complete.
            if let Some(handle) = handle {
                let store = self.store(&handle).await?;
                replay_part(&store, &txid, &sealed).await?;
                replayed.push((store, txid.clone()));
            }
            finished.insert(txid);
        }
        {
            let mut log = self.txlog.lock().map_err(|_| StorageError::Closed)?;
            for id in &finished {
                log.forget(id)?;
            }
        }
        for (store, txid) in &replayed {
            forget_mark(store, txid).await;
        }
        Ok(finished.len())
    }
}

/// Applies a sealed part unless its table marked the transaction applied, and marks it.
async fn replay_part(store: &TableStore, txid: &str, sealed: &[u8]) -> Result<(), StorageError> {
    let writes = decode_part(&store.open_sealed(sealed)?)?;
    let id = txid.to_owned();
    store
        .write_when_room(move |tx: &mut dyn WriteTx| {
            if !tx.is_applied(&id)? {
                apply(tx, &writes)?;
                tx.mark_applied(&id)?;
            }
            Ok(Decision::Commit(()))
        })
        .await
}

/// Removes a table's applied-mark of a transaction whose redo record is gone. A mark
/// left behind is harmless (transaction ids are never reused).
async fn forget_mark(store: &TableStore, txid: &str) {
    let id = txid.to_owned();
    let result = store
        .write_when_room(move |tx: &mut dyn WriteTx| {
            tx.forget_applied(&id)?;
            Ok(Decision::Commit(()))
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot remove a transaction's applied-mark");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::RootKeyVault;
    use sealdb_common::RootKey;

    fn k(pk: &[u8]) -> ItemKey {
        ItemKey {
            hash: 3,
            pk: pk.to_vec(),
            sk: vec![],
        }
    }

    /// A crash after table A committed its part (and a later write changed the item)
    /// but before table B did: recovery completes B and leaves A's later write alone.
    #[tokio::test]
    async fn recovery_completes_missing_parts_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::from_key(SecretKey32::from_bytes([2; 32]));
        let engine = Engine::open(dir.path(), &root, Arc::new(RootKeyVault::new(&root))).unwrap();
        let a = engine
            .create_table("a", vec![1], 0, None, None)
            .await
            .unwrap();
        let b = engine
            .create_table("b", vec![1], 0, None, None)
            .await
            .unwrap();
        let sa = engine.store(&engine.table("a").unwrap()).await.unwrap();
        let sb = engine.store(&engine.table("b").unwrap()).await.unwrap();
        let part = |v: &[u8]| {
            vec![TxWrite::Item {
                key: k(b"x"),
                value: Some((v.to_vec(), 1)),
            }]
        };
        let record = vec![
            (a.id.clone(), sa.seal(&encode_part(&part(b"tx"))).unwrap()),
            (b.id.clone(), sb.seal(&encode_part(&part(b"tx"))).unwrap()),
        ];
        engine.txlog.lock().unwrap().record("t1", &record).unwrap();
        // A applied its part, then a later write changed the item.
        sa.write(|tx: &mut dyn WriteTx| {
            tx.put(&k(b"x"), b"tx", 1)?;
            tx.mark_applied("t1")?;
            Ok(Decision::Commit(()))
        })
        .await
        .unwrap();
        sa.write(|tx: &mut dyn WriteTx| {
            tx.put(&k(b"x"), b"later", 1)?;
            Ok(Decision::Commit(()))
        })
        .await
        .unwrap();
        assert!(sb.get(&k(b"x")).await.unwrap().is_none());
        assert_eq!(engine.recover_transactions().await.unwrap(), 1);
        assert_eq!(sa.get(&k(b"x")).await.unwrap().unwrap(), b"later");
        assert_eq!(sb.get(&k(b"x")).await.unwrap().unwrap(), b"tx");
        assert!(engine.txlog.lock().unwrap().pending().unwrap().is_empty());
        assert_eq!(engine.recover_transactions().await.unwrap(), 0);
    }

    /// Two tables with an open store each.
    async fn two_tables(
        dir: &tempfile::TempDir,
    ) -> (Engine, Arc<TableStore>, String, Arc<TableStore>, String) {
        let root = RootKey::from_key(SecretKey32::from_bytes([2; 32]));
        let engine = Engine::open(dir.path(), &root, Arc::new(RootKeyVault::new(&root))).unwrap();
        let a = engine
            .create_table("a", vec![1], 0, None, None)
            .await
            .unwrap();
        let b = engine
            .create_table("b", vec![1], 0, None, None)
            .await
            .unwrap();
        let sa = engine.store(&engine.table("a").unwrap()).await.unwrap();
        let sb = engine.store(&engine.table("b").unwrap()).await.unwrap();
        (engine, sa, a.id, sb, b.id)
    }

    /// A part that puts `x = v`.
    fn put_x(v: &'static [u8]) -> PartFn<()> {
        Box::new(move |_tx: &mut dyn WriteTx| {
            Ok(PartOutcome {
                ok: true,
                writes: vec![TxWrite::Item {
                    key: k(b"x"),
                    value: Some((v.to_vec(), 1)),
                }],
                answer: (),
            })
        })
    }

    /// Table A's part is ready at once and gives up waiting for the decision; table B's
    /// writer is busy, so B becomes ready only later and the coordinator decides to
    /// commit. A did not commit: the transaction must fail (not report success with A's
    /// part missing), and A's part is completed from the redo record.
    #[tokio::test]
    async fn a_part_that_gave_up_fails_the_transaction_and_is_completed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut engine, sa, a_id, sb, b_id) = two_tables(&dir).await;
        engine.tx_timeouts = TxTimeouts {
            ready: Duration::from_secs(60),
            decision: Duration::from_millis(50),
        };
        // Hold B's writer until A's part has given up.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let blocker = Arc::clone(&sb);
        tokio::spawn(async move {
            blocker
                .write(move |_tx: &mut dyn WriteTx| {
                    let _ = started_tx.send(());
                    let _ = release_rx.recv();
                    Ok(Decision::Commit(()))
                })
                .await
        });
        started_rx.await.unwrap();
        let engine = Arc::new(engine);
        let e = Arc::clone(&engine);
        let (sa2, sb2) = (Arc::clone(&sa), Arc::clone(&sb));
        let tx = tokio::spawn(async move {
            e.transact(vec![(sa2, a_id, put_x(b"tx")), (sb2, b_id, put_x(b"tx"))])
                .await
        });
        // A's part runs in A's idle writer, waits 50 ms for the decision, rolls back.
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(release_tx);
        let result = tx.await.unwrap();
        assert!(
            result.is_err(),
            "a transaction with a part that did not commit must not succeed"
        );
        // Both parts are there: B committed, A was completed from the redo record.
        assert_eq!(sb.get(&k(b"x")).await.unwrap().unwrap(), b"tx");
        assert_eq!(sa.get(&k(b"x")).await.unwrap().unwrap(), b"tx");
        assert!(engine.txlog.lock().unwrap().pending().unwrap().is_empty());
    }

    /// The redo record cannot be dropped after a commit; a later write changes the item;
    /// at the next start the record is replayed. The later write must survive.
    #[tokio::test]
    async fn a_record_that_could_not_be_dropped_never_overwrites_later_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, sa, a_id, sb, b_id) = two_tables(&dir).await;
        engine.txlog.lock().unwrap().fail_forget = true;
        let r = engine
            .transact(vec![
                (Arc::clone(&sa), a_id, put_x(b"tx")),
                (Arc::clone(&sb), b_id, put_x(b"tx")),
            ])
            .await
            .unwrap();
        assert!(r.committed);
        assert_eq!(engine.txlog.lock().unwrap().pending().unwrap().len(), 2);
        for s in [&sa, &sb] {
            s.write(|tx: &mut dyn WriteTx| {
                tx.put(&k(b"x"), b"later", 1)?;
                Ok(Decision::Commit(()))
            })
            .await
            .unwrap();
        }
        assert_eq!(engine.recover_transactions().await.unwrap(), 1);
        assert_eq!(sa.get(&k(b"x")).await.unwrap().unwrap(), b"later");
        assert_eq!(sb.get(&k(b"x")).await.unwrap().unwrap(), b"later");
        assert!(engine.txlog.lock().unwrap().pending().unwrap().is_empty());
    }
}
