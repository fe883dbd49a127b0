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
    /// A PartiQL INSERT of a key that exists.
    DuplicateItem(String),
    /// The caller may not use the table's KMS key.
    AccessDenied(String),
    /// IAM refused the request (`com.amazon.coral.service#AccessDeniedException`), with
    /// AWS's "User: ... is not authorized to perform: ..." message.
    NotAuthorized(String),
    /// No resource policy, or not the expected revision (`PolicyNotFoundException`).
    PolicyNotFound(String),
    /// No such backup.
    BackupNotFound(String),
    /// No such table (backup operations word it this way).
    TableNotFound(String),
    /// The restore's target table exists (RestoreTableToPointInTime).
    TableAlreadyExists(String),
    /// Point-in-time recovery is not on for the source table.
    PointInTimeRecoveryUnavailable(String),
    /// A restore time outside the restorable window.
    InvalidRestoreTime(String),
    /// A global table (2017.11.29) of that name exists.
    GlobalTableAlreadyExists(String),
    /// No global table (2017.11.29) of that name.
    GlobalTableNotFound(String),
    /// The region is already a replica of the global table.
    ReplicaAlreadyExists(String),
    /// The region is not a replica of the global table.
    ReplicaNotFound(String),
    /// No such index (UpdateGlobalTableSettings).
    IndexNotFound(String),
    /// A transaction was cancelled; one reason per action, in request order.
    TransactionCanceled {
        /// The `CancellationReasons` members.
        reasons: Vec<serde_json::Value>,
    },
    /// A ClientRequestToken was reused with different parameters.
    IdempotentParameterMismatch(String),
    /// A stream read reached before the oldest record still kept (Streams).
    TrimmedDataAccess(String),
    /// A shard iterator older than 15 minutes (Streams).
    ExpiredIterator(String),
    /// Too many requests at once for a table (its write queue is full).
    Throttling,
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
            DynamoError::ResourceInUse(_) => {
                "com.amazonaws.dynamodb.v20120810#ResourceInUseException"
            }
            DynamoError::ConditionalCheckFailed { .. } => {
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
            }
            DynamoError::LimitExceeded(_) => {
                "com.amazonaws.dynamodb.v20120810#LimitExceededException"
            }
            DynamoError::AccessDenied(_) => {
                "com.amazonaws.dynamodb.v20120810#AccessDeniedException"
            }
            DynamoError::NotAuthorized(_) => "com.amazon.coral.service#AccessDeniedException",
            DynamoError::PolicyNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#PolicyNotFoundException"
            }
            DynamoError::TransactionCanceled { .. } => {
                "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
            }
            DynamoError::IdempotentParameterMismatch(_) => {
                "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"
            }
            DynamoError::BackupNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#BackupNotFoundException"
            }
            DynamoError::TableNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#TableNotFoundException"
            }
            DynamoError::TableAlreadyExists(_) => {
                "com.amazonaws.dynamodb.v20120810#TableAlreadyExistsException"
            }
            DynamoError::PointInTimeRecoveryUnavailable(_) => {
                "com.amazonaws.dynamodb.v20120810#PointInTimeRecoveryUnavailableException"
            }
            DynamoError::InvalidRestoreTime(_) => {
                "com.amazonaws.dynamodb.v20120810#InvalidRestoreTimeException"
            }
            DynamoError::GlobalTableAlreadyExists(_) => {
                "com.amazonaws.dynamodb.v20120810#GlobalTableAlreadyExistsException"
            }
            DynamoError::GlobalTableNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#GlobalTableNotFoundException"
            }
            DynamoError::ReplicaAlreadyExists(_) => {
                "com.amazonaws.dynamodb.v20120810#ReplicaAlreadyExistsException"
            }
            DynamoError::ReplicaNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#ReplicaNotFoundException"
            }
            DynamoError::IndexNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#IndexNotFoundException"
            }
            DynamoError::TrimmedDataAccess(_) => {
                "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException"
            }
            DynamoError::ExpiredIterator(_) => {
                "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException"
            }
            DynamoError::Throttling => "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            DynamoError::DuplicateItem(_) => {
                "com.amazonaws.dynamodb.v20120810#DuplicateItemException"
            }
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
            | DynamoError::LimitExceeded(_)
            | DynamoError::DuplicateItem(_)
            | DynamoError::AccessDenied(_)
            | DynamoError::NotAuthorized(_)
            | DynamoError::PolicyNotFound(_)
            | DynamoError::BackupNotFound(_)
            | DynamoError::TableNotFound(_)
            | DynamoError::TableAlreadyExists(_)
            | DynamoError::PointInTimeRecoveryUnavailable(_)
            | DynamoError::InvalidRestoreTime(_)
            | DynamoError::GlobalTableAlreadyExists(_)
            | DynamoError::GlobalTableNotFound(_)
            | DynamoError::ReplicaAlreadyExists(_)
            | DynamoError::ReplicaNotFound(_)
            | DynamoError::IndexNotFound(_)
            | DynamoError::TransactionCanceled { .. }
            | DynamoError::IdempotentParameterMismatch(_)
            | DynamoError::TrimmedDataAccess(_)
            | DynamoError::ExpiredIterator(_)
            | DynamoError::Throttling => 400,
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
            | DynamoError::LimitExceeded(m)
            | DynamoError::DuplicateItem(m)
            | DynamoError::AccessDenied(m)
            | DynamoError::NotAuthorized(m)
            | DynamoError::PolicyNotFound(m)
            | DynamoError::BackupNotFound(m)
            | DynamoError::TableNotFound(m)
            | DynamoError::TableAlreadyExists(m)
            | DynamoError::PointInTimeRecoveryUnavailable(m)
            | DynamoError::InvalidRestoreTime(m)
            | DynamoError::GlobalTableAlreadyExists(m)
            | DynamoError::GlobalTableNotFound(m)
            | DynamoError::ReplicaAlreadyExists(m)
            | DynamoError::ReplicaNotFound(m)
            | DynamoError::IndexNotFound(m)
            | DynamoError::IdempotentParameterMismatch(m)
            | DynamoError::TrimmedDataAccess(m)
            | DynamoError::ExpiredIterator(m) => m.clone(),
            DynamoError::ConditionalCheckFailed { .. } => "The conditional request failed".into(),
            DynamoError::TransactionCanceled { reasons } => {
                let codes: Vec<&str> = reasons
                    .iter()
                    .map(|r| {
                        r.get("Code")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("None")
                    })
                    .collect();
                format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    codes.join(", ")
                )
            }
            // DynamoDB's documented text for ThrottlingException.
            DynamoError::Throttling => "Rate of requests exceeds the allowed throughput.".into(),
            DynamoError::Internal => "Internal server error".into(),
        }
    }

    /// Whether AWS spells this error's message member `Message`.
    pub fn capital_message(&self) -> bool {
        match self {
            DynamoError::TransactionCanceled { .. }
            | DynamoError::NotAuthorized(_)
            | DynamoError::IdempotentParameterMismatch(_) => true,
            DynamoError::Validation(_)
            | DynamoError::Serialization(_)
            | DynamoError::ResourceNotFound(_)
            | DynamoError::ResourceInUse(_)
            | DynamoError::ConditionalCheckFailed { .. }
            | DynamoError::LimitExceeded(_)
            | DynamoError::DuplicateItem(_)
            | DynamoError::AccessDenied(_)
            | DynamoError::PolicyNotFound(_)
            | DynamoError::BackupNotFound(_)
            | DynamoError::TableNotFound(_)
            | DynamoError::TableAlreadyExists(_)
            | DynamoError::PointInTimeRecoveryUnavailable(_)
            | DynamoError::InvalidRestoreTime(_)
            | DynamoError::GlobalTableAlreadyExists(_)
            | DynamoError::GlobalTableNotFound(_)
            | DynamoError::ReplicaAlreadyExists(_)
            | DynamoError::ReplicaNotFound(_)
            | DynamoError::IndexNotFound(_)
            | DynamoError::TrimmedDataAccess(_)
            | DynamoError::ExpiredIterator(_)
            | DynamoError::Throttling
            | DynamoError::Internal => false,
        }
    }

    /// Members of the error body beyond `__type` and `message`.
    pub fn extra(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut extra = serde_json::Map::new();
        match self {
            DynamoError::ConditionalCheckFailed { item: Some(item) } => {
                extra.insert("Item".into(), item_to_json(item));
            }
            DynamoError::TransactionCanceled { reasons } => {
                extra.insert(
                    "CancellationReasons".into(),
                    serde_json::Value::Array(reasons.clone()),
                );
            }
            DynamoError::ConditionalCheckFailed { item: None }
            | DynamoError::IdempotentParameterMismatch(_)
            | DynamoError::Validation(_)
            | DynamoError::Serialization(_)
            | DynamoError::ResourceNotFound(_)
            | DynamoError::ResourceInUse(_)
            | DynamoError::LimitExceeded(_)
            | DynamoError::DuplicateItem(_)
            | DynamoError::AccessDenied(_)
            | DynamoError::NotAuthorized(_)
            | DynamoError::PolicyNotFound(_)
            | DynamoError::BackupNotFound(_)
            | DynamoError::TableNotFound(_)
            | DynamoError::TableAlreadyExists(_)
            | DynamoError::PointInTimeRecoveryUnavailable(_)
            | DynamoError::InvalidRestoreTime(_)
            | DynamoError::GlobalTableAlreadyExists(_)
            | DynamoError::GlobalTableNotFound(_)
            | DynamoError::ReplicaAlreadyExists(_)
            | DynamoError::ReplicaNotFound(_)
            | DynamoError::IndexNotFound(_)
            | DynamoError::TrimmedDataAccess(_)
            | DynamoError::ExpiredIterator(_)
            | DynamoError::Throttling
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
            S::Throttled => DynamoError::Throttling,
            // The vault's message is the client-facing KMS text, as DynamoDB sends it.
            S::KeyUnavailable(m) => DynamoError::Validation(m),
            S::KeyAccessDenied(m) => DynamoError::AccessDenied(m),
            S::Archived => DynamoError::Validation(
                "Table is ARCHIVED: its encryption key was inaccessible too long; restore it from the backup in ArchivalSummary".into(),
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                DynamoError::Internal
            }
        }
    }
}
