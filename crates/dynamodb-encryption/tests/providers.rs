//! Provider behaviour beyond the vectors: legacy wrapped items, key rotation and caching.
#![allow(clippy::unwrap_used)]

mod support;

use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dynamodb_encryption::providers::{
    InMemoryMetaStore, MetaStore, MostRecentProvider, ProviderStoreRows,
};
use dynamodb_encryption::{
    Attribute, AttributeActions, EncryptionContext, EncryptionMaterials, Error, Item,
    MATERIAL_DESCRIPTION_ATTRIBUTE, SigningKey, SymmetricKey, decrypt_item, encrypt_item,
    encrypt_item_with_materials, material_description,
};
use std::sync::Arc;
use std::time::Duration;

fn item(n: u32) -> Item {
    support::item_of([
        ("pk", Attribute::S(format!("item-{n}"))),
        ("data", Attribute::S("payload".into())),
    ])
}

fn context() -> EncryptionContext {
    EncryptionContext::new("Table", "pk", None)
}

fn description(stored: &Item) -> std::collections::BTreeMap<String, String> {
    let Attribute::B(bytes) = &stored[MATERIAL_DESCRIPTION_ATTRIBUTE] else {
        panic!("no description")
    };
    material_description::parse(bytes).unwrap()
}

/// Old Java items: no `amzn-ddb-wrap-alg` (so RSA means PKCS#1 v1.5), `AES` without a size,
/// and the wrapped key in MIME base64 with CR/LF every 76 characters.
#[tokio::test]
async fn legacy_rsa_items_without_wrap_algorithm_decrypt() {
    let (private, public) = support::rsa_key();
    let content_key = [7u8; 32];
    let pkcs1 =
        Pkcs1PublicEncryptingKey::new(PublicEncryptingKey::from_der(public).unwrap()).unwrap();
    let mut wrapped = vec![0u8; pkcs1.ciphertext_size()];
    let wrapped = pkcs1.encrypt(&content_key, &mut wrapped).unwrap();
    let encoded = B64.encode(wrapped);
    let mime: String = encoded
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
        .collect();
    assert_eq!(mime.len(), 354, "the length of the Java v0 vectors' keys");
    let materials = EncryptionMaterials {
        encryption_key: Some(SymmetricKey::new(content_key)),
        signing_key: SigningKey::rsa_sha256_from_pkcs8(private).unwrap(),
        material_description: [
            ("amzn-ddb-env-key".to_owned(), mime),
            ("amzn-ddb-env-alg".to_owned(), "AES".to_owned()),
        ]
        .into_iter()
        .collect(),
    };
    let actions = AttributeActions::default();
    let stored = encrypt_item_with_materials(&item(1), &context(), &actions, &materials).unwrap();
    assert!(!description(&stored).contains_key("amzn-ddb-wrap-alg"));
    let back = decrypt_item(&stored, &context(), &actions, &support::wrapped_rsa())
        .await
        .unwrap();
    assert_eq!(back, item(1));
}

#[tokio::test]
async fn wrapped_items_carry_a_fresh_wrapped_key_each() {
    let provider = support::wrapped_rsa();
    let actions = AttributeActions::default();
    let a = encrypt_item(&item(1), &context(), &actions, &provider)
        .await
        .unwrap();
    let b = encrypt_item(&item(1), &context(), &actions, &provider)
        .await
        .unwrap();
    let (da, db) = (description(&a), description(&b));
    assert_eq!(
        da["amzn-ddb-wrap-alg"],
        "RSA/ECB/OAEPWithSHA-256AndMGF1Padding"
    );
    assert_eq!(da["amzn-ddb-env-alg"], "AES/256");
    assert_eq!(da["amzn-ddb-map-signingAlg"], "SHA256withRSA");
    assert_ne!(da["amzn-ddb-env-key"], db["amzn-ddb-env-key"]);
    // The AES provider writes AESWrap keys (32 bytes wrap to 56 base64 characters) and
    // cannot read the RSA item.
    let aes = support::wrapped_aes();
    let da = description(
        &encrypt_item(&item(1), &context(), &actions, &aes)
            .await
            .unwrap(),
    );
    assert_eq!(da["amzn-ddb-wrap-alg"], "AESWrap");
    assert_eq!(da["amzn-ddb-env-key"].len(), 56);
    assert!(decrypt_item(&a, &context(), &actions, &aes).await.is_err());
}

#[tokio::test]
async fn most_recent_rotates_and_caches_versions() {
    let store = Arc::new(InMemoryMetaStore::new(ProviderStoreRows::new(
        "metastore",
        support::static_provider(),
    )));
    let cached = MostRecentProvider::new(Arc::clone(&store), "mat", Duration::from_secs(3600));
    let uncached = MostRecentProvider::new(Arc::clone(&store), "mat", Duration::ZERO);
    let actions = AttributeActions::default();

    // The first encryption creates version 0.
    let v0 = encrypt_item(&item(0), &context(), &actions, &cached)
        .await
        .unwrap();
    assert_eq!(description(&v0)["amzn-ddb-meta-id"], "mat#0");
    assert_eq!(store.max_version("mat").await.unwrap(), Some(0));

    assert_eq!(uncached.rotate().await.unwrap(), 1);
    let v1 = encrypt_item(&item(1), &context(), &actions, &uncached)
        .await
        .unwrap();
    assert_eq!(description(&v1)["amzn-ddb-meta-id"], "mat#1");
    // The caching provider keeps using version 0 until its TTL runs out.
    let still_v0 = encrypt_item(&item(2), &context(), &actions, &cached)
        .await
        .unwrap();
    assert_eq!(description(&still_v0)["amzn-ddb-meta-id"], "mat#0");

    // Either provider reads both versions; the rows are stored encrypted.
    for stored in [&v0, &v1, &still_v0] {
        decrypt_item(stored, &context(), &actions, &cached)
            .await
            .unwrap();
        decrypt_item(stored, &context(), &actions, &uncached)
            .await
            .unwrap();
    }
    let rows = store.stored_rows();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert!(
            matches!(&row["enc"], Attribute::B(b) if b.len() > 32),
            "enc is encrypted"
        );
        assert_eq!(row["N"], Attribute::S("mat".into()));
    }

    // An item naming a version the store does not have has no materials.
    let mut unknown = v1.clone();
    let mut desc = description(&v1);
    desc.insert("amzn-ddb-meta-id".into(), "mat#9".into());
    unknown.insert(
        MATERIAL_DESCRIPTION_ATTRIBUTE.into(),
        Attribute::B(material_description::serialize(&desc)),
    );
    assert!(matches!(
        decrypt_item(&unknown, &context(), &actions, &uncached).await,
        Err(Error::MissingMaterials(_))
    ));
}
