//! Console sessions: who is signed in, the session cookie, CSRF tokens and the sign-in
//! rate limit.
//!
//! A session lives in server memory, and in a sealed file when the console has a
//! [`SessionStore`] (`session_store.rs`), so a restart keeps it. The cookie is
//! `v1.<session id>.<MAC>`: 32 random bytes and an HMAC-SHA256 under the console secret,
//! both hex. A cookie is honoured only if its MAC verifies under the current secret, its
//! session exists and has not expired; so sign-out, expiry and a new console secret all
//! end it.

use crate::session_store::SessionStore;
use aws_lc_rs::hmac;
use sealdb_common::Clock;
use sealdb_common::secret::SecretKey32;
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "sealdb-console";
/// The cookie holding the sign-in form's CSRF token (there is no session yet).
pub(crate) const SIGNIN_COOKIE: &str = "sealdb-console-signin";
/// Version tag of the cookie format; an unknown one is refused.
const COOKIE_VERSION: &str = "v1";
/// Domain separation of the cookie MAC.
const MAC_CONTEXT: &[u8] = sealdb_common::key_hierarchy::console::MAC_CONTEXT;

/// Who a session acts as; re-resolved against the identity store on every request, so a
/// deleted user or a deactivated key ends the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    /// Signed in with an access key id and its secret.
    AccessKey { access_key_id: String },
    /// Signed in as an IAM user with its console password.
    Password { user_name: String, user_id: String },
}

/// One signed-in session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) subject: Subject,
    /// The token every form of this session must carry.
    pub(crate) csrf: String,
    /// Epoch seconds after which the session is over.
    pub(crate) expires_at: i64,
    /// The region the console shows.
    pub(crate) region: String,
}

/// The session table.
pub(crate) struct Sessions {
    secret: hmac::Key,
    ttl_secs: i64,
    clock: Clock,
    by_id: Mutex<HashMap<[u8; 32], Session>>,
    /// Where the sessions are kept across restarts, if anywhere.
    store: Option<SessionStore>,
}

/// Random bytes from the system's generator.
pub(crate) fn random_bytes() -> Option<[u8; 32]> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    Some(b)
}

/// A fresh random token (CSRF tokens), hex.
pub(crate) fn random_token() -> Option<String> {
    random_bytes().map(hex::encode)
}

