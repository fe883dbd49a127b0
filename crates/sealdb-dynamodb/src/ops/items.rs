//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.
//!
//! Each write is one unit of the table's writer: it reads the current item, checks
//! the condition, computes the new item and writes it, all inside the writer's
//! transaction, so nothing can come between the check and the write.

use crate::codec;
use crate::error::DynamoError;
use crate::expr::{self, Condition, ExpressionAttributes, Projection, UpdateExpression};
use crate::index::{check_index_keys, mutations};
use crate::input::{Input, validation_errors};
use crate::ops::capacity::{ReturnCapacity, consumed, read_units, write_units};
use crate::service::{KeySource, Service, item_key, key_only};
use crate::value::{Item, item_size, item_to_json};
use sealdb_storage::{Decision, ItemKey, StorageError, WriteTx, apply};
use serde_json::{Value, json};
use std::sync::Arc;

/// DynamoDB's item size limit.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// `ReturnValues`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReturnValues {
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

fn parse_return_values(v: Option<&str>, update: bool) -> Result<ReturnValues, DynamoError> {
    let rv = match v {
        None | Some("NONE") => ReturnValues::None,
        Some("ALL_OLD") => ReturnValues::AllOld,
        Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
        Some("ALL_NEW") => ReturnValues::AllNew,
        Some("UPDATED_NEW") => ReturnValues::UpdatedNew,
        Some(other) => {
            return Err(validation_errors(&[format!(
                "Value '{other}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
            )]));
        }
    };
    if !update && !matches!(rv, ReturnValues::None | ReturnValues::AllOld) {
        return Err(DynamoError::validation(
            "Return values set to invalid value",
        ));
    }
    Ok(rv)
}

pub(crate) fn parse_return_on_failure(v: Option<&str>) -> Result<bool, DynamoError> {
    match v {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => Err(validation_errors(&[format!(
            "Value '{other}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
        )])),
    }
}

fn check_item_collection_metrics(input: &Input) -> Result<(), DynamoError> {
    match input.str_opt("ReturnItemCollectionMetrics")? {
        None | Some("NONE" | "SIZE") => Ok(()),
        Some(other) => Err(validation_errors(&[format!(
            "Value '{other}' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"
        )])),
    }
}

