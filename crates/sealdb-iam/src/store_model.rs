//! The records of the identity store: users, access keys, groups, roles, managed
//! policies and their attachments, as they are held in memory and persisted (each record
//! as one versioned row, see `docs/formats.md`, "Identity store").

use sealdb_common::secret::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A tag on a user or role.
pub type Tags = BTreeMap<String, String>;

/// An IAM user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user name (unique, case-insensitively, as in AWS).
    pub name: String,
    /// `AIDA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Tags.
    pub tags: Tags,
    /// Inline policies: name → document text.
    pub inline_policies: BTreeMap<String, String>,
    /// ARNs of attached managed policies.
    pub attached_policies: BTreeSet<String>,
    /// The console password, if any.
    pub login_profile: Option<LoginProfile>,
}

impl UserRecord {
    /// A new user without tags, policies or password.
    pub fn new(name: &str, id: &str, path: &str, created: i64) -> Self {
        UserRecord {
            name: name.to_owned(),
            id: id.to_owned(),
            path: path.to_owned(),
            created,
            tags: Tags::new(),
            inline_policies: BTreeMap::new(),
            attached_policies: BTreeSet::new(),
            login_profile: None,
        }
    }
}

/// A console password, as an Argon2id PHC string (never the password).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginProfile {
    /// `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
    pub password_hash: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Whether the user must choose a new password at next sign-in.
    pub password_reset_required: bool,
}

/// Whether an access key may sign requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    /// Signs requests.
    Active,
    /// Refused as an unknown key.
    Inactive,
}

impl KeyStatus {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// When and where an access key was last used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUsed {
    /// Seconds since the epoch.
    pub at: i64,
    /// The SigV4 service name (`dynamodb`, `iam`, …).
    pub service: String,
    /// The SigV4 region.
    pub region: String,
}

/// A long-term access key (`AKIA…`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    /// `AKIA…` (or an id chosen with `--access-key-id`).
    pub id: String,
    /// The owning user, `None` for the account root.
    pub user_name: Option<String>,
    /// The secret: in memory only; persisted sealed, in its own column.
    #[serde(skip)]
    pub secret: SecretString,
    /// Active or Inactive.
    pub status: KeyStatus,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Last use, if any.
    pub last_used: Option<LastUsed>,
}

/// An IAM group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The group name.
    pub name: String,
    /// `AGPA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Member user names.
    pub members: BTreeSet<String>,
    /// Inline policies: name → document text.
    pub inline_policies: BTreeMap<String, String>,
    /// ARNs of attached managed policies.
    pub attached_policies: BTreeSet<String>,
}

/// An IAM role.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoleRecord {
    /// The role name.
    pub name: String,
    /// `AROA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// The trust policy (who may assume it), as given.
    pub trust_policy: String,
    /// Description, if any.
    pub description: Option<String>,
    /// Longest session, seconds (3600..=43200).
    pub max_session_duration: i64,
    /// Tags.
    pub tags: Tags,
    /// Inline policies: name → document text.
    pub inline_policies: BTreeMap<String, String>,
    /// ARNs of attached managed policies.
    pub attached_policies: BTreeSet<String>,
}

/// One version of a managed policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicyVersionRecord {
    /// The document text, as given.
    pub document: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// A customer managed policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManagedPolicyRecord {
    /// The policy name.
    pub name: String,
    /// `ANPA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Description, if any.
    pub description: Option<String>,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Last change of the default version, seconds since the epoch.
    pub updated: i64,
    /// Versions by number (`v1` is 1); at most five.
    pub versions: BTreeMap<u32, PolicyVersionRecord>,
    /// The default version's number.
    pub default_version: u32,
    /// The number the next version gets (versions are never renumbered).
    pub next_version: u32,
}

/// Everything the store holds, keyed as AWS looks entities up.
#[derive(Clone, Debug, Default)]
pub struct IdentityState {
    /// Users by name.
    pub users: BTreeMap<String, UserRecord>,
    /// Access keys by id.
    pub access_keys: BTreeMap<String, AccessKeyRecord>,
    /// Groups by name.
    pub groups: BTreeMap<String, GroupRecord>,
    /// Roles by name.
    pub roles: BTreeMap<String, RoleRecord>,
    /// Managed policies by ARN.
    pub policies: BTreeMap<String, ManagedPolicyRecord>,
}

impl IdentityState {
    /// The user named `name`, compared case-insensitively as IAM does.
    pub fn user(&self, name: &str) -> Option<&UserRecord> {
        self.users.get(name).or_else(|| {
            self.users
                .values()
                .find(|u| u.name.eq_ignore_ascii_case(name))
        })
    }

    /// The role named `name`, compared case-insensitively as IAM does.
    pub fn role(&self, name: &str) -> Option<&RoleRecord> {
        self.roles.get(name).or_else(|| {
            self.roles
                .values()
                .find(|r| r.name.eq_ignore_ascii_case(name))
        })
    }

    /// The group named `name`, compared case-insensitively as IAM does.
    pub fn group(&self, name: &str) -> Option<&GroupRecord> {
        self.groups.get(name).or_else(|| {
            self.groups
                .values()
                .find(|g| g.name.eq_ignore_ascii_case(name))
        })
    }

    /// How many users, groups and roles a managed policy is attached to.
    pub fn attachment_count(&self, policy_arn: &str) -> usize {
        self.users
            .values()
            .filter(|u| u.attached_policies.contains(policy_arn))
            .count()
            + self
                .groups
                .values()
                .filter(|g| g.attached_policies.contains(policy_arn))
                .count()
            + self
                .roles
                .values()
                .filter(|r| r.attached_policies.contains(policy_arn))
                .count()
    }
}
