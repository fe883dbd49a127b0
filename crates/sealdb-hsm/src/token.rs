//! An open, logged-in token and the AES operations sealdb runs inside it.

use crate::error::{reason_of, rv_of};
use crate::module::{Login, Module, module};
use crate::{GcmSealed, HsmError, TokenConfig, TokenSelector};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, MutexGuard};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// GCM tag length in bits (the tag is appended to the ciphertext by the token).
const GCM_TAG_BITS: u64 = 128;

/// An open, logged-in token. `Send + Sync`: one session behind a mutex, so calls from
/// several threads queue (every call is one short token operation).
pub struct Pkcs11Token {
    module: Arc<Module>,
    slot: Slot,
    label: String,
    serial: String,
    session: Mutex<Session>,
}

impl std::fmt::Debug for Pkcs11Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Token")
            .field("module", &self.module.path)
            .field("token", &self.label)
            .finish()
    }
}

impl Pkcs11Token {
    /// Loads the module (once per process), finds the token, opens a read-write session
    /// and logs in as the user. Errors say which of those failed.
    pub fn open(config: &TokenConfig) -> Result<Self, HsmError> {
        let module = module(&config.module)?;
        let (slot, label, serial) = find_slot(&module, &config.token)?;
        let fail = |operation, e: &cryptoki::error::Error| HsmError::Token {
            operation,
            token: label.clone(),
            reason: reason_of(e),
        };
        let session = module
            .ctx
            .open_rw_session(slot)
            .map_err(|e| fail("C_OpenSession", &e))?;
        let digest = pin_digest(config.pin.expose());
        {
            let mut logins = module.logins();
            match logins.get_mut(&slot.id()) {
                Some(login) => {
                    // The slot is already logged in by this process: the token would not
                    // look at this PIN, so compare it with the one that logged in.
                    if !bool::from(login.pin_digest.ct_eq(&*digest)) {
                        return Err(HsmError::WrongPin { token: label });
                    }
                    login.holders += 1;
                }
                None => {
                    let pin = AuthPin::from(config.pin.expose().to_owned());
                    match session.login(UserType::User, Some(&pin)) {
                        Ok(()) => {}
                        Err(e) => match rv_of(&e) {
                            Some(RvError::UserAlreadyLoggedIn) => {}
                            Some(RvError::PinIncorrect | RvError::PinLenRange) => {
                                return Err(HsmError::WrongPin { token: label });
                            }
                            Some(RvError::PinLocked) => {
                                return Err(HsmError::PinLocked { token: label });
                            }
                            _ => return Err(fail("C_Login", &e)),
                        },
                    }
                    logins.insert(
                        slot.id(),
                        Login {
                            holders: 1,
                            pin_digest: digest,
                        },
                    );
                }
            }
        }
        Ok(Pkcs11Token {
            module,
            slot,
            label,
            serial,
            session: Mutex::new(session),
        })
    }

