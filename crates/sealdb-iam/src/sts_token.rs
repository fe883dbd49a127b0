//! Session tokens: temporary credentials are not stored; the token *is* the session,
//! sealed so that only this server (this root key) can open it.
//!
//! ```text
//! token = base64( 0x01 ‖ nonce(12) ‖ AES-256-GCM(JSON session) ‖ tag(16) )
//!   key  = HKDF-SHA256(HKDF(root, "sts"), info = "sealdb sts session token v1")
//!   AAD  = 0x01 ‖ info ‖ the ASIA access key id   (a token opens only with its own key id)
//! ```
//! Resolving a request's credential: a token must open, must not be expired, and must
//! name a user or role that still exists with the same unique id (a deleted and re-created
//! role does not inherit old sessions).

use crate::store::IdentityStore;
use crate::store_model::IdentityState;
use crate::store_seal::Sealer;
use base64::Engine as _;
use sealdb_common::secret::SecretString;
use sealdb_common::{Identity, PrincipalKind, RootKey};
use serde::{Deserialize, Serialize};

/// HKDF purpose of the session-token base key. DO NOT CHANGE.
const TOKEN_KEY_PURPOSE: sealdb_common::Purpose =
    sealdb_common::key_hierarchy::iam_sealed::TOKEN_BASE;
/// HKDF info of the token subkey. DO NOT CHANGE.
const TOKEN_SEAL_INFO: &[u8] = sealdb_common::key_hierarchy::iam_sealed::TOKEN_SEAL_INFO;

/// Whose session a token is.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum SessionSubject {
    /// GetSessionToken by the account root.
    Root,
    /// GetSessionToken by a user.
    User {
        /// The user name.
        name: String,
        /// Its unique id at issue time.
        id: String,
    },
    /// AssumeRole.
    Role {
        /// The role name.
        name: String,
        /// Its unique id at issue time.
        id: String,
        /// RoleSessionName.
        session_name: String,
    },
}

/// What a token carries (sealed).
#[derive(Serialize, Deserialize)]
struct SessionClaims {
    access_key_id: String,
    secret: String,
    /// Seconds since the epoch.
    expires: i64,
    subject: SessionSubject,
    /// When the session was issued (seconds since the epoch); absent in tokens issued
    /// before it was recorded.
    #[serde(default)]
    issued: Option<i64>,
}

impl Drop for SessionClaims {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// Temporary credentials as STS returns them.
pub struct SessionCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The session's secret.
    pub secret: SecretString,
    /// The token to send as `X-Amz-Security-Token`.
    pub session_token: String,
    /// Seconds since the epoch.
    pub expires: i64,
}

/// Why a credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Unknown, inactive, forged, or for a principal that no longer exists.
    Invalid,
    /// An authentic session token past its expiry.
    Expired,
}

/// Issues and opens session tokens.
pub struct SessionTokens {
    sealer: Sealer,
}

impl SessionTokens {
    /// The token key of `root`.
    pub fn new(root: &RootKey) -> Result<SessionTokens, crate::store::StoreError> {
        let sealer = Sealer::new(&root.derive(TOKEN_KEY_PURPOSE), TOKEN_SEAL_INFO)
            .map_err(|_| crate::store::StoreError::Seal)?;
        Ok(SessionTokens { sealer })
    }

