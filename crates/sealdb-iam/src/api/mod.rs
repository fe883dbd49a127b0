//! The IAM API (Query protocol, version 2010-05-08) over the identity store.
//!
//! Every action is authorized before it runs (`iam:<Action>` on the entity's ARN; the
//! account root is always allowed), reads its members with IAM's constraints, changes the
//! store in one transaction, and answers the XML of its `…Result` element.

pub mod error;
mod groups;
pub mod params;
mod policies;
mod roles;
mod simulate;
mod tagging;
mod users;

pub use error::IamError;
pub use params::Params;

use crate::store::IdentityStore;
use crate::sts_token::SessionTokens;
use crate::xml::Xml;
use sealdb_common::{Principal, PrincipalKind};
use std::sync::Arc;

/// Decides whether a caller may run an IAM or STS action on a resource; `Err` carries
/// AWS's AccessDenied message. The binary wires the policy engine in here.
pub trait ActionGate: Send + Sync {
    /// May `caller` perform `action` (`iam:CreateUser`) on `resource` (an ARN)?
    fn check(&self, caller: &Principal, action: &str, resource: &str) -> Result<(), String>;

    /// May `caller` assume the role `role_arn` whose trust policy is `trust_policy`
    /// (`sts:AssumeRole`, the trust policy evaluated as the role's resource policy)?
    fn check_trust(
        &self,
        caller: &Principal,
        role_arn: &str,
        trust_policy: &str,
    ) -> Result<(), String>;
}

/// Only the account root may act: every other caller is implicitly denied.
pub struct RootOnly;

impl ActionGate for RootOnly {
    fn check(&self, caller: &Principal, action: &str, resource: &str) -> Result<(), String> {
        if caller.is_root() {
            return Ok(());
        }
        Err(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action",
            caller.arn
        ))
    }

    fn check_trust(&self, caller: &Principal, role_arn: &str, _: &str) -> Result<(), String> {
        Err(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.arn
        ))
    }
}

/// Parses a policy document as the engine will evaluate it, refusing what it does not
/// implement (the message is AWS's MalformedPolicyDocument text).
pub trait PolicyValidator: Send + Sync {
    /// An identity policy (user, group, role, managed).
    fn identity_policy(&self, text: &str) -> Result<(), String>;
    /// A role's trust policy.
    fn trust_policy(&self, text: &str) -> Result<(), String>;
}

/// The IAM and STS services.
pub struct IamService {
    pub(crate) store: Arc<IdentityStore>,
    pub(crate) tokens: Arc<SessionTokens>,
    pub(crate) gate: Arc<dyn ActionGate>,
    pub(crate) policies: Arc<dyn PolicyValidator>,
}

/// Every IAM action served.
pub const IAM_ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "UpdateUser",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "ChangePassword",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "CreatePolicy",
    "GetPolicy",
    "DeletePolicy",
    "ListPolicies",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListAttachedGroupPolicies",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "DeleteGroupPolicy",
    "ListGroupPolicies",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "SimulatePrincipalPolicy",
    "SimulateCustomPolicy",
];

impl IamService {
    /// The services over `store`, with `gate` deciding who may act and `policies`
    /// validating documents.
    pub fn new(
        store: Arc<IdentityStore>,
        tokens: Arc<SessionTokens>,
        gate: Arc<dyn ActionGate>,
        policies: Arc<dyn PolicyValidator>,
    ) -> Self {
        IamService {
            store,
            tokens,
            gate,
            policies,
        }
    }

    /// True if `action` is an IAM action served here.
    pub fn has_iam_action(action: &str) -> bool {
        IAM_ACTIONS.contains(&action)
    }

    /// Runs one IAM action; the `…Result` XML (empty for actions without one).
    pub fn call_iam(
        &self,
        action: &str,
        caller: &Principal,
        params: &Params,
    ) -> Result<String, IamError> {
        let ctx = Ctx {
            svc: self,
            caller,
            params,
            action,
        };
        let body = users::call(&ctx)
            .or_else(|| groups::call(&ctx))
            .or_else(|| roles::call(&ctx))
            .or_else(|| policies::call(&ctx))
            .or_else(|| simulate::call(&ctx))
            .unwrap_or_else(|| Err(IamError::InvalidInput(format!("unknown action {action}"))))?;
        Ok(body)
    }

    fn account(&self) -> &str {
        self.store.account_id()
    }

    fn now(&self) -> i64 {
        self.store.clock().now_secs()
    }
}

/// One request being served.
pub(crate) struct Ctx<'a> {
    pub(crate) svc: &'a IamService,
    pub(crate) caller: &'a Principal,
    pub(crate) params: &'a Params,
    pub(crate) action: &'a str,
}

impl Ctx<'_> {
    /// Refuses the request unless the caller may run this action on `resource`.
    pub(crate) fn authorize(&self, resource: &str) -> Result<(), IamError> {
        self.svc
            .gate
            .check(self.caller, &format!("iam:{}", self.action), resource)
            .map_err(IamError::AccessDenied)
    }

    /// `arn:aws:iam::<account>:<kind><path><name>`.
    pub(crate) fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.svc.account())
    }

    /// The user a request is about: `UserName`, else the caller's own user (root: `None`).
    pub(crate) fn user_or_caller(&self) -> Result<Option<String>, IamError> {
        if let Some(name) = self.params.name_opt("UserName", &users::USER_NAME)? {
            return Ok(Some(name.to_owned()));
        }
        match &self.caller.kind {
            PrincipalKind::Root => Ok(None),
            PrincipalKind::User { user_name, .. } => Ok(Some(user_name.clone())),
            PrincipalKind::AssumedRole { .. } | PrincipalKind::Service { .. } => Err(
                IamError::constraint("userName", None, "Member must not be null"),
            ),
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.svc.now()
    }

    /// Changes the store (see [`IdentityStore::mutate`]).
    pub(crate) fn change<T>(
        &self,
        f: impl FnOnce(&mut crate::store_model::IdentityState) -> Result<T, IamError>,
    ) -> Result<T, IamError> {
        self.svc.store.mutate(f)
    }

    pub(crate) fn identity_policy(&self, text: &str) -> Result<(), IamError> {
        if text.len() > 131_072 {
            return Err(IamError::constraint(
                "policyDocument",
                None,
                "Member must have length less than or equal to 131072",
            ));
        }
        self.svc
            .policies
            .identity_policy(text)
            .map_err(IamError::MalformedPolicyDocument)
    }

    pub(crate) fn trust_policy(&self, text: &str) -> Result<(), IamError> {
        self.svc
            .policies
            .trust_policy(text)
            .map_err(IamError::MalformedPolicyDocument)
    }
}

/// Wraps a result body: `<{action}Result>…</{action}Result>`.
pub(crate) fn result(action: &str, body: impl FnOnce(&mut Xml)) -> String {
    let mut x = Xml::new();
    let name = format!("{action}Result");
    x.open(&name);
    body(&mut x);
    x.close(&name);
    x.finish()
}
