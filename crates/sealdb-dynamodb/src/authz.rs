//! Authorization of every DynamoDB and DynamoDB Streams request, asked once before the
//! operation runs: which IAM action on which resource ARNs, with which condition keys.
//!
//! - Item operations carry `dynamodb:LeadingKeys` (the partition key value),
//!   `dynamodb:Attributes` (the attribute names read or written), `dynamodb:Select`,
//!   `dynamodb:ReturnValues` and `dynamodb:ReturnConsumedCapacity`.
//! - Batches ask once per item (so `LeadingKeys` is checked for every key), transactions
//!   once per action under that action's own name with `dynamodb:EnclosingOperation`.
//! - Query and Scan on an index ask for the index ARN (`table/T/index/I`), Streams
//!   operations for the stream ARN (`table/T/stream/L`), backups for `table/T/backup/B`.
//! - Tables carry `aws:ResourceTag/*`; CreateTable and TagResource `aws:RequestTag/*` and
//!   `aws:TagKeys`.
//!
//! When the input is malformed the keys it would give are left out; the operation then
//! fails its own validation before it reads or writes anything.

use std::sync::Arc;

use base64::Engine as _;
use sealdb_common::Principal;
use sealdb_iam::{Authorizer, PolicyDocument, RequestContext};
use serde_json::{Map, Value};

use crate::error::DynamoError;
use crate::expr::{self, ExpressionAttributes};
use crate::input::Input;
use crate::schema::TableDef;
use crate::service::{Operation, Service};
use crate::value::AttributeValue;

/// What one DynamoDB request asks permission for.
type Questions = Vec<RequestContext>;

/// What AWS asks on the target table of a point-in-time restore, beside
/// RestoreTableToPointInTime on the source ("read and write permissions on the target table").
const RESTORE_TARGET_ACTIONS: [&str; 7] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "GetItem",
    "Query",
    "Scan",
    "BatchWriteItem",
];

impl Service {
    /// Installs the authorizer; from then on every request is authorized before it runs.
    pub fn set_authorizer(&self, authorizer: Arc<Authorizer>) {
        // A second call keeps the first authorizer: enforcement cannot be swapped out.
        let _ = self.authorizer.set(authorizer);
    }

    /// Ok when the caller may run `op` with this input, else AWS's AccessDeniedException.
    pub(crate) fn authorize(
        &self,
        op: Operation,
        caller: &Principal,
        input: &Input,
    ) -> Result<(), DynamoError> {
        let Some(authorizer) = self.authorizer.get() else {
            return Ok(());
        };
        self.authorize_all(authorizer, caller, self.questions(op, input))
    }

    /// A PartiQL statement carried out as `op` with `input`: the questions `op` asks,
    /// under the statement's own action (`dynamodb:PartiQLSelect`, `…Insert`,
    /// `…Update`, `…Delete`).
    pub(crate) fn authorize_partiql(
        &self,
        op: Operation,
        caller: &Principal,
        input: &Input,
    ) -> Result<(), DynamoError> {
        let Some(authorizer) = self.authorizer.get() else {
            return Ok(());
        };
        let verb = match op {
            Operation::PutItem => "PartiQLInsert",
            Operation::UpdateItem => "PartiQLUpdate",
            Operation::DeleteItem => "PartiQLDelete",
            _ => "PartiQLSelect",
        };
        let mut questions = self.questions(op, input);
        for q in &mut questions {
            q.action = format!("dynamodb:{verb}");
        }
        self.authorize_all(authorizer, caller, questions)
    }

    /// The questions `op` asks with `input`, under another action: for a permission that
    /// is no API operation of its own (`dynamodb:UpdateGlobalTableVersion`).
    pub(crate) fn authorize_as(
        &self,
        op: Operation,
        action: &str,
        caller: &Principal,
        input: &Input,
    ) -> Result<(), DynamoError> {
        let Some(authorizer) = self.authorizer.get() else {
            return Ok(());
        };
        let mut questions = self.questions(op, input);
        for q in &mut questions {
            q.action = action.to_owned();
        }
        self.authorize_all(authorizer, caller, questions)
    }

