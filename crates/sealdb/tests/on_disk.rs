//! Nothing readable on disk: items carrying marker strings, numbers and binary values,
//! in keys, attributes, index keys and transactions, are written; the server is stopped;
//! every file under the data dir (WAL and shm included) is searched for the markers,
//! raw and in the encodings a careless implementation might use.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use common::Server;

const TABLE: &str = "TableNameMarkerQx7";
const STRING_MARKER: &str = "PlainTextMarkerZ9q4";
const KEY_MARKER: &str = "KeyMarkerPk3v8w";
const INDEX_MARKER: &str = "IndexKeyMarkerG5t2";
const NUMBER_MARKER: &str = "31415926535897932384626433";
const BINARY_MARKER: [u8; 12] = [
    0xDE, 0xAD, 0xBE, 0xEF, 0x5E, 0xA1, 0xDB, 0x00, 0xFF, 0x13, 0x37, 0x42,
];

fn needles() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for s in [
        TABLE,
        STRING_MARKER,
        KEY_MARKER,
        INDEX_MARKER,
        NUMBER_MARKER,
    ] {
        out.push((format!("{s} (utf-8)"), s.as_bytes().to_vec()));
        let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        out.push((format!("{s} (utf-16le)"), utf16));
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        out.push((format!("{s} (base64)"), b64.as_bytes()[..12].to_vec()));
    }
    // The number's digits packed as BCD, as a compact encoding would hold them.
    let bcd: Vec<u8> = NUMBER_MARKER
        .as_bytes()
        .chunks(2)
        .map(|p| ((p[0] - b'0') << 4) | p.get(1).map_or(0xF, |d| d - b'0'))
        .collect();
    out.push(("number (BCD)".into(), bcd[..8].to_vec()));
    out.push(("binary".into(), BINARY_MARKER.to_vec()));
    out
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn no_marker_reaches_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_on(&dir);
    let c = server.client();
    c.create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(common::attr_def("g", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(common::key_elem("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for i in 0..50 {
        c.put_item()
            .table_name(TABLE)
            .item("pk", AttributeValue::S(format!("{KEY_MARKER}-{i}")))
            .item("g", AttributeValue::S(format!("{INDEX_MARKER}-{i}")))
            .item(
                "text",
                AttributeValue::S(format!("{STRING_MARKER} number {i}")),
            )
            .item("num", AttributeValue::N(NUMBER_MARKER.into()))
            .item("bin", AttributeValue::B(Blob::new(BINARY_MARKER.to_vec())))
            .send()
            .await
            .unwrap();
    }
    // The data really is there, and comes back after a restart.
    server.stop();
    let server = Server::start_on(&dir);
    let got = server
        .client()
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("{KEY_MARKER}-7")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.item().unwrap()["num"],
        AttributeValue::N(NUMBER_MARKER.into())
    );
    // Kill it without a clean shutdown, so the WAL files are left as a crash leaves them.
    drop(server);

    let mut files = Vec::new();
    files_under(&dir, &mut files);
    assert!(
        files.len() >= 3,
        "expected catalog, key and table files: {files:?}"
    );
    let needles = needles();
    let mut scanned = 0usize;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        scanned += bytes.len();
        for (what, needle) in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{what} found in plaintext in {}",
                f.display()
            );
        }
    }
    eprintln!(
        "searched {} files, {scanned} bytes: no marker found",
        files.len()
    );
}
