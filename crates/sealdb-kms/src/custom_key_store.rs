//! KMS custom key stores of both types. EXTERNAL_KEY_STORE stores reach an XKS proxy
//! (`xks.rs`; connecting is a GetHealthStatus call). AWS_CLOUDHSM stores have as
//! "cluster" a PKCS#11 token named by the server's configuration:
//!
//! ```text
//! --cloudhsm-cluster cluster-<11..16 of [2-7a-zA-Z]>=<module path>:<token label>
//! ```
//! The store's KeyStorePassword (AWS: the `kmsuser` password) is the token's user PIN.
//! KMS keys of the store are AES-256 token keys labelled with the KMS key id,
//! non-extractable; every encryption under them is AES-GCM run by the token.
//!
//! Definitions are persisted in `keystore.db` (record v1/v2, the PIN or the proxy
//! secret in its own column of that encrypted file, like key material); the connection
//! is runtime state: CONNECTING
//! while a thread logs in to the token, then CONNECTED (holding the logged-in token) or
//! FAILED with AWS's ConnectionErrorCode. A store asked to connect reconnects when the
//! server starts.

use crate::error::KmsError;
use crate::store::Store;
use rusqlite::{OptionalExtension, params};
use sealdb_common::secret::SecretString;
use sealdb_hsm::{HsmError, Pkcs11Token, TokenConfig, TokenSelector};
use sealdb_http::xks::client::{XksEndpoint, XksTrust};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Version of the custom key store record (CloudHSM only). DO NOT CHANGE.
pub(crate) const STORE_RECORD_V1: u32 = 1;
/// Version 2: v1 and the optional `xks` member (external key stores). DO NOT CHANGE.
pub(crate) const STORE_RECORD_V2: u32 = 2;

/// CustomKeyStoreType.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoreType {
    /// A CloudHSM key store (here a PKCS#11 token).
    #[serde(rename = "AWS_CLOUDHSM")]
    AwsCloudHsm,
    /// An external key store (an XKS proxy).
    #[serde(rename = "EXTERNAL_KEY_STORE")]
    ExternalKeyStore,
}

impl StoreType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StoreType::AwsCloudHsm => "AWS_CLOUDHSM",
            StoreType::ExternalKeyStore => "EXTERNAL_KEY_STORE",
        }
    }
}

/// A custom key store's definition, as persisted (JSON in `custom_key_stores.record`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoreRecord {
    /// Record version ([`STORE_RECORD_V1`] or [`STORE_RECORD_V2`]).
    pub(crate) v: u32,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) store_type: StoreType,
    /// Epoch seconds.
    pub(crate) created: f64,
    /// AWS_CLOUDHSM: the cluster id (a configured token).
    pub(crate) cluster_id: Option<String>,
    /// AWS_CLOUDHSM: the trust anchor certificate, kept as given.
    pub(crate) trust_anchor: Option<String>,
    /// Whether the owner asked for the store to be connected (ConnectCustomKeyStore
    /// since the last DisconnectCustomKeyStore): reconnected on start.
    pub(crate) connect_requested: bool,
    /// EXTERNAL_KEY_STORE (record v2): the proxy's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) xks: Option<crate::xks::XksConfig>,
}

/// A configured "cluster": which token of which module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterToken {
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The token (by label).
    pub token: TokenSelector,
}

/// The CloudHSM cluster ids this server knows, each a PKCS#11 token.
#[derive(Clone, Debug, Default)]
pub struct CloudHsmClusters {
    clusters: BTreeMap<String, ClusterToken>,
    /// How long a connection stays CONNECTING before the token is opened (AWS takes
    /// minutes; tests use it to see the state).
    connect_delay: Duration,
}

impl CloudHsmClusters {
    /// No clusters yet; connections stay CONNECTING for `connect_delay` before the
    /// token is logged in to.
    pub fn new(connect_delay: Duration) -> Self {
        CloudHsmClusters {
            clusters: BTreeMap::new(),
            connect_delay,
        }
    }

    /// Parses `cluster-id=module-path:token-label`.
    pub fn parse_spec(spec: &str) -> Result<(String, ClusterToken), String> {
        let bad = || {
            format!(
                "--cloudhsm-cluster {spec:?}: expected cluster-<id>=<PKCS#11 module path>:<token label>"
            )
        };
        let (id, rest) = spec.split_once('=').ok_or_else(bad)?;
        let (module, label) = rest.split_once(':').ok_or_else(bad)?;
        let tail = id.strip_prefix("cluster-").ok_or_else(bad)?;
        let id_ok = (11..=16).contains(&tail.len())
            && tail
                .chars()
                .all(|c| c.is_ascii_alphabetic() || ('2'..='7').contains(&c));
        if !id_ok || module.is_empty() || label.is_empty() {
            return Err(bad());
        }
        Ok((
            id.to_owned(),
            ClusterToken {
                module: PathBuf::from(module),
                token: TokenSelector::Label(label.to_owned()),
            },
        ))
    }

