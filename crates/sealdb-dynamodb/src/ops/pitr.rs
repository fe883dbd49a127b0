//! Point-in-time recovery: UpdateContinuousBackups, DescribeContinuousBackups and
//! RestoreTableToPointInTime.
//!
//! While recovery is on, every change of an item (every write path goes through
//! `index::mutations`) first keeps the item as it was in the table's own encrypted file
//! (`pitr_undo`, in the same transaction). A restore copies the source table, undoes
//! every change made after the restore time, newest first, and rebuilds the indexes of
//! the new table, which gets its own table key (the SSE override's KMS key, else the
//! source's).

use crate::error::DynamoError;
use crate::index::IndexStatus;
use crate::input::{Input, int_value, null_member, validation_errors};
use crate::ops::indexes::put_index_entry;
use crate::ops::restore_overrides::{RestoreOverrides, reset_for_restore};
use crate::ops::scan::decode;
use crate::ops::tables::{parse_sse, table_name_errors};
use crate::schema::{BillingMode, PitrSettings, RestoreInfo, TableDef, ms_to_epoch_seconds};
use crate::service::{Service, TableRef};
use sealdb_common::Principal;
use sealdb_storage::{Decision, ItemKey, TableStore, WriteTx};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// AWS: LatestRestorableDateTime is typically 5 minutes before the current time.
pub const DEFAULT_LATEST_RESTORABLE_LAG_MS: i64 = 5 * 60 * 1000;
static LATEST_RESTORABLE_LAG_MS: AtomicI64 = AtomicI64::new(DEFAULT_LATEST_RESTORABLE_LAG_MS);

/// Sets how far LatestRestorableDateTime lags behind now, for every table of this
/// process (`serve --pitr-latest-lag-secs`; tests use 0 so restores need no waiting).
pub fn set_latest_restorable_lag_ms(ms: i64) {
    LATEST_RESTORABLE_LAG_MS.store(ms.max(0), Ordering::Relaxed);
}

/// RecoveryPeriodInDays when the request names none (AWS: 35).
const DEFAULT_RECOVERY_DAYS: u32 = 35;
/// Items per index-rebuild write unit.
const REBUILD_BATCH: usize = 256;
/// History rows deleted per write unit when recovery is turned off.
const CLEAR_BATCH: usize = 1024;

/// The restorable window of a table with recovery on: (earliest, latest), ms.
fn window(p: &PitrSettings, now: i64) -> (i64, i64) {
    let earliest = p.enabled_ms.max(now.saturating_sub(p.period_ms()));
    let lag = LATEST_RESTORABLE_LAG_MS.load(Ordering::Relaxed);
    // Just after recovery is turned on, the latest restorable time is its start.
    (earliest, now.saturating_sub(lag).max(earliest))
}

fn table_not_found(name: &str) -> DynamoError {
    DynamoError::TableNotFound(format!("Table not found: {name}"))
}

impl Service {
    /// The table named by `TableName` (a name or an ARN), or TableNotFoundException.
    fn pitr_table(&self, input: &Input) -> Result<TableRef, DynamoError> {
        let raw = input.str_req("TableName")?;
        let errors = table_name_errors(raw, "tableName", true);
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let name = self.table_name_from(raw);
        self.table_by_name(name).map_err(|_| table_not_found(name))
    }

    fn continuous_backups_description(&self, def: &TableDef) -> Value {
        let pitr = match &def.pitr {
            Some(p) => {
                let (earliest, latest) = window(p, self.now_ms());
                json!({
                    "PointInTimeRecoveryStatus": "ENABLED",
                    "RecoveryPeriodInDays": p.recovery_days,
                    "EarliestRestorableDateTime": ms_to_epoch_seconds(earliest),
                    "LatestRestorableDateTime": ms_to_epoch_seconds(latest),
                })
            }
            None => json!({"PointInTimeRecoveryStatus": "DISABLED"}),
        };
        json!({
            "ContinuousBackupsStatus": "ENABLED",
            "PointInTimeRecoveryDescription": pitr,
        })
    }

