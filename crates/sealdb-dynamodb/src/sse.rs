//! Encryption at rest as DynamoDB offers it: table keys wrapped by KMS keys.
//!
//! [`KmsVault`] implements the storage layer's `KeyVault` over the bundled KMS:
//! - service-owned tables: the table key is sealed with the root-derived key (no KMS);
//! - AWS managed (`alias/aws/dynamodb`) and customer managed keys: CreateGrant for
//!   DynamoDB (as the caller), then GenerateDataKey with the encryption context
//!   `{aws:dynamodb:tableName, aws:dynamodb:subscriberId}`; only the KMS ciphertext is
//!   kept. Re-validation (Decrypt) runs as DynamoDB under that grant, so disabling the
//!   key, scheduling its deletion or revoking the grant makes the table unreadable.
//!
//! Wrapped-key record v2 (KMS): `0x02 ‖ 0x01 ‖ u16 len ‖ key ARN ‖ u16 len ‖ grant id ‖
//! KMS ciphertext blob`; v1 is the root-sealed form of `sealdb_storage::vault`.

use sealdb_common::{Principal, RootKey, SecretKey32};
use sealdb_kms::{EncryptionContext, GrantRequest, KeyState, KmsError, KmsService, ServiceCall};
use sealdb_storage::vault::BoxFuture;
use sealdb_storage::{KeyVault, RootKeyVault, StorageError, TableKeyContext};
use std::collections::HashSet;
use std::sync::Arc;

/// Version byte of the KMS-wrapped table key record. DO NOT CHANGE.
const WRAPPED_KMS_V2: u8 = sealdb_common::key_hierarchy::wrapped_table_key::V2_KMS;
/// Kind byte: KMS ciphertext blob. DO NOT CHANGE.
const KIND_KMS_BLOB: u8 = sealdb_common::key_hierarchy::wrapped_table_key::KIND_KMS_BLOB;

/// The name prefix of the grants DynamoDB creates (a random suffix keeps each grant
/// its own: CreateGrant with a name already used returns the earlier grant).
const GRANT_NAME_PREFIX: &str = "sealdb-dynamodb-";

/// Table keys under KMS keys (or under the root key for service-owned tables).
pub struct KmsVault {
    kms: Arc<KmsService>,
    root: RootKeyVault,
    region: String,
    account_id: String,
}

/// The text DynamoDB puts around a KMS failure (it embeds the Java SDK's rendering).
pub fn kms_failure_message(e: &KmsError) -> String {
    let prefix = match e {
        KmsError::Disabled(_) => "KMS key disabled error",
        KmsError::AccessDenied(_) => "KMS key access denied error",
        KmsError::Internal | KmsError::InvalidKeyUsage(_) => "KMS internal error",
        _ => "KMS validation error",
    };
    let class = match e {
        KmsError::AccessDenied(_) | KmsError::InvalidKeyUsage(_) => "AWSKMSException".to_owned(),
        other => other.error_type().to_owned(),
    };
    format!(
        "{prefix}: com.amazonaws.services.kms.model.{class}: {} (Service: AWSKMS; Status Code: {}; Error Code: {}; Request ID: {}; Proxy: null)",
        e.message(),
        e.http_status(),
        e.error_type(),
        uuid::Uuid::new_v4()
    )
}

/// A KMS failure as the storage error DynamoDB turns into its wire error.
pub fn storage_error(e: &KmsError) -> StorageError {
    match e {
        KmsError::AccessDenied(_) => StorageError::KeyAccessDenied(kms_failure_message(e)),
        _ => StorageError::KeyUnavailable(kms_failure_message(e)),
    }
}

fn put_u16_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(b);
}

/// The parts of a v2 record: key ARN, grant id, KMS ciphertext.
fn parse_v2(w: &[u8]) -> Option<(String, String, Vec<u8>)> {
    let rest = w.strip_prefix(&[WRAPPED_KMS_V2, KIND_KMS_BLOB])?;
    let take = |b: &[u8]| -> Option<(Vec<u8>, usize)> {
        let n = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
        Some((b.get(2..2 + n)?.to_vec(), 2 + n))
    };
    let (arn, a) = take(rest)?;
    let (grant, g) = take(&rest[a..])?;
    let blob = rest[a + g..].to_vec();
    Some((
        String::from_utf8(arn).ok()?,
        String::from_utf8(grant).ok()?,
        blob,
    ))
}

impl KmsVault {
    /// A vault over the server's KMS.
    pub fn new(kms: Arc<KmsService>, root: &RootKey, region: &str, account_id: &str) -> KmsVault {
        KmsVault {
            kms,
            root: RootKeyVault::new(root),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
        }
    }

