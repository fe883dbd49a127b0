//! Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and keeping what related keys
//! share (material, rotation, imported material, where the others are) the same in every
//! region. These calls run with the related regions' stores locked (`regions.rs`).

use super::*;
use crate::kms_event;
use crate::regions::Peer;

/// A key id as KMS names keys: a UUID, or `mrk-` and 32 hex digits.
pub(super) fn is_key_id(id: &str) -> bool {
    match id.strip_prefix(crypto::MULTI_REGION_PREFIX) {
        Some(hex_id) => hex_id.len() == 32 && hex_id.bytes().all(|b| b.is_ascii_hexdigit()),
        None => uuid::Uuid::parse_str(id).is_ok(),
    }
}

/// A fresh multi-Region key id: `mrk-` and 32 random lowercase hex digits.
pub(super) fn new_key_id() -> Result<String, KmsError> {
    Ok(format!(
        "{}{}",
        crypto::MULTI_REGION_PREFIX,
        hex::encode(crypto::random(16)?.as_slice())
    ))
}

fn not_multi_region(c: &Ctx<'_>, k: &KeyRecord) -> KmsError {
    KmsError::UnsupportedOperation(format!("{} is not a multi-Region key.", c.key_arn(&k.id)))
}

fn not_primary(c: &Ctx<'_>, k: &KeyRecord) -> KmsError {
    KmsError::UnsupportedOperation(format!(
        "{} is not a multi-Region primary key.",
        c.key_arn(&k.id)
    ))
}

/// The multi-Region settings of a key this call may change as its primary.
fn primary_here(c: &Ctx<'_>, k: &KeyRecord) -> Result<MultiRegion, KmsError> {
    let mr = k
        .multi_region
        .clone()
        .ok_or_else(|| not_multi_region(c, k))?;
    if mr.primary_region != c.cfg.region {
        return Err(not_primary(c, k));
    }
    Ok(mr)
}

impl<'a> Ctx<'a> {
    fn arn_in(&self, region: &str, key_id: &str) -> String {
        format!("arn:aws:kms:{region}:{}:key/{key_id}", self.cfg.account_id)
    }

    fn peer(&self, region: &str) -> Option<&'a Peer<'a>> {
        self.peers.iter().find(|p| p.region() == region)
    }

    /// DescribeKey's MultiRegionConfiguration: the same related keys from every region.
    pub(super) fn multi_region_configuration(&self, key_id: &str, mr: &MultiRegion) -> Value {
        let kind = if mr.primary_region == self.cfg.region {
            "PRIMARY"
        } else {
            "REPLICA"
        };
        let replicas: Vec<Value> = mr
            .replica_regions
            .iter()
            .map(|r| json!({"Arn": self.arn_in(r, key_id), "Region": r}))
            .collect();
        json!({
            "MultiRegionKeyType": kind,
            "PrimaryKey": {"Arn": self.arn_in(&mr.primary_region, key_id), "Region": mr.primary_region},
            "ReplicaKeys": replicas,
        })
    }

    /// Records `view` as where the related keys are, in this region and every locked one.
    fn write_view(&self, key_id: &str, view: &MultiRegion) -> Result<(), KmsError> {
        let stores = std::iter::once(self.store).chain(self.peers.iter().map(|p| p.store));
        for store in stores {
            if let Some(mut k) = store.key(key_id)? {
                k.multi_region = Some(view.clone());
                store.put_key(&k)?;
            }
        }
        Ok(())
    }

    /// Gives every replica what it shares with this primary: the rotation settings and
    /// history, the material of each version (not for imported material, which is
    /// imported into each key), and where the related keys are.
    pub(super) fn share_with_replicas(&self, primary: &KeyRecord) -> Result<(), KmsError> {
        let Some(mr) = &primary.multi_region else {
            return Ok(());
        };
        if mr.primary_region != self.cfg.region {
            return Ok(());
        }
        for region in &mr.replica_regions {
            let Some(peer) = self.peer(region) else {
                tracing::warn!(%region, key = %primary.id, "replica region not served; not updated");
                continue;
            };
            let Some(mut r) = peer.store.key(&primary.id)? else {
                continue;
            };
            r.rotation_enabled = primary.rotation_enabled;
            r.rotation_period_days = primary.rotation_period_days;
            r.last_rotation = primary.last_rotation;
            r.current_version = primary.current_version;
            r.rotations = primary.rotations.clone();
            r.imported_hash = primary.imported_hash.clone().or(r.imported_hash);
            r.multi_region = Some(mr.clone());
            if primary.origin != Origin::External {
                for v in 1..=primary.current_version {
                    if peer.store.material(&primary.id, v)?.is_none()
                        && let Some(m) = self.store.material(&primary.id, v)?
                    {
                        peer.store.put_material(&primary.id, v, &m)?;
                    }
                }
            }
            peer.store.put_key(&r)?;
        }
        Ok(())
    }

