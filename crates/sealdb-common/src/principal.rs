//! The authenticated caller of a request.
//!
//! The credential store answers an [`Identity`] for an access key (who owns it); the front
//! door adds what it learned from the request itself (region, source address, TLS, whether
//! a session token was presented) and hands the services a [`Principal`].

use std::collections::BTreeMap;

/// What kind of principal signed the request, with the ids policies see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account root (`arn:aws:iam::<account>:root`); `aws:userid` is the account id.
    Root,
    /// An IAM user; `aws:userid` is its unique id (`AIDA…`).
    User {
        /// The user name.
        user_name: String,
        /// The user's unique id (`AIDA…`).
        user_id: String,
        /// The user's path (`/` by default).
        path: String,
    },
    /// A session of an assumed role; `aws:userid` is `<role id>:<session name>`.
    AssumedRole {
        /// The role name.
        role_name: String,
        /// The role's unique id (`AROA…`).
        role_id: String,
        /// The role's path (`/` by default).
        role_path: String,
        /// The session name given to AssumeRole.
        session_name: String,
    },
    /// An AWS service acting under its grants (e.g. `dynamodb.us-east-1.amazonaws.com`
    /// using a table's KMS key).
    Service {
        /// The service principal name; also the `arn` and `aws:userid`.
        name: String,
    },
}

/// Who owns a credential, as the credential store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The kind of principal and its ids.
    pub kind: PrincipalKind,
    /// Principal tags (`aws:PrincipalTag/<key>`): the user's or role's tags, with session
    /// tags on top.
    pub tags: BTreeMap<String, String>,
}

impl Identity {
    /// The account root.
    pub fn root() -> Self {
        Identity {
            kind: PrincipalKind::Root,
            tags: BTreeMap::new(),
        }
    }

    /// An IAM user at path `/`, without tags.
    pub fn user(user_name: &str, user_id: &str) -> Self {
        Identity {
            kind: PrincipalKind::User {
                user_name: user_name.to_owned(),
                user_id: user_id.to_owned(),
                path: "/".to_owned(),
            },
            tags: BTreeMap::new(),
        }
    }

    /// The principal ARN in `account_id`.
    pub fn arn(&self, account_id: &str) -> String {
        match &self.kind {
            PrincipalKind::Root => format!("arn:aws:iam::{account_id}:root"),
            PrincipalKind::User {
                user_name, path, ..
            } => format!("arn:aws:iam::{account_id}:user{path}{user_name}"),
            PrincipalKind::AssumedRole {
                role_name,
                session_name,
                ..
            } => format!("arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}"),
            PrincipalKind::Service { name } => name.clone(),
        }
    }
}

/// Who made a request, as established by SigV4 verification in the front door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The access key id the request was signed with (not secret).
    pub access_key_id: String,
    /// `arn:aws:iam::<account>:root`, `arn:aws:iam::<account>:user/<path><name>` or
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// The 12-digit account id of this server.
    pub account_id: String,
    /// The IAM user name; `None` for the account root and for role sessions.
    pub user_name: Option<String>,
    /// The kind of principal and its ids.
    pub kind: PrincipalKind,
    /// Principal tags (`aws:PrincipalTag/<key>`).
    pub tags: BTreeMap<String, String>,
    /// Whether the request carried a session token (temporary credentials).
    pub session_token_used: bool,
    /// The region of the request (its SigV4 credential scope; for a service's own
    /// calls, the region it works in).
    pub region: String,
    /// The caller's address as seen by the listener (`aws:SourceIp`, audit records).
    pub source_ip: String,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The request's User-Agent (CloudTrail's `userAgent`), when it sent one.
    pub user_agent: Option<String>,
    /// When the session of temporary credentials began (epoch seconds; CloudTrail's
    /// `sessionContext.attributes.creationDate`).
    pub session_created: Option<i64>,
}

impl Principal {
    /// The caller with `identity`, signing with `access_key_id`, in this server's account.
    pub fn new(
        identity: Identity,
        access_key_id: &str,
        account_id: &str,
        region: &str,
        source_ip: &str,
    ) -> Self {
        let user_name = match &identity.kind {
            PrincipalKind::User { user_name, .. } => Some(user_name.clone()),
            PrincipalKind::Root
            | PrincipalKind::AssumedRole { .. }
            | PrincipalKind::Service { .. } => None,
        };
        Principal {
            access_key_id: access_key_id.to_owned(),
            arn: identity.arn(account_id),
            account_id: account_id.to_owned(),
            user_name,
            kind: identity.kind,
            tags: identity.tags,
            session_token_used: false,
            region: region.to_owned(),
            source_ip: source_ip.to_owned(),
            secure_transport: false,
            user_agent: None,
            session_created: None,
        }
    }

