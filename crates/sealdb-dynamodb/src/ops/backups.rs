//! On-demand backups: CreateBackup, DescribeBackup, ListBackups, DeleteBackup and
//! RestoreTableFromBackup. A backup is its own SQLCipher file under a fresh data key,
//! wrapped by the table's KMS key at backup time (so an old backup needs its old key).

use crate::error::DynamoError;
use crate::input::{Input, null_member, validation_errors};
use crate::ops::pitr::already_exists;
use crate::ops::restore_overrides::{RestoreOverrides, reset_for_restore};
use crate::ops::tables::{parse_sse, table_name_errors};
use crate::schema::{TableDef, ms_to_epoch_seconds};
use crate::service::Service;
use sealdb_common::Principal;
use sealdb_storage::BackupRecord;
use serde_json::{Value, json};
use std::sync::Arc;

/// What the catalog keeps about a backup beside its key: version byte ‖ JSON. Version 2
/// (written since multi-attribute index keys) holds the table definition in its
/// definition-v2 shape; version 1 details (one key attribute per index role) still read.
fn encode_details(v: &Value) -> Vec<u8> {
    let mut out = vec![2u8];
    out.extend(serde_json::to_vec(v).unwrap_or_default());
    out
}

fn decode_details(b: &[u8]) -> Option<Value> {
    match b.split_first() {
        Some((1 | 2, rest)) => serde_json::from_slice(rest).ok(),
        _ => None,
    }
}

struct Backup {
    rec: BackupRecord,
    details: Value,
}

impl Backup {
    fn arn(&self) -> &str {
        self.details["BackupArn"].as_str().unwrap_or_default()
    }

    fn def(&self) -> Option<TableDef> {
        serde_json::from_value(self.details["TableDef"].clone()).ok()
    }

    /// USER, or SYSTEM for the backup DeleteTable keeps of a table with point-in-time
    /// recovery on (details without the member are USER backups).
    fn backup_type(&self) -> &str {
        self.details["BackupType"].as_str().unwrap_or("USER")
    }

    fn backup_details(&self, status: &str) -> Value {
        json!({
            "BackupArn": self.arn(),
            "BackupName": self.details["BackupName"],
            "BackupSizeBytes": self.details["BackupSizeBytes"],
            "BackupStatus": status,
            "BackupType": self.backup_type(),
            "BackupCreationDateTime": ms_to_epoch_seconds(self.rec.created_ms),
        })
    }
}

impl Service {
    fn backups(&self) -> Result<Vec<Backup>, DynamoError> {
        Ok(self
            .engine
            .backups()?
            .into_iter()
            .filter_map(|rec| decode_details(&rec.details).map(|details| Backup { rec, details }))
            .collect())
    }

    fn backup_by_arn(&self, arn: &str) -> Result<Backup, DynamoError> {
        self.backups()?
            .into_iter()
            .find(|b| b.arn() == arn)
            .ok_or_else(|| DynamoError::BackupNotFound(format!("Backup not found: {arn}")))
    }

    fn backup_description(&self, b: &Backup, status: &str) -> Value {
        let mut d = json!({ "BackupDetails": b.backup_details(status) });
        if let Some(def) = b.def() {
            let arn = def.arn(&self.cfg.region, &self.cfg.account_id);
            let mut key_schema =
                vec![json!({"AttributeName": def.hash_key.name, "KeyType": "HASH"})];
            if let Some(r) = &def.range_key {
                key_schema.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
            }
            d["SourceTableDetails"] = json!({
                "TableName": def.name, "TableId": def.id, "TableArn": arn,
                "TableSizeBytes": b.details["TableSizeBytes"], "ItemCount": b.details["ItemCount"],
                "KeySchema": key_schema, "TableCreationDateTime": ms_to_epoch_seconds(def.created_ms),
                "ProvisionedThroughput": {"ReadCapacityUnits": def.read_capacity, "WriteCapacityUnits": def.write_capacity},
                "BillingMode": def.billing_mode.as_str(),
            });
            if let Some(m) = def.on_demand.describe() {
                d["SourceTableDetails"]["OnDemandThroughput"] = m;
            }
            let mut features = json!({});
            if let Some(k) = &def.sse_key_arn {
                features["SSEDescription"] =
                    json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": k});
            }
            let full = def.describe(
                "ACTIVE",
                &self.cfg.region,
                &self.cfg.account_id,
                (0, 0),
                &[],
            );
            for k in [
                "GlobalSecondaryIndexes",
                "LocalSecondaryIndexes",
                "StreamSpecification",
            ] {
                if let Some(v) = full.get(k) {
                    features[k] = v.clone();
                }
            }
            d["SourceTableFeatureDetails"] = features;
        }
        d
    }

