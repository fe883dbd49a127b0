//! The data dir's root of trust: where the root key comes from. Recorded in
//! `<data-dir>/root-of-trust` (format in docs/formats.md): the mode and its parameters,
//! never the key. Mode `file` is a root key file (default `<data-dir>/root.key`); mode
//! `passphrase` keeps the root key in the header, sealed under a key derived from a
//! passphrase; mode `pkcs11` keeps it in the header sealed by a key inside an HSM.

mod passphrase;
mod pkcs11;
pub(crate) mod secret_input;
pub(crate) mod switch;

use passphrase::Kdf;
use sealdb_common::RootKey;
use std::path::{Path, PathBuf};

/// The header's file name in the data dir.
pub(crate) const HEADER_FILE: &str = "root-of-trust";
/// First line of the header, v1. DO NOT CHANGE.
const MAGIC: &str = "sealdb-root-of-trust 1";

/// The modes, as `--root-of-trust` names them.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A root key file.
    File,
    /// The root key sealed under a passphrase (Argon2id, AES-256-GCM).
    Passphrase,
    /// The root key sealed by a non-extractable AES-256 key in an HSM (PKCS#11, AES-GCM).
    Pkcs11,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Passphrase => "passphrase",
            Kind::Pkcs11 => "pkcs11",
        }
    }
}

/// How the root key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A root key file of 32 raw bytes (or 64 hex digits), mode 0600.
    File,
    /// The root key sealed (`nonce ‖ AES-256-GCM ‖ tag`) under Argon2id(passphrase).
    Passphrase {
        /// The derivation's parameters and salt.
        kdf: Kdf,
        /// The sealed root key.
        wrapped: Vec<u8>,
    },
    /// The root key sealed (`iv ‖ AES-256-GCM ‖ tag`) inside an HSM by the key at `location`.
    Pkcs11 {
        /// Module, token and key label.
        location: pkcs11::Location,
        /// The sealed root key.
        wrapped: Vec<u8>,
    },
}

impl Mode {
    fn kind(&self) -> Kind {
        match self {
            Mode::File => Kind::File,
            Mode::Passphrase { .. } => Kind::Passphrase,
            Mode::Pkcs11 { .. } => Kind::Pkcs11,
        }
    }
}

/// The name of a mode, as `--root-of-trust` spells it.
pub(crate) fn kind_name(mode: &Mode) -> &'static str {
    mode.kind().name()
}

