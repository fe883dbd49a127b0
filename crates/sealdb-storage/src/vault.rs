//! Table keys: how a table's 256-bit key is created and wrapped for the catalog.
//!
//! The [`KeyVault`] trait is the seam where the KMS plugs in (envelope encryption with
//! GenerateDataKey / Decrypt under the table's KMS key). [`RootKeyVault`] is the embedded
//! default until then: the table key is sealed with AES-256-GCM under a key derived from
//! the root key. Format: `docs/formats.md`, "Wrapped table key".

use crate::error::StorageError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sealdb_common::{Purpose, key_hierarchy};
use sealdb_common::{RootKey, SecretKey32};
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so that vaults can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a table key is bound to: unwrapping under any other identity fails.
#[derive(Clone, Debug)]
pub struct TableKeyContext {
    /// The table's name (part of the KMS encryption context).
    pub table_name: String,
    /// The table's UUID (names its file).
    pub table_id: String,
    /// The KMS key (ARN) that protects the table key; `None` for the service-owned key.
    pub kms_key: Option<String>,
    /// Who asked (CreateTable / UpdateTable caller), for KMS authorization and audit;
    /// `None` for the server's own background work.
    pub caller: Option<sealdb_common::Principal>,
}

/// Creates and unwraps table keys.
pub trait KeyVault: Send + Sync {
    /// A fresh table key and its wrapped form (what the catalog stores).
    fn generate(
        &self,
        ctx: &TableKeyContext,
    ) -> BoxFuture<'_, Result<(SecretKey32, Vec<u8>), StorageError>>;

    /// Recovers the table key from its wrapped form.
    fn unwrap_key<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretKey32, StorageError>>;

    /// Wraps an existing table key under `ctx.kms_key` (a key switch: the data is not
    /// rewritten, only the wrapping changes).
    fn wrap_existing<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        key: &'a SecretKey32,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>>;

    /// The table is gone: release what the vault holds for it (KMS grants).
    fn forget<'a>(&'a self, _ctx: &'a TableKeyContext, _wrapped: &'a [u8]) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Version byte of the wrapped-table-key record. DO NOT CHANGE.
const WRAPPED_V1: u8 = key_hierarchy::wrapped_table_key::V1_ROOT;
/// Algorithm byte: AES-256-GCM under `HKDF(root, "table-key-wrap")`. DO NOT CHANGE.
const ALG_ROOT_AES256_GCM: u8 = key_hierarchy::wrapped_table_key::ALG_ROOT_AES256_GCM;
/// AAD prefix binding the wrapped key to its table. DO NOT CHANGE.
const AAD_PREFIX: &[u8] = key_hierarchy::wrapped_table_key::V1_AAD_PREFIX;

/// Wraps table keys under a key derived from the root key (no KMS).
pub struct RootKeyVault {
    wrap_key: SecretKey32,
}

impl RootKeyVault {
    /// Derives the wrapping key from the root key.
    pub fn new(root: &RootKey) -> Self {
        RootKeyVault {
            wrap_key: root.derive(Purpose::TableKeyWrap),
        }
    }

    fn aead(&self) -> Result<LessSafeKey, StorageError> {
        let unbound = UnboundKey::new(&AES_256_GCM, self.wrap_key.expose())
            .map_err(|_| StorageError::KeyUnavailable("bad wrapping key".into()))?;
        Ok(LessSafeKey::new(unbound))
    }

    /// Seals a table key under the root-derived wrapping key.
    pub fn seal(&self, ctx: &TableKeyContext, key: &SecretKey32) -> Result<Vec<u8>, StorageError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| StorageError::KeyUnavailable("random generator failed".into()))?;
        let mut buf = zeroize::Zeroizing::new(key.expose().to_vec());
        let aad = [AAD_PREFIX, ctx.table_id.as_bytes()].concat();
        let tag = self
            .aead()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                buf.as_mut_slice(),
            )
            .map_err(|_| StorageError::KeyUnavailable("seal failed".into()))?;
        let mut out = Vec::with_capacity(2 + NONCE_LEN + 32 + 16);
        out.push(WRAPPED_V1);
        out.push(ALG_ROOT_AES256_GCM);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens a table key sealed by [`RootKeyVault::seal`].
    pub fn open(&self, ctx: &TableKeyContext, wrapped: &[u8]) -> Result<SecretKey32, StorageError> {
        let corrupt = || StorageError::Corrupt("wrapped table key".into());
        let (&version, rest) = wrapped.split_first().ok_or_else(corrupt)?;
        let (&alg, rest) = rest.split_first().ok_or_else(corrupt)?;
        if version != WRAPPED_V1 || alg != ALG_ROOT_AES256_GCM || rest.len() != NONCE_LEN + 48 {
            return Err(corrupt());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let aad = [AAD_PREFIX, ctx.table_id.as_bytes()].concat();
        let mut buf = zeroize::Zeroizing::new(sealed.to_vec());
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(&aad), buf.as_mut_slice())
            .map_err(|_| StorageError::KeyUnavailable("table key does not open".into()))?;
        SecretKey32::from_slice(plain).ok_or_else(corrupt)
    }
}

impl KeyVault for RootKeyVault {
    fn wrap_existing<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        key: &'a SecretKey32,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        let result = self.seal(ctx, key);
        Box::pin(async move { result })
    }

    fn generate(
        &self,
        ctx: &TableKeyContext,
    ) -> BoxFuture<'_, Result<(SecretKey32, Vec<u8>), StorageError>> {
        let result = SecretKey32::random()
            .map_err(|_| StorageError::KeyUnavailable("random generator failed".into()))
            .and_then(|key| {
                let wrapped = self.seal(ctx, &key)?;
                Ok((key, wrapped))
            });
        Box::pin(async move { result })
    }

    fn unwrap_key<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretKey32, StorageError>> {
        let result = self.open(ctx, wrapped);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(id: &str) -> TableKeyContext {
        TableKeyContext {
            table_name: "t".into(),
            table_id: id.into(),
            kms_key: None,
            caller: None,
        }
    }

    #[tokio::test]
    async fn wrap_round_trip_and_binding() {
        let vault = RootKeyVault::new(&RootKey::from_key(SecretKey32::from_bytes([3; 32])));
        let (key, wrapped) = vault.generate(&ctx("a")).await.unwrap();
        assert_eq!(wrapped.len(), 2 + 12 + 48);
        assert_eq!(vault.unwrap_key(&ctx("a"), &wrapped).await.unwrap(), key);
        // Bound to the table id.
        assert!(vault.unwrap_key(&ctx("b"), &wrapped).await.is_err());
        // Any flipped byte fails closed.
        for i in 0..wrapped.len() {
            let mut w = wrapped.clone();
            w[i] ^= 1;
            assert!(vault.unwrap_key(&ctx("a"), &w).await.is_err(), "byte {i}");
        }
        assert!(vault.unwrap_key(&ctx("a"), &wrapped[..10]).await.is_err());
        // Another root key cannot open it.
        let other = RootKeyVault::new(&RootKey::from_key(SecretKey32::from_bytes([4; 32])));
        assert!(other.unwrap_key(&ctx("a"), &wrapped).await.is_err());
    }
}
