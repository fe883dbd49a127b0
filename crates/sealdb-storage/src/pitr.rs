//! Point-in-time recovery history of a table: while recovery is on, every change of an
//! item first copies the item as it was (or "absent") into `pitr_undo`, in the same
//! transaction and the same encrypted file as the change. A restore copies the table
//! and undoes, newest first, every change made after the restore time.
//!
//! `ts` never decreases with `seq` (a row takes the greater of its own time and the
//! newest row's), so the changes after a time are always a suffix of the history.

use crate::error::StorageError;
use crate::table::{ItemKey, hash_to_sql};
use rusqlite::{Connection, OptionalExtension, params};

/// The history table (created with the table file's other tables; `docs/formats.md`).
pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS pitr_undo (
         seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,
         h INTEGER NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL, v BLOB, sz INTEGER);";

/// How many rows past the recovery period one new row trims (as stream appends do), so
/// the history stays about one period long without a sweeper.
const TRIM_PER_ROW: i64 = 8;

/// Records the current state of `key` (before the change about to be written) at
/// `ts_ms`, and trims a few rows older than `keep_after_ms`.
pub(crate) fn record(
    conn: &Connection,
    key: &ItemKey,
    ts_ms: i64,
    keep_after_ms: i64,
) -> Result<(), StorageError> {
    let newest: Option<i64> = conn
        .prepare_cached("SELECT ts FROM pitr_undo ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let ts = newest.map_or(ts_ms, |n| n.max(ts_ms));
    let old: Option<(Vec<u8>, i64)> = conn
        .prepare_cached("SELECT v, sz FROM items WHERE h = ?1 AND pk = ?2 AND sk = ?3")?
        .query_row(params![hash_to_sql(key.hash), key.pk, key.sk], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (v, sz) = match old {
        Some((v, sz)) => (Some(v), Some(sz)),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO pitr_undo (ts, h, pk, sk, v, sz) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![ts, hash_to_sql(key.hash), key.pk, key.sk, v, sz])?;
    conn.prepare_cached(
        "DELETE FROM pitr_undo WHERE seq IN (SELECT seq FROM pitr_undo ORDER BY seq LIMIT ?2)
         AND ts < ?1",
    )?
    .execute(params![keep_after_ms, TRIM_PER_ROW])?;
    Ok(())
}

/// Deletes up to `limit` history rows (recovery turned off); returns how many.
pub(crate) fn clear_some(conn: &Connection, limit: usize) -> Result<usize, StorageError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(conn
        .prepare_cached(
            "DELETE FROM pitr_undo WHERE seq IN (SELECT seq FROM pitr_undo ORDER BY seq LIMIT ?1)",
        )?
        .execute(params![limit])?)
}

/// Takes a copy of a table file back to its state at `restore_ms`: undoes every change
/// recorded after it, newest first, then leaves the copy with its items alone (no
/// history, stream, index entries, stamps or transaction marks: the restored table is a
/// new table, whose indexes the service rebuilds). Runs in one transaction.
pub(crate) fn rewind(conn: &Connection, restore_ms: i64) -> Result<u64, StorageError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = rewind_in_tx(conn, restore_ms);
    match result {
        Ok(n) => {
            conn.execute_batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn rewind_in_tx(conn: &Connection, restore_ms: i64) -> Result<u64, StorageError> {
    let first: Option<i64> = conn.query_row(
        "SELECT MIN(seq) FROM pitr_undo WHERE ts > ?1",
        params![restore_ms],
        |r| r.get(0),
    )?;
    let mut undone = 0u64;
    if let Some(first) = first {
        let mut rows = conn
            .prepare("SELECT h, pk, sk, v, sz FROM pitr_undo WHERE seq >= ?1 ORDER BY seq DESC")?;
        let mut put = conn.prepare(
            "INSERT OR REPLACE INTO items (h, pk, sk, v, sz) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut del = conn.prepare("DELETE FROM items WHERE h = ?1 AND pk = ?2 AND sk = ?3")?;
        let mut q = rows.query(params![first])?;
        while let Some(r) = q.next()? {
            let h: i64 = r.get(0)?;
            let pk: Vec<u8> = r.get(1)?;
            let sk: Vec<u8> = r.get(2)?;
            let v: Option<Vec<u8>> = r.get(3)?;
            let sz: Option<i64> = r.get(4)?;
            match v {
                Some(v) => put.execute(params![h, pk, sk, v, sz.unwrap_or(0)])?,
                None => del.execute(params![h, pk, sk])?,
            };
            undone += 1;
        }
    }
    conn.execute_batch(
        "DELETE FROM pitr_undo; DELETE FROM stream; DELETE FROM stream_shard; DELETE FROM idx;
         DELETE FROM item_stamp; DELETE FROM replica_checkpoint; DELETE FROM applied_tx;
         DELETE FROM meta WHERE k LIKE 'ix:%';
         UPDATE meta SET v = (SELECT COUNT(*) FROM items) WHERE k = 'item_count';
         UPDATE meta SET v = (SELECT COALESCE(SUM(sz), 0) FROM items) WHERE k = 'size_bytes';",
    )?;
    Ok(undone)
}

#[cfg(test)]
mod tests {
    use crate::table::{Decision, ItemKey, TableStore};
    use sealdb_common::SecretKey32;

    fn key(n: u8) -> ItemKey {
        ItemKey {
            hash: u64::from(n),
            pk: vec![n],
            sk: Vec::new(),
        }
    }

    #[tokio::test]
    async fn rewind_undoes_changes_after_the_time_and_keeps_stats() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            TableStore::create(&dir.path().join("p.db"), SecretKey32::from_bytes([4; 32])).unwrap();
        // t=10: put 1=a, 2=b; t=20: 1=c, delete 2; t=30: put 3=d (ts goes backwards: kept monotone).
        let steps: Vec<(i64, u8, Option<&'static [u8]>)> = vec![
            (10, 1, Some(b"a")),
            (10, 2, Some(b"b")),
            (20, 1, Some(b"cc")),
            (20, 2, None),
            (15, 3, Some(b"d")),
        ];
        for (ts, k, v) in steps {
            store
                .write(move |tx| {
                    tx.pitr_record(&key(k), ts, 0)?;
                    match v {
                        Some(v) => tx.put(&key(k), v, v.len() as u64)?,
                        None => {
                            tx.delete(&key(k))?;
                        }
                    }
                    Ok(Decision::Commit(()))
                })
                .await
                .unwrap();
        }
        let copy = dir.path().join("copy.db");
        store
            .export_to(copy.clone(), SecretKey32::from_bytes([5; 32]))
            .await
            .unwrap();
        let conn =
            crate::sqlcipher::open_existing(&copy, &SecretKey32::from_bytes([5; 32])).unwrap();
        // Back to t=10: the row at "15" was stored as 20, so it is undone too.
        assert_eq!(super::rewind(&conn, 10).unwrap(), 3);
        let items: Vec<(Vec<u8>, Vec<u8>)> = conn
            .prepare("SELECT pk, v FROM items ORDER BY pk")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            items,
            vec![(vec![1], b"a".to_vec()), (vec![2], b"b".to_vec())]
        );
        let count: i64 = conn
            .query_row("SELECT v FROM meta WHERE k = 'item_count'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let size: i64 = conn
            .query_row("SELECT v FROM meta WHERE k = 'size_bytes'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!((count, size), (2, 2));
        let history: i64 = conn
            .query_row("SELECT COUNT(*) FROM pitr_undo", [], |r| r.get(0))
            .unwrap();
        assert_eq!(history, 0);
    }

    #[tokio::test]
    async fn rows_past_the_period_are_trimmed_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            TableStore::create(&dir.path().join("t.db"), SecretKey32::from_bytes([6; 32])).unwrap();
        // The history as a copy of the file holds it.
        let count = |store: std::sync::Arc<TableStore>| async move {
            let copy = tempfile::tempdir().unwrap();
            let path = copy.path().join("c.db");
            store
                .export_to(path.clone(), SecretKey32::from_bytes([7; 32]))
                .await
                .unwrap();
            let conn =
                crate::sqlcipher::open_existing(&path, &SecretKey32::from_bytes([7; 32])).unwrap();
            conn.query_row("SELECT COUNT(*) FROM pitr_undo", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        store
            .write(|tx| {
                for ts in 0..20 {
                    tx.pitr_record(&key(1), ts, 0)?;
                }
                Ok(Decision::Commit(()))
            })
            .await
            .unwrap();
        assert_eq!(count(std::sync::Arc::clone(&store)).await, 20);
        // Each new row trims up to 8 of the oldest rows older than the period's start.
        store
            .write(|tx| tx.pitr_record(&key(1), 100, 50).map(Decision::Commit))
            .await
            .unwrap();
        assert_eq!(count(std::sync::Arc::clone(&store)).await, 13);
        store
            .write(|tx| Ok(Decision::Commit(tx.pitr_clear_some(1024)?)))
            .await
            .unwrap();
        assert_eq!(count(std::sync::Arc::clone(&store)).await, 0);
    }
}
