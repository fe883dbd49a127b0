//! The identity store as the binary uses it: opening it (with the one-time migration of
//! the catalog's credentials), the admin credential, the front door's credential lookup,
//! and `sealdb credentials`.

use bytes::Bytes;
use sealdb_common::Principal;
use sealdb_common::secret::SecretString;
use sealdb_common::{Clock, RootKey};
use sealdb_http::{
    Backend, BoxFuture, CredentialLookup, CredentialRejection, ResolvedCredential, WireError,
};
use sealdb_iam::{IamService, IdentityStore, Params, Rejection, SessionTokens};
use sealdb_storage::Engine;
use std::path::Path;
use std::sync::Arc;

/// Meta step recording that the catalog's credentials were moved into `iam.db`.
const CATALOG_MIGRATION: &str = "migrated-catalog-credentials-v1";

/// Catalog mark (`meta` row) recording that `iam.db` was made: from then on a missing
/// `iam.db` is refused, never made anew. DO NOT CHANGE.
pub(crate) const IDENTITY_STORE_MADE: &str = "identity-store-made-v1";

/// Opens `iam.db`; on the first start of a data dir made before it existed, moves the
/// catalog's credentials into it (the admin key becomes a key of the account root, named
/// keys become users with their keys), then removes them from the catalog.
pub(crate) fn open_store(
    data_dir: &Path,
    root: &RootKey,
    account_id: &str,
    clock: Clock,
    engine: &Engine,
) -> Result<Arc<IdentityStore>, String> {
    let path = data_dir.join("iam.db");
    let recorded = engine
        .marked(IDENTITY_STORE_MADE)
        .map_err(|e| e.to_string())?;
    if recorded && !path.exists() {
        // Never an empty store in its place: that would mint a new admin key and drop
        // every user, policy and Deny (as a missing table file is corruption, not empty).
        return Err(format!(
            "the identity store {} is missing, but the catalog of {} records that it was \
             made: its users, keys and policies would be lost, so the server does not start \
             and nothing was changed. Restore iam.db from a copy",
            path.display(),
            data_dir.display()
        ));
    }
    let store = IdentityStore::open(data_dir, root, account_id, clock).map_err(|e| {
        // Fails closed: serving without some identities could drop a Deny.
        format!(
            "{e}: the identity store {} cannot be read; nothing was changed and the server does \
             not start without it. `sealdb verify` names every fault; restore iam.db from \
             a copy",
            path.display()
        )
    })?;
    if !recorded {
        // The new file's directory entry is durable before the mark that relies on it.
        std::fs::File::open(data_dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", data_dir.display()))?;
        // Only now that iam.db exists (a start that stops before leaves no mark, and the
        // next start makes the store again); data dirs made before the mark get it here.
        engine
            .mark(IDENTITY_STORE_MADE)
            .map_err(|e| e.to_string())?;
    }
    let legacy = engine.credentials();
    if !store.done(CATALOG_MIGRATION).map_err(|e| e.to_string())? {
        for c in &legacy {
            store
                .import_key(&c.access_key_id, c.secret.clone(), c.user_name.as_deref())
                .map_err(|e| e.to_string())?;
        }
        store
            .mark_done(CATALOG_MIGRATION)
            .map_err(|e| e.to_string())?;
    }
    // Only once they are safely in the identity store (also finishes an interrupted run).
    for c in &legacy {
        engine
            .delete_credential(&c.access_key_id)
            .map_err(|e| e.to_string())?;
    }
    Ok(Arc::new(store))
}

/// The admin credential: the root key given by flags/env (added or its secret replaced),
/// else one generated on the first start. Returns a newly generated one, to print once.
pub(crate) fn ensure_admin(
    store: &IdentityStore,
    fixed: Option<(&str, &str)>,
) -> Result<Option<(String, SecretString)>, String> {
    if let Some((id, secret)) = fixed {
        let same = store
            .active_key(id)
            .is_some_and(|(s, user)| user.is_none() && s.expose() == secret);
        if !same {
            store
                .put_root_key(id, SecretString::new(secret.to_owned()))
                .map_err(|e| e.to_string())?;
        }
        return Ok(None);
    }
    let has_root_key = store.read(|s| s.access_keys.values().any(|k| k.user_name.is_none()));
    if has_root_key {
        return Ok(None);
    }
    let (id, secret) = sealdb_iam::new_long_term_key().map_err(|e| e.to_string())?;
    store
        .put_root_key(&id, secret.clone())
        .map_err(|e| e.to_string())?;
    Ok(Some((id, secret)))
}

/// The front door's view of the identity store and session tokens.
pub(crate) struct StoreCredentials {
    pub(crate) store: Arc<IdentityStore>,
    pub(crate) tokens: Arc<SessionTokens>,
}

impl CredentialLookup for StoreCredentials {
    fn resolve(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<ResolvedCredential, CredentialRejection> {
        self.tokens
            .resolve(&self.store, access_key_id, session_token)
            .map(|(secret, identity, session_created)| ResolvedCredential {
                secret,
                identity,
                session_created,
            })
            .map_err(|r| match r {
                Rejection::Invalid => CredentialRejection::Invalid,
                Rejection::Expired => CredentialRejection::Expired,
            })
    }

    fn record_use(&self, access_key_id: &str, service: &str, region: &str) {
        self.store.record_use(access_key_id, service, region);
    }
}

/// `sealdb credentials create`: a new key for `user_name` (the user is created if needed).
pub(crate) fn create(
    store: &IdentityStore,
    user_name: &str,
) -> Result<(String, SecretString), String> {
    if user_name.is_empty()
        || user_name.len() > 64
        || !user_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err("user names are 1 to 64 letters, digits and +=,.@_- only".into());
    }
    let owner_keys = store.read(|s| {
        let name = s.user(user_name).map(|u| u.name.clone());
        s.access_keys
            .values()
            .filter(|k| k.user_name.is_some() && k.user_name == name)
            .count()
    });
    if owner_keys >= sealdb_iam::ACCESS_KEYS_PER_USER {
        return Err(format!(
            "user {user_name} already has {owner_keys} access keys (the most AWS allows); delete one first"
        ));
    }
    let (id, secret) = sealdb_iam::new_long_term_key().map_err(|e| e.to_string())?;
    store
        .import_key(&id, secret.clone(), Some(user_name))
        .map_err(|e| e.to_string())?;
    Ok((id, secret))
}

/// `sealdb credentials list`: key id, status and owner, sorted by key id.
pub(crate) fn list(store: &IdentityStore) -> Vec<String> {
    store.read(|s| {
        s.access_keys
            .values()
            .map(|k| {
                format!(
                    "{}\t{}\t{}",
                    k.id,
                    k.status.as_str(),
                    k.user_name.as_deref().unwrap_or("(admin: account root)")
                )
            })
            .collect()
    })
}

/// `sealdb credentials delete`: true if the key existed.
pub(crate) fn delete(store: &IdentityStore, access_key_id: &str) -> Result<bool, String> {
    store
        .mutate(|s| Ok::<_, sealdb_iam::StoreError>(s.access_keys.remove(access_key_id).is_some()))
        .map_err(|e| e.to_string())
}

/// IAM or STS as a front-door backend. The store's SQLite work (and Argon2id hashing)
/// runs on a blocking thread, off the async workers.
pub(crate) struct QueryBackend {
    pub(crate) service: Arc<IamService>,
    pub(crate) sts: bool,
    /// The regions whose audit logs record the IAM and STS calls (CloudTrail's
    /// management events): IAM's in us-east-1, STS's in the region called.
    pub(crate) regions: Arc<crate::regions::Regions>,
}

/// Request members never written to the audit log: passwords (CloudTrail omits them)
/// and one-time MFA codes.
const SECRET_MEMBERS: [&str; 4] = ["Password", "NewPassword", "OldPassword", "TokenCode"];

/// The audit event of one IAM or STS call: the top-level request members (lowerCamel, as
/// CloudTrail writes them; no passwords), the response elements CloudTrail records for
/// the create calls, AssumeRole and GetSessionToken (without secret keys or session
/// tokens, see `sealdb_iam::response_elements`), and the error of a failed or denied call.
fn query_event(
    sts: bool,
    operation: &str,
    caller: &Principal,
    form: &[(String, String)],
    outcome: Result<&str, (&str, &str)>,
) -> sealdb_kms::AuditEvent {
    let source = if sts {
        "sts.amazonaws.com"
    } else {
        "iam.amazonaws.com"
    };
    let read_only = ["Get", "List", "Simulate"]
        .iter()
        .any(|p| operation.starts_with(p));
    let members: serde_json::Map<String, serde_json::Value> = form
        .iter()
        .filter(|(k, _)| {
            k != "Action"
                && k != "Version"
                && !k.contains('.')
                && !SECRET_MEMBERS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let mut event = sealdb_kms::AuditEvent::new(source, operation, read_only, caller)
        .with_parameters(&sealdb_kms::cloudtrail_members(&serde_json::Value::Object(
            members,
        )));
    match outcome {
        Ok(result_xml) => {
            if let Some(elements) = sealdb_iam::response_elements(operation, result_xml) {
                event = event.with_response(&elements);
            }
        }
        Err((code, message)) => event = event.with_error(code, message),
    }
    event
}

impl Backend for QueryBackend {
    fn has_operation(&self, operation: &str) -> bool {
        if self.sts {
            IamService::has_sts_action(operation)
        } else {
            IamService::has_iam_action(operation)
        }
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        caller: &'a Principal,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Vec<u8>, WireError>> {
        let service = Arc::clone(&self.service);
        let sts = self.sts;
        let operation = operation.to_owned();
        let caller = caller.clone();
        let form = sealdb_http::query::parse_form(&body);
        Box::pin(async move {
            let run = {
                let (operation, caller, form) = (operation.clone(), caller.clone(), form.clone());
                move || {
                    let params = Params::new(form);
                    if sts {
                        service.call_sts(&operation, &caller, &params)
                    } else {
                        service.call_iam(&operation, &caller, &params)
                    }
                }
            };
            let answer = match tokio::task::spawn_blocking(run).await {
                Ok(Ok(xml)) => Ok(xml),
                Ok(Err(e)) => Err(WireError::new(e.code(), e.status(), e.message())),
                Err(_) => Err(WireError::new(
                    "ServiceFailure",
                    500,
                    sealdb_iam::IamError::ServiceFailure.message(),
                )),
            };
            let outcome = match &answer {
                Ok(xml) => Ok(xml.as_str()),
                Err(e) => Err((e.type_name.as_str(), e.message.as_str())),
            };
            let event = query_event(sts, &operation, &caller, &form, outcome);
            let audit_region = self.regions.audit_region(&caller.region);
            match self.regions.services(audit_region).await {
                Ok(r) => {
                    if let Err(e) = r.kms.record(event).await {
                        tracing::error!(error = ?e, "recording an IAM/STS event failed");
                    }
                }
                Err(e) => tracing::error!(error = %e, "no audit log for an IAM/STS event"),
            }
            answer.map(String::into_bytes)
        })
    }
}