    pub(crate) async fn create_backup(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        let name = input.str_req("BackupName")?;
        let mut errors = table_name_errors(name, "backupName", false);
        errors.extend(table_name_errors(raw, "tableName", true));
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let table = self.table_name_from(raw).to_owned();
        let t = self
            .table(input)
            .map_err(|_| DynamoError::TableNotFound(format!("Table not found: {table}")))?;
        let b = self.backup_of(&t, name, None, caller).await?;
        Ok(json!({ "BackupDetails": b.backup_details("AVAILABLE") }))
    }

    /// DeleteTable of a table with point-in-time recovery on: AWS keeps a SYSTEM backup
    /// of it (`<table>$DeletedTableBackup`), restorable with RestoreTableFromBackup.
    pub(crate) async fn system_backup_before_delete(
        &self,
        t: &crate::service::TableRef,
        caller: &Principal,
    ) -> Result<(), DynamoError> {
        let name = format!("{}$DeletedTableBackup", t.def.name);
        self.backup_of(t, &name, Some("SYSTEM"), caller).await?;
        Ok(())
    }

    /// Backs `t` up as `name` (its details record the table definition; `backup_type`
    /// only when not USER), sealed under the table's own KMS key as `caller`.
    async fn backup_of(
        &self,
        t: &crate::service::TableRef,
        name: &str,
        backup_type: Option<&str>,
        caller: &Principal,
    ) -> Result<Backup, DynamoError> {
        let stats = self.store(t).await?.stats().await?;
        let now = self.now_ms();
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let backup_arn = format!(
            "{}/backup/{now:013}-{suffix}",
            t.def.arn(&self.cfg.region, &self.cfg.account_id)
        );
        let mut details = json!({
            "BackupArn": backup_arn, "BackupName": name, "BackupSizeBytes": stats.size_bytes,
            "TableSizeBytes": stats.size_bytes, "ItemCount": stats.item_count,
            "TableDef": serde_json::to_value(&*t.def).unwrap_or_default(),
        });
        if let Some(kind) = backup_type {
            details["BackupType"] = Value::from(kind);
        }
        let rec = self
            .engine
            .create_backup(
                &t.def.name,
                encode_details(&details),
                now,
                t.def.sse_key_arn.clone(),
                Some(caller.clone()),
            )
            .await?;
        Ok(Backup { rec, details })
    }

    pub(crate) fn describe_backup(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("BackupArn")?;
        let b = self.backup_by_arn(arn)?;
        Ok(json!({ "BackupDescription": self.backup_description(&b, "AVAILABLE") }))
    }

