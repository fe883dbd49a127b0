//! Client-side item encryption, byte-compatible with the legacy AWS DynamoDB Encryption
//! Client for Python (`dynamodb-encryption-sdk` 1.x–3.x) and Java
//! (`aws-dynamodb-encryption-java` 1.x–2.x). The byte format is specified in
//! `../shared/reference/legacy-client-format.md`; this crate stands alone (it depends on no
//! server crate).
//!
//! An item is a map of attribute name to [`Attribute`]. [`encrypt_item`] replaces every
//! ENCRYPT_AND_SIGN attribute with `B(IV ‖ AES-CBC(serialized value))`, signs the table
//! name and every signed attribute, and adds `*amzn-ddb-map-sig*` and
//! `*amzn-ddb-map-desc*`. [`decrypt_item`] verifies the signature first and decrypts only
//! then. Keys come from a [`CryptographicMaterialsProvider`]:
//!
//! | provider | keys | module |
//! |---|---|---|
//! | Static | one AES key + HMAC (or RSA, or ECDSA) key for every item | [`providers::StaticProvider`] |
//! | Wrapped | fresh AES-256 key per item, wrapped with AESWrap or RSA-OAEP | [`providers::WrappedProvider`] |
//! | MostRecent | versioned AES/HMAC pairs in a provider store, cached (LRU, TTL + grace period) | [`providers::MostRecentProvider`] |
//! | DirectKMS | one KMS data key per item, HKDF-derived AES and HMAC keys (feature `kms`) | `kms::DirectKmsProvider` |
//!
//! With the `dynamodb` feature, `dynamodb::EncryptedClient` wraps an
//! `aws_sdk_dynamodb::Client` and `dynamodb::DynamoDbMetaStore` keeps a provider store in a
//! table. Both features are on by default.
//!
//! # Examples
//!
//! Static materials:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> dynamodb_encryption::Result<()> {
//! use dynamodb_encryption::providers::StaticProvider;
//! use dynamodb_encryption::{
//!     Action, Attribute, AttributeActions, EncryptionContext, Item, SigningKey, SymmetricKey,
//!     decrypt_item, encrypt_item,
//! };
//!
//! let provider = StaticProvider::new(
//!     Some(SymmetricKey::new([1u8; 32])),
//!     SigningKey::hmac_sha256([2u8; 32]),
//!     Default::default(),
//! );
//! // The partition (and sort) key is always signed only, never encrypted.
//! let context = EncryptionContext::new("Orders", "id", None);
//! let actions = AttributeActions::default().with_action("status", Action::SignOnly)?;
//! let item: Item = [
//!     ("id", Attribute::S("o-1".into())),
//!     ("card", Attribute::S("4111 1111 1111 1111".into())),
//!     ("status", Attribute::S("paid".into())),
//! ]
//! .into_iter()
//! .map(|(k, v)| (k.to_owned(), v))
//! .collect();
//!
//! let stored = encrypt_item(&item, &context, &actions, &provider).await?;
//! assert!(matches!(stored["card"], Attribute::B(_)));
//! assert_eq!(stored["status"], Attribute::S("paid".into()));
//! assert_eq!(decrypt_item(&stored, &context, &actions, &provider).await?, item);
//! # Ok(())
//! # }
//! ```
//!
//! Wrapped, with an AES wrapping key and an HMAC key, or with an RSA key pair (RSA-OAEP
//! key wrap, `SHA256withRSA` signatures):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
//! use aws_lc_rs::rsa::{KeyPair, KeySize};
//! use dynamodb_encryption::providers::{UnwrappingKey, WrappedProvider, WrappingKey};
//! use dynamodb_encryption::{
//!     Attribute, AttributeActions, EncryptionContext, Item, SigningKey, SymmetricKey,
//!     VerificationKey, decrypt_item, encrypt_item,
//! };
//!
//! let aes = WrappedProvider::aes_hmac(SymmetricKey::new([3u8; 32]), SymmetricKey::new([4u8; 32]));
//!
//! // DER keys as the Python and Java clients take them: PKCS#8 private, SPKI public.
//! let pair = KeyPair::generate(KeySize::Rsa2048)?;
//! let private = AsDer::<Pkcs8V1Der>::as_der(&pair)?.as_ref().to_vec();
//! let public = aws_lc_rs::signature::KeyPair::public_key(&pair).as_der()?.as_ref().to_vec();
//! let rsa = WrappedProvider::new(
//!     Some(WrappingKey::rsa_from_der(&public)?),
//!     Some(UnwrappingKey::rsa_from_pkcs8(&private)?),
//!     Some(SigningKey::rsa_sha256_from_pkcs8(&private)?),
//!     Some(VerificationKey::rsa_sha256_from_der(&public)),
//! );
//!
//! let context = EncryptionContext::new("Users", "user", None);
//! let item: Item = [
//!     ("user".to_owned(), Attribute::S("ada".into())),
//!     ("ssn".to_owned(), Attribute::S("078-05-1120".into())),
//! ]
//! .into_iter()
//! .collect();
//! let actions = AttributeActions::default();
//! for stored in [
//!     encrypt_item(&item, &context, &actions, &aes).await?,
//!     encrypt_item(&item, &context, &actions, &rsa).await?,
//! ] {
//!     let back = match decrypt_item(&stored, &context, &actions, &aes).await {
//!         Ok(back) => back,
//!         Err(_) => decrypt_item(&stored, &context, &actions, &rsa).await?,
//!     };
//!     assert_eq!(back, item);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! MostRecent over a provider store (in memory here; `dynamodb::DynamoDbMetaStore` for a
//! table). The store's rows are themselves encrypted items, protected by their own provider:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> dynamodb_encryption::Result<()> {
//! use dynamodb_encryption::providers::{
//!     InMemoryMetaStore, MostRecentProvider, ProviderStoreRows, WrappedProvider,
//! };
//! use dynamodb_encryption::{
//!     Attribute, AttributeActions, EncryptionContext, Item, SymmetricKey, decrypt_item,
//!     encrypt_item,
//! };
//! use std::time::Duration;
//!
//! let store_provider =
//!     WrappedProvider::aes_hmac(SymmetricKey::new([5u8; 32]), SymmetricKey::new([6u8; 32]));
//! let store = InMemoryMetaStore::new(ProviderStoreRows::new("meta", store_provider));
//! let provider = MostRecentProvider::new(store, "orders", Duration::from_secs(300));
//!
//! let context = EncryptionContext::new("Orders", "id", None);
//! let item: Item = [("id".to_owned(), Attribute::N("7".into()))].into_iter().collect();
//! let actions = AttributeActions::default();
//! let old = encrypt_item(&item, &context, &actions, &provider).await?; // creates version 0
//! assert_eq!(provider.rotate().await?, 1);
//! let new = encrypt_item(&item, &context, &actions, &provider).await?;
//! for stored in [&old, &new] {
//!     assert_eq!(decrypt_item(stored, &context, &actions, &provider).await?, item);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! DirectKMS through the encrypted client (needs a DynamoDB and KMS endpoint, so not run
//! here; `tests/server.rs` runs the same against a sealdb server):
//!
//! ```no_run
//! # #[cfg(all(feature = "kms", feature = "dynamodb"))]
//! # async fn example(
//! #     ddb: aws_sdk_dynamodb::Client,
//! #     kms: aws_sdk_kms::Client,
//! # ) -> dynamodb_encryption::Result<()> {
//! use aws_sdk_dynamodb::types::AttributeValue;
//! use dynamodb_encryption::dynamodb::EncryptedClient;
//! use dynamodb_encryption::kms::DirectKmsProvider;
//! use dynamodb_encryption::{Action, AttributeActions};
//!
//! let provider = DirectKmsProvider::new(kms, "alias/orders");
//! let actions = AttributeActions::default().with_action("status", Action::SignOnly)?;
//! let client = EncryptedClient::new(ddb, provider, actions);
//! // Requests are the SDK's own builders; the items in them are plaintext.
//! client
//!     .put_item(
//!         client
//!             .client()
//!             .put_item()
//!             .table_name("Orders")
//!             .item("id", AttributeValue::S("o-1".into()))
//!             .item("card", AttributeValue::S("4111 1111 1111 1111".into())),
//!     )
//!     .await?;
//! let got = client
//!     .get_item(client.client().get_item().table_name("Orders").key("id", AttributeValue::S("o-1".into())))
//!     .await?;
//! assert_eq!(got.item.unwrap()["card"], AttributeValue::S("4111 1111 1111 1111".into()));
//! # Ok(())
//! # }
//! ```
//!
//! # Compatibility
//!
//! Checked against every offline scenario of the upstream vectors, Python- and Java-written
//! (`tests/encrypted_item_vectors.rs`: 292 items, 288 compared with their plaintext and 4
//! Java items that have none verified and decrypted; the 4 scenarios that need AWS-owned KMS
//! keys are skipped by name); against items laid out as Java writes them, built with the
//! JDK's JCA for ECDSA, SHA224withRSA and a custom description prefix
//! (`tests/java_format.rs`, from `tests/java/JavaFormatVectors.java`); and, through a sealdb
//! server, against the Python `dynamodb-encryption-sdk` 3.3.0 in both directions
//! (`tests/python/test_ddbec_interop.py`).
//!
//! | feature | Python 3.3.0 | Java 2.x | this crate |
//! |---|---|---|---|
//! | Static AES + HMAC / RSA signatures | yes | yes | yes |
//! | Wrapped AESWrap, RSA-OAEP-SHA256 (MGF1-SHA1) | yes | yes | yes |
//! | Wrapped legacy RSA PKCS#1 v1.5 (no `amzn-ddb-wrap-alg`) | no | reads | reads |
//! | MIME base64 (CR/LF) in `amzn-ddb-env-key` | reads | reads | reads |
//! | MostRecent + MetaStore (`N`/`V` table) | yes | yes | yes |
//! | MostRecent cache: LRU of versions (1000 by default) | yes | yes | yes (`with_cache_capacity`) |
//! | MostRecent refresh grace period after the TTL | 0.5 s | no | 0.5 s (`with_grace_period`) |
//! | DirectKMS (KMS context, HKDF) | yes | yes | yes |
//! | HmacSHA224 / SHA224withRSA | yes | yes | yes |
//! | ECDSA (`SHA256/384/512withECDSA`, P-256/384/521, DER) | no | yes | yes (see below) |
//! | reader takes the RSA/ECDSA algorithm from `amzn-ddb-map-signingAlg` | no | yes | yes |
//! | custom reserved attribute names | no | yes | yes (`AttributeActions::with_reserved_names`) |
//! | custom `amzn-ddb-map-` description prefix | no | yes | yes (`AttributeActions::with_description_prefix`) |
//! | `amzn-ddb-env-alg` written as | `AES/256` | `AES` | `AES/256` (reads both) |
//! | `amzn-ddb-map-signingAlg` written for HMAC | yes | no | yes |
//! | UpdateItem / projections in the helper client | refused | n/a (mapper) | refused |
//! | Query / Scan paginators in the helper client | yes | n/a (mapper) | `query_pages`, `scan_pages` |
//!
//! ECDSA keys are PKCS#8 (private) and SubjectPublicKeyInfo (public) DER, as Java's
//! `getEncoded()` gives them; the curve is the key's own. All nine hash/curve pairs
//! sign and verify, as JCA does them:
//!
//! | curve | `SHA256withECDSA` | `SHA384withECDSA` | `SHA512withECDSA` |
//! |---|---|---|---|
//! | P-256 | aws-lc-rs | digest signed | digest signed |
//! | P-384 | digest signed | aws-lc-rs | digest signed |
//! | P-521 | aws-lc-rs | aws-lc-rs | aws-lc-rs |
//!
//! aws-lc-rs has signers only for the pairs so marked; for the four others the named hash
//! is computed and its digest signed by the curve's own aws-lc-rs signer, cut to the
//! order's length as FIPS 186-4 §6.4 says (SHA-384 and SHA-512 to their leftmost 256 bits
//! on P-256; SHA-512 to 384 bits, SHA-256 whole, on P-384), which is what JCA signs.
//! aws-lc-rs verifies all nine itself. A Java writer needs `amzn-ddb-map-signingAlg` in its
//! provider's description to sign with ECDSA; this crate always writes it. SHA224withRSA
//! signs and verifies through the RustCrypto `rsa` crate (aws-lc-rs has no SHA-224 PKCS#1
//! signatures).
//!
//! # Known differences (reference §9)
//!
//! - **Numbers.** Signed numbers are written in Java's canonical form (plain notation, no
//!   trailing zeros, `0` for negative zero) so both libraries render them alike. Python
//!   signs negative zero as `-0` and rounds numbers beyond 28 significant digits; when a
//!   signature does not verify, [`decrypt_item`] retries with Python's rendering. A signed
//!   number of more than 28 significant digits written by this crate (or Java) does not
//!   verify in Python. An *encrypted* number of that size written by Python decrypts to
//!   Python's rounded value, since that is what Python encrypted. A signed `-0` written by
//!   Python verifies nowhere once DynamoDB (or sealdb) has normalized it to `0`.
//! - **Sort orders.** Written in Python's order (unsigned bytes for binary sets, code points
//!   for strings, map keys and attribute names). Java orders binary set members as signed
//!   bytes and strings by UTF-16 units; verification retries in Java's order, but a signed
//!   binary set with a byte ≥ 0x80, or signed strings mixing U+E000–U+FFFF with
//!   supplementary characters, written by this crate will not verify in Java.
//! - **The material description is not signed** (the format's design): tampering with it
//!   shows up only as failed unwrapping, failed verification, or is harmless (entries the
//!   reader ignores, such as `amzn-ddb-map-signingAlg`).
//! - The table name is bound into the signature: an item copied to another table does not
//!   verify unless the old name is given in the [`EncryptionContext`]. An unset table name
//!   signs as Python's `None` (Java signs `null`).
//! - Items written with all actions DO_NOTHING pass through untouched, as in Python.
//! - RSA-OAEP uses the RustCrypto `rsa` crate (aws-lc-rs has no SHA-256/MGF1-SHA-1 OAEP),
//!   and so does SHA224withRSA signing. Unwrapping and signing are blinded, but that
//!   crate's arithmetic is not constant-time (RUSTSEC-2023-0071); prefer AESWrap,
//!   MostRecent or DirectKMS, and SHA-256 or larger RSA signatures (aws-lc-rs), where
//!   timing attacks on the host holding the private key matter.
//! - The signature algorithm named in the (unsigned) description only switches among the
//!   RSA or ECDSA hashes this crate implements for the configured key; an unknown one
//!   fails closed.
//!
//! # Performance
//!
//! `cargo bench -p dynamodb-encryption --bench item` (criterion) times encrypt+sign and
//! verify+decrypt of one ~1 KB item with 10 attributes (S partition key, N sort key, two
//! 100-byte S, N, 300-byte B, SS, M, L, BOOL; everything ENCRYPT_AND_SIGN but the keys)
//! with a Static provider (AES-256 + HMAC-SHA256) and a Wrapped one (AESWrap + HMAC-SHA256).
//! `"$(scripts/python-env)/bin/python" scripts/bench-ddbec-python.py` times the same item,
//! actions and providers with the Python client 3.3.0 (both print the item's size and a
//! fingerprint, to show the items match). Two interleaved rounds on a shared 2-core AMD
//! EPYC VM, 2026-12-01, after the AES key schedule was shared by an item's attributes (Rust
//! 1.95 release build: criterion mean; Python 3.11.7: best of 5 × 2000 calls), µs per item:
//!
//! | operation | Rust | Python | Python / Rust |
//! |---|---|---|---|
//! | encrypt+sign, Static | 13.4 | 212 | 15.8× |
//! | verify+decrypt, Static | 6.3 | 230 | 36.5× |
//! | encrypt+sign, Wrapped | 15.3 | 239 | 15.6× |
//! | verify+decrypt, Wrapped | 7.3 | 251 | 34.4× |
//!
//! Encryption costs about twice decryption in Rust: CBC encryption is serial, and every
//! attribute draws a fresh random IV.
//!
//! # Modules
//!
//! - [`serialize`]: the canonical attribute serialization (encryption plaintext and
//!   signature input) in each library's rendering;
//! - [`material_description`]: the `*amzn-ddb-map-desc*` attribute;
//! - [`signature`]: the bytes an item signature covers;
//! - [`attribute_crypto`]: one attribute's AES-CBC encryption and the HMAC primitives;
//! - [`item`], [`actions`], [`materials`], [`keys`], [`providers`], [`error`].

