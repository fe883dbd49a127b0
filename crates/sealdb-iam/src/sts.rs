//! STS (Query protocol, version 2011-06-15): GetCallerIdentity, AssumeRole and
//! GetSessionToken. Temporary credentials are sealed session tokens (`sts_token.rs`).

use crate::api::params::{NAME_CHARS, NameRule};
use crate::api::{IamError, IamService, Params, result};
use crate::sts_token::{SessionCredentials, SessionSubject};
use crate::xml::Xml;
use sealdb_common::{Principal, PrincipalKind};

/// Every STS action served.
pub const STS_ACTIONS: &[&str] = &["GetCallerIdentity", "AssumeRole", "GetSessionToken"];

/// `RoleSessionName`: `[\w+=,.@-]*`, 2..=64.
const SESSION_NAME: NameRule = NameRule {
    member: "roleSessionName",
    max: 64,
    extra: NAME_CHARS,
};
/// Shortest session, seconds.
const MIN_DURATION: i64 = 900;
/// AssumeRole's default session, seconds.
const ROLE_DEFAULT_DURATION: i64 = 3600;
/// Role chaining (a role session assuming a role) is limited to one hour.
const CHAINED_MAX_DURATION: i64 = 3600;
/// GetSessionToken: default 12 hours, at most 36 (the root: at most 1 hour).
const SESSION_DEFAULT_DURATION: i64 = 43_200;
const SESSION_MAX_DURATION: i64 = 129_600;
const ROOT_SESSION_MAX_DURATION: i64 = 3600;

impl IamService {
    /// True if `action` is an STS action served here.
    pub fn has_sts_action(action: &str) -> bool {
        STS_ACTIONS.contains(&action)
    }

    /// Runs one STS action; the `…Result` XML.
    pub fn call_sts(
        &self,
        action: &str,
        caller: &Principal,
        params: &Params,
    ) -> Result<String, IamError> {
        match action {
            "GetCallerIdentity" => Ok(caller_identity(caller)),
            "AssumeRole" => self.assume_role(caller, params),
            "GetSessionToken" => self.session_token(caller, params),
            other => Err(IamError::InvalidInput(format!("unknown action {other}"))),
        }
    }

    fn assume_role(&self, caller: &Principal, params: &Params) -> Result<String, IamError> {
        let role_arn = params.required("RoleArn", "roleArn")?;
        let session_name = params.name("RoleSessionName", &SESSION_NAME)?;
        if session_name.len() < 2 {
            return Err(IamError::constraint(
                "roleSessionName",
                Some(session_name),
                "Member must have length greater than or equal to 2",
            ));
        }
        let duration = duration(params)?;
        if caller.is_root() {
            return Err(IamError::AccessDenied(
                "Roles may not be assumed by root accounts.".to_owned(),
            ));
        }
        let denied = || {
            IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            ))
        };
        // arn:aws:iam::<account>:role/<path><name>
        let account = self.store.account_id();
        let role_name = role_arn
            .strip_prefix(&format!("arn:aws:iam::{account}:role/"))
            .and_then(|rest| rest.rsplit('/').next())
            .ok_or_else(denied)?;
        let role = self
            .store
            .read(|s| s.roles.get(role_name).cloned())
            .filter(|r| format!("arn:aws:iam::{account}:role{}{}", r.path, r.name) == role_arn)
            .ok_or_else(denied)?;
        self.gate
            .check_trust(caller, role_arn, &role.trust_policy)
            .map_err(IamError::AccessDenied)?;
        let duration = duration.unwrap_or(ROLE_DEFAULT_DURATION);
        let chained = matches!(caller.kind, PrincipalKind::AssumedRole { .. });
        if chained && duration > CHAINED_MAX_DURATION {
            return Err(IamError::Validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".to_owned(),
            ));
        }
        if duration > role.max_session_duration {
            return Err(IamError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .to_owned(),
            ));
        }
        let now = self.store.clock().now_secs();
        let creds = self.tokens.issue(
            SessionSubject::Role {
                name: role.name.clone(),
                id: role.id.clone(),
                session_name: session_name.to_owned(),
            },
            now,
            now + duration,
        )?;
        Ok(result("AssumeRole", |x| {
            write_credentials(x, &creds);
            x.open("AssumedRoleUser")
                .text("AssumedRoleId", &format!("{}:{session_name}", role.id))
                .text(
                    "Arn",
                    &format!(
                        "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
                        role.name
                    ),
                )
                .close("AssumedRoleUser");
        }))
    }

    fn session_token(&self, caller: &Principal, params: &Params) -> Result<String, IamError> {
        let requested = duration(params)?;
        let (subject, max, default) = match &caller.kind {
            PrincipalKind::Root => (
                SessionSubject::Root,
                ROOT_SESSION_MAX_DURATION,
                ROOT_SESSION_MAX_DURATION,
            ),
            PrincipalKind::User {
                user_name, user_id, ..
            } => (
                SessionSubject::User {
                    name: user_name.clone(),
                    id: user_id.clone(),
                },
                SESSION_MAX_DURATION,
                SESSION_DEFAULT_DURATION,
            ),
            PrincipalKind::AssumedRole { .. } | PrincipalKind::Service { .. } => {
                return Err(IamError::AccessDenied(
                    "Cannot call GetSessionToken with session credentials".to_owned(),
                ));
            }
        };
        if caller.session_token_used {
            return Err(IamError::AccessDenied(
                "Cannot call GetSessionToken with session credentials".to_owned(),
            ));
        }
        let duration = requested.unwrap_or(default).min(max);
        if requested.is_some_and(|d| d > SESSION_MAX_DURATION) {
            return Err(IamError::constraint(
                "durationSeconds",
                requested.map(|d| d.to_string()).as_deref(),
                "Member must have value less than or equal to 129600",
            ));
        }
        let now = self.store.clock().now_secs();
        let creds = self.tokens.issue(subject, now, now + duration)?;
        Ok(result("GetSessionToken", |x| write_credentials(x, &creds)))
    }
}

fn duration(params: &Params) -> Result<Option<i64>, IamError> {
    let d = params.int("DurationSeconds", "durationSeconds")?;
    if let Some(n) = d
        && n < MIN_DURATION
    {
        return Err(IamError::constraint(
            "durationSeconds",
            Some(&n.to_string()),
            "Member must have value greater than or equal to 900",
        ));
    }
    Ok(d)
}

fn write_credentials(x: &mut Xml, c: &SessionCredentials) {
    x.open("Credentials")
        .text("AccessKeyId", &c.access_key_id)
        .text("SecretAccessKey", c.secret.expose())
        .text("SessionToken", &c.session_token)
        .time("Expiration", c.expires)
        .close("Credentials");
}

fn caller_identity(caller: &Principal) -> String {
    result("GetCallerIdentity", |x| {
        x.text("UserId", &caller.user_id())
            .text("Account", &caller.account_id)
            .text("Arn", &caller.arn);
    })
}
