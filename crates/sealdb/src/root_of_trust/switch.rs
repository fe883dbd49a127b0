//! Offline changes to how the root key is kept: the new key of a rotation, staged beside
//! the old one until every file is re-keyed, and `set-root-of-trust` (the same key, kept
//! another way). Each is a few steps of which a rerun completes any prefix; the crash
//! points (`SEALDB_CRASH_POINT`) let the tests kill a run after each step.

use super::{HEADER_FILE, Kind, Mode, key_file, read_header, write_header};
use sealdb_common::RootKey;
use sealdb_common::crash_point::crash_point;
use std::path::{Path, PathBuf};

/// Where a rotation keeps its new key until it is committed.
fn staged_path(data: &crate::DataArgs, mode: &Mode) -> PathBuf {
    match mode {
        Mode::File => {
            key_file(&data.data_dir, data.root_key_file.as_deref()).with_extension("key.next")
        }
        Mode::Passphrase { .. } | Mode::Pkcs11 { .. } => data.data_dir.join("root-of-trust.next"),
    }
}

/// The old and new root keys of a rotation; the new one is made and saved (kept as the
/// mode keeps the root key) on the first run, and read back on a rerun.
pub(crate) fn rotation_keys(data: &crate::DataArgs) -> Result<(RootKey, RootKey), String> {
    let dir = &data.data_dir;
    let mode = read_header(dir)?.unwrap_or(Mode::File);
    let staged = staged_path(data, &mode);
    match &mode {
        Mode::File => {
            let key_path = key_file(dir, data.root_key_file.as_deref());
            let old = RootKey::load(&key_path).map_err(|e| e.to_string())?;
            let new = if staged.exists() {
                RootKey::load(&staged).map_err(|e| e.to_string())?
            } else {
                let k = RootKey::generate().map_err(|e| e.to_string())?;
                k.save_new(&staged).map_err(|e| e.to_string())?;
                k
            };
            Ok((old, new))
        }
        Mode::Passphrase { .. } | Mode::Pkcs11 { .. } => {
            let old = super::unseal(dir, &mode, data)?;
            let new = match std::fs::read_to_string(&staged) {
                Ok(text) => {
                    let next =
                        super::parse(&text).map_err(|e| format!("{}: {e}", staged.display()))?;
                    super::unseal(dir, &next, data)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let k = RootKey::generate().map_err(|e| e.to_string())?;
                    let next = super::reseal_like(&mode, &k, data)?;
                    crate::regions::write_synced(&staged, super::render(&next).as_bytes())
                        .map_err(|e| format!("cannot write {}: {e}", staged.display()))?;
                    k
                }
                Err(e) => return Err(format!("cannot read {}: {e}", staged.display())),
            };
            Ok((old, new))
        }
    }
}

/// Puts the rotation's new key in the old one's place (one rename).
pub(crate) fn commit_rotation(data: &crate::DataArgs) -> Result<(), String> {
    let dir = &data.data_dir;
    let mode = read_header(dir)?.unwrap_or(Mode::File);
    let staged = staged_path(data, &mode);
    let target = match mode {
        Mode::File => key_file(dir, data.root_key_file.as_deref()),
        Mode::Passphrase { .. } | Mode::Pkcs11 { .. } => dir.join(HEADER_FILE),
    };
    std::fs::rename(&staged, &target).map_err(|e| format!("cannot replace the root key: {e}"))?;
    sync_dir(target.parent().unwrap_or(dir));
    Ok(())
}

/// `sealdb set-root-of-trust`: keeps the same root key another way; no data file is
/// touched. Switching to `passphrase` writes the header then removes the key file;
/// switching to `file` writes the key file then the header.
pub(crate) fn set_root_of_trust(data: &crate::DataArgs) -> Result<(), String> {
    let dir = &data.data_dir;
    let target = data
        .root_of_trust
        .ok_or("give the new root of trust with --root-of-trust")?;
    if !dir.join("catalog.db").exists() {
        return Err(format!("no data dir at {}", dir.display()));
    }
    let mode = read_header(dir)?.unwrap_or(Mode::File);
    let key_path = key_file(dir, data.root_key_file.as_deref());
    let root = match &mode {
        Mode::File => {
            let root = RootKey::load(&key_path).map_err(|e| e.to_string())?;
            crate::root_key::check_root_key_opens(dir, &key_path, &root)?;
            root
        }
        sealed => super::unseal(dir, sealed, data)?,
    };
    // Another HSM (or another key in it) for a data dir already in mode pkcs11.
    let moves_hsm = match &mode {
        Mode::Pkcs11 { location, .. } if target == Kind::Pkcs11 => {
            super::pkcs11::Location::from_flags(data).is_ok_and(|wanted| wanted != *location)
        }
        _ => false,
    };
    if mode.kind() == target && !moves_hsm {
        // A rerun after a crash between the header and the removal of the key file.
        if target != Kind::File && key_path.exists() {
            remove_key_file(&key_path, &root)?;
            println!(
                "root of trust is '{}'; the leftover key file was removed",
                target.name()
            );
        } else {
            // A rerun after the switch finished: nothing left to do.
            println!(
                "root of trust is already '{}'; nothing was changed",
                target.name()
            );
        }
        return Ok(());
    }
    if target == Kind::File {
        // The key file first, then the header that points at it.
        write_key_file(&key_path, &root)?;
        crash_point("set-root-of-trust:key-file-written");
        write_header(dir, &Mode::File)?;
        println!(
            "root of trust is now 'file' ({}); no data file was touched",
            key_path.display()
        );
        return Ok(());
    }
    // The header that keeps the key first, then the key file (if any) goes.
    write_header(dir, &super::seal_new(target, &root, data)?)?;
    crash_point("set-root-of-trust:header-written");
    if key_path.exists() {
        remove_key_file(&key_path, &root)?;
        println!(
            "root of trust is now '{}'; the key file was removed, no data file was touched",
            target.name()
        );
    } else {
        println!(
            "root of trust is now '{}'; no data file was touched",
            target.name()
        );
    }
    Ok(())
}

/// Removes the key file once it is known to hold `root` (the header now keeps it).
fn remove_key_file(path: &Path, root: &RootKey) -> Result<(), String> {
    match RootKey::load(path) {
        Ok(k) if k.key().expose() == root.key().expose() => {}
        Ok(_) => {
            return Err(format!(
                "{} holds another key than the data dir's; it was left in place",
                path.display()
            ));
        }
        Err(e) => return Err(e.to_string()),
    }
    std::fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Writes the key file whole (temp file, rename), or accepts one that already holds `root`.
fn write_key_file(path: &Path, root: &RootKey) -> Result<(), String> {
    if path.exists() {
        return match RootKey::load(path) {
            Ok(k) if k.key().expose() == root.key().expose() => Ok(()),
            _ => Err(format!(
                "{} exists and holds another key; nothing was changed",
                path.display()
            )),
        };
    }
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    root.save_new(&tmp).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
