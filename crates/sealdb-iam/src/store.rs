//! The identity store: `iam.db`, one SQLCipher file keyed with `HKDF(root, "iam")`.
//!
//! ```text
//! records(kind, name, record, sealed_secret)   kind ∈ user | access_key | group | role | policy
//!   record        = 0x01 ‖ JSON of the store_model record (fails closed on another version)
//!   sealed_secret = access keys only: the secret sealed under a subkey of the catalog key
//! ```
//! The whole state is held in memory behind one mutex (IAM data is small and read on every
//! request); a change runs on a copy, is written in one SQLite transaction (only the rows
//! that changed), and replaces the state only once committed, so a failed write changes
//! nothing.

use crate::store_model::{AccessKeyRecord, IdentityState, KeyStatus, LastUsed, UserRecord};
use crate::store_seal::{SEALED_V1, Sealer};
use rusqlite::{Connection, OptionalExtension, params};
use sealdb_common::secret::SecretString;
use sealdb_common::{Clock, Purpose, RootKey, key_hierarchy};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Schema version of `iam.db`, in its `meta` table. DO NOT CHANGE for v1 files.
const SCHEMA_V1: i64 = 1;
/// HKDF purpose of the file key of `iam.db`. DO NOT CHANGE.
pub const FILE_KEY_PURPOSE: Purpose = Purpose::Iam;
/// HKDF purpose of the catalog key, under whose subkey access-key secrets are sealed.
const CATALOG_KEY_PURPOSE: Purpose = key_hierarchy::iam_sealed::SECRET_BASE;
/// HKDF info of the access-key-secret subkey of the catalog key. DO NOT CHANGE.
const SECRET_SEAL_INFO: &[u8] = key_hierarchy::iam_sealed::SECRET_SEAL_INFO;
/// Last-used times are written at most this often per key (AWS reports them with a delay too).
const LAST_USED_WRITE_SECS: i64 = 60;

/// Errors of the identity store itself (not of IAM requests).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite / SQLCipher failed (wrong key, disk).
    #[error("identity store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A record did not decode or a secret did not open.
    #[error("identity store: corrupt {0}")]
    Corrupt(String),
    /// Key derivation or sealing failed.
    #[error("identity store: sealing failed")]
    Seal,
}

/// The open identity store.
pub struct IdentityStore {
    inner: Mutex<Inner>,
    account_id: String,
    clock: Clock,
}

struct Inner {
    conn: Connection,
    state: IdentityState,
    secret_sealer: Sealer,
    /// Last-used times not yet written, by key id.
    unsaved_use: BTreeMap<String, LastUsed>,
}

