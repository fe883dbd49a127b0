//! The root key's life in the binary: loaded (or made, with the data dir) at start,
//! `sealdb init`, refused when it does not open the catalog, and `rotate-root-key`,
//! which re-keys every file sealed under it. Where the key is kept is `root_of_trust`.

use crate::{DataArgs, regions, root_of_trust};
use sealdb_common::{Purpose, RootKey};
use sealdb_storage::{Engine, RootKeyVault};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads the root key, creating it (and the data dir) on first start.
pub(crate) fn load_or_create_root_key(data: &DataArgs) -> Result<(RootKey, bool), String> {
    std::fs::create_dir_all(&data.data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", data.data_dir.display()))?;
    restrict_dir(&data.data_dir);
    if let Some(found) = root_of_trust::load_or_create(data)? {
        return Ok(found);
    }
    let path = root_of_trust::key_file(&data.data_dir, data.root_key_file.as_deref());
    let sealed = ["catalog.db", "keystore.db"]
        .iter()
        .any(|f| data.data_dir.join(f).exists());
    if path.exists() || data.root_key_file.is_some() {
        let key = RootKey::load(&path).map_err(|e| e.to_string())?;
        check_root_key_opens(&data.data_dir, &path, &key)?;
        return Ok((key, false));
    }
    if sealed {
        // A new key would not open what is there: refuse rather than create one.
        return Err(format!(
            "the root key {} is missing, but {} holds data sealed under a root key; restore the key file or pass --root-key-file",
            path.display(),
            data.data_dir.display()
        ));
    }
    let key = RootKey::generate().map_err(|e| e.to_string())?;
    key.save_new(&path).map_err(|e| e.to_string())?;
    Ok((key, true))
}

/// `sealdb init`: the data dir and its root of trust, nothing else (the catalog, key
/// store and identity store are made by the first `serve`).
pub(crate) fn init(data: &DataArgs) -> Result<(), String> {
    let (_, created) = load_or_create_root_key(data)?;
    let mode = root_of_trust::read_header(&data.data_dir)?
        .map_or("file", |m| root_of_trust::kind_name(&m));
    if created {
        println!(
            "sealdb: made {} with root of trust '{mode}'",
            data.data_dir.display()
        );
    } else {
        println!(
            "sealdb: {} already has root of trust '{mode}'; nothing was changed",
            data.data_dir.display()
        );
    }
    Ok(())
}

/// Refuses a root key that does not open the data dir's catalog, before anything is
/// written under it.
pub(crate) fn check_root_key_opens(
    dir: &Path,
    key_path: &Path,
    key: &RootKey,
) -> Result<(), String> {
    let catalog = dir.join("catalog.db");
    if !catalog.exists() {
        return Ok(());
    }
    sealdb_storage::sqlcipher::open_existing(&catalog, &key.derive(Purpose::Catalog))
        .map(drop)
        .map_err(|_| {
            format!(
                "the root key {} does not open the catalog of {} (a wrong root key?); nothing was changed",
                key_path.display(),
                dir.display()
            )
        })
}

#[cfg(unix)]
pub(crate) fn restrict_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

#[cfg(not(unix))]
pub(crate) fn restrict_dir(_dir: &Path) {}

pub(crate) fn open_engine(data: &DataArgs) -> Result<(Arc<Engine>, RootKey, bool), String> {
    let (root, created) = load_or_create_root_key(data)?;
    let vault = Arc::new(RootKeyVault::new(&root));
    let engine = Engine::open(&data.data_dir, &root, vault)
        .map_err(|e| format!("cannot open data dir {}: {e}", data.data_dir.display()))?;
    Ok((Arc::new(engine), root, created))
}

/// An error of ours as a rusqlite error, to leave a rusqlite callback with.
pub(crate) fn boxed(e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.to_string().into())
}

