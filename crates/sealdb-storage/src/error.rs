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
    /// Another process holds the data dir's lock.
    #[error(
        "data dir {} is in use by another sealdb process (it holds the lock file sealdb.lock); stop that process first",
        .0.display()
    )]
    DataDirInUse(std::path::PathBuf),
    /// The table's write queue is full: the caller should back off and retry.
    #[error("write queue full")]
    Throttled,
    /// The table's writer failed (a panic) before it could answer; the write was not made.
    #[error("the table's writer failed before answering")]
    WriterFailed,
    /// The storage server (PostgreSQL) failed or could not be reached; the message has
    /// its error code and text, never statement parameters.
    #[error("storage server: {0}")]
    Backend(String),
    /// The write conflicted with a concurrent one (a deadlock between units locking the
    /// same keys in different orders); nothing of it was written.
    #[error("write conflict")]
    Conflict,
    /// A Query on a table with sealed sort keys reached a partition larger than such a
    /// table allows (the whole partition is read and sorted in sealdb).
    #[error("partition too large for a table with sealed sort keys (at most {0} items)")]
    SealedPartitionTooLarge(usize),
    /// The table's writer has stopped (the table was closed or deleted).
    #[error("table closed")]
    Closed,
}
