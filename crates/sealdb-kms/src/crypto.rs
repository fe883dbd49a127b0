//! The symmetric ciphertext blob (v1) and the key-material primitives.
//!
//! ```text
//! blob = 0x01 ‖ key id (16 bytes, the UUID) ‖ material version (u32 BE) ‖ salt (16)
//!        ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
//! v2   = 0x02 ‖ multi-Region key id (16 bytes: the 32 hex digits after `mrk-`) ‖ … as v1
//! message key = HKDF-SHA256(salt, IKM = key material, info = "sealdb kms blob v1")
//! AAD = the 37 header bytes ‖ canonical encryption context
//! ```
//! A fresh salt gives each message its own key, so random GCM nonces never repeat under
//! one key however many messages a key encrypts. Any changed byte fails the tag. The blob
//! names no region: a multi-Region key has the same id and material in every region, so
//! any of its replicas opens it.

use crate::error::KmsError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// Version byte of the blob under a single-Region key. DO NOT CHANGE.
const BLOB_V1: u8 = sealdb_common::key_hierarchy::kms_blob::V1;
/// Version byte of the blob under a multi-Region key. DO NOT CHANGE.
const BLOB_V2_MULTI_REGION: u8 = sealdb_common::key_hierarchy::kms_blob::V2_MULTI_REGION;
/// Key ids of multi-Region keys: this prefix and 32 lowercase hex digits.
pub(crate) const MULTI_REGION_PREFIX: &str = "mrk-";
/// HKDF info of message keys. DO NOT CHANGE.
const MESSAGE_KEY_INFO: &[u8] = sealdb_common::key_hierarchy::kms_blob::MESSAGE_KEY_INFO;
const HEADER_LEN: usize = 1 + 16 + 4 + 16;
const TAG_LEN: usize = 16;

/// Key material in memory: wiped on drop, never printed.
pub(crate) type Material = Zeroizing<Vec<u8>>;

/// Fresh random bytes.
pub(crate) fn random(n: usize) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    aws_lc_rs::rand::fill(v.as_mut_slice()).map_err(|_| KmsError::Internal)?;
    Ok(v)
}

