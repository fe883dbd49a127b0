//! What can go wrong talking to a token, in words an operator can act on.

use cryptoki::error::{Error as CkError, RvError};

/// Errors of [`crate::Pkcs11Token`]. Messages never carry a PIN or key bytes.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    /// The PKCS#11 module (shared library) could not be loaded or initialised.
    #[error("PKCS#11 module {module} cannot be loaded: {reason}")]
    ModuleUnavailable {
        /// The module path as configured.
        module: String,
        /// Why (file missing, not a PKCS#11 library, C_Initialize failed).
        reason: String,
    },
    /// No slot of the module holds a token with that label or serial number.
    #[error("no PKCS#11 token with {token} in module {module}")]
    TokenNotFound {
        /// `label "x"` or `serial "y"`.
        token: String,
        /// The module path.
        module: String,
    },
    /// Two tokens match the label (select by serial number instead).
    #[error("more than one PKCS#11 token with {token} in module {module}; select it by serial")]
    TokenAmbiguous {
        /// `label "x"`.
        token: String,
        /// The module path.
        module: String,
    },
    /// The token refused the user PIN.
    #[error("the PIN for PKCS#11 token {token} is incorrect")]
    WrongPin {
        /// The token's label.
        token: String,
    },
    /// The token's user PIN is locked after too many wrong attempts.
    #[error("the user PIN of PKCS#11 token {token} is locked")]
    PinLocked {
        /// The token's label.
        token: String,
    },
    /// No key with that label is in the token.
    #[error("no AES key labelled {label:?} in PKCS#11 token {token}")]
    KeyNotFound {
        /// The key label.
        label: String,
        /// The token's label.
        token: String,
    },
    /// A key with that label already exists (labels name keys, so they must be unique).
    #[error(
        "PKCS#11 token {token} already holds a key labelled {label:?} (labels must name one key)"
    )]
    KeyExists {
        /// The key label.
        label: String,
        /// The token's label.
        token: String,
    },
    /// A GCM ciphertext did not authenticate (wrong key, wrong AAD, or altered bytes).
    #[error(
        "AES-GCM decryption in PKCS#11 token {token} failed: the ciphertext does not authenticate"
    )]
    Decrypt {
        /// The token's label.
        token: String,
    },
    /// A sealed value is too short to hold an IV and a tag.
    #[error("sealed value is malformed ({0} bytes)")]
    Malformed(usize),
    /// Any other failure of a PKCS#11 call.
    #[error("PKCS#11 {operation} failed on token {token}: {reason}")]
    Token {
        /// What sealdb was doing.
        operation: &'static str,
        /// The token's label (or the module path before a token is chosen).
        token: String,
        /// The module's return value.
        reason: String,
    },
}

/// The return value of a failed call, when the module gave one.
pub(crate) fn rv_of(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// A short reason for a failed call: the CKR_ name, not the spec's paragraph.
pub(crate) fn reason_of(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{function:?}: {rv:?}"),
        other => other.to_string(),
    }
}
