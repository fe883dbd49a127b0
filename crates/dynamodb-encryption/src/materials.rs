//! What a provider hands the item encryptor, what it is told about the item, and the
//! provider trait itself.

use crate::Item;
use crate::error::Result;
use crate::keys::{SigningKey, SymmetricKey, VerificationKey};
use std::collections::BTreeMap;
use std::future::Future;

/// What the encryptor knows about the item: where it lives, its key attribute names, and
/// (filled in by the encryptor) its attributes and stored material description.
#[derive(Clone, Default)]
pub struct EncryptionContext {
    /// The table name bound into the signature (`None` signs as Python's `None`).
    pub table_name: Option<String>,
    /// The partition key attribute name.
    pub partition_key_name: Option<String>,
    /// The sort key attribute name.
    pub sort_key_name: Option<String>,
    /// On encrypt: the plaintext item (signed numbers canonical). On decrypt: the stored
    /// item without the two reserved attributes.
    pub attributes: Item,
    /// On decrypt: the item's material description. Empty on encrypt.
    pub material_description: BTreeMap<String, String>,
}

/// Shows attribute names only: the values are plaintext.
impl std::fmt::Debug for EncryptionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionContext")
            .field("table_name", &self.table_name)
            .field("partition_key_name", &self.partition_key_name)
            .field("sort_key_name", &self.sort_key_name)
            .field("attributes", &self.attributes.keys().collect::<Vec<_>>())
            .field("material_description", &self.material_description)
            .finish()
    }
}

impl EncryptionContext {
    /// A context for `table` with its primary key names.
    pub fn new(
        table_name: impl Into<String>,
        partition_key_name: impl Into<String>,
        sort_key_name: Option<&str>,
    ) -> Self {
        EncryptionContext {
            table_name: Some(table_name.into()),
            partition_key_name: Some(partition_key_name.into()),
            sort_key_name: sort_key_name.map(str::to_owned),
            ..Default::default()
        }
    }

    /// The primary key attribute names that are configured.
    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        self.partition_key_name
            .iter()
            .chain(self.sort_key_name.iter())
            .map(String::as_str)
    }
}

/// Keys for encrypting one item.
#[derive(Clone, Debug)]
pub struct EncryptionMaterials {
    /// The AES content key; `None` allows only signing.
    pub encryption_key: Option<SymmetricKey>,
    /// The signing key.
    pub signing_key: SigningKey,
    /// Description entries the provider needs back on decrypt (wrapped key, ...).
    pub material_description: BTreeMap<String, String>,
}

/// Keys for decrypting one item.
#[derive(Clone, Debug)]
pub struct DecryptionMaterials {
    /// The AES content key; `None` allows only verifying.
    pub decryption_key: Option<SymmetricKey>,
    /// The verification key.
    pub verification_key: VerificationKey,
}

/// Supplies keys per item. Methods return futures so that providers which call out (KMS, a
/// provider-store table) and purely local ones share one interface; local providers
/// return ready futures.
pub trait CryptographicMaterialsProvider: Send + Sync {
    /// Keys for encrypting the item in `context.attributes`.
    fn encryption_materials(
        &self,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<EncryptionMaterials>> + Send;

    /// Keys for decrypting the item described by `context.material_description`.
    fn decryption_materials(
        &self,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<DecryptionMaterials>> + Send;
}