    /// Streams operations: the stream ARN (GetRecords: the iterator's stream).
    pub(crate) fn authorize_streams(
        &self,
        operation: &str,
        caller: &Principal,
        input: &Input,
    ) -> Result<(), DynamoError> {
        let Some(authorizer) = self.authorizer.get() else {
            return Ok(());
        };
        let resource = match operation {
            "ListStreams" => "*".to_owned(),
            "GetRecords" => input
                .str_opt("ShardIterator")
                .ok()
                .flatten()
                .and_then(|it| self.iterator_stream_arn(it))
                .unwrap_or_else(|| "*".to_owned()),
            _ => input
                .str_opt("StreamArn")
                .ok()
                .flatten()
                .unwrap_or("*")
                .to_owned(),
        };
        let question = RequestContext::new(format!("dynamodb:{operation}"), resource);
        self.authorize_all(authorizer, caller, vec![question])
    }

    fn authorize_all(
        &self,
        authorizer: &Authorizer,
        caller: &Principal,
        questions: Questions,
    ) -> Result<(), DynamoError> {
        for question in &questions {
            let policy = match self.resource_policy_of(&question.resource) {
                Ok(policy) => policy,
                // A stored policy this engine cannot read denies (fails closed).
                Err(()) => {
                    let denied = sealdb_iam::AccessDenied::new(
                        &caller.arn,
                        &question.action,
                        &question.resource,
                        sealdb_iam::Decision::ExplicitDeny {
                            source: sealdb_iam::PolicySource::Resource,
                        },
                    );
                    return Err(DynamoError::NotAuthorized(denied.message().to_owned()));
                }
            };
            authorizer
                .authorize(caller, question, policy.as_deref())
                .map_err(|denied| DynamoError::NotAuthorized(denied.message().to_owned()))?;
        }
        Ok(())
    }

    /// The resource policy that applies to `arn`: a table's for the table, its indexes
    /// and backups; a stream's for the stream.
    fn resource_policy_of(&self, arn: &str) -> Result<Option<Arc<PolicyDocument>>, ()> {
        let rest = self.table_name_from(arn);
        if rest == arn {
            return Ok(None);
        }
        let (table, sub) = match rest.split_once('/') {
            Some((table, sub)) => (table, Some(sub)),
            None => (rest, None),
        };
        let Some(def) = self.def(table) else {
            return Ok(None);
        };
        let stream = sub.is_some_and(|s| s.starts_with("stream/"));
        let stored = if stream {
            def.stream_policy.as_ref()
        } else {
            def.resource_policy.as_ref()
        };
        match stored {
            None => Ok(None),
            Some(stored) => self.policy_cache.get(&def.id, stream, stored).map(Some),
        }
    }