    pub(crate) fn describe_continuous_backups(&self, input: &Input) -> Result<Value, DynamoError> {
        let t = self.pitr_table(input)?;
        Ok(json!({"ContinuousBackupsDescription": self.continuous_backups_description(&t.def)}))
    }

    pub(crate) async fn update_continuous_backups(
        &self,
        input: &Input,
    ) -> Result<Value, DynamoError> {
        let spec = parse_spec(input)?;
        let t = self.pitr_table(input)?;
        let _guard = self.ddl.lock().await;
        let current = self
            .def(&t.def.name)
            .ok_or_else(|| table_not_found(&t.def.name))?;
        let mut def = (*current).clone();
        let store = self.store(&t).await?;
        match spec {
            Some(days) => {
                let was_on = def.pitr.is_some();
                let days = days.or(def.pitr.as_ref().map(|p| p.recovery_days));
                let enabled_ms = def.pitr.as_ref().map_or(self.now_ms(), |p| p.enabled_ms);
                def.pitr = Some(PitrSettings {
                    enabled_ms,
                    recovery_days: days.unwrap_or(DEFAULT_RECOVERY_DAYS),
                });
                let saved = self.save_def(def)?;
                if !was_on {
                    // Writes already queued were built with the old definition and keep
                    // no history: the window starts once the writer has passed them.
                    let after_queued = store
                        .write_when_room(|_tx: &mut dyn WriteTx| Ok(Decision::Commit(wall_ms())))
                        .await?;
                    let mut def = (*saved).clone();
                    if let Some(p) = def.pitr.as_mut() {
                        p.enabled_ms = p.enabled_ms.max(after_queued);
                    }
                    self.save_def(def)?;
                }
            }
            None => {
                def.pitr = None;
                self.save_def(def)?;
                // Turned off: the history goes (a later enable starts a new window).
                clear_history(&store).await?;
            }
        }
        let def = self
            .def(&t.def.name)
            .ok_or_else(|| table_not_found(&t.def.name))?;
        Ok(json!({"ContinuousBackupsDescription": self.continuous_backups_description(&def)}))
    }

    pub(crate) async fn restore_table_to_point_in_time(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let req = RestoreRequest::parse(input)?;
        // A name, or an ARN of this account and region (any other names no table here).
        let source_name = self.table_name_from(&req.source).to_owned();
        let source = self
            .table_by_name(&source_name)
            .map_err(|_| table_not_found(&source_name))?;
        // AWS's order: recovery on, the time in the window, then the target's name.
        let Some(pitr) = source.def.pitr.clone() else {
            return Err(DynamoError::PointInTimeRecoveryUnavailable(format!(
                "Point in time recovery is not enabled for table '{source_name}'"
            )));
        };
        let now = self.now_ms();
        let (earliest, latest) = window(&pitr, now);
        let restore_ms = match req.time {
            RestoreTime::Latest => latest,
            RestoreTime::At(ms) if ms < earliest || ms > latest => {
                return Err(DynamoError::InvalidRestoreTime(format!(
                    "RestoreDateTime '{}' must be within EarliestRestorableDateTime '{}' and LatestRestorableDateTime '{}'",
                    iso_seconds(ms),
                    iso_seconds(earliest),
                    iso_seconds(latest)
                )));
            }
            RestoreTime::At(ms) => ms,
        };
        if self.def(&req.target).is_some() {
            return Err(already_exists(&req.target));
        }
        let mut def = self.restored_definition(&source.def, input, &req, now)?;
        def.restored = Some(RestoreInfo {
            source_table_arn: Some(source.def.arn(&self.cfg.region, &self.cfg.account_id)),
            source_backup_arn: None,
            restore_ms,
        });
        let kms_key = match input.obj_opt("SSESpecificationOverride")? {
            Some(m) => self.resolve_sse_public(&parse_sse(m)?, caller).await?,
            None => source.def.sse_key_arn.clone(),
        };
        def.sse_key_arn.clone_from(&kms_key);
        let _guard = self.ddl.lock().await;
        if self.def(&req.target).is_some() {
            return Err(already_exists(&req.target));
        }
        let rec = self
            .engine
            .restore_table_to_time(
                &source_name,
                &req.target,
                def.encode(),
                now,
                kms_key,
                Some(caller.clone()),
                restore_ms,
            )
            .await
            .map_err(|e| match e {
                sealdb_storage::StorageError::TableExists => already_exists(&req.target),
                sealdb_storage::StorageError::TableNotFound => table_not_found(&source_name),
                other => other.into(),
            })?;
        def.id = rec.id.clone();
        self.engine.update_definition(&req.target, def.encode())?;
        let def = Arc::new(def);
        let handle = self
            .engine
            .table(&req.target)
            .ok_or(DynamoError::Internal)?;
        let t = TableRef {
            def: Arc::clone(&def),
            handle,
        };
        // Requests see the table only once its indexes are whole again.
        rebuild_indexes(&self.store(&t).await?, &def).await?;
        self.cache_def((*def).clone());
        let d = self.live_description(&t, "ACTIVE").await?;
        Ok(json!({ "TableDescription": d }))
    }

