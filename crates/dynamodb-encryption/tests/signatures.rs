//! The Java-only signature pieces: ECDSA (DER, as JCA writes it) and SHA224withRSA in the
//! Static and Wrapped providers, the signature algorithm a Java reader takes from the
//! item's description, and Java's configurable description-key prefix.
#![allow(clippy::unwrap_used)]

mod support;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair as _};
use dynamodb_encryption::keys::{EcCurve, SigningKey, SymmetricKey, VerificationKey};
use dynamodb_encryption::providers::{StaticProvider, UnwrappingKey, WrappedProvider, WrappingKey};
use dynamodb_encryption::signature::string_to_sign;
use dynamodb_encryption::{
    Action, Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext, Error,
    Item, MATERIAL_DESCRIPTION_ATTRIBUTE, SIGNATURE_ATTRIBUTE, decrypt_item, encrypt_item,
    material_description,
};
use std::collections::BTreeMap;
use support::{item_of, rsa_key};

/// A fresh EC key: (PKCS#8 private, SubjectPublicKeyInfo public).
fn ec_key(alg: &'static sig::EcdsaSigningAlgorithm) -> (Vec<u8>, Vec<u8>) {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
    let spki = pair.public_key().as_der().unwrap().as_ref().to_vec();
    (pkcs8.as_ref().to_vec(), spki)
}

fn context() -> EncryptionContext {
    EncryptionContext::new("Signed", "pk", Some("sk"))
}

fn plaintext() -> Item {
    item_of([
        ("pk", Attribute::S("p-1".into())),
        ("sk", Attribute::N("3".into())),
        ("secret", Attribute::S("only for the reader".into())),
        ("note", Attribute::S("signed, readable".into())),
    ])
}

fn actions() -> AttributeActions {
    AttributeActions::default()
        .with_action("note", Action::SignOnly)
        .unwrap()
}

fn description(stored: &Item, actions: &AttributeActions) -> BTreeMap<String, String> {
    match &stored[actions.description_attribute()] {
        Attribute::B(bytes) => material_description::parse(bytes).unwrap(),
        other => panic!("description is {other:?}"),
    }
}

fn signature(stored: &Item) -> Vec<u8> {
    match &stored[SIGNATURE_ATTRIBUTE] {
        Attribute::B(bytes) => bytes.clone(),
        other => panic!("signature is {other:?}"),
    }
}

/// Reads one DER INTEGER (tag 02, short length, minimal two's-complement positive).
fn der_integer(bytes: &[u8]) -> (&[u8], &[u8]) {
    assert_eq!(bytes[0], 0x02, "INTEGER tag");
    let len = usize::from(bytes[1]);
    assert!(len < 0x80, "short-form length");
    let value = &bytes[2..2 + len];
    assert!(value[0] & 0x80 == 0, "a positive integer");
    assert!(
        value[0] != 0 || value.get(1).is_some_and(|b| b & 0x80 != 0),
        "no superfluous leading zero"
    );
    (value, &bytes[2 + len..])
}

/// Checks `SEQUENCE { INTEGER r, INTEGER s }` in DER (X.690) as JCA writes ECDSA
/// signatures, with r and s no longer than the curve order; the long length form appears
/// only for P-521, whose sequence can exceed 127 bytes.
fn assert_der_ecdsa(signature: &[u8], order_bytes: usize) {
    assert_eq!(signature[0], 0x30, "SEQUENCE tag");
    let (len, body) = match signature[1] {
        0x81 => (usize::from(signature[2]), &signature[3..]),
        short if short < 0x80 => (usize::from(short), &signature[2..]),
        other => panic!("length byte {other:#x}"),
    };
    assert_eq!(len, body.len(), "sequence length covers the rest");
    let (r, rest) = der_integer(body);
    let (s, rest) = der_integer(rest);
    assert!(rest.is_empty());
    for n in [r, s] {
        let significant = n.iter().skip_while(|b| **b == 0).count();
        assert!(significant <= order_bytes, "{significant} > {order_bytes}");
    }
}

