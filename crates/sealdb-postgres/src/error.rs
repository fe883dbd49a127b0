//! PostgreSQL errors as storage errors: the SQLSTATE and message only, never a statement's
//! parameters (they are sealed anyway, but a DETAIL line may quote key columns).

use sealdb_storage::StorageError;
use tokio_postgres::error::SqlState;

pub(crate) fn pg_error(e: &tokio_postgres::Error) -> StorageError {
    match e.as_db_error() {
        Some(db)
            if *db.code() == SqlState::T_R_DEADLOCK_DETECTED
                || *db.code() == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            StorageError::Conflict
        }
        Some(db) => StorageError::Backend(format!("{}: {}", db.code().code(), db.message())),
        None => StorageError::Backend(e.to_string()),
    }
}

pub(crate) fn pool_error(e: deadpool_postgres::PoolError) -> StorageError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(&e),
        other => StorageError::Backend(format!("connection pool: {other}")),
    }
}
