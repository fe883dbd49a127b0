//! The AWS XKS proxy API (external key stores), both ends: [`client`] is how KMS calls
//! a proxy, [`server`] is `sealdb xks-proxy`'s listener. The JSON shapes below are the
//! public specification's (v1): every call is `POST {uriPath}/...` with a SigV4
//! signature for the service `kms-xks-proxy`.
//!
//! ```text
//! POST {uriPath}/health                          GetHealthStatus
//! POST {uriPath}/keys/{externalKeyId}/metadata   GetKeyMetadata
//! POST {uriPath}/keys/{externalKeyId}/encrypt    Encrypt (AES_GCM)
//! POST {uriPath}/keys/{externalKeyId}/decrypt    Decrypt (AES_GCM)
//! errors: HTTP status + {"errorName": "...", "errorMessage": "..."}
//! ```

pub mod client;
pub mod server;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// The SigV4 service name of XKS proxies.
pub const SERVICE: &str = "kms-xks-proxy";

/// Bytes carried as base64 (ciphertext, IV, tag, AAD, metadata).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("not valid base64"))
    }
}

/// Plaintext carried as base64: wiped on drop, never printed.
#[derive(Clone, Default)]
pub struct SecretBlob(pub Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBlob({} bytes)", self.0.len())
    }
}

impl Serialize for SecretBlob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Zeroizing::new(B64.encode(self.0.as_slice())))
    }
}

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        B64.decode(s.as_bytes())
            .map(|v| SecretBlob(Zeroizing::new(v)))
            .map_err(|_| serde::de::Error::custom("not valid base64"))
    }
}

/// `requestMetadata`: who asks KMS for what (the proxy may authorize on it).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestMetadata {
    /// The caller of the KMS operation (absent for GetHealthStatus).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aws_principal_arn: Option<String>,
    /// The KMS key (absent for GetHealthStatus and CreateKey's GetKeyMetadata).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kms_key_arn: Option<String>,
    /// The KMS API operation this call serves (`Encrypt`, `CreateKey`, ...).
    pub kms_operation: String,
    /// KMS's request id.
    pub kms_request_id: String,
    /// The AWS service that called KMS for the principal, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kms_via_service: Option<String>,
    /// Source VPC (never set here: no VPCs).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aws_source_vpc: Option<String>,
    /// Source VPC endpoint (never set here).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aws_source_vpce: Option<String>,
}

/// GetHealthStatus and GetKeyMetadata requests.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataOnly {
    /// Who asks.
    pub request_metadata: RequestMetadata,
}

/// One external key manager instance in a health answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EkmInstance {
    /// Instance id.
    pub id: String,
    /// Model.
    pub model: String,
    /// `ACTIVE`, `DEGRADED` or `UNAVAILABLE`.
    pub health_status: String,
}

/// GetHealthStatus answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// Proxy instances serving the URI.
    pub xks_proxy_fleet_size: u32,
    /// Proxy vendor.
    pub xks_proxy_vendor: String,
    /// Proxy model.
    pub xks_proxy_model: String,
    /// External key manager vendor.
    pub ekm_vendor: String,
    /// The key manager instances.
    pub ekm_fleet_details: Vec<EkmInstance>,
}

/// GetKeyMetadata answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyMetadata {
    /// `AES_256` for keys KMS can use.
    pub key_spec: String,
    /// `ENCRYPT`, `DECRYPT` (and others KMS ignores).
    pub key_usage: Vec<String>,
    /// `ENABLED` or `DISABLED`.
    pub key_status: String,
}

/// Encrypt request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptRequest {
    /// Who asks.
    pub request_metadata: RequestMetadata,
    /// What to encrypt.
    pub plaintext: SecretBlob,
    /// `AES_GCM`.
    pub encryption_algorithm: String,
    /// Authenticated with the ciphertext.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub additional_authenticated_data: Option<Blob>,
    /// `SHA_256` when KMS asks for an integrity value (not asked by this KMS).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ciphertext_data_integrity_value_algorithm: Option<String>,
}

