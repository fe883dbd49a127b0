//! The typed seam other services of this server use (DynamoDB's table keys): each call
//! names the calling principal and the service acting for it, takes and returns typed
//! values (secret ones in zeroizing types), and is authorized, run and audited exactly
//! as the same call over the wire would be, with `kms:ViaService` and `invokedBy`.

use crate::error::KmsError;
use crate::operation::Operation;
use crate::ops;
pub use crate::store::KeyState;
use crate::store::{KeySpec, KeyUsage};
use crate::{Inner, KmsService};
use sealdb_common::{Principal, SecretBytes, SecretKey32};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

/// An encryption context: the pairs bound to a ciphertext.
pub type EncryptionContext = BTreeMap<String, String>;

/// Who calls: `caller`, through the service `service` (`dynamodb`) of this server.
#[derive(Clone, Debug)]
pub struct ServiceCall {
    /// The service acting (`dynamodb`): key policies see `kms:ViaService =
    /// <service>.<region>.amazonaws.com`, and grants to that service principal apply.
    pub service: String,
    /// The principal the call is made for (the user, or the service itself).
    pub caller: Principal,
}

/// What DescribeKey tells another service about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDescription {
    /// The key ARN.
    pub arn: String,
    /// Its state.
    pub state: KeyState,
    /// True for a SYMMETRIC_DEFAULT encryption key.
    pub symmetric: bool,
    /// True for an AWS managed key (`alias/aws/dynamodb`).
    pub aws_managed: bool,
}

/// A new 256-bit data key and its ciphertext blob.
pub struct DataKey {
    /// The key ARN that sealed it.
    pub key_arn: String,
    /// The data key.
    pub plaintext: SecretKey32,
    /// The KMS ciphertext blob (opaque, versioned; see docs/formats.md).
    pub ciphertext: Vec<u8>,
}

/// A grant to create.
#[derive(Clone, Debug)]
pub struct GrantRequest {
    /// The key (id, ARN or alias).
    pub key_id: String,
    /// Who may use the grant.
    pub grantee: String,
    /// Who may retire it.
    pub retiring: Option<String>,
    /// The grant operations (`Decrypt`, `ReEncryptFrom`, ...).
    pub operations: Vec<String>,
    /// Pairs every request under the grant must carry.
    pub context_subset: Option<EncryptionContext>,
    /// The grant's name (CreateGrant's `Name`), if any.
    pub name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyParams<'a> {
    key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_spec: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<&'a EncryptionContext>,
}

impl KmsService {
    async fn via<T: Send + 'static>(
        &self,
        call: &ServiceCall,
        op: Operation,
        params: serde_json::Value,
        f: impl FnOnce(&mut ops::Ctx<'_>) -> Result<T, KmsError> + Send + 'static,
        response: impl FnOnce(&T) -> serde_json::Value + Send + 'static,
    ) -> Result<T, KmsError> {
        let call = call.clone();
        self.blocking(move |inner: &Inner| {
            inner.transact(op, &call.caller, Some(&call.service), params, f, response)
        })
        .await
    }

    /// DescribeKey.
    pub async fn describe_key(
        &self,
        call: &ServiceCall,
        key_id: &str,
    ) -> Result<KeyDescription, KmsError> {
        let params = params(&KeyParams {
            key_id,
            key_spec: None,
            encryption_context: None,
        });
        let key_id = key_id.to_owned();
        self.via(
            call,
            Operation::DescribeKey,
            params,
            move |c| {
                let k = ops::described_key(c, &key_id)?;
                Ok(KeyDescription {
                    arn: c.key_arn(&k.id),
                    state: k.state,
                    symmetric: k.key_spec == KeySpec::SymmetricDefault
                        && k.key_usage == KeyUsage::EncryptDecrypt,
                    aws_managed: k.key_manager == "AWS",
                })
            },
            |_| serde_json::Value::Null,
        )
        .await
    }

    /// GenerateDataKey with `KeySpec` AES_256.
    pub async fn generate_data_key(
        &self,
        call: &ServiceCall,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let params = params(&KeyParams {
            key_id,
            key_spec: Some("AES_256"),
            encryption_context: Some(context),
        });
        let (key_id, context) = (key_id.to_owned(), context.clone());
        self.via(
            call,
            Operation::GenerateDataKey,
            params,
            move |c| {
                let dk = ops::new_data_key(c, "GenerateDataKey", &key_id, 32, &context)?;
                Ok(DataKey {
                    key_arn: c.key_arn(&dk.key.id),
                    plaintext: SecretKey32::from_slice(&dk.plaintext).ok_or(KmsError::Internal)?,
                    ciphertext: dk.ciphertext,
                })
            },
            |_| serde_json::Value::Null,
        )
        .await
    }

