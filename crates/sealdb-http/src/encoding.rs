//! HTTP content codings, as DynamoDB applies them.
//!
//! Requests: `Content-Encoding: gzip` (one or more concatenated members) or `deflate`
//! (the zlib format of RFC 9110, one stream) is inflated before the body is read, with a
//! cap on the inflated size; the signature covers the bytes as sent, so it is checked
//! against the compressed body. Responses: when the client's `Accept-Encoding` allows
//! gzip or deflate and the body is at least [`COMPRESSION_THRESHOLD`] bytes, the body is
//! compressed; `x-amz-crc32` is then computed over the compressed bytes, which is what
//! DynamoDB sends and what the SDKs check before decoding.

use flate2::Compression;
// The bufread decoders take from the slice only what they use, so trailing junk is seen.
use flate2::bufread::{MultiGzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};
use std::io::{Read, Write};

/// Responses smaller than this are sent as they are (DynamoDB's threshold: 4 KiB).
pub const COMPRESSION_THRESHOLD: usize = 4096;

/// A content coding sealdb can read and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// RFC 1952 gzip.
    Gzip,
    /// RFC 1950 zlib (HTTP's "deflate").
    Deflate,
}

impl Coding {
    /// The token of the coding in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// Why a request body could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A `Content-Encoding` sealdb does not implement.
    UnsupportedCoding,
    /// The body is not valid data of its coding (truncated, corrupt, trailing junk).
    Corrupt,
    /// The inflated body is larger than the cap.
    TooLarge,
}

/// The request's codings from its `Content-Encoding` header, outermost last; `identity`
/// and empty entries are no coding.
pub fn request_codings(header: Option<&str>) -> Result<Vec<Coding>, DecodeError> {
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    let mut codings = Vec::new();
    for token in header.split(',').map(str::trim) {
        if token.is_empty() || token.eq_ignore_ascii_case("identity") {
            continue;
        }
        if token.eq_ignore_ascii_case("gzip") {
            codings.push(Coding::Gzip);
        } else if token.eq_ignore_ascii_case("deflate") {
            codings.push(Coding::Deflate);
        } else {
            return Err(DecodeError::UnsupportedCoding);
        }
    }
    Ok(codings)
}

/// Undoes the codings (the last applied is undone first), inflating at most `cap` bytes.
pub fn decode_body(body: &[u8], codings: &[Coding], cap: usize) -> Result<Vec<u8>, DecodeError> {
    let mut current = body.to_vec();
    for coding in codings.iter().rev() {
        current = inflate(&current, *coding, cap)?;
    }
    Ok(current)
}

fn inflate(data: &[u8], coding: Coding, cap: usize) -> Result<Vec<u8>, DecodeError> {
    if data.is_empty() {
        return Err(DecodeError::Corrupt);
    }
    // One byte past the cap tells "exactly the cap" from "more than the cap".
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    let consumed = match coding {
        Coding::Gzip => {
            let mut reader = MultiGzDecoder::new(data).take(limit);
            reader
                .read_to_end(&mut out)
                .map_err(|_| DecodeError::Corrupt)?;
            check_cap(&out, cap)?;
            reader.into_inner().into_inner().len()
        }
        Coding::Deflate => {
            let mut reader = ZlibDecoder::new(data).take(limit);
            reader
                .read_to_end(&mut out)
                .map_err(|_| DecodeError::Corrupt)?;
            check_cap(&out, cap)?;
            reader.into_inner().into_inner().len()
        }
    };
    // Bytes left unread after the last stream are junk, not part of the body.
    if consumed != 0 {
        return Err(DecodeError::Corrupt);
    }
    Ok(out)
}

fn check_cap(out: &[u8], cap: usize) -> Result<(), DecodeError> {
    if out.len() > cap {
        Err(DecodeError::TooLarge)
    } else {
        Ok(())
    }
}

/// The coding to answer with, from the request's `Accept-Encoding` (the last such header,
/// as DynamoDB reads it). The highest quality wins; at equal quality a coding named
/// outright beats one allowed by `*`, and an earlier one beats a later one; `*` alone
/// prefers gzip. A quality that does not parse counts as 1, one above 1 as 1, and one of
/// zero or below refuses the coding. Unknown codings are ignored.
pub fn negotiate(accept_encoding: Option<&str>) -> Option<Coding> {
    let header = accept_encoding?;
    // (quality, named outright, position) per coding; None = not mentioned.
    let mut gzip: Option<(f64, usize)> = None;
    let mut deflate: Option<(f64, usize)> = None;
    let mut wildcard: Option<f64> = None;
    for (position, entry) in header.split(',').enumerate() {
        let mut parts = entry.split(';');
        let name = parts.next().unwrap_or("").trim();
        let quality = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "q").then(|| v.trim())
            })
            .map_or(1.0, parse_quality);
        let slot = if name.eq_ignore_ascii_case("gzip") {
            &mut gzip
        } else if name.eq_ignore_ascii_case("deflate") {
            &mut deflate
        } else {
            if name == "*" {
                wildcard = Some(wildcard.map_or(quality, |w: f64| w.max(quality)));
            }
            continue;
        };
        *slot = Some(match *slot {
            Some((q, pos)) if q >= quality => (q, pos),
            _ => (quality, position),
        });
    }
    // Candidates ranked by (quality, named outright, earlier position).
    let rank = |named: Option<(f64, usize)>, wildcard_position: usize| match named {
        Some((q, pos)) => (q, 1u8, usize::MAX - pos),
        None => (wildcard.unwrap_or(0.0), 0u8, usize::MAX - wildcard_position),
    };
    let g = rank(gzip, 0);
    let d = rank(deflate, 1);
    let best = if d.partial_cmp(&g) == Some(std::cmp::Ordering::Greater) {
        (Coding::Deflate, d.0)
    } else {
        (Coding::Gzip, g.0)
    };
    (best.1 > 0.0).then_some(best.0)
}

