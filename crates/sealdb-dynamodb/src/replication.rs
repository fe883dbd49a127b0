//! Global tables (version 2019.11.21): the seam to the other regions' services, and
//! the replication between replicas.
//!
//! ```text
//!  replica A (region a)                         replica B (region b)
//!   write → item + stream record {stamp: (t, a)} ─┐
//!                                                  │  B pulls A's stream from its
//!                                                  └► checkpoint (kept in B's file):
//!                                                     records of origin a only; apply
//!                                                     when (t, a) > B's stamp of the item;
//!                                                     item, stamp, stream record and
//!                                                     checkpoint in one transaction
//! ```
//! Every replica pulls from every other one only the changes made there, so a change
//! travels once from its origin to each replica and never back. Last-writer-wins
//! compares `(time, region)`, so every replica keeps the same winner. A replica whose key
//! is unusable pauses (its store does not open) and catches up from its checkpoint.

use crate::error::DynamoError;
use crate::index::REPLICATION_MEMBER;
use crate::service::Service;
use crate::value::Item;
use sealdb_storage::{Decision, ItemKey, WriteStamp, WriteTx, apply};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A future the seam returns.
pub type PeerFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a region's DynamoDB service reaches the other regions' services (the binary
/// implements it over its regions). Calls between services are typed Rust calls.
pub trait RegionPeers: Send + Sync {
    /// The DynamoDB service of `region`, opened if needed; `None` when the server does
    /// not serve that region.
    fn service<'a>(&'a self, region: &'a str) -> PeerFuture<'a, Option<Arc<Service>>>;

    /// The DynamoDB services of every region open now (every region with data is
    /// opened at start), for what spans regions (ListGlobalTables).
    fn open_services(&self) -> PeerFuture<'_, Vec<Arc<Service>>> {
        Box::pin(async { Vec::new() })
    }

    /// The regions served by peer deployments (`--peer`), sorted.
    fn remote_regions(&self) -> Vec<String> {
        Vec::new()
    }

    /// True when `region` is served by a peer deployment (`--peer`).
    fn is_remote(&self, _region: &str) -> bool {
        false
    }

    /// One replication call (`remote.rs`) to the peer deployment serving `region`,
    /// signed with the replication credential; its JSON answer.
    fn remote_call<'a>(
        &'a self,
        region: &'a str,
        _op: &'a str,
        _body: Value,
    ) -> PeerFuture<'a, Result<Value, crate::remote::RemoteError>> {
        Box::pin(async move {
            Err(crate::remote::RemoteError::Unreachable(format!(
                "region {region} has no peer deployment"
            )))
        })
    }
}

/// How long a replica's key may stay unusable before the replica leaves its global
/// table, as AWS documents: 20 hours.
pub const DEFAULT_REPLICA_INACCESSIBLE_MS: i64 = 20 * 60 * 60 * 1000;

/// How long a replica shows UPDATING after a ReplicaUpdates Update and DELETING before
/// it is removed (AWS: seconds to minutes).
static TRANSITION_MS: AtomicI64 = AtomicI64::new(2_000);

/// Sets the replica transition of this process (`--replica-transition-secs`).
pub fn set_replica_transition_ms(ms: i64) {
    TRANSITION_MS.store(ms.max(0), Ordering::Relaxed);
}

fn transition_ms() -> i64 {
    TRANSITION_MS.load(Ordering::Relaxed)
}

/// The longest pause of an idle or blocked puller.
const MAX_IDLE: Duration = Duration::from_millis(1000);
const MIN_IDLE: Duration = Duration::from_millis(25);

/// A change read from a replica's stream.
struct Change {
    key: ItemKey,
    new: Option<Item>,
    stamp: WriteStamp,
}

/// What one replica reports of itself when another describes the global table.
pub(crate) struct ReplicaSummary {
    pub(crate) status: &'static str,
    pub(crate) kms_key_arn: Option<String>,
    pub(crate) inaccessible_since_ms: Option<i64>,
    pub(crate) table_class: Option<String>,
    pub(crate) indexes: Vec<String>,
    pub(crate) overrides: crate::schema::ReplicaOverrides,
}

