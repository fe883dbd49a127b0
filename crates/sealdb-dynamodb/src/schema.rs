//! A table's definition as the catalog keeps it, and its `TableDescription` form.
//!
//! Stored in the catalog as `[version byte] ++ JSON`; the catalog file is encrypted, and
//! the version byte lets a later release change the shape (`docs/formats.md`).

use crate::codec::ScalarType;
use crate::index::IndexDef;
use crate::on_demand::OnDemandMax;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Version byte of definitions whose indexes have one `hash_key` / `range_key` each.
/// Still read; no longer written.
const DEFINITION_V1: u8 = 1;
/// Version byte of definitions whose indexes have `hash_keys` / `range_keys` lists
/// (multi-attribute keys of global secondary indexes). Written since then.
const DEFINITION_V2: u8 = 2;

/// One key attribute: its name and scalar type.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: String,
    /// `S`, `N` or `B`.
    pub kind: KeyKind,
}

/// The scalar types a key attribute may have.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyKind {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl KeyKind {
    /// The AWS type letter.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::S => "S",
            KeyKind::N => "N",
            KeyKind::B => "B",
        }
    }

    /// Parses an AWS type letter.
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "S" => Some(KeyKind::S),
            "N" => Some(KeyKind::N),
            "B" => Some(KeyKind::B),
            _ => None,
        }
    }

    /// The codec's scalar type.
    pub fn scalar(self) -> ScalarType {
        match self {
            KeyKind::S => ScalarType::S,
            KeyKind::N => ScalarType::N,
            KeyKind::B => ScalarType::B,
        }
    }
}

/// Billing mode.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum BillingMode {
    /// Provisioned capacity.
    Provisioned,
    /// On demand.
    PayPerRequest,
}

impl BillingMode {
    /// The AWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// Everything sealdb remembers about a table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableDef {
    /// Table name.
    pub name: String,
    /// UUID (also `TableId`).
    pub id: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Partition key.
    pub hash_key: KeyAttr,
    /// Sort key, if any.
    pub range_key: Option<KeyAttr>,
    /// All `AttributeDefinitions` as given (name, type).
    pub attribute_definitions: Vec<KeyAttr>,
    /// Billing mode.
    pub billing_mode: BillingMode,
    /// Whether `BillingMode` was given explicitly (AWS then shows `BillingModeSummary`).
    pub billing_mode_explicit: bool,
    /// When the table last switched to on-demand, ms since the epoch.
    pub last_pay_per_request_ms: Option<i64>,
    /// Provisioned read capacity (0 on demand).
    pub read_capacity: i64,
    /// Provisioned write capacity (0 on demand).
    pub write_capacity: i64,
    /// Last throughput increase, ms since the epoch.
    pub last_increase_ms: Option<i64>,
    /// Last throughput decrease, ms since the epoch.
    pub last_decrease_ms: Option<i64>,
    /// Table class, when given.
    pub table_class: Option<String>,
    /// When UpdateTable changed the table class (ms), for AWS's 2-per-30-days limit.
    /// Absent in older definitions: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_class_changes: Vec<i64>,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Stream settings: enabled and view type.
    pub stream: Option<StreamSettings>,
    /// TTL attribute, when TTL is enabled (or being enabled).
    pub ttl_attribute: Option<String>,
    /// The last UpdateTimeToLive: when, and the attribute it named (ENABLING / DISABLING
    /// until the transition ends; no further change until the change interval ends).
    #[serde(default)]
    pub ttl_change: Option<TtlChange>,
    /// Tags, in insertion order.
    pub tags: Vec<(String, String)>,
    /// Global and local secondary indexes.
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    /// The storage number the next index gets (numbers are never reused).
    #[serde(default)]
    pub next_index_number: u32,
    /// The KMS key (ARN) that wraps the table key; `None` for the service-owned key.
    #[serde(default)]
    pub sse_key_arn: Option<String>,
    /// When encryption settings changed (ms), for the 4-per-24-hours limit.
    #[serde(default)]
    pub sse_changes: Vec<i64>,
    /// Set when the table was archived because its key stayed unusable: (when, backup ARN).
    #[serde(default)]
    pub archival: Option<(i64, String)>,
    /// The table's resource-based policy (PutResourcePolicy on the table ARN).
    #[serde(default)]
    pub resource_policy: Option<crate::ops::policies::StoredPolicy>,
    /// The stream's resource-based policy (PutResourcePolicy on the stream ARN).
    #[serde(default)]
    pub stream_policy: Option<crate::ops::policies::StoredPolicy>,
    /// The replication group when the table is a global table (version 2019.11.21, or
    /// 2017.11.29 when `legacy_created_ms` is set).
    #[serde(default)]
    pub replication: Option<ReplicationGroup>,
    /// Point-in-time recovery, while it is on (UpdateContinuousBackups). Absent in
    /// older definitions: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PitrSettings>,
    /// Where the table was restored from (RestoreSummary in DescribeTable). Absent in
    /// older definitions and for tables not made by a restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<RestoreInfo>,
    /// OnDemandThroughput of an on-demand table. Absent in older definitions and when
    /// no maximum is set.
    #[serde(default, skip_serializing_if = "OnDemandMax::is_none")]
    pub on_demand: OnDemandMax,
    /// The unsent notices of a replica that left its group because its key stayed
    /// unusable (`outbox.rs`): the group it left still needs them. Absent in older
    /// definitions and when nothing waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_outbox: Option<crate::outbox::LeftOutbox>,
}