    /// Adds a cluster.
    pub fn insert(&mut self, id: String, token: ClusterToken) {
        self.clusters.insert(id, token);
    }

    fn get(&self, id: &str) -> Option<&ClusterToken> {
        self.clusters.get(id)
    }
}

/// ConnectionStateType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectionState {
    Connected,
    Connecting,
    Failed,
    Disconnected,
}

impl ConnectionState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connected => "CONNECTED",
            ConnectionState::Connecting => "CONNECTING",
            ConnectionState::Failed => "FAILED",
            ConnectionState::Disconnected => "DISCONNECTED",
        }
    }
}

/// ConnectionErrorCodeType (the values a token or proxy connection can produce).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectionErrorCode {
    InvalidCredentials,
    ClusterNotFound,
    UserLockedOut,
    InternalError,
    XksProxyAccessDenied,
    XksProxyNotReachable,
    XksProxyInvalidConfiguration,
    XksProxyInvalidResponse,
    XksProxyInvalidTlsConfiguration,
    XksProxyTimedOut,
}

impl ConnectionErrorCode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConnectionErrorCode::InvalidCredentials => "INVALID_CREDENTIALS",
            ConnectionErrorCode::ClusterNotFound => "CLUSTER_NOT_FOUND",
            ConnectionErrorCode::UserLockedOut => "USER_LOCKED_OUT",
            ConnectionErrorCode::InternalError => "INTERNAL_ERROR",
            ConnectionErrorCode::XksProxyAccessDenied => "XKS_PROXY_ACCESS_DENIED",
            ConnectionErrorCode::XksProxyNotReachable => "XKS_PROXY_NOT_REACHABLE",
            ConnectionErrorCode::XksProxyInvalidConfiguration => "XKS_PROXY_INVALID_CONFIGURATION",
            ConnectionErrorCode::XksProxyInvalidResponse => "XKS_PROXY_INVALID_RESPONSE",
            ConnectionErrorCode::XksProxyInvalidTlsConfiguration => {
                "XKS_PROXY_INVALID_TLS_CONFIGURATION"
            }
            ConnectionErrorCode::XksProxyTimedOut => "XKS_PROXY_TIMED_OUT",
        }
    }

    fn of(e: &HsmError) -> Self {
        match e {
            HsmError::WrongPin { .. } => ConnectionErrorCode::InvalidCredentials,
            HsmError::PinLocked { .. } => ConnectionErrorCode::UserLockedOut,
            HsmError::ModuleUnavailable { .. }
            | HsmError::TokenNotFound { .. }
            | HsmError::TokenAmbiguous { .. } => ConnectionErrorCode::ClusterNotFound,
            _ => ConnectionErrorCode::InternalError,
        }
    }
}

/// What a connected store works through.
#[derive(Clone)]
pub(crate) enum Backend {
    /// The logged-in token (AWS_CLOUDHSM).
    Token(Arc<Pkcs11Token>),
    /// The proxy, with the store's credential (EXTERNAL_KEY_STORE).
    Xks(Arc<XksEndpoint>),
}

/// What a connection is made to.
pub(crate) enum Target {
    Cluster {
        cluster_id: String,
        pin: SecretString,
    },
    Xks(XksEndpoint),
}

enum Link {
    Connecting,
    Connected(Backend),
    Failed(ConnectionErrorCode),
}

struct Conn {
    /// Bumped by every connect and disconnect, so a login that finishes after the
    /// store was disconnected (or reconnected) is dropped.
    generation: u64,
    link: Link,
}

/// The configured clusters and the live connections of every store.
#[derive(Default)]
pub(crate) struct Connections {
    clusters: RwLock<CloudHsmClusters>,
    /// The CA and deadline of XKS proxy calls.
    xks_trust: RwLock<XksTrust>,
    links: Mutex<HashMap<String, Conn>>,
    generation: Mutex<u64>,
}

impl Connections {
    pub(crate) fn set_clusters(&self, clusters: CloudHsmClusters) {
        if let Ok(mut c) = self.clusters.write() {
            *c = clusters;
        }
    }

    pub(crate) fn set_xks_trust(&self, trust: XksTrust) {
        if let Ok(mut t) = self.xks_trust.write() {
            *t = trust;
        }
    }

    pub(crate) fn xks_trust(&self) -> XksTrust {
        self.xks_trust.read().map(|t| t.clone()).unwrap_or_default()
    }

