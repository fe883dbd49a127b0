//! The key services of the other regions of this server, for multi-Region keys.
//!
//! Each region has its own key store. A call that changes what related multi-Region
//! keys share (ReplicateKey, UpdatePrimaryRegion, rotation, imported material) locks the
//! stores of every region that holds one of them, always in region-name order, so two
//! such calls never wait on each other in a cycle; every other call locks its own store
//! alone. The changes of all regions commit together with the call's audit record.

use crate::audit;
use crate::error::KmsError;
use crate::input::Request;
use crate::store::Store;
use crate::trail::AuditEvent;
use crate::{Inner, KmsService};
use sealdb_common::Principal;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// The key services of the other regions this server answers (ReplicateKey,
/// UpdatePrimaryRegion, replica deletion rules, synchronized rotation).
pub trait KmsRegions: Send + Sync {
    /// The key service of `region`, opened on first use; `None` if the server does not
    /// answer that region.
    fn region(&self, region: &str) -> Option<Arc<KmsService>>;
}

impl KmsService {
    /// Set once at start; before it is set (or in tests without it) no other region
    /// exists. The service keeps only a weak reference: the registry owns the services.
    pub fn set_regions(&self, regions: Weak<dyn KmsRegions>) {
        if self.inner.regions.set(regions).is_err() {
            tracing::warn!(region = %self.inner.cfg.region, "key service regions were already set");
        }
    }
}

/// Another region's key service, its store locked for the current call.
pub(crate) struct Peer<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) store: &'a Store,
    /// Audit records of the call for that region's log (ReplicateKey's CreateKey).
    pub(crate) events: RefCell<Vec<AuditEvent>>,
}

impl Peer<'_> {
    pub(crate) fn region(&self) -> &str {
        &self.inner.cfg.region
    }

    /// A call context in that region, as `caller`.
    pub(crate) fn ctx<'b>(&'b self, caller: &'b Principal) -> crate::ops::Ctx<'b> {
        self.inner.ctx(self.store, caller, None)
    }
}

/// Work on a multi-Region key that a call found due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DueWork {
    /// The primary's automatic rotation is due (new material for every related key).
    Rotate(String),
    /// The key's waiting period is over: delete it and drop it from the others' views.
    Delete(String),
}

impl DueWork {
    fn key_id(&self) -> &str {
        match self {
            DueWork::Rotate(k) | DueWork::Delete(k) => k,
        }
    }
}

/// Queues multi-Region work found due during a call.
pub(crate) fn note_due(due: &Mutex<Vec<DueWork>>, work: DueWork) {
    if let Ok(mut due) = due.lock()
        && !due.contains(&work)
    {
        due.push(work);
    }
}

/// The key a call names and the other region it involves, when the call may change what
/// related multi-Region keys share: read from the parsed request, so the locks are chosen
/// from the same values the operation then uses.
pub(crate) fn related_key_ref(request: &Request) -> Option<(&str, Option<&str>)> {
    match request {
        Request::ReplicateKey(i) => Some((&i.key_id, Some(&i.replica_region))),
        // The new primary must already hold a replica, so it is among the related
        // regions; another region is not opened only to be refused.
        Request::UpdatePrimaryRegion(i) => Some((&i.key_id, None)),
        Request::EnableKeyRotation(i) => Some((&i.key_id, None)),
        Request::DisableKeyRotation(i) | Request::RotateKeyOnDemand(i) => Some((&i.key_id, None)),
        Request::ImportKeyMaterial(i) => Some((&i.key_id, None)),
        _ => None,
    }
}