/// A restored table's origin, as DescribeTable's RestoreSummary shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RestoreInfo {
    /// The source table's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_table_arn: Option<String>,
    /// The backup's ARN, for RestoreTableFromBackup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_backup_arn: Option<String>,
    /// The point in time restored to (the restore's own time for a backup), ms.
    pub restore_ms: i64,
}

/// Point-in-time recovery settings: every change from `enabled_ms` on keeps the item
/// as it was in the table's recovery history, for `recovery_days`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PitrSettings {
    /// When recovery was (last) turned on, ms since the epoch: the earliest restorable time.
    pub enabled_ms: i64,
    /// RecoveryPeriodInDays (1 to 35).
    pub recovery_days: u32,
}

impl PitrSettings {
    /// The recovery period in ms.
    pub fn period_ms(&self) -> i64 {
        i64::from(self.recovery_days) * 86_400_000
    }
}

/// A global table's replication group as one replica records it. The state of the
/// other replicas (status, key) is asked of their regions when the table is described.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReplicationGroup {
    /// The region of this replica (the origin of its own writes).
    pub region: String,
    /// The regions of the other replicas, in the order they joined.
    pub replicas: Vec<String>,
    /// While this replica is being created: the replica its existing items are copied
    /// from (the copy resumes after a restart).
    #[serde(default)]
    pub seeding_from: Option<String>,
    /// Set for a global table of version 2017.11.29 (CreateGlobalTable): when the global
    /// table was created, ms since the epoch (the same in every member). Absent: 2019.11.21.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_created_ms: Option<i64>,
    /// The throughput overrides this replica was given (ReplicaUpdates), shown in the
    /// others' `Replicas`.
    #[serde(default, skip_serializing_if = "ReplicaOverrides::is_empty")]
    pub overrides: ReplicaOverrides,
    /// When this replica was last changed by ReplicaUpdates Update (ms since the epoch):
    /// it shows UPDATING for the replica transition after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ms: Option<i64>,
    /// When this replica's removal (ReplicaUpdates Delete) was asked (ms since the
    /// epoch): it shows DELETING until the transition ends, then leaves its group and its
    /// table is deleted (resumed after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleting_ms: Option<i64>,
    /// What this replica still has to tell replicas at peer deployments (`outbox.rs`),
    /// oldest first; absent in older definitions (nothing waits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<crate::outbox::Notice>,
    /// The sequence number of the last notice queued (0: none yet).
    #[serde(default, skip_serializing_if = "crate::outbox::is_zero")]
    pub outbox_seq: u64,
    /// The last state each replica at a peer deployment reported (`peer_status.rs`),
    /// shown while it does not answer; absent in older definitions (none known).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_status: Vec<crate::peer_status::KnownReplica>,
}

