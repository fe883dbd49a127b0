//! Grants left behind by a crash. A table (or backup) under a KMS key holds a grant for
//! DynamoDB, created before the catalog records the table; a crash between the two, or
//! between a catalog change that lets a grant go (key switch, DeleteTable, DeleteBackup)
//! and its RetireGrant, leaves a grant nothing references, which would let DynamoDB use
//! the key for a table that does not exist. At start the catalog is the truth: every
//! grant DynamoDB made that no table or backup names is retired.

use crate::service::Service;
use crate::sse::KmsVault;
use std::collections::HashSet;

impl Service {
    /// Retires DynamoDB's grants that no table or backup of this region references;
    /// returns how many. Run at start, before requests are served.
    pub async fn retire_leftover_grants(&self) -> usize {
        let Some(vault) = &self.kms else {
            return 0;
        };
        let mut referenced: HashSet<String> = self
            .engine
            .tables()
            .iter()
            .filter_map(|t| KmsVault::grant_of(&t.wrapped_key))
            .collect();
        match self.engine.backups() {
            Ok(backups) => {
                referenced.extend(
                    backups
                        .iter()
                        .filter_map(|b| KmsVault::grant_of(&b.wrapped_key)),
                );
            }
            Err(e) => {
                // Without the backups' grants nothing can be told apart: retire nothing.
                tracing::warn!(error = %e, "cannot read the backups; no grant retired");
                return 0;
            }
        }
        vault.retire_unreferenced(&referenced).await
    }
}