pub mod actions;
pub mod attribute_crypto;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod error;
pub mod item;
pub mod keys;
#[cfg(feature = "kms")]
pub mod kms;
pub mod material_description;
pub mod materials;
pub mod providers;
pub mod serialize;
pub mod signature;

pub use actions::AttributeActions;
pub use error::{Error, Result};
pub use item::{
    decrypt_item, decrypt_item_with_materials, encrypt_item, encrypt_item_with_materials,
};
pub use keys::{SigningKey, SymmetricKey, VerificationKey};
pub use materials::{
    CryptographicMaterialsProvider, DecryptionMaterials, EncryptionContext, EncryptionMaterials,
};

/// An item: attribute name to value.
pub type Item = std::collections::BTreeMap<String, Attribute>;

/// A DynamoDB attribute value, as the encryptor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// String.
    S(String),
    /// Number, as its decimal string.
    N(String),
    /// Binary.
    B(Vec<u8>),
    /// String set.
    Ss(Vec<String>),
    /// Number set.
    Ns(Vec<String>),
    /// Binary set.
    Bs(Vec<Vec<u8>>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// List.
    L(Vec<Attribute>),
    /// Map.
    M(std::collections::BTreeMap<String, Attribute>),
}

/// What the encryptor does with an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Encrypt the value and cover it with the signature.
    EncryptAndSign,
    /// Leave the value readable but cover it with the signature.
    SignOnly,
    /// Leave the value alone.
    DoNothing,
}

