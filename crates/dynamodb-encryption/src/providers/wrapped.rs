//! The wrapped provider (reference §6.2): a fresh AES-256 content key per item, wrapped with
//! AES key wrap or RSA-OAEP and stored in the material description.

use crate::error::{Error, Result};
use crate::keys::{SigningKey, SymmetricKey, SystemRng, VerificationKey};
use crate::materials::{
    CryptographicMaterialsProvider, DecryptionMaterials, EncryptionContext, EncryptionMaterials,
};
use aws_lc_rs::key_wrap::{AES_128, AES_256, KeyEncryptionKey, KeyWrap};
use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, ready};
use zeroize::Zeroizing;

/// Description key: the wrapped content key, base64.
pub const ENVELOPE_KEY: &str = "amzn-ddb-env-key";
/// Description key: the content key's algorithm, `AES/256` (Python) or `AES` (Java).
pub const CONTENT_ALGORITHM_KEY: &str = "amzn-ddb-env-alg";
/// Description key: the key-wrapping transformation.
pub const WRAPPING_ALGORITHM_KEY: &str = "amzn-ddb-wrap-alg";
/// RFC 3394 AES key wrap.
pub const AES_WRAP: &str = "AESWrap";
/// RSA-OAEP with SHA-256 and, as Java's provider default, MGF1 with SHA-1.
pub const RSA_OAEP_SHA256: &str = "RSA/ECB/OAEPWithSHA-256AndMGF1Padding";
/// RSAES-PKCS1-v1_5: what old Java items without a wrap algorithm used with RSA keys.
const RSA_PKCS1: &str = "RSA/ECB/PKCS1Padding";
/// What this crate writes as the content algorithm (Python's spelling).
const DEFAULT_CONTENT_ALGORITHM: &str = "AES/256";

/// The public half of the key wrap.
#[derive(Clone)]
pub enum WrappingKey {
    /// AES key-encryption key (16 or 32 bytes): `AESWrap`.
    Aes(SymmetricKey),
    /// RSA public key: RSA-OAEP-SHA256 with MGF1-SHA1.
    Rsa(RsaPublicKey),
}

impl WrappingKey {
    /// An RSA wrapping key from a DER SubjectPublicKeyInfo.
    pub fn rsa_from_der(der: &[u8]) -> Result<Self> {
        RsaPublicKey::from_public_key_der(der)
            .map(WrappingKey::Rsa)
            .map_err(|_| Error::InvalidConfiguration("not an RSA public key (DER SPKI)".into()))
    }
}

/// The private half of the key wrap.
pub enum UnwrappingKey {
    /// AES key-encryption key.
    Aes(SymmetricKey),
    /// RSA private key, for OAEP (RustCrypto, since aws-lc-rs has no SHA-256/MGF1-SHA-1
    /// OAEP) and for legacy PKCS#1 v1.5 (aws-lc-rs).
    Rsa {
        /// The key for OAEP.
        oaep: Box<RsaPrivateKey>,
        /// The same key for PKCS#1 v1.5.
        pkcs1: Box<Pkcs1PrivateDecryptingKey>,
    },
}

impl UnwrappingKey {
    /// An RSA unwrapping key from a DER PKCS#8 private key.
    pub fn rsa_from_pkcs8(der: &[u8]) -> Result<Self> {
        let bad = || Error::InvalidConfiguration("not an RSA private key (DER PKCS#8)".into());
        let oaep = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| bad())?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(der).map_err(|_| bad())?;
        let pkcs1 = Pkcs1PrivateDecryptingKey::new(decrypting).map_err(|_| bad())?;
        Ok(UnwrappingKey::Rsa {
            oaep: Box::new(oaep),
            pkcs1: Box::new(pkcs1),
        })
    }
}

impl fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WrappingKey::Aes(k) => write!(f, "WrappingKey::Aes({k:?})"),
            WrappingKey::Rsa(_) => f.write_str("WrappingKey::Rsa"),
        }
    }
}

impl fmt::Debug for UnwrappingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnwrappingKey::Aes(k) => write!(f, "UnwrappingKey::Aes({k:?})"),
            UnwrappingKey::Rsa { .. } => f.write_str("UnwrappingKey::Rsa"),
        }
    }
}

fn oaep() -> Oaep {
    Oaep::new_with_mgf_hash::<sha2::Sha256, sha1::Sha1>()
}

