//! Global tables of version 2017.11.29 held by peer deployments (`--peer`), for
//! ListGlobalTables and DescribeGlobalTable. On AWS a global table of that version is a
//! resource of the account, not of a region: any region lists and describes it. Its
//! members here are all in one deployment (CreateGlobalTable links tables this
//! deployment serves), so a peer's global tables are asked of the peer
//! (`LegacyGlobalTables`, authorized there as ListGlobalTables) and merged with this
//! deployment's. A peer that does not answer (or refuses) adds nothing.

use crate::error::DynamoError;
use crate::service::Service;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A 2017.11.29 global table as listed: its creation time and its members' regions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListedGroup {
    pub(crate) created_ms: i64,
    /// Sorted.
    pub(crate) regions: Vec<String>,
}

impl Service {
    /// This deployment's 2017.11.29 global tables, by name (every open region).
    pub(crate) async fn local_legacy_groups(&self) -> BTreeMap<String, ListedGroup> {
        let mut out = BTreeMap::new();
        for svc in self.every_region().await {
            let defs: Vec<_> = match svc.defs.read() {
                Ok(d) => d.values().cloned().collect(),
                Err(_) => continue,
            };
            for def in defs {
                let Some(g) = &def.replication else { continue };
                let Some(created_ms) = g.legacy_created_ms else {
                    continue;
                };
                let mut regions: Vec<String> = std::iter::once(g.region.clone())
                    .chain(g.replicas.iter().cloned())
                    .collect();
                regions.sort();
                out.entry(def.name.clone()).or_insert(ListedGroup {
                    created_ms,
                    regions,
                });
            }
        }
        out
    }

    /// The 2017.11.29 global tables of every peer deployment that answers, by name.
    pub(crate) async fn peer_legacy_groups(&self) -> BTreeMap<String, ListedGroup> {
        let mut out = BTreeMap::new();
        let Some(peers) = self.peers.get() else {
            return out;
        };
        for region in peers.remote_regions() {
            let v = match self
                .remote_raw(&region, "LegacyGlobalTables", json!({ "TableName": "" }))
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(peer = %region, error = %e, "a peer's global tables are not listed");
                    continue;
                }
            };
            for g in v["GlobalTables"].as_array().into_iter().flatten() {
                let (Some(name), Some(created_ms)) =
                    (g["GlobalTableName"].as_str(), g["CreationMs"].as_i64())
                else {
                    continue;
                };
                let mut regions: Vec<String> = g["Regions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect();
                regions.sort();
                out.entry(name.to_owned()).or_insert(ListedGroup {
                    created_ms,
                    regions,
                });
            }
        }
        out
    }

    /// Every 2017.11.29 global table this deployment and its peers hold, by name.
    pub(crate) async fn all_legacy_groups(&self) -> BTreeMap<String, ListedGroup> {
        let mut all = self.local_legacy_groups().await;
        for (name, g) in self.peer_legacy_groups().await {
            all.entry(name).or_insert(g);
        }
        all
    }

    /// The answer to a peer's `LegacyGlobalTables`.
    pub(crate) async fn legacy_global_tables_call(&self) -> Result<Value, DynamoError> {
        let tables: Vec<Value> = self
            .local_legacy_groups()
            .await
            .into_iter()
            .map(|(name, g)| {
                json!({ "GlobalTableName": name, "CreationMs": g.created_ms, "Regions": g.regions })
            })
            .collect();
        Ok(json!({ "GlobalTables": tables }))
    }
}
