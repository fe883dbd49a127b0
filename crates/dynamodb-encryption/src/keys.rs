//! Key types. Secret bytes live in zeroizing buffers and no `Debug` output shows them.

use crate::attribute_crypto::{hmac_sign, hmac_verify};
use crate::error::{Error, Result};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self as sig, KeyPair as _, RsaKeyPair};
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

/// The RSA signature algorithms (`SHA256withRSA` is the default everywhere).
fn rsa_signing(name: &str) -> Result<&'static dyn sig::RsaEncoding> {
    Ok(match name {
        "SHA256withRSA" => &sig::RSA_PKCS1_SHA256,
        "SHA384withRSA" => &sig::RSA_PKCS1_SHA384,
        "SHA512withRSA" => &sig::RSA_PKCS1_SHA512,
        _ => return Err(Error::UnsupportedAlgorithm(name.to_owned())),
    })
}

fn rsa_verification(name: &str) -> Result<&'static sig::RsaParameters> {
    Ok(match name {
        "SHA256withRSA" => &sig::RSA_PKCS1_2048_8192_SHA256,
        "SHA384withRSA" => &sig::RSA_PKCS1_2048_8192_SHA384,
        "SHA512withRSA" => &sig::RSA_PKCS1_2048_8192_SHA512,
        _ => return Err(Error::UnsupportedAlgorithm(name.to_owned())),
    })
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
    /// An RSA private key with its JCA signature name (`SHA256withRSA`, ...).
    Rsa {
        /// `SHA256withRSA`, `SHA384withRSA` or `SHA512withRSA`.
        algorithm: String,
        /// The key pair.
        key_pair: Arc<RsaKeyPair>,
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
        let key_pair = RsaKeyPair::from_pkcs8(der)
            .map_err(|_| Error::InvalidConfiguration("not an RSA PKCS#8 private key".into()))?;
        Ok(SigningKey::Rsa {
            algorithm: "SHA256withRSA".into(),
            key_pair: Arc::new(key_pair),
        })
    }

    /// The JCA algorithm name, as written to `amzn-ddb-map-signingAlg`.
    pub fn algorithm(&self) -> &str {
        match self {
            SigningKey::Hmac { algorithm, .. } | SigningKey::Rsa { algorithm, .. } => algorithm,
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
            } => {
                let mut out = vec![0u8; key_pair.public_modulus_len()];
                key_pair
                    .sign(
                        rsa_signing(algorithm)?,
                        &SystemRandom::new(),
                        string_to_sign,
                        &mut out,
                    )
                    .map_err(|_| Error::InvalidConfiguration("RSA signing failed".into()))?;
                Ok(out)
            }
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
            } => sig::UnparsedPublicKey::new(rsa_verification(algorithm)?, public_key)
                .verify(string_to_sign, signature)
                .map_err(|_| Error::SignatureMismatch),
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
        }
    }
}
