//! Key types. Secret bytes live in zeroizing buffers and no `Debug` output shows them.
//! Asymmetric keys carry their JCA signature algorithm name (`SHA256withRSA`,
//! `SHA384withECDSA`, ...), which is what the Java client writes to and reads from
//! `amzn-ddb-map-signingAlg`.

mod asymmetric;

pub use asymmetric::EcCurve;
pub(crate) use asymmetric::SystemRng;

use crate::attribute_crypto::{hmac_sign, hmac_verify};
use crate::error::{Error, Result};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Secret key bytes (an AES content/wrapping key or an HMAC key).
#[derive(Clone)]
pub struct SymmetricKey(Zeroizing<Vec<u8>>);

impl SymmetricKey {
    /// Wraps raw key bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SymmetricKey(Zeroizing::new(bytes.into()))
    }

    /// `len` random bytes from the system generator.
    pub fn generate(len: usize) -> Result<Self> {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::MissingMaterials("random generator failed".into()))?;
        Ok(SymmetricKey(bytes))
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymmetricKey({} bytes)", self.0.len())
    }
}

/// The key an item signature is made with.
#[derive(Clone)]
pub enum SigningKey {
    /// An HMAC key with its JCA algorithm name (`HmacSHA256`, ...).
    Hmac {
        /// `HmacSHA256`, `HmacSHA384`, `HmacSHA512` or `HmacSHA224`.
        algorithm: String,
        /// The MAC key (any length is accepted, as both libraries do).
        key: SymmetricKey,
    },
    /// An RSA private key with its JCA signature name (RSASSA-PKCS1-v1_5).
    Rsa {
        /// `SHA224withRSA`, `SHA256withRSA`, `SHA384withRSA` or `SHA512withRSA`.
        algorithm: String,
        /// The key pair.
        key_pair: Arc<RsaKeyPair>,
    },
    /// An ECDSA private key with its JCA signature name (Java only: Python has no ECDSA).
    /// Signatures are DER `SEQUENCE { r, s }`, as JCA writes them.
    Ecdsa {
        /// `SHA256withECDSA`, `SHA384withECDSA` or `SHA512withECDSA`.
        algorithm: String,
        /// The key pair (its curve is the key's own).
        key_pair: Arc<EcdsaKeyPair>,
    },
}

impl SigningKey {
    /// An `HmacSHA256` key.
    pub fn hmac_sha256(key: impl Into<Vec<u8>>) -> Self {
        SigningKey::Hmac {
            algorithm: "HmacSHA256".into(),
            key: SymmetricKey::new(key),
        }
    }

    /// A `SHA256withRSA` key from a DER PKCS#8 private key.
    pub fn rsa_sha256_from_pkcs8(der: &[u8]) -> Result<Self> {
        Self::rsa_from_pkcs8("SHA256withRSA", der)
    }

