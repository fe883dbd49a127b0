//! What the front door knows of the services behind it: a [`Backend`] per protocol
//! takes an operation name, the caller and the body, and answers a JSON body or a
//! [`WireError`]. The services own their error enums; [`WireError`] is their wire form.

use bytes::Bytes;
use sealdb_common::Principal;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so backends can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An error as it goes on the wire: `{"__type": .., "message": .., ..extra}` with a status.
#[derive(Clone, Debug)]
pub struct WireError {
    /// The `__type`, with the namespace AWS uses (e.g.
    /// `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`).
    pub type_name: String,
    /// HTTP status.
    pub status: u16,
    /// The message text.
    pub message: String,
    /// Whether the member is spelled `Message` (some AWS errors) rather than `message`.
    pub capital_message: bool,
    /// Extra members of the error body (e.g. `CancellationReasons`, `Item`).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl WireError {
    /// An error with no extra members.
    pub fn new(type_name: impl Into<String>, status: u16, message: impl Into<String>) -> Self {
        WireError {
            type_name: type_name.into(),
            status,
            message: message.into(),
            capital_message: false,
            extra: serde_json::Map::new(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        let mut obj = serde_json::Map::new();
        obj.insert("__type".into(), self.type_name.clone().into());
        let key = if self.capital_message {
            "Message"
        } else {
            "message"
        };
        // AWS leaves the member out when there is nothing to say (framing errors).
        if !self.message.is_empty() {
            obj.insert(key.into(), self.message.clone().into());
        }
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        serde_json::to_vec(&serde_json::Value::Object(obj)).unwrap_or_default()
    }
}

/// One protocol's service (DynamoDB, KMS, Streams).
pub trait Backend: Send + Sync {
    /// True if `operation` names an operation of this service.
    fn has_operation(&self, operation: &str) -> bool;

    /// Runs one operation for an authenticated caller.
    fn call<'a>(
        &'a self,
        operation: &'a str,
        caller: &'a Principal,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Vec<u8>, WireError>>;
}

/// The secret of an access key and who owns it.
pub struct ResolvedCredential {
    /// The secret access key (for the temporary credentials of a session token, the
    /// session's secret).
    pub secret: sealdb_common::secret::SecretString,
    /// Who signs with it.
    pub identity: sealdb_common::Identity,
    /// When its session began (epoch seconds), for temporary credentials.
    pub session_created: Option<i64>,
}

/// Why a credential was refused before its signature was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialRejection {
    /// Unknown or inactive access key, or a session token that does not open, does not
    /// belong to the key, or names a principal that no longer exists.
    Invalid,
    /// The session token has expired.
    Expired,
}

/// Looks up the secret of an access key id, and whom it belongs to.
pub trait CredentialLookup: Send + Sync {
    /// Resolves the key of a request, with the `X-Amz-Security-Token` it carried.
    /// Long-term keys (`AKIA…`) are refused with a token, temporary ones (`ASIA…`)
    /// without one.
    fn resolve(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<ResolvedCredential, CredentialRejection>;

    /// Records that a long-term key signed a valid request, for GetAccessKeyLastUsed.
    fn record_use(&self, _access_key_id: &str, _service: &str, _region: &str) {}
}

/// The web console, answered for every path under `/console` (the binary adapts the
/// console crate, so this crate stays free of it).
pub trait WebConsole: Send + Sync {
    /// Answers one request; the body is read in full (at most [`crate::front::MAX_CONSOLE_BODY_BYTES`]).
    fn handle<'a>(
        &'a self,
        request: http::Request<Bytes>,
        remote_ip: &'a str,
        secure_transport: bool,
    ) -> BoxFuture<'a, http::Response<Bytes>>;
}
