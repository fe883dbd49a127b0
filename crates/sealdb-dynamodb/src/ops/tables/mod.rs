//! Table operations: CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable,
//! tags, TTL, DescribeLimits, DescribeEndpoints. Member parsing is in `params.rs`, encryption
//! at rest in `sse.rs`, tags and Time to Live in `tags_ttl.rs`.

mod params;
mod sse;
mod tags_ttl;

pub(crate) use params::*;
pub use sse::EncryptionSwitches;
pub(crate) use sse::{SseRequest, parse_sse};
pub(crate) use tags_ttl::is_table_arn_shape;

use crate::error::DynamoError;
use crate::input::{Input, null_member, validation_errors};
use crate::on_demand::{OnDemandMax, OnDemandRequest, Subject};
use crate::schema::{BillingMode, TableDef};
use crate::service::Service;
use sealdb_common::Principal;
use serde_json::{Value, json};
use std::sync::Arc;

/// The window of AWS's limit on TableClass changes (30 days).
const TABLE_CLASS_WINDOW_MS: i64 = 30 * 86_400_000;

/// What CreateTable reads from the request alone, checked in AWS's order before any
/// key or table is looked at.
pub(crate) struct CreateTableRequest<'a> {
    name: &'a str,
    hash_key: crate::schema::KeyAttr,
    range_key: Option<crate::schema::KeyAttr>,
    attribute_definitions: Vec<crate::schema::KeyAttr>,
    mode: BillingMode,
    billing: Option<BillingMode>,
    indexes: Vec<crate::index::IndexDef>,
    tags: Vec<(String, String)>,
    read_capacity: i64,
    write_capacity: i64,
    table_class: Option<&'a str>,
    stream: Option<crate::schema::StreamSettings>,
    sse: SseRequest,
    on_demand: OnDemandMax,
}

impl<'a> CreateTableRequest<'a> {
    pub(crate) fn parse(input: &'a Input, now: i64) -> Result<Self, DynamoError> {
        let mut errors = Vec::new();
        let name = input.str_opt("TableName")?;
        match name {
            None => errors.push(null_member("tableName")),
            Some(n) => errors.extend(table_name_errors(n, "tableName", false)),
        }
        let schema = parse_key_schema(input, &mut errors)?;
        let (billing, throughput, table_class) = parse_capacity_settings(input, &mut errors)?;
        let tags = match input.list_opt("Tags")? {
            Some(list) => parse_tags(list, &mut errors)?,
            None => Vec::new(),
        };
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let (Some(name), Some((hash_key, range_key, attribute_definitions))) = (name, schema)
        else {
            return Err(DynamoError::Internal);
        };
        let mode = billing.unwrap_or(BillingMode::Provisioned);
        let indexes = crate::ops::indexes::parse_create_indexes(
            input,
            &attribute_definitions,
            &hash_key,
            range_key.as_ref(),
            mode,
        )?;
        if tags.len() > MAX_TAGS {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: The number of tags exceeds the limit of 50",
            ));
        }
        let (read_capacity, write_capacity) = match (mode, throughput) {
            (BillingMode::Provisioned, None) => {
                return Err(DynamoError::validation(if billing.is_some() {
                    "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
                } else {
                    "No provisioned throughput specified for the table"
                }));
            }
            (BillingMode::Provisioned, Some((r, w))) => (r.unwrap_or(1), w.unwrap_or(1)),
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            (BillingMode::PayPerRequest, None) => (0, 0),
        };
        let on_demand = match input.obj_opt("OnDemandThroughput")? {
            Some(m) => {
                let req = OnDemandRequest::parse(m)?;
                if mode == BillingMode::Provisioned {
                    req.refuse_provisioned(Subject::CreateTable)?;
                }
                req.for_create(Subject::CreateTable)?
            }
            None => OnDemandMax::default(),
        };
        let stream = match input.obj_opt("StreamSpecification")? {
            Some(m) => parse_stream_spec(m, now)?,
            None => None,
        };
        let sse = match input.obj_opt("SSESpecification")? {
            Some(m) => parse_sse(m)?,
            None => SseRequest::Owned,
        };
        Ok(CreateTableRequest {
            name,
            hash_key,
            range_key,
            attribute_definitions,
            mode,
            billing,
            indexes,
            tags,
            read_capacity,
            write_capacity,
            table_class,
            stream,
            sse,
            on_demand,
        })
    }
}

