//! The engine: the catalog plus the open table files, with table keys unwrapped on
//! first use through the [`KeyVault`].

use crate::catalog::{Catalog, Credential, TableRecord};
use crate::error::StorageError;
use crate::table::TableStore;
use crate::vault::{KeyVault, TableKeyContext};
use sealdb_common::RootKey;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::OnceCell;

/// A table known to the catalog, with its file opened lazily.
pub struct TableHandle {
    record: RwLock<TableRecord>,
    store: OnceCell<Arc<TableStore>>,
}

impl TableHandle {
    /// A snapshot of the catalog record.
    pub fn record(&self) -> TableRecord {
        match self.record.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The embedded storage engine.
pub struct Engine {
    dir: PathBuf,
    catalog: Mutex<Catalog>,
    vault: Arc<dyn KeyVault>,
    tables: RwLock<BTreeMap<String, Arc<TableHandle>>>,
    credentials: RwLock<HashMap<String, Credential>>,
    /// One multi-table transaction (or transactional read) at a time.
    pub(crate) tx_lock: tokio::sync::Mutex<()>,
    /// Redo records of multi-table transactions.
    pub(crate) txlog: Mutex<crate::txn::TxLog>,
}

fn lock_err<T>(_: T) -> StorageError {
    StorageError::Corrupt("lock poisoned".into())
}

impl Engine {
    /// Opens the data dir: the catalog (created if absent), and removes table files
    /// that no catalog record names (left by a crash during CreateTable/DeleteTable).
    pub fn open(
        dir: &Path,
        root: &RootKey,
        vault: Arc<dyn KeyVault>,
    ) -> Result<Engine, StorageError> {
        std::fs::create_dir_all(dir.join("tables"))?;
        let catalog = Catalog::open(dir, &root.derive("catalog"))?;
        let txlog = crate::txn::TxLog::open(dir, &root.derive("txlog"))?;
        let records = catalog.tables()?;
        let creds = catalog.credentials()?;
        let known: std::collections::HashSet<String> =
            records.iter().map(|r| r.id.clone()).collect();
        for entry in std::fs::read_dir(dir.join("tables"))? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let id = name.split('.').next().unwrap_or_default();
            if !known.contains(id) {
                tracing::warn!(file = %path.display(), "removing table file with no catalog record");
                let _ = std::fs::remove_file(&path);
            }
        }
        let tables = records
            .into_iter()
            .map(|r| {
                (
                    r.name.clone(),
                    Arc::new(TableHandle {
                        record: RwLock::new(r),
                        store: OnceCell::new(),
                    }),
                )
            })
            .collect();
        let credentials = creds
            .into_iter()
            .map(|c| (c.access_key_id.clone(), c))
            .collect();
        Ok(Engine {
            dir: dir.to_owned(),
            catalog: Mutex::new(catalog),
            vault,
            tables: RwLock::new(tables),
            credentials: RwLock::new(credentials),
            tx_lock: tokio::sync::Mutex::new(()),
            txlog: Mutex::new(txlog),
        })
    }

    fn table_path(&self, id: &str) -> PathBuf {
        self.dir.join("tables").join(format!("{id}.db"))
    }

    /// Every table record, by name.
    pub fn tables(&self) -> Vec<TableRecord> {
        match self.tables.read() {
            Ok(t) => t.values().map(|h| h.record()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Every table handle.
    pub(crate) fn tables_snapshot(&self) -> Vec<Arc<TableHandle>> {
        match self.tables.read() {
            Ok(t) => t.values().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Holds off multi-table transactions while a transactional read runs, so that it
    /// never sees one half applied.
    pub async fn read_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.tx_lock.lock().await
    }

    /// The handle of one table.
    pub fn table(&self, name: &str) -> Option<Arc<TableHandle>> {
        self.tables.read().ok()?.get(name).cloned()
    }

    /// Creates a table: a fresh table key from the vault, the file, then the catalog record.
    pub async fn create_table(
        &self,
        name: &str,
        definition: Vec<u8>,
        created_ms: i64,
    ) -> Result<TableRecord, StorageError> {
        if self.table(name).is_some() {
            return Err(StorageError::TableExists);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let ctx = TableKeyContext {
            table_name: name.to_owned(),
            table_id: id.clone(),
        };
        let (key, wrapped_key) = self.vault.generate(&ctx).await?;
        let store = TableStore::open(&self.table_path(&id), key)?;
        let record = TableRecord {
            name: name.to_owned(),
            id,
            created_ms,
            definition,
            wrapped_key,
        };
        let mut tables = self.tables.write().map_err(lock_err)?;
        if tables.contains_key(name) {
            drop(tables);
            store.close();
            let _ = std::fs::remove_file(store.path());
            return Err(StorageError::TableExists);
        }
        self.catalog
            .lock()
            .map_err(lock_err)?
            .insert_table(&record)?;
        let cell = OnceCell::new();
        let _ = cell.set(store);
        tables.insert(
            name.to_owned(),
            Arc::new(TableHandle {
                record: RwLock::new(record.clone()),
                store: cell,
            }),
        );
        Ok(record)
    }

    /// The open store of a table, unwrapping its key and opening the file on first use.
    pub async fn store(&self, handle: &TableHandle) -> Result<Arc<TableStore>, StorageError> {
        handle
            .store
            .get_or_try_init(|| async {
                let rec = handle.record();
                let ctx = TableKeyContext {
                    table_name: rec.name.clone(),
                    table_id: rec.id.clone(),
                };
                let key = self.vault.unwrap_key(&ctx, &rec.wrapped_key).await?;
                TableStore::open(&self.table_path(&rec.id), key)
            })
            .await
            .cloned()
    }

    /// Replaces a table's definition (the wrapped key is kept).
    pub fn update_definition(&self, name: &str, definition: Vec<u8>) -> Result<(), StorageError> {
        let handle = self.table(name).ok_or(StorageError::TableNotFound)?;
        let mut rec = handle.record.write().map_err(lock_err)?;
        self.catalog
            .lock()
            .map_err(lock_err)?
            .update_table(name, &definition, &rec.wrapped_key)?;
        rec.definition = definition;
        Ok(())
    }

    /// Deletes a table: the catalog record first (so a crash leaves only an orphan file,
    /// removed at the next start), then the writer is stopped and the files removed.
    pub fn delete_table(&self, name: &str) -> Result<TableRecord, StorageError> {
        let handle = {
            let mut tables = self.tables.write().map_err(lock_err)?;
            let handle = tables
                .get(name)
                .cloned()
                .ok_or(StorageError::TableNotFound)?;
            self.catalog.lock().map_err(lock_err)?.delete_table(name)?;
            tables.remove(name);
            handle
        };
        let rec = handle.record();
        if let Some(store) = handle.store.get() {
            store.close();
        }
        let path = self.table_path(&rec.id);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        Ok(rec)
    }

    /// Looks up a credential by access key id.
    pub fn credential(&self, access_key_id: &str) -> Option<Credential> {
        self.credentials.read().ok()?.get(access_key_id).cloned()
    }

    /// Every credential.
    pub fn credentials(&self) -> Vec<Credential> {
        match self.credentials.read() {
            Ok(c) => c.values().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Adds or replaces a credential.
    pub fn put_credential(&self, cred: Credential) -> Result<(), StorageError> {
        self.catalog
            .lock()
            .map_err(lock_err)?
            .put_credential(&cred)?;
        self.credentials
            .write()
            .map_err(lock_err)?
            .insert(cred.access_key_id.clone(), cred);
        Ok(())
    }

    /// Removes a credential.
    pub fn delete_credential(&self, access_key_id: &str) -> Result<bool, StorageError> {
        let existed = self
            .catalog
            .lock()
            .map_err(lock_err)?
            .delete_credential(access_key_id)?;
        self.credentials
            .write()
            .map_err(lock_err)?
            .remove(access_key_id);
        Ok(existed)
    }

    /// Stops every writer after its queued work and closes all files.
    pub fn close(&self) {
        if let Ok(tables) = self.tables.read() {
            for h in tables.values() {
                if let Some(s) = h.store.get() {
                    s.close();
                }
            }
        }
    }
}
