//! A stored item with one changed byte in a signed attribute or under another table name
//! fails verification before anything is decrypted; a changed material description never
//! yields different plaintext.
#![allow(clippy::unwrap_used)]

mod support;

use dynamodb_encryption::{
    Action, Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Error,
    Item, MATERIAL_DESCRIPTION_ATTRIBUTE, decrypt_item, encrypt_item,
};

fn plaintext() -> Item {
    support::item_of([
        ("pk", Attribute::S("partition".into())),
        ("sk", Attribute::N("42".into())),
        ("secret", Attribute::S("attack at dawn".into())),
        ("signed", Attribute::S("visible".into())),
        ("count", Attribute::N("12.5".into())),
        ("blob", Attribute::Bs(vec![vec![0xff, 0x00], vec![0x01]])),
    ])
}

fn actions() -> AttributeActions {
    AttributeActions::default()
        .with_action("signed", Action::SignOnly)
        .unwrap()
        .with_action("count", Action::SignOnly)
        .unwrap()
}

/// Every single-byte change of a value's bytes (binary, string or number digits).
fn byte_variants(value: &Attribute) -> Vec<Attribute> {
    match value {
        Attribute::B(b) => (0..b.len())
            .map(|i| {
                let mut changed = b.clone();
                changed[i] ^= 0x01;
                Attribute::B(changed)
            })
            .collect(),
        Attribute::S(s) => (0..s.len())
            .map(|i| {
                let mut bytes = s.clone().into_bytes();
                bytes[i] ^= 0x01;
                Attribute::S(String::from_utf8(bytes).unwrap())
            })
            .collect(),
        // Digits stay digits: 0<->1, 2<->3, ...
        Attribute::N(n) => (0..n.len())
            .filter(|&i| n.as_bytes()[i].is_ascii_digit())
            .map(|i| {
                let mut bytes = n.clone().into_bytes();
                bytes[i] ^= 0x01;
                Attribute::N(String::from_utf8(bytes).unwrap())
            })
            .collect(),
        Attribute::Bs(members) => vec![Attribute::Bs(
            members
                .iter()
                .map(|m| m.iter().map(|b| b ^ 0x80).collect())
                .collect(),
        )],
        other => panic!("no variants for {other:?}"),
    }
}

async fn tampering_is_detected<P: CryptographicMaterialsProvider>(provider: &P) {
    let context = EncryptionContext::new("Table", "pk", Some("sk"));
    let stored = encrypt_item(&plaintext(), &context, &actions(), provider)
        .await
        .unwrap();
    assert!(matches!(stored["secret"], Attribute::B(_)), "encrypted");

    let mut attempts = 0;
    for name in ["pk", "sk", "secret", "signed", "count", "blob"] {
        for variant in byte_variants(&stored[name]) {
            let mut tampered = stored.clone();
            tampered.insert(name.to_owned(), variant);
            let result = decrypt_item(&tampered, &context, &actions(), provider).await;
            assert!(
                matches!(result, Err(Error::SignatureMismatch)),
                "{name}: {result:?}"
            );
            attempts += 1;
        }
    }
    assert!(attempts > 60, "{attempts}");

    for table in ["Tablf", "table", "Table ", "Tabl"] {
        let other = EncryptionContext::new(table, "pk", Some("sk"));
        assert!(matches!(
            decrypt_item(&stored, &other, &actions(), provider).await,
            Err(Error::SignatureMismatch)
        ));
    }

    // The description is not covered by the signature in this format (reference §9.10):
    // a change must either fail (unwrap, verification, parsing) or not matter at all.
    let Attribute::B(description) = &stored[MATERIAL_DESCRIPTION_ATTRIBUTE] else {
        panic!("no description")
    };
    let original = decrypt_item(&stored, &context, &actions(), provider)
        .await
        .unwrap();
    assert_eq!(original["secret"], Attribute::S("attack at dawn".into()));
    let mut failures = 0;
    for i in 0..description.len() {
        let mut changed = description.clone();
        changed[i] ^= 0x01;
        let mut tampered = stored.clone();
        tampered.insert(MATERIAL_DESCRIPTION_ATTRIBUTE.into(), Attribute::B(changed));
        match decrypt_item(&tampered, &context, &actions(), provider).await {
            Ok(item) => assert_eq!(item, original, "byte {i} changed the plaintext"),
            Err(_) => failures += 1,
        }
    }
    assert!(failures > 0);
}

#[tokio::test]
async fn static_provider() {
    tampering_is_detected(&support::static_provider()).await;
}

#[tokio::test]
async fn wrapped_aes_provider() {
    tampering_is_detected(&support::wrapped_aes()).await;
}

#[tokio::test]
async fn wrapped_rsa_provider() {
    tampering_is_detected(&support::wrapped_rsa()).await;
}

#[tokio::test]
async fn most_recent_provider() {
    tampering_is_detected(&support::most_recent()).await;
}
