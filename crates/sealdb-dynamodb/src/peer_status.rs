//! What a replica last learned of each replica at a peer deployment, kept in its sealed
//! table definition (`ReplicationGroup::peer_status`, `docs/formats.md`) so that a replica
//! whose deployment does not answer is still described by its last known state after a
//! restart of this one.

use crate::replication::ReplicaSummary;
use crate::schema::{ReplicaOverrides, TableDef};
use crate::service::Service;
use serde::{Deserialize, Serialize};

/// The version of a [`KnownReplica`]'s form; an entry of another version is ignored.
pub const KNOWN_REPLICA_V1: u8 = 1;

/// The last state a peer's replica reported (or why it refused a call).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownReplica {
    /// The form's version ([`KNOWN_REPLICA_V1`]).
    pub v: u8,
    /// The peer replica's region.
    pub region: String,
    /// Its ReplicaStatus.
    pub status: String,
    /// Its KMS key's ARN (customer managed or AWS managed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Since when its key is unusable, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inaccessible_since_ms: Option<i64>,
    /// Its table class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_class: Option<String>,
    /// Its global secondary indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<String>,
    /// Its throughput overrides.
    #[serde(default, skip_serializing_if = "ReplicaOverrides::is_empty")]
    pub overrides: ReplicaOverrides,
    /// Why it last refused a call (credential refused, creation refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl KnownReplica {
    fn from_summary(region: &str, s: &ReplicaSummary) -> Self {
        Self {
            v: KNOWN_REPLICA_V1,
            region: region.to_owned(),
            status: s.status.to_owned(),
            kms_key_arn: s.kms_key_arn.clone(),
            inaccessible_since_ms: s.inaccessible_since_ms,
            table_class: s.table_class.clone(),
            indexes: s.indexes.clone(),
            overrides: s.overrides.clone(),
            why: None,
        }
    }

    /// As a summary of the replica (its status one of ReplicaStatus's values).
    pub(crate) fn summary(&self) -> ReplicaSummary {
        ReplicaSummary {
            status: crate::replication::replica_status(&self.status),
            kms_key_arn: self.kms_key_arn.clone(),
            inaccessible_since_ms: self.inaccessible_since_ms,
            table_class: self.table_class.clone(),
            indexes: self.indexes.clone(),
            overrides: self.overrides.clone(),
        }
    }
}

/// The last state known of `peer`'s replica of `def`.
pub(crate) fn last_known<'a>(def: &'a TableDef, peer: &str) -> Option<&'a KnownReplica> {
    def.replication
        .as_ref()?
        .peer_status
        .iter()
        .find(|k| k.region == peer && k.v == KNOWN_REPLICA_V1)
}

impl Service {
    /// Records what `peer` reported of its replica of `table`.
    pub(crate) fn remember_summary(&self, table: &str, peer: &str, s: &ReplicaSummary) {
        let known = KnownReplica::from_summary(peer, s);
        self.remember_peer(table, peer, move |_| known);
    }

    /// Records that `peer` refused a call: its replica shows `status`, `why` explains.
    pub(crate) fn remember_refusal(&self, table: &str, peer: &str, status: &str, why: String) {
        let (status, peer_owned) = (status.to_owned(), peer.to_owned());
        self.remember_peer(table, peer, move |old| KnownReplica {
            v: KNOWN_REPLICA_V1,
            region: peer_owned,
            status,
            why: Some(why),
            ..old.cloned().unwrap_or_default()
        });
    }

    /// Saves the entry `f` makes of the old one, when it changed. Saved by a task of
    /// its own: callers (DescribeTable among them) may hold the DDL lock.
    fn remember_peer(
        &self,
        table: &str,
        peer: &str,
        f: impl FnOnce(Option<&KnownReplica>) -> KnownReplica + Send + 'static,
    ) {
        let Some(def) = self.def(table) else { return };
        let old = last_known(&def, peer);
        let new = f(old);
        if old == Some(&new) {
            return;
        }
        let me = self.me.clone();
        let table = table.to_owned();
        tokio::spawn(async move {
            let Some(svc) = me.upgrade() else { return };
            let _guard = svc.ddl.lock().await;
            let Some(cur) = svc.def(&table) else { return };
            let mut def = (*cur).clone();
            let Some(g) = &mut def.replication else {
                return;
            };
            // A peer that left the group meanwhile is not brought back.
            if !g.replicas.contains(&new.region) {
                return;
            }
            g.peer_status.retain(|k| k.region != new.region);
            g.peer_status.push(new);
            if let Err(e) = svc.save_def(def) {
                tracing::error!(table, error = ?e, "cannot record a peer replica's status");
            }
        });
    }
}
