//! Secondary indexes: their definitions, the entries an item produces, and the writes
//! that keep entries in step with items (`mutations`), used by every write path so that
//! an item and its index entries always change in the same storage transaction.

use crate::codec;
use crate::error::DynamoError;
use crate::on_demand::OnDemandMax;
use crate::schema::{KeyAttr, KeyKind, TableDef};
use crate::value::{AttributeValue, Item, item_size};
use sealdb_storage::{IndexEntryKey, ItemKey, TxWrite, WriteStamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What an index stores of each item.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ProjectionKind {
    /// Only the table and index keys.
    KeysOnly,
    /// The keys and the listed attributes.
    Include(Vec<String>),
    /// Every attribute.
    All,
}

/// Lifecycle of an index.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum IndexStatus {
    /// Being built from the existing items.
    Creating,
    /// Readable.
    Active,
    /// Being removed.
    Deleting,
}

impl IndexStatus {
    /// The AWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexStatus::Creating => "CREATING",
            IndexStatus::Active => "ACTIVE",
            IndexStatus::Deleting => "DELETING",
        }
    }
}

/// A global or local secondary index.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "IndexDefStored")]
pub struct IndexDef {
    /// Index name.
    pub name: String,
    /// Storage number of the index (entries are keyed by it); never reused in a table.
    pub number: u32,
    /// Global (own partition key) or local (the table's partition key).
    pub global: bool,
    /// Index partition key: one attribute, or up to four for a global index
    /// (multi-attribute keys), in KeySchema order.
    pub hash_keys: Vec<KeyAttr>,
    /// Index sort key: none, one attribute, or up to four for a global index.
    pub range_keys: Vec<KeyAttr>,
    /// Projection.
    pub projection: ProjectionKind,
    /// Status.
    pub status: IndexStatus,
    /// Provisioned read capacity of a GSI (0 on demand).
    pub read_capacity: i64,
    /// Provisioned write capacity of a GSI (0 on demand).
    pub write_capacity: i64,
    /// OnDemandThroughput of a GSI of an on-demand table (absent: no maximum).
    #[serde(default, skip_serializing_if = "OnDemandMax::is_none")]
    pub on_demand: OnDemandMax,
}

/// An index definition as stored: definitions written before multi-attribute keys have
/// `hash_key` / `range_key` (one attribute each), later ones `hash_keys` / `range_keys`.
#[derive(Deserialize)]
struct IndexDefStored {
    name: String,
    number: u32,
    global: bool,
    #[serde(default)]
    hash_key: Option<KeyAttr>,
    #[serde(default)]
    range_key: Option<KeyAttr>,
    #[serde(default)]
    hash_keys: Vec<KeyAttr>,
    #[serde(default)]
    range_keys: Vec<KeyAttr>,
    projection: ProjectionKind,
    status: IndexStatus,
    read_capacity: i64,
    write_capacity: i64,
    #[serde(default)]
    on_demand: OnDemandMax,
}

impl From<IndexDefStored> for IndexDef {
    fn from(s: IndexDefStored) -> IndexDef {
        let mut hash_keys = s.hash_keys;
        hash_keys.splice(0..0, s.hash_key);
        let mut range_keys = s.range_keys;
        range_keys.splice(0..0, s.range_key);
        IndexDef {
            name: s.name,
            number: s.number,
            global: s.global,
            hash_keys,
            range_keys,
            projection: s.projection,
            status: s.status,
            read_capacity: s.read_capacity,
            write_capacity: s.write_capacity,
            on_demand: s.on_demand,
        }
    }
}

