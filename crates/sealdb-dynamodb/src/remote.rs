//! Replicas in regions served by another deployment (`sealdb serve --peer REGION=URL`).
//!
//! Replication stays a pull: each replica reads the other replicas' changes from its own
//! checkpoint (kept in its own file, moved in the same transaction as the changes), so a
//! partition or a restart on either side resumes where it stopped, without losing or
//! repeating a change. When the other replica is in this process the reads are Rust
//! calls ([`Source::Local`]); when it is at a peer deployment they are signed HTTP calls
//! to its replication endpoint ([`Source::Remote`], target `SealdbReplication_20261202.*`,
//! served by [`Service::replication_call`]). The binary supplies the transport
//! (`RegionPeers::remote_call`) and the credential; nothing here knows HTTP.
//!
//! The backlog of a channel is the source's stream records past the reader's checkpoint;
//! it lives in the source's file (bounded by the stream's 24-hour retention, never in
//! memory) and is reported as `ReplicaStatusDescription` of the replica and in a log line
//! when a pull finds more than one batch waiting. Replica management calls a peer did not
//! answer wait in the replica's outbox (`outbox.rs`).

use crate::error::DynamoError;
use crate::service::Service;
use crate::value::Item;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealdb_common::Principal;
use sealdb_storage::{ItemKey, WriteStamp};
use serde_json::{Value, json};
use std::sync::Arc;

/// The `X-Amz-Target` prefix of the replication calls between deployments.
pub const REPLICATION_TARGET: &str = "SealdbReplication_20261202";

/// The replication calls a deployment answers for its peers.
pub const REPLICATION_OPERATIONS: &[&str] = &[
    "ReadChanges",
    "ReadItems",
    "ReadStamps",
    "ReplicaState",
    "CreateReplica",
    "AddMember",
    "RemoveMember",
    "RemoveReplica",
    "UpdateReplica",
    "LegacyGlobalTables",
];

/// Why a call to a peer deployment failed.
#[derive(Debug, Clone)]
pub enum RemoteError {
    /// Not reached, or no answer in time: the call may be sent again.
    Unreachable(String),
    /// The peer answered with an error.
    Refused {
        /// HTTP status.
        status: u16,
        /// Its `__type`, without the namespace.
        kind: String,
        /// Its message.
        message: String,
    },
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Unreachable(e) => write!(f, "not reached: {e}"),
            RemoteError::Refused {
                status,
                kind,
                message,
            } => write!(f, "{status} {kind}: {message}"),
        }
    }
}

impl RemoteError {
    /// The peer refused the replication credential (wrong key, or too few rights).
    pub(crate) fn not_authorized(&self) -> bool {
        matches!(self, RemoteError::Refused { kind, .. } if matches!(kind.as_str(),
            "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException"
            | "MissingAuthenticationTokenException" | "ExpiredTokenException"))
    }

    /// The peer's table is not there.
    pub(crate) fn not_found(&self) -> bool {
        matches!(self, RemoteError::Refused { kind, .. } if kind == "ResourceNotFoundException")
    }

    /// The error the caller of this deployment gets: the peer's own, as it answered it
    /// (a region that does not answer is AWS's 500 InternalServerError).
    pub(crate) fn to_dynamo(&self) -> DynamoError {
        let RemoteError::Refused { kind, message, .. } = self else {
            return DynamoError::Internal;
        };
        let m = message.clone();
        match kind.as_str() {
            "ValidationException" => DynamoError::Validation(m),
            "ResourceNotFoundException" => DynamoError::ResourceNotFound(m),
            "ResourceInUseException" => DynamoError::ResourceInUse(m),
            "LimitExceededException" => DynamoError::LimitExceeded(m),
            "ThrottlingException" => DynamoError::Throttling,
            "AccessDeniedException" => DynamoError::NotAuthorized(m),
            _ => DynamoError::Internal,
        }
    }
}

/// Stream records read per pull.
pub(crate) const PULL_BATCH: usize = 256;
/// Items copied per write while a replica is created.
pub(crate) const SEED_BATCH: usize = 256;

