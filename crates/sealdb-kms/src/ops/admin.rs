//! Key administration: rotation, tags and key policies.

use super::*;

/// Tags of a request: each needs its key and value, KMS's limits, no `aws:` keys; a
/// repeated key keeps its last value.
pub(super) fn parse_tags(list: Option<&[Tag]>) -> Result<Vec<(String, String)>, KmsError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in list.unwrap_or_default() {
        let k = t
            .tag_key
            .as_deref()
            .ok_or_else(|| KmsError::Tag("TagKey is required".into()))?;
        let v = t
            .tag_value
            .as_deref()
            .ok_or_else(|| KmsError::Tag("TagValue is required".into()))?;
        if k.is_empty()
            || k.chars().count() > 128
            || v.chars().count() > 256
            || k.starts_with("aws:")
        {
            return Err(KmsError::Tag(format!("Tag key or value is invalid: {k}")));
        }
        if let Some(e) = out.iter_mut().find(|(ek, _)| ek == k) {
            e.1 = v.to_owned();
        } else {
            out.push((k.to_owned(), v.to_owned()));
        }
    }
    Ok(out)
}

pub(super) fn rotation_allowed(c: &Ctx<'_>, k: &KeyRecord) -> Result<(), KmsError> {
    if matches!(
        k.origin,
        Origin::External | Origin::AwsCloudHsm | Origin::ExternalKeyStore
    ) {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            c.key_arn(&k.id),
            k.origin
        )));
    }
    if k.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} key spec {} is not valid for this operation.",
            c.key_arn(&k.id),
            k.key_spec
        )));
    }
    c.not_pending_deletion(k)
}

/// EnableKeyRotation and DisableKeyRotation.
/// `period` is EnableKeyRotation's RotationPeriodInDays, `None` for DisableKeyRotation.
pub(super) fn set_rotation(
    c: &mut Ctx<'_>,
    op: &str,
    key_id: &str,
    enable: Option<Option<i64>>,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, key_id)?;
    rotation_allowed(c, &k)?;
    c.not_replica(&k)?;
    c.usable(&k)?;
    if let Some(period) = enable {
        let days = period.unwrap_or(365);
        k.rotation_enabled = true;
        k.rotation_period_days = u32::try_from(days).unwrap_or(365);
    } else {
        k.rotation_enabled = false;
    }
    c.store.put_key(&k)?;
    c.share_with_replicas(&k)?;
    Ok(json!({}))
}

/// GetKeyRotationStatus.
pub(super) fn get_key_rotation_status(
    c: &mut Ctx<'_>,
    op: &str,
    input: &KeyIdInput,
) -> Result<Value, KmsError> {
    let k = c.managed_key(op, &input.key_id)?;
    if k.origin == Origin::External {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is EXTERNAL which is not valid for this operation.",
            c.key_arn(&k.id)
        )));
    }
    let enabled = k.rotation_enabled && k.state != KeyState::PendingDeletion;
    let mut out = json!({"KeyRotationEnabled": enabled, "KeyId": c.key_arn(&k.id)});
    if enabled {
        out["RotationPeriodInDays"] = json!(k.rotation_period_days);
        out["NextRotationDate"] = json!(k.last_rotation + f64::from(k.rotation_period_days) * DAY);
    }
    Ok(out)
}

/// RotateKeyOnDemand.
pub(super) fn rotate_key_on_demand(
    c: &mut Ctx<'_>,
    op: &str,
    input: &KeyIdInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    rotation_allowed(c, &k)?;
    c.not_replica(&k)?;
    c.usable(&k)?;
    if k.key_manager == "AWS" {
        return Err(KmsError::UnsupportedOperation(
            "AWS managed keys cannot be rotated on demand".into(),
        ));
    }
    if k.rotations.iter().filter(|r| r.on_demand).count() >= 25 {
        return Err(KmsError::LimitExceeded(format!(
            "{} has reached the maximum number of on-demand rotations.",
            c.key_arn(&k.id)
        )));
    }
    c.rotate(&mut k, true)?;
    Ok(json!({"KeyId": k.id}))
}

