//! Grants: CreateGrant (with delegation limits), ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

use super::*;

/// What a requested grant would allow (checked against the caller's own grant).
pub(crate) struct GrantShape<'a> {
    pub(crate) operations: &'a [String],
    pub(crate) subset: Option<&'a BTreeMap<String, String>>,
    pub(crate) equals: Option<&'a BTreeMap<String, String>>,
}

impl GrantShape<'_> {
    /// True when everything this grant allows, `parent` allows too.
    pub(super) fn is_covered_by(&self, parent: &Grant) -> bool {
        let ops_ok = self
            .operations
            .iter()
            .all(|o| parent.operations.iter().any(|p| p == o));
        let includes = |wide: &BTreeMap<String, String>, narrow: &BTreeMap<String, String>| {
            wide.iter().all(|(k, v)| narrow.get(k) == Some(v))
        };
        let constraints_ok = match (&parent.context_equals, &parent.context_subset) {
            // An exact context stays exact.
            (Some(e), _) => self.equals == Some(e) && self.subset.is_none_or(|s| includes(s, e)),
            // Pairs the parent requires must be required by the child too.
            (None, Some(s)) => {
                self.equals.is_some_and(|e| includes(s, e))
                    || self.subset.is_some_and(|c| includes(s, c))
            }
            (None, None) => true,
        };
        ops_ok && constraints_ok
    }
}

/// CreateGrant's members, parsed once.
pub(crate) struct NewGrant {
    pub(crate) key_id: String,
    pub(crate) grantee: String,
    pub(crate) retiring: Option<String>,
    pub(crate) operations: Vec<String>,
    pub(crate) subset: Option<BTreeMap<String, String>>,
    pub(crate) equals: Option<BTreeMap<String, String>>,
    pub(crate) name: Option<String>,
}

impl NewGrant {
    fn from_input(input: &CreateGrantInput) -> NewGrant {
        let constraints = input.constraints.as_ref();
        NewGrant {
            key_id: input.key_id.clone(),
            grantee: input
                .grantee_principal
                .clone()
                .or_else(|| input.grantee_service_principal.clone())
                .unwrap_or_default(),
            retiring: input
                .retiring_principal
                .clone()
                .or_else(|| input.retiring_service_principal.clone()),
            operations: input.operations.clone(),
            subset: constraints
                .and_then(|c| c.encryption_context_subset.clone())
                .filter(|m| !m.is_empty()),
            equals: constraints
                .and_then(|c| c.encryption_context_equals.clone())
                .filter(|m| !m.is_empty()),
            name: input.name.clone(),
        }
    }
}

pub(super) fn create_grant(c: &mut Ctx<'_>, input: &CreateGrantInput) -> Result<Value, KmsError> {
    let g = add_grant(c, NewGrant::from_input(input))?;
    Ok(json!({"GrantId": g.id, "GrantToken": grant_token(&g.id)}))
}

/// Creates the grant (or finds the same named one: idempotent, as KMS does).
pub(crate) fn add_grant(c: &mut Ctx<'_>, req: NewGrant) -> Result<Grant, KmsError> {
    let k = c.resolve(&req.key_id, false)?;
    if req.operations.is_empty() {
        return Err(validation(
            "Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    for o in &req.operations {
        if !GRANT_OPERATIONS.contains(&o.as_str()) {
            return Err(validation(format!(
                "Value '[{o}]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                GRANT_OPERATIONS.join(", ")
            )));
        }
    }
    if (req.subset.is_some() || req.equals.is_some()) && k.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::Validation(
            "EncryptionContext is supported only when creating a grant for a symmetric encryption KMS key.".into(),
        ));
    }
    c.authorize_create_grant(
        &k,
        &GrantShape {
            operations: &req.operations,
            subset: req.subset.as_ref(),
            equals: req.equals.as_ref(),
        },
    )?;
    c.usable(&k)?;
    if let Some(n) = &req.name {
        for g in c.store.grants(Some(&k.id))? {
            if g.name.as_deref() == Some(n)
                && g.grantee == req.grantee
                && g.operations == req.operations
                && g.retiring == req.retiring
            {
                return Ok(g);
            }
        }
    }
    let g = Grant {
        id: hex::encode(crypto::random(32)?.as_slice()),
        key_id: k.id.clone(),
        name: req.name,
        created: now(c.cfg),
        grantee: req.grantee,
        retiring: req.retiring,
        operations: req.operations,
        context_subset: req.subset,
        context_equals: req.equals,
        issuer: format!("arn:aws:iam::{}:root", c.cfg.account_id),
    };
    c.store.put_grant(&g)?;
    Ok(g)
}

