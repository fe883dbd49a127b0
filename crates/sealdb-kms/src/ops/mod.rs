//! The KMS operations: the context of one call (key resolution, authorization, key
//! state checks) and the dispatch to the files of each group of operations.

mod admin;
mod aliases;
mod asymmetric;
mod authz;
mod cloudhsm_keys;
mod crypt;
mod custom_key_stores;
mod grants;
mod import_material;
mod keys;
mod multi_region;
mod xks_keys;
mod xks_stores;

use crate::input::*;
use admin::{TagChange, parse_tags};
use asymmetric::mac_algorithm;
pub(crate) use crypt::{decrypt_blob, encrypt_symmetric, new_data_key, re_encrypt_blob};
use grants::GrantShape;
pub(crate) use grants::{NewGrant, add_grant, end_grant};
pub(crate) use keys::described_key;
use keys::page;

use crate::KmsConfig;
use crate::asym;
use crate::crypto;
use crate::error::{KmsError, validation};
use crate::operation::Operation;
use crate::policy::{self, PolicyCache, Verdict};
use crate::regions::{DueWork, Peer, note_due};
use crate::store::{
    Alias, Grant, KeyRecord, KeySpec, KeyState, KeyUsage, MultiRegion, Origin, Rotation, Store,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealdb_common::Principal;
use sealdb_iam::{Authorizer, ConditionKeys, RequestContext};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const DAY: f64 = 86_400.0;
const DYNAMODB_ALIAS: &str = "alias/aws/dynamodb";
const DYNAMODB_KEY_DESCRIPTION: &str =
    "Default key that protects my DynamoDB data when no other key is defined";

/// What one call works with.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a Store,
    pub(crate) cfg: &'a KmsConfig,
    pub(crate) caller: &'a Principal,
    pub(crate) via_service: Option<String>,
    /// The key ARN the call acted on (for the audit record).
    pub(crate) resource: Option<String>,
    /// Evaluates key policies (with the caller's identity policies).
    pub(crate) authorizer: &'a Authorizer,
    /// Parsed key policies.
    pub(crate) policies: &'a PolicyCache,
    /// The alias the request named the key by (`kms:RequestAlias`).
    pub(crate) request_alias: Option<String>,
    /// The locked key stores of the other regions of a multi-Region key (empty for
    /// every other call).
    pub(crate) peers: &'a [Peer<'a>],
    /// Multi-Region work found due, run after the call.
    pub(crate) due: &'a std::sync::Mutex<Vec<DueWork>>,
    /// Custom key stores' connections (and the configured clusters).
    pub(crate) cks: &'a std::sync::Arc<crate::custom_key_store::Connections>,
    /// The KMS operation of the call (named to XKS proxies in requestMetadata).
    pub(crate) operation: &'static str,
}

fn now(cfg: &KmsConfig) -> f64 {
    cfg.clock.now_epoch_seconds_f64()
}

