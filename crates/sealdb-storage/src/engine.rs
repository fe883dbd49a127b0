//! The engine: the catalog plus the open table files, with table keys unwrapped through
//! the [`KeyVault`] on first use and re-validated on an interval, so that a disabled or
//! revoked KMS key closes the table (its key wiped from memory) until access returns.

use crate::catalog::{BackupRecord, Catalog, Credential, TableRecord};
use crate::error::StorageError;
use crate::table::TableStore;
use crate::vault::{KeyVault, TableKeyContext};
use sealdb_common::Purpose;
use sealdb_common::{Clock, Principal, RootKey};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// How often, by default, an open table's key is re-checked with the vault (AWS: about
/// five minutes).
pub const DEFAULT_KEY_CHECK_MS: i64 = 5 * 60 * 1000;

/// A table known to the catalog, with its file opened on demand.
pub struct TableHandle {
    record: RwLock<TableRecord>,
    store: tokio::sync::RwLock<Option<Arc<TableStore>>>,
    /// When the key was last confirmed by the vault (ms since the epoch).
    validated_ms: AtomicI64,
    /// When the key was first found unusable (ms), while it stays unusable.
    inaccessible_since: Mutex<Option<i64>>,
}

impl TableHandle {
    fn new(record: TableRecord, store: Option<Arc<TableStore>>, now_ms: i64) -> TableHandle {
        TableHandle {
            record: RwLock::new(record),
            store: tokio::sync::RwLock::new(store),
            validated_ms: AtomicI64::new(now_ms),
            inaccessible_since: Mutex::new(None),
        }
    }

    /// A snapshot of the catalog record.
    pub fn record(&self) -> TableRecord {
        match self.record.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// When the table's key was first found unusable, if it is unusable now.
    pub fn inaccessible_since(&self) -> Option<i64> {
        self.inaccessible_since.lock().ok().and_then(|g| *g)
    }

    fn set_inaccessible(&self, since: Option<i64>) {
        if let Ok(mut g) = self.inaccessible_since.lock() {
            match (since, *g) {
                (Some(_), Some(_)) => {}
                _ => *g = since,
            }
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
    clock: Clock,
    key_check_ms: AtomicI64,
    /// One multi-table transaction (or transactional read) at a time.
    pub(crate) tx_lock: tokio::sync::Mutex<()>,
    /// Redo records of multi-table transactions.
    pub(crate) txlog: Mutex<crate::txn::TxLog>,
    /// How long multi-table transactions wait for their parts.
    pub(crate) tx_timeouts: crate::txn::TxTimeouts,
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
        Engine::open_with_clock(dir, root, vault, Clock::system())
    }

    /// [`Engine::open`] with a given clock.
    pub fn open_with_clock(
        dir: &Path,
        root: &RootKey,
        vault: Arc<dyn KeyVault>,
        clock: Clock,
    ) -> Result<Engine, StorageError> {
        std::fs::create_dir_all(dir.join("tables"))?;
        let catalog = Catalog::open(dir, &root.derive(Purpose::Catalog))?;
        let txlog = crate::txn::TxLog::open(dir, &root.derive(Purpose::Txlog))?;
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
        let now = clock.now_millis();
        let tables = records
            .into_iter()
            .map(|r| (r.name.clone(), Arc::new(TableHandle::new(r, None, now))))
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
            clock,
            key_check_ms: AtomicI64::new(DEFAULT_KEY_CHECK_MS),
            tx_lock: tokio::sync::Mutex::new(()),
            txlog: Mutex::new(txlog),
            tx_timeouts: crate::txn::TxTimeouts::default(),
        })
    }

    /// Sets how often an open table's key is re-checked with the vault.
    pub fn set_key_check_interval_ms(&self, ms: i64) {
        self.key_check_ms.store(ms.max(0), Ordering::Relaxed);
    }

    fn table_path(&self, id: &str) -> PathBuf {
        self.dir.join("tables").join(format!("{id}.db"))
    }

    /// A new file id and a fresh key for it (a table's or a backup's), wrapped by the
    /// vault under `kms_key` (the service-owned key when `None`) for `caller`.
    async fn new_file_key(
        &self,
        table_name: &str,
        kms_key: Option<String>,
        caller: Option<Principal>,
    ) -> Result<(String, sealdb_common::SecretKey32, Vec<u8>), StorageError> {
        let id = uuid::Uuid::new_v4().to_string();
        let ctx = TableKeyContext {
            table_name: table_name.to_owned(),
            table_id: id.clone(),
            kms_key,
            caller,
        };
        let (key, wrapped_key) = self.vault.generate(&ctx).await?;
        Ok((id, key, wrapped_key))
    }

