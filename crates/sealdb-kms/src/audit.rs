//! The audit log: one CloudTrail-style record per KMS call, allowed or denied, in the
//! key store's `audit` table, chained so that a removed, reordered or edited record is
//! detected: `mac_n = HMAC-SHA256(K, mac_{n-1} ‖ seq_n ‖ record_n)` with
//! `K = HKDF(root, "audit")` and `mac_0 = 32 zero bytes`. Without the root key nobody can
//! forge a chain. Records never hold plaintext or key material.

use aws_lc_rs::hmac;
use rusqlite::{Connection, params};
use sealdb_common::Purpose;
use sealdb_common::RootKey;
use std::path::Path;

/// The MAC key of the chain.
pub(crate) fn chain_key(root: &RootKey) -> hmac::Key {
    let k = root.derive(Purpose::Audit);
    hmac::Key::new(hmac::HMAC_SHA256, k.expose())
}

fn link(key: &hmac::Key, prev: &[u8], seq: i64, record: &str) -> Vec<u8> {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(record.as_bytes());
    ctx.sign().as_ref().to_vec()
}

/// Appends a record (inside the caller's transaction, if any).
pub(crate) fn append(
    conn: &Connection,
    key: &hmac::Key,
    record: &serde_json::Value,
) -> Result<(), rusqlite::Error> {
    let last: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok();
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, vec![0u8; 32]),
    };
    let text = record.to_string();
    let mac = link(key, &prev, seq, &text);
    conn.execute(
        "INSERT INTO audit (seq, record, hash) VALUES (?1, ?2, ?3)",
        params![seq, text, mac],
    )?;
    conn.execute(
        "INSERT INTO meta (k, v) VALUES ('audit_head', ?1) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        params![seq],
    )?;
    Ok(())
}

/// The result of checking a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
}

/// Checks the chain of the key store in `data_dir`; the error names the first bad record.
pub fn verify(data_dir: &Path, root: &RootKey) -> Result<VerifyReport, String> {
    let conn = sealdb_storage::sqlcipher::open_encrypted(
        &data_dir.join("keystore.db"),
        &root.derive(Purpose::Keystore),
    )
    .map_err(|e| format!("cannot open the key store: {e}"))?;
    verify_conn(&conn, &chain_key(root))
}

pub(crate) fn verify_conn(conn: &Connection, key: &hmac::Key) -> Result<VerifyReport, String> {
    let mut stmt = conn
        .prepare("SELECT seq, record, hash FROM audit ORDER BY rowid")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut prev = vec![0u8; 32];
    let mut expected_seq = 1i64;
    let mut n = 0u64;
    for row in rows {
        let (seq, record, mac) = row.map_err(|e| e.to_string())?;
        if seq != expected_seq {
            return Err(if seq > expected_seq {
                format!("record {expected_seq} is missing (next record is {seq})")
            } else {
                format!("record {seq} is out of order (expected {expected_seq})")
            });
        }
        let want = link(key, &prev, seq, &record);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&want, &mac).is_err() {
            return Err(format!(
                "record {seq} was edited (its chain MAC does not match)"
            ));
        }
        prev = mac;
        expected_seq += 1;
        n += 1;
    }
    let head: Option<i64> = conn
        .query_row("SELECT v FROM meta WHERE k = 'audit_head'", [], |r| {
            r.get(0)
        })
        .ok();
    if let Some(h) = head
        && h != expected_seq - 1
    {
        return Err(format!(
            "the log ends at record {} but the head says {h}: records were removed from the end",
            expected_seq - 1
        ));
    }
    Ok(VerifyReport { records: n })
}

/// Re-computes the chain MACs under a new root key (root-key rotation). A chain that
/// already verifies under the new key is left as it is (a rotation run again). All the
/// MACs change in one transaction: a rotation killed half-way through must leave a chain
/// that still verifies under the old key, so that running it again can finish.
pub fn rechain(conn: &Connection, old: &RootKey, new: &RootKey) -> Result<u64, String> {
    let new_key = chain_key(new);
    if let Ok(r) = verify_conn(conn, &new_key) {
        return Ok(r.records);
    }
    verify_conn(conn, &chain_key(old))?;
    let tx = conn.unchecked_transaction().map_err(|e| e.to_string())?;
    let n = rechain_rows(&tx, &new_key)?;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(n)
}

fn rechain_rows(conn: &Connection, new_key: &hmac::Key) -> Result<u64, String> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = conn
            .prepare("SELECT seq, record FROM audit ORDER BY seq")
            .map_err(|e| e.to_string())?;
        let it = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| e.to_string())?;
        it.collect::<Result<_, _>>().map_err(|e| e.to_string())?
    };
    let mut prev = vec![0u8; 32];
    for (seq, record) in &rows {
        let mac = link(new_key, &prev, *seq, record);
        conn.execute(
            "UPDATE audit SET hash = ?1 WHERE seq = ?2",
            params![mac, seq],
        )
        .map_err(|e| e.to_string())?;
        prev = mac;
    }
    Ok(u64::try_from(rows.len()).unwrap_or(0))
}

/// Every record of the log, oldest first (for `sealdb audit list`).
pub fn records(data_dir: &Path, root: &RootKey) -> Result<Vec<serde_json::Value>, String> {
    let conn = sealdb_storage::sqlcipher::open_encrypted(
        &data_dir.join("keystore.db"),
        &root.derive(Purpose::Keystore),
    )
    .map_err(|e| format!("cannot open the key store: {e}"))?;
    let mut stmt = conn
        .prepare("SELECT record FROM audit ORDER BY seq")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| e.to_string())?;
    rows.map(|r| {
        let text = r.map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(n: usize, key: &hmac::Key) -> Connection {
        let conn = Connection::open_in_memory().expect("in-memory db");
        conn.execute_batch(
            "CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
             CREATE TABLE audit (seq INTEGER PRIMARY KEY, record TEXT NOT NULL, hash BLOB NOT NULL);",
        )
        .expect("schema");
        for i in 0..n {
            append(
                &conn,
                key,
                &serde_json::json!({"eventName": "Encrypt", "i": i}),
            )
            .expect("append");
        }
        conn
    }

    #[test]
    fn a_rechain_that_fails_half_way_leaves_the_old_chain_and_can_run_again() {
        let (old, new) = (
            RootKey::from_key(sealdb_common::SecretKey32::from_bytes([1; 32])),
            RootKey::from_key(sealdb_common::SecretKey32::from_bytes([2; 32])),
        );
        let conn = log_of(5, &chain_key(&old));
        // The third MAC update fails, as a kill in the middle of the rotation would stop it.
        conn.execute_batch(
            "CREATE TEMP TRIGGER stop BEFORE UPDATE ON audit WHEN NEW.seq = 3
             BEGIN SELECT RAISE(ABORT, 'injected'); END;",
        )
        .expect("trigger");
        assert!(rechain(&conn, &old, &new).is_err());
        assert_eq!(
            verify_conn(&conn, &chain_key(&old)),
            Ok(VerifyReport { records: 5 })
        );
        conn.execute_batch("DROP TRIGGER stop")
            .expect("drop trigger");
        assert_eq!(rechain(&conn, &old, &new), Ok(5));
        assert_eq!(
            verify_conn(&conn, &chain_key(&new)),
            Ok(VerifyReport { records: 5 })
        );
        // Run again after it finished: nothing to do, still the new chain.
        assert_eq!(rechain(&conn, &old, &new), Ok(5));
    }
}
