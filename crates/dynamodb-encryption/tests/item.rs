//! The item encryptor over the static provider: what gets encrypted, signed or left alone,
//! the reserved names, and the compatibility fallbacks of verification.
#![allow(clippy::unwrap_used)]

mod support;

use dynamodb_encryption::providers::StaticProvider;
use dynamodb_encryption::serialize::Dialect;
use dynamodb_encryption::{
    Action, Attribute, AttributeActions, EncryptionContext, Error, Item,
    MATERIAL_DESCRIPTION_ATTRIBUTE, SIGNATURE_ATTRIBUTE, SigningKey, SymmetricKey, decrypt_item,
    encrypt_item, material_description, signature,
};

fn provider() -> StaticProvider {
    StaticProvider::new(
        Some(SymmetricKey::new((0u8..16).collect::<Vec<_>>())),
        SigningKey::hmac_sha256((0u8..8).collect::<Vec<_>>()),
        Default::default(),
    )
}

fn context() -> EncryptionContext {
    EncryptionContext::new("TableName", "pk", Some("sk"))
}

fn item() -> Item {
    support::item_of([
        ("pk", Attribute::S("key".into())),
        ("sk", Attribute::N("7.0".into())),
        ("secret", Attribute::S("hello".into())),
        ("signed", Attribute::Ns(vec!["1.50".into(), "-0".into()])),
        ("loose", Attribute::Bool(true)),
    ])
}

fn actions() -> AttributeActions {
    AttributeActions::default()
        .with_action("signed", Action::SignOnly)
        .unwrap()
        .with_action("loose", Action::DoNothing)
        .unwrap()
}

#[tokio::test]
async fn encrypts_signs_and_round_trips() {
    let stored = encrypt_item(&item(), &context(), &actions(), &provider())
        .await
        .unwrap();
    // Keys are signed only (and numbers stored canonical); the rest per the actions.
    assert_eq!(stored["pk"], Attribute::S("key".into()));
    assert_eq!(stored["sk"], Attribute::N("7".into()));
    assert!(matches!(&stored["secret"], Attribute::B(b) if b.len() == 32));
    assert_eq!(
        stored["signed"],
        Attribute::Ns(vec!["1.5".into(), "0".into()])
    );
    assert_eq!(stored["loose"], Attribute::Bool(true));
    let Attribute::B(sig) = &stored[SIGNATURE_ATTRIBUTE] else {
        panic!("no signature")
    };
    assert_eq!(sig.len(), 32);
    let Attribute::B(desc) = &stored[MATERIAL_DESCRIPTION_ATTRIBUTE] else {
        panic!("no description")
    };
    let desc = material_description::parse(desc).unwrap();
    assert_eq!(desc["amzn-ddb-map-sym-mode"], "/CBC/PKCS5Padding");
    assert_eq!(desc["amzn-ddb-map-signingAlg"], "HmacSHA256");

    let back = decrypt_item(&stored, &context(), &actions(), &provider())
        .await
        .unwrap();
    assert_eq!(back["secret"], Attribute::S("hello".into()));
    assert_eq!(back["sk"], Attribute::N("7".into()));
    assert!(!back.contains_key(SIGNATURE_ATTRIBUTE));
    assert!(!back.contains_key(MATERIAL_DESCRIPTION_ATTRIBUTE));

    // DO_NOTHING attributes may change freely; anything signed may not.
    let mut loose_changed = stored.clone();
    loose_changed.insert("loose".into(), Attribute::Bool(false));
    loose_changed.insert("added".into(), Attribute::Null);
    let actions_with_added = actions().with_action("added", Action::DoNothing).unwrap();
    decrypt_item(&loose_changed, &context(), &actions_with_added, &provider())
        .await
        .unwrap();
    let mut dropped = stored.clone();
    dropped.remove("signed");
    assert!(matches!(
        decrypt_item(&dropped, &context(), &actions(), &provider()).await,
        Err(Error::SignatureMismatch)
    ));
    let other_table = EncryptionContext::new("OtherTable", "pk", Some("sk"));
    assert!(matches!(
        decrypt_item(&stored, &other_table, &actions(), &provider()).await,
        Err(Error::SignatureMismatch)
    ));
}

#[test]
fn context_debug_shows_no_values() {
    let mut context = context();
    context.attributes = item();
    let shown = format!("{context:?}");
    assert!(shown.contains("secret"), "{shown}");
    assert!(!shown.contains("hello"), "{shown}");
}