impl ReplicaSummary {
    /// As a peer deployment sends it (`remote.rs`).
    pub(crate) fn to_json(&self) -> Value {
        serde_json::json!({
            "status": self.status,
            "kms_key_arn": self.kms_key_arn,
            "inaccessible_since_ms": self.inaccessible_since_ms,
            "table_class": self.table_class,
            "indexes": self.indexes,
            "overrides": self.overrides,
        })
    }

    /// As a peer deployment sent it; `None` when it is not one.
    pub(crate) fn from_json(v: &Value) -> Option<Self> {
        let status = replica_status(v["status"].as_str()?);
        Some(Self {
            status,
            kms_key_arn: v["kms_key_arn"].as_str().map(str::to_owned),
            inaccessible_since_ms: v["inaccessible_since_ms"].as_i64(),
            table_class: v["table_class"].as_str().map(str::to_owned),
            indexes: v["indexes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            overrides: serde_json::from_value(v["overrides"].clone()).unwrap_or_default(),
        })
    }
}

/// A ReplicaStatus a peer sent (or this side stored), as one of its values.
pub(crate) fn replica_status(s: &str) -> &'static str {
    match s {
        "CREATING" => "CREATING",
        "UPDATING" => "UPDATING",
        "DELETING" => "DELETING",
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS" => "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
        "CREATION_FAILED" => "CREATION_FAILED",
        "REGION_DISABLED" => "REGION_DISABLED",
        "REPLICATION_NOT_AUTHORIZED" => "REPLICATION_NOT_AUTHORIZED",
        _ => "ACTIVE",
    }
}

impl Service {
    /// Installs the seam to the other regions and starts replication of every global
    /// table of this region (resuming the copy into a replica a restart interrupted).
    pub fn set_peers(&self, peers: Arc<dyn RegionPeers>) {
        let _ = self.peers.set(peers);
        let defs: Vec<_> = match self.defs.read() {
            Ok(d) => d.values().cloned().collect(),
            Err(_) => return,
        };
        for def in defs {
            if def.left_outbox.is_some() {
                self.spawn_outbox(&def.name);
            }
            let Some(group) = &def.replication else {
                continue;
            };
            if group.deleting_ms.is_some() {
                self.spawn_leave(&def.name);
            }
            if !group.outbox.is_empty() {
                self.spawn_outbox(&def.name);
            }
            match &group.seeding_from {
                Some(from) => self.spawn_seed(&def.name, from),
                None => {
                    for r in &group.replicas {
                        self.spawn_puller(&def.name, r);
                    }
                }
            }
        }
    }

    /// Sets how long a replica's key may stay unusable before it leaves its group.
    pub fn set_replica_inaccessible_ms(&self, ms: i64) {
        self.replica_inaccessible_ms
            .store(ms.max(0), std::sync::atomic::Ordering::Relaxed);
    }

    /// A replica whose key stayed unusable too long leaves its global table, as on AWS:
    /// the others forget it and replication to and from it stops; its table stays.
    pub(crate) async fn leave_group_if_inaccessible(&self, table: &str, since_ms: i64) {
        let limit = self
            .replica_inaccessible_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        let in_group = self.def(table).is_some_and(|d| d.replication.is_some());
        if !in_group || self.now_ms() - since_ms < limit {
            return;
        }
        tracing::warn!(
            table,
            "replica key unusable too long: the replica leaves its global table"
        );
        self.forget_group(table).await;
        let sending = {
            let _guard = self.ddl.lock().await;
            let Some(cur) = self.def(table) else { return };
            let mut def = (*cur).clone();
            let Some(group) = def.replication.take() else {
                return;
            };
            // What it had not yet told peer deployments is still sent (`outbox.rs`).
            self.keep_notices_of_leaving(&mut def, group);
            let sending = def.left_outbox.is_some();
            if let Err(e) = self.save_def(def) {
                tracing::error!(table, error = ?e, "cannot leave the replication group");
                return;
            }
            sending
        };
        if sending {
            self.spawn_outbox(table);
        }
    }

    /// The service of another region through the seam.
    pub(crate) async fn peer(&self, region: &str) -> Option<Arc<Service>> {
        let peers = self.peers.get()?;
        peers.service(region).await
    }

    /// This region's name.
    pub(crate) fn region(&self) -> &str {
        &self.cfg.region
    }

