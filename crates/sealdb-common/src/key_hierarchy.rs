//! The key hierarchy in one place: every key sealdb derives from the root key, and the
//! constants of every sealed record format (`docs/formats.md` documents each byte).
//!
//! ```text
//! root key ─ HKDF-SHA256(salt = ROOT_HKDF_SALT, info = Purpose::info())
//!  ├─ Catalog        catalog.db page key; its subkey seals IAM access-key secrets
//!  ├─ Keystore       keystore.db page key (all KMS key material)
//!  ├─ Txlog          txlog.db page key (multi-table redo records)
//!  ├─ TableKeyWrap   AES-256-GCM key of root-sealed table keys (wrapped table key v1)
//!  ├─ Iam            iam.db page key
//!  ├─ Sts            base of the session-token sealing key
//!  ├─ Audit          HMAC key of the audit log chain
//!  ├─ ConsoleSession console cookie MAC key (unless --console-secret-file)
//!  └─ ConsoleSessionStore  AES-256-GCM key of the console's sessions file
//! table key ─ HKDF-SHA256(salt empty, info): `sealed_record`, `pg_row` subkeys
//! ```
//!
//! Every value here is fixed by data already on disk: DO NOT CHANGE any of them (the
//! tests below pin them). A new purpose or format gets a new name, a new value and an
//! entry in `docs/formats.md`.

/// Salt of the HKDF that derives every purpose key from the root key.
pub const ROOT_HKDF_SALT: &[u8] = b"sealdb root key v1";

/// What a key derived from the root key is for; its `info` is the HKDF info string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Page key of `catalog.db` (table records, wrapped table keys); base of the IAM
    /// access-key secret subkey.
    Catalog,
    /// Page key of `keystore.db` (KMS keys, grants, aliases, the audit log).
    Keystore,
    /// Page key of `txlog.db` (redo records of multi-table transactions).
    Txlog,
    /// Wrapping key of table keys sealed by the root (wrapped table key v1).
    TableKeyWrap,
    /// Page key of `iam.db` (identities).
    Iam,
    /// Base of the STS session-token sealing key.
    Sts,
    /// HMAC key of the audit log's hash chain.
    Audit,
    /// MAC key of console session cookies (when no `--console-secret-file` is given).
    ConsoleSession,
    /// Sealing key of `console-sessions`, the console's sessions kept across restarts.
    ConsoleSessionStore,
}

impl Purpose {
    /// Every purpose (a rotation re-keys everything derived from each).
    pub const ALL: [Purpose; 9] = [
        Purpose::Catalog,
        Purpose::Keystore,
        Purpose::Txlog,
        Purpose::TableKeyWrap,
        Purpose::Iam,
        Purpose::Sts,
        Purpose::Audit,
        Purpose::ConsoleSession,
        Purpose::ConsoleSessionStore,
    ];

    /// The HKDF info string. DO NOT CHANGE.
    pub const fn info(self) -> &'static str {
        match self {
            Purpose::Catalog => "catalog",
            Purpose::Keystore => "keystore",
            Purpose::Txlog => "txlog",
            Purpose::TableKeyWrap => "table-key-wrap",
            Purpose::Iam => "iam",
            Purpose::Sts => "sts",
            Purpose::Audit => "audit",
            Purpose::ConsoleSession => "console-session",
            Purpose::ConsoleSessionStore => "console-sessions",
        }
    }
}

/// The record the catalog keeps for a table or backup key.
pub mod wrapped_table_key {
    /// v1: `0x01 ‖ alg ‖ nonce ‖ GCM(table key) ‖ tag`, sealed by the root.
    pub const V1_ROOT: u8 = 1;
    /// v1 algorithm: AES-256-GCM under `Purpose::TableKeyWrap`.
    pub const ALG_ROOT_AES256_GCM: u8 = 1;
    /// v1 AAD prefix (followed by the table id) binding the key to its table.
    pub const V1_AAD_PREFIX: &[u8] = b"sealdb table key v1|";
    /// v2: `0x02 ‖ kind ‖ ARN ‖ grant id ‖ KMS ciphertext blob`.
    pub const V2_KMS: u8 = 2;
    /// v2 kind: a KMS ciphertext blob.
    pub const KIND_KMS_BLOB: u8 = 1;
}

/// A small record sealed under a subkey of a table key (redo parts of transactions).
pub mod sealed_record {
    /// `0x01 ‖ nonce ‖ GCM ‖ tag`, AAD = the version byte.
    pub const V1: u8 = 1;
    /// HKDF info of the subkey (salt empty, IKM = the table key).
    pub const SUBKEY_INFO: &[u8] = b"sealdb sealed record v1";
}

