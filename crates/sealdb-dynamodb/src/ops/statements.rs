//! ExecuteStatement, BatchExecuteStatement and ExecuteTransaction: each PartiQL
//! statement is carried out as the item operation it stands for (SELECT → GetItem,
//! Query or Scan; INSERT → PutItem unless the key exists; UPDATE → UpdateItem of an
//! existing item; DELETE → DeleteItem), authorized as `dynamodb:PartiQL<Verb>` on the
//! resources that operation names.

use base64::Engine as _;
use sealdb_common::Principal;
use serde_json::{Map, Value, json};

use crate::error::DynamoError;
use crate::input::Input;
use crate::partiql::{self, Expr, ExpressionWriter, Statement, UpdateAction};
use crate::schema::TableDef;
use crate::service::{Operation, Service};

/// At most this many statements in a BatchExecuteStatement (AWS).
const MAX_BATCH: usize = 25;
/// At most this many statements in an ExecuteTransaction (AWS).
const MAX_TRANSACTION: usize = 100;

/// One statement as the item operation that carries it out.
struct Planned {
    op: Operation,
    request: Map<String, Value>,
    /// An INSERT: a failed existence condition is a duplicate key.
    insert: bool,
}

impl Service {
    pub(crate) async fn execute_statement(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let text = statement_text(input, "statement")?;
        let params = parameters(input)?;
        let statement = partiql::parse(text, &params)?;
        let def = self.statement_table(&statement)?;
        let mut planned = plan(&statement, &def, false)?;
        for member in ["ConsistentRead", "ReturnConsumedCapacity"] {
            if let Some(v) = input.raw().get(member) {
                planned.request.insert(member.into(), v.clone());
            }
        }
        if planned.op == Operation::Query || planned.op == Operation::Scan {
            if let Some(limit) = input.raw().get("Limit") {
                planned.request.insert("Limit".into(), limit.clone());
            }
            if let Some(token) = input.str_opt("NextToken")? {
                planned
                    .request
                    .insert("ExclusiveStartKey".into(), decode_next_token(token)?);
            }
        }
        let result = self.run_planned(&planned, caller).await?;
        let mut out = Map::new();
        let items = match planned.op {
            Operation::Query | Operation::Scan => result.get("Items").cloned(),
            Operation::GetItem => Some(Value::Array(
                result.get("Item").cloned().into_iter().collect(),
            )),
            _ => None,
        };
        out.insert("Items".into(), items.unwrap_or_else(|| json!([])));
        if let Some(last) = result.get("LastEvaluatedKey") {
            out.insert("NextToken".into(), Value::String(encode_next_token(last)));
            out.insert("LastEvaluatedKey".into(), last.clone());
        }
        if let Some(cc) = result.get("ConsumedCapacity") {
            out.insert("ConsumedCapacity".into(), cc.clone());
        }
        Ok(Value::Object(out))
    }

    pub(crate) async fn batch_execute_statement(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let statements = statement_list(input, "Statements", MAX_BATCH)?;
        let mut responses = Vec::new();
        for s in &statements {
            let response = match self.batch_one(s, caller).await {
                Ok(r) => r,
                Err((table, e)) => {
                    let mut r = Map::new();
                    r.insert(
                        "Error".into(),
                        json!({ "Code": batch_code(&e), "Message": e.message() }),
                    );
                    if let Some(t) = table {
                        r.insert("TableName".into(), Value::String(t));
                    }
                    Value::Object(r)
                }
            };
            responses.push(response);
        }
        Ok(json!({ "Responses": responses }))
    }

    /// One statement of a batch: a read must name the whole primary key.
    async fn batch_one(
        &self,
        s: &Input,
        caller: &Principal,
    ) -> Result<Value, (Option<String>, DynamoError)> {
        let text = statement_text(s, "statements.member.statement").map_err(|e| (None, e))?;
        let params = parameters(s).map_err(|e| (None, e))?;
        let statement = partiql::parse(text, &params).map_err(|e| (None, e))?;
        let def = self.statement_table(&statement).map_err(|e| (None, e))?;
        let table = Some(def.name.clone());
        let planned = plan(&statement, &def, true).map_err(|e| (table.clone(), e))?;
        let result = self
            .run_planned(&planned, caller)
            .await
            .map_err(|e| (table.clone(), e))?;
        let mut r = Map::new();
        r.insert("TableName".into(), Value::String(def.name.clone()));
        if let Some(item) = result.get("Item") {
            r.insert("Item".into(), item.clone());
        }
        Ok(Value::Object(r))
    }

