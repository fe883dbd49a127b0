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

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealdb_common::{Principal, RootKey, SecretKey32};
use sealdb_kms::{KmsError, KmsService};
use sealdb_storage::vault::BoxFuture;
use sealdb_storage::{KeyVault, RootKeyVault, StorageError, TableKeyContext};
use serde_json::{Value, json};
use std::sync::Arc;

/// Version byte of the KMS-wrapped table key record. DO NOT CHANGE.
const WRAPPED_KMS_V2: u8 = 2;
/// Kind byte: KMS ciphertext blob. DO NOT CHANGE.
const KIND_KMS_BLOB: u8 = 1;

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

    /// DynamoDB itself, acting under its grants.
    fn service_principal(&self) -> Principal {
        Principal {
            access_key_id: String::new(),
            arn: format!("dynamodb.{}.amazonaws.com", self.region),
            account_id: self.account_id.clone(),
            user_name: Some("dynamodb".into()),
            region: self.region.clone(),
            source_ip: "dynamodb.amazonaws.com".into(),
        }
    }

    fn context(&self, table: &str) -> Value {
        json!({"aws:dynamodb:tableName": table, "aws:dynamodb:subscriberId": self.account_id})
    }

    /// Resolves a KMSMasterKeyId (id, ARN, alias name or alias ARN) to the key ARN,
    /// checking what DynamoDB checks at CreateTable/UpdateTable.
    pub fn resolve_key(&self, caller: &Principal, key_id: &str) -> Result<String, KmsError> {
        let md = self.kms.call_via_service(
            "dynamodb",
            "DescribeKey",
            caller,
            &json!({"KeyId": key_id}),
        )?;
        let m = &md["KeyMetadata"];
        let arn = m["Arn"].as_str().unwrap_or_default().to_owned();
        match m["KeyState"].as_str() {
            Some("Enabled") => {}
            Some("Disabled") => return Err(KmsError::Disabled(format!("{arn} is disabled."))),
            Some("PendingDeletion") => {
                return Err(KmsError::InvalidState(format!(
                    "{arn} is pending deletion."
                )));
            }
            Some(other) => return Err(KmsError::InvalidState(format!("{arn} is {other}."))),
            None => return Err(KmsError::Internal),
        }
        if m["KeySpec"] != "SYMMETRIC_DEFAULT" {
            return Err(KmsError::InvalidKeyUsage(
                "EncryptionContext is supported only when creating a grant for a symmetric encryption KMS key.".into(),
            ));
        }
        Ok(arn)
    }

    /// CreateGrant for DynamoDB on the table's key, as the caller.
    fn grant(&self, caller: &Principal, key_arn: &str, table: &str) -> Result<String, KmsError> {
        let service = format!("dynamodb.{}.amazonaws.com", self.region);
        let out = self.kms.call_via_service(
            "dynamodb",
            "CreateGrant",
            caller,
            &json!({
                "KeyId": key_arn,
                "GranteePrincipal": service,
                "RetiringPrincipal": service,
                "Operations": ["DescribeKey", "GenerateDataKey", "Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "RetireGrant"],
                "Constraints": {"EncryptionContextSubset": self.context(table)},
            }),
        )?;
        Ok(out["GrantId"].as_str().unwrap_or_default().to_owned())
    }

    fn record(key_arn: &str, grant: &str, blob: &[u8]) -> Vec<u8> {
        let mut out = vec![WRAPPED_KMS_V2, KIND_KMS_BLOB];
        put_u16_bytes(&mut out, key_arn.as_bytes());
        put_u16_bytes(&mut out, grant.as_bytes());
        out.extend_from_slice(blob);
        out
    }

    fn generate_kms(
        &self,
        ctx: &TableKeyContext,
        key_arn: &str,
    ) -> Result<(SecretKey32, Vec<u8>), KmsError> {
        let caller = ctx
            .caller
            .clone()
            .unwrap_or_else(|| self.service_principal());
        let grant = self.grant(&caller, key_arn, &ctx.table_name)?;
        let out = self.kms.call_via_service(
            "dynamodb",
            "GenerateDataKey",
            &self.service_principal(),
            &json!({"KeyId": key_arn, "KeySpec": "AES_256", "EncryptionContext": self.context(&ctx.table_name)}),
        )?;
        let plain = zeroize::Zeroizing::new(
            B64.decode(out["Plaintext"].as_str().unwrap_or_default())
                .map_err(|_| KmsError::Internal)?,
        );
        let blob = B64
            .decode(out["CiphertextBlob"].as_str().unwrap_or_default())
            .map_err(|_| KmsError::Internal)?;
        let key = SecretKey32::from_slice(&plain).ok_or(KmsError::Internal)?;
        Ok((key, Self::record(key_arn, &grant, &blob)))
    }

    fn unwrap_kms(&self, ctx: &TableKeyContext, wrapped: &[u8]) -> Result<SecretKey32, KmsError> {
        let Some((_arn, _grant, blob)) = parse_v2(wrapped) else {
            return Err(KmsError::InvalidCiphertext(String::new()));
        };
        let out = self.kms.call_via_service(
            "dynamodb",
            "Decrypt",
            &self.service_principal(),
            &json!({"CiphertextBlob": B64.encode(blob), "EncryptionContext": self.context(&ctx.table_name)}),
        )?;
        let plain = zeroize::Zeroizing::new(
            B64.decode(out["Plaintext"].as_str().unwrap_or_default())
                .map_err(|_| KmsError::Internal)?,
        );
        SecretKey32::from_slice(&plain).ok_or(KmsError::Internal)
    }

    fn wrap_kms(
        &self,
        ctx: &TableKeyContext,
        key_arn: &str,
        key: &SecretKey32,
    ) -> Result<Vec<u8>, KmsError> {
        let caller = ctx
            .caller
            .clone()
            .unwrap_or_else(|| self.service_principal());
        let grant = self.grant(&caller, key_arn, &ctx.table_name)?;
        let out = self.kms.call_via_service(
            "dynamodb",
            "Encrypt",
            &self.service_principal(),
            &json!({"KeyId": key_arn, "Plaintext": B64.encode(key.expose()), "EncryptionContext": self.context(&ctx.table_name)}),
        )?;
        let blob = B64
            .decode(out["CiphertextBlob"].as_str().unwrap_or_default())
            .map_err(|_| KmsError::Internal)?;
        Ok(Self::record(key_arn, &grant, &blob))
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
        let result = match &ctx.kms_key {
            None => return self.root.generate(ctx),
            Some(arn) => self.generate_kms(ctx, arn).map_err(|e| storage_error(&e)),
        };
        Box::pin(async move { result })
    }

    fn unwrap_key<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretKey32, StorageError>> {
        if wrapped.first() != Some(&WRAPPED_KMS_V2) {
            return self.root.unwrap_key(ctx, wrapped);
        }
        let result = self.unwrap_kms(ctx, wrapped).map_err(|e| storage_error(&e));
        Box::pin(async move { result })
    }

    fn wrap_existing<'a>(
        &'a self,
        ctx: &'a TableKeyContext,
        key: &'a SecretKey32,
    ) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        let result = match &ctx.kms_key {
            None => return self.root.wrap_existing(ctx, key),
            Some(arn) => self.wrap_kms(ctx, arn, key).map_err(|e| storage_error(&e)),
        };
        Box::pin(async move { result })
    }

    fn forget<'a>(&'a self, _ctx: &'a TableKeyContext, wrapped: &'a [u8]) -> BoxFuture<'a, ()> {
        if let Some((arn, grant, _)) = parse_v2(wrapped)
            && !grant.is_empty()
        {
            let r = self.kms.call_via_service(
                "dynamodb",
                "RetireGrant",
                &self.service_principal(),
                &json!({"KeyId": arn, "GrantId": grant}),
            );
            if let Err(e) = r {
                tracing::warn!(error = ?e, "retiring the table's grant failed");
            }
        }
        Box::pin(async {})
    }
}
