//! The DynamoDB API of sealdb: attribute values and numbers, the item and key
//! encodings, the expression language, and the table and item operations.
//!
//! Layering: the HTTP front door hands a parsed [`Operation`], the caller and the
//! JSON body to [`Service::call`]; nothing in this crate touches HTTP. Operations talk
//! to storage through `sealdb_storage` in DynamoDB terms (keys, items, conditional
//! write units), never SQL.

mod audit;
mod authz;
pub mod codec;
pub mod error;
pub mod expr;
mod grant_recovery;
pub mod index;
pub mod input;
pub mod legacy;
pub mod number;
pub mod on_demand;
pub mod ops;
pub mod outbox;
pub(crate) mod partiql;
pub mod peer_status;
mod pre_authorization;
pub mod remote;
pub mod replication;
pub(crate) mod request_validation;
pub mod schema;
pub mod service;
pub mod sse;
pub mod ttl;
pub mod value;

pub use error::DynamoError;
pub use ops::streams::STREAMS_OPERATIONS;
pub use replication::{PeerFuture, RegionPeers};
pub use service::{Operation, Service, ServiceConfig};

/// An item's DynamoDB size as stored with it.
pub(crate) fn item_size_u64(item: &value::Item) -> u64 {
    u64::try_from(value::item_size(item)).unwrap_or(u64::MAX)
}