/// Encrypt answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptResponse {
    /// The AES-GCM tag (16 bytes).
    pub authentication_tag: Blob,
    /// The ciphertext (as long as the plaintext).
    pub ciphertext: Blob,
    /// The IV (12 bytes).
    pub initialization_vector: Blob,
    /// Proxy data KMS must return on Decrypt (at most 20 bytes), authenticated too.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ciphertext_metadata: Option<Blob>,
    /// Integrity value, when asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ciphertext_data_integrity_value: Option<Blob>,
}

/// Decrypt request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecryptRequest {
    /// Who asks.
    pub request_metadata: RequestMetadata,
    /// `AES_GCM`.
    pub encryption_algorithm: String,
    /// As Encrypt answered it.
    pub ciphertext: Blob,
    /// As Encrypt answered it.
    pub initialization_vector: Blob,
    /// As Encrypt answered it.
    pub authentication_tag: Blob,
    /// As given to Encrypt.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub additional_authenticated_data: Option<Blob>,
    /// As Encrypt answered it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ciphertext_metadata: Option<Blob>,
}

/// Decrypt answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecryptResponse {
    /// The plaintext.
    pub plaintext: SecretBlob,
}

/// An error answer's body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The specification's error name.
    pub error_name: String,
    /// Free text.
    #[serde(default)]
    pub error_message: String,
}

/// The specification's errors, with their HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XksErrorName {
    /// 400: a bad parameter.
    Validation,
    /// 400: the key is disabled.
    InvalidState,
    /// 400: ciphertext, IV, tag, AAD or metadata do not decrypt.
    InvalidCiphertext,
    /// 400: the key cannot do this.
    InvalidKeyUsage,
    /// 401: the signature does not verify.
    AuthenticationFailed,
    /// 403: refused by the proxy's authorization of the request metadata.
    AccessDenied,
    /// 404: no such external key.
    KeyNotFound,
    /// 404: no such URI path.
    InvalidUriPath,
    /// 429: too many requests.
    Throttling,
    /// 500: the proxy or the key manager failed.
    Internal,
    /// 501: not supported.
    UnsupportedOperation,
    /// 503: the key manager did not answer in time.
    DependencyTimeout,
}

impl XksErrorName {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "ValidationException",
            Self::InvalidState => "InvalidStateException",
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::InvalidKeyUsage => "InvalidKeyUsageException",
            Self::AuthenticationFailed => "AuthenticationFailedException",
            Self::AccessDenied => "AccessDeniedException",
            Self::KeyNotFound => "KeyNotFoundException",
            Self::InvalidUriPath => "InvalidUriPathException",
            Self::Throttling => "ThrottlingException",
            Self::Internal => "InternalException",
            Self::UnsupportedOperation => "UnsupportedOperationException",
            Self::DependencyTimeout => "DependencyTimeoutException",
        }
    }

    /// The HTTP status the specification gives it.
    pub fn status(self) -> u16 {
        match self {
            Self::Validation | Self::InvalidState | Self::InvalidCiphertext => 400,
            Self::InvalidKeyUsage => 400,
            Self::AuthenticationFailed => 401,
            Self::AccessDenied => 403,
            Self::KeyNotFound | Self::InvalidUriPath => 404,
            Self::Throttling => 429,
            Self::Internal => 500,
            Self::UnsupportedOperation => 501,
            Self::DependencyTimeout => 503,
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Validation,
            Self::InvalidState,
            Self::InvalidCiphertext,
            Self::InvalidKeyUsage,
            Self::AuthenticationFailed,
            Self::AccessDenied,
            Self::KeyNotFound,
            Self::InvalidUriPath,
            Self::Throttling,
            Self::Internal,
            Self::UnsupportedOperation,
            Self::DependencyTimeout,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
    }
}

/// An error a proxy answers (or the server side returns from its backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XksError {
    /// Which.
    pub name: XksErrorName,
    /// Why.
    pub message: String,
}

impl XksError {
    /// An error with a message.
    pub fn new(name: XksErrorName, message: impl Into<String>) -> Self {
        XksError {
            name,
            message: message.into(),
        }
    }
}

/// The credential KMS signs proxy calls with (XksProxyAuthenticationCredential). The
/// secret is wiped on drop and never printed.
#[derive(Clone)]
pub struct ProxyCredential {
    /// AccessKeyId.
    pub access_key_id: String,
    /// RawSecretAccessKey.
    pub secret: sealdb_common::secret::SecretString,
}

impl std::fmt::Debug for ProxyCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyCredential")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}