/// The recorded mode, or `None` when the data dir has no header (made before headers
/// existed, or new).
pub(crate) fn read_header(dir: &Path) -> Result<Option<Mode>, String> {
    let path = dir.join(HEADER_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}; nothing was changed", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the header (temp file, fsync, rename), replacing any earlier one.
pub(crate) fn write_header(dir: &Path, mode: &Mode) -> Result<(), String> {
    let path = dir.join(HEADER_FILE);
    crate::regions::write_synced(&path, render(mode).as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The root key of a data dir whose root of trust is not `file`, creating it (with the
/// `--root-of-trust` chosen) on a new data dir; `None` for mode `file`, whose header is
/// written here when missing (a data dir without one was made when a key file was the
/// only mode) and whose key the caller loads.
pub(crate) fn load_or_create(data: &crate::DataArgs) -> Result<Option<(RootKey, bool)>, String> {
    let dir = &data.data_dir;
    let Some(mode) = read_header(dir)? else {
        let new = !key_file(dir, data.root_key_file.as_deref()).exists()
            && !["catalog.db", "keystore.db"]
                .iter()
                .any(|f| dir.join(f).exists());
        let chosen = data.root_of_trust.unwrap_or(Kind::File);
        if !new && chosen != Kind::File {
            return Err(format!(
                "{} already holds data under a root key file (root of trust 'file'); use `sealdb set-root-of-trust` to change it",
                dir.display()
            ));
        }
        if chosen == Kind::File {
            return write_header(dir, &Mode::File).map(|()| None);
        }
        if data.root_key_file.is_some() {
            return Err("--root-key-file is for root of trust 'file'".into());
        }
        let root = RootKey::generate().map_err(|e| e.to_string())?;
        write_header(dir, &seal_new(chosen, &root, data)?)?;
        return Ok(Some((root, true)));
    };
    if let Some(chosen) = data.root_of_trust
        && chosen != mode.kind()
    {
        return Err(format!(
            "the root of trust of {} is '{}', not '{}'; use `sealdb set-root-of-trust` to change it",
            dir.display(),
            mode.kind().name(),
            chosen.name()
        ));
    }
    if mode != Mode::File && data.root_key_file.is_some() {
        return Err(format!(
            "--root-key-file is for root of trust 'file'; {} uses '{}'",
            dir.display(),
            mode.kind().name()
        ));
    }
    if mode == Mode::File {
        return Ok(None);
    }
    let root = unseal(dir, &mode, data)?;
    crate::root_key::check_root_key_opens(dir, &dir.join(HEADER_FILE), &root)?;
    Ok(Some((root, false)))
}

/// The root key kept in the header of `mode` (not `file`), opened with the passphrase or
/// the HSM the flags give.
fn unseal(dir: &Path, mode: &Mode, data: &crate::DataArgs) -> Result<RootKey, String> {
    match mode {
        Mode::File => Err("root of trust 'file' keeps no sealed root key".into()),
        Mode::Passphrase { .. } => {
            let pass = secret_input::passphrase(data.passphrase_file.as_deref(), false)?;
            open_passphrase(dir, mode, &pass)
        }
        Mode::Pkcs11 { location, wrapped } => {
            let token = location.open(
                data.pkcs11_module.as_deref(),
                data.pkcs11_pin_file.as_deref(),
            )?;
            let aad = pkcs11_params_text(location);
            pkcs11::open(&token, &location.key_label, wrapped, aad.as_bytes())?.ok_or_else(
                || {
                    format!(
                        "the HSM key {:?} does not open the root key of {} (another key of that label, or an edited header?); nothing was changed",
                        location.key_label,
                        dir.display()
                    )
                },
            )
        }
    }
}

/// `root` sealed as the new mode `kind` keeps it (not `file`), with what the flags give:
/// a new passphrase (asked twice on a terminal), or the HSM's key (made when missing).
fn seal_new(kind: Kind, root: &RootKey, data: &crate::DataArgs) -> Result<Mode, String> {
    match kind {
        Kind::File => Err("root of trust 'file' keeps no sealed root key".into()),
        Kind::Passphrase => {
            let pass = secret_input::passphrase(data.passphrase_file.as_deref(), true)?;
            seal_passphrase(root, &pass)
        }
        Kind::Pkcs11 => {
            let location = pkcs11::Location::from_flags(data)?;
            let token = location.open(None, data.pkcs11_pin_file.as_deref())?;
            pkcs11::ensure_key(&token, &location.key_label)?;
            seal_pkcs11(&token, location, root)
        }
    }
}

/// `root` sealed again the way `mode` (not `file`) keeps its key: the same passphrase
/// with a fresh salt, or the same HSM key. For a rotation's new key.
fn reseal_like(mode: &Mode, root: &RootKey, data: &crate::DataArgs) -> Result<Mode, String> {
    match mode {
        Mode::File => Err("root of trust 'file' keeps no sealed root key".into()),
        Mode::Passphrase { .. } => {
            let pass = secret_input::passphrase(data.passphrase_file.as_deref(), false)?;
            seal_passphrase(root, &pass)
        }
        Mode::Pkcs11 { location, .. } => {
            let token = location.open(
                data.pkcs11_module.as_deref(),
                data.pkcs11_pin_file.as_deref(),
            )?;
            seal_pkcs11(&token, location.clone(), root)
        }
    }
}

fn seal_pkcs11(
    token: &sealdb_hsm::Pkcs11Token,
    location: pkcs11::Location,
    root: &RootKey,
) -> Result<Mode, String> {
    let aad = pkcs11_params_text(&location);
    let wrapped = pkcs11::seal(token, &location.key_label, root, aad.as_bytes())?;
    Ok(Mode::Pkcs11 { location, wrapped })
}

/// Mode `passphrase` with a fresh salt, holding `root` sealed under `pass`.
fn seal_passphrase(
    root: &RootKey,
    pass: &sealdb_common::secret::SecretString,
) -> Result<Mode, String> {
    let kdf = Kdf::fresh()?;
    let wrapped = passphrase::seal(root, pass, &kdf, params_text(&kdf).as_bytes())?;
    Ok(Mode::Passphrase { kdf, wrapped })
}

fn open_passphrase(
    dir: &Path,
    mode: &Mode,
    pass: &sealdb_common::secret::SecretString,
) -> Result<RootKey, String> {
    let Mode::Passphrase { kdf, wrapped } = mode else {
        return Err("not root of trust 'passphrase'".into());
    };
    passphrase::open(wrapped, pass, kdf, params_text(kdf).as_bytes())?.ok_or_else(|| {
        format!(
            "the passphrase does not open the root key of {} (a wrong passphrase?); nothing was changed",
            dir.display()
        )
    })
}

/// `sealdb change-passphrase`: re-seals the root key under a new passphrase and a fresh
/// salt in one rename of the header; nothing else is touched.
pub(crate) fn change_passphrase(
    data: &crate::DataArgs,
    new_file: Option<&Path>,
) -> Result<(), String> {
    let dir = &data.data_dir;
    let mode = read_header(dir)?.unwrap_or(Mode::File);
    if mode.kind() != Kind::Passphrase {
        return Err(format!(
            "the root of trust of {} is '{}', not 'passphrase'",
            dir.display(),
            mode.kind().name()
        ));
    }
    let pass = secret_input::passphrase(data.passphrase_file.as_deref(), false)?;
    let root = open_passphrase(dir, &mode, &pass)?;
    let new = secret_input::new_passphrase(new_file)?;
    write_header(dir, &seal_passphrase(&root, &new)?)?;
    println!("passphrase changed: the root key was re-wrapped; no data file was touched");
    Ok(())
}

/// The root key file of mode `file`.
pub(crate) fn key_file(dir: &Path, given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| dir.join("root.key"), Path::to_path_buf)
}

/// The warning `serve` prints on every start when the key file is inside the data dir
/// (then a copy of the data dir is a copy of the key), `None` otherwise.
pub(crate) fn key_inside_warning(dir: &Path, key: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let key = key.canonicalize().ok()?;
    key.starts_with(&dir).then(|| {
        format!(
            "the root key file {} lies inside the data dir {}: anyone with a copy of the data dir (a backup, a snapshot, a stolen disk) can read all of its data. Keep the key file elsewhere (--root-key-file) or keep the root key wrapped by a passphrase or an HSM (see docs/threat-model.md)",
            key.display(),
            dir.display()
        )
    })
}

/// The header's lines before the sealed key of mode `pkcs11`: the AAD of the seal.
fn pkcs11_params_text(location: &pkcs11::Location) -> String {
    format!("{MAGIC}\nmode pkcs11\n{}", location.render())
}

/// The header's lines before the sealed key: the AAD of the seal.
fn params_text(kdf: &Kdf) -> String {
    format!(
        "{MAGIC}\nmode passphrase\nargon2id {}\nsalt {}\n",
        kdf.render(),
        hex::encode(kdf.salt)
    )
}

fn render(mode: &Mode) -> String {
    match mode {
        Mode::File => format!("{MAGIC}\nmode file\n"),
        Mode::Passphrase { kdf, wrapped } => format!(
            "{}wrapped-root-key {}\n",
            params_text(kdf),
            hex::encode(wrapped)
        ),
        Mode::Pkcs11 { location, wrapped } => format!(
            "{}wrapped-root-key {}\n",
            pkcs11_params_text(location),
            hex::encode(wrapped)
        ),
    }
}

fn parse(text: &str) -> Result<Mode, String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err("not a root-of-trust header of a version this sealdb knows".into());
    }
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for line in lines {
        let (field, value) = line.split_once(' ').unwrap_or((line, ""));
        if fields.iter().any(|(f, _)| *f == field) {
            return Err(format!("repeated field '{field}'"));
        }
        fields.push((field, value));
    }
    let mut take = |name: &str| -> Result<&str, String> {
        let at = fields
            .iter()
            .position(|(f, _)| *f == name)
            .ok_or_else(|| format!("no field '{name}'"))?;
        Ok(fields.remove(at).1)
    };
    let mode = match take("mode")? {
        "file" => Mode::File,
        "passphrase" => {
            let cost = take("argon2id")?;
            let kdf = Kdf::parse(cost, take("salt")?)?;
            let wrapped = hex::decode(take("wrapped-root-key")?)
                .map_err(|_| "wrapped-root-key is not hex")?;
            Mode::Passphrase { kdf, wrapped }
        }
        "pkcs11" => {
            let module = take("pkcs11-module")?;
            let token = take("pkcs11-token")?;
            let location = pkcs11::Location::parse(module, token, take("pkcs11-key")?)?;
            let wrapped = hex::decode(take("wrapped-root-key")?)
                .map_err(|_| "wrapped-root-key is not hex")?;
            Mode::Pkcs11 { location, wrapped }
        }
        other => return Err(format!("unknown root-of-trust mode '{other}'")),
    };
    match fields.first() {
        Some((field, _)) => Err(format!("unknown field '{field}'")),
        None => Ok(mode),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn header_round_trip_and_fails_closed() {
        assert_eq!(render(&Mode::File), "sealdb-root-of-trust 1\nmode file\n");
        assert_eq!(parse(&render(&Mode::File)).unwrap(), Mode::File);
        assert!(parse("sealdb-root-of-trust 2\nmode file\n").is_err());
        assert!(parse("sealdb-root-of-trust 1\nmode tape\n").is_err());
        assert!(parse("sealdb-root-of-trust 1\nmode file\nmode file\n").is_err());
        assert!(parse("sealdb-root-of-trust 1\nmode file\nsalt 00\n").is_err());
        assert!(parse("sealdb-root-of-trust 1\n").is_err());
        let kdf = Kdf::fresh().unwrap();
        let mode = Mode::Passphrase {
            kdf,
            wrapped: vec![7; 60],
        };
        let text = render(&mode);
        assert_eq!(parse(&text).unwrap(), mode);
        let cheap = text.replace("m=65536", "m=8192");
        assert!(parse(&cheap).is_err(), "{cheap}");
    }

    #[test]
    fn key_file_inside_is_warned_about() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(read_header(&dir).unwrap(), None);
        write_header(&dir, &Mode::File).unwrap();
        assert_eq!(read_header(&dir).unwrap(), Some(Mode::File));
        let inside = dir.join("root.key");
        let outside = tmp.path().join("root.key");
        std::fs::write(&inside, [0u8; 32]).unwrap();
        std::fs::write(&outside, [0u8; 32]).unwrap();
        assert!(key_inside_warning(&dir, &inside).is_some());
        assert!(key_inside_warning(&dir, &outside).is_none());
    }
}