    fn table_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.cfg.region, self.cfg.account_id
        )
    }

    /// The questions `op` asks with this input.
    fn questions(&self, op: Operation, input: &Input) -> Questions {
        use Operation as O;
        let action = format!("dynamodb:{}", op.name());
        let mut questions = match op {
            O::ListTables
            | O::DescribeLimits
            | O::DescribeEndpoints
            | O::ListBackups
            | O::ListGlobalTables => {
                vec![RequestContext::new(action, "*")]
            }
            O::CreateTable => {
                let mut q = self.table_question(&action, input);
                add_request_tags(&mut q, input.raw().get("Tags"));
                vec![q]
            }
            O::TagResource | O::UntagResource | O::ListTagsOfResource => {
                let arn = input.str_opt("ResourceArn").ok().flatten().unwrap_or("*");
                // AWS refuses an ARN that is not a table ARN's shape before it asks who the
                // caller is (ValidationException); the operation does that, changing nothing.
                if !crate::ops::tables::is_table_arn_shape(arn) {
                    return Vec::new();
                }
                let mut q = RequestContext::new(action, arn);
                self.add_resource_tags(&mut q, self.table_name_from(arn));
                match op {
                    O::TagResource => add_request_tags(&mut q, input.raw().get("Tags")),
                    O::UntagResource => add_tag_keys(&mut q, input.raw().get("TagKeys")),
                    _ => {}
                }
                vec![q]
            }
            O::DescribeBackup | O::DeleteBackup => {
                let arn = input.str_opt("BackupArn").ok().flatten().unwrap_or("*");
                vec![RequestContext::new(action, arn)]
            }
            O::RestoreTableFromBackup => {
                let backup = input.str_opt("BackupArn").ok().flatten().unwrap_or("*");
                let target = input
                    .str_opt("TargetTableName")
                    .ok()
                    .flatten()
                    .map_or_else(|| "*".to_owned(), |t| self.table_arn(t));
                vec![
                    RequestContext::new(action.clone(), backup),
                    RequestContext::new(action, target),
                ]
            }
            // AWS: RestoreTableToPointInTime on the source table, and the item reads and
            // writes a restore makes on the target table.
            O::RestoreTableToPointInTime => {
                let source = match (
                    input.str_opt("SourceTableArn").ok().flatten(),
                    input.str_opt("SourceTableName").ok().flatten(),
                ) {
                    (Some(arn), _) => arn.to_owned(),
                    (None, Some(name)) => self.table_arn(name),
                    (None, None) => "*".to_owned(),
                };
                let mut q = RequestContext::new(action, source.clone());
                self.add_resource_tags(&mut q, self.table_name_from(&source));
                let target = input
                    .str_opt("TargetTableName")
                    .ok()
                    .flatten()
                    .map_or_else(|| "*".to_owned(), |t| self.table_arn(t));
                let mut out = vec![q];
                for item_action in RESTORE_TARGET_ACTIONS {
                    out.push(RequestContext::new(
                        format!("dynamodb:{item_action}"),
                        target.clone(),
                    ));
                }
                out
            }
            O::GetItem | O::PutItem | O::UpdateItem | O::DeleteItem => {
                let mut q = self.table_question(&action, input);
                if let Some(def) = self.def_of(input.raw()) {
                    add_item_keys(&mut q, op, &def, input.raw());
                }
                vec![q]
            }
            O::Query | O::Scan => vec![self.read_question(&action, op, input.raw())],
            O::BatchGetItem => self.batch_get_questions(&action, input.raw()),
            O::BatchWriteItem => self.batch_write_questions(&action, input.raw()),
            O::TransactWriteItems | O::TransactGetItems => self.transact_questions(op, input.raw()),
            O::DescribeTable
            | O::DeleteTable
            | O::UpdateTable
            | O::DescribeTimeToLive
            | O::UpdateTimeToLive
            | O::UpdateContinuousBackups
            | O::DescribeContinuousBackups
            | O::CreateBackup
            | O::PutResourcePolicy
            | O::GetResourcePolicy
            | O::DeleteResourcePolicy
            | O::DescribeTableReplicaAutoScaling => vec![self.table_question(&action, input)],
            // Version 2017.11.29: the account's global table, an ARN without a region.
            O::CreateGlobalTable
            | O::DescribeGlobalTable
            | O::UpdateGlobalTable
            | O::DescribeGlobalTableSettings
            | O::UpdateGlobalTableSettings => {
                let resource = match input.str_opt("GlobalTableName").ok().flatten() {
                    Some(n) => crate::ops::global_tables::global_table_arn(&self.cfg.account_id, n),
                    None => "*".to_owned(),
                };
                vec![RequestContext::new(action, resource)]
            }
            // PartiQL: nothing is known before the statement is parsed; each statement is
            // authorized as it runs (`authorize_partiql`).
            O::ExecuteStatement | O::BatchExecuteStatement | O::ExecuteTransaction => Vec::new(),
        };
        if let Some(Value::String(rcc)) = input.raw().get("ReturnConsumedCapacity") {
            for q in &mut questions {
                q.keys.set("dynamodb:ReturnConsumedCapacity", rcc.clone());
            }
        }
        questions
    }

    /// A question on the table named by `TableName` (or `ResourceArn`, which the
    /// resource-policy operations use), with its tags.
    fn table_question(&self, action: &str, input: &Input) -> RequestContext {
        let named = input
            .str_opt("TableName")
            .ok()
            .flatten()
            .or_else(|| input.str_opt("ResourceArn").ok().flatten());
        let Some(named) = named else {
            return RequestContext::new(action, "*");
        };
        if named.starts_with("arn:") {
            // A stream or table ARN given whole (resource policies).
            let mut q = RequestContext::new(action, named);
            let table = self.table_name_from(named);
            self.add_resource_tags(&mut q, table.split('/').next().unwrap_or(table));
            return q;
        }
        let mut q = RequestContext::new(action, self.table_arn(named));
        self.add_resource_tags(&mut q, named);
        q
    }

    fn add_resource_tags(&self, q: &mut RequestContext, table: &str) {
        if let Some(def) = self.def(table) {
            for (k, v) in &def.tags {
                q.keys.set(&format!("aws:ResourceTag/{k}"), v.clone());
            }
        }
    }

    fn def_of(&self, raw: &Map<String, Value>) -> Option<Arc<TableDef>> {
        let name = raw.get("TableName")?.as_str()?;
        self.def(self.table_name_from(name))
    }

    /// Query and Scan: the table or index ARN, the partition key of a Query, the
    /// projected attributes and Select.
    fn read_question(
        &self,
        action: &str,
        op: Operation,
        raw: &Map<String, Value>,
    ) -> RequestContext {
        let Some(name) = raw.get("TableName").and_then(Value::as_str) else {
            return RequestContext::new(action, "*");
        };
        let name = self.table_name_from(name);
        let index = raw.get("IndexName").and_then(Value::as_str);
        let resource = match index {
            Some(i) => format!("{}/index/{i}", self.table_arn(name)),
            None => self.table_arn(name),
        };
        let mut q = RequestContext::new(action, resource);
        self.add_resource_tags(&mut q, name);
        let projected = add_projection(&mut q, raw);
        let select = match raw.get("Select").and_then(Value::as_str) {
            Some(s) => s.to_owned(),
            None if projected => "SPECIFIC_ATTRIBUTES".to_owned(),
            None if index.is_some() => "ALL_PROJECTED_ATTRIBUTES".to_owned(),
            None => "ALL_ATTRIBUTES".to_owned(),
        };
        q.keys.set("dynamodb:Select", select);
        if op == Operation::Query {
            if let Some(def) = self.def(name) {
                // dynamodb:LeadingKeys is the value of the (first) partition attribute.
                let hash_key = match index.and_then(|i| def.index(i)) {
                    Some(ix) => ix
                        .hash_keys
                        .first()
                        .map(|k| k.name.clone())
                        .unwrap_or_default(),
                    None => def.hash_key.name.clone(),
                };
                if let Some(value) = query_partition_value(raw, &hash_key) {
                    q.keys.set_multi("dynamodb:LeadingKeys", [value]);
                }
            }
        }
        q
    }

    fn batch_get_questions(&self, action: &str, raw: &Map<String, Value>) -> Questions {
        let Some(tables) = raw.get("RequestItems").and_then(Value::as_object) else {
            return vec![RequestContext::new(action, "*")];
        };
        let mut questions = Vec::new();
        for (name, request) in tables {
            let Some(request) = request.as_object() else {
                continue;
            };
            let mut base = RequestContext::new(action, self.table_arn(name));
            self.add_resource_tags(&mut base, name);
            let projected = add_projection(&mut base, request);
            let select = if projected {
                "SPECIFIC_ATTRIBUTES"
            } else {
                "ALL_ATTRIBUTES"
            };
            base.keys.set("dynamodb:Select", select);
            let keys = request.get("Keys").and_then(Value::as_array);
            let def = self.def(name);
            match (keys, def) {
                (Some(keys), Some(def)) if !keys.is_empty() => {
                    for key in keys {
                        let mut q = base.clone();
                        add_leading_key(&mut q, &def, key);
                        questions.push(q);
                    }
                }
                _ => questions.push(base),
            }
        }
        if questions.is_empty() {
            questions.push(RequestContext::new(action, "*"));
        }
        questions
    }

    fn batch_write_questions(&self, action: &str, raw: &Map<String, Value>) -> Questions {
        let Some(tables) = raw.get("RequestItems").and_then(Value::as_object) else {
            return vec![RequestContext::new(action, "*")];
        };
        let mut questions = Vec::new();
        for (name, requests) in tables {
            let mut base = RequestContext::new(action, self.table_arn(name));
            self.add_resource_tags(&mut base, name);
            let def = self.def(name);
            let requests = requests.as_array().map(Vec::as_slice).unwrap_or_default();
            if requests.is_empty() {
                questions.push(base.clone());
            }
            for request in requests {
                let mut q = base.clone();
                if let Some(def) = &def {
                    if let Some(item) = request.pointer("/PutRequest/Item") {
                        add_leading_key(&mut q, def, item);
                        add_item_attributes(&mut q, item);
                    } else if let Some(key) = request.pointer("/DeleteRequest/Key") {
                        add_leading_key(&mut q, def, key);
                    }
                }
                questions.push(q);
            }
        }
        if questions.is_empty() {
            questions.push(RequestContext::new(action, "*"));
        }
        questions
    }

    /// Each action of a transaction is authorized as the single-item operation it is,
    /// with `dynamodb:EnclosingOperation` naming the transaction.
    fn transact_questions(&self, op: Operation, raw: &Map<String, Value>) -> Questions {
        let enclosing = op.name();
        let items = raw.get("TransactItems").and_then(Value::as_array);
        let mut questions = Vec::new();
        for entry in items.map(Vec::as_slice).unwrap_or_default() {
            let Some((kind, body)) = entry.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            let (action_op, action) = match kind.as_str() {
                "Get" => (Operation::GetItem, "dynamodb:GetItem"),
                "Put" => (Operation::PutItem, "dynamodb:PutItem"),
                "Update" => (Operation::UpdateItem, "dynamodb:UpdateItem"),
                "Delete" => (Operation::DeleteItem, "dynamodb:DeleteItem"),
                "ConditionCheck" => (Operation::DeleteItem, "dynamodb:ConditionCheckItem"),
                _ => continue,
            };
            let Some(body) = body.as_object() else {
                continue;
            };
            let name = body.get("TableName").and_then(Value::as_str).unwrap_or("");
            let name = self.table_name_from(name);
            let mut q = RequestContext::new(action, self.table_arn(name));
            self.add_resource_tags(&mut q, name);
            q.keys.set("dynamodb:EnclosingOperation", enclosing);
            if let Some(def) = self.def(name) {
                if kind == "ConditionCheck" {
                    if let Some(key) = body.get("Key") {
                        add_leading_key(&mut q, &def, key);
                    }
                } else {
                    add_item_keys(&mut q, action_op, &def, body);
                }
            }
            questions.push(q);
        }
        if questions.is_empty() {
            questions.push(RequestContext::new(format!("dynamodb:{enclosing}"), "*"));
        }
        questions
    }

    /// The stream ARN a shard iterator reads.
    fn iterator_stream_arn(&self, iterator: &str) -> Option<String> {
        let position = crate::ops::streams::decode_iterator(iterator)?;
        Some(format!(
            "{}/stream/{}",
            self.table_arn(&position.table),
            position.label
        ))
    }
}

