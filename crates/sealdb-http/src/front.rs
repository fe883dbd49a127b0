//! The front door: one request in, one response out, with DynamoDB's checks in its order.
//!
//! ```text
//! Origin?           → Access-Control-Allow-Origin: * on whatever is answered
//! OPTIONS + Origin  → CORS preflight (200, empty)       other OPTIONS, PUT, … → 404
//! GET /             → "healthy: <host> "               GET elsewhere → 404
//! POST: Content-Length over 16 MiB                    → 413 (nothing read)
//!   SigV4 headers checked (authn.rs: all but the signature, which needs the body);
//!   body read: 16 MiB, or 64 KiB if the headers failed  → 413, or that failure's error
//!   (connection closed, the rest of the body unread); slower than the body timeout → 408
//!   content type of the protocol (JSON 1.0 / 1.1)     else 404 <UnknownOperationException/>
//!   Content-Encoding gzip/deflate inflated (capped)    else 500 / 413
//!   body is JSON                                       else SerializationException
//!   X-Amz-Target names an operation                    else UnknownOperationException
//!   the header checks' error, else the signature over the bytes as sent → Principal
//!   backend.call(operation, principal, body)           → JSON body or WireError
//! response: x-amzn-RequestId; for DynamoDB and Streams gzip/deflate on Accept-Encoding
//!           (≥ 4 KiB) and x-amz-crc32 over the bytes sent
//! POST without X-Amz-Target, form-encoded: IAM / STS (the Query protocol, `query.rs`):
//!   Action and Version checked, SigV4, backend answers the `…Result` XML, which is
//!   wrapped here with the request id
//! ```
//! Every protocol passes `X-Amz-Security-Token` to the credential lookup, which opens
//! session tokens and refuses expired ones.

use crate::authn::{HeadersChecked, Verifier};
use crate::body::{BodyError, closing, content_length, read_body};
use crate::encoding::{self, Coding, DecodeError};
use crate::query::{self, QueryService};
use crate::wire::{Backend, CredentialLookup, WebConsole, WireError};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use sealdb_common::Clock;
use std::sync::Arc;

/// Largest request body accepted, as sent and once inflated (DynamoDB's limit: 16 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Largest form a console page may post.
pub const MAX_CONSOLE_BODY_BYTES: usize = 1024 * 1024;

/// Largest body read from a request whose headers already failed authentication (enough
/// for every framing error to be answered as AWS orders them; the body is not kept
/// beyond that).
pub const UNAUTHENTICATED_BODY_BYTES: usize = 64 * 1024;

/// The body DynamoDB answers to what is not an API request (wrong method, path or
/// content type).
const NOT_FOUND_BODY: &[u8] = b"<UnknownOperationException/>\n";

/// How long a browser may cache a preflight answer (DynamoDB's value: two days).
const PREFLIGHT_MAX_AGE: &str = "172800";

/// The protocols served on the one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `DynamoDB_20120810.*`, JSON 1.0, signed for `dynamodb`.
    DynamoDb,
    /// `DynamoDBStreams_20120810.*`, JSON 1.0, signed for `dynamodb`.
    Streams,
    /// `TrentService.*`, JSON 1.1, signed for `kms`.
    Kms,
    /// `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.*`, JSON 1.1, signed for `cloudtrail`.
    CloudTrail,
    /// IAM or STS: the Query protocol, XML replies.
    Query(QueryService),
}

impl Protocol {
    /// Splits `X-Amz-Target` into protocol and operation name.
    pub fn from_target(target: &str) -> Option<(Protocol, &str)> {
        // The operation follows the last dot (CloudTrail's prefix has dots of its own).
        let (prefix, op) = target.rsplit_once('.')?;
        let proto = match prefix {
            "DynamoDB_20120810" => Protocol::DynamoDb,
            "DynamoDBStreams_20120810" => Protocol::Streams,
            "TrentService" => Protocol::Kms,
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101" => Protocol::CloudTrail,
            _ => return None,
        };
        Some((proto, op))
    }

