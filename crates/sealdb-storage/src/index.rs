//! Secondary-index entries, kept in the table's own encrypted file (table `idx`) and
//! written in the same transaction as the item they come from.
//!
//! An entry is keyed `(ix, h, ipk, isk, tpk, tsk)`: the index number, the hash of the
//! index partition key, the order-preserving index key encodings, then the table key
//! (which makes entries unique when index keys repeat). The value is the projected item.

use crate::error::StorageError;
use crate::table::{TableStats, bound_parts, hash_from_sql, hash_to_sql};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Where an index entry sits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexEntryKey {
    /// Hash of the encoded index partition key.
    pub hash: u64,
    /// Encoded index partition key.
    pub ipk: Vec<u8>,
    /// Encoded index sort key (empty when the index has none).
    pub isk: Vec<u8>,
    /// Encoded table partition key.
    pub tpk: Vec<u8>,
    /// Encoded table sort key (empty when the table has none).
    pub tsk: Vec<u8>,
}

/// An index entry as read.
#[derive(Clone, Debug)]
pub struct IndexEntry {
    /// Its key.
    pub key: IndexEntryKey,
    /// The projected item, encoded.
    pub value: Vec<u8>,
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<IndexEntry> {
    Ok(IndexEntry {
        key: IndexEntryKey {
            hash: hash_from_sql(r.get(0)?),
            ipk: r.get(1)?,
            isk: r.get(2)?,
            tpk: r.get(3)?,
            tsk: r.get(4)?,
        },
        value: r.get(5)?,
    })
}

fn existing_size(
    conn: &Connection,
    ix: u32,
    k: &IndexEntryKey,
) -> Result<Option<i64>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT sz FROM idx WHERE ix = ?1 AND h = ?2 AND ipk = ?3 AND isk = ?4 AND tpk = ?5 AND tsk = ?6",
    )?;
    Ok(stmt
        .query_row(
            params![ix, hash_to_sql(k.hash), k.ipk, k.isk, k.tpk, k.tsk],
            |r| r.get(0),
        )
        .optional()?)
}

/// Inserts or replaces an entry; returns (count delta, size delta).
pub(crate) fn put_entry(
    conn: &Connection,
    ix: u32,
    k: &IndexEntryKey,
    value: &[u8],
    size: u64,
) -> Result<(i64, i64), StorageError> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let old = existing_size(conn, ix, k)?;
    conn.prepare_cached(
        "INSERT INTO idx (ix, h, ipk, isk, tpk, tsk, v, sz) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (ix, h, ipk, isk, tpk, tsk) DO UPDATE SET v = excluded.v, sz = excluded.sz",
    )?
    .execute(params![
        ix,
        hash_to_sql(k.hash),
        k.ipk,
        k.isk,
        k.tpk,
        k.tsk,
        value,
        size
    ])?;
    Ok(match old {
        Some(o) => (0, size - o),
        None => (1, size),
    })
}

/// Deletes an entry; returns its size if it existed.
pub(crate) fn delete_entry(
    conn: &Connection,
    ix: u32,
    k: &IndexEntryKey,
) -> Result<Option<i64>, StorageError> {
    let old = existing_size(conn, ix, k)?;
    if old.is_some() {
        conn.prepare_cached(
            "DELETE FROM idx WHERE ix = ?1 AND h = ?2 AND ipk = ?3 AND isk = ?4 AND tpk = ?5 AND tsk = ?6",
        )?
        .execute(params![ix, hash_to_sql(k.hash), k.ipk, k.isk, k.tpk, k.tsk])?;
    }
    Ok(old)
}

/// Deletes up to `limit` entries of an index; returns (count, total size) deleted.
pub(crate) fn drop_some(
    conn: &Connection,
    ix: u32,
    limit: usize,
) -> Result<(usize, i64), StorageError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let size: i64 = conn.query_row(
        "SELECT COALESCE(SUM(sz), 0) FROM (SELECT sz FROM idx WHERE ix = ?1 LIMIT ?2)",
        params![ix, limit],
        |r| r.get(0),
    )?;
    let n = conn.execute(
        "DELETE FROM idx WHERE rowid IN (SELECT rowid FROM idx WHERE ix = ?1 LIMIT ?2)",
        params![ix, limit],
    )?;
    Ok((n, size))
}