impl IndexDef {
    /// The key attributes of the index: partition attributes, then sort attributes.
    pub fn key_attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        self.hash_keys.iter().chain(self.range_keys.iter())
    }

    /// True when the partition or the sort key has more than one attribute.
    pub fn is_multi_attribute(&self) -> bool {
        self.hash_keys.len() > 1 || self.range_keys.len() > 1
    }

    /// `arn:...:table/<t>/index/<name>`.
    pub fn arn(&self, table_arn: &str) -> String {
        format!("{table_arn}/index/{}", self.name)
    }

    /// The stored partition key from its attributes' key encodings, in order: the plain
    /// encoding for one attribute, the composite encoding for several.
    pub fn encode_partition(&self, parts: &[Vec<u8>]) -> Vec<u8> {
        encode_parts(parts)
    }

    /// The partition hash of a stored index partition key.
    pub fn partition_hash(&self, ipk: &[u8]) -> u64 {
        // The first attribute's type letter, as for one attribute; composite keys are
        // told apart by their encoding.
        let kind = self.hash_keys.first().map_or(KeyKind::S, |k| k.kind);
        codec::partition_hash(kind.scalar(), ipk)
    }

    /// The description member (`GlobalSecondaryIndexes` / `LocalSecondaryIndexes` entry).
    pub fn describe(&self, table_arn: &str, count: u64, size: u64) -> Value {
        let key_schema: Vec<Value> = self
            .hash_keys
            .iter()
            .map(|k| json!({"AttributeName": k.name, "KeyType": "HASH"}))
            .chain(
                self.range_keys
                    .iter()
                    .map(|k| json!({"AttributeName": k.name, "KeyType": "RANGE"})),
            )
            .collect();
        let projection = match &self.projection {
            ProjectionKind::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
            ProjectionKind::All => json!({"ProjectionType": "ALL"}),
            ProjectionKind::Include(attrs) => {
                json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": attrs})
            }
        };
        let mut d = json!({
            "IndexName": self.name,
            "KeySchema": key_schema,
            "Projection": projection,
            "IndexSizeBytes": size,
            "ItemCount": count,
            "IndexArn": self.arn(table_arn),
        });
        if self.global {
            d["IndexStatus"] = Value::from(self.status.as_str());
            d["ProvisionedThroughput"] = json!({
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
            });
            if let Some(m) = self.on_demand.describe() {
                d["OnDemandThroughput"] = m;
            }
            if self.status == IndexStatus::Creating {
                d["Backfilling"] = Value::Bool(true);
            }
        }
        d
    }
}

fn typed(attr: &KeyAttr, v: &AttributeValue) -> bool {
    matches!(
        (attr.kind, v),
        (KeyKind::S, AttributeValue::S(_))
            | (KeyKind::N, AttributeValue::N(_))
            | (KeyKind::B, AttributeValue::B(_))
    )
}

/// Rejects an item whose index key attributes have the wrong type or are empty, with
/// AWS's messages. Items without them are fine (sparse indexes).
pub fn check_index_keys(def: &TableDef, item: &Item) -> Result<(), DynamoError> {
    for ix in &def.indexes {
        for attr in ix.key_attrs() {
            let Some(v) = item.get(&attr.name) else {
                continue;
            };
            if !typed(attr, v) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attr.name,
                    attr.kind.as_str(),
                    v.type_name(),
                    ix.name
                )));
            }
            let empty = matches!(v, AttributeValue::S(s) if s.is_empty())
                || matches!(v, AttributeValue::B(b) if b.is_empty());
            if empty {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {}, IndexKey: {}",
                    if attr.kind == KeyKind::S {
                        "string"
                    } else {
                        "binary"
                    },
                    ix.name,
                    attr.name
                )));
            }
        }
    }
    Ok(())
}

/// The projected item an index stores.
pub fn project(def: &TableDef, ix: &IndexDef, item: &Item) -> Item {
    match &ix.projection {
        ProjectionKind::All => item.clone(),
        ProjectionKind::KeysOnly | ProjectionKind::Include(_) => {
            let mut out = Item::new();
            let extra: &[String] = match &ix.projection {
                ProjectionKind::Include(a) => a,
                _ => &[],
            };
            for name in def
                .key_attrs()
                .chain(ix.key_attrs())
                .map(|k| &k.name)
                .chain(extra.iter())
            {
                if let Some(v) = item.get(name) {
                    out.insert(name.clone(), v.clone());
                }
            }
            out
        }
    }
}

