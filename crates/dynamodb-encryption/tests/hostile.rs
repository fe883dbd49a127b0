//! Malformed stored data never panics: random bytes as serialized values, descriptions,
//! encrypted attributes and wrapped keys all come back as errors (or, for bytes that
//! happen to be well-formed, as values).
#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dynamodb_encryption::attribute_crypto::decrypt_attribute;
use dynamodb_encryption::{
    Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Error, Item,
    MATERIAL_DESCRIPTION_ATTRIBUTE, decrypt_item, encrypt_item, material_description, serialize,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// A real stored item whose description has `entry` set to `value`.
fn with_description_entry<P: CryptographicMaterialsProvider>(
    provider: &P,
    entry: &str,
    value: &str,
) -> Result<Item, Error> {
    let rt = runtime();
    let context = EncryptionContext::new("T", "pk", None);
    let item: Item = [
        ("pk".to_owned(), Attribute::S("k".into())),
        ("v".to_owned(), Attribute::S("secret".into())),
    ]
    .into_iter()
    .collect();
    let actions = AttributeActions::default();
    let mut stored = rt.block_on(encrypt_item(&item, &context, &actions, provider))?;
    let Attribute::B(desc) = &stored[MATERIAL_DESCRIPTION_ATTRIBUTE] else {
        panic!("no description")
    };
    let mut desc = material_description::parse(desc).unwrap();
    desc.insert(entry.to_owned(), value.to_owned());
    stored.insert(
        MATERIAL_DESCRIPTION_ATTRIBUTE.into(),
        Attribute::B(material_description::serialize(&desc)),
    );
    rt.block_on(decrypt_item(&stored, &context, &actions, provider))
}

proptest! {
    #[test]
    fn random_bytes_do_not_panic_the_decoders(bytes in vec(any::<u8>(), 0..200)) {
        let _ = serialize::deserialize(&bytes);
        let _ = material_description::parse(&bytes);
        let _ = decrypt_attribute(&[7u8; 16], &bytes);
        let _ = decrypt_attribute(&[7u8; 32], &bytes);
    }

    #[test]
    fn random_wrapped_keys_are_errors(bytes in vec(any::<u8>(), 0..300)) {
        let key = B64.encode(&bytes);
        prop_assert!(with_description_entry(&support::wrapped_aes(), "amzn-ddb-env-key", &key).is_err());
        prop_assert!(with_description_entry(&support::wrapped_rsa(), "amzn-ddb-env-key", &key).is_err());
    }

    #[test]
    fn random_description_values_do_not_panic(
        entry in prop_oneof![
            Just("amzn-ddb-env-key"),
            Just("amzn-ddb-env-alg"),
            Just("amzn-ddb-wrap-alg"),
            Just("amzn-ddb-map-sym-mode"),
            Just("amzn-ddb-meta-id"),
        ],
        value in ".{0,40}",
    ) {
        let _ = with_description_entry(&support::wrapped_aes(), entry, &value);
        let _ = with_description_entry(&support::most_recent(), entry, &value);
    }
}
