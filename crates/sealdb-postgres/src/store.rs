//! A table on PostgreSQL: [`PgBackend`] (the pool, the schema) and [`PgTableStore`], the
//! [`ItemStore`] of one table.

use crate::error::{pg_error, pool_error};
use crate::row::{RowCodec, RowKey, SortKeyMode};
use crate::schema::{STAT_STRIPES, migrate};
use deadpool_postgres::{Manager, Object, Pool};
use futures_util::{TryStreamExt, pin_mut};
use sealdb_common::SecretKey32;
use sealdb_storage::{
    Decision, ItemKey, ItemStore, ItemTx, KeyRange, ReadLimit, Segment, StorageError, StoredItem,
    TableStats,
};
use std::ops::Bound;
use std::sync::Arc;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// Row format of the items this build writes (`sealdb.tables.row_format`).
const ROW_FORMAT_V1: i16 = 1;

/// The most items one partition of a table with sealed sort keys holds (unless opened with
/// another limit): a Query reads, decrypts and sorts the whole partition in sealdb for
/// every page. A write that would add an item beyond it fails, and so does a Query of a
/// partition that holds more (written under a higher limit).
pub const SEALED_PARTITION_MAX_ITEMS: usize = 10_000;

/// A connection pool to one PostgreSQL database whose schema sealdb owns.
#[derive(Clone)]
pub struct PgBackend {
    pool: Pool,
}

impl PgBackend {
    /// Connects to `url` (`postgres://user:password@host:port/db`) without TLS, with at
    /// most `max_connections` connections, and creates or checks the schema. For a server
    /// on loopback or a trusted network only; otherwise use [`PgBackend::connect_tls`].
    pub async fn connect(url: &str, max_connections: usize) -> Result<PgBackend, StorageError> {
        let config = parse_url(url)?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(StorageError::Backend(
                "the URL requires TLS (sslmode=require): connect with TLS".into(),
            ));
        }
        PgBackend::start(Manager::new(config, tokio_postgres::NoTls), max_connections).await
    }

    /// Connects over TLS (rustls), verifying the server's certificate against `roots` and
    /// its name against the URL's host; a server that does not offer TLS is refused.
    pub async fn connect_tls(
        url: &str,
        max_connections: usize,
        roots: rustls::RootCertStore,
    ) -> Result<PgBackend, StorageError> {
        let mut config = parse_url(url)?;
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        // The provider is named, not taken from the process default, which features
        // enabled elsewhere in a build could make ambiguous.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StorageError::Backend(format!("TLS set-up: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
        PgBackend::start(Manager::new(config, tls), max_connections).await
    }

    async fn start(manager: Manager, max_connections: usize) -> Result<PgBackend, StorageError> {
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| StorageError::Backend(format!("connection pool: {e}")))?;
        let mut client = pool.get().await.map_err(pool_error)?;
        migrate(&mut client).await?;
        Ok(PgBackend { pool })
    }

    /// Opens the table `table_id` under `table_key`, registering it with `mode` on first
    /// use. A table registered with another mode, or under another key, is refused.
    pub async fn open_table(
        &self,
        table_id: Uuid,
        table_key: &SecretKey32,
        mode: SortKeyMode,
    ) -> Result<Arc<PgTableStore>, StorageError> {
        self.open_table_limited(table_id, table_key, mode, SEALED_PARTITION_MAX_ITEMS)
            .await
    }

    /// [`PgBackend::open_table`] with another limit of items per partition in sealed mode.
    pub async fn open_table_limited(
        &self,
        table_id: Uuid,
        table_key: &SecretKey32,
        mode: SortKeyMode,
        sealed_partition_limit: usize,
    ) -> Result<Arc<PgTableStore>, StorageError> {
        let codec = RowCodec::new(table_id, table_key, mode)?;
        let check = codec.key_check()?;
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(|e| pg_error(&e))?;
        tx.execute(
            "INSERT INTO sealdb.tables (table_id, sort_mode, row_format, key_check)
             VALUES ($1, $2, $3, $4) ON CONFLICT (table_id) DO NOTHING",
            &[&table_id, &mode.code(), &ROW_FORMAT_V1, &check],
        )
        .await
        .map_err(|e| pg_error(&e))?;
        tx.execute(
            "INSERT INTO sealdb.table_stats (table_id, stripe, item_count, size_bytes)
             SELECT $1, s::smallint, 0, 0 FROM generate_series(0, $2::smallint - 1) s
             ON CONFLICT DO NOTHING",
            &[&table_id, &STAT_STRIPES],
        )
        .await
        .map_err(|e| pg_error(&e))?;
        let row = tx
            .query_one(
                "SELECT sort_mode, row_format, key_check FROM sealdb.tables WHERE table_id = $1",
                &[&table_id],
            )
            .await
            .map_err(|e| pg_error(&e))?;
        let (stored_mode, format, stored_check): (i16, i16, Vec<u8>) =
            (row.get(0), row.get(1), row.get(2));
        if format != ROW_FORMAT_V1 {
            return Err(StorageError::Corrupt(format!(
                "table {table_id} has row format {format}, which this sealdb cannot read"
            )));
        }
        if SortKeyMode::from_code(stored_mode) != Some(mode) {
            return Err(StorageError::Corrupt(format!(
                "table {table_id} was created with sort-key mode {stored_mode}, not {}",
                mode.code()
            )));
        }
        if !codec.verify_key_check(&stored_check) {
            return Err(StorageError::KeyUnavailable(
                "the table key does not open this table's PostgreSQL rows".into(),
            ));
        }
        tx.commit().await.map_err(|e| pg_error(&e))?;
        Ok(Arc::new(PgTableStore {
            pool: self.pool.clone(),
            codec: Arc::new(codec),
            partition_limit: sealed_partition_limit,
        }))
    }
}

