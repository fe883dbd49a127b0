//! The identity store as the policy engine sees it: the identity policies of a caller
//! (a user's inline and attached policies and its groups', or a role session's role), the
//! validation of documents before they are stored, and the gate IAM and STS ask.

use crate::api::{ActionGate, PolicyValidator};
use crate::store::IdentityStore;
use crate::store_model::IdentityState;
use crate::{Authorizer, IdentityPolicies, PolicyDocument, PolicyKind, RequestContext};
use sealdb_common::{Principal, PrincipalKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Parsed documents are kept by their text; past this many the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// The identity policies of callers, read from the store on every request (so a change
/// applies to the next request), parsed once per distinct document.
pub struct StorePolicies {
    store: Arc<IdentityStore>,
    parsed: Mutex<HashMap<String, Arc<PolicyDocument>>>,
}

impl StorePolicies {
    /// Over `store`.
    pub fn new(store: Arc<IdentityStore>) -> Self {
        StorePolicies {
            store,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    fn parse(&self, text: &str) -> Option<Arc<PolicyDocument>> {
        let mut cache = self
            .parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(doc) = cache.get(text) {
            return Some(Arc::clone(doc));
        }
        // Stored documents were validated when stored; one that no longer parses (an
        // older engine accepted it) grants nothing rather than failing the request.
        let doc = Arc::new(PolicyDocument::parse_as(text, PolicyKind::Identity).ok()?);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(text.to_owned(), Arc::clone(&doc));
        Some(doc)
    }
}

/// The texts of the identity policies that bind `principal`.
pub fn policy_texts(state: &IdentityState, principal: &Principal) -> Vec<String> {
    let managed = |arns: &std::collections::BTreeSet<String>| -> Vec<String> {
        arns.iter()
            .filter_map(|arn| {
                let p = state.policies.get(arn)?;
                p.versions
                    .get(&p.default_version)
                    .map(|v| v.document.clone())
            })
            .collect()
    };
    let mut out = Vec::new();
    match &principal.kind {
        PrincipalKind::User {
            user_name, user_id, ..
        } => {
            let Some(user) = state.users.get(user_name).filter(|u| &u.id == user_id) else {
                return out;
            };
            out.extend(user.inline_policies.values().cloned());
            out.extend(managed(&user.attached_policies));
            for g in state
                .groups
                .values()
                .filter(|g| g.members.contains(user_name))
            {
                out.extend(g.inline_policies.values().cloned());
                out.extend(managed(&g.attached_policies));
            }
        }
        PrincipalKind::AssumedRole {
            role_name, role_id, ..
        } => {
            let Some(role) = state.roles.get(role_name).filter(|r| &r.id == role_id) else {
                return out;
            };
            out.extend(role.inline_policies.values().cloned());
            out.extend(managed(&role.attached_policies));
        }
        PrincipalKind::Root | PrincipalKind::Service { .. } => {}
    }
    out
}

impl IdentityPolicies for StorePolicies {
    fn policies_for(&self, principal: &Principal) -> Vec<Arc<PolicyDocument>> {
        let texts = self.store.read(|s| policy_texts(s, principal));
        texts.iter().filter_map(|t| self.parse(t)).collect()
    }
}

/// Documents are checked by the engine that will evaluate them.
pub struct EnginePolicies;

impl PolicyValidator for EnginePolicies {
    fn identity_policy(&self, text: &str) -> Result<(), String> {
        PolicyDocument::parse_as(text, PolicyKind::Identity)
            .map(|_| ())
            .map_err(|e| e.message().to_owned())
    }

    fn trust_policy(&self, text: &str) -> Result<(), String> {
        PolicyDocument::parse_as(text, PolicyKind::Trust)
            .map(|_| ())
            .map_err(|e| e.message().to_owned())
    }
}

/// IAM and STS actions asked of the engine, like every other service's.
pub struct EngineGate(pub Authorizer);

impl ActionGate for EngineGate {
    fn check(&self, caller: &Principal, action: &str, resource: &str) -> Result<(), String> {
        self.0
            .authorize(caller, &RequestContext::new(action, resource), None)
            .map_err(|e| e.message().to_owned())
    }

    fn check_trust(
        &self,
        caller: &Principal,
        role_arn: &str,
        trust_policy: &str,
    ) -> Result<(), String> {
        let denied = || {
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            )
        };
        let trust =
            PolicyDocument::parse_as(trust_policy, PolicyKind::Trust).map_err(|_| denied())?;
        self.0
            .authorize(
                caller,
                &RequestContext::new("sts:AssumeRole", role_arn),
                Some(&trust),
            )
            .map_err(|_| denied())
    }
}
