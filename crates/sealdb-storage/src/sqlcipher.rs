//! Opening SQLCipher files with a raw 256-bit key and the durability settings every
//! sealdb file uses.

use rusqlite::{Connection, OpenFlags};
use sealdb_common::SecretKey32;
use std::path::Path;

/// Opens (creating if needed) an SQLCipher database keyed with a raw 256-bit key.
///
/// Settings, for every file sealdb writes:
/// - the key is given in SQLCipher's raw form `x'<64 hex>'`, so no PBKDF2 runs: the key
///   already has full entropy;
/// - `journal_mode = WAL` and `synchronous = FULL`: a committed transaction survives power loss;
/// - `temp_store = MEMORY`: sorts and temporary tables never reach disk in the clear.
///
/// A wrong key shows up here as an error ("file is not a database"), not later.
pub fn open_encrypted(path: &Path, key: &SecretKey32) -> Result<Connection, rusqlite::Error> {
    open_with(path, key, OpenFlags::SQLITE_OPEN_CREATE)
}

/// [`open_encrypted`] for a file that must exist already: a missing file is an error
/// (`SQLITE_CANTOPEN`), never a new empty database.
pub fn open_existing(path: &Path, key: &SecretKey32) -> Result<Connection, rusqlite::Error> {
    open_with(path, key, OpenFlags::empty())
}

fn open_with(
    path: &Path,
    key: &SecretKey32,
    extra: OpenFlags,
) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra,
    )?;
    apply_key(&conn, key)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Touch the schema: this is where SQLCipher checks the key.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(conn)
}

fn apply_key(conn: &Connection, key: &SecretKey32) -> Result<(), rusqlite::Error> {
    let hex = key.to_hex_secret();
    let pragma = zeroize::Zeroizing::new(format!("PRAGMA key = \"x'{}'\"", hex.expose()));
    conn.execute_batch(&pragma)
}

/// Re-keys an open SQLCipher database (rewrites every page under the new key).
pub fn rekey(conn: &Connection, new_key: &SecretKey32) -> Result<(), rusqlite::Error> {
    let hex = new_key.to_hex_secret();
    let pragma = zeroize::Zeroizing::new(format!("PRAGMA rekey = \"x'{}'\"", hex.expose()));
    conn.execute_batch(&pragma)
}

/// Re-keys a file from `old` to `new`, whichever of the two it is under now (so an
/// interrupted root-key rotation can simply be run again). Returns true if it changed.
/// `before` runs on the connection under the old key, before the re-key.
pub fn rekey_file(
    path: &Path,
    old: &SecretKey32,
    new: &SecretKey32,
    before: impl FnOnce(&Connection) -> Result<(), rusqlite::Error>,
) -> Result<bool, rusqlite::Error> {
    match open_encrypted(path, old) {
        Ok(conn) => {
            before(&conn)?;
            // SQLCipher re-keys a rollback-journal database; WAL is restored afterwards.
            conn.pragma_update(None, "journal_mode", "DELETE")?;
            rekey(&conn, new)?;
            drop(conn);
            let check = open_encrypted(path, new)?;
            check.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            Ok(true)
        }
        Err(first) => match open_encrypted(path, new) {
            Ok(_) => Ok(false),
            Err(_) => Err(first),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_key_is_refused_and_file_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let key = SecretKey32::from_bytes([9; 32]);
        {
            let c = open_encrypted(&path, &key).unwrap();
            c.execute_batch(
                "CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('MARKER-PLAINTEXT-42');",
            )
            .unwrap();
        }
        let other = SecretKey32::from_bytes([8; 32]);
        assert!(open_encrypted(&path, &other).is_err());
        let c = open_encrypted(&path, &key).unwrap();
        let v: String = c.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(v, "MARKER-PLAINTEXT-42");
        drop(c);
        let newer = SecretKey32::from_bytes([7; 32]);
        assert!(rekey_file(&path, &key, &newer, |_| Ok(())).unwrap());
        assert!(!rekey_file(&path, &key, &newer, |_| Ok(())).unwrap());
        assert!(open_encrypted(&path, &key).is_err());
        let c = open_encrypted(&path, &newer).unwrap();
        let v: String = c.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(v, "MARKER-PLAINTEXT-42");
        drop(c);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(8).any(|w| w == b"MARKER-P"));
            assert!(!bytes.windows(6).any(|w| w == b"SQLite"));
        }
    }
}
