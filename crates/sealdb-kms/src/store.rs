//! The key store: `keystore.db`, SQLCipher under `HKDF(root, "keystore")`. Key material
//! is only ever in this encrypted file and in zeroizing memory.

use crate::crypto::Material;
use crate::error::KmsError;
pub(crate) use crate::key_types::{KeySpec, KeyUsage, Origin};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// Version 1 of the key store schema. DO NOT CHANGE.
const KEYSTORE_SCHEMA_V1: i64 = 1;
/// Version 2: key records may carry `multi_region` and `pending_window_days`, which a
/// version 1 reader would ignore, so a store is marked 2 when it is opened by this code.
const KEYSTORE_SCHEMA_V2: i64 = 2;
/// Version 3: the `custom_key_stores` table, and key records with origin AWS_CLOUDHSM
/// and `custom_key_store_id` (their material is in a token, not in `materials`), which a
/// version 2 reader cannot use, so it must refuse the file.
const KEYSTORE_SCHEMA_V3: i64 = 3;
/// Version 4: external key stores: store records v2 (`xks`), key records with origin
/// EXTERNAL_KEY_STORE and `xks_key_id`, whose blobs (v4) a version 3 reader would take
/// for CloudHSM blobs, so it must refuse the file.
const KEYSTORE_SCHEMA_V4: i64 = 4;

/// One rotation of a key's material.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Rotation {
    pub(crate) version: u32,
    pub(crate) date: f64,
    pub(crate) on_demand: bool,
}

/// The state of a key (KMS's KeyState); stored under these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Disabled by its owner.
    Disabled,
    /// Scheduled for deletion.
    PendingDeletion,
    /// Created for imported material that is not there (yet, or any more).
    PendingImport,
    /// A multi-Region primary key scheduled for deletion while replicas remain.
    PendingReplicaDeletion,
}

impl KeyState {
    /// The wire name (`PendingDeletion`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
        }
    }
}

/// Everything but the material of a KMS key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) id: String,
    pub(crate) created: f64,
    pub(crate) description: String,
    pub(crate) key_usage: KeyUsage,
    pub(crate) key_spec: KeySpec,
    pub(crate) origin: Origin,
    pub(crate) state: KeyState,
    pub(crate) deletion_date: Option<f64>,
    /// CUSTOMER or AWS.
    pub(crate) key_manager: String,
    pub(crate) policy: String,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) rotation_enabled: bool,
    pub(crate) rotation_period_days: u32,
    pub(crate) last_rotation: f64,
    pub(crate) current_version: u32,
    pub(crate) rotations: Vec<Rotation>,
    /// Imported material: when it expires (epoch seconds).
    #[serde(default)]
    pub(crate) valid_to: Option<f64>,
    /// Imported material: KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE.
    #[serde(default)]
    pub(crate) expiration_model: Option<String>,
    /// Imported material: SHA-256 of the first material imported (re-imports must match).
    #[serde(default)]
    pub(crate) imported_hash: Option<String>,
    /// Outstanding import parameters: (token, wrapping algorithm, valid until).
    #[serde(default)]
    pub(crate) import_params: Option<(String, String, f64)>,
    /// A multi-Region key: where its primary and replicas are (the same in every region).
    #[serde(default)]
    pub(crate) multi_region: Option<MultiRegion>,
    /// A primary in PendingReplicaDeletion: the waiting period that begins when the last
    /// replica is deleted.
    #[serde(default)]
    pub(crate) pending_window_days: Option<u32>,
    /// A key in a custom key store (origin AWS_CLOUDHSM): the store's id. Its material
    /// is the token key labelled with the key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) custom_key_store_id: Option<String>,
    /// A key in an external key store (origin EXTERNAL_KEY_STORE): the external key
    /// (XksKeyId) its proxy encrypts under; its own material is in `materials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) xks_key_id: Option<String>,
}

/// The related keys of a multi-Region key, as every one of them records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MultiRegion {
    /// The region of the primary key.
    pub(crate) primary_region: String,
    /// The regions of the replica keys, in the order they were made.
    pub(crate) replica_regions: Vec<String>,
}