    /// The restored table's definition: the source's keys, attributes, capacity and
    /// indexes (or the overrides), without what AWS leaves to be set up again (stream,
    /// TTL, tags, policies, recovery, replicas).
    fn restored_definition(
        &self,
        source: &TableDef,
        input: &Input,
        req: &RestoreRequest,
        now: i64,
    ) -> Result<TableDef, DynamoError> {
        let mut def = source.clone();
        reset_for_restore(&mut def, &req.target, now);
        req.overrides.apply(&mut def, source, now)?;
        let mode = def.billing_mode;
        def.indexes = restored_indexes(source, input, mode)?;
        for (i, ix) in def.indexes.iter_mut().enumerate() {
            ix.number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            ix.status = IndexStatus::Active;
            if mode == BillingMode::PayPerRequest {
                ix.read_capacity = 0;
                ix.write_capacity = 0;
            } else {
                ix.on_demand = crate::on_demand::OnDemandMax::default();
                if ix.read_capacity == 0 && ix.global {
                    ix.read_capacity = def.read_capacity;
                    ix.write_capacity = def.write_capacity;
                }
            }
        }
        def.next_index_number = u32::try_from(def.indexes.len() + 1).unwrap_or(u32::MAX);
        // Only the attributes some key still uses stay defined.
        let used: std::collections::HashSet<String> = def
            .key_attrs()
            .map(|k| k.name.clone())
            .chain(
                def.indexes
                    .iter()
                    .flat_map(|ix| ix.key_attrs().map(|k| k.name.clone())),
            )
            .collect();
        def.attribute_definitions.retain(|a| used.contains(&a.name));
        Ok(def)
    }
}

/// The indexes of the restored table: the overrides where given (parsed as
/// CreateTable's), else the source's (an index still being removed is left out).
fn restored_indexes(
    source: &TableDef,
    input: &Input,
    mode: BillingMode,
) -> Result<Vec<crate::index::IndexDef>, DynamoError> {
    let mut out = Vec::new();
    for (member, global) in [
        ("GlobalSecondaryIndexOverride", true),
        ("LocalSecondaryIndexOverride", false),
    ] {
        match input.list_opt(member)? {
            // An empty override restores none of that kind.
            Some(list) if list.is_empty() => {}
            Some(list) => {
                let name = if global {
                    "GlobalSecondaryIndexes"
                } else {
                    "LocalSecondaryIndexes"
                };
                // The overrides' key attributes are defined as in the source table.
                let named: std::collections::HashSet<&str> = list
                    .iter()
                    .filter_map(|ix| ix.get("KeySchema").and_then(Value::as_array))
                    .flatten()
                    .filter_map(|k| k.get("AttributeName").and_then(Value::as_str))
                    .chain(source.key_attrs().map(|k| k.name.as_str()))
                    .collect();
                let defs: Vec<crate::schema::KeyAttr> = source
                    .attribute_definitions
                    .iter()
                    .filter(|a| named.contains(a.name.as_str()))
                    .cloned()
                    .collect();
                if global {
                    check_gsi_override_throughput(list, mode)?;
                }
                let mut m = Map::new();
                m.insert(name.into(), Value::Array(list.clone()));
                let parsed = crate::ops::indexes::parse_create_indexes(
                    &Input::from_map(m),
                    &defs,
                    &source.hash_key,
                    source.range_key.as_ref(),
                    mode,
                )?;
                // AWS restores only the source's indexes (by keys and projection; a new
                // name is allowed), never new ones.
                for ix in &parsed {
                    if !source.indexes.iter().any(|s| same_index_shape(s, ix)) {
                        return Err(DynamoError::validation(format!(
                            "Index {} does not match a secondary index that existed in the source table and cannot be created during the restore operation",
                            ix.name
                        )));
                    }
                }
                out.extend(parsed);
            }
            None => out.extend(
                source
                    .indexes
                    .iter()
                    .filter(|ix| ix.global == global && ix.status != IndexStatus::Deleting)
                    .cloned(),
            ),
        }
    }
    Ok(out)
}

