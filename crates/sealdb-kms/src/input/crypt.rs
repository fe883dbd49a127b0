//! Inputs of the cryptographic operations and of grants.

use super::{Blob, KmsInput, Paging, SecretBlob, Violations, blob_length};
use serde::Deserialize;
use std::collections::BTreeMap;

/// An encryption context: string keys to string values.
pub(crate) type Context = BTreeMap<String, String>;

const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

const DATA_KEY_SPECS: &[&str] = &["AES_256", "AES_128"];

const DATA_KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

const MAC_ALGORITHMS: &[&str] = &[
    "HMAC_SHA_224",
    "HMAC_SHA_256",
    "HMAC_SHA_384",
    "HMAC_SHA_512",
];

const SIGNING_ALGORITHMS: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];

const MESSAGE_TYPES: &[&str] = &["RAW", "DIGEST", "EXTERNAL_MU"];

/// Encrypt.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EncryptInput {
    pub(crate) key_id: String,
    pub(crate) plaintext: SecretBlob,
    #[serde(default)]
    pub(crate) encryption_context: Context,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) encryption_algorithm: Option<String>,
    pub(crate) dry_run: Option<bool>,
}

impl KmsInput for EncryptInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "Plaintext"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        blob_length(v, "plaintext", Some(self.plaintext.len()), 4096);
        v.grant_tokens(&self.grant_tokens);
        v.one_of(
            "EncryptionAlgorithm",
            self.encryption_algorithm.as_deref(),
            ENCRYPTION_ALGORITHMS,
        );
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// Decrypt. AWS's model no longer marks CiphertextBlob required (a Recipient may stand
/// in for it on AWS); without Recipient support it is required here.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DecryptInput {
    pub(crate) ciphertext_blob: Blob,
    #[serde(default)]
    pub(crate) encryption_context: Context,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) key_id: Option<String>,
    pub(crate) encryption_algorithm: Option<String>,
    pub(crate) dry_run: Option<bool>,
}