/// A grant token: opaque to clients; here the grant id, base64url-encoded with a prefix.
pub(super) fn grant_token(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("sealdb-grant:{id}"))
}

pub(super) fn grant_from_token(token: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("sealdb-grant:")
        .map(str::to_owned)
}

pub(super) fn grant_json(c: &Ctx<'_>, g: &Grant) -> Value {
    let mut v = json!({
        "KeyId": c.key_arn(&g.key_id), "GrantId": g.id, "CreationDate": g.created,
        "GranteePrincipal": g.grantee, "IssuingAccount": g.issuer, "Operations": g.operations,
    });
    if let Some(n) = &g.name {
        v["Name"] = Value::from(n.clone());
    }
    if let Some(r) = &g.retiring {
        v["RetiringPrincipal"] = Value::from(r.clone());
    }
    let mut cons = Map::new();
    if let Some(s) = &g.context_subset {
        cons.insert("EncryptionContextSubset".into(), json!(s));
    }
    if let Some(e) = &g.context_equals {
        cons.insert("EncryptionContextEquals".into(), json!(e));
    }
    if !cons.is_empty() {
        v["Constraints"] = Value::Object(cons);
    }
    v
}

pub(super) fn retire_or_revoke(
    c: &mut Ctx<'_>,
    op: &str,
    input: &EndGrantInput,
) -> Result<Value, KmsError> {
    let grant_id = match (input.grant_token.as_deref(), input.grant_id.as_deref()) {
        (Some(t), _) if op == "RetireGrant" => grant_from_token(t)
            .ok_or_else(|| KmsError::InvalidGrantToken("Invalid grant token".into()))?,
        (_, Some(id)) => id.to_owned(),
        _ => {
            return Err(validation(
                "Value null at 'grantId' failed to satisfy constraint: Member must not be null",
            ));
        }
    };
    end_grant(c, op, &grant_id)?;
    Ok(json!({}))
}

/// RetireGrant or RevokeGrant (`op`) of the grant `grant_id`.
pub(crate) fn end_grant(c: &mut Ctx<'_>, op: &str, grant_id: &str) -> Result<(), KmsError> {
    if grant_id.len() != 64 || !grant_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KmsError::InvalidGrantId(format!(
            "Invalid grant id: {grant_id}"
        )));
    }
    let grants = c.store.grants(None)?;
    let g = grants
        .iter()
        .find(|g| g.id == grant_id)
        .ok_or_else(|| KmsError::NotFound(format!("Grant ID {grant_id} not found")))?;
    let k = c.resolve(&g.key_id, false)?;
    if op == "RevokeGrant" {
        c.authorize(&k, "RevokeGrant", None, &BTreeMap::new())?;
    } else {
        // The retiring principal, the grantee of a grant that allows RetireGrant, or
        // anyone the key policy lets retire grants.
        let me = c
            .via_service
            .clone()
            .unwrap_or_else(|| c.caller.arn.clone());
        let allowed = g.retiring.as_deref() == Some(me.as_str())
            || (g.grantee == me && g.operations.iter().any(|o| o == "RetireGrant"));
        if !allowed {
            c.authorize(&k, "RetireGrant", None, &BTreeMap::new())?;
        }
    }
    c.store.delete_grant(grant_id)?;
    Ok(())
}

/// ListGrants.
pub(super) fn list_grants(
    c: &mut Ctx<'_>,
    op: &str,
    input: &ListGrantsInput,
) -> Result<Value, KmsError> {
    let k = c.managed_key(op, &input.key_id)?;
    let grants: Vec<Value> = c
        .store
        .grants(Some(&k.id))?
        .iter()
        .map(|g| grant_json(c, g))
        .collect();
    Ok(json!({"Grants": grants, "Truncated": false}))
}

/// ListRetirableGrants.
pub(super) fn list_retirable_grants(
    c: &mut Ctx<'_>,
    input: &ListRetirableGrantsInput,
) -> Result<Value, KmsError> {
    let who = input.retiring_principal.as_str();
    c.authorize_identity("ListRetirableGrants")?;
    let grants: Vec<Value> = c
        .store
        .grants(None)?
        .iter()
        .filter(|g| g.retiring.as_deref() == Some(who))
        .map(|g| grant_json(c, g))
        .collect();
    Ok(json!({"Grants": grants, "Truncated": false}))
}
