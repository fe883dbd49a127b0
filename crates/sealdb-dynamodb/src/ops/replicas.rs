//! UpdateTable ReplicaUpdates (global tables version 2019.11.21) and the `Replicas`
//! member of a global table's description. Replication itself is `replication.rs`.

use crate::error::DynamoError;
use crate::input::Input;
use crate::ops::replica_overrides;
use crate::ops::tables::{SseRequest, as_obj, obj_str};
use crate::schema::{ReplicationGroup, StreamSettings, TableDef, iso_millis, ms_to_epoch_seconds};
use crate::service::Service;
use sealdb_common::Principal;
use serde_json::{Map, Value, json};

/// The version DescribeTable names for a table with replicas.
pub(crate) const GLOBAL_TABLE_VERSION: &str = "2019.11.21";

fn invalid(msg: &str) -> DynamoError {
    DynamoError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// One parsed entry of ReplicaUpdates.
enum ReplicaUpdate<'a> {
    Create {
        region: &'a str,
        kms_key: Option<&'a str>,
        table_class: Option<&'a str>,
        raw: &'a Map<String, Value>,
    },
    Update {
        region: &'a str,
        kms_key: Option<&'a str>,
        table_class: Option<&'a str>,
        raw: &'a Map<String, Value>,
    },
    Delete {
        region: &'a str,
    },
}

fn parse_update(v: &Value) -> Result<ReplicaUpdate<'_>, DynamoError> {
    let m = as_obj(v, "ReplicaUpdates")?;
    let actions: Vec<&str> = ["Create", "Update", "Delete"]
        .into_iter()
        .filter(|k| m.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if actions.len() != 1 {
        return Err(invalid(
            "Exactly one of Create, Update or Delete must be specified in a ReplicationGroupUpdate",
        ));
    }
    fn region_of<'v>(a: &'v Map<String, Value>, member: &str) -> Result<&'v str, DynamoError> {
        obj_str(a, "RegionName")?.ok_or_else(|| {
            crate::input::validation_errors(&[crate::input::null_member(&format!(
                "replicaUpdates.1.member.{member}.regionName"
            ))])
        })
    }
    match actions[0] {
        "Create" => {
            let a = as_obj(&m["Create"], "Create")?;
            Ok(ReplicaUpdate::Create {
                region: region_of(a, "create")?,
                kms_key: obj_str(a, "KMSMasterKeyId")?,
                table_class: obj_str(a, "TableClassOverride")?,
                raw: a,
            })
        }
        "Delete" => {
            let a = as_obj(&m["Delete"], "Delete")?;
            Ok(ReplicaUpdate::Delete {
                region: region_of(a, "delete")?,
            })
        }
        _ => {
            let a = as_obj(&m["Update"], "Update")?;
            Ok(ReplicaUpdate::Update {
                region: region_of(a, "update")?,
                kms_key: obj_str(a, "KMSMasterKeyId")?,
                table_class: obj_str(a, "TableClassOverride")?,
                raw: a,
            })
        }
    }
}

/// A replica being removed takes no other replica update.
fn refuse_if_deleting(def: &TableDef) -> Result<(), DynamoError> {
    if def
        .replication
        .as_ref()
        .is_some_and(|g| g.deleting_ms.is_some())
    {
        return Err(DynamoError::ResourceInUse(format!(
            "Attempt to change a resource which is still in use: Replica is being deleted: {}",
            def.name
        )));
    }
    Ok(())
}

fn check_table_class(class: Option<&str>, action: &str) -> Result<(), DynamoError> {
    match class {
        Some(c) if c != "STANDARD" && c != "STANDARD_INFREQUENT_ACCESS" => {
            Err(crate::input::validation_errors(&[
                crate::ops::tables::enum_error(
                    c,
                    &format!("replicaUpdates.1.member.{action}.tableClassOverride"),
                    "STANDARD, STANDARD_INFREQUENT_ACCESS",
                ),
            ]))
        }
        _ => Ok(()),
    }
}

