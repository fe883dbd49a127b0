//! `sealdb verify`: every page of every file (SQLCipher's page HMACs and SQLite's own
//! structure check), every wrapped key, every identity record and sealed access-key
//! secret, and the audit chain. Prints one line per check
//! and fails naming each fault. Run with the server stopped (it holds the data dir's
//! lock). Unwrapping a KMS-wrapped key is a KMS Decrypt, audited like any other. A file
//! whose KMS key was deleted is printed as `shredded`: unreadable by design, not a fault.

use crate::DataArgs;
use sealdb_common::Purpose;
use sealdb_common::{Clock, RootKey, SecretKey32};
use sealdb_storage::{KeyVault, TableKeyContext};
use std::path::Path;
use std::sync::Arc;

/// What went wrong where.
struct Fault {
    what: String,
    detail: String,
}

/// Checks one SQLCipher file: it opens under `key`, every page's HMAC holds, and the
/// b-trees are sound.
fn check_file(path: &Path, key: &SecretKey32) -> Result<(), String> {
    let conn = sealdb_storage::sqlcipher::open_existing(path, key)
        .map_err(|e| format!("does not open: {e}"))?;
    let mut problems: Vec<String> = Vec::new();
    {
        let mut stmt = conn
            .prepare("PRAGMA cipher_integrity_check")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?;
        for r in rows {
            problems.push(r.map_err(|e| e.to_string())?);
        }
    }
    if problems.is_empty() {
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?;
        for r in rows {
            let line = r.map_err(|e| e.to_string())?;
            if line != "ok" {
                problems.push(line);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

pub(crate) fn run(data: &DataArgs) -> Result<(), String> {
    let dir = &data.data_dir;
    if !dir.join("catalog.db").exists() {
        return Err(format!("no data dir at {}", dir.display()));
    }
    let (root, _) = crate::root_key::load_or_create_root_key(data)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let faults = runtime.block_on(verify_all(dir, &root));
    if faults.is_empty() {
        println!("verify: no fault found");
        return Ok(());
    }
    for f in &faults {
        println!("FAULT {}: {}", f.what, f.detail);
    }
    Err(format!(
        "{} fault(s) found: {}",
        faults.len(),
        faults
            .iter()
            .map(|f| f.what.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Every region's files (the home region's at the top of the data dir, the others'
/// under `regions/<name>/`), each named with its region.
async fn verify_all(dir: &Path, root: &RootKey) -> Vec<Fault> {
    let regions = match crate::regions::regions_on_disk(dir) {
        Ok(r) => r,
        Err(e) => {
            return vec![Fault {
                what: "regions".into(),
                detail: e,
            }];
        }
    };
    let mut faults = Vec::new();
    for (region, region_dir) in regions {
        // A data dir not started since regions exist names its region nowhere: its
        // keys were made for the default region.
        let region = if region.is_empty() {
            "us-east-1".to_owned()
        } else {
            region
        };
        // A region whose key service alone was opened (a multi-Region key replicated
        // into it) has a key store and no catalog.
        if region_dir != dir
            && !region_dir.join("catalog.db").exists()
            && !region_dir.join("keystore.db").exists()
        {
            continue;
        }
        let label = if region_dir == dir {
            String::new()
        } else {
            format!("{region}: ")
        };
        faults.extend(verify_region(&region_dir, &region, &label, root).await);
    }
    faults
}

/// The files, wrapped keys and audit chain of one region.
async fn verify_region(dir: &Path, region: &str, label: &str, root: &RootKey) -> Vec<Fault> {
    let mut faults = Vec::new();
    let mut note = |what: String, result: Result<(), String>| {
        let what = format!("{label}{what}");
        match result {
            Ok(()) => println!("ok    {what}"),
            Err(detail) => faults.push(Fault { what, detail }),
        }
    };
    let catalog_path = dir.join("catalog.db");
    let key_store_only = !label.is_empty() && !catalog_path.exists();
    if !key_store_only {
        note(
            "catalog".into(),
            check_file(&catalog_path, &root.derive(Purpose::Catalog)),
        );
    }
    for (file, purpose, what) in [
        ("keystore.db", Purpose::Keystore, "key store"),
        ("txlog.db", Purpose::Txlog, "transaction log"),
    ] {
        let path = dir.join(file);
        if path.exists() {
            note(what.into(), check_file(&path, &root.derive(purpose)));
        }
    }
    // The identity store: its pages, then every record decoded and every access-key
    // secret unsealed, as the server does when it opens it.
    let iam_path = dir.join("iam.db");
    if iam_path.exists() {
        let file = check_file(&iam_path, &root.derive(Purpose::Iam));
        let file_ok = file.is_ok();
        note("identity store (iam.db)".into(), file);
        if file_ok {
            note(
                "identity records".into(),
                sealdb_iam::store::IdentityStore::open(dir, root, "000000000000", Clock::system())
                    .map(drop)
                    .map_err(|e| e.to_string()),
            );
        }
    }
    if dir.join("keystore.db").exists() {
        note(
            "audit chain".into(),
            sealdb_kms::verify_audit_log(dir, root).map(drop),
        );
    }
    if key_store_only {
        return faults;
    }
    let catalog = match sealdb_storage::catalog::Catalog::open(dir, &root.derive(Purpose::Catalog))
    {
        Ok(c) => c,
        Err(e) => {
            note("catalog records".into(), Err(e.to_string()));
            return faults;
        }
    };
    // The home region's catalog records whether an identity store was made.
    if label.is_empty() && !iam_path.exists() {
        match catalog.marked(crate::identities::IDENTITY_STORE_MADE) {
            Ok(false) => {}
            Ok(true) => note(
                "identity store (iam.db)".into(),
                Err(format!(
                    "{} is missing, though the catalog records that it was made",
                    iam_path.display()
                )),
            ),
            Err(e) => note("catalog records".into(), Err(e.to_string())),
        }
    }
    // Wrapped keys come out through the same vault the server uses.
    let kms = sealdb_kms::KmsService::open(
        sealdb_kms::KmsConfig {
            data_dir: dir.to_owned(),
            region: region.to_owned(),
            account_id: "000000000000".into(),
            clock: Clock::system(),
        },
        root,
    );
    let kms_vault = match kms {
        Ok(kms) => Some(Arc::new(sealdb_dynamodb::sse::KmsVault::new(
            Arc::new(kms),
            root,
            region,
            "000000000000",
        ))),
        Err(e) => {
            note("key service".into(), Err(e.to_string()));
            None
        }
    };
    let vault: Arc<dyn KeyVault> = match &kms_vault {
        Some(v) => Arc::clone(v) as Arc<dyn KeyVault>,
        None => Arc::new(sealdb_storage::RootKeyVault::new(root)),
    };
    let mut files = Vec::new();
    match catalog.tables() {
        Ok(tables) => {
            for t in tables.into_iter().filter(|t| !t.wrapped_key.is_empty()) {
                files.push((
                    format!("table {} (tables/{}.db)", t.name, t.id),
                    dir.join("tables").join(format!("{}.db", t.id)),
                    t.name,
                    t.id,
                    t.wrapped_key,
                ));
            }
        }
        Err(e) => note("catalog tables".into(), Err(e.to_string())),
    }
    match catalog.backups() {
        Ok(backups) => {
            for b in backups {
                files.push((
                    format!("backup {} of {} (backups/{}.db)", b.id, b.table_name, b.id),
                    dir.join("backups").join(format!("{}.db", b.id)),
                    b.table_name,
                    b.id,
                    b.wrapped_key,
                ));
            }
        }
        Err(e) => note("catalog backups".into(), Err(e.to_string())),
    }
    for (what, path, table_name, id, wrapped) in files {
        // Crypto-shredded: its KMS key was deleted, so it can never be read again (as
        // intended, not a fault).
        if let (Some(kv), Some(arn)) =
            (&kms_vault, sealdb_dynamodb::sse::KmsVault::key_of(&wrapped))
            && !kv.key_exists(&arn).await
        {
            println!(
                "shredded {label}{what}: its KMS key {arn} was deleted; it can never be read again"
            );
            continue;
        }
        let ctx = TableKeyContext {
            table_name,
            table_id: id,
            kms_key: None,
            caller: None,
        };
        let result = match vault.unwrap_key(&ctx, &wrapped).await {
            Err(e) => Err(format!("its key does not unwrap: {e}")),
            Ok(_) if !path.exists() => Err("its file is missing".into()),
            Ok(key) => check_file(&path, &key),
        };
        note(what, result);
    }
    faults
}