impl KmsInput for DecryptInput {
    const REQUIRED: &'static [&'static str] = &["CiphertextBlob"];
    fn check(&self, v: &mut Violations) {
        blob_length(
            v,
            "ciphertextBlob",
            Some(self.ciphertext_blob.0.len()),
            6144,
        );
        v.key_id("KeyId", self.key_id.as_deref());
        v.grant_tokens(&self.grant_tokens);
        v.one_of(
            "EncryptionAlgorithm",
            self.encryption_algorithm.as_deref(),
            ENCRYPTION_ALGORITHMS,
        );
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// ReEncrypt.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReEncryptInput {
    pub(crate) ciphertext_blob: Blob,
    #[serde(default)]
    pub(crate) source_encryption_context: Context,
    pub(crate) source_key_id: Option<String>,
    pub(crate) destination_key_id: String,
    #[serde(default)]
    pub(crate) destination_encryption_context: Context,
    pub(crate) source_encryption_algorithm: Option<String>,
    pub(crate) destination_encryption_algorithm: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

impl KmsInput for ReEncryptInput {
    const REQUIRED: &'static [&'static str] = &["CiphertextBlob", "DestinationKeyId"];
    fn check(&self, v: &mut Violations) {
        blob_length(
            v,
            "ciphertextBlob",
            Some(self.ciphertext_blob.0.len()),
            6144,
        );
        v.key_id("SourceKeyId", self.source_key_id.as_deref());
        v.key_id("DestinationKeyId", Some(&self.destination_key_id));
        for (m, alg) in [
            (
                "SourceEncryptionAlgorithm",
                &self.source_encryption_algorithm,
            ),
            (
                "DestinationEncryptionAlgorithm",
                &self.destination_encryption_algorithm,
            ),
        ] {
            v.one_of(m, alg.as_deref(), ENCRYPTION_ALGORITHMS);
        }
        v.grant_tokens(&self.grant_tokens);
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GenerateDataKeyInput {
    pub(crate) key_id: String,
    #[serde(default)]
    pub(crate) encryption_context: Context,
    pub(crate) number_of_bytes: Option<i64>,
    pub(crate) key_spec: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

impl KmsInput for GenerateDataKeyInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.range("NumberOfBytes", self.number_of_bytes, 1, 1024);
        v.one_of("KeySpec", self.key_spec.as_deref(), DATA_KEY_SPECS);
        v.grant_tokens(&self.grant_tokens);
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

impl GenerateDataKeyInput {
    /// The data key's length: NumberOfBytes or KeySpec, exactly one of them.
    pub(crate) fn length(&self) -> Result<usize, crate::error::KmsError> {
        match (self.number_of_bytes, self.key_spec.as_deref()) {
            (Some(n), None) => Ok(usize::try_from(n).unwrap_or(0)),
            (None, Some("AES_128")) => Ok(16),
            (None, Some(_)) => Ok(32),
            _ => Err(crate::error::KmsError::Validation(
                "Please specify either number of bytes or key spec.".into(),
            )),
        }
    }
}

/// GenerateRandom.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GenerateRandomInput {
    pub(crate) number_of_bytes: Option<i64>,
    pub(crate) custom_key_store_id: Option<String>,
}

impl KmsInput for GenerateRandomInput {
    fn check(&self, v: &mut Violations) {
        v.range("NumberOfBytes", self.number_of_bytes, 1, 1024);
        v.length(
            "CustomKeyStoreId",
            self.custom_key_store_id.as_deref(),
            1,
            64,
        );
    }
}

/// GenerateMac and VerifyMac (VerifyMac requires the Mac).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MacInput {
    pub(crate) key_id: String,
    pub(crate) message: SecretBlob,
    pub(crate) mac_algorithm: String,
    pub(crate) mac: Option<Blob>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

impl MacInput {
    fn check_common(&self, v: &mut Violations) {
        blob_length(v, "message", Some(self.message.len()), 4096);
        v.key_id("KeyId", Some(&self.key_id));
        v.one_of("MacAlgorithm", Some(&self.mac_algorithm), MAC_ALGORITHMS);
        v.grant_tokens(&self.grant_tokens);
    }
}

impl KmsInput for MacInput {
    const REQUIRED: &'static [&'static str] = &["Message", "KeyId", "MacAlgorithm"];
    fn check(&self, v: &mut Violations) {
        self.check_common(v);
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// VerifyMac: GenerateMac's members and the MAC to check.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct VerifyMacInput(pub(crate) MacInput);

impl KmsInput for VerifyMacInput {
    const REQUIRED: &'static [&'static str] = &["Message", "KeyId", "MacAlgorithm", "Mac"];
    fn check(&self, v: &mut Violations) {
        self.0.check_common(v);
        blob_length(v, "mac", self.0.mac.as_ref().map(|m| m.0.len()), 6144);
    }
    fn dry_run(&self) -> bool {
        self.0.dry_run == Some(true)
    }
}

/// Sign and Verify (Verify requires the Signature).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SignInput {
    pub(crate) key_id: String,
    pub(crate) message: SecretBlob,
    pub(crate) message_type: Option<String>,
    pub(crate) signing_algorithm: String,
    pub(crate) signature: Option<Blob>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

impl SignInput {
    fn check_common(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        blob_length(v, "message", Some(self.message.len()), 4096);
        v.one_of("MessageType", self.message_type.as_deref(), MESSAGE_TYPES);
        v.one_of(
            "SigningAlgorithm",
            Some(&self.signing_algorithm),
            SIGNING_ALGORITHMS,
        );
        v.grant_tokens(&self.grant_tokens);
    }
}

impl KmsInput for SignInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "Message", "SigningAlgorithm"];
    fn check(&self, v: &mut Violations) {
        self.check_common(v);
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// Verify: Sign's members and the signature to check.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct VerifyInput(pub(crate) SignInput);

impl KmsInput for VerifyInput {
    const REQUIRED: &'static [&'static str] =
        &["KeyId", "Message", "Signature", "SigningAlgorithm"];
    fn check(&self, v: &mut Violations) {
        self.0.check_common(v);
        blob_length(
            v,
            "signature",
            self.0.signature.as_ref().map(|s| s.0.len()),
            6144,
        );
    }
    fn dry_run(&self) -> bool {
        self.0.dry_run == Some(true)
    }
}

/// GetPublicKey.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetPublicKeyInput {
    pub(crate) key_id: String,
    pub(crate) grant_tokens: Option<Vec<String>>,
}