    /// What this replica of `table` reports to the others.
    pub(crate) async fn replica_summary(&self, table: &str) -> Option<ReplicaSummary> {
        let t = self.table_by_name(table).ok()?;
        let group = t.def.replication.as_ref()?;
        // Opening the store re-checks the key when due.
        let _ = self.store(&t).await;
        let inaccessible = t.handle.inaccessible_since();
        let status = if group.deleting_ms.is_some() {
            "DELETING"
        } else if group.seeding_from.is_some() {
            "CREATING"
        } else if inaccessible.is_some() {
            "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
        } else if self.replica_updating(group) {
            "UPDATING"
        } else {
            "ACTIVE"
        };
        Some(ReplicaSummary {
            status,
            kms_key_arn: t.def.sse_key_arn.clone(),
            inaccessible_since_ms: inaccessible,
            table_class: t.def.table_class.clone(),
            indexes: t
                .def
                .indexes
                .iter()
                .filter(|i| i.global)
                .map(|i| i.name.clone())
                .collect(),
            overrides: group.overrides.clone(),
        })
    }

    /// True within the replica transition after a ReplicaUpdates Update.
    pub(crate) fn replica_updating(&self, group: &crate::schema::ReplicationGroup) -> bool {
        group
            .updated_ms
            .is_some_and(|ms| self.now_ms().saturating_sub(ms) < transition_ms())
    }

    /// Removes this region's replica of `table` once its DELETING transition has passed
    /// (also after a restart that interrupted it).
    pub(crate) fn spawn_leave(&self, table: &str) {
        let me = self.me.clone();
        let table = table.to_owned();
        tokio::spawn(async move {
            loop {
                let Some(svc) = me.upgrade() else { return };
                let Some(since) = svc
                    .def(&table)
                    .and_then(|d| d.replication.as_ref().and_then(|g| g.deleting_ms))
                else {
                    return;
                };
                let left = transition_ms() - svc.now_ms().saturating_sub(since);
                if left <= 0 {
                    if let Err(e) = svc.leave_group(&table).await {
                        tracing::error!(table = %table, error = ?e, "cannot remove the replica");
                    }
                    return;
                }
                drop(svc);
                tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
            }
        });
    }

    /// Marks the (table, task) pair as running; false when it already runs (each
    /// replication task is started once per process).
    pub(crate) fn claim_replicator(&self, pair: &(String, String)) -> bool {
        self.replicators
            .lock()
            .is_ok_and(|mut running| running.insert(pair.clone()))
    }

    /// Starts pulling `source`'s changes of `table` into this replica (once per pair).
    pub(crate) fn spawn_puller(&self, table: &str, source: &str) {
        let pair = (table.to_owned(), source.to_owned());
        if !self.claim_replicator(&pair) {
            return;
        }
        let me = self.me.clone();
        tokio::spawn(async move {
            pull_loop(me.clone(), &pair.0, &pair.1).await;
            if let Some(me) = me.upgrade()
                && let Ok(mut running) = me.replicators.lock()
            {
                running.remove(&pair);
            }
        });
    }

