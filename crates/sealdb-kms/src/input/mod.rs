//! Typed inputs of the KMS operations, parsed once from the JSON 1.1 body before the
//! operation runs, with AWS's errors for bad input:
//! - a member of the wrong JSON type (or a blob that is not base64) is a
//!   `SerializationException`, found while deserializing, before any other check;
//! - missing required members, and broken length, range and enum constraints
//!   (botocore's `kms/2014-11-01` model), are one `ValidationException` listing them all
//!   (`N validation errors detected: a; b`), as KMS answers.
//!
//! The handlers in `ops/` take these types and never look at JSON. The raw body is kept
//! only for the audit record, whose `requestParameters` are the members as sent.

mod admin;
mod crypt;
mod custom_key_stores;
mod keys;

pub(crate) use admin::*;
pub(crate) use crypt::*;
pub(crate) use custom_key_stores::*;
pub(crate) use keys::*;

use crate::error::KmsError;
use crate::operation::Operation;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// An operation's input: what AWS requires and constrains beyond JSON types.
pub(crate) trait KmsInput: DeserializeOwned {
    /// The members AWS marks required, by wire name (checked before the constraints, so
    /// every missing one is named).
    const REQUIRED: &'static [&'static str] = &[];

    /// Notes each broken constraint (lengths, ranges, enum values).
    fn check(&self, _v: &mut Violations) {}

    /// The request's `DryRun` member, for the operations that have one.
    fn dry_run(&self) -> bool {
        false
    }
}

/// Marker in a deserializer error: the member is a string but not base64.
const NOT_BASE64: &str = "sealdb: not base64";

/// Parses `body` (a JSON object) as `T`, with AWS's errors.
pub(crate) fn parse<T: KmsInput>(body: &Value) -> Result<T, KmsError> {
    let Some(members) = body.as_object() else {
        return Err(KmsError::Serialization(
            "Start of structure or map found where not expected.".into(),
        ));
    };
    // A null member is an absent one.
    let present: Map<String, Value> = members
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut v = Violations::default();
    for m in T::REQUIRED {
        if !present.contains_key(*m) {
            v.null(m);
        }
    }
    match serde_path_to_error::deserialize::<_, T>(Value::Object(present)) {
        Ok(input) => {
            input.check(&mut v);
            v.into_result().map(|()| input)
        }
        Err(e) => {
            let member = e
                .path()
                .iter()
                .next()
                .map(|s| s.to_string())
                .unwrap_or_default();
            let inner = e.into_inner().to_string();
            if let Some(field) = missing_field(&inner) {
                // Every present member had its type; only required ones are missing.
                if v.is_empty() {
                    v.null(&field);
                }
                return Err(v.into_error());
            }
            if inner.starts_with(NOT_BASE64) {
                return Err(KmsError::Serialization(format!(
                    "Invalid base64 in member {member}"
                )));
            }
            Err(KmsError::Serialization(format!(
                "Unexpected value type in payload for member {member}"
            )))
        }
    }
}