    /// An RSA key from a DER PKCS#8 private key, signing with `algorithm`
    /// (`SHA224withRSA`, `SHA256withRSA`, `SHA384withRSA` or `SHA512withRSA`).
    pub fn rsa_from_pkcs8(algorithm: &str, der: &[u8]) -> Result<Self> {
        if !asymmetric::is_rsa(algorithm) {
            return Err(Error::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        let key_pair = RsaKeyPair::from_pkcs8(der)
            .map_err(|_| Error::InvalidConfiguration("not an RSA PKCS#8 private key".into()))?;
        Ok(SigningKey::Rsa {
            algorithm: algorithm.to_owned(),
            key_pair: Arc::new(key_pair),
        })
    }

    /// An ECDSA key from a DER PKCS#8 private key on P-256, P-384 or P-521, signing with
    /// `algorithm` (`SHA256withECDSA`, `SHA384withECDSA` or `SHA512withECDSA`): all nine
    /// hash/curve pairs, as JCA signs them (the named hash, cut to the curve order's length
    /// per FIPS 186-4, DER signature).
    pub fn ecdsa_from_pkcs8(algorithm: &str, der: &[u8]) -> Result<Self> {
        let key_pair = asymmetric::ecdsa_key_pair(algorithm, der)?;
        Ok(SigningKey::Ecdsa {
            algorithm: algorithm.to_owned(),
            key_pair: Arc::new(key_pair),
        })
    }

    /// The JCA algorithm name, as written to `amzn-ddb-map-signingAlg`.
    pub fn algorithm(&self) -> &str {
        match self {
            SigningKey::Hmac { algorithm, .. }
            | SigningKey::Rsa { algorithm, .. }
            | SigningKey::Ecdsa { algorithm, .. } => algorithm,
        }
    }

    /// The verification key matching this signing key.
    pub fn verification_key(&self) -> VerificationKey {
        match self {
            SigningKey::Hmac { algorithm, key } => VerificationKey::Hmac {
                algorithm: algorithm.clone(),
                key: key.clone(),
            },
            SigningKey::Rsa {
                algorithm,
                key_pair,
            } => VerificationKey::Rsa {
                algorithm: algorithm.clone(),
                public_key: key_pair.public_key().as_ref().to_vec(),
            },
            SigningKey::Ecdsa {
                algorithm,
                key_pair,
            } => VerificationKey::Ecdsa {
                algorithm: algorithm.clone(),
                curve: asymmetric::curve_of_key_pair(key_pair),
                public_key: key_pair.public_key().as_ref().to_vec(),
            },
        }
    }

    pub(crate) fn sign(&self, string_to_sign: &[u8]) -> Result<Vec<u8>> {
        match self {
            SigningKey::Hmac { algorithm, key } => {
                hmac_sign(algorithm, key.bytes(), string_to_sign)
                    .map_err(|_| Error::UnsupportedAlgorithm(algorithm.clone()))
            }
            SigningKey::Rsa {
                algorithm,
                key_pair,
            } => asymmetric::rsa_sign(algorithm, key_pair, string_to_sign),
            SigningKey::Ecdsa {
                algorithm,
                key_pair,
            } => asymmetric::ecdsa_sign(algorithm, key_pair, string_to_sign),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningKey::Hmac { algorithm, key } => {
                write!(f, "SigningKey::Hmac({algorithm}, {key:?})")
            }
            SigningKey::Rsa { algorithm, .. } => write!(f, "SigningKey::Rsa({algorithm})"),
            SigningKey::Ecdsa { algorithm, .. } => write!(f, "SigningKey::Ecdsa({algorithm})"),
        }
    }
}

/// The key an item signature is checked with.
#[derive(Clone)]
pub enum VerificationKey {
    /// An HMAC key with its JCA algorithm name.
    Hmac {
        /// `HmacSHA256`, ...
        algorithm: String,
        /// The MAC key.
        key: SymmetricKey,
    },
    /// An RSA public key (DER, SubjectPublicKeyInfo or PKCS#1) with its signature name.
    Rsa {
        /// `SHA256withRSA`, ...
        algorithm: String,
        /// The public key, DER.
        public_key: Vec<u8>,
    },
    /// An ECDSA public key with its signature name.
    Ecdsa {
        /// `SHA256withECDSA`, `SHA384withECDSA` or `SHA512withECDSA`.
        algorithm: String,
        /// The key's curve.
        curve: EcCurve,
        /// The public key: DER SubjectPublicKeyInfo or an uncompressed SEC1 point.
        public_key: Vec<u8>,
    },
}

impl VerificationKey {
    /// An `HmacSHA256` key.
    pub fn hmac_sha256(key: impl Into<Vec<u8>>) -> Self {
        VerificationKey::Hmac {
            algorithm: "HmacSHA256".into(),
            key: SymmetricKey::new(key),
        }
    }

    /// A `SHA256withRSA` key from a DER public key (SubjectPublicKeyInfo or PKCS#1).
    pub fn rsa_sha256_from_der(der: &[u8]) -> Self {
        VerificationKey::Rsa {
            algorithm: "SHA256withRSA".into(),
            public_key: der.to_vec(),
        }
    }

    /// An RSA key from a DER public key (SubjectPublicKeyInfo or PKCS#1) for `algorithm`
    /// (`SHA224withRSA` … `SHA512withRSA`).
    pub fn rsa_from_der(algorithm: &str, der: &[u8]) -> Result<Self> {
        if !asymmetric::is_rsa(algorithm) {
            return Err(Error::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        Ok(VerificationKey::Rsa {
            algorithm: algorithm.to_owned(),
            public_key: der.to_vec(),
        })
    }

    /// An ECDSA key from a DER SubjectPublicKeyInfo (Java's `PublicKey.getEncoded()`) on
    /// P-256, P-384 or P-521, for `algorithm` (`SHA256withECDSA`, `SHA384withECDSA` or
    /// `SHA512withECDSA`, on any of the three curves).
    pub fn ecdsa_from_der(algorithm: &str, der: &[u8]) -> Result<Self> {
        if !asymmetric::is_ecdsa(algorithm) {
            return Err(Error::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        Ok(VerificationKey::Ecdsa {
            algorithm: algorithm.to_owned(),
            curve: asymmetric::ec_curve_of(der)?,
            public_key: der.to_vec(),
        })
    }

    /// The JCA algorithm name.
    pub fn algorithm(&self) -> &str {
        match self {
            VerificationKey::Hmac { algorithm, .. }
            | VerificationKey::Rsa { algorithm, .. }
            | VerificationKey::Ecdsa { algorithm, .. } => algorithm,
        }
    }

    /// The key for an item whose description names `described` as its signature
    /// algorithm. As in Java, an asymmetric key follows the item's description when that
    /// names an algorithm of the key's own kind (`…withRSA` for RSA keys, `…withECDSA` for
    /// EC keys); anything else in the description (Python writes `HmacSHA256` for HMAC
    /// items) is ignored, as Python ignores it. HMAC keys always use their own algorithm.
    pub(crate) fn for_described_algorithm(&self, described: Option<&str>) -> Option<Self> {
        let described = described?;
        if described == self.algorithm() {
            return None;
        }
        match self {
            VerificationKey::Rsa { public_key, .. } if described.ends_with("withRSA") => {
                Some(VerificationKey::Rsa {
                    algorithm: described.to_owned(),
                    public_key: public_key.clone(),
                })
            }
            VerificationKey::Ecdsa {
                curve, public_key, ..
            } if described.ends_with("withECDSA") => Some(VerificationKey::Ecdsa {
                algorithm: described.to_owned(),
                curve: *curve,
                public_key: public_key.clone(),
            }),
            _ => None,
        }
    }

    /// Checks a signature; any failure is [`Error::SignatureMismatch`], except an algorithm
    /// this crate does not implement.
    pub(crate) fn verify(&self, string_to_sign: &[u8], signature: &[u8]) -> Result<()> {
        match self {
            VerificationKey::Hmac { algorithm, key } => {
                hmac_verify(algorithm, key.bytes(), string_to_sign, signature).map_err(
                    |e| match e {
                        crate::FormatError::Unsupported(_) => {
                            Error::UnsupportedAlgorithm(algorithm.clone())
                        }
                        _ => Error::SignatureMismatch,
                    },
                )
            }
            VerificationKey::Rsa {
                algorithm,
                public_key,
            } => asymmetric::rsa_verify(algorithm, public_key, string_to_sign, signature),
            VerificationKey::Ecdsa {
                algorithm,
                curve,
                public_key,
            } => asymmetric::ecdsa_verify(algorithm, *curve, public_key, string_to_sign, signature),
        }
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerificationKey::Hmac { algorithm, key } => {
                write!(f, "VerificationKey::Hmac({algorithm}, {key:?})")
            }
            VerificationKey::Rsa { algorithm, .. } => {
                write!(f, "VerificationKey::Rsa({algorithm})")
            }
            VerificationKey::Ecdsa {
                algorithm, curve, ..
            } => write!(f, "VerificationKey::Ecdsa({algorithm}, {curve})"),
        }
    }
}