impl Ctx<'_> {
    pub(crate) fn key_arn(&self, id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{id}",
            self.cfg.region, self.cfg.account_id
        )
    }

    fn alias_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:{name}",
            self.cfg.region, self.cfg.account_id
        )
    }

    fn not_found_key(&self, id: &str) -> KmsError {
        KmsError::NotFound(format!("Key '{}' does not exist", self.key_arn(id)))
    }

    /// Deletes keys whose deletion window has passed. Multi-Region keys are only noted:
    /// their deletion and rotation change the other regions' keys too.
    pub(crate) fn purge_deleted_keys(&self) -> Result<(), KmsError> {
        let t = now(self.cfg);
        for mut k in self.store.keys()? {
            let deletion_due =
                k.state == KeyState::PendingDeletion && k.deletion_date.is_some_and(|d| d <= t);
            if let Some(mr) = &k.multi_region {
                if deletion_due {
                    note_due(self.due, DueWork::Delete(k.id.clone()));
                } else if mr.primary_region == self.cfg.region && self.rotation_due(&k) {
                    note_due(self.due, DueWork::Rotate(k.id.clone()));
                }
                if deletion_due {
                    continue;
                }
            }
            if deletion_due {
                cloudhsm_keys::destroy_backing_key(self, &k);
                self.store.delete_key(&k.id)?;
            } else if k.valid_to.is_some_and(|v| v <= t) && k.origin == Origin::External {
                // Expired imported material: gone, as if deleted.
                self.store.delete_material(&k.id, 1)?;
                k.valid_to = None;
                if k.state != KeyState::PendingDeletion {
                    k.state = KeyState::PendingImport;
                }
                self.store.put_key(&k)?;
            }
        }
        Ok(())
    }

    /// Resolves a key identifier. `aliases` says whether alias names/ARNs are accepted.
    fn resolve(&mut self, id: &str, aliases: bool) -> Result<KeyRecord, KmsError> {
        let prefix = format!("arn:aws:kms:{}:{}:", self.cfg.region, self.cfg.account_id);
        let rest = if let Some(r) = id.strip_prefix(&prefix) {
            r
        } else if let Some(r) = id.strip_prefix("arn:") {
            let region = r.split(':').nth(2).unwrap_or("");
            return Err(KmsError::NotFound(format!("Invalid arn {region}")));
        } else {
            id
        };
        let key_id = if let Some(k) = rest.strip_prefix("key/") {
            k.to_owned()
        } else if rest.starts_with("alias/") {
            if !aliases {
                return Err(KmsError::NotFound(format!("Invalid keyId {id}")));
            }
            self.request_alias = Some(rest.to_owned());
            match self.store.alias(rest)? {
                Some(Alias {
                    key_id: Some(k), ..
                }) => k,
                _ if rest == DYNAMODB_ALIAS => self.create_managed_dynamodb_key()?,
                _ => {
                    return Err(KmsError::NotFound(format!(
                        "Alias {} is not found.",
                        self.alias_arn(rest)
                    )));
                }
            }
        } else {
            rest.to_owned()
        };
        if !multi_region::is_key_id(&key_id) {
            return Err(KmsError::NotFound(format!("Invalid keyId {id}")));
        }
        let k = self
            .live_key(&key_id)?
            .ok_or_else(|| self.not_found_key(&key_id))?;
        self.resource = Some(self.key_arn(&k.id));
        Ok(k)
    }

    /// The key `id`, unless its deletion is due: a multi-Region key is deleted right
    /// after the call that finds it due, and is already gone for that call.
    fn live_key(&self, id: &str) -> Result<Option<KeyRecord>, KmsError> {
        let t = now(self.cfg);
        Ok(self.store.key(id)?.filter(|k| {
            k.state != KeyState::PendingDeletion || k.deletion_date.is_none_or(|d| d > t)
        }))
    }

    /// The AWS managed key of DynamoDB, created the first time something asks for it.
    fn create_managed_dynamodb_key(&self) -> Result<String, KmsError> {
        let id = uuid::Uuid::new_v4().to_string();
        let t = now(self.cfg);
        let rec = KeyRecord {
            id: id.clone(),
            created: t,
            description: DYNAMODB_KEY_DESCRIPTION.into(),
            key_usage: KeyUsage::EncryptDecrypt,
            key_spec: KeySpec::SymmetricDefault,
            origin: Origin::AwsKms,
            state: KeyState::Enabled,
            deletion_date: None,
            key_manager: "AWS".into(),
            policy: policy::dynamodb_managed_policy(&self.cfg.account_id, &self.cfg.region),
            tags: Vec::new(),
            rotation_enabled: true,
            rotation_period_days: 365,
            last_rotation: t,
            current_version: 1,
            rotations: Vec::new(),
            valid_to: None,
            expiration_model: None,
            imported_hash: None,
            import_params: None,
            multi_region: None,
            pending_window_days: None,
            custom_key_store_id: None,
            xks_key_id: None,
        };
        self.store.put_key(&rec)?;
        self.store.put_material(&id, 1, &crypto::random(32)?)?;
        self.store.put_alias(&Alias {
            name: DYNAMODB_ALIAS.into(),
            key_id: Some(id.clone()),
            created: t,
            updated: t,
        })?;
        Ok(id)
    }

    /// The key `key_id` names (a key id or ARN, not an alias) once the caller may do
    /// `kms:<action>` with it: how every key management operation begins.
    fn managed_key(&mut self, action: &str, key_id: &str) -> Result<KeyRecord, KmsError> {
        let k = self.resolve(key_id, false)?;
        self.authorize(&k, action, None, &BTreeMap::new())?;
        Ok(k)
    }

    /// The key must be Enabled for cryptographic use.
    fn usable(&self, key: &KeyRecord) -> Result<(), KmsError> {
        let arn = self.key_arn(&key.id);
        match key.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::Disabled(format!("{arn} is disabled."))),
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{arn} is pending deletion."
            ))),
            KeyState::PendingImport => {
                Err(KmsError::InvalidState(format!("{arn} is pending import.")))
            }
            KeyState::PendingReplicaDeletion => Err(KmsError::InvalidState(format!(
                "{arn} is pending replica deletion."
            ))),
        }
    }

    fn not_pending_deletion(&self, key: &KeyRecord) -> Result<(), KmsError> {
        match key.state {
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                self.key_arn(&key.id)
            ))),
            KeyState::PendingReplicaDeletion => Err(KmsError::InvalidState(format!(
                "{} is pending replica deletion.",
                self.key_arn(&key.id)
            ))),
            _ => Ok(()),
        }
    }

    fn symmetric(&self, key: &KeyRecord) -> Result<(), KmsError> {
        if key.key_spec != KeySpec::SymmetricDefault || key.key_usage != KeyUsage::EncryptDecrypt {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is {} which is not valid for this operation.",
                self.key_arn(&key.id),
                key.key_usage
            )));
        }
        Ok(())
    }

    /// The key state as AWS shows it: a key in a custom key store that is not connected is
    /// `Unavailable` (unless pending deletion), and returns to its own state on reconnect.
    fn shown_state(&self, k: &KeyRecord) -> &'static str {
        let disconnected = k
            .custom_key_store_id
            .as_deref()
            .is_some_and(|store| self.cks.backend(store).is_none());
        match k.state {
            KeyState::Enabled | KeyState::Disabled if disconnected => "Unavailable",
            state => state.as_str(),
        }
    }

    fn metadata(&self, k: &KeyRecord) -> Value {
        let shown_state = self.shown_state(k);
        let mut m = json!({
            "AWSAccountId": self.cfg.account_id,
            "KeyId": k.id,
            "Arn": self.key_arn(&k.id),
            "CreationDate": k.created,
            "Enabled": shown_state == "Enabled",
            "Description": k.description,
            "KeyUsage": k.key_usage,
            "KeyState": shown_state,
            "Origin": k.origin,
            "KeyManager": k.key_manager,
            "CustomerMasterKeySpec": k.key_spec,
            "KeySpec": k.key_spec,
            "MultiRegion": k.multi_region.is_some(),
            "CurrentKeyMaterialId": material_id(&k.id, k.current_version),
        });
        if let Some(store_id) = &k.custom_key_store_id {
            m["CustomKeyStoreId"] = json!(store_id);
            if let Ok(Some(s)) = self.store.custom_key_store(store_id)
                && let Some(cluster) = s.cluster_id
            {
                m["CloudHsmClusterId"] = json!(cluster);
            }
            if let Some(x) = &k.xks_key_id {
                m["XksKeyConfiguration"] = json!({ "Id": x });
            }
        }
        if let Some(mr) = &k.multi_region {
            m["MultiRegionConfiguration"] = self.multi_region_configuration(&k.id, mr);
        }
        if let Some(days) = k.pending_window_days {
            m["PendingDeletionWindowInDays"] = json!(days);
        }
        if k.key_spec == KeySpec::SymmetricDefault {
            m["EncryptionAlgorithms"] = json!(["SYMMETRIC_DEFAULT"]);
        } else if let Some(alg) = mac_algorithm(k.key_spec.as_str()) {
            m["MacAlgorithms"] = json!([alg]);
        } else if k.key_usage == KeyUsage::EncryptDecrypt {
            m["EncryptionAlgorithms"] = json!(asym::RSA_ENCRYPTION_ALGORITHMS);
        } else {
            m["SigningAlgorithms"] = json!(asym::signing_algorithms(k.key_spec.as_str()));
        }
        if k.origin == Origin::External {
            if let Some(e) = &k.expiration_model {
                m["ExpirationModel"] = json!(e);
            }
            if let Some(v) = k.valid_to {
                m["ValidTo"] = json!(v);
            }
        }
        if let Some(d) = k.deletion_date {
            m["DeletionDate"] = json!(d);
        }
        m
    }

    fn material(&self, k: &KeyRecord, version: u32) -> Result<crypto::Material, KmsError> {
        self.store
            .material(&k.id, version)?
            .ok_or_else(|| KmsError::InvalidCiphertext(String::new()))
    }

    fn rotation_due(&self, k: &KeyRecord) -> bool {
        k.rotation_enabled
            && k.state == KeyState::Enabled
            && now(self.cfg) >= k.last_rotation + f64::from(k.rotation_period_days) * DAY
    }

    /// Rotates the key if its automatic rotation period has passed. A multi-Region key
    /// is rotated after the call, in every region at once (see `purge_deleted_keys`).
    fn rotate_if_due(&self, k: &mut KeyRecord) -> Result<(), KmsError> {
        if k.multi_region.is_none() && self.rotation_due(k) {
            self.rotate(k, false)?;
        }
        Ok(())
    }

    /// New material for the key; a multi-Region primary's goes to every replica too.
    fn rotate(&self, k: &mut KeyRecord, on_demand: bool) -> Result<(), KmsError> {
        let t = now(self.cfg);
        let v = k.current_version + 1;
        self.store.put_material(&k.id, v, &crypto::random(32)?)?;
        k.current_version = v;
        k.last_rotation = t;
        k.rotations.push(Rotation {
            version: v,
            date: t,
            on_demand,
        });
        self.store.put_key(k)?;
        self.share_with_replicas(k)
    }
}