#[tokio::test]
async fn reserved_attributes_renamed_as_java_allows() {
    let renamed = actions().with_reserved_names("sig", "desc").unwrap();
    let stored = encrypt_item(&item(), &context(), &renamed, &provider())
        .await
        .unwrap();
    assert!(matches!(stored.get("sig"), Some(Attribute::B(s)) if s.len() == 32));
    assert!(matches!(stored.get("desc"), Some(Attribute::B(_))));
    assert!(!stored.contains_key(SIGNATURE_ATTRIBUTE));
    assert!(!stored.contains_key(MATERIAL_DESCRIPTION_ATTRIBUTE));
    let back = decrypt_item(&stored, &context(), &renamed, &provider())
        .await
        .unwrap();
    assert_eq!(back["secret"], item()["secret"]);
    // A reader with the default names finds no signature.
    assert!(matches!(
        decrypt_item(&stored, &context(), &actions(), &provider()).await,
        Err(Error::Malformed(_))
    ));
    // With other names, the default names are ordinary attributes: encrypted and signed.
    let mut with_default_name = item();
    with_default_name.insert(SIGNATURE_ATTRIBUTE.into(), Attribute::S("plain".into()));
    let stored = encrypt_item(&with_default_name, &context(), &renamed, &provider())
        .await
        .unwrap();
    assert!(matches!(&stored[SIGNATURE_ATTRIBUTE], Attribute::B(b) if b.len() >= 32));
    let mut changed = stored.clone();
    changed.insert(SIGNATURE_ATTRIBUTE.into(), Attribute::B(vec![0; 32]));
    assert!(matches!(
        decrypt_item(&changed, &context(), &renamed, &provider()).await,
        Err(Error::SignatureMismatch)
    ));
    // The new names are reserved in turn; names must be distinct and free of actions.
    let mut with_new_name = item();
    with_new_name.insert("sig".into(), Attribute::S("x".into()));
    assert!(matches!(
        encrypt_item(&with_new_name, &context(), &renamed, &provider()).await,
        Err(Error::ReservedAttribute(name)) if name == "sig"
    ));
    assert!(
        renamed
            .clone()
            .with_action("desc", Action::SignOnly)
            .is_err()
    );
    assert!(actions().with_reserved_names("same", "same").is_err());
    assert!(actions().with_reserved_names("signed", "desc").is_err());
}

#[tokio::test]
async fn reserved_names_and_nothing_to_do() {
    for reserved in [SIGNATURE_ATTRIBUTE, MATERIAL_DESCRIPTION_ATTRIBUTE] {
        let mut with_reserved = item();
        with_reserved.insert(reserved.into(), Attribute::B(vec![1]));
        assert!(matches!(
            encrypt_item(&with_reserved, &context(), &actions(), &provider()).await,
            Err(Error::ReservedAttribute(_))
        ));
    }
    // All DO_NOTHING: copied untouched, nothing added, and read back as is.
    let nothing = AttributeActions::new(Action::DoNothing);
    let stored = encrypt_item(&item(), &context(), &nothing, &provider())
        .await
        .unwrap();
    assert_eq!(stored, item());
    assert_eq!(
        decrypt_item(&stored, &context(), &nothing, &provider())
            .await
            .unwrap(),
        item()
    );
    // Otherwise an unsigned item is refused.
    assert!(matches!(
        decrypt_item(&item(), &context(), &actions(), &provider()).await,
        Err(Error::Malformed(_))
    ));
    // An explicit request to encrypt a key attribute is a configuration error.
    let encrypt_pk = AttributeActions::default()
        .with_action("pk", Action::EncryptAndSign)
        .unwrap();
    assert!(matches!(
        encrypt_item(&item(), &context(), &encrypt_pk, &provider()).await,
        Err(Error::InvalidConfiguration(_))
    ));
}

/// Signs `item` (no encrypted attributes) as one library would, in that library's rendering.
fn signed_as(item: &Item, actions: &AttributeActions, dialect: Dialect) -> Item {
    let to_sign =
        signature::string_to_sign_as(Some("TableName"), item, |n| actions.action(n), dialect)
            .unwrap();
    let sig = dynamodb_encryption::attribute_crypto::hmac_sign(
        "HmacSHA256",
        &(0u8..8).collect::<Vec<_>>(),
        &to_sign,
    )
    .unwrap();
    let mut stored = item.clone();
    stored.insert(SIGNATURE_ATTRIBUTE.into(), Attribute::B(sig));
    stored
}

#[tokio::test]
async fn verification_falls_back_to_python_and_java_renderings() {
    let sign_all = AttributeActions::new(Action::SignOnly);
    let cases: [(&str, Attribute, Dialect); 3] = [
        ("python -0", Attribute::N("-0".into()), Dialect::Python),
        (
            "java binary set order",
            Attribute::Bs(vec![vec![0x80], vec![0x01]]),
            Dialect::Java,
        ),
        (
            "java string order",
            Attribute::Ss(vec!["\u{1F600}".into(), "\u{FF61}".into()]),
            Dialect::Java,
        ),
    ];
    // Attribute names in Java's UTF-16 order: the signature covers names in that order.
    let mut java_names = item();
    java_names.insert("\u{1F600}".into(), Attribute::Null);
    java_names.insert("\u{FF61}".into(), Attribute::Null);
    let stored = signed_as(&java_names, &sign_all, Dialect::Java);
    assert_ne!(
        signature::string_to_sign(Some("TableName"), &java_names, |n| sign_all.action(n)).unwrap(),
        signature::string_to_sign_as(
            Some("TableName"),
            &java_names,
            |n| sign_all.action(n),
            Dialect::Java
        )
        .unwrap()
    );
    assert_eq!(
        decrypt_item(&stored, &context(), &sign_all, &provider())
            .await
            .unwrap(),
        java_names
    );
    for (what, value, dialect) in cases {
        let mut plain = item();
        plain.insert("odd".into(), value);
        let stored = signed_as(&plain, &sign_all, dialect);
        // The standard rendering alone would not verify...
        let standard =
            signature::string_to_sign(Some("TableName"), &plain, |n| sign_all.action(n)).unwrap();
        let dialect_bytes = signature::string_to_sign_as(
            Some("TableName"),
            &plain,
            |n| sign_all.action(n),
            dialect,
        )
        .unwrap();
        assert_ne!(standard, dialect_bytes, "{what}");
        // ...the fallback does.
        let back = decrypt_item(&stored, &context(), &sign_all, &provider())
            .await
            .unwrap();
        assert_eq!(back, plain, "{what}");
    }
}
