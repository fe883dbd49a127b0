//! Why a policy document was refused, in IAM's `MalformedPolicyDocument` words.

use std::fmt;

/// A refused policy document; [`PolicyError::message`] is IAM's text for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    message: String,
}

impl PolicyError {
    fn new(message: impl Into<String>) -> Self {
        PolicyError {
            message: message.into(),
        }
    }

    /// Not JSON, a wrong type, an unknown element or operator: IAM says only this.
    pub(crate) fn syntax() -> Self {
        PolicyError::new("Syntax errors in policy.")
    }

    pub(crate) fn missing_actions() -> Self {
        PolicyError::new("Policy statement must contain actions.")
    }

    pub(crate) fn missing_resources() -> Self {
        PolicyError::new("Policy statement must contain resources.")
    }

    pub(crate) fn principal_not_allowed() -> Self {
        PolicyError::new("Policy document should not specify a principal.")
    }

    pub(crate) fn missing_principal() -> Self {
        PolicyError::new("Missing required field Principal")
    }

    pub(crate) fn invalid_principal(kind: &str, value: &str) -> Self {
        PolicyError::new(format!(
            "Invalid principal in policy: \"{kind}\":\"{value}\""
        ))
    }

    pub(crate) fn vendor_missing() -> Self {
        PolicyError::new(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        )
    }

    pub(crate) fn action_colons() -> Self {
        PolicyError::new("Actions/Condition can contain only one colon.")
    }

    pub(crate) fn resource_not_arn(resource: &str) -> Self {
        PolicyError::new(format!(
            "Resource {resource} must be in ARN format or \"*\"."
        ))
    }

    pub(crate) fn duplicate_sid() -> Self {
        PolicyError::new("Statement IDs (SID) in a single policy must be unique.")
    }

    pub(crate) fn sid_not_alphanumeric() -> Self {
        PolicyError::new(
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        )
    }

    /// IAM's text for this document (the MalformedPolicyDocument message).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}