    /// The key service behind this vault (its audit log takes DynamoDB's management events).
    pub fn service(&self) -> &KmsService {
        &self.kms
    }

    /// DynamoDB itself, acting under its grants.
    fn service_principal(&self) -> Principal {
        Principal::service(
            &format!("dynamodb.{}.amazonaws.com", self.region),
            &self.account_id,
            &self.region,
        )
    }

    fn context(&self, table: &str) -> EncryptionContext {
        [
            ("aws:dynamodb:tableName".to_owned(), table.to_owned()),
            (
                "aws:dynamodb:subscriberId".to_owned(),
                self.account_id.clone(),
            ),
        ]
        .into()
    }

    /// A call through DynamoDB: for the user (`caller`), or DynamoDB itself under its grant.
    fn via(&self, caller: Option<&Principal>) -> ServiceCall {
        ServiceCall {
            service: "dynamodb".into(),
            caller: caller.cloned().unwrap_or_else(|| self.service_principal()),
        }
    }

    /// Resolves a KMSMasterKeyId (id, ARN, alias name or alias ARN) to the key ARN,
    /// checking what DynamoDB checks at CreateTable/UpdateTable.
    pub async fn resolve_key(&self, caller: &Principal, key_id: &str) -> Result<String, KmsError> {
        let key = self
            .kms
            .describe_key(&self.via(Some(caller)), key_id)
            .await?;
        let arn = key.arn;
        match key.state {
            KeyState::Enabled => {}
            KeyState::Disabled => return Err(KmsError::Disabled(format!("{arn} is disabled."))),
            KeyState::PendingDeletion => {
                return Err(KmsError::InvalidState(format!(
                    "{arn} is pending deletion."
                )));
            }
            KeyState::PendingImport => {
                return Err(KmsError::InvalidState(format!("{arn} is pending import.")));
            }
            KeyState::PendingReplicaDeletion => {
                return Err(KmsError::InvalidState(format!(
                    "{arn} is pending replica deletion."
                )));
            }
        }
        if !key.symmetric {
            return Err(KmsError::InvalidKeyUsage(
                "EncryptionContext is supported only when creating a grant for a symmetric encryption KMS key.".into(),
            ));
        }
        Ok(arn)
    }

    /// Whether `key_arn` is an AWS managed key (`alias/aws/dynamodb`); false when it
    /// cannot be described.
    pub async fn is_aws_managed(&self, caller: &Principal, key_arn: &str) -> bool {
        match self
            .kms
            .describe_key(&self.via(Some(caller)), key_arn)
            .await
        {
            Ok(k) => k.aws_managed,
            Err(_) => false,
        }
    }

    /// CreateGrant for DynamoDB on the table's key, as the caller.
    async fn grant(
        &self,
        caller: &Principal,
        key_arn: &str,
        table: &str,
    ) -> Result<String, KmsError> {
        let service = format!("dynamodb.{}.amazonaws.com", self.region);
        let operations = [
            "DescribeKey",
            "GenerateDataKey",
            "Decrypt",
            "Encrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "RetireGrant",
        ];
        let request = GrantRequest {
            key_id: key_arn.to_owned(),
            grantee: service.clone(),
            retiring: Some(service),
            operations: operations.iter().map(|o| (*o).to_owned()).collect(),
            context_subset: Some(self.context(table)),
            // Named, so the grants DynamoDB made are told from any a user made for it.
            name: Some(format!(
                "{GRANT_NAME_PREFIX}{}",
                &uuid::Uuid::new_v4().simple().to_string()[..16]
            )),
        };
        self.kms
            .create_grant(&self.via(Some(caller)), &request)
            .await
    }

    fn record(key_arn: &str, grant: &str, blob: &[u8]) -> Vec<u8> {
        let mut out = vec![WRAPPED_KMS_V2, KIND_KMS_BLOB];
        put_u16_bytes(&mut out, key_arn.as_bytes());
        put_u16_bytes(&mut out, grant.as_bytes());
        out.extend_from_slice(blob);
        out
    }

    async fn generate_kms(
        &self,
        ctx: &TableKeyContext,
        key_arn: &str,
    ) -> Result<(SecretKey32, Vec<u8>), KmsError> {
        let caller = ctx
            .caller
            .clone()
            .unwrap_or_else(|| self.service_principal());
        let grant = self.grant(&caller, key_arn, &ctx.table_name).await?;
        sealdb_common::crash_point::crash_point("after-create-grant");
        let key = self
            .kms
            .generate_data_key(&self.via(None), key_arn, &self.context(&ctx.table_name))
            .await?;
        Ok((
            key.plaintext,
            Self::record(key_arn, &grant, &key.ciphertext),
        ))
    }