fn aes_kek(key: &SymmetricKey) -> Result<KeyEncryptionKey<aws_lc_rs::key_wrap::AesBlockCipher>> {
    let cipher = match key.bytes().len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => {
            return Err(Error::InvalidConfiguration(
                "AES wrapping key must be 16 or 32 bytes".into(),
            ));
        }
    };
    KeyEncryptionKey::new(cipher, key.bytes())
        .map_err(|_| Error::InvalidConfiguration("AES wrapping key".into()))
}

fn wrap(algorithm: &str, key: &WrappingKey, content_key: &SymmetricKey) -> Result<Vec<u8>> {
    match (algorithm, key) {
        (AES_WRAP, WrappingKey::Aes(kek)) => {
            let mut out = vec![0u8; content_key.bytes().len() + 8];
            let wrapped_len = aes_kek(kek)?
                .wrap(content_key.bytes(), &mut out)
                .map_err(|_| Error::InvalidConfiguration("AES key wrap failed".into()))?
                .len();
            out.truncate(wrapped_len);
            Ok(out)
        }
        (RSA_OAEP_SHA256, WrappingKey::Rsa(public)) => public
            .encrypt(&mut SystemRng, oaep(), content_key.bytes())
            .map_err(|_| Error::InvalidConfiguration("RSA-OAEP wrap failed".into())),
        _ => Err(Error::UnsupportedAlgorithm(format!(
            "wrapping algorithm {algorithm} with this key"
        ))),
    }
}

fn unwrap(algorithm: &str, key: &UnwrappingKey, wrapped: &[u8]) -> Result<SymmetricKey> {
    let failed = || Error::MissingMaterials("the content key does not unwrap".into());
    match (algorithm, key) {
        (AES_WRAP, UnwrappingKey::Aes(kek)) => {
            let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
            let len = aes_kek(kek)?
                .unwrap(wrapped, &mut out)
                .map_err(|_| failed())?
                .len();
            Ok(SymmetricKey::new(out[..len].to_vec()))
        }
        (RSA_OAEP_SHA256, UnwrappingKey::Rsa { oaep: private, .. }) => private
            .decrypt_blinded(&mut SystemRng, oaep(), wrapped)
            .map(|k| SymmetricKey::new(Zeroizing::new(k).to_vec()))
            .map_err(|_| failed()),
        (RSA_PKCS1, UnwrappingKey::Rsa { pkcs1, .. }) => {
            let mut out = Zeroizing::new(vec![0u8; pkcs1.min_output_size()]);
            let len = pkcs1
                .decrypt(wrapped, &mut out)
                .map_err(|_| failed())?
                .len();
            Ok(SymmetricKey::new(out[..len].to_vec()))
        }
        _ => Err(Error::UnsupportedAlgorithm(format!(
            "wrapping algorithm {algorithm} with this key"
        ))),
    }
}

/// `ALG[/BITS]` as in `amzn-ddb-env-alg`: only AES content keys exist. Returns the key length
/// in bytes, if the description gives one.
fn content_key_len(description: &str) -> Result<Option<usize>> {
    let (algorithm, bits) = match description.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (description, None),
    };
    if algorithm != "AES" {
        return Err(Error::UnsupportedAlgorithm(format!(
            "content algorithm {description}"
        )));
    }
    match bits.map(str::parse::<usize>) {
        None => Ok(None),
        Some(Ok(bits @ (128 | 256))) => Ok(Some(bits / 8)),
        Some(_) => Err(Error::UnsupportedAlgorithm(format!(
            "content algorithm {description}"
        ))),
    }
}

/// Base64 as the libraries wrote it; old Java used MIME base64 with CR/LF line breaks.
pub(crate) fn decode_base64_lenient(text: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64
        .decode(compact)
        .map_err(|_| Error::Malformed("material description value is not base64".into()))
}

/// Per-item content keys wrapped under a long-term key, as Python's
/// `WrappedCryptographicMaterialsProvider` / Java's `WrappedMaterialsProvider`.
#[derive(Debug)]
pub struct WrappedProvider {
    wrapping_key: Option<WrappingKey>,
    unwrapping_key: Option<UnwrappingKey>,
    signing_key: Option<SigningKey>,
    verification_key: Option<VerificationKey>,
    material_description: BTreeMap<String, String>,
}

impl WrappedProvider {
    /// A provider from its keys; a missing key disables that direction.
    pub fn new(
        wrapping_key: Option<WrappingKey>,
        unwrapping_key: Option<UnwrappingKey>,
        signing_key: Option<SigningKey>,
        verification_key: Option<VerificationKey>,
    ) -> Self {
        WrappedProvider {
            wrapping_key,
            unwrapping_key,
            signing_key,
            verification_key,
            material_description: BTreeMap::new(),
        }
    }