    /// The hash of the material imported into any of the related keys.
    pub(super) fn related_imported_hash(&self, k: &KeyRecord) -> Result<Option<String>, KmsError> {
        if k.imported_hash.is_some() || k.multi_region.is_none() {
            return Ok(k.imported_hash.clone());
        }
        for p in self.peers {
            if let Some(h) = p.store.key(&k.id)?.and_then(|r| r.imported_hash) {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }

    /// Makes `hash` the material every related key must be given.
    pub(super) fn share_imported_hash(&self, key_id: &str, hash: &str) -> Result<(), KmsError> {
        for p in self.peers {
            if let Some(mut r) = p.store.key(key_id)?
                && r.imported_hash.is_none()
            {
                r.imported_hash = Some(hash.to_owned());
                p.store.put_key(&r)?;
            }
        }
        Ok(())
    }

    /// Rotation settings and on-demand rotation belong to the primary.
    pub(super) fn not_replica(&self, k: &KeyRecord) -> Result<(), KmsError> {
        match &k.multi_region {
            Some(mr) if mr.primary_region != self.cfg.region => {
                Err(KmsError::UnsupportedOperation(format!(
                    "{} is a multi-Region replica key. Rotation is managed on its primary key in {}.",
                    self.key_arn(&k.id),
                    mr.primary_region
                )))
            }
            _ => Ok(()),
        }
    }

    /// Work a call found due on a multi-Region key, with its related regions locked.
    pub(crate) fn do_due_work(&self, work: &DueWork) -> Result<(), KmsError> {
        match work {
            DueWork::Rotate(id) => {
                let Some(mut k) = self.store.key(id)? else {
                    return Ok(());
                };
                let primary = k
                    .multi_region
                    .as_ref()
                    .is_some_and(|mr| mr.primary_region == self.cfg.region);
                if primary && self.rotation_due(&k) {
                    self.rotate(&mut k, false)?;
                }
                Ok(())
            }
            DueWork::Delete(id) => self.delete_related_key(id),
        }
    }

    /// Deletes a multi-Region key whose waiting period is over, and drops it from the
    /// other keys' views; a primary waiting for its last replica then starts its own
    /// waiting period.
    fn delete_related_key(&self, id: &str) -> Result<(), KmsError> {
        let t = now(self.cfg);
        let Some(k) = self.store.key(id)? else {
            return Ok(());
        };
        if k.state != KeyState::PendingDeletion || k.deletion_date.is_none_or(|d| d > t) {
            return Ok(());
        }
        self.store.delete_key(id)?;
        let Some(mut view) = k.multi_region else {
            return Ok(());
        };
        if view.primary_region == self.cfg.region {
            // A primary is only deleted once it has no replicas left.
            return Ok(());
        }
        view.replica_regions.retain(|r| *r != self.cfg.region);
        for p in self.peers {
            let Some(mut r) = p.store.key(id)? else {
                continue;
            };
            r.multi_region = Some(view.clone());
            if p.region() == view.primary_region
                && r.state == KeyState::PendingReplicaDeletion
                && view.replica_regions.is_empty()
            {
                let days = r.pending_window_days.take().unwrap_or(30);
                r.state = KeyState::PendingDeletion;
                r.deletion_date = Some(t + f64::from(days) * DAY);
            }
            p.store.put_key(&r)?;
        }
        Ok(())
    }
}

/// ReplicateKey: a replica of this region's primary key in another region, with the same
/// id and material, and its own policy, description and tags.
pub(super) fn replicate_key(
    c: &mut Ctx<'_>,
    op: &str,
    input: &ReplicateKeyInput,
) -> Result<Value, KmsError> {
    let k = c.resolve(&input.key_id, false)?;
    let region = input.replica_region.as_str();
    let description = input.description.as_deref().unwrap_or("");
    let tags = parse_tags(input.tags.as_deref())?;
    c.authorize(&k, op, None, &BTreeMap::new())?;
    let mut view = primary_here(c, &k)?;
    c.not_pending_deletion(&k)?;
    if region == c.cfg.region {
        return Err(KmsError::Validation(format!(
            "The replica region must differ from the region of the primary key ({region})."
        )));
    }
    let replica_arn = c.arn_in(region, &k.id);
    if view.replica_regions.iter().any(|r| r == region) {
        return Err(KmsError::AlreadyExists(format!(
            "Replica key {replica_arn} already exists."
        )));
    }
    let Some(peer) = c.peer(region) else {
        return Err(KmsError::UnsupportedOperation(format!(
            "The region {region} is not available to this key service."
        )));
    };
    if peer.store.key(&k.id)?.is_some() {
        return Err(KmsError::AlreadyExists(format!(
            "Replica key {replica_arn} already exists."
        )));
    }
    // kms:CreateKey (and kms:TagResource for tags) in the replica region, by IAM.
    // The replica shares the primary's spec, usage and origin; it is a REPLICA.
    let pc = peer.ctx(c.caller);
    let mut keys = ConditionKeys::new();
    keys.set("kms:KeySpec", k.key_spec.as_str());
    keys.set("kms:KeyUsage", k.key_usage.as_str());
    keys.set("kms:KeyOrigin", k.origin.as_str());
    keys.set("kms:MultiRegion", "true");
    keys.set("kms:MultiRegionKeyType", "REPLICA");
    keys.set(
        "kms:BypassPolicyLockoutSafetyCheck",
        (input.bypass_policy_lockout_safety_check == Some(true)).to_string(),
    );
    keys.set("kms:CallerAccount", c.caller.account_id.clone());
    super::keys::request_tag_keys(&mut keys, input.tags.as_deref().unwrap_or_default());
    pc.authorize_identity_with("CreateKey", keys.clone())?;
    if !tags.is_empty() {
        pc.authorize_identity_with("TagResource", keys)?;
    }
    let t = now(c.cfg);
    view.replica_regions.push(region.to_owned());
    let external = k.origin == Origin::External;
    let mut replica = KeyRecord {
        id: k.id.clone(),
        created: t,
        description: description.to_owned(),
        key_usage: k.key_usage,
        key_spec: k.key_spec,
        origin: k.origin,
        state: if external {
            KeyState::PendingImport
        } else {
            KeyState::Enabled
        },
        deletion_date: None,
        key_manager: "CUSTOMER".into(),
        policy: policy::default_policy(&c.cfg.account_id),
        tags,
        rotation_enabled: k.rotation_enabled,
        rotation_period_days: k.rotation_period_days,
        last_rotation: k.last_rotation,
        current_version: k.current_version,
        rotations: k.rotations.clone(),
        valid_to: None,
        expiration_model: None,
        imported_hash: k.imported_hash.clone(),
        import_params: None,
        multi_region: Some(view.clone()),
        pending_window_days: None,
        custom_key_store_id: None,
        xks_key_id: None,
    };
    if let Some(p) = input.policy.as_deref() {
        let doc = policy::parse(p).map_err(KmsError::MalformedPolicyDocument)?;
        pc.lockout_check(&replica, &doc, input.bypass_policy_lockout_safety_check)?;
        p.clone_into(&mut replica.policy);
    }
    peer.store.put_key(&replica)?;
    if !external {
        for v in 1..=k.current_version {
            if let Some(m) = c.store.material(&k.id, v)? {
                peer.store.put_material(&k.id, v, &m)?;
            }
        }
    }
    c.write_view(&k.id, &view)?;
    let metadata = pc.metadata(&replica);
    // The replica region's log records the new key as CreateKey.
    let mut create_params = serde_json::to_value(input).map_err(|_| KmsError::Internal)?;
    create_params["MultiRegion"] = Value::Bool(true);
    let created = json!({ "KeyMetadata": metadata });
    peer.events.borrow_mut().push(kms_event::audit_event(
        Operation::CreateKey,
        c.caller,
        kms_event::request_parameters(Operation::CreateKey, &create_params),
        Some(&replica_arn),
        Ok(kms_event::response_elements(
            Operation::CreateKey,
            &created,
            &c.cfg.account_id,
        )),
        None,
    ));
    let replica_tags: Vec<Value> = replica
        .tags
        .iter()
        .map(|(a, b)| json!({"TagKey": a, "TagValue": b}))
        .collect();
    Ok(json!({
        "ReplicaKeyMetadata": metadata,
        "ReplicaPolicy": replica.policy,
        "ReplicaTags": replica_tags,
    }))
}

/// UpdatePrimaryRegion: the replica in `PrimaryRegion` becomes the primary and this
/// region's primary one of its replicas, as every related key records it.
pub(super) fn update_primary_region(
    c: &mut Ctx<'_>,
    op: &str,
    input: &UpdatePrimaryRegionInput,
) -> Result<Value, KmsError> {
    let k = c.managed_key(op, &input.key_id)?;
    let region = input.primary_region.as_str();
    let view = primary_here(c, &k)?;
    c.not_pending_deletion(&k)?;
    if region == c.cfg.region {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is already the primary key.",
            c.key_arn(&k.id)
        )));
    }
    let new_arn = c.arn_in(region, &k.id);
    let missing = || KmsError::NotFound(format!("Key '{new_arn}' does not exist"));
    if !view.replica_regions.iter().any(|r| r == region) {
        return Err(missing());
    }
    let peer = c.peer(region).ok_or_else(missing)?;
    let replica = peer.store.key(&k.id)?.ok_or_else(missing)?;
    let pc = peer.ctx(c.caller);
    pc.authorize(&replica, op, None, &BTreeMap::new())?;
    pc.not_pending_deletion(&replica)?;
    let mut replicas: Vec<String> = view
        .replica_regions
        .iter()
        .filter(|r| *r != region)
        .cloned()
        .collect();
    replicas.push(c.cfg.region.clone());
    c.write_view(
        &k.id,
        &MultiRegion {
            primary_region: region.to_owned(),
            replica_regions: replicas,
        },
    )?;
    // Both regions' logs record the change.
    peer.events.borrow_mut().push(kms_event::audit_event(
        Operation::UpdatePrimaryRegion,
        c.caller,
        kms_event::request_parameters(
            Operation::UpdatePrimaryRegion,
            &json!({"KeyId": input.key_id, "PrimaryRegion": input.primary_region}),
        ),
        Some(&new_arn),
        Ok(Value::Null),
        None,
    ));
    Ok(json!({}))
}
