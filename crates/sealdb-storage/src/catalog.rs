//! The catalog: table definitions with their wrapped table keys, and credentials.
//!
//! One SQLCipher file, `catalog.db`, keyed with `HKDF(root, "catalog")`. It holds the
//! only record of table names (table files are named by UUID).

use crate::error::StorageError;
use crate::sqlcipher::open_encrypted;
use rusqlite::{Connection, OptionalExtension, params};
use sealdb_common::SecretKey32;
use sealdb_common::secret::SecretString;
use std::path::Path;

/// Version of the catalog schema, stored in its `meta` table. DO NOT CHANGE for v1 files.
const CATALOG_SCHEMA_V1: i64 = 1;

/// One table as the catalog records it.
#[derive(Clone, Debug)]
pub struct TableRecord {
    /// The table name.
    pub name: String,
    /// The table's UUID; its file is `tables/<id>.db`.
    pub id: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// The DynamoDB layer's serialized definition (opaque here).
    pub definition: Vec<u8>,
    /// The wrapped table key (see `vault`).
    pub wrapped_key: Vec<u8>,
}

/// A backup as the catalog records it.
#[derive(Clone, Debug)]
pub struct BackupRecord {
    /// The backup's UUID; its file is `backups/<id>.db`.
    pub id: String,
    /// The source table's name.
    pub table_name: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// The DynamoDB layer's description of the backup (opaque here).
    pub details: Vec<u8>,
    /// The backup's own data key, wrapped like a table key.
    pub wrapped_key: Vec<u8>,
}

/// An access key pair and whom it belongs to.
#[derive(Clone, Debug)]
pub struct Credential {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret: SecretString,
    /// `None` for the account root (admin), else the user name.
    pub user_name: Option<String>,
}

/// A wrapped key in the catalog, as [`Catalog::rewrap_all`] shows it.
pub struct WrappedKeyRef<'a> {
    /// The table's name (for a backup: its source table's).
    pub table_name: &'a str,
    /// The id the seal is bound to: the table's UUID, or the backup's.
    pub bound_id: &'a str,
    /// The wrapped key.
    pub wrapped: &'a [u8],
}

/// The open catalog file.
pub struct Catalog {
    conn: Connection,
}