    pub(crate) async fn execute_transaction(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let statements = statement_list(input, "TransactStatements", MAX_TRANSACTION)?;
        let mut planned = Vec::new();
        for s in &statements {
            let text = statement_text(s, "transactStatements.member.statement")?;
            let params = parameters(s)?;
            let statement = partiql::parse(text, &params)?;
            let def = self.statement_table(&statement)?;
            planned.push(plan(&statement, &def, true)?);
        }
        let reads = planned
            .iter()
            .filter(|p| p.op == Operation::GetItem)
            .count();
        if reads != 0 && reads != planned.len() {
            return Err(DynamoError::validation(
                "Transaction must contain either all read or all write statements",
            ));
        }
        for p in &planned {
            self.authorize_partiql(p.op, caller, &Input::from_map(p.request.clone()))?;
        }
        let mut request = Map::new();
        if let Some(t) = input.raw().get("ClientRequestToken") {
            request.insert("ClientRequestToken".into(), t.clone());
        }
        if let Some(v) = input.raw().get("ReturnConsumedCapacity") {
            request.insert("ReturnConsumedCapacity".into(), v.clone());
        }
        if reads == planned.len() {
            let items: Vec<Value> = planned
                .into_iter()
                .map(|p| json!({ "Get": p.request }))
                .collect();
            request.insert("TransactItems".into(), Value::Array(items));
            let result = self.transact_get_items(&Input::from_map(request)).await?;
            let mut out = Map::new();
            out.insert(
                "Responses".into(),
                result
                    .get("Responses")
                    .cloned()
                    .unwrap_or_else(|| json!([])),
            );
            if let Some(cc) = result.get("ConsumedCapacity") {
                out.insert("ConsumedCapacity".into(), cc.clone());
            }
            return Ok(Value::Object(out));
        }
        let items: Vec<Value> = planned
            .into_iter()
            .map(|p| {
                let kind = match p.op {
                    Operation::PutItem => "Put",
                    Operation::UpdateItem => "Update",
                    _ => "Delete",
                };
                json!({ kind: p.request })
            })
            .collect();
        request.insert("TransactItems".into(), Value::Array(items));
        let result = self.transact_write_items(&Input::from_map(request)).await?;
        let mut out = Map::new();
        if let Some(cc) = result.get("ConsumedCapacity") {
            out.insert("ConsumedCapacity".into(), cc.clone());
        }
        Ok(Value::Object(out))
    }

    /// The definition of the statement's table (and index, for a SELECT on one).
    fn statement_table(
        &self,
        statement: &Statement,
    ) -> Result<std::sync::Arc<TableDef>, DynamoError> {
        let def = self
            .def(statement.table())
            .ok_or_else(|| DynamoError::ResourceNotFound("Requested resource not found".into()))?;
        if let Statement::Select {
            index: Some(index), ..
        } = statement
        {
            if def.index(index).is_none() {
                return Err(DynamoError::validation(
                    "The table does not have the specified index",
                ));
            }
        }
        Ok(def)
    }

    /// Authorizes and runs one planned statement.
    async fn run_planned(
        &self,
        planned: &Planned,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let input = Input::from_map(planned.request.clone());
        self.authorize_partiql(planned.op, caller, &input)?;
        let result = match planned.op {
            Operation::GetItem => self.get_item(&input).await,
            Operation::Query => self.query(&input).await,
            Operation::Scan => self.scan(&input).await,
            Operation::PutItem => self.put_item(&input).await,
            Operation::UpdateItem => self.update_item(&input).await,
            _ => self.delete_item(&input).await,
        };
        match result {
            Err(DynamoError::ConditionalCheckFailed { .. }) if planned.insert => Err(
                DynamoError::DuplicateItem("Duplicate primary key exists in table".into()),
            ),
            other => other,
        }
    }
}

