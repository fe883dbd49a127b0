//! Global tables version 2017.11.29 (CreateGlobalTable, DescribeGlobalTable,
//! UpdateGlobalTable, ListGlobalTables).
//!
//! As on AWS, such a global table links tables of the same name that the user created
//! in each region (same keys and indexes, streams with NEW_AND_OLD_IMAGES, all empty).
//! Each member records the group in its definition (`ReplicationGroup` with
//! `legacy_created_ms`), and the replication of version 2019.11.21 carries the changes
//! (`replication.rs`): nothing is copied when a member joins, as every member is empty;
//! each member's pull from another starts at that one's stream end at the time of joining.
//! Removing a member stops replication and keeps its table. ReplicaUpdates (2019.11.21)
//! is refused on a member.

use crate::error::DynamoError;
use crate::input::{Input, null_member, validation_errors};
use crate::ops::tables::{as_obj, obj_str, table_name_errors};
use crate::schema::{ReplicationGroup, TableDef, ms_to_epoch_seconds};
use crate::service::Service;
use sealdb_storage::{Decision, WriteTx};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// `arn:aws:dynamodb::<account>:global-table/<name>` (a global table has no region).
pub(crate) fn global_table_arn(account: &str, name: &str) -> String {
    format!("arn:aws:dynamodb::{account}:global-table/{name}")
}

pub(crate) fn global_not_found(name: &str) -> DynamoError {
    DynamoError::GlobalTableNotFound(format!("Global table with name: '{name}' does not exist."))
}

fn invalid(msg: &str) -> DynamoError {
    DynamoError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// One member of a 2017.11.29 global table: its region's service and table.
pub(crate) struct Member {
    pub(crate) region: String,
    pub(crate) svc: Arc<Service>,
    pub(crate) def: Arc<TableDef>,
}

/// The global table `name` as its members record it.
pub(crate) struct LegacyGroup {
    pub(crate) created_ms: i64,
    /// By region name.
    pub(crate) members: Vec<Member>,
}

/// `GlobalTableName`, validated as a table name.
pub(crate) fn global_table_name(input: &Input) -> Result<&str, DynamoError> {
    let Some(name) = input.str_opt("GlobalTableName")? else {
        return Err(validation_errors(&[null_member("globalTableName")]));
    };
    let errors = table_name_errors(name, "globalTableName", false);
    if errors.is_empty() {
        Ok(name)
    } else {
        Err(validation_errors(&errors))
    }
}

/// The `RegionName`s of a `ReplicationGroup` list.
fn region_list(input: &Input) -> Result<Vec<String>, DynamoError> {
    let Some(list) = input.list_opt("ReplicationGroup")? else {
        return Err(validation_errors(&[null_member("replicationGroup")]));
    };
    let mut regions: Vec<String> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let m = as_obj(v, "ReplicationGroup")?;
        let Some(r) = obj_str(m, "RegionName")? else {
            return Err(validation_errors(&[null_member(&format!(
                "replicationGroup.{}.member.regionName",
                i + 1
            ))]));
        };
        if !regions.iter().any(|x| x == r) {
            regions.push(r.to_owned());
        }
    }
    Ok(regions)
}

/// Same keys and the same secondary indexes (names and keys), as AWS requires of
/// the tables of one global table.
fn same_shape(a: &TableDef, b: &TableDef) -> bool {
    let shape = |d: &TableDef| {
        let mut ix: Vec<_> = d
            .indexes
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.global,
                    i.hash_keys.clone(),
                    i.range_keys.clone(),
                )
            })
            .collect();
        ix.sort_by(|x, y| x.0.cmp(&y.0));
        (d.hash_key.clone(), d.range_key.clone(), ix)
    };
    shape(a) == shape(b)
}

fn replication_group_json(regions: impl IntoIterator<Item = String>) -> Value {
    Value::Array(
        regions
            .into_iter()
            .map(|r| json!({ "RegionName": r }))
            .collect(),
    )
}

impl Service {
    /// This region's service or another's.
    pub(crate) async fn region_service(&self, region: &str) -> Option<Arc<Service>> {
        if region == self.region() {
            self.me.upgrade()
        } else {
            self.peer(region).await
        }
    }

