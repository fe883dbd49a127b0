//! An API request's checks, in DynamoDB's order (the table in `front/mod.rs`): method
//! and path, protocol and content type, size, the SigV4 headers, the body, its coding and
//! JSON, the operation, the signature, then the backend.

use super::plain::{not_found_response, plain_response, preflight_response};
use super::reply::{Reply, error_response, finish, too_large, unknown_operation};
use super::request_body::{decode_request_body, last_header};
use super::{FrontDoor, HttpResponse, MAX_BODY_BYTES, Protocol, UNAUTHENTICATED_BODY_BYTES};
use crate::authn::HeadersChecked;
use crate::body::{BodyError, closing, content_length, read_body};
use crate::encoding;
use crate::query;
use crate::wire::WireError;
use bytes::Bytes;
use http::{Method, Request};

impl FrontDoor {
    pub(super) async fn route<B>(&self, req: Request<B>, remote_ip: &str) -> HttpResponse
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
            Protocol::Replication => self.replication.as_ref(),
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
}
