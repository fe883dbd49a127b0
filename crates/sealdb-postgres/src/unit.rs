//! Write units on PostgreSQL: one PostgreSQL transaction per unit.
//!
//! A unit is a synchronous closure (the same shape as the SQLCipher writer's), so it runs
//! on a blocking-pool thread, which drives each statement on the runtime with
//! `Handle::block_on`; no runtime worker thread ever waits for PostgreSQL. Before a unit
//! first reads or writes a key it takes a transaction-scoped advisory lock on that key
//! (a row lock would not cover a key that does not exist yet), so a unit's condition check
//! and its write see the same item, as with the single SQLCipher writer. Units that lock
//! several keys in different orders can deadlock; PostgreSQL then fails one of them, which
//! answers [`StorageError::Conflict`] with nothing written.

use crate::error::pg_error;
use crate::row::{RowCodec, RowKey, SortKeyMode};
use crate::schema::STAT_STRIPES;
use deadpool_postgres::ClientWrapper;
use sealdb_storage::{Decision, ItemKey, ItemTx, StorageError};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::runtime::Handle;

/// The transaction of one unit.
struct PgTx<'a> {
    rt: &'a Handle,
    client: &'a ClientWrapper,
    codec: &'a RowCodec,
    /// The most items of one partition in sealed mode.
    partition_limit: usize,
    locked: HashSet<i64>,
    count_delta: i64,
    size_delta: i64,
    /// The statistics stripe this unit adds to (from its first key).
    stripe: Option<i16>,
    /// The first failed statement: PostgreSQL has aborted the transaction, so the unit
    /// must not report a commit whatever it decides.
    failed: Option<String>,
}