    fn content_type(self) -> &'static str {
        match self {
            Protocol::DynamoDb | Protocol::Streams => "application/x-amz-json-1.0",
            Protocol::Kms | Protocol::CloudTrail => "application/x-amz-json-1.1",
            Protocol::Query(_) => "text/xml",
        }
    }

    /// The request content types the protocol accepts (media type only, any parameters).
    fn accepts_content_type(self, media_type: &str) -> bool {
        if let Protocol::Query(_) = self {
            return query::is_form(Some(media_type));
        }
        media_type.eq_ignore_ascii_case("application/json")
            || media_type.eq_ignore_ascii_case(self.content_type())
    }

    pub(crate) fn signing_service(self) -> &'static str {
        match self {
            Protocol::DynamoDb | Protocol::Streams => "dynamodb",
            Protocol::Kms => "kms",
            Protocol::CloudTrail => "cloudtrail",
            Protocol::Query(service) => service.signing_name(),
        }
    }

    /// DynamoDB and its streams checksum and compress their replies; KMS does neither.
    fn is_dynamodb(self) -> bool {
        matches!(self, Protocol::DynamoDb | Protocol::Streams)
    }

    /// Errors raised by the front door itself (authentication, framing).
    pub(crate) fn front_error(
        self,
        name: &str,
        status: u16,
        message: impl Into<String>,
    ) -> WireError {
        let type_name = match self {
            Protocol::DynamoDb | Protocol::Streams => format!("com.amazon.coral.service#{name}"),
            Protocol::Kms | Protocol::CloudTrail => name.to_owned(),
            Protocol::Query(_) => return query::front_error(name, status, message.into()),
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
    /// CloudTrail (LookupEvents over the audit log), when enabled.
    pub cloudtrail: Option<Arc<dyn Backend>>,
    /// The web console under `/console`, when enabled.
    pub console: Option<Arc<dyn WebConsole>>,
    /// IAM (Query protocol), when enabled.
    pub iam: Option<Arc<dyn Backend>>,
    /// STS (Query protocol), when enabled.
    pub sts: Option<Arc<dyn Backend>>,
    /// Secrets of access keys and session tokens.
    pub credentials: Arc<dyn CredentialLookup>,
    /// Whether the listener speaks TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The default region (named where a request carries none, e.g. the health check).
    pub region: String,
    /// The regions answered; a request scoped to another is refused as AWS refuses a
    /// request sent to the wrong regional endpoint.
    pub regions: sealdb_common::RegionSet,
    /// The account id of this server.
    pub account_id: String,
    /// The clock (request time checks).
    pub clock: Clock,
}

type HttpResponse = Response<Full<Bytes>>;

/// How a JSON reply is to be sent: its protocol, the content type to label it with, and
/// the coding the client accepts.
struct Reply {
    protocol: Protocol,
    content_type: &'static str,
    coding: Option<Coding>,
}

impl FrontDoor {
    /// Answers one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>, remote_ip: &str) -> HttpResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = std::time::Instant::now();
        if let Some(console) = &self.console {
            let path = req.uri().path();
            if path == "/console" || path.starts_with("/console/") {
                return self.console_request(console.as_ref(), req, remote_ip).await;
            }
        }
        let has_origin = req.headers().contains_key(http::header::ORIGIN);
        let operation = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut response = self.route(req, remote_ip).await;
        if has_origin {
            response.headers_mut().insert(
                http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        tracing::debug!(
            operation = operation.as_deref().unwrap_or("-"),
            status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        response
    }

    /// A console request: the body read whole, then the console answers (no CORS: its
    /// pages are for its own origin only).
    async fn console_request<B>(
        &self,
        console: &dyn WebConsole,
        req: Request<B>,
        remote_ip: &str,
    ) -> HttpResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let declared = content_length(&parts.headers);
        let body = match read_body(body, declared, MAX_CONSOLE_BODY_BYTES).await {
            Ok(body) => body,
            Err(e) => {
                let (status, text): (_, &'static [u8]) = match e {
                    BodyError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, b"Request too large."),
                    BodyError::TimedOut => (StatusCode::REQUEST_TIMEOUT, b"Request timed out."),
                    BodyError::Broken => (StatusCode::BAD_REQUEST, b"Bad request."),
                };
                let mut r = Response::new(Full::new(Bytes::from_static(text)));
                *r.status_mut() = status;
                return closing(r);
            }
        };
        let request = Request::from_parts(parts, body);
        console
            .handle(request, remote_ip, self.secure_transport)
            .await
            .map(Full::new)
    }

    async fn route<B>(&self, req: Request<B>, remote_ip: &str) -> HttpResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match *req.method() {
            Method::POST => {}
            Method::OPTIONS if req.headers().contains_key(http::header::ORIGIN) => {
                return preflight_response(req.headers());
            }
            Method::GET if req.uri().path() == "/" => {
                return self.health_response(req.headers());
            }
            _ => return not_found_response(),
        }
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let parsed = target.as_deref().and_then(Protocol::from_target);
        let media_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let media_type = media_type.split(';').next().unwrap_or("").trim();
        let protocol = match parsed {
            Some((p, _)) => p,
            None if query::is_form(Some(media_type)) => {
                let auth = req
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                Protocol::Query(query::service_from_authorization(auth))
            }
            None => Protocol::DynamoDb,
        };
        let reply = Reply {
            protocol,
            // A client that sent plain JSON is answered in plain JSON, as DynamoDB does.
            content_type: if media_type.eq_ignore_ascii_case("application/json") {
                "application/json"
            } else {
                protocol.content_type()
            },
            coding: if protocol.is_dynamodb() {
                encoding::negotiate(last_header(req.headers(), "accept-encoding").as_deref())
            } else {
                None
            },
        };
        let accepted_type = protocol.accepts_content_type(media_type);

        let (parts, body) = req.into_parts();
        let declared = content_length(&parts.headers);
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return closing(finish(&reply, 413, too_large(protocol).body()));
        }
        if declared.is_some_and(|n| n > 0) && !accepted_type {
            return closing(not_found_response());
        }
        // The headers' part of SigV4 is checked before the body is read; a request that
        // fails it is answered as before (the body's own errors come first), but only
        // while its body is small: past that it gets the authentication error at once.
        let headers_checked = self.verifier().check_headers(&parts, protocol);
        let limit = match headers_checked {
            Ok(_) => MAX_BODY_BYTES,
            Err(_) => UNAUTHENTICATED_BODY_BYTES,
        };
        let raw = match read_body(body, declared, limit).await {
            Ok(raw) => raw,
            Err(BodyError::TooLarge) => {
                return closing(match headers_checked {
                    Err(err) => error_response(&reply, &err),
                    Ok(_) => finish(&reply, 413, too_large(protocol).body()),
                });
            }
            Err(BodyError::TimedOut) => return closing(plain_response(408, Vec::new())),
            Err(BodyError::Broken) => return closing(plain_response(400, Vec::new())),
        };
        if !raw.is_empty() && !accepted_type {
            return not_found_response();
        }
        if let Protocol::Query(service) = protocol {
            return self
                .query(&reply, service, &parts, raw, headers_checked, remote_ip)
                .await;
        }
        let result = self
            .dispatch(
                &parts,
                raw,
                protocol,
                parsed.map(|(_, op)| op),
                headers_checked,
                remote_ip,
            )
            .await;
        match result {
            Ok(body) => finish(&reply, 200, body),
            Err(err) => finish(&reply, err.status, err.body()),
        }
    }

    async fn dispatch(
        &self,
        parts: &http::request::Parts,
        raw: Bytes,
        protocol: Protocol,
        operation: Option<&str>,
        headers_checked: Result<HeadersChecked, WireError>,
        remote_ip: &str,
    ) -> Result<Vec<u8>, WireError> {
        let body = decode_request_body(&parts.headers, &raw, protocol)?;
        if !body.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
            return Err(protocol.front_error("SerializationException", 400, ""));
        }
        let backend = match protocol {
            Protocol::DynamoDb => Some(&self.dynamodb),
            Protocol::Kms => self.kms.as_ref(),
            Protocol::Streams => self.streams.as_ref(),
            Protocol::CloudTrail => self.cloudtrail.as_ref(),
            Protocol::Query(_) => None,
        };
        let (Some(backend), Some(op)) = (backend, operation) else {
            return Err(unknown_operation(protocol));
        };
        if !backend.has_operation(op) {
            return Err(unknown_operation(protocol));
        }
        // The signature covers the body as sent, compressed or not.
        let caller = self
            .verifier()
            .check_signature(headers_checked?, parts, &raw, remote_ip)?;
        backend.call(op, &caller, body).await
    }

    fn verifier(&self) -> Verifier<'_> {
        Verifier {
            credentials: self.credentials.as_ref(),
            regions: &self.regions,
            account_id: &self.account_id,
            now_secs: self.clock.now_secs(),
            secure_transport: self.secure_transport,
        }
    }

    /// An IAM or STS request: the action and version are checked before the signature,
    /// and the backend's `…Result` is wrapped in the `…Response` envelope with its id.
    async fn query(
        &self,
        reply: &Reply,
        service: QueryService,
        parts: &http::request::Parts,
        raw: Bytes,
        headers_checked: Result<HeadersChecked, WireError>,
        remote_ip: &str,
    ) -> HttpResponse {
        let protocol = Protocol::Query(service);
        let id = request_id(protocol);
        let mut action = String::new();
        let result = async {
            let body = decode_request_body(&parts.headers, &raw, protocol)?;
            let form = query::parse_form(&body);
            action = query::form_value(&form, "Action")
                .unwrap_or_default()
                .to_owned();
            query::check_action(service, &form)?;
            let backend = match service {
                QueryService::Iam => self.iam.as_ref(),
                QueryService::Sts => self.sts.as_ref(),
            };
            let backend = match backend {
                Some(b) if b.has_operation(&action) => b,
                _ => return Err(query::invalid_action(service, &action)),
            };
            let caller =
                self.verifier()
                    .check_signature(headers_checked?, parts, &raw, remote_ip)?;
            backend.call(&action, &caller, body).await
        }
        .await;
        match result {
            Ok(body) => finish_with_id(
                reply,
                200,
                query::success_body(service, &action, &body, &id),
                &id,
            ),
            Err(err) => finish_with_id(
                reply,
                err.status,
                query::error_body(service, &err, &id),
                &id,
            ),
        }
    }

    /// DynamoDB's health check: `healthy: <its host name> ` (the trailing space is AWS's).
    fn health_response(&self, headers: &HeaderMap) -> HttpResponse {
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map_or_else(
                || format!("dynamodb.{}.amazonaws.com", self.region),
                str::to_owned,
            );
        plain_response(200, format!("healthy: {host} ").into_bytes())
    }
}