/// A replica's `ProvisionedThroughputOverride` / `OnDemandThroughputOverride`, for the
/// table and per global secondary index.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplicaOverrides {
    /// ReadCapacityUnits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_units: Option<i64>,
    /// MaxReadRequestUnits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_read_request_units: Option<i64>,
    /// Per index: (name, ReadCapacityUnits, MaxReadRequestUnits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<(String, Option<i64>, Option<i64>)>,
}

impl ReplicaOverrides {
    /// No override given.
    pub fn is_empty(&self) -> bool {
        *self == ReplicaOverrides::default()
    }
}

/// The last change of a table's Time to Live.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TtlChange {
    /// When it was made, ms since the epoch.
    pub at_ms: i64,
    /// The attribute it enabled or disabled.
    pub attribute: String,
}

/// Stored stream settings (the stream itself comes with DynamoDB Streams support).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamSettings {
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
    /// Label (creation timestamp) of the stream.
    pub label: String,
    /// Records with this sequence number or lower belong to an earlier stream of the
    /// table and are not served by this one.
    #[serde(default)]
    pub after_seq: i64,
}

impl TableDef {
    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![DEFINITION_V2];
        // Serializing plain data structures to JSON cannot fail.
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out
    }

    /// Reads the stored form; unknown versions fail closed.
    pub fn decode(bytes: &[u8]) -> Result<TableDef, String> {
        match bytes.split_first() {
            // Index definitions of either shape decode (see `IndexDef`).
            Some((&(DEFINITION_V1 | DEFINITION_V2), rest)) => {
                serde_json::from_slice(rest).map_err(|e| format!("table definition: {e}"))
            }
            Some((v, _)) => Err(format!("table definition version {v} is not supported")),
            None => Err("empty table definition".into()),
        }
    }

    /// `arn:aws:dynamodb:<region>:<account>:table/<name>`.
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:dynamodb:{region}:{account}:table/{}", self.name)
    }

    /// The key attributes: partition, then sort if any.
    pub fn key_attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash_key).chain(self.range_key.iter())
    }

    /// True if `name` is a key attribute of the table.
    pub fn is_key_attr(&self, name: &str) -> bool {
        self.key_attrs().any(|k| k.name == name)
    }

    /// The index of that name.
    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The `TableDescription` JSON; `index_stats` holds (count, size) per index, in order.
    pub fn describe(
        &self,
        status: &str,
        region: &str,
        account: &str,
        (item_count, size_bytes): (u64, u64),
        index_stats: &[(u64, u64)],
    ) -> Value {
        let secs = |ms: i64| Value::from(ms_to_epoch_seconds(ms));
        let mut key_schema = vec![json!({"AttributeName": self.hash_key.name, "KeyType": "HASH"})];
        if let Some(r) = &self.range_key {
            key_schema.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
        }
        let attr_defs: Vec<Value> = self
            .attribute_definitions
            .iter()
            .map(|a| json!({"AttributeName": a.name, "AttributeType": a.kind.as_str()}))
            .collect();
        let mut throughput = json!({
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": self.read_capacity,
            "WriteCapacityUnits": self.write_capacity,
        });
        if let Some(t) = self.last_increase_ms {
            throughput["LastIncreaseDateTime"] = secs(t);
        }
        if let Some(t) = self.last_decrease_ms {
            throughput["LastDecreaseDateTime"] = secs(t);
        }
        let mut d = json!({
            "AttributeDefinitions": attr_defs,
            "TableName": self.name,
            "KeySchema": key_schema,
            "TableStatus": status,
            "CreationDateTime": secs(self.created_ms),
            "ProvisionedThroughput": throughput,
            "TableSizeBytes": size_bytes,
            "ItemCount": item_count,
            "TableArn": self.arn(region, account),
            "TableId": self.id,
            "DeletionProtectionEnabled": self.deletion_protection,
        });
        if self.billing_mode_explicit || self.billing_mode == BillingMode::PayPerRequest {
            let mut summary = json!({"BillingMode": self.billing_mode.as_str()});
            if let Some(t) = self.last_pay_per_request_ms {
                summary["LastUpdateToPayPerRequestDateTime"] = secs(t);
            }
            d["BillingModeSummary"] = summary;
        }
        if let Some(m) = self.on_demand.describe() {
            d["OnDemandThroughput"] = m;
        }
        let table_arn = self.arn(region, account);
        let mut gsis = Vec::new();
        let mut lsis = Vec::new();
        for (i, ix) in self.indexes.iter().enumerate() {
            let (count, size) = index_stats.get(i).copied().unwrap_or((0, 0));
            let desc = ix.describe(&table_arn, count, size);
            if ix.global {
                gsis.push(desc);
            } else {
                lsis.push(desc);
            }
        }
        if !gsis.is_empty() {
            d["GlobalSecondaryIndexes"] = Value::Array(gsis);
        }
        if !lsis.is_empty() {
            d["LocalSecondaryIndexes"] = Value::Array(lsis);
        }
        if let Some(class) = &self.table_class {
            d["TableClassSummary"] = json!({"TableClass": class});
        }
        if let Some(s) = &self.stream {
            d["StreamSpecification"] =
                json!({"StreamEnabled": true, "StreamViewType": s.view_type});
            d["LatestStreamLabel"] = Value::from(s.label.clone());
            d["LatestStreamArn"] =
                Value::from(format!("{}/stream/{}", self.arn(region, account), s.label));
        }
        d
    }
}

