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
        Protocol::DynamoDb | Protocol::Streams | Protocol::Replication => dynamodb_request_id(),
    }
}

/// 52 characters of A-Z0-9. A request id must be unique, not secret: drawing 52 bytes from
/// the system's random generator for each was 2 % of a GetItem's CPU, so each thread draws
/// a 128-bit seed once and steps a counter-based generator (SplitMix64) from it.
fn dynamodb_request_id() -> String {
    use std::cell::Cell;
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local! {
        static STATE: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
    }
    STATE.with(|state| {
        let (mut a, b) = match state.get() {
            Some(s) => s,
            None => {
                let mut seed = [0u8; 16];
                if aws_lc_rs::rand::fill(&mut seed).is_err() {
                    return uuid::Uuid::new_v4().simple().to_string().to_uppercase();
                }
                let (x, y) = seed.split_at(8);
                (
                    u64::from_le_bytes(x.try_into().unwrap_or_default()),
                    u64::from_le_bytes(y.try_into().unwrap_or_default()) | 1,
                )
            }
        };
        let mut id = String::with_capacity(52);
        // 52 characters from 6 words of 64 bits (9 characters of 36 each, 36^9 < 2^64).
        for _ in 0..6 {
            a = a.wrapping_add(b.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut z = a;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            for _ in 0..9 {
                if id.len() == 52 {
                    break;
                }
                id.push(char::from(ALPHABET[usize::try_from(z % 36).unwrap_or(0)]));
                z /= 36;
            }
        }
        state.set(Some((a, b)));
        id
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_request_ids_are_52_alphanumerics_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| dynamodb_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| {
            id.len() == 52
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }));
        let other_thread = std::thread::spawn(dynamodb_request_id).join().unwrap();
        assert!(!ids.contains(&other_thread));
    }
}
