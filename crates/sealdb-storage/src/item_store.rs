//! The item level of a table, backend-neutral: what the embedded SQLCipher engine
//! ([`TableStore`]) and the PostgreSQL backend (`sealdb-postgres`) both offer, in DynamoDB
//! terms (item keys, encoded values, sort-key ranges, scan segments), never SQL.
//!
//! A write is a *unit*: a synchronous closure that reads the items it needs, decides, and
//! writes, atomically with respect to every other unit on the same keys; a
//! [`Decision::Rollback`] (or an error) leaves nothing of it behind. The closure stays
//! synchronous (as the SQLCipher writer's units are): the PostgreSQL backend runs it on a
//! blocking thread and drives each statement from there, so the DynamoDB layer's units can
//! move onto this trait unchanged.
//!
//! The trait uses `impl Future` returns (no boxing per call), so it is not object-safe:
//! the service is to be generic over it, or hold an enum of the backends.
//! Indexes, streams, point-in-time history, replication stamps, multi-table transactions
//! and backups are not in it yet (issue 16): only items.

use crate::error::StorageError;
use crate::table::{Decision, ItemKey, StoredItem, TableStats, TableStore, WriteTx};
use std::future::Future;
use std::ops::Bound;

/// Reads and writes of items available to a write unit, inside its transaction.
pub trait ItemTx {
    /// The current value of an item, including this unit's own earlier writes.
    fn get(&mut self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError>;
    /// Inserts or replaces an item; `size` is its DynamoDB size, kept for statistics.
    fn put(&mut self, key: &ItemKey, value: &[u8], size: u64) -> Result<(), StorageError>;
    /// Deletes an item; true if it existed.
    fn delete(&mut self, key: &ItemKey) -> Result<bool, StorageError>;
}

/// One segment of a parallel Scan (`Segment` of `TotalSegments`): a slice of a 64-bit
/// space (the partition hash on SQLCipher, the partition-key tag on PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    index: u32,
    total: u32,
}

impl Segment {
    /// The whole table.
    pub const ALL: Segment = Segment { index: 0, total: 1 };

    /// Segment `index` of `total`; `None` unless `index < total`.
    pub fn new(index: u32, total: u32) -> Option<Segment> {
        (index < total).then_some(Segment { index, total })
    }

    /// The inclusive range `[lo, hi]` of the 64-bit space this segment covers: equal
    /// spans, the last one up to `u64::MAX`.
    pub fn range(self) -> (u64, u64) {
        let span = (u128::from(u64::MAX) + 1) / u128::from(self.total);
        let lo = u128::from(self.index) * span;
        let hi = if self.index + 1 >= self.total {
            u128::from(u64::MAX)
        } else {
            lo + span - 1
        };
        (
            u64::try_from(lo).unwrap_or(u64::MAX),
            u64::try_from(hi).unwrap_or(u64::MAX),
        )
    }

    /// Whether `point` of the 64-bit space is in this segment.
    pub fn contains(self, point: u64) -> bool {
        let (lo, hi) = self.range();
        (lo..=hi).contains(&point)
    }
}

/// The sort-key range of a Query and its direction. Bounds are order-preserving sort-key
/// encodings (the DynamoDB layer's key encoding).
#[derive(Clone, Debug)]
pub struct KeyRange {
    /// Lower bound.
    pub lo: Bound<Vec<u8>>,
    /// Upper bound.
    pub hi: Bound<Vec<u8>>,
    /// Ascending sort-key order when true.
    pub forward: bool,
}

impl KeyRange {
    /// The whole partition, ascending.
    pub fn all() -> KeyRange {
        KeyRange {
            lo: Bound::Unbounded,
            hi: Bound::Unbounded,
            forward: true,
        }
    }

    /// Whether sort key `sk` is within the bounds.
    pub fn contains(&self, sk: &[u8]) -> bool {
        let above = match &self.lo {
            Bound::Included(b) => sk >= b.as_slice(),
            Bound::Excluded(b) => sk > b.as_slice(),
            Bound::Unbounded => true,
        };
        let below = match &self.hi {
            Bound::Included(b) => sk <= b.as_slice(),
            Bound::Excluded(b) => sk < b.as_slice(),
            Bound::Unbounded => true,
        };
        above && below
    }
}

/// How much one read returns: it stops after `items` items, or after the item that
/// brings the values read to `bytes` or more (so a page holds at least one item).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimit {
    /// The most items.
    pub items: usize,
    /// The value bytes after which the read stops.
    pub bytes: usize,
}

impl ReadLimit {
    /// No limit.
    pub const NONE: ReadLimit = ReadLimit {
        items: usize::MAX,
        bytes: usize::MAX,
    };