/// The request body with its `Content-Encoding` undone. AWS answers a coding it does not
/// know and a body that does not inflate with a 500, and an inflated body over the limit
/// with a 413.
fn decode_request_body(
    headers: &HeaderMap,
    raw: &Bytes,
    protocol: Protocol,
) -> Result<Bytes, WireError> {
    let header = headers
        .get(http::header::CONTENT_ENCODING)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let decoded = encoding::request_codings(header.as_deref()).and_then(|codings| {
        if codings.is_empty() {
            Ok(None)
        } else {
            encoding::decode_body(raw, &codings, MAX_BODY_BYTES).map(Some)
        }
    });
    match decoded {
        Ok(None) => Ok(raw.clone()),
        Ok(Some(body)) => Ok(Bytes::from(body)),
        Err(DecodeError::TooLarge) => Err(too_large(protocol)),
        Err(DecodeError::UnsupportedCoding | DecodeError::Corrupt) => Err(internal_error(protocol)),
    }
}

/// A front-door error in its protocol's envelope.
fn error_response(reply: &Reply, err: &WireError) -> HttpResponse {
    match reply.protocol {
        Protocol::Query(service) => {
            let id = request_id(reply.protocol);
            finish_with_id(reply, err.status, query::error_body(service, err, &id), &id)
        }
        _ => finish(reply, err.status, err.body()),
    }
}

