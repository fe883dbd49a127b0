//! The key service of sealdb: the AWS KMS API (`TrentService.*`, JSON 1.1) over an
//! encrypted key store.
//!
//! ```text
//! call(operation, caller, body)
//!   → parse JSON → resolve the key (id, ARN, alias name, alias ARN)
//!   → key policy (explicit Deny wins) or a grant → key state check
//!   → cryptography (crypto.rs: versioned blob, AES-256-GCM, context as AAD)
//!   → audit record (hash-chained, allowed or denied) → response
//! ```
//! Key material lives only in `keystore.db` (SQLCipher under `HKDF(root, "keystore")`)
//! and, while in use, in zeroizing buffers.

mod asym;
mod audit;
mod crypto;
mod error;
mod ops;
mod policy;
mod store;

pub use audit::{
    VerifyReport, rechain as rechain_audit_log, records as audit_records,
    verify as verify_audit_log,
};
pub use error::KmsError;

use sealdb_common::{Clock, Principal, RootKey};
use std::path::PathBuf;
use std::sync::Mutex;

/// Settings of the key service.
#[derive(Clone, Debug)]
pub struct KmsConfig {
    /// The data directory (holds `keystore.db`).
    pub data_dir: PathBuf,
    /// Region of key ARNs.
    pub region: String,
    /// Account of key ARNs.
    pub account_id: String,
    /// Clock (scheduled deletion is tested by moving it).
    pub clock: Clock,
}

/// The KMS service.
pub struct KmsService {
    store: Mutex<store::Store>,
    cfg: KmsConfig,
    audit_key: aws_lc_rs::hmac::Key,
}

/// Why the key store could not be opened.
#[derive(Debug)]
pub struct KmsOpenError(pub String);

impl std::fmt::Display for KmsOpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl KmsService {
    /// Opens (creating if needed) `keystore.db` in the data dir.
    pub fn open(cfg: KmsConfig, root: &RootKey) -> Result<KmsService, KmsOpenError> {
        let path = cfg.data_dir.join("keystore.db");
        let store = store::Store::open(&path, &root.derive("keystore")).map_err(|e| {
            KmsOpenError(format!("cannot open {}: {}", path.display(), e.message()))
        })?;
        Ok(KmsService {
            store: Mutex::new(store),
            audit_key: audit::chain_key(root),
            cfg,
        })
    }

    /// True if `operation` is a KMS operation this service answers.
    pub fn has_operation(operation: &str) -> bool {
        ops::OPERATIONS.contains(&operation)
    }

