//! The one place sealdb talks PKCS#11 (through `cryptoki`): a logged-in token, AES-256
//! keys generated inside it that never leave it, and AES-256-GCM run by the token.
//!
//! Used by the root of trust (`--root-of-trust pkcs11`: the root key sealed by a token
//! key) and by KMS custom key stores of the CloudHSM type. [`testing`] (feature `testing`)
//! makes SoftHSM2 tokens in temporary directories.
//!
//! Key wrap with padding (CKM_AES_KEY_WRAP_PAD / KWP) is not offered: SoftHSM2 2.6 allows
//! it only through C_WrapKey/C_UnwrapKey of key objects (C_EncryptInit with it answers
//! CKR_MECHANISM_INVALID), not C_Encrypt of bytes, and the
//! bytes sealdb protects (its root key) must come back out as bytes; AES-GCM does that
//! and authenticates a header as AAD as well.

mod error;
mod module;
mod token;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::HsmError;
pub use sealdb_common::secret::SecretString;
pub use token::Pkcs11Token;

use std::fmt;
use std::path::PathBuf;

/// Which token of a module: by label (CKA of the token info, trailing blanks ignored)
/// or by serial number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token label, as given to `softhsm2-util --init-token --label`.
    Label(String),
    /// The token serial number.
    Serial(String),
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "label {l:?}"),
            TokenSelector::Serial(s) => write!(f, "serial {s:?}"),
        }
    }
}

/// Where a token is and how to log in to it. The PIN is zeroized on drop and redacted
/// in `Debug`.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// Which token of the module.
    pub token: TokenSelector,
    /// The user PIN.
    pub pin: SecretString,
}

/// An AES-GCM result: the 12-byte IV and the ciphertext with its 16-byte tag appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcmSealed {
    /// The IV the token encrypted with.
    pub iv: [u8; 12],
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

impl GcmSealed {
    /// `iv || ciphertext || tag`, the form stored on disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.ciphertext.len());
        out.extend_from_slice(&self.iv);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses `iv || ciphertext || tag`; at least 28 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HsmError> {
        if bytes.len() < 12 + 16 {
            return Err(HsmError::Malformed(bytes.len()));
        }
        let (iv, ciphertext) = bytes.split_at(12);
        let mut iv_arr = [0u8; 12];
        iv_arr.copy_from_slice(iv);
        Ok(GcmSealed {
            iv: iv_arr,
            ciphertext: ciphertext.to_vec(),
        })
    }
}
