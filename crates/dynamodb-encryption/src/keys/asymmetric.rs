//! The asymmetric signature algorithms, by their JCA names (reference §5.2): RSASSA-PKCS1-v1_5
//! (`SHA224withRSA` … `SHA512withRSA`) and ECDSA over the NIST curves (`SHA256withECDSA`,
//! `SHA384withECDSA`, `SHA512withECDSA`), whose signatures are DER `SEQUENCE { r, s }` as
//! JCA writes them.

use crate::error::{Error, Result};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, ParsedPublicKey, RsaKeyPair};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use std::fmt;
use zeroize::Zeroizing;

/// The RustCrypto RSA code asks for randomness through `rand_core`; this serves it from
/// AWS-LC's generator.
pub(crate) struct SystemRng;

impl RngCore for SystemRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // This interface cannot report failure, and continuing without randomness would
        // weaken blinding and padding; AWS-LC itself aborts when its generator fails.
        if aws_lc_rs::rand::fill(dest).is_err() {
            std::process::abort();
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SystemRng {}

/// The hash named by a JCA signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// The signature family named by a JCA algorithm (`SHA384withECDSA` → ECDSA, SHA-384).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Rsa(Hash),
    Ecdsa(Hash),
}

fn family(name: &str) -> Option<Family> {
    let (hash, scheme) = name.split_once("with")?;
    let hash = match hash {
        "SHA224" => Hash::Sha224,
        "SHA256" => Hash::Sha256,
        "SHA384" => Hash::Sha384,
        "SHA512" => Hash::Sha512,
        _ => return None,
    };
    match scheme {
        "RSA" => Some(Family::Rsa(hash)),
        // aws-lc-rs has SHA-224 ECDSA on P-521 only; Java users name the three others.
        "ECDSA" if hash != Hash::Sha224 => Some(Family::Ecdsa(hash)),
        _ => None,
    }
}

/// True when `name` is an RSA signature algorithm this crate implements.
pub(crate) fn is_rsa(name: &str) -> bool {
    matches!(family(name), Some(Family::Rsa(_)))
}

/// True when `name` is an ECDSA signature algorithm this crate implements.
pub(crate) fn is_ecdsa(name: &str) -> bool {
    matches!(family(name), Some(Family::Ecdsa(_)))
}

fn unsupported(name: &str) -> Error {
    Error::UnsupportedAlgorithm(name.to_owned())
}

/// An elliptic curve of an ECDSA key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
}

impl fmt::Display for EcCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
        })
    }
}

const CURVES: [EcCurve; 3] = [EcCurve::P256, EcCurve::P384, EcCurve::P521];

