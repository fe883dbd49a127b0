//! The DirectKMS provider (reference §6.1): one KMS data key per item, from which HKDF
//! derives the AES content key and the HMAC signing key.

use crate::Attribute;
use crate::error::{Error, Result};
use crate::keys::{SigningKey, SymmetricKey, VerificationKey};
use crate::materials::{
    CryptographicMaterialsProvider, DecryptionMaterials, EncryptionContext, EncryptionMaterials,
};
use crate::providers::wrapped::{
    CONTENT_ALGORITHM_KEY, ENVELOPE_KEY, WRAPPING_ALGORITHM_KEY, decode_base64_lenient,
};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::collections::{BTreeMap, HashMap};
use zeroize::Zeroizing;

/// Description key: the signing key's algorithm and length, `HmacSHA256/256`.
pub const SIGNING_ALGORITHM_KEY: &str = "amzn-ddb-sig-alg";
/// Description key recording that the key attributes went into the KMS context.
const EC_ATTRIBUTES_KEY: &str = "aws-kms-ec-attr";
const DEFAULT_CONTENT: &str = "AES/256";
const DEFAULT_SIGNING: &str = "HmacSHA256/256";
/// Bytes of data key requested from KMS.
const DATA_KEY_BYTES: i32 = 32;

/// DirectKMS materials: Python's `AwsKmsCryptographicMaterialsProvider`, Java's
/// `DirectKmsMaterialProvider`.
#[derive(Clone, Debug)]
pub struct DirectKmsProvider {
    client: aws_sdk_kms::Client,
    key_id: String,
    material_description: BTreeMap<String, String>,
    grant_tokens: Vec<String>,
}

/// `ALG/BITS` (bits default to 256) as a name and a key length in bytes.
fn algorithm_and_len(description: &str) -> Result<(&str, usize)> {
    let (name, bits) = match description.split_once('/') {
        Some((name, bits)) => (
            name,
            bits.parse::<usize>()
                .map_err(|_| Error::UnsupportedAlgorithm(description.to_owned()))?,
        ),
        None => (description, 256),
    };
    if bits == 0 || bits % 8 != 0 || bits > 512 {
        return Err(Error::UnsupportedAlgorithm(description.to_owned()));
    }
    Ok((name, bits / 8))
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 with a zero salt over the data key, expanded with `info`.
fn derive(data_key: &[u8], info: &[u8], len: usize) -> Result<SymmetricKey> {
    let prk = Salt::new(HKDF_SHA256, &[0u8; 32]).extract(data_key);
    let mut out = Zeroizing::new(vec![0u8; len]);
    prk.expand(&[info], Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| Error::UnsupportedAlgorithm("HKDF output length".into()))?;
    Ok(SymmetricKey::new(out.to_vec()))
}

/// A key attribute as KMS context text: `S` as is, `N` as stored (not canonicalized, as both
/// libraries do), `B` as base64.
fn context_value(name: &str, value: &Attribute) -> Result<String> {
    match value {
        Attribute::S(s) | Attribute::N(s) => Ok(s.clone()),
        Attribute::B(b) => Ok(BASE64.encode(b)),
        _ => Err(Error::InvalidConfiguration(format!(
            "key attribute {name} must be S, N or B for the KMS encryption context"
        ))),
    }
}

/// The KMS encryption context for the item in `context.attributes`.
fn kms_context(
    context: &EncryptionContext,
    content: &str,
    signing: &str,
) -> Result<HashMap<String, String>> {
    let mut ec = HashMap::new();
    ec.insert("*amzn-ddb-env-alg*".to_owned(), content.to_owned());
    ec.insert("*amzn-ddb-sig-alg*".to_owned(), signing.to_owned());
    for name in context.key_names() {
        if let Some(value) = context.attributes.get(name) {
            ec.insert(name.to_owned(), context_value(name, value)?);
        }
    }
    if let Some(table) = &context.table_name {
        ec.insert("*aws-kms-table*".to_owned(), table.clone());
    }
    Ok(ec)
}

fn materials_from(
    data_key: &[u8],
    content: &str,
    signing: &str,
) -> Result<(SymmetricKey, SigningKey)> {
    let (content_name, content_len) = algorithm_and_len(content)?;
    if content_name != "AES" || !matches!(content_len, 16 | 32) {
        return Err(Error::UnsupportedAlgorithm(content.to_owned()));
    }
    let (signing_name, signing_len) = algorithm_and_len(signing)?;
    if !signing_name.starts_with("Hmac") {
        return Err(Error::UnsupportedAlgorithm(signing.to_owned()));
    }
    Ok((
        derive(data_key, b"Encryption", content_len)?,
        SigningKey::Hmac {
            algorithm: signing_name.to_owned(),
            key: derive(data_key, b"Signing", signing_len)?,
        },
    ))
}

/// The plaintext data key of a KMS answer, in a zeroizing buffer.
fn data_key(plaintext: Option<Blob>, operation: &str) -> Result<Zeroizing<Vec<u8>>> {
    plaintext
        .map(|blob| Zeroizing::new(blob.into_inner()))
        .ok_or_else(|| Error::Kms(format!("{operation} returned no plaintext")))
}

fn kms_error(e: impl std::error::Error) -> Error {
    Error::Kms(aws_sdk_kms::error::DisplayErrorContext(e).to_string())
}

impl DirectKmsProvider {
    /// A provider using KMS key `key_id` (id, ARN or alias) through `client`.
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        DirectKmsProvider {
            client,
            key_id: key_id.into(),
            material_description: BTreeMap::new(),
            grant_tokens: Vec::new(),
        }
    }

    /// Extra description entries; `amzn-ddb-env-alg` / `amzn-ddb-sig-alg` here change the
    /// derived key algorithms and lengths.
    pub fn with_material_description(mut self, description: BTreeMap<String, String>) -> Self {
        self.material_description = description;
        self
    }

    /// Grant tokens sent with every KMS call.
    pub fn with_grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }

    fn configured(&self, key: &str, default: &str) -> String {
        self.material_description
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    fn grant_tokens(&self) -> Option<Vec<String>> {
        (!self.grant_tokens.is_empty()).then(|| self.grant_tokens.clone())
    }
}