/// GetItem, PutItem, UpdateItem, DeleteItem (alone or in a transaction): the keys of
/// the item and the attributes read or written.
fn add_item_keys(q: &mut RequestContext, op: Operation, def: &TableDef, raw: &Map<String, Value>) {
    match op {
        Operation::PutItem => {
            if let Some(item) = raw.get("Item") {
                add_leading_key(q, def, item);
                add_item_attributes(q, item);
            }
        }
        Operation::GetItem => {
            if let Some(key) = raw.get("Key") {
                add_leading_key(q, def, key);
            }
            let projected = add_projection(q, raw);
            let select = if projected {
                "SPECIFIC_ATTRIBUTES"
            } else {
                "ALL_ATTRIBUTES"
            };
            q.keys.set("dynamodb:Select", select);
        }
        Operation::UpdateItem => {
            if let Some(key) = raw.get("Key") {
                add_leading_key(q, def, key);
                let mut names: Vec<String> = key
                    .as_object()
                    .map(|k| k.keys().cloned().collect())
                    .unwrap_or_default();
                names.extend(updated_attributes(raw));
                names.sort();
                names.dedup();
                q.keys.set_multi("dynamodb:Attributes", names);
            }
        }
        _ => {
            if let Some(key) = raw.get("Key") {
                add_leading_key(q, def, key);
            }
        }
    }
    if let Some(Value::String(rv)) = raw.get("ReturnValues") {
        q.keys.set("dynamodb:ReturnValues", rv.clone());
    }
}

