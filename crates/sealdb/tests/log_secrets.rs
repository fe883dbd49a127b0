//! At trace level the server's log holds no secret, key, table name or item value.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ScalarAttributeType};
use std::process::{Command, Stdio};

#[tokio::test]
async fn a_trace_log_holds_no_secrets_names_or_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let log_path = tmp.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env("SEALDB_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("SEALDB_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .env("SEALDB_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let endpoint = common::wait_for_endpoint(child.stdout.take().unwrap()).unwrap();
    let c = common::client_with(&endpoint, common::ACCESS_KEY, common::SECRET_KEY);
    let table = "TraceMarkerTable7Q";
    let value = "TraceMarkerValue9Z";
    c.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .send()
        .await
        .unwrap();
    c.put_item()
        .table_name(table)
        .item("pk", AttributeValue::S("TraceMarkerKey3X".into()))
        .item("v", AttributeValue::S(value.into()))
        .send()
        .await
        .unwrap();
    c.get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("TraceMarkerKey3X".into()))
        .send()
        .await
        .unwrap();
    // A failing request too: error paths log more.
    let _ = c
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S("TraceMarkerKey3X".into()))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    let kms_conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            common::ACCESS_KEY,
            common::SECRET_KEY,
            None,
            None,
            "test",
        ))
        .build();
    let kms = aws_sdk_kms::Client::from_conf(kms_conf);
    let key = kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let dk = kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let plaintext_key = dk.plaintext().unwrap().as_ref().to_vec();
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read(&log_path).unwrap();
    let root_key = std::fs::read(dir.join("root.key")).unwrap();
    assert!(
        text.len() > 1000,
        "the trace log is nearly empty ({} bytes): not at trace level?",
        text.len()
    );
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("secret access key", common::SECRET_KEY.as_bytes().to_vec()),
        ("table name", table.as_bytes().to_vec()),
        ("item value", value.as_bytes().to_vec()),
        ("item key", b"TraceMarkerKey3X".to_vec()),
        ("data key (hex)", hex(&plaintext_key).into_bytes()),
        ("data key (base64)", b64(&plaintext_key).into_bytes()),
        ("root key (hex)", hex(&root_key).into_bytes()),
        ("root key (base64)", b64(&root_key).into_bytes()),
        ("signature header", b"Signature=".to_vec()),
    ];
    for (what, needle) in needles {
        assert!(
            !text.windows(needle.len()).any(|w| w == needle.as_slice()),
            "the trace log holds the {what}"
        );
    }
}
