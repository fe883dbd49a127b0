//! Secondary indexes at CreateTable, and online through UpdateTable: a new global index
//! is filled from the existing items by a background task (IndexStatus CREATING,
//! Backfilling) while the table keeps serving; writes maintain it from the moment it is
//! defined, so the backfill only has to cover what was there before.

use crate::error::DynamoError;
use crate::index::{IndexDef, IndexStatus, ProjectionKind, entry_key, project};
use crate::input::{Input, null_member, validation_errors};
use crate::item_size_u64;
use crate::on_demand::{OnDemandMax, OnDemandRequest, Subject};
use crate::ops::scan::decode;
use crate::ops::tables::{MAX_CAPACITY, as_obj, enum_error, obj_str, parse_throughput};
use crate::schema::{BillingMode, KeyAttr, KeyKind, TableDef};
use crate::service::{Service, TableRef};
use sealdb_storage::{Decision, ItemKey, WriteTx};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::Arc;

const MAX_GSIS: usize = 20;
const MAX_LSIS: usize = 5;
const MAX_PROJECTED: usize = 100;
/// Items per backfill write unit.
const BACKFILL_BATCH: usize = 256;

fn invalid(msg: impl std::fmt::Display) -> DynamoError {
    DynamoError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// Attributes a global index's partition key, or its sort key, may have.
const MAX_KEY_PARTS: usize = 4;

/// A parsed index `KeySchema` list: (hash names, range names). A local index has one of
/// each; a global index up to four of each (multi-attribute keys), HASH before RANGE.
fn key_names(
    list: &[Value],
    path: &str,
    global: bool,
) -> Result<(Vec<String>, Vec<String>), DynamoError> {
    let mut errors = Vec::new();
    let mut elems = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let m = as_obj(e, "KeySchema")?;
        let name = obj_str(m, "AttributeName")?;
        let kt = obj_str(m, "KeyType")?;
        match (name, kt) {
            (None, _) => errors.push(null_member(&format!(
                "{path}.{}.member.attributeName",
                i + 1
            ))),
            (_, None) => errors.push(null_member(&format!("{path}.{}.member.keyType", i + 1))),
            (Some(_), Some(t)) if t != "HASH" && t != "RANGE" => {
                errors.push(enum_error(
                    t,
                    &format!("{path}.{}.member.keyType", i + 1),
                    "HASH, RANGE",
                ));
            }
            (Some(n), Some(t)) => elems.push((n.to_owned(), t == "HASH")),
        }
        if let Some(n) = name {
            errors.extend(crate::ops::tables::key_name_length_error(
                n,
                &format!("{path}.{}.member.attributeName", i + 1),
            ));
        }
    }
    // A global index's counts are checked per key role below, with AWS's messages.
    let max = if global { usize::MAX } else { 2 };
    if list.is_empty() || list.len() > max {
        errors.push(format!(
            "Value '{}' at '{path}' failed to satisfy constraint: Member must have length {}",
            list.len(),
            if list.is_empty() {
                "greater than or equal to 1".to_owned()
            } else {
                format!("less than or equal to {max}")
            }
        ));
    }
    if !errors.is_empty() {
        return Err(validation_errors(&errors));
    }
    if !elems[0].1 {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    let hash_count = elems.iter().take_while(|(_, hash)| *hash).count();
    if elems[hash_count..].iter().any(|(_, hash)| *hash) {
        return Err(DynamoError::validation(if global {
            "Invalid KeySchema: All HASH key attributes must precede RANGE key attributes in the KeySchema"
        } else {
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
        }));
    }
    let (hash, range): (Vec<_>, Vec<_>) = elems.into_iter().partition(|(_, h)| *h);
    let hash: Vec<String> = hash.into_iter().map(|(n, _)| n).collect();
    let range: Vec<String> = range.into_iter().map(|(n, _)| n).collect();
    if !global && hash.len() > 1 {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    if hash.len() > MAX_KEY_PARTS {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The KeySchema exceeds the maximum allowed number of HASH key attributes",
        ));
    }
    if range.len() > MAX_KEY_PARTS {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The KeySchema exceeds the maximum allowed number of RANGE key attributes",
        ));
    }
    if let ([h], [r]) = (hash.as_slice(), range.as_slice())
        && h == r
    {
        return Err(DynamoError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = hash.iter().chain(&range).find(|n| !seen.insert(n.as_str())) {
        return Err(DynamoError::validation(format!(
            "Invalid KeySchema: Duplicate attribute name in KeySchema: {dup}"
        )));
    }
    Ok((hash, range))
}

fn parse_projection(
    m: Option<&Map<String, Value>>,
    path: &str,
) -> Result<ProjectionKind, DynamoError> {
    let Some(m) = m else {
        return Err(validation_errors(&[null_member(&format!(
            "{path}.projection"
        ))]));
    };
    let kind = obj_str(m, "ProjectionType")?;
    let non_key: Option<Vec<String>> = match m.get("NonKeyAttributes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        DynamoError::Serialization(
                            "Unexpected value type in payload for member NonKeyAttributes".into(),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => {
            return Err(DynamoError::Serialization(
                "Unexpected value type in payload for member NonKeyAttributes".into(),
            ));
        }
    };
    match (kind, non_key) {
        (Some("ALL") | None, None) => Ok(ProjectionKind::All),
        (Some("KEYS_ONLY"), None) => Ok(ProjectionKind::KeysOnly),
        (Some("INCLUDE"), Some(attrs)) if !attrs.is_empty() => {
            let mut seen = HashSet::new();
            for a in &attrs {
                if !seen.insert(a.as_str()) {
                    return Err(invalid(format!("Duplicate NonKeyAttribute: {a}")));
                }
            }
            Ok(ProjectionKind::Include(attrs))
        }
        (Some("INCLUDE"), _) => Err(invalid(
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
        )),
        (Some(t @ ("ALL" | "KEYS_ONLY")), Some(_)) => Err(invalid(format!(
            "ProjectionType is {t}, but NonKeyAttributes is specified"
        ))),
        (None, Some(_)) => Err(invalid(
            "ProjectionType is ALL, but NonKeyAttributes is specified",
        )),
        (Some(other), _) => Err(validation_errors(&[enum_error(
            other,
            &format!("{path}.projection.projectionType"),
            "ALL, KEYS_ONLY, INCLUDE",
        )])),
    }
}

fn index_name_check(name: &str, path: &str) -> Result<(), DynamoError> {
    let errors = crate::ops::tables::table_name_errors(name, &format!("{path}.indexName"), false);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(validation_errors(&errors))
    }
}

