//! Transactions over several tables, atomic across a crash.
//!
//! ```text
//! coordinator (one multi-table transaction at a time)
//!   ├─ unit on table A's writer: check, compute writes ─► ready ─┐  (writer waits)
//!   ├─ unit on table B's writer: check, compute writes ─► ready ─┤
//!   │                        all ready and all ok? ◄─────────────┘
//!   ├─ yes: redo record (each table's writes sealed under its key) → txlog.db, fsync
//!   ├─ decision → every unit: apply writes + mark txid applied, in its table's commit
//!   └─ all committed → drop the redo record, forget the txid marks
//! on start: for every redo record, apply each part whose table has not marked the txid
//! ```
//! A part commits only after the redo record is durable, so after a crash either no part
//! committed and there is no record (the transaction never happened), or the record
//! completes the parts that had not committed. The applied-marks make replay skip parts
//! that did commit, so later writes to those items are never overwritten.

use crate::engine::Engine;
use crate::error::StorageError;
use crate::index::IndexEntryKey;
use crate::sqlcipher::open_encrypted;
use crate::table::{Decision, ItemKey, TableStore, WriteTx};
use rusqlite::{Connection, params};
use sealdb_common::SecretKey32;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// Version byte of a transaction part. DO NOT CHANGE.
const PART_V1: u8 = 1;
/// How long a table's writer waits for the coordinator's decision.
const DECISION_TIMEOUT: Duration = Duration::from_secs(30);

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
        Ok(TxLog { conn })
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

    fn forget(&self, id: &str) -> Result<(), StorageError> {
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

/// Encodes a part's writes: `version ‖ count u32 ‖ write*`, where a write is
/// `kind u8` (0 item, 1 index) `[‖ ix u32] ‖ hash u64 ‖ key byte strings ‖ op u8 [‖ size u64 ‖ value]`;
/// an item key is `pk ‖ sk`, an index key `ipk ‖ isk ‖ tpk ‖ tsk`; byte strings are
/// `len u32 ‖ bytes`; integers big-endian; op 0 = delete, 1 = put.
pub(crate) fn encode_part(writes: &[TxWrite]) -> Vec<u8> {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(b);
    }
    fn value(out: &mut Vec<u8>, v: &Option<(Vec<u8>, u64)>) {
        match v {
            None => out.push(0),
            Some((v, size)) => {
                out.push(1);
                out.extend_from_slice(&size.to_be_bytes());
                bytes(out, v);
            }
        }
    }
    let mut out = vec![PART_V1];
    out.extend_from_slice(
        &u32::try_from(writes.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for w in writes {
        match w {
            TxWrite::Item { key, value: v } => {
                out.push(0);
                out.extend_from_slice(&key.hash.to_be_bytes());
                bytes(&mut out, &key.pk);
                bytes(&mut out, &key.sk);
                value(&mut out, v);
            }
            TxWrite::Index { ix, key, value: v } => {
                out.push(1);
                out.extend_from_slice(&ix.to_be_bytes());
                out.extend_from_slice(&key.hash.to_be_bytes());
                bytes(&mut out, &key.ipk);
                bytes(&mut out, &key.isk);
                bytes(&mut out, &key.tpk);
                bytes(&mut out, &key.tsk);
                value(&mut out, v);
            }
            TxWrite::Stream { ts_ms, record } => {
                out.push(2);
                out.extend_from_slice(&ts_ms.to_be_bytes());
                bytes(&mut out, record);
            }
        }
    }
    out
}

pub(crate) fn decode_part(data: &[u8]) -> Result<Vec<TxWrite>, StorageError> {
    struct R<'a>(&'a [u8]);
    impl R<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], StorageError> {
            if self.0.len() < n {
                return Err(StorageError::Corrupt("transaction part truncated".into()));
            }
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            Ok(a)
        }
        fn u32(&mut self) -> Result<u32, StorageError> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
        fn len(&mut self) -> Result<usize, StorageError> {
            usize::try_from(self.u32()?).map_err(|_| StorageError::Corrupt("length".into()))
        }
        fn u64(&mut self) -> Result<u64, StorageError> {
            let b = self.take(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(u64::from_be_bytes(a))
        }
        fn bytes(&mut self) -> Result<Vec<u8>, StorageError> {
            let n = self.len()?;
            Ok(self.take(n)?.to_vec())
        }
        fn value(&mut self) -> Result<Option<(Vec<u8>, u64)>, StorageError> {
            match self.take(1)? {
                [0] => Ok(None),
                [1] => {
                    let size = self.u64()?;
                    Ok(Some((self.bytes()?, size)))
                }
                _ => Err(StorageError::Corrupt("transaction part op".into())),
            }
        }
    }
    let mut r = R(data);
    if r.take(1)? != [PART_V1] {
        return Err(StorageError::Corrupt("transaction part version".into()));
    }
    let n = r.len()?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let w = match r.take(1)? {
            [0] => {
                let hash = r.u64()?;
                let pk = r.bytes()?;
                let sk = r.bytes()?;
                TxWrite::Item {
                    key: ItemKey { hash, pk, sk },
                    value: r.value()?,
                }
            }
            [1] => {
                let ix = r.u32()?;
                let hash = r.u64()?;
                let key = IndexEntryKey {
                    hash,
                    ipk: r.bytes()?,
                    isk: r.bytes()?,
                    tpk: r.bytes()?,
                    tsk: r.bytes()?,
                };
                TxWrite::Index {
                    ix,
                    key,
                    value: r.value()?,
                }
            }
            [2] => {
                let ts = r.u64()?;
                TxWrite::Stream {
                    ts_ms: i64::from_be_bytes(ts.to_be_bytes()),
                    record: r.bytes()?,
                }
            }
            _ => return Err(StorageError::Corrupt("transaction part kind".into())),
        };
        out.push(w);
    }
    if !r.0.is_empty() {
        return Err(StorageError::Corrupt(
            "transaction part trailing bytes".into(),
        ));
    }
    Ok(out)
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

