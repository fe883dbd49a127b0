//! The operations, grouped by what they act on.

pub mod backups;
pub mod batch;
pub mod capacity;
pub(crate) mod global_settings;
pub(crate) mod global_tables;
pub mod indexes;
pub mod items;
pub(crate) mod legacy_peers;
pub mod pitr;
pub mod policies;
pub mod query;
pub(crate) mod replica_overrides;
pub(crate) mod replicas;
pub(crate) mod restore_overrides;
pub mod scan;
pub(crate) mod shards;
pub(crate) mod statements;
pub mod streams;
pub mod tables;
pub mod transact;