/// Verification of `hash` on `curve`: aws-lc-rs has all nine pairs.
fn ecdsa_verification(
    curve: EcCurve,
    hash: Hash,
) -> Option<&'static sig::EcdsaVerificationAlgorithm> {
    Some(match (curve, hash) {
        (EcCurve::P256, Hash::Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
        (EcCurve::P256, Hash::Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
        (EcCurve::P256, Hash::Sha512) => &sig::ECDSA_P256_SHA512_ASN1,
        (EcCurve::P384, Hash::Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
        (EcCurve::P384, Hash::Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
        (EcCurve::P384, Hash::Sha512) => &sig::ECDSA_P384_SHA512_ASN1,
        (EcCurve::P521, Hash::Sha256) => &sig::ECDSA_P521_SHA256_ASN1,
        (EcCurve::P521, Hash::Sha384) => &sig::ECDSA_P521_SHA384_ASN1,
        (EcCurve::P521, Hash::Sha512) => &sig::ECDSA_P521_SHA512_ASN1,
        (_, Hash::Sha224) => return None,
    })
}

/// Signing with `hash` on `curve` where aws-lc-rs has the pair: P-256 with SHA-256, P-384
/// with SHA-384 and P-521 with any of the three. The other four pairs sign a digest
/// (`prehash`).
fn ecdsa_signing(curve: EcCurve, hash: Hash) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    Some(match (curve, hash) {
        (EcCurve::P256, Hash::Sha256) => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        (EcCurve::P384, Hash::Sha384) => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        (EcCurve::P521, Hash::Sha256) => &sig::ECDSA_P521_SHA256_ASN1_SIGNING,
        (EcCurve::P521, Hash::Sha384) => &sig::ECDSA_P521_SHA384_ASN1_SIGNING,
        (EcCurve::P521, Hash::Sha512) => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => return None,
    })
}

/// A curve's natural pairing, used only to find out which curve a key is on.
fn probe(curve: EcCurve) -> &'static sig::EcdsaSigningAlgorithm {
    match curve {
        EcCurve::P256 => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        EcCurve::P384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        EcCurve::P521 => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
    }
}

fn ecdsa_hash(algorithm: &str) -> Result<Hash> {
    match family(algorithm) {
        Some(Family::Ecdsa(hash)) => Ok(hash),
        _ => Err(unsupported(algorithm)),
    }
}

/// An ECDSA key pair for `algorithm` from a DER PKCS#8 private key (what Java's
/// `PrivateKey.getEncoded()` gives); the curve is the key's own. Where aws-lc-rs has no
/// signer for the pair, the key pair is the curve's natural one and signs digests.
pub(crate) fn ecdsa_key_pair(algorithm: &str, pkcs8: &[u8]) -> Result<EcdsaKeyPair> {
    let hash = ecdsa_hash(algorithm)?;
    let curve = CURVES
        .into_iter()
        .find(|c| EcdsaKeyPair::from_pkcs8(probe(*c), pkcs8).is_ok())
        .ok_or_else(|| {
            Error::InvalidConfiguration("not an EC PKCS#8 private key on P-256/384/521".into())
        })?;
    let signing = ecdsa_signing(curve, hash).unwrap_or_else(|| probe(curve));
    EcdsaKeyPair::from_pkcs8(signing, pkcs8)
        .map_err(|_| Error::InvalidConfiguration("EC private key rejected".into()))
}

/// The curve of a DER public key (SubjectPublicKeyInfo, or an uncompressed SEC1 point only
/// if it fits a single curve).
pub(crate) fn ec_curve_of(public_key: &[u8]) -> Result<EcCurve> {
    CURVES
        .into_iter()
        .find(|c| {
            let alg = ecdsa_verification(*c, Hash::Sha256);
            alg.is_some_and(|alg| ParsedPublicKey::new(alg, public_key).is_ok())
        })
        .ok_or_else(|| Error::InvalidConfiguration("not an EC public key on P-256/384/521".into()))
}

/// The curve of a key pair, from the length of its uncompressed public point.
pub(crate) fn curve_of_key_pair(key_pair: &EcdsaKeyPair) -> EcCurve {
    use aws_lc_rs::signature::KeyPair as _;
    match key_pair.public_key().as_ref().len() {
        65 => EcCurve::P256,
        97 => EcCurve::P384,
        _ => EcCurve::P521,
    }
}

/// Signs `message` with `algorithm` (its hash; the curve is the key pair's): the DER
/// signature.
pub(crate) fn ecdsa_sign(
    algorithm: &str,
    key_pair: &EcdsaKeyPair,
    message: &[u8],
) -> Result<Vec<u8>> {
    let hash = ecdsa_hash(algorithm)?;
    let curve = curve_of_key_pair(key_pair);
    let signature = if ecdsa_signing(curve, hash) == Some(key_pair.algorithm()) {
        key_pair.sign(&aws_lc_rs::rand::SystemRandom::new(), message)
    } else {
        key_pair.sign_digest(&prehash(algorithm, hash, curve, key_pair, message)?)
    };
    signature
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| Error::InvalidConfiguration("ECDSA signing failed".into()))
}

/// The digest algorithm of a key pair's own signer (ASN.1 signatures only).
fn own_digest(key_pair: &EcdsaKeyPair) -> Option<&'static digest::Algorithm> {
    let own = key_pair.algorithm();
    [
        (&sig::ECDSA_P256_SHA256_ASN1_SIGNING, &digest::SHA256),
        (&sig::ECDSA_P384_SHA384_ASN1_SIGNING, &digest::SHA384),
        (&sig::ECDSA_P521_SHA256_ASN1_SIGNING, &digest::SHA256),
        (&sig::ECDSA_P521_SHA384_ASN1_SIGNING, &digest::SHA384),
        (&sig::ECDSA_P521_SHA512_ASN1_SIGNING, &digest::SHA512),
    ]
    .into_iter()
    .find(|(signer, _)| *signer == own)
    .map(|(_, digest)| digest)
}