impl IdentityStore {
    /// Opens or creates `iam.db` in `data_dir`.
    pub fn open(
        data_dir: &Path,
        root: &RootKey,
        account_id: &str,
        clock: Clock,
    ) -> Result<IdentityStore, StoreError> {
        let conn = sealdb_storage::sqlcipher::open_encrypted(
            &data_dir.join("iam.db"),
            &root.derive(FILE_KEY_PURPOSE),
        )?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, name TEXT NOT NULL,
                record BLOB NOT NULL, sealed_secret BLOB, PRIMARY KEY (kind, name));",
        )?;
        let version: Option<i64> = conn
            .query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))
            .optional()?;
        match version {
            None => {
                conn.execute("INSERT INTO meta VALUES ('schema', ?1)", params![SCHEMA_V1])?;
            }
            Some(SCHEMA_V1) => {}
            Some(v) => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {v} is not supported"
                )));
            }
        }
        let secret_sealer = secret_sealer(root)?;
        let state = load_state(&conn, &secret_sealer)?;
        Ok(IdentityStore {
            inner: Mutex::new(Inner {
                conn,
                state,
                secret_sealer,
                unsaved_use: BTreeMap::new(),
            }),
            account_id: account_id.to_owned(),
            clock,
        })
    }

    /// The account every entity belongs to.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The clock (creation times, session expiry).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half-changed: changes are
        // applied to a copy and swapped in whole.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&IdentityState) -> T) -> T {
        f(&self.lock().state)
    }

    /// Changes the state: `f` works on a copy; if it succeeds the changed records are
    /// written in one transaction and the copy becomes the state.
    pub fn mutate<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut IdentityState) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut inner = self.lock();
        let mut next = inner.state.clone();
        let out = f(&mut next)?;
        let Inner {
            conn,
            state,
            secret_sealer,
            ..
        } = &mut *inner;
        write_changes(conn, secret_sealer, state, &next)?;
        *state = next;
        Ok(out)
    }

    /// The secret and owner of an active long-term key.
    pub fn active_key(&self, access_key_id: &str) -> Option<(SecretString, Option<UserRecord>)> {
        let inner = self.lock();
        let key = inner.state.access_keys.get(access_key_id)?;
        if key.status != KeyStatus::Active {
            return None;
        }
        let user = match &key.user_name {
            None => None,
            Some(name) => Some(inner.state.users.get(name)?.clone()),
        };
        Some((key.secret.clone(), user))
    }

    /// Notes a use of a long-term key; written at most once a minute per key.
    pub fn record_use(&self, access_key_id: &str, service: &str, region: &str) {
        let now = self.clock.now_secs();
        let mut inner = self.lock();
        let Some(key) = inner.state.access_keys.get(access_key_id) else {
            return;
        };
        let stale = key
            .last_used
            .as_ref()
            .is_none_or(|u| now - u.at >= LAST_USED_WRITE_SECS || u.service != service);
        let used = LastUsed {
            at: now,
            service: service.to_owned(),
            region: region.to_owned(),
        };
        if !stale {
            inner.unsaved_use.insert(access_key_id.to_owned(), used);
            return;
        }
        inner.unsaved_use.remove(access_key_id);
        drop(inner);
        let id = access_key_id.to_owned();
        let result = self.mutate(|s: &mut IdentityState| {
            if let Some(k) = s.access_keys.get_mut(&id) {
                k.last_used = Some(used);
            }
            Ok::<(), StoreError>(())
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record access key use");
        }
    }

    /// The last use of a key, including one not yet written.
    pub fn last_used(&self, access_key_id: &str) -> Option<LastUsed> {
        let inner = self.lock();
        inner.unsaved_use.get(access_key_id).cloned().or_else(|| {
            inner
                .state
                .access_keys
                .get(access_key_id)?
                .last_used
                .clone()
        })
    }

    /// Adds (or replaces the secret of) a key of the account root: the admin credential.
    pub fn put_root_key(
        &self,
        access_key_id: &str,
        secret: SecretString,
    ) -> Result<(), StoreError> {
        let created = self.clock.now_secs();
        self.mutate(|s: &mut IdentityState| {
            s.access_keys.insert(
                access_key_id.to_owned(),
                AccessKeyRecord {
                    id: access_key_id.to_owned(),
                    user_name: None,
                    secret,
                    status: KeyStatus::Active,
                    created,
                    last_used: None,
                },
            );
            Ok(())
        })
    }

    /// Adds a long-term key for `user_name` (created at path `/` if it does not exist) or,
    /// with `None`, for the account root. Used by the catalog migration and
    /// `sealdb credentials create`; a key id already present is left alone.
    pub fn import_key(
        &self,
        access_key_id: &str,
        secret: SecretString,
        user_name: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_secs();
        self.mutate(|s: &mut IdentityState| {
            if s.access_keys.contains_key(access_key_id) {
                return Ok(());
            }
            let owner = match user_name {
                None => None,
                Some(name) => {
                    if s.user(name).is_none() {
                        let id =
                            crate::store_ids::unique_id("AIDA").map_err(|_| StoreError::Seal)?;
                        s.users
                            .insert(name.to_owned(), UserRecord::new(name, &id, "/", now));
                    }
                    s.user(name).map(|u| u.name.clone())
                }
            };
            s.access_keys.insert(
                access_key_id.to_owned(),
                AccessKeyRecord {
                    id: access_key_id.to_owned(),
                    user_name: owner,
                    secret,
                    status: KeyStatus::Active,
                    created: now,
                    last_used: None,
                },
            );
            Ok(())
        })
    }

    /// Whether a one-time step (e.g. the catalog migration) has run.
    pub fn done(&self, step: &str) -> Result<bool, StoreError> {
        let inner = self.lock();
        let v: Option<i64> = inner
            .conn
            .query_row("SELECT v FROM meta WHERE k = ?1", params![step], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(v.is_some())
    }

    /// Records that a one-time step has run.
    pub fn mark_done(&self, step: &str) -> Result<(), StoreError> {
        let inner = self.lock();
        inner
            .conn
            .execute("INSERT OR REPLACE INTO meta VALUES (?1, 1)", params![step])?;
        Ok(())
    }

    /// Re-keys `iam.db` and re-seals every secret for a new root key (run with the
    /// server stopped, like the catalog's rotation). Safe to repeat after an interruption:
    /// secrets already under the new key are left alone, and a file already under the new
    /// key is recognised.
    pub fn rotate_root_key(
        data_dir: &Path,
        old_root: &RootKey,
        new_root: &RootKey,
    ) -> Result<(), StoreError> {
        let path = data_dir.join("iam.db");
        if !path.exists() {
            return Ok(());
        }
        let old_sealer = secret_sealer(old_root)?;
        let new_sealer = secret_sealer(new_root)?;
        sealdb_storage::sqlcipher::rekey_file(
            &path,
            &old_root.derive(FILE_KEY_PURPOSE),
            &new_root.derive(FILE_KEY_PURPOSE),
            |conn| reseal_secrets(conn, &old_sealer, &new_sealer),
        )?;
        Ok(())
    }
}

fn reseal_secrets(conn: &Connection, old: &Sealer, new: &Sealer) -> Result<(), rusqlite::Error> {
    let fail = |id: &str| {
        rusqlite::Error::ToSqlConversionFailure(format!("secret of {id} does not open").into())
    };
    let rows: Vec<(String, Vec<u8>)> = {
        let mut stmt =
            conn.prepare("SELECT name, sealed_secret FROM records WHERE kind = 'access_key'")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, sealed) in rows {
        if new.open(&sealed, id.as_bytes()).is_ok() {
            continue;
        }
        let secret = old.open(&sealed, id.as_bytes()).map_err(|_| fail(&id))?;
        let resealed = new.seal(&secret, id.as_bytes()).map_err(|_| fail(&id))?;
        conn.execute(
            "UPDATE records SET sealed_secret = ?2 WHERE kind = 'access_key' AND name = ?1",
            params![id, resealed],
        )?;
    }
    Ok(())
}

fn secret_sealer(root: &RootKey) -> Result<Sealer, StoreError> {
    Sealer::new(&root.derive(CATALOG_KEY_PURPOSE), SECRET_SEAL_INFO).map_err(|_| StoreError::Seal)
}

fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![SEALED_V1];
    serde_json::to_writer(&mut out, record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(out)
}

fn decode<T: DeserializeOwned>(kind: &str, name: &str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&SEALED_V1, json)) => serde_json::from_slice(json)
            // Position only: serde's message could quote the record (policy text).
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "{kind} {name}: does not decode (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            }),
        _ => Err(StoreError::Corrupt(format!(
            "{kind} {name}: unknown record version"
        ))),
    }
}

