//! KMS keys in an external key store: double encryption as AWS does it. Each key has
//! key material of its own in `keystore.db` (as any KMS key) and names an external key
//! (XksKeyId) of the store's proxy. Encrypt seals under the KMS material first (a v1
//! blob), then has the proxy encrypt that under the external key; so data stays
//! unreadable while the proxy refuses, whatever is in `keystore.db`.
//!
//! ```text
//! blob v4   = 0x04 ‖ key id (16) ‖ IV length (u8) ‖ IV ‖ tag (16)
//!             ‖ metadata length (u8) ‖ ciphertextMetadata ‖ proxy ciphertext
//! proxy plaintext = the v1 blob under the key's own material (crypto.rs)
//! proxy AAD       = 0x04 ‖ key id (16) ‖ SHA-256(canonical encryption context)
//! ```

use super::*;
use crate::custom_key_store::{ConnectionState, StoreType};
use crate::error::XksFault;
use crate::xks;
use sealdb_http::xks::client::XksEndpoint;
use sealdb_http::xks::{Blob, DecryptRequest, EncryptRequest, MetadataOnly, SecretBlob};
use std::sync::Arc;

/// Version byte of a blob under an external key store key. DO NOT CHANGE.
pub(crate) const BLOB_V4_XKS: u8 = sealdb_common::key_hierarchy::kms_blob::V4_XKS;
/// The largest ciphertextMetadata the specification allows.
const MAX_METADATA: usize = 20;

/// CreateKey's checks for Origin EXTERNAL_KEY_STORE (before anything is written): the
/// store is an external key store and CONNECTED, the key symmetric, the external key
/// unused by another KMS key of the store, and, per the proxy, AES_256 for ENCRYPT and
/// DECRYPT and ENABLED. Returns the store id and the external key id.
pub(super) fn check_create(
    c: &Ctx<'_>,
    input: &CreateKeyInput,
    spec: KeySpec,
    usage: KeyUsage,
) -> Result<(String, String), KmsError> {
    let store_id = input.custom_key_store_id.as_deref().ok_or_else(|| {
        KmsError::Validation(
            "CustomKeyStoreId is required when Origin is EXTERNAL_KEY_STORE.".into(),
        )
    })?;
    let xks_key_id = input.xks_key_id.as_deref().ok_or_else(|| {
        KmsError::Validation("XksKeyId is required when Origin is EXTERNAL_KEY_STORE.".into())
    })?;
    if !xks_key_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(validation(format!(
            "Value '{xks_key_id}' at 'xksKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-_.]+$"
        )));
    }
    let rec = c.custom_key_store(store_id)?;
    if rec.store_type != StoreType::ExternalKeyStore {
        return Err(KmsError::UnsupportedOperation(format!(
            "Origin EXTERNAL_KEY_STORE needs an external key store; custom key store {store_id} is of type {}.",
            rec.store_type.as_str()
        )));
    }
    let (state, _) = c.cks.state(&rec.id);
    let proxy = c
        .cks
        .proxy(&rec.id)
        .filter(|_| state == ConnectionState::Connected);
    let Some(proxy) = proxy else {
        return Err(KmsError::CustomKeyStoreInvalidState(format!(
            "Custom key store {} is {}: it must be CONNECTED to create KMS keys in it.",
            rec.id,
            state.as_str()
        )));
    };
    if spec != KeySpec::SymmetricDefault || usage != KeyUsage::EncryptDecrypt {
        return Err(KmsError::UnsupportedOperation(format!(
            "KeySpec {spec} is not supported in custom key stores: only SYMMETRIC_DEFAULT keys for ENCRYPT_DECRYPT."
        )));
    }
    if let Some(other) = c.store.keys()?.into_iter().find(|k| {
        k.custom_key_store_id.as_deref() == Some(store_id)
            && k.xks_key_id.as_deref() == Some(xks_key_id)
    }) {
        return Err(KmsError::Xks(
            XksFault::KeyAlreadyInUse,
            format!(
                "The external key {xks_key_id} is already associated with {} in custom key store {store_id}.",
                c.key_arn(&other.id)
            ),
        ));
    }
    let req = MetadataOnly {
        request_metadata: xks::request_metadata(
            "CreateKey",
            Some(&c.caller.arn),
            None,
            c.via_service.as_deref(),
        ),
    };
    let md = proxy
        .metadata(&c.cks.xks_trust(), xks_key_id, &req)
        .map_err(|e| xks::create_key_error(&e, xks_key_id, store_id))?;
    let usage_ok = ["ENCRYPT", "DECRYPT"]
        .iter()
        .all(|u| md.key_usage.iter().any(|k| k == u));
    if md.key_spec != "AES_256" || !usage_ok || md.key_status != "ENABLED" {
        return Err(KmsError::Xks(
            XksFault::KeyInvalidConfiguration,
            format!(
                "The external key {xks_key_id} must be an enabled AES_256 key whose usage includes ENCRYPT and DECRYPT; the proxy reports {} for {}, {}.",
                md.key_spec,
                md.key_usage.join(" and "),
                md.key_status
            ),
        ));
    }
    Ok((rec.id, xks_key_id.to_owned()))
}