impl KmsInput for GetPublicKeyInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.grant_tokens(&self.grant_tokens);
    }
}

/// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GenerateDataKeyPairInput {
    #[serde(default)]
    pub(crate) encryption_context: Context,
    pub(crate) key_id: String,
    pub(crate) key_pair_spec: String,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

impl KmsInput for GenerateDataKeyPairInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "KeyPairSpec"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.one_of(
            "KeyPairSpec",
            Some(&self.key_pair_spec),
            DATA_KEY_PAIR_SPECS,
        );
        v.grant_tokens(&self.grant_tokens);
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// GrantOperation (AWS's enum).
pub(crate) const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

/// A grant's Constraints.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GrantConstraints {
    pub(crate) encryption_context_subset: Option<Context>,
    pub(crate) encryption_context_equals: Option<Context>,
}

/// CreateGrant.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateGrantInput {
    pub(crate) key_id: String,
    pub(crate) grantee_principal: Option<String>,
    pub(crate) grantee_service_principal: Option<String>,
    pub(crate) retiring_principal: Option<String>,
    pub(crate) retiring_service_principal: Option<String>,
    pub(crate) operations: Vec<String>,
    pub(crate) constraints: Option<GrantConstraints>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) name: Option<String>,
    pub(crate) dry_run: Option<bool>,
}

impl KmsInput for CreateGrantInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "Operations"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        if self.grantee_principal.is_none() && self.grantee_service_principal.is_none() {
            v.push(
                "Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null",
            );
        }
        v.length(
            "GranteePrincipal",
            self.grantee_principal.as_deref(),
            1,
            256,
        );
        v.length(
            "RetiringPrincipal",
            self.retiring_principal.as_deref(),
            1,
            256,
        );
        if self.operations.is_empty() {
            v.push(
                "Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
            );
        }
        if let Some(o) = self
            .operations
            .iter()
            .find(|o| !GRANT_OPERATIONS.contains(&o.as_str()))
        {
            v.push(format!(
                "Value '[{o}]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                GRANT_OPERATIONS.join(", ")
            ));
        }
        v.grant_tokens(&self.grant_tokens);
        v.length("Name", self.name.as_deref(), 1, 256);
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// ListGrants.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListGrantsInput {
    pub(crate) key_id: String,
    pub(crate) grant_id: Option<String>,
    pub(crate) grantee_principal: Option<String>,
    #[serde(flatten)]
    pub(crate) paging: Paging,
}

impl KmsInput for ListGrantsInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
        v.length("GrantId", self.grant_id.as_deref(), 1, 128);
        v.length(
            "GranteePrincipal",
            self.grantee_principal.as_deref(),
            1,
            256,
        );
        self.paging.check(v, 100);
    }
}

/// ListRetirableGrants.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListRetirableGrantsInput {
    pub(crate) retiring_principal: String,
    #[serde(flatten)]
    pub(crate) paging: Paging,
}

impl KmsInput for ListRetirableGrantsInput {
    const REQUIRED: &'static [&'static str] = &["RetiringPrincipal"];
    fn check(&self, v: &mut Violations) {
        v.length("RetiringPrincipal", Some(&self.retiring_principal), 1, 256);
        self.paging.check(v, 100);
    }
}

/// RetireGrant and RevokeGrant.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EndGrantInput {
    pub(crate) grant_token: Option<String>,
    pub(crate) key_id: Option<String>,
    pub(crate) grant_id: Option<String>,
    pub(crate) dry_run: Option<bool>,
}

impl KmsInput for EndGrantInput {
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", self.key_id.as_deref());
        v.length("GrantToken", self.grant_token.as_deref(), 1, 8192);
        v.length("GrantId", self.grant_id.as_deref(), 1, 128);
    }
    fn dry_run(&self) -> bool {
        self.dry_run == Some(true)
    }
}

/// RevokeGrant: RetireGrant's members, KeyId and GrantId required.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct RevokeGrantInput(pub(crate) EndGrantInput);

impl KmsInput for RevokeGrantInput {
    const REQUIRED: &'static [&'static str] = &["KeyId", "GrantId"];
    fn check(&self, v: &mut Violations) {
        self.0.check(v);
    }
    fn dry_run(&self) -> bool {
        self.0.dry_run()
    }
}
