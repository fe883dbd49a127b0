//! The AWS DynamoDB Encryption Client's encrypted-item scenarios, written by the Python and
//! the Java library (reference §8): every stored item of every offline scenario verifies
//! and decrypts, and is compared with its plaintext where `plaintext.json` has one. Read
//! from `DDBEC_VECTORS_DIR`, else `../shared/ddbec-legacy-vectors` beside the repository,
//! else the crate's partial copy (the three Python-written static files).
// Test helpers outside #[test] functions unwrap vector data that is part of the repository.
#![allow(clippy::unwrap_used)]

mod support;

use dynamodb_encryption::keys::{SymmetricKey, VerificationKey};
use dynamodb_encryption::providers::{
    InMemoryMetaStore, MostRecentProvider, ProviderStoreRows, StaticProvider, UnwrappingKey,
    WrappedProvider,
};
use dynamodb_encryption::{
    Action, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Error, Item,
    MATERIAL_DESCRIPTION_ATTRIBUTE, decrypt_item, material_description, serialize,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::ddb_json::{self, attribute};

/// Where the scenarios are, and whether that copy is meant to hold every file it names.
struct Vectors {
    dir: PathBuf,
    complete: bool,
}

fn vectors() -> Vectors {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(dir) = std::env::var_os("DDBEC_VECTORS_DIR") {
        return Vectors {
            dir: PathBuf::from(dir).join("test/vectors/encrypted_item"),
            complete: true,
        };
    }
    let shared = manifest.join("../../../shared/ddbec-legacy-vectors/test/vectors/encrypted_item");
    if shared.exists() {
        return Vectors {
            dir: shared,
            complete: true,
        };
    }
    println!(
        "no shared vectors at {}: using the crate's partial copy",
        shared.display()
    );
    Vectors {
        dir: manifest.join("tests/vectors/encrypted_item"),
        complete: false,
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn file_ref(dir: &Path, reference: &Value) -> PathBuf {
    dir.join(reference.as_str().unwrap().strip_prefix("file://").unwrap())
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
        ddb_json::bytes(&self.0[name]["material"])
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

    /// The vectors' one static pair (reference §8: AES-128 `aesKey`, HMAC `hmacKey`).
    fn static_pair(&self) -> StaticProvider {
        StaticProvider::decrypt_only(
            Some(SymmetricKey::new(self.material("aesKey"))),
            self.verification("hmacKey"),
        )
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

/// The expected plaintext for a stored item (reference §8) and its action-set name, if
/// `plaintext.json` lists an item with the same key values.
fn expected(plain: &Value, table: &str, version: &str, stored: &Item) -> Option<(Item, String)> {
    let spec = &plain["items"][table];
    let keys: Vec<&str> = [&spec["index"]["partition"], &spec["index"]["sort"]]
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    let entry = spec["items"].as_array().unwrap().iter().find(|p| {
        keys.iter()
            .all(|k| p["attributes"].get(*k).map(attribute) == stored.get(*k).cloned())
    })?;
    let mut want = ddb_json::item(&entry["attributes"]);
    if entry["exact"].as_bool() != Some(true) {
        // Tables without a versions entry take their attributes as listed.
        let groups = plain["versions"][table][version].as_array().cloned();
        for group in groups.unwrap_or_default() {
            want.extend(ddb_json::item(
                &plain["attributes"][group.as_str().unwrap()],
            ));
        }
    }
    Some((want, entry["action"].as_str().unwrap().to_owned()))
}

/// True when the item's material description carries no wrapped key: static materials.
fn written_with_static_materials(stored: &Item) -> bool {
    match stored.get(MATERIAL_DESCRIPTION_ATTRIBUTE) {
        Some(dynamodb_encryption::Attribute::B(bytes)) => !material_description::parse(bytes)
            .unwrap()
            .contains_key("amzn-ddb-env-key"),
        _ => true,
    }
}

/// Items checked in one file: compared with a plaintext, or only verified and decrypted.
#[derive(Default, Clone, Copy)]
struct Checked {
    compared: usize,
    without_plaintext: usize,
}

/// Verifies and decrypts an item that has no plaintext entry. Its action set is the one of
/// `plaintext.json`'s named sets under which the signature verifies (the signature covers
/// every signed attribute's action, so at most one set can); no set verifying is a failure.
async fn decrypt_unlisted<P: CryptographicMaterialsProvider>(
    provider: &P,
    plain: &Value,
    context: &EncryptionContext,
    stored: &Item,
    what: &str,
) -> String {
    for (set, spec) in plain["actions"].as_object().unwrap() {
        let actions = actions_of(spec);
        // A set that does nothing would pass the item through unverified.
        if actions.takes_no_action() {
            continue;
        }
        match decrypt_item(stored, context, &actions, provider).await {
            Ok(item) => {
                assert!(!item.contains_key(MATERIAL_DESCRIPTION_ATTRIBUTE), "{what}");
                return set.clone();
            }
            Err(Error::SignatureMismatch) => continue,
            Err(e) => panic!("{what}: {e}"),
        }
    }
    panic!("{what}: verifies under none of the action sets");
}

/// Verifies and decrypts every item of a data file; compares those with a plaintext.
async fn check_file<P: CryptographicMaterialsProvider>(
    provider: &P,
    keys: &Keys,
    plain: &Value,
    version: &str,
    tables: &Value,
    name: &str,
) -> Checked {
    let mut checked = Checked::default();
    for (table, items) in tables.as_object().unwrap() {
        let spec = &plain["items"][table]["index"];
        let context = EncryptionContext::new(
            table.as_str(),
            spec["partition"].as_str().unwrap(),
            spec["sort"].as_str(),
        );
        for stored in items.as_array().unwrap() {
            let stored = ddb_json::item(stored);
            let Some((want, set)) = expected(plain, table, version, &stored) else {
                let what = format!("{name} {table} item without a plaintext");
                // Reference §8: the extra Java items carry static materials (even the one in
                // a wrapped-RSA file) and verify under the vectors' static pair.
                let set = if written_with_static_materials(&stored) {
                    decrypt_unlisted(&keys.static_pair(), plain, &context, &stored, &what).await
                } else {
                    decrypt_unlisted(provider, plain, &context, &stored, &what).await
                };
                println!("  {what}: verified and decrypted under action set {set}");
                checked.without_plaintext += 1;
                continue;
            };
            let actions = actions_of(&plain["actions"][&set]);
            let got = decrypt_item(&stored, &context, &actions, provider)
                .await
                .unwrap_or_else(|e| panic!("{name} {table} {set}: {e}"));
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{name} {table} {set}"
            );
            for (attribute, value) in &want {
                // Java's mapper increments the signed `version` on save (reference §8).
                if attribute == "version" {
                    continue;
                }
                assert_eq!(
                    serialize::serialize(&got[attribute]).unwrap(),
                    serialize::serialize(value).unwrap(),
                    "{name} {table} {set} {attribute}"
                );
            }
            checked.compared += 1;
        }
    }
    checked
}

async fn most_recent<P: CryptographicMaterialsProvider>(
    store_provider: P,
    metastore: &Value,
    rows: &Value,
    material_name: &str,
) -> MostRecentProvider<InMemoryMetaStore<P>> {
    let table = metastore["table_name"].as_str().unwrap();
    let store = InMemoryMetaStore::new(ProviderStoreRows::new(table, store_provider));
    for row in rows[table].as_array().unwrap() {
        // Each provider-store row is itself verified and decrypted here.
        store.insert_row(ddb_json::item(row)).await.unwrap();
    }
    MostRecentProvider::new(store, material_name, Duration::from_secs(60))
}

/// What one language's scenarios came to.
#[derive(Default)]
struct Tally {
    files: usize,
    compared: usize,
    without_plaintext: usize,
    store_rows: usize,
    kms_scenarios: usize,
    kms_items: usize,
    not_in_copy: usize,
}

fn item_count(tables: &Value) -> usize {
    tables
        .as_object()
        .unwrap()
        .values()
        .map(|items| items.as_array().unwrap().len())
        .sum()
}

async fn run_scenario(
    dir: &Path,
    scenario: &Value,
    plain: &Value,
    keys: &Keys,
    name: &str,
) -> (Checked, usize) {
    let tables = read_json(&file_ref(dir, &scenario["ciphertext"]));
    let version = scenario["version"].as_str().unwrap();
    if scenario["provider"].as_str() != Some("most_recent") {
        let checked = match reader(&scenario["provider"], &scenario["keys"], keys) {
            Reader::Static(p) => check_file(&p, keys, plain, version, &tables, name).await,
            Reader::Wrapped(p) => check_file(&p, keys, plain, version, &tables, name).await,
        };
        return (checked, 0);
    }
    let metastore = &scenario["metastore"];
    let rows = read_json(&file_ref(dir, &metastore["ciphertext"]));
    let material = scenario["material_name"].as_str().unwrap();
    let checked = match reader(&metastore["provider"], &metastore["keys"], keys) {
        Reader::Static(p) => {
            let mr = most_recent(p, metastore, &rows, material).await;
            check_file(&mr, keys, plain, version, &tables, name).await
        }
        Reader::Wrapped(p) => {
            let mr = most_recent(p, metastore, &rows, material).await;
            check_file(&mr, keys, plain, version, &tables, name).await
        }
    };
    (checked, item_count(&rows))
}

/// Every offline scenario of both languages: each stored item verifies and decrypts, and
/// matches its plaintext where one exists. Scenarios needing AWS KMS are named, skipped and
/// counted. A named file that is absent fails, except in the crate's partial copy.
#[tokio::test]
async fn encrypted_item_scenarios_verify_and_decrypt() {
    let Vectors { dir, complete } = vectors();
    let scenarios = read_json(&dir.join("scenarios.json"));
    let plain = read_json(&file_ref(&dir, &scenarios["plaintext"]));
    let keys = Keys(read_json(&file_ref(&dir, &scenarios["keys"])));
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for scenario in scenarios["scenarios"].as_array().unwrap() {
        let name = scenario["ciphertext"].as_str().unwrap();
        let language = name
            .split('/')
            .nth(3)
            .unwrap_or_else(|| panic!("{name}: not under ciphertext/<language>/"))
            .to_owned();
        let tally = tallies.entry(language).or_default();
        let files: Vec<PathBuf> = [
            Some(&scenario["ciphertext"]),
            scenario["metastore"].get("ciphertext"),
        ]
        .into_iter()
        .flatten()
        .map(|reference| file_ref(&dir, reference))
        .collect();
        if let Some(absent) = files.iter().find(|p| !p.exists()) {
            assert!(
                !complete,
                "{name}: named file {} is absent",
                absent.display()
            );
            println!("not in the crate's partial copy: {name}");
            tally.not_in_copy += 1;
            continue;
        }
        if scenario["network"].as_bool() == Some(true) {
            let items = item_count(&read_json(&files[0]));
            println!("skipped (needs AWS KMS keys): {name} ({items} items)");
            tally.kms_scenarios += 1;
            tally.kms_items += items;
            continue;
        }
        let (checked, rows) = run_scenario(&dir, scenario, &plain, &keys, name).await;
        println!(
            "verified and decrypted {} items, {} compared: {name}",
            checked.compared + checked.without_plaintext,
            checked.compared
        );
        tally.files += 1;
        tally.compared += checked.compared;
        tally.without_plaintext += checked.without_plaintext;
        tally.store_rows += rows;
    }
    let summary: Vec<String> = tallies
        .iter()
        .map(|(language, t)| {
            format!(
                "{language}: {} items verified, decrypted and compared, {} verified and \
                 decrypted without a plaintext ({} files, {} provider-store rows); \
                 {} scenarios ({} items) skipped, needing AWS KMS keys; {} not in this copy",
                t.compared,
                t.without_plaintext,
                t.files,
                t.store_rows,
                t.kms_scenarios,
                t.kms_items,
                t.not_in_copy
            )
        })
        .collect();
    println!("vector summary: {}", summary.join("; "));
    if complete {
        // The reference (§8) counts 292 offline items: 144 per language, plus 4 Java items
        // without a plaintext; 2 scenarios per language need AWS KMS.
        let figures = |language: &str| {
            let t = &tallies[language];
            (t.files, t.compared, t.without_plaintext, t.kms_scenarios)
        };
        assert_eq!(figures("python"), (9, 144, 0, 2));
        assert_eq!(figures("java"), (9, 144, 4, 2));
    } else {
        // The crate's copy holds the three Python-written static files (48 items).
        assert_eq!(tallies["python"].compared, 48);
    }
}