/// Rotates the root key. The new key is first saved beside the old one (`root.key.next`,
/// or `root-of-trust.next` kept as the root of trust keeps the key), every file is re-keyed
/// (each step recognises a file already under the new key), and only then does the new
/// key replace the old one, so an interrupted run can be repeated.
pub(crate) fn rotate_root_key(data: &DataArgs) -> Result<(), String> {
    use sealdb_common::crash_point::crash_point;
    let dir = &data.data_dir;
    if !dir.join("catalog.db").exists() {
        return Err(format!("no data dir at {}", dir.display()));
    }
    let (old, new) = root_of_trust::switch::rotation_keys(data)?;
    crash_point("rotate-root-key:staged");
    // Every region's key store, catalog and transaction log.
    for (_, region_dir) in regions::regions_on_disk(dir)? {
        rotate_region_files(&region_dir, &old, &new)?;
        crash_point("rotate-root-key:region-rekeyed");
    }
    // Identities: the file, and access-key secrets sealed under the catalog key.
    sealdb_iam::IdentityStore::rotate_root_key(dir, &old, &new)
        .map_err(|e| format!("cannot re-key the identity store: {e}"))?;
    crash_point("rotate-root-key:identities-rekeyed");
    root_of_trust::switch::commit_rotation(data)?;
    println!(
        "root key rotated: catalog, key store, identity store and transaction log re-keyed; table files unchanged"
    );
    Ok(())
}

/// Re-keys one region's key store (its audit chain is keyed from the root too), catalog
/// (table and backup keys sealed by the root are re-sealed; KMS-wrapped ones are not
/// root-dependent) and transaction log.
pub(crate) fn rotate_region_files(dir: &Path, old: &RootKey, new: &RootKey) -> Result<(), String> {
    let err = |what: &'static str| move |e: rusqlite::Error| format!("{what}: {e}");
    // The key store: its audit chain is keyed from the root key too.
    let ks = dir.join("keystore.db");
    if ks.exists() {
        sealdb_storage::sqlcipher::rekey_file(
            &ks,
            &old.derive(Purpose::Keystore),
            &new.derive(Purpose::Keystore),
            |conn| {
                sealdb_kms::rechain_audit_log(conn, old, new)
                    .map(|_| ())
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
            },
        )
        .map_err(err("key store"))?;
    }
    // The catalog: table keys sealed by the root key are re-sealed (KMS-wrapped ones are
    // not root-dependent and stay as they are).
    let catalog = dir.join("catalog.db");
    // A region whose key service alone was opened (a multi-Region key replicated into
    // it) has no catalog.
    if !catalog.exists() {
        return Ok(());
    }
    let old_vault = sealdb_storage::RootKeyVault::new(old);
    let new_vault = sealdb_storage::RootKeyVault::new(new);
    sealdb_storage::sqlcipher::rekey_file(
        &catalog,
        &old.derive(Purpose::Catalog),
        &new.derive(Purpose::Catalog),
        |conn| {
            // Tables and backups alike: every record sealed under the old root.
            sealdb_storage::catalog::Catalog::rewrap_all(conn, |rec| {
                if rec.wrapped.first() != Some(&1) {
                    return Ok(None);
                }
                let ctx = sealdb_storage::TableKeyContext {
                    table_name: rec.table_name.to_owned(),
                    table_id: rec.bound_id.to_owned(),
                    kms_key: None,
                    caller: None,
                };
                match old_vault.open(&ctx, rec.wrapped) {
                    Ok(key) => new_vault.seal(&ctx, &key).map(Some).map_err(boxed),
                    // Already re-sealed by an interrupted earlier run.
                    Err(_) if new_vault.open(&ctx, rec.wrapped).is_ok() => Ok(None),
                    Err(e) => Err(boxed(format!(
                        "the key of {} (id {}) opens under neither root key: {e}",
                        rec.table_name, rec.bound_id
                    ))),
                }
            })
        },
    )
    .map_err(err("catalog"))?;
    let tx = dir.join("txlog.db");
    if tx.exists() {
        sealdb_storage::sqlcipher::rekey_file(
            &tx,
            &old.derive(Purpose::Txlog),
            &new.derive(Purpose::Txlog),
            |_| Ok(()),
        )
        .map_err(err("transaction log"))?;
    }
    Ok(())
}

/// The key stores of a data dir, one per region with one, the home region first.
pub(crate) fn key_store_dirs(data: &DataArgs) -> Result<Vec<(String, PathBuf)>, String> {
    let dirs: Vec<(String, PathBuf)> = regions::regions_on_disk(&data.data_dir)?
        .into_iter()
        .filter(|(_, d)| d.join("keystore.db").exists())
        .collect();
    if dirs.is_empty() {
        return Err(format!("no key store in {}", data.data_dir.display()));
    }
    Ok(dirs)
}
