//! BatchGetItem and BatchWriteItem.
//!
//! A BatchWriteItem applies each table's requests as one write unit (one transaction,
//! one fsync); DynamoDB promises no atomicity across a batch, so this is stronger than
//! required, and cheaper than a unit per item.

use crate::codec;
use crate::error::DynamoError;
use crate::expr::{self, ExpressionAttributes, Projection};
use crate::index::mutations;
use crate::input::{Input, null_member, validation_errors, value_error};
use crate::ops::capacity::{ReturnCapacity, read_units, write_units};
use crate::ops::items::MAX_ITEM_BYTES;
use crate::service::{KeySource, Service, item_key};
use crate::value::{Item, item_from_json, item_size, item_to_json};
use sealdb_storage::{Decision, ItemKey, WriteTx, apply};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::Arc;

const MAX_BATCH_WRITE: usize = 25;
const MAX_BATCH_GET: usize = 100;
/// Responses of a BatchGetItem stop at this size; the rest goes to UnprocessedKeys.
const MAX_BATCH_GET_BYTES: usize = 16 * 1024 * 1024;

fn duplicates() -> DynamoError {
    DynamoError::validation("Provided list of item keys contains duplicates")
}

fn ser(msg: &str) -> DynamoError {
    DynamoError::Serialization(msg.to_owned())
}

enum WriteRequest {
    Put(ItemKey, Item),
    Delete(ItemKey),
}

fn parse_item(v: &Value) -> Result<Item, DynamoError> {
    if !v.is_object() {
        return Err(ser("Unexpected value type in payload; expected a map"));
    }
    item_from_json(v).map_err(value_error)
}

/// `ReturnConsumedCapacity` and the `RequestItems` map, which both batches require.
fn capacity_and_request_items(
    input: &Input,
) -> Result<(ReturnCapacity, &Map<String, Value>), DynamoError> {
    let rc = ReturnCapacity::parse(input.str_opt("ReturnConsumedCapacity")?)?;
    let Some(request_items) = input.obj_opt("RequestItems")? else {
        return Err(validation_errors(&[null_member("requestItems")]));
    };
    Ok((rc, request_items))
}

/// `ReturnConsumedCapacity` and `RequestItems` of a BatchWriteItem, checked as AWS
/// checks them before any table.
pub(crate) fn batch_write_request_items(
    input: &Input,
) -> Result<(ReturnCapacity, &Map<String, Value>), DynamoError> {
    let (rc, request_items) = capacity_and_request_items(input)?;
    let total: usize = request_items
        .values()
        .map(|v| v.as_array().map_or(0, Vec::len))
        .sum();
    if request_items.is_empty() || total == 0 || total > MAX_BATCH_WRITE {
        let names: Vec<&str> = request_items.keys().map(String::as_str).collect();
        return Err(validation_errors(&[format!(
            "Value '{{{}}}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
            names.join(", ")
        )]));
    }
    Ok((rc, request_items))
}

/// One table's write requests, and the table name checked.
pub(crate) fn batch_write_requests<'a>(
    table_name: &str,
    requests: &'a Value,
) -> Result<&'a Vec<Value>, DynamoError> {
    let Some(requests) = requests.as_array() else {
        return Err(ser(
            "Unexpected value type in payload for member RequestItems",
        ));
    };
    crate::ops::tables::validate_table_name_param(table_name)?;
    Ok(requests)
}

