//! Offline changes to how the root key is kept: the new key of a rotation, staged beside
//! the old one until every file is re-keyed, and `set-root-of-trust` (the same key, kept
//! another way). Each is a few steps of which a rerun completes any prefix; the crash
//! points (`SEALDB_CRASH_POINT`) let the tests kill a run after each step.

use super::{HEADER_FILE, Kind, Mode, key_file, read_header, secret_input, write_header};
use sealdb_common::RootKey;
use sealdb_common::crash_point::crash_point;
use std::path::{Path, PathBuf};

/// Where a rotation keeps its new key until it is committed.
fn staged_path(data: &crate::DataArgs, mode: &Mode) -> PathBuf {
    match mode {
        Mode::File => {
            key_file(&data.data_dir, data.root_key_file.as_deref()).with_extension("key.next")
        }
        Mode::Passphrase { .. } => data.data_dir.join("root-of-trust.next"),
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
        Mode::Passphrase { .. } => {
            let pass = secret_input::passphrase(data.passphrase_file.as_deref(), false)?;
            let old = super::open_passphrase(dir, &mode, &pass)?;
            let new = match std::fs::read_to_string(&staged) {
                Ok(text) => {
                    let next =
                        super::parse(&text).map_err(|e| format!("{}: {e}", staged.display()))?;
                    super::open_passphrase(dir, &next, &pass)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let k = RootKey::generate().map_err(|e| e.to_string())?;
                    let next = super::seal_passphrase(&k, &pass)?;
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
        Mode::Passphrase { .. } => dir.join(HEADER_FILE),
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
    match (mode.kind(), target) {
        (Kind::File, Kind::File) => Err("the root of trust is already 'file'".into()),
        (Kind::File, Kind::Passphrase) => {
            let root = RootKey::load(&key_path).map_err(|e| e.to_string())?;
            crate::check_root_key_opens(dir, &key_path, &root)?;
            let pass = secret_input::passphrase(data.passphrase_file.as_deref(), true)?;
            write_header(dir, &super::seal_passphrase(&root, &pass)?)?;
            crash_point("set-root-of-trust:header-written");
            remove_key_file(&key_path, &root)?;
            println!(
                "root of trust is now 'passphrase'; the key file was removed, no data file was touched"
            );
            Ok(())
        }
        (Kind::Passphrase, Kind::Passphrase) => {
            // A rerun after a crash between the header and the removal of the key file.
            let pass = secret_input::passphrase(data.passphrase_file.as_deref(), false)?;
            let root = super::open_passphrase(dir, &mode, &pass)?;
            if key_path.exists() {
                remove_key_file(&key_path, &root)?;
                println!("root of trust is 'passphrase'; the leftover key file was removed");
                return Ok(());
            }
            Err("the root of trust is already 'passphrase'".into())
        }
        (Kind::Passphrase, Kind::File) => {
            let pass = secret_input::passphrase(data.passphrase_file.as_deref(), false)?;
            let root = super::open_passphrase(dir, &mode, &pass)?;
            write_key_file(&key_path, &root)?;
            crash_point("set-root-of-trust:key-file-written");
            write_header(dir, &Mode::File)?;
            println!(
                "root of trust is now 'file' ({}); no data file was touched",
                key_path.display()
            );
            Ok(())
        }
    }
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