impl Service {
    fn description(&self, def: &TableDef, status: &str, count: u64, size: u64) -> Value {
        let mut d = def.describe(
            status,
            &self.cfg.region,
            &self.cfg.account_id,
            (count, size),
            &[],
        );
        if let Some(arn) = &def.sse_key_arn {
            d["SSEDescription"] =
                json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn});
        }
        d
    }

    /// The description with live item and index statistics.
    pub(crate) async fn live_description(
        &self,
        t: &crate::service::TableRef,
        status: &str,
    ) -> Result<Value, DynamoError> {
        // Opening the store also re-checks the table key when the interval is due.
        let (counts, index_stats) = match self.store(t).await {
            Ok(store) => {
                let stats = store.stats().await?;
                let mut index_stats = Vec::with_capacity(t.def.indexes.len());
                for ix in &t.def.indexes {
                    let s = store.index_stats(ix.number).await?;
                    index_stats.push((s.item_count, s.size_bytes));
                }
                ((stats.item_count, stats.size_bytes), index_stats)
            }
            Err(DynamoError::Validation(_) | DynamoError::AccessDenied(_)) => ((0, 0), Vec::new()),
            Err(e) => return Err(e),
        };
        let inaccessible = t.handle.inaccessible_since();
        let status = if t.def.archival.is_some() && status == "ACTIVE" {
            "ARCHIVED"
        } else if inaccessible.is_some() && status == "ACTIVE" {
            "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
        } else {
            status
        };
        let mut d = t.def.describe(
            status,
            &self.cfg.region,
            &self.cfg.account_id,
            counts,
            &index_stats,
        );
        if let Some(r) = &t.def.restored {
            let mut summary = json!({
                "RestoreDateTime": crate::schema::ms_to_epoch_seconds(r.restore_ms),
                "RestoreInProgress": false,
            });
            if let Some(a) = &r.source_table_arn {
                summary["SourceTableArn"] = json!(a);
            }
            if let Some(a) = &r.source_backup_arn {
                summary["SourceBackupArn"] = json!(a);
            }
            d["RestoreSummary"] = summary;
        }
        if let Some((ms, backup)) = &t.def.archival {
            d["ArchivalSummary"] = json!({
                "ArchivalDateTime": crate::schema::ms_to_epoch_seconds(*ms),
                "ArchivalReason": "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
                "ArchivalBackupArn": backup,
            });
        }
        if let Some(arn) = &t.def.sse_key_arn {
            let mut sse = json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn});
            if let Some(ms) = inaccessible {
                sse["InaccessibleEncryptionDateTime"] =
                    json!(crate::schema::ms_to_epoch_seconds(ms));
            }
            d["SSEDescription"] = sse;
        }
        Ok(d)
    }

    pub(crate) async fn create_table(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let now = self.now_ms();
        let CreateTableRequest {
            name,
            hash_key,
            range_key,
            attribute_definitions,
            mode,
            billing,
            indexes,
            tags,
            read_capacity,
            write_capacity,
            table_class,
            stream,
            sse,
            on_demand,
        } = CreateTableRequest::parse(input, now)?;
        let region = &self.cfg.region;
        capacity_above_max(read_capacity, write_capacity, region)?;
        on_demand.check_account_max(Subject::CreateTable, region, MAX_CAPACITY)?;
        for ix in &indexes {
            ix.on_demand
                .check_account_max(Subject::Index(&ix.name), region, MAX_CAPACITY)?;
        }
        let sse_key_arn = self.resolve_sse(&sse, caller).await?;
        let resource_policy =
            crate::ops::policies::initial_policy(input.str_opt("ResourcePolicy")?, now)?;
        let _guard = self.ddl.lock().await;
        if self.def(name).is_some() {
            return Err(DynamoError::ResourceInUse(format!(
                "Table already exists: {name}"
            )));
        }
        let mut def = TableDef {
            name: name.to_owned(),
            id: String::new(),
            created_ms: now,
            hash_key,
            range_key,
            attribute_definitions,
            billing_mode: mode,
            billing_mode_explicit: billing.is_some(),
            last_pay_per_request_ms: (mode == BillingMode::PayPerRequest).then_some(now),
            read_capacity,
            write_capacity,
            last_increase_ms: None,
            last_decrease_ms: None,
            table_class: table_class.map(str::to_owned),
            table_class_changes: Vec::new(),
            deletion_protection: input
                .bool_opt("DeletionProtectionEnabled")?
                .unwrap_or(false),
            stream,
            ttl_attribute: None,
            ttl_change: None,
            tags,
            next_index_number: u32::try_from(indexes.len()).unwrap_or(0) + 1,
            indexes,
            sse_key_arn: None,
            sse_changes: Vec::new(),
            archival: None,
            resource_policy,
            stream_policy: None,
            replication: None,
            pitr: None,
            restored: None,
            on_demand,
            left_outbox: None,
        };
        // The id is chosen by the engine; store the definition, then record the id in it.
        def.sse_key_arn.clone_from(&sse_key_arn);
        let record = match self
            .engine
            .create_table(name, def.encode(), now, sse_key_arn, Some(caller.clone()))
            .await
        {
            Ok(r) => r,
            Err(sealdb_storage::StorageError::TableExists) => {
                return Err(DynamoError::ResourceInUse(format!(
                    "Table already exists: {name}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        def.id = record.id.clone();
        self.engine.update_definition(name, def.encode())?;
        let desc = self.description(&def, "CREATING", 0, 0);
        if let Ok(mut defs) = self.defs.write() {
            defs.insert(name.to_owned(), Arc::new(def));
        }
        Ok(json!({ "TableDescription": desc }))
    }

    pub(crate) async fn describe_table(&self, input: &Input) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        validate_table_name_param(raw)?;
        let name = self.table_name_from(raw);
        let t = self.table(input).map_err(|_| not_found_table(name))?;
        let status = self.table_status(&t.def);
        let mut d = self.live_description(&t, status).await?;
        self.add_replicas(&t.def, &mut d).await;
        Ok(json!({ "Table": d }))
    }

    /// The TableStatus of a table requests can see: a replica being removed or changed
    /// through ReplicaUpdates shows it.
    pub(crate) fn table_status(&self, def: &TableDef) -> &'static str {
        match &def.replication {
            Some(g) if g.deleting_ms.is_some() => "DELETING",
            Some(g) if self.replica_updating(g) => "UPDATING",
            _ => "ACTIVE",
        }
    }

    pub(crate) fn list_tables(&self, input: &Input) -> Result<Value, DynamoError> {
        let limit = input.int_opt("Limit")?;
        let start = input.str_opt("ExclusiveStartTableName")?;
        let mut errors = Vec::new();
        if let Some(l) = limit {
            if l < 1 {
                errors.push(format!("Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"));
            } else if l > 100 {
                errors.push(format!("Value '{l}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"));
            }
        }
        if let Some(s) = start {
            errors.extend(table_name_errors(s, "exclusiveStartTableName", false));
        }
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let limit = usize::try_from(limit.unwrap_or(100)).unwrap_or(100);
        let mut names: Vec<String> = match self.defs.read() {
            Ok(d) => d.keys().cloned().collect(),
            Err(_) => return Err(DynamoError::Internal),
        };
        names.sort();
        let page: Vec<String> = names
            .into_iter()
            .filter(|n| start.is_none_or(|s| n.as_str() > s))
            .take(limit + 1)
            .collect();
        let mut out = json!({});
        if page.len() > limit {
            out["LastEvaluatedTableName"] = Value::from(page[limit - 1].clone());
        }
        out["TableNames"] = Value::from(page.into_iter().take(limit).collect::<Vec<_>>());
        Ok(out)
    }

    pub(crate) async fn delete_table(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        validate_table_name_param(raw)?;
        let name = self.table_name_from(raw).to_owned();
        let _guard = self.ddl.lock().await;
        let t = self.table(input).map_err(|_| not_found_table(&name))?;
        if t.def.deletion_protection {
            return Err(DynamoError::validation(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
            ));
        }
        let mut desc = self.live_description(&t, "DELETING").await?;
        // Deleting a replica takes it out of its global table.
        drop(_guard);
        self.forget_group(&name).await;
        let _guard = self.ddl.lock().await;
        // A table being deleted no longer lists its global indexes (they go first).
        if let Some(m) = desc.as_object_mut() {
            m.remove("GlobalSecondaryIndexes");
        }
        // As AWS: the table's last state outlives it while recovery was on.
        if t.def.pitr.is_some() {
            self.system_backup_before_delete(&t, caller).await?;
        }
        if let Ok(mut defs) = self.defs.write() {
            defs.remove(&name);
        }
        self.engine.delete_table(&name).await?;
        Ok(json!({ "TableDescription": desc }))
    }

    /// Stores a changed definition in the catalog and the cache.
    pub(crate) fn save_def(&self, def: TableDef) -> Result<Arc<TableDef>, DynamoError> {
        self.engine.update_definition(&def.name, def.encode())?;
        Ok(self.cache_def(def))
    }

    /// Makes `def` (already in the catalog) the definition requests see.
    pub(crate) fn cache_def(&self, def: TableDef) -> Arc<TableDef> {
        let def = Arc::new(def);
        if let Ok(mut defs) = self.defs.write() {
            defs.insert(def.name.clone(), Arc::clone(&def));
        }
        def
    }

    pub(crate) async fn update_table(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        validate_table_name_param(raw)?;
        let name = self.table_name_from(raw).to_owned();
        let mut errors = Vec::new();
        let (billing, throughput, table_class) = parse_capacity_settings(input, &mut errors)?;
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let protection = input.bool_opt("DeletionProtectionEnabled")?;
        let stream_spec = input.obj_opt("StreamSpecification")?;
        let on_demand = input
            .obj_opt("OnDemandThroughput")?
            .map(OnDemandRequest::parse)
            .transpose()?;
        if input.has("SSESpecification") {
            let others = [
                "BillingMode",
                "ProvisionedThroughput",
                "TableClass",
                "DeletionProtectionEnabled",
                "StreamSpecification",
                "GlobalSecondaryIndexUpdates",
                "ReplicaUpdates",
                "OnDemandThroughput",
            ];
            if others.iter().any(|m| input.has(m)) {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Server-Side Encryption modification must be the only operation in the request",
                ));
            }
            return self.update_sse(input, caller).await;
        }
        let nothing_else = billing.is_none()
            && throughput.is_none()
            && table_class.is_none()
            && protection.is_none()
            && stream_spec.is_none()
            && on_demand.is_none();
        let nothing = || {
            DynamoError::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            )
        };
        // An empty list counts as absent alone, and is refused beside another change.
        if input
            .list_opt("GlobalSecondaryIndexUpdates")?
            .is_some_and(Vec::is_empty)
        {
            return Err(if nothing_else && !input.has("ReplicaUpdates") {
                nothing()
            } else {
                DynamoError::validation(
                    "One or more parameter values were invalid: List of GlobalSecondaryIndexUpdates is empty",
                )
            });
        }
        if input.has("GlobalSecondaryIndexUpdates") {
            return self.update_indexes(input).await;
        }
        if input.has("ReplicaUpdates") {
            return self.update_replicas(input, caller).await;
        }
        if nothing_else {
            return Err(nothing());
        }
        let _guard = self.ddl.lock().await;
        let t = self.table(input).map_err(|_| not_found_table(&name))?;
        let mut def = (*t.def).clone();
        let now = self.now_ms();
        let mode = billing.unwrap_or(def.billing_mode);
        match (mode, throughput) {
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            (BillingMode::Provisioned, None) if def.billing_mode == BillingMode::PayPerRequest => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
                ));
            }
            (BillingMode::Provisioned, Some((r, w))) => {
                let (r, w) = (r.unwrap_or(1), w.unwrap_or(1));
                capacity_above_max(r, w, &self.cfg.region)?;
                if def.billing_mode == BillingMode::Provisioned
                    && billing.is_none()
                    && r == def.read_capacity
                    && w == def.write_capacity
                {
                    return Err(DynamoError::validation(format!(
                        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnitsForTable: {}, Requested ReadCapacityUnitsForTable: {r}. Current WriteCapacityUnitsForTable: {}, Requested WriteCapacityUnitsForTable: {w}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                        def.read_capacity, def.write_capacity
                    )));
                }
                if r > def.read_capacity || w > def.write_capacity {
                    def.last_increase_ms = Some(now);
                }
                if r < def.read_capacity || w < def.write_capacity {
                    def.last_decrease_ms = Some(now);
                }
                def.read_capacity = r;
                def.write_capacity = w;
            }
            _ => {}
        }
        if billing.is_some() {
            def.billing_mode_explicit = true;
        }
        if mode == BillingMode::PayPerRequest && def.billing_mode != BillingMode::PayPerRequest {
            def.last_pay_per_request_ms = Some(now);
            def.read_capacity = 0;
            def.write_capacity = 0;
        }
        // The answer shows a maximum this request takes away as -1 (DescribeTable then
        // leaves it out).
        let mut on_demand_shown = None;
        if let Some(req) = on_demand {
            if mode == BillingMode::Provisioned {
                req.refuse_provisioned(Subject::UpdateTable)?;
            }
            let (next, shown) = req.merge(def.on_demand, Subject::UpdateTable)?;
            next.check_account_max(Subject::UpdateTable, &self.cfg.region, MAX_CAPACITY)?;
            def.on_demand = next;
            on_demand_shown = Some(shown).filter(|v| v.as_object().is_some_and(|m| !m.is_empty()));
        }
        if mode == BillingMode::Provisioned {
            // Maximums belong to on-demand capacity; a switch to provisioned ends them.
            def.on_demand = OnDemandMax::default();
            for ix in &mut def.indexes {
                ix.on_demand = OnDemandMax::default();
            }
        }
        def.billing_mode = mode;
        if let Some(c) = table_class {
            // AWS: two changes in 30 days; once spent, even a re-send is refused.
            def.table_class_changes
                .retain(|t| now - t < TABLE_CLASS_WINDOW_MS);
            if def.table_class_changes.len() >= 2 {
                return Err(DynamoError::LimitExceeded(
                    "Subscriber limit exceeded: Updates to TableClass are limited to 2 times in 30 day(s).".into(),
                ));
            }
            if def.table_class.as_deref().unwrap_or("STANDARD") != c {
                def.table_class_changes.push(now);
            }
            def.table_class = Some(c.to_owned());
        }
        if let Some(p) = protection {
            def.deletion_protection = p;
        }
        if let Some(m) = stream_spec {
            let new = parse_stream_spec(m, now)?;
            match (&def.stream, &new) {
                (Some(_), Some(_)) => {
                    return Err(DynamoError::validation(format!(
                        "Table already has an enabled stream: TableName: {name}"
                    )));
                }
                (None, None) => {
                    return Err(DynamoError::validation(
                        "Stream is already disabled for this table",
                    ));
                }
                (None, Some(_)) => {
                    // Records of an earlier stream stay in the file until they age out.
                    let last = self.store(&t).await?.stream_bounds().await?.1;
                    def.stream = new.map(|s| crate::schema::StreamSettings {
                        after_seq: last,
                        ..s
                    });
                }
                (Some(_), None) if def.replication.is_some() => {
                    return Err(DynamoError::validation(
                        "One or more parameter values were invalid: Streams cannot be disabled on a table with replicas",
                    ));
                }
                (Some(_), None) => def.stream = None,
            }
        }
        let def = self.save_def(def)?;
        let t = crate::service::TableRef {
            def,
            handle: t.handle,
        };
        let mut d = self.live_description(&t, "ACTIVE").await?;
        if let Some(shown) = on_demand_shown {
            d["OnDemandThroughput"] = shown;
        }
        Ok(json!({ "TableDescription": d }))
    }
}