    fn context(
        rec: &TableRecord,
        kms_key: Option<String>,
        caller: Option<Principal>,
    ) -> TableKeyContext {
        TableKeyContext {
            table_name: rec.name.clone(),
            table_id: rec.id.clone(),
            kms_key,
            caller,
        }
    }

    /// Every table record, by name.
    pub fn tables(&self) -> Vec<TableRecord> {
        self.tables_snapshot().iter().map(|h| h.record()).collect()
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

    /// Creates a table: a fresh table key from the vault (under `kms_key`, or the
    /// service-owned key), the file, then the catalog record.
    pub async fn create_table(
        &self,
        name: &str,
        definition: Vec<u8>,
        created_ms: i64,
        kms_key: Option<String>,
        caller: Option<Principal>,
    ) -> Result<TableRecord, StorageError> {
        if self.table(name).is_some() {
            return Err(StorageError::TableExists);
        }
        let (id, key, wrapped_key) = self.new_file_key(name, kms_key, caller).await?;
        let store = TableStore::create(&self.table_path(&id), key)?;
        let record = TableRecord {
            name: name.to_owned(),
            id,
            created_ms,
            definition,
            wrapped_key,
        };
        self.register_new_table(record, store)
    }

    /// Records a newly written table file in the catalog and the open-table map. A table
    /// of that name created meanwhile wins: the new file is closed and removed.
    fn register_new_table(
        &self,
        record: TableRecord,
        store: Arc<TableStore>,
    ) -> Result<TableRecord, StorageError> {
        let mut tables = self.tables.write().map_err(lock_err)?;
        if tables.contains_key(&record.name) {
            drop(tables);
            store.close();
            let _ = std::fs::remove_file(store.path());
            return Err(StorageError::TableExists);
        }
        self.catalog
            .lock()
            .map_err(lock_err)?
            .insert_table(&record)?;
        tables.insert(
            record.name.clone(),
            Arc::new(TableHandle::new(
                record.clone(),
                Some(store),
                self.clock.now_millis(),
            )),
        );
        Ok(record)
    }

    /// The open store of a table. The key is unwrapped on first use and re-checked with
    /// the vault once the check interval has passed; if the vault refuses (a disabled or
    /// revoked KMS key), the table is closed, its key dropped from memory, and the
    /// vault's error returned until access comes back.
    pub async fn store(&self, handle: &TableHandle) -> Result<Arc<TableStore>, StorageError> {
        let check = self.key_check_ms.load(Ordering::Relaxed);
        let fresh = |now: i64| now - handle.validated_ms.load(Ordering::Relaxed) < check;
        // Fast path: open and recently confirmed (a shared lock, no vault call).
        if fresh(self.clock.now_millis())
            && let Some(s) = handle.store.read().await.as_ref()
        {
            return Ok(Arc::clone(s));
        }
        let mut slot = handle.store.write().await;
        let now = self.clock.now_millis();
        if fresh(now)
            && let Some(s) = slot.as_ref()
        {
            return Ok(Arc::clone(s));
        }
        let rec = handle.record();
        if rec.wrapped_key.is_empty() {
            // Archived: the file now lives among the backups.
            return Err(StorageError::Archived);
        }
        let ctx = Engine::context(&rec, None, None);
        match self.vault.unwrap_key(&ctx, &rec.wrapped_key).await {
            Ok(key) => {
                handle.validated_ms.store(now, Ordering::Relaxed);
                handle.set_inaccessible(None);
                match slot.as_ref() {
                    Some(s) => Ok(Arc::clone(s)),
                    None => {
                        let s = TableStore::open(&self.table_path(&rec.id), key)?;
                        *slot = Some(Arc::clone(&s));
                        Ok(s)
                    }
                }
            }
            Err(e) => {
                if let Some(s) = slot.take() {
                    s.close();
                }
                handle.set_inaccessible(Some(now));
                Err(e)
            }
        }
    }

    /// Re-wraps a table's key under another KMS key (or the service-owned key) and
    /// stores the table's new `definition` with it, in one catalog write, so that the
    /// definition always names the key that really wraps the table key. The table file
    /// is untouched.
    pub async fn rewrap_table(
        &self,
        name: &str,
        kms_key: Option<String>,
        caller: Option<Principal>,
        definition: Vec<u8>,
    ) -> Result<(), StorageError> {
        let handle = self.table(name).ok_or(StorageError::TableNotFound)?;
        let store = self.store(&handle).await?;
        let old = handle.record();
        let ctx = Engine::context(&old, kms_key, caller);
        let wrapped = self.vault.wrap_existing(&ctx, store.key()).await?;
        {
            let mut rec = handle.record.write().map_err(lock_err)?;
            let catalog = self.catalog.lock().map_err(lock_err)?;
            catalog.update_table(name, &definition, &wrapped)?;
            // The old wrapping must not outlive the switch: if the new key is deleted,
            // an old copy under the root key or another KMS key would still open the table.
            catalog.erase_old_copies();
            rec.wrapped_key = wrapped;
            rec.definition = definition;
        }
        self.vault
            .forget(&Engine::context(&old, None, None), &old.wrapped_key)
            .await;
        Ok(())
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
    pub async fn delete_table(&self, name: &str) -> Result<TableRecord, StorageError> {
        let handle = {
            let mut tables = self.tables.write().map_err(lock_err)?;
            let handle = tables
                .get(name)
                .cloned()
                .ok_or(StorageError::TableNotFound)?;
            let catalog = self.catalog.lock().map_err(lock_err)?;
            catalog.delete_table(name)?;
            catalog.erase_old_copies();
            drop(catalog);
            tables.remove(name);
            handle
        };
        let rec = handle.record();
        if let Some(store) = handle.store.write().await.take() {
            store.close();
        }
        let path = self.table_path(&rec.id);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        self.vault
            .forget(&Engine::context(&rec, None, None), &rec.wrapped_key)
            .await;
        Ok(rec)
    }

    fn backup_path(&self, id: &str) -> PathBuf {
        self.dir.join("backups").join(format!("{id}.db"))
    }

    /// Copies a table into a backup file under a fresh data key, wrapped under
    /// `kms_key` (the table's key at backup time) or the service-owned key.
    pub async fn create_backup(
        &self,
        table: &str,
        details: Vec<u8>,
        created_ms: i64,
        kms_key: Option<String>,
        caller: Option<Principal>,
    ) -> Result<BackupRecord, StorageError> {
        let handle = self.table(table).ok_or(StorageError::TableNotFound)?;
        let store = self.store(&handle).await?;
        std::fs::create_dir_all(self.dir.join("backups"))?;
        let (id, key, wrapped_key) = self.new_file_key(table, kms_key, caller).await?;
        let path = self.backup_path(&id);
        if let Err(e) = store.export_to(path.clone(), key).await {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let rec = BackupRecord {
            id,
            table_name: table.to_owned(),
            created_ms,
            details,
            wrapped_key,
        };
        self.catalog.lock().map_err(lock_err)?.insert_backup(&rec)?;
        Ok(rec)
    }

    /// Archives a table whose key stayed unusable: its (still encrypted) file becomes a
    /// backup with the table's own wrapped key, and the table record keeps no key.
    pub async fn archive_table(
        &self,
        name: &str,
        details: Vec<u8>,
        now_ms: i64,
    ) -> Result<BackupRecord, StorageError> {
        let handle = self.table(name).ok_or(StorageError::TableNotFound)?;
        if let Some(s) = handle.store.write().await.take() {
            s.close();
        }
        let rec = handle.record();
        if rec.wrapped_key.is_empty() {
            return Err(StorageError::Archived);
        }
        std::fs::create_dir_all(self.dir.join("backups"))?;
        // The backup keeps the table's id, so a root-sealed key still opens.
        let backup = BackupRecord {
            id: rec.id.clone(),
            table_name: name.to_owned(),
            created_ms: now_ms,
            details,
            wrapped_key: rec.wrapped_key.clone(),
        };
        let src = self.table_path(&rec.id);
        let dst = self.backup_path(&rec.id);
        for suffix in ["-wal", "-shm", ""] {
            let mut a = src.clone().into_os_string();
            a.push(suffix);
            let mut b = dst.clone().into_os_string();
            b.push(suffix);
            if std::path::Path::new(&a).exists() {
                std::fs::rename(&a, &b)?;
            }
        }
        let catalog = self.catalog.lock().map_err(lock_err)?;
        catalog.insert_backup(&backup)?;
        let mut r = handle.record.write().map_err(lock_err)?;
        catalog.update_table(name, &r.definition, &[])?;
        r.wrapped_key = Vec::new();
        Ok(backup)
    }

    /// Every backup.
    pub fn backups(&self) -> Result<Vec<BackupRecord>, StorageError> {
        self.catalog.lock().map_err(lock_err)?.backups()
    }

    /// Removes a backup and its file.
    pub async fn delete_backup(&self, id: &str) -> Result<(), StorageError> {
        let rec = self
            .backups()?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or(StorageError::TableNotFound)?;
        {
            let catalog = self.catalog.lock().map_err(lock_err)?;
            catalog.delete_backup(id)?;
            catalog.erase_old_copies();
        }
        let _ = std::fs::remove_file(self.backup_path(id));
        let ctx = TableKeyContext {
            table_name: rec.table_name.clone(),
            table_id: rec.id.clone(),
            kms_key: None,
            caller: None,
        };
        self.vault.forget(&ctx, &rec.wrapped_key).await;
        Ok(())
    }

    /// Creates table `name` from a backup: the backup's key must still be usable; the
    /// new table gets its own table key under `kms_key`.
    pub async fn restore_table(
        &self,
        backup: &BackupRecord,
        name: &str,
        definition: Vec<u8>,
        created_ms: i64,
        kms_key: Option<String>,
        caller: Option<Principal>,
    ) -> Result<TableRecord, StorageError> {
        if self.table(name).is_some() {
            return Err(StorageError::TableExists);
        }
        let bctx = TableKeyContext {
            table_name: backup.table_name.clone(),
            table_id: backup.id.clone(),
            kms_key: None,
            caller: caller.clone(),
        };
        let bkey = self.vault.unwrap_key(&bctx, &backup.wrapped_key).await?;
        let (id, key, wrapped_key) = self.new_file_key(name, kms_key, caller).await?;
        let dest = self.table_path(&id);
        let src = self.backup_path(&backup.id);
        let export_key = key.clone();
        let dest2 = dest.clone();
        tokio::task::spawn_blocking(move || {
            let conn = crate::sqlcipher::open_existing(&src, &bkey)?;
            crate::table::export(&conn, &dest2, &export_key)
        })
        .await
        .map_err(|_| StorageError::Closed)??;
        let store = TableStore::open(&dest, key)?;
        let record = TableRecord {
            name: name.to_owned(),
            id,
            created_ms,
            definition,
            wrapped_key,
        };
        self.register_new_table(record, store)
    }

    /// Creates table `name` as table `source` was at `restore_ms` (point-in-time
    /// recovery): a consistent copy of the source's file under a new table key (wrapped
    /// under `kms_key`, or the service-owned key), taken back through the source's
    /// recovery history. The copy keeps only items: its index entries, stream and
    /// history are dropped, and the caller rebuilds the indexes of `definition`.
    #[allow(clippy::too_many_arguments)]
    pub async fn restore_table_to_time(
        &self,
        source: &str,
        name: &str,
        definition: Vec<u8>,
        created_ms: i64,
        kms_key: Option<String>,
        caller: Option<Principal>,
        restore_ms: i64,
    ) -> Result<TableRecord, StorageError> {
        if self.table(name).is_some() {
            return Err(StorageError::TableExists);
        }
        let handle = self.table(source).ok_or(StorageError::TableNotFound)?;
        let store = self.store(&handle).await?;
        let (id, key, wrapped_key) = self.new_file_key(name, kms_key, caller).await?;
        let dest = self.table_path(&id);
        let rewound = async {
            store.export_to(dest.clone(), key.clone()).await?;
            let (path, copy_key) = (dest.clone(), key.clone());
            tokio::task::spawn_blocking(move || {
                let conn = crate::sqlcipher::open_existing(&path, &copy_key)?;
                crate::pitr::rewind(&conn, restore_ms)
            })
            .await
            .map_err(|_| StorageError::Closed)?
        }
        .await;
        if let Err(e) = rewound {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = dest.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            return Err(e);
        }
        let store = TableStore::open(&dest, key)?;
        let record = TableRecord {
            name: name.to_owned(),
            id,
            created_ms,
            definition,
            wrapped_key,
        };
        self.register_new_table(record, store)
    }

    /// Whether the catalog holds the mark `k` (see [`Engine::mark`]).
    pub fn marked(&self, k: &str) -> Result<bool, StorageError> {
        self.catalog.lock().map_err(lock_err)?.marked(k)
    }

    /// Records the mark `k` in the catalog's `meta` table, durably, once: facts about the
    /// data dir that outlive a lost file (e.g. that an identity store was made).
    pub fn mark(&self, k: &str) -> Result<(), StorageError> {
        self.catalog.lock().map_err(lock_err)?.mark(k)
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
        for h in self.tables_snapshot() {
            if let Ok(mut s) = h.store.try_write()
                && let Some(store) = s.take()
            {
                store.close();
            }
        }
    }
}
