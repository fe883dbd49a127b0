//! Where a passphrase comes from: a file, an environment variable, a systemd credential
//! or the terminal (without echo), in that order.

use sealdb_common::secret::SecretString;
use std::io::{BufRead, Write};
use std::path::Path;

/// The environment variable holding the passphrase.
pub(crate) const PASSPHRASE_ENV: &str = "SEALDB_PASSPHRASE";
/// The environment variable holding the new passphrase of `change-passphrase`.
pub(crate) const NEW_PASSPHRASE_ENV: &str = "SEALDB_NEW_PASSPHRASE";
/// The systemd credential (`LoadCredential=sealdb-passphrase:...`) holding it.
const CREDENTIAL: &str = "sealdb-passphrase";

/// The passphrase: `file`, else `$SEALDB_PASSPHRASE`, else the systemd credential, else
/// the terminal (asked twice when `confirm`, for a new one).
pub(crate) fn passphrase(file: Option<&Path>, confirm: bool) -> Result<SecretString, String> {
    if let Some(file) = file {
        return read_secret_file(file, "passphrase");
    }
    if let Ok(value) = std::env::var(PASSPHRASE_ENV) {
        return non_empty(SecretString::new(value), PASSPHRASE_ENV);
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(CREDENTIAL);
        if path.exists() {
            return read_secret_file(&path, "passphrase");
        }
    }
    terminal("Passphrase", confirm).map_err(|e| {
        format!(
            "no passphrase: give --passphrase-file, {PASSPHRASE_ENV}, the systemd credential {CREDENTIAL}, or run on a terminal ({e})"
        )
    })
}

/// The new passphrase of `change-passphrase`: `file`, else `$SEALDB_NEW_PASSPHRASE`,
/// else the terminal (asked twice).
pub(crate) fn new_passphrase(file: Option<&Path>) -> Result<SecretString, String> {
    if let Some(file) = file {
        return read_secret_file(file, "new passphrase");
    }
    if let Ok(value) = std::env::var(NEW_PASSPHRASE_ENV) {
        return non_empty(SecretString::new(value), NEW_PASSPHRASE_ENV);
    }
    terminal("New passphrase", true).map_err(|e| {
        format!(
            "no new passphrase: give --new-passphrase-file, {NEW_PASSPHRASE_ENV}, or run on a terminal ({e})"
        )
    })
}

/// A secret file's contents without one trailing newline; refused when group or others
/// may read it.
pub(crate) fn read_secret_file(path: &Path, what: &str) -> Result<SecretString, String> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| format!("{what} file {shown}: {e}"))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{what} file {shown} has mode {mode:o}; it must not be accessible by group or others (chmod 600)"
            ));
        }
    }
    let raw = std::fs::read(path).map_err(|e| format!("{what} file {shown}: {e}"))?;
    let text = String::from_utf8(raw).map_err(|_| format!("{what} file {shown} is not UTF-8"))?;
    let mut text = SecretString::new(text);
    let trimmed = text
        .expose()
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t));
    if let Some(t) = trimmed {
        text = SecretString::new(t.to_owned());
    }
    non_empty(text, &format!("{what} file {shown}"))
}

fn non_empty(s: SecretString, source: &str) -> Result<SecretString, String> {
    if s.expose().is_empty() {
        return Err(format!("the passphrase from {source} is empty"));
    }
    Ok(s)
}

/// Reads a line from the controlling terminal with echo off.
fn terminal(prompt: &str, confirm: bool) -> Result<SecretString, String> {
    let first = read_no_echo(&format!("{prompt}: "))?;
    if confirm {
        let again = read_no_echo(&format!("{prompt} again: "))?;
        aws_lc_rs::constant_time::verify_slices_are_equal(
            again.expose().as_bytes(),
            first.expose().as_bytes(),
        )
        .map_err(|_| "the two passphrases differ".to_owned())?;
    }
    non_empty(first, "the terminal")
}

#[cfg(unix)]
fn read_no_echo(prompt: &str) -> Result<SecretString, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| format!("no terminal: {e}"))?;
    let saved = tcgetattr(&tty).map_err(|e| format!("not a terminal: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&tty, OptionalActions::Flush, &quiet).map_err(|e| e.to_string())?;
    let mut out = &tty;
    let _ = out.write_all(prompt.as_bytes());
    let _ = out.flush();
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, OptionalActions::Flush, &saved);
    let _ = out.write_all(b"\n");
    let line = SecretString::new(line);
    read.map_err(|e| e.to_string())?;
    Ok(SecretString::new(
        line.expose().trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

#[cfg(not(unix))]
fn read_no_echo(_prompt: &str) -> Result<SecretString, String> {
    Err("reading from the terminal is supported on Unix only".into())
}
