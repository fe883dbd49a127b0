//! Answers that are not API calls: the web console's pages, the health check, CORS
//! preflights and the 404 DynamoDB sends to anything else.

use super::Protocol;
use super::reply::request_id;
use super::{FrontDoor, HttpResponse, MAX_CONSOLE_BODY_BYTES};
use crate::body::{BodyError, closing, content_length, read_body};
use crate::wire::WebConsole;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;

/// The body DynamoDB answers to what is not an API request (wrong method, path or
/// content type).
const NOT_FOUND_BODY: &[u8] = b"<UnknownOperationException/>\n";

/// How long a browser may cache a preflight answer (DynamoDB's value: two days).
const PREFLIGHT_MAX_AGE: &str = "172800";

impl FrontDoor {
    /// A console request: the body read whole, then the console answers (no CORS: its
    /// pages are for its own origin only).
    pub(super) async fn console_request<B>(
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

    /// DynamoDB's health check: `healthy: <its host name> ` (the trailing space is AWS's).
    pub(super) fn health_response(&self, headers: &HeaderMap) -> HttpResponse {
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

/// A CORS preflight: every origin, the method and headers asked for, cached two days.
pub(super) fn preflight_response(headers: &HeaderMap) -> HttpResponse {
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

pub(super) fn not_found_response() -> HttpResponse {
    plain_response(404, NOT_FOUND_BODY.to_vec())
}

/// A reply outside the JSON protocols, with a request id and checksum as DynamoDB sends.
pub(super) fn plain_response(status: u16, body: Vec<u8>) -> HttpResponse {
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