/// A batch of a replica's stream records: (seq, ts, record), and the first sequence
/// number its stream still holds (0 when empty): past the reader's checkpoint, the
/// records between were trimmed (a partition longer than the retention).
#[derive(Default)]
pub(crate) struct Changes {
    pub(crate) records: Vec<(i64, i64, Vec<u8>)>,
    pub(crate) first: i64,
}

/// Where a replica reads another replica's items and changes.
pub(crate) enum Source {
    /// The other replica is in this process.
    Local(Arc<Service>),
    /// The other replica is at a peer deployment; reads go through the seam.
    Remote(Arc<Service>, String),
}

fn key_json(k: &ItemKey) -> Value {
    json!({ "h": k.hash.to_string(), "pk": B64.encode(&k.pk), "sk": B64.encode(&k.sk) })
}

fn key_from_json(v: &Value) -> Result<ItemKey, String> {
    let bytes = |m: &str| {
        B64.decode(v[m].as_str().ok_or("key member missing")?)
            .map_err(|_| "key member not base64".to_owned())
    };
    Ok(ItemKey {
        hash: v["h"]
            .as_str()
            .and_then(|h| h.parse().ok())
            .ok_or("key hash missing")?,
        pk: bytes("pk")?,
        sk: bytes("sk")?,
    })
}

fn stamp_json(s: &WriteStamp) -> Value {
    json!({ "ts": s.ts_ms, "origin": s.origin })
}

fn stamp_from_json(v: &Value) -> Result<WriteStamp, String> {
    Ok(WriteStamp {
        ts_ms: v["ts"].as_i64().ok_or("stamp time missing")?,
        origin: v["origin"]
            .as_str()
            .ok_or("stamp origin missing")?
            .to_owned(),
    })
}