/// ListKeyRotations.
pub(super) fn list_key_rotations(
    c: &mut Ctx<'_>,
    op: &str,
    input: &KeyListInput,
) -> Result<Value, KmsError> {
    let k = c.managed_key(op, &input.key_id)?;
    let rotations: Vec<Value> = k
        .rotations
        .iter()
        .map(|r| json!({"KeyId": k.id, "RotationDate": r.date, "RotationType": if r.on_demand { "ON_DEMAND" } else { "AUTOMATIC" },
                        "KeyMaterialId": material_id(&k.id, r.version),
                        "KeyMaterialState": if r.version == k.current_version { "CURRENT" } else { "NON_CURRENT" }}))
        .collect();
    Ok(json!({"Rotations": rotations, "Truncated": false}))
}

/// What TagResource or UntagResource changes.
pub(super) enum TagChange<'a> {
    Add(&'a [Tag]),
    Remove(&'a [String]),
}

/// TagResource and UntagResource.
pub(super) fn tag_or_untag(
    c: &mut Ctx<'_>,
    op: &str,
    key_id: &str,
    change: TagChange<'_>,
) -> Result<Value, KmsError> {
    // As AWS: the request's tags are aws:RequestTag/* and their keys aws:TagKeys (for
    // UntagResource, the keys removed), so a policy can govern which tags are set.
    let mut k = c.resolve(key_id, false)?;
    let mut keys = ConditionKeys::new();
    match change {
        TagChange::Add(tags) => super::keys::request_tag_keys(&mut keys, tags),
        TagChange::Remove(names) if !names.is_empty() => {
            keys.set_multi("aws:TagKeys", names.iter().cloned());
        }
        TagChange::Remove(_) => {}
    }
    c.authorize_with(&k, op, None, &BTreeMap::new(), keys)?;
    c.not_pending_deletion(&k)?;
    if let TagChange::Add(tags) = change {
        for (tk, tv) in parse_tags(Some(tags))? {
            if let Some(e) = k.tags.iter_mut().find(|(ek, _)| *ek == tk) {
                e.1 = tv;
            } else {
                k.tags.push((tk, tv));
            }
        }
        if k.tags.len() > 50 {
            return Err(KmsError::Tag("A key can have at most 50 tags".into()));
        }
    } else if let TagChange::Remove(keys) = change {
        k.tags.retain(|(tk, _)| !keys.contains(tk));
    }
    c.store.put_key(&k)?;
    Ok(json!({}))
}

/// ListResourceTags.
pub(super) fn list_resource_tags(
    c: &mut Ctx<'_>,
    op: &str,
    input: &KeyListInput,
) -> Result<Value, KmsError> {
    let k = c.managed_key(op, &input.key_id)?;
    let tags: Vec<Value> = k
        .tags
        .iter()
        .map(|(a, b)| json!({"TagKey": a, "TagValue": b}))
        .collect();
    Ok(json!({"Tags": tags, "Truncated": false}))
}

/// GetKeyPolicy.
pub(super) fn get_key_policy(
    c: &mut Ctx<'_>,
    op: &str,
    input: &GetKeyPolicyInput,
) -> Result<Value, KmsError> {
    let k = c.managed_key(op, &input.key_id)?;
    let name = input.policy_name.as_deref().unwrap_or("default");
    if name != "default" {
        return Err(KmsError::NotFound(format!("No such policy exists: {name}")));
    }
    Ok(json!({"Policy": k.policy, "PolicyName": "default"}))
}

/// PutKeyPolicy.
pub(super) fn put_key_policy(
    c: &mut Ctx<'_>,
    op: &str,
    input: &PutKeyPolicyInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    let name = input.policy_name.as_deref().unwrap_or("default");
    let p = input.policy.as_str();
    if name == "AWS_RAM" {
        return Err(KmsError::Validation(
            "The AWS_RAM policy can only be managed by the RAM service.".into(),
        ));
    }
    if name != "default" {
        return Err(KmsError::NotFound(format!("No such policy exists: {name}")));
    }
    if p.len() > 32 * 1024 {
        return Err(KmsError::LimitExceeded(
            "The key policy exceeds the maximum size of 32 KB".into(),
        ));
    }
    let doc = policy::parse(p).map_err(KmsError::MalformedPolicyDocument)?;
    c.lockout_check(&k, &doc, input.bypass_policy_lockout_safety_check)?;
    k.policy = p.to_owned();
    c.store.put_key(&k)?;
    Ok(json!({}))
}

/// ListKeyPolicies.
pub(super) fn list_key_policies(
    c: &mut Ctx<'_>,
    op: &str,
    input: &KeyListInput,
) -> Result<Value, KmsError> {
    c.managed_key(op, &input.key_id)?;
    Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
}
