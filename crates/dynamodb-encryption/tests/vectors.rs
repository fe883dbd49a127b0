//! The AWS DynamoDB Encryption Client's own vectors: attribute serialization both ways,
//! material descriptions and strings to sign, byte for byte (from the copy under
//! `tests/vectors/`), and the encrypted-item scenarios (from `../shared/ddbec-legacy-vectors`
//! or `DDBEC_VECTORS_DIR`).
// Test helpers outside #[test] functions unwrap vector data that is part of the repository.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dynamodb_encryption::keys::{SymmetricKey, VerificationKey};
use dynamodb_encryption::providers::{
    InMemoryMetaStore, MostRecentProvider, ProviderStoreRows, StaticProvider, UnwrappingKey,
    WrappedProvider,
};
use dynamodb_encryption::{
    Action, Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Item,
    decrypt_item, material_description, serialize, signature,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// The encrypted-item vectors: under `DDBEC_VECTORS_DIR`, else `../shared/ddbec-legacy-vectors`
/// beside the repository, else the partial copy in this crate (static scenarios only).
fn encrypted_item_vectors() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(dir) = std::env::var_os("DDBEC_VECTORS_DIR") {
        return PathBuf::from(dir).join("test/vectors/encrypted_item");
    }
    let shared = manifest.join("../../../shared/ddbec-legacy-vectors/test/vectors/encrypted_item");
    if shared.exists() {
        return shared;
    }
    println!(
        "no shared vectors at {}: using the crate's copy",
        shared.display()
    );
    manifest.join("tests/vectors/encrypted_item")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn file_ref(dir: &Path, reference: &Value) -> PathBuf {
    dir.join(reference.as_str().unwrap().strip_prefix("file://").unwrap())
}

/// An item in DynamoDB JSON.
fn item_of(v: &Value) -> Item {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), attribute(v)))
        .collect()
}

fn actions_of(set: &Value) -> AttributeActions {
    let action = |word: &Value| match word.as_str().unwrap() {
        "encrypt" => Action::EncryptAndSign,
        "sign" => Action::SignOnly,
        "nothing" => Action::DoNothing,
        other => panic!("unknown action {other}"),
    };
    let mut actions = AttributeActions::new(action(&set["default"]));
    if let Some(overrides) = set["override"].as_object() {
        for (name, word) in overrides {
            actions = actions.with_action(name, action(word)).unwrap();
        }
    }
    actions
}

/// Key material from keys.json.
struct Keys(Value);

impl Keys {
    fn material(&self, name: &str) -> Vec<u8> {
        B64.decode(self.0[name]["material"].as_str().unwrap())
            .unwrap()
    }

    fn verification(&self, name: &str) -> VerificationKey {
        match self.0[name]["type"].as_str().unwrap() {
            "symmetric" => VerificationKey::Hmac {
                algorithm: self.0[name]["algorithm"].as_str().unwrap().to_owned(),
                key: SymmetricKey::new(self.material(name)),
            },
            "public" => VerificationKey::rsa_sha256_from_der(&self.material(name)),
            other => panic!("verification key of type {other}"),
        }
    }

    fn unwrapping(&self, name: &str) -> UnwrappingKey {
        match self.0[name]["type"].as_str().unwrap() {
            "symmetric" => UnwrappingKey::Aes(SymmetricKey::new(self.material(name))),
            "private" => UnwrappingKey::rsa_from_pkcs8(&self.material(name)).unwrap(),
            other => panic!("unwrapping key of type {other}"),
        }
    }
}

/// A scenario's (or metastore's) provider, for reading only.
enum Reader {
    Static(StaticProvider),
    Wrapped(WrappedProvider),
}

fn reader(kind: &Value, keys_used: &Value, keys: &Keys) -> Reader {
    let decrypt = keys_used["decrypt"].as_str().unwrap();
    let verify = keys.verification(keys_used["verify"].as_str().unwrap());
    match kind.as_str().unwrap() {
        "static" => Reader::Static(StaticProvider::decrypt_only(
            Some(SymmetricKey::new(keys.material(decrypt))),
            verify,
        )),
        "wrapped" => Reader::Wrapped(WrappedProvider::new(
            None,
            Some(keys.unwrapping(decrypt)),
            None,
            Some(verify),
        )),
        other => panic!("provider {other}"),
    }
}

/// The expected plaintext for a stored item (reference §8), and its action-set name.
fn expected(plain: &Value, table: &str, version: &str, stored: &Item) -> (Item, String) {
    let spec = &plain["items"][table];
    let keys: Vec<&str> = [&spec["index"]["partition"], &spec["index"]["sort"]]
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    let entry = spec["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            keys.iter()
                .all(|k| p["attributes"].get(*k).map(attribute) == stored.get(*k).cloned())
        })
        .unwrap_or_else(|| panic!("{table}: no plaintext for {:?}", keys));
    let mut want = item_of(&entry["attributes"]);
    if entry["exact"].as_bool() != Some(true) {
        // Tables without a versions entry take their attributes as listed.
        let groups = plain["versions"][table][version].as_array().cloned();
        for group in groups.unwrap_or_default() {
            want.extend(item_of(&plain["attributes"][group.as_str().unwrap()]));
        }
    }
    (want, entry["action"].as_str().unwrap().to_owned())
}

