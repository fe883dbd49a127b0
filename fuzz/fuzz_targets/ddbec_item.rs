//! The client library's parsers: material descriptions, serialized attribute values, and
//! stored items (description, signature and encrypted attributes from the input) handed
//! to `decrypt_item`, which must refuse them without a panic.
#![no_main]

use dynamodb_encryption::keys::{SigningKey, SymmetricKey};
use dynamodb_encryption::providers::StaticProvider;
use dynamodb_encryption::{
    Attribute, AttributeActions, EncryptionContext, Item, MATERIAL_DESCRIPTION_ATTRIBUTE,
    SIGNATURE_ATTRIBUTE, decrypt_item, material_description, serialize,
};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fn split3(data: &[u8]) -> [&[u8]; 3] {
    let a = data.len() / 3;
    [&data[..a], &data[a..2 * a], &data[2 * a..]]
}

fuzz_target!(|data: &[u8]| {
    if let Ok(desc) = material_description::parse(data) {
        let again = material_description::serialize(&desc);
        assert_eq!(material_description::parse(&again).ok(), Some(desc));
    }
    if let Ok(value) = serialize::deserialize(data) {
        let _ = serialize::serialize(&value);
    }
    let [desc, sig, secret] = split3(data);
    let mut item: Item = BTreeMap::new();
    item.insert("pk".into(), Attribute::S("k".into()));
    item.insert("secret".into(), Attribute::B(secret.to_vec()));
    item.insert(MATERIAL_DESCRIPTION_ATTRIBUTE.into(), Attribute::B(desc.to_vec()));
    item.insert(SIGNATURE_ATTRIBUTE.into(), Attribute::B(sig.to_vec()));
    let provider = StaticProvider::new(
        Some(SymmetricKey::new([1u8; 32])),
        SigningKey::hmac_sha256([2u8; 32]),
        BTreeMap::new(),
    );
    let context = EncryptionContext::new("t", "pk", None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let result = runtime.block_on(decrypt_item(
        &item,
        &context,
        &AttributeActions::default(),
        &provider,
    ));
    assert!(result.is_err(), "a forged item decrypted");
});
