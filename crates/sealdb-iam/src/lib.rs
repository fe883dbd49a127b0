//! Who may do what: AWS's IAM policy language and evaluation logic, asked by every
//! service before it runs an operation, and (from the identity side) the users, groups,
//! roles and credentials those policies attach to.
//!
//! The engine side, in short:
//! - [`PolicyDocument::parse`] turns a JSON policy into typed statements and refuses
//!   anything it does not implement with IAM's `MalformedPolicyDocument` text, so a policy
//!   is never silently half-applied.
//! - A service builds a [`RequestContext`] (action, resource ARN, condition keys) from its
//!   typed input and calls [`Authorizer::authorize`] once before acting.
//! - [`evaluate`] is AWS's decision logic (explicit deny wins, then an allow from an
//!   identity or resource policy, else an implicit deny; the account root is allowed unless
//!   a resource policy denies it; across accounts both sides must allow).
//! - [`simulate`] answers the policy simulator's question with the deciding statements.

pub mod api;
mod arn;
mod authorizer;
mod condition;
mod condition_eval;
mod context;
mod eval;
mod policy;
mod policy_positions;
mod simulate;
pub mod store;
pub mod store_ids;
pub mod store_model;
pub mod store_policies;
mod store_seal;
pub mod sts;
pub mod sts_token;
mod trail_elements;
pub mod xml;

pub use api::{ActionGate, IamError, IamService, Params, PolicyValidator, RootOnly};
pub use arn::Arn;
pub use authorizer::{AccessDenied, Authorizer, IdentityPolicies, NoIdentityPolicies};
pub use condition::{ConditionOperator, SetQualifier};
pub use context::{ConditionKeys, ContextValue, EvalPrincipal, PrincipalType, RequestContext};
pub use eval::{
    Decision, EvalInput, Evaluation, MatchedStatement, PolicyInput, PolicySource, ResourceRule,
    evaluate,
};
pub use policy::{Effect, PolicyDocument, PolicyError, PolicyKind, PolicyVersion, Statement};
pub use simulate::{SimulationRequest, SimulationResult, simulate};
pub use store::{IdentityStore, StoreError};
pub use store_ids::new_long_term_key;
pub use store_policies::{EngineGate, EnginePolicies, StorePolicies};
pub use sts_token::{Rejection, SessionTokens};
pub use trail_elements::response_elements;

/// AWS's quota of access keys per user.
pub const ACCESS_KEYS_PER_USER: usize = 2;