async fn round_trip<E, D>(writer: &E, reader: &D, actions: &AttributeActions) -> Item
where
    E: CryptographicMaterialsProvider,
    D: CryptographicMaterialsProvider,
{
    let stored = encrypt_item(&plaintext(), &context(), actions, writer)
        .await
        .unwrap();
    assert!(matches!(stored["secret"], Attribute::B(_)));
    assert_eq!(stored["note"], plaintext()["note"]);
    assert_eq!(
        decrypt_item(&stored, &context(), actions, reader)
            .await
            .unwrap(),
        plaintext()
    );
    // A changed signed attribute no longer verifies.
    let mut tampered = stored.clone();
    tampered.insert("note".into(), Attribute::S("changed".into()));
    assert!(matches!(
        decrypt_item(&tampered, &context(), actions, reader).await,
        Err(Error::SignatureMismatch)
    ));
    stored
}

/// The curve's key generator (any of its signers makes the same kind of key) and the byte
/// length of its order.
fn curves() -> [(EcCurve, &'static sig::EcdsaSigningAlgorithm, usize); 3] {
    [
        (EcCurve::P256, &sig::ECDSA_P256_SHA256_ASN1_SIGNING, 32),
        (EcCurve::P384, &sig::ECDSA_P384_SHA384_ASN1_SIGNING, 48),
        (EcCurve::P521, &sig::ECDSA_P521_SHA512_ASN1_SIGNING, 66),
    ]
}

const ECDSA_ALGORITHMS: [&str; 3] = ["SHA256withECDSA", "SHA384withECDSA", "SHA512withECDSA"];

/// All nine hash/curve pairs Java allows sign and verify, in both providers; four of them
/// (P-256 with SHA-384/512, P-384 with SHA-256/512) sign a digest, since aws-lc-rs has no
/// signer for them.
#[tokio::test]
async fn ecdsa_round_trips_all_nine_pairs_in_static_and_wrapped_providers() {
    let mut pairs = 0;
    for (curve, key_alg, order_bytes) in curves() {
        let (private, public) = ec_key(key_alg);
        for algorithm in ECDSA_ALGORITHMS {
            let signing = SigningKey::ecdsa_from_pkcs8(algorithm, &private).unwrap();
            let verification = VerificationKey::ecdsa_from_der(algorithm, &public).unwrap();
            assert!(matches!(
                &verification,
                VerificationKey::Ecdsa { curve: c, .. } if *c == curve
            ));
            let static_writer = StaticProvider::new(
                Some(SymmetricKey::new([7u8; 32])),
                signing.clone(),
                BTreeMap::new(),
            );
            let static_reader = StaticProvider::decrypt_only(
                Some(SymmetricKey::new([7u8; 32])),
                verification.clone(),
            );
            let wrapping = SymmetricKey::new([8u8; 32]);
            let wrapped_writer = WrappedProvider::new(
                Some(WrappingKey::Aes(wrapping.clone())),
                None,
                Some(signing.clone()),
                None,
            );
            let wrapped_reader = WrappedProvider::new(
                None,
                Some(UnwrappingKey::Aes(wrapping)),
                None,
                Some(verification),
            );
            for stored in [
                round_trip(&static_writer, &static_reader, &actions()).await,
                round_trip(&wrapped_writer, &wrapped_reader, &actions()).await,
            ] {
                // Java picks the signature algorithm from this entry (reference §5.2).
                let desc = description(&stored, &actions());
                assert_eq!(desc["amzn-ddb-map-signingAlg"], algorithm);
                assert_der_ecdsa(&signature(&stored), order_bytes);
            }
            // The signing key's own verification key (an uncompressed point) verifies too.
            let own = StaticProvider::decrypt_only(
                Some(SymmetricKey::new([7u8; 32])),
                signing.verification_key(),
            );
            round_trip(&static_writer, &own, &actions()).await;
            pairs += 1;
        }
    }
    assert_eq!(pairs, 9);
}

/// Each pair's signature is over its own hash: relabelled with either other hash of the
/// family, it no longer verifies (so a prehashed pair did not fall back to the curve's
/// natural hash), and an independent aws-lc verifier of the pair accepts it.
#[tokio::test]
async fn ecdsa_signatures_are_over_the_named_hash() {
    let verifier = |curve: EcCurve, algorithm: &str| -> &'static sig::EcdsaVerificationAlgorithm {
        match (curve, algorithm) {
            (EcCurve::P256, "SHA256withECDSA") => &sig::ECDSA_P256_SHA256_ASN1,
            (EcCurve::P256, "SHA384withECDSA") => &sig::ECDSA_P256_SHA384_ASN1,
            (EcCurve::P256, _) => &sig::ECDSA_P256_SHA512_ASN1,
            (EcCurve::P384, "SHA256withECDSA") => &sig::ECDSA_P384_SHA256_ASN1,
            (EcCurve::P384, "SHA384withECDSA") => &sig::ECDSA_P384_SHA384_ASN1,
            (EcCurve::P384, _) => &sig::ECDSA_P384_SHA512_ASN1,
            (_, "SHA256withECDSA") => &sig::ECDSA_P521_SHA256_ASN1,
            (_, "SHA384withECDSA") => &sig::ECDSA_P521_SHA384_ASN1,
            (_, _) => &sig::ECDSA_P521_SHA512_ASN1,
        }
    };
    let signed_only = AttributeActions::new(Action::SignOnly);
    for (curve, key_alg, _) in curves() {
        let (private, public) = ec_key(key_alg);
        for algorithm in ECDSA_ALGORITHMS {
            let signing = SigningKey::ecdsa_from_pkcs8(algorithm, &private).unwrap();
            let writer = StaticProvider::new(None, signing, BTreeMap::new());
            let stored = encrypt_item(&plaintext(), &context(), &signed_only, &writer)
                .await
                .unwrap();
            // The signature over the item's string to sign, checked by aws-lc's verifier
            // of the pair alone.
            let mut signed = stored.clone();
            signed.remove(SIGNATURE_ATTRIBUTE);
            signed.remove(MATERIAL_DESCRIPTION_ATTRIBUTE);
            let to_sign = string_to_sign(Some("Signed"), &signed, |_| Action::SignOnly).unwrap();
            sig::UnparsedPublicKey::new(verifier(curve, algorithm), &public)
                .verify(&to_sign, &signature(&stored))
                .unwrap_or_else(|_| panic!("{algorithm} on {curve}"));
            for other in ECDSA_ALGORITHMS.into_iter().filter(|a| *a != algorithm) {
                let mut relabelled = stored.clone();
                let mut desc = description(&stored, &signed_only);
                desc.insert("amzn-ddb-map-signingAlg".into(), other.into());
                relabelled.insert(
                    MATERIAL_DESCRIPTION_ATTRIBUTE.into(),
                    Attribute::B(material_description::serialize(&desc)),
                );
                let reader = StaticProvider::decrypt_only(
                    None,
                    VerificationKey::ecdsa_from_der(algorithm, &public).unwrap(),
                );
                assert!(
                    matches!(
                        decrypt_item(&relabelled, &context(), &signed_only, &reader).await,
                        Err(Error::SignatureMismatch)
                    ),
                    "{algorithm} on {curve} verified as {other}"
                );
            }
        }
    }
}

