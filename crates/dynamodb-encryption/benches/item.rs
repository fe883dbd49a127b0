//! Encrypt+sign and verify+decrypt of one fixed ~1 KB item with 10 attributes, for the
//! Static (AES-256 + HMAC-SHA256) and Wrapped (AESWrap + HMAC-SHA256) providers.
//! `scripts/bench-ddbec-python.py` times the same item, actions and providers with the
//! Python `dynamodb-encryption-sdk`; the crate docs ("Performance") record both.
//!
//! Run: `cargo bench -p dynamodb-encryption --bench item`.
// A benchmark: a setup failure should stop the run loudly, as in the tests.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use dynamodb_encryption::providers::{StaticProvider, WrappedProvider};
use dynamodb_encryption::{
    Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Item,
    SigningKey, SymmetricKey, decrypt_item, encrypt_item, serialize,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

const TABLE: &str = "BenchTable";
const PARTITION_KEY: &str = "id";
const SORT_KEY: &str = "created";

/// The benchmark item; `scripts/bench-ddbec-python.py` builds the same one. String-set
/// members are in sorted order, as decryption returns them.
fn item() -> Item {
    let s = |v: &str| Attribute::S(v.to_owned());
    let n = |v: &str| Attribute::N(v.to_owned());
    let profile: BTreeMap<String, Attribute> = [
        ("city", s("Lisbon")),
        ("country", s("PT")),
        ("zip", n("1100148")),
        ("verified", Attribute::Bool(true)),
        ("tier", s("gold")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let history = Attribute::L(
        (0..8)
            .flat_map(|i| {
                [
                    n(&format!("{}", 1_700_000_000 + i * 86_400)),
                    s(&format!("event-{i:02}")),
                ]
            })
            .collect(),
    );
    [
        (PARTITION_KEY, s("customer-000042")),
        (SORT_KEY, n("1733011200")),
        (
            "name",
            s(&"Ada Lovelace, Countess of Lovelace; ".repeat(3)[..100]),
        ),
        (
            "address",
            s(&"12 St James's Square, London SW1Y 4JH, United Kingdom. ".repeat(2)[..100]),
        ),
        ("balance", n("12345.67")),
        (
            "photo",
            Attribute::B((0..300u32).map(|i| (i * 7 % 256) as u8).collect()),
        ),
        (
            "tags",
            Attribute::Ss(
                [
                    "alpha", "beta", "delta", "epsilon", "eta", "gamma", "theta", "zeta",
                ]
                .map(str::to_owned)
                .to_vec(),
            ),
        ),
        ("profile", Attribute::M(profile)),
        ("history", history),
        ("active", Attribute::Bool(true)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn bench_provider<P: CryptographicMaterialsProvider>(c: &mut Criterion, name: &str, provider: &P) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let item = item();
    let context = EncryptionContext::new(TABLE, PARTITION_KEY, Some(SORT_KEY));
    // ENCRYPT_AND_SIGN for everything; the keys are lowered to SIGN_ONLY by the context.
    let actions = AttributeActions::default();
    let stored = runtime
        .block_on(encrypt_item(&item, &context, &actions, provider))
        .unwrap();
    assert_eq!(
        runtime
            .block_on(decrypt_item(&stored, &context, &actions, provider))
            .unwrap(),
        item
    );

    c.bench_function(&format!("encrypt_sign/{name}"), |b| {
        b.iter(|| {
            runtime
                .block_on(encrypt_item(black_box(&item), &context, &actions, provider))
                .unwrap()
        })
    });
    c.bench_function(&format!("verify_decrypt/{name}"), |b| {
        b.iter(|| {
            runtime
                .block_on(decrypt_item(
                    black_box(&stored),
                    &context,
                    &actions,
                    provider,
                ))
                .unwrap()
        })
    });
}

fn benches(c: &mut Criterion) {
    // The same size and fingerprint as the Python script prints: the same item.
    let item = item();
    let mut digest = Sha256::new();
    let mut size = 0;
    for (name, value) in &item {
        let bytes = serialize::serialize(value).unwrap();
        size += name.len() + bytes.len();
        digest.update(name.as_bytes());
        digest.update(&bytes);
    }
    let fingerprint: String = digest.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    eprintln!(
        "item: {} attributes, {size} bytes (names + serialized values), sha256 {fingerprint}",
        item.len()
    );

    let static_provider = StaticProvider::new(
        Some(SymmetricKey::new([0x11u8; 32])),
        SigningKey::hmac_sha256([0x22u8; 32]),
        BTreeMap::new(),
    );
    bench_provider(c, "static", &static_provider);

    let wrapped = WrappedProvider::aes_hmac(
        SymmetricKey::new([0x33u8; 32]),
        SymmetricKey::new([0x44u8; 32]),
    );
    bench_provider(c, "wrapped", &wrapped);
}

criterion_group! {
    name = item_benches;
    // Short runs (about 20 s for the four): the machine is small and shared.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(item_benches);