/// The digest to sign for JCA's `SHA384withECDSA` on P-256 (and the other pairs aws-lc-rs
/// has no signer for): the message hashed with the named digest, given to the key pair's
/// own signer.
/// FIPS 186-4 §6.4 signs the integer of the leftmost min(N, hash length) bits of the hash,
/// N the bit length of the curve's order; the digest is handed over at the length of the
/// signer's own digest, cut to its leftmost bytes or padded with leading zero bytes, which
/// gives aws-lc the same integer whenever that length is N bits (P-256 with SHA-256, P-384
/// with SHA-384: the pairs `ecdsa_key_pair` builds) or no more than N bits and no shorter
/// than the hash. Any other combination is refused rather than signed wrongly.
fn prehash(
    algorithm: &str,
    hash: Hash,
    curve: EcCurve,
    key_pair: &EcdsaKeyPair,
    message: &[u8],
) -> Result<digest::Digest> {
    let refused = || Error::UnsupportedAlgorithm(format!("{algorithm} signing on {curve}"));
    let named = match hash {
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
        Hash::Sha224 => return Err(refused()),
    };
    let own = own_digest(key_pair).ok_or_else(refused)?;
    let order_bits = match curve {
        EcCurve::P256 => 256,
        EcCurve::P384 => 384,
        EcCurve::P521 => 521,
    };
    let hashed = digest::digest(named, message);
    let hashed = hashed.as_ref();
    let own_len = own.output_len;
    let same_integer = if hashed.len() > own_len {
        own_len * 8 >= order_bits
    } else {
        own_len * 8 <= order_bits
    };
    if !same_integer {
        return Err(refused());
    }
    let mut fitted = vec![0u8; own_len.saturating_sub(hashed.len())];
    fitted.extend_from_slice(&hashed[..hashed.len().min(own_len)]);
    digest::Digest::import_less_safe(&fitted, own).map_err(|_| refused())
}

/// Checks a DER ECDSA signature made with `algorithm` on `curve`.
pub(crate) fn ecdsa_verify(
    algorithm: &str,
    curve: EcCurve,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    let alg =
        ecdsa_verification(curve, ecdsa_hash(algorithm)?).ok_or_else(|| unsupported(algorithm))?;
    sig::UnparsedPublicKey::new(alg, public_key)
        .verify(message, signature)
        .map_err(|_| Error::SignatureMismatch)
}

fn rsa_hash(algorithm: &str) -> Result<Hash> {
    match family(algorithm) {
        Some(Family::Rsa(hash)) => Ok(hash),
        _ => Err(unsupported(algorithm)),
    }
}

/// Signs with RSASSA-PKCS1-v1_5 under `algorithm`.
pub(crate) fn rsa_sign(algorithm: &str, key_pair: &RsaKeyPair, message: &[u8]) -> Result<Vec<u8>> {
    let failed = || Error::InvalidConfiguration("RSA signing failed".into());
    let encoding: &'static dyn sig::RsaEncoding = match rsa_hash(algorithm)? {
        Hash::Sha256 => &sig::RSA_PKCS1_SHA256,
        Hash::Sha384 => &sig::RSA_PKCS1_SHA384,
        Hash::Sha512 => &sig::RSA_PKCS1_SHA512,
        // aws-lc-rs has no SHA-224 PKCS#1 signatures: the RustCrypto key signs, blinded,
        // from the same key (parsed per signature; this algorithm is rare).
        Hash::Sha224 => {
            let der = Zeroizing::new(
                AsDer::<Pkcs8V1Der>::as_der(key_pair)
                    .map_err(|_| failed())?
                    .as_ref()
                    .to_vec(),
            );
            let key = RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| failed())?;
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha224>::new(key);
            return signer
                .try_sign_with_rng(&mut SystemRng, message)
                .map(|s| s.to_vec())
                .map_err(|_| failed());
        }
    };
    let mut out = vec![0u8; key_pair.public_modulus_len()];
    key_pair
        .sign(
            encoding,
            &aws_lc_rs::rand::SystemRandom::new(),
            message,
            &mut out,
        )
        .map_err(|_| failed())?;
    Ok(out)
}

/// Checks an RSASSA-PKCS1-v1_5 signature made with `algorithm`; the public key is DER
/// SubjectPublicKeyInfo or PKCS#1.
pub(crate) fn rsa_verify(
    algorithm: &str,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    let params: &'static sig::RsaParameters = match rsa_hash(algorithm)? {
        Hash::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Hash::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Hash::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Hash::Sha224 => {
            let key = RsaPublicKey::from_public_key_der(public_key)
                .or_else(|_| RsaPublicKey::from_pkcs1_der(public_key))
                .map_err(|_| Error::SignatureMismatch)?;
            let signature = rsa::pkcs1v15::Signature::try_from(signature)
                .map_err(|_| Error::SignatureMismatch)?;
            return rsa::pkcs1v15::VerifyingKey::<sha2::Sha224>::new(key)
                .verify(message, &signature)
                .map_err(|_| Error::SignatureMismatch);
        }
    };
    sig::UnparsedPublicKey::new(params, public_key)
        .verify(message, signature)
        .map_err(|_| Error::SignatureMismatch)
}