/// The attribute holding the serialized material description.
pub const MATERIAL_DESCRIPTION_ATTRIBUTE: &str = "*amzn-ddb-map-desc*";
/// The attribute holding the signature.
pub const SIGNATURE_ATTRIBUTE: &str = "*amzn-ddb-map-sig*";

/// Why bytes or values could not be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The input ended inside a value.
    Truncated,
    /// An unknown type tag or version.
    Unsupported(String),
    /// A value that is not valid (bad number, bad UTF-8, bad boolean byte).
    Invalid(String),
    /// A key, ciphertext or signature that does not check out.
    Crypto(&'static str),
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::Truncated => f.write_str("input ended too early"),
            FormatError::Unsupported(m) => write!(f, "unsupported: {m}"),
            FormatError::Invalid(m) => write!(f, "invalid: {m}"),
            FormatError::Crypto(m) => write!(f, "cryptographic failure: {m}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// A reader over a byte slice for the length-prefixed formats.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.data.len() < n {
            return Err(FormatError::Truncated);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `u32be(len) ‖ bytes`.
    pub(crate) fn lv(&mut self) -> Result<&'a [u8], FormatError> {
        let n = self.u32()?;
        self.take(usize::try_from(n).map_err(|_| FormatError::Truncated)?)
    }

    pub(crate) fn lv_str(&mut self) -> Result<String, FormatError> {
        String::from_utf8(self.lv()?.to_vec()).map_err(|_| FormatError::Invalid("UTF-8".into()))
    }
}

/// Appends `u32be(len) ‖ bytes`.
pub(crate) fn put_lv(out: &mut Vec<u8>, bytes: &[u8]) {
    // Attribute values are bounded by DynamoDB's 400 KB item limit, far below u32::MAX.
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}
