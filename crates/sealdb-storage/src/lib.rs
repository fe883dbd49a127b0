//! The storage layer of sealdb: encrypted files and the engine over them.
//!
//! ```text
//! <data-dir>/root.key            32 random bytes, mode 0600 (unless given elsewhere)
//! <data-dir>/catalog.db          SQLCipher, key = HKDF(root, "catalog"): table records, credentials
//! <data-dir>/tables/<uuid>.db    SQLCipher, key = the table key (raw): items
//! ```
//! The engine speaks in DynamoDB terms (item keys, items, conditional write units),
//! never SQL, and is async: the writer runs on its own thread, reads on blocking threads.
//! [`Engine`] is the embedded SQLCipher implementation. [`ItemStore`] is the item level
//! of a table as a backend-neutral trait, implemented by [`TableStore`] and by the
//! PostgreSQL backend (`sealdb-postgres`); [`conformance`] (feature `testing`) is the suite
//! both pass.

pub mod catalog;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod engine;
pub mod erase;
pub mod error;
pub mod index;
pub mod item_store;
pub mod lock;
mod pitr;
mod readers;
pub mod replication;
pub mod seal;
pub mod sqlcipher;
pub mod stream;
pub mod table;
pub mod txn;
mod txpart;
pub mod vault;
mod writer;

pub use catalog::{BackupRecord, Credential, TableRecord};
pub use engine::{DEFAULT_KEY_CHECK_MS, Engine, TableHandle};
pub use error::StorageError;
pub use index::{IndexEntry, IndexEntryKey};
pub use item_store::{ItemStore, ItemTx, KeyRange, ReadLimit, Segment};
pub use lock::DataDirLock;
pub use replication::WriteStamp;
pub use table::{
    Decision, ItemKey, STREAM_RETENTION_MS, StoredItem, TableStats, TableStore, WriteTx,
};
pub use txn::{PartFn, PartOutcome, TxResult, TxWrite, apply};
pub use vault::{KeyVault, RootKeyVault, TableKeyContext};
