//! A policy document as typed statements: what AWS's JSON policy grammar says, checked
//! once when the policy is stored, so evaluation never meets an unknown construct.

mod error;
mod parse;
mod template;

pub use error::PolicyError;
pub(crate) use template::{Glob, Template, glob_match, glob_match_str};

use crate::condition::Condition;

/// The policy language version (`Version`). Without one, AWS reads the policy as
/// 2008-10-17, in which `${...}` is plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyVersion {
    V2008_10_17,
    V2012_10_17,
}

/// Where a policy is used, which decides the elements it must and must not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role: no Principal, Resource required.
    Identity,
    /// Attached to a resource (a table, a stream, a KMS key): Principal and Resource required.
    Resource,
    /// A role's trust policy: Principal required, no Resource needed.
    Trust,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action` (patterns that match) or `NotAction` (patterns that must not match), and the
/// same shape for `Resource` / `NotResource` and `Principal` / `NotPrincipal`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Matcher<T> {
    Is(Vec<T>),
    Not(Vec<T>),
}

/// Who a resource policy statement is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PrincipalPattern {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Everyone,
    /// An ARN (account ids become `arn:aws:iam::ACCT:root`).
    Aws(String),
    /// `{"Service": "dynamodb.amazonaws.com"}`.
    Service(String),
    /// `{"Federated": "..."}`: an identity provider; sealdb has no federated callers yet.
    Federated(String),
    /// `{"CanonicalUser": "..."}`: S3's form; never matches a sealdb caller.
    CanonicalUser(String),
}

/// One statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    /// Lowercased `service:Action` patterns (actions are case-insensitive).
    pub(crate) actions: Matcher<String>,
    /// None when the statement has no Resource element (a trust policy).
    pub(crate) resources: Option<Matcher<Template>>,
    pub(crate) principals: Option<Matcher<PrincipalPattern>>,
    pub(crate) conditions: Vec<Condition>,
    /// The statement's position in the document (0-based), for the simulator.
    pub(crate) index: usize,
}

impl Statement {
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The statement's position in its policy, counted from 0.
    pub fn index(&self) -> usize {
        self.index
    }
}

/// A parsed, validated policy document (identity, resource or trust policy).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDocument {
    pub(crate) version: PolicyVersion,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Parses and validates a document of any kind (Principal and Resource optional);
    /// anything the engine does not implement is refused.
    pub fn parse(text: &str) -> Result<PolicyDocument, PolicyError> {
        parse::parse_document(text, None)
    }

    /// Parses and validates a document for its use (`PolicyKind`), as IAM, KMS and
    /// DynamoDB do when a policy is stored.
    pub fn parse_as(text: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
        parse::parse_document(text, Some(kind))
    }

    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The document's `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}
