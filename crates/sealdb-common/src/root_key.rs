//! The root key and the file keys derived from it.
//!
//! The root key is 32 random bytes in a file of mode 0600 (default `<data-dir>/root.key`).
//! Each server-level encrypted file (the catalog, the KMS key store) is keyed with
//! `HKDF-SHA256(salt = "sealdb root key v1", ikm = root, info = <purpose>)`; the purposes
//! are [`Purpose`] (`key_hierarchy`).
//! Table files are keyed with their own table keys, never with the root key.

use crate::secret::SecretKey32;
use std::fs;
use std::io::Write;
use std::path::Path;

use crate::key_hierarchy::{Purpose, ROOT_HKDF_SALT};

/// Errors loading or creating the root key.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    /// The file could not be read or written.
    #[error("root key file {path}: {source}")]
    Io {
        /// The root key file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is readable or writable by group or others.
    #[error(
        "root key file {path} has mode {mode:o}; it must not be accessible by group or others (chmod 600)"
    )]
    Permissions {
        /// The root key file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold exactly 32 bytes (raw) or 64 hex digits.
    #[error("root key file {path} must hold 32 raw bytes or 64 hex digits")]
    Malformed {
        /// The root key file.
        path: String,
    },
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
}

/// The root of the key hierarchy. Zeroized on drop, redacted in `Debug`.
#[derive(Clone, Debug)]
pub struct RootKey(SecretKey32);

impl RootKey {
    /// Wraps a key (tests, rotation).
    pub fn from_key(key: SecretKey32) -> Self {
        RootKey(key)
    }

    /// A fresh random root key.
    pub fn generate() -> Result<Self, RootKeyError> {
        SecretKey32::random()
            .map(RootKey)
            .map_err(|_| RootKeyError::Random)
    }

    /// Loads the key from `path`, refusing a file that group or others can access.
    pub fn load(path: &Path) -> Result<Self, RootKeyError> {
        let shown = path.display().to_string();
        let io = |source| RootKeyError::Io {
            path: shown.clone(),
            source,
        };
        let meta = fs::metadata(path).map_err(io)?;
        check_private_mode(&shown, &meta)?;
        let raw = zeroize::Zeroizing::new(fs::read(path).map_err(io)?);
        let key = if raw.len() == 32 {
            SecretKey32::from_slice(&raw)
        } else {
            let text = std::str::from_utf8(&raw).map(str::trim).unwrap_or("");
            let decoded = zeroize::Zeroizing::new(hex::decode(text).unwrap_or_default());
            SecretKey32::from_slice(&decoded)
        };
        key.map(RootKey)
            .ok_or(RootKeyError::Malformed { path: shown })
    }

    /// Writes the key to a new file of mode 0600 (fails if the file exists).
    pub fn save_new(&self, path: &Path) -> Result<(), RootKeyError> {
        let io = |source| RootKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(self.0.expose()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(())
    }

    /// Derives the 256-bit key of one purpose (a file key, a wrapping or MAC key).
    pub fn derive(&self, purpose: Purpose) -> SecretKey32 {
        use aws_lc_rs::hkdf;
        struct Len32;
        impl hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, ROOT_HKDF_SALT);
        let prk = salt.extract(self.0.expose());
        let info = [purpose.info().as_bytes()];
        let mut out = [0u8; 32];
        // Expanding 32 bytes from SHA-256 cannot exceed HKDF's 255*32 output limit.
        let okm = prk.expand(&info, Len32).expect("HKDF length is valid");
        okm.fill(&mut out).expect("HKDF output length is valid");
        let key = SecretKey32::from_bytes(out);
        zeroize::Zeroize::zeroize(&mut out);
        key
    }

    /// The raw key (for wrapping table keys before the KMS exists).
    pub fn key(&self) -> &SecretKey32 {
        &self.0
    }
}

#[cfg(unix)]
fn check_private_mode(path: &str, meta: &fs::Metadata) -> Result<(), RootKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(RootKeyError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_path: &str, _meta: &fs::Metadata) -> Result<(), RootKeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable_and_separated() {
        let root = RootKey::from_key(SecretKey32::from_bytes([7; 32]));
        let a = root.derive(Purpose::Catalog);
        let b = root.derive(Purpose::Catalog);
        let c = root.derive(Purpose::Keystore);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a.expose(), root.key().expose());
    }

    #[test]
    fn refuses_group_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sealdb-rk-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let path = dir.join("root.key");
        let _ = fs::remove_file(&path);
        let root = RootKey::generate().unwrap();
        root.save_new(&path).unwrap();
        let loaded = RootKey::load(&path).unwrap();
        assert_eq!(loaded.key(), root.key());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            RootKey::load(&path),
            Err(RootKeyError::Permissions { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