impl MultiRegion {
    /// Every region that holds one of the related keys.
    pub(crate) fn regions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary_region.as_str())
            .chain(self.replica_regions.iter().map(String::as_str))
    }
}

/// A grant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub(crate) id: String,
    pub(crate) key_id: String,
    pub(crate) name: Option<String>,
    pub(crate) created: f64,
    pub(crate) grantee: String,
    pub(crate) retiring: Option<String>,
    pub(crate) operations: Vec<String>,
    pub(crate) context_subset: Option<std::collections::BTreeMap<String, String>>,
    pub(crate) context_equals: Option<std::collections::BTreeMap<String, String>>,
    pub(crate) issuer: String,
}

/// An alias.
#[derive(Clone, Debug)]
pub(crate) struct Alias {
    pub(crate) name: String,
    pub(crate) key_id: Option<String>,
    pub(crate) created: f64,
    pub(crate) updated: f64,
}

/// The open key store.
pub(crate) struct Store {
    pub(crate) conn: Connection,
    /// Key material was deleted in the open transaction: its old copies are purged from
    /// the file after the commit (`shred.rs`).
    pub(crate) erased: std::sync::atomic::AtomicBool,
}

fn corrupt<E: std::fmt::Display>(e: E) -> KmsError {
    tracing::error!(error = %e, "key store record does not decode");
    KmsError::Internal
}

