//! The PostgreSQL schema, created and migrated by sealdb (`docs/formats.md`, "PostgreSQL
//! schema"). Every node runs [`migrate`] on connecting; an advisory lock makes the nodes
//! take turns, and a database whose schema is newer than this build is refused.

use crate::error::pg_error;
use sealdb_storage::StorageError;
use tokio_postgres::Client;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// Advisory lock held while the schema is checked or migrated ("sealdb" ‖ 0x0001).
const MIGRATION_LOCK: i64 = 0x7365_616c_6462_0001;

/// Stripes of a table's statistics: writers add their deltas to one stripe each, so
/// concurrent writes to a table do not all wait for one row; the stats are their sum.
pub(crate) const STAT_STRIPES: i16 = 16;

const BASE: &str = "
CREATE SCHEMA IF NOT EXISTS sealdb;
CREATE TABLE IF NOT EXISTS sealdb.schema_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version integer NOT NULL
);";

/// Schema v1: the table registry, item rows, and striped statistics.
const V1: &str = "
CREATE TABLE sealdb.tables (
    table_id uuid PRIMARY KEY,
    sort_mode smallint NOT NULL,
    row_format smallint NOT NULL,
    key_check bytea NOT NULL
);
CREATE TABLE sealdb.items (
    table_id uuid NOT NULL,
    pk_tag bytea NOT NULL,
    sk bytea NOT NULL,
    key_box bytea NOT NULL,
    value_box bytea NOT NULL,
    size bigint NOT NULL,
    PRIMARY KEY (table_id, pk_tag, sk)
);
CREATE TABLE sealdb.table_stats (
    table_id uuid NOT NULL,
    stripe smallint NOT NULL,
    item_count bigint NOT NULL,
    size_bytes bigint NOT NULL,
    PRIMARY KEY (table_id, stripe)
);";

/// Creates the schema, or checks that the one there is this build's.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StorageError> {
    let tx = client.transaction().await.map_err(|e| pg_error(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| pg_error(&e))?;
    tx.batch_execute(BASE).await.map_err(|e| pg_error(&e))?;
    let version: Option<i32> = tx
        .query_opt("SELECT version FROM sealdb.schema_version", &[])
        .await
        .map_err(|e| pg_error(&e))?
        .map(|r| r.get(0));
    match version {
        None => {
            tx.batch_execute(V1).await.map_err(|e| pg_error(&e))?;
            tx.execute(
                "INSERT INTO sealdb.schema_version (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await
            .map_err(|e| pg_error(&e))?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(StorageError::Corrupt(format!(
                "the PostgreSQL schema is version {v}; this sealdb knows version {SCHEMA_VERSION} only"
            )));
        }
    }
    tx.commit().await.map_err(|e| pg_error(&e))
}
