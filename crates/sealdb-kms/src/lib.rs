//! The key service of sealdb: the AWS KMS API (`TrentService.*`, JSON 1.1) over an
//! encrypted key store.
//!
//! ```text
//! call(operation, caller, body)
//!   → parse JSON → resolve the key (id, ARN, alias name, alias ARN)
//!   → key policy (explicit Deny wins) or a grant → key state check
//!   → cryptography (crypto.rs: versioned blob, AES-256-GCM, context as AAD)
//!   → audit record (hash-chained, allowed or denied) → response
//! ```
//! Key material lives only in `keystore.db` (SQLCipher under `HKDF(root, "keystore")`)
//! and, while in use, in zeroizing buffers.

mod asym;
mod audit;
mod cloudtrail;
mod crypto;
mod custom_key_store;
mod error;
mod input;
mod key_types;
mod kms_event;
mod operation;
mod ops;
mod policy;
mod regions;
mod seam;
mod service_grants;
mod shred;
mod store;
mod trail;
mod xks;

pub use audit::{
    VerifyReport, rechain as rechain_audit_log, records as audit_records,
    verify as verify_audit_log,
};
pub use cloudtrail::{CloudTrailError, LOOKUP_EVENTS};
pub use custom_key_store::{CloudHsmClusters, ClusterToken};
pub use error::{KmsError, XksFault};
pub use operation::Operation;
pub use policy::AccountUsersUnrestricted;
pub use regions::KmsRegions;
pub use seam::{DataKey, EncryptionContext, GrantRequest, KeyDescription, KeyState, ServiceCall};
pub use service_grants::ServiceGrant;
pub use trail::{
    AuditError, AuditEvent, AuditResource, camel_members as cloudtrail_members, iso8601,
};

use sealdb_common::Purpose;
use sealdb_common::{Clock, Principal, RootKey};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Settings of the key service.
#[derive(Clone, Debug)]
pub struct KmsConfig {
    /// The data directory (holds `keystore.db`).
    pub data_dir: PathBuf,
    /// Region of key ARNs.
    pub region: String,
    /// Account of key ARNs.
    pub account_id: String,
    /// Clock (scheduled deletion is tested by moving it).
    pub clock: Clock,
}

/// The KMS service. Its SQLite work runs on tokio's blocking threads, never on the
/// async workers; every call commits its changes and its audit record together.
pub struct KmsService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Mutex<store::Store>,
    cfg: KmsConfig,
    audit_key: aws_lc_rs::hmac::Key,
    /// Key policies with the callers' identity policies (KMS's rule).
    authorizer: sealdb_iam::Authorizer,
    policies: policy::PolicyCache,
    /// The key services of the other regions (multi-Region keys); weak, so that the
    /// server's registry of services and the services do not keep each other alive.
    regions: OnceLock<Weak<dyn KmsRegions>>,
    /// Multi-Region work a call found due (rotation, deletion of a related key); it locks
    /// other regions, so it runs after the call, never inside its transaction.
    due: Mutex<Vec<regions::DueWork>>,
    /// The configured CloudHSM clusters and the custom key stores' connections.
    cks: Arc<custom_key_store::Connections>,
}

/// Why the key store could not be opened.
#[derive(Debug)]
pub struct KmsOpenError(pub String);

impl std::fmt::Display for KmsOpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl KmsService {
    /// Opens (creating if needed) `keystore.db` in the data dir, with IAM's side of key
    /// access given by [`AccountUsersUnrestricted`] until an identity store is wired in
    /// ([`KmsService::open_with_identity`]).
    pub fn open(cfg: KmsConfig, root: &RootKey) -> Result<KmsService, KmsOpenError> {
        let identity = Arc::new(AccountUsersUnrestricted::new(&cfg.account_id));
        KmsService::open_with_identity(cfg, root, identity)
    }