/// One index definition from CreateTable or an UpdateTable `Create`.
#[allow(clippy::too_many_arguments)]
fn parse_index(
    m: &Map<String, Value>,
    global: bool,
    path: &str,
    defs: &[KeyAttr],
    table_hash: &KeyAttr,
    table_range: Option<&KeyAttr>,
    mode: BillingMode,
    number: u32,
) -> Result<IndexDef, DynamoError> {
    let Some(name) = obj_str(m, "IndexName")? else {
        return Err(validation_errors(&[null_member(&format!(
            "{path}.indexName"
        ))]));
    };
    index_name_check(name, path)?;
    let Some(ks) = m.get("KeySchema").and_then(Value::as_array) else {
        return Err(validation_errors(&[null_member(&format!(
            "{path}.keySchema"
        ))]));
    };
    let (hash_names, range_names) = key_names(ks, &format!("{path}.keySchema"), global)?;
    let find = |n: &str| defs.iter().find(|d| d.name == n).cloned();
    let missing: Vec<&str> = hash_names
        .iter()
        .chain(&range_names)
        .map(String::as_str)
        .filter(|n| find(n).is_none())
        .collect();
    if !missing.is_empty() {
        let defined: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            missing.join(", "),
            defined.join(", ")
        )));
    }
    let resolve = |names: &[String]| -> Result<Vec<KeyAttr>, DynamoError> {
        names
            .iter()
            .map(|n| find(n).ok_or(DynamoError::Internal))
            .collect()
    };
    let hash_keys = resolve(&hash_names)?;
    let range_keys = resolve(&range_names)?;
    if !global {
        if table_range.is_none() {
            return Err(invalid(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if hash_keys[0].name != table_hash.name {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                hash_keys[0].name, table_hash.name
            )));
        }
        if range_keys.is_empty() {
            return Err(invalid(format!(
                "Index KeySchema must have a range key for a LocalSecondaryIndex: {name}"
            )));
        }
    }
    let projection = parse_projection(m.get("Projection").and_then(Value::as_object), path)?;
    let throughput = match m.get("ProvisionedThroughput") {
        Some(Value::Object(t)) => {
            let mut errors = Vec::new();
            let tp = parse_throughput(t, &mut errors)?;
            if !errors.is_empty() {
                return Err(validation_errors(&errors));
            }
            Some(tp)
        }
        _ => None,
    };
    let (read_capacity, write_capacity) = if global {
        match (mode, throughput) {
            (BillingMode::Provisioned, None) => {
                return Err(invalid(format!(
                    "ProvisionedThroughput should not be null for index: {name}"
                )));
            }
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(invalid(format!(
                    "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
                )));
            }
            (BillingMode::Provisioned, Some((r, w))) => {
                let (r, w) = (r.unwrap_or(1), w.unwrap_or(1));
                if r > MAX_CAPACITY || w > MAX_CAPACITY {
                    return Err(DynamoError::LimitExceeded(format!(
                        "Subscriber limit exceeded: Provisioned throughput for an index cannot exceed {MAX_CAPACITY} read or write capacity units"
                    )));
                }
                (r, w)
            }
            (BillingMode::PayPerRequest, None) => (0, 0),
        }
    } else {
        if throughput.is_some() {
            return Err(invalid(format!(
                "ProvisionedThroughput should not be specified for local secondary index: {name}"
            )));
        }
        (0, 0)
    };
    let on_demand = match m.get("OnDemandThroughput") {
        Some(Value::Object(o)) if global => {
            let req = OnDemandRequest::parse(o)?;
            if mode == BillingMode::Provisioned {
                req.refuse_provisioned(Subject::Index(name))?;
            }
            req.for_create(Subject::Index(name))?
        }
        _ => OnDemandMax::default(),
    };
    Ok(IndexDef {
        name: name.to_owned(),
        number,
        global,
        hash_keys,
        range_keys,
        projection,
        status: IndexStatus::Active,
        read_capacity,
        write_capacity,
        on_demand,
    })
}