/// The expression attributes of a request, with AWS's checks for members given
/// without any expression that could use them.
pub(crate) fn expression_attributes(
    input: &Input,
    any_expression: bool,
    expressions_named: &str,
) -> Result<ExpressionAttributes, DynamoError> {
    let names = input.names()?;
    let values = input.values()?;
    if names.as_ref().is_some_and(|n| n.is_empty()) {
        return Err(DynamoError::validation(
            "ExpressionAttributeNames must not be empty",
        ));
    }
    if values.as_ref().is_some_and(|v| v.is_empty()) {
        return Err(DynamoError::validation(
            "ExpressionAttributeValues must not be empty",
        ));
    }
    if !any_expression {
        if names.is_some() {
            return Err(DynamoError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        if values.is_some() {
            return Err(DynamoError::validation(format!(
                "ExpressionAttributeValues can only be specified when using expressions: {expressions_named}"
            )));
        }
    }
    Ok(ExpressionAttributes::new(names, values))
}

pub(crate) fn expr_err(e: &expr::ExprError) -> DynamoError {
    DynamoError::validation(e.message())
}

pub(crate) fn decode_stored(bytes: Option<Vec<u8>>) -> Result<Option<Item>, DynamoError> {
    match bytes {
        None => Ok(None),
        Some(b) => codec::decode_item(&b).map(Some).map_err(|e| {
            tracing::error!(error = ?e, "stored item does not decode");
            DynamoError::Internal
        }),
    }
}

pub(crate) fn condition_holds(cond: Option<&Condition>, old: Option<&Item>) -> bool {
    match cond {
        None => true,
        Some(c) => {
            let empty = Item::new();
            c.evaluate(old.unwrap_or(&empty))
        }
    }
}

/// The response options every single-item write takes, checked in AWS's order.
struct WriteOptions {
    return_values: ReturnValues,
    capacity: ReturnCapacity,
    want_old_on_fail: bool,
}

impl WriteOptions {
    /// `update` allows the UPDATED_* and ALL_NEW return values.
    fn parse(input: &Input, update: bool) -> Result<Self, DynamoError> {
        let return_values = parse_return_values(input.str_opt("ReturnValues")?, update)?;
        let capacity = ReturnCapacity::parse(input.str_opt("ReturnConsumedCapacity")?)?;
        let want_old_on_fail =
            parse_return_on_failure(input.str_opt("ReturnValuesOnConditionCheckFailure")?)?;
        check_item_collection_metrics(input)?;
        Ok(WriteOptions {
            return_values,
            capacity,
            want_old_on_fail,
        })
    }

    /// The response body. `shown` is what UpdateItem computed for its return values;
    /// Put and Delete (`None`) can only return ALL_OLD.
    fn response(&self, table: &str, outcome: WriteOutcome, shown: Option<Option<Item>>) -> Value {
        let mut out = json!({});
        let shown = match shown {
            Some(s) => s,
            None if self.return_values == ReturnValues::AllOld => outcome.old,
            None => None,
        };
        if let Some(item) = shown.filter(|i| !i.is_empty()) {
            out["Attributes"] = item_to_json(&item);
        }
        if let Some(c) = consumed(self.capacity, table, write_units(outcome.size), true) {
            out["ConsumedCapacity"] = c;
        }
        out
    }
}

/// The ConditionExpression of a PutItem or DeleteItem, with its expression attributes.
fn condition_only(input: &Input) -> Result<Option<Condition>, DynamoError> {
    let cond_text = input.str_opt("ConditionExpression")?;
    let mut attrs =
        expression_attributes(input, cond_text.is_some(), "ConditionExpression is null")?;
    let cond = cond_text
        .map(|c| expr::parse_condition(c, &mut attrs, "ConditionExpression"))
        .transpose()
        .map_err(|e| expr_err(&e))?;
    attrs.check_all_used().map_err(|e| expr_err(&e))?;
    Ok(cond)
}

/// The `Key` member, required.
fn key_member(input: &Input) -> Result<Item, DynamoError> {
    input
        .item_opt("Key")?
        .ok_or_else(|| validation_errors(&[crate::input::null_member("key")]))
}

/// Inside a write unit: the current item if the condition holds on it, else the error
/// the unit rolls back with (the old item attached when the request asked for it).
fn checked_old(
    tx: &mut dyn WriteTx,
    key: &ItemKey,
    cond: Option<&Condition>,
    want_old_on_fail: bool,
) -> Result<Result<Option<Item>, DynamoError>, StorageError> {
    let old = match decode_stored(tx.get(key)?) {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    if !condition_holds(cond, old.as_ref()) {
        let item = if want_old_on_fail { old } else { None };
        return Ok(Err(DynamoError::ConditionalCheckFailed { item }));
    }
    Ok(Ok(old))
}

/// What a write unit answers.
struct WriteOutcome {
    old: Option<Item>,
    new: Option<Item>,
    /// Size used for capacity: the larger of old and new.
    size: usize,
}

/// What PutItem and DeleteItem read from the request alone, before any table.
pub(crate) struct PutOrDeleteRequest {
    opts: WriteOptions,
    cond: Option<Condition>,
}

impl PutOrDeleteRequest {
    pub(crate) fn parse(input: &Input) -> Result<Self, DynamoError> {
        Ok(PutOrDeleteRequest {
            opts: WriteOptions::parse(input, false)?,
            cond: condition_only(input)?,
        })
    }
}

/// What GetItem reads from the request alone.
pub(crate) struct GetRequest {
    capacity: ReturnCapacity,
    consistent: bool,
    projection: Option<Projection>,
}

impl GetRequest {
    pub(crate) fn parse(input: &Input) -> Result<Self, DynamoError> {
        let capacity = ReturnCapacity::parse(input.str_opt("ReturnConsumedCapacity")?)?;
        let consistent = input.bool_opt("ConsistentRead")?.unwrap_or(false);
        let proj_text = input.str_opt("ProjectionExpression")?;
        let mut attrs =
            expression_attributes(input, proj_text.is_some(), "ProjectionExpression is null")?;
        let projection: Option<Projection> = proj_text
            .map(|p| expr::parse_projection(p, &mut attrs))
            .transpose()
            .map_err(|e| expr_err(&e))?;
        attrs.check_all_used().map_err(|e| expr_err(&e))?;
        Ok(GetRequest {
            capacity,
            consistent,
            projection,
        })
    }
}

/// What UpdateItem reads from the request alone.
pub(crate) struct UpdateRequest {
    opts: WriteOptions,
    update: Option<UpdateExpression>,
    cond: Option<Condition>,
}

impl UpdateRequest {
    pub(crate) fn parse(input: &Input) -> Result<Self, DynamoError> {
        let opts = WriteOptions::parse(input, true)?;
        let cond_text = input.str_opt("ConditionExpression")?;
        let update_text = input.str_opt("UpdateExpression")?;
        let mut attrs = expression_attributes(
            input,
            cond_text.is_some() || update_text.is_some(),
            "UpdateExpression and ConditionExpression are null",
        )?;
        let update: Option<UpdateExpression> = update_text
            .map(|u| expr::parse_update(u, &mut attrs))
            .transpose()
            .map_err(|e| expr_err(&e))?;
        let cond = cond_text
            .map(|c| expr::parse_condition(c, &mut attrs, "ConditionExpression"))
            .transpose()
            .map_err(|e| expr_err(&e))?;
        attrs.check_all_used().map_err(|e| expr_err(&e))?;
        Ok(UpdateRequest { opts, update, cond })
    }
}

impl Service {
    pub(crate) async fn put_item(&self, input: &Input) -> Result<Value, DynamoError> {
        let PutOrDeleteRequest { opts, cond } = PutOrDeleteRequest::parse(input)?;
        let t = self.table(input)?;
        let item = input
            .item_opt("Item")?
            .ok_or_else(|| validation_errors(&[crate::input::null_member("item")]))?;
        let key = item_key(&t.def, &item, KeySource::Item)?;
        let size = item_size(&item);
        if size > MAX_ITEM_BYTES {
            return Err(DynamoError::validation(
                "Item size has exceeded the maximum allowed size",
            ));
        }
        check_index_keys(&t.def, &item)?;
        let def = Arc::clone(&t.def);
        let store = self.store(&t).await?;
        let want_old_on_fail = opts.want_old_on_fail;
        let outcome = store
            .write(move |tx: &mut dyn WriteTx| {
                let old = match checked_old(tx, &key, cond.as_ref(), want_old_on_fail)? {
                    Ok(o) => o,
                    Err(e) => return Ok(Decision::Rollback(Err(e))),
                };
                let old_size = old.as_ref().map_or(0, item_size);
                apply(tx, &mutations(&def, &key, old.as_ref(), Some(&item)))?;
                Ok(Decision::Commit(Ok(WriteOutcome {
                    old,
                    new: None,
                    size: old_size.max(size),
                })))
            })
            .await?;
        Ok(opts.response(&t.def.name, outcome?, None))
    }

    pub(crate) async fn get_item(&self, input: &Input) -> Result<Value, DynamoError> {
        let GetRequest {
            capacity: rc,
            consistent,
            projection,
        } = GetRequest::parse(input)?;
        let t = self.table(input)?;
        let key_attrs = key_member(input)?;
        let key = item_key(&t.def, &key_attrs, KeySource::Key)?;
        let store = self.store(&t).await?;
        let item = decode_stored(store.get(&key).await?)?;
        let mut out = json!({});
        let size = item.as_ref().map_or(0, item_size);
        if let Some(item) = item {
            let shown = match &projection {
                Some(p) => p.apply(&item),
                None => item,
            };
            out["Item"] = item_to_json(&shown);
        }
        if let Some(c) = consumed(rc, &t.def.name, read_units(size, consistent), false) {
            out["ConsumedCapacity"] = c;
        }
        Ok(out)
    }

    pub(crate) async fn delete_item(&self, input: &Input) -> Result<Value, DynamoError> {
        let PutOrDeleteRequest { opts, cond } = PutOrDeleteRequest::parse(input)?;
        let t = self.table(input)?;
        let key_attrs = key_member(input)?;
        let key = item_key(&t.def, &key_attrs, KeySource::Key)?;
        let def = Arc::clone(&t.def);
        let store = self.store(&t).await?;
        let want_old_on_fail = opts.want_old_on_fail;
        let outcome = store
            .write(move |tx: &mut dyn WriteTx| {
                let old = match checked_old(tx, &key, cond.as_ref(), want_old_on_fail)? {
                    Ok(o) => o,
                    Err(e) => return Ok(Decision::Rollback(Err(e))),
                };
                let old_size = old.as_ref().map_or(0, item_size);
                if old.is_some() {
                    apply(tx, &mutations(&def, &key, old.as_ref(), None))?;
                }
                Ok(Decision::Commit(Ok(WriteOutcome {
                    old,
                    new: None,
                    size: old_size,
                })))
            })
            .await?;
        Ok(opts.response(&t.def.name, outcome?, None))
    }

    pub(crate) async fn update_item(&self, input: &Input) -> Result<Value, DynamoError> {
        let UpdateRequest { opts, update, cond } = UpdateRequest::parse(input)?;
        let t = self.table(input)?;
        let key_attrs = key_member(input)?;
        let key = item_key(&t.def, &key_attrs, KeySource::Key)?;
        let paths = update
            .as_ref()
            .map(UpdateExpression::paths)
            .unwrap_or_default();
        for p in &paths {
            if t.def.is_key_attr(p.top_level()) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                    p.top_level()
                )));
            }
        }
        let def = t.def.clone();
        let store = self.store(&t).await?;
        let want_old_on_fail = opts.want_old_on_fail;
        let outcome = store
            .write(move |tx: &mut dyn WriteTx| {
                let old = match checked_old(tx, &key, cond.as_ref(), want_old_on_fail)? {
                    Ok(o) => o,
                    Err(e) => return Ok(Decision::Rollback(Err(e))),
                };
                let old_size = old.as_ref().map_or(0, item_size);
                // Taking attributes away from an item that is not there creates nothing.
                if old.is_none() && update.as_ref().is_some_and(UpdateExpression::only_removes) {
                    return Ok(Decision::Commit(Ok(WriteOutcome {
                        old: None,
                        new: None,
                        size: 0,
                    })));
                }
                let mut new = old.clone().unwrap_or_else(|| key_only(&def, &key_attrs));
                if let Some(u) = &update
                    && let Err(e) = u.apply(&mut new)
                {
                    return Ok(Decision::Rollback(Err(expr_err(&e))));
                }
                let new_size = item_size(&new);
                if new_size > MAX_ITEM_BYTES {
                    return Ok(Decision::Rollback(Err(DynamoError::validation(
                        "Item size to update has exceeded the maximum allowed size",
                    ))));
                }
                if let Err(e) = check_index_keys(&def, &new) {
                    return Ok(Decision::Rollback(Err(e)));
                }
                apply(tx, &mutations(&def, &key, old.as_ref(), Some(&new)))?;
                Ok(Decision::Commit(Ok(WriteOutcome {
                    old,
                    new: Some(new),
                    size: old_size.max(new_size),
                })))
            })
            .await?;
        let outcome = outcome?;
        let shown = match opts.return_values {
            ReturnValues::None => None,
            ReturnValues::AllOld => outcome.old.clone(),
            ReturnValues::AllNew => outcome.new.clone(),
            ReturnValues::UpdatedOld => outcome
                .old
                .as_ref()
                .map(|o| Projection::from_paths(paths.clone()).apply(o)),
            ReturnValues::UpdatedNew => outcome
                .new
                .as_ref()
                .map(|n| Projection::from_paths(paths.clone()).apply(n)),
        };
        Ok(opts.response(&t.def.name, outcome, Some(shown)))
    }
}