    /// The same AES key wraps and unwraps; one HMAC-SHA256 key signs and verifies.
    pub fn aes_hmac(wrapping_key: SymmetricKey, mac_key: SymmetricKey) -> Self {
        let signing = SigningKey::Hmac {
            algorithm: "HmacSHA256".into(),
            key: mac_key,
        };
        let verification = signing.verification_key();
        WrappedProvider::new(
            Some(WrappingKey::Aes(wrapping_key.clone())),
            Some(UnwrappingKey::Aes(wrapping_key)),
            Some(signing),
            Some(verification),
        )
    }

    /// Extra description entries written with every item. `amzn-ddb-env-alg` and
    /// `amzn-ddb-wrap-alg` here override the content and wrapping algorithms.
    pub fn with_material_description(mut self, description: BTreeMap<String, String>) -> Self {
        self.material_description = description;
        self
    }

    pub(crate) fn encryption(&self) -> Result<EncryptionMaterials> {
        let wrapping_key = self
            .wrapping_key
            .as_ref()
            .ok_or_else(|| Error::MissingMaterials("no wrapping key".into()))?;
        let signing_key = self
            .signing_key
            .clone()
            .ok_or_else(|| Error::MissingMaterials("no signing key".into()))?;
        let mut description = self.material_description.clone();
        let content_algorithm = description
            .get(CONTENT_ALGORITHM_KEY)
            .cloned()
            .unwrap_or_else(|| DEFAULT_CONTENT_ALGORITHM.to_owned());
        let key_len = content_key_len(&content_algorithm)?.unwrap_or(32);
        let wrapping_algorithm = match (description.get(WRAPPING_ALGORITHM_KEY), wrapping_key) {
            (Some(configured), _) => configured.clone(),
            (None, WrappingKey::Aes(_)) => AES_WRAP.to_owned(),
            (None, WrappingKey::Rsa(_)) => RSA_OAEP_SHA256.to_owned(),
        };
        let content_key = SymmetricKey::generate(key_len)?;
        let wrapped = wrap(&wrapping_algorithm, wrapping_key, &content_key)?;
        description.insert(ENVELOPE_KEY.into(), BASE64.encode(wrapped));
        description.insert(CONTENT_ALGORITHM_KEY.into(), content_algorithm);
        description.insert(WRAPPING_ALGORITHM_KEY.into(), wrapping_algorithm);
        Ok(EncryptionMaterials {
            encryption_key: Some(content_key),
            signing_key,
            material_description: description,
        })
    }

    pub(crate) fn decryption(
        &self,
        description: &BTreeMap<String, String>,
    ) -> Result<DecryptionMaterials> {
        let unwrapping_key = self
            .unwrapping_key
            .as_ref()
            .ok_or_else(|| Error::MissingMaterials("no unwrapping key".into()))?;
        let verification_key = self
            .verification_key
            .clone()
            .ok_or_else(|| Error::MissingMaterials("no verification key".into()))?;
        let wrapped =
            decode_base64_lenient(description.get(ENVELOPE_KEY).ok_or_else(|| {
                Error::Malformed("material description has no wrapped key".into())
            })?)?;
        // Without a wrap algorithm the key's own JCA algorithm applies (old Java items).
        let algorithm = match (description.get(WRAPPING_ALGORITHM_KEY), unwrapping_key) {
            (Some(name), _) => name.as_str(),
            (None, UnwrappingKey::Rsa { .. }) => RSA_PKCS1,
            (None, UnwrappingKey::Aes(_)) => {
                return Err(Error::UnsupportedAlgorithm(
                    "AES unwrapping without a wrap algorithm".into(),
                ));
            }
        };
        let content_key = unwrap(algorithm, unwrapping_key, &wrapped)?;
        let expected_len = match description.get(CONTENT_ALGORITHM_KEY) {
            Some(alg) => content_key_len(alg)?,
            None => None,
        };
        if expected_len.is_some_and(|len| len != content_key.bytes().len()) {
            return Err(Error::Malformed(
                "unwrapped key length differs from the content algorithm".into(),
            ));
        }
        Ok(DecryptionMaterials {
            decryption_key: Some(content_key),
            verification_key,
        })
    }
}

impl CryptographicMaterialsProvider for WrappedProvider {
    fn encryption_materials(
        &self,
        _context: &EncryptionContext,
    ) -> impl Future<Output = Result<EncryptionMaterials>> + Send {
        ready(self.encryption())
    }

    fn decryption_materials(
        &self,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<DecryptionMaterials>> + Send {
        ready(self.decryption(&context.material_description))
    }
}
