//! SigV4 signing keys kept per credential and scope day, so that a client's requests of
//! one day cost one HMAC of the string to sign instead of five (the four of the key's
//! derivation were 5 % of a GetItem's server CPU).
//!
//! A key is stored only after a request signed with it verified, so only an authenticated
//! caller fills the cache, and each entry keeps the secret it was derived from: a changed
//! secret (an access key deleted and made again with the same id) misses and is derived
//! anew. Memory only; the secrets are zeroized on drop ([`SecretString`]).

use aws_lc_rs::hmac;
use sealdb_common::secret::SecretString;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use subtle::ConstantTimeEq;

/// Entries kept; past that the cache starts again empty (a rare, cheap event: every
/// entry is re-derived on its next use).
const MAX_ENTRIES: usize = 1024;

struct Entry {
    secret: SecretString,
    key: hmac::Key,
}

/// Keys by `access-key-id/date/region/service`.
static KEYS: LazyLock<Mutex<HashMap<String, Entry>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn name(access_key_id: &str, scope: &str) -> String {
    let mut n = String::with_capacity(access_key_id.len() + scope.len() + 1);
    n.push_str(access_key_id);
    n.push('/');
    n.push_str(scope);
    n
}

/// The cached key of `access_key_id` for `scope` (`date/region/service`), when it was
/// derived from this same secret.
pub(crate) fn get(access_key_id: &str, scope: &str, secret: &SecretString) -> Option<hmac::Key> {
    let keys = KEYS.lock().ok()?;
    let entry = keys.get(&name(access_key_id, scope))?;
    let same: bool = entry
        .secret
        .expose()
        .as_bytes()
        .ct_eq(secret.expose().as_bytes())
        .into();
    same.then(|| entry.key.clone())
}

/// Keeps a key that just verified a request.
pub(crate) fn put(access_key_id: &str, scope: &str, secret: &SecretString, key: hmac::Key) {
    let Ok(mut keys) = KEYS.lock() else { return };
    if keys.len() >= MAX_ENTRIES {
        keys.clear();
    }
    keys.insert(
        name(access_key_id, scope),
        Entry {
            secret: secret.clone(),
            key,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_only_for_its_secret_and_scope() {
        let secret = SecretString::new("s3cret-one".into());
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"derived");
        assert!(get("AKIDCACHETEST1", "20261203/us-east-1/dynamodb", &secret).is_none());
        put(
            "AKIDCACHETEST1",
            "20261203/us-east-1/dynamodb",
            &secret,
            key,
        );
        let found = get("AKIDCACHETEST1", "20261203/us-east-1/dynamodb", &secret).unwrap();
        assert_eq!(
            hmac::sign(&found, b"x").as_ref(),
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"derived"), b"x").as_ref()
        );
        let other = SecretString::new("s3cret-two".into());
        assert!(get("AKIDCACHETEST1", "20261203/us-east-1/dynamodb", &other).is_none());
        assert!(get("AKIDCACHETEST1", "20261204/us-east-1/dynamodb", &secret).is_none());
        assert!(get("AKIDCACHETEST2", "20261203/us-east-1/dynamodb", &secret).is_none());
    }
}
