//! IAM's and STS's errors: each variant owns its code, HTTP status and message (AWS's
//! texts where clients or users rely on them).

use crate::store::StoreError;

/// A refused or failed IAM/STS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamError {
    /// 404 `NoSuchEntity`.
    NoSuchEntity(String),
    /// 409 `EntityAlreadyExists`.
    EntityAlreadyExists(String),
    /// 409 `DeleteConflict`.
    DeleteConflict(String),
    /// 409 `LimitExceeded`.
    LimitExceeded(String),
    /// 400 `MalformedPolicyDocument`.
    MalformedPolicyDocument(String),
    /// 400 `InvalidInput`.
    InvalidInput(String),
    /// 400 `ValidationError` (a member out of its constraints).
    Validation(String),
    /// 400 `PasswordPolicyViolation`.
    PasswordPolicyViolation(String),
    /// 400 `InvalidUserType`: the caller is not of the kind the action is for.
    InvalidUserType(String),
    /// 403 `AccessDenied`.
    AccessDenied(String),
    /// 500 `ServiceFailure`: our fault (storage).
    ServiceFailure,
}

impl IamError {
    /// The `<Code>`.
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::Validation(_) => "ValidationError",
            IamError::PasswordPolicyViolation(_) => "PasswordPolicyViolation",
            IamError::InvalidUserType(_) => "InvalidUserType",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::ServiceFailure => "ServiceFailure",
        }
    }

    /// The HTTP status (botocore's iam/sts models).
    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_)
            | IamError::DeleteConflict(_)
            | IamError::LimitExceeded(_) => 409,
            IamError::MalformedPolicyDocument(_)
            | IamError::InvalidInput(_)
            | IamError::Validation(_)
            | IamError::PasswordPolicyViolation(_)
            | IamError::InvalidUserType(_) => 400,
            IamError::AccessDenied(_) => 403,
            IamError::ServiceFailure => 500,
        }
    }

    /// The `<Message>`.
    pub fn message(&self) -> String {
        match self {
            IamError::NoSuchEntity(m)
            | IamError::EntityAlreadyExists(m)
            | IamError::DeleteConflict(m)
            | IamError::LimitExceeded(m)
            | IamError::MalformedPolicyDocument(m)
            | IamError::InvalidInput(m)
            | IamError::Validation(m)
            | IamError::PasswordPolicyViolation(m)
            | IamError::InvalidUserType(m)
            | IamError::AccessDenied(m) => m.clone(),
            IamError::ServiceFailure => {
                "The request processing has failed because of an unknown error, exception or failure."
                    .to_owned()
            }
        }
    }

    /// `1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint: <c>`.
    pub fn constraint(member: &str, value: Option<&str>, constraint: &str) -> IamError {
        let shown = value.map_or_else(|| "null".to_owned(), |v| format!("'{v}'"));
        IamError::Validation(format!(
            "1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }
}

impl From<StoreError> for IamError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "identity store failed");
        IamError::ServiceFailure
    }
}

impl From<crate::store_ids::RandomError> for IamError {
    fn from(_: crate::store_ids::RandomError) -> Self {
        IamError::ServiceFailure
    }
}
