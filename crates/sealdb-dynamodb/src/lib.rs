//! The DynamoDB API of sealdb: attribute values and numbers, the item and key
//! encodings, the expression language, and the table and item operations.
//!
//! Layering: the HTTP front door hands a parsed operation name, the caller and the
//! JSON body to [`service`]; nothing in this crate touches HTTP. Operations talk to
//! storage through `sealdb_storage`'s trait in DynamoDB terms (keys, items,
//! conditional writes), never SQL.

pub mod codec;
pub mod expr;
pub mod number;
pub mod value;
