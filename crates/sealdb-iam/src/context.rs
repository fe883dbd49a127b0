//! The request as policies see it: who asks ([`EvalPrincipal`]), for what action on which
//! resource, and the condition keys of the request ([`ConditionKeys`]).

use std::collections::BTreeMap;

use sealdb_common::{Principal, PrincipalKind};

/// `aws:PrincipalType` as AWS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalType {
    /// The account root.
    Account,
    /// An IAM user.
    User,
    /// A role session (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`).
    AssumedRole,
    /// A federated user session (`GetFederationToken`).
    FederatedUser,
    /// An AWS service principal acting on its own behalf (`dynamodb.amazonaws.com`).
    Service,
    /// An unsigned request.
    Anonymous,
}

impl PrincipalType {
    /// The value of `aws:PrincipalType`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Account => "Account",
            PrincipalType::User => "User",
            PrincipalType::AssumedRole => "AssumedRole",
            PrincipalType::FederatedUser => "FederatedUser",
            PrincipalType::Service => "Service",
            PrincipalType::Anonymous => "Anonymous",
        }
    }
}

/// Who is asking, as policies see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalPrincipal {
    /// The caller's ARN (`aws:PrincipalArn` is the role's ARN for a role session).
    pub arn: String,
    /// The 12-digit account the caller belongs to.
    pub account_id: String,
    /// `aws:userid`: the account id for the root, the `AIDA…` id for a user,
    /// `AROA…:session` for a role session.
    pub user_id: String,
    /// `aws:username`: present for IAM users only.
    pub username: Option<String>,
    pub principal_type: PrincipalType,
    /// For a role session, the role's own ARN (`arn:aws:iam::ACCT:role/NAME`): a policy
    /// naming the role as Principal matches its sessions.
    pub role_arn: Option<String>,
    /// `aws:PrincipalTag/*`.
    pub tags: BTreeMap<String, String>,
    /// For a service principal, its name (`dynamodb.amazonaws.com`).
    pub service: Option<String>,
}

impl EvalPrincipal {
    /// The account root of `account_id`.
    pub fn account_root(account_id: &str) -> Self {
        EvalPrincipal {
            arn: format!("arn:aws:iam::{account_id}:root"),
            account_id: account_id.to_owned(),
            user_id: account_id.to_owned(),
            username: None,
            principal_type: PrincipalType::Account,
            role_arn: None,
            tags: BTreeMap::new(),
            service: None,
        }
    }

    /// The policy view of an authenticated caller, from its kind, so that a caller that is
    /// neither the root nor a user is never mistaken for either.
    pub fn from_principal(principal: &Principal) -> Self {
        let principal_type = match &principal.kind {
            PrincipalKind::Root => return EvalPrincipal::account_root(&principal.account_id),
            PrincipalKind::Service { name } => return EvalPrincipal::service(name),
            PrincipalKind::User { .. } => PrincipalType::User,
            PrincipalKind::AssumedRole { .. } => PrincipalType::AssumedRole,
        };
        EvalPrincipal {
            arn: principal.arn.clone(),
            account_id: principal.account_id.clone(),
            user_id: principal.user_id(),
            username: principal.user_name.clone(),
            principal_type,
            role_arn: principal.role_arn(),
            tags: principal.tags.clone(),
            service: None,
        }
    }

    /// An AWS service principal (`dynamodb.amazonaws.com`) acting for itself.
    pub fn service(service: &str) -> Self {
        EvalPrincipal {
            arn: service.to_owned(),
            account_id: String::new(),
            user_id: service.to_owned(),
            username: None,
            principal_type: PrincipalType::Service,
            role_arn: None,
            tags: BTreeMap::new(),
            service: Some(service.to_owned()),
        }
    }

    /// True for the account root, which identity policies do not bind.
    pub fn is_account_root(&self) -> bool {
        self.principal_type == PrincipalType::Account
    }

    /// `aws:PrincipalArn`: the role's ARN for a role session, else the caller's ARN.
    pub fn principal_arn(&self) -> &str {
        self.role_arn.as_deref().unwrap_or(&self.arn)
    }
}

/// The value of one condition key in a request: single-valued, or a set
/// (`aws:TagKeys`, `dynamodb:Attributes`, `dynamodb:LeadingKeys`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextValue {
    Single(String),
    Set(Vec<String>),
}

impl ContextValue {
    /// The request's values of the key, one or many.
    pub fn values(&self) -> &[String] {
        match self {
            ContextValue::Single(v) => std::slice::from_ref(v),
            ContextValue::Set(vs) => vs,
        }
    }
}

/// Condition keys of a request. Key names are case-insensitive (as in AWS); values are not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConditionKeys {
    keys: BTreeMap<String, ContextValue>,
}

impl ConditionKeys {
    pub fn new() -> Self {
        ConditionKeys::default()
    }

    /// Sets a single-valued key (replacing any earlier value).
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.keys
            .insert(key.to_ascii_lowercase(), ContextValue::Single(value.into()));
        self
    }

    /// Sets a multivalued key (replacing any earlier value).
    pub fn set_multi<I, S>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values = values.into_iter().map(Into::into).collect();
        self.keys
            .insert(key.to_ascii_lowercase(), ContextValue::Set(values));
        self
    }

    /// Sets `key` only when the request has not set it already.
    pub fn set_default(&mut self, key: &str, value: impl Into<String>) {
        self.keys
            .entry(key.to_ascii_lowercase())
            .or_insert_with(|| ContextValue::Single(value.into()));
    }

    /// The value of `key` (case-insensitive), if the request has it.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.keys.get(&key.to_ascii_lowercase())
    }

    /// The value of a single-valued key (a set has no single value).
    pub fn get_single(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            ContextValue::Single(v) => Some(v),
            ContextValue::Set(_) => None,
        }
    }

    /// The keys and values, in lowercase key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.keys.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// One authorization question: may the caller perform `action` on `resource`, given `keys`?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// `service:Action`, e.g. `dynamodb:PutItem`.
    pub action: String,
    /// The resource ARN, e.g. `arn:aws:dynamodb:us-east-1:123456789012:table/Music`, or `*`.
    pub resource: String,
    /// Request condition keys the service knows (`dynamodb:LeadingKeys`, `aws:RequestTag/x`, …).
    /// The principal's keys (`aws:username`, `aws:PrincipalTag/x`, …) and the clock's are
    /// added by the [`crate::Authorizer`].
    pub keys: ConditionKeys,
}

