//! TransactWriteItems and TransactGetItems.
//!
//! The actions are grouped by table; each table's group is one part of a storage
//! transaction (`sealdb_storage::txn`): checked and applied in that table's writer,
//! all parts or none, across a crash too.

use crate::error::DynamoError;
use crate::expr::{self, Condition, Projection, UpdateExpression};
use crate::index::{check_index_keys, mutations};
use crate::input::{Input, null_member, validation_errors};
use crate::ops::capacity::{ReturnCapacity, read_units, write_units};
use crate::ops::items::{
    MAX_ITEM_BYTES, condition_holds, decode_stored, expr_err, expression_attributes,
    parse_return_on_failure,
};
use crate::service::{KeySource, Service, TableRef, item_key, key_only};
use crate::value::{Item, item_size, item_to_json};
use sealdb_storage::{ItemKey, PartFn, PartOutcome, TableStore, WriteTx};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;

const MAX_ACTIONS: usize = 100;

/// A part's answer: for each of its actions, (request index, cancellation reason, units).
type PartAnswers = Vec<(usize, Value, f64)>;
/// How long a ClientRequestToken is remembered.
const TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

/// Remembered ClientRequestTokens: token → (request fingerprint, expiry, response).
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (String, i64, Value)>>,
}

enum Action {
    Check,
    Put(Item),
    Delete,
    Update(UpdateExpression, Item),
}

struct ParsedAction {
    index: usize,
    table: TableRef,
    key: ItemKey,
    action: Action,
    condition: Option<Condition>,
    return_old_on_failure: bool,
}

fn reason(code: &str, message: Option<&str>, item: Option<&Item>) -> Value {
    let mut r = json!({ "Code": code });
    if let Some(m) = message {
        r["Message"] = Value::from(m);
    }
    if let Some(i) = item {
        r["Item"] = item_to_json(i);
    }
    r
}

/// `ReturnConsumedCapacity` and the `TransactItems` list, checked as AWS checks them.
pub(crate) fn transact_items(input: &Input) -> Result<(ReturnCapacity, &[Value]), DynamoError> {
    let rc = ReturnCapacity::parse(input.str_opt("ReturnConsumedCapacity")?)?;
    let Some(items) = input.list_opt("TransactItems")? else {
        return Err(validation_errors(&[null_member("transactItems")]));
    };
    if items.is_empty() || items.len() > MAX_ACTIONS {
        let bound = if items.is_empty() {
            "greater than or equal to 1"
        } else {
            "less than or equal to 100"
        };
        return Err(validation_errors(&[format!(
            "Value '[...]' at 'transactItems' failed to satisfy constraint: Member must have length {bound}"
        )]));
    }
    Ok((rc, items.as_slice()))
}

/// `ClientRequestToken`, at most 36 characters.
pub(crate) fn client_request_token(input: &Input) -> Result<Option<&str>, DynamoError> {
    let token = input.str_opt("ClientRequestToken")?;
    if let Some(t) = token
        && (t.is_empty() || t.len() > 36)
    {
        return Err(validation_errors(&[format!(
            "Value '{t}' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36"
        )]));
    }
    Ok(token)
}

/// What one TransactWriteItems action says on its own, before its table is looked at.
pub(crate) struct ActionRequest {
    kind: &'static str,
    input: Input,
    update: Option<UpdateExpression>,
    condition: Option<Condition>,
    return_old_on_failure: bool,
}