/// AWS's texts for a global index override's throughput against the restored billing mode.
fn check_gsi_override_throughput(list: &[Value], mode: BillingMode) -> Result<(), DynamoError> {
    for ix in list {
        let name = ix
            .get("IndexName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let given = ix
            .get("ProvisionedThroughput")
            .is_some_and(Value::is_object);
        match (mode, given) {
            (BillingMode::Provisioned, false) => {
                return Err(DynamoError::validation(format!(
                    "Must specify provisioned throughput for index {name}"
                )));
            }
            (BillingMode::PayPerRequest, true) => {
                return Err(DynamoError::validation(format!(
                    "Cannot override ProvisionedThroughput if BillingMode is overridden to PAY_PER_REQUEST for index {name}"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Same kind, key attributes and projection (the name may differ).
fn same_index_shape(a: &crate::index::IndexDef, b: &crate::index::IndexDef) -> bool {
    let names =
        |keys: &[crate::schema::KeyAttr]| keys.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
    a.global == b.global
        && names(&a.hash_keys) == names(&b.hash_keys)
        && names(&a.range_keys) == names(&b.range_keys)
        && a.projection == b.projection
}

/// Fills every index of `def` from the restored items.
async fn rebuild_indexes(store: &Arc<TableStore>, def: &Arc<TableDef>) -> Result<(), DynamoError> {
    if def.indexes.is_empty() {
        return Ok(());
    }
    let mut after: Option<ItemKey> = None;
    loop {
        let page = store
            .scan(0, u64::MAX, after.clone(), REBUILD_BATCH, usize::MAX)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        let def = Arc::clone(def);
        store
            .write_when_room(move |tx: &mut dyn WriteTx| {
                for stored in &page {
                    let Ok(item) = decode(&stored.value) else {
                        continue;
                    };
                    for ix in &def.indexes {
                        put_index_entry(tx, &def, ix, &item, &stored.key)?;
                    }
                }
                Ok(Decision::Commit(()))
            })
            .await?;
    }
    Ok(())
}

/// Deletes a table's recovery history, a batch per write unit.
async fn clear_history(store: &Arc<TableStore>) -> Result<(), DynamoError> {
    loop {
        let n = store
            .write_when_room(|tx: &mut dyn WriteTx| {
                Ok(Decision::Commit(tx.pitr_clear_some(CLEAR_BATCH)?))
            })
            .await?;
        if n < CLEAR_BATCH {
            return Ok(());
        }
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `2026-10-06T23:16:32Z`, as restore errors quote times.
fn iso_seconds(ms: i64) -> String {
    let t = crate::schema::iso_millis(ms);
    format!("{}Z", t.get(..19).unwrap_or(&t))
}

pub(crate) fn already_exists(target: &str) -> DynamoError {
    DynamoError::TableAlreadyExists(format!("Table already exists: {target}"))
}

/// PointInTimeRecoverySpecification: `Some(days)` to turn recovery on (with the
/// period, when given), `None` to turn it off.
pub(crate) fn parse_spec(input: &Input) -> Result<Option<Option<u32>>, DynamoError> {
    const SPEC: &str = "pointInTimeRecoverySpecification";
    let mut errors = Vec::new();
    if !input.has("TableName") {
        errors.push(null_member("tableName"));
    }
    let Some(spec) = input.obj_opt("PointInTimeRecoverySpecification")? else {
        errors.push(null_member(SPEC));
        return Err(validation_errors(&errors));
    };
    let enabled = match spec.get("PointInTimeRecoveryEnabled") {
        None | Some(Value::Null) => {
            errors.push(null_member(&format!("{SPEC}.pointInTimeRecoveryEnabled")));
            false
        }
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(DynamoError::Serialization(
                "Unexpected value type in payload for member PointInTimeRecoveryEnabled; expected a boolean".into(),
            ));
        }
    };
    let days = int_value(spec.get("RecoveryPeriodInDays"), "RecoveryPeriodInDays")?;
    if let Some(d) = days {
        let member = format!("{SPEC}.recoveryPeriodInDays");
        if d < 1 {
            errors.push(format!(
                "Value '{d}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ));
        } else if d > 35 {
            errors.push(format!(
                "Value '{d}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to 35"
            ));
        }
    }
    if !errors.is_empty() {
        return Err(validation_errors(&errors));
    }
    Ok(enabled.then(|| days.and_then(|d| u32::try_from(d).ok())))
}

pub(crate) enum RestoreTime {
    Latest,
    At(i64),
}

/// RestoreTableToPointInTime's members, checked on the request alone.
pub(crate) struct RestoreRequest {
    /// SourceTableName or SourceTableArn.
    source: String,
    target: String,
    time: RestoreTime,
    overrides: RestoreOverrides,
}

impl RestoreRequest {
    pub(crate) fn parse(input: &Input) -> Result<RestoreRequest, DynamoError> {
        let mut errors = Vec::new();
        let target = input.str_opt("TargetTableName")?;
        match target {
            None => errors.push(null_member("targetTableName")),
            Some(t) => errors.extend(table_name_errors(t, "targetTableName", false)),
        }
        let source_name = input.str_opt("SourceTableName")?;
        if let Some(s) = source_name {
            errors.extend(table_name_errors(s, "sourceTableName", false));
        }
        let source_arn = input.str_opt("SourceTableArn")?;
        if let Some(a) = source_arn
            && a.is_empty()
        {
            errors.push(format!(
                "Value '{a}' at 'sourceTableArn' failed to satisfy constraint: Member must have length greater than or equal to 1"
            ));
        }
        let overrides = RestoreOverrides::parse(input, &mut errors)?;
        let latest = input.bool_opt("UseLatestRestorableTime")?.unwrap_or(false);
        let at = match input.raw().get("RestoreDateTime") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => {
                return Err(DynamoError::Serialization(
                    "Unexpected value type in payload for member RestoreDateTime; expected a timestamp".into(),
                ));
            }
        };
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let source = match (source_name, source_arn) {
            (None, None) => {
                return Err(DynamoError::validation(
                    "The parameter 'TableName' is required",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(DynamoError::validation(
                    "Must provide exactly one of: sourceTableArn, sourceTableName",
                ));
            }
            (Some(s), None) | (None, Some(s)) => s.to_owned(),
        };
        let time = match (latest, at) {
            (true, Some(_)) => {
                return Err(DynamoError::validation(
                    "Invalid Request: Both RestoreDateTime and UseLatestRestorableTime cannot be set for point-in-time restore request. Please specify either RestoreDateTime time or UseLatestRestorableTime",
                ));
            }
            (true, None) => RestoreTime::Latest,
            #[allow(clippy::cast_possible_truncation)]
            (false, Some(secs)) => RestoreTime::At((secs * 1000.0).round() as i64),
            (false, None) => {
                return Err(DynamoError::validation(
                    "Invalid Request: Either one of RestoreDateTime or UseLatestRestorableTime must be specified, but not both",
                ));
            }
        };
        Ok(RestoreRequest {
            source,
            target: target.unwrap_or_default().to_owned(),
            time,
            overrides,
        })
    }
}
