//! The static provider (reference §6.3): the same keys for every item.

use crate::error::{Error, Result};
use crate::keys::{SigningKey, SymmetricKey, VerificationKey};
use crate::materials::{
    CryptographicMaterialsProvider, DecryptionMaterials, EncryptionContext, EncryptionMaterials,
};
use std::collections::BTreeMap;
use std::future::{Future, ready};

/// Fixed materials, as Python's `StaticCryptographicMaterialsProvider`. Items it writes
/// carry nothing that identifies the key.
#[derive(Clone, Debug, Default)]
pub struct StaticProvider {
    encryption: Option<EncryptionMaterials>,
    decryption: Option<DecryptionMaterials>,
}

impl StaticProvider {
    /// Materials for both directions: an AES content key (16 or 32 bytes; `None` signs
    /// only) and a signing key, with extra description entries to write.
    pub fn new(
        content_key: Option<SymmetricKey>,
        signing_key: SigningKey,
        material_description: BTreeMap<String, String>,
    ) -> Self {
        let verification_key = signing_key.verification_key();
        StaticProvider {
            encryption: Some(EncryptionMaterials {
                encryption_key: content_key.clone(),
                signing_key,
                material_description,
            }),
            decryption: Some(DecryptionMaterials {
                decryption_key: content_key,
                verification_key,
            }),
        }
    }

    /// A provider that only decrypts (e.g. holding just a public verification key).
    pub fn decrypt_only(
        content_key: Option<SymmetricKey>,
        verification_key: VerificationKey,
    ) -> Self {
        StaticProvider {
            encryption: None,
            decryption: Some(DecryptionMaterials {
                decryption_key: content_key,
                verification_key,
            }),
        }
    }
}

impl CryptographicMaterialsProvider for StaticProvider {
    fn encryption_materials(
        &self,
        _context: &EncryptionContext,
    ) -> impl Future<Output = Result<EncryptionMaterials>> + Send {
        ready(
            self.encryption
                .clone()
                .ok_or_else(|| Error::MissingMaterials("static provider cannot encrypt".into())),
        )
    }

    fn decryption_materials(
        &self,
        _context: &EncryptionContext,
    ) -> impl Future<Output = Result<DecryptionMaterials>> + Send {
        ready(
            self.decryption
                .clone()
                .ok_or_else(|| Error::MissingMaterials("static provider cannot decrypt".into())),
        )
    }
}