    pub(crate) fn list_backups(&self, input: &Input) -> Result<Value, DynamoError> {
        let table = input
            .str_opt("TableName")?
            .map(|t| self.table_name_from(t).to_owned());
        let limit =
            usize::try_from(input.int_opt("Limit")?.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
        let start = input.str_opt("ExclusiveStartBackupArn")?;
        // AWS lists USER backups unless BackupType asks for others.
        let wanted = match input.str_opt("BackupType")?.unwrap_or("USER") {
            t @ ("USER" | "SYSTEM" | "AWS_BACKUP" | "ALL") => t,
            other => {
                return Err(validation_errors(&[crate::ops::tables::enum_error(
                    other,
                    "backupType",
                    "USER, SYSTEM, AWS_BACKUP, ALL",
                )]));
            }
        };
        let all: Vec<Backup> = self
            .backups()?
            .into_iter()
            .filter(|b| table.as_deref().is_none_or(|t| b.rec.table_name == t))
            .filter(|b| wanted == "ALL" || b.backup_type() == wanted)
            .collect();
        let skip = match start {
            Some(s) => all.iter().position(|b| b.arn() == s).map_or(0, |p| p + 1),
            None => 0,
        };
        let page: Vec<&Backup> = all.iter().skip(skip).take(limit).collect();
        let summaries: Vec<Value> = page
            .iter()
            .map(|b| {
                let mut v = b.backup_details("AVAILABLE");
                v["TableName"] = Value::from(b.rec.table_name.clone());
                if let Some(def) = b.def() {
                    v["TableId"] = Value::from(def.id.clone());
                    v["TableArn"] = Value::from(def.arn(&self.cfg.region, &self.cfg.account_id));
                }
                v
            })
            .collect();
        let mut out = json!({ "BackupSummaries": summaries });
        if skip + page.len() < all.len()
            && let Some(last) = page.last()
        {
            out["LastEvaluatedBackupArn"] = Value::from(last.arn().to_owned());
        }
        Ok(out)
    }

    pub(crate) async fn delete_backup(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("BackupArn")?;
        let b = self.backup_by_arn(arn)?;
        let desc = self.backup_description(&b, "DELETED");
        self.engine.delete_backup(&b.rec.id).await?;
        Ok(json!({ "BackupDescription": desc }))
    }

    /// Re-checks every KMS-encrypted table's key (marking tables inaccessible or back),
    /// and archives a table whose key stayed unusable for `archive_after_ms`.
    pub async fn check_table_keys(&self, archive_after_ms: i64) {
        let defs: Vec<Arc<TableDef>> = match self.defs.read() {
            Ok(d) => d.values().cloned().collect(),
            Err(_) => return,
        };
        for def in defs {
            if def.sse_key_arn.is_none() || def.archival.is_some() {
                continue;
            }
            let Some(handle) = self.engine.table(&def.name) else {
                continue;
            };
            let _ = self.engine.store(&handle).await;
            let now = self.now_ms();
            let Some(since) = handle.inaccessible_since() else {
                continue;
            };
            self.leave_group_if_inaccessible(&def.name, since).await;
            // A deleted key never comes back: the table is archived at once.
            if now - since < archive_after_ms && !self.table_key_deleted(&def).await {
                continue;
            }
            if let Err(e) = self.archive(&def, now).await {
                tracing::error!(table = %def.name, error = ?e, "archiving failed");
            }
        }
    }

    /// Whether the KMS key of the table was deleted (its material erased), so the table
    /// key, and every item, index entry and stream record under it, is gone for good.
    async fn table_key_deleted(&self, def: &TableDef) -> bool {
        match (&self.kms, &def.sse_key_arn) {
            (Some(vault), Some(arn)) => !vault.key_exists(arn).await,
            _ => false,
        }
    }

    async fn archive(&self, def: &TableDef, now: i64) -> Result<(), DynamoError> {
        let _guard = self.ddl.lock().await;
        let backup_arn = format!(
            "{}/backup/{now:013}-archival",
            def.arn(&self.cfg.region, &self.cfg.account_id)
        );
        let details = json!({
            "BackupArn": backup_arn, "BackupName": format!("{}-archival", def.name),
            "BackupSizeBytes": 0, "TableSizeBytes": 0, "ItemCount": 0,
            "TableDef": serde_json::to_value(def).unwrap_or_default(),
        });
        self.engine
            .archive_table(&def.name, encode_details(&details), now)
            .await?;
        let mut d = def.clone();
        d.archival = Some((now, backup_arn));
        self.save_def(d)?;
        Ok(())
    }

    pub(crate) async fn restore_table_from_backup(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let target = input.str_opt("TargetTableName")?;
        let Some(target) = target else {
            return Err(validation_errors(&[null_member("targetTableName")]));
        };
        let mut errors = table_name_errors(target, "targetTableName", false);
        let overrides = RestoreOverrides::parse(input, &mut errors)?;
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let arn = input.str_req("BackupArn")?;
        // AWS tells a table's ARN given for the backup's apart from an unknown backup.
        if crate::ops::tables::is_table_arn_shape(arn) {
            return Err(DynamoError::validation("Invalid Backup ARN"));
        }
        let b = self.backup_by_arn(arn)?;
        let source = b.def().ok_or(DynamoError::Internal)?;
        let mut def = source.clone();
        overrides.apply(&mut def, &source, self.now_ms())?;
        // Without an override the restored table keeps the backup's encryption settings.
        let kms_key = match input.obj_opt("SSESpecificationOverride")? {
            Some(m) => {
                let sse = parse_sse(m)?;
                self.resolve_sse_public(&sse, caller).await?
            }
            None => def.sse_key_arn.clone(),
        };
        let _guard = self.ddl.lock().await;
        if self.def(target).is_some() {
            return Err(already_exists(target));
        }
        let now = self.now_ms();
        reset_for_restore(&mut def, target, now);
        def.sse_key_arn.clone_from(&kms_key);
        def.restored = Some(crate::schema::RestoreInfo {
            source_table_arn: b.details["TableDef"]["name"].as_str().map(|n| {
                format!(
                    "arn:aws:dynamodb:{}:{}:table/{n}",
                    self.cfg.region, self.cfg.account_id
                )
            }),
            source_backup_arn: Some(arn.to_owned()),
            restore_ms: now,
        });
        let rec = self
            .engine
            .restore_table(
                &b.rec,
                target,
                def.encode(),
                now,
                kms_key,
                Some(caller.clone()),
            )
            .await
            .map_err(|e| match e {
                sealdb_storage::StorageError::TableExists => already_exists(target),
                other => other.into(),
            })?;
        def.id = rec.id.clone();
        self.engine.update_definition(target, def.encode())?;
        let def = Arc::new(def);
        if let Ok(mut defs) = self.defs.write() {
            defs.insert(target.to_owned(), Arc::clone(&def));
        }
        let t = self.table_by_name(target)?;
        let d = self.live_description(&t, "ACTIVE").await?;
        Ok(json!({ "TableDescription": d }))
    }
}
