//! Items laid out as the Java library writes them, built by `tests/java/JavaFormatVectors.java`
//! with the JDK's JCA from the reference's byte-level description (§2-§6): ECDSA signatures
//! as JCA encodes them (DER), SHA224withRSA, static and AESWrap-wrapped materials, and a
//! non-default description prefix. Each verifies and decrypts here, and the JDK's PKCS#8
//! private keys sign new items in every pair.
#![allow(clippy::unwrap_used)]

mod support;

use dynamodb_encryption::keys::{SigningKey, SymmetricKey, VerificationKey};
use dynamodb_encryption::providers::{StaticProvider, UnwrappingKey, WrappedProvider, WrappingKey};
use dynamodb_encryption::{
    Action, Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Error,
    Item, SIGNATURE_ATTRIBUTE, decrypt_item, encrypt_item,
};
use serde_json::Value;
use support::ddb_json;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/java-format.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn actions(case: &Value) -> AttributeActions {
    AttributeActions::default()
        .with_action("note", Action::SignOnly)
        .unwrap()
        .with_description_prefix(case["prefix"].as_str().unwrap())
}

fn verification(case: &Value) -> VerificationKey {
    let algorithm = case["algorithm"].as_str().unwrap();
    let public = ddb_json::bytes(&case["public_key"]);
    if algorithm.ends_with("withECDSA") {
        VerificationKey::ecdsa_from_der(algorithm, &public).unwrap()
    } else {
        VerificationKey::rsa_from_der(algorithm, &public).unwrap()
    }
}

enum Reader {
    Static(StaticProvider),
    Wrapped(WrappedProvider),
}

fn reader(file: &Value, case: &Value, verification: VerificationKey) -> Reader {
    if case["provider"] == "wrapped" {
        let kek = SymmetricKey::new(ddb_json::bytes(&file["wrapping_key"]));
        Reader::Wrapped(WrappedProvider::new(
            None,
            Some(UnwrappingKey::Aes(kek)),
            None,
            Some(verification),
        ))
    } else {
        let aes = SymmetricKey::new(ddb_json::bytes(&file["aes_key"]));
        Reader::Static(StaticProvider::decrypt_only(Some(aes), verification))
    }
}

async fn decrypt<P: CryptographicMaterialsProvider>(
    stored: &Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
    provider: &P,
) -> Result<Item, Error> {
    decrypt_item(stored, context, actions, provider).await
}

async fn read(
    reader: &Reader,
    stored: &Item,
    context: &EncryptionContext,
    a: &AttributeActions,
) -> Result<Item, Error> {
    match reader {
        Reader::Static(p) => decrypt(stored, context, a, p).await,
        Reader::Wrapped(p) => decrypt(stored, context, a, p).await,
    }
}

#[tokio::test]
async fn java_laid_out_items_verify_and_decrypt() {
    let file = vectors();
    let context =
        EncryptionContext::new(file["table"].as_str().unwrap(), "hashKey", Some("rangeKey"));
    let cases = file["items"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    let mut signed_again = 0;
    for case in cases {
        let what = format!(
            "{} on {} ({}, prefix {})",
            case["algorithm"], case["curve"], case["provider"], case["prefix"]
        );
        let stored = ddb_json::item(&case["item"]);
        let actions = actions(case);
        let reader = reader(&file, case, verification(case));
        let got = read(&reader, &stored, &context, &actions)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            got["secret"],
            Attribute::S(case["secret"].as_str().unwrap().into()),
            "{what}"
        );
        assert_eq!(
            got["note"],
            Attribute::S("signed, not encrypted".into()),
            "{what}"
        );
        assert_eq!(got["hashKey"], Attribute::N("5".into()), "{what}");

        // One bit of the JCA signature changed: no longer verifies.
        let mut tampered = stored.clone();
        if let Some(Attribute::B(sig)) = tampered.get_mut(SIGNATURE_ATTRIBUTE) {
            let last = sig.len() - 1;
            sig[last] ^= 1;
        }
        assert!(
            matches!(
                read(&reader, &tampered, &context, &actions).await,
                Err(Error::SignatureMismatch)
            ),
            "{what}"
        );

        // The JDK's PKCS#8 key signs new items (all pairs; four of them sign a digest).
        let algorithm = case["algorithm"].as_str().unwrap();
        let private = ddb_json::bytes(&case["private_key"]);
        let signing = if algorithm.ends_with("withECDSA") {
            SigningKey::ecdsa_from_pkcs8(algorithm, &private)
        } else {
            SigningKey::rsa_from_pkcs8(algorithm, &private)
        };
        let signing = signing.unwrap_or_else(|e| panic!("{what}: {e}"));
        let writer = match case["provider"].as_str().unwrap() {
            "wrapped" => Reader::Wrapped(WrappedProvider::new(
                Some(WrappingKey::Aes(SymmetricKey::new(ddb_json::bytes(
                    &file["wrapping_key"],
                )))),
                None,
                Some(signing),
                None,
            )),
            _ => Reader::Static(StaticProvider::new(
                Some(SymmetricKey::new(ddb_json::bytes(&file["aes_key"]))),
                signing,
                Default::default(),
            )),
        };
        let again = match &writer {
            Reader::Static(p) => encrypt_item(&got, &context, &actions, p).await,
            Reader::Wrapped(p) => encrypt_item(&got, &context, &actions, p).await,
        }
        .unwrap();
        assert_eq!(
            read(&reader, &again, &context, &actions).await.unwrap(),
            got,
            "{what}"
        );
        signed_again += 1;
    }
    assert_eq!(signed_again, 10);
}
