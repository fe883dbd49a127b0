//! Mode `pkcs11`: the root key sealed with AES-256-GCM by a non-extractable AES-256 key
//! inside an HSM, reached through PKCS#11 (`sealdb-hsm`). The header records the module,
//! the token (label or serial) and the key's label; its other lines are the seal's AAD.
//! The PIN comes from a file, an environment variable or a systemd credential, never
//! from the header.

use super::secret_input;
use sealdb_common::secret::SecretString;
use sealdb_common::{RootKey, SecretKey32};
use sealdb_hsm::{GcmSealed, HsmError, Pkcs11Token, TokenConfig, TokenSelector};
use std::path::{Path, PathBuf};

/// The environment variable holding the user PIN.
pub(crate) const PIN_ENV: &str = "SEALDB_PKCS11_PIN";
/// The systemd credential (`LoadCredential=sealdb-pkcs11-pin:...`) holding it.
const PIN_CREDENTIAL: &str = "sealdb-pkcs11-pin";
/// The label of the wrapping key when `--pkcs11-key-label` is not given.
pub(crate) const DEFAULT_KEY_LABEL: &str = "sealdb-root-wrapping-key";

/// Where the wrapping key is: what the header records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// The PKCS#11 module (shared library).
    pub(crate) module: PathBuf,
    /// The token, by label or serial number.
    pub(crate) token: TokenSelector,
    /// The label of the AES-256 key in the token.
    pub(crate) key_label: String,
}

impl Location {
    /// The location a new data dir is given by its flags.
    pub(crate) fn from_flags(data: &crate::DataArgs) -> Result<Location, String> {
        let module = data
            .pkcs11_module
            .clone()
            .ok_or("root of trust 'pkcs11' needs --pkcs11-module (the PKCS#11 library)")?;
        let token = match (&data.pkcs11_token_label, &data.pkcs11_token_serial) {
            (Some(l), None) => TokenSelector::Label(l.clone()),
            (None, Some(s)) => TokenSelector::Serial(s.clone()),
            _ => {
                return Err(
                    "root of trust 'pkcs11' needs one of --pkcs11-token-label or --pkcs11-token-serial"
                        .into(),
                );
            }
        };
        let key_label = data
            .pkcs11_key_label
            .clone()
            .unwrap_or_else(|| DEFAULT_KEY_LABEL.to_owned());
        let location = Location {
            module,
            token,
            key_label,
        };
        location.check_printable()?;
        Ok(location)
    }

    /// The header's values are lines: none may hold a line break.
    fn check_printable(&self) -> Result<(), String> {
        let token = match &self.token {
            TokenSelector::Label(v) | TokenSelector::Serial(v) => v,
        };
        let module = self.module.to_str().ok_or("the module path is not UTF-8")?;
        for (what, v) in [
            ("module path", module),
            ("token", token.as_str()),
            ("key label", self.key_label.as_str()),
        ] {
            if v.is_empty() || v.contains(['\n', '\r']) {
                return Err(format!("the PKCS#11 {what} must be one non-empty line"));
            }
        }
        Ok(())
    }

    /// The header lines (without the sealed key).
    pub(crate) fn render(&self) -> String {
        let token = match &self.token {
            TokenSelector::Label(l) => format!("label {l}"),
            TokenSelector::Serial(s) => format!("serial {s}"),
        };
        format!(
            "pkcs11-module {}\npkcs11-token {token}\npkcs11-key {}\n",
            self.module.display(),
            self.key_label
        )
    }

    /// Reads the values of the header's three lines.
    pub(crate) fn parse(module: &str, token: &str, key: &str) -> Result<Location, String> {
        let token = match token.split_once(' ') {
            Some(("label", l)) => TokenSelector::Label(l.to_owned()),
            Some(("serial", s)) => TokenSelector::Serial(s.to_owned()),
            _ => return Err("pkcs11-token is not 'label L' or 'serial S'".into()),
        };
        let location = Location {
            module: PathBuf::from(module),
            token,
            key_label: key.to_owned(),
        };
        location.check_printable()?;
        Ok(location)
    }

    /// Logs in to the token; `module` overrides the recorded module path (the library may
    /// live elsewhere on another host).
    pub(crate) fn open(
        &self,
        module: Option<&Path>,
        pin_file: Option<&Path>,
    ) -> Result<Pkcs11Token, String> {
        let config = TokenConfig {
            module: module.map_or_else(|| self.module.clone(), Path::to_path_buf),
            token: self.token.clone(),
            pin: pin(pin_file)?,
        };
        Pkcs11Token::open(&config).map_err(|e| {
            format!("cannot reach the HSM that holds the root key: {e}; nothing was changed")
        })
    }
}

/// The user PIN: `--pkcs11-pin-file` (mode 0600), else `$SEALDB_PKCS11_PIN`, else the
/// systemd credential `sealdb-pkcs11-pin`.
fn pin(file: Option<&Path>) -> Result<SecretString, String> {
    if let Some(file) = file {
        return secret_input::read_secret_file(file, "PKCS#11 PIN");
    }
    if let Ok(value) = std::env::var(PIN_ENV)
        && !value.is_empty()
    {
        return Ok(SecretString::new(value));
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(PIN_CREDENTIAL);
        if path.exists() {
            return secret_input::read_secret_file(&path, "PKCS#11 PIN");
        }
    }
    Err(format!(
        "no PKCS#11 PIN: give --pkcs11-pin-file, {PIN_ENV}, or the systemd credential {PIN_CREDENTIAL}"
    ))
}

/// The wrapping key of a new data dir: made in the token when it has none of that label,
/// else the one there (an operator may provision it beforehand).
pub(crate) fn ensure_key(token: &Pkcs11Token, label: &str) -> Result<(), String> {
    let fail = |e: HsmError| format!("cannot make the wrapping key in the HSM: {e}");
    if !token.has_key(label).map_err(fail)? {
        token.generate_aes256(label).map_err(fail)?;
    }
    Ok(())
}

/// Seals the root key inside the token: `iv ‖ ciphertext ‖ tag`, AAD `aad`.
pub(crate) fn seal(
    token: &Pkcs11Token,
    label: &str,
    root: &RootKey,
    aad: &[u8],
) -> Result<Vec<u8>, String> {
    token
        .encrypt_gcm(label, aad, root.key().expose())
        .map(|s| s.to_bytes())
        .map_err(|e| format!("the HSM could not seal the root key: {e}"))
}

/// Opens the sealed root key; `Ok(None)` when the token's key does not open it (another
/// key of that label, or an edited header).
pub(crate) fn open(
    token: &Pkcs11Token,
    label: &str,
    wrapped: &[u8],
    aad: &[u8],
) -> Result<Option<RootKey>, String> {
    let sealed = GcmSealed::from_bytes(wrapped).map_err(|e| e.to_string())?;
    match token.decrypt_gcm(label, aad, &sealed) {
        Ok(plain) => Ok(SecretKey32::from_slice(&plain[..]).map(RootKey::from_key)),
        Err(HsmError::Decrypt { .. }) => Ok(None),
        Err(e) => Err(format!(
            "the HSM could not open the root key: {e}; nothing was changed"
        )),
    }
}
