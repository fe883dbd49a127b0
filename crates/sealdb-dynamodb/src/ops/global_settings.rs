//! DescribeGlobalTableSettings and UpdateGlobalTableSettings (global tables version
//! 2017.11.29), and DescribeTableReplicaAutoScaling (version 2019.11.21). sealdb has no
//! auto scaling: its settings are never shown, and an auto scaling update is refused.

use crate::error::DynamoError;
use crate::input::{Input, int_value, validation_errors};
use crate::ops::global_tables::{Member, global_table_name};
use crate::ops::tables::{as_obj, enum_error, obj_str};
use crate::schema::{BillingMode, TableDef, ms_to_epoch_seconds};
use crate::service::Service;
use serde_json::{Map, Value, json};

/// One replica's part of UpdateGlobalTableSettings.
struct ReplicaChange {
    region: String,
    read: Option<i64>,
    index_reads: Vec<(String, i64)>,
    table_class: Option<String>,
}

fn capacity(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, DynamoError> {
    let v = int_value(m.get(key), key)?;
    if let Some(n) = v
        && n < 1
    {
        return Err(validation_errors(&[format!(
            "Value '{n}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to 1",
            crate::input::lower_camel(key)
        )]));
    }
    Ok(v)
}

fn list<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], DynamoError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(DynamoError::Serialization(format!(
            "Unexpected value type in payload for member {key}; expected a list"
        ))),
    }
}

fn replica_settings(m: &Member, status: &str) -> Value {
    let d = &m.def;
    let mut billing = json!({ "BillingMode": d.billing_mode.as_str() });
    if let Some(t) = d.last_pay_per_request_ms {
        billing["LastUpdateToPayPerRequestDateTime"] = json!(ms_to_epoch_seconds(t));
    }
    let mut r = json!({
        "RegionName": m.region,
        "ReplicaStatus": status,
        "ReplicaBillingModeSummary": billing,
        "ReplicaProvisionedReadCapacityUnits": d.read_capacity,
        "ReplicaProvisionedWriteCapacityUnits": d.write_capacity,
    });
    let gsis: Vec<Value> = d
        .indexes
        .iter()
        .filter(|i| i.global)
        .map(|i| {
            json!({
                "IndexName": i.name,
                "IndexStatus": i.status.as_str(),
                "ProvisionedReadCapacityUnits": i.read_capacity,
                "ProvisionedWriteCapacityUnits": i.write_capacity,
            })
        })
        .collect();
    if !gsis.is_empty() {
        r["ReplicaGlobalSecondaryIndexSettings"] = Value::Array(gsis);
    }
    if let Some(c) = &d.table_class {
        r["ReplicaTableClassSummary"] = json!({ "TableClass": c });
    }
    r
}

impl Service {
    async fn settings_reply(&self, name: &str) -> Result<Value, DynamoError> {
        let g = self.legacy_group(name).await?;
        let mut settings = Vec::with_capacity(g.members.len());
        for m in &g.members {
            let status = m
                .svc
                .replica_summary(name)
                .await
                .map_or("ACTIVE", |s| s.status);
            settings.push(replica_settings(m, status));
        }
        Ok(json!({ "GlobalTableName": name, "ReplicaSettings": settings }))
    }

    pub(crate) async fn describe_global_table_settings(
        &self,
        input: &Input,
    ) -> Result<Value, DynamoError> {
        let name = global_table_name(input)?;
        self.settings_reply(name).await
    }