/// Constant-time equality of two tokens.
pub(crate) fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    pub(crate) fn new(
        secret: &SecretKey32,
        ttl_secs: i64,
        clock: Clock,
        store: Option<SessionStore>,
    ) -> Sessions {
        let kept = store
            .as_ref()
            .map(|s| s.load(clock.now_secs()))
            .unwrap_or_default();
        Sessions {
            secret: hmac::Key::new(hmac::HMAC_SHA256, secret.expose()),
            ttl_secs,
            clock,
            by_id: Mutex::new(kept),
            store,
        }
    }

    /// Writes the session table to the store (under its lock, so writes keep its order).
    fn persist(&self, map: &HashMap<[u8; 32], Session>) {
        if let Some(store) = &self.store {
            store.save(map);
        }
    }

    /// How long a session lasts, in seconds.
    pub(crate) fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    fn mac(&self, id: &[u8; 32]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.secret);
        ctx.update(MAC_CONTEXT);
        ctx.update(id);
        ctx.sign()
    }

    /// Starts a session; returns the cookie value.
    pub(crate) fn start(&self, subject: Subject, region: &str) -> Option<(String, Session)> {
        let id = random_bytes()?;
        let session = Session {
            subject,
            csrf: random_token()?,
            expires_at: self.clock.now_secs().saturating_add(self.ttl_secs),
            region: region.to_owned(),
        };
        let cookie = format!(
            "{COOKIE_VERSION}.{}.{}",
            hex::encode(id),
            hex::encode(self.mac(&id).as_ref())
        );
        let mut map = self.by_id.lock().ok()?;
        let now = self.clock.now_secs();
        map.retain(|_, s| s.expires_at > now);
        map.insert(id, session.clone());
        self.persist(&map);
        Some((cookie, session))
    }

    /// The session id of a cookie value whose MAC verifies under the current secret.
    fn verified_id(&self, cookie: &str) -> Option<[u8; 32]> {
        let mut parts = cookie.split('.');
        let (Some(version), Some(id_hex), Some(mac_hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if version != COOKIE_VERSION {
            return None;
        }
        let id: [u8; 32] = hex::decode(id_hex).ok()?.try_into().ok()?;
        let mac = Zeroizing::new(hex::decode(mac_hex).ok()?);
        let mut data = Vec::with_capacity(MAC_CONTEXT.len() + id.len());
        data.extend_from_slice(MAC_CONTEXT);
        data.extend_from_slice(&id);
        // Constant-time comparison of the tag.
        hmac::verify(&self.secret, &data, &mac).ok()?;
        Some(id)
    }

    /// The live session of a cookie value.
    pub(crate) fn get(&self, cookie: &str) -> Option<Session> {
        let id = self.verified_id(cookie)?;
        let mut map = self.by_id.lock().ok()?;
        let session = map.get(&id)?.clone();
        if session.expires_at <= self.clock.now_secs() {
            map.remove(&id);
            return None;
        }
        Some(session)
    }

    /// Ends the session of a cookie value (sign-out).
    pub(crate) fn end(&self, cookie: &str) {
        if let (Some(id), Ok(mut map)) = (self.verified_id(cookie), self.by_id.lock()) {
            if map.remove(&id).is_some() {
                self.persist(&map);
            }
        }
    }

    /// Changes the region a session shows.
    pub(crate) fn set_region(&self, cookie: &str, region: &str) {
        if let (Some(id), Ok(mut map)) = (self.verified_id(cookie), self.by_id.lock()) {
            if let Some(s) = map.get_mut(&id) {
                region.clone_into(&mut s.region);
                self.persist(&map);
            }
        }
    }
}

/// The `Set-Cookie` value for a cookie scoped to the console.
pub(crate) fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path=/console; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Failed sign-ins allowed per window for one name.
const MAX_FAILURES_PER_NAME: u32 = 5;
/// Failed sign-ins allowed per window from one source address (several people may share it).
const MAX_FAILURES_PER_ADDRESS: u32 = 20;

/// The limit of a counter: `ip:` counters are per address, the others per name.
fn limit_of(key: &str) -> u32 {
    if key.starts_with("ip:") {
        MAX_FAILURES_PER_ADDRESS
    } else {
        MAX_FAILURES_PER_NAME
    }
}
/// The window of the sign-in limit, in seconds.
const WINDOW_SECS: i64 = 300;

/// Counts failed sign-ins by source address and by name; past the limit, sign-in is
/// refused until the window ends (even with the right password), so guessing is slow.
pub(crate) struct SignInLimiter {
    clock: Clock,
    failures: Mutex<HashMap<String, (i64, u32)>>,
}

impl SignInLimiter {
    pub(crate) fn new(clock: Clock) -> SignInLimiter {
        SignInLimiter {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait if any of `keys` is over the limit.
    pub(crate) fn blocked_for(&self, keys: &[String]) -> Option<i64> {
        let now = self.clock.now_secs();
        let map = self.failures.lock().ok()?;
        keys.iter()
            .filter_map(|k| map.get(k).map(|e| (limit_of(k), e)))
            .filter(|(limit, (start, n))| *n >= *limit && now < start + WINDOW_SECS)
            .map(|(_, (start, _))| start + WINDOW_SECS - now)
            .max()
    }

    /// Counts a failed attempt against every key.
    pub(crate) fn failed(&self, keys: &[String]) {
        let now = self.clock.now_secs();
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        map.retain(|_, (start, _)| now < *start + WINDOW_SECS);
        for k in keys {
            let entry = map.entry(k.clone()).or_insert((now, 0));
            entry.1 = entry.1.saturating_add(1);
        }
    }

    /// A successful sign-in clears its name's count (not the address's).
    pub(crate) fn succeeded(&self, name_key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(name_key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> SecretKey32 {
        SecretKey32::from_bytes([b; 32])
    }

    fn user() -> Subject {
        Subject::AccessKey {
            access_key_id: "AKIAEXAMPLE".into(),
        }
    }

    #[test]
    fn a_started_session_is_found_by_its_cookie() {
        let s = Sessions::new(&secret(1), 60, Clock::system(), None);
        let (cookie, started) = s.start(user(), "us-east-1").unwrap();
        let found = s.get(&cookie).unwrap();
        assert_eq!(found.subject, user());
        assert_eq!(found.csrf, started.csrf);
        assert_eq!(found.csrf.len(), 64);
    }

    #[test]
    fn sign_out_ends_the_session() {
        let s = Sessions::new(&secret(1), 60, Clock::system(), None);
        let (cookie, _) = s.start(user(), "us-east-1").unwrap();
        s.end(&cookie);
        assert!(s.get(&cookie).is_none());
    }

    #[test]
    fn a_session_expires() {
        let clock = Clock::system();
        let s = Sessions::new(&secret(1), 60, clock.clone(), None);
        let (cookie, _) = s.start(user(), "us-east-1").unwrap();
        clock.advance_millis(59_000);
        assert!(s.get(&cookie).is_some());
        clock.advance_millis(1_000);
        assert!(s.get(&cookie).is_none());
    }

    #[test]
    fn a_cookie_made_under_another_secret_is_refused() {
        let clock = Clock::system();
        let old = Sessions::new(&secret(1), 60, clock.clone(), None);
        let (cookie, _) = old.start(user(), "us-east-1").unwrap();
        // The same session table under a new secret: the old cookie's MAC no longer verifies.
        let mut new = Sessions::new(&secret(2), 60, clock, None);
        new.by_id = Mutex::new(old.by_id.lock().unwrap().clone());
        assert!(new.get(&cookie).is_none());
        assert!(old.get(&cookie).is_some());
    }

    #[test]
    fn forged_and_malformed_cookies_are_refused() {
        let s = Sessions::new(&secret(1), 60, Clock::system(), None);
        let (cookie, _) = s.start(user(), "us-east-1").unwrap();
        let (head, mac) = cookie.rsplit_once('.').unwrap();
        let mut flipped = mac.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let forged = format!("{head}.{}", String::from_utf8(flipped).unwrap());
        assert!(s.get(&forged).is_none());
        assert!(s.get(&cookie.replacen("v1", "v2", 1)).is_none());
        for bad in ["", "v1", "v1..", "v1.zz.zz", &format!("{cookie}.x")] {
            assert!(s.get(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_under_tls() {
        let c = set_cookie(SESSION_COOKIE, "v", 10, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(c.contains("Path=/console") && c.contains("Max-Age=10"));
        assert!(!set_cookie(SESSION_COOKIE, "v", 10, false).contains("Secure"));
    }

    #[test]
    fn cookie_value_is_read_among_others() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; sealdb-console=abc".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie_value(&h, SIGNIN_COOKIE), None);
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
    }

    #[test]
    fn the_limiter_blocks_a_name_after_five_failures_until_the_window_ends() {
        let clock = Clock::system();
        let l = SignInLimiter::new(clock.clone());
        let keys = vec!["ip:1".to_owned(), "name:bob".to_owned()];
        for _ in 0..4 {
            l.failed(&keys);
        }
        assert_eq!(l.blocked_for(&keys), None);
        l.failed(&keys);
        assert_eq!(l.blocked_for(&keys), Some(WINDOW_SECS));
        // Another name from the same address is not blocked yet.
        assert_eq!(
            l.blocked_for(&["ip:1".to_owned(), "name:eve".to_owned()]),
            None
        );
        clock.advance_millis(WINDOW_SECS * 1000);
        assert_eq!(l.blocked_for(&keys), None);
    }

    #[test]
    fn the_limiter_blocks_an_address_after_twenty_failures_whatever_the_names() {
        let l = SignInLimiter::new(Clock::system());
        for i in 0..20 {
            l.failed(&["ip:9".to_owned(), format!("name:u{i}")]);
        }
        assert!(
            l.blocked_for(&["ip:9".to_owned(), "name:new".to_owned()])
                .is_some()
        );
        assert_eq!(
            l.blocked_for(&["ip:8".to_owned(), "name:new".to_owned()]),
            None
        );
    }
}