    /// Whether a page of `items` items and `bytes` value bytes is full.
    pub fn reached(self, items: usize, bytes: usize) -> bool {
        items >= self.items || bytes >= self.bytes
    }
}

/// The item level of one table, whatever the backend.
pub trait ItemStore: Send + Sync {
    /// The current value of one item (a strongly consistent read).
    fn get(
        &self,
        key: &ItemKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>> + Send;

    /// Runs the unit `f` atomically; answers once its writes are durable (or undone, for
    /// a rollback). Units on the same key are serialized.
    fn write_unit<R, F>(&self, f: F) -> impl Future<Output = Result<R, StorageError>> + Send
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn ItemTx) -> Result<Decision<R>, StorageError> + Send + 'static;

    /// Items of partition (`hash`, `pk`) within `range`, in sort-key order (descending
    /// when `range.forward` is false), up to `limit`.
    fn query(
        &self,
        hash: u64,
        pk: Vec<u8>,
        range: KeyRange,
        limit: ReadLimit,
    ) -> impl Future<Output = Result<Vec<StoredItem>, StorageError>> + Send;

    /// Items of one scan segment in the backend's scan order, strictly after `after` (the
    /// last key of the previous page), up to `limit`. Every item is in exactly one segment
    /// of any `TotalSegments`.
    fn scan(
        &self,
        segment: Segment,
        after: Option<ItemKey>,
        limit: ReadLimit,
    ) -> impl Future<Output = Result<Vec<StoredItem>, StorageError>> + Send;

    /// Whether the item at `key` belongs to `segment` (an ExclusiveStartKey must).
    fn in_segment(&self, key: &ItemKey, segment: Segment) -> bool;

    /// Item count and total DynamoDB item size, exact.
    fn stats(&self) -> impl Future<Output = Result<TableStats, StorageError>> + Send;
}

/// The SQLCipher writer's transaction seen through the item level only.
struct Items<'a>(&'a mut dyn WriteTx);

impl ItemTx for Items<'_> {
    fn get(&mut self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key)
    }
    fn put(&mut self, key: &ItemKey, value: &[u8], size: u64) -> Result<(), StorageError> {
        self.0.put(key, value, size)
    }
    fn delete(&mut self, key: &ItemKey) -> Result<bool, StorageError> {
        self.0.delete(key)
    }
}

/// The embedded engine: each method is the existing [`TableStore`] one; segments are
/// ranges of the partition hash, as the DynamoDB layer's Scan uses them.
impl ItemStore for TableStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<Vec<u8>>, StorageError> {
        TableStore::get(self, key).await
    }

    async fn write_unit<R, F>(&self, f: F) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn ItemTx) -> Result<Decision<R>, StorageError> + Send + 'static,
    {
        self.write(move |tx| f(&mut Items(tx))).await
    }

    async fn query(
        &self,
        hash: u64,
        pk: Vec<u8>,
        range: KeyRange,
        limit: ReadLimit,
    ) -> Result<Vec<StoredItem>, StorageError> {
        TableStore::query(
            self,
            hash,
            pk,
            range.lo,
            range.hi,
            range.forward,
            limit.items,
            limit.bytes,
        )
        .await
    }

    async fn scan(
        &self,
        segment: Segment,
        after: Option<ItemKey>,
        limit: ReadLimit,
    ) -> Result<Vec<StoredItem>, StorageError> {
        let (lo, hi) = segment.range();
        TableStore::scan(self, lo, hi, after, limit.items, limit.bytes).await
    }

    fn in_segment(&self, key: &ItemKey, segment: Segment) -> bool {
        segment.contains(key.hash)
    }

    async fn stats(&self) -> Result<TableStats, StorageError> {
        TableStore::stats(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_tile_the_space() {
        for total in [1u32, 2, 3, 7, 1000] {
            let mut next = 0u128;
            for i in 0..total {
                let (lo, hi) = Segment::new(i, total).unwrap().range();
                assert_eq!(
                    u128::from(lo),
                    next,
                    "segment {i} of {total} starts where the last ended"
                );
                assert!(hi >= lo);
                next = u128::from(hi) + 1;
            }
            assert_eq!(
                next,
                u128::from(u64::MAX) + 1,
                "the last segment ends at u64::MAX"
            );
        }
        assert!(Segment::new(3, 3).is_none());
        assert!(Segment::new(0, 0).is_none());
    }

    #[tokio::test]
    async fn sqlcipher_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        crate::conformance::run_all(|| {
            n += 1;
            let path = dir.path().join(format!("t{n}.db"));
            async move {
                TableStore::create(&path, sealdb_common::SecretKey32::from_bytes([4; 32])).unwrap()
            }
        })
        .await;
    }
}