impl ActionRequest {
    pub(crate) fn parse(index: usize, entry: &Value) -> Result<Self, DynamoError> {
        let obj = entry.as_object().ok_or_else(|| {
            DynamoError::Serialization(
                "Unexpected value type in payload for member TransactItems".into(),
            )
        })?;
        let present: Vec<(&str, &Value)> = ["ConditionCheck", "Put", "Delete", "Update"]
            .iter()
            .filter_map(|k| obj.get(*k).filter(|v| !v.is_null()).map(|v| (*k, v)))
            .collect();
        let [(kind, body)] = present.as_slice() else {
            return Err(DynamoError::validation(
                "TransactItems can only contain one of Check, Put, Update or Delete",
            ));
        };
        let body = body.as_object().cloned().ok_or_else(|| {
            DynamoError::Serialization(format!(
                "Unexpected value type in payload for member {kind}"
            ))
        })?;
        let input = Input::from_map(body);
        let cond_text = input.str_opt("ConditionExpression")?;
        let update_text = input.str_opt("UpdateExpression")?;
        if *kind == "ConditionCheck" && cond_text.is_none() {
            return Err(validation_errors(&[null_member(&format!(
                "transactItems.{}.member.conditionCheck.conditionExpression",
                index + 1
            ))]));
        }
        if *kind == "Update" && update_text.is_none() {
            return Err(validation_errors(&[null_member(&format!(
                "transactItems.{}.member.update.updateExpression",
                index + 1
            ))]));
        }
        let mut attrs = expression_attributes(
            &input,
            cond_text.is_some() || update_text.is_some(),
            "ConditionExpression is null",
        )?;
        let update = update_text
            .map(|u| expr::parse_update(u, &mut attrs))
            .transpose()
            .map_err(|e| expr_err(&e))?;
        let condition = cond_text
            .map(|c| expr::parse_condition(c, &mut attrs, "ConditionExpression"))
            .transpose()
            .map_err(|e| expr_err(&e))?;
        attrs.check_all_used().map_err(|e| expr_err(&e))?;
        let return_old_on_failure =
            parse_return_on_failure(input.str_opt("ReturnValuesOnConditionCheckFailure")?)?;
        Ok(ActionRequest {
            kind,
            input,
            update,
            condition,
            return_old_on_failure,
        })
    }
}

impl Service {
    fn parse_action(&self, index: usize, entry: &Value) -> Result<ParsedAction, DynamoError> {
        let ActionRequest {
            kind,
            input,
            update,
            condition,
            return_old_on_failure,
        } = ActionRequest::parse(index, entry)?;
        let table = self.table(&input)?;
        let (key, action) = if kind == "Put" {
            let item = input
                .item_opt("Item")?
                .ok_or_else(|| validation_errors(&[null_member("item")]))?;
            let key = item_key(&table.def, &item, KeySource::Item)?;
            check_index_keys(&table.def, &item)?;
            if item_size(&item) > MAX_ITEM_BYTES {
                return Err(DynamoError::validation(
                    "Item size has exceeded the maximum allowed size",
                ));
            }
            (key, Action::Put(item))
        } else {
            let key_attrs = input
                .item_opt("Key")?
                .ok_or_else(|| validation_errors(&[null_member("key")]))?;
            let key = item_key(&table.def, &key_attrs, KeySource::Key)?;
            let action = match (kind, update) {
                ("Update", Some(u)) => {
                    for p in u.paths() {
                        if table.def.is_key_attr(p.top_level()) {
                            return Err(DynamoError::validation(format!(
                                "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                                p.top_level()
                            )));
                        }
                    }
                    Action::Update(u, key_only(&table.def, &key_attrs))
                }
                ("Delete", _) => Action::Delete,
                _ => Action::Check,
            };
            (key, action)
        };
        Ok(ParsedAction {
            index,
            table,
            key,
            action,
            condition,
            return_old_on_failure,
        })
    }