    /// This region's table `name` when it is a member of a 2017.11.29 global table.
    pub(crate) fn legacy_def(&self, name: &str) -> Option<Arc<TableDef>> {
        self.def(name).filter(|d| {
            d.replication
                .as_ref()
                .is_some_and(|g| g.legacy_created_ms.is_some())
        })
    }

    /// Every open region's service, this one first.
    pub(crate) async fn every_region(&self) -> Vec<Arc<Service>> {
        let mut out: Vec<Arc<Service>> = self.me.upgrade().into_iter().collect();
        if let Some(peers) = self.peers.get() {
            for s in peers.open_services().await {
                if s.region() != self.region() {
                    out.push(s);
                }
            }
        }
        out
    }

    /// The 2017.11.29 global table `name`, found through any region that holds a member.
    pub(crate) async fn legacy_group(&self, name: &str) -> Result<LegacyGroup, DynamoError> {
        let mut found = None;
        for svc in self.every_region().await {
            if let Some(def) = svc.legacy_def(name) {
                found = Some(def);
                break;
            }
        }
        let def = found.ok_or_else(|| global_not_found(name))?;
        let group = def.replication.as_ref().ok_or(DynamoError::Internal)?;
        let created_ms = group.legacy_created_ms.ok_or(DynamoError::Internal)?;
        let mut regions: Vec<String> = std::iter::once(group.region.clone())
            .chain(group.replicas.iter().cloned())
            .collect();
        regions.sort();
        let mut members = Vec::with_capacity(regions.len());
        for region in regions {
            let Some(svc) = self.region_service(&region).await else {
                continue;
            };
            if let Some(def) = svc.legacy_def(name) {
                members.push(Member { region, svc, def });
            }
        }
        Ok(LegacyGroup {
            created_ms,
            members,
        })
    }

    fn global_description(&self, name: &str, g: &LegacyGroup, status: &str) -> Value {
        let regions = g.members.iter().map(|m| m.region.clone());
        self.description_of(name, regions, g.created_ms, status)
    }

    fn description_of(
        &self,
        name: &str,
        regions: impl IntoIterator<Item = String>,
        created_ms: i64,
        status: &str,
    ) -> Value {
        json!({
            "ReplicationGroup": replication_group_json(regions),
            "GlobalTableArn": global_table_arn(&self.cfg.account_id, name),
            "CreationDateTime": ms_to_epoch_seconds(created_ms),
            "GlobalTableStatus": status,
            "GlobalTableName": name,
        })
    }

    /// A region's table that may join the global table `name` (as AWS checks it):
    /// present, not in another group, with a NEW_AND_OLD_IMAGES stream, empty, and of the
    /// same keys and indexes as `like`.
    async fn joinable(
        &self,
        name: &str,
        region: &str,
        like: Option<&TableDef>,
    ) -> Result<Member, DynamoError> {
        let not_found =
            || DynamoError::TableNotFound(format!("Table: {name} not found in region: {region}"));
        let svc = self.region_service(region).await.ok_or_else(not_found)?;
        let t = svc.table_by_name(name).map_err(|_| not_found())?;
        if t.def.replication.is_some() {
            return Err(invalid(&format!(
                "Table: {name} in region: {region} is already a replica of a global table"
            )));
        }
        if t.def
            .stream
            .as_ref()
            .is_none_or(|s| s.view_type != "NEW_AND_OLD_IMAGES")
        {
            return Err(invalid(&format!(
                "Table: {name} in region: {region} must have DynamoDB Streams enabled with StreamViewType NEW_AND_OLD_IMAGES"
            )));
        }
        if let Some(like) = like
            && !same_shape(like, &t.def)
        {
            return Err(invalid(&format!(
                "Table: {name} in region: {region} must have the same key schema and secondary indexes as the other replicas"
            )));
        }
        svc.check_empty(name, region).await?;
        Ok(Member {
            region: region.to_owned(),
            svc: Arc::clone(&svc),
            def: t.def,
        })
    }

