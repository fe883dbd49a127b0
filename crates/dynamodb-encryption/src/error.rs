//! The crate's error type. No variant carries attribute values: an error message must never
//! leak plaintext.

use crate::FormatError;

/// Why an item could not be encrypted or decrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The item's signature does not verify under the verification key (wrong key, wrong
    /// table name, or a changed attribute or material description).
    #[error("item signature does not verify")]
    SignatureMismatch,
    /// The provider has no materials for this item (no key configured, unknown version).
    #[error("no cryptographic materials: {0}")]
    MissingMaterials(String),
    /// An algorithm named by the item or the configuration that this crate does not do.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// A KMS call failed.
    #[error("KMS: {0}")]
    Kms(String),
    /// A provider-store (MetaStore) operation failed.
    #[error("provider store: {0}")]
    Store(String),
    /// A DynamoDB call made by the encrypted client failed.
    #[error("DynamoDB: {0}")]
    DynamoDb(String),
    /// The item or its reserved attributes are not in the expected format.
    #[error("malformed item: {0}")]
    Malformed(String),
    /// The item to encrypt already holds one of the reserved attribute names.
    #[error("item already contains the reserved attribute {0}")]
    ReservedAttribute(String),
    /// The actions, keys or context are not usable together.
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),
    /// An operation the legacy format cannot support (e.g. partial updates).
    #[error("not supported with client-side encryption: {0}")]
    NotSupported(String),
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Error::Malformed(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
