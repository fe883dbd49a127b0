//! The console's sessions kept across restarts: one file (`console-sessions` in the data
//! dir), rewritten whenever a session starts, ends or changes region, sealed with
//! AES-256-GCM under a key the root derives (`Purpose::ConsoleSessionStore`), so nothing
//! of a session is readable on disk. A file that does not open (another root key after
//! `rotate-root-key`, an unknown version, damage) is ignored: everyone signs in again.
//!
//! Format v1 (`docs/formats.md`): `0x01 ‖ 12-byte nonce ‖ GCM(JSON) ‖ 16-byte tag`, AAD
//! `"sealdb console sessions v1"`; the JSON is an array of
//! `{"id", "subject", "csrf", "expires_at", "region"}`.

use crate::session::{Session, Subject};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sealdb_common::key_hierarchy::console::{SESSIONS_AAD, SESSIONS_V1};
use sealdb_common::secret::SecretKey32;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Where the sessions are kept, and the key that seals them.
pub struct SessionStore {
    path: PathBuf,
    key: SecretKey32,
}

/// The session table, by session id.
pub(crate) type SessionMap = HashMap<[u8; 32], Session>;

impl SessionStore {
    /// Sessions kept in the file at `path`, sealed under `key`.
    pub fn new(path: PathBuf, key: SecretKey32) -> SessionStore {
        SessionStore { path, key }
    }

    /// The sessions in the file that have not expired by `now` (none if the file is
    /// missing or does not open).
    pub(crate) fn load(&self, now: i64) -> SessionMap {
        let Ok(blob) = std::fs::read(&self.path) else {
            return SessionMap::new();
        };
        match open(&self.key, &blob).and_then(|plain| decode(&plain)) {
            Some(mut map) => {
                map.retain(|_, s| s.expires_at > now);
                map
            }
            None => {
                tracing::warn!(
                    "the console's sessions file does not open; everyone signs in again"
                );
                SessionMap::new()
            }
        }
    }

    /// Writes `sessions` in place of the file (a new file renamed over the old one).
    pub(crate) fn save(&self, sessions: &SessionMap) {
        let plain = encode(sessions);
        let Some(blob) = seal(&self.key, &plain) else {
            tracing::warn!("cannot seal the console's sessions");
            return;
        };
        let tmp = self.path.with_extension("tmp");
        let written = std::fs::write(&tmp, &blob).and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot write the console's sessions file");
        }
    }
}

fn encode(sessions: &SessionMap) -> Zeroizing<Vec<u8>> {
    let list: Vec<Value> = sessions
        .iter()
        .map(|(id, s)| {
            let subject = match &s.subject {
                Subject::AccessKey { access_key_id } => {
                    json!({ "kind": "access-key", "access_key_id": access_key_id })
                }
                Subject::Password { user_name, user_id } => {
                    json!({ "kind": "password", "user_name": user_name, "user_id": user_id })
                }
            };
            json!({
                "id": hex::encode(id),
                "subject": subject,
                "csrf": s.csrf,
                "expires_at": s.expires_at,
                "region": s.region,
            })
        })
        .collect();
    Zeroizing::new(serde_json::to_vec(&list).unwrap_or_default())
}

fn decode(plain: &[u8]) -> Option<SessionMap> {
    let list: Vec<Value> = serde_json::from_slice(plain).ok()?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut map = SessionMap::new();
    for entry in &list {
        let id: [u8; 32] = hex::decode(text(entry, "id")?).ok()?.try_into().ok()?;
        let subject = &entry["subject"];
        let subject = match subject.get("kind").and_then(Value::as_str)? {
            "access-key" => Subject::AccessKey {
                access_key_id: text(subject, "access_key_id")?,
            },
            "password" => Subject::Password {
                user_name: text(subject, "user_name")?,
                user_id: text(subject, "user_id")?,
            },
            _ => return None,
        };
        let session = Session {
            subject,
            csrf: text(entry, "csrf")?,
            expires_at: entry.get("expires_at").and_then(Value::as_i64)?,
            region: text(entry, "region")?,
        };
        map.insert(id, session);
    }
    Some(map)
}

fn aead_key(key: &SecretKey32) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key.expose())
        .ok()
        .map(LessSafeKey::new)
}

fn seal(key: &SecretKey32, plain: &[u8]) -> Option<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).ok()?;
    let mut body = plain.to_vec();
    aead_key(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(SESSIONS_AAD),
            &mut body,
        )
        .ok()?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
    out.push(SESSIONS_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Some(out)
}

fn open(key: &SecretKey32, blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (&version, rest) = blob.split_first()?;
    if version != SESSIONS_V1 || rest.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = Zeroizing::new(sealed.to_vec());
    let plain_len = aead_key(key)?
        .open_in_place(nonce, Aad::from(SESSIONS_AAD), &mut body)
        .ok()?
        .len();
    body.truncate(plain_len);
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> SessionMap {
        let mut map = SessionMap::new();
        map.insert(
            [1; 32],
            Session {
                subject: Subject::Password {
                    user_name: "ana".into(),
                    user_id: "AIDAEXAMPLE".into(),
                },
                csrf: "c".repeat(64),
                expires_at: 2_000,
                region: "eu-west-3".into(),
            },
        );
        map.insert(
            [2; 32],
            Session {
                subject: Subject::AccessKey {
                    access_key_id: "AKIAEXAMPLE".into(),
                },
                csrf: "d".repeat(64),
                expires_at: 500,
                region: "us-east-1".into(),
            },
        );
        map
    }

    fn store(dir: &std::path::Path, key: u8) -> SessionStore {
        SessionStore::new(
            dir.join("console-sessions"),
            SecretKey32::from_bytes([key; 32]),
        )
    }

    #[test]
    fn sessions_come_back_sealed_and_expired_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("sealdb-sessions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = store(&dir, 1);
        s.save(&sessions());
        let raw = std::fs::read(dir.join("console-sessions")).unwrap();
        assert_eq!(raw[0], SESSIONS_V1);
        assert!(!raw.windows(11).any(|w| w == b"AKIAEXAMPLE"));
        assert!(!raw.windows(16).any(|w| w == "c".repeat(16).as_bytes()));
        let back = s.load(1_000);
        assert_eq!(back.len(), 1);
        let ana = &back[&[1; 32]];
        assert_eq!(ana.region, "eu-west-3");
        assert_eq!(ana.subject, sessions()[&[1; 32]].subject);
        // Another key (a rotated root), a changed byte or an unknown version: nothing.
        assert!(store(&dir, 2).load(0).is_empty());
        let mut bad = raw.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(dir.join("console-sessions"), &bad).unwrap();
        assert!(s.load(0).is_empty());
        let mut v2 = raw;
        v2[0] = 2;
        std::fs::write(dir.join("console-sessions"), &v2).unwrap();
        assert!(s.load(0).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