/// `dynamodb:LeadingKeys`: the partition key value of an item or key, as a string.
/// Only the partition key attribute is read (a PutItem's whole item was parsed here once).
fn add_leading_key(q: &mut RequestContext, def: &TableDef, item: &Value) {
    let Some(Ok(value)) = item.get(&def.hash_key.name).map(AttributeValue::from_json) else {
        return;
    };
    if let Some(value) = key_string(&value) {
        q.keys.set_multi("dynamodb:LeadingKeys", [value]);
    }
}

/// A key value as policies compare it: strings as they are, numbers in their canonical
/// form, binary as base64.
fn key_string(value: &AttributeValue) -> Option<String> {
    match value {
        AttributeValue::S(s) => Some(s.clone()),
        AttributeValue::N(n) => Some(n.to_string()),
        AttributeValue::B(b) => Some(base64::engine::general_purpose::STANDARD.encode(b)),
        _ => None,
    }
}

fn add_item_attributes(q: &mut RequestContext, item: &Value) {
    if let Some(item) = item.as_object() {
        q.keys
            .set_multi("dynamodb:Attributes", item.keys().cloned());
    }
}

/// `dynamodb:Attributes` from ProjectionExpression (top-level names); true if there is one.
fn add_projection(q: &mut RequestContext, raw: &Map<String, Value>) -> bool {
    let Some(projection) = raw.get("ProjectionExpression").and_then(Value::as_str) else {
        return false;
    };
    let mut attrs = ExpressionAttributes::new(expression_names(raw), None);
    if let Ok(p) = expr::parse_projection(projection, &mut attrs) {
        let mut names = p.top_level_names();
        names.sort();
        names.dedup();
        q.keys.set_multi("dynamodb:Attributes", names);
    }
    true
}

