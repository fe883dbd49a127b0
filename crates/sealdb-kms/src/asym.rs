//! Asymmetric keys (RSA and ECC: Sign/Verify, GetPublicKey, RSA-OAEP encryption),
//! data key pairs, and imported key material (GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial).

use crate::error::KmsError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use aws_lc_rs::{digest, rand::SystemRandom};
use zeroize::Zeroizing;

/// Key specs of asymmetric keys.
pub(crate) fn is_rsa(spec: &str) -> bool {
    matches!(spec, "RSA_2048" | "RSA_3072" | "RSA_4096")
}

pub(crate) fn is_ecc(spec: &str) -> bool {
    matches!(
        spec,
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1"
    )
}

fn rsa_size(spec: &str) -> Option<KeySize> {
    match spec {
        "RSA_2048" => Some(KeySize::Rsa2048),
        "RSA_3072" => Some(KeySize::Rsa3072),
        "RSA_4096" => Some(KeySize::Rsa4096),
        _ => None,
    }
}

fn ecc_signing(spec: &str) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match spec {
        "ECC_NIST_P256" => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        "ECC_NIST_P384" => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        "ECC_NIST_P521" => Some(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        "ECC_SECG_P256K1" => Some(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING),
        _ => None,
    }
}

/// A fresh private key, PKCS#8 DER.
pub(crate) fn generate(spec: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    if let Some(size) = rsa_size(spec) {
        let k = PrivateDecryptingKey::generate(size).map_err(|_| KmsError::Internal)?;
        let der = k.as_der().map_err(|_| KmsError::Internal)?;
        return Ok(Zeroizing::new(der.as_ref().to_vec()));
    }
    if let Some(alg) = ecc_signing(spec) {
        let doc = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new())
            .map_err(|_| KmsError::Internal)?;
        return Ok(Zeroizing::new(doc.as_ref().to_vec()));
    }
    Err(KmsError::Internal)
}

/// The DER SubjectPublicKeyInfo of a private key.
pub(crate) fn public_key(spec: &str, pkcs8: &[u8]) -> Result<Vec<u8>, KmsError> {
    if is_rsa(spec) {
        let k = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| KmsError::Internal)?;
        let der = k.public_key().as_der().map_err(|_| KmsError::Internal)?;
        return Ok(der.as_ref().to_vec());
    }
    let alg = ecc_signing(spec).ok_or(KmsError::Internal)?;
    let k = EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|_| KmsError::Internal)?;
    let der = k.public_key().as_der().map_err(|_| KmsError::Internal)?;
    Ok(der.as_ref().to_vec())
}

pub(crate) fn signing_algorithms(spec: &str) -> Vec<&'static str> {
    match spec {
        s if is_rsa(s) => vec![
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
        ],
        "ECC_NIST_P256" | "ECC_SECG_P256K1" => vec!["ECDSA_SHA_256"],
        "ECC_NIST_P384" => vec!["ECDSA_SHA_384"],
        "ECC_NIST_P521" => vec!["ECDSA_SHA_512"],
        _ => Vec::new(),
    }
}

pub(crate) const RSA_ENCRYPTION_ALGORITHMS: [&str; 2] = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"];

fn digest_alg(alg: &str) -> Option<&'static digest::Algorithm> {
    if alg.ends_with("SHA_256") {
        Some(&digest::SHA256)
    } else if alg.ends_with("SHA_384") {
        Some(&digest::SHA384)
    } else if alg.ends_with("SHA_512") {
        Some(&digest::SHA512)
    } else {
        None
    }
}

fn rsa_encoding(alg: &str) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match alg {
        "RSASSA_PSS_SHA_256" => &signature::RSA_PSS_SHA256,
        "RSASSA_PSS_SHA_384" => &signature::RSA_PSS_SHA384,
        "RSASSA_PSS_SHA_512" => &signature::RSA_PSS_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &signature::RSA_PKCS1_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &signature::RSA_PKCS1_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &signature::RSA_PKCS1_SHA512,
        _ => return None,
    })
}

fn rsa_verification(alg: &str) -> Option<&'static signature::RsaParameters> {
    Some(match alg {
        "RSASSA_PSS_SHA_256" => &signature::RSA_PSS_2048_8192_SHA256,
        "RSASSA_PSS_SHA_384" => &signature::RSA_PSS_2048_8192_SHA384,
        "RSASSA_PSS_SHA_512" => &signature::RSA_PSS_2048_8192_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

fn ecc_verification(spec: &str) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
    match spec {
        "ECC_NIST_P256" => Some(&signature::ECDSA_P256_SHA256_ASN1),
        "ECC_NIST_P384" => Some(&signature::ECDSA_P384_SHA384_ASN1),
        "ECC_NIST_P521" => Some(&signature::ECDSA_P521_SHA512_ASN1),
        "ECC_SECG_P256K1" => Some(&signature::ECDSA_P256K1_SHA256_ASN1),
        _ => None,
    }
}

/// The message to sign as a digest object (RAW messages are hashed here).
fn message_digest(
    alg: &'static digest::Algorithm,
    message: &[u8],
    is_digest: bool,
) -> Result<digest::Digest, KmsError> {
    if is_digest {
        digest::Digest::import_less_safe(message, alg).map_err(|_| {
            KmsError::Validation(format!(
                "Digest is invalid length for algorithm {}.",
                if alg.output_len() == 32 {
                    "SHA_256"
                } else if alg.output_len() == 48 {
                    "SHA_384"
                } else {
                    "SHA_512"
                }
            ))
        })
    } else {
        Ok(digest::digest(alg, message))
    }
}

/// Signs with an asymmetric key.
pub(crate) fn sign(
    spec: &str,
    pkcs8: &[u8],
    alg: &str,
    message: &[u8],
    is_digest: bool,
) -> Result<Vec<u8>, KmsError> {
    if !signing_algorithms(spec).contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {alg} is incompatible with key spec {spec}."
        )));
    }
    let d = message_digest(
        digest_alg(alg).ok_or(KmsError::Internal)?,
        message,
        is_digest,
    )?;
    if is_rsa(spec) {
        let k = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KmsError::Internal)?;
        let mut sig = vec![0u8; k.public_modulus_len()];
        k.sign_digest(rsa_encoding(alg).ok_or(KmsError::Internal)?, &d, &mut sig)
            .map_err(|_| KmsError::Internal)?;
        return Ok(sig);
    }
    let k = EcdsaKeyPair::from_pkcs8(ecc_signing(spec).ok_or(KmsError::Internal)?, pkcs8)
        .map_err(|_| KmsError::Internal)?;
    let sig = k.sign_digest(&d).map_err(|_| KmsError::Internal)?;
    Ok(sig.as_ref().to_vec())
}

