//! Key lifecycle: CreateKey, DescribeKey, ListKeys, descriptions, enabling, scheduled deletion.

use super::*;
use super::{cloudhsm_keys, xks_keys};

/// CreateKey's condition keys, from the request with AWS's defaults where a parameter is
/// absent (a `kms:KeySpec = SYMMETRIC_DEFAULT` condition allows a request without
/// KeySpec): kms:KeySpec, kms:KeyUsage, kms:KeyOrigin, kms:MultiRegion,
/// kms:MultiRegionKeyType (multi-Region only), kms:BypassPolicyLockoutSafetyCheck,
/// kms:CallerAccount, kms:ViaService, aws:RequestTag/* and aws:TagKeys.
pub(super) fn create_key_conditions(c: &Ctx<'_>, input: &CreateKeyInput) -> ConditionKeys {
    let mut keys = ConditionKeys::new();
    let spec = input
        .key_spec
        .as_deref()
        .or(input.customer_master_key_spec.as_deref())
        .unwrap_or("SYMMETRIC_DEFAULT");
    let default_usage = if spec.starts_with("HMAC_") {
        "GENERATE_VERIFY_MAC"
    } else {
        "ENCRYPT_DECRYPT"
    };
    let usage = input.key_usage.as_deref().unwrap_or(default_usage);
    keys.set("kms:KeySpec", spec);
    keys.set("kms:KeyUsage", usage);
    // The deprecated spellings of the same two keys, still honoured by AWS.
    keys.set("kms:CustomerMasterKeySpec", spec);
    keys.set("kms:CustomerMasterKeyUsage", usage);
    keys.set(
        "kms:KeyOrigin",
        input.origin.as_deref().unwrap_or("AWS_KMS"),
    );
    let multi_region = input.multi_region == Some(true);
    keys.set("kms:MultiRegion", multi_region.to_string());
    if multi_region {
        keys.set("kms:MultiRegionKeyType", "PRIMARY");
    }
    keys.set(
        "kms:BypassPolicyLockoutSafetyCheck",
        (input.bypass_policy_lockout_safety_check == Some(true)).to_string(),
    );
    keys.set("kms:CallerAccount", c.caller.account_id.clone());
    if let Some(via) = &c.via_service {
        keys.set("kms:ViaService", via.clone());
    }
    request_tag_keys(&mut keys, input.tags.as_deref().unwrap_or_default());
    keys
}

/// aws:RequestTag/<key> for each tag of the request and aws:TagKeys (all the keys).
pub(super) fn request_tag_keys(keys: &mut ConditionKeys, tags: &[Tag]) {
    let mut names = Vec::new();
    for t in tags {
        if let Some(k) = &t.tag_key {
            keys.set(
                &format!("aws:RequestTag/{k}"),
                t.tag_value.clone().unwrap_or_default(),
            );
            names.push(k.clone());
        }
    }
    if !names.is_empty() {
        keys.set_multi("aws:TagKeys", names);
    }
}