/// Decrypts every item of a data file and compares it with its plaintext; returns how many.
async fn check_file<P: CryptographicMaterialsProvider>(
    provider: &P,
    plain: &Value,
    version: &str,
    tables: &Value,
) -> usize {
    let mut checked = 0;
    for (table, items) in tables.as_object().unwrap() {
        let spec = &plain["items"][table]["index"];
        let context = EncryptionContext::new(
            table.as_str(),
            spec["partition"].as_str().unwrap(),
            spec["sort"].as_str(),
        );
        for stored in items.as_array().unwrap() {
            let stored = item_of(stored);
            let (want, set) = expected(plain, table, version, &stored);
            let actions = actions_of(&plain["actions"][&set]);
            let got = decrypt_item(&stored, &context, &actions, provider)
                .await
                .unwrap_or_else(|e| panic!("{table} {set}: {e}"));
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{table} {set}"
            );
            for (name, value) in &want {
                // Java's mapper increments the signed `version` on save (reference §8).
                if name == "version" {
                    continue;
                }
                assert_eq!(
                    serialize::serialize(&got[name]).unwrap(),
                    serialize::serialize(value).unwrap(),
                    "{table} {set} {name}"
                );
            }
            checked += 1;
        }
    }
    checked
}

async fn check_with(reader: &Reader, plain: &Value, version: &str, tables: &Value) -> usize {
    match reader {
        Reader::Static(p) => check_file(p, plain, version, tables).await,
        Reader::Wrapped(p) => check_file(p, plain, version, tables).await,
    }
}

async fn most_recent<P: CryptographicMaterialsProvider>(
    store_provider: P,
    metastore: &Value,
    rows: &Value,
    material_name: &str,
) -> MostRecentProvider<InMemoryMetaStore<P>> {
    let store = InMemoryMetaStore::new(ProviderStoreRows::new(
        metastore["table_name"].as_str().unwrap(),
        store_provider,
    ));
    for row in rows[metastore["table_name"].as_str().unwrap()]
        .as_array()
        .unwrap()
    {
        store.insert_row(item_of(row)).await.unwrap();
    }
    MostRecentProvider::new(store, material_name, Duration::from_secs(60))
}

/// Every offline scenario whose files are present: each stored item verifies and decrypts
/// to its plaintext. Scenarios needing AWS KMS, or whose files this copy lacks, are named
/// and skipped.
#[tokio::test]
async fn encrypted_item_scenarios_verify_and_decrypt() {
    let dir = encrypted_item_vectors();
    let index = dir.join("scenarios.json");
    let scenarios = read_json(&index);
    let plain = read_json(&file_ref(&dir, &scenarios["plaintext"]));
    let keys = Keys(read_json(&file_ref(&dir, &scenarios["keys"])));
    let (mut verified, mut files) = (0, 0);
    for scenario in scenarios["scenarios"].as_array().unwrap() {
        let name = scenario["ciphertext"].as_str().unwrap();
        if scenario["network"].as_bool() == Some(true) {
            println!("skipped (needs AWS KMS): {name}");
            continue;
        }
        let data = file_ref(&dir, &scenario["ciphertext"]);
        let metastore = &scenario["metastore"];
        let rows = metastore.get("ciphertext").map(|c| file_ref(&dir, c));
        if let Some(absent) = [Some(&data), rows.as_ref()]
            .into_iter()
            .flatten()
            .find(|p| !p.exists())
        {
            println!("skipped (file absent): {name} ({})", absent.display());
            continue;
        }
        let version = scenario["version"].as_str().unwrap();
        let tables = read_json(&data);
        let count = match scenario["provider"].as_str().unwrap() {
            "most_recent" => {
                let rows = read_json(rows.as_ref().unwrap());
                let material = scenario["material_name"].as_str().unwrap();
                match reader(&metastore["provider"], &metastore["keys"], &keys) {
                    Reader::Static(p) => {
                        let mr = most_recent(p, metastore, &rows, material).await;
                        check_file(&mr, &plain, version, &tables).await
                    }
                    Reader::Wrapped(p) => {
                        let mr = most_recent(p, metastore, &rows, material).await;
                        check_file(&mr, &plain, version, &tables).await
                    }
                }
            }
            _ => {
                let r = reader(&scenario["provider"], &scenario["keys"], &keys);
                check_with(&r, &plain, version, &tables).await
            }
        };
        println!("verified and decrypted {count} items: {name}");
        verified += count;
        files += 1;
    }
    println!("vector items verified and decrypted: {verified} from {files} scenario files");
    // The crate's own copy alone holds the three static files (48 items).
    assert!(verified >= 48, "only {verified} items verified");
}