    /// The account root principal.
    pub fn root(access_key_id: &str, account_id: &str, region: &str, source_ip: &str) -> Self {
        Principal::new(
            Identity::root(),
            access_key_id,
            account_id,
            region,
            source_ip,
        )
    }

    /// An IAM user of the account at path `/`, without tags.
    pub fn user(
        access_key_id: &str,
        account_id: &str,
        user_name: &str,
        user_id: &str,
        region: &str,
        source_ip: &str,
    ) -> Self {
        Principal::new(
            Identity::user(user_name, user_id),
            access_key_id,
            account_id,
            region,
            source_ip,
        )
    }

    /// An AWS service principal (`name`, e.g. `dynamodb.us-east-1.amazonaws.com`).
    pub fn service(name: &str, account_id: &str, region: &str) -> Self {
        let mut p = Principal::new(
            Identity {
                kind: PrincipalKind::Service {
                    name: name.to_owned(),
                },
                tags: BTreeMap::new(),
            },
            "",
            account_id,
            region,
            "",
        );
        p.source_ip = name.to_owned();
        p
    }

    /// True for the account root.
    pub fn is_root(&self) -> bool {
        self.kind == PrincipalKind::Root
    }

    /// `aws:userid`: the account id for the root, `AIDA…` for a user,
    /// `AROA…:<session name>` for a role session.
    pub fn user_id(&self) -> String {
        match &self.kind {
            PrincipalKind::Root => self.account_id.clone(),
            PrincipalKind::User { user_id, .. } => user_id.clone(),
            PrincipalKind::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
            PrincipalKind::Service { name } => name.clone(),
        }
    }

    /// `aws:PrincipalType`: `Account`, `User` or `AssumedRole`.
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Account",
            PrincipalKind::User { .. } => "User",
            PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::Service { .. } => "Service",
        }
    }

    /// CloudTrail's `userIdentity.type`: `Root`, `IAMUser` or `AssumedRole`.
    pub fn cloudtrail_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Root",
            PrincipalKind::User { .. } => "IAMUser",
            PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::Service { .. } => "AWSService",
        }
    }

    /// The ARN of the role behind a role session (`arn:aws:iam::<account>:role/<path><name>`).
    pub fn role_arn(&self) -> Option<String> {
        match &self.kind {
            PrincipalKind::AssumedRole {
                role_name,
                role_path,
                ..
            } => Some(format!(
                "arn:aws:iam::{}:role{role_path}{role_name}",
                self.account_id
            )),
            PrincipalKind::Root | PrincipalKind::User { .. } | PrincipalKind::Service { .. } => {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_arns_follow_aws() {
        let root = Principal::root("AKIAROOT", "123456789012", "us-east-1", "10.0.0.1");
        assert_eq!(root.arn, "arn:aws:iam::123456789012:root");
        assert_eq!(root.user_id(), "123456789012");
        assert_eq!(root.principal_type(), "Account");
        assert!(root.is_root());

        let user = Principal::user(
            "AKIAUSER",
            "123456789012",
            "alice",
            "AIDAEXAMPLE",
            "us-east-1",
            "10.0.0.1",
        );
        assert_eq!(user.arn, "arn:aws:iam::123456789012:user/alice");
        assert_eq!(user.user_id(), "AIDAEXAMPLE");
        assert_eq!(user.user_name.as_deref(), Some("alice"));
        assert!(!user.is_root());

        let session = Principal::new(
            Identity {
                kind: PrincipalKind::AssumedRole {
                    role_name: "reader".into(),
                    role_id: "AROAEXAMPLE".into(),
                    role_path: "/app/".into(),
                    session_name: "s1".into(),
                },
                tags: BTreeMap::new(),
            },
            "ASIAX",
            "123456789012",
            "us-east-1",
            "",
        );
        assert_eq!(
            session.arn,
            "arn:aws:sts::123456789012:assumed-role/reader/s1"
        );
        assert_eq!(session.user_id(), "AROAEXAMPLE:s1");
        assert_eq!(
            session.role_arn().as_deref(),
            Some("arn:aws:iam::123456789012:role/app/reader")
        );
        assert_eq!(session.user_name, None);
        assert_eq!(session.principal_type(), "AssumedRole");
    }
}
