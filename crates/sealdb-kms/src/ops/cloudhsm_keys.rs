//! KMS keys in a CloudHSM key store: the key is an AES-256 token key labelled with the
//! KMS key id, non-extractable; encryption under it is AES-GCM run by the token, so
//! its material never enters this process.
//!
//! ```text
//! blob v3 = 0x03 ‖ key id (16 bytes, the UUID; the token key's label is its text form)
//!           ‖ IV (12, chosen here, passed to the token) ‖ ciphertext ‖ tag (16)
//! AAD     = 0x03 ‖ key id (16) ‖ canonical encryption context
//! ```

use super::*;
use crate::custom_key_store::ConnectionState;
use sealdb_hsm::{GcmSealed, Pkcs11Token};
use std::sync::Arc;

/// Version byte of a blob under a CloudHSM key store key. DO NOT CHANGE.
pub(crate) const BLOB_V3_CLOUDHSM: u8 = sealdb_common::key_hierarchy::kms_blob::V3_CLOUDHSM;

/// The checks of CreateKey in a custom key store (before anything is written): the
/// origin and store agree, the store exists and is CONNECTED, the key is symmetric.
/// Returns the store id.
pub(super) fn check_create(
    c: &Ctx<'_>,
    input: &CreateKeyInput,
    origin: Origin,
    spec: KeySpec,
    usage: KeyUsage,
) -> Result<String, KmsError> {
    let Some(store_id) = input.custom_key_store_id.as_deref() else {
        return Err(KmsError::Validation(format!(
            "CustomKeyStoreId is required when Origin is {origin}."
        )));
    };
    if origin != Origin::AwsCloudHsm {
        return Err(KmsError::UnsupportedOperation(format!(
            "Origin must be AWS_CLOUDHSM or EXTERNAL_KEY_STORE to create a KMS key in custom key store {store_id}; it is {origin}."
        )));
    }
    let rec = c.custom_key_store(store_id)?;
    let wanted = match rec.store_type {
        crate::custom_key_store::StoreType::AwsCloudHsm => Origin::AwsCloudHsm,
        crate::custom_key_store::StoreType::ExternalKeyStore => Origin::ExternalKeyStore,
    };
    if origin != wanted {
        return Err(KmsError::UnsupportedOperation(format!(
            "Origin must be {wanted} to create a KMS key in custom key store {store_id}; it is {origin}."
        )));
    }
    let (state, _) = c.cks.state(&rec.id);
    if state != ConnectionState::Connected {
        return Err(KmsError::CustomKeyStoreInvalidState(format!(
            "Custom key store {} is {}: it must be CONNECTED to create KMS keys in it.",
            rec.id,
            state.as_str()
        )));
    }
    if spec != KeySpec::SymmetricDefault || usage != KeyUsage::EncryptDecrypt {
        return Err(KmsError::UnsupportedOperation(format!(
            "KeySpec {spec} is not supported in custom key stores: only SYMMETRIC_DEFAULT keys for ENCRYPT_DECRYPT."
        )));
    }
    Ok(rec.id)
}

fn hsm_failure(e: &sealdb_hsm::HsmError) -> KmsError {
    tracing::error!(error = %e, "CloudHSM key store operation failed");
    KmsError::Internal
}

/// The new key's AES-256 key in the store's token.
pub(super) fn generate_backing_key(
    c: &Ctx<'_>,
    store_id: &str,
    key_id: &str,
) -> Result<(), KmsError> {
    let token = c.cks.token(store_id).ok_or_else(|| {
        KmsError::CustomKeyStoreInvalidState(format!(
            "Custom key store {store_id} is not CONNECTED."
        ))
    })?;
    token.generate_aes256(key_id).map_err(|e| hsm_failure(&e))
}

/// Deletes the key's token key, if the store is connected (AWS: a best effort; key
/// material left in a disconnected store's cluster is orphaned).
pub(crate) fn destroy_backing_key(c: &Ctx<'_>, k: &KeyRecord) {
    let Some(store_id) = &k.custom_key_store_id else {
        return;
    };
    if k.origin == Origin::ExternalKeyStore {
        // AWS never deletes the external key; the key's own material goes with it.
        return;
    }
    match c.cks.token(store_id) {
        Some(token) => {
            if let Err(e) = token.destroy_key(&k.id) {
                tracing::warn!(key = %k.id, error = %e, "cannot delete the key's material from its token");
            }
        }
        None => tracing::warn!(key = %k.id, store = %store_id,
            "key deleted while its custom key store is disconnected: its token key is orphaned"),
    }
}

/// The token of the key's store, or KMSInvalidStateException while it is not connected.
fn token(c: &Ctx<'_>, k: &KeyRecord) -> Result<Arc<Pkcs11Token>, KmsError> {
    let store_id = k.custom_key_store_id.as_deref().unwrap_or_default();
    c.cks
        .token(store_id)
        .ok_or_else(|| custom_key_stores::store_unavailable(c, k, store_id))
}

fn aad(id: &[u8; 16], ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = vec![BLOB_V3_CLOUDHSM];
    aad.extend_from_slice(id);
    aad.extend(crypto::canonical_context(ctx));
    aad
}

/// Encrypts under the key in its token.
pub(super) fn seal(
    c: &Ctx<'_>,
    k: &KeyRecord,
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<Vec<u8>, KmsError> {
    let token = token(c, k)?;
    let id = custom_key_stores::key_id_bytes(k)?;
    let sealed = token
        .encrypt_gcm(&k.id, &aad(&id, ctx), plaintext)
        .map_err(|e| hsm_failure(&e))?;
    let mut blob = vec![BLOB_V3_CLOUDHSM];
    blob.extend_from_slice(&id);
    blob.extend_from_slice(&sealed.to_bytes());
    Ok(blob)
}

/// Decrypts a v3 blob under the key in its token.
pub(super) fn open(
    c: &Ctx<'_>,
    k: &KeyRecord,
    blob: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<zeroize::Zeroizing<Vec<u8>>, KmsError> {
    let id = custom_key_stores::key_id_bytes(k)?;
    if blob.first() != Some(&BLOB_V3_CLOUDHSM) || blob.get(1..17) != Some(&id[..]) {
        return Err(KmsError::InvalidCiphertext(String::new()));
    }
    let sealed = GcmSealed::from_bytes(&blob[17..])
        .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
    let token = token(c, k)?;
    token
        .decrypt_gcm(&k.id, &aad(&id, ctx), &sealed)
        .map_err(|e| match e {
            sealdb_hsm::HsmError::Decrypt { .. } => KmsError::InvalidCiphertext(String::new()),
            other => hsm_failure(&other),
        })
}
