//! DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator and GetRecords.
//!
//! Records are written by `index::mutations` in the same storage transaction as the
//! change, into the table's own encrypted file, so the stream is under the table key like
//! the items. Records older than 24 hours are not returned. Shards roll over with writes
//! every few hours and hand over to a child shard (`shards.rs`). A shard iterator is the
//! base64 of `v2|label|shard start|last sequence number read|created ms|table`; it
//! expires after 15 minutes, as AWS's do.

use crate::error::DynamoError;
use crate::input::Input;
use crate::ops::shards::{self, Shard, parse_shard_id, shard_id};
use crate::schema::TableDef;
use crate::service::Service;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::sync::Arc;

/// GetRecords' largest (and default) Limit.
const MAX_RECORDS: i64 = 1000;
/// DescribeStream's largest (and default) Limit.
const MAX_SHARDS: i64 = 100;
/// How long a shard iterator may be used.
const ITERATOR_LIFETIME_MS: i64 = 15 * 60 * 1000;
/// The most a GetRecords answer carries, as AWS: 1 MB; the next page starts after it.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// What a record adds to its stored images in the answer (ids, names, sequence number).
const RECORD_ENVELOPE_BYTES: usize = 400;

/// Sequence numbers go out as 21-digit strings, as DynamoDB's do.
fn sequence_number(seq: i64) -> String {
    format!("{seq:021}")
}

fn invalid_iterator() -> DynamoError {
    DynamoError::validation("Invalid ShardIterator")
}

/// Where an iterator reads: its stream, its shard, and the last sequence number read.
pub(crate) struct Position {
    pub(crate) table: String,
    pub(crate) label: String,
    shard_start: i64,
    after: i64,
    created_ms: i64,
}

fn encode_iterator(p: &Position) -> String {
    B64.encode(format!(
        "v2|{}|{}|{}|{}|{}",
        p.label, p.shard_start, p.after, p.created_ms, p.table
    ))
}

pub(crate) fn decode_iterator(it: &str) -> Option<Position> {
    let text = String::from_utf8(B64.decode(it).ok()?).ok()?;
    let mut parts = text.splitn(6, '|');
    if parts.next()? != "v2" {
        return None;
    }
    Some(Position {
        label: parts.next()?.to_owned(),
        shard_start: parts.next()?.parse().ok()?,
        after: parts.next()?.parse().ok()?,
        created_ms: parts.next()?.parse().ok()?,
        table: parts.next()?.to_owned(),
    })
}

fn trimmed() -> DynamoError {
    DynamoError::TrimmedDataAccess(
        "The operation attempted to read past the oldest stream record in a shard.".into(),
    )
}

/// The parts of a well-formed stream ARN of this account and region: table and label.
fn split_stream_arn<'a>(arn: &'a str, table_prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = arn.strip_prefix(table_prefix)?;
    let (table, label) = rest.split_once("/stream/")?;
    let valid_table = (3..=255).contains(&table.len())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    (valid_table && !label.is_empty()).then_some((table, label))
}

/// The DynamoDB Streams operations served (`DynamoDBStreams_20120810.*`).
pub const STREAMS_OPERATIONS: &[&str] = &[
    "ListStreams",
    "DescribeStream",
    "GetShardIterator",
    "GetRecords",
];

impl Service {
    /// Runs one DynamoDB Streams operation; `None` when the name is not one.
    pub async fn call_streams(
        &self,
        operation: &str,
        caller: &sealdb_common::Principal,
        body: &[u8],
    ) -> Option<Result<Value, DynamoError>> {
        if !Self::is_streams_operation(operation) {
            return None;
        }
        let input = match Input::parse(body) {
            Ok(i) => i,
            Err(e) => return Some(Err(e)),
        };
        if let Err(denied) = self.authorize_streams(operation, caller, &input) {
            return Some(Err(denied));
        }
        Some(match operation {
            "ListStreams" => self.list_streams(&input),
            "DescribeStream" => self.describe_stream(&input).await,
            "GetShardIterator" => self.get_shard_iterator(&input).await,
            "GetRecords" => self.get_records(&input).await,
            _ => return None,
        })
    }

