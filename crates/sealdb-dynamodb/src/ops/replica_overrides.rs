//! A replica's throughput overrides (ReplicaUpdates Create / Update:
//! `ProvisionedThroughputOverride`, `OnDemandThroughputOverride`, `GlobalSecondaryIndexes`):
//! parsed against the table, applied to the replica's own definition (its read capacity
//! and its indexes'), and shown in `Replicas`.

use crate::error::DynamoError;
use crate::input::{int_value, validation_errors};
use crate::ops::tables::{as_obj, obj_str};
use crate::schema::{BillingMode, ReplicaOverrides, TableDef};
use serde_json::{Map, Value, json};

fn invalid(msg: &str) -> DynamoError {
    DynamoError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// (ReadCapacityUnits, MaxReadRequestUnits) of one override pair.
fn pair(
    m: &Map<String, Value>,
    path: &str,
    billing: BillingMode,
) -> Result<(Option<i64>, Option<i64>), DynamoError> {
    let units = |key: &str, member: &str| -> Result<Option<i64>, DynamoError> {
        let Some(v) = m.get(key).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let o = as_obj(v, key)?;
        let n = int_value(o.get(member), member)?;
        match n {
            Some(n) if n < 1 => Err(validation_errors(&[format!(
                "Value '{n}' at '{path}.{}.{}' failed to satisfy constraint: Member must have value greater than or equal to 1",
                crate::input::lower_camel(key),
                crate::input::lower_camel(member)
            )])),
            n => Ok(n),
        }
    };
    let read = units("ProvisionedThroughputOverride", "ReadCapacityUnits")?;
    let max = units("OnDemandThroughputOverride", "MaxReadRequestUnits")?;
    if read.is_some() && billing == BillingMode::PayPerRequest {
        return Err(invalid(
            "ProvisionedThroughputOverride cannot be specified for a table in PAY_PER_REQUEST billing mode",
        ));
    }
    if max.is_some() && billing == BillingMode::Provisioned {
        return Err(invalid(
            "OnDemandThroughputOverride cannot be specified for a table in PROVISIONED billing mode",
        ));
    }
    Ok((read, max))
}

/// The overrides of one ReplicaUpdates `Create` or `Update` (`action`) member, over
/// `current` (an Update keeps what it does not name).
pub(crate) fn parse(
    a: &Map<String, Value>,
    action: &str,
    def: &TableDef,
    current: &ReplicaOverrides,
) -> Result<ReplicaOverrides, DynamoError> {
    let path = format!("replicaUpdates.1.member.{action}");
    let mut out = current.clone();
    let (read, max) = pair(a, &path, def.billing_mode)?;
    out.read_units = read.or(out.read_units);
    out.max_read_request_units = max.or(out.max_read_request_units);
    let indexes = match a.get("GlobalSecondaryIndexes") {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(DynamoError::Serialization(
                "Unexpected value type in payload for member GlobalSecondaryIndexes; expected a list"
                    .into(),
            ));
        }
    };
    for (i, v) in indexes.iter().enumerate() {
        let m = as_obj(v, "GlobalSecondaryIndexes")?;
        let Some(name) = obj_str(m, "IndexName")? else {
            return Err(validation_errors(&[crate::input::null_member(&format!(
                "{path}.globalSecondaryIndexes.{}.member.indexName",
                i + 1
            ))]));
        };
        if def.index(name).is_none_or(|ix| !ix.global) {
            return Err(invalid(&format!(
                "Global secondary index {name} does not exist in table {}",
                def.name
            )));
        }
        let (read, max) = pair(
            m,
            &format!("{path}.globalSecondaryIndexes.{}.member", i + 1),
            def.billing_mode,
        )?;
        match out.indexes.iter_mut().find(|(n, _, _)| n == name) {
            Some(e) => {
                e.1 = read.or(e.1);
                e.2 = max.or(e.2);
            }
            None => out.indexes.push((name.to_owned(), read, max)),
        }
    }
    Ok(out)
}

/// The replica's own read capacity (and its indexes') as its overrides set them.
pub(crate) fn apply(def: &mut TableDef, o: &ReplicaOverrides) {
    if let Some(r) = o.read_units {
        def.read_capacity = r;
    }
    for (name, read, _) in &o.indexes {
        if let (Some(r), Some(ix)) = (read, def.indexes.iter_mut().find(|i| &i.name == name)) {
            ix.read_capacity = *r;
        }
    }
}

fn members(v: &mut Value, read: Option<i64>, max: Option<i64>) {
    if let Some(r) = read {
        v["ProvisionedThroughputOverride"] = json!({ "ReadCapacityUnits": r });
    }
    if let Some(m) = max {
        v["OnDemandThroughputOverride"] = json!({ "MaxReadRequestUnits": m });
    }
}

/// Adds the overrides to a `Replicas` entry (whose `GlobalSecondaryIndexes` lists the
/// replica's indexes by name).
pub(crate) fn describe(replica: &mut Value, o: &ReplicaOverrides) {
    members(replica, o.read_units, o.max_read_request_units);
    if let Some(Value::Array(ixs)) = replica.get_mut("GlobalSecondaryIndexes") {
        for ix in ixs {
            let name = ix["IndexName"].as_str().unwrap_or_default().to_owned();
            if let Some((_, r, m)) = o.indexes.iter().find(|(n, _, _)| *n == name) {
                members(ix, *r, *m);
            }
        }
    }
}
