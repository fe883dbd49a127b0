//! The read connections of one table file, kept open between reads.
//!
//! Every page SQLCipher reads from the file is checked (HMAC-SHA512) and decrypted
//! (AES-256) before use, so a page-cache miss costs far more than in plain SQLite: the
//! caches are sized to keep a table's hot pages decrypted in memory (memory only; the
//! cache goes with the connection, which is closed with the table key).

use crate::error::StorageError;
use crate::sqlcipher::open_existing;
use rusqlite::Connection;
use sealdb_common::SecretKey32;
use std::path::PathBuf;
use std::sync::Mutex;

/// Read connections kept open per table. Short reads run on the runtime's threads (one
/// per core) and long ones on the blocking pool, so a few cover the usual concurrency;
/// beyond them a read opens a connection of its own for the time of the read.
const POOLED: usize = 4;

/// Page cache of each connection of a table, in KiB (SQLite's negative `cache_size`): 16 MiB
/// keeps the interior pages and most leaves of a table of 10,000 1 KB items decrypted
/// (SQLite's default of 2 MiB kept a fraction: 7 % of a GetItem's CPU went to the page
/// HMAC of misses). Pages are allocated as they are read, so a small table uses little.
const CACHE_KIB: i64 = 16 * 1024;

/// Prepared statements kept per connection: the writer alone uses more than rusqlite's
/// default of 16 (item, index, stream, statistics and transaction statements), and a
/// statement evicted from the cache is parsed and planned again on its next use.
const STATEMENT_CACHE: usize = 64;

/// Page cache and statement cache of a table connection (read or write).
pub(crate) fn tune(conn: &Connection) -> Result<(), StorageError> {
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// The pool of one table's read connections.
pub(crate) struct Readers {
    path: PathBuf,
    key: SecretKey32,
    /// Idle connections; `None` once closed, so that a read still under way closes its
    /// connection when it ends instead of keeping it.
    idle: Mutex<Option<Vec<Connection>>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf, key: SecretKey32) -> Readers {
        Readers {
            path,
            key,
            idle: Mutex::new(Some(Vec::new())),
        }
    }

    /// Runs `f` on an idle connection (opening one when none is idle), then keeps the
    /// connection for the next read.
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let pooled = self
            .idle
            .lock()
            .ok()
            .and_then(|mut p| p.as_mut().and_then(Vec::pop));
        let conn = match pooled {
            Some(c) => c,
            None => self.open()?,
        };
        let result = f(&conn);
        if let Ok(mut guard) = self.idle.lock()
            && let Some(p) = guard.as_mut()
            && p.len() < POOLED
        {
            p.push(conn);
        }
        result
    }

    fn open(&self) -> Result<Connection, StorageError> {
        let conn = open_existing(&self.path, &self.key)?;
        tune(&conn)?;
        Ok(conn)
    }

    /// Closes every idle connection, and each busy one when its read ends.
    pub(crate) fn close(&self) {
        if let Ok(mut p) = self.idle.lock() {
            p.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_kept_until_closed_and_have_the_larger_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let key = SecretKey32::from_bytes([4; 32]);
        crate::sqlcipher::open_encrypted(&path, &key)
            .unwrap()
            .execute_batch("CREATE TABLE t(v); INSERT INTO t VALUES (7);")
            .unwrap();
        let readers = Readers::new(path, key);
        let cache = |r: &Readers| {
            r.with(|c| Ok(c.query_row("PRAGMA cache_size", [], |row| row.get::<_, i64>(0))?))
                .unwrap()
        };
        assert_eq!(cache(&readers), -CACHE_KIB);
        assert_eq!(readers.idle.lock().unwrap().as_ref().unwrap().len(), 1);
        // A read under way when the pool closes does not put its connection back.
        readers
            .with(|c| {
                readers.close();
                Ok(c.query_row("SELECT v FROM t", [], |row| row.get::<_, i64>(0))?)
            })
            .unwrap();
        assert!(readers.idle.lock().unwrap().is_none());
        assert_eq!(
            cache(&readers),
            -CACHE_KIB,
            "reads still work, on a fresh connection"
        );
        assert!(readers.idle.lock().unwrap().is_none());
    }
}