impl Engine {
    /// Runs a transaction over several tables (at most one part per table): every part
    /// checks in its table's writer; if all pass, the writes are made durable
    /// atomically (see the module docs); otherwise nothing is written.
    pub async fn transact<R: Send + 'static>(
        &self,
        parts: Vec<(Arc<TableStore>, String, PartFn<R>)>,
    ) -> Result<TxResult<R>, StorageError> {
        let _one_at_a_time = self.tx_lock.lock().await;
        let txid = uuid::Uuid::new_v4().to_string();
        let multi = parts.len() > 1;
        let mut ready_rx = Vec::new();
        let mut decide_tx = Vec::new();
        let mut done = Vec::new();
        let mut stores = Vec::new();
        for (store, table_id, part) in parts {
            let (r_tx, r_rx) =
                mpsc::sync_channel::<Result<(bool, Vec<TxWrite>, R), StorageError>>(1);
            let (d_tx, d_rx) = mpsc::sync_channel::<bool>(1);
            let id = txid.clone();
            let unit_store = Arc::clone(&store);
            done.push(tokio::spawn(async move {
                unit_store
                    .write(move |tx: &mut dyn WriteTx| {
                        let outcome = match part(tx) {
                            Ok(o) => o,
                            Err(e) => {
                                let _ = r_tx.send(Err(StorageError::Corrupt(e.to_string())));
                                return Ok(Decision::Rollback(()));
                            }
                        };
                        let writes = outcome.writes.clone();
                        let _ = r_tx.send(Ok((outcome.ok, outcome.writes, outcome.answer)));
                        match d_rx.recv_timeout(DECISION_TIMEOUT) {
                            Ok(true) => {
                                apply(tx, &writes)?;
                                if multi {
                                    tx.mark_applied(&id)?;
                                }
                                Ok(Decision::Commit(()))
                            }
                            _ => Ok(Decision::Rollback(())),
                        }
                    })
                    .await
            }));
            ready_rx.push(r_rx);
            decide_tx.push(d_tx);
            stores.push((store, table_id));
        }
        // Collect every part's verdict (off the async threads: these are blocking waits).
        let verdicts = tokio::task::spawn_blocking(move || {
            ready_rx
                .into_iter()
                .map(|rx| {
                    rx.recv_timeout(DECISION_TIMEOUT)
                        .unwrap_or(Err(StorageError::Closed))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| StorageError::Closed)?;
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
                    failure = Some(e);
                }
            }
        }
        let mut commit = all_ok && failure.is_none();
        if commit && multi {
            let log = self.txlog.lock().map_err(|_| StorageError::Closed)?;
            if let Err(e) = log.record(&txid, &sealed) {
                commit = false;
                failure = Some(e);
            }
        }
        for d in &decide_tx {
            let _ = d.send(commit);
        }
        let mut write_error = None;
        for d in done {
            match d.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => write_error = Some(e),
                Err(_) => write_error = Some(StorageError::Closed),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if let Some(e) = write_error {
            // A part failed after the record was made durable: the redo record stays and
            // completes the transaction at the next start.
            return Err(e);
        }
        if commit && multi {
            if let Ok(log) = self.txlog.lock() {
                let _ = log.forget(&txid);
            }
            for (store, _) in &stores {
                let id = txid.clone();
                let _ = store
                    .write(move |tx: &mut dyn WriteTx| {
                        tx.forget_applied(&id)?;
                        Ok(Decision::Commit(()))
                    })
                    .await;
            }
        }
        Ok(TxResult {
            committed: commit,
            answers,
        })
    }

    /// Completes the transactions a crash interrupted (called once at start).
    pub async fn recover_transactions(&self) -> Result<usize, StorageError> {
        let pending = {
            let log = self.txlog.lock().map_err(|_| StorageError::Closed)?;
            log.pending()?
        };
        let mut finished = std::collections::BTreeSet::new();
        for (txid, table_id, sealed) in pending {
            let handle = self
                .tables_snapshot()
                .into_iter()
                .find(|h| h.record().id == table_id);
            if let Some(handle) = handle {
                let store = self.store(&handle).await?;
                let writes = decode_part(&store.open_sealed(&sealed)?)?;
                let id = txid.clone();
                store
                    .write(move |tx: &mut dyn WriteTx| {
                        if !tx.is_applied(&id)? {
                            apply(tx, &writes)?;
                        }
                        tx.forget_applied(&id)?;
                        Ok(Decision::Commit(()))
                    })
                    .await?;
            }
            finished.insert(txid);
        }
        let log = self.txlog.lock().map_err(|_| StorageError::Closed)?;
        for id in &finished {
            log.forget(id)?;
        }
        Ok(finished.len())
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

    #[test]
    fn part_encoding_round_trips_and_fails_closed() {
        let writes = vec![
            TxWrite::Item {
                key: ItemKey {
                    hash: 7,
                    pk: b"p".to_vec(),
                    sk: vec![],
                },
                value: Some((b"item".to_vec(), 12)),
            },
            TxWrite::Item {
                key: ItemKey {
                    hash: u64::MAX,
                    pk: vec![0xFF],
                    sk: b"s".to_vec(),
                },
                value: None,
            },
            TxWrite::Index {
                ix: 3,
                key: IndexEntryKey {
                    hash: 1,
                    ipk: b"g".to_vec(),
                    isk: vec![],
                    tpk: b"p".to_vec(),
                    tsk: vec![],
                },
                value: Some((b"proj".to_vec(), 4)),
            },
        ];
        let enc = encode_part(&writes);
        assert_eq!(decode_part(&enc).unwrap(), writes);
        for cut in 0..enc.len() {
            assert!(decode_part(&enc[..cut]).is_err());
        }
        let mut bad = enc.clone();
        bad[0] = 2;
        assert!(decode_part(&bad).is_err());
    }
}