pub(crate) fn begin_all(store: &Store, peers: &[Peer<'_>]) -> Result<(), KmsError> {
    store.begin()?;
    for (i, p) in peers.iter().enumerate() {
        if let Err(e) = p.store.begin() {
            rollback_peers(&peers[..i]);
            let _ = store.rollback();
            return Err(e);
        }
    }
    Ok(())
}

pub(crate) fn rollback_peers(peers: &[Peer<'_>]) {
    for p in peers {
        p.events.borrow_mut().clear();
        if let Err(e) = p.store.rollback() {
            tracing::debug!(error = ?e, region = %p.region(), "rollback of a related region");
        }
    }
}

/// Appends each peer's audit records and commits it.
pub(crate) fn commit_peers(peers: &[Peer<'_>]) -> Result<(), KmsError> {
    for p in peers {
        let now = p.inner.cfg.clock.now_millis();
        for event in p.events.borrow_mut().drain(..) {
            audit::append(
                &p.store.conn,
                &p.inner.audit_key,
                &event.to_record(&p.inner.cfg.region, now),
            )?;
        }
        p.store.commit()?;
    }
    Ok(())
}

/// The key id `key_ref` names in `store` (id, key ARN, alias name or alias ARN of this
/// region), without the side effects of a call's key resolution.
fn peek_key_id(inner: &Inner, store: &Store, key_ref: &str) -> Result<Option<String>, KmsError> {
    let prefix = format!("arn:aws:kms:{}:{}:", inner.cfg.region, inner.cfg.account_id);
    let rest = key_ref.strip_prefix(&prefix).unwrap_or(key_ref);
    if rest.starts_with("alias/") {
        return Ok(store.alias(rest)?.and_then(|a| a.key_id));
    }
    Ok(Some(rest.strip_prefix("key/").unwrap_or(rest).to_owned()))
}

/// The regions holding keys related to the multi-Region key `key_id` in `store`.
fn related_regions(store: &Store, key_id: &str) -> Result<Option<BTreeSet<String>>, KmsError> {
    Ok(store.key(key_id)?.and_then(|k| {
        k.multi_region
            .map(|mr| mr.regions().map(str::to_owned).collect())
    }))
}

impl Inner {
    /// Another region's key service, if the server answers that region.
    pub(crate) fn peer_service(&self, region: &str) -> Option<Arc<Inner>> {
        if region == self.cfg.region {
            return None;
        }
        let regions = self.regions.get()?.upgrade()?;
        regions.region(region).map(|s| Arc::clone(&s.inner))
    }

    /// Runs `f` with this region's store and the stores of every region related to the
    /// key `key_ref` names (plus `extra`), locked in region order. A key that is not
    /// multi-Region runs with its own store alone.
    pub(crate) fn with_related<T>(
        &self,
        key_ref: &str,
        extra: Option<&str>,
        f: impl FnOnce(&Store, &[Peer<'_>]) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        // The set is read first and checked again under the locks: a call that changed
        // it in between (a replica added or deleted) makes this one look again.
        for _ in 0..16 {
            let (key_id, wanted) = {
                let store = self.store.lock().map_err(|_| KmsError::Internal)?;
                let key_id = peek_key_id(self, &store, key_ref)?;
                let wanted = match &key_id {
                    Some(id) => related_regions(&store, id)?,
                    None => None,
                };
                match (key_id, wanted) {
                    (Some(id), Some(w)) => (id, w),
                    _ => return f(&store, &[]),
                }
            };
            let mut regions = wanted.clone();
            regions.insert(self.cfg.region.clone());
            if let Some(r) = extra {
                regions.insert(r.to_owned());
            }
            let services: Vec<Arc<Inner>> = regions
                .iter()
                .filter_map(|r| self.peer_service(r))
                .collect();
            let mut own: Option<MutexGuard<'_, Store>> = None;
            let mut guards: Vec<(&Inner, MutexGuard<'_, Store>)> = Vec::new();
            for region in &regions {
                if *region == self.cfg.region {
                    own = Some(self.store.lock().map_err(|_| KmsError::Internal)?);
                } else if let Some(s) = services.iter().find(|s| s.cfg.region == *region) {
                    guards.push((s, s.store.lock().map_err(|_| KmsError::Internal)?));
                }
            }
            let own = own.ok_or(KmsError::Internal)?;
            if related_regions(&own, &key_id)?.as_ref() != Some(&wanted) {
                continue;
            }
            let peers: Vec<Peer<'_>> = guards
                .iter()
                .map(|(inner, g)| Peer {
                    inner,
                    store: g,
                    events: RefCell::new(Vec::new()),
                })
                .collect();
            return f(&own, &peers);
        }
        tracing::error!(key = %key_ref, "related regions kept changing");
        Err(KmsError::Internal)
    }

    /// Runs the multi-Region work calls found due (after their transactions, with no
    /// store locked).
    pub(crate) fn run_due_work(&self) {
        let work: Vec<DueWork> = match self.due.lock() {
            Ok(mut due) => due.drain(..).collect(),
            Err(_) => return,
        };
        for w in work {
            let caller = Principal::root("", &self.cfg.account_id, &self.cfg.region, "");
            let done = self.with_related(w.key_id(), None, |store, peers| {
                begin_all(store, peers)?;
                let mut ctx = self.ctx(store, &caller, None);
                ctx.peers = peers;
                let r = ctx.do_due_work(&w);
                match r
                    .and_then(|()| commit_peers(peers))
                    .and_then(|()| store.commit())
                {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        rollback_peers(peers);
                        let _ = store.rollback();
                        Err(e)
                    }
                }
            });
            if let Err(e) = done {
                tracing::warn!(error = ?e, work = ?w, "multi-Region key work failed");
            }
        }
    }
}