impl Service {
    /// UpdateTable with ReplicaUpdates: adds or removes one replica.
    pub(crate) async fn update_replicas(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let updates = input
            .list_opt("ReplicaUpdates")?
            .cloned()
            .unwrap_or_default();
        if updates.is_empty() {
            return Err(invalid("ReplicaUpdates must not be empty"));
        }
        if updates.len() > 1 {
            return Err(invalid("Only one replica update is allowed per request"));
        }
        let raw = input.str_req("TableName")?;
        let name = self.table_name_from(raw).to_owned();
        if self.legacy_def(&name).is_some() {
            return Err(invalid(&format!(
                "Table {name} is a replica of a global table of version 2017.11.29: change its replicas with UpdateGlobalTable"
            )));
        }
        match parse_update(&updates[0])? {
            ReplicaUpdate::Create {
                region,
                kms_key,
                table_class,
                raw,
            } => {
                self.create_replica(&name, region, kms_key, table_class, raw, caller)
                    .await?
            }
            ReplicaUpdate::Update {
                region,
                kms_key,
                table_class,
                raw,
            } => {
                self.update_replica(&name, region, kms_key, table_class, raw, caller)
                    .await?;
            }
            ReplicaUpdate::Delete { region } => self.delete_replica(&name, region).await?,
        }
        let t = self.table_by_name(&name)?;
        let mut d = self.live_description(&t, "UPDATING").await?;
        self.add_replicas(&t.def, &mut d).await;
        Ok(json!({ "TableDescription": d }))
    }

