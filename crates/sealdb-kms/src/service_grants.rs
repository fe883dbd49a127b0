//! The grants another service of this server made for itself, for its bookkeeping: so
//! DynamoDB can retire the grants that a crash left behind with no table referencing
//! them (created just before the process died, or not yet retired after a table let
//! them go).

use crate::KmsService;
use crate::error::KmsError;

/// One grant a service holds: the key it is on and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceGrant {
    /// The key's ARN.
    pub key_arn: String,
    /// The grant id.
    pub grant_id: String,
}

impl KmsService {
    /// Every grant of this region whose grantee is `grantee` and whose name starts with
    /// `name_prefix` (the service names the grants it creates, so that grants a user
    /// made for it are never taken for its own). In-process only: neither authorized
    /// nor audited; retiring them goes through `retire_grant`, which is both.
    pub async fn service_grants(
        &self,
        grantee: &str,
        name_prefix: &str,
    ) -> Result<Vec<ServiceGrant>, KmsError> {
        let (grantee, prefix) = (grantee.to_owned(), name_prefix.to_owned());
        self.blocking(move |inner| {
            let store = inner.store.lock().map_err(|_| KmsError::Internal)?;
            let arn = |id: &str| {
                format!(
                    "arn:aws:kms:{}:{}:key/{id}",
                    inner.cfg.region, inner.cfg.account_id
                )
            };
            Ok(store
                .grants(None)?
                .into_iter()
                .filter(|g| {
                    g.grantee == grantee
                        && g.name.as_deref().is_some_and(|n| n.starts_with(&prefix))
                })
                .map(|g| ServiceGrant {
                    key_arn: arn(&g.key_id),
                    grant_id: g.id,
                })
                .collect())
        })
        .await
    }
}
