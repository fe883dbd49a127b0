//! External key stores (EXTERNAL_KEY_STORE): the store's proxy settings as persisted,
//! the proxy calls KMS makes (sealdb-http's XKS client), and how their failures become
//! connection error codes (ConnectCustomKeyStore), Xks* exceptions (store and key
//! management) or KMSInvalidStateException (cryptographic operations, as AWS answers
//! every external failure there).

use crate::custom_key_store::ConnectionErrorCode;
use crate::error::{KmsError, XksFault};
use sealdb_common::secret::SecretString;
use sealdb_http::xks::client::{XksCallError, XksEndpoint, XksTrust};
use sealdb_http::xks::{MetadataOnly, ProxyCredential, RequestMetadata, XksErrorName};
use serde::{Deserialize, Serialize};

/// XksProxyConnectivity values.
pub(crate) const PUBLIC_ENDPOINT: &str = "PUBLIC_ENDPOINT";
pub(crate) const VPC_ENDPOINT_SERVICE: &str = "VPC_ENDPOINT_SERVICE";

/// An external key store's proxy settings (in the store record; the secret is kept
/// apart, in the record's secret column).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct XksConfig {
    /// XksProxyUriEndpoint, `https://host[:port]`.
    pub(crate) uri_endpoint: String,
    /// XksProxyUriPath.
    pub(crate) uri_path: String,
    /// XksProxyConnectivity (always PUBLIC_ENDPOINT here: no VPCs).
    pub(crate) connectivity: String,
    /// XksProxyAuthenticationCredential's AccessKeyId.
    pub(crate) access_key_id: String,
}

impl XksConfig {
    /// XksProxyConfiguration as DescribeCustomKeyStores shows it (no secret).
    pub(crate) fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "Connectivity": self.connectivity,
            "AccessKeyId": self.access_key_id,
            "UriEndpoint": self.uri_endpoint,
            "UriPath": self.uri_path,
        })
    }

    /// The client of this store's proxy.
    pub(crate) fn endpoint(&self, secret: SecretString, region: &str) -> XksEndpoint {
        XksEndpoint {
            uri_endpoint: self.uri_endpoint.clone(),
            uri_path: self.uri_path.clone(),
            credential: ProxyCredential {
                access_key_id: self.access_key_id.clone(),
                secret,
            },
            region: region.to_owned(),
        }
    }
}

/// `requestMetadata` for a call serving `operation`.
pub(crate) fn request_metadata(
    operation: &str,
    principal: Option<&str>,
    key_arn: Option<&str>,
    via: Option<&str>,
) -> RequestMetadata {
    RequestMetadata {
        aws_principal_arn: principal.map(str::to_owned),
        kms_key_arn: key_arn.map(str::to_owned),
        kms_operation: operation.to_owned(),
        kms_request_id: uuid::Uuid::new_v4().to_string(),
        kms_via_service: via.map(str::to_owned),
        aws_source_vpc: None,
        aws_source_vpce: None,
    }
}

/// Why a health check failed.
#[derive(Debug)]
pub(crate) enum HealthFailure {
    Call(XksCallError),
    /// The proxy answered, but every key manager instance is UNAVAILABLE.
    AllUnavailable,
}

/// GetHealthStatus: Ok when at least one key manager instance is not UNAVAILABLE.
pub(crate) fn check_health(
    ep: &XksEndpoint,
    trust: &XksTrust,
    operation: &str,
) -> Result<(), HealthFailure> {
    let req = MetadataOnly {
        request_metadata: request_metadata(operation, None, None, None),
    };
    let h = ep.health(trust, &req).map_err(HealthFailure::Call)?;
    if h.ekm_fleet_details.is_empty()
        || h.ekm_fleet_details
            .iter()
            .all(|i| i.health_status == "UNAVAILABLE")
    {
        return Err(HealthFailure::AllUnavailable);
    }
    Ok(())
}

/// The ConnectionErrorCode of a failed connection.
pub(crate) fn connection_error(f: &HealthFailure) -> ConnectionErrorCode {
    use ConnectionErrorCode as C;
    match f {
        HealthFailure::AllUnavailable => C::XksProxyNotReachable,
        HealthFailure::Call(e) => match e {
            XksCallError::Unreachable(_) => C::XksProxyNotReachable,
            XksCallError::Tls(_) => C::XksProxyInvalidTlsConfiguration,
            XksCallError::TimedOut => C::XksProxyTimedOut,
            XksCallError::InvalidResponse(_) => C::XksProxyInvalidResponse,
            XksCallError::Refused { name, .. } => match name {
                XksErrorName::AuthenticationFailed => C::InvalidCredentials,
                XksErrorName::AccessDenied => C::XksProxyAccessDenied,
                XksErrorName::InvalidUriPath => C::XksProxyInvalidConfiguration,
                _ => C::XksProxyInvalidResponse,
            },
        },
    }
}