    /// Opens the key store; `identity` gives each caller's IAM identity policies, which
    /// count for a key only where its key policy allows the account.
    pub fn open_with_identity(
        cfg: KmsConfig,
        root: &RootKey,
        identity: Arc<dyn sealdb_iam::IdentityPolicies>,
    ) -> Result<KmsService, KmsOpenError> {
        let path = cfg.data_dir.join("keystore.db");
        let store = store::Store::open(&path, &root.derive(Purpose::Keystore)).map_err(|e| {
            KmsOpenError(format!("cannot open {}: {}", path.display(), e.message()))
        })?;
        Ok(KmsService {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                audit_key: audit::chain_key(root),
                authorizer: sealdb_iam::Authorizer::with_clock(identity, cfg.clock.clone()),
                policies: policy::PolicyCache::default(),
                regions: OnceLock::new(),
                due: Mutex::new(Vec::new()),
                cks: Arc::default(),
                cfg,
            }),
        })
    }

    /// Sets the CloudHSM clusters (PKCS#11 tokens) custom key stores may use, and
    /// reconnects the stores (of both types) that were connected when the server stopped.
    pub fn set_cloudhsm_clusters(&self, clusters: CloudHsmClusters) {
        self.inner.cks.set_clusters(clusters);
        let Ok(store) = self.inner.store.lock() else {
            return;
        };
        let stores = match store.custom_key_stores() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = ?e, "cannot read the custom key stores");
                return;
            }
        };
        for rec in stores.iter().filter(|r| r.connect_requested) {
            if let Ok(Some(secret)) = store.custom_key_store_password(&rec.id) {
                let target = custom_key_store::target(rec, secret, &self.inner.cfg.region);
                self.inner.cks.connect(&rec.id, target);
            }
        }
    }

    /// Sets the CA certificates XKS proxies' certificates must chain to, and the
    /// deadline of proxy calls (call before [`KmsService::set_cloudhsm_clusters`],
    /// which reconnects the stores).
    pub fn set_xks_trust(&self, trust: sealdb_http::xks::client::XksTrust) {
        self.inner.cks.set_xks_trust(trust);
    }

    /// True if `operation` is a KMS operation this service answers.
    pub fn has_operation(operation: &str) -> bool {
        Operation::from_name(operation).is_some()
    }

    /// Runs one operation: `body` is the JSON 1.1 request; returns the JSON response.
    pub async fn call(
        &self,
        operation: &str,
        caller: &Principal,
        body: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let op = Operation::from_name(operation).ok_or(KmsError::UnknownOperation)?;
        let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|_| KmsError::Serialization("Malformed JSON body".into()))?
        };
        if !input.is_object() {
            return Err(KmsError::Serialization(
                "Start of structure or map found where not expected.".into(),
            ));
        }
        let caller = caller.clone();
        let out = self
            .blocking(move |inner| inner.run(op, &caller, &input, None))
            .await?;
        serde_json::to_vec(&out).map_err(|_| KmsError::Internal)
    }

    /// Runs `f` on a blocking thread (the key store is SQLite).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, KmsError> + Send + 'static,
    ) -> Result<T, KmsError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "key service task failed");
                KmsError::Internal
            })?
    }

    /// Deletes keys whose deletion window has passed and takes away expired imported
    /// material (run periodically, so this happens without any call).
    pub fn purge(&self) -> Result<(), KmsError> {
        self.inner.purge()
    }

    /// A JSON call as another service of this server would make it (tests; services use
    /// the typed seam in `seam.rs`): audited with `invokedBy`, and key policies see
    /// `kms:ViaService`.
    #[cfg(test)]
    pub(crate) fn call_via_service(
        &self,
        service: &str,
        operation: &str,
        caller: &Principal,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let op = Operation::from_name(operation).ok_or(KmsError::UnknownOperation)?;
        self.inner.run(op, caller, input, Some(service))
    }

    /// CloudTrail's LookupEvents over the audit log: `body` is the JSON 1.1 request.
    pub async fn lookup_events(
        &self,
        caller: &Principal,
        body: &[u8],
    ) -> Result<Vec<u8>, CloudTrailError> {
        // cloudtrail:LookupEvents by the caller's identity policies (the root may).
        let request = sealdb_iam::RequestContext::new("cloudtrail:LookupEvents", "*");
        self.inner
            .authorizer
            .authorize(caller, &request, None)
            // CloudTrail names no resource for this account-wide action.
            .map_err(|denied| {
                CloudTrailError::AccessDenied(denied.message().replacen(
                    " on resource: * because",
                    " because",
                    1,
                ))
            })?;
        let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|_| CloudTrailError::Serialization("Malformed JSON body".into()))?
        };
        if !input.is_object() {
            return Err(CloudTrailError::Serialization(
                "Start of structure or map found where not expected.".into(),
            ));
        }
        let req = cloudtrail::LookupRequest::parse(&input)?;
        let inner = Arc::clone(&self.inner);
        let out = tokio::task::spawn_blocking(move || {
            let store = inner.store.lock().map_err(|_| CloudTrailError::Internal)?;
            cloudtrail::lookup(&store.conn, &req)
        })
        .await
        .map_err(|_| CloudTrailError::Internal)??;
        serde_json::to_vec(&out).map_err(|_| CloudTrailError::Internal)
    }

    /// Checks the audit log's hash chain as it stands now (what `sealdb audit verify`
    /// checks on a stopped server): the number of records, or the first bad one. It
    /// authorizes nothing: callers show it only to whom may read the log.
    pub async fn verify_audit_chain(&self) -> Result<u64, String> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let store = inner
                .store
                .lock()
                .map_err(|_| "the key store is unavailable".to_owned())?;
            audit::verify_conn(&store.conn, &inner.audit_key).map(|r| r.records)
        })
        .await
        .map_err(|_| "the check did not finish".to_owned())?
    }

    /// Appends an event of another service (DynamoDB, IAM, STS) to the audit log.
    pub async fn record(&self, event: AuditEvent) -> Result<(), KmsError> {
        self.blocking(move |inner| inner.record(&event)).await
    }
}