fn projected_count(indexes: &[IndexDef]) -> usize {
    indexes
        .iter()
        .map(|i| match &i.projection {
            ProjectionKind::Include(a) => a.len(),
            _ => 0,
        })
        .sum()
}

/// The indexes of a CreateTable request, and the check that every attribute definition
/// is used by some key.
pub(crate) fn parse_create_indexes(
    input: &Input,
    defs: &[KeyAttr],
    table_hash: &KeyAttr,
    table_range: Option<&KeyAttr>,
    mode: BillingMode,
) -> Result<Vec<IndexDef>, DynamoError> {
    let mut out: Vec<IndexDef> = Vec::new();
    let mut names = HashSet::new();
    for (member, global) in [
        ("GlobalSecondaryIndexes", true),
        ("LocalSecondaryIndexes", false),
    ] {
        let Some(list) = input.list_opt(member)? else {
            continue;
        };
        let path = if global {
            "globalSecondaryIndexes"
        } else {
            "localSecondaryIndexes"
        };
        if list.is_empty() {
            return Err(invalid(format!("List of {member} is empty")));
        }
        if global && list.len() > MAX_GSIS {
            return Err(invalid(format!(
                "GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}"
            )));
        }
        if !global && list.len() > MAX_LSIS {
            return Err(invalid(format!(
                "Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}"
            )));
        }
        for (i, v) in list.iter().enumerate() {
            let m = as_obj(v, member)?;
            let number = u32::try_from(out.len()).unwrap_or(0) + 1;
            let ix = parse_index(
                m,
                global,
                &format!("{path}.{}.member", i + 1),
                defs,
                table_hash,
                table_range,
                mode,
                number,
            )?;
            if !names.insert(ix.name.clone()) {
                return Err(invalid(format!("Duplicate index name: {}", ix.name)));
            }
            out.push(ix);
        }
    }
    if projected_count(&out) > MAX_PROJECTED {
        return Err(invalid(format!(
            "Number of projected attributes in all indexes exceeds limit of {MAX_PROJECTED}"
        )));
    }
    let used: HashSet<&str> = std::iter::once(table_hash.name.as_str())
        .chain(table_range.map(|r| r.name.as_str()))
        .chain(
            out.iter()
                .flat_map(|i| i.key_attrs().map(|k| k.name.as_str())),
        )
        .collect();
    if defs.iter().any(|d| !used.contains(d.name.as_str())) {
        if out.is_empty() {
            return Err(invalid(
                "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        // With indexes AWS names both sets, each sorted.
        let mut defined: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        defined.sort_unstable();
        let mut keys: Vec<&str> = used.into_iter().collect();
        keys.sort_unstable();
        return Err(invalid(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
            defined.join(", "),
            keys.join(", ")
        )));
    }
    Ok(out)
}

fn merge_definitions(current: &[KeyAttr], input: &Input) -> Result<Vec<KeyAttr>, DynamoError> {
    let mut defs = current.to_vec();
    let Some(list) = input.list_opt("AttributeDefinitions")? else {
        return Ok(defs);
    };
    for v in list {
        let m = as_obj(v, "AttributeDefinitions")?;
        let (Some(name), Some(t)) = (obj_str(m, "AttributeName")?, obj_str(m, "AttributeType")?)
        else {
            return Err(validation_errors(&[null_member(
                "attributeDefinitions.member",
            )]));
        };
        let Some(kind) = KeyKind::parse(t) else {
            return Err(validation_errors(&[enum_error(
                t,
                "attributeDefinitions.member.attributeType",
                "B, N, S",
            )]));
        };
        match defs.iter().find(|d| d.name == name) {
            Some(d) if d.kind != kind => {
                return Err(invalid(format!(
                    "Cannot change the type of attribute {name}; it is used by a key"
                )));
            }
            Some(_) => {}
            None => defs.push(KeyAttr {
                name: name.to_owned(),
                kind,
            }),
        }
    }
    Ok(defs)
}

/// AWS's checks of the GlobalSecondaryIndexUpdates entries themselves, before any index
/// is looked at: one action per entry, one entry per index.
fn check_update_entries(updates: &[Value]) -> Result<(), DynamoError> {
    let mut seen = std::collections::HashSet::new();
    for u in updates {
        let m = as_obj(u, "GlobalSecondaryIndexUpdates")?;
        let actions: Vec<&Map<String, Value>> = ["Create", "Update", "Delete"]
            .iter()
            .filter_map(|k| m.get(*k).and_then(Value::as_object))
            .collect();
        let action = match actions.as_slice() {
            [] => {
                return Err(DynamoError::validation(
                    "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
                ));
            }
            [one] => one,
            _ => {
                return Err(DynamoError::validation(
                    "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
                ));
            }
        };
        if let Some(name) = obj_str(action, "IndexName")?
            && !seen.insert(name)
        {
            return Err(invalid(format!(
                "Only one global secondary index update per index is allowed simultaneously. Index: {name}"
            )));
        }
    }
    Ok(())
}

impl Service {
    /// UpdateTable with `GlobalSecondaryIndexUpdates`.
    pub(crate) async fn update_indexes(&self, input: &Input) -> Result<Value, DynamoError> {
        let Some(updates) = input.list_opt("GlobalSecondaryIndexUpdates")? else {
            return Err(validation_errors(&[null_member(
                "globalSecondaryIndexUpdates",
            )]));
        };
        check_update_entries(updates)?;
        let _guard = self.ddl.lock().await;
        let t = self.table(input)?;
        let mut def = (*t.def).clone();
        let mut started: Option<(u32, bool)> = None;
        for (i, u) in updates.iter().enumerate() {
            let m = as_obj(u, "GlobalSecondaryIndexUpdates")?;
            let path = format!("globalSecondaryIndexUpdates.{}.member", i + 1);
            if let Some(create) = m.get("Create").and_then(Value::as_object) {
                if started.is_some()
                    || def
                        .indexes
                        .iter()
                        .any(|ix| ix.status != IndexStatus::Active)
                {
                    return Err(DynamoError::LimitExceeded(
                        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table".into(),
                    ));
                }
                let defs = merge_definitions(&def.attribute_definitions, input)?;
                let number = def.next_index_number;
                let mut ix = parse_index(
                    create,
                    true,
                    &format!("{path}.create"),
                    &defs,
                    &def.hash_key,
                    def.range_key.as_ref(),
                    def.billing_mode,
                    number,
                )?;
                if def.index(&ix.name).is_some() {
                    return Err(invalid(format!(
                        "Attempting to create an index which already exists: {}",
                        ix.name
                    )));
                }
                if def.indexes.iter().filter(|i| i.global).count() >= MAX_GSIS {
                    return Err(DynamoError::LimitExceeded(format!(
                        "Subscriber limit exceeded: Number of global secondary indexes exceeds the per-table limit of {MAX_GSIS}"
                    )));
                }
                ix.status = IndexStatus::Creating;
                def.attribute_definitions = defs;
                def.next_index_number += 1;
                started = Some((number, true));
                def.indexes.push(ix);
                if projected_count(&def.indexes) > MAX_PROJECTED {
                    return Err(invalid(format!(
                        "Number of projected attributes in all indexes exceeds limit of {MAX_PROJECTED}"
                    )));
                }
            } else if let Some(delete) = m.get("Delete").and_then(Value::as_object) {
                let Some(name) = obj_str(delete, "IndexName")? else {
                    return Err(validation_errors(&[null_member(&format!(
                        "{path}.delete.indexName"
                    ))]));
                };
                if started.is_some() {
                    return Err(DynamoError::LimitExceeded(
                        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table".into(),
                    ));
                }
                let Some(ix) = def.indexes.iter_mut().find(|i| i.name == name && i.global) else {
                    return Err(DynamoError::ResourceNotFound(format!(
                        "Requested resource not found: Requested index {name} not found"
                    )));
                };
                if ix.status != IndexStatus::Active {
                    return Err(DynamoError::ResourceInUse(format!(
                        "Attempt to change a resource which is still in use: Index {name} is being created or deleted"
                    )));
                }
                ix.status = IndexStatus::Deleting;
                started = Some((ix.number, false));
            } else if let Some(update) = m.get("Update").and_then(Value::as_object) {
                let Some(name) = obj_str(update, "IndexName")? else {
                    return Err(validation_errors(&[null_member(&format!(
                        "{path}.update.indexName"
                    ))]));
                };
                let mode = def.billing_mode;
                let Some(ix) = def.indexes.iter_mut().find(|i| i.name == name && i.global) else {
                    return Err(DynamoError::ResourceNotFound(format!(
                        "Requested resource not found: Requested index {name} not found"
                    )));
                };
                // An on-demand index changes its maximums (UpdateGlobalSecondaryIndexAction's
                // OnDemandThroughput), a provisioned one its capacity.
                if let Some(o) = update.get("OnDemandThroughput").and_then(Value::as_object)
                    && !update.contains_key("ProvisionedThroughput")
                {
                    let req = OnDemandRequest::parse(o)?;
                    if mode == BillingMode::Provisioned {
                        req.refuse_provisioned(Subject::Index(name))?;
                    }
                    let next = req.merge(ix.on_demand, Subject::Index(name))?.0;
                    next.check_account_max(Subject::Index(name), &self.cfg.region, MAX_CAPACITY)?;
                    ix.on_demand = next;
                    continue;
                }
                let Some(tp) = update
                    .get("ProvisionedThroughput")
                    .and_then(Value::as_object)
                else {
                    return Err(validation_errors(&[null_member(&format!(
                        "{path}.update.provisionedThroughput"
                    ))]));
                };
                if mode == BillingMode::PayPerRequest {
                    return Err(invalid(format!(
                        "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
                    )));
                }
                let mut errors = Vec::new();
                let (r, w) = parse_throughput(tp, &mut errors)?;
                if !errors.is_empty() {
                    return Err(validation_errors(&errors));
                }
                ix.read_capacity = r.unwrap_or(ix.read_capacity);
                ix.write_capacity = w.unwrap_or(ix.write_capacity);
            } else {
                return Err(invalid(
                    "One of Create, Update or Delete must be specified for a GlobalSecondaryIndexUpdate",
                ));
            }
        }
        let def = self.save_def(def)?;
        let t = TableRef {
            def,
            handle: t.handle,
        };
        let desc = self.live_description(&t, "UPDATING").await?;
        if let Some((number, create)) = started
            && let Some(me) = self.me.upgrade()
        {
            let name = t.def.name.clone();
            tokio::spawn(async move {
                let result = if create {
                    me.backfill(&name, number).await
                } else {
                    me.drop_index(&name, number).await
                };
                if let Err(e) = result {
                    tracing::error!(table = %name, error = ?e, "index change did not finish");
                }
            });
        }
        Ok(json!({ "TableDescription": desc }))
    }

    /// Restarts the backfills and index removals a shutdown interrupted (call once at
    /// start, inside the runtime).
    pub fn resume_index_changes(self: &Arc<Self>) {
        let defs: Vec<Arc<TableDef>> = match self.defs.read() {
            Ok(d) => d.values().cloned().collect(),
            Err(_) => return,
        };
        for def in defs {
            for ix in &def.indexes {
                let (me, name, number) = (Arc::clone(self), def.name.clone(), ix.number);
                match ix.status {
                    IndexStatus::Active => {}
                    IndexStatus::Creating => {
                        tokio::spawn(async move {
                            if let Err(e) = me.backfill(&name, number).await {
                                tracing::error!(table = %name, error = ?e, "index backfill did not finish");
                            }
                        });
                    }
                    IndexStatus::Deleting => {
                        tokio::spawn(async move {
                            if let Err(e) = me.drop_index(&name, number).await {
                                tracing::error!(table = %name, error = ?e, "index removal did not finish");
                            }
                        });
                    }
                }
            }
        }
    }

    /// Fills index `number` from every existing item, then marks it ACTIVE.
    async fn backfill(&self, table: &str, number: u32) -> Result<(), DynamoError> {
        let t = self.table_by_name(table)?;
        let store = self.store(&t).await?;
        let mut after: Option<ItemKey> = None;
        loop {
            let page = store
                .scan(0, u64::MAX, after.clone(), BACKFILL_BATCH, usize::MAX)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let keys: Vec<ItemKey> = page.into_iter().map(|s| s.key).collect();
            let def = match self.def(table) {
                Some(d) => d,
                None => return Ok(()),
            };
            let Some(ix) = def.indexes.iter().find(|i| i.number == number).cloned() else {
                return Ok(());
            };
            store
                .write_when_room(move |tx: &mut dyn WriteTx| {
                    // Re-read each item inside the writer: what a concurrent write left is
                    // what the entry must reflect.
                    for key in &keys {
                        let Some(bytes) = tx.get(key)? else { continue };
                        let Ok(item) = decode(&bytes) else { continue };
                        put_index_entry(tx, &def, &ix, &item, key)?;
                    }
                    Ok(Decision::Commit(()))
                })
                .await?;
        }
        let _guard = self.ddl.lock().await;
        if let Some(current) = self.def(table) {
            let mut def = (*current).clone();
            if let Some(ix) = def.indexes.iter_mut().find(|i| i.number == number) {
                ix.status = IndexStatus::Active;
            }
            self.save_def(def)?;
        }
        Ok(())
    }

    /// Removes every entry of index `number`, then the index itself.
    async fn drop_index(&self, table: &str, number: u32) -> Result<(), DynamoError> {
        let t = self.table_by_name(table)?;
        let store = self.store(&t).await?;
        loop {
            let n = store
                .write_when_room(move |tx: &mut dyn WriteTx| {
                    Ok(Decision::Commit(tx.index_drop_some(number, 1024)?))
                })
                .await?;
            if n == 0 {
                break;
            }
        }
        let _guard = self.ddl.lock().await;
        if let Some(current) = self.def(table) {
            let mut def = (*current).clone();
            def.indexes.retain(|i| i.number != number);
            self.save_def(def)?;
        }
        Ok(())
    }
}

/// Writes `item`'s entry in index `ix` (projected as the index says), if the item has the
/// index's key attributes: what a backfill or a rebuild puts for each item.
pub(crate) fn put_index_entry(
    tx: &mut dyn WriteTx,
    def: &TableDef,
    ix: &IndexDef,
    item: &crate::value::Item,
    key: &ItemKey,
) -> Result<(), sealdb_storage::StorageError> {
    if let Some(ek) = entry_key(ix, item, key) {
        let projected = project(def, ix, item);
        tx.index_put(
            ix.number,
            &ek,
            &crate::codec::encode_item(&projected),
            item_size_u64(&projected),
        )?;
    }
    Ok(())
}