pub(super) fn create_key(c: &mut Ctx<'_>, input: &CreateKeyInput) -> Result<Value, KmsError> {
    // No key yet, so no key policy: IAM alone decides (and kms:TagResource for tags),
    // with the condition keys AWS documents for CreateKey.
    let keys = create_key_conditions(c, input);
    c.authorize_identity_with("CreateKey", keys.clone())?;
    if input.tags.as_ref().is_some_and(|t| !t.is_empty()) {
        c.authorize_identity_with("TagResource", keys)?;
    }
    // The input checked the names are in AWS's enums; here they become this service's
    // types, or are refused as not made here.
    let spec_name = input
        .key_spec
        .as_deref()
        .or(input.customer_master_key_spec.as_deref())
        .unwrap_or("SYMMETRIC_DEFAULT");
    let origin = input
        .origin
        .as_deref()
        .map_or(Some(Origin::AwsKms), Origin::parse)
        .ok_or_else(|| KmsError::Validation("Origin is not valid.".into()))?;
    let multi_region = input.multi_region == Some(true);
    let custom_store = input.custom_key_store_id.is_some()
        || matches!(origin, Origin::AwsCloudHsm | Origin::ExternalKeyStore);
    if multi_region && custom_store {
        return Err(KmsError::UnsupportedOperation(
            "Multi-Region keys are not supported in custom key stores.".into(),
        ));
    }
    if input.xks_key_id.is_some() && origin != Origin::ExternalKeyStore {
        return Err(KmsError::Validation(
            "XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.".into(),
        ));
    }
    let Some(spec) = KeySpec::parse(spec_name) else {
        // In AWS's enum (the input checked that), but not made here.
        return Err(KmsError::UnsupportedOperation(format!(
            "KeySpec {spec_name} is not supported by this key service."
        )));
    };
    let default_usage = if spec.is_hmac() {
        KeyUsage::GenerateVerifyMac
    } else {
        KeyUsage::EncryptDecrypt
    };
    let usage = match input.key_usage.as_deref() {
        None => default_usage,
        Some(u) => KeyUsage::parse(u)
            .ok_or_else(|| KmsError::Validation(format!("KeyUsage {u} is not valid.")))?,
    };
    let compatible = match spec {
        KeySpec::SymmetricDefault => usage == KeyUsage::EncryptDecrypt,
        s if s.is_hmac() => usage == KeyUsage::GenerateVerifyMac,
        _ if input.key_usage.is_none() => {
            return Err(KmsError::Validation(
                "You must specify a KeyUsage value for an asymmetric KMS key.".into(),
            ));
        }
        s if s.is_rsa() => matches!(usage, KeyUsage::EncryptDecrypt | KeyUsage::SignVerify),
        _ => usage == KeyUsage::SignVerify,
    };
    if !compatible {
        return Err(KmsError::Validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        )));
    }
    let (store_id, xks_key_id) = if origin == Origin::ExternalKeyStore {
        let (store, xks) = xks_keys::check_create(c, input, spec, usage)?;
        (Some(store), Some(xks))
    } else if custom_store {
        let store = cloudhsm_keys::check_create(c, input, origin, spec, usage)?;
        (Some(store), None)
    } else {
        (None, None)
    };
    match origin {
        Origin::AwsKms | Origin::AwsCloudHsm | Origin::ExternalKeyStore => {}
        Origin::External if spec == KeySpec::SymmetricDefault => {}
        Origin::External => {
            return Err(KmsError::UnsupportedOperation(format!(
                "KeySpec {spec} is not supported for keys with EXTERNAL origin"
            )));
        }
    }
    let description = input.description.as_deref().unwrap_or("");
    let (policy_text, given_policy) = match input.policy.as_deref() {
        Some(p) => {
            let doc = policy::parse(p).map_err(KmsError::MalformedPolicyDocument)?;
            (p.to_owned(), Some(doc))
        }
        None => (policy::default_policy(&c.cfg.account_id), None),
    };
    let tags = parse_tags(input.tags.as_deref())?;
    let id = if multi_region {
        multi_region::new_key_id()?
    } else {
        uuid::Uuid::new_v4().to_string()
    };
    let t = now(c.cfg);
    let material_len = crypto::hmac_algorithm(spec.as_str()).map_or(32, |(_, n)| n);
    let external = origin == Origin::External;
    let rec = KeyRecord {
        id: id.clone(),
        created: t,
        description: description.to_owned(),
        key_usage: usage,
        key_spec: spec,
        origin,
        state: if external {
            KeyState::PendingImport
        } else {
            KeyState::Enabled
        },
        deletion_date: None,
        key_manager: "CUSTOMER".into(),
        policy: policy_text,
        tags,
        rotation_enabled: false,
        rotation_period_days: 365,
        last_rotation: t,
        current_version: 1,
        rotations: Vec::new(),
        valid_to: None,
        expiration_model: None,
        imported_hash: None,
        import_params: None,
        multi_region: multi_region.then(|| MultiRegion {
            primary_region: c.cfg.region.clone(),
            replica_regions: Vec::new(),
        }),
        pending_window_days: None,
        custom_key_store_id: store_id.clone(),
        xks_key_id,
    };
    if let Some(doc) = &given_policy {
        c.lockout_check(&rec, doc, input.bypass_policy_lockout_safety_check)?;
    }
    c.store.put_key(&rec)?;
    if origin == Origin::ExternalKeyStore {
        // The KMS key's own material: the first of the two encryptions.
        c.store.put_material(&id, 1, &crypto::random(32)?)?;
    } else if let Some(store_id) = &store_id {
        cloudhsm_keys::generate_backing_key(c, store_id, &id)?;
    } else if spec.is_rsa() || spec.is_ecc() {
        c.store
            .put_material(&id, 1, &asym::generate(spec.as_str())?)?;
    } else if !external {
        c.store
            .put_material(&id, 1, &crypto::random(material_len)?)?;
    }
    c.resource = Some(c.key_arn(&id));
    Ok(json!({ "KeyMetadata": c.metadata(&rec) }))
}

