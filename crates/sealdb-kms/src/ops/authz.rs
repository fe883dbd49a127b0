//! Authorization of one call: the key policy (with IAM where it delegates to the
//! account, through the shared engine), then the caller's grants; grant delegation
//! limits; the lockout safety check; identity-only actions.

use super::*;

impl Ctx<'_> {
    /// The key policy's verdict on `kms:<action>` by the caller (IAM included where the
    /// key policy allows the account), with request keys of the operation
    /// (`kms:GrantOperations`, `aws:RequestTag/*`, ...).
    pub(super) fn policy_verdict_with(
        &self,
        key: &KeyRecord,
        action: &str,
        ctx: &BTreeMap<String, String>,
        keys: ConditionKeys,
    ) -> Result<Verdict, KmsError> {
        let Some(doc) = self.policies.get(&key.id, &key.policy) else {
            return Ok(Verdict::NoMatch);
        };
        let request = self.request_context(key, action, ctx, keys)?;
        Ok(policy::verdict(
            self.authorizer,
            self.caller,
            &request,
            &doc,
        ))
    }

    /// The request as policies see it: action, key ARN and the kms:* condition keys.
    pub(super) fn request_context(
        &self,
        key: &KeyRecord,
        action: &str,
        ctx: &BTreeMap<String, String>,
        mut keys: ConditionKeys,
    ) -> Result<RequestContext, KmsError> {
        keys.set("kms:CallerAccount", self.caller.account_id.clone());
        if let Some(via) = &self.via_service {
            keys.set("kms:ViaService", via.clone());
        }
        keys.set(
            "kms:GrantIsForAWSResource",
            self.via_service.is_some().to_string(),
        );
        for (k, v) in ctx {
            keys.set(&format!("kms:EncryptionContext:{k}"), v.clone());
        }
        if !ctx.is_empty() {
            keys.set_multi("kms:EncryptionContextKeys", ctx.keys().cloned());
        }
        keys.set("kms:KeySpec", key.key_spec.as_str());
        keys.set("kms:KeyUsage", key.key_usage.as_str());
        keys.set("kms:KeyOrigin", key.origin.as_str());
        keys.set("kms:MultiRegion", key.multi_region.is_some().to_string());
        if let Some(view) = &key.multi_region {
            let kind = if view.primary_region == self.cfg.region {
                "PRIMARY"
            } else {
                "REPLICA"
            };
            keys.set("kms:MultiRegionKeyType", kind);
        }
        for (k, v) in &key.tags {
            keys.set(&format!("aws:ResourceTag/{k}"), v.clone());
        }
        if let Some(alias) = &self.request_alias {
            keys.set("kms:RequestAlias", alias.clone());
        }
        let aliases: Vec<String> = self
            .store
            .aliases()?
            .into_iter()
            .filter(|a| a.key_id.as_deref() == Some(key.id.as_str()))
            .map(|a| a.name)
            .collect();
        if !aliases.is_empty() {
            keys.set_multi("kms:ResourceAliases", aliases);
        }
        let mut request = RequestContext::new(format!("kms:{action}"), self.key_arn(&key.id));
        request.keys = keys;
        Ok(request)
    }

    /// Who grants are matched against: the service when one acts, else the caller.
    pub(super) fn grantee(&self) -> String {
        self.via_service
            .clone()
            .unwrap_or_else(|| self.caller.arn.clone())
    }

    /// The caller's grants on `key` that include `op`.
    pub(super) fn grants_with(&self, key: &KeyRecord, op: &str) -> Result<Vec<Grant>, KmsError> {
        let grantee = self.grantee();
        Ok(self
            .store
            .grants(Some(&key.id))?
            .into_iter()
            .filter(|g| g.grantee == grantee && g.operations.iter().any(|o| o == op))
            .collect())
    }

    /// Key policy, then grants. `grant_op` is the grant operation that would allow it.
    pub(super) fn authorize(
        &self,
        key: &KeyRecord,
        action: &str,
        grant_op: Option<&str>,
        ctx: &BTreeMap<String, String>,
    ) -> Result<(), KmsError> {
        self.authorize_with(key, action, grant_op, ctx, ConditionKeys::new())
    }

    /// [`Ctx::authorize`] with request keys of the operation (`aws:RequestTag/*`, ...).
    pub(super) fn authorize_with(
        &self,
        key: &KeyRecord,
        action: &str,
        grant_op: Option<&str>,
        ctx: &BTreeMap<String, String>,
        keys: ConditionKeys,
    ) -> Result<(), KmsError> {
        let verdict = self.policy_verdict_with(key, action, ctx, keys)?;
        match verdict {
            Verdict::Deny(_) => return Err(self.denied(key, action, verdict)),
            Verdict::Allow => return Ok(()),
            Verdict::NoMatch | Verdict::NoIdentityAllow => {}
        }
        if let Some(op) = grant_op {
            for g in self.grants_with(key, op)? {
                let subset_ok = g
                    .context_subset
                    .as_ref()
                    .is_none_or(|s| s.iter().all(|(k, v)| ctx.get(k) == Some(v)));
                let equals_ok = g.context_equals.as_ref().is_none_or(|e| e == ctx);
                if subset_ok && equals_ok {
                    return Ok(());
                }
            }
        }
        Err(self.denied(key, action, verdict))
    }

    /// CreateGrant: the key policy, or a grant of the caller's that allows CreateGrant
    /// and covers the new grant (its operations a subset, its constraints at least as
    /// strict), so a grant can never be passed on wider than it is.
    pub(super) fn authorize_create_grant(
        &self,
        key: &KeyRecord,
        child: &GrantShape<'_>,
    ) -> Result<(), KmsError> {
        let ctx = child.subset.cloned().unwrap_or_default();
        let mut keys = ConditionKeys::new();
        keys.set_multi("kms:GrantOperations", child.operations.iter().cloned());
        let verdict = self.policy_verdict_with(key, "CreateGrant", &ctx, keys)?;
        match verdict {
            Verdict::Deny(_) => return Err(self.denied(key, "CreateGrant", verdict)),
            Verdict::Allow => return Ok(()),
            Verdict::NoMatch | Verdict::NoIdentityAllow => {}
        }
        if self
            .grants_with(key, "CreateGrant")?
            .iter()
            .any(|parent| child.is_covered_by(parent))
        {
            return Ok(());
        }
        Err(self.denied(key, "CreateGrant", verdict))
    }

    /// AWS's lockout safety check: a new key policy must let the caller change the policy
    /// again later, unless the request sets `BypassPolicyLockoutSafetyCheck`.
    pub(super) fn lockout_check(
        &self,
        key: &KeyRecord,
        policy: &sealdb_iam::PolicyDocument,
        bypass: Option<bool>,
    ) -> Result<(), KmsError> {
        if bypass == Some(true) {
            return Ok(());
        }
        let request =
            self.request_context(key, "PutKeyPolicy", &BTreeMap::new(), ConditionKeys::new())?;
        if policy::verdict(self.authorizer, self.caller, &request, policy) == Verdict::Allow {
            return Ok(());
        }
        Err(KmsError::MalformedPolicyDocument(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        ))
    }

    /// An action authorized by identity (IAM) policies alone, on no key
    /// (ListRetirableGrants): the caller's identity policies must allow it on `*`.
    pub(super) fn authorize_identity(&self, action: &str) -> Result<(), KmsError> {
        self.authorize_identity_with(action, ConditionKeys::new())
    }

    /// [`Ctx::authorize_identity`] with the request's condition keys (CreateKey's
    /// kms:KeySpec, aws:RequestTag/*, ...). AWS documents none for ListKeys, ListAliases,
    /// ListRetirableGrants and GenerateRandom, so those pass none.
    pub(super) fn authorize_identity_with(
        &self,
        action: &str,
        keys: ConditionKeys,
    ) -> Result<(), KmsError> {
        let mut request = RequestContext::new(format!("kms:{action}"), "*");
        request.keys = keys;
        self.authorizer
            .authorize(self.caller, &request, None)
            .map_err(|denied| KmsError::AccessDenied(denied.message().to_owned()))
    }

    /// AWS's AccessDenied text for `verdict`: the key policy's explicit deny, the key
    /// policy that does not allow the caller, or (where it delegates to the account) no
    /// IAM policy that allows it.
    pub(super) fn denied(&self, key: &KeyRecord, action: &str, verdict: Verdict) -> KmsError {
        let why = match verdict {
            Verdict::Deny(sealdb_iam::PolicySource::Resource) => {
                "with an explicit deny in a resource-based policy".to_owned()
            }
            Verdict::Deny(sealdb_iam::PolicySource::Identity) => {
                "with an explicit deny in an identity-based policy".to_owned()
            }
            Verdict::NoIdentityAllow => {
                format!("because no identity-based policy allows the kms:{action} action")
            }
            Verdict::NoMatch | Verdict::Allow => {
                format!("because no resource-based policy allows the kms:{action} action")
            }
        };
        KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{action} on resource: {} {why}",
            self.caller.arn,
            self.key_arn(&key.id)
        ))
    }
}
