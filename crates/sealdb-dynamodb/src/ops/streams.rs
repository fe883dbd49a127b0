//! DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator and GetRecords.
//!
//! Each table with an enabled stream has one shard. Its records are written by
//! `index::mutations` in the same storage transaction as the change, into the table's own
//! encrypted file, so the stream is under the table key like the items. Records older
//! than 24 hours are not returned. A shard iterator is the base64 of
//! `v1 ‖ label ‖ position ‖ table name`, where position is the last sequence number read.

use crate::error::DynamoError;
use crate::input::Input;
use crate::schema::TableDef;
use crate::service::Service;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::sync::Arc;

/// The single shard of every stream.
const SHARD_ID: &str = "shardId-00000000000000000001-00000001";
/// GetRecords' largest (and default) Limit.
const MAX_RECORDS: i64 = 1000;

/// Sequence numbers go out as 21-digit strings, as DynamoDB's do.
fn sequence_number(seq: i64) -> String {
    format!("{seq:021}")
}

fn invalid_iterator() -> DynamoError {
    DynamoError::validation("Invalid ShardIterator")
}

fn encode_iterator(table: &str, label: &str, after: i64) -> String {
    B64.encode(format!("v1|{label}|{after}|{table}"))
}

/// (table, label, last sequence number read).
fn decode_iterator(it: &str) -> Option<(String, String, i64)> {
    let text = String::from_utf8(B64.decode(it).ok()?).ok()?;
    let mut parts = text.splitn(4, '|');
    if parts.next()? != "v1" {
        return None;
    }
    let label = parts.next()?.to_owned();
    let after = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_owned(), label, after))
}

impl Service {
    /// Runs one DynamoDB Streams operation; `None` when the name is not one.
    pub async fn call_streams(
        &self,
        operation: &str,
        body: &[u8],
    ) -> Option<Result<Value, DynamoError>> {
        let input = match Input::parse(body) {
            Ok(i) => i,
            Err(e) => return Some(Err(e)),
        };
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
        matches!(
            operation,
            "ListStreams" | "DescribeStream" | "GetShardIterator" | "GetRecords"
        )
    }

    fn stream_arn(&self, def: &TableDef, label: &str) -> String {
        format!(
            "{}/stream/{label}",
            def.arn(&self.cfg.region, &self.cfg.account_id)
        )
    }

    /// The table and label of a stream ARN whose stream is currently enabled.
    fn stream_by_arn(&self, arn: &str) -> Result<(Arc<TableDef>, String), DynamoError> {
        let not_found = || {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: Stream: {arn} not found"
            ))
        };
        let rest = self.table_name_from(arn);
        let (table, label) = rest.split_once("/stream/").ok_or_else(not_found)?;
        let def = self.def(table).ok_or_else(not_found)?;
        match &def.stream {
            Some(s) if s.label == label => {
                let label = s.label.clone();
                Ok((def, label))
            }
            _ => Err(not_found()),
        }
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
        let (def, label) = self.stream_by_arn(arn)?;
        let view = def
            .stream
            .as_ref()
            .map(|s| s.view_type.clone())
            .unwrap_or_default();
        let t = self.table_by_name(&def.name)?;
        let store = self.store(&t).await?;
        let first = store
            .stream_bounds()
            .await?
            .0
            .max(def.stream.as_ref().map_or(0, |s| s.after_seq) + 1);
        let mut key_schema = vec![json!({"AttributeName": def.hash_key.name, "KeyType": "HASH"})];
        if let Some(r) = &def.range_key {
            key_schema.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
        }
        Ok(json!({"StreamDescription": {
            "StreamArn": self.stream_arn(&def, &label),
            "StreamLabel": label,
            "StreamStatus": "ENABLED",
            "StreamViewType": view,
            "TableName": def.name,
            "KeySchema": key_schema,
            "Shards": [{
                "ShardId": SHARD_ID,
                "SequenceNumberRange": {"StartingSequenceNumber": sequence_number(first)},
            }],
        }}))
    }

    async fn get_shard_iterator(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("StreamArn")?;
        let shard = input.str_req("ShardId")?;
        let kind = input.str_req("ShardIteratorType")?;
        let (def, label) = self.stream_by_arn(arn)?;
        if shard != SHARD_ID {
            return Err(DynamoError::ResourceNotFound(format!(
                "Requested resource not found: Shard does not exist: {shard}"
            )));
        }
        let seq = || -> Result<i64, DynamoError> {
            let s = input.str_opt("SequenceNumber")?.ok_or_else(|| {
                DynamoError::validation(format!(
                    "Must specify a sequence number for iterator type {kind}"
                ))
            })?;
            s.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| DynamoError::validation(format!("Invalid SequenceNumber: {s}")))
        };
        let after = match kind {
            "TRIM_HORIZON" => 0,
            "LATEST" => {
                let t = self.table_by_name(&def.name)?;
                self.store(&t).await?.stream_bounds().await?.1
            }
            "AT_SEQUENCE_NUMBER" => seq()? - 1,
            "AFTER_SEQUENCE_NUMBER" => seq()?,
            other => {
                return Err(DynamoError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
                )));
            }
        };
        Ok(json!({"ShardIterator": encode_iterator(&def.name, &label, after)}))
    }

    async fn get_records(&self, input: &Input) -> Result<Value, DynamoError> {
        let it = input.str_req("ShardIterator")?;
        let limit = input.int_opt("Limit")?.unwrap_or(MAX_RECORDS);
        if !(1..=MAX_RECORDS).contains(&limit) {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
            )));
        }
        let (table, label, after) = decode_iterator(it).ok_or_else(invalid_iterator)?;
        let def = self.def(&table).ok_or_else(invalid_iterator)?;
        let floor = match &def.stream {
            Some(s) if s.label == label => s.after_seq,
            _ => return Err(invalid_iterator()),
        };
        let after = after.max(floor);
        let t = self.table_by_name(&table)?;
        let store = self.store(&t).await?;
        let min_ts = self.now_ms() - sealdb_storage::STREAM_RETENTION_MS;
        let rows = store
            .stream_read(after, usize::try_from(limit).unwrap_or(1000), min_ts)
            .await?;
        let mut last = after;
        let mut records = Vec::with_capacity(rows.len());
        for (seq, ts, bytes) in rows {
            last = seq;
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
            records.push(record);
        }
        Ok(json!({
            "Records": records,
            "NextShardIterator": encode_iterator(&table, &label, last),
        }))
    }
}
