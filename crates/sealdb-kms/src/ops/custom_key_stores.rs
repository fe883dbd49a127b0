//! The custom key store operations: Create, Describe, Update, Connect, Disconnect and
//! Delete (CustomKeyStore), authorized by IAM policy alone as in AWS (a store has no
//! resource policy), with AWS's connection-state rules.

use super::*;
use crate::custom_key_store::{ConnectionState, StoreRecord, StoreType, new_store_id};

fn not_found(id_or_name: &str) -> KmsError {
    KmsError::CustomKeyStoreNotFound(format!(
        "Custom key store {id_or_name} does not exist in this account and Region."
    ))
}

pub(super) fn name_in_use(name: &str) -> KmsError {
    KmsError::CustomKeyStoreNameInUse(format!(
        "A custom key store with name {name} already exists in this account and Region."
    ))
}

impl Ctx<'_> {
    /// The store `id`, or CustomKeyStoreNotFoundException.
    pub(super) fn custom_key_store(&self, id: &str) -> Result<StoreRecord, KmsError> {
        self.store
            .custom_key_store(id)?
            .ok_or_else(|| not_found(id))
    }

    fn connection_state(&self, id: &str) -> ConnectionState {
        self.cks.state(id).0
    }

    /// Refuses a cluster that is not configured, or that another store (other than
    /// `except`) uses: by id, or by naming the same token.
    fn free_cluster(&self, cluster_id: &str, except: Option<&str>) -> Result<(), KmsError> {
        let Some(token) = self.cks.cluster(cluster_id) else {
            return Err(KmsError::CloudHsmClusterNotFound(format!(
                "CloudHSM cluster {cluster_id} was not found: no PKCS#11 token is configured for it (--cloudhsm-cluster)."
            )));
        };
        for other in self.store.custom_key_stores()? {
            if Some(other.id.as_str()) == except {
                continue;
            }
            let Some(theirs) = other.cluster_id.as_deref() else {
                continue;
            };
            if theirs == cluster_id || self.cks.cluster(theirs).as_ref() == Some(&token) {
                return Err(KmsError::CloudHsmClusterInUse(format!(
                    "CloudHSM cluster {cluster_id} is already associated with custom key store {}.",
                    other.id
                )));
            }
        }
        Ok(())
    }

    pub(super) fn name_taken(&self, name: &str, except: Option<&str>) -> Result<bool, KmsError> {
        Ok(self
            .store
            .custom_key_stores()?
            .iter()
            .any(|s| s.name == name && Some(s.id.as_str()) != except))
    }

    fn store_entry(&self, s: &StoreRecord) -> Value {
        let (state, code) = self.cks.state(&s.id);
        let mut e = json!({
            "CustomKeyStoreId": s.id,
            "CustomKeyStoreName": s.name,
            "CustomKeyStoreType": s.store_type.as_str(),
            "ConnectionState": state.as_str(),
            "CreationDate": s.created,
        });
        if let Some(c) = &s.cluster_id {
            e["CloudHsmClusterId"] = json!(c);
        }
        if let Some(t) = &s.trust_anchor {
            e["TrustAnchorCertificate"] = json!(t);
        }
        if let Some(x) = &s.xks {
            e["XksProxyConfiguration"] = x.describe();
        }
        if let Some(code) = code {
            e["ConnectionErrorCode"] = json!(code.as_str());
        }
        e
    }
}