/// The proxy of the key's store, or KMSInvalidStateException while it is not connected.
fn proxy(c: &Ctx<'_>, k: &KeyRecord) -> Result<Arc<XksEndpoint>, KmsError> {
    let store_id = k.custom_key_store_id.as_deref().unwrap_or_default();
    c.cks
        .proxy(store_id)
        .ok_or_else(|| custom_key_stores::store_unavailable(c, k, store_id))
}

fn proxy_aad(id: &[u8; 16], ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = vec![BLOB_V4_XKS];
    aad.extend_from_slice(id);
    aad.extend_from_slice(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &crypto::canonical_context(ctx))
            .as_ref(),
    );
    aad
}

fn metadata_for(c: &Ctx<'_>, k: &KeyRecord) -> sealdb_http::xks::RequestMetadata {
    xks::request_metadata(
        c.operation,
        Some(&c.caller.arn),
        Some(&c.key_arn(&k.id)),
        c.via_service.as_deref(),
    )
}

fn invalid_response(c: &Ctx<'_>, k: &KeyRecord) -> KmsError {
    xks::crypto_error(
        &sealdb_http::xks::client::XksCallError::InvalidResponse(
            "Encrypt answer out of the specification".into(),
        ),
        &c.key_arn(&k.id),
    )
}

/// Encrypts under the key's own material, then under its external key.
pub(super) fn seal(
    c: &Ctx<'_>,
    k: &KeyRecord,
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<Vec<u8>, KmsError> {
    let proxy = proxy(c, k)?;
    let xks_key_id = k.xks_key_id.as_deref().ok_or(KmsError::Internal)?;
    let id = custom_key_stores::key_id_bytes(k)?;
    let m = c.material(k, 1)?;
    let inner = crypto::seal(&k.id, 1, &m, plaintext, ctx)?;
    let inner_len = inner.len();
    let req = EncryptRequest {
        request_metadata: metadata_for(c, k),
        plaintext: SecretBlob(zeroize::Zeroizing::new(inner)),
        encryption_algorithm: "AES_GCM".into(),
        additional_authenticated_data: Some(Blob(proxy_aad(&id, ctx))),
        ciphertext_data_integrity_value_algorithm: None,
    };
    let out = proxy
        .encrypt(&c.cks.xks_trust(), xks_key_id, &req)
        .map_err(|e| xks::crypto_error(&e, &c.key_arn(&k.id)))?;
    let iv = out.initialization_vector.0;
    let meta = out.ciphertext_metadata.map(|m| m.0).unwrap_or_default();
    if !matches!(iv.len(), 12 | 16)
        || out.authentication_tag.0.len() != 16
        || meta.len() > MAX_METADATA
        || out.ciphertext.0.len() != inner_len
    {
        return Err(invalid_response(c, k));
    }
    let mut blob = vec![BLOB_V4_XKS];
    blob.extend_from_slice(&id);
    blob.push(u8::try_from(iv.len()).map_err(|_| KmsError::Internal)?);
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&out.authentication_tag.0);
    blob.push(u8::try_from(meta.len()).map_err(|_| KmsError::Internal)?);
    blob.extend_from_slice(&meta);
    blob.extend_from_slice(&out.ciphertext.0);
    Ok(blob)
}

