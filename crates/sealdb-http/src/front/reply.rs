//! Writing a response: the protocol's envelope, request id, compression and checksum.

use super::{HttpResponse, MAX_BODY_BYTES, Protocol};
use crate::encoding::{self, Coding};
use crate::query;
use crate::wire::WireError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// How a JSON reply is to be sent: its protocol, the content type to label it with, and
/// the coding the client accepts.
pub(super) struct Reply {
    pub(super) protocol: Protocol,
    pub(super) content_type: &'static str,
    pub(super) coding: Option<Coding>,
}

/// A front-door error in its protocol's envelope.
pub(super) fn error_response(reply: &Reply, err: &WireError) -> HttpResponse {
    match reply.protocol {
        Protocol::Query(service) => {
            let id = request_id(reply.protocol);
            finish_with_id(reply, err.status, query::error_body(service, err, &id), &id)
        }
        _ => finish(reply, err.status, err.body()),
    }
}

pub(super) fn too_large(protocol: Protocol) -> WireError {
    protocol.front_error(
        "RequestEntityTooLarge",
        413,
        format!("Request size exceeded {MAX_BODY_BYTES} bytes"),
    )
}

pub(super) fn internal_error(protocol: Protocol) -> WireError {
    match protocol {
        Protocol::DynamoDb | Protocol::Streams | Protocol::Replication => WireError::new(
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

pub(super) fn unknown_operation(protocol: Protocol) -> WireError {
    protocol.front_error("UnknownOperationException", 400, "")
}

/// A request id: 52 upper-case alphanumerics for DynamoDB, a UUID for KMS, CloudTrail,
/// IAM and STS, as AWS sends.
pub(super) fn request_id(protocol: Protocol) -> String {
    match protocol {
        Protocol::Kms | Protocol::CloudTrail | Protocol::Query(_) => {
            uuid::Uuid::new_v4().to_string()
        }
        Protocol::DynamoDb | Protocol::Streams | Protocol::Replication => {
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

pub(super) fn finish(reply: &Reply, status: u16, body: Vec<u8>) -> HttpResponse {
    finish_with_id(reply, status, body, &request_id(reply.protocol))
}

pub(super) fn finish_with_id(
    reply: &Reply,
    status: u16,
    body: Vec<u8>,
    request_id: &str,
) -> HttpResponse {
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
