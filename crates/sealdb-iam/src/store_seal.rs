//! Sealing of the identity store's secrets and of session tokens: AES-256-GCM under
//! subkeys of root-derived keys, each blob `version ‖ nonce ‖ ciphertext ‖ tag` with the
//! purpose bound in as associated data (`docs/formats.md`, "Sealed access-key secret",
//! "Session token").

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use sealdb_common::SecretKey32;

/// Version byte of every blob sealed here. DO NOT CHANGE.
pub(crate) const SEALED_V1: u8 = sealdb_common::key_hierarchy::iam_sealed::V1;

/// Why a blob did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealError;

/// An AES-256-GCM key for one purpose, derived from a file key by HKDF-SHA256.
pub(crate) struct Sealer {
    key: LessSafeKey,
    purpose: &'static [u8],
}

impl Sealer {
    /// `HKDF-SHA256(salt = "", ikm = base, info = purpose)`.
    pub(crate) fn new(base: &SecretKey32, purpose: &'static [u8]) -> Result<Sealer, SealError> {
        struct Len32;
        impl hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(base.expose());
        let info = [purpose];
        let okm = prk.expand(&info, Len32).map_err(|_| SealError)?;
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        okm.fill(raw.as_mut()).map_err(|_| SealError)?;
        let key = UnboundKey::new(&AES_256_GCM, raw.as_ref()).map_err(|_| SealError)?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            purpose,
        })
    }

    /// AAD = `version ‖ purpose ‖ context`, so a blob cannot be moved to another purpose
    /// or another record (`context` is e.g. the access key id).
    fn aad(&self, context: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + self.purpose.len() + context.len());
        aad.push(SEALED_V1);
        aad.extend_from_slice(self.purpose);
        aad.extend_from_slice(context);
        aad
    }

    /// `0x01 ‖ nonce(12) ‖ AES-256-GCM(plaintext) ‖ tag(16)`.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError)?;
        let mut buf = zeroize::Zeroizing::new(plaintext.to_vec());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(context)),
                &mut *buf,
            )
            .map_err(|_| SealError)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens a sealed blob; another key, purpose, context, version or any changed byte fails.
    pub(crate) fn open(
        &self,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError)?;
        if version != SEALED_V1 || rest.len() < NONCE_LEN + 16 {
            return Err(SealError);
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut buf = zeroize::Zeroizing::new(ct.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(self.aad(context)), &mut buf)
            .map_err(|_| SealError)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fail_closed() {
        let base = SecretKey32::from_bytes([3; 32]);
        let s = Sealer::new(&base, b"purpose-a").unwrap();
        let blob = s.seal(b"wJalrXUtnFEMI", b"AKIA1").unwrap();
        assert_eq!(&**s.open(&blob, b"AKIA1").unwrap(), b"wJalrXUtnFEMI");
        assert!(!blob.windows(5).any(|w| w == b"wJalr"));
        assert_eq!(s.open(&blob, b"AKIA2"), Err(SealError));
        let other = Sealer::new(&base, b"purpose-b").unwrap();
        assert_eq!(other.open(&blob, b"AKIA1"), Err(SealError));
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 1;
            assert_eq!(s.open(&t, b"AKIA1"), Err(SealError), "byte {i}");
        }
        let mut v2 = blob.clone();
        v2[0] = 2;
        assert_eq!(s.open(&v2, b"AKIA1"), Err(SealError));
    }
}
