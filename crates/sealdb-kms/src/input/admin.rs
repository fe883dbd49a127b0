//! Inputs of key administration: rotation, tags, key policies, imported material and
//! multi-Region keys.

use super::keys::{check_description, check_policy};
use super::{Blob, KmsInput, Paging, Tag, Violations, blob_length};
use serde::{Deserialize, Serialize};

/// EnableKeyRotation.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EnableKeyRotationInput {
    pub(crate) key_id: String,
    pub(crate) rotation_period_in_days: Option<i64>,
}

impl KmsInput for EnableKeyRotationInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.range(
            "RotationPeriodInDays",
            self.rotation_period_in_days,
            90,
            2560,
        );
    }
}

/// A list operation on one key: ListKeyRotations, ListResourceTags, ListKeyPolicies.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyListInput {
    pub(crate) key_id: String,
    #[serde(flatten)]
    pub(crate) paging: Paging,
}

impl KmsInput for KeyListInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        self.paging.check(v, 1000);
    }
}

/// TagResource.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagResourceInput {
    pub(crate) key_id: String,
    pub(crate) tags: Vec<Tag>,
}

impl KmsInput for TagResourceInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "Tags"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
    }
}

/// UntagResource.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagResourceInput {
    pub(crate) key_id: String,
    pub(crate) tag_keys: Vec<String>,
}

impl KmsInput for UntagResourceInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "TagKeys"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
    }
}

/// GetKeyPolicy.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetKeyPolicyInput {
    pub(crate) key_id: String,
    pub(crate) policy_name: Option<String>,
}

impl KmsInput for GetKeyPolicyInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.length("PolicyName", self.policy_name.as_deref(), 1, 128);
    }
}

/// PutKeyPolicy.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutKeyPolicyInput {
    pub(crate) key_id: String,
    pub(crate) policy_name: Option<String>,
    pub(crate) policy: String,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
}

impl KmsInput for PutKeyPolicyInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "Policy"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.length("PolicyName", self.policy_name.as_deref(), 1, 128);
        // Over 32 KB is KMS's LimitExceededException, answered by the operation.
        check_policy(v, Some(&self.policy));
    }
}

const WRAPPING_ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];

const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];

const EXPIRATION_MODELS: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];

/// GetParametersForImport.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersForImportInput {
    pub(crate) key_id: String,
    pub(crate) wrapping_algorithm: String,
    pub(crate) wrapping_key_spec: String,
}

impl KmsInput for GetParametersForImportInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "WrappingAlgorithm", "WrappingKeySpec"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.one_of(
            "WrappingAlgorithm",
            Some(&self.wrapping_algorithm),
            WRAPPING_ALGORITHMS,
        );
        v.one_of(
            "WrappingKeySpec",
            Some(&self.wrapping_key_spec),
            WRAPPING_KEY_SPECS,
        );
    }
}

/// ImportKeyMaterial.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImportKeyMaterialInput {
    pub(crate) key_id: String,
    pub(crate) import_token: Blob,
    pub(crate) encrypted_key_material: Blob,
    pub(crate) valid_to: Option<f64>,
    pub(crate) expiration_model: Option<String>,
}

impl KmsInput for ImportKeyMaterialInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "ImportToken", "EncryptedKeyMaterial"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        blob_length(v, "importToken", Some(self.import_token.0.len()), 6144);
        blob_length(
            v,
            "encryptedKeyMaterial",
            Some(self.encrypted_key_material.0.len()),
            6144,
        );
        v.one_of(
            "ExpirationModel",
            self.expiration_model.as_deref(),
            EXPIRATION_MODELS,
        );
    }
}

/// DeleteImportedKeyMaterial.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteImportedKeyMaterialInput {
    pub(crate) key_id: String,
    pub(crate) key_material_id: Option<String>,
}

impl KmsInput for DeleteImportedKeyMaterialInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.length("KeyMaterialId", self.key_material_id.as_deref(), 64, 64);
    }
}

/// AWS's RegionType: `^([a-z]+-){2,3}\d+$`, 1 to 32 characters.
fn check_region(v: &mut Violations, member: &str, region: &str) {
    let parts: Vec<&str> = region.split('-').collect();
    let (last, words) = parts.split_last().unwrap_or((&"", &[]));
    let ok = region.len() <= 32
        && (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        v.push(format!(
            "Value '{region}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){{2,3}}\\d+$",
            super::lower_camel(member)
        ));
    }
}

/// ReplicateKey. Serializable: the replica region's log records it as a CreateKey.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReplicateKeyInput {
    pub(crate) key_id: String,
    pub(crate) replica_region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tags: Option<Vec<Tag>>,
}

impl KmsInput for ReplicateKeyInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "ReplicaRegion"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        check_region(v, "ReplicaRegion", &self.replica_region);
        check_policy(v, self.policy.as_deref());
        check_description(v, self.description.as_deref());
    }
}

/// UpdatePrimaryRegion.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdatePrimaryRegionInput {
    pub(crate) key_id: String,
    pub(crate) primary_region: String,
}

impl KmsInput for UpdatePrimaryRegionInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "PrimaryRegion"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        check_region(v, "PrimaryRegion", &self.primary_region);
    }
}

/// CreateAlias and UpdateAlias.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AliasInput {
    pub(crate) alias_name: String,
    pub(crate) target_key_id: String,
}

impl KmsInput for AliasInput {
    const REQUIRED: &'static [&'static str] = &["AliasName", "TargetKeyId"];
    fn check(&self, v: &mut Violations) {
        // The alias name's form is checked by the operation (InvalidAliasNameException).
        v.key_id("TargetKeyId", Some(&self.target_key_id));
    }
}

/// DeleteAlias.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteAliasInput {
    pub(crate) alias_name: String,
}

impl KmsInput for DeleteAliasInput {
    const REQUIRED: &'static [&'static str] = &["AliasName"];
}

/// ListAliases.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAliasesInput {
    pub(crate) key_id: Option<String>,
    #[serde(flatten)]
    pub(crate) paging: Paging,
}

impl KmsInput for ListAliasesInput {
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", self.key_id.as_deref());
        // KMS lists at most 100 aliases a page.
        self.paging.check(v, 100);
    }
}
