//! One attribute's encryption (reference §4) and HMAC item signatures (§5.2).
//!
//! An encrypted attribute is `IV (16) ‖ AES-CBC(PKCS#7(serialize(value)))` under the content
//! key (AES-128 or AES-256 by its length), with a fresh random IV per attribute. There is no
//! integrity inside the attribute: the item signature provides it, so callers must verify the
//! signature before decrypting.

use crate::serialize::{deserialize, serialize};
use crate::{Attribute, FormatError};
use aws_lc_rs::cipher::{
    AES_128, AES_256, DecryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
    UnboundCipherKey,
};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

const IV_LEN: usize = 16;

fn cipher_key(key: &[u8]) -> Result<UnboundCipherKey, FormatError> {
    let alg = match key.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => return Err(FormatError::Crypto("content key must be 16 or 32 bytes")),
    };
    UnboundCipherKey::new(alg, key).map_err(|_| FormatError::Crypto("content key"))
}

/// One item's content key, ready to encrypt its attributes: the AES key schedule is built
/// once per item, not once per attribute.
pub struct AttributeEncryptor(PaddedBlockEncryptingKey);

impl AttributeEncryptor {
    /// Prepares `key` (16 or 32 bytes).
    pub fn new(key: &[u8]) -> Result<Self, FormatError> {
        PaddedBlockEncryptingKey::cbc_pkcs7(cipher_key(key)?)
            .map(AttributeEncryptor)
            .map_err(|_| FormatError::Crypto("content key"))
    }

    /// Encrypts one attribute value for storage as a `B` attribute, under a fresh IV.
    pub fn encrypt(&self, value: &Attribute) -> Result<Vec<u8>, FormatError> {
        let mut body = serialize(value)?;
        let ctx = self
            .0
            .encrypt(&mut body)
            .map_err(|_| FormatError::Crypto("encryption failed"))?;
        let iv: &[u8] = (&ctx)
            .try_into()
            .map_err(|_| FormatError::Crypto("encryption failed"))?;
        let mut out = Vec::with_capacity(IV_LEN + body.len());
        out.extend_from_slice(iv);
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// One item's content key, ready to decrypt its attributes (key schedule built once).
pub struct AttributeDecryptor(PaddedBlockDecryptingKey);

impl AttributeDecryptor {
    /// Prepares `key` (16 or 32 bytes).
    pub fn new(key: &[u8]) -> Result<Self, FormatError> {
        PaddedBlockDecryptingKey::cbc_pkcs7(cipher_key(key)?)
            .map(AttributeDecryptor)
            .map_err(|_| FormatError::Crypto("content key"))
    }

    /// Decrypts a stored `B` attribute back to its value.
    pub fn decrypt(&self, stored: &[u8]) -> Result<Attribute, FormatError> {
        if stored.len() < 2 * IV_LEN || stored.len() % IV_LEN != 0 {
            return Err(FormatError::Crypto("encrypted attribute has a bad length"));
        }
        let (iv, body) = stored.split_at(IV_LEN);
        let iv: [u8; IV_LEN] = iv
            .try_into()
            .map_err(|_| FormatError::Crypto("encrypted attribute has a bad length"))?;
        let mut buf = body.to_vec();
        let plain = self
            .0
            .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| FormatError::Crypto("attribute decryption failed"))?;
        deserialize(plain)
    }
}

/// Encrypts one attribute value for storage as a `B` attribute.
pub fn encrypt_attribute(key: &[u8], value: &Attribute) -> Result<Vec<u8>, FormatError> {
    AttributeEncryptor::new(key)?.encrypt(value)
}

/// Decrypts a stored `B` attribute back to its value.
pub fn decrypt_attribute(key: &[u8], stored: &[u8]) -> Result<Attribute, FormatError> {
    AttributeDecryptor::new(key)?.decrypt(stored)
}

/// The HMAC algorithms a signing key may name (`HmacSHA256` is the normal one).
fn hmac_algorithm(name: &str) -> Result<hmac::Algorithm, FormatError> {
    Ok(match name {
        "HmacSHA256" => hmac::HMAC_SHA256,
        "HmacSHA384" => hmac::HMAC_SHA384,
        "HmacSHA512" => hmac::HMAC_SHA512,
        "HmacSHA224" => hmac::HMAC_SHA224,
        _ => return Err(FormatError::Unsupported(format!("MAC algorithm {name}"))),
    })
}

/// The HMAC signature of a string to sign.
pub fn hmac_sign(
    algorithm: &str,
    key: &[u8],
    string_to_sign: &[u8],
) -> Result<Vec<u8>, FormatError> {
    let key = hmac::Key::new(hmac_algorithm(algorithm)?, key);
    Ok(hmac::sign(&key, string_to_sign).as_ref().to_vec())
}

/// Checks an HMAC signature in constant time.
pub fn hmac_verify(
    algorithm: &str,
    key: &[u8],
    string_to_sign: &[u8],
    signature: &[u8],
) -> Result<(), FormatError> {
    let key = hmac::Key::new(hmac_algorithm(algorithm)?, key);
    hmac::verify(&key, string_to_sign, signature)
        .map_err(|_| FormatError::Crypto("signature verification failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_fresh_ivs() {
        let value = Attribute::M(
            [("n".to_owned(), Attribute::N("1.50".into()))]
                .into_iter()
                .collect(),
        );
        for key in [[7u8; 16].as_slice(), [9u8; 32].as_slice()] {
            let a = encrypt_attribute(key, &value).unwrap();
            let b = encrypt_attribute(key, &value).unwrap();
            assert_ne!(a[..16], b[..16], "a fresh IV per attribute");
            assert_eq!(a.len() % 16, 0);
            // Decrypts to the canonical value.
            let back = decrypt_attribute(key, &a).unwrap();
            let Attribute::M(m) = back else { panic!() };
            assert_eq!(m["n"], Attribute::N("1.5".into()));
        }
        let stored = encrypt_attribute(&[7; 16], &Attribute::S("x".into())).unwrap();
        // A wrong key fails to unpad or to deserialize, or yields garbage: never the value.
        assert_ne!(
            decrypt_attribute(&[8; 16], &stored).ok(),
            Some(Attribute::S("x".into()))
        );
        assert!(decrypt_attribute(&[7; 16], &stored[..16]).is_err());
        assert!(decrypt_attribute(&[7; 15], &stored).is_err());
    }

    #[test]
    fn hmac_signs_and_verifies() {
        let key = [0u8, 1, 2, 3, 4, 5, 6, 7];
        let sig = hmac_sign("HmacSHA256", &key, b"data").unwrap();
        assert_eq!(sig.len(), 32);
        hmac_verify("HmacSHA256", &key, b"data", &sig).unwrap();
        assert!(hmac_verify("HmacSHA256", &key, b"datb", &sig).is_err());
        assert!(hmac_verify("HmacSHA256", &key, b"data", &sig[..31]).is_err());
        assert!(hmac_sign("HmacMD5", &key, b"data").is_err());
    }
}
