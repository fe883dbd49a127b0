//! The sealed item row (row format v1, `docs/formats.md`, "PostgreSQL item row"): what of
//! an item PostgreSQL sees, and how sealdb gets the item back.
//!
//! ```text
//! pk_tag    HMAC-SHA256(pk tag key, pk)                 equality only, no order
//! sk        ordered: the order-preserving sort-key encoding (range scans in PostgreSQL)
//!           sealed:  HMAC-SHA256(sk tag key, sk)        equality only
//! key_box   1 ‖ nonce ‖ GCM(hash ‖ len(pk) ‖ pk ‖ sk)   AAD: table id, pk_tag, sk column
//! value_box 1 ‖ nonce ‖ GCM(item value)                 AAD: table id, len(pk), pk, sk
//! ```

use aws_lc_rs::{digest, hmac};
use sealdb_common::SecretKey32;
use sealdb_common::key_hierarchy::pg_row;
use sealdb_storage::seal::{Sealer, derive_subkey};
use sealdb_storage::{ItemKey, StorageError};
use uuid::Uuid;

/// How a table's sort keys are kept, fixed at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKeyMode {
    /// The order-preserving encoding is stored, so PostgreSQL range-scans a partition; it
    /// shows sort-key values and their order to whoever reads PostgreSQL's files.
    Ordered,
    /// Sort keys are sealed too (a tag for equality); Query reads the whole partition and
    /// orders and filters it in sealdb.
    Sealed,
}

impl SortKeyMode {
    /// The stored code (`sealdb.tables.sort_mode`). DO NOT CHANGE.
    pub fn code(self) -> i16 {
        match self {
            SortKeyMode::Ordered => 1,
            SortKeyMode::Sealed => 2,
        }
    }

    /// The mode of a stored code.
    pub fn from_code(code: i16) -> Option<SortKeyMode> {
        match code {
            1 => Some(SortKeyMode::Ordered),
            2 => Some(SortKeyMode::Sealed),
            _ => None,
        }
    }
}

/// The key columns of an item's row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RowKey {
    pub(crate) pk_tag: Vec<u8>,
    pub(crate) sk: Vec<u8>,
}

/// The keys of one table's rows, derived once from the table key.
pub(crate) struct RowCodec {
    table_id: Uuid,
    mode: SortKeyMode,
    value: Sealer,
    key_box: Sealer,
    pk_tag: hmac::Key,
    sk_tag: hmac::Key,
}