/// An item row of a table kept in PostgreSQL (`sealdb-postgres`). Every key is a subkey
/// of the table key: HKDF-SHA256, salt empty, IKM = the table key, info below.
pub mod pg_row {
    /// Version byte of a sealed key box, value box and key check of row format v1.
    pub const V1: u8 = 1;
    /// HKDF info of the AES-256-GCM key that seals item values.
    pub const VALUE_KEY_INFO: &[u8] = b"sealdb pg item value v1";
    /// HKDF info of the AES-256-GCM key that seals item keys (and the table's key check).
    pub const KEY_BOX_INFO: &[u8] = b"sealdb pg item key v1";
    /// HKDF info of the HMAC-SHA256 key of partition-key tags.
    pub const PK_TAG_INFO: &[u8] = b"sealdb pg partition key tag v1";
    /// HKDF info of the HMAC-SHA256 key of sort-key tags (tables with sealed sort keys).
    pub const SK_TAG_INFO: &[u8] = b"sealdb pg sort key tag v1";
    /// AAD prefix of a value box (then table id, partition key length, keys).
    pub const VALUE_AAD: &[u8] = b"sealdb pg value v1|";
    /// AAD prefix of a key box (then table id and the row's key columns).
    pub const KEY_AAD: &[u8] = b"sealdb pg key v1|";
    /// AAD prefix of the key check sealed in the table's registry row (then table id).
    pub const KEY_CHECK_AAD: &[u8] = b"sealdb pg key check v1|";
}

/// The KMS ciphertext blob.
pub mod kms_blob {
    /// Single-Region key: the header names the key id (UUID).
    pub const V1: u8 = 1;
    /// Multi-Region key: the header names the `mrk-` id.
    pub const V2_MULTI_REGION: u8 = 2;
    /// Key in a CloudHSM key store: AES-GCM run by the token under the key it names.
    pub const V3_CLOUDHSM: u8 = 3;
    /// Key in an external key store: a v1 blob under the key's own material, encrypted
    /// again by the XKS proxy under the external key it names.
    pub const V4_XKS: u8 = 4;
    /// HKDF info of the per-message key (salt from the blob, IKM = key material).
    pub const MESSAGE_KEY_INFO: &[u8] = b"sealdb kms blob v1";
}

/// Blobs sealed by the identity store: access-key secrets and STS session tokens.
pub mod iam_sealed {
    use super::Purpose;
    /// `0x01 ‖ nonce ‖ GCM ‖ tag`, AAD = `0x01 ‖ info ‖ access key id`.
    pub const V1: u8 = 1;
    /// Access-key secrets are sealed under a subkey of this purpose's key.
    pub const SECRET_BASE: Purpose = Purpose::Catalog;
    /// HKDF info of the access-key secret subkey.
    pub const SECRET_SEAL_INFO: &[u8] = b"sealdb iam access-key secret v1";
    /// Session tokens are sealed under a subkey of this purpose's key.
    pub const TOKEN_BASE: Purpose = Purpose::Sts;
    /// HKDF info of the session-token subkey.
    pub const TOKEN_SEAL_INFO: &[u8] = b"sealdb sts session token v1";
}