/// Adds per-index statistic deltas in the meta table (same transaction as the writes).
pub(crate) fn apply_index_stats(
    conn: &Connection,
    deltas: &BTreeMap<u32, (i64, i64)>,
) -> Result<(), StorageError> {
    for (ix, (count, size)) in deltas {
        if *count == 0 && *size == 0 {
            continue;
        }
        for (name, delta) in [
            (format!("ix:{ix}:count"), count),
            (format!("ix:{ix}:size"), size),
        ] {
            conn.prepare_cached("INSERT OR IGNORE INTO meta (k, v) VALUES (?1, 0)")?
                .execute(params![name])?;
            conn.prepare_cached("UPDATE meta SET v = MAX(0, v + ?2) WHERE k = ?1")?
                .execute(params![name, delta])?;
        }
    }
    Ok(())
}

pub(crate) fn stats(conn: &Connection, ix: u32) -> Result<TableStats, StorageError> {
    let get = |k: String| -> Result<u64, StorageError> {
        let v: Option<i64> = conn
            .prepare_cached("SELECT v FROM meta WHERE k = ?1")?
            .query_row(params![k], |r| r.get(0))
            .optional()?;
        Ok(u64::try_from(v.unwrap_or(0)).unwrap_or(0))
    };
    Ok(TableStats {
        item_count: get(format!("ix:{ix}:count"))?,
        size_bytes: get(format!("ix:{ix}:size"))?,
    })
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<IndexEntry>>,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<IndexEntry>, StorageError> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for row in rows {
        let e = row?;
        bytes += e.value.len();
        out.push(e);
        if out.len() >= limit || bytes >= max_bytes {
            break;
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn query(
    conn: &Connection,
    ix: u32,
    hash: u64,
    ipk: &[u8],
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
    after: Option<&IndexEntryKey>,
    forward: bool,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<IndexEntry>, StorageError> {
    let (lo_incl, lo_excl) = bound_parts(lo);
    let (hi_incl, hi_excl) = bound_parts(hi);
    let (a_isk, a_tpk, a_tsk) = match after {
        Some(a) => (
            Some(a.isk.as_slice()),
            Some(a.tpk.as_slice()),
            Some(a.tsk.as_slice()),
        ),
        None => (None, None, None),
    };
    let sql = if forward {
        "SELECT h, ipk, isk, tpk, tsk, v FROM idx WHERE ix = ?1 AND h = ?2 AND ipk = ?3
           AND (?4 IS NULL OR isk >= ?4) AND (?5 IS NULL OR isk > ?5)
           AND (?6 IS NULL OR isk <= ?6) AND (?7 IS NULL OR isk < ?7)
           AND (?8 IS NULL OR (isk, tpk, tsk) > (?8, ?9, ?10))
         ORDER BY isk ASC, tpk ASC, tsk ASC"
    } else {
        "SELECT h, ipk, isk, tpk, tsk, v FROM idx WHERE ix = ?1 AND h = ?2 AND ipk = ?3
           AND (?4 IS NULL OR isk >= ?4) AND (?5 IS NULL OR isk > ?5)
           AND (?6 IS NULL OR isk <= ?6) AND (?7 IS NULL OR isk < ?7)
           AND (?8 IS NULL OR (isk, tpk, tsk) < (?8, ?9, ?10))
         ORDER BY isk DESC, tpk DESC, tsk DESC"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![
            ix,
            hash_to_sql(hash),
            ipk,
            lo_incl,
            lo_excl,
            hi_incl,
            hi_excl,
            a_isk,
            a_tpk,
            a_tsk
        ],
        row_to_entry,
    )?;
    collect(rows, limit, max_bytes)
}

pub(crate) fn scan(
    conn: &Connection,
    ix: u32,
    hash_lo: u64,
    hash_hi: u64,
    after: Option<&IndexEntryKey>,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<IndexEntry>, StorageError> {
    let (lo, hi) = (hash_to_sql(hash_lo), hash_to_sql(hash_hi));
    match after {
        None => {
            let mut stmt = conn.prepare_cached(
                "SELECT h, ipk, isk, tpk, tsk, v FROM idx WHERE ix = ?1 AND h >= ?2 AND h <= ?3
                 ORDER BY h, ipk, isk, tpk, tsk",
            )?;
            let rows = stmt.query_map(params![ix, lo, hi], row_to_entry)?;
            collect(rows, limit, max_bytes)
        }
        Some(a) => {
            let mut stmt = conn.prepare_cached(
                "SELECT h, ipk, isk, tpk, tsk, v FROM idx WHERE ix = ?1 AND h <= ?3
                   AND (h, ipk, isk, tpk, tsk) > (?4, ?5, ?6, ?7, ?8) AND h >= ?2
                 ORDER BY h, ipk, isk, tpk, tsk",
            )?;
            let rows = stmt.query_map(
                params![ix, lo, hi, hash_to_sql(a.hash), a.ipk, a.isk, a.tpk, a.tsk],
                row_to_entry,
            )?;
            collect(rows, limit, max_bytes)
        }
    }
}