/// Loads every record. A record that does not decode or whose secret does not open is a
/// fault; all of them are named (kind and name) in one error, and none is skipped: a
/// policy left out could widen what a caller may do, so the store fails closed.
fn load_state(conn: &Connection, sealer: &Sealer) -> Result<IdentityState, StoreError> {
    let mut state = IdentityState::default();
    let mut faults: Vec<String> = Vec::new();
    let mut stmt = conn.prepare("SELECT kind, name, record, sealed_secret FROM records")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Vec<u8>>(2)?,
            r.get::<_, Option<Vec<u8>>>(3)?,
        ))
    })?;
    for row in rows {
        let (kind, name, record, sealed) = row?;
        if let Err(e) = load_record(&mut state, sealer, &kind, name, &record, sealed) {
            faults.push(match e {
                StoreError::Corrupt(what) => what,
                other => other.to_string(),
            });
        }
    }
    if faults.is_empty() {
        Ok(state)
    } else {
        Err(StoreError::Corrupt(faults.join("; ")))
    }
}

fn load_record(
    state: &mut IdentityState,
    sealer: &Sealer,
    kind: &str,
    name: String,
    record: &[u8],
    sealed: Option<Vec<u8>>,
) -> Result<(), StoreError> {
    match kind {
        "user" => {
            let r = decode(kind, &name, record)?;
            state.users.insert(name, r);
        }
        "group" => {
            let r = decode(kind, &name, record)?;
            state.groups.insert(name, r);
        }
        "role" => {
            let r = decode(kind, &name, record)?;
            state.roles.insert(name, r);
        }
        "policy" => {
            let r = decode(kind, &name, record)?;
            state.policies.insert(name, r);
        }
        "access_key" => {
            let mut key: AccessKeyRecord = decode(kind, &name, record)?;
            let bad_secret =
                || StoreError::Corrupt(format!("access_key {name}: secret does not open"));
            let sealed = sealed.ok_or_else(bad_secret)?;
            let secret = sealer
                .open(&sealed, name.as_bytes())
                .map_err(|_| bad_secret())?;
            let text = std::str::from_utf8(&secret).map_err(|_| bad_secret())?;
            key.secret = SecretString::new(text.to_owned());
            state.access_keys.insert(name, key);
        }
        other => return Err(StoreError::Corrupt(format!("record kind {other} ({name})"))),
    }
    Ok(())
}