    pub(crate) fn cluster(&self, id: &str) -> Option<ClusterToken> {
        self.clusters.read().ok()?.get(id).cloned()
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<String, Conn>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_generation(&self) -> u64 {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        *g += 1;
        *g
    }

    /// The store's connection state and error code.
    pub(crate) fn state(&self, store_id: &str) -> (ConnectionState, Option<ConnectionErrorCode>) {
        match self.links().get(store_id).map(|c| &c.link) {
            None => (ConnectionState::Disconnected, None),
            Some(Link::Connecting) => (ConnectionState::Connecting, None),
            Some(Link::Connected(_)) => (ConnectionState::Connected, None),
            Some(Link::Failed(code)) => (ConnectionState::Failed, Some(*code)),
        }
    }

    /// What a connected store works through.
    pub(crate) fn backend(&self, store_id: &str) -> Option<Backend> {
        match self.links().get(store_id).map(|c| &c.link) {
            Some(Link::Connected(b)) => Some(b.clone()),
            _ => None,
        }
    }

    /// The logged-in token of a connected CloudHSM store.
    pub(crate) fn token(&self, store_id: &str) -> Option<Arc<Pkcs11Token>> {
        match self.backend(store_id) {
            Some(Backend::Token(t)) => Some(t),
            _ => None,
        }
    }

    /// The proxy of a connected external key store.
    pub(crate) fn proxy(&self, store_id: &str) -> Option<Arc<XksEndpoint>> {
        match self.backend(store_id) {
            Some(Backend::Xks(p)) => Some(p),
            _ => None,
        }
    }

    /// Logs in to the token, or checks the proxy's health.
    fn open_link(&self, store_id: &str, target: Target) -> Link {
        match target {
            Target::Cluster { cluster_id, pin } => match self.cluster(&cluster_id) {
                None => Link::Failed(ConnectionErrorCode::ClusterNotFound),
                Some(c) => {
                    let config = TokenConfig {
                        module: c.module,
                        token: c.token,
                        pin,
                    };
                    match Pkcs11Token::open(&config) {
                        Ok(t) => Link::Connected(Backend::Token(Arc::new(t))),
                        Err(e) => {
                            tracing::warn!(store = %store_id, error = %e, "custom key store connection failed");
                            Link::Failed(ConnectionErrorCode::of(&e))
                        }
                    }
                }
            },
            Target::Xks(ep) => {
                match crate::xks::check_health(&ep, &self.xks_trust(), "ConnectCustomKeyStore") {
                    Ok(()) => Link::Connected(Backend::Xks(Arc::new(ep))),
                    Err(f) => {
                        tracing::warn!(store = %store_id, error = ?f, "external key store connection failed");
                        Link::Failed(crate::xks::connection_error(&f))
                    }
                }
            }
        }
    }

    /// Starts connecting: CONNECTING now, CONNECTED or FAILED once a thread has
    /// logged in to the token or heard from the proxy (after the configured delay).
    pub(crate) fn connect(self: &Arc<Self>, store_id: &str, target: Target) {
        let generation = self.next_generation();
        self.links().insert(
            store_id.to_owned(),
            Conn {
                generation,
                link: Link::Connecting,
            },
        );
        let delay = self
            .clusters
            .read()
            .map(|c| c.connect_delay)
            .unwrap_or_default();
        let me = Arc::clone(self);
        let fallback_id = store_id.to_owned();
        let store_id = store_id.to_owned();
        let spawned = std::thread::Builder::new()
            .name("kms-cks-connect".into())
            .spawn(move || {
                std::thread::sleep(delay);
                let link = me.open_link(&store_id, target);
                let mut links = me.links();
                if links
                    .get(&store_id)
                    .is_some_and(|c| c.generation == generation)
                {
                    links.insert(store_id, Conn { generation, link });
                }
            });
        if spawned.is_err() {
            self.links().insert(
                fallback_id,
                Conn {
                    generation,
                    link: Link::Failed(ConnectionErrorCode::InternalError),
                },
            );
        }
    }

    /// A connected external key store's proxy signs with a new credential.
    pub(crate) fn replace_proxy(&self, store_id: &str, ep: XksEndpoint) {
        if let Some(c) = self.links().get_mut(store_id)
            && matches!(c.link, Link::Connected(Backend::Xks(_)))
        {
            c.link = Link::Connected(Backend::Xks(Arc::new(ep)));
        }
    }

    /// DISCONNECTED: the token session is closed once no operation holds it.
    pub(crate) fn disconnect(&self, store_id: &str) {
        self.next_generation();
        self.links().remove(store_id);
    }

    /// The configured clusters (tests reopen a service with them).
    #[cfg(test)]
    pub(crate) fn clusters_for_tests(&self) -> CloudHsmClusters {
        self.clusters.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Waits (tests) until the store is no longer CONNECTING.
    #[cfg(test)]
    pub(crate) fn settle(&self, store_id: &str) -> ConnectionState {
        for _ in 0..500 {
            let (s, _) = self.state(store_id);
            if s != ConnectionState::Connecting {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        ConnectionState::Connecting
    }
}

/// What connecting `rec` connects to, with its stored password (PIN) or proxy secret.
pub(crate) fn target(rec: &StoreRecord, secret: SecretString, region: &str) -> Target {
    match &rec.xks {
        Some(x) => Target::Xks(x.endpoint(secret, region)),
        None => Target::Cluster {
            cluster_id: rec.cluster_id.clone().unwrap_or_default(),
            pin: secret,
        },
    }
}

/// The `custom_key_stores` table (key store schema v3 and later).
pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS custom_key_stores (
    id TEXT PRIMARY KEY, record TEXT NOT NULL, password BLOB NOT NULL);";

fn corrupt<E: std::fmt::Display>(e: E) -> KmsError {
    tracing::error!(error = %e, "custom key store record does not decode");
    KmsError::Internal
}

impl Store {
    pub(crate) fn custom_key_stores(&self) -> Result<Vec<StoreRecord>, KmsError> {
        let mut stmt = self
            .conn
            .prepare("SELECT record FROM custom_key_stores ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| decode(&r?)).collect()
    }

    pub(crate) fn custom_key_store(&self, id: &str) -> Result<Option<StoreRecord>, KmsError> {
        let rec: Option<String> = self
            .conn
            .query_row(
                "SELECT record FROM custom_key_stores WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        rec.map(|r| decode(&r)).transpose()
    }

    /// The store's password (the token PIN).
    pub(crate) fn custom_key_store_password(
        &self,
        id: &str,
    ) -> Result<Option<SecretString>, KmsError> {
        let pw: Option<zeroize::Zeroizing<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT password FROM custom_key_stores WHERE id = ?1",
                params![id],
                |r| r.get::<_, Vec<u8>>(0).map(zeroize::Zeroizing::new),
            )
            .optional()?;
        pw.map(|b| {
            std::str::from_utf8(&b)
                .map(|s| SecretString::new(s.to_owned()))
                .map_err(corrupt)
        })
        .transpose()
    }

    /// Writes the record; `password` replaces the stored one when given.
    pub(crate) fn put_custom_key_store(
        &self,
        rec: &StoreRecord,
        password: Option<&SecretString>,
    ) -> Result<(), KmsError> {
        let json = serde_json::to_string(rec).map_err(corrupt)?;
        match password {
            Some(p) => {
                self.conn.execute(
                    "INSERT INTO custom_key_stores (id, record, password) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET record = excluded.record, password = excluded.password",
                    params![rec.id, json, p.expose().as_bytes()],
                )?;
            }
            None => {
                self.conn.execute(
                    "UPDATE custom_key_stores SET record = ?2 WHERE id = ?1",
                    params![rec.id, json],
                )?;
            }
        }
        Ok(())
    }

    pub(crate) fn delete_custom_key_store(&self, id: &str) -> Result<(), KmsError> {
        crate::shred::note_erase(self);
        self.conn
            .execute("DELETE FROM custom_key_stores WHERE id = ?1", params![id])?;
        Ok(())
    }
}

fn decode(json: &str) -> Result<StoreRecord, KmsError> {
    let rec: StoreRecord = serde_json::from_str(json).map_err(corrupt)?;
    if rec.v != STORE_RECORD_V1 && rec.v != STORE_RECORD_V2 {
        return Err(corrupt(format!("record version {}", rec.v)));
    }
    Ok(rec)
}

/// A new store id: `cks-` and 17 hex digits, as AWS makes them.
pub(crate) fn new_store_id() -> Result<String, KmsError> {
    let r = crate::crypto::random(9)?;
    let hex = hex::encode(r.as_slice());
    Ok(format!("cks-{}", &hex[..17]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_specs_parse_and_bad_ones_are_refused() {
        let (id, t) =
            CloudHsmClusters::parse_spec("cluster-abcdefghijk=/usr/lib/softhsm/libsofthsm2.so:tok")
                .unwrap();
        assert_eq!(id, "cluster-abcdefghijk");
        assert_eq!(t.module, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(t.token, TokenSelector::Label("tok".into()));
        for bad in [
            "cluster-abc=/m.so:t",
            "cluster-abcdefghijk=/m.so",
            "cluster-abcdefghij1=/m.so:t",
            "abcdefghijk=/m.so:t",
            "cluster-abcdefghijk=:t",
        ] {
            assert!(CloudHsmClusters::parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_ids_look_like_aws_ones() {
        let id = new_store_id().unwrap();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("cks-"));
        assert!(id[4..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