#[test]
fn ecdsa_algorithms_outside_the_nine_pairs_are_refused() {
    let (p256, _) = ec_key(&sig::ECDSA_P256_SHA256_ASN1_SIGNING);
    for bad in ["SHA1withECDSA", "SHA224withECDSA", "SHA256withRSA", "ECDSA"] {
        assert!(matches!(
            SigningKey::ecdsa_from_pkcs8(bad, &p256),
            Err(Error::UnsupportedAlgorithm(_))
        ));
    }
    // An RSA key is no EC key.
    let (rsa_private, rsa_public) = rsa_key();
    assert!(SigningKey::ecdsa_from_pkcs8("SHA256withECDSA", rsa_private).is_err());
    assert!(VerificationKey::ecdsa_from_der("SHA256withECDSA", rsa_public).is_err());
}

#[tokio::test]
async fn sha224_with_rsa_round_trips_in_static_and_wrapped_providers() {
    let (private, public) = rsa_key();
    let signing = SigningKey::rsa_from_pkcs8("SHA224withRSA", private).unwrap();
    let verification = VerificationKey::rsa_from_der("SHA224withRSA", public).unwrap();
    let static_writer = StaticProvider::new(
        Some(SymmetricKey::new([9u8; 16])),
        signing.clone(),
        BTreeMap::new(),
    );
    let static_reader =
        StaticProvider::decrypt_only(Some(SymmetricKey::new([9u8; 16])), verification.clone());
    let wrapped_writer = WrappedProvider::new(
        Some(WrappingKey::rsa_from_der(public).unwrap()),
        None,
        Some(signing),
        None,
    );
    let wrapped_reader = WrappedProvider::new(
        None,
        Some(UnwrappingKey::rsa_from_pkcs8(private).unwrap()),
        None,
        Some(verification),
    );
    for stored in [
        round_trip(&static_writer, &static_reader, &actions()).await,
        round_trip(&wrapped_writer, &wrapped_reader, &actions()).await,
    ] {
        assert_eq!(
            description(&stored, &actions())["amzn-ddb-map-signingAlg"],
            "SHA224withRSA"
        );
        assert_eq!(signature(&stored).len(), 256, "one RSA-2048 block");
    }
    // Relabelled SHA256withRSA, the SHA-224 signature fails: the reader follows the
    // description, and the two hashes are not interchangeable.
    let stored = encrypt_item(&plaintext(), &context(), &actions(), &static_writer)
        .await
        .unwrap();
    let mut relabelled = stored.clone();
    let mut desc = description(&stored, &actions());
    desc.insert("amzn-ddb-map-signingAlg".into(), "SHA256withRSA".into());
    relabelled.insert(
        MATERIAL_DESCRIPTION_ATTRIBUTE.into(),
        Attribute::B(material_description::serialize(&desc)),
    );
    assert!(matches!(
        decrypt_item(&relabelled, &context(), &actions(), &static_reader).await,
        Err(Error::SignatureMismatch)
    ));
}

