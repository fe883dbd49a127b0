//! The SigV4 `Authorization` header and date parsers, the Query protocol's form parser and
//! the request body decoder (Content-Encoding), on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdb_http::{encoding, query, sigv4};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = sigv4::parse_authorization(&text);
    let _ = sigv4::parse_amz_date(&text);
    let _ = query::parse_form(data);
    // The first line names the codings, the rest is the body they are undone on.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(codings) = encoding::request_codings(Some(&String::from_utf8_lossy(header))) {
        let _ = encoding::decode_body(body, &codings, 1 << 20);
    }
});