    /// Whether `operation` is a DynamoDB Streams operation.
    pub fn is_streams_operation(operation: &str) -> bool {
        STREAMS_OPERATIONS.contains(&operation)
    }

    fn stream_arn(&self, def: &TableDef, label: &str) -> String {
        format!(
            "{}/stream/{label}",
            def.arn(&self.cfg.region, &self.cfg.account_id)
        )
    }

    /// The table and label of a stream ARN whose stream is currently enabled. A malformed
    /// ARN is a ValidationException, a well-formed one of no stream ResourceNotFound.
    fn stream_by_arn(&self, arn: &str) -> Result<(Arc<TableDef>, String), DynamoError> {
        if arn.len() < 37 {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{arn}' at 'streamArn' failed to satisfy constraint: Member must have length greater than or equal to 37"
            )));
        }
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.cfg.region, self.cfg.account_id
        );
        let well_formed = arn.starts_with("arn:aws:dynamodb:") && arn.contains("/stream/");
        let Some((table, label)) = split_stream_arn(arn, &prefix) else {
            return Err(if well_formed {
                not_found_stream(arn)
            } else {
                DynamoError::validation(format!("Invalid StreamArn: {arn}"))
            });
        };
        let def = self.def(table).ok_or_else(|| not_found_stream(arn))?;
        match &def.stream {
            Some(s) if s.label == label => {
                let label = s.label.clone();
                Ok((def, label))
            }
            _ => Err(not_found_stream(arn)),
        }
    }

    /// The shards of a table's current stream, oldest first.
    async fn stream_shards(&self, def: &TableDef) -> Result<Vec<Shard>, DynamoError> {
        let Some(settings) = &def.stream else {
            return Ok(Vec::new());
        };
        let t = self.table_by_name(&def.name)?;
        let store = self.store(&t).await?;
        let starts = store.stream_shard_starts().await?;
        let (oldest, _) = store.stream_bounds().await?;
        Ok(shards::shards(settings, &starts, oldest))
    }

    fn list_streams(&self, input: &Input) -> Result<Value, DynamoError> {
        let table = input.str_opt("TableName")?.map(|t| self.table_name_from(t));
        let limit = input.int_opt("Limit")?.unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
            )));
        }
        let after = input.str_opt("ExclusiveStartStreamArn")?;
        let mut defs: Vec<Arc<TableDef>> = self
            .defs
            .read()
            .map_err(|_| DynamoError::Internal)?
            .values()
            .filter(|d| d.stream.is_some() && table.is_none_or(|t| t == d.name))
            .cloned()
            .collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut streams: Vec<(String, Value)> = defs
            .iter()
            .filter_map(|d| {
                let s = d.stream.as_ref()?;
                let arn = self.stream_arn(d, &s.label);
                let v = json!({"StreamArn": arn, "TableName": d.name, "StreamLabel": s.label});
                Some((arn, v))
            })
            .filter(|(arn, _)| after.is_none_or(|a| arn.as_str() > a))
            .collect();
        let usize_limit = usize::try_from(limit).unwrap_or(100);
        let more = streams.len() > usize_limit;
        streams.truncate(usize_limit);
        let mut out = json!({
            "Streams": streams.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()
        });
        if more && let Some((arn, _)) = streams.last() {
            out["LastEvaluatedStreamArn"] = Value::from(arn.clone());
        }
        Ok(out)
    }

    async fn describe_stream(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("StreamArn")?;
        let limit = input.int_opt("Limit")?.unwrap_or(MAX_SHARDS);
        if limit < 1 {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        let filter = match input.obj_opt("ShardFilter")? {
            None => None,
            Some(f) => {
                match f.get("Type").and_then(Value::as_str) {
                    Some("CHILD_SHARDS") => {}
                    other => {
                        return Err(DynamoError::validation(format!(
                            "1 validation error detected: Value '{}' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [CHILD_SHARDS]",
                            other.unwrap_or("null")
                        )));
                    }
                }
                let Some(id) = f.get("ShardId").and_then(Value::as_str) else {
                    return Err(DynamoError::validation(
                        "ShardFilter of type CHILD_SHARDS requires a ShardId",
                    ));
                };
                Some(id.to_owned())
            }
        };
        let exclusive_start = input.str_opt("ExclusiveStartShardId")?;
        let (def, label) = self.stream_by_arn(arn)?;
        let view = def
            .stream
            .as_ref()
            .map(|s| s.view_type.clone())
            .unwrap_or_default();
        let all = self.stream_shards(&def).await?;
        let parent_wanted = filter.as_deref().map(|id| parse_shard_id(&label, id));
        let after = exclusive_start.and_then(|id| parse_shard_id(&label, id));
        let mut listed: Vec<&Shard> = all
            .iter()
            .filter(|s| match parent_wanted {
                None => true,
                Some(parent) => parent.is_some() && s.parent_start == parent,
            })
            .filter(|s| after.is_none_or(|a| s.start > a))
            .collect();
        let max = usize::try_from(limit.min(MAX_SHARDS)).unwrap_or(100);
        let more = listed.len() > max;
        listed.truncate(max);
        let shards_json: Vec<Value> = listed
            .iter()
            .map(|s| {
                let mut range = json!({"StartingSequenceNumber": sequence_number(s.start)});
                if let Some(end) = s.end {
                    range["EndingSequenceNumber"] = Value::from(sequence_number(end));
                }
                let mut shard = json!({
                    "ShardId": shard_id(&label, s.start),
                    "SequenceNumberRange": range,
                });
                if let Some(p) = s.parent_start {
                    shard["ParentShardId"] = Value::from(shard_id(&label, p));
                }
                shard
            })
            .collect();
        let mut key_schema = vec![json!({"AttributeName": def.hash_key.name, "KeyType": "HASH"})];
        if let Some(r) = &def.range_key {
            key_schema.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
        }
        let mut description = json!({
            "StreamArn": self.stream_arn(&def, &label),
            "StreamLabel": label,
            "StreamStatus": "ENABLED",
            "StreamViewType": view,
            "TableName": def.name,
            "KeySchema": key_schema,
            "Shards": shards_json,
        });
        if more && let Some(last) = listed.last() {
            description["LastEvaluatedShardId"] = Value::from(shard_id(&label, last.start));
        }
        Ok(json!({"StreamDescription": description}))
    }

    /// The shard of this stream named `id`, or ResourceNotFound.
    async fn shard_by_id(
        &self,
        def: &TableDef,
        label: &str,
        id: &str,
    ) -> Result<Shard, DynamoError> {
        let not_found = || {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: Shard does not exist: {id}"
            ))
        };
        let start = parse_shard_id(label, id).ok_or_else(not_found)?;
        self.stream_shards(def)
            .await?
            .into_iter()
            .find(|s| s.start == start)
            .ok_or_else(not_found)
    }

    async fn get_shard_iterator(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("StreamArn")?;
        let shard_name = input.str_req("ShardId")?;
        let kind = input.str_req("ShardIteratorType")?;
        if !matches!(
            kind,
            "TRIM_HORIZON" | "LATEST" | "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER"
        ) {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{kind}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            )));
        }
        let (def, label) = self.stream_by_arn(arn)?;
        let shard = self.shard_by_id(&def, &label, shard_name).await?;
        let t = self.table_by_name(&def.name)?;
        let (oldest, newest) = self.store(&t).await?.stream_bounds().await?;
        // The last sequence number the shard holds now.
        let shard_last = shard.end.unwrap_or(newest.max(shard.start - 1));
        let seq = || -> Result<i64, DynamoError> {
            let s = input.str_opt("SequenceNumber")?.ok_or_else(|| {
                DynamoError::validation(format!(
                    "Must specify a sequence number for iterator type {kind}"
                ))
            })?;
            let n =
                s.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    DynamoError::validation(format!("Invalid SequenceNumber: {s}"))
                })?;
            if n < shard.start || n > shard_last {
                return Err(DynamoError::validation(format!(
                    "Invalid SequenceNumber: {s} is not in shard {shard_name}"
                )));
            }
            if oldest > 0 && n < oldest {
                return Err(trimmed());
            }
            Ok(n)
        };
        let after = match kind {
            "TRIM_HORIZON" => shard.start.max(oldest) - 1,
            "LATEST" => shard_last,
            "AT_SEQUENCE_NUMBER" => seq()? - 1,
            _ => seq()?,
        };
        let it = encode_iterator(&Position {
            table: def.name.clone(),
            label,
            shard_start: shard.start,
            after,
            created_ms: self.now_ms(),
        });
        Ok(json!({"ShardIterator": it}))
    }

    async fn get_records(&self, input: &Input) -> Result<Value, DynamoError> {
        let it = input.str_req("ShardIterator")?;
        let limit = input.int_opt("Limit")?.unwrap_or(MAX_RECORDS);
        if !(1..=MAX_RECORDS).contains(&limit) {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
            )));
        }
        let pos = decode_iterator(it).ok_or_else(invalid_iterator)?;
        let now = self.now_ms();
        if now - pos.created_ms > ITERATOR_LIFETIME_MS {
            return Err(DynamoError::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_LIFETIME_MS} milliseconds.",
                crate::schema::iso_millis(pos.created_ms),
                crate::schema::iso_millis(now)
            )));
        }
        let def = self.def(&pos.table).ok_or_else(invalid_iterator)?;
        match &def.stream {
            Some(s) if s.label == pos.label => {}
            _ => return Err(invalid_iterator()),
        }
        let shard = self
            .stream_shards(&def)
            .await?
            .into_iter()
            .find(|s| s.start == pos.shard_start)
            .ok_or_else(trimmed)?;
        let t = self.table_by_name(&pos.table)?;
        let store = self.store(&t).await?;
        let (oldest, _) = store.stream_bounds().await?;
        if oldest > 0 && pos.after + 1 < oldest {
            return Err(trimmed());
        }
        let min_ts = now - sealdb_storage::STREAM_RETENTION_MS;
        let mut rows = store
            .stream_read(
                pos.after,
                usize::try_from(limit).unwrap_or(1000),
                min_ts,
                MAX_RESPONSE_BYTES,
                RECORD_ENVELOPE_BYTES,
            )
            .await?;
        if let Some(end) = shard.end {
            rows.retain(|(seq, _, _)| *seq <= end);
        }
        let mut last = pos.after;
        let mut records = Vec::with_capacity(rows.len());
        for (seq, ts, bytes) in rows {
            last = seq;
            records.push(self.wire_record(&pos.table, seq, ts, &bytes)?);
        }
        let mut out = json!({"Records": records});
        // A closed shard read to its end has no next iterator: the consumer moves on to
        // the child shard.
        let drained = shard.end.is_some_and(|end| last >= end);
        if !drained {
            out["NextShardIterator"] = Value::from(encode_iterator(&Position {
                after: last,
                created_ms: now,
                ..pos
            }));
        }
        Ok(out)
    }

    /// A stored record as GetRecords sends it.
    fn wire_record(
        &self,
        table: &str,
        seq: i64,
        ts: i64,
        bytes: &[u8],
    ) -> Result<Value, DynamoError> {
        let Some((&crate::index::STREAM_RECORD_V1, body)) = bytes.split_first() else {
            tracing::error!(table = %table, seq, "stream record of unknown version");
            return Err(DynamoError::Internal);
        };
        let mut r: Value = serde_json::from_slice(body).map_err(|_| DynamoError::Internal)?;
        let event = r["eventName"].take();
        let mut dynamodb = r;
        // Who made the change sits beside the record's `dynamodb` member (TTL deletions).
        let user_identity = dynamodb.as_object_mut().and_then(|m| {
            m.remove("eventName");
            m.remove(crate::index::REPLICATION_MEMBER);
            m.remove("userIdentity")
        });
        dynamodb["SequenceNumber"] = Value::from(sequence_number(seq));
        // Whole seconds, as DynamoDB sends ApproximateCreationDateTime.
        dynamodb["ApproximateCreationDateTime"] = Value::from(ts / 1000);
        let mut record = json!({
            "eventID": format!("{seq:032x}"),
            "eventName": event,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.cfg.region,
            "dynamodb": dynamodb,
        });
        if let Some(identity) = user_identity {
            record["userIdentity"] = identity;
        }
        Ok(record)
    }
}

fn not_found_stream(arn: &str) -> DynamoError {
    DynamoError::ResourceNotFound(format!(
        "Requested resource not found: Stream: {arn} not found"
    ))
}
