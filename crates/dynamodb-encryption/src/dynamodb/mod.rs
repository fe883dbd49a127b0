//! The crate over `aws-sdk-dynamodb`: value conversion, the [`EncryptedClient`] and a
//! provider store in a DynamoDB table ([`DynamoDbMetaStore`]).

mod client;
mod meta_store;

pub use client::{EncryptedClient, Pages};
pub use meta_store::DynamoDbMetaStore;

use crate::error::{Error, Result};
use crate::{Attribute, Item};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// An SDK item as the SDK's operations take and return it.
pub type SdkItem = HashMap<String, AttributeValue>;

/// The crate's value as an SDK value.
pub fn to_sdk(value: &Attribute) -> AttributeValue {
    match value {
        Attribute::S(s) => AttributeValue::S(s.clone()),
        Attribute::N(n) => AttributeValue::N(n.clone()),
        Attribute::B(b) => AttributeValue::B(Blob::new(b.clone())),
        Attribute::Ss(v) => AttributeValue::Ss(v.clone()),
        Attribute::Ns(v) => AttributeValue::Ns(v.clone()),
        Attribute::Bs(v) => AttributeValue::Bs(v.iter().map(|b| Blob::new(b.clone())).collect()),
        Attribute::Bool(b) => AttributeValue::Bool(*b),
        Attribute::Null => AttributeValue::Null(true),
        Attribute::L(items) => AttributeValue::L(items.iter().map(to_sdk).collect()),
        Attribute::M(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect())
        }
    }
}

/// An SDK value as the crate's value; a variant this SDK version does not know is an error.
pub fn from_sdk(value: &AttributeValue) -> Result<Attribute> {
    Ok(match value {
        AttributeValue::S(s) => Attribute::S(s.clone()),
        AttributeValue::N(n) => Attribute::N(n.clone()),
        AttributeValue::B(b) => Attribute::B(b.as_ref().to_vec()),
        AttributeValue::Ss(v) => Attribute::Ss(v.clone()),
        AttributeValue::Ns(v) => Attribute::Ns(v.clone()),
        AttributeValue::Bs(v) => Attribute::Bs(v.iter().map(|b| b.as_ref().to_vec()).collect()),
        AttributeValue::Bool(b) => Attribute::Bool(*b),
        AttributeValue::Null(_) => Attribute::Null,
        AttributeValue::L(items) => {
            Attribute::L(items.iter().map(from_sdk).collect::<Result<_>>()?)
        }
        AttributeValue::M(map) => Attribute::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_sdk(v)?)))
                .collect::<Result<_>>()?,
        ),
        _ => return Err(Error::Malformed("unknown DynamoDB attribute type".into())),
    })
}

/// An SDK item as the crate's item.
pub fn item_from_sdk(item: &SdkItem) -> Result<Item> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), from_sdk(v)?)))
        .collect()
}

/// The crate's item as an SDK item.
pub fn item_to_sdk(item: &Item) -> SdkItem {
    item.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()
}

fn dynamodb_error(e: impl std::error::Error) -> Error {
    Error::DynamoDb(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}