impl Inner {
    fn ctx<'a>(
        &'a self,
        store: &'a store::Store,
        caller: &'a Principal,
        via: Option<&str>,
    ) -> ops::Ctx<'a> {
        ops::Ctx {
            store,
            cfg: &self.cfg,
            caller,
            via_service: via.map(|s| format!("{s}.{}.amazonaws.com", self.cfg.region)),
            resource: None,
            authorizer: &self.authorizer,
            policies: &self.policies,
            request_alias: None,
            peers: &[],
            due: &self.due,
            cks: &self.cks,
            operation: "",
        }
    }

    /// One KMS call from the wire (or from `call_via_service`).
    fn run(
        &self,
        op: Operation,
        caller: &Principal,
        input: &Value,
        via: Option<&str>,
    ) -> Result<Value, KmsError> {
        // Parsed once, before any lock: the typed input chooses the locks and is what the
        // operation runs on. A parse error is answered (and audited) inside the call.
        let request = input::Request::parse(op, input);
        let related = request.as_ref().ok().and_then(regions::related_key_ref);
        let result = match related {
            Some((key_ref, extra)) => self.with_related(key_ref, extra, |store, peers| {
                self.run_locked(store, peers, op, caller, input, &request, via)
            }),
            None => {
                let store = self.store.lock().map_err(|_| KmsError::Internal)?;
                self.run_locked(&store, &[], op, caller, input, &request, via)
            }
        };
        self.run_due_work();
        result
    }

    /// [`Inner::run`] with this region's store (and those of the related regions) locked.
    /// `input` is the raw body (for the audit record's requestParameters), `request` its
    /// parsed form.
    #[allow(clippy::too_many_arguments)]
    fn run_locked(
        &self,
        store: &store::Store,
        peers: &[regions::Peer<'_>],
        op: Operation,
        caller: &Principal,
        input: &Value,
        request: &Result<input::Request, KmsError>,
        via: Option<&str>,
    ) -> Result<Value, KmsError> {
        let params = kms_event::request_parameters(op, input);
        let account = self.cfg.account_id.clone();
        self.transact_locked(
            store,
            peers,
            op,
            caller,
            via,
            params,
            |ctx| {
                let request = request.as_ref().map_err(Clone::clone)?;
                let dry_run = request.dry_run();
                if dry_run && op.dry_run_stops_early() {
                    // These change state, so a dry run stops before them (without the
                    // permission check).
                    return Err(KmsError::DryRunOperation);
                }
                // The cryptographic operations change nothing: run them, including the
                // permission and key-state checks, and answer as AWS does when they would
                // succeed (the rollback undoes any side effect, such as a rotation).
                let r = ops::dispatch(ctx, op, request);
                if dry_run {
                    r.and(Err(KmsError::DryRunOperation))
                } else {
                    r
                }
            },
            |out| kms_event::response_elements(op, out, &account),
        )
    }

    /// Runs `body` in one transaction with the call's audit record. A failed call
    /// changes nothing, and its record (with errorCode) is committed alone.
    fn transact<T>(
        &self,
        op: Operation,
        caller: &Principal,
        via: Option<&str>,
        params: Value,
        body: impl FnOnce(&mut ops::Ctx<'_>) -> Result<T, KmsError>,
        response: impl FnOnce(&T) -> Value,
    ) -> Result<T, KmsError> {
        let store = self.store.lock().map_err(|_| KmsError::Internal)?;
        let result = self.transact_locked(&store, &[], op, caller, via, params, body, response);
        drop(store);
        self.run_due_work();
        result
    }

    /// [`Inner::transact`] on stores already locked: this region's and, for a call on a
    /// multi-Region key, those of its related regions, which commit with it (each with
    /// the audit records the call left for that region).
    #[allow(clippy::too_many_arguments)]
    fn transact_locked<T>(
        &self,
        store: &store::Store,
        peers: &[regions::Peer<'_>],
        op: Operation,
        caller: &Principal,
        via: Option<&str>,
        params: Value,
        body: impl FnOnce(&mut ops::Ctx<'_>) -> Result<T, KmsError>,
        response: impl FnOnce(&T) -> Value,
    ) -> Result<T, KmsError> {
        regions::begin_all(store, peers)?;
        let mut ctx = self.ctx(store, caller, via);
        ctx.peers = peers;
        ctx.operation = op.name();
        let result = ctx.purge_deleted_keys().and_then(|()| body(&mut ctx));
        let resource = ctx.resource.take();
        if result.is_err() {
            regions::rollback_peers(peers);
            store.rollback()?;
            store.begin()?;
        }
        let outcome = match &result {
            Ok(v) => Ok(response(v)),
            Err(e) => Err(e),
        };
        let event = kms_event::audit_event(op, caller, params, resource.as_deref(), outcome, via);
        let peers_done = if result.is_ok() {
            regions::commit_peers(peers)
        } else {
            Ok(())
        };
        let recorded = peers_done
            .and_then(|()| {
                audit::append(
                    &store.conn,
                    &self.audit_key,
                    &event.to_record(&self.cfg.region, self.cfg.clock.now_millis()),
                )
                .map_err(KmsError::from)
            })
            .and_then(|()| store.commit());
        if let Err(e) = recorded {
            tracing::error!(error = ?e, "audit append or commit failed");
            regions::rollback_peers(peers);
            let _ = store.rollback();
            return Err(KmsError::Internal);
        }
        result
    }

    fn record(&self, event: &AuditEvent) -> Result<(), KmsError> {
        let store = self.store.lock().map_err(|_| KmsError::Internal)?;
        store.begin()?;
        let appended = audit::append(
            &store.conn,
            &self.audit_key,
            &event.to_record(&self.cfg.region, self.cfg.clock.now_millis()),
        )
        .map_err(KmsError::from)
        .and_then(|()| store.commit());
        if appended.is_err() {
            let _ = store.rollback();
        }
        appended
    }

    fn purge(&self) -> Result<(), KmsError> {
        let store = self.store.lock().map_err(|_| KmsError::Internal)?;
        let caller = Principal::root("", &self.cfg.account_id, &self.cfg.region, "");
        store.begin()?;
        let done = self
            .ctx(&store, &caller, None)
            .purge_deleted_keys()
            .and_then(|()| store.commit());
        if done.is_err() {
            let _ = store.rollback();
        }
        drop(store);
        self.run_due_work();
        done
    }
}

#[cfg(test)]
mod tests;
