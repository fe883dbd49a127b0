//! What the crypto-shredding test needs beside the SDKs: SQLCipher pages read as someone
//! holding the file key reads them (every page and WAL frame, free space included), and
//! a signed JSON call for DynamoDB Streams (the test has no Streams SDK).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use aws_lc_rs::cipher::{AES_256, DecryptingKey, DecryptionContext, UnboundCipherKey};
use std::io::{Read, Write};
use std::path::Path;

/// SQLCipher 4's page size here (SQLite's default) and per-page reserve (16-byte IV,
/// 64-byte HMAC-SHA512).
pub const PAGE: usize = 4096;
const RESERVE: usize = 80;
/// Page 1 starts with the file's 16-byte KDF salt, in the clear.
const SALT: usize = 16;
const WAL_HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// One page image as it lies on disk, and decrypted.
pub struct Page {
    /// "keystore.db page 3" / "keystore.db-wal frame 2 (page 3)".
    pub place: String,
    /// The encrypted image, as on disk.
    pub raw: Vec<u8>,
    /// The image decrypted with the file key (AES-256-CBC, the IV from the reserve).
    pub plain: Vec<u8>,
}

/// Decrypts one page image. SQLCipher encrypts bytes `[0 | 16, 4016)` of each page
/// under the raw key with the IV stored at 4016; the rest of the reserve is the HMAC.
pub fn decrypt_page(key: &[u8; 32], pgno: u32, raw: &[u8]) -> Vec<u8> {
    assert_eq!(raw.len(), PAGE);
    let start = if pgno == 1 { SALT } else { 0 };
    let end = PAGE - RESERVE;
    let iv: [u8; 16] = raw[end..end + 16].try_into().unwrap();
    let mut buf = raw[start..end].to_vec();
    let cipher = DecryptingKey::cbc(UnboundCipherKey::new(&AES_256, key).unwrap()).unwrap();
    cipher
        .decrypt(&mut buf, DecryptionContext::Iv128(iv.into()))
        .unwrap();
    let mut plain = raw[..start].to_vec();
    plain.extend_from_slice(&buf);
    plain
}

/// Every page of `path` and every frame of `path-wal`, decrypted under `key`. Page 1 of
/// the file (and any WAL frame of page 1) must decrypt to SQLite's header fields (page
/// size 4096, WAL read/write versions, 80 reserved bytes), which proves the decryption
/// is SQLCipher's and not noise: a search of these pages that finds nothing means
/// something.
pub fn pages(path: &Path, key: &[u8; 32]) -> Vec<Page> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    let file = std::fs::read(path).unwrap();
    assert_eq!(file.len() % PAGE, 0, "{name} is whole pages");
    for (i, raw) in file.chunks(PAGE).enumerate() {
        let pgno = u32::try_from(i + 1).unwrap();
        let plain = decrypt_page(key, pgno, raw);
        if pgno == 1 {
            check_header(&name, &plain);
        }
        out.push(Page {
            place: format!("{name} page {pgno}"),
            raw: raw.to_vec(),
            plain,
        });
    }
    let mut wal_path = path.as_os_str().to_owned();
    wal_path.push("-wal");
    if let Ok(wal) = std::fs::read(&wal_path) {
        if wal.len() >= WAL_HEADER {
            assert_eq!(
                u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize,
                PAGE,
                "{name}-wal header names the page size"
            );
        }
        let frames = wal.get(WAL_HEADER..).unwrap_or_default();
        for (i, frame) in frames.chunks(FRAME_HEADER + PAGE).enumerate() {
            if frame.len() < FRAME_HEADER + PAGE {
                break;
            }
            let pgno = u32::from_be_bytes(frame[..4].try_into().unwrap());
            let raw = &frame[FRAME_HEADER..];
            let plain = decrypt_page(key, pgno, raw);
            if pgno == 1 {
                check_header(&format!("{name}-wal"), &plain);
            }
            out.push(Page {
                place: format!("{name}-wal frame {} (page {pgno})", i + 1),
                raw: raw.to_vec(),
                plain,
            });
        }
    }
    out
}

fn check_header(name: &str, plain: &[u8]) {
    assert_eq!(&plain[16..18], &[0x10, 0x00], "{name}: page size 4096");
    assert_eq!(&plain[18..20], &[2, 2], "{name}: WAL mode versions");
    assert_eq!(plain[20], RESERVE as u8, "{name}: reserved bytes per page");
}

/// True if `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A SigV4-signed JSON 1.0 call (`X-Amz-Target: <target>`) over plain HTTP, signed for
/// `dynamodb` in us-east-1: the answer's status and body.
pub fn signed_call(
    endpoint: &str,
    access_key: &str,
    secret_key: &str,
    target: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = serde_json::to_vec(body).unwrap();
    let headers = [
        ("host", host.to_owned()),
        ("content-type", "application/x-amz-json-1.0".to_owned()),
        ("x-amz-target", target.to_owned()),
    ];
    let creds = aws_sdk_dynamodb::config::Credentials::new(access_key, secret_key, None, None, "t");
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("dynamodb")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("http://{host}/");
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Bytes(&body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = String::from("POST / HTTP/1.1\r\n");
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in instructions.headers() {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "a JSON reply with a length"
    );
    let json = serde_json::from_slice(&reply[split + 4..]).unwrap_or(serde_json::Value::Null);
    (status, json)
}