    /// Decrypt of a symmetric ciphertext blob (the blob names its key).
    pub async fn decrypt(
        &self,
        call: &ServiceCall,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<SecretBytes, KmsError> {
        let params = params(&json!({"encryptionContext": context}));
        let (blob, context) = (ciphertext.to_vec(), context.clone());
        self.via(
            call,
            Operation::Decrypt,
            params,
            move |c| {
                let (_, plain) = ops::decrypt_blob(c, &blob, None, &context, "Decrypt", "Decrypt")?;
                Ok(SecretBytes::new(plain.to_vec()))
            },
            |_| serde_json::Value::Null,
        )
        .await
    }

    /// Encrypt under a symmetric key; returns the ciphertext blob.
    pub async fn encrypt(
        &self,
        call: &ServiceCall,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KmsError> {
        let params = params(&KeyParams {
            key_id,
            key_spec: None,
            encryption_context: Some(context),
        });
        let (key_id, context) = (key_id.to_owned(), context.clone());
        let plaintext = SecretBytes::new(plaintext.to_vec());
        self.via(
            call,
            Operation::Encrypt,
            params,
            move |c| {
                let (_, blob) = ops::encrypt_symmetric(c, &key_id, plaintext.expose(), &context)?;
                Ok(blob)
            },
            |_| serde_json::Value::Null,
        )
        .await
    }

    /// ReEncrypt of a symmetric blob under `destination_key`.
    pub async fn re_encrypt(
        &self,
        call: &ServiceCall,
        ciphertext: &[u8],
        source_context: &EncryptionContext,
        destination_key: &str,
        destination_context: &EncryptionContext,
    ) -> Result<Vec<u8>, KmsError> {
        let params = params(&json!({
            "sourceEncryptionContext": source_context,
            "destinationKeyId": destination_key,
            "destinationEncryptionContext": destination_context,
        }));
        let (blob, src, dst_key, dst) = (
            ciphertext.to_vec(),
            source_context.clone(),
            destination_key.to_owned(),
            destination_context.clone(),
        );
        self.via(
            call,
            Operation::ReEncrypt,
            params,
            move |c| {
                let (_, _, out) = ops::re_encrypt_blob(c, &blob, None, &src, &dst_key, &dst)?;
                Ok(out)
            },
            |_| serde_json::Value::Null,
        )
        .await
    }

    /// CreateGrant; returns the grant id.
    pub async fn create_grant(
        &self,
        call: &ServiceCall,
        grant: &GrantRequest,
    ) -> Result<String, KmsError> {
        let mut constraints = serde_json::Map::new();
        if let Some(s) = &grant.context_subset {
            constraints.insert("encryptionContextSubset".into(), json!(s));
        }
        let params = params(&json!({
            "keyId": grant.key_id,
            "granteePrincipal": grant.grantee,
            "retiringPrincipal": grant.retiring,
            "operations": grant.operations,
            "constraints": constraints,
        }));
        let params = match (params, &grant.name) {
            (serde_json::Value::Object(mut m), Some(name)) => {
                m.insert("name".into(), json!(name));
                serde_json::Value::Object(m)
            }
            (p, _) => p,
        };
        let req = ops::NewGrant {
            key_id: grant.key_id.clone(),
            grantee: grant.grantee.clone(),
            retiring: grant.retiring.clone(),
            operations: grant.operations.clone(),
            subset: grant.context_subset.clone().filter(|m| !m.is_empty()),
            equals: None,
            name: grant.name.clone(),
        };
        self.via(
            call,
            Operation::CreateGrant,
            params,
            move |c| Ok(ops::add_grant(c, req)?.id),
            |id: &String| json!({"grantId": id}),
        )
        .await
    }

    /// RetireGrant by key and grant id.
    pub async fn retire_grant(
        &self,
        call: &ServiceCall,
        key_id: &str,
        grant_id: &str,
    ) -> Result<(), KmsError> {
        let params = params(&json!({"keyId": key_id, "grantId": grant_id}));
        let grant_id = grant_id.to_owned();
        self.via(
            call,
            Operation::RetireGrant,
            params,
            move |c| ops::end_grant(c, "RetireGrant", &grant_id),
            |()| serde_json::Value::Null,
        )
        .await
    }
}

fn params<T: Serialize>(p: &T) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or(serde_json::Value::Null)
}
