//! Random items through encrypt and decrypt with each provider and random actions: the
//! plaintext comes back (canonicalized), signed attributes stay readable, encrypted ones
//! do not.
#![allow(clippy::unwrap_used)]

mod support;

use dynamodb_encryption::{
    Action, Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Item,
    decrypt_item, encrypt_item, serialize,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i32>(), 0u32..6, -20i32..20)
            .prop_map(|(m, zeros, e)| format!("{m}{}E{e}", "0".repeat(zeros as usize))),
        (any::<u32>(), any::<u16>()).prop_map(|(i, f)| format!("{i}.{f:05}")),
    ]
}

fn attribute() -> impl Strategy<Value = Attribute> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Attribute::S),
        number().prop_map(Attribute::N),
        vec(any::<u8>(), 0..40).prop_map(Attribute::B),
        vec(any::<String>(), 1..4).prop_map(Attribute::Ss),
        vec(number(), 1..4).prop_map(Attribute::Ns),
        vec(vec(any::<u8>(), 0..8), 1..4).prop_map(Attribute::Bs),
        any::<bool>().prop_map(Attribute::Bool),
        Just(Attribute::Null),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Attribute::L),
            btree_map(any::<String>(), inner, 0..4).prop_map(Attribute::M),
        ]
    })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::EncryptAndSign),
        Just(Action::SignOnly),
        Just(Action::DoNothing),
    ]
}

/// An item with a partition key and random attributes, each with its own action.
fn case() -> impl Strategy<Value = (Item, AttributeActions)> {
    (
        "[a-z]{1,8}",
        btree_map(
            "[a-zA-Z0-9_\u{e9}\u{1F600}]{1,6}",
            (attribute(), action()),
            0..6,
        ),
        action(),
    )
        .prop_map(|(pk, attrs, default)| {
            let mut item = Item::new();
            item.insert("pk".into(), Attribute::S(pk));
            let mut actions = AttributeActions::new(default);
            for (name, (value, act)) in attrs {
                if name == "pk" {
                    continue;
                }
                actions = actions.with_action(&name, act).unwrap();
                item.insert(name, value);
            }
            (item, actions)
        })
}

fn check<P: CryptographicMaterialsProvider>(provider: &P, item: &Item, actions: &AttributeActions) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let context = EncryptionContext::new("RoundTrip", "pk", None);
    let stored = runtime
        .block_on(encrypt_item(item, &context, actions, provider))
        .unwrap();
    for (name, value) in item {
        let action = if name == "pk" {
            Action::SignOnly
        } else {
            actions.action(name)
        };
        match action {
            Action::EncryptAndSign if !actions.takes_no_action() => {
                assert!(matches!(&stored[name], Attribute::B(b) if b.len() >= 32));
            }
            _ => assert_eq!(
                serialize::serialize(&stored[name]).unwrap(),
                serialize::serialize(value).unwrap()
            ),
        }
    }
    let back = runtime
        .block_on(decrypt_item(&stored, &context, actions, provider))
        .unwrap();
    assert_eq!(back.len(), item.len());
    for (name, value) in item {
        assert_eq!(
            serialize::serialize(&back[name]).unwrap(),
            serialize::serialize(value).unwrap(),
            "{name}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn static_round_trip((item, actions) in case()) {
        check(&support::static_provider(), &item, &actions);
    }

    #[test]
    fn wrapped_aes_round_trip((item, actions) in case()) {
        check(&support::wrapped_aes(), &item, &actions);
    }

    #[test]
    fn wrapped_rsa_round_trip((item, actions) in case()) {
        check(&support::wrapped_rsa(), &item, &actions);
    }

    #[test]
    fn most_recent_round_trip((item, actions) in case()) {
        check(&support::most_recent(), &item, &actions);
    }
}