/// A single key encoding as stored, or the composite encoding of several.
fn encode_parts(parts: &[Vec<u8>]) -> Vec<u8> {
    match parts {
        [one] => one.clone(),
        _ => codec::encode_composite(parts.iter().map(Vec::as_slice)),
    }
}

/// The key encodings of an item's values for `attrs`, or `None` when one is missing or
/// of another type (the item is then not in the index: sparse indexes).
fn encoded_values(attrs: &[KeyAttr], item: &Item) -> Option<Vec<Vec<u8>>> {
    attrs
        .iter()
        .map(|a| {
            item.get(&a.name)
                .filter(|v| typed(a, v))
                .and_then(codec::encode_key)
        })
        .collect()
}

/// The entry key of an item in an index, or `None` when the item lacks any of the index
/// key attributes.
pub fn entry_key(ix: &IndexDef, item: &Item, table_key: &ItemKey) -> Option<IndexEntryKey> {
    let ipk = encode_parts(&encoded_values(&ix.hash_keys, item)?);
    let isk = match ix.range_keys.as_slice() {
        [] => Vec::new(),
        range => encode_parts(&encoded_values(range, item)?),
    };
    Some(IndexEntryKey {
        hash: ix.partition_hash(&ipk),
        ipk,
        isk,
        tpk: table_key.pk.clone(),
        tsk: table_key.sk.clone(),
    })
}

/// A process-wide shift of the writes' wall time (`--test-data-clock-offset-secs`).
static WALL_OFFSET_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Shifts the wall time of this process's writes, for tests of day-long limits.
pub fn set_test_wall_offset_ms(ms: i64) {
    WALL_OFFSET_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .saturating_add(WALL_OFFSET_MS.load(std::sync::atomic::Ordering::Relaxed))
}