    /// The token's label (for messages).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The token's serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        // A panic inside a token call leaves the session usable (each call is whole).
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, operation: &'static str, e: &cryptoki::error::Error) -> HsmError {
        HsmError::Token {
            operation,
            token: self.label.clone(),
            reason: reason_of(e),
        }
    }

    fn key_template(label: &str) -> Vec<Attribute> {
        vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ]
    }

    fn find_keys(&self, session: &Session, label: &str) -> Result<Vec<ObjectHandle>, HsmError> {
        session
            .find_objects(&Self::key_template(label))
            .map_err(|e| self.fail("C_FindObjects", &e))
    }

    fn the_key(&self, session: &Session, label: &str) -> Result<ObjectHandle, HsmError> {
        let found = self.find_keys(session, label)?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(HsmError::KeyNotFound {
                label: label.to_owned(),
                token: self.label.clone(),
            }),
            _ => Err(HsmError::KeyExists {
                label: label.to_owned(),
                token: self.label.clone(),
            }),
        }
    }

    /// A new AES-256 key in the token (token object, private, sensitive, never
    /// extractable; encrypt, decrypt, wrap and unwrap allowed), found again by `label`.
    /// Refuses a label that is already taken.
    pub fn generate_aes256(&self, label: &str) -> Result<(), HsmError> {
        let session = self.session();
        if !self.find_keys(&session, label)?.is_empty() {
            return Err(HsmError::KeyExists {
                label: label.to_owned(),
                token: self.label.clone(),
            });
        }
        let mut template = Self::key_template(label);
        template.extend([
            Attribute::ValueLen(32.into()),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
        ]);
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| self.fail("C_GenerateKey", &e))?;
        Ok(())
    }

    /// Whether a key with this label exists.
    pub fn has_key(&self, label: &str) -> Result<bool, HsmError> {
        let session = self.session();
        Ok(!self.find_keys(&session, label)?.is_empty())
    }

    /// Destroys the key with this label (every key of that label, should there be more).
    pub fn destroy_key(&self, label: &str) -> Result<(), HsmError> {
        let session = self.session();
        let found = self.find_keys(&session, label)?;
        if found.is_empty() {
            return Err(HsmError::KeyNotFound {
                label: label.to_owned(),
                token: self.label.clone(),
            });
        }
        for handle in found {
            session
                .destroy_object(handle)
                .map_err(|e| self.fail("C_DestroyObject", &e))?;
        }
        Ok(())
    }

    /// AES-256-GCM inside the token under the labelled key: a fresh random 12-byte IV,
    /// `aad` authenticated, the 16-byte tag appended to the ciphertext.
    pub fn encrypt_gcm(
        &self,
        label: &str,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<GcmSealed, HsmError> {
        let mut iv = [0u8; 12];
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| HsmError::Token {
            operation: "IV generation",
            token: self.label.clone(),
            reason: "random generator failed".into(),
        })?;
        let session = self.session();
        let key = self.the_key(&session, label)?;
        let mut iv_param = iv;
        let params = GcmParams::new(&mut iv_param, aad, GCM_TAG_BITS.into())
            .map_err(|e| self.fail("AES-GCM parameters", &e))?;
        let ciphertext = session
            .encrypt(&Mechanism::AesGcm(params), key, plaintext)
            .map_err(|e| self.fail("C_Encrypt (AES-GCM)", &e))?;
        Ok(GcmSealed { iv, ciphertext })
    }

    /// Opens what [`Pkcs11Token::encrypt_gcm`] sealed under the same key and `aad`.
    pub fn decrypt_gcm(
        &self,
        label: &str,
        aad: &[u8],
        sealed: &GcmSealed,
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        if sealed.ciphertext.len() < 16 {
            return Err(HsmError::Malformed(12 + sealed.ciphertext.len()));
        }
        let session = self.session();
        let key = self.the_key(&session, label)?;
        let mut iv = sealed.iv;
        let params = GcmParams::new(&mut iv, aad, GCM_TAG_BITS.into())
            .map_err(|e| self.fail("AES-GCM parameters", &e))?;
        match session.decrypt(&Mechanism::AesGcm(params), key, &sealed.ciphertext) {
            Ok(plain) => Ok(Zeroizing::new(plain)),
            Err(e) => match rv_of(&e) {
                Some(
                    RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange
                    | RvError::GeneralError,
                ) => Err(HsmError::Decrypt {
                    token: self.label.clone(),
                }),
                _ => Err(self.fail("C_Decrypt (AES-GCM)", &e)),
            },
        }
    }
}

impl Drop for Pkcs11Token {
    fn drop(&mut self) {
        let mut logins = self.module.logins();
        let last = match logins.get_mut(&self.slot.id()) {
            Some(login) => {
                login.holders = login.holders.saturating_sub(1);
                login.holders == 0
            }
            None => false,
        };
        if last {
            logins.remove(&self.slot.id());
            // Logging out ends the login of every session of the process on this token;
            // this is the last one of ours. A failure leaves nothing to clean up.
            let _ = self.session().logout();
        }
    }
}

fn pin_digest(pin: &str) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(Sha256::digest(pin.as_bytes()).into())
}

/// The slot holding the selected token, and that token's label and serial number.
fn find_slot(
    module: &Module,
    selector: &TokenSelector,
) -> Result<(Slot, String, String), HsmError> {
    let wanted = selector.to_string();
    let _enumerating = module.slot_list();
    let slots = module
        .ctx
        .get_slots_with_initialized_token()
        .map_err(|e| HsmError::Token {
            operation: "C_GetSlotList",
            token: wanted.clone(),
            reason: reason_of(&e),
        })?;
    let mut found = Vec::new();
    for slot in slots {
        let Ok(info) = module.ctx.get_token_info(slot) else {
            continue;
        };
        let hit = match selector {
            TokenSelector::Label(l) => info.label().trim_end() == l.as_str(),
            TokenSelector::Serial(s) => info.serial_number().trim_end() == s.as_str(),
        };
        if hit {
            found.push((
                slot,
                info.label().trim_end().to_owned(),
                info.serial_number().trim_end().to_owned(),
            ));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(HsmError::TokenNotFound {
            token: wanted,
            module: module.path.clone(),
        }),
        _ => Err(HsmError::TokenAmbiguous {
            token: wanted,
            module: module.path.clone(),
        }),
    }
}