fn too_large(protocol: Protocol) -> WireError {
    protocol.front_error(
        "RequestEntityTooLarge",
        413,
        format!("Request size exceeded {MAX_BODY_BYTES} bytes"),
    )
}

fn internal_error(protocol: Protocol) -> WireError {
    match protocol {
        Protocol::DynamoDb | Protocol::Streams => WireError::new(
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            500,
            "Internal server error",
        ),
        Protocol::Kms => WireError::new("KMSInternalException", 500, "Internal server error"),
        Protocol::CloudTrail => WireError::new("InternalFailure", 500, "Internal server error"),
        Protocol::Query(_) => WireError::new(
            "InternalFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
    }
}

fn unknown_operation(protocol: Protocol) -> WireError {
    protocol.front_error("UnknownOperationException", 400, "")
}

/// The last value of a header (DynamoDB reads a repeated `Accept-Encoding` that way).
fn last_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(name)
        .iter()
        .next_back()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// A CORS preflight: every origin, the method and headers asked for, cached two days.
fn preflight_response(headers: &HeaderMap) -> HttpResponse {
    let mut resp = plain_response(200, Vec::new());
    let h = resp.headers_mut();
    h.remove("x-amz-crc32");
    for (asked, allowed) in [
        (
            http::header::ACCESS_CONTROL_REQUEST_HEADERS,
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        ),
        (
            http::header::ACCESS_CONTROL_REQUEST_METHOD,
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
        ),
    ] {
        if let Some(v) = headers.get(&asked) {
            h.insert(allowed, v.clone());
        }
    }
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    resp
}

fn not_found_response() -> HttpResponse {
    plain_response(404, NOT_FOUND_BODY.to_vec())
}

/// A reply outside the JSON protocols, with a request id and checksum as DynamoDB sends.
fn plain_response(status: u16, body: Vec<u8>) -> HttpResponse {
    let crc = crc32fast::hash(&body);
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id(Protocol::DynamoDb)) {
        h.insert("x-amzn-requestid", v);
    }
    h.insert("x-amz-crc32", HeaderValue::from(crc));
    resp
}

