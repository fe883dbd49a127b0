//! The request body as the backend sees it: `Content-Encoding` undone, within the limit.

use super::reply::{internal_error, too_large};
use super::{MAX_BODY_BYTES, Protocol};
use crate::encoding::{self, DecodeError};
use crate::wire::WireError;
use bytes::Bytes;
use http::HeaderMap;

/// The request body with its `Content-Encoding` undone. AWS answers a coding it does not
/// know and a body that does not inflate with a 500, and an inflated body over the limit
/// with a 413.
pub(super) fn decode_request_body(
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

/// The last value of a header (DynamoDB reads a repeated `Accept-Encoding` that way).
pub(super) fn last_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(name)
        .iter()
        .next_back()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