    /// Runs one operation: `body` is the JSON 1.1 request; returns the JSON response.
    pub async fn call(
        &self,
        operation: &str,
        caller: &Principal,
        body: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        if !Self::has_operation(operation) {
            return Err(KmsError::UnknownOperation);
        }
        let input: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|_| KmsError::Serialization("Malformed JSON body".into()))?
        };
        if !input.is_object() {
            return Err(KmsError::Serialization(
                "Start of structure or map found where not expected.".into(),
            ));
        }
        let store = self.store.lock().map_err(|_| KmsError::Internal)?;
        let mut ctx = ops::Ctx {
            store: &store,
            cfg: &self.cfg,
            caller,
            via_service: None,
            resource: None,
        };
        ctx.purge_deleted_keys()?;
        let dry_run = input.get("DryRun").and_then(serde_json::Value::as_bool) == Some(true);
        let result =
            if dry_run && matches!(operation, "CreateGrant" | "RetireGrant" | "RevokeGrant") {
                // These change state, so a dry run stops before them (without the permission check).
                Err(KmsError::DryRunOperation)
            } else {
                // The cryptographic operations change nothing: run them, including the
                // permission and key-state checks, and answer as AWS does when they would succeed.
                let r = ops::dispatch(&mut ctx, operation, &input);
                if dry_run {
                    r.and(Err(KmsError::DryRunOperation))
                } else {
                    r
                }
            };
        let resource = ctx.resource.clone();
        let record = audit_record(
            &self.cfg,
            caller,
            operation,
            &input,
            resource.as_deref(),
            &result,
            None,
        );
        if let Err(e) = audit::append(&store.conn, &self.audit_key, &record) {
            tracing::error!(error = %e, "audit append failed");
            return Err(KmsError::Internal);
        }
        drop(store);
        result.map(|v| serde_json::to_vec(&v).unwrap_or_default())
    }

    /// Deletes keys whose deletion window has passed and takes away expired imported
    /// material (run periodically, so this happens without any call).
    pub fn purge(&self) -> Result<(), KmsError> {
        let store = self.store.lock().map_err(|_| KmsError::Internal)?;
        let caller = Principal::root("", &self.cfg.account_id, &self.cfg.region, "");
        let ctx = ops::Ctx {
            store: &store,
            cfg: &self.cfg,
            caller: &caller,
            via_service: None,
            resource: None,
        };
        ctx.purge_deleted_keys()
    }

    /// A call made by another service of this server on a user's behalf (DynamoDB
    /// asking for table keys): audited with `invokedBy`, and key policies see
    /// `kms:ViaService`.
    pub fn call_via_service(
        &self,
        service: &str,
        operation: &str,
        caller: &Principal,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, KmsError> {
        let store = self.store.lock().map_err(|_| KmsError::Internal)?;
        let via = format!("{service}.{}.amazonaws.com", self.cfg.region);
        let mut ctx = ops::Ctx {
            store: &store,
            cfg: &self.cfg,
            caller,
            via_service: Some(via.clone()),
            resource: None,
        };
        ctx.purge_deleted_keys()?;
        let result = ops::dispatch(&mut ctx, operation, input);
        let resource = ctx.resource.clone();
        let record = audit_record(
            &self.cfg,
            caller,
            operation,
            input,
            resource.as_deref(),
            &result,
            Some(&via),
        );
        if let Err(e) = audit::append(&store.conn, &self.audit_key, &record) {
            tracing::error!(error = %e, "audit append failed");
            return Err(KmsError::Internal);
        }
        result
    }
}

/// Request members that never go into the audit log.
const SECRET_MEMBERS: [&str; 4] = [
    "Plaintext",
    "CiphertextBlob",
    "Message",
    "EncryptedKeyMaterial",
];

fn audit_record(
    cfg: &KmsConfig,
    caller: &Principal,
    operation: &str,
    input: &serde_json::Value,
    resource: Option<&str>,
    result: &Result<serde_json::Value, KmsError>,
    via: Option<&str>,
) -> serde_json::Value {
    let mut params = input.clone();
    if let Some(m) = params.as_object_mut() {
        for s in SECRET_MEMBERS {
            m.remove(s);
        }
    }
    let seconds = cfg.clock.now_millis().div_euclid(1000);
    let mut user = serde_json::json!({
        "type": if caller.is_root() { "Root" } else { "IAMUser" },
        "arn": caller.arn,
        "accountId": caller.account_id,
        "accessKeyId": caller.access_key_id,
    });
    if let Some(name) = &caller.user_name {
        user["userName"] = serde_json::Value::from(name.clone());
    }
    if via.is_some() {
        user["invokedBy"] = serde_json::Value::from("dynamodb.amazonaws.com");
    }
    let mut rec = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": user,
        "eventTime": seconds,
        "eventSource": "kms.amazonaws.com",
        "eventName": operation,
        "awsRegion": cfg.region,
        "sourceIPAddress": if via.is_some() { "dynamodb.amazonaws.com".to_owned() } else { caller.source_ip.clone() },
        "requestParameters": params,
        "eventID": uuid::Uuid::new_v4().to_string(),
        "readOnly": matches!(operation, "Decrypt" | "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" | "DescribeKey" | "ListKeys" | "ListAliases" | "GetKeyPolicy" | "GetKeyRotationStatus" | "ListGrants" | "ListResourceTags" | "ListKeyRotations" | "ListKeyPolicies" | "GenerateRandom"),
        "eventType": "AwsApiCall",
        "recipientAccountId": cfg.account_id,
    });
    if let Some(r) = resource {
        rec["resources"] =
            serde_json::json!([{"ARN": r, "accountId": cfg.account_id, "type": "AWS::KMS::Key"}]);
    }
    if let Err(e) = result {
        rec["errorCode"] = serde_json::Value::from(e.error_type());
        rec["errorMessage"] = serde_json::Value::from(e.message());
    }
    rec
}

#[cfg(test)]
mod tests;