    async fn create_replica(
        &self,
        name: &str,
        region: &str,
        kms_key: Option<&str>,
        table_class: Option<&str>,
        raw: &Map<String, Value>,
        caller: &Principal,
    ) -> Result<(), DynamoError> {
        if let Some(c) = table_class
            && c != "STANDARD"
            && c != "STANDARD_INFREQUENT_ACCESS"
        {
            return Err(crate::input::validation_errors(&[
                crate::ops::tables::enum_error(
                    c,
                    "replicaUpdates.1.member.create.tableClassOverride",
                    "STANDARD, STANDARD_INFREQUENT_ACCESS",
                ),
            ]));
        }
        let not_found = || {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: Table: {name} not found"
            ))
        };
        let t = self.table_by_name(name).map_err(|_| not_found())?;
        let overrides = replica_overrides::parse(raw, "create", &t.def, &Default::default())?;
        if region == self.region() {
            return Err(invalid(&format!(
                "Cannot add a replica in the table's own region: {region}"
            )));
        }
        if t.def
            .replication
            .as_ref()
            .is_some_and(|g| g.replicas.iter().any(|r| r == region))
        {
            return Err(invalid(&format!(
                "Replica already exists in region {region}"
            )));
        }
        if let Some(s) = &t.def.stream
            && s.view_type != "NEW_AND_OLD_IMAGES"
        {
            return Err(invalid(
                "Table StreamViewType must be NEW_AND_OLD_IMAGES to add a replica",
            ));
        }
        if t.def
            .replication
            .as_ref()
            .is_some_and(|g| g.seeding_from.is_some())
        {
            return Err(DynamoError::ResourceInUse(format!(
                "Attempt to change a resource which is still in use: Table is being created as a replica: {name}"
            )));
        }
        // A region of a peer deployment (`--peer`) is reached over HTTP (`remote.rs`).
        crate::outbox::check_room(&t.def)?;
        let peer = if self.is_remote(region) {
            None
        } else {
            Some(self.peer(region).await.ok_or_else(|| {
                invalid(&format!(
                    "The region {region} is not served by this endpoint"
                ))
            })?)
        };
        if peer.as_ref().is_some_and(|p| p.def(name).is_some()) {
            return Err(DynamoError::validation(format!(
                "Failed to create a the new replica of table with name: '{name}' because one or more replicas already existed as tables."
            )));
        }
        // All replicas consistently customer managed, or all AWS managed / owned.
        let sse = match (&t.def.sse_key_arn, kms_key) {
            (None, None) => SseRequest::Owned,
            (None, Some(_)) => {
                return Err(invalid(
                    "KMSMasterKeyId cannot be specified for a replica of a table that uses an AWS owned key",
                ));
            }
            (Some(arn), k) => {
                let managed = match &self.kms {
                    Some(v) => v.is_aws_managed(caller, arn).await,
                    None => false,
                };
                match (managed, k) {
                    (true, None) => SseRequest::AwsManaged,
                    (true, Some(_)) => {
                        return Err(invalid(
                            "KMSMasterKeyId cannot be specified for a replica of a table that uses the AWS managed key",
                        ));
                    }
                    (false, None) => {
                        return Err(invalid(
                            "KMSMasterKeyId must be specified for each replica.",
                        ));
                    }
                    (false, Some(k)) => SseRequest::Customer(k.to_owned()),
                }
            }
        };
        let _guard = self.ddl.lock().await;
        let t = self.table_by_name(name).map_err(|_| not_found())?;
        let now = self.now_ms();
        let mut def = (*t.def).clone();
        // Replication reads the streams: a table without one gets NEW_AND_OLD_IMAGES.
        if def.stream.is_none() {
            let (_, last) = self.store(&t).await?.stream_bounds().await?;
            def.stream = Some(StreamSettings {
                view_type: "NEW_AND_OLD_IMAGES".into(),
                label: iso_millis(now),
                after_seq: last,
            });
        }
        let mut others: Vec<String> = def
            .replication
            .as_ref()
            .map(|g| g.replicas.clone())
            .unwrap_or_default();
        // The new replica, as its region records it.
        let mut replica = def.clone();
        replica.id = String::new();
        replica.created_ms = now;
        replica.tags = Vec::new();
        replica.deletion_protection = false;
        replica.resource_policy = None;
        replica.stream_policy = None;
        replica.archival = None;
        replica.sse_changes = Vec::new();
        if let Some(c) = table_class {
            replica.table_class = Some(c.to_owned());
        }
        replica_overrides::apply(&mut replica, &overrides);
        replica.stream = Some(StreamSettings {
            view_type: "NEW_AND_OLD_IMAGES".into(),
            label: iso_millis(now),
            after_seq: 0,
        });
        let mut replica_members = vec![self.region().to_owned()];
        replica_members.extend(others.iter().cloned());
        replica.replication = Some(ReplicationGroup {
            region: region.to_owned(),
            replicas: replica_members,
            seeding_from: Some(self.region().to_owned()),
            legacy_created_ms: None,
            overrides,
            updated_ms: None,
            deleting_ms: None,
            ..Default::default()
        });
        let mut queue: Vec<(String, &str, Value)> = Vec::new();
        match &peer {
            Some(p) => p.create_replica_table(replica, &sse, caller).await?,
            None => {
                let (kind, key) = match &sse {
                    SseRequest::Owned => ("Owned", None),
                    SseRequest::AwsManaged => ("AwsManaged", None),
                    SseRequest::Customer(k) => ("Customer", Some(k.clone())),
                };
                let body = json!({
                    "TableName": name,
                    "Definition": Service::definition_b64(&replica),
                    "Sse": kind,
                    "KMSMasterKeyId": key,
                    "SeedFrom": self.region(),
                });
                // A deployment that does not answer gets it when it does (`outbox.rs`);
                // its own refusal is the caller's error.
                if !self.try_send(&def, region, "CreateReplica", &body).await? {
                    queue.push((region.to_owned(), "CreateReplica", body));
                }
            }
        }
        // Every member learns of the new replica and pulls its changes.
        for other in &others {
            if self.is_remote(other) {
                let body = json!({ "TableName": name, "Region": region });
                queue.push((other.clone(), "AddMember", body));
            } else {
                self.tell_member(other, "AddMember", name, region).await;
            }
        }
        others.push(region.to_owned());
        let old = def.replication.take().unwrap_or_default();
        let mut group = ReplicationGroup {
            region: self.region().to_owned(),
            replicas: others,
            seeding_from: None,
            legacy_created_ms: None,
            overrides: old.overrides,
            updated_ms: None,
            deleting_ms: None,
            outbox: old.outbox,
            // Numbers stay unique beside a queue left from an earlier group.
            outbox_seq: old
                .outbox_seq
                .max(def.left_outbox.as_ref().map_or(0, |l| l.outbox_seq)),
            peer_status: old.peer_status,
        };
        for (to, op, body) in queue {
            crate::outbox::push(&mut group, &to, op, body, now);
        }
        let queued = !group.outbox.is_empty();
        def.replication = Some(group);
        self.save_def(def)?;
        if queued {
            self.spawn_outbox(name);
        }
        self.spawn_puller(name, region);
        // A peer deployment starts its copy when it creates the replica.
        if let Some(p) = &peer {
            p.spawn_seed(name, self.region());
        }
        Ok(())
    }

    /// Tells `other`'s replica of `table` that `region` joined (`AddMember`) or left
    /// (`RemoveMember`), in this process or at a peer deployment.
    pub(crate) async fn tell_member(&self, other: &str, op: &str, table: &str, region: &str) {
        if self.is_remote(other) {
            let body = json!({ "TableName": table, "Region": region });
            // Queued when not answered; if this replica is leaving, its queue goes with
            // it, and the others learn it from ReadChanges instead (`remote.rs`).
            let Some(def) = self.def(table) else { return };
            match self.try_send(&def, other, op, &body).await {
                Ok(true) => {}
                Ok(false) => self.enqueue(table, other, op, body).await,
                Err(e) => {
                    tracing::warn!(table, other, op, error = %e.message(), "a peer deployment refused a group change");
                }
            }
            return;
        }
        if let Some(o) = self.peer(other).await {
            if op == "AddMember" {
                o.add_member(table, region).await;
            } else {
                o.remove_member(table, region).await;
            }
        }
    }

    /// Creates this region's replica table (as DynamoDB, for the caller of UpdateTable).
    pub(crate) async fn create_replica_table(
        &self,
        mut def: TableDef,
        sse: &SseRequest,
        caller: &Principal,
    ) -> Result<(), DynamoError> {
        let sse_key_arn = self.resolve_sse_public(sse, caller).await?;
        let _guard = self.ddl.lock().await;
        let name = def.name.clone();
        if self.def(&name).is_some() {
            return Err(DynamoError::validation(format!(
                "Failed to create a the new replica of table with name: '{name}' because one or more replicas already existed as tables."
            )));
        }
        def.sse_key_arn.clone_from(&sse_key_arn);
        let record = self
            .engine
            .create_table(
                &name,
                def.encode(),
                def.created_ms,
                sse_key_arn,
                Some(caller.clone()),
            )
            .await?;
        def.id = record.id;
        self.save_def(def)?;
        Ok(())
    }

    /// Records that `region` joined the group of `table` and starts pulling from it.
    pub(crate) async fn add_member(&self, table: &str, region: &str) {
        let _guard = self.ddl.lock().await;
        let Some(cur) = self.def(table) else { return };
        let mut def = (*cur).clone();
        let Some(g) = &mut def.replication else {
            return;
        };
        if !g.replicas.iter().any(|r| r == region) {
            g.replicas.push(region.to_owned());
        }
        let seeding = g.seeding_from.is_some();
        if let Err(e) = self.save_def(def) {
            tracing::error!(table, error = ?e, "cannot record a new replica");
            return;
        }
        if !seeding {
            self.spawn_puller(table, region);
        }
    }

    /// Records that `region` left the group of `table` (its pulls end by themselves).
    pub(crate) async fn remove_member(&self, table: &str, region: &str) {
        let _guard = self.ddl.lock().await;
        let Some(cur) = self.def(table) else { return };
        let mut def = (*cur).clone();
        let Some(g) = &mut def.replication else {
            return;
        };
        g.replicas.retain(|r| r != region);
        g.peer_status.retain(|k| k.region != region);
        // A 2017.11.29 global table may keep one member; a 2019.11.21 one ends.
        if g.replicas.is_empty() && g.legacy_created_ms.is_none() {
            def.replication = None;
        }
        if let Err(e) = self.save_def(def) {
            tracing::error!(table, error = ?e, "cannot record a removed replica");
        }
    }

    /// ReplicaUpdates Update: a replica's KMS key (re-wrapping its table key, as
    /// SSESpecification does) or its table class.
    async fn update_replica(
        &self,
        name: &str,
        region: &str,
        kms_key: Option<&str>,
        table_class: Option<&str>,
        raw: &Map<String, Value>,
        caller: &Principal,
    ) -> Result<(), DynamoError> {
        check_table_class(table_class, "update")?;
        let t = self.table_by_name(name).map_err(|_| {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: Table: {name} not found"
            ))
        })?;
        let member = region == self.region()
            || t.def
                .replication
                .as_ref()
                .is_some_and(|g| g.replicas.iter().any(|r| r == region));
        if !member {
            return Err(invalid(&format!(
                "Cannot update a replica that does not exist: no replica of {name} in region {region}"
            )));
        }
        let throughput = [
            "ProvisionedThroughputOverride",
            "OnDemandThroughputOverride",
            "GlobalSecondaryIndexes",
        ]
        .iter()
        .any(|k| raw.get(*k).is_some_and(|v| !v.is_null()));
        if kms_key.is_none() && table_class.is_none() && !throughput {
            return Err(invalid(
                "At least one of KMSMasterKeyId or TableClassOverride is required to update a replica",
            ));
        }
        if region != self.region() && self.is_remote(region) {
            crate::outbox::check_room(&t.def)?;
            let mut update = raw.clone();
            update.remove("RegionName");
            let body = json!({ "TableName": name, "Update": update });
            if !self
                .try_send(&t.def, region, "UpdateReplica", &body)
                .await?
            {
                self.enqueue(name, region, "UpdateReplica", body).await;
            }
            return Ok(());
        }
        let peer = if region == self.region() {
            self.me.upgrade()
        } else {
            self.peer(region).await
        }
        .ok_or(DynamoError::Internal)?;
        peer.change_replica(name, kms_key, table_class, raw, caller)
            .await
    }

    /// Applies a replica update to this region's replica.
    pub(crate) async fn change_replica(
        &self,
        name: &str,
        kms_key: Option<&str>,
        table_class: Option<&str>,
        raw: &Map<String, Value>,
        caller: &Principal,
    ) -> Result<(), DynamoError> {
        let t = self.table_by_name(name)?;
        refuse_if_deleting(&t.def)?;
        let current = t
            .def
            .replication
            .as_ref()
            .map(|g| g.overrides.clone())
            .unwrap_or_default();
        let overrides = replica_overrides::parse(raw, "update", &t.def, &current)?;
        let new_arn = match kms_key {
            None => None,
            Some(k) => {
                let customer = match (&self.kms, &t.def.sse_key_arn) {
                    (Some(v), Some(arn)) => !v.is_aws_managed(caller, arn).await,
                    _ => false,
                };
                if !customer {
                    return Err(invalid(
                        "KMSMasterKeyId can only be changed for replicas encrypted with customer managed keys",
                    ));
                }
                self.resolve_sse_public(&SseRequest::Customer(k.to_owned()), caller)
                    .await?
            }
        };
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_name(name)?.def).clone();
        if let Some(c) = table_class {
            def.table_class = Some(c.to_owned());
        }
        replica_overrides::apply(&mut def, &overrides);
        let now = self.now_ms();
        if let Some(g) = &mut def.replication {
            g.overrides = overrides;
            g.updated_ms = Some(now);
        }
        match new_arn {
            Some(arn) if def.sse_key_arn.as_deref() != Some(arn.as_str()) => {
                def.sse_key_arn = Some(arn.clone());
                def.sse_changes.push(self.now_ms());
                // The new wrapped key and the definition naming it in one catalog write.
                self.engine
                    .rewrap_table(name, Some(arn), Some(caller.clone()), def.encode())
                    .await?;
                self.cache_def(def);
            }
            _ => {
                self.save_def(def)?;
            }
        }
        Ok(())
    }

    async fn delete_replica(&self, name: &str, region: &str) -> Result<(), DynamoError> {
        let t = self.table_by_name(name).map_err(|_| {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: Table: {name} not found"
            ))
        })?;
        let members = t
            .def
            .replication
            .as_ref()
            .map(|g| g.replicas.clone())
            .unwrap_or_default();
        if !members.iter().any(|r| r == region) {
            return Err(invalid(&format!(
                "Cannot delete a replica that does not exist: no replica of {name} in region {region}"
            )));
        }
        if self.is_remote(region) {
            crate::outbox::check_room(&t.def)?;
            let body = json!({ "TableName": name });
            match self.try_send(&t.def, region, "RemoveReplica", &body).await {
                Ok(true) => {}
                Ok(false) => self.enqueue(name, region, "RemoveReplica", body).await,
                // Its table is gone already: only this side's record of it remains.
                Err(DynamoError::ResourceNotFound(_)) => self.remove_member(name, region).await,
                Err(e) => return Err(e),
            }
        } else if let Some(peer) = self.peer(region).await {
            peer.begin_leaving(name).await?;
        } else {
            self.remove_member(name, region).await;
        }
        Ok(())
    }

    /// Marks this region's replica of `name` DELETING (ReplicaUpdates Delete); it leaves
    /// its group once the replica transition has passed.
    pub(crate) async fn begin_leaving(&self, name: &str) -> Result<(), DynamoError> {
        {
            let _guard = self.ddl.lock().await;
            let mut def = (*self.table_by_name(name)?.def).clone();
            refuse_if_deleting(&def)?;
            let now = self.now_ms();
            if let Some(g) = &mut def.replication {
                g.deleting_ms = Some(now);
            }
            self.save_def(def)?;
        }
        self.spawn_leave(name);
        Ok(())
    }

    /// Takes this region's replica out of its group (every other member forgets it) and
    /// deletes the table, as removing a replica does on AWS.
    pub(crate) async fn leave_group(&self, name: &str) -> Result<(), DynamoError> {
        self.forget_group(name).await;
        let _guard = self.ddl.lock().await;
        if let Ok(mut defs) = self.defs.write() {
            defs.remove(name);
        }
        self.engine.delete_table(name).await?;
        Ok(())
    }

    /// Tells every other member that this region's replica of `name` leaves.
    pub(crate) async fn forget_group(&self, name: &str) {
        let Some(def) = self.def(name) else { return };
        let Some(g) = &def.replication else { return };
        for other in &g.replicas {
            self.tell_member(other, "RemoveMember", name, self.region())
                .await;
        }
    }

    /// Adds `GlobalTableVersion` and `Replicas` (the other replicas, as each reports
    /// itself) to a table's description.
    pub(crate) async fn add_replicas(&self, def: &TableDef, d: &mut Value) {
        let Some(group) = &def.replication else {
            return;
        };
        // Version 2017.11.29 tables are separate tables: DescribeGlobalTable tells of them.
        if group.legacy_created_ms.is_some() {
            return;
        }
        let mut replicas = Vec::with_capacity(group.replicas.len());
        for region in &group.replicas {
            let mut note = None;
            let summary = if self.is_remote(region) {
                let (s, n) = self.remote_summary(def, region).await;
                note = n;
                s
            } else {
                match self.peer(region).await {
                    Some(p) => p.replica_summary(&def.name).await,
                    None => None,
                }
            };
            let mut r = json!({ "RegionName": region });
            if let Some(n) = note {
                r["ReplicaStatusDescription"] = json!(n);
            }
            match summary {
                None => r["ReplicaStatus"] = json!("CREATING"),
                Some(s) => {
                    r["ReplicaStatus"] = json!(s.status);
                    if let Some(arn) = s.kms_key_arn {
                        r["KMSMasterKeyId"] = json!(arn);
                    }
                    if let Some(ms) = s.inaccessible_since_ms {
                        r["ReplicaInaccessibleDateTime"] = json!(ms_to_epoch_seconds(ms));
                        r["ReplicaStatusDescription"] = json!(
                            "The replica's AWS KMS key is inaccessible: replication into it is paused"
                        );
                    }
                    if let Some(c) = s.table_class {
                        r["ReplicaTableClassSummary"] = json!({ "TableClass": c });
                    }
                    if !s.indexes.is_empty() {
                        r["GlobalSecondaryIndexes"] = Value::Array(
                            s.indexes
                                .into_iter()
                                .map(|i| json!({ "IndexName": i }))
                                .collect(),
                        );
                    }
                    replica_overrides::describe(&mut r, &s.overrides);
                }
            }
            replicas.push(r);
        }
        d["GlobalTableVersion"] = json!(GLOBAL_TABLE_VERSION);
        d["Replicas"] = Value::Array(replicas);
    }

    /// A replica at a peer deployment, as it reports itself, with the channel's backlog:
    /// how many of this replica's stream records it has not applied yet and how many
    /// replica changes wait in the outbox, for `ReplicaStatusDescription`. A peer that
    /// does not answer shows what its queued changes make it (CREATING, UPDATING,
    /// DELETING), else its last known status (REGION_DISABLED when none is known).
    async fn remote_summary(
        &self,
        def: &TableDef,
        region: &str,
    ) -> (Option<crate::replication::ReplicaSummary>, Option<String>) {
        let me = self.region();
        let pending: Vec<_> = crate::outbox::pending(def, region).collect();
        let queued_note = pending.first().map(|n| {
            format!(
                "{} replica changes wait for the deployment serving {region} (the oldest for {} s)",
                pending.len(),
                (self.now_ms() - n.queued_ms).max(0) / 1000
            )
        });
        let pending_status = pending.iter().rev().find_map(|n| match n.op.as_str() {
            "CreateReplica" => Some("CREATING"),
            "RemoveReplica" => Some("DELETING"),
            "UpdateReplica" => Some("UPDATING"),
            _ => None,
        });
        let join = |a: Option<String>, b: Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        let state = match self
            .remote_raw(region, "ReplicaState", json!({ "TableName": def.name }))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                let known = crate::peer_status::last_known(def, region);
                let summary = known.map(crate::peer_status::KnownReplica::summary);
                let status = if let Some(s) = pending_status {
                    s
                } else if e.not_authorized() {
                    "REPLICATION_NOT_AUTHORIZED"
                } else if e.not_found() {
                    "CREATION_FAILED"
                } else {
                    summary.as_ref().map_or("REGION_DISABLED", |s| s.status)
                };
                let mut summary = summary.unwrap_or_else(|| crate::replication::ReplicaSummary {
                    status,
                    kms_key_arn: None,
                    inaccessible_since_ms: None,
                    table_class: None,
                    indexes: Vec::new(),
                    overrides: Default::default(),
                });
                summary.status = status;
                let why = match &e {
                    crate::remote::RemoteError::Unreachable(_) => format!(
                        "The deployment serving {region} does not answer: changes wait in this replica's stream"
                    ),
                    other => format!("The deployment serving {region} refused: {other}"),
                };
                let why = known
                    .and_then(|k| k.why.clone())
                    .filter(|_| !pending.is_empty())
                    .map_or(why.clone(), |w| format!("{why} ({w})"));
                return (Some(summary), join(Some(why), queued_note));
            }
        };
        let mut summary = crate::replication::ReplicaSummary::from_json(&state["Summary"]);
        if let Some(s) = &summary {
            self.remember_summary(&def.name, region, s);
        }
        if let (Some(s), Some(p)) = (&mut summary, pending_status) {
            s.status = p;
        }
        let applied = state["Checkpoints"][me].as_i64().unwrap_or(0);
        let end = match self.table_by_name(&def.name) {
            Ok(t) => match self.store(&t).await {
                Ok(s) => s.stream_bounds().await.map(|b| b.1).unwrap_or(0),
                Err(_) => 0,
            },
            Err(_) => 0,
        };
        let behind = (end - applied).max(0);
        let note = (behind > 0).then(|| {
            format!(
                "Replication backlog: {behind} stream records of {me} not yet applied in {region}"
            )
        });
        (summary, join(note, queued_note))
    }
}
