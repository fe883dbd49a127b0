//! The HTTP front door of sealdb: one listener for DynamoDB, DynamoDB Streams and KMS.
//!
//! Only this crate touches HTTP. It routes by `X-Amz-Target`, verifies SigV4 into a
//! [`sealdb_common::Principal`], hands the body to the protocol's [`Backend`], and
//! writes AWS's envelope: JSON error bodies with `__type`, `x-amzn-RequestId`, and
//! `x-amz-crc32` on DynamoDB responses (the SDKs check it). It also speaks HTTP as
//! DynamoDB does: gzip/deflate bodies both ways, CORS, the health check.

mod authn;
mod body;
pub mod client;
pub mod encoding;
pub mod front;
pub mod query;
pub mod server;
mod signing_keys;
pub mod sigv4;
pub mod wire;
mod write_deadline;
pub mod xks;

pub use body::BodyTimedOut;
pub use front::{FrontDoor, Protocol};
pub use query::QueryService;
pub use server::{ServerLimits, serve, serve_with_limits, tls_acceptor};
pub use wire::{
    Backend, BoxFuture, CredentialLookup, CredentialRejection, ResolvedCredential, WebConsole,
    WireError,
};