    /// Fresh temporary credentials for `subject`, issued at `issued` and valid until
    /// `expires` (seconds since the epoch).
    pub fn issue(
        &self,
        subject: SessionSubject,
        issued: i64,
        expires: i64,
    ) -> Result<SessionCredentials, crate::store::StoreError> {
        let seal_err = |_| crate::store::StoreError::Seal;
        let access_key_id =
            crate::store_ids::access_key_id("ASIA").map_err(|_| crate::store::StoreError::Seal)?;
        let secret =
            crate::store_ids::secret_access_key().map_err(|_| crate::store::StoreError::Seal)?;
        let claims = SessionClaims {
            access_key_id: access_key_id.clone(),
            secret: secret.expose().to_owned(),
            expires,
            subject,
            issued: Some(issued),
        };
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(&claims).map_err(|_| crate::store::StoreError::Seal)?,
        );
        let sealed = self
            .sealer
            .seal(&json, access_key_id.as_bytes())
            .map_err(seal_err)?;
        Ok(SessionCredentials {
            access_key_id,
            secret,
            session_token: base64::engine::general_purpose::STANDARD.encode(sealed),
            expires,
        })
    }

    /// The secret and identity of a request's credentials (see the module docs), and
    /// when their session was issued (temporary credentials only).
    pub fn resolve(
        &self,
        store: &IdentityStore,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<(SecretString, Identity, Option<i64>), Rejection> {
        let Some(token) = session_token else {
            let (secret, user) = store.active_key(access_key_id).ok_or(Rejection::Invalid)?;
            let identity = match user {
                None => Identity::root(),
                Some(u) => Identity {
                    kind: PrincipalKind::User {
                        user_name: u.name,
                        user_id: u.id,
                        path: u.path,
                    },
                    tags: u.tags,
                },
            };
            return Ok((secret, identity, None));
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .map_err(|_| Rejection::Invalid)?;
        let json = self
            .sealer
            .open(&sealed, access_key_id.as_bytes())
            .map_err(|_| Rejection::Invalid)?;
        let claims: SessionClaims =
            serde_json::from_slice(&json).map_err(|_| Rejection::Invalid)?;
        if claims.access_key_id != access_key_id {
            return Err(Rejection::Invalid);
        }
        if store.clock().now_secs() >= claims.expires {
            return Err(Rejection::Expired);
        }
        let identity = store
            .read(|s| identity_of(s, &claims.subject))
            .ok_or(Rejection::Invalid)?;
        Ok((
            SecretString::new(claims.secret.clone()),
            identity,
            claims.issued,
        ))
    }
}

/// The current identity of a session's subject, if it still exists as issued.
fn identity_of(state: &IdentityState, subject: &SessionSubject) -> Option<Identity> {
    match subject {
        SessionSubject::Root => Some(Identity::root()),
        SessionSubject::User { name, id } => {
            let u = state.users.get(name).filter(|u| &u.id == id)?;
            Some(Identity {
                kind: PrincipalKind::User {
                    user_name: u.name.clone(),
                    user_id: u.id.clone(),
                    path: u.path.clone(),
                },
                tags: u.tags.clone(),
            })
        }
        SessionSubject::Role {
            name,
            id,
            session_name,
        } => {
            let r = state.roles.get(name).filter(|r| &r.id == id)?;
            Some(Identity {
                kind: PrincipalKind::AssumedRole {
                    role_name: r.name.clone(),
                    role_id: r.id.clone(),
                    role_path: r.path.clone(),
                    session_name: session_name.clone(),
                },
                tags: r.tags.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdb_common::{Clock, SecretKey32};

    #[test]
    fn tokens_expire_and_bind_their_key_and_subject() {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::from_key(SecretKey32::from_bytes([4; 32]));
        let clock = Clock::system();
        let store = IdentityStore::open(dir.path(), &root, "123456789012", clock.clone()).unwrap();
        let tokens = SessionTokens::new(&root).unwrap();
        let now = clock.now_secs();
        let creds = tokens.issue(SessionSubject::Root, now, now + 900).unwrap();
        let token = Some(creds.session_token.as_str());
        let (secret, identity, issued) =
            tokens.resolve(&store, &creds.access_key_id, token).unwrap();
        assert_eq!(secret.expose(), creds.secret.expose());
        assert_eq!(identity, Identity::root());
        assert_eq!(issued, Some(now));
        // Another key id, another root key, or a changed byte: invalid.
        assert_eq!(
            tokens.resolve(&store, "ASIAOTHERKEY00000000", token).err(),
            Some(Rejection::Invalid)
        );
        let other =
            SessionTokens::new(&RootKey::from_key(SecretKey32::from_bytes([5; 32]))).unwrap();
        assert_eq!(
            other.resolve(&store, &creds.access_key_id, token).err(),
            Some(Rejection::Invalid)
        );
        let mut forged = creds.session_token.clone().into_bytes();
        forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            tokens
                .resolve(&store, &creds.access_key_id, Some(&forged))
                .err(),
            Some(Rejection::Invalid)
        );
        // The secret never appears in the token.
        assert!(!creds.session_token.contains(creds.secret.expose()));
        // Past its expiry: expired, not invalid.
        clock.advance_millis(901_000);
        assert_eq!(
            tokens.resolve(&store, &creds.access_key_id, token).err(),
            Some(Rejection::Expired)
        );
        // A session of a role that no longer exists is invalid.
        let role = tokens
            .issue(
                SessionSubject::Role {
                    name: "gone".into(),
                    id: "AROAGONE".into(),
                    session_name: "s".into(),
                },
                clock.now_secs(),
                clock.now_secs() + 900,
            )
            .unwrap();
        assert_eq!(
            tokens
                .resolve(&store, &role.access_key_id, Some(&role.session_token))
                .err(),
            Some(Rejection::Invalid)
        );
    }
}