/// `ReturnConsumedCapacity` and `RequestItems` of a BatchGetItem.
pub(crate) fn batch_get_request_items(
    input: &Input,
) -> Result<(ReturnCapacity, &Map<String, Value>), DynamoError> {
    let (rc, request_items) = capacity_and_request_items(input)?;
    let total: usize = request_items
        .values()
        .map(|v| v.get("Keys").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if total > MAX_BATCH_GET {
        return Err(DynamoError::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    if request_items.is_empty() {
        return Err(validation_errors(&[
            "Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1".to_owned(),
        ]));
    }
    Ok((rc, request_items))
}

/// What one table's part of a BatchGetItem says on its own: AWS checks the expressions
/// before it looks for the table.
pub(crate) struct TableReadRequest {
    /// The part, legacy parameters rewritten.
    spec: Map<String, Value>,
    sub: Input,
    projection: Option<Projection>,
}

impl TableReadRequest {
    pub(crate) fn parse(table_name: &str, spec: &Value) -> Result<Self, DynamoError> {
        let spec = spec
            .as_object()
            .ok_or_else(|| ser("Unexpected value type in payload for member KeysAndAttributes"))?;
        crate::ops::tables::validate_table_name_param(table_name)?;
        let mut spec = spec.clone();
        crate::legacy::rewrite(crate::service::Operation::GetItem, &mut spec)?;
        let sub = Input::from_map(spec.clone());
        let names = sub.names()?;
        let proj_text = sub.str_opt("ProjectionExpression")?;
        if names.is_some() && proj_text.is_none() {
            return Err(DynamoError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        let mut attrs = ExpressionAttributes::new(names, None);
        let projection = proj_text
            .map(|p| expr::parse_projection(p, &mut attrs))
            .transpose()
            .map_err(|e| DynamoError::validation(e.message()))?;
        attrs
            .check_all_used()
            .map_err(|e| DynamoError::validation(e.message()))?;
        Ok(TableReadRequest {
            spec,
            sub,
            projection,
        })
    }
}

impl Service {
    pub(crate) async fn batch_write_item(&self, input: &Input) -> Result<Value, DynamoError> {
        let (rc, request_items) = batch_write_request_items(input)?;
        // Validate everything before writing anything.
        let mut plan = Vec::new();
        for (table_name, requests) in request_items {
            let requests = batch_write_requests(table_name, requests)?;
            let t = self.def(self.table_name_from(table_name)).ok_or_else(|| {
                DynamoError::ResourceNotFound("Requested resource not found".into())
            })?;
            let mut seen = HashSet::new();
            let mut writes = Vec::new();
            for r in requests {
                let r = r.as_object().ok_or_else(|| {
                    ser("Unexpected value type in payload for member WriteRequest")
                })?;
                let put = r.get("PutRequest").filter(|v| !v.is_null());
                let del = r.get("DeleteRequest").filter(|v| !v.is_null());
                let w = match (put, del) {
                    (Some(p), None) => {
                        let item = parse_item(p.get("Item").unwrap_or(&Value::Null))?;
                        let key = item_key(&t, &item, KeySource::Item)?;
                        crate::index::check_index_keys(&t, &item)?;
                        if item_size(&item) > MAX_ITEM_BYTES {
                            return Err(DynamoError::validation(
                                "Item size has exceeded the maximum allowed size",
                            ));
                        }
                        WriteRequest::Put(key, item)
                    }
                    (None, Some(d)) => {
                        let key_attrs = parse_item(d.get("Key").unwrap_or(&Value::Null))?;
                        WriteRequest::Delete(item_key(&t, &key_attrs, KeySource::Key)?)
                    }
                    _ => {
                        return Err(DynamoError::validation(
                            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                        ));
                    }
                };
                let key = match &w {
                    WriteRequest::Put(k, _) | WriteRequest::Delete(k) => k.clone(),
                };
                if !seen.insert(key) {
                    return Err(duplicates());
                }
                writes.push(w);
            }
            plan.push((self.table_name_from(table_name).to_owned(), writes));
        }
        let mut capacity = Vec::new();
        for (name, writes) in plan {
            let t = self.table_by_name(&name)?;
            let store = self.store(&t).await?;
            let def = Arc::clone(&t.def);
            let units = store
                .write(move |tx: &mut dyn WriteTx| {
                    let mut units = 0.0;
                    for w in writes {
                        let (key, new) = match w {
                            WriteRequest::Put(key, item) => (key, Some(item)),
                            WriteRequest::Delete(key) => (key, None),
                        };
                        let old = match crate::ops::items::decode_stored(tx.get(&key)?) {
                            Ok(o) => o,
                            Err(e) => return Ok(Decision::Rollback(Err(e))),
                        };
                        let size = old
                            .as_ref()
                            .map_or(0, item_size)
                            .max(new.as_ref().map_or(0, item_size));
                        if old.is_some() || new.is_some() {
                            apply(tx, &mutations(&def, &key, old.as_ref(), new.as_ref()))?;
                        }
                        units += write_units(size);
                    }
                    Ok(Decision::Commit(Ok(units)))
                })
                .await??;
            capacity.push(
                json!({"TableName": name, "CapacityUnits": units, "WriteCapacityUnits": units}),
            );
        }
        let mut out = json!({"UnprocessedItems": {}});
        if rc != ReturnCapacity::None {
            out["ConsumedCapacity"] = Value::Array(capacity);
        }
        Ok(out)
    }

    pub(crate) async fn batch_get_item(&self, input: &Input) -> Result<Value, DynamoError> {
        let (rc, request_items) = batch_get_request_items(input)?;
        struct TableRead {
            name: String,
            /// The table as the request named it (name or ARN): the answer uses it too.
            requested: String,
            keys: Vec<(ItemKey, Item)>,
            projection: Option<Projection>,
            consistent: bool,
            raw: Map<String, Value>,
        }
        let mut reads = Vec::new();
        for (table_name, spec) in request_items {
            let TableReadRequest {
                spec,
                sub,
                projection,
            } = TableReadRequest::parse(table_name, spec)?;
            let name = self.table_name_from(table_name).to_owned();
            // AWS checks the expressions before it looks for the table.
            let t = self.def(&name).ok_or_else(|| {
                DynamoError::ResourceNotFound("Requested resource not found".into())
            })?;
            let Some(keys) = sub.list_opt("Keys")? else {
                return Err(validation_errors(&[null_member("requestItems.keys")]));
            };
            if keys.is_empty() {
                return Err(validation_errors(&[
                    "Value '[]' at 'requestItems.keys' failed to satisfy constraint: Member must have length greater than or equal to 1".to_owned(),
                ]));
            }
            let mut seen = HashSet::new();
            let mut parsed = Vec::new();
            for k in keys {
                let key_attrs = parse_item(k)?;
                let key = item_key(&t, &key_attrs, KeySource::Key)?;
                if !seen.insert(key.clone()) {
                    return Err(duplicates());
                }
                parsed.push((key, key_attrs));
            }
            reads.push(TableRead {
                name,
                requested: table_name.clone(),
                keys: parsed,
                projection,
                consistent: sub.bool_opt("ConsistentRead")?.unwrap_or(false),
                raw: spec,
            });
        }
        let mut responses = Map::new();
        let mut unprocessed = Map::new();
        let mut capacity = Vec::new();
        let mut bytes = 0usize;
        for read in reads {
            let t = self.table_by_name(&read.name)?;
            let store = self.store(&t).await?;
            let mut items = Vec::new();
            let mut left = Vec::new();
            let mut units = 0.0;
            for (key, key_attrs) in read.keys {
                if bytes >= MAX_BATCH_GET_BYTES {
                    left.push(item_to_json(&key_attrs));
                    continue;
                }
                let stored = store.get(&key).await?;
                let Some(stored) = stored else {
                    units += read_units(0, read.consistent);
                    continue;
                };
                let item = codec::decode_item(&stored).map_err(|e| {
                    tracing::error!(error = ?e, "stored item does not decode");
                    DynamoError::Internal
                })?;
                let size = item_size(&item);
                bytes += size;
                units += read_units(size, read.consistent);
                let shown = match &read.projection {
                    Some(p) => p.apply(&item),
                    None => item,
                };
                items.push(item_to_json(&shown));
            }
            responses.insert(read.requested.clone(), Value::Array(items));
            if !left.is_empty() {
                let mut spec = read.raw.clone();
                spec.insert("Keys".into(), Value::Array(left));
                unprocessed.insert(read.requested.clone(), Value::Object(spec));
            }
            capacity.push(
                json!({"TableName": read.name, "CapacityUnits": units, "ReadCapacityUnits": units}),
            );
        }
        let mut out = json!({"Responses": responses, "UnprocessedKeys": unprocessed});
        if rc != ReturnCapacity::None {
            out["ConsumedCapacity"] = Value::Array(capacity);
        }
        Ok(out)
    }
}