impl RequestContext {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            keys: ConditionKeys::new(),
        }
    }

    /// Adds the principal's global keys, unless the service set them already.
    pub fn add_principal_keys(&mut self, principal: &EvalPrincipal) {
        let keys = &mut self.keys;
        keys.set_default("aws:PrincipalArn", principal.principal_arn());
        keys.set_default("aws:PrincipalAccount", principal.account_id.clone());
        keys.set_default("aws:PrincipalType", principal.principal_type.as_str());
        keys.set_default("aws:userid", principal.user_id.clone());
        if let Some(name) = &principal.username {
            keys.set_default("aws:username", name.clone());
        }
        for (tag, value) in &principal.tags {
            keys.set_default(&format!("aws:PrincipalTag/{tag}"), value.clone());
        }
        if principal.principal_type == PrincipalType::Service {
            if let Some(service) = &principal.service {
                keys.set_default("aws:PrincipalServiceName", service.clone());
            }
        }
        keys.set_default("aws:MultiFactorAuthPresent", "false");
    }

    /// Adds `aws:CurrentTime` (ISO 8601) and `aws:EpochTime` from `epoch_secs`.
    pub fn add_time_keys(&mut self, epoch_secs: i64) {
        // Written by hand so the `time` crate's formatting feature (and a rebuild of
        // every crate that shares `time`) is not needed for one format.
        if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(epoch_secs) {
            let current = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            self.keys.set_default("aws:CurrentTime", current);
        }
        self.keys
            .set_default("aws:EpochTime", epoch_secs.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_case_insensitive_values_are_not() {
        let mut keys = ConditionKeys::new();
        keys.set("aws:SourceIp", "10.0.0.1");
        assert_eq!(keys.get_single("AWS:SOURCEIP"), Some("10.0.0.1"));
        assert_eq!(keys.get_single("aws:sourceip"), Some("10.0.0.1"));
        keys.set_multi("dynamodb:Attributes", ["a", "B"]);
        assert_eq!(keys.get_single("dynamodb:attributes"), None);
        assert_eq!(
            keys.get("dynamodb:attributes").map(ContextValue::values),
            Some(&["a".to_owned(), "B".to_owned()][..])
        );
    }

    #[test]
    fn principal_keys_do_not_override_what_the_service_set() {
        let mut req = RequestContext::new("dynamodb:GetItem", "*");
        req.keys.set("aws:username", "from-service");
        let mut p = EvalPrincipal::account_root("123456789012");
        p.username = Some("alice".into());
        req.add_principal_keys(&p);
        assert_eq!(req.keys.get_single("aws:username"), Some("from-service"));
        assert_eq!(req.keys.get_single("aws:PrincipalType"), Some("Account"));
        assert_eq!(req.keys.get_single("aws:userid"), Some("123456789012"));
    }

    #[test]
    fn callers_are_read_from_their_arns() {
        let root = Principal::root("AKIAROOT", "123456789012", "us-east-1", "10.0.0.1");
        assert!(EvalPrincipal::from_principal(&root).is_account_root());
        let user = Principal::user(
            "AKIAU",
            "123456789012",
            "alice",
            "AIDAALICE",
            "us-east-1",
            "10.0.0.1",
        );
        let p = EvalPrincipal::from_principal(&user);
        assert_eq!(p.principal_type, PrincipalType::User);
        assert_eq!(p.username.as_deref(), Some("alice"));
        assert_eq!(p.user_id, "AIDAALICE");
        // A role session without a user name is a session, never the root.
        let session = Principal::new(
            sealdb_common::Identity {
                kind: PrincipalKind::AssumedRole {
                    role_name: "Reader".into(),
                    role_id: "AROAREADER".into(),
                    role_path: "/".into(),
                    session_name: "job-1".into(),
                },
                tags: BTreeMap::new(),
            },
            "ASIAX",
            "123456789012",
            "us-east-1",
            "10.0.0.1",
        );
        let p = EvalPrincipal::from_principal(&session);
        assert_eq!(p.principal_type, PrincipalType::AssumedRole);
        assert!(!p.is_account_root());
        assert_eq!(
            p.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/Reader")
        );
        assert_eq!(p.principal_arn(), "arn:aws:iam::123456789012:role/Reader");
        assert_eq!(p.user_id, "AROAREADER:job-1");
        assert_eq!(p.username, None);
        let service = Principal::service(
            "dynamodb.us-east-1.amazonaws.com",
            "123456789012",
            "us-east-1",
        );
        let p = EvalPrincipal::from_principal(&service);
        assert_eq!(p.principal_type, PrincipalType::Service);
        assert!(!p.is_account_root());
    }

    #[test]
    fn time_keys_are_iso8601_and_epoch() {
        let mut req = RequestContext::new("dynamodb:GetItem", "*");
        req.add_time_keys(1_700_000_000);
        assert_eq!(req.keys.get_single("aws:EpochTime"), Some("1700000000"));
        assert_eq!(
            req.keys.get_single("aws:CurrentTime"),
            Some("2023-11-14T22:13:20Z")
        );
    }
}