/// One page of `items` (the input checked the limit's range).
pub(super) fn page<T>(
    items: Vec<T>,
    paging: &Paging,
    default_limit: i64,
) -> Result<(Vec<T>, Option<String>), KmsError> {
    let limit = paging.limit.unwrap_or(default_limit);
    let start = match paging.marker.as_deref() {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
    };
    let limit = usize::try_from(limit).unwrap_or(100);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| (start + page.len()).to_string());
    Ok((page, next))
}

pub(super) fn list_keys(c: &mut Ctx<'_>, input: &ListKeysInput) -> Result<Value, KmsError> {
    c.authorize_identity("ListKeys")?;
    let keys: Vec<Value> = c
        .store
        .keys()?
        .iter()
        .map(|k| json!({"KeyId": k.id, "KeyArn": c.key_arn(&k.id)}))
        .collect();
    let (page, next) = page(keys, &input.paging, 100)?;
    let mut out = json!({"Keys": page, "Truncated": next.is_some()});
    if let Some(n) = next {
        out["NextMarker"] = Value::from(n);
    }
    Ok(out)
}

/// DescribeKey.
pub(super) fn describe_key(c: &mut Ctx<'_>, input: &DescribeKeyInput) -> Result<Value, KmsError> {
    let k = described_key(c, &input.key_id)?;
    Ok(json!({ "KeyMetadata": c.metadata(&k) }))
}

/// The key DescribeKey would describe, after its authorization.
pub(crate) fn described_key(c: &mut Ctx<'_>, key_id: &str) -> Result<KeyRecord, KmsError> {
    let k = c.resolve(key_id, true)?;
    c.authorize(&k, "DescribeKey", Some("DescribeKey"), &BTreeMap::new())?;
    Ok(k)
}

/// UpdateKeyDescription.
pub(super) fn update_key_description(
    c: &mut Ctx<'_>,
    input: &UpdateKeyDescriptionInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key("UpdateKeyDescription", &input.key_id)?;
    c.not_pending_deletion(&k)?;
    k.description.clone_from(&input.description);
    c.store.put_key(&k)?;
    Ok(json!({}))
}

/// EnableKey and DisableKey.
pub(super) fn enable_or_disable(
    c: &mut Ctx<'_>,
    op: &str,
    input: &KeyIdInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    c.not_pending_deletion(&k)?;
    if k.state == KeyState::PendingImport {
        return Err(KmsError::InvalidState(format!(
            "{} is pending import.",
            c.key_arn(&k.id)
        )));
    }
    k.state = if op == "EnableKey" {
        KeyState::Enabled
    } else {
        KeyState::Disabled
    };
    c.store.put_key(&k)?;
    Ok(json!({}))
}

/// ScheduleKeyDeletion.
pub(super) fn schedule_key_deletion(
    c: &mut Ctx<'_>,
    op: &str,
    input: &ScheduleKeyDeletionInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    let days = input.pending_window_in_days.unwrap_or(30);
    c.not_pending_deletion(&k)?;
    let has_replicas = k
        .multi_region
        .as_ref()
        .is_some_and(|mr| mr.primary_region == c.cfg.region && !mr.replica_regions.is_empty());
    if has_replicas {
        // The waiting period begins when the last replica is deleted.
        k.state = KeyState::PendingReplicaDeletion;
        k.pending_window_days = Some(u32::try_from(days).unwrap_or(30));
        c.store.put_key(&k)?;
        return Ok(
            json!({"KeyId": c.key_arn(&k.id), "KeyState": "PendingReplicaDeletion", "PendingWindowInDays": days}),
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let date = now(c.cfg) + days as f64 * DAY;
    k.state = KeyState::PendingDeletion;
    k.deletion_date = Some(date);
    c.store.put_key(&k)?;
    Ok(
        json!({"KeyId": c.key_arn(&k.id), "DeletionDate": date, "KeyState": "PendingDeletion", "PendingWindowInDays": days}),
    )
}

/// CancelKeyDeletion.
pub(super) fn cancel_key_deletion(
    c: &mut Ctx<'_>,
    op: &str,
    input: &KeyIdInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    if !matches!(
        k.state,
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
    ) {
        return Err(KmsError::InvalidState(format!(
            "{} is not pending deletion.",
            c.key_arn(&k.id)
        )));
    }
    k.state = KeyState::Disabled;
    k.deletion_date = None;
    k.pending_window_days = None;
    c.store.put_key(&k)?;
    Ok(json!({"KeyId": c.key_arn(&k.id)}))
}