    async fn unwrap_kms(
        &self,
        ctx: &TableKeyContext,
        wrapped: &[u8],
    ) -> Result<SecretKey32, KmsError> {
        let Some((_arn, _grant, blob)) = parse_v2(wrapped) else {
            return Err(KmsError::InvalidCiphertext(String::new()));
        };
        let plain = self
            .kms
            .decrypt(&self.via(None), &blob, &self.context(&ctx.table_name))
            .await?;
        SecretKey32::from_slice(plain.expose()).ok_or(KmsError::Internal)
    }

    async fn wrap_kms(
        &self,
        ctx: &TableKeyContext,
        key_arn: &str,
        key: &SecretKey32,
    ) -> Result<Vec<u8>, KmsError> {
        let caller = ctx
            .caller
            .clone()
            .unwrap_or_else(|| self.service_principal());
        let grant = self.grant(&caller, key_arn, &ctx.table_name).await?;
        sealdb_common::crash_point::crash_point("after-create-grant");
        let blob = self
            .kms
            .encrypt(
                &self.via(None),
                key_arn,
                key.expose(),
                &self.context(&ctx.table_name),
            )
            .await?;
        Ok(Self::record(key_arn, &grant, &blob))
    }

    /// Whether the KMS key `key_arn` still exists; false once it is deleted (its
    /// material erased). A key store that cannot answer counts as "exists", so that
    /// nothing is archived on a transient fault.
    pub async fn key_exists(&self, key_arn: &str) -> bool {
        self.kms.key_exists(key_arn).await.unwrap_or(true)
    }

    /// Retires every grant DynamoDB made whose id is not in `referenced` (the grants the
    /// catalog's wrapped keys name): those a crash left between CreateGrant and the
    /// catalog write, or between a catalog change and RetireGrant. Returns how many.
    /// Run before requests are served, so no grant being made is taken for a leak.
    pub async fn retire_unreferenced(&self, referenced: &HashSet<String>) -> usize {
        let service = format!("dynamodb.{}.amazonaws.com", self.region);
        let grants = match self.kms.service_grants(&service, GRANT_NAME_PREFIX).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = ?e, "cannot list DynamoDB's grants");
                return 0;
            }
        };
        let mut retired = 0;
        for g in grants.iter().filter(|g| !referenced.contains(&g.grant_id)) {
            match self
                .kms
                .retire_grant(&self.via(None), &g.key_arn, &g.grant_id)
                .await
            {
                Ok(()) => retired += 1,
                Err(e) => tracing::warn!(error = ?e, "retiring a leftover grant failed"),
            }
        }
        retired
    }

    /// The grant id a wrapped record names, if it is KMS-wrapped.
    pub fn grant_of(wrapped: &[u8]) -> Option<String> {
        parse_v2(wrapped).map(|(_, grant, _)| grant)
    }

    /// The KMS key ARN a wrapped record names, if it is KMS-wrapped.
    pub fn key_of(wrapped: &[u8]) -> Option<String> {
        parse_v2(wrapped).map(|(arn, _, _)| arn)
    }
}

impl KeyVault for KmsVault {
    fn generate(
        &self,
        ctx: &TableKeyContext,
    ) -> BoxFuture<'_, Result<(SecretKey32, Vec<u8>), StorageError>> {
        let Some(arn) = ctx.kms_key.clone() else {
            return self.root.generate(ctx);
        };
        let ctx = ctx.clone();
        Box::pin(async move {
            self.generate_kms(&ctx, &arn)
                .await
                .map_err(|e| storage_error(&e))
        })
    }

    fn unwrap_key<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretKey32, StorageError>> {
        if wrapped.first() != Some(&WRAPPED_KMS_V2) {
            return self.root.unwrap_key(ctx, wrapped);
        }
        Box::pin(async move {
            self.unwrap_kms(ctx, wrapped)
                .await
                .map_err(|e| storage_error(&e))
        })
    }

    fn wrap_existing<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        key: &'a SecretKey32,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        let Some(arn) = ctx.kms_key.as_deref() else {
            return self.root.wrap_existing(ctx, key);
        };
        Box::pin(async move {
            self.wrap_kms(ctx, arn, key)
                .await
                .map_err(|e| storage_error(&e))
        })
    }

    fn forget<'a>(&'a self, _ctx: &'a TableKeyContext, wrapped: &'a [u8]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            sealdb_common::crash_point::crash_point("before-retire-grant");
            if let Some((arn, grant, _)) = parse_v2(wrapped)
                && !grant.is_empty()
                && let Err(e) = self.kms.retire_grant(&self.via(None), &arn, &grant).await
            {
                tracing::warn!(error = ?e, "retiring the table's grant failed");
            }
        })
    }
}
