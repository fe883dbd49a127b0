//! Sealing records under keys derived from a table key: redo records of multi-table
//! transactions (`docs/formats.md`, "Sealed record"), and the items another backend keeps
//! (`sealdb-postgres`, "PostgreSQL item row").

use crate::error::StorageError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use sealdb_common::SecretKey32;

/// Version byte of a sealed record. DO NOT CHANGE.
const SEALED_V1: u8 = sealdb_common::key_hierarchy::sealed_record::V1;
/// HKDF info of the sealing subkey. DO NOT CHANGE.
const SUBKEY_INFO: &[u8] = sealdb_common::key_hierarchy::sealed_record::SUBKEY_INFO;

/// A 32-byte subkey of a table key: HKDF-SHA256 with an empty salt, the table key as
/// input and `info` naming the purpose (each purpose its own `info`, so no two share a key).
pub fn derive_subkey(table_key: &SecretKey32, info: &[u8]) -> Result<SecretKey32, StorageError> {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let fail = || StorageError::KeyUnavailable("subkey derivation failed".into());
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(table_key.expose());
    let info = [info];
    let okm = prk.expand(&info, Len32).map_err(|_| fail())?;
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    okm.fill(raw.as_mut()).map_err(|_| fail())?;
    Ok(SecretKey32::from_bytes(*raw))
}

/// An AES-256-GCM key derived from a table key, sealing `version ‖ nonce ‖ ciphertext ‖ tag`
/// with AAD = `version ‖ aad` (random 96-bit nonces).
pub struct Sealer(LessSafeKey);

impl Sealer {
    /// The sealer of subkey `info` of `table_key`.
    pub fn derive(table_key: &SecretKey32, info: &[u8]) -> Result<Sealer, StorageError> {
        let raw = derive_subkey(table_key, info)?;
        let key = UnboundKey::new(&AES_256_GCM, raw.expose())
            .map_err(|_| StorageError::KeyUnavailable("subkey derivation failed".into()))?;
        Ok(Sealer(LessSafeKey::new(key)))
    }

    /// Seals `plaintext`, bound to `aad`.
    pub fn seal(&self, version: u8, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StorageError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| StorageError::KeyUnavailable("random generator failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(version);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut full_aad = Vec::with_capacity(1 + aad.len());
        full_aad.push(version);
        full_aad.extend_from_slice(aad);
        let mut body = out.split_off(1 + NONCE_LEN);
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(full_aad.as_slice()),
                &mut body,
            )
            .map_err(|_| StorageError::KeyUnavailable("seal failed".into()))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens what [`Sealer::seal`] sealed with the same version and `aad`; any change fails.
    pub fn open(&self, version: u8, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StorageError> {
        let corrupt = || StorageError::Corrupt("sealed record".into());
        let (&v, rest) = sealed.split_first().ok_or_else(corrupt)?;
        if v != version || rest.len() < NONCE_LEN + 16 {
            return Err(corrupt());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut full_aad = Vec::with_capacity(1 + aad.len());
        full_aad.push(version);
        full_aad.extend_from_slice(aad);
        let mut buf = ct.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(full_aad.as_slice()), &mut buf)
            .map_err(|_| corrupt())?;
        Ok(plain.to_vec())
    }
}

/// `version ‖ nonce ‖ AES-256-GCM(ciphertext ‖ tag)`.
pub(crate) fn seal(table_key: &SecretKey32, plaintext: &[u8]) -> Result<Vec<u8>, StorageError> {
    Sealer::derive(table_key, SUBKEY_INFO)?.seal(SEALED_V1, &[], plaintext)
}

/// Opens a sealed record; any change, or another key, fails.
pub(crate) fn open(table_key: &SecretKey32, sealed: &[u8]) -> Result<Vec<u8>, StorageError> {
    Sealer::derive(table_key, SUBKEY_INFO)?.open(SEALED_V1, &[], sealed)
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

    /// The v1 sealed record's bytes did not change when `Sealer` was factored out: a
    /// record sealed by hand the old way (AAD = the version byte alone) still opens.
    #[test]
    fn sealer_keeps_the_v1_record_format() {
        let k = SecretKey32::from_bytes([5; 32]);
        let raw = derive_subkey(&k, SUBKEY_INFO).unwrap();
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, raw.expose()).unwrap());
        let nonce = [9u8; NONCE_LEN];
        let mut body = b"redo".to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from([SEALED_V1]),
            &mut body,
        )
        .unwrap();
        let mut record = vec![SEALED_V1];
        record.extend_from_slice(&nonce);
        record.extend_from_slice(&body);
        assert_eq!(open(&k, &record).unwrap(), b"redo");
    }

    #[test]
    fn sealer_binds_aad_and_version() {
        let s = Sealer::derive(&SecretKey32::from_bytes([1; 32]), b"purpose").unwrap();
        let c = s.seal(3, b"ctx", b"data").unwrap();
        assert_eq!(s.open(3, b"ctx", &c).unwrap(), b"data");
        assert!(s.open(3, b"ctz", &c).is_err());
        assert!(s.open(4, b"ctx", &c).is_err());
        let other = Sealer::derive(&SecretKey32::from_bytes([1; 32]), b"other").unwrap();
        assert!(other.open(3, b"ctx", &c).is_err());
    }
}