    pub(crate) async fn transact_write_items(&self, input: &Input) -> Result<Value, DynamoError> {
        let (rc, items) = transact_items(input)?;
        let token = client_request_token(input)?;
        let fingerprint =
            serde_json::to_string(&input.raw().get("TransactItems")).unwrap_or_default();
        if let Some(t) = token
            && let Some(previous) = self.tokens.check(t, &fingerprint, self.now_ms())?
        {
            return Ok(previous);
        }
        let mut actions = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        for (i, entry) in items.iter().enumerate() {
            let a = self.parse_action(i, entry)?;
            if !seen.insert((a.table.def.name.clone(), a.key.clone())) {
                return Err(DynamoError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            actions.push(a);
        }
        let total = actions.len();
        let mut by_table: BTreeMap<String, Vec<ParsedAction>> = BTreeMap::new();
        for a in actions {
            by_table
                .entry(a.table.def.name.clone())
                .or_default()
                .push(a);
        }
        let mut parts: Vec<(Arc<TableStore>, String, PartFn<PartAnswers>)> = Vec::new();
        let mut capacity_tables = Vec::new();
        for (name, group) in by_table {
            let t = group[0].table.clone();
            let store = self.store(&t).await?;
            capacity_tables.push(name);
            let part: PartFn<PartAnswers> = Box::new(move |tx: &mut dyn WriteTx| {
                let mut ok = true;
                let mut writes = Vec::new();
                let mut answers = Vec::new();
                for a in group {
                    let old = match decode_stored(tx.get(&a.key)?) {
                        Ok(o) => o,
                        Err(_) => {
                            ok = false;
                            answers.push((a.index, reason("InternalError", None, None), 0.0));
                            continue;
                        }
                    };
                    let old_size = old.as_ref().map_or(0, item_size);
                    if !condition_holds(a.condition.as_ref(), old.as_ref()) {
                        ok = false;
                        let shown = if a.return_old_on_failure {
                            old.as_ref()
                        } else {
                            None
                        };
                        answers.push((
                            a.index,
                            reason(
                                "ConditionalCheckFailed",
                                Some("The conditional request failed"),
                                shown,
                            ),
                            0.0,
                        ));
                        continue;
                    }
                    let (new, size) = match a.action {
                        Action::Check => {
                            answers.push((
                                a.index,
                                reason("None", None, None),
                                2.0 * write_units(old_size),
                            ));
                            continue;
                        }
                        Action::Delete => (None, old_size),
                        Action::Put(item) => {
                            let size = item_size(&item);
                            (Some(item), size.max(old_size))
                        }
                        Action::Update(u, key_attrs) => {
                            let mut new = old.clone().unwrap_or(key_attrs);
                            if let Err(e) = u.apply(&mut new) {
                                ok = false;
                                answers.push((
                                    a.index,
                                    reason("ValidationError", Some(e.message()), None),
                                    0.0,
                                ));
                                continue;
                            }
                            let size = item_size(&new);
                            if size > MAX_ITEM_BYTES {
                                ok = false;
                                answers.push((
                                    a.index,
                                    reason("ValidationError", Some("Item size to update has exceeded the maximum allowed size"), None),
                                    0.0,
                                ));
                                continue;
                            }
                            if let Err(e) = check_index_keys(&a.table.def, &new) {
                                ok = false;
                                answers.push((
                                    a.index,
                                    reason("ValidationError", Some(&e.message()), None),
                                    0.0,
                                ));
                                continue;
                            }
                            (Some(new), size.max(old_size))
                        }
                    };
                    if old.is_some() || new.is_some() {
                        writes.extend(mutations(&a.table.def, &a.key, old.as_ref(), new.as_ref()));
                    }
                    // Transactional writes cost twice the standard units.
                    answers.push((a.index, reason("None", None, None), 2.0 * write_units(size)));
                }
                Ok(PartOutcome {
                    ok,
                    writes,
                    answer: answers,
                })
            });
            parts.push((store, t.handle.record().id, part));
        }
        let result = self.engine.transact(parts).await?;
        let mut reasons = vec![reason("None", None, None); total];
        let mut units_by_table = Vec::new();
        for (answers, name) in result.answers.into_iter().zip(&capacity_tables) {
            let mut units = 0.0;
            for (i, r, u) in answers {
                units += u;
                if let Some(slot) = reasons.get_mut(i) {
                    *slot = r;
                }
            }
            units_by_table.push(
                json!({"TableName": name, "CapacityUnits": units, "WriteCapacityUnits": units}),
            );
        }
        if !result.committed {
            return Err(DynamoError::TransactionCanceled { reasons });
        }
        let mut out = json!({});
        if rc != ReturnCapacity::None {
            out["ConsumedCapacity"] = Value::Array(units_by_table);
        }
        if let Some(t) = token {
            self.tokens
                .remember(t, fingerprint, self.now_ms(), out.clone());
        }
        Ok(out)
    }

    pub(crate) async fn transact_get_items(&self, input: &Input) -> Result<Value, DynamoError> {
        let (rc, items) = transact_items(input)?;
        let mut gets = Vec::new();
        let mut seen = HashSet::new();
        for entry in items {
            let get = entry
                .get("Get")
                .and_then(Value::as_object)
                .cloned()
                .ok_or_else(|| validation_errors(&[null_member("transactItems.member.get")]))?;
            let sub = Input::from_map(get);
            let proj_text = sub.str_opt("ProjectionExpression")?;
            let mut attrs =
                expression_attributes(&sub, proj_text.is_some(), "ProjectionExpression is null")?;
            let projection: Option<Projection> = proj_text
                .map(|p| expr::parse_projection(p, &mut attrs))
                .transpose()
                .map_err(|e| expr_err(&e))?;
            attrs.check_all_used().map_err(|e| expr_err(&e))?;
            let t = self.table(&sub)?;
            let key_attrs = sub
                .item_opt("Key")?
                .ok_or_else(|| validation_errors(&[null_member("key")]))?;
            let key = item_key(&t.def, &key_attrs, KeySource::Key)?;
            if !seen.insert((t.def.name.clone(), key.clone())) {
                return Err(DynamoError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            gets.push((t, key, projection));
        }
        // No multi-table write transaction can be half applied while this lock is held.
        let _guard = self.engine.read_lock().await;
        let mut responses = Vec::new();
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        for (t, key, projection) in gets {
            let store = self.store(&t).await?;
            let item = decode_stored(store.get(&key).await?)?;
            let size = item.as_ref().map_or(0, item_size);
            *units.entry(t.def.name.clone()).or_default() += 2.0 * read_units(size, true);
            responses.push(match item {
                Some(i) => {
                    let shown = match &projection {
                        Some(p) => p.apply(&i),
                        None => i,
                    };
                    json!({ "Item": item_to_json(&shown) })
                }
                None => json!({}),
            });
        }
        let mut out = json!({ "Responses": responses });
        if rc != ReturnCapacity::None {
            out["ConsumedCapacity"] = Value::Array(
                units
                    .into_iter()
                    .map(|(n, u)| json!({"TableName": n, "CapacityUnits": u, "ReadCapacityUnits": u}))
                    .collect(),
            );
        }
        Ok(out)
    }
}

impl TokenCache {
    /// The earlier response for this token, if the same request was made within ten
    /// minutes; an error if the token was used with other parameters.
    fn check(
        &self,
        token: &str,
        fingerprint: &str,
        now_ms: i64,
    ) -> Result<Option<Value>, DynamoError> {
        let mut entries = self.entries.lock().map_err(|_| DynamoError::Internal)?;
        entries.retain(|_, (_, expiry, _)| *expiry > now_ms);
        match entries.get(token) {
            None => Ok(None),
            Some((fp, _, response)) if fp == fingerprint => Ok(Some(response.clone())),
            Some(_) => Err(DynamoError::IdempotentParameterMismatch(
                "The request with the provided ClientRequestToken has different parameters than the original request".into(),
            )),
        }
    }

    fn remember(&self, token: &str, fingerprint: String, now_ms: i64, response: Value) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                token.to_owned(),
                (fingerprint, now_ms + TOKEN_TTL_MS, response),
            );
        }
    }
}