/// A request id: 52 upper-case alphanumerics for DynamoDB, a UUID for KMS, CloudTrail,
/// IAM and STS, as AWS sends.
fn request_id(protocol: Protocol) -> String {
    match protocol {
        Protocol::Kms | Protocol::CloudTrail | Protocol::Query(_) => {
            uuid::Uuid::new_v4().to_string()
        }
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

fn finish(reply: &Reply, status: u16, body: Vec<u8>) -> HttpResponse {
    finish_with_id(reply, status, body, &request_id(reply.protocol))
}

fn finish_with_id(reply: &Reply, status: u16, body: Vec<u8>, request_id: &str) -> HttpResponse {
    let protocol = reply.protocol;
    let (body, coding) = match reply.coding {
        Some(coding) if body.len() >= encoding::COMPRESSION_THRESHOLD => {
            match encoding::encode_body(&body, coding) {
                Ok(compressed) => (compressed, Some(coding)),
                Err(_) => (body, None),
            }
        }
        _ => (body, None),
    };
    // The checksum is over the bytes on the wire, compressed when they are.
    let crc = crc32fast::hash(&body);
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(reply.content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if protocol.is_dynamodb() {
        h.insert("x-amz-crc32", HeaderValue::from(crc));
    }
    if let Some(coding) = coding {
        h.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::Protocol;

    #[test]
    fn targets_name_their_protocol_and_operation() {
        assert_eq!(
            Protocol::from_target("DynamoDB_20120810.PutItem"),
            Some((Protocol::DynamoDb, "PutItem"))
        );
        assert_eq!(
            Protocol::from_target("TrentService.Encrypt"),
            Some((Protocol::Kms, "Encrypt"))
        );
        assert_eq!(
            Protocol::from_target(
                "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
            ),
            Some((Protocol::CloudTrail, "LookupEvents"))
        );
        assert_eq!(Protocol::from_target("cloudtrail.LookupEvents"), None);
        assert_eq!(Protocol::from_target("nodot"), None);
    }
}