fn hmac_key(table_key: &SecretKey32, info: &[u8]) -> Result<hmac::Key, StorageError> {
    let raw = derive_subkey(table_key, info)?;
    Ok(hmac::Key::new(hmac::HMAC_SHA256, raw.expose()))
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

impl RowCodec {
    pub(crate) fn new(
        table_id: Uuid,
        table_key: &SecretKey32,
        mode: SortKeyMode,
    ) -> Result<RowCodec, StorageError> {
        Ok(RowCodec {
            table_id,
            mode,
            value: Sealer::derive(table_key, pg_row::VALUE_KEY_INFO)?,
            key_box: Sealer::derive(table_key, pg_row::KEY_BOX_INFO)?,
            pk_tag: hmac_key(table_key, pg_row::PK_TAG_INFO)?,
            sk_tag: hmac_key(table_key, pg_row::SK_TAG_INFO)?,
        })
    }

    pub(crate) fn table_id(&self) -> Uuid {
        self.table_id
    }

    pub(crate) fn mode(&self) -> SortKeyMode {
        self.mode
    }

    pub(crate) fn pk_tag(&self, pk: &[u8]) -> Vec<u8> {
        hmac::sign(&self.pk_tag, pk).as_ref().to_vec()
    }

    /// The sort-key column of a sort key: itself (ordered) or its tag (sealed).
    pub(crate) fn sk_column(&self, sk: &[u8]) -> Vec<u8> {
        match self.mode {
            SortKeyMode::Ordered => sk.to_vec(),
            SortKeyMode::Sealed => hmac::sign(&self.sk_tag, sk).as_ref().to_vec(),
        }
    }

    pub(crate) fn row_key(&self, key: &ItemKey) -> RowKey {
        RowKey {
            pk_tag: self.pk_tag(&key.pk),
            sk: self.sk_column(&key.sk),
        }
    }

    /// Where a partition-key tag falls in the 64-bit space of scan segments.
    pub(crate) fn tag_point(pk_tag: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        let n = pk_tag.len().min(8);
        b[..n].copy_from_slice(&pk_tag[..n]);
        u64::from_be_bytes(b)
    }

    /// The advisory-lock id of a row: units lock it before reading or writing the key,
    /// so that a missing key is locked too. A collision only serializes two keys.
    pub(crate) fn lock_id(&self, rk: &RowKey) -> i64 {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(self.table_id.as_bytes());
        ctx.update(&rk.pk_tag);
        ctx.update(&rk.sk);
        let d = ctx.finish();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d.as_ref()[..8]);
        i64::from_be_bytes(b)
    }

    /// The advisory-lock id of a whole partition (sealed mode counts its items under it).
    pub(crate) fn partition_lock_id(&self, pk_tag: &[u8]) -> i64 {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"partition|");
        ctx.update(self.table_id.as_bytes());
        ctx.update(pk_tag);
        let d = ctx.finish();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d.as_ref()[..8]);
        i64::from_be_bytes(b)
    }

    fn key_aad(&self, rk: &RowKey) -> Vec<u8> {
        let mut aad = pg_row::KEY_AAD.to_vec();
        aad.extend_from_slice(self.table_id.as_bytes());
        put_len(&mut aad, rk.pk_tag.len());
        aad.extend_from_slice(&rk.pk_tag);
        aad.extend_from_slice(&rk.sk);
        aad
    }

    fn value_aad(&self, key: &ItemKey) -> Vec<u8> {
        let mut aad = pg_row::VALUE_AAD.to_vec();
        aad.extend_from_slice(self.table_id.as_bytes());
        put_len(&mut aad, key.pk.len());
        aad.extend_from_slice(&key.pk);
        aad.extend_from_slice(&key.sk);
        aad
    }

    pub(crate) fn seal_key(&self, key: &ItemKey, rk: &RowKey) -> Result<Vec<u8>, StorageError> {
        let mut plain = Vec::with_capacity(12 + key.pk.len() + key.sk.len());
        plain.extend_from_slice(&key.hash.to_be_bytes());
        put_len(&mut plain, key.pk.len());
        plain.extend_from_slice(&key.pk);
        plain.extend_from_slice(&key.sk);
        self.key_box.seal(pg_row::V1, &self.key_aad(rk), &plain)
    }

    /// The item key of a row, from its key box (bound to the row's key columns).
    pub(crate) fn open_key(&self, rk: &RowKey, key_box: &[u8]) -> Result<ItemKey, StorageError> {
        let plain = self.key_box.open(pg_row::V1, &self.key_aad(rk), key_box)?;
        let corrupt = || StorageError::Corrupt("PostgreSQL item key box".into());
        let (hash, rest) = plain.split_at_checked(8).ok_or_else(corrupt)?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(corrupt)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?);
        let (pk, sk) = rest
            .split_at_checked(usize::try_from(len).map_err(|_| corrupt())?)
            .ok_or_else(corrupt)?;
        Ok(ItemKey {
            hash: u64::from_be_bytes(hash.try_into().map_err(|_| corrupt())?),
            pk: pk.to_vec(),
            sk: sk.to_vec(),
        })
    }

    pub(crate) fn seal_value(&self, key: &ItemKey, value: &[u8]) -> Result<Vec<u8>, StorageError> {
        self.value.seal(pg_row::V1, &self.value_aad(key), value)
    }

    pub(crate) fn open_value(
        &self,
        key: &ItemKey,
        value_box: &[u8],
    ) -> Result<Vec<u8>, StorageError> {
        self.value
            .open(pg_row::V1, &self.value_aad(key), value_box)
            .map_err(|_| StorageError::Corrupt("PostgreSQL item value box".into()))
    }

    fn check_aad(&self) -> Vec<u8> {
        let mut aad = pg_row::KEY_CHECK_AAD.to_vec();
        aad.extend_from_slice(self.table_id.as_bytes());
        aad
    }

    /// A sealed empty record that only this table's key opens (kept with the table).
    pub(crate) fn key_check(&self) -> Result<Vec<u8>, StorageError> {
        self.key_box.seal(pg_row::V1, &self.check_aad(), &[])
    }

    /// Whether `check` was made by [`RowCodec::key_check`] under this table key.
    pub(crate) fn verify_key_check(&self, check: &[u8]) -> bool {
        self.key_box
            .open(pg_row::V1, &self.check_aad(), check)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(mode: SortKeyMode) -> RowCodec {
        let id = Uuid::from_bytes([3; 16]);
        RowCodec::new(id, &SecretKey32::from_bytes([8; 32]), mode).unwrap()
    }

    fn key(pk: &[u8], sk: &[u8]) -> ItemKey {
        ItemKey {
            hash: 42,
            pk: pk.to_vec(),
            sk: sk.to_vec(),
        }
    }

    #[test]
    fn rows_round_trip_and_show_nothing_in_sealed_mode() {
        for mode in [SortKeyMode::Ordered, SortKeyMode::Sealed] {
            let c = codec(mode);
            let k = key(b"partition-key", b"sort-key");
            let rk = c.row_key(&k);
            let kb = c.seal_key(&k, &rk).unwrap();
            let vb = c.seal_value(&k, b"the value").unwrap();
            assert_eq!(c.open_key(&rk, &kb).unwrap(), k);
            assert_eq!(c.open_value(&k, &vb).unwrap(), b"the value");
            assert_eq!(rk.pk_tag.len(), 32);
            let stored = [rk.pk_tag.clone(), rk.sk.clone(), kb, vb].concat();
            let has = |s: &[u8], n: &[u8]| s.windows(n.len()).any(|w| w == n);
            assert!(!has(&stored, b"partition"));
            assert!(!has(&stored, b"value"));
            assert_eq!(has(&stored, b"sort-key"), mode == SortKeyMode::Ordered);
        }
    }

    #[test]
    fn boxes_are_bound_to_their_row_table_and_key() {
        let c = codec(SortKeyMode::Sealed);
        let (a, b) = (key(b"a", b"1"), key(b"a", b"2"));
        let (ra, rb) = (c.row_key(&a), c.row_key(&b));
        let vb = c.seal_value(&a, b"v").unwrap();
        assert!(
            c.open_value(&b, &vb).is_err(),
            "a value moved to another key"
        );
        let kb = c.seal_key(&a, &ra).unwrap();
        assert!(
            c.open_key(&rb, &kb).is_err(),
            "a key box moved to another row"
        );
        let other_table = RowCodec::new(
            Uuid::from_bytes([4; 16]),
            &SecretKey32::from_bytes([8; 32]),
            SortKeyMode::Sealed,
        )
        .unwrap();
        assert!(
            other_table.open_value(&a, &vb).is_err(),
            "a value moved to another table"
        );
        let other_key = RowCodec::new(
            c.table_id(),
            &SecretKey32::from_bytes([9; 32]),
            SortKeyMode::Sealed,
        )
        .unwrap();
        assert!(other_key.open_value(&a, &vb).is_err());
        assert!(!other_key.verify_key_check(&c.key_check().unwrap()));
        assert!(c.verify_key_check(&c.key_check().unwrap()));
        for i in 0..vb.len() {
            let mut t = vb.clone();
            t[i] ^= 1;
            assert!(c.open_value(&a, &t).is_err(), "byte {i} flipped");
        }
    }

    #[test]
    fn tags_are_deterministic_keyed_and_distinct() {
        let c = codec(SortKeyMode::Sealed);
        assert_eq!(c.pk_tag(b"x"), c.pk_tag(b"x"));
        assert_ne!(c.pk_tag(b"x"), c.pk_tag(b"y"));
        assert_ne!(
            c.pk_tag(b"x"),
            c.sk_column(b"x"),
            "pk and sk tags use different keys"
        );
        let other = RowCodec::new(
            c.table_id(),
            &SecretKey32::from_bytes([1; 32]),
            SortKeyMode::Sealed,
        )
        .unwrap();
        assert_ne!(c.pk_tag(b"x"), other.pk_tag(b"x"));
        assert_eq!(codec(SortKeyMode::Ordered).sk_column(b"x"), b"x");
        assert_eq!(
            RowCodec::tag_point(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            0x0102030405060708
        );
    }

    /// Pins the subkey derivation and the tags (computed independently with Python's
    /// hmac/hashlib): a change would orphan every stored row.
    #[test]
    fn tags_are_pinned() {
        assert_eq!(
            hex::encode(codec(SortKeyMode::Ordered).pk_tag(b"pk")),
            "99a5ace00638b833dcec6d031bedbca3712b7c69adb321b3beb39f595aad3cf4"
        );
        assert_eq!(
            hex::encode(codec(SortKeyMode::Sealed).sk_column(b"sk")),
            "5c3ca87471b58dc19ee39f28b67e2f6b4367c19c624dd269f7f4d26f1882e4d9"
        );
        assert_eq!(SortKeyMode::Ordered.code(), 1);
        assert_eq!(SortKeyMode::Sealed.code(), 2);
        assert_eq!(SortKeyMode::from_code(2), Some(SortKeyMode::Sealed));
        assert_eq!(SortKeyMode::from_code(3), None);
    }
}