/// As Java, an asymmetric reader follows the algorithm the item's description names when
/// it is of the key's kind, and otherwise keeps its own (as Python always does).
#[tokio::test]
async fn asymmetric_readers_follow_the_described_algorithm() {
    let (private, public) = rsa_key();
    let sha384 = SigningKey::rsa_from_pkcs8("SHA384withRSA", private).unwrap();
    let writer = StaticProvider::new(None, sha384, BTreeMap::new());
    let signed_only = AttributeActions::new(Action::SignOnly);
    let stored = encrypt_item(&plaintext(), &context(), &signed_only, &writer)
        .await
        .unwrap();
    // Configured for SHA256withRSA, the reader verifies with the described SHA384withRSA.
    let reader = StaticProvider::decrypt_only(None, VerificationKey::rsa_sha256_from_der(public));
    assert_eq!(
        decrypt_item(&stored, &context(), &signed_only, &reader)
            .await
            .unwrap(),
        plaintext()
    );
    // A description naming an algorithm of another kind is ignored: SHA256 is then used.
    let mut other_kind = stored.clone();
    let mut desc = description(&stored, &signed_only);
    desc.insert("amzn-ddb-map-signingAlg".into(), "SHA384withECDSA".into());
    other_kind.insert(
        MATERIAL_DESCRIPTION_ATTRIBUTE.into(),
        Attribute::B(material_description::serialize(&desc)),
    );
    assert!(matches!(
        decrypt_item(&other_kind, &context(), &signed_only, &reader).await,
        Err(Error::SignatureMismatch)
    ));
    // An RSA algorithm this crate does not implement fails closed.
    desc.insert("amzn-ddb-map-signingAlg".into(), "SHA1withRSA".into());
    other_kind.insert(
        MATERIAL_DESCRIPTION_ATTRIBUTE.into(),
        Attribute::B(material_description::serialize(&desc)),
    );
    assert!(matches!(
        decrypt_item(&other_kind, &context(), &signed_only, &reader).await,
        Err(Error::UnsupportedAlgorithm(_))
    ));
}

#[tokio::test]
async fn a_custom_description_prefix_names_the_encryptors_keys() {
    let provider = support::static_provider();
    let prefixed = actions().with_description_prefix("custom-prefix-");
    assert_eq!(prefixed.description_prefix(), "custom-prefix-");
    let stored = round_trip(&provider, &provider, &prefixed).await;
    let desc = description(&stored, &prefixed);
    assert_eq!(
        desc.keys().collect::<Vec<_>>(),
        ["custom-prefix-signingAlg", "custom-prefix-sym-mode"]
    );
    assert_eq!(desc["custom-prefix-sym-mode"], "/CBC/PKCS5Padding");
    // A reader with the default prefix finds no cipher mode, as Java's would not.
    assert!(matches!(
        decrypt_item(&stored, &context(), &actions(), &provider).await,
        Err(Error::Malformed(_))
    ));
    // The default is Java's `amzn-ddb-map-`.
    assert_eq!(
        AttributeActions::default().description_prefix(),
        "amzn-ddb-map-"
    );
    let default = encrypt_item(&plaintext(), &context(), &actions(), &provider)
        .await
        .unwrap();
    assert!(description(&default, &actions()).contains_key("amzn-ddb-map-sym-mode"));
}