/// The encryption context as authenticated data: sorted pairs, each string
/// length-prefixed (u32 BE), so that no two different contexts encode alike.
pub(crate) fn canonical_context(ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in ctx {
        for s in [k, v] {
            out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

fn message_key(material: &[u8], salt: &[u8]) -> Result<LessSafeKey, KmsError> {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(material);
    let info = [MESSAGE_KEY_INFO];
    let okm = prk.expand(&info, Len32).map_err(|_| KmsError::Internal)?;
    let mut raw = Zeroizing::new([0u8; 32]);
    okm.fill(raw.as_mut()).map_err(|_| KmsError::Internal)?;
    let key = UnboundKey::new(&AES_256_GCM, raw.as_ref()).map_err(|_| KmsError::Internal)?;
    Ok(LessSafeKey::new(key))
}

/// The version byte and 16 id bytes that name `key_id` in a blob.
fn key_id_bytes(key_id: &str) -> Result<(u8, [u8; 16]), KmsError> {
    if let Some(hex_id) = key_id.strip_prefix(MULTI_REGION_PREFIX) {
        let mut id = [0u8; 16];
        hex::decode_to_slice(hex_id, &mut id).map_err(|_| KmsError::Internal)?;
        return Ok((BLOB_V2_MULTI_REGION, id));
    }
    let id = uuid::Uuid::parse_str(key_id).map_err(|_| KmsError::Internal)?;
    Ok((BLOB_V1, *id.as_bytes()))
}

/// Encrypts under one version of a key's material.
pub(crate) fn seal(
    key_id: &str,
    version: u32,
    material: &[u8],
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<Vec<u8>, KmsError> {
    let salt = random(16)?;
    let nonce = random(NONCE_LEN)?;
    let (version_byte, id) = key_id_bytes(key_id)?;
    let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
    blob.push(version_byte);
    blob.extend_from_slice(&id);
    blob.extend_from_slice(&version.to_be_bytes());
    blob.extend_from_slice(&salt);
    let mut aad = blob.clone();
    aad.extend(canonical_context(ctx));
    blob.extend_from_slice(&nonce);
    let mut buf = plaintext.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| KmsError::Internal)?;
    message_key(material, &salt)?
        .seal_in_place_append_tag(nonce, Aad::from(&aad), &mut buf)
        .map_err(|_| KmsError::Internal)?;
    blob.extend_from_slice(&buf);
    Ok(blob)
}

/// The key id and material version a blob names (before decrypting it). A v3 blob
/// (CloudHSM key store, `ops/cloudhsm_keys.rs`) or v4 blob (external key store,
/// `ops/xks_keys.rs`) has one version of material, 1.
pub(crate) fn blob_key(blob: &[u8]) -> Result<(String, u32), KmsError> {
    use sealdb_common::key_hierarchy::kms_blob::{V3_CLOUDHSM, V4_XKS};
    if blob
        .first()
        .is_some_and(|v| [V3_CLOUDHSM, V4_XKS].contains(v))
    {
        if blob.len() < 1 + 16 + 12 + TAG_LEN {
            return Err(KmsError::InvalidCiphertext(String::new()));
        }
        let id = uuid::Uuid::from_slice(&blob[1..17])
            .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
        return Ok((id.to_string(), 1));
    }
    if blob.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
        return Err(KmsError::InvalidCiphertext(String::new()));
    }
    let id = &blob[1..17];
    let key_id = match blob[0] {
        BLOB_V1 => uuid::Uuid::from_slice(id)
            .map_err(|_| KmsError::InvalidCiphertext(String::new()))?
            .to_string(),
        BLOB_V2_MULTI_REGION => format!("{MULTI_REGION_PREFIX}{}", hex::encode(id)),
        _ => return Err(KmsError::InvalidCiphertext(String::new())),
    };
    let version = u32::from_be_bytes([blob[17], blob[18], blob[19], blob[20]]);
    Ok((key_id, version))
}

/// Decrypts a blob with the material it names.
pub(crate) fn open(
    blob: &[u8],
    material: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    if !matches!(blob.first(), Some(&(BLOB_V1 | BLOB_V2_MULTI_REGION))) {
        return Err(KmsError::InvalidCiphertext(String::new()));
    }
    blob_key(blob)?;
    let (header, rest) = blob.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let mut aad = header.to_vec();
    aad.extend(canonical_context(ctx));
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain = message_key(material, &header[21..37])?
        .open_in_place(nonce, Aad::from(&aad), buf.as_mut_slice())
        .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
    Ok(Zeroizing::new(plain.to_vec()))
}

/// The HMAC algorithm of an HMAC key spec.
pub(crate) fn hmac_algorithm(spec: &str) -> Option<(hmac::Algorithm, usize)> {
    match spec {
        "HMAC_224" => Some((hmac::HMAC_SHA224, 28)),
        "HMAC_256" => Some((hmac::HMAC_SHA256, 32)),
        "HMAC_384" => Some((hmac::HMAC_SHA384, 48)),
        "HMAC_512" => Some((hmac::HMAC_SHA512, 64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn round_trip_and_every_byte_matters() {
        let id = uuid::Uuid::new_v4().to_string();
        let m = random(32).unwrap();
        let c = ctx(&[("a", "1")]);
        let blob = seal(&id, 3, &m, b"secret data", &c).unwrap();
        assert_eq!(blob_key(&blob).unwrap(), (id, 3));
        assert_eq!(open(&blob, &m, &c).unwrap().as_slice(), b"secret data");
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 1;
            assert!(open(&b, &m, &c).is_err(), "byte {i}");
        }
        assert!(open(&blob, &m, &ctx(&[("a", "2")])).is_err());
        assert!(open(&blob, &m, &BTreeMap::new()).is_err());
        assert!(open(&blob[..blob.len() - 1], &m, &c).is_err());
        assert!(open(&blob, &random(32).unwrap(), &c).is_err());
    }

    #[test]
    fn multi_region_blob_names_its_key_and_binds_the_kind() {
        let id = format!("{MULTI_REGION_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let m = random(32).unwrap();
        let c = ctx(&[("a", "1")]);
        let blob = seal(&id, 2, &m, b"secret data", &c).unwrap();
        assert_eq!(blob[0], BLOB_V2_MULTI_REGION);
        assert_eq!(blob_key(&blob).unwrap(), (id, 2));
        assert_eq!(open(&blob, &m, &c).unwrap().as_slice(), b"secret data");
        // The same bytes read as a single-Region key's blob fail the tag.
        let mut as_v1 = blob.clone();
        as_v1[0] = BLOB_V1;
        assert!(open(&as_v1, &m, &c).is_err());
        let mut unknown = blob;
        unknown[0] = 9;
        assert!(blob_key(&unknown).is_err());
        // v3 and v4 blobs name their key but are not opened here.
        unknown[0] = 4;
        assert!(open(&unknown, &m, &c).is_err());
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        assert_ne!(
            canonical_context(&ctx(&[("ab", "c")])),
            canonical_context(&ctx(&[("a", "bc")]))
        );
    }
}