impl Store {
    pub(crate) fn open(path: &Path, key: &sealdb_common::SecretKey32) -> Result<Store, KmsError> {
        let conn = sealdb_storage::sqlcipher::open_encrypted(path, key)?;
        sealdb_storage::erase::secure_delete(&conn)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
             INSERT OR IGNORE INTO meta VALUES ('schema', 4);
             CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, record TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS materials (key_id TEXT NOT NULL, version INTEGER NOT NULL,
                 material BLOB NOT NULL, PRIMARY KEY (key_id, version));
             CREATE TABLE IF NOT EXISTS aliases (name TEXT PRIMARY KEY, key_id TEXT,
                 created REAL NOT NULL, updated REAL NOT NULL);
             CREATE TABLE IF NOT EXISTS grants (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, record TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, record TEXT NOT NULL, hash BLOB NOT NULL);",
        )?;
        conn.execute_batch(crate::custom_key_store::SCHEMA)?;
        let v: i64 = conn.query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))?;
        match v {
            KEYSTORE_SCHEMA_V4 => {}
            // Older records read as version 4 records without the new members.
            KEYSTORE_SCHEMA_V1 | KEYSTORE_SCHEMA_V2 | KEYSTORE_SCHEMA_V3 => {
                conn.execute(
                    "UPDATE meta SET v = ?1 WHERE k = 'schema'",
                    params![KEYSTORE_SCHEMA_V4],
                )?;
            }
            _ => {
                tracing::error!(version = v, "unsupported key store schema");
                return Err(KmsError::Internal);
            }
        }
        Ok(Store {
            conn,
            erased: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Starts the transaction of one call (IMMEDIATE: the write lock is taken now, so
    /// the call never fails half way for want of it).
    pub(crate) fn begin(&self) -> Result<(), KmsError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    pub(crate) fn commit(&self) -> Result<(), KmsError> {
        self.conn.execute_batch("COMMIT")?;
        crate::shred::after_commit(self);
        Ok(())
    }

    pub(crate) fn rollback(&self) -> Result<(), KmsError> {
        crate::shred::after_rollback(self);
        self.conn.execute_batch("ROLLBACK")?;
        Ok(())
    }

    pub(crate) fn key(&self, id: &str) -> Result<Option<KeyRecord>, KmsError> {
        let rec: Option<String> = self
            .conn
            .query_row("SELECT record FROM keys WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?;
        rec.map(|r| serde_json::from_str(&r).map_err(corrupt))
            .transpose()
    }

    pub(crate) fn put_key(&self, k: &KeyRecord) -> Result<(), KmsError> {
        let rec = serde_json::to_string(k).map_err(corrupt)?;
        self.conn.execute(
            "INSERT INTO keys (id, record) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            params![k.id, rec],
        )?;
        Ok(())
    }

    pub(crate) fn keys(&self) -> Result<Vec<KeyRecord>, KmsError> {
        let mut stmt = self.conn.prepare("SELECT record FROM keys ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| serde_json::from_str(&r?).map_err(corrupt))
            .collect()
    }

    /// Removes a key with its material, aliases and grants.
    pub(crate) fn delete_key(&self, id: &str) -> Result<(), KmsError> {
        crate::shred::note_erase(self);
        self.conn
            .execute("DELETE FROM keys WHERE id = ?1", params![id])?;
        self.conn
            .execute("DELETE FROM materials WHERE key_id = ?1", params![id])?;
        self.conn
            .execute("DELETE FROM aliases WHERE key_id = ?1", params![id])?;
        self.conn
            .execute("DELETE FROM grants WHERE key_id = ?1", params![id])?;
        Ok(())
    }

    pub(crate) fn material(
        &self,
        key_id: &str,
        version: u32,
    ) -> Result<Option<Material>, KmsError> {
        let m: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT material FROM materials WHERE key_id = ?1 AND version = ?2",
                params![key_id, version],
                |r| r.get(0),
            )
            .optional()?;
        Ok(m.map(Zeroizing::new))
    }

    pub(crate) fn delete_material(&self, key_id: &str, version: u32) -> Result<(), KmsError> {
        crate::shred::note_erase(self);
        self.conn.execute(
            "DELETE FROM materials WHERE key_id = ?1 AND version = ?2",
            params![key_id, version],
        )?;
        Ok(())
    }

    pub(crate) fn put_material(
        &self,
        key_id: &str,
        version: u32,
        material: &[u8],
    ) -> Result<(), KmsError> {
        self.conn.execute(
            "INSERT INTO materials (key_id, version, material) VALUES (?1, ?2, ?3)
             ON CONFLICT (key_id, version) DO UPDATE SET material = excluded.material",
            params![key_id, version, material],
        )?;
        Ok(())
    }

    pub(crate) fn alias(&self, name: &str) -> Result<Option<Alias>, KmsError> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, key_id, created, updated FROM aliases WHERE name = ?1",
                params![name],
                |r| {
                    Ok(Alias {
                        name: r.get(0)?,
                        key_id: r.get(1)?,
                        created: r.get(2)?,
                        updated: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    pub(crate) fn aliases(&self) -> Result<Vec<Alias>, KmsError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, key_id, created, updated FROM aliases ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(Alias {
                name: r.get(0)?,
                key_id: r.get(1)?,
                created: r.get(2)?,
                updated: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn put_alias(&self, a: &Alias) -> Result<(), KmsError> {
        self.conn.execute(
            "INSERT INTO aliases (name, key_id, created, updated) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, updated = excluded.updated",
            params![a.name, a.key_id, a.created, a.updated],
        )?;
        Ok(())
    }

    pub(crate) fn delete_alias(&self, name: &str) -> Result<bool, KmsError> {
        Ok(self
            .conn
            .execute("DELETE FROM aliases WHERE name = ?1", params![name])?
            > 0)
    }

    pub(crate) fn grants(&self, key_id: Option<&str>) -> Result<Vec<Grant>, KmsError> {
        let mut out = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT key_id, record FROM grants ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (k, rec) = row?;
            if key_id.is_none_or(|want| want == k) {
                out.push(serde_json::from_str(&rec).map_err(corrupt)?);
            }
        }
        Ok(out)
    }

    pub(crate) fn put_grant(&self, g: &Grant) -> Result<(), KmsError> {
        let rec = serde_json::to_string(g).map_err(corrupt)?;
        self.conn.execute(
            "INSERT INTO grants (id, key_id, record) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            params![g.id, g.key_id, rec],
        )?;
        Ok(())
    }

    pub(crate) fn delete_grant(&self, id: &str) -> Result<bool, KmsError> {
        Ok(self
            .conn
            .execute("DELETE FROM grants WHERE id = ?1", params![id])?
            > 0)
    }
}
