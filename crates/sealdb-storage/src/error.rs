//! Storage errors. The DynamoDB layer maps each variant to a wire error explicitly.

/// What can go wrong below the DynamoDB layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A table of that name exists already.
    #[error("table already exists")]
    TableExists,
    /// No table of that name.
    #[error("table not found")]
    TableNotFound,
    /// The table key could not be unwrapped (wrong key, revoked or disabled KMS key).
    #[error("table key unavailable: {0}")]
    KeyUnavailable(String),
    /// The caller may not use the table's KMS key (message is the client-facing text).
    #[error("table key access denied: {0}")]
    KeyAccessDenied(String),
    /// The table was archived (its key stayed unusable too long).
    #[error("table archived")]
    Archived,
    /// A stored record failed its integrity or version check.
    #[error("corrupt or unsupported stored record: {0}")]
    Corrupt(String),
    /// SQLite / SQLCipher failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// File system failure.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The table's writer has stopped (the table was closed or deleted).
    #[error("table closed")]
    Closed,
}
