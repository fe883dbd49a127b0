//! Erasing for good: what a file deletes must leave no copy in it, so that a key that is
//! deleted (KMS key material, a wrapped table key) cannot be read back by anyone who
//! holds the file and the key it is encrypted under (the root key).
//!
//! SQLCipher encrypts every page, but a plain `DELETE` leaves the deleted cell's bytes in
//! the page's free space, a freed page keeps its old content, and the WAL keeps earlier
//! images of every page it holds until it is overwritten. So the files that hold keys
//! set `secure_delete` (SQLite overwrites deleted cells and freed pages with zeros), and
//! after an erase the WAL is checkpointed into the file and truncated to zero bytes,
//! which leaves the new (zeroed, re-encrypted under a fresh IV) page images as the only
//! ones in either file.

use rusqlite::Connection;

/// Turns on `secure_delete` for this connection (it is per connection, so every
/// connection to a file that holds keys sets it).
pub fn secure_delete(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "secure_delete", "ON")?;
    let on: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    if on == 1 {
        Ok(())
    } else {
        Err(rusqlite::Error::InvalidQuery)
    }
}

/// Why the WAL could not be emptied.
#[derive(Debug, thiserror::Error)]
pub enum TruncateError {
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// Another connection still reads an older snapshot; the WAL keeps old page images
    /// until the next truncation.
    #[error("the WAL is in use by another connection")]
    Busy,
}

/// Copies every WAL frame into the database file and truncates the WAL to zero bytes
/// (`wal_checkpoint(TRUNCATE)`), so no earlier page image survives in it. Run outside
/// any transaction, after the commit that erased something.
pub fn truncate_wal(conn: &Connection) -> Result<(), TruncateError> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    if busy == 0 {
        Ok(())
    } else {
        Err(TruncateError::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdb_common::SecretKey32;

    /// The pragma takes effect and the WAL is emptied; that no deleted byte survives in
    /// any page is proven on decrypted pages in crates/sealdb/tests/crypto_shred.rs.
    #[test]
    fn pragmas_take_effect_and_wal_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let key = SecretKey32::from_bytes([5; 32]);
        let conn = crate::sqlcipher::open_encrypted(&path, &key).unwrap();
        secure_delete(&conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE m (v BLOB); INSERT INTO m VALUES (randomblob(3000)); DELETE FROM m;",
        )
        .unwrap();
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);
        truncate_wal(&conn).unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    }
}