/// Plans a statement; `single_item` (batches and transactions) requires a SELECT to
/// name the whole primary key, so that it is a GetItem.
fn plan(statement: &Statement, def: &TableDef, single_item: bool) -> Result<Planned, DynamoError> {
    let mut request = Map::new();
    request.insert("TableName".into(), Value::String(def.name.clone()));
    let mut w = ExpressionWriter::default();
    let (op, insert) = match statement {
        Statement::Select {
            index,
            projection,
            filter,
            ..
        } => {
            if let Some(paths) = projection {
                let texts: Vec<String> = paths.iter().map(|p| w.path(p)).collect();
                request.insert(
                    "ProjectionExpression".into(),
                    Value::String(texts.join(", ")),
                );
            }
            let conjuncts = filter.as_ref().map(Expr::conjuncts).unwrap_or_default();
            if single_item {
                let (key, rest) = key_of(def, &conjuncts).ok_or_else(|| {
                    DynamoError::validation(
                        "Select statements within BatchExecuteStatement must specify the primary key in the where clause.",
                    )
                })?;
                if !rest.is_empty() || index.is_some() {
                    return Err(DynamoError::validation(
                        "Select statements within BatchExecuteStatement must specify the primary key in the where clause.",
                    ));
                }
                request.insert("Key".into(), Value::Object(key));
                (Operation::GetItem, false)
            } else {
                if let Some(index) = index {
                    request.insert("IndexName".into(), Value::String(index.clone()));
                }
                let names = |attrs: &[crate::schema::KeyAttr]| -> Vec<String> {
                    attrs.iter().map(|k| k.name.clone()).collect()
                };
                let (hash, range) = match index.as_deref().and_then(|i| def.index(i)) {
                    Some(ix) => (names(&ix.hash_keys), names(&ix.range_keys)),
                    None => (
                        vec![def.hash_key.name.clone()],
                        def.range_key.iter().map(|k| k.name.clone()).collect(),
                    ),
                };
                match split_key_condition(&conjuncts, &hash, &range) {
                    Some((key_parts, rest)) => {
                        let key = w.conjunction(&key_parts).unwrap_or_default();
                        request.insert("KeyConditionExpression".into(), Value::String(key));
                        if let Some(f) = w.conjunction(&rest) {
                            request.insert("FilterExpression".into(), Value::String(f));
                        }
                        (Operation::Query, false)
                    }
                    None => {
                        if let Some(f) = w.conjunction(&conjuncts) {
                            request.insert("FilterExpression".into(), Value::String(f));
                        }
                        (Operation::Scan, false)
                    }
                }
            }
        }
        Statement::Insert { item, .. } => {
            request.insert("Item".into(), Value::Object(item.clone()));
            let hash = w.path(&partiql::Path(vec![partiql::PathPart::Name(
                def.hash_key.name.clone(),
            )]));
            request.insert(
                "ConditionExpression".into(),
                Value::String(format!("attribute_not_exists({hash})")),
            );
            (Operation::PutItem, true)
        }
        Statement::Update {
            actions, filter, ..
        } => {
            let conjuncts = filter.as_ref().map(Expr::conjuncts).unwrap_or_default();
            let (key, rest) = key_of(def, &conjuncts).ok_or_else(missing_key)?;
            request.insert("Key".into(), Value::Object(key));
            let mut sets = Vec::new();
            let mut removes = Vec::new();
            for a in actions {
                match a {
                    UpdateAction::Set(path, value) => {
                        let (p, v) = (w.path(path), w.operand(value));
                        sets.push(format!("{p} = {v}"));
                    }
                    UpdateAction::Remove(path) => removes.push(w.path(path)),
                }
            }
            let mut update = String::new();
            if !sets.is_empty() {
                update.push_str("SET ");
                update.push_str(&sets.join(", "));
            }
            if !removes.is_empty() {
                if !update.is_empty() {
                    update.push(' ');
                }
                update.push_str("REMOVE ");
                update.push_str(&removes.join(", "));
            }
            request.insert("UpdateExpression".into(), Value::String(update));
            // UPDATE changes an item that exists; it never creates one.
            let hash = w.path(&partiql::Path(vec![partiql::PathPart::Name(
                def.hash_key.name.clone(),
            )]));
            let mut condition = format!("attribute_exists({hash})");
            if let Some(extra) = w.conjunction(&rest) {
                condition = format!("{condition} AND ({extra})");
            }
            request.insert("ConditionExpression".into(), Value::String(condition));
            (Operation::UpdateItem, false)
        }
        Statement::Delete { filter, .. } => {
            let conjuncts = filter.as_ref().map(Expr::conjuncts).unwrap_or_default();
            let (key, rest) = key_of(def, &conjuncts).ok_or_else(missing_key)?;
            request.insert("Key".into(), Value::Object(key));
            if let Some(extra) = w.conjunction(&rest) {
                request.insert("ConditionExpression".into(), Value::String(extra));
            }
            (Operation::DeleteItem, false)
        }
    };
    w.finish(&mut request);
    Ok(Planned {
        op,
        request,
        insert,
    })
}

fn missing_key() -> DynamoError {
    DynamoError::validation(
        "Where clause does not contain a mandatory equality on all key attributes",
    )
}

/// The table's primary key from `key = value` conjuncts, and the conjuncts left.
fn key_of<'a>(
    def: &TableDef,
    conjuncts: &[&'a Expr],
) -> Option<(Map<String, Value>, Vec<&'a Expr>)> {
    let mut key = Map::new();
    let mut rest = Vec::new();
    for c in conjuncts {
        let found = def
            .key_attrs()
            .find(|k| !key.contains_key(&k.name) && c.equality_on(&k.name).is_some());
        match found {
            Some(k) => {
                let v = c.equality_on(&k.name)?.clone();
                key.insert(k.name.clone(), v);
            }
            None => rest.push(*c),
        }
    }
    (key.len() == def.key_attrs().count()).then_some((key, rest))
}