/// The member serde names in its "missing field `X`" error.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// Lower-camel form of a member name as AWS quotes it in validation messages.
pub(crate) fn lower_camel(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// The broken constraints of one request, in the order found.
#[derive(Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A message of AWS's form (`Value ... at 'member' failed to satisfy constraint: ...`).
    pub(crate) fn push(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    fn null(&mut self, member: &str) {
        self.push(format!(
            "Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_camel(member)
        ));
    }

    /// A string member's length (characters) within `min..=max`.
    pub(crate) fn length(&mut self, member: &str, value: Option<&str>, min: usize, max: usize) {
        let Some(s) = value else { return };
        let n = s.chars().count();
        let m = lower_camel(member);
        if n < min {
            self.push(format!(
                "Value '{s}' at '{m}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
            ));
        } else if n > max {
            self.push(format!(
                "Value '{s}' at '{m}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }

    /// An integer member within `lo..=hi`.
    pub(crate) fn range(&mut self, member: &str, value: Option<i64>, lo: i64, hi: i64) {
        let Some(n) = value else { return };
        let m = lower_camel(member);
        if n < lo {
            self.push(format!(
                "Value '{n}' at '{m}' failed to satisfy constraint: Member must have value greater than or equal to {lo}"
            ));
        } else if n > hi {
            self.push(format!(
                "Value '{n}' at '{m}' failed to satisfy constraint: Member must have value less than or equal to {hi}"
            ));
        }
    }

    /// A string member that must be one of `allowed` (an enum of AWS's model).
    pub(crate) fn one_of(&mut self, member: &str, value: Option<&str>, allowed: &[&str]) {
        let Some(s) = value else { return };
        if !allowed.contains(&s) {
            self.push(format!(
                "Value '{s}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                lower_camel(member),
                allowed.join(", ")
            ));
        }
    }

    /// A key identifier (KeyIdType: 1 to 2048 characters).
    pub(crate) fn key_id(&mut self, member: &str, value: Option<&str>) {
        self.length(member, value, 1, 2048);
    }

    /// A list of grant tokens (GrantTokenList: at most 10).
    pub(crate) fn grant_tokens(&mut self, tokens: &Option<Vec<String>>) {
        if let Some(t) = tokens
            && t.len() > 10
        {
            self.push(
                "Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10",
            );
        }
    }

    fn into_result(self) -> Result<(), KmsError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// `1 validation error detected: a` / `N validation errors detected: a; b`.
    fn into_error(self) -> KmsError {
        let n = self.0.len();
        let noun = if n == 1 { "error" } else { "errors" };
        KmsError::Validation(format!(
            "{n} validation {noun} detected: {}",
            self.0.join("; ")
        ))
    }
}

/// A blob of `1..=max` bytes, `len` when present (AWS does not quote blobs in the
/// message: `Value at 'plaintext' failed to satisfy constraint: ...`).
pub(crate) fn blob_length(v: &mut Violations, member: &str, len: Option<usize>, max: usize) {
    match len {
        Some(0) => v.push(format!(
            "Value at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )),
        Some(n) if n > max => v.push(format!(
            "Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )),
        _ => {}
    }
}

/// A blob member: base64 on the wire, bytes here.
#[derive(Clone, Default)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom(NOT_BASE64))
    }
}

/// A blob member that is secret (plaintext, key material): wiped on drop, never printed.
#[derive(Default)]
pub(crate) struct SecretBlob(pub(crate) zeroize::Zeroizing<Vec<u8>>);

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        B64.decode(s.as_bytes())
            .map(|b| SecretBlob(zeroize::Zeroizing::new(b)))
            .map_err(|_| serde::de::Error::custom(NOT_BASE64))
    }
}

impl SecretBlob {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// One tag of a key (`TagKey`, `TagValue`), both required (KMS's TagException when not).
#[derive(Deserialize, serde::Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Tag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tag_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tag_value: Option<String>,
}

/// `Limit` and `Marker` of a list operation.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Paging {
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

impl Paging {
    /// Limit within `1..=max` (KMS's per-operation maximum), Marker 1 to 1024 characters.
    pub(crate) fn check(&self, v: &mut Violations, max: i64) {
        v.range("Limit", self.limit, 1, max);
        v.length("Marker", self.marker.as_deref(), 1, 1024);
    }
}

/// The input of an operation that takes only `KeyId`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyIdInput {
    pub(crate) key_id: String,
}

impl KmsInput for KeyIdInput {
    const REQUIRED: &'static [&'static str] = &["KeyId"];
    fn check(&self, v: &mut Violations) {
        v.key_id("KeyId", Some(&self.key_id));
    }
}

macro_rules! requests {
    ($($op:ident($input:ty)),+ $(,)?) => {
        /// One KMS request with its input parsed.
        pub(crate) enum Request {
            $(
                #[allow(missing_docs)]
                $op($input),
            )+
        }

        impl Request {
            /// Parses the body of `op`.
            pub(crate) fn parse(op: Operation, body: &Value) -> Result<Request, KmsError> {
                Ok(match op {
                    $(Operation::$op => Request::$op(parse(body)?),)+
                })
            }

            /// The request's `DryRun` member.
            pub(crate) fn dry_run(&self) -> bool {
                match self {
                    $(Request::$op(i) => i.dry_run(),)+
                }
            }
        }
    };
}

requests!(
    CancelKeyDeletion(KeyIdInput),
    ConnectCustomKeyStore(CustomKeyStoreIdInput),
    CreateAlias(AliasInput),
    CreateCustomKeyStore(CreateCustomKeyStoreInput),
    CreateGrant(CreateGrantInput),
    CreateKey(CreateKeyInput),
    Decrypt(DecryptInput),
    DeleteAlias(DeleteAliasInput),
    DeleteCustomKeyStore(CustomKeyStoreIdInput),
    DeleteImportedKeyMaterial(DeleteImportedKeyMaterialInput),
    DescribeCustomKeyStores(DescribeCustomKeyStoresInput),
    DescribeKey(DescribeKeyInput),
    DisableKey(KeyIdInput),
    DisableKeyRotation(KeyIdInput),
    DisconnectCustomKeyStore(CustomKeyStoreIdInput),
    EnableKey(KeyIdInput),
    EnableKeyRotation(EnableKeyRotationInput),
    Encrypt(EncryptInput),
    GenerateDataKey(GenerateDataKeyInput),
    GenerateDataKeyPair(GenerateDataKeyPairInput),
    GenerateDataKeyPairWithoutPlaintext(GenerateDataKeyPairInput),
    GenerateDataKeyWithoutPlaintext(GenerateDataKeyInput),
    GenerateMac(MacInput),
    GenerateRandom(GenerateRandomInput),
    GetKeyPolicy(GetKeyPolicyInput),
    GetKeyRotationStatus(KeyIdInput),
    GetParametersForImport(GetParametersForImportInput),
    GetPublicKey(GetPublicKeyInput),
    ImportKeyMaterial(ImportKeyMaterialInput),
    ListAliases(ListAliasesInput),
    ListGrants(ListGrantsInput),
    ListKeyPolicies(KeyListInput),
    ListKeyRotations(KeyListInput),
    ListKeys(ListKeysInput),
    ListResourceTags(KeyListInput),
    ListRetirableGrants(ListRetirableGrantsInput),
    PutKeyPolicy(PutKeyPolicyInput),
    ReEncrypt(ReEncryptInput),
    ReplicateKey(ReplicateKeyInput),
    RetireGrant(EndGrantInput),
    RevokeGrant(RevokeGrantInput),
    RotateKeyOnDemand(KeyIdInput),
    ScheduleKeyDeletion(ScheduleKeyDeletionInput),
    Sign(SignInput),
    TagResource(TagResourceInput),
    UntagResource(UntagResourceInput),
    UpdateAlias(AliasInput),
    UpdateCustomKeyStore(UpdateCustomKeyStoreInput),
    UpdateKeyDescription(UpdateKeyDescriptionInput),
    UpdatePrimaryRegion(UpdatePrimaryRegionInput),
    Verify(VerifyInput),
    VerifyMac(VerifyMacInput),
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(op: Operation, body: Value) -> KmsError {
        match Request::parse(op, &body) {
            Ok(_) => panic!("{} accepted {body}", op.name()),
            Err(e) => e,
        }
    }

    #[test]
    fn a_member_of_the_wrong_type_is_a_serialization_error_naming_it() {
        let e = err(Operation::DescribeKey, json!({"KeyId": 5}));
        assert_eq!(
            e,
            KmsError::Serialization("Unexpected value type in payload for member KeyId".into())
        );
        let e = err(
            Operation::TagResource,
            json!({"KeyId": "k", "Tags": [{"TagKey": 1, "TagValue": "v"}]}),
        );
        assert_eq!(
            e,
            KmsError::Serialization("Unexpected value type in payload for member Tags".into())
        );
        // A type error wins over a missing member, as deserialization comes first.
        let e = err(Operation::UpdateKeyDescription, json!({"Description": []}));
        assert_eq!(e.error_type(), "SerializationException");
        let e = err(
            Operation::ImportKeyMaterial,
            json!({"KeyId": "k", "ImportToken": "!!", "EncryptedKeyMaterial": "AA=="}),
        );
        assert_eq!(
            e,
            KmsError::Serialization("Invalid base64 in member ImportToken".into())
        );
    }

    #[test]
    fn every_missing_required_member_is_named_and_null_is_absent() {
        let e = err(Operation::UpdateKeyDescription, json!({"KeyId": null}));
        assert_eq!(
            e,
            KmsError::Validation(
                "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; \
                 Value null at 'description' failed to satisfy constraint: Member must not be null"
                    .into()
            )
        );
        let e = err(Operation::EnableKey, json!({}));
        assert_eq!(
            e,
            KmsError::Validation(
                "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null".into()
            )
        );
    }

    #[test]
    fn constraints_are_reported_together() {
        let e = err(
            Operation::ScheduleKeyDeletion,
            json!({"KeyId": "", "PendingWindowInDays": 3}),
        );
        assert_eq!(
            e,
            KmsError::Validation(
                "2 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; \
                 Value '3' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7"
                    .into()
            )
        );
        let e = err(Operation::CreateKey, json!({"KeySpec": "AES"}));
        assert!(
            e.message().contains(
                "Value 'AES' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048,"
            ),
            "{e:?}"
        );
        let e = err(Operation::ListAliases, json!({"Limit": 101}));
        assert!(e.message().contains("less than or equal to 100"), "{e:?}");
    }

    #[test]
    fn blob_lengths_are_checked_with_aws_texts() {
        let big = B64.encode(vec![7u8; 4097]);
        let e = err(Operation::Encrypt, json!({"KeyId": "k", "Plaintext": big}));
        assert_eq!(
            e,
            KmsError::Validation(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096".into()
            )
        );
        let e = err(
            Operation::Sign,
            json!({"KeyId": "k", "Message": "", "SigningAlgorithm": "ECDSA_SHA_256"}),
        );
        assert!(
            e.message()
                .contains("Value at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1"),
            "{e:?}"
        );
        let e = err(
            Operation::CreateGrant,
            json!({"KeyId": "k", "Operations": ["Fly"]}),
        );
        assert!(
            e.message()
                .starts_with("2 validation errors detected: Value null at 'granteePrincipal'"),
            "{e:?}"
        );
        let e = err(Operation::RevokeGrant, json!({"GrantId": "g"}));
        assert!(e.message().contains("Value null at 'keyId'"), "{e:?}");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        let e = err(Operation::ListKeys, json!([1]));
        assert_eq!(e.error_type(), "SerializationException");
    }

    #[test]
    fn unknown_members_are_ignored_and_dry_run_is_read() {
        let r = Request::parse(Operation::ListKeys, &json!({"Limit": 5, "Extra": true}));
        assert!(r.is_ok());
        let r = Request::parse(Operation::CreateKey, &json!({})).map(|r| r.dry_run());
        assert_eq!(r, Ok(false));
    }
}