/// `KeyMaterialId`: 64 hex characters naming one version of a key's material.
fn material_id(key_id: &str, version: u32) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{key_id}/{version}").as_bytes(),
    );
    hex::encode(d.as_ref())
}

/// Runs one parsed request.
pub(crate) fn dispatch(
    c: &mut Ctx<'_>,
    operation: Operation,
    request: &Request,
) -> Result<Value, KmsError> {
    use Request as R;
    let op = operation.name();
    match request {
        R::CreateKey(i) => keys::create_key(c, i),
        R::DescribeKey(i) => keys::describe_key(c, i),
        R::ListKeys(i) => keys::list_keys(c, i),
        R::UpdateKeyDescription(i) => keys::update_key_description(c, i),
        R::EnableKey(i) | R::DisableKey(i) => keys::enable_or_disable(c, op, i),
        R::ScheduleKeyDeletion(i) => keys::schedule_key_deletion(c, op, i),
        R::CancelKeyDeletion(i) => keys::cancel_key_deletion(c, op, i),
        R::CreateAlias(input) | R::UpdateAlias(input) => aliases::alias_write(c, op, input),
        R::DeleteAlias(input) => aliases::delete_alias(c, op, input),
        R::ListAliases(input) => aliases::list_aliases(c, input),
        R::Encrypt(input) => crypt::encrypt(c, input),
        R::Decrypt(input) => crypt::decrypt(c, input),
        R::ReEncrypt(input) => crypt::re_encrypt(c, input),
        R::GenerateDataKey(input) | R::GenerateDataKeyWithoutPlaintext(input) => {
            crypt::generate_data_key(c, op, input)
        }
        R::GenerateRandom(i) => crypt::generate_random(c, i),
        R::GenerateMac(i) | R::VerifyMac(VerifyMacInput(i)) => asymmetric::mac(c, op, i),
        R::EnableKeyRotation(i) => {
            admin::set_rotation(c, op, &i.key_id, Some(i.rotation_period_in_days))
        }
        R::DisableKeyRotation(i) => admin::set_rotation(c, op, &i.key_id, None),
        R::GetKeyRotationStatus(i) => admin::get_key_rotation_status(c, op, i),
        R::RotateKeyOnDemand(i) => admin::rotate_key_on_demand(c, op, i),
        R::ListKeyRotations(i) => admin::list_key_rotations(c, op, i),
        R::TagResource(i) => admin::tag_or_untag(c, op, &i.key_id, TagChange::Add(&i.tags)),
        R::UntagResource(i) => {
            admin::tag_or_untag(c, op, &i.key_id, TagChange::Remove(&i.tag_keys))
        }
        R::ListResourceTags(i) => admin::list_resource_tags(c, op, i),
        R::GetKeyPolicy(i) => admin::get_key_policy(c, op, i),
        R::PutKeyPolicy(i) => admin::put_key_policy(c, op, i),
        R::ListKeyPolicies(i) => admin::list_key_policies(c, op, i),
        R::CreateGrant(input) => grants::create_grant(c, input),
        R::ListGrants(input) => grants::list_grants(c, op, input),
        R::ListRetirableGrants(input) => grants::list_retirable_grants(c, input),
        R::RetireGrant(i) | R::RevokeGrant(RevokeGrantInput(i)) => {
            grants::retire_or_revoke(c, op, i)
        }
        R::GetPublicKey(input) => asymmetric::get_public_key(c, op, input),
        R::Sign(i) | R::Verify(VerifyInput(i)) => asymmetric::sign_or_verify(c, op, i),
        R::GenerateDataKeyPair(input) | R::GenerateDataKeyPairWithoutPlaintext(input) => {
            asymmetric::generate_data_key_pair(c, op, input)
        }
        R::GetParametersForImport(i) => import_material::get_parameters_for_import(c, op, i),
        R::ImportKeyMaterial(i) => import_material::import_key_material(c, op, i),
        R::ReplicateKey(i) => multi_region::replicate_key(c, op, i),
        R::UpdatePrimaryRegion(i) => multi_region::update_primary_region(c, op, i),
        R::DeleteImportedKeyMaterial(i) => import_material::delete_imported_key_material(c, op, i),
        R::CreateCustomKeyStore(i) => custom_key_stores::create(c, i),
        R::DescribeCustomKeyStores(i) => custom_key_stores::describe(c, i),
        R::UpdateCustomKeyStore(i) => custom_key_stores::update(c, i),
        R::ConnectCustomKeyStore(i) => custom_key_stores::connect(c, i),
        R::DisconnectCustomKeyStore(i) => custom_key_stores::disconnect(c, i),
        R::DeleteCustomKeyStore(i) => custom_key_stores::delete(c, i),
    }
}
