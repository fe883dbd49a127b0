//! The AWS DynamoDB Encryption Client's own vectors (copied under `tests/vectors/`):
//! attribute serialization both ways, material descriptions and strings to sign, byte for byte.
// Test helpers outside #[test] functions unwrap vector data that is part of the repository.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dynamodb_encryption::{Action, Attribute, material_description, serialize, signature};
use serde_json::Value;
use std::collections::BTreeMap;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// DynamoDB JSON (binary as base64) to an attribute.
fn attribute(v: &Value) -> Attribute {
    let (tag, body) = v.as_object().unwrap().iter().next().unwrap();
    let strs = |b: &Value| -> Vec<String> {
        b.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    match tag.as_str() {
        "S" => Attribute::S(body.as_str().unwrap().to_owned()),
        "N" => Attribute::N(body.as_str().unwrap().to_owned()),
        "B" => Attribute::B(B64.decode(body.as_str().unwrap()).unwrap()),
        "SS" => Attribute::Ss(strs(body)),
        "NS" => Attribute::Ns(strs(body)),
        "BS" => Attribute::Bs(strs(body).iter().map(|s| B64.decode(s).unwrap()).collect()),
        "BOOL" => Attribute::Bool(body.as_bool().unwrap()),
        "NULL" => Attribute::Null,
        "L" => Attribute::L(body.as_array().unwrap().iter().map(attribute).collect()),
        "M" => Attribute::M(
            body.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), attribute(v)))
                .collect(),
        ),
        other => panic!("unknown type {other}"),
    }
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

/// The actions of a plaintext.json item: its named action set, then the primary-key rule
/// (key attributes are signed, not encrypted, unless the set does nothing).
fn action_for(plain: &Value, set: &str, name: &str, keys: &[&str]) -> Action {
    let set = &plain["actions"][set];
    let word = set["override"][name]
        .as_str()
        .or(set["default"].as_str())
        .unwrap();
    let action = match word {
        "encrypt" => Action::EncryptAndSign,
        "sign" => Action::SignOnly,
        _ => Action::DoNothing,
    };
    if keys.contains(&name) && action == Action::EncryptAndSign {
        Action::SignOnly
    } else {
        action
    }
}

/// Python-written static scenarios (AES-128 content key, 8-byte HMAC key): every item's
/// signature verifies over our string to sign and every attribute decrypts to the plaintext.
#[test]
fn python_static_scenarios_verify_and_decrypt() {
    let dir = format!(
        "{}/tests/vectors/encrypted_item",
        env!("CARGO_MANIFEST_DIR")
    );
    let plain: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/plaintext.json")).unwrap())
            .unwrap();
    let aes: Vec<u8> = (0u8..16).collect();
    let mac: Vec<u8> = (0u8..8).collect();
    let scenarios: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/scenarios.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for n in 1..=3 {
        let file = format!("ciphertext/python/static-aes-hmac-{n}.json");
        let scenario = scenarios["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["ciphertext"].as_str() == Some(&format!("file://{file}")))
            .unwrap();
        assert_eq!(scenario["provider"], "static");
        let version = scenario["version"].as_str().unwrap();
        let path = format!("{dir}/{file}");
        let tables: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for (table, items) in tables.as_object().unwrap() {
            let spec = &plain["items"][table];
            let keys = [
                spec["index"]["partition"].as_str().unwrap(),
                spec["index"]["sort"].as_str().unwrap_or("\u{0}"),
            ];
            for stored in items.as_array().unwrap() {
                let stored: BTreeMap<String, Attribute> = stored
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), attribute(v)))
                    .collect();
                let expected = spec["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| {
                        keys.iter().all(|k| {
                            p["attributes"].get(*k).map(attribute) == stored.get(*k).cloned()
                        })
                    })
                    .unwrap();
                let set = expected["action"].as_str().unwrap();
                let mut want: BTreeMap<String, Attribute> = expected["attributes"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), attribute(v)))
                    .collect();
                if expected["exact"].as_bool() != Some(true) {
                    // Tables without a versions entry take their attributes as listed.
                    let groups = plain["versions"][table][version].as_array().cloned();
                    for group in groups.unwrap_or_default() {
                        for (k, v) in plain["attributes"][group.as_str().unwrap()]
                            .as_object()
                            .unwrap()
                        {
                            want.insert(k.clone(), attribute(v));
                        }
                    }
                }
                let Some(Attribute::B(sig)) = stored.get(dynamodb_encryption::SIGNATURE_ATTRIBUTE)
                else {
                    // All DO_NOTHING: Python copies the item untouched and adds nothing.
                    assert_eq!(set, "nothing", "{table}: unsigned item");
                    assert_eq!(
                        serialize::serialize(&Attribute::M(stored)).unwrap(),
                        serialize::serialize(&Attribute::M(want)).unwrap(),
                        "{table}: set order aside, the item is the plaintext"
                    );
                    checked += 1;
                    continue;
                };
                let act = |name: &str| action_for(&plain, set, name, &keys);
                let to_sign = signature::string_to_sign(Some(table), &stored, act).unwrap();
                dynamodb_encryption::attribute_crypto::hmac_verify(
                    "HmacSHA256",
                    &mac,
                    &to_sign,
                    sig,
                )
                .unwrap();
                for (name, value) in &want {
                    let got = match (act(name), &stored[name]) {
                        (Action::EncryptAndSign, Attribute::B(b)) => {
                            dynamodb_encryption::attribute_crypto::decrypt_attribute(&aes, b)
                                .unwrap()
                        }
                        (_, v) => v.clone(),
                    };
                    assert_eq!(
                        serialize::serialize(&got).unwrap(),
                        serialize::serialize(value).unwrap(),
                        "{table} {name}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "{checked} items checked");
}