/// Verifies a signature; false when it does not match.
pub(crate) fn verify(
    spec: &str,
    pkcs8: &[u8],
    alg: &str,
    message: &[u8],
    is_digest: bool,
    sig: &[u8],
) -> Result<bool, KmsError> {
    if !signing_algorithms(spec).contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {alg} is incompatible with key spec {spec}."
        )));
    }
    let d = message_digest(
        digest_alg(alg).ok_or(KmsError::Internal)?,
        message,
        is_digest,
    )?;
    let public = public_key(spec, pkcs8)?;
    let ok = if is_rsa(spec) {
        signature::ParsedPublicKey::new(rsa_verification(alg).ok_or(KmsError::Internal)?, &public)
            .map_err(|_| KmsError::Internal)?
            .verify_digest_sig(&d, sig)
            .is_ok()
    } else {
        signature::ParsedPublicKey::new(ecc_verification(spec).ok_or(KmsError::Internal)?, &public)
            .map_err(|_| KmsError::Internal)?
            .verify_digest_sig(&d, sig)
            .is_ok()
    };
    Ok(ok)
}

fn oaep(alg: &str) -> Result<&'static OaepAlgorithm, KmsError> {
    match alg {
        "RSAES_OAEP_SHA_1" => Ok(&OAEP_SHA1_MGF1SHA1),
        "RSAES_OAEP_SHA_256" => Ok(&OAEP_SHA256_MGF1SHA256),
        other => Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {other} is not valid for this RSA key."
        ))),
    }
}

/// RSA-OAEP encryption with the key's public half.
pub(crate) fn rsa_encrypt(pkcs8: &[u8], alg: &str, plaintext: &[u8]) -> Result<Vec<u8>, KmsError> {
    let k = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| KmsError::Internal)?;
    let public = OaepPublicEncryptingKey::new(k.public_key()).map_err(|_| KmsError::Internal)?;
    let algorithm = oaep(alg)?;
    if plaintext.len() > public.max_plaintext_size(algorithm) {
        return Err(KmsError::Validation(format!(
            "Plaintext is too long for {alg} with this key."
        )));
    }
    let mut out = vec![0u8; public.ciphertext_size()];
    let ct = public
        .encrypt(algorithm, plaintext, &mut out, None)
        .map_err(|_| KmsError::Internal)?;
    Ok(ct.to_vec())
}

/// RSA-OAEP decryption.
pub(crate) fn rsa_decrypt(
    pkcs8: &[u8],
    alg: &str,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let k = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| KmsError::Internal)?;
    let private = OaepPrivateDecryptingKey::new(k).map_err(|_| KmsError::Internal)?;
    let mut out = Zeroizing::new(vec![0u8; private.min_output_size()]);
    let pt = private
        .decrypt(oaep(alg)?, ciphertext, out.as_mut_slice(), None)
        .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
    Ok(Zeroizing::new(pt.to_vec()))
}

/// Unwraps imported key material with the import parameters' private key, for the
/// AWS wrapping algorithms.
pub(crate) fn unwrap_import(
    wrapping_pkcs8: &[u8],
    alg: &str,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    match alg {
        "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" => rsa_decrypt(wrapping_pkcs8, alg, wrapped),
        "RSA_AES_KEY_WRAP_SHA_1" | "RSA_AES_KEY_WRAP_SHA_256" => {
            // RSA-OAEP-wrapped ephemeral AES key, then the material under AES-KWP.
            let k =
                PrivateDecryptingKey::from_pkcs8(wrapping_pkcs8).map_err(|_| KmsError::Internal)?;
            let n = k.key_size_bytes();
            if wrapped.len() <= n {
                return Err(KmsError::InvalidCiphertext(String::new()));
            }
            let (rsa_part, kwp_part) = wrapped.split_at(n);
            let oaep_alg = if alg.ends_with("SHA_1") {
                "RSAES_OAEP_SHA_1"
            } else {
                "RSAES_OAEP_SHA_256"
            };
            let aes = rsa_decrypt(wrapping_pkcs8, oaep_alg, rsa_part)?;
            use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
            let kek = AesKek::new(&AES_256, &aes)
                .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
            let mut out = Zeroizing::new(vec![0u8; kwp_part.len()]);
            let pt = kek
                .unwrap_with_padding(kwp_part, out.as_mut_slice())
                .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
            Ok(Zeroizing::new(pt.to_vec()))
        }
        other => Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256]"
        ))),
    }
}

/// A fresh key pair for GenerateDataKeyPair: (private PKCS#8, public SPKI).
pub(crate) fn data_key_pair(spec: &str) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), KmsError> {
    let private = generate(spec)?;
    let public = public_key(spec, &private)?;
    Ok((private, public))
}