/// The writes that take an item from `old` to `new` (either may be absent), index
/// entries included.
pub fn mutations(
    def: &TableDef,
    key: &ItemKey,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<TxWrite> {
    mutations_by(def, key, old, new, None, None)
}

/// The writes that apply a change replicated from another replica of a global table:
/// it keeps the stamp it was made with, so it is not replicated back and every replica
/// orders it the same way.
pub(crate) fn replicated_mutations(
    def: &TableDef,
    key: &ItemKey,
    old: Option<&Item>,
    new: Option<&Item>,
    stamp: WriteStamp,
) -> Vec<TxWrite> {
    mutations_by(def, key, old, new, None, Some(stamp))
}

/// The writes that delete an expired item on behalf of Time to Live: its stream record
/// names DynamoDB itself as the actor, as AWS's TTL deletions do.
pub fn ttl_deletion(def: &TableDef, key: &ItemKey, old: &Item) -> Vec<TxWrite> {
    let identity = json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"});
    mutations_by(def, key, Some(old), None, Some(identity), None)
}

fn mutations_by(
    def: &TableDef,
    key: &ItemKey,
    old: Option<&Item>,
    new: Option<&Item>,
    user_identity: Option<Value>,
    replicated: Option<WriteStamp>,
) -> Vec<TxWrite> {
    let mut out = Vec::with_capacity(2 + 2 * def.indexes.len());
    // Wall time: retention is measured against it when the stream is read, and it is
    // the time last-writer-wins and point-in-time recovery compare.
    let now = wall_ms();
    let changed = match (old, new) {
        (None, None) => false,
        (Some(o), Some(n)) => o != n,
        _ => true,
    };
    if let Some(pitr) = &def.pitr
        && changed
    {
        // Before the item's write: the history keeps the item as it was.
        out.push(TxWrite::Undo {
            key: key.clone(),
            ts_ms: now,
            keep_after_ms: now.saturating_sub(pitr.period_ms()),
        });
    }
    out.push(TxWrite::Item {
        key: key.clone(),
        value: new.map(|n| {
            (
                codec::encode_item(n),
                u64::try_from(item_size(n)).unwrap_or(u64::MAX),
            )
        }),
    });
    for ix in def
        .indexes
        .iter()
        .filter(|ix| ix.status != IndexStatus::Deleting)
    {
        let old_key = old.and_then(|o| entry_key(ix, o, key));
        let new_entry = new.and_then(|n| entry_key(ix, n, key).map(|k| (k, project(def, ix, n))));
        if let Some(ok) = &old_key
            && new_entry.as_ref().is_none_or(|(nk, _)| nk != ok)
        {
            out.push(TxWrite::Index {
                ix: ix.number,
                key: ok.clone(),
                value: None,
            });
        }
        if let Some((nk, projected)) = new_entry {
            out.push(TxWrite::Index {
                ix: ix.number,
                key: nk,
                value: Some((
                    codec::encode_item(&projected),
                    u64::try_from(item_size(&projected)).unwrap_or(u64::MAX),
                )),
            });
        }
    }
    let stamp = def.replication.as_ref().map(|group| {
        replicated.unwrap_or_else(|| WriteStamp {
            ts_ms: now,
            origin: group.region.clone(),
        })
    });
    if let Some(record) = stream_record(def, old, new, user_identity, stamp.as_ref(), now) {
        out.push(record);
        // Only a real change moves the stamp: an identical rewrite is not replicated, so
        // it must not win over a change that is.
        if let Some(stamp) = stamp {
            out.push(TxWrite::Stamp {
                key: key.clone(),
                stamp,
            });
        }
    }
    out
}

/// The member of a stored stream record that carries a global table's write stamp.
pub(crate) const REPLICATION_MEMBER: &str = "sealdbReplication";

/// Version byte of a stream record (`docs/formats.md`, "Stream records").
pub const STREAM_RECORD_V1: u8 = 1;

/// The stream record for a change, if the table has a stream and the item really changed
/// (DynamoDB writes no record for deleting a missing item or rewriting identical values).
fn stream_record(
    def: &TableDef,
    old: Option<&Item>,
    new: Option<&Item>,
    user_identity: Option<Value>,
    stamp: Option<&WriteStamp>,
    now_ms: i64,
) -> Option<TxWrite> {
    let settings = def.stream.as_ref()?;
    let event = match (old, new) {
        (None, None) => return None,
        (Some(o), Some(n)) if o == n => return None,
        (None, Some(_)) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        (Some(_), None) => "REMOVE",
    };
    let any = new.or(old)?;
    let keys: Item = def
        .key_attrs()
        .filter_map(|k| any.get(&k.name).map(|v| (k.name.clone(), v.clone())))
        .collect();
    let view = settings.view_type.as_str();
    let mut size = item_size(&keys);
    let mut record = json!({
        "eventName": event,
        "Keys": crate::value::item_to_json(&keys),
        "StreamViewType": view,
    });
    if matches!(view, "NEW_IMAGE" | "NEW_AND_OLD_IMAGES")
        && let Some(n) = new
    {
        size += item_size(n);
        record["NewImage"] = crate::value::item_to_json(n);
    }
    if matches!(view, "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")
        && let Some(o) = old
    {
        size += item_size(o);
        record["OldImage"] = crate::value::item_to_json(o);
    }
    record["SizeBytes"] = json!(size);
    if let Some(identity) = user_identity {
        record["userIdentity"] = identity;
    }
    if let Some(stamp) = stamp {
        // Internal: who made the change and when (global tables); not sent by GetRecords.
        record[REPLICATION_MEMBER] = json!({"ts": stamp.ts_ms, "origin": stamp.origin});
    }
    let mut bytes = vec![STREAM_RECORD_V1];
    bytes.extend_from_slice(record.to_string().as_bytes());
    Some(TxWrite::Stream {
        // When the change reached this replica (ApproximateCreationDateTime, retention).
        ts_ms: now_ms,
        record: bytes,
    })
}