/// One table's items in PostgreSQL.
pub struct PgTableStore {
    pool: Pool,
    codec: Arc<RowCodec>,
    /// The most items of one partition in sealed mode.
    partition_limit: usize,
}

/// The connection settings of a URL (never quoted in an error: it may hold a password).
fn parse_url(url: &str) -> Result<tokio_postgres::Config, StorageError> {
    url.parse()
        .map_err(|_| StorageError::Backend("invalid PostgreSQL connection URL".into()))
}

/// Clamps a count for a `LIMIT` parameter.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgTableStore {
    async fn client(&self) -> Result<Object, StorageError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// The sort-key mode of this table.
    pub fn mode(&self) -> SortKeyMode {
        self.codec.mode()
    }

    /// Decodes rows `(pk_tag, sk, key_box, value_box)` until `limit` is reached.
    async fn collect(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        limit: ReadLimit,
    ) -> Result<Vec<StoredItem>, StorageError> {
        let client = self.client().await?;
        let st = client.prepare_cached(sql).await.map_err(|e| pg_error(&e))?;
        let rows = client
            .query_raw(&st, params.iter().copied())
            .await
            .map_err(|e| pg_error(&e))?;
        pin_mut!(rows);
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = rows.try_next().await.map_err(|e| pg_error(&e))? {
            let rk = RowKey {
                pk_tag: row.get(0),
                sk: row.get(1),
            };
            let key = self.codec.open_key(&rk, row.get(2))?;
            let value = self.codec.open_value(&key, row.get(3))?;
            bytes = bytes.saturating_add(value.len());
            out.push(StoredItem { key, value });
            if limit.reached(out.len(), bytes) {
                break;
            }
        }
        Ok(out)
    }

    /// Ordered mode: PostgreSQL range-scans the partition in sort-key order.
    async fn query_ordered(
        &self,
        pk_tag: Vec<u8>,
        range: KeyRange,
        limit: ReadLimit,
    ) -> Result<Vec<StoredItem>, StorageError> {
        let id = self.codec.table_id();
        let mut sql = String::from(
            "SELECT pk_tag, sk, key_box, value_box FROM sealdb.items WHERE table_id = $1 AND pk_tag = $2",
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &pk_tag];
        for (bound, incl, excl) in [(&range.lo, ">=", ">"), (&range.hi, "<=", "<")] {
            let (op, value) = match bound {
                Bound::Included(v) => (incl, v),
                Bound::Excluded(v) => (excl, v),
                Bound::Unbounded => continue,
            };
            params.push(value);
            sql.push_str(&format!(" AND sk {op} ${}", params.len()));
        }
        let n = sql_limit(limit.items);
        params.push(&n);
        let dir = if range.forward { "ASC" } else { "DESC" };
        sql.push_str(&format!(" ORDER BY sk {dir} LIMIT ${}", params.len()));
        self.collect(&sql, &params, limit).await
    }

    /// Sealed mode: the whole partition is read, then filtered and sorted here.
    async fn query_sealed(
        &self,
        pk_tag: Vec<u8>,
        range: KeyRange,
        limit: ReadLimit,
    ) -> Result<Vec<StoredItem>, StorageError> {
        let id = self.codec.table_id();
        let cap = sql_limit(self.partition_limit.saturating_add(1));
        let client = self.client().await?;
        let st = client
            .prepare_cached(
                "SELECT sk, key_box, value_box FROM sealdb.items
                 WHERE table_id = $1 AND pk_tag = $2 LIMIT $3",
            )
            .await
            .map_err(|e| pg_error(&e))?;
        let rows = client
            .query(&st, &[&id, &pk_tag, &cap])
            .await
            .map_err(|e| pg_error(&e))?;
        drop(client);
        if rows.len() > self.partition_limit {
            return Err(StorageError::SealedPartitionTooLarge(self.partition_limit));
        }
        let mut keyed = Vec::with_capacity(rows.len());
        for row in &rows {
            let rk = RowKey {
                pk_tag: pk_tag.clone(),
                sk: row.get(0),
            };
            let key = self.codec.open_key(&rk, row.get(1))?;
            if range.contains(&key.sk) {
                keyed.push((key, row));
            }
        }
        keyed.sort_by(|a, b| a.0.sk.cmp(&b.0.sk));
        if !range.forward {
            keyed.reverse();
        }
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        for (key, row) in keyed {
            let value = self.codec.open_value(&key, row.get(2))?;
            bytes = bytes.saturating_add(value.len());
            out.push(StoredItem { key, value });
            if limit.reached(out.len(), bytes) {
                break;
            }
        }
        Ok(out)
    }
}

