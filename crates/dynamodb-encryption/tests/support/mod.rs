//! Keys and providers shared by the integration tests.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use dynamodb_encryption::keys::{SigningKey, SymmetricKey, VerificationKey};
use dynamodb_encryption::providers::{
    InMemoryMetaStore, MostRecentProvider, ProviderStoreRows, StaticProvider, UnwrappingKey,
    WrappedProvider, WrappingKey,
};
use dynamodb_encryption::{Attribute, Item};
use std::sync::OnceLock;
use std::time::Duration;

/// An item from (name, value) pairs.
pub fn item_of<const N: usize>(pairs: [(&str, Attribute); N]) -> Item {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// One RSA-2048 key pair per test binary: (PKCS#8 private, SubjectPublicKeyInfo public).
pub fn rsa_key() -> &'static (Vec<u8>, Vec<u8>) {
    static KEY: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .unwrap()
            .as_ref()
            .to_vec();
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec();
        (private, public)
    })
}

pub fn static_provider() -> StaticProvider {
    StaticProvider::new(
        Some(SymmetricKey::new([3u8; 16])),
        SigningKey::hmac_sha256([4u8; 8]),
        Default::default(),
    )
}

pub fn wrapped_aes() -> WrappedProvider {
    WrappedProvider::aes_hmac(SymmetricKey::new([5u8; 32]), SymmetricKey::new([6u8; 32]))
}

pub fn wrapped_rsa() -> WrappedProvider {
    let (private, public) = rsa_key();
    WrappedProvider::new(
        Some(WrappingKey::rsa_from_der(public).unwrap()),
        Some(UnwrappingKey::rsa_from_pkcs8(private).unwrap()),
        Some(SigningKey::rsa_sha256_from_pkcs8(private).unwrap()),
        Some(VerificationKey::rsa_sha256_from_der(public)),
    )
}

pub fn most_recent() -> MostRecentProvider<InMemoryMetaStore<StaticProvider>> {
    let store = InMemoryMetaStore::new(ProviderStoreRows::new("metastore", static_provider()));
    MostRecentProvider::new(store, "material", Duration::from_secs(60))
}

pub mod ddb_json;
#[cfg(all(feature = "kms", feature = "dynamodb"))]
pub mod server;
