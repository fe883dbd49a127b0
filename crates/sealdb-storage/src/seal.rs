//! Sealing small records under a key derived from a table key (redo records of
//! multi-table transactions). Format in `docs/formats.md`, "Sealed record".

use crate::error::StorageError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use sealdb_common::SecretKey32;

/// Version byte of a sealed record. DO NOT CHANGE.
const SEALED_V1: u8 = sealdb_common::key_hierarchy::sealed_record::V1;
/// HKDF info of the sealing subkey. DO NOT CHANGE.
const SUBKEY_INFO: &[u8] = sealdb_common::key_hierarchy::sealed_record::SUBKEY_INFO;

fn subkey(table_key: &SecretKey32) -> Result<LessSafeKey, StorageError> {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let fail = || StorageError::KeyUnavailable("subkey derivation failed".into());
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(table_key.expose());
    let info = [SUBKEY_INFO];
    let okm = prk.expand(&info, Len32).map_err(|_| fail())?;
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    okm.fill(raw.as_mut()).map_err(|_| fail())?;
    let key = UnboundKey::new(&AES_256_GCM, raw.as_ref()).map_err(|_| fail())?;
    Ok(LessSafeKey::new(key))
}

/// `version ‖ nonce ‖ AES-256-GCM(ciphertext ‖ tag)`.
pub(crate) fn seal(table_key: &SecretKey32, plaintext: &[u8]) -> Result<Vec<u8>, StorageError> {
    let key = subkey(table_key)?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce)
        .map_err(|_| StorageError::KeyUnavailable("random generator failed".into()))?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from([SEALED_V1]),
        &mut buf,
    )
    .map_err(|_| StorageError::KeyUnavailable("seal failed".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
    out.push(SEALED_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Opens a sealed record; any change, or another key, fails.
pub(crate) fn open(table_key: &SecretKey32, sealed: &[u8]) -> Result<Vec<u8>, StorageError> {
    let corrupt = || StorageError::Corrupt("sealed record".into());
    let (&version, rest) = sealed.split_first().ok_or_else(corrupt)?;
    if version != SEALED_V1 || rest.len() < NONCE_LEN + 16 {
        return Err(corrupt());
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
    let key = subkey(table_key)?;
    let mut buf = ct.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from([SEALED_V1]), &mut buf)
        .map_err(|_| corrupt())?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_fails_closed() {
        let k = SecretKey32::from_bytes([5; 32]);
        let s = seal(&k, b"redo").unwrap();
        assert_eq!(open(&k, &s).unwrap(), b"redo");
        assert!(!s.windows(4).any(|w| w == b"redo"));
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 0x80;
            assert!(open(&k, &t).is_err());
        }
        assert!(open(&SecretKey32::from_bytes([6; 32]), &s).is_err());
    }
}