impl ItemStore for PgTableStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
        let rk = self.codec.row_key(key);
        let id = self.codec.table_id();
        let client = self.client().await?;
        let st = client
            .prepare_cached(
                "SELECT value_box FROM sealdb.items WHERE table_id = $1 AND pk_tag = $2 AND sk = $3",
            )
            .await
            .map_err(|e| pg_error(&e))?;
        let row = client
            .query_opt(&st, &[&id, &rk.pk_tag, &rk.sk])
            .await
            .map_err(|e| pg_error(&e))?;
        row.map(|r| self.codec.open_value(key, r.get(0)))
            .transpose()
    }

    async fn write_unit<R, F>(&self, f: F) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn ItemTx) -> Result<Decision<R>, StorageError> + Send + 'static,
    {
        let client = self.client().await?;
        let codec = Arc::clone(&self.codec);
        let rt = tokio::runtime::Handle::current();
        let limit = self.partition_limit;
        tokio::task::spawn_blocking(move || {
            let (answer, clean) = crate::unit::run_unit(&rt, &client, &codec, limit, f);
            if !clean {
                // Never hand a connection that may be inside a transaction to the next unit.
                drop(Object::take(client));
            }
            answer
        })
        .await
        .map_err(|_| StorageError::WriterFailed)?
    }

    async fn query(
        &self,
        _hash: u64,
        pk: Vec<u8>,
        range: KeyRange,
        limit: ReadLimit,
    ) -> Result<Vec<StoredItem>, StorageError> {
        let pk_tag = self.codec.pk_tag(&pk);
        match self.codec.mode() {
            SortKeyMode::Ordered => self.query_ordered(pk_tag, range, limit).await,
            SortKeyMode::Sealed => self.query_sealed(pk_tag, range, limit).await,
        }
    }

    /// Segments are ranges of the partition-key tag's first 8 bytes; scan order is
    /// `(pk_tag, sk column)`.
    async fn scan(
        &self,
        segment: Segment,
        after: Option<ItemKey>,
        limit: ReadLimit,
    ) -> Result<Vec<StoredItem>, StorageError> {
        let id = self.codec.table_id();
        let (lo, hi) = segment.range();
        let lo = lo.to_be_bytes().to_vec();
        // The exclusive upper bound is the next segment's first 8-byte prefix.
        let hi = hi.checked_add(1).map(|h| h.to_be_bytes().to_vec());
        let after = after.map(|k| self.codec.row_key(&k));
        let n = sql_limit(limit.items);
        let mut sql = String::from(
            "SELECT pk_tag, sk, key_box, value_box FROM sealdb.items WHERE table_id = $1 AND pk_tag >= $2",
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &lo];
        if let Some(hi) = &hi {
            params.push(hi);
            sql.push_str(&format!(" AND pk_tag < ${}", params.len()));
        }
        if let Some(a) = &after {
            params.push(&a.pk_tag);
            params.push(&a.sk);
            let k = params.len();
            sql.push_str(&format!(" AND (pk_tag, sk) > (${}, ${k})", k - 1));
        }
        params.push(&n);
        sql.push_str(&format!(" ORDER BY pk_tag, sk LIMIT ${}", params.len()));
        self.collect(&sql, &params, limit).await
    }

    fn in_segment(&self, key: &ItemKey, segment: Segment) -> bool {
        segment.contains(RowCodec::tag_point(&self.codec.pk_tag(&key.pk)))
    }

    async fn stats(&self) -> Result<TableStats, StorageError> {
        let id = self.codec.table_id();
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(SUM(item_count), 0)::bigint, COALESCE(SUM(size_bytes), 0)::bigint
                 FROM sealdb.table_stats WHERE table_id = $1",
                &[&id],
            )
            .await
            .map_err(|e| pg_error(&e))?;
        let (count, size): (i64, i64) = (row.get(0), row.get(1));
        Ok(TableStats {
            item_count: u64::try_from(count).unwrap_or(0),
            size_bytes: u64::try_from(size).unwrap_or(0),
        })
    }
}