/// The exception CreateCustomKeyStore / UpdateCustomKeyStore answer when the proxy's
/// health check fails.
pub(crate) fn management_error(f: &HealthFailure, cfg: &XksConfig) -> KmsError {
    let uri = format!("{}{}", cfg.uri_endpoint, cfg.uri_path);
    let (fault, msg) = match f {
        HealthFailure::AllUnavailable => (
            XksFault::ProxyUriUnreachable,
            format!(
                "The external key store proxy at {uri} reports that all of its external key manager instances are unavailable."
            ),
        ),
        HealthFailure::Call(e) => match e {
            XksCallError::Unreachable(_) | XksCallError::TimedOut | XksCallError::Tls(_) => (
                XksFault::ProxyUriUnreachable,
                format!("KMS cannot reach the external key store proxy at {uri}: {e}."),
            ),
            XksCallError::Refused {
                name: XksErrorName::AuthenticationFailed,
                ..
            } => (
                XksFault::ProxyIncorrectAuthenticationCredential,
                format!(
                    "The external key store proxy at {uri} rejected the XksProxyAuthenticationCredential."
                ),
            ),
            XksCallError::Refused {
                name: XksErrorName::InvalidUriPath,
                ..
            } => (
                XksFault::ProxyInvalidConfiguration,
                format!(
                    "The external key store proxy does not serve the XksProxyUriPath {}.",
                    cfg.uri_path
                ),
            ),
            other => (
                XksFault::ProxyInvalidResponse,
                format!(
                    "KMS cannot interpret the answer of the external key store proxy at {uri}: {other}."
                ),
            ),
        },
    };
    KmsError::Xks(fault, msg)
}

/// The error a cryptographic operation answers when its proxy call fails: AWS answers
/// KMSInvalidStateException for every external failure, with a message saying which;
/// a ciphertext the proxy cannot decrypt is InvalidCiphertextException as for any key.
pub(crate) fn crypto_error(e: &XksCallError, key_arn: &str) -> KmsError {
    tracing::warn!(key = %key_arn, error = %e, "external key store proxy call failed");
    let why = match e {
        XksCallError::Refused {
            name: XksErrorName::InvalidCiphertext,
            ..
        } => return KmsError::InvalidCiphertext(String::new()),
        XksCallError::Unreachable(_) => "the external key store proxy is not reachable".to_owned(),
        XksCallError::Tls(_) => "the TLS connection to the external key store proxy failed".into(),
        XksCallError::TimedOut => {
            "the external key store proxy did not respond within the timeout period".into()
        }
        XksCallError::InvalidResponse(_) => {
            "the external key store proxy returned a response that KMS cannot interpret".into()
        }
        XksCallError::Refused { name, .. } => match name {
            XksErrorName::AuthenticationFailed => {
                "the external key store proxy rejected the proxy authentication credential".into()
            }
            XksErrorName::KeyNotFound => {
                "the external key store proxy cannot find the external key".into()
            }
            XksErrorName::InvalidState => {
                "the external key is disabled in the external key manager".into()
            }
            XksErrorName::AccessDenied => {
                "the external key store proxy denied access to the operation".into()
            }
            other => format!("the external key store proxy answered {}", other.as_str()),
        },
    };
    KmsError::InvalidState(format!("{key_arn} is unusable because {why}."))
}

/// The exception CreateKey answers for the proxy's GetKeyMetadata failing.
pub(crate) fn create_key_error(e: &XksCallError, xks_key_id: &str, store_id: &str) -> KmsError {
    match e {
        XksCallError::Refused {
            name: XksErrorName::KeyNotFound,
            ..
        } => KmsError::Xks(
            XksFault::KeyNotFound,
            format!(
                "The external key store proxy for custom key store {store_id} cannot find the external key {xks_key_id}."
            ),
        ),
        XksCallError::Refused {
            name: XksErrorName::AuthenticationFailed,
            ..
        } => KmsError::Xks(
            XksFault::ProxyIncorrectAuthenticationCredential,
            format!(
                "The external key store proxy for custom key store {store_id} rejected the XksProxyAuthenticationCredential."
            ),
        ),
        XksCallError::Unreachable(_) | XksCallError::TimedOut | XksCallError::Tls(_) => {
            KmsError::Xks(
                XksFault::ProxyUriUnreachable,
                format!(
                    "KMS cannot reach the external key store proxy of custom key store {store_id}: {e}."
                ),
            )
        }
        other => KmsError::Xks(
            XksFault::ProxyInvalidResponse,
            format!(
                "KMS cannot interpret the answer of the external key store proxy of custom key store {store_id}: {other}."
            ),
        ),
    }
}
