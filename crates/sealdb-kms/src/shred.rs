//! Crypto-shredding as AWS KMS guarantees it: when a key's waiting period ends (or its
//! imported material is deleted or expires), its material is gone from the key store
//! file, not merely unlinked. The key store runs with `secure_delete` (deleted cells and
//! freed pages are overwritten with zeros), and the commit that erased material is
//! followed by a truncating WAL checkpoint, so neither `keystore.db` nor its WAL keeps an
//! earlier page image holding the material. Everything encrypted under the key (table
//! keys, so tables, backups and stream records) can then never be decrypted again.

use crate::KmsService;
use crate::error::KmsError;
use crate::store::{KeyState, Store};
use std::sync::atomic::Ordering;

/// Material is being deleted in the open transaction.
pub(crate) fn note_erase(store: &Store) {
    store.erased.store(true, Ordering::Relaxed);
}

/// After a commit: if it erased material, purge the WAL's old page images.
pub(crate) fn after_commit(store: &Store) {
    if !store.erased.swap(false, Ordering::Relaxed) {
        return;
    }
    if let Err(e) = sealdb_storage::erase::truncate_wal(&store.conn) {
        // Retried after the next commit; until then the WAL may hold the old pages.
        store.erased.store(true, Ordering::Relaxed);
        tracing::error!(error = %e, "key store WAL not truncated after key material was erased");
    }
}

/// A rolled-back transaction erased nothing.
pub(crate) fn after_rollback(store: &Store) {
    store.erased.store(false, Ordering::Relaxed);
}

impl KmsService {
    /// Whether the key `key_arn` of this region still exists (in any state). False once
    /// its deletion is due: its material is then erased, and whatever it protected is
    /// gone for good. For other services of this server (DynamoDB archives a table
    /// whose key is deleted); it reveals only existence, so it is neither authorized nor
    /// audited.
    pub async fn key_exists(&self, key_arn: &str) -> Result<bool, KmsError> {
        let prefix = format!(
            "arn:aws:kms:{}:{}:key/",
            self.inner.cfg.region, self.inner.cfg.account_id
        );
        let Some(id) = key_arn.strip_prefix(&prefix).map(str::to_owned) else {
            return Ok(false);
        };
        self.blocking(move |inner| {
            let now = inner.cfg.clock.now_epoch_seconds_f64();
            let store = inner.store.lock().map_err(|_| KmsError::Internal)?;
            Ok(store.key(&id)?.is_some_and(|k| {
                k.state != KeyState::PendingDeletion || k.deletion_date.is_none_or(|d| d > now)
            }))
        })
        .await
    }
}