/// Writes the rows of one kind that differ between `old` and `new`.
fn sync_kind<T: Serialize>(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
    mut secret_of: impl FnMut(&str, &T) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<(), StoreError> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        match (old.get(name), new.get(name)) {
            (_, None) => {
                tx.execute(
                    "DELETE FROM records WHERE kind = ?1 AND name = ?2",
                    params![kind, name],
                )?;
            }
            (before, Some(after)) => {
                let bytes = encode(after)?;
                if before.map(encode).transpose()?.as_ref() == Some(&bytes) {
                    continue;
                }
                let sealed = secret_of(name, after)?;
                tx.execute(
                    "INSERT OR REPLACE INTO records (kind, name, record, sealed_secret) VALUES (?1, ?2, ?3, ?4)",
                    params![kind, name, bytes, sealed],
                )?;
            }
        }
    }
    Ok(())
}

fn no_secret<T>(_: &str, _: &T) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(None)
}

fn write_changes(
    conn: &mut Connection,
    sealer: &Sealer,
    old: &IdentityState,
    new: &IdentityState,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    sync_kind(&tx, "user", &old.users, &new.users, no_secret)?;
    sync_kind(&tx, "group", &old.groups, &new.groups, no_secret)?;
    sync_kind(&tx, "role", &old.roles, &new.roles, no_secret)?;
    sync_kind(&tx, "policy", &old.policies, &new.policies, no_secret)?;
    sync_kind(
        &tx,
        "access_key",
        &old.access_keys,
        &new.access_keys,
        |id, key: &AccessKeyRecord| {
            sealer
                .seal(key.secret.expose().as_bytes(), id.as_bytes())
                .map(Some)
                .map_err(|_| StoreError::Seal)
        },
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdb_common::SecretKey32;

    #[test]
    fn secrets_are_sealed_on_disk_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::from_key(SecretKey32::from_bytes([9; 32]));
        let store =
            IdentityStore::open(dir.path(), &root, "123456789012", Clock::system()).unwrap();
        store
            .put_root_key(
                "AKIAROOTEXAMPLE00001",
                SecretString::new("s3cr3t-visible-text".into()),
            )
            .unwrap();
        drop(store);
        // Not in the file in the clear (SQLCipher), nor in the row once decrypted.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(19).any(|w| w == b"s3cr3t-visible-text"));
        }
        let conn = sealdb_storage::sqlcipher::open_encrypted(
            &dir.path().join("iam.db"),
            &root.derive(FILE_KEY_PURPOSE),
        )
        .unwrap();
        let (record, sealed): (Vec<u8>, Vec<u8>) = conn
            .query_row("SELECT record, sealed_secret FROM records", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(!record.windows(6).any(|w| w == b"s3cr3t"));
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
        drop(conn);
        let store =
            IdentityStore::open(dir.path(), &root, "123456789012", Clock::system()).unwrap();
        let (secret, user) = store.active_key("AKIAROOTEXAMPLE00001").unwrap();
        assert_eq!(secret.expose(), "s3cr3t-visible-text");
        assert!(user.is_none());
        // Another root key cannot open it.
        let other = RootKey::from_key(SecretKey32::from_bytes([8; 32]));
        assert!(IdentityStore::open(dir.path(), &other, "123456789012", Clock::system()).is_err());
    }

    #[test]
    fn a_failed_change_changes_nothing_and_rotation_keeps_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::from_key(SecretKey32::from_bytes([9; 32]));
        let store =
            IdentityStore::open(dir.path(), &root, "123456789012", Clock::system()).unwrap();
        store
            .put_root_key("AKIAA", SecretString::new("one".into()))
            .unwrap();
        let r: Result<(), StoreError> = store.mutate(|s| {
            s.access_keys.clear();
            Err(StoreError::Seal)
        });
        assert!(r.is_err());
        assert!(store.active_key("AKIAA").is_some());
        drop(store);
        let new_root = RootKey::from_key(SecretKey32::from_bytes([10; 32]));
        IdentityStore::rotate_root_key(dir.path(), &root, &new_root).unwrap();
        IdentityStore::rotate_root_key(dir.path(), &root, &new_root).unwrap();
        let store =
            IdentityStore::open(dir.path(), &new_root, "123456789012", Clock::system()).unwrap();
        assert_eq!(store.active_key("AKIAA").unwrap().0.expose(), "one");
    }
}