    async fn check_empty(&self, name: &str, region: &str) -> Result<(), DynamoError> {
        let t = self.table_by_name(name)?;
        let page = self
            .store(&t)
            .await?
            .scan(0, u64::MAX, None, 1, 1 << 20)
            .await?;
        if page.is_empty() {
            Ok(())
        } else {
            Err(invalid(&format!(
                "Table: {name} in region: {region} must be empty to be added to a global table"
            )))
        }
    }

    /// The last sequence number of this region's stream of `name`.
    async fn stream_end(&self, name: &str) -> Result<i64, DynamoError> {
        let t = self.table_by_name(name)?;
        Ok(self.store(&t).await?.stream_bounds().await?.1)
    }

    /// Sets where this replica's pull from each source starts.
    async fn set_checkpoints(
        &self,
        name: &str,
        starts: Vec<(String, i64)>,
    ) -> Result<(), DynamoError> {
        let t = self.table_by_name(name)?;
        self.store(&t)
            .await?
            .write_when_room(move |tx: &mut dyn WriteTx| {
                for (source, seq) in starts {
                    tx.checkpoint_put(&source, seq)?;
                }
                Ok(Decision::Commit(()))
            })
            .await?;
        Ok(())
    }

    /// Makes this region's table a member of the 2017.11.29 global table with `others`,
    /// pulling each from its stream end in `ends`.
    async fn join_legacy(
        &self,
        name: &str,
        others: Vec<String>,
        ends: &HashMap<String, i64>,
        created_ms: i64,
    ) -> Result<(), DynamoError> {
        let starts = others
            .iter()
            .map(|r| (r.clone(), ends.get(r).copied().unwrap_or(0)))
            .collect();
        self.set_checkpoints(name, starts).await?;
        {
            let _guard = self.ddl.lock().await;
            let mut def = (*self.table_by_name(name)?.def).clone();
            def.replication = Some(ReplicationGroup {
                region: self.region().to_owned(),
                replicas: others.clone(),
                seeding_from: None,
                legacy_created_ms: Some(created_ms),
                overrides: Default::default(),
                updated_ms: None,
                deleting_ms: None,
                ..Default::default()
            });
            self.save_def(def)?;
        }
        for r in &others {
            self.spawn_puller(name, r);
        }
        Ok(())
    }