/// AWS's rule for UpdateCustomKeyStore: a store may change only while DISCONNECTED, but its
/// name (and for an external store its credential) also while CONNECTED. `restricted` says
/// the update touches more than those; `what` names it in the refusal.
pub(super) fn may_update(
    store_id: &str,
    state: ConnectionState,
    restricted: bool,
    what: &str,
) -> Result<(), KmsError> {
    let allowed = match state {
        ConnectionState::Disconnected => true,
        ConnectionState::Connected => !restricted,
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    Err(KmsError::CustomKeyStoreInvalidState(format!(
        "Custom key store {store_id} is {}: disconnect it before updating {}.",
        state.as_str(),
        if restricted { what } else { "it" }
    )))
}

/// KMSInvalidStateException for a key whose custom key store is not connected (either type).
pub(super) fn store_unavailable(c: &Ctx<'_>, k: &KeyRecord, store_id: &str) -> KmsError {
    let (state, _) = c.cks.state(store_id);
    KmsError::InvalidState(format!(
        "{} is unavailable: its custom key store {store_id} is {}.",
        c.key_arn(&k.id),
        state.as_str()
    ))
}

/// The key id's 16 bytes, bound into the blobs of keys in custom key stores.
pub(super) fn key_id_bytes(k: &KeyRecord) -> Result<[u8; 16], KmsError> {
    uuid::Uuid::parse_str(&k.id)
        .map(|u| *u.as_bytes())
        .map_err(|_| KmsError::Internal)
}

fn required(member: &str, value: Option<&str>) -> Result<(), KmsError> {
    if value.is_none() {
        return Err(KmsError::Validation(format!(
            "{member} is required for custom key stores of type AWS_CLOUDHSM."
        )));
    }
    Ok(())
}

fn no_xks(xks: &XksMembers) -> Result<(), KmsError> {
    if xks.any() {
        return Err(KmsError::Validation(
            "XKS proxy parameters are not valid for a custom key store of type AWS_CLOUDHSM."
                .into(),
        ));
    }
    Ok(())
}

/// CreateCustomKeyStore.
pub(super) fn create(
    c: &mut Ctx<'_>,
    input: &CreateCustomKeyStoreInput,
) -> Result<Value, KmsError> {
    c.authorize_identity("CreateCustomKeyStore")?;
    if input.custom_key_store_type.as_deref() == Some("EXTERNAL_KEY_STORE") {
        return super::xks_stores::create(c, input);
    }
    no_xks(&input.xks)?;
    let cluster = input.cloud_hsm_cluster_id.as_deref();
    required("CloudHsmClusterId", cluster)?;
    required(
        "TrustAnchorCertificate",
        input.trust_anchor_certificate.as_deref(),
    )?;
    let password = input.key_store_password.as_ref().ok_or_else(|| {
        KmsError::Validation(
            "KeyStorePassword is required for custom key stores of type AWS_CLOUDHSM.".into(),
        )
    })?;
    let cluster = cluster.unwrap_or_default();
    if c.name_taken(&input.custom_key_store_name, None)? {
        return Err(name_in_use(&input.custom_key_store_name));
    }
    c.free_cluster(cluster, None)?;
    let rec = StoreRecord {
        v: crate::custom_key_store::STORE_RECORD_V1,
        id: new_store_id()?,
        name: input.custom_key_store_name.clone(),
        store_type: StoreType::AwsCloudHsm,
        created: now(c.cfg),
        cluster_id: Some(cluster.to_owned()),
        trust_anchor: input.trust_anchor_certificate.clone(),
        connect_requested: false,
        xks: None,
    };
    c.store.put_custom_key_store(&rec, Some(&password.0))?;
    Ok(json!({ "CustomKeyStoreId": rec.id }))
}

/// DescribeCustomKeyStores.
pub(super) fn describe(
    c: &mut Ctx<'_>,
    input: &DescribeCustomKeyStoresInput,
) -> Result<Value, KmsError> {
    c.authorize_identity("DescribeCustomKeyStores")?;
    let all = c.store.custom_key_stores()?;
    let chosen: Vec<StoreRecord> = match (&input.custom_key_store_id, &input.custom_key_store_name)
    {
        (Some(_), Some(_)) => {
            return Err(KmsError::Validation(
                "You cannot specify both CustomKeyStoreId and CustomKeyStoreName.".into(),
            ));
        }
        (Some(id), None) => vec![
            all.into_iter()
                .find(|s| &s.id == id)
                .ok_or_else(|| not_found(id))?,
        ],
        (None, Some(name)) => vec![
            all.into_iter()
                .find(|s| &s.name == name)
                .ok_or_else(|| not_found(name))?,
        ],
        (None, None) => all,
    };
    let entries: Vec<Value> = chosen.iter().map(|s| c.store_entry(s)).collect();
    let (page, next) = page(entries, &input.paging, 1000)?;
    let mut out = json!({"CustomKeyStores": page, "Truncated": next.is_some()});
    if let Some(n) = next {
        out["NextMarker"] = Value::from(n);
    }
    Ok(out)
}

/// UpdateCustomKeyStore: the name in any of CONNECTED and DISCONNECTED; the password
/// and the cluster only while DISCONNECTED.
pub(super) fn update(
    c: &mut Ctx<'_>,
    input: &UpdateCustomKeyStoreInput,
) -> Result<Value, KmsError> {
    c.authorize_identity("UpdateCustomKeyStore")?;
    let mut rec = c.custom_key_store(&input.custom_key_store_id)?;
    if rec.store_type == StoreType::ExternalKeyStore {
        return super::xks_stores::update(c, input, rec);
    }
    no_xks(&input.xks)?;
    let state = c.connection_state(&rec.id);
    let other_than_name =
        input.key_store_password.is_some() || input.cloud_hsm_cluster_id.is_some();
    may_update(&rec.id, state, other_than_name, "its password or cluster")?;
    if let Some(name) = &input.new_custom_key_store_name {
        if c.name_taken(name, Some(&rec.id))? {
            return Err(name_in_use(name));
        }
        rec.name.clone_from(name);
    }
    if let Some(cluster) = &input.cloud_hsm_cluster_id
        && rec.cluster_id.as_deref() != Some(cluster)
    {
        c.free_cluster(cluster, Some(&rec.id))?;
        // A "related" cluster shares the store's key material: the same token.
        let current = rec.cluster_id.as_deref().and_then(|id| c.cks.cluster(id));
        if current.is_some() && current != c.cks.cluster(cluster) {
            return Err(KmsError::CloudHsmClusterNotRelated(format!(
                "CloudHSM cluster {cluster} is not related to the cluster of custom key store {}: it holds other key material.",
                rec.id
            )));
        }
        rec.cluster_id = Some(cluster.clone());
    }
    c.store
        .put_custom_key_store(&rec, input.key_store_password.as_ref().map(|p| &p.0))?;
    Ok(json!({}))
}

/// ConnectCustomKeyStore: answers at once; the store is CONNECTING until the token
/// login or the proxy's health check ends (CONNECTED or FAILED).
pub(super) fn connect(c: &mut Ctx<'_>, input: &CustomKeyStoreIdInput) -> Result<Value, KmsError> {
    c.authorize_identity("ConnectCustomKeyStore")?;
    let mut rec = c.custom_key_store(&input.custom_key_store_id)?;
    match c.connection_state(&rec.id) {
        ConnectionState::Connected | ConnectionState::Connecting => return Ok(json!({})),
        ConnectionState::Failed => {
            return Err(KmsError::CustomKeyStoreInvalidState(format!(
                "Custom key store {} is FAILED: disconnect it (DisconnectCustomKeyStore) before connecting it again.",
                rec.id
            )));
        }
        ConnectionState::Disconnected => {}
    }
    let secret = c
        .store
        .custom_key_store_password(&rec.id)?
        .ok_or(KmsError::Internal)?;
    rec.connect_requested = true;
    c.store.put_custom_key_store(&rec, None)?;
    let target = crate::custom_key_store::target(&rec, secret, &c.cfg.region);
    c.cks.connect(&rec.id, target);
    Ok(json!({}))
}

/// DisconnectCustomKeyStore.
pub(super) fn disconnect(
    c: &mut Ctx<'_>,
    input: &CustomKeyStoreIdInput,
) -> Result<Value, KmsError> {
    c.authorize_identity("DisconnectCustomKeyStore")?;
    let mut rec = c.custom_key_store(&input.custom_key_store_id)?;
    if c.connection_state(&rec.id) == ConnectionState::Disconnected {
        return Err(KmsError::CustomKeyStoreInvalidState(format!(
            "Custom key store {} is already DISCONNECTED.",
            rec.id
        )));
    }
    rec.connect_requested = false;
    c.store.put_custom_key_store(&rec, None)?;
    c.cks.disconnect(&rec.id);
    Ok(json!({}))
}

/// DeleteCustomKeyStore: only a DISCONNECTED store without KMS keys.
pub(super) fn delete(c: &mut Ctx<'_>, input: &CustomKeyStoreIdInput) -> Result<Value, KmsError> {
    c.authorize_identity("DeleteCustomKeyStore")?;
    let rec = c.custom_key_store(&input.custom_key_store_id)?;
    let state = c.connection_state(&rec.id);
    if state != ConnectionState::Disconnected {
        return Err(KmsError::CustomKeyStoreInvalidState(format!(
            "Custom key store {} is {}: disconnect it before deleting it.",
            rec.id,
            state.as_str()
        )));
    }
    let keys = c
        .store
        .keys()?
        .into_iter()
        .filter(|k| k.custom_key_store_id.as_deref() == Some(rec.id.as_str()))
        .count();
    if keys > 0 {
        return Err(KmsError::CustomKeyStoreHasCmks(format!(
            "Custom key store {} contains {keys} KMS key(s). Schedule their deletion (ScheduleKeyDeletion) and wait for it before deleting the store.",
            rec.id
        )));
    }
    c.store.delete_custom_key_store(&rec.id)?;
    Ok(json!({}))
}
