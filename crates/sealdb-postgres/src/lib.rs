//! The PostgreSQL backend of sealdb (issue 16, first slice): a table's items in a
//! PostgreSQL database, sealed in this process before they leave it, behind the
//! backend-neutral [`sealdb_storage::ItemStore`] trait.
//!
//! ```text
//! ItemStore ──► PgTableStore ──► RowCodec (seal, tag) ──► deadpool pool ──► PostgreSQL
//!                 write units: blocking thread, one transaction, advisory lock per key
//! ```
//! PostgreSQL sees per item: the partition key's HMAC tag, the sort key (ordered mode) or
//! its tag (sealed mode), two AES-256-GCM boxes (key, value) and the item's size. Formats:
//! `docs/formats.md`, "PostgreSQL schema" and "PostgreSQL item row".
//!
//! The connection is plain ([`PgBackend::connect`]) or TLS through rustls with the
//! server's certificate verified ([`PgBackend::connect_tls`]).
//!
//! Not here yet: the catalog, key store and audit log, indexes, streams, point-in-time
//! history, multi-table transactions, sharding.

mod error;
mod row;
mod schema;
mod store;
mod unit;

pub use row::SortKeyMode;
pub use schema::SCHEMA_VERSION;
pub use store::{PgBackend, PgTableStore, SEALED_PARTITION_MAX_ITEMS};
