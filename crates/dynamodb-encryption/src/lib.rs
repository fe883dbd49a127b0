//! Client-side item encryption, byte-compatible with the legacy AWS DynamoDB Encryption
//! Client for Python and Java (`../shared/reference/legacy-client-format.md`).
//!
//! This crate stands alone: it does not depend on the server. Work so far covers the two
//! byte formats everything else is built on:
//! - [`serialize`]: the canonical attribute serialization (encryption plaintext and
//!   signature input), with Java's number canonicalization;
//! - [`material_description`]: the `*amzn-ddb-map-desc*` attribute;
//! - [`signature::string_to_sign`]: the bytes an item signature covers;
//! - [`attribute_crypto`]: one attribute's AES-CBC encryption and the HMAC signatures.
//!
//! Still to come: attribute encryption, the signature algorithms, the DirectKMS / Wrapped / MostRecent
//! providers and helpers over aws-sdk-dynamodb.

pub mod actions;
pub mod attribute_crypto;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod error;
pub mod item;
pub mod keys;
#[cfg(feature = "kms")]
pub mod kms;
pub mod material_description;
pub mod materials;
pub mod providers;
pub mod serialize;
pub mod signature;

pub use actions::AttributeActions;
pub use error::{Error, Result};
pub use item::{
    decrypt_item, decrypt_item_with_materials, encrypt_item, encrypt_item_with_materials,
};
pub use keys::{SigningKey, SymmetricKey, VerificationKey};
pub use materials::{
    CryptographicMaterialsProvider, DecryptionMaterials, EncryptionContext, EncryptionMaterials,
};

/// An item: attribute name to value.
pub type Item = std::collections::BTreeMap<String, Attribute>;

/// A DynamoDB attribute value, as the encryptor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// String.
    S(String),
    /// Number, as its decimal string.
    N(String),
    /// Binary.
    B(Vec<u8>),
    /// String set.
    Ss(Vec<String>),
    /// Number set.
    Ns(Vec<String>),
    /// Binary set.
    Bs(Vec<Vec<u8>>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// List.
    L(Vec<Attribute>),
    /// Map.
    M(std::collections::BTreeMap<String, Attribute>),
}

/// What the encryptor does with an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Encrypt the value and cover it with the signature.
    EncryptAndSign,
    /// Leave the value readable but cover it with the signature.
    SignOnly,
    /// Leave the value alone.
    DoNothing,
}

/// The attribute holding the serialized material description.
pub const MATERIAL_DESCRIPTION_ATTRIBUTE: &str = "*amzn-ddb-map-desc*";
/// The attribute holding the signature.
pub const SIGNATURE_ATTRIBUTE: &str = "*amzn-ddb-map-sig*";

/// Why bytes or values could not be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The input ended inside a value.
    Truncated,
    /// An unknown type tag or version.
    Unsupported(String),
    /// A value that is not valid (bad number, bad UTF-8, bad boolean byte).
    Invalid(String),
    /// A key, ciphertext or signature that does not check out.
    Crypto(&'static str),
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::Truncated => f.write_str("input ended too early"),
            FormatError::Unsupported(m) => write!(f, "unsupported: {m}"),
            FormatError::Invalid(m) => write!(f, "invalid: {m}"),
            FormatError::Crypto(m) => write!(f, "cryptographic failure: {m}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// A reader over a byte slice for the length-prefixed formats.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.data.len() < n {
            return Err(FormatError::Truncated);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `u32be(len) ‖ bytes`.
    pub(crate) fn lv(&mut self) -> Result<&'a [u8], FormatError> {
        let n = self.u32()?;
        self.take(usize::try_from(n).map_err(|_| FormatError::Truncated)?)
    }

    pub(crate) fn lv_str(&mut self) -> Result<String, FormatError> {
        String::from_utf8(self.lv()?.to_vec()).map_err(|_| FormatError::Invalid("UTF-8".into()))
    }
}

/// Appends `u32be(len) ‖ bytes`.
pub(crate) fn put_lv(out: &mut Vec<u8>, bytes: &[u8]) {
    // Attribute values are bounded by DynamoDB's 400 KB item limit, far below u32::MAX.
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}