impl Catalog {
    /// Opens or creates `catalog.db` in `dir`.
    pub fn open(dir: &Path, key: &SecretKey32) -> Result<Catalog, StorageError> {
        let conn = open_encrypted(&dir.join("catalog.db"), key)?;
        // Wrapped table keys that are replaced or removed must leave no copy behind.
        crate::erase::secure_delete(&conn)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                created_ms INTEGER NOT NULL, definition BLOB NOT NULL, wrapped_key BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS credentials (access_key_id TEXT PRIMARY KEY,
                secret TEXT NOT NULL, user_name TEXT);
             CREATE TABLE IF NOT EXISTS backups (id TEXT PRIMARY KEY, table_name TEXT NOT NULL,
                created_ms INTEGER NOT NULL, details BLOB NOT NULL, wrapped_key BLOB NOT NULL);",
        )?;
        let version: Option<i64> = conn
            .query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))
            .optional()?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO meta VALUES ('schema', ?1)",
                    params![CATALOG_SCHEMA_V1],
                )?;
            }
            Some(CATALOG_SCHEMA_V1) => {}
            Some(v) => {
                return Err(StorageError::Corrupt(format!(
                    "catalog schema version {v} is not supported"
                )));
            }
        }
        Ok(Catalog { conn })
    }

    /// Whether the `meta` row `k` is present (a one-way mark, such as a step done).
    pub fn marked(&self, k: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM meta WHERE k = ?1", params![k], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Sets the `meta` row `k` (value 1); already set is no change.
    pub fn mark(&self, k: &str) -> Result<(), StorageError> {
        self.conn
            .execute("INSERT OR IGNORE INTO meta VALUES (?1, 1)", params![k])?;
        Ok(())
    }

    /// Every table, by name.
    pub fn tables(&self) -> Result<Vec<TableRecord>, StorageError> {
        let mut stmt = self.conn.prepare(
            "SELECT name, id, created_ms, definition, wrapped_key FROM tables ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TableRecord {
                name: r.get(0)?,
                id: r.get(1)?,
                created_ms: r.get(2)?,
                definition: r.get(3)?,
                wrapped_key: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Adds a table; `TableExists` if the name is taken.
    pub fn insert_table(&self, rec: &TableRecord) -> Result<(), StorageError> {
        let res = self.conn.execute(
            "INSERT INTO tables (name, id, created_ms, definition, wrapped_key) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rec.name, rec.id, rec.created_ms, rec.definition, rec.wrapped_key],
        );
        match res {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StorageError::TableExists)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a table's definition and wrapped key.
    pub fn update_table(
        &self,
        name: &str,
        definition: &[u8],
        wrapped_key: &[u8],
    ) -> Result<(), StorageError> {
        let n = self.conn.execute(
            "UPDATE tables SET definition = ?2, wrapped_key = ?3 WHERE name = ?1",
            params![name, definition, wrapped_key],
        )?;
        if n == 0 {
            return Err(StorageError::TableNotFound);
        }
        Ok(())
    }

    /// Removes a table's record.
    pub fn delete_table(&self, name: &str) -> Result<(), StorageError> {
        let n = self
            .conn
            .execute("DELETE FROM tables WHERE name = ?1", params![name])?;
        if n == 0 {
            return Err(StorageError::TableNotFound);
        }
        Ok(())
    }

    /// Every backup record.
    pub fn backups(&self) -> Result<Vec<BackupRecord>, StorageError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, table_name, created_ms, details, wrapped_key FROM backups ORDER BY created_ms, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(BackupRecord {
                id: r.get(0)?,
                table_name: r.get(1)?,
                created_ms: r.get(2)?,
                details: r.get(3)?,
                wrapped_key: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Adds a backup record.
    pub fn insert_backup(&self, b: &BackupRecord) -> Result<(), StorageError> {
        self.conn.execute(
            "INSERT INTO backups (id, table_name, created_ms, details, wrapped_key) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![b.id, b.table_name, b.created_ms, b.details, b.wrapped_key],
        )?;
        Ok(())
    }

    /// Removes a backup record; true if it existed.
    pub fn delete_backup(&self, id: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .execute("DELETE FROM backups WHERE id = ?1", params![id])?
            > 0)
    }

    /// Every credential.
    pub fn credentials(&self) -> Result<Vec<Credential>, StorageError> {
        let mut stmt = self
            .conn
            .prepare("SELECT access_key_id, secret, user_name FROM credentials")?;
        let rows = stmt.query_map([], |r| {
            Ok(Credential {
                access_key_id: r.get(0)?,
                secret: SecretString::new(r.get(1)?),
                user_name: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Adds or replaces a credential.
    pub fn put_credential(&self, c: &Credential) -> Result<(), StorageError> {
        self.conn.execute(
            "INSERT INTO credentials (access_key_id, secret, user_name) VALUES (?1, ?2, ?3)
             ON CONFLICT (access_key_id) DO UPDATE SET secret = excluded.secret, user_name = excluded.user_name",
            params![c.access_key_id, c.secret.expose(), c.user_name],
        )?;
        Ok(())
    }

    /// Removes a credential; true if it existed.
    pub fn delete_credential(&self, access_key_id: &str) -> Result<bool, StorageError> {
        let n = self.conn.execute(
            "DELETE FROM credentials WHERE access_key_id = ?1",
            params![access_key_id],
        )?;
        Ok(n > 0)
    }

    /// Replaces every wrapped key the catalog holds, of tables and of backups: `f` gets
    /// the key's context (table name, and the id its seal is bound to: the table's, or
    /// the backup's) and returns its new form, or `None` to keep it. All in one
    /// transaction. Root-key rotation uses it, so that nothing sealed under the old root
    /// is left behind.
    pub fn rewrap_all(
        conn: &Connection,
        mut f: impl FnMut(&WrappedKeyRef<'_>) -> Result<Option<Vec<u8>>, rusqlite::Error>,
    ) -> Result<(), rusqlite::Error> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = Catalog::rewrap_rows(conn, &mut f);
        match result {
            Ok(()) => conn.execute_batch("COMMIT"),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn rewrap_rows(
        conn: &Connection,
        f: &mut impl FnMut(&WrappedKeyRef<'_>) -> Result<Option<Vec<u8>>, rusqlite::Error>,
    ) -> Result<(), rusqlite::Error> {
        for (table, id_column) in [("tables", "id"), ("backups", "id")] {
            let name_column = if table == "tables" {
                "name"
            } else {
                "table_name"
            };
            let rows: Vec<(String, String, Vec<u8>)> = {
                let mut stmt = conn.prepare(&format!(
                    "SELECT {name_column}, {id_column}, wrapped_key FROM {table}"
                ))?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (name, id, wrapped) in &rows {
                let key_ref = WrappedKeyRef {
                    table_name: name,
                    bound_id: id,
                    wrapped,
                };
                if let Some(w) = f(&key_ref)? {
                    conn.execute(
                        &format!("UPDATE {table} SET wrapped_key = ?2 WHERE {id_column} = ?1"),
                        params![id, w],
                    )?;
                }
            }
        }
        Ok(())
    }

    /// After a wrapped key was replaced or removed: empties the WAL, whose earlier page
    /// images still hold it (the file's own copy was zeroed by `secure_delete`).
    pub fn erase_old_copies(&self) {
        if let Err(e) = crate::erase::truncate_wal(&self.conn) {
            tracing::warn!(error = %e, "catalog WAL not truncated after a key was replaced");
        }
    }

    /// Re-keys the catalog file under a new key.
    pub fn rekey(&self, key: &SecretKey32) -> Result<(), StorageError> {
        crate::sqlcipher::rekey(&self.conn, key)?;
        Ok(())
    }
}