/// Milliseconds since the epoch as AWS JSON's epoch-seconds number.
#[allow(clippy::cast_precision_loss)]
pub fn ms_to_epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// `2026-11-24T21:30:00.123` from ms since the epoch (stream labels).
pub fn iso_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = sealdb_common::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_definitions_still_read_and_v2_is_written() {
        let v1 = br#"{"name":"t","id":"u","created_ms":1,"hash_key":{"name":"pk","kind":"S"},"range_key":null,"attribute_definitions":[{"name":"pk","kind":"S"},{"name":"g","kind":"N"},{"name":"s","kind":"B"}],"billing_mode":"PayPerRequest","billing_mode_explicit":true,"last_pay_per_request_ms":null,"read_capacity":0,"write_capacity":0,"last_increase_ms":null,"last_decrease_ms":null,"table_class":null,"deletion_protection":false,"stream":null,"ttl_attribute":null,"tags":[],"indexes":[{"name":"gix","number":1,"global":true,"hash_key":{"name":"g","kind":"N"},"range_key":{"name":"s","kind":"B"},"projection":"All","status":"Active","read_capacity":0,"write_capacity":0}],"next_index_number":2}"#;
        let mut stored = vec![1u8];
        stored.extend_from_slice(v1);
        let def = TableDef::decode(&stored).unwrap();
        let ix = &def.indexes[0];
        assert_eq!(
            ix.hash_keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>(),
            ["g"]
        );
        assert_eq!(
            ix.range_keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>(),
            ["s"]
        );
        let again = def.encode();
        assert_eq!(again[0], 2);
        let text = std::str::from_utf8(&again[1..]).unwrap();
        assert!(
            text.contains(r#""hash_keys":[{"name":"g","kind":"N"}]"#),
            "{text}"
        );
        let back = TableDef::decode(&again).unwrap();
        assert_eq!(back.indexes[0].range_keys, ix.range_keys);
        assert!(TableDef::decode(&[3, b'{', b'}']).is_err());
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000");
        assert_eq!(iso_millis(951_782_400_123), "2000-02-29T00:00:00.123");
    }
}
