//! The front door: one request in, one response out.
//!
//! ```text
//! POST /  X-Amz-Target: <prefix>.<Operation>
//!   → protocol (DynamoDB / KMS / Streams) from the prefix
//!   → SigV4: header parsed, scope checked (region, service), date within 15 min,
//!            credential looked up, signature compared in constant time → Principal
//!   → backend.call(operation, principal, body) → JSON body or WireError
//!   → response with x-amzn-RequestId, and x-amz-crc32 for DynamoDB
//! ```

use crate::sigv4::{self, ParseError, RequestParts};
use crate::wire::{Backend, CredentialLookup, WireError};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use sealdb_common::{Clock, Principal};
use std::sync::Arc;

/// Largest request body accepted (DynamoDB's BatchWriteItem limit is 16 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How far the request time may be from ours.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// The protocols served on the one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `DynamoDB_20120810.*`, JSON 1.0, signed for `dynamodb`.
    DynamoDb,
    /// `DynamoDBStreams_20120810.*`, JSON 1.0, signed for `dynamodb`.
    Streams,
    /// `TrentService.*`, JSON 1.1, signed for `kms`.
    Kms,
}

impl Protocol {
    /// Splits `X-Amz-Target` into protocol and operation name.
    pub fn from_target(target: &str) -> Option<(Protocol, &str)> {
        let (prefix, op) = target.split_once('.')?;
        let proto = match prefix {
            "DynamoDB_20120810" => Protocol::DynamoDb,
            "DynamoDBStreams_20120810" => Protocol::Streams,
            "TrentService" => Protocol::Kms,
            _ => return None,
        };
        Some((proto, op))
    }

    fn content_type(self) -> &'static str {
        match self {
            Protocol::DynamoDb | Protocol::Streams => "application/x-amz-json-1.0",
            Protocol::Kms => "application/x-amz-json-1.1",
        }
    }

    fn signing_service(self) -> &'static str {
        match self {
            Protocol::DynamoDb | Protocol::Streams => "dynamodb",
            Protocol::Kms => "kms",
        }
    }

    /// Errors raised by the front door itself (authentication, framing).
    fn front_error(self, name: &str, status: u16, message: impl Into<String>) -> WireError {
        let type_name = match self {
            Protocol::DynamoDb | Protocol::Streams => format!("com.amazon.coral.service#{name}"),
            Protocol::Kms => name.to_owned(),
        };
        WireError::new(type_name, status, message)
    }
}

/// Everything the front door needs.
pub struct FrontDoor {
    /// The DynamoDB service.
    pub dynamodb: Arc<dyn Backend>,
    /// The KMS service, when enabled.
    pub kms: Option<Arc<dyn Backend>>,
    /// The DynamoDB Streams service, when enabled.
    pub streams: Option<Arc<dyn Backend>>,
    /// Secrets of access keys.
    pub credentials: Arc<dyn CredentialLookup>,
    /// The region this server is.
    pub region: String,
    /// The account id of this server.
    pub account_id: String,
    /// The clock (request time checks).
    pub clock: Clock,
}

type HttpResponse = Response<Full<Bytes>>;

impl FrontDoor {
    /// Answers one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>, remote_ip: &str) -> HttpResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = std::time::Instant::now();
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let parsed = target.as_deref().and_then(Protocol::from_target);
        let protocol = parsed.map_or(Protocol::DynamoDb, |(p, _)| p);
        let operation = parsed.map(|(_, op)| op.to_owned());

        if req.method() == Method::GET && target.is_none() {
            return health_response();
        }
        let result = self
            .dispatch(req, protocol, operation.as_deref(), remote_ip)
            .await;
        let response = match result {
            Ok(body) => ok_response(protocol, body),
            Err(err) => error_response(protocol, &err),
        };
        tracing::debug!(
            operation = operation.as_deref().unwrap_or("-"),
            status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        response
    }