impl Source {
    async fn call(&self, op: &str, body: Value) -> Result<Value, String> {
        match self {
            Source::Local(_) => Err("not a remote source".into()),
            Source::Remote(me, region) => {
                let peers = me.peers.get().ok_or("no peers")?;
                peers
                    .remote_call(region, op, body)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The last sequence number of the replica's stream.
    pub(crate) async fn stream_end(&self, table: &str) -> Result<i64, String> {
        match self {
            Source::Local(src) => {
                let t = src.table_by_name(table).map_err(|e| e.message())?;
                let store = src.store(&t).await.map_err(|e| e.message())?;
                Ok(store.stream_bounds().await.map_err(|e| e.to_string())?.1)
            }
            Source::Remote(..) => {
                let v = self
                    .call("ReplicaState", json!({ "TableName": table }))
                    .await?;
                v["StreamEnd"].as_i64().ok_or("no StreamEnd".into())
            }
        }
    }

    /// How far the replica has applied `of`'s changes.
    pub(crate) async fn checkpoint(&self, table: &str, of: &str) -> Result<i64, String> {
        match self {
            Source::Local(src) => {
                let t = src.table_by_name(table).map_err(|e| e.message())?;
                let store = src.store(&t).await.map_err(|e| e.message())?;
                Ok(store
                    .replica_checkpoint(of)
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap_or(0))
            }
            Source::Remote(..) => {
                let v = self
                    .call("ReplicaState", json!({ "TableName": table }))
                    .await?;
                Ok(v["Checkpoints"][of].as_i64().unwrap_or(0))
            }
        }
    }

    /// Up to a batch of the replica's stream records after `after`: (seq, ts, record);
    /// `None` when that replica, at a peer deployment, has left the group (its table
    /// deleted, or no longer a replica), which its notice may not have said.
    pub(crate) async fn changes(&self, table: &str, after: i64) -> Result<Option<Changes>, String> {
        match self {
            Source::Local(src) => {
                // A replica in this process that leaves tells the others itself.
                let t = src.table_by_name(table).map_err(|e| e.message())?;
                let store = src.store(&t).await.map_err(|e| e.message())?;
                let first = store.stream_bounds().await.map_err(|e| e.to_string())?.0;
                let records = store
                    .stream_read(after, PULL_BATCH, 0, 4 << 20, 0)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Some(Changes { records, first }))
            }
            Source::Remote(me, region) => {
                let v = match me
                    .remote_raw(
                        region,
                        "ReadChanges",
                        json!({ "TableName": table, "After": after }),
                    )
                    .await
                {
                    Ok(v) => v,
                    Err(e) if e.not_found() => return Ok(None),
                    Err(e) => return Err(e.to_string()),
                };
                if v["Left"].as_bool() == Some(true) {
                    return Ok(None);
                }
                let mut out = Vec::new();
                for r in v["Records"].as_array().ok_or("no Records")? {
                    let seq = r["Seq"].as_i64().ok_or("no Seq")?;
                    let ts = r["Ts"].as_i64().ok_or("no Ts")?;
                    let bytes = B64
                        .decode(r["Record"].as_str().ok_or("no Record")?)
                        .map_err(|_| "record not base64")?;
                    out.push((seq, ts, bytes));
                }
                Ok(Some(Changes {
                    records: out,
                    first: v["First"].as_i64().unwrap_or(0),
                }))
            }
        }
    }

    /// Up to a batch of the replica's items after `after`, each with its stamp.
    pub(crate) async fn items(
        &self,
        table: &str,
        from: &str,
        after: Option<ItemKey>,
    ) -> Result<Vec<(ItemKey, Item, WriteStamp)>, String> {
        match self {
            Source::Local(src) => src.stamped_items(table, from, after).await,
            Source::Remote(..) => {
                let mut body = json!({ "TableName": table });
                if let Some(k) = &after {
                    body["After"] = key_json(k);
                }
                let v = self.call("ReadItems", body).await?;
                let mut out = Vec::new();
                for r in v["Items"].as_array().ok_or("no Items")? {
                    let item = crate::value::item_from_json(&r["Item"])
                        .map_err(|_| "item not DynamoDB JSON")?;
                    out.push((
                        key_from_json(&r["Key"])?,
                        item,
                        stamp_from_json(&r["Stamp"])?,
                    ));
                }
                Ok(out)
            }
        }
    }
}

impl Source {
    /// For each of `keys` (at most a batch): whether the replica holds the item, and
    /// its write stamp there (a deleted item's tombstone included).
    pub(crate) async fn stamps(
        &self,
        table: &str,
        keys: &[ItemKey],
    ) -> Result<Vec<(bool, Option<WriteStamp>)>, String> {
        match self {
            Source::Local(src) => src.stamps_of(table, keys).await,
            Source::Remote(..) => {
                let body = json!({ "TableName": table, "Keys": keys.iter().map(key_json).collect::<Vec<_>>() });
                let v = self.call("ReadStamps", body).await?;
                let out: Vec<_> = v["Stamps"]
                    .as_array()
                    .ok_or("no Stamps")?
                    .iter()
                    .map(|r| {
                        let stamp = match &r["Stamp"] {
                            Value::Null => None,
                            s => Some(stamp_from_json(s)?),
                        };
                        Ok((r["Held"].as_bool() == Some(true), stamp))
                    })
                    .collect::<Result<_, String>>()?;
                if out.len() != keys.len() {
                    return Err("ReadStamps answered another number of keys".into());
                }
                Ok(out)
            }
        }
    }
}

impl Service {
    /// Where this replica reads `region`'s replica of a table: in this process, or at a
    /// peer deployment.
    pub(crate) async fn source(&self, region: &str) -> Option<Source> {
        let peers = self.peers.get()?;
        if peers.is_remote(region) {
            return Some(Source::Remote(self.me.upgrade()?, region.to_owned()));
        }
        self.peer(region).await.map(Source::Local)
    }

    /// True when `region` is served by a peer deployment.
    pub(crate) fn is_remote(&self, region: &str) -> bool {
        self.peers.get().is_some_and(|p| p.is_remote(region))
    }

    /// The definition of a new replica as `CreateReplica` carries it (its stored form).
    pub(crate) fn definition_b64(def: &crate::schema::TableDef) -> String {
        B64.encode(def.encode())
    }

    /// A call to the peer deployment serving `region`.
    pub(crate) async fn remote_raw(
        &self,
        region: &str,
        op: &str,
        body: Value,
    ) -> Result<Value, RemoteError> {
        let peers = self
            .peers
            .get()
            .ok_or_else(|| RemoteError::Unreachable("no peers".into()))?;
        peers.remote_call(region, op, body).await
    }

    /// Up to a batch of this replica's items after `after`, each with its stamp (an item
    /// never changed while the table had replicas carries `(0, this region)`).
    pub(crate) async fn stamped_items(
        &self,
        table: &str,
        from: &str,
        after: Option<ItemKey>,
    ) -> Result<Vec<(ItemKey, Item, WriteStamp)>, String> {
        let t = self.table_by_name(table).map_err(|e| e.message())?;
        let store = self.store(&t).await.map_err(|e| e.message())?;
        let page = store
            .scan(0, u64::MAX, after, SEED_BATCH, 4 << 20)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(page.len());
        for stored in page {
            let item = crate::codec::decode_item(&stored.value)
                .map_err(|e| format!("stored item: {e:?}"))?;
            let stamp = store
                .write_stamp(&stored.key)
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or(WriteStamp {
                    ts_ms: 0,
                    origin: from.to_owned(),
                });
            out.push((stored.key, item, stamp));
        }
        Ok(out)
    }

    /// Whether this replica holds each of `keys`, and each one's write stamp.
    pub(crate) async fn stamps_of(
        &self,
        table: &str,
        keys: &[ItemKey],
    ) -> Result<Vec<(bool, Option<WriteStamp>)>, String> {
        let t = self.table_by_name(table).map_err(|e| e.message())?;
        let store = self.store(&t).await.map_err(|e| e.message())?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys.iter().take(SEED_BATCH) {
            let held = store.get(k).await.map_err(|e| e.to_string())?.is_some();
            let stamp = store.write_stamp(k).await.map_err(|e| e.to_string())?;
            out.push((held, stamp));
        }
        Ok(out)
    }

    /// Answers one replication call of a peer deployment, made with the replication
    /// credential (`caller`). Each call is authorized as the DynamoDB operation it
    /// amounts to on the table: reads as Scan / GetRecords / DescribeTable, changes to
    /// the group as UpdateTable, creating a replica as CreateTable.
    pub async fn replication_call(
        &self,
        op: &str,
        caller: &Principal,
        body: &[u8],
    ) -> Result<Value, DynamoError> {
        let v: Value = serde_json::from_slice(body).map_err(|_| {
            DynamoError::Serialization("Start of structure or map found where not expected".into())
        })?;
        let table = v["TableName"].as_str().unwrap_or_default().to_owned();
        let as_op = match op {
            "ReadChanges" | "ReadItems" | "ReadStamps" => crate::service::Operation::Scan,
            "ReplicaState" => crate::service::Operation::DescribeTable,
            "LegacyGlobalTables" => crate::service::Operation::ListGlobalTables,
            "CreateReplica" => crate::service::Operation::CreateTable,
            "AddMember" | "RemoveMember" | "RemoveReplica" | "UpdateReplica" => {
                crate::service::Operation::UpdateTable
            }
            _ => {
                return Err(DynamoError::validation(format!(
                    "Unknown replication operation {op}"
                )));
            }
        };
        let mut request = serde_json::Map::new();
        request.insert("TableName".into(), Value::String(table.clone()));
        self.authorize(as_op, caller, &crate::input::Input::from_map(request))?;
        let fail = |e: String| {
            tracing::warn!(op, error = %e, "replication call failed");
            DynamoError::Internal
        };
        match op {
            "ReadChanges" => {
                // A replica that left (its table deleted, or out of its group) says so:
                // the reader forgets it even if the notice of its leaving was missed.
                let t = self.table_by_name(&table)?;
                if t.def.replication.is_none() {
                    return Ok(json!({ "Records": [], "Left": true }));
                }
                let after = v["After"].as_i64().unwrap_or(0);
                let Some(recs) = Source::Local(self.me.upgrade().ok_or(DynamoError::Internal)?)
                    .changes(&table, after)
                    .await
                    .map_err(fail)?
                else {
                    return Ok(json!({ "Records": [], "Left": true }));
                };
                let records: Vec<Value> = recs
                    .records
                    .iter()
                    .map(|(seq, ts, b)| json!({ "Seq": seq, "Ts": ts, "Record": B64.encode(b) }))
                    .collect();
                Ok(json!({ "Records": records, "First": recs.first }))
            }
            "ReadItems" => {
                let after = match v.get("After") {
                    Some(k) if !k.is_null() => Some(key_from_json(k).map_err(fail)?),
                    _ => None,
                };
                let items = self
                    .stamped_items(&table, self.region(), after)
                    .await
                    .map_err(fail)?;
                let items: Vec<Value> = items
                    .iter()
                    .map(|(k, item, s)| {
                        json!({ "Key": key_json(k), "Item": crate::value::item_to_json(item), "Stamp": stamp_json(s) })
                    })
                    .collect();
                Ok(json!({ "Items": items }))
            }
            "ReadStamps" => {
                let keys = v["Keys"]
                    .as_array()
                    .map(|ks| ks.iter().map(key_from_json).collect::<Result<Vec<_>, _>>())
                    .transpose()
                    .map_err(|_| DynamoError::validation("Bad Keys".to_owned()))?
                    .unwrap_or_default();
                if keys.len() > SEED_BATCH {
                    return Err(DynamoError::validation(format!(
                        "Too many Keys: at most {SEED_BATCH}"
                    )));
                }
                let stamps = self.stamps_of(&table, &keys).await.map_err(fail)?;
                let stamps: Vec<Value> = stamps
                    .iter()
                    .map(|(held, s)| json!({ "Held": held, "Stamp": s.as_ref().map(stamp_json) }))
                    .collect();
                Ok(json!({ "Stamps": stamps }))
            }
            "ReplicaState" => self.replica_state(&table).await,
            "LegacyGlobalTables" => self.legacy_global_tables_call().await,
            "CreateReplica" => {
                let def = B64
                    .decode(v["Definition"].as_str().unwrap_or_default())
                    .map_err(|_| ())
                    .and_then(|b| crate::schema::TableDef::decode(&b).map_err(|_| ()))
                    .map_err(|()| DynamoError::validation("Bad replica definition".to_owned()))?;
                let sse = match v["Sse"].as_str() {
                    Some("AwsManaged") => crate::ops::tables::SseRequest::AwsManaged,
                    Some("Customer") => crate::ops::tables::SseRequest::Customer(
                        v["KMSMasterKeyId"].as_str().unwrap_or_default().to_owned(),
                    ),
                    _ => crate::ops::tables::SseRequest::Owned,
                };
                let from = v["SeedFrom"].as_str().unwrap_or_default();
                // The same call again (answered, but its queue entry outlived a restart).
                let again = self.def(&table).is_some_and(|d| {
                    d.replication
                        .as_ref()
                        .is_some_and(|g| g.replicas.iter().any(|r| r == from))
                });
                if again {
                    return Ok(json!({}));
                }
                self.create_replica_table(def, &sse, caller).await?;
                self.spawn_seed(&table, from);
                Ok(json!({}))
            }
            "AddMember" => {
                self.add_member(&table, v["Region"].as_str().unwrap_or_default())
                    .await;
                Ok(json!({}))
            }
            "UpdateReplica" => {
                let raw = v["Update"].as_object().cloned().unwrap_or_default();
                self.change_replica(
                    &table,
                    raw.get("KMSMasterKeyId").and_then(Value::as_str),
                    raw.get("TableClassOverride").and_then(Value::as_str),
                    &raw,
                    caller,
                )
                .await?;
                Ok(json!({}))
            }
            "RemoveMember" => {
                self.remove_member(&table, v["Region"].as_str().unwrap_or_default())
                    .await;
                Ok(json!({}))
            }
            _ => {
                self.begin_leaving(&table).await?;
                Ok(json!({}))
            }
        }
    }

    /// What a peer deployment asks of this replica: its summary, its stream's end and how
    /// far it has applied each other replica's changes.
    async fn replica_state(&self, table: &str) -> Result<Value, DynamoError> {
        let t = self.table_by_name(table)?;
        let store = self.store(&t).await.ok();
        let end = match &store {
            Some(s) => s.stream_bounds().await.map(|b| b.1).unwrap_or(0),
            None => 0,
        };
        let mut checkpoints = serde_json::Map::new();
        if let (Some(s), Some(g)) = (&store, &t.def.replication) {
            for r in &g.replicas {
                if let Ok(Some(c)) = s.replica_checkpoint(r).await {
                    checkpoints.insert(r.clone(), json!(c));
                }
            }
        }
        let summary = self.replica_summary(table).await.map(|s| s.to_json());
        Ok(json!({ "StreamEnd": end, "Checkpoints": checkpoints, "Summary": summary }))
    }
}
