//! What a replica has to tell the replicas at peer deployments (creating, changing or
//! removing a replica there, and who joined the group), kept until they answer.
//!
//! Each notice is queued in the replica's table definition (`ReplicationGroup::outbox`,
//! sealed in the catalog like the rest of it) with a sequence number, and sent by one task
//! per table, oldest first per destination, retried with backoff while the destination
//! does not answer. A notice leaves the queue once answered, so a restart resends only
//! what was not acknowledged; the calls are idempotent on the receiving side (adding a
//! member twice, removing a replica being removed), so a notice answered but not yet
//! dequeued when the process stopped does no harm when sent again. The queue is bounded
//! ([`MAX_NOTICES`]); its length and age are reported in `ReplicaStatusDescription`.

use crate::error::DynamoError;
use crate::remote::RemoteError;
use crate::schema::{ReplicationGroup, TableDef};
use crate::service::Service;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// The version of a queued notice's form (`docs/formats.md`); others are kept, not sent.
pub const NOTICE_V1: u8 = 1;
/// The most notices one table may keep waiting; past it ReplicaUpdates is refused.
pub const MAX_NOTICES: usize = 1000;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One queued replication call to a peer deployment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notice {
    /// The form's version ([`NOTICE_V1`]).
    pub v: u8,
    /// Its number in this replica's queue (increasing, never reused).
    pub seq: u64,
    /// The region it is for.
    pub to: String,
    /// The replication operation (`remote.rs`).
    pub op: String,
    /// Its request body.
    pub body: Value,
    /// When it was queued, ms since the epoch.
    pub queued_ms: i64,
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The queue of a replica that left its group (its key unusable too long) while notices
/// still waited: they are changes of the group the others still form (a replica asked
/// for, a member's change), which AWS would still carry out, so they are still sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LeftOutbox {
    /// The notices, oldest first.
    pub outbox: Vec<Notice>,
    /// The last sequence number used.
    pub outbox_seq: u64,
}

/// Every notice waiting in `def`, oldest first (of its group, or left from its group).
pub(crate) fn queued(def: &TableDef) -> impl Iterator<Item = &Notice> {
    let group = def.replication.iter().flat_map(|g| g.outbox.iter());
    group.chain(def.left_outbox.iter().flat_map(|l| l.outbox.iter()))
}

/// Queues a notice in `group` (the caller saves the definition).
pub(crate) fn push(group: &mut ReplicationGroup, to: &str, op: &str, body: Value, now_ms: i64) {
    group.outbox_seq += 1;
    group.outbox.push(Notice {
        v: NOTICE_V1,
        seq: group.outbox_seq,
        to: to.to_owned(),
        op: op.to_owned(),
        body,
        queued_ms: now_ms,
    });
}

/// The notices waiting for `region`, oldest first.
pub(crate) fn pending<'a>(def: &'a TableDef, region: &'a str) -> impl Iterator<Item = &'a Notice> {
    queued(def).filter(move |n| n.to == region)
}

/// Refuses a replica change while the queue is full.
pub(crate) fn check_room(def: &TableDef) -> Result<(), DynamoError> {
    let queued = queued(def).count();
    if queued >= MAX_NOTICES {
        return Err(DynamoError::LimitExceeded(format!(
            "Too many replica changes ({queued}) wait for peer deployments that do not answer"
        )));
    }
    Ok(())
}

impl Service {
    /// Sends a replica management call now unless earlier ones to `to` still wait (it
    /// must not pass them). `Ok(true)`: answered; `Ok(false)`: the caller queues it (not
    /// sent, or `to` did not answer); `Err`: `to` refused it, as its error.
    pub(crate) async fn try_send(
        &self,
        def: &TableDef,
        to: &str,
        op: &str,
        body: &Value,
    ) -> Result<bool, DynamoError> {
        if pending(def, to).next().is_some() {
            return Ok(false);
        }
        match self.remote_raw(to, op, body.clone()).await {
            Ok(_) => Ok(true),
            Err(e) if e.retry() => {
                tracing::warn!(table = %def.name, to, op, error = %e, "peer deployment does not answer: the call is queued");
                Ok(false)
            }
            Err(e) => Err(e.to_dynamo()),
        }
    }

    /// Queues a notice for `to` in `table`'s definition and starts sending.
    pub(crate) async fn enqueue(&self, table: &str, to: &str, op: &str, body: Value) {
        {
            let _guard = self.ddl.lock().await;
            let Some(cur) = self.def(table) else { return };
            let mut def = (*cur).clone();
            let now = self.now_ms();
            match (&mut def.replication, &mut def.left_outbox) {
                (Some(g), _) => push(g, to, op, body, now),
                (None, Some(l)) => {
                    l.outbox_seq += 1;
                    l.outbox.push(Notice {
                        v: NOTICE_V1,
                        seq: l.outbox_seq,
                        to: to.to_owned(),
                        op: op.to_owned(),
                        body,
                        queued_ms: now,
                    });
                }
                (None, None) => return,
            }
            if let Err(e) = self.save_def(def) {
                tracing::error!(table, error = ?e, "cannot queue a notice");
                return;
            }
        }
        self.spawn_outbox(table);
    }