impl PgTx<'_> {
    fn statement<T>(
        &mut self,
        f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StorageError> {
        self.rt.block_on(f).map_err(|e| {
            let err = pg_error(&e);
            self.failed.get_or_insert_with(|| err.to_string());
            err
        })
    }

    fn lock(&mut self, rk: &RowKey) -> Result<(), StorageError> {
        let id = self.codec.lock_id(rk);
        self.lock_id(id)?;
        if self.stripe.is_none() {
            self.stripe = i16::try_from(id.rem_euclid(i64::from(STAT_STRIPES))).ok();
        }
        Ok(())
    }

    fn lock_id(&mut self, id: i64) -> Result<(), StorageError> {
        if self.locked.insert(id) {
            let client = self.client;
            self.statement(async move {
                let st = client
                    .prepare_cached("SELECT pg_advisory_xact_lock($1)")
                    .await?;
                client.execute(&st, &[&id]).await
            })?;
        }
        Ok(())
    }

    /// Sealed mode: a new item may not take its partition beyond the limit. The partition
    /// is locked, so that concurrent inserts into it count one after the other.
    fn check_partition_room(&mut self, pk_tag: &[u8]) -> Result<(), StorageError> {
        self.lock_id(self.codec.partition_lock_id(pk_tag))?;
        let (client, id, limit) = (self.client, self.codec.table_id(), self.partition_limit);
        let cap = i64::try_from(limit).unwrap_or(i64::MAX);
        let n: i64 = self.statement(async move {
            let st = client
                .prepare_cached(
                    "SELECT count(*) FROM (SELECT 1 FROM sealdb.items
                     WHERE table_id = $1 AND pk_tag = $2 LIMIT $3) p",
                )
                .await?;
            Ok(client.query_one(&st, &[&id, &pk_tag, &cap]).await?.get(0))
        })?;
        if n >= cap {
            return Err(StorageError::SealedPartitionTooLarge(limit));
        }
        Ok(())
    }

    fn old_size(&mut self, rk: &RowKey) -> Result<Option<i64>, StorageError> {
        let (client, id) = (self.client, self.codec.table_id());
        self.statement(async move {
            let st = client
                .prepare_cached(
                    "SELECT size FROM sealdb.items WHERE table_id = $1 AND pk_tag = $2 AND sk = $3",
                )
                .await?;
            let row = client.query_opt(&st, &[&id, &rk.pk_tag, &rk.sk]).await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn flush_stats(&mut self) -> Result<(), StorageError> {
        if self.count_delta == 0 && self.size_delta == 0 {
            return Ok(());
        }
        let (client, id) = (self.client, self.codec.table_id());
        let (count, size, stripe) = (self.count_delta, self.size_delta, self.stripe.unwrap_or(0));
        self.statement(async move {
            let st = client
                .prepare_cached(
                    "UPDATE sealdb.table_stats SET item_count = item_count + $3,
                     size_bytes = size_bytes + $4 WHERE table_id = $1 AND stripe = $2",
                )
                .await?;
            client.execute(&st, &[&id, &stripe, &count, &size]).await
        })?;
        Ok(())
    }
}

impl ItemTx for PgTx<'_> {
    fn get(&mut self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
        let rk = self.codec.row_key(key);
        self.lock(&rk)?;
        let (client, id) = (self.client, self.codec.table_id());
        let value_box: Option<Vec<u8>> = self.statement(async {
            let st = client
                .prepare_cached(
                    "SELECT value_box FROM sealdb.items WHERE table_id = $1 AND pk_tag = $2 AND sk = $3",
                )
                .await?;
            let row = client.query_opt(&st, &[&id, &rk.pk_tag, &rk.sk]).await?;
            Ok(row.map(|r| r.get(0)))
        })?;
        value_box
            .map(|vb| self.codec.open_value(key, &vb))
            .transpose()
    }

    fn put(&mut self, key: &ItemKey, value: &[u8], size: u64) -> Result<(), StorageError> {
        let rk = self.codec.row_key(key);
        self.lock(&rk)?;
        let old = self.old_size(&rk)?;
        if old.is_none() && self.codec.mode() == SortKeyMode::Sealed {
            self.check_partition_room(&rk.pk_tag)?;
        }
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let key_box = self.codec.seal_key(key, &rk)?;
        let value_box = self.codec.seal_value(key, value)?;
        let (client, id) = (self.client, self.codec.table_id());
        self.statement(async {
            let st = client
                .prepare_cached(
                    "INSERT INTO sealdb.items (table_id, pk_tag, sk, key_box, value_box, size)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (table_id, pk_tag, sk) DO UPDATE SET key_box = EXCLUDED.key_box,
                       value_box = EXCLUDED.value_box, size = EXCLUDED.size",
                )
                .await?;
            client
                .execute(&st, &[&id, &rk.pk_tag, &rk.sk, &key_box, &value_box, &size])
                .await
        })?;
        match old {
            Some(old) => self.size_delta += size - old,
            None => {
                self.count_delta += 1;
                self.size_delta += size;
            }
        }
        Ok(())
    }

    fn delete(&mut self, key: &ItemKey) -> Result<bool, StorageError> {
        let rk = self.codec.row_key(key);
        self.lock(&rk)?;
        let (client, id) = (self.client, self.codec.table_id());
        let old: Option<i64> = self.statement(async {
            let st = client
                .prepare_cached(
                    "DELETE FROM sealdb.items WHERE table_id = $1 AND pk_tag = $2 AND sk = $3
                     RETURNING size",
                )
                .await?;
            let row = client.query_opt(&st, &[&id, &rk.pk_tag, &rk.sk]).await?;
            Ok(row.map(|r| r.get(0)))
        })?;
        match old {
            Some(old) => {
                self.count_delta -= 1;
                self.size_delta -= old;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Runs unit `f` in its own transaction on `client`. The flag says whether the connection
/// is clean (no transaction left open) and may go back to the pool.
pub(crate) fn run_unit<R, F>(
    rt: &Handle,
    client: &ClientWrapper,
    codec: &RowCodec,
    partition_limit: usize,
    f: F,
) -> (Result<R, StorageError>, bool)
where
    F: FnOnce(&mut dyn ItemTx) -> Result<Decision<R>, StorageError>,
{
    if let Err(e) = rt.block_on(client.batch_execute("BEGIN")) {
        return (Err(pg_error(&e)), false);
    }
    let mut tx = PgTx {
        rt,
        client,
        codec,
        partition_limit,
        locked: HashSet::new(),
        count_delta: 0,
        size_delta: 0,
        stripe: None,
        failed: None,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut tx)));
    let failed = tx.failed.take();
    let answer = match (outcome, failed) {
        (Ok(Ok(Decision::Commit(r))), None) => {
            let committed = tx.flush_stats().and_then(|()| {
                rt.block_on(client.batch_execute("COMMIT"))
                    .map_err(|e| pg_error(&e))
            });
            return match committed {
                Ok(()) => (Ok(r), true),
                // The outcome of a COMMIT that failed on the way is unknown to us; the
                // connection is dropped rather than trusted.
                Err(e) => (Err(e), false),
            };
        }
        (Ok(Ok(Decision::Commit(_))), Some(first)) => Err(StorageError::Backend(format!(
            "a statement of the unit failed: {first}"
        ))),
        (Ok(Ok(Decision::Rollback(r))), _) => Ok(r),
        (Ok(Err(e)), _) => Err(e),
        (Err(_panic), _) => {
            tracing::error!("a write unit panicked; its transaction is rolled back");
            Err(StorageError::WriterFailed)
        }
    };
    let clean = rt.block_on(client.batch_execute("ROLLBACK")).is_ok();
    (answer, clean)
}