/// The top-level attributes an UpdateExpression writes or removes.
fn updated_attributes(raw: &Map<String, Value>) -> Vec<String> {
    let Some(update) = raw.get("UpdateExpression").and_then(Value::as_str) else {
        return Vec::new();
    };
    let values = raw
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| AttributeValue::from_json(v).ok().map(|v| (k.clone(), v)))
                .collect()
        });
    let mut attrs = ExpressionAttributes::new(expression_names(raw), values);
    expr::parse_update(update, &mut attrs)
        .map(|u| u.paths().iter().map(|p| p.top_level().to_owned()).collect())
        .unwrap_or_default()
}

fn expression_names(raw: &Map<String, Value>) -> Option<std::collections::HashMap<String, String>> {
    raw.get("ExpressionAttributeNames")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
}

/// The partition key value a Query's KeyConditionExpression asks for.
fn query_partition_value(raw: &Map<String, Value>, hash_key: &str) -> Option<String> {
    let condition = raw.get("KeyConditionExpression")?.as_str()?;
    let values = raw
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| AttributeValue::from_json(v).ok().map(|v| (k.clone(), v)))
                .collect()
        });
    let mut attrs = ExpressionAttributes::new(expression_names(raw), values);
    let parsed = expr::parse_key_condition(condition, &mut attrs).ok()?;
    key_string(parsed.equality_on(hash_key)?)
}