    async fn dispatch<B>(
        &self,
        req: Request<B>,
        protocol: Protocol,
        operation: Option<&str>,
        remote_ip: &str,
    ) -> Result<Vec<u8>, WireError>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return Err(protocol.front_error(
                    "RequestEntityTooLarge",
                    413,
                    format!("Request size exceeded {MAX_BODY_BYTES} bytes"),
                ));
            }
        };
        let caller = self.authenticate(&parts, &body, protocol, remote_ip)?;
        let backend = match protocol {
            Protocol::DynamoDb => Some(&self.dynamodb),
            Protocol::Kms => self.kms.as_ref(),
            Protocol::Streams => self.streams.as_ref(),
        };
        let (Some(backend), Some(op)) = (backend, operation) else {
            return Err(unknown_operation(protocol));
        };
        if parts.method != Method::POST || !backend.has_operation(op) {
            return Err(unknown_operation(protocol));
        }
        backend.call(op, &caller, body).await
    }

    /// Verifies SigV4 and returns the caller.
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        protocol: Protocol,
        remote_ip: &str,
    ) -> Result<Principal, WireError> {
        let err = |name: &str, msg: String| protocol.front_error(name, 400, msg);
        let Some(auth_value) = parts.headers.get(http::header::AUTHORIZATION) else {
            return Err(protocol.front_error(
                "MissingAuthenticationTokenException",
                400,
                "Request is missing Authentication Token",
            ));
        };
        let auth_str = auth_value.to_str().unwrap_or("");
        let auth = sigv4::parse_authorization(auth_str).map_err(|e| match e {
            ParseError::UnsupportedAlgorithm => err(
                "IncompleteSignatureException",
                format!(
                    "Unsupported AWS 'algorithm': '{}'",
                    auth_str.split(' ').next().unwrap_or("")
                ),
            ),
            ParseError::Incomplete(m) => err("IncompleteSignatureException", m),
        })?;
        if !auth.signed_headers.iter().any(|h| h == "host") {
            return Err(err(
                "IncompleteSignatureException",
                "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
            ));
        }
        let amz_date = parts
            .headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                err(
                    "IncompleteSignatureException",
                    format!(
                        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={auth_str}"
                    ),
                )
            })?;
        let Some(request_time) = sigv4::parse_amz_date(amz_date) else {
            return Err(err(
                "IncompleteSignatureException",
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ),
            ));
        };
        if auth.service != protocol.signing_service() {
            return Err(err(
                "InvalidSignatureException",
                format!(
                    "Credential should be scoped to correct service: '{}'. ",
                    protocol.signing_service()
                ),
            ));
        }
        if auth.region != self.region {
            return Err(err(
                "InvalidSignatureException",
                format!(
                    "Credential should be scoped to a valid region, not '{}'. ",
                    auth.region
                ),
            ));
        }
        let Some((secret, user_name)) = self.credentials.lookup(&auth.access_key_id) else {
            return Err(err(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".into(),
            ));
        };
        let now = self.clock.now_secs();
        if request_time < now - MAX_SKEW_SECS {
            return Err(err(
                "InvalidSignatureException",
                format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                    sigv4::format_amz_date(now - MAX_SKEW_SECS),
                    sigv4::format_amz_date(now)
                ),
            ));
        }
        if request_time > now + MAX_SKEW_SECS {
            return Err(err(
                "InvalidSignatureException",
                format!(
                    "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
                    sigv4::format_amz_date(now + MAX_SKEW_SECS),
                    sigv4::format_amz_date(now)
                ),
            ));
        }
        if !amz_date.starts_with(&auth.date) {
            return Err(err(
                "InvalidSignatureException",
                format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
                    auth.date,
                    amz_date.get(..8).unwrap_or(amz_date)
                ),
            ));
        }
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let payload_hash = match parts
            .headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
        {
            Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_owned(),
            _ => sigv4::sha256_hex(body),
        };
        let req_parts = RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            payload_hash: &payload_hash,
        };
        if !sigv4::verify(&auth, &secret, amz_date, &req_parts) {
            return Err(err(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
            ));
        }
        Ok(match user_name {
            None => Principal::root(
                &auth.access_key_id,
                &self.account_id,
                &self.region,
                remote_ip,
            ),
            Some(name) => Principal::user(
                &auth.access_key_id,
                &self.account_id,
                &name,
                &self.region,
                remote_ip,
            ),
        })
    }
}

fn unknown_operation(protocol: Protocol) -> WireError {
    protocol.front_error("UnknownOperationException", 400, "")
}

fn health_response() -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"healthy: sealdb")));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    resp
}

/// A request id: 52 upper-case alphanumerics for DynamoDB, a UUID for KMS, as AWS sends.
fn request_id(protocol: Protocol) -> String {
    match protocol {
        Protocol::Kms => uuid::Uuid::new_v4().to_string(),
        Protocol::DynamoDb | Protocol::Streams => {
            const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            let mut raw = [0u8; 52];
            if aws_lc_rs::rand::fill(&mut raw).is_err() {
                return uuid::Uuid::new_v4().simple().to_string().to_uppercase();
            }
            raw.iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect()
        }
    }
}

fn finish(protocol: Protocol, status: u16, body: Vec<u8>) -> HttpResponse {
    let crc = crc32fast::hash(&body);
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static(protocol.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id(protocol)) {
        h.insert("x-amzn-requestid", v);
    }
    if protocol != Protocol::Kms
        && let Ok(v) = HeaderValue::from_str(&crc.to_string())
    {
        h.insert("x-amz-crc32", v);
    }
    resp
}

fn ok_response(protocol: Protocol, body: Vec<u8>) -> HttpResponse {
    finish(protocol, 200, body)
}

fn error_response(protocol: Protocol, err: &WireError) -> HttpResponse {
    finish(protocol, err.status, err.body())
}