    pub(crate) async fn update_global_table_settings(
        &self,
        input: &Input,
    ) -> Result<Value, DynamoError> {
        let name = global_table_name(input)?.to_owned();
        let raw = input.raw();
        let mode = match obj_str(raw, "GlobalTableBillingMode")? {
            None => None,
            Some("PROVISIONED") => Some(BillingMode::Provisioned),
            Some("PAY_PER_REQUEST") => Some(BillingMode::PayPerRequest),
            Some(other) => {
                return Err(validation_errors(&[enum_error(
                    other,
                    "globalTableBillingMode",
                    "PROVISIONED, PAY_PER_REQUEST",
                )]));
            }
        };
        let write = capacity(raw, "GlobalTableProvisionedWriteCapacityUnits")?;
        if raw
            .keys()
            .any(|k| k.contains("AutoScaling") && !raw[k].is_null())
        {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: auto scaling is not supported by this endpoint",
            ));
        }
        let mut index_writes = Vec::new();
        for u in list(raw, "GlobalTableGlobalSecondaryIndexSettingsUpdate")? {
            let m = as_obj(u, "GlobalTableGlobalSecondaryIndexSettingsUpdate")?;
            let index = obj_str(m, "IndexName")?.unwrap_or_default().to_owned();
            if let Some(w) = capacity(m, "ProvisionedWriteCapacityUnits")? {
                index_writes.push((index, w));
            }
        }
        let mut replicas = Vec::new();
        for u in list(raw, "ReplicaSettingsUpdate")? {
            let m = as_obj(u, "ReplicaSettingsUpdate")?;
            let mut index_reads = Vec::new();
            for iu in list(m, "ReplicaGlobalSecondaryIndexSettingsUpdate")? {
                let im = as_obj(iu, "ReplicaGlobalSecondaryIndexSettingsUpdate")?;
                let index = obj_str(im, "IndexName")?.unwrap_or_default().to_owned();
                if let Some(r) = capacity(im, "ProvisionedReadCapacityUnits")? {
                    index_reads.push((index, r));
                }
            }
            replicas.push(ReplicaChange {
                region: obj_str(m, "RegionName")?.unwrap_or_default().to_owned(),
                read: capacity(m, "ReplicaProvisionedReadCapacityUnits")?,
                index_reads,
                table_class: obj_str(m, "ReplicaTableClass")?.map(str::to_owned),
            });
        }
        let g = self.legacy_group(&name).await?;
        let Some(first) = g.members.first() else {
            return Err(crate::ops::global_tables::global_not_found(&name));
        };
        let final_mode = mode.unwrap_or(first.def.billing_mode);
        let capacities = write.is_some()
            || replicas.iter().any(|r| r.read.is_some())
            || !index_writes.is_empty();
        if final_mode == BillingMode::PayPerRequest && capacities {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        // Everything is checked before anything changes.
        for r in &replicas {
            if !g.members.iter().any(|m| m.region == r.region) {
                return Err(DynamoError::ReplicaNotFound(format!(
                    "Failed to update settings for global table with name: '{name}' because a replica does not exist in regions: '[{}]'.",
                    r.region
                )));
            }
            if let Some(c) = &r.table_class
                && c != "STANDARD"
                && c != "STANDARD_INFREQUENT_ACCESS"
            {
                return Err(validation_errors(&[enum_error(
                    c,
                    "replicaSettingsUpdate.1.member.replicaTableClass",
                    "STANDARD, STANDARD_INFREQUENT_ACCESS",
                )]));
            }
        }
        let named = index_writes.iter().map(|(i, _)| i).chain(
            replicas
                .iter()
                .flat_map(|r| r.index_reads.iter().map(|(i, _)| i)),
        );
        for index in named {
            if first.def.index(index).is_none_or(|ix| !ix.global) {
                return Err(DynamoError::IndexNotFound(format!(
                    "Failed to update settings for global table with name: '{name}' because the global secondary indexes with names: '[{index}]' do not exist."
                )));
            }
        }
        let now = self.now_ms();
        for m in &g.members {
            let change = replicas.iter().find(|r| r.region == m.region);
            let index_writes = index_writes.clone();
            let (read, index_reads, class) = match change {
                Some(c) => (c.read, c.index_reads.clone(), c.table_class.clone()),
                None => (None, Vec::new(), None),
            };
            m.svc
                .edit_def(&name, move |d: &mut TableDef| {
                    if final_mode == BillingMode::PayPerRequest
                        && d.billing_mode != BillingMode::PayPerRequest
                    {
                        d.last_pay_per_request_ms = Some(now);
                        d.read_capacity = 0;
                        d.write_capacity = 0;
                        for ix in &mut d.indexes {
                            ix.read_capacity = 0;
                            ix.write_capacity = 0;
                        }
                    }
                    if final_mode == BillingMode::Provisioned
                        && d.billing_mode == BillingMode::PayPerRequest
                    {
                        d.read_capacity = 1;
                        d.write_capacity = 1;
                    }
                    if mode.is_some() {
                        d.billing_mode_explicit = true;
                    }
                    d.billing_mode = final_mode;
                    if let Some(w) = write {
                        d.write_capacity = w;
                    }
                    if let Some(r) = read {
                        d.read_capacity = r;
                    }
                    for ix in d.indexes.iter_mut().filter(|i| i.global) {
                        if let Some((_, w)) = index_writes.iter().find(|(n, _)| *n == ix.name) {
                            ix.write_capacity = *w;
                        }
                        if let Some((_, r)) = index_reads.iter().find(|(n, _)| *n == ix.name) {
                            ix.read_capacity = *r;
                        }
                    }
                    if let Some(c) = class {
                        d.table_class = Some(c);
                    }
                })
                .await?;
        }
        self.settings_reply(&name).await
    }

    /// Changes this region's definition of `name` under the DDL lock.
    async fn edit_def(&self, name: &str, f: impl FnOnce(&mut TableDef)) -> Result<(), DynamoError> {
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_name(name)?.def).clone();
        f(&mut def);
        self.save_def(def)?;
        Ok(())
    }

    /// DescribeTableReplicaAutoScaling: every replica of a global table (2019.11.21),
    /// with its indexes; no auto scaling settings, as none are configured.
    pub(crate) async fn describe_table_replica_auto_scaling(
        &self,
        input: &Input,
    ) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        let name = self.table_name_from(raw).to_owned();
        let not_global = || {
            DynamoError::ResourceNotFound(format!(
                "Global table with name: '{name}' does not exist."
            ))
        };
        let def = self.def(&name).ok_or_else(not_global)?;
        let group = def.replication.as_ref().ok_or_else(not_global)?;
        if group.legacy_created_ms.is_some() {
            return Err(not_global());
        }
        let mut regions: Vec<String> = std::iter::once(group.region.clone())
            .chain(group.replicas.iter().cloned())
            .collect();
        regions.sort();
        let mut replicas = Vec::with_capacity(regions.len());
        for region in regions {
            let Some(svc) = self.region_service(&region).await else {
                continue;
            };
            let Some(d) = svc.def(&name) else { continue };
            let status = svc
                .replica_summary(&name)
                .await
                .map_or("CREATING", |s| s.status);
            let mut r = json!({ "RegionName": region, "ReplicaStatus": status });
            let gsis: Vec<Value> = d
                .indexes
                .iter()
                .filter(|i| i.global)
                .map(|i| json!({ "IndexName": i.name, "IndexStatus": i.status.as_str() }))
                .collect();
            if !gsis.is_empty() {
                r["GlobalSecondaryIndexes"] = Value::Array(gsis);
            }
            replicas.push(r);
        }
        Ok(json!({
            "TableAutoScalingDescription": {
                "TableName": name,
                "TableStatus": "ACTIVE",
                "Replicas": replicas,
            }
        }))
    }
}