/// The console's session cookies (not stored: they live in the browser).
pub mod console {
    /// Prefix of what a session cookie's MAC covers.
    pub const MAC_CONTEXT: &[u8] = b"sealdb-console-session-v1\0";
    /// HMAC key that hashes a `--console-secret-file` into the 32-byte cookie key.
    pub const SECRET_FILE_HMAC_KEY: &[u8] = b"sealdb-console-secret";
    /// The sessions file: `0x01 ‖ nonce ‖ GCM(sessions) ‖ tag`.
    pub const SESSIONS_V1: u8 = 1;
    /// AAD of the sessions file.
    pub const SESSIONS_AAD: &[u8] = b"sealdb console sessions v1";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RootKey, SecretKey32};

    #[test]
    fn purpose_strings_are_pinned() {
        let pinned = [
            (Purpose::Catalog, "catalog"),
            (Purpose::Keystore, "keystore"),
            (Purpose::Txlog, "txlog"),
            (Purpose::TableKeyWrap, "table-key-wrap"),
            (Purpose::Iam, "iam"),
            (Purpose::Sts, "sts"),
            (Purpose::Audit, "audit"),
            (Purpose::ConsoleSession, "console-session"),
            (Purpose::ConsoleSessionStore, "console-sessions"),
        ];
        assert_eq!(pinned.len(), Purpose::ALL.len());
        for (p, s) in pinned {
            assert_eq!(p.info(), s);
            assert!(Purpose::ALL.contains(&p));
        }
    }

    /// The derived keys themselves, computed independently (Python's hmac/hashlib HKDF),
    /// so the salt and the derivation are pinned as well as the strings.
    #[test]
    fn derived_keys_are_pinned() {
        let root = RootKey::from_key(SecretKey32::from_bytes([7; 32]));
        let pinned = [
            (
                Purpose::Catalog,
                "077e0a814ee3003f20bbb811b8755d59e1fe094587f92168a9e86edf99473344",
            ),
            (
                Purpose::Keystore,
                "f84d924459d1f35a7bd8234c0e81e0e2bd65ec5c37702ffbbf93a7f367e239ca",
            ),
            (
                Purpose::Txlog,
                "7141e5787fe9a5547cb3c0a1439e49209dd4ffd85d764773799981d9c690a409",
            ),
            (
                Purpose::TableKeyWrap,
                "c10d7a85085a437d424832338baea399a455915f3cb728e59ea4430b1208b6ed",
            ),
            (
                Purpose::Iam,
                "b89b23fd3b66fc8012d686c563695ab51f2ea714cafd1c0d0c1931aaf365a6c5",
            ),
            (
                Purpose::Sts,
                "ec268f35de71e623ba67703eeaf3bfc45827881c78daa0f668e110c16757a93b",
            ),
            (
                Purpose::Audit,
                "f2ba730722115b62b50c17f5ca7bad7f6190774d183430eafdcfd011b0802707",
            ),
            (
                Purpose::ConsoleSession,
                "41c41540ce0fe72dd99d8ccd2b1b08f9439e800b405c57f603bfc9fef1d66dc8",
            ),
            (
                Purpose::ConsoleSessionStore,
                "918e92d17e81d5f091dd31f8040d72829e75add3c04a1bd15c95d09c181e0a18",
            ),
        ];
        for (p, hex_key) in pinned {
            assert_eq!(hex::encode(root.derive(p).expose()), hex_key, "{p:?}");
        }
    }

    #[test]
    fn format_constants_are_pinned() {
        assert_eq!(ROOT_HKDF_SALT, b"sealdb root key v1");
        assert_eq!(wrapped_table_key::V1_ROOT, 1);
        assert_eq!(wrapped_table_key::ALG_ROOT_AES256_GCM, 1);
        assert_eq!(wrapped_table_key::V1_AAD_PREFIX, b"sealdb table key v1|");
        assert_eq!(wrapped_table_key::V2_KMS, 2);
        assert_eq!(wrapped_table_key::KIND_KMS_BLOB, 1);
        assert_eq!(sealed_record::V1, 1);
        assert_eq!(sealed_record::SUBKEY_INFO, b"sealdb sealed record v1");
        assert_eq!(kms_blob::V1, 1);
        assert_eq!(kms_blob::V2_MULTI_REGION, 2);
        assert_eq!(kms_blob::V3_CLOUDHSM, 3);
        assert_eq!(kms_blob::V4_XKS, 4);
        assert_eq!(kms_blob::MESSAGE_KEY_INFO, b"sealdb kms blob v1");
        assert_eq!(iam_sealed::V1, 1);
        assert_eq!(iam_sealed::SECRET_BASE, Purpose::Catalog);
        assert_eq!(
            iam_sealed::SECRET_SEAL_INFO,
            b"sealdb iam access-key secret v1"
        );
        assert_eq!(iam_sealed::TOKEN_BASE, Purpose::Sts);
        assert_eq!(iam_sealed::TOKEN_SEAL_INFO, b"sealdb sts session token v1");
        assert_eq!(console::MAC_CONTEXT, b"sealdb-console-session-v1\0");
        assert_eq!(pg_row::V1, 1);
        assert_eq!(pg_row::VALUE_KEY_INFO, b"sealdb pg item value v1");
        assert_eq!(pg_row::KEY_BOX_INFO, b"sealdb pg item key v1");
        assert_eq!(pg_row::PK_TAG_INFO, b"sealdb pg partition key tag v1");
        assert_eq!(pg_row::SK_TAG_INFO, b"sealdb pg sort key tag v1");
        assert_eq!(pg_row::VALUE_AAD, b"sealdb pg value v1|");
        assert_eq!(pg_row::KEY_AAD, b"sealdb pg key v1|");
        assert_eq!(pg_row::KEY_CHECK_AAD, b"sealdb pg key check v1|");
        assert_eq!(console::SECRET_FILE_HMAC_KEY, b"sealdb-console-secret");
    }
}