    /// Starts (or resumes) copying `from`'s items into this new replica.
    pub(crate) fn spawn_seed(&self, table: &str, from: &str) {
        let me = self.me.clone();
        let (table, from) = (table.to_owned(), from.to_owned());
        tokio::spawn(async move {
            let mut pause = MIN_IDLE;
            loop {
                let Some(svc) = me.upgrade() else { return };
                match svc.seed(&table, &from).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::debug!(table = %table, from = %from, error = %e, "replica copy waits");
                    }
                }
                drop(svc);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_IDLE);
            }
        });
    }

    /// Copies every item of `from`'s replica into this one, sets where pulling from each
    /// replica starts, and marks this replica active. Safe to repeat: copies go through
    /// last-writer-wins like replicated changes.
    async fn seed(&self, table: &str, from: &str) -> Result<(), String> {
        let src = self.source(from).await.ok_or("source region not served")?;
        let def = self.def(table).ok_or("replica gone")?;
        let Some(group) = def.replication.clone() else {
            return Ok(());
        };
        if group.seeding_from.is_none() {
            return Ok(());
        }
        // Where each pull starts is read before the copy: what the copy misses after
        // it, the pulls bring (a change seen twice is ordered by its stamp).
        let mut starts = vec![(from.to_owned(), src.stream_end(table).await?)];
        for r in group.replicas.iter().filter(|r| r.as_str() != from) {
            starts.push((r.clone(), src.checkpoint(table, r).await?));
        }
        let t = self.table_by_name(table).map_err(|e| e.message())?;
        let store = self.store(&t).await.map_err(|e| e.message())?;
        let mut after: Option<ItemKey> = None;
        loop {
            let page = src.items(table, from, after.clone()).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.0.clone());
            let changes: Vec<Change> = page
                .into_iter()
                .map(|(key, item, stamp)| Change {
                    key,
                    new: Some(item),
                    stamp,
                })
                .collect();
            let def = self.def(table).ok_or("replica gone")?;
            apply_changes(&store, def, changes).await?;
        }
        store
            .write_when_room(move |tx: &mut dyn WriteTx| {
                for (source, seq) in starts {
                    if tx.checkpoint_get(&source)?.is_none_or(|c| c < seq) {
                        tx.checkpoint_put(&source, seq)?;
                    }
                }
                Ok(Decision::Commit(()))
            })
            .await
            .map_err(|e| e.to_string())?;
        {
            let _guard = self.ddl.lock().await;
            let mut def = (*self.def(table).ok_or("replica gone")?).clone();
            if let Some(g) = &mut def.replication {
                g.seeding_from = None;
            }
            self.save_def(def).map_err(|e| e.message())?;
        }
        for r in &group.replicas {
            self.spawn_puller(table, r);
        }
        Ok(())
    }
}

/// Applies `changes` to the replica in one write (seed and re-copy pages).
async fn apply_changes(
    store: &sealdb_storage::TableStore,
    def: Arc<crate::schema::TableDef>,
    changes: Vec<Change>,
) -> Result<(), String> {
    store
        .write_when_room(move |tx: &mut dyn WriteTx| {
            for c in changes {
                apply_change(tx, &def, c)?;
            }
            Ok(Decision::Commit(()))
        })
        .await
        .map_err(|e| e.to_string())
}

/// Applies a change unless this replica already holds a later one of the item.
fn apply_change(
    tx: &mut dyn WriteTx,
    def: &crate::schema::TableDef,
    c: Change,
) -> Result<(), sealdb_storage::StorageError> {
    if tx.stamp_get(&c.key)?.is_some_and(|cur| cur >= c.stamp) {
        return Ok(());
    }
    let old =
        match tx.get(&c.key)? {
            Some(b) => Some(crate::codec::decode_item(&b).map_err(|e| {
                sealdb_storage::StorageError::Corrupt(format!("stored item: {e:?}"))
            })?),
            None => None,
        };
    if old.is_none() && c.new.is_none() {
        // Deleting a missing item writes no record; the stamp still orders later changes.
        tx.stamp_put(&c.key, &c.stamp)?;
        return Ok(());
    }
    let writes = crate::index::replicated_mutations(
        def,
        &c.key,
        old.as_ref(),
        c.new.as_ref(),
        c.stamp.clone(),
    );
    if !writes
        .iter()
        .any(|w| matches!(w, sealdb_storage::TxWrite::Stamp { .. }))
    {
        tx.stamp_put(&c.key, &c.stamp)?;
    }
    apply(tx, &writes)
}

/// Parses a stored stream record of `source`'s replica into the change it made there;
/// `None` for records of changes that came to it from elsewhere.
fn change_of(
    def: &crate::schema::TableDef,
    source: &str,
    ts_ms: i64,
    bytes: &[u8],
) -> Result<Option<Change>, DynamoError> {
    let Some((&crate::index::STREAM_RECORD_V1, body)) = bytes.split_first() else {
        return Err(DynamoError::Internal);
    };
    let r: Value = serde_json::from_slice(body).map_err(|_| DynamoError::Internal)?;
    // A record without a stamp was written before the table had replicas (or by a
    // request that started just before): a change of the source itself.
    let stamp = match r.get(REPLICATION_MEMBER) {
        Some(m) => WriteStamp {
            ts_ms: m["ts"].as_i64().ok_or(DynamoError::Internal)?,
            origin: m["origin"]
                .as_str()
                .ok_or(DynamoError::Internal)?
                .to_owned(),
        },
        None => WriteStamp {
            ts_ms,
            origin: source.to_owned(),
        },
    };
    if stamp.origin != source {
        return Ok(None);
    }
    let keys = crate::value::item_from_json(&r["Keys"]).map_err(crate::input::value_error)?;
    let key = crate::service::item_key(def, &keys, crate::service::KeySource::Key)?;
    let new = match r["eventName"].as_str() {
        Some("REMOVE") => None,
        _ => Some(crate::value::item_from_json(&r["NewImage"]).map_err(crate::input::value_error)?),
    };
    Ok(Some(Change { key, new, stamp }))
}