fn parse_quality(text: &str) -> f64 {
    match text.parse::<f64>() {
        Ok(q) if q.is_nan() => 1.0,
        Ok(q) => q.min(1.0),
        Err(_) => 1.0,
    }
}

/// Compresses a response body.
pub fn encode_body(body: &[u8], coding: Coding) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            enc.write_all(body)?;
            enc.finish()
        }
        Coding::Deflate => {
            let mut enc = ZlibEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            enc.write_all(body)?;
            enc.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        encode_body(data, Coding::Gzip).unwrap()
    }

    fn zl(data: &[u8]) -> Vec<u8> {
        encode_body(data, Coding::Deflate).unwrap()
    }

    #[test]
    fn round_trips_both_codings() {
        let body = br#"{"TableName":"t"}"#;
        assert_eq!(decode_body(&gz(body), &[Coding::Gzip], 1024).unwrap(), body);
        assert_eq!(
            decode_body(&zl(body), &[Coding::Deflate], 1024).unwrap(),
            body
        );
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut two = gz(b"{\"Table");
        two.extend(gz(b"Name\":\"t\"}"));
        assert_eq!(
            decode_body(&two, &[Coding::Gzip], 1024).unwrap(),
            br#"{"TableName":"t"}"#
        );
    }

    #[test]
    fn corrupt_truncated_empty_and_trailing_junk_are_refused() {
        let good = gz(b"{}");
        assert_eq!(
            decode_body(b"{}", &[Coding::Gzip], 1024),
            Err(DecodeError::Corrupt)
        );
        assert_eq!(
            decode_body(&good[..good.len() - 1], &[Coding::Gzip], 1024),
            Err(DecodeError::Corrupt)
        );
        assert_eq!(
            decode_body(b"", &[Coding::Deflate], 1024),
            Err(DecodeError::Corrupt)
        );
        let mut junk = good.clone();
        junk.extend_from_slice(b"junk");
        assert_eq!(
            decode_body(&junk, &[Coding::Gzip], 1024),
            Err(DecodeError::Corrupt)
        );
        let mut two = zl(b"{");
        two.extend(zl(b"}"));
        assert_eq!(
            decode_body(&two, &[Coding::Deflate], 1024),
            Err(DecodeError::Corrupt)
        );
    }

    #[test]
    fn inflated_size_is_capped() {
        let bomb = gz(&vec![b' '; 100_000]);
        assert_eq!(
            decode_body(&bomb, &[Coding::Gzip], 99_999),
            Err(DecodeError::TooLarge)
        );
        assert_eq!(
            decode_body(&bomb, &[Coding::Gzip], 100_000).unwrap().len(),
            100_000
        );
    }

    #[test]
    fn content_encoding_tokens() {
        assert_eq!(request_codings(None), Ok(vec![]));
        assert_eq!(request_codings(Some("identity")), Ok(vec![]));
        assert_eq!(request_codings(Some("GZIP")), Ok(vec![Coding::Gzip]));
        assert_eq!(
            request_codings(Some("garbage")),
            Err(DecodeError::UnsupportedCoding)
        );
    }

    #[test]
    fn accept_encoding_as_dynamodb_reads_it() {
        use Coding::{Deflate, Gzip};
        let cases: &[(&str, Option<Coding>)] = &[
            ("identity", None),
            ("", None),
            ("br", None),
            ("x-gzip", None),
            ("gzip, deflate", Some(Gzip)),
            ("br, identity, deflate, gzip", Some(Deflate)),
            ("GZIP, identity", Some(Gzip)),
            ("dog, gzip ,, cat", Some(Gzip)),
            ("gzip;q=0.8, deflate;q=0.5", Some(Gzip)),
            (
                "br, gzip;q=0, deflate; q = 0.5 , identity;q=0",
                Some(Deflate),
            ),
            ("*", Some(Gzip)),
            ("*, deflate;q=0.5", Some(Gzip)),
            ("*, deflate", Some(Deflate)),
            ("*, identity", Some(Gzip)),
            ("*, gzip;q=0.5", Some(Deflate)),
            ("gzip ;q=0", None),
            ("*;q=0", None),
            ("*;q=0.5,identity", Some(Gzip)),
            ("br;q=0.8,identity;q=0.5,*;q=0", None),
            ("\"gzip\"", None),
            ("gzip br", None),
            ("gzip:q=1", None),
            ("deflate;q=0.5, gzip;q=31", Some(Gzip)),
            ("gzip;q=31,deflate;q=51", Some(Gzip)),
            ("deflate;q=0.5, gzip;q=0.2", Some(Deflate)),
            ("deflate;q=0.5, gzip;q=1;q=0.2", Some(Gzip)),
            ("deflate;q=0.5,gzip;q=0.", Some(Deflate)),
            ("deflate;q=0.5,gzip;q=0.x", Some(Gzip)),
            ("deflate;q=-0.5,gzip;q=0.2", Some(Gzip)),
            ("gzip;nq=1;q=0 ", None),
            ("gzip;q=0, gzip;q=1, gzip;q=0", Some(Gzip)),
            ("br,identity;q=0.5,gzip;q=0.0001", Some(Gzip)),
        ];
        for (header, expected) in cases {
            assert_eq!(
                negotiate(Some(header)),
                *expected,
                "Accept-Encoding: {header}"
            );
        }
        assert_eq!(negotiate(None), None);
    }
}