    /// Starts sending `table`'s queued notices (once per table).
    pub(crate) fn spawn_outbox(&self, table: &str) {
        let pair = (table.to_owned(), "\0outbox".to_owned());
        if !self.claim_replicator(&pair) {
            return;
        }
        let me = self.me.clone();
        tokio::spawn(async move {
            let mut pause = MIN_BACKOFF;
            loop {
                let Some(svc) = me.upgrade() else { return };
                match svc.send_queued(&pair.0).await {
                    Some(true) => pause = MIN_BACKOFF,
                    Some(false) => {
                        drop(svc);
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_BACKOFF);
                    }
                    None => {
                        // Empty: stop, unless a notice came while stopping.
                        if let Ok(mut running) = svc.replicators.lock() {
                            running.remove(&pair);
                        }
                        let more = svc
                            .def(&pair.0)
                            .is_some_and(|d| queued(&d).next().is_some());
                        if more {
                            svc.spawn_outbox(&pair.0);
                        }
                        return;
                    }
                }
            }
        });
    }

    /// Sends the oldest waiting notice of each destination once. `None`: nothing waits;
    /// `Some(true)`: one was answered.
    async fn send_queued(&self, table: &str) -> Option<bool> {
        let def = self.def(table)?;
        queued(&def).next()?;
        let mut heads: Vec<&Notice> = Vec::new();
        for n in queued(&def) {
            if !heads.iter().any(|h| h.to == n.to) {
                heads.push(n);
            }
        }
        let mut moved = false;
        for n in heads {
            if n.v != NOTICE_V1 {
                continue;
            }
            if n.body["TableName"].as_str() != Some(table) {
                // Not this table's (a restored copy of a definition): never sent.
                self.dequeue(table, n.seq).await;
                continue;
            }
            let outcome = self.remote_raw(&n.to, &n.op, n.body.clone()).await;
            match outcome {
                Ok(_) => {}
                Err(e) if e.retry() => {
                    tracing::debug!(table, to = %n.to, op = %n.op, error = %e, "notice waits");
                    if e.not_authorized() {
                        self.remember_refusal(
                            table,
                            &n.to,
                            "REPLICATION_NOT_AUTHORIZED",
                            e.to_string(),
                        );
                    }
                    continue;
                }
                Err(e) => {
                    // Refused for good (the peer's own validation): it will never pass.
                    tracing::warn!(table, to = %n.to, op = %n.op, error = %e, "a peer deployment refused a queued notice");
                    if n.op == "CreateReplica" {
                        self.remember_refusal(table, &n.to, "CREATION_FAILED", e.to_string());
                    }
                    if n.op == "RemoveReplica" {
                        self.remove_member(table, &n.to).await;
                    }
                }
            }
            self.dequeue(table, n.seq).await;
            moved = true;
        }
        Some(moved)
    }

    async fn dequeue(&self, table: &str, seq: u64) {
        let _guard = self.ddl.lock().await;
        let Some(cur) = self.def(table) else { return };
        let mut def = (*cur).clone();
        if let Some(g) = &mut def.replication {
            g.outbox.retain(|n| n.seq != seq);
        }
        if let Some(l) = &mut def.left_outbox {
            l.outbox.retain(|n| n.seq != seq);
            if l.outbox.is_empty() {
                def.left_outbox = None;
            }
        }
        if let Err(e) = self.save_def(def) {
            tracing::error!(table, error = ?e, "cannot dequeue a notice");
        }
    }

    /// Keeps the unsent notices of this replica, which leaves its group (`group`, taken
    /// out of `def`), to be sent still. A replica creation seeded from this replica is
    /// seeded from another member instead (this one no longer replicates), or dropped
    /// when no member is left to seed it.
    pub(crate) fn keep_notices_of_leaving(&self, def: &mut TableDef, group: ReplicationGroup) {
        let me = self.region();
        // Replicas still to be created cannot seed another.
        let creating: Vec<String> = group
            .outbox
            .iter()
            .filter(|o| o.op == "CreateReplica")
            .map(|o| o.to.clone())
            .collect();
        let mut kept = Vec::with_capacity(group.outbox.len());
        for mut n in group.outbox {
            if n.op == "CreateReplica" && n.body["SeedFrom"].as_str() == Some(me) {
                let seed = group
                    .replicas
                    .iter()
                    .find(|r| **r != n.to && !creating.contains(r));
                match seed.and_then(|s| reseeded(&n.body, me, s)) {
                    Some(body) => n.body = body,
                    None => {
                        tracing::warn!(table = %def.name, to = %n.to, "no replica is left to copy a new replica from: its creation is dropped");
                        continue;
                    }
                }
            }
            kept.push(n);
        }
        def.left_outbox = (!kept.is_empty()).then_some(LeftOutbox {
            outbox: kept,
            outbox_seq: group.outbox_seq,
        });
    }
}

/// A CreateReplica body copied from `seed` instead of `me`, whose replica left.
fn reseeded(body: &Value, me: &str, seed: &str) -> Option<Value> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = b64.decode(body["Definition"].as_str()?).ok()?;
    let mut def = TableDef::decode(&bytes).ok()?;
    let g = def.replication.as_mut()?;
    g.replicas.retain(|r| r != me);
    g.seeding_from = Some(seed.to_owned());
    let mut out = body.clone();
    out["Definition"] = Value::String(b64.encode(def.encode()));
    out["SeedFrom"] = Value::String(seed.to_owned());
    Some(out)
}

impl RemoteError {
    /// Worth sending again: not reached, busy, or refused for its credential (which
    /// the operator may fix).
    pub(crate) fn retry(&self) -> bool {
        match self {
            RemoteError::Unreachable(_) => true,
            RemoteError::Refused { status, kind, .. } => {
                *status >= 500 || kind.contains("Throttling") || self.not_authorized()
            }
        }
    }
}