impl CryptographicMaterialsProvider for DirectKmsProvider {
    async fn encryption_materials(
        &self,
        context: &EncryptionContext,
    ) -> Result<EncryptionMaterials> {
        let content = self.configured(CONTENT_ALGORITHM_KEY, DEFAULT_CONTENT);
        let signing = self.configured(SIGNING_ALGORITHM_KEY, DEFAULT_SIGNING);
        let ec = kms_context(context, &content, &signing)?;
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .number_of_bytes(DATA_KEY_BYTES)
            .set_encryption_context(Some(ec))
            .set_grant_tokens(self.grant_tokens())
            .send()
            .await
            .map_err(kms_error)?;
        let data_key = data_key(out.plaintext, "GenerateDataKey")?;
        let blob = out
            .ciphertext_blob
            .ok_or_else(|| Error::Kms("GenerateDataKey returned no ciphertext".into()))?;
        let (encryption_key, signing_key) = materials_from(&data_key, &content, &signing)?;
        let mut description = self.material_description.clone();
        description.insert(EC_ATTRIBUTES_KEY.into(), "*keys*".into());
        description.insert(WRAPPING_ALGORITHM_KEY.into(), "kms".into());
        description.insert(CONTENT_ALGORITHM_KEY.into(), content);
        description.insert(SIGNING_ALGORITHM_KEY.into(), signing);
        description.insert(ENVELOPE_KEY.into(), BASE64.encode(blob.as_ref()));
        Ok(EncryptionMaterials {
            encryption_key: Some(encryption_key),
            signing_key,
            material_description: description,
        })
    }

    async fn decryption_materials(
        &self,
        context: &EncryptionContext,
    ) -> Result<DecryptionMaterials> {
        let description = &context.material_description;
        let content = description
            .get(CONTENT_ALGORITHM_KEY)
            .cloned()
            .unwrap_or_else(|| DEFAULT_CONTENT.to_owned());
        let signing = description
            .get(SIGNING_ALGORITHM_KEY)
            .cloned()
            .unwrap_or_else(|| DEFAULT_SIGNING.to_owned());
        let blob = decode_base64_lenient(description.get(ENVELOPE_KEY).ok_or_else(|| {
            Error::Malformed("material description has no KMS ciphertext".into())
        })?)?;
        let ec = kms_context(context, &content, &signing)?;
        // No key id: legacy symmetric KMS ciphertexts name their key themselves.
        let out = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(blob))
            .set_encryption_context(Some(ec))
            .set_grant_tokens(self.grant_tokens())
            .send()
            .await
            .map_err(kms_error)?;
        let data_key = data_key(out.plaintext, "Decrypt")?;
        let (decryption_key, signing_key) = materials_from(&data_key, &content, &signing)?;
        let verification_key: VerificationKey = signing_key.verification_key();
        Ok(DecryptionMaterials {
            decryption_key: Some(decryption_key),
            verification_key,
        })
    }
}