/// The parts of a v4 blob: IV, tag, ciphertextMetadata, proxy ciphertext.
struct Parts<'a> {
    iv: &'a [u8],
    tag: &'a [u8],
    meta: &'a [u8],
    ciphertext: &'a [u8],
}

fn parse<'a>(blob: &'a [u8], id: &[u8; 16]) -> Option<Parts<'a>> {
    if blob.first() != Some(&BLOB_V4_XKS) || blob.get(1..17)? != &id[..] {
        return None;
    }
    let iv_len = usize::from(*blob.get(17)?);
    let iv = blob.get(18..18 + iv_len)?;
    let at = 18 + iv_len;
    let tag = blob.get(at..at + 16)?;
    let meta_len = usize::from(*blob.get(at + 16)?);
    let meta = blob.get(at + 17..at + 17 + meta_len)?;
    let ciphertext = blob.get(at + 17 + meta_len..)?;
    (!ciphertext.is_empty()).then_some(Parts {
        iv,
        tag,
        meta,
        ciphertext,
    })
}

/// Decrypts a v4 blob: the proxy first, then the key's own material.
pub(super) fn open(
    c: &Ctx<'_>,
    k: &KeyRecord,
    blob: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<zeroize::Zeroizing<Vec<u8>>, KmsError> {
    let id = custom_key_stores::key_id_bytes(k)?;
    let p = parse(blob, &id).ok_or_else(|| KmsError::InvalidCiphertext(String::new()))?;
    let proxy = proxy(c, k)?;
    let xks_key_id = k.xks_key_id.as_deref().ok_or(KmsError::Internal)?;
    let req = DecryptRequest {
        request_metadata: metadata_for(c, k),
        encryption_algorithm: "AES_GCM".into(),
        ciphertext: Blob(p.ciphertext.to_vec()),
        initialization_vector: Blob(p.iv.to_vec()),
        authentication_tag: Blob(p.tag.to_vec()),
        additional_authenticated_data: Some(Blob(proxy_aad(&id, ctx))),
        ciphertext_metadata: (!p.meta.is_empty()).then(|| Blob(p.meta.to_vec())),
    };
    let inner = proxy
        .decrypt(&c.cks.xks_trust(), xks_key_id, &req)
        .map_err(|e| xks::crypto_error(&e, &c.key_arn(&k.id)))?
        .plaintext
        .0;
    // The inner blob must be this key's, under its one version of material.
    match crypto::blob_key(&inner) {
        Ok((inner_id, 1)) if inner_id == k.id && inner.first() == Some(&1) => {}
        _ => return Err(KmsError::InvalidCiphertext(String::new())),
    }
    let m = c.material(k, 1)?;
    crypto::open(&inner, &m, ctx)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn v4_blobs_parse_and_short_or_foreign_ones_do_not() {
        let id = [7u8; 16];
        let mut blob = vec![4];
        blob.extend_from_slice(&id);
        blob.push(12);
        blob.extend_from_slice(&[1; 12]);
        blob.extend_from_slice(&[2; 16]);
        blob.push(3);
        blob.extend_from_slice(b"abc");
        blob.extend_from_slice(b"ciphertext");
        let p = parse(&blob, &id).expect("parses");
        assert_eq!(
            (p.iv, p.tag, p.meta),
            (&[1u8; 12][..], &[2u8; 16][..], &b"abc"[..])
        );
        assert_eq!(p.ciphertext, b"ciphertext");
        assert!(parse(&blob, &[8u8; 16]).is_none(), "another key's blob");
        for cut in [1, 17, 18, 29, 45, 46, 49] {
            assert!(parse(&blob[..cut], &id).is_none(), "cut at {cut}");
        }
        let mut v1 = blob.clone();
        v1[0] = 1;
        assert!(parse(&v1, &id).is_none());
    }
}