/// Splits conjuncts into a Query's key condition (`=` on every partition attribute, then
/// the sort attributes left to right: `=` on each but the last one used) and its filter;
/// `None` when a Query cannot express the statement (a partition attribute without `=`,
/// or a key attribute also in the filter), which then runs as a Scan.
fn split_key_condition<'a>(
    conjuncts: &[&'a Expr],
    hash: &[String],
    range: &[String],
) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
    let mut taken = vec![false; conjuncts.len()];
    let mut key = Vec::new();
    for h in hash {
        let at =
            (0..conjuncts.len()).find(|&i| !taken[i] && conjuncts[i].equality_on(h).is_some())?;
        taken[at] = true;
        key.push(conjuncts[at]);
    }
    for r in range {
        let eq = (0..conjuncts.len()).find(|&i| !taken[i] && conjuncts[i].equality_on(r).is_some());
        if let Some(at) = eq {
            taken[at] = true;
            key.push(conjuncts[at]);
            continue;
        }
        if let Some(at) =
            (0..conjuncts.len()).find(|&i| !taken[i] && is_sort_key_condition(conjuncts[i], r))
        {
            taken[at] = true;
            key.push(conjuncts[at]);
        }
        break;
    }
    let mut rest = Vec::new();
    for (i, c) in conjuncts.iter().enumerate() {
        if taken[i] {
            continue;
        }
        if hash.iter().chain(range).any(|k| c.mentions(k)) {
            return None;
        }
        rest.push(*c);
    }
    Some((key, rest))
}

fn is_sort_key_condition(c: &Expr, range: &str) -> bool {
    use partiql::Operand as O;
    let on_range = |o: &O| matches!(o, O::Path(p) if p.top_name() == Some(range));
    match c {
        Expr::Cmp(a, op, O::Value(_)) => on_range(a) && *op != "<>",
        Expr::Between(a, O::Value(_), O::Value(_)) => on_range(a),
        Expr::Func(f, args) => {
            f == "begins_with" && matches!(args.as_slice(), [a, O::Value(_)] if on_range(a))
        }
        _ => false,
    }
}

fn statement_text<'a>(input: &'a Input, member: &str) -> Result<&'a str, DynamoError> {
    let text = input
        .str_opt("Statement")?
        .ok_or_else(|| crate::input::validation_errors(&[crate::input::null_member(member)]))?;
    if text.is_empty() || text.len() > 8192 {
        return Err(crate::input::validation_errors(&[format!(
            "Value '{text}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 8192"
        )]));
    }
    Ok(text)
}

fn parameters(input: &Input) -> Result<Vec<Value>, DynamoError> {
    match input.raw().get("Parameters") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(DynamoError::Serialization(
            "Unexpected value type in payload for member Parameters; expected a list".into(),
        )),
    }
}

fn statement_list(input: &Input, member: &str, max: usize) -> Result<Vec<Input>, DynamoError> {
    let lower = crate::input::lower_camel(member);
    let list = match input.raw().get(member) {
        None | Some(Value::Null) => {
            return Err(crate::input::validation_errors(&[
                crate::input::null_member(&lower),
            ]));
        }
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(DynamoError::Serialization(format!(
                "Unexpected value type in payload for member {member}; expected a list"
            )));
        }
    };
    if list.is_empty() || list.len() > max {
        return Err(crate::input::validation_errors(&[format!(
            "Value at '{lower}' failed to satisfy constraint: Member must have length less than or equal to {max}, Member must have length greater than or equal to 1"
        )]));
    }
    list.iter()
        .map(|v| match v {
            Value::Object(m) => Ok(Input::from_map(m.clone())),
            _ => Err(DynamoError::Serialization(
                "Unexpected value type in payload; expected a structure".into(),
            )),
        })
        .collect()
}

/// A batch response's error code: the exception's name without `Exception`, as AWS
/// writes it (`ValidationError`, `ResourceNotFound`, `ConditionalCheckFailed`, …).
fn batch_code(e: &DynamoError) -> String {
    let name = e
        .wire_type()
        .rsplit('#')
        .next()
        .unwrap_or("InternalServerError");
    match name {
        "ValidationException" => "ValidationError".into(),
        other => other.trim_end_matches("Exception").to_owned(),
    }
}

/// NextToken is the LastEvaluatedKey, base64 of its JSON.
fn encode_next_token(key: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.to_string())
}

fn decode_next_token(token: &str) -> Result<Value, DynamoError> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(Value::is_object)
        .ok_or_else(|| DynamoError::validation("Invalid NextToken"))
}