/// Pulls `source`'s changes of `table` into this replica until either leaves the group.
async fn pull_loop(me: Weak<Service>, table: &str, source: &str) {
    let mut pause = MIN_IDLE;
    loop {
        let Some(svc) = me.upgrade() else { return };
        let member = svc
            .def(table)
            .and_then(|d| d.replication.clone())
            .is_some_and(|g| g.replicas.iter().any(|r| r == source));
        if !member {
            return;
        }
        let moved = match svc.pull_once(table, source).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::debug!(table, source, error = %e, "replication waits");
                false
            }
        };
        drop(svc);
        if moved {
            pause = MIN_IDLE;
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_IDLE);
        }
    }
}

impl Service {
    /// One batch from `source`'s stream; how many records it covered.
    async fn pull_once(&self, table: &str, source: &str) -> Result<usize, String> {
        let src = self
            .source(source)
            .await
            .ok_or("source region not served")?;
        let t = self.table_by_name(table).map_err(|e| e.message())?;
        // A replica whose key is unusable does not open: replication into it pauses.
        let store = self.store(&t).await.map_err(|e| e.message())?;
        let checkpoint = store
            .replica_checkpoint(source)
            .await
            .map_err(|e| e.to_string())?;
        let after = checkpoint.unwrap_or(0);
        let Some(crate::remote::Changes { records, first }) = src.changes(table, after).await?
        else {
            // Never read yet: its creation (queued here or in another replica's
            // outbox) has not reached it, which is no sign of its leaving.
            if checkpoint.is_none() || crate::outbox::pending(&t.def, source).next().is_some() {
                return Err("the source replica is not created yet".into());
            }
            // The source left without its notice reaching this replica: forget it here.
            tracing::info!(table, source, "the source replica left its group");
            self.remove_member(table, source).await;
            return Ok(0);
        };
        if first > after + 1 {
            // Changes past the checkpoint were trimmed from the source's stream (it was
            // out of reach longer than the retention): copy its items again instead.
            tracing::warn!(
                table,
                source,
                after,
                first,
                "replication gap: the source's stream no longer holds what this replica missed; copying its items again"
            );
            self.recopy(table, source, &src).await?;
            return Ok(1);
        }
        if records.len() == crate::remote::PULL_BATCH {
            // More than a batch waits: the channel's backlog, reported as it drains.
            tracing::info!(
                table,
                source,
                after,
                "replication backlog: more than one batch behind"
            );
        }
        let Some(&(last_seq, _, _)) = records.last() else {
            if checkpoint.is_none() {
                // It answered: from now on, its absence means it left.
                let source = source.to_owned();
                store
                    .write_when_room(move |tx: &mut dyn WriteTx| {
                        if tx.checkpoint_get(&source)?.is_none() {
                            tx.checkpoint_put(&source, 0)?;
                        }
                        Ok(Decision::Commit(()))
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            return Ok(0);
        };
        let count = records.len();
        let mut changes = Vec::with_capacity(count);
        for (_, ts, bytes) in &records {
            if let Some(c) = change_of(&t.def, source, *ts, bytes).map_err(|e| e.message())? {
                changes.push(c);
            }
        }
        let def = Arc::clone(&t.def);
        let source = source.to_owned();
        store
            .write_when_room(move |tx: &mut dyn WriteTx| {
                // A concurrent pull of the same pair (never started twice) would see a
                // moved checkpoint; applying only past it keeps each change once.
                if tx.checkpoint_get(&source)?.is_some_and(|c| c >= last_seq) {
                    return Ok(Decision::Commit(()));
                }
                for c in changes {
                    apply_change(tx, &def, c)?;
                }
                tx.checkpoint_put(&source, last_seq)?;
                Ok(Decision::Commit(()))
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(count)
    }
}

impl Service {
    /// Brings this replica level with `source` after a gap in its stream: every item of
    /// the source through last-writer-wins; then, page by page of this replica's items
    /// (memory bounded by a page on either side), each item the source no longer holds
    /// is deleted when the source's tombstone is later than this replica's write of it
    /// (whichever region that write came from), or when its last write here came from
    /// the source and the source knows nothing of it; then the checkpoint moves to the
    /// source's stream end read before the copy (what the copy misses after it, the
    /// pull brings).
    pub(crate) async fn recopy(
        &self,
        table: &str,
        source: &str,
        src: &crate::remote::Source,
    ) -> Result<(), String> {
        let end = src.stream_end(table).await?;
        let t = self.table_by_name(table).map_err(|e| e.message())?;
        let store = self.store(&t).await.map_err(|e| e.message())?;
        let mut after: Option<ItemKey> = None;
        loop {
            let page = src.items(table, source, after.clone()).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.0.clone());
            let changes: Vec<Change> = page
                .into_iter()
                .map(|(key, item, stamp)| Change {
                    key,
                    new: Some(item),
                    stamp,
                })
                .collect();
            apply_changes(&store, Arc::clone(&t.def), changes).await?;
        }
        let mut after: Option<ItemKey> = None;
        loop {
            let page = store
                .scan(0, u64::MAX, after, crate::remote::SEED_BATCH, 4 << 20)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let keys: Vec<ItemKey> = page.into_iter().map(|s| s.key).collect();
            let there = src.stamps(table, &keys).await?;
            let mut gone = Vec::new();
            for (key, (held, theirs)) in keys.into_iter().zip(there) {
                if held {
                    continue;
                }
                let mine = store.write_stamp(&key).await.map_err(|e| e.to_string())?;
                if let Some(stamp) = deletion_stamp(source, mine, theirs) {
                    gone.push(Change {
                        key,
                        new: None,
                        stamp,
                    });
                }
            }
            if !gone.is_empty() {
                apply_changes(&store, Arc::clone(&t.def), gone).await?;
            }
        }
        let source = source.to_owned();
        store
            .write_when_room(move |tx: &mut dyn WriteTx| {
                if tx.checkpoint_get(&source)?.is_none_or(|c| c < end) {
                    tx.checkpoint_put(&source, end)?;
                }
                Ok(Decision::Commit(()))
            })
            .await
            .map_err(|e| e.to_string())
    }
}

/// The stamp that deletes here an item `source` no longer holds, if it should go: the
/// source's tombstone when later than this replica's last write of the item (a write
/// of a third region included: that region's channel does not carry the source's
/// deletion); else, when that write came from the source itself and the source has no
/// stamp of it, just after it. `None`: the item stays (the source has not seen it yet,
/// or it was written again after the deletion).
fn deletion_stamp(
    source: &str,
    mine: Option<WriteStamp>,
    theirs: Option<WriteStamp>,
) -> Option<WriteStamp> {
    match (mine, theirs) {
        (mine, Some(t)) => mine.is_none_or(|m| t > m).then_some(t),
        (Some(m), None) if m.origin == source => Some(WriteStamp {
            ts_ms: m.ts_ms + 1,
            origin: m.origin,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ts_ms: i64, origin: &str) -> Option<WriteStamp> {
        Some(WriteStamp {
            ts_ms,
            origin: origin.into(),
        })
    }

    #[test]
    fn what_a_recopy_deletes() {
        // The source deleted, after a third region's write: the tombstone wins.
        assert_eq!(deletion_stamp("a", st(5, "c"), st(9, "a")), st(9, "a"));
        // The third region wrote again after the deletion: the item stays.
        assert_eq!(deletion_stamp("a", st(12, "c"), st(9, "a")), None);
        // The source never saw the third region's item: it stays.
        assert_eq!(deletion_stamp("a", st(5, "c"), None), None);
        // The source's own write, with no stamp left there: deleted just after it.
        assert_eq!(deletion_stamp("a", st(5, "a"), None), st(6, "a"));
        // An item here without a stamp, deleted at the source: deleted.
        assert_eq!(deletion_stamp("a", None, st(3, "a")), st(3, "a"));
        assert_eq!(deletion_stamp("a", None, None), None);
    }
}
