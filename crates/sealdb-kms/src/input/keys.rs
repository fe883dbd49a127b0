//! Inputs of the key lifecycle operations.

use super::{KmsInput, Paging, Tag, Violations};
use serde::Deserialize;

/// KeySpec (AWS's enum, some of which this service does not make).
pub(crate) const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

/// CustomerMasterKeySpec, the deprecated name of KeySpec.
const CUSTOMER_MASTER_KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
];

const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];

const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// A key policy (PolicyType: 1 to 131072 characters).
pub(crate) fn check_policy(v: &mut Violations, policy: Option<&str>) {
    if let Some(p) = policy
        && (p.is_empty() || p.chars().count() > 131_072)
    {
        v.push(
            "Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 131072 and greater than or equal to 1",
        );
    }
}

/// A description (DescriptionType: at most 8192 characters; AWS does not quote it).
pub(crate) fn check_description(v: &mut Violations, description: Option<&str>) {
    if description.is_some_and(|d| d.chars().count() > 8192) {
        v.push(
            "Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
        );
    }
}

/// CreateKey.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateKeyInput {
    pub(crate) policy: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) key_usage: Option<String>,
    pub(crate) customer_master_key_spec: Option<String>,
    pub(crate) key_spec: Option<String>,
    pub(crate) origin: Option<String>,
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
    pub(crate) tags: Option<Vec<Tag>>,
    pub(crate) multi_region: Option<bool>,
    pub(crate) xks_key_id: Option<String>,
}

impl KmsInput for CreateKeyInput {
    fn check(&self, v: &mut Violations) {
        check_policy(v, self.policy.as_deref());
        check_description(v, self.description.as_deref());
        v.one_of("KeyUsage", self.key_usage.as_deref(), KEY_USAGES);
        v.one_of(
            "CustomerMasterKeySpec",
            self.customer_master_key_spec.as_deref(),
            CUSTOMER_MASTER_KEY_SPECS,
        );
        v.one_of("KeySpec", self.key_spec.as_deref(), KEY_SPECS);
        v.one_of("Origin", self.origin.as_deref(), ORIGINS);
        v.length(
            "CustomKeyStoreId",
            self.custom_key_store_id.as_deref(),
            1,
            64,
        );
        v.length("XksKeyId", self.xks_key_id.as_deref(), 1, 128);
    }
}

/// DescribeKey.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeKeyInput {
    pub(crate) key_id: String,
    pub(crate) grant_tokens: Option<Vec<String>>,
}

impl KmsInput for DescribeKeyInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.grant_tokens(&self.grant_tokens);
    }
}

/// ListKeys.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListKeysInput {
    #[serde(flatten)]
    pub(crate) paging: Paging,
}

impl KmsInput for ListKeysInput {
    fn check(&self, v: &mut Violations) {
        self.paging.check(v, 1000);
    }
}

/// UpdateKeyDescription.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateKeyDescriptionInput {
    pub(crate) key_id: String,
    pub(crate) description: String,
}

impl KmsInput for UpdateKeyDescriptionInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "Description"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        check_description(v, Some(&self.description));
    }
}

/// ScheduleKeyDeletion.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScheduleKeyDeletionInput {
    pub(crate) key_id: String,
    pub(crate) pending_window_in_days: Option<i64>,
}

impl KmsInput for ScheduleKeyDeletionInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        // KMS's own window (the model allows 1 to 365).
        v.range("PendingWindowInDays", self.pending_window_in_days, 7, 30);
    }
}
