//! The data dir's root of trust: where the root key comes from. Recorded in
//! `<data-dir>/root-of-trust` (format in docs/formats.md): the mode and its parameters,
//! never the key. Mode `file` is a root key file (default `<data-dir>/root.key`).

use std::path::{Path, PathBuf};

/// The header's file name in the data dir.
pub(crate) const HEADER_FILE: &str = "root-of-trust";
/// First line of the header, v1. DO NOT CHANGE.
const MAGIC: &str = "sealdb-root-of-trust 1";

/// How the root key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A root key file of 32 raw bytes (or 64 hex digits), mode 0600.
    File,
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::File => "file",
        }
    }
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

/// The header's mode, writing a `file` header into a data dir that has none: such a dir
/// was made when a key file was the only mode.
pub(crate) fn mode_or_migrate(dir: &Path) -> Result<Mode, String> {
    match read_header(dir)? {
        Some(mode) => Ok(mode),
        None => {
            write_header(dir, &Mode::File)?;
            Ok(Mode::File)
        }
    }
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

fn render(mode: &Mode) -> String {
    format!("{MAGIC}\nmode {}\n", mode.name())
}

fn parse(text: &str) -> Result<Mode, String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err("not a root-of-trust header of a version this sealdb knows".into());
    }
    let mut mode = None;
    for line in lines {
        let (field, value) = line.split_once(' ').unwrap_or((line, ""));
        match field {
            "mode" if mode.is_none() => mode = Some(value),
            _ => return Err(format!("unknown or repeated field '{field}'")),
        }
    }
    match mode {
        Some("file") => Ok(Mode::File),
        Some(other) => Err(format!("unknown root-of-trust mode '{other}'")),
        None => Err("no mode".into()),
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
        assert!(parse("sealdb-root-of-trust 1\n").is_err());
    }

    #[test]
    fn migrates_and_warns_only_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(read_header(&dir).unwrap(), None);
        assert_eq!(mode_or_migrate(&dir).unwrap(), Mode::File);
        assert_eq!(read_header(&dir).unwrap(), Some(Mode::File));
        let inside = dir.join("root.key");
        let outside = tmp.path().join("root.key");
        std::fs::write(&inside, [0u8; 32]).unwrap();
        std::fs::write(&outside, [0u8; 32]).unwrap();
        assert!(key_inside_warning(&dir, &inside).is_some());
        assert!(key_inside_warning(&dir, &outside).is_none());
    }
}
