//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use super::*;

pub(super) fn list_aliases(c: &mut Ctx<'_>, input: &ListAliasesInput) -> Result<Value, KmsError> {
    // An account-wide list: IAM alone decides, as for ListKeys.
    c.authorize_identity("ListAliases")?;
    let filter = match input.key_id.as_deref() {
        Some(k) => Some(c.resolve(k, false)?.id),
        None => None,
    };
    let mut aliases: Vec<Alias> = c.store.aliases()?;
    if c.store.alias(DYNAMODB_ALIAS)?.is_none() && filter.is_none() {
        // Predefined AWS aliases are listed before their key exists, without a target.
        aliases.push(Alias {
            name: DYNAMODB_ALIAS.into(),
            key_id: None,
            created: 0.0,
            updated: 0.0,
        });
    }
    let list: Vec<Value> = aliases
        .iter()
        .filter(|a| filter.is_none() || a.key_id == filter)
        .map(|a| {
            let mut v = json!({"AliasName": a.name, "AliasArn": c.alias_arn(&a.name)});
            if let Some(k) = &a.key_id {
                v["TargetKeyId"] = Value::from(k.clone());
                v["CreationDate"] = json!(a.created);
                v["LastUpdatedDate"] = json!(a.updated);
            }
            v
        })
        .collect();
    let (page, next) = page(list, &input.paging, 50)?;
    let mut out = json!({"Aliases": page, "Truncated": next.is_some()});
    if let Some(n) = next {
        out["NextMarker"] = Value::from(n);
    }
    Ok(out)
}

pub(super) fn alias_write(
    c: &mut Ctx<'_>,
    op: &str,
    input: &AliasInput,
) -> Result<Value, KmsError> {
    let name = input.alias_name.as_str();
    let valid = name.starts_with("alias/")
        && name.len() > 6
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-:".contains(&b));
    if !valid {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias must start with the prefix \"alias/\" and contain only alphanumeric characters, forward slashes (/), underscores (_), and dashes (-): {name}"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{op} on resource: {}",
            c.caller.arn,
            c.alias_arn(name)
        )));
    }
    let k = c.managed_key(op, &input.target_key_id)?;
    if k.key_manager == "AWS" {
        return Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{op} on resource: {}",
            c.caller.arn,
            c.key_arn(&k.id)
        )));
    }
    c.not_pending_deletion(&k)?;
    let t = now(c.cfg);
    let existing = c.store.alias(name)?;
    match (op, &existing) {
        ("CreateAlias", Some(_)) => {
            return Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                c.alias_arn(name)
            )));
        }
        ("UpdateAlias", None) => {
            return Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                c.alias_arn(name)
            )));
        }
        _ => {}
    }
    c.store.put_alias(&Alias {
        name: name.to_owned(),
        key_id: Some(k.id.clone()),
        created: existing.map_or(t, |a| a.created),
        updated: t,
    })?;
    Ok(json!({}))
}

/// DeleteAlias.
pub(super) fn delete_alias(
    c: &mut Ctx<'_>,
    op: &str,
    input: &DeleteAliasInput,
) -> Result<Value, KmsError> {
    let name = input.alias_name.as_str();
    if name.starts_with("alias/aws/") {
        return Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:DeleteAlias on resource: {}",
            c.caller.arn,
            c.alias_arn(name)
        )));
    }
    let a = c
        .store
        .alias(name)?
        .ok_or_else(|| KmsError::NotFound(format!("Alias {} is not found.", c.alias_arn(name))))?;
    if let Some(id) = &a.key_id {
        c.managed_key(op, id)?;
    }
    c.store.delete_alias(name)?;
    Ok(json!({}))
}
