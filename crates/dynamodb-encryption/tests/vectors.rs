//! The AWS DynamoDB Encryption Client's own vectors: attribute serialization both ways,
//! material descriptions and strings to sign, byte for byte (from the copy under
//! `tests/vectors/`). The encrypted-item scenarios are in `encrypted_item_vectors.rs`.
// Test helpers outside #[test] functions unwrap vector data that is part of the repository.
#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dynamodb_encryption::{Action, Attribute, material_description, serialize, signature};
use serde_json::Value;
use std::collections::BTreeMap;
use support::ddb_json::attribute;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn serialize_attribute_vectors() {
    let vectors = load("serialize_attribute.json");
    assert!(vectors.len() > 10);
    for v in &vectors {
        let want = B64.decode(v["serialized"].as_str().unwrap()).unwrap();
        let got = serialize::serialize(&attribute(&v["attribute"])).unwrap();
        assert_eq!(got, want, "{}", v["attribute"]);
    }
}

#[test]
fn deserialize_attribute_vectors() {
    let vectors = load("deserialize_attribute.json");
    assert!(vectors.len() > 10);
    for v in &vectors {
        let bytes = B64.decode(v["serialized"].as_str().unwrap()).unwrap();
        let got = serialize::deserialize(&bytes).unwrap();
        assert_eq!(got, attribute(&v["attribute"]), "{}", v["attribute"]);
    }
}

#[test]
fn material_description_vectors() {
    let vectors = load("material_description.json");
    assert!(vectors.len() >= 3);
    for v in &vectors {
        let want = B64.decode(v["serialized"].as_str().unwrap()).unwrap();
        let desc: BTreeMap<String, String> = v["material_description"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(material_description::serialize(&desc), want);
        assert_eq!(material_description::parse(&want).unwrap(), desc);
    }
}

#[test]
fn string_to_sign_vectors() {
    let vectors = load("string_to_sign.json");
    assert!(vectors.len() >= 3);
    for v in &vectors {
        let want = B64.decode(v["string_to_sign"].as_str().unwrap()).unwrap();
        let mut item = BTreeMap::new();
        let mut actions = BTreeMap::new();
        for (name, entry) in v["item"].as_object().unwrap() {
            item.insert(name.clone(), attribute(&entry["value"]));
            let action = match entry["action"].as_str().unwrap() {
                "encrypt" => Action::EncryptAndSign,
                "sign" => Action::SignOnly,
                "nothing" => Action::DoNothing,
                other => panic!("unknown action {other}"),
            };
            actions.insert(name.clone(), action);
        }
        let got = signature::string_to_sign(v["table"].as_str(), &item, |n| actions[n]).unwrap();
        assert_eq!(got, want, "{}", v["item"]);
    }
}

/// One attribute of the Python-written `static-aes-hmac-1` item (hashKey 5, rangeKey 7,
/// table `TableName`), under the vectors' static AES-128 key `00 01 … 0f`.
#[test]
fn python_written_attribute_decrypts() {
    let stored = B64
        .decode("e5lctO/PbxWTduoSqTWAWOMaM24lSVvNWQzvOfFAh6VSNNdqIY+XxsY/WbL9IfbF")
        .unwrap();
    let key: Vec<u8> = (0u8..16).collect();
    assert_eq!(
        dynamodb_encryption::attribute_crypto::decrypt_attribute(&key, &stored).unwrap(),
        Attribute::S("Hello world!".into())
    );
}
