//! The DynamoDB error enum. Each variant owns its wire mapping (`__type`, status,
//! message); the match is exhaustive so a new variant cannot go out unmapped.

use crate::value::{Item, item_to_json};

/// An error answered to a DynamoDB client.
#[derive(Debug)]
pub enum DynamoError {
    /// Bad input (`com.amazon.coral.validate#ValidationException`).
    Validation(String),
    /// Malformed JSON or a member of the wrong JSON type.
    Serialization(String),
    /// No such table (or other resource).
    ResourceNotFound(String),
    /// The table exists, or is busy.
    ResourceInUse(String),
    /// A ConditionExpression was false; `item` is the old item when the request asked
    /// for it with `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    ConditionalCheckFailed {
        /// The item as it was, when asked for.
        item: Option<Item>,
    },
    /// Too many tables, tags, etc.
    LimitExceeded(String),
    /// Something failed on our side; details are logged, not sent.
    Internal,
}

impl DynamoError {
    /// A validation error with a message.
    pub fn validation(msg: impl Into<String>) -> Self {
        DynamoError::Validation(msg.into())
    }

    /// `__type` as AWS sends it.
    pub fn wire_type(&self) -> &'static str {
        match self {
            DynamoError::Validation(_) => "com.amazon.coral.validate#ValidationException",
            DynamoError::Serialization(_) => "com.amazon.coral.service#SerializationException",
            DynamoError::ResourceNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
            }
            DynamoError::ResourceInUse(_) => "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
            DynamoError::ConditionalCheckFailed { .. } => {
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
            }
            DynamoError::LimitExceeded(_) => "com.amazonaws.dynamodb.v20120810#LimitExceededException",
            DynamoError::Internal => "com.amazonaws.dynamodb.v20120810#InternalServerError",
        }
    }

    /// HTTP status as AWS sends it.
    pub fn status(&self) -> u16 {
        match self {
            DynamoError::Validation(_)
            | DynamoError::Serialization(_)
            | DynamoError::ResourceNotFound(_)
            | DynamoError::ResourceInUse(_)
            | DynamoError::ConditionalCheckFailed { .. }
            | DynamoError::LimitExceeded(_) => 400,
            DynamoError::Internal => 500,
        }
    }

    /// The message text.
    pub fn message(&self) -> String {
        match self {
            DynamoError::Validation(m)
            | DynamoError::Serialization(m)
            | DynamoError::ResourceNotFound(m)
            | DynamoError::ResourceInUse(m)
            | DynamoError::LimitExceeded(m) => m.clone(),
            DynamoError::ConditionalCheckFailed { .. } => "The conditional request failed".into(),
            DynamoError::Internal => "Internal server error".into(),
        }
    }

    /// Members of the error body beyond `__type` and `message`.
    pub fn extra(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut extra = serde_json::Map::new();
        match self {
            DynamoError::ConditionalCheckFailed { item: Some(item) } => {
                extra.insert("Item".into(), item_to_json(item));
            }
            DynamoError::ConditionalCheckFailed { item: None }
            | DynamoError::Validation(_)
            | DynamoError::Serialization(_)
            | DynamoError::ResourceNotFound(_)
            | DynamoError::ResourceInUse(_)
            | DynamoError::LimitExceeded(_)
            | DynamoError::Internal => {}
        }
        extra
    }
}

impl From<sealdb_storage::StorageError> for DynamoError {
    fn from(e: sealdb_storage::StorageError) -> Self {
        use sealdb_storage::StorageError as S;
        match e {
            S::TableNotFound | S::Closed => {
                DynamoError::ResourceNotFound("Requested resource not found".into())
            }
            S::TableExists => DynamoError::ResourceInUse("Table already exists".into()),
            other => {
                tracing::error!(error = %other, "storage failure");
                DynamoError::Internal
            }
        }
    }
}