    /// Takes this region's table out of its 2017.11.29 global table; the table stays.
    async fn leave_legacy(&self, name: &str) -> Result<(), DynamoError> {
        self.forget_group(name).await;
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_name(name)?.def).clone();
        def.replication = None;
        self.save_def(def)?;
        Ok(())
    }

    pub(crate) async fn create_global_table(&self, input: &Input) -> Result<Value, DynamoError> {
        let name = global_table_name(input)?.to_owned();
        let regions = region_list(input)?;
        if self.legacy_group(&name).await.is_ok() {
            return Err(DynamoError::GlobalTableAlreadyExists(
                "Global table with this name already exists".into(),
            ));
        }
        let mut members: Vec<Member> = Vec::with_capacity(regions.len());
        for region in &regions {
            let like = members.first().map(|m| Arc::clone(&m.def));
            members.push(self.joinable(&name, region, like.as_deref()).await?);
        }
        let mut ends = HashMap::new();
        for m in &members {
            ends.insert(m.region.clone(), m.svc.stream_end(&name).await?);
        }
        let created_ms = self.now_ms();
        for m in &members {
            let others = regions
                .iter()
                .filter(|r| **r != m.region)
                .cloned()
                .collect();
            m.svc.join_legacy(&name, others, &ends, created_ms).await?;
        }
        let g = self.legacy_group(&name).await?;
        Ok(json!({ "GlobalTableDescription": self.global_description(&name, &g, "CREATING") }))
    }

    pub(crate) async fn describe_global_table(&self, input: &Input) -> Result<Value, DynamoError> {
        let name = global_table_name(input)?;
        let d = match self.legacy_group(name).await {
            Ok(g) => self.global_description(name, &g, "ACTIVE"),
            // One that a peer deployment holds (`legacy_peers.rs`).
            Err(e) => match self.peer_legacy_groups().await.remove(name) {
                Some(g) => self.description_of(name, g.regions, g.created_ms, "ACTIVE"),
                None => return Err(e),
            },
        };
        Ok(json!({ "GlobalTableDescription": d }))
    }

    pub(crate) async fn update_global_table(&self, input: &Input) -> Result<Value, DynamoError> {
        let name = global_table_name(input)?.to_owned();
        let Some(updates) = input.list_opt("ReplicaUpdates")? else {
            return Err(validation_errors(&[null_member("replicaUpdates")]));
        };
        // Every update is checked against the group as the earlier ones leave it, and
        // nothing changes unless all pass.
        let g = self.legacy_group(&name).await?;
        let mut regions: Vec<String> = g.members.iter().map(|m| m.region.clone()).collect();
        let mut plan: Vec<(bool, Member)> = Vec::with_capacity(updates.len());
        for (i, u) in updates.iter().enumerate() {
            let m = as_obj(u, "ReplicaUpdates")?;
            let create = m.get("Create").filter(|v| !v.is_null());
            let delete = m.get("Delete").filter(|v| !v.is_null());
            let (adding, body, member) = match (create, delete) {
                (Some(c), None) => (true, c, "create"),
                (None, Some(d)) => (false, d, "delete"),
                _ => {
                    return Err(invalid(
                        "One of Create or Delete must be specified in a ReplicaUpdate",
                    ));
                }
            };
            let Some(region) = obj_str(as_obj(body, member)?, "RegionName")? else {
                return Err(validation_errors(&[null_member(&format!(
                    "replicaUpdates.{}.member.{member}.regionName",
                    i + 1
                ))]));
            };
            let present = regions.iter().any(|r| r == region);
            if adding {
                if present {
                    return Err(DynamoError::ReplicaAlreadyExists(format!(
                        "Replica in region: {region} already exists in global table: {name}"
                    )));
                }
                let like = g.members.first().map(|m| Arc::clone(&m.def));
                plan.push((true, self.joinable(&name, region, like.as_deref()).await?));
                regions.push(region.to_owned());
            } else {
                let Some(m) = g.members.iter().find(|m| m.region == region) else {
                    return Err(DynamoError::ReplicaNotFound(format!(
                        "Replica in region: {region} does not exist in global table: {name}"
                    )));
                };
                plan.push((
                    false,
                    Member {
                        region: m.region.clone(),
                        svc: Arc::clone(&m.svc),
                        def: Arc::clone(&m.def),
                    },
                ));
                regions.retain(|r| r != region);
            }
        }
        // A replica joins an empty global table only (AWS: none may hold data).
        if plan.iter().any(|(adding, _)| *adding) {
            for m in &g.members {
                m.svc.check_empty(&name, &m.region).await?;
            }
        }
        for (adding, m) in plan {
            if adding {
                let current = self.legacy_group(&name).await?;
                let mut ends = HashMap::new();
                ends.insert(m.region.clone(), m.svc.stream_end(&name).await?);
                for c in &current.members {
                    ends.insert(c.region.clone(), c.svc.stream_end(&name).await?);
                }
                m.svc
                    .join_legacy(
                        &name,
                        current.members.iter().map(|c| c.region.clone()).collect(),
                        &ends,
                        current.created_ms,
                    )
                    .await?;
                for c in &current.members {
                    let start = ends.get(&m.region).copied().unwrap_or(0);
                    c.svc
                        .set_checkpoints(&name, vec![(m.region.clone(), start)])
                        .await?;
                    c.svc.add_member(&name, &m.region).await;
                }
            } else {
                m.svc.leave_legacy(&name).await?;
            }
        }
        let g = match self.legacy_group(&name).await {
            Ok(g) => g,
            // The last member left: the global table is gone.
            Err(_) => LegacyGroup {
                created_ms: g.created_ms,
                members: Vec::new(),
            },
        };
        Ok(json!({ "GlobalTableDescription": self.global_description(&name, &g, "UPDATING") }))
    }

    pub(crate) async fn list_global_tables(&self, input: &Input) -> Result<Value, DynamoError> {
        let start = input.str_opt("ExclusiveStartGlobalTableName")?;
        let limit = input.int_opt("Limit")?;
        let region = input.str_opt("RegionName")?;
        if let Some(l) = limit
            && l < 1
        {
            return Err(validation_errors(&[format!(
                "Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )]));
        }
        let limit = usize::try_from(limit.unwrap_or(100).min(100)).unwrap_or(100);
        // A region of a peer deployment lists the peer's; no region, every one's.
        let groups = match region {
            Some(r) if self.is_remote(r) => self.peer_legacy_groups().await,
            Some(_) => self.local_legacy_groups().await,
            None => self.all_legacy_groups().await,
        };
        let tables = groups
            .into_iter()
            .filter(|(_, g)| region.is_none_or(|r| g.regions.iter().any(|x| x == r)))
            .map(|(n, g)| (n, g.regions));
        let mut page: Vec<(String, Vec<String>)> = tables
            .into_iter()
            .filter(|(n, _)| start.is_none_or(|s| n.as_str() > s))
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let mut out = json!({
            "GlobalTables": page
                .iter()
                .map(|(n, r)| json!({
                    "GlobalTableName": n,
                    "ReplicationGroup": replication_group_json(r.iter().cloned()),
                }))
                .collect::<Vec<_>>()
        });
        if more && let Some((last, _)) = page.last() {
            out["LastEvaluatedGlobalTableName"] = json!(last);
        }
        Ok(out)
    }
}

/// Why a 2017.11.29 global table cannot be upgraded yet (the console shows it).
fn not_upgradable(msg: String) -> DynamoError {
    invalid(&format!(
        "The global table cannot be upgraded to version 2019.11.21: {msg}"
    ))
}

impl Service {
    /// Upgrades the 2017.11.29 global table `name` to version 2019.11.21, as the DynamoDB
    /// console's "Update version" does (AWS offers the upgrade nowhere else). One-way:
    /// the members become replicas of a 2019.11.21 global table (DescribeTable shows
    /// `GlobalTableVersion` and `Replicas`, ReplicaUpdates manages them, the 2017.11.29
    /// operations no longer find it) and replication goes on from where it was. Each
    /// shows UPDATING for the replica transition. AWS's prerequisites are checked first:
    /// the same Time to Live, indexes and write capacity on every replica, and every
    /// replica's key usable. The caller needs `dynamodb:UpdateGlobalTableVersion` on the
    /// table in every region with a replica, as on AWS.
    pub async fn upgrade_global_table_version(
        &self,
        caller: &sealdb_common::Principal,
        name: &str,
    ) -> Result<(), DynamoError> {
        let g = self.legacy_group(name).await?;
        let first = g.members.first().ok_or_else(|| global_not_found(name))?;
        for m in &g.members {
            let mut request = serde_json::Map::new();
            request.insert("TableName".into(), Value::String(name.to_owned()));
            m.svc.authorize_as(
                crate::service::Operation::UpdateTable,
                "dynamodb:UpdateGlobalTableVersion",
                caller,
                &Input::from_map(request),
            )?;
        }
        for m in &g.members {
            let region = &m.region;
            if m.def.ttl_attribute != first.def.ttl_attribute {
                return Err(not_upgradable(format!(
                    "Time to Live differs between the replicas in {} and {region}",
                    first.region
                )));
            }
            if !same_shape(&m.def, &first.def) {
                return Err(not_upgradable(format!(
                    "the global secondary indexes differ between the replicas in {} and {region}",
                    first.region
                )));
            }
            if m.def.billing_mode != first.def.billing_mode
                || m.def.write_capacity != first.def.write_capacity
            {
                return Err(not_upgradable(format!(
                    "the write capacity differs between the replicas in {} and {region}",
                    first.region
                )));
            }
            let t = m.svc.table_by_name(name)?;
            if m.svc.store(&t).await.is_err() || t.handle.inaccessible_since().is_some() {
                return Err(not_upgradable(format!(
                    "the replica in {region} is not ACTIVE"
                )));
            }
        }
        for m in &g.members {
            m.svc.finish_upgrade(name).await?;
        }
        Ok(())
    }

    /// This region's member of `name` becomes a 2019.11.21 replica.
    async fn finish_upgrade(&self, name: &str) -> Result<(), DynamoError> {
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_name(name)?.def).clone();
        let now = self.now_ms();
        if let Some(g) = &mut def.replication {
            g.legacy_created_ms = None;
            g.updated_ms = Some(now);
        }
        self.save_def(def).map(|_| ())
    }
}