/// `aws:RequestTag/*` and `aws:TagKeys` from a `Tags` list.
fn add_request_tags(q: &mut RequestContext, tags: Option<&Value>) {
    let Some(tags) = tags.and_then(Value::as_array) else {
        return;
    };
    let mut keys = Vec::new();
    for tag in tags {
        if let (Some(k), Some(v)) = (
            tag.get("Key").and_then(Value::as_str),
            tag.get("Value").and_then(Value::as_str),
        ) {
            q.keys.set(&format!("aws:RequestTag/{k}"), v);
            keys.push(k.to_owned());
        }
    }
    q.keys.set_multi("aws:TagKeys", keys);
}

fn add_tag_keys(q: &mut RequestContext, tag_keys: Option<&Value>) {
    if let Some(keys) = tag_keys.and_then(Value::as_array) {
        q.keys
            .set_multi("aws:TagKeys", keys.iter().filter_map(Value::as_str));
    }
}

/// (table id, is the stream's) → (revision id, the policy parsed).
type ParsedPolicies =
    std::collections::HashMap<(String, bool), (String, Result<Arc<PolicyDocument>, ()>)>;

/// Parsed resource policies, one per table and kind (table or stream), kept while the
/// stored policy keeps its revision id: a policy is parsed once per revision, not on
/// every request.
#[derive(Default)]
pub(crate) struct PolicyCache {
    parsed: std::sync::Mutex<ParsedPolicies>,
}

impl PolicyCache {
    /// The parsed form of `stored`, the policy of table `table_id` (its stream's when
    /// `stream`); `Err` when this engine cannot read it.
    pub(crate) fn get(
        &self,
        table_id: &str,
        stream: bool,
        stored: &crate::ops::policies::StoredPolicy,
    ) -> Result<Arc<PolicyDocument>, ()> {
        let key = (table_id.to_owned(), stream);
        if let Ok(parsed) = self.parsed.lock()
            && let Some((revision, doc)) = parsed.get(&key)
            && *revision == stored.revision_id
        {
            return doc.clone();
        }
        let doc = PolicyDocument::parse(&stored.document)
            .map(Arc::new)
            .map_err(|_| ());
        if let Ok(mut parsed) = self.parsed.lock() {
            parsed.insert(key, (stored.revision_id.clone(), doc.clone()));
        }
        doc
    }

    /// How many policies are held (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.parsed.lock().map(|p| p.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod policy_cache_tests {
    use super::*;
    use crate::ops::policies::StoredPolicy;

    fn stored(action: &str, revision: &str) -> StoredPolicy {
        StoredPolicy {
            document: format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:root"}},"Action":"dynamodb:{action}","Resource":"*"}}]}}"#
            ),
            revision_id: revision.to_owned(),
        }
    }

    #[test]
    fn a_policy_is_parsed_once_per_revision() {
        let cache = PolicyCache::default();
        let v1 = stored("GetItem", "1");
        let a = cache.get("t", false, &v1).unwrap();
        let b = cache.get("t", false, &v1).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same revision is not parsed again");
        let c = cache.get("t", false, &stored("Query", "2")).unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "a new revision is parsed");
        assert_eq!(cache.len(), 1, "one entry per table and kind");
        let s = cache.get("t", true, &v1).unwrap();
        assert!(!Arc::ptr_eq(&s, &c));
        assert_eq!(cache.len(), 2);
        let bad = StoredPolicy {
            document: "{".into(),
            revision_id: "3".into(),
        };
        assert!(cache.get("u", false, &bad).is_err());
    }
}
