//! Table operations: CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable,
//! tags, TTL, DescribeLimits, DescribeEndpoints.

use crate::error::DynamoError;
use crate::input::{Input, int_value, null_member, validation_errors};
use crate::schema::{BillingMode, KeyAttr, KeyKind, StreamSettings, TableDef, iso_millis};
use crate::service::Service;
use sealdb_common::Principal;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const MAX_TAGS: usize = 50;
pub(crate) const MAX_CAPACITY: i64 = 40_000;

fn not_found_table(name: &str) -> DynamoError {
    DynamoError::ResourceNotFound(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}

/// Table names: 3-255 characters of `[a-zA-Z0-9_.-]` (an ARN is also accepted where a
/// name is, up to 1024 characters).
pub(crate) fn table_name_errors(name: &str, member: &str, allow_arn: bool) -> Vec<String> {
    let mut errors = Vec::new();
    if allow_arn && name.starts_with("arn:") {
        if name.len() > 1024 {
            errors.push(format!(
                "Value '{name}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 1024"
            ));
        }
        return errors;
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        errors.push(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        ));
    }
    if name.len() < 3 {
        errors.push(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 3"
        ));
    }
    if name.len() > 255 {
        errors.push(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 255"
        ));
    }
    errors
}

/// Validates the `TableName` member of a data-plane request.
pub(crate) fn validate_table_name_param(name: &str) -> Result<(), DynamoError> {
    let errors = table_name_errors(name, "tableName", true);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(validation_errors(&errors))
    }
}

pub(crate) fn enum_error(value: &str, member: &str, set: &str) -> String {
    format!(
        "Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{set}]"
    )
}

pub(crate) fn obj_str<'a>(
    m: &'a Map<String, Value>,
    k: &str,
) -> Result<Option<&'a str>, DynamoError> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DynamoError::Serialization(format!(
            "Unexpected value type in payload for member {k}; expected a string"
        ))),
    }
}

pub(crate) fn as_obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, DynamoError> {
    v.as_object().ok_or_else(|| {
        DynamoError::Serialization(format!(
            "Unexpected value type in payload for member {what}; expected a structure"
        ))
    })
}

/// `ProvisionedThroughput` → (read, write), with AWS's range checks.
pub(crate) fn parse_throughput(
    m: &Map<String, Value>,
    errors: &mut Vec<String>,
) -> Result<(Option<i64>, Option<i64>), DynamoError> {
    let r = int_value(m.get("ReadCapacityUnits"), "ReadCapacityUnits")?;
    let w = int_value(m.get("WriteCapacityUnits"), "WriteCapacityUnits")?;
    for (v, member) in [
        (r, "provisionedThroughput.readCapacityUnits"),
        (w, "provisionedThroughput.writeCapacityUnits"),
    ] {
        match v {
            None => errors.push(null_member(member)),
            Some(v) if v < 1 => errors.push(format!(
                "Value '{v}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )),
            _ => {}
        }
    }
    Ok((r, w))
}

fn parse_tags(
    list: &[Value],
    errors: &mut Vec<String>,
) -> Result<Vec<(String, String)>, DynamoError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let m = as_obj(t, "Tags")?;
        let key = obj_str(m, "Key")?;
        let value = obj_str(m, "Value")?;
        match (key, value) {
            (Some(k), Some(v)) => {
                if k.is_empty() || k.chars().count() > 128 {
                    errors.push(format!(
                        "Value '{k}' at 'tags.{}.member.key' failed to satisfy constraint: Member must have length less than or equal to 128",
                        i + 1
                    ));
                }
                if v.chars().count() > 256 {
                    errors.push(format!(
                        "Value '{v}' at 'tags.{}.member.value' failed to satisfy constraint: Member must have length less than or equal to 256",
                        i + 1
                    ));
                }
                if let Some(existing) = tags.iter_mut().find(|(ek, _)| ek == k) {
                    existing.1 = v.to_owned();
                } else {
                    tags.push((k.to_owned(), v.to_owned()));
                }
            }
            (None, _) => errors.push(null_member(&format!("tags.{}.member.key", i + 1))),
            (_, None) => errors.push(null_member(&format!("tags.{}.member.value", i + 1))),
        }
    }
    Ok(tags)
}

const STREAM_VIEW_TYPES: &str = "NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY";

/// Billing mode, (read, write) capacity units as given, table class.
type CapacitySettings<'a> = (
    Option<BillingMode>,
    Option<(Option<i64>, Option<i64>)>,
    Option<&'a str>,
);

/// BillingMode, ProvisionedThroughput and TableClass, shared by CreateTable and
/// UpdateTable; member errors are collected into `errors`.
fn parse_capacity_settings<'a>(
    input: &'a Input,
    errors: &mut Vec<String>,
) -> Result<CapacitySettings<'a>, DynamoError> {
    let billing = match input.str_opt("BillingMode")? {
        None => None,
        Some("PROVISIONED") => Some(BillingMode::Provisioned),
        Some("PAY_PER_REQUEST") => Some(BillingMode::PayPerRequest),
        Some(other) => {
            errors.push(enum_error(
                other,
                "billingMode",
                "PROVISIONED, PAY_PER_REQUEST",
            ));
            None
        }
    };
    let throughput = match input.obj_opt("ProvisionedThroughput")? {
        Some(m) => Some(parse_throughput(m, errors)?),
        None => None,
    };
    let table_class = input.str_opt("TableClass")?;
    if let Some(c) = table_class
        && c != "STANDARD"
        && c != "STANDARD_INFREQUENT_ACCESS"
    {
        errors.push(enum_error(
            c,
            "tableClass",
            "STANDARD, STANDARD_INFREQUENT_ACCESS",
        ));
    }
    Ok((billing, throughput, table_class))
}

fn parse_stream_spec(
    m: &Map<String, Value>,
    now_ms: i64,
) -> Result<Option<StreamSettings>, DynamoError> {
    let enabled = match m.get("StreamEnabled") {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => {
            return Err(validation_errors(&[null_member(
                "streamSpecification.streamEnabled",
            )]));
        }
        Some(_) => {
            return Err(DynamoError::Serialization(
                "Unexpected value type in payload for member StreamEnabled".into(),
            ));
        }
    };
    let view = obj_str(m, "StreamViewType")?;
    if !enabled {
        if view.is_some() {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: Stream view type can only be specified when stream is enabled",
            ));
        }
        return Ok(None);
    }
    let Some(view) = view else {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Stream view type must be specified when stream is enabled",
        ));
    };
    if !STREAM_VIEW_TYPES.split(", ").any(|v| v == view) {
        return Err(validation_errors(&[enum_error(
            view,
            "streamSpecification.streamViewType",
            STREAM_VIEW_TYPES,
        )]));
    }
    Ok(Some(StreamSettings {
        view_type: view.to_owned(),
        label: iso_millis(now_ms),
        after_seq: 0,
    }))
}

/// A parsed key schema: partition key, sort key, all attribute definitions.
type KeySchema = (KeyAttr, Option<KeyAttr>, Vec<KeyAttr>);

/// Parses and checks KeySchema + AttributeDefinitions.
fn parse_key_schema(
    input: &Input,
    errors: &mut Vec<String>,
) -> Result<Option<KeySchema>, DynamoError> {
    let ks = input.list_opt("KeySchema")?;
    let ad = input.list_opt("AttributeDefinitions")?;
    if ad.is_none() {
        errors.push(null_member("attributeDefinitions"));
    }
    if ks.is_none() {
        errors.push(null_member("keySchema"));
    }
    let (Some(ks), Some(ad)) = (ks, ad) else {
        return Ok(None);
    };
    let mut defs: Vec<KeyAttr> = Vec::new();
    for (i, d) in ad.iter().enumerate() {
        let m = as_obj(d, "AttributeDefinitions")?;
        let name = obj_str(m, "AttributeName")?;
        let ty = obj_str(m, "AttributeType")?;
        if name.is_none() {
            errors.push(null_member(&format!(
                "attributeDefinitions.{}.member.attributeName",
                i + 1
            )));
        }
        let kind = match ty {
            None => {
                errors.push(null_member(&format!(
                    "attributeDefinitions.{}.member.attributeType",
                    i + 1
                )));
                None
            }
            Some(t) => {
                let k = KeyKind::parse(t);
                if k.is_none() {
                    errors.push(enum_error(
                        t,
                        &format!("attributeDefinitions.{}.member.attributeType", i + 1),
                        "B, N, S",
                    ));
                }
                k
            }
        };
        if let (Some(name), Some(kind)) = (name, kind) {
            defs.push(KeyAttr {
                name: name.to_owned(),
                kind,
            });
        }
    }
    let mut elems: Vec<(String, String)> = Vec::new();
    for (i, e) in ks.iter().enumerate() {
        let m = as_obj(e, "KeySchema")?;
        let name = obj_str(m, "AttributeName")?;
        let kt = obj_str(m, "KeyType")?;
        if name.is_none() {
            errors.push(null_member(&format!(
                "keySchema.{}.member.attributeName",
                i + 1
            )));
        }
        match kt {
            None => errors.push(null_member(&format!("keySchema.{}.member.keyType", i + 1))),
            Some(t) if t != "HASH" && t != "RANGE" => errors.push(enum_error(
                t,
                &format!("keySchema.{}.member.keyType", i + 1),
                "HASH, RANGE",
            )),
            _ => {}
        }
        if let (Some(n), Some(t)) = (name, kt) {
            elems.push((n.to_owned(), t.to_owned()));
        }
    }
    if ks.is_empty() || ks.len() > 2 {
        let bound = if ks.is_empty() {
            "greater than or equal to 1"
        } else {
            "less than or equal to 2"
        };
        errors.push(format!(
            "Value '{}' at 'keySchema' failed to satisfy constraint: Member must have length {bound}",
            key_schema_shown(&elems)
        ));
    }
    if !errors.is_empty() {
        return Ok(None);
    }
    let (hash_name, hash_type) = &elems[0];
    if hash_type != "HASH" {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if let Some((rn, rt)) = elems.get(1) {
        if rt != "RANGE" {
            return Err(DynamoError::validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ));
        }
        if rn == hash_name {
            return Err(DynamoError::validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for d in &defs {
        if !seen.insert(d.name.as_str()) {
            return Err(DynamoError::validation(
                "Cannot have two attributes with the same name",
            ));
        }
    }
    let find = |n: &str| defs.iter().find(|d| d.name == n).cloned();
    let key_names: Vec<&str> = elems.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<&str> = key_names
        .iter()
        .copied()
        .filter(|n| find(n).is_none())
        .collect();
    if !missing.is_empty() {
        let defined: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        return Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            missing.join(", "),
            defined.join(", ")
        )));
    }
    let hash = find(hash_name).ok_or(DynamoError::Internal)?;
    let range = match elems.get(1) {
        Some((n, _)) => Some(find(n).ok_or(DynamoError::Internal)?),
        None => None,
    };
    Ok(Some((hash, range, defs)))
}

fn key_schema_shown(elems: &[(String, String)]) -> String {
    let parts: Vec<String> = elems
        .iter()
        .map(|(n, t)| format!("KeySchemaElement(attributeName={n}, keyType={t})"))
        .collect();
    format!("[{}]", parts.join(", "))
}

pub(crate) fn describe_limits() -> Value {
    json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": MAX_CAPACITY,
        "TableMaxWriteCapacityUnits": MAX_CAPACITY,
    })
}

impl Service {
    fn description(&self, def: &TableDef, status: &str, count: u64, size: u64) -> Value {
        let mut d = def.describe(
            status,
            &self.cfg.region,
            &self.cfg.account_id,
            (count, size),
            &[],
        );
        if let Some(arn) = &def.sse_key_arn {
            d["SSEDescription"] =
                json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn});
        }
        d
    }

    /// The description with live item and index statistics.
    pub(crate) async fn live_description(
        &self,
        t: &crate::service::TableRef,
        status: &str,
    ) -> Result<Value, DynamoError> {
        // Opening the store also re-checks the table key when the interval is due.
        let (counts, index_stats) = match self.store(t).await {
            Ok(store) => {
                let stats = store.stats().await?;
                let mut index_stats = Vec::with_capacity(t.def.indexes.len());
                for ix in &t.def.indexes {
                    let s = store.index_stats(ix.number).await?;
                    index_stats.push((s.item_count, s.size_bytes));
                }
                ((stats.item_count, stats.size_bytes), index_stats)
            }
            Err(DynamoError::Validation(_) | DynamoError::AccessDenied(_)) => ((0, 0), Vec::new()),
            Err(e) => return Err(e),
        };
        let inaccessible = t.handle.inaccessible_since();
        let status = if t.def.archival.is_some() && status == "ACTIVE" {
            "ARCHIVED"
        } else if inaccessible.is_some() && status == "ACTIVE" {
            "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
        } else {
            status
        };
        let mut d = t.def.describe(
            status,
            &self.cfg.region,
            &self.cfg.account_id,
            counts,
            &index_stats,
        );
        if let Some((ms, backup)) = &t.def.archival {
            d["ArchivalSummary"] = json!({
                "ArchivalDateTime": crate::schema::ms_to_epoch_seconds(*ms),
                "ArchivalReason": "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
                "ArchivalBackupArn": backup,
            });
        }
        if let Some(arn) = &t.def.sse_key_arn {
            let mut sse = json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn});
            if let Some(ms) = inaccessible {
                sse["InaccessibleEncryptionDateTime"] =
                    json!(crate::schema::ms_to_epoch_seconds(ms));
            }
            d["SSEDescription"] = sse;
        }
        Ok(d)
    }

    /// [`Service::resolve_sse`] for the other operations of this crate.
    pub(crate) async fn resolve_sse_public(
        &self,
        sse: &SseRequest,
        caller: &Principal,
    ) -> Result<Option<String>, DynamoError> {
        self.resolve_sse(sse, caller).await
    }

    /// The KMS key ARN an SSE request resolves to (`None`: the service-owned key),
    /// with DynamoDB's wording of KMS failures.
    async fn resolve_sse(
        &self,
        sse: &SseRequest,
        caller: &Principal,
    ) -> Result<Option<String>, DynamoError> {
        let key_id = match sse {
            SseRequest::Owned => return Ok(None),
            SseRequest::AwsManaged => "alias/aws/dynamodb",
            SseRequest::Customer(k) => k.as_str(),
        };
        let Some(vault) = &self.kms else {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: KMS encryption is not available on this server",
            ));
        };
        vault
            .resolve_key(caller, key_id)
            .await
            .map(Some)
            .map_err(|e| match e {
                sealdb_kms::KmsError::AccessDenied(_) => {
                    DynamoError::AccessDenied(crate::sse::kms_failure_message(&e))
                }
                _ => DynamoError::Validation(crate::sse::kms_failure_message(&e)),
            })
    }

    /// UpdateTable with SSESpecification: re-wraps the table key under the new key.
    async fn update_sse(&self, input: &Input, caller: &Principal) -> Result<Value, DynamoError> {
        let Some(m) = input.obj_opt("SSESpecification")? else {
            return Err(DynamoError::Internal);
        };
        let sse = parse_sse(m)?;
        let _guard = self.ddl.lock().await;
        let raw = input.str_req("TableName")?;
        let name = self.table_name_from(raw).to_owned();
        let t = self.table(input).map_err(|_| not_found_table(&name))?;
        let current = t.def.sse_key_arn.clone();
        match (&sse, &current) {
            (SseRequest::Owned, None) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Table is already encrypted by default",
                ));
            }
            (SseRequest::Customer(k), Some(arn)) if k == arn => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Table is already encrypted with given KMSMasterKeyId. Use KMSMasterKeyId parameter if you want to change Master Key",
                ));
            }
            _ => {}
        }
        let now = self.now_ms();
        let day = 24 * 3600 * 1000;
        let recent: Vec<i64> = t
            .def
            .sse_changes
            .iter()
            .copied()
            .filter(|c| now - c < day)
            .collect();
        if recent.len() >= 4 && recent.last().is_some_and(|l| now - l < 21_600_000) {
            return Err(DynamoError::LimitExceeded(format!(
                "Subscriber limit exceeded: Encryption mode changes are limited in the 24h window ending at {}. After the first 4 change, each subsequent change in the same window can be performed at most once every 21600 seconds. Number of updates today: {}. Last change at {}",
                crate::schema::iso_millis(now),
                recent.len(),
                crate::schema::iso_millis(recent.last().copied().unwrap_or(now))
            )));
        }
        let new_arn = self.resolve_sse(&sse, caller).await?;
        let mut def = (*t.def).clone();
        def.sse_key_arn = new_arn.clone();
        def.sse_changes = recent;
        def.sse_changes.push(now);
        // The new wrapped key and the definition naming its key in one catalog write.
        self.engine
            .rewrap_table(&name, new_arn, Some(caller.clone()), def.encode())
            .await?;
        let def = self.cache_def(def);
        let t2 = crate::service::TableRef {
            def,
            handle: t.handle,
        };
        let mut d = self.live_description(&t2, "ACTIVE").await?;
        // The response shows the change in progress, as AWS does: UPDATING, old key.
        d["SSEDescription"] = match &current {
            Some(arn) => json!({"Status": "UPDATING", "SSEType": "KMS", "KMSMasterKeyArn": arn}),
            None => json!({"Status": "UPDATING"}),
        };
        Ok(json!({ "TableDescription": d }))
    }

    pub(crate) async fn create_table(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let mut errors = Vec::new();
        let name = input.str_opt("TableName")?;
        match name {
            None => errors.push(null_member("tableName")),
            Some(n) => errors.extend(table_name_errors(n, "tableName", false)),
        }
        let schema = parse_key_schema(input, &mut errors)?;
        let (billing, throughput, table_class) = parse_capacity_settings(input, &mut errors)?;
        let tags = match input.list_opt("Tags")? {
            Some(list) => parse_tags(list, &mut errors)?,
            None => Vec::new(),
        };
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let (Some(name), Some((hash_key, range_key, attribute_definitions))) = (name, schema)
        else {
            return Err(DynamoError::Internal);
        };
        let mode = billing.unwrap_or(BillingMode::Provisioned);
        let indexes = crate::ops::indexes::parse_create_indexes(
            input,
            &attribute_definitions,
            &hash_key,
            range_key.as_ref(),
            mode,
        )?;
        if tags.len() > MAX_TAGS {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: The number of tags exceeds the limit of 50",
            ));
        }
        let (read_capacity, write_capacity) = match (mode, throughput) {
            (BillingMode::Provisioned, None) => {
                return Err(DynamoError::validation(if billing.is_some() {
                    "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
                } else {
                    "No provisioned throughput specified for the table"
                }));
            }
            (BillingMode::Provisioned, Some((r, w))) => (r.unwrap_or(1), w.unwrap_or(1)),
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            (BillingMode::PayPerRequest, None) => (0, 0),
        };
        if read_capacity > MAX_CAPACITY || write_capacity > MAX_CAPACITY {
            return Err(DynamoError::LimitExceeded(format!(
                "Subscriber limit exceeded: Provisioned throughput for a table cannot exceed {MAX_CAPACITY} read or write capacity units"
            )));
        }
        let now = self.now_ms();
        let stream = match input.obj_opt("StreamSpecification")? {
            Some(m) => parse_stream_spec(m, now)?,
            None => None,
        };
        let sse = match input.obj_opt("SSESpecification")? {
            Some(m) => parse_sse(m)?,
            None => SseRequest::Owned,
        };
        let sse_key_arn = self.resolve_sse(&sse, caller).await?;
        let resource_policy =
            crate::ops::policies::initial_policy(input.str_opt("ResourcePolicy")?, now)?;
        let _guard = self.ddl.lock().await;
        if self.def(name).is_some() {
            return Err(DynamoError::ResourceInUse(format!(
                "Table already exists: {name}"
            )));
        }
        let mut def = TableDef {
            name: name.to_owned(),
            id: String::new(),
            created_ms: now,
            hash_key,
            range_key,
            attribute_definitions,
            billing_mode: mode,
            billing_mode_explicit: billing.is_some(),
            last_pay_per_request_ms: (mode == BillingMode::PayPerRequest).then_some(now),
            read_capacity,
            write_capacity,
            last_increase_ms: None,
            last_decrease_ms: None,
            table_class: table_class.map(str::to_owned),
            deletion_protection: input
                .bool_opt("DeletionProtectionEnabled")?
                .unwrap_or(false),
            stream,
            ttl_attribute: None,
            tags,
            next_index_number: u32::try_from(indexes.len()).unwrap_or(0) + 1,
            indexes,
            sse_key_arn: None,
            sse_changes: Vec::new(),
            archival: None,
            resource_policy,
            stream_policy: None,
            replication: None,
        };
        // The id is chosen by the engine; store the definition, then record the id in it.
        def.sse_key_arn.clone_from(&sse_key_arn);
        let record = match self
            .engine
            .create_table(name, def.encode(), now, sse_key_arn, Some(caller.clone()))
            .await
        {
            Ok(r) => r,
            Err(sealdb_storage::StorageError::TableExists) => {
                return Err(DynamoError::ResourceInUse(format!(
                    "Table already exists: {name}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        def.id = record.id.clone();
        self.engine.update_definition(name, def.encode())?;
        let desc = self.description(&def, "CREATING", 0, 0);
        if let Ok(mut defs) = self.defs.write() {
            defs.insert(name.to_owned(), Arc::new(def));
        }
        Ok(json!({ "TableDescription": desc }))
    }

    pub(crate) async fn describe_table(&self, input: &Input) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        validate_table_name_param(raw)?;
        let name = self.table_name_from(raw);
        let t = self.table(input).map_err(|_| not_found_table(name))?;
        let mut d = self.live_description(&t, "ACTIVE").await?;
        self.add_replicas(&t.def, &mut d).await;
        Ok(json!({ "Table": d }))
    }

    pub(crate) fn list_tables(&self, input: &Input) -> Result<Value, DynamoError> {
        let limit = input.int_opt("Limit")?;
        let start = input.str_opt("ExclusiveStartTableName")?;
        let mut errors = Vec::new();
        if let Some(l) = limit {
            if l < 1 {
                errors.push(format!("Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"));
            } else if l > 100 {
                errors.push(format!("Value '{l}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"));
            }
        }
        if let Some(s) = start {
            errors.extend(table_name_errors(s, "exclusiveStartTableName", false));
        }
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let limit = usize::try_from(limit.unwrap_or(100)).unwrap_or(100);
        let mut names: Vec<String> = match self.defs.read() {
            Ok(d) => d.keys().cloned().collect(),
            Err(_) => return Err(DynamoError::Internal),
        };
        names.sort();
        let page: Vec<String> = names
            .into_iter()
            .filter(|n| start.is_none_or(|s| n.as_str() > s))
            .take(limit + 1)
            .collect();
        let mut out = json!({});
        if page.len() > limit {
            out["LastEvaluatedTableName"] = Value::from(page[limit - 1].clone());
        }
        out["TableNames"] = Value::from(page.into_iter().take(limit).collect::<Vec<_>>());
        Ok(out)
    }

    pub(crate) async fn delete_table(&self, input: &Input) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        validate_table_name_param(raw)?;
        let name = self.table_name_from(raw).to_owned();
        let _guard = self.ddl.lock().await;
        let t = self.table(input).map_err(|_| not_found_table(&name))?;
        if t.def.deletion_protection {
            return Err(DynamoError::validation(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
            ));
        }
        let mut desc = self.live_description(&t, "DELETING").await?;
        // Deleting a replica takes it out of its global table.
        drop(_guard);
        self.forget_group(&name).await;
        let _guard = self.ddl.lock().await;
        // A table being deleted no longer lists its global indexes (they go first).
        if let Some(m) = desc.as_object_mut() {
            m.remove("GlobalSecondaryIndexes");
        }
        if let Ok(mut defs) = self.defs.write() {
            defs.remove(&name);
        }
        self.engine.delete_table(&name).await?;
        Ok(json!({ "TableDescription": desc }))
    }

    /// Stores a changed definition in the catalog and the cache.
    pub(crate) fn save_def(&self, def: TableDef) -> Result<Arc<TableDef>, DynamoError> {
        self.engine.update_definition(&def.name, def.encode())?;
        Ok(self.cache_def(def))
    }

    /// Makes `def` (already in the catalog) the definition requests see.
    pub(crate) fn cache_def(&self, def: TableDef) -> Arc<TableDef> {
        let def = Arc::new(def);
        if let Ok(mut defs) = self.defs.write() {
            defs.insert(def.name.clone(), Arc::clone(&def));
        }
        def
    }

    pub(crate) async fn update_table(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let raw = input.str_req("TableName")?;
        validate_table_name_param(raw)?;
        let name = self.table_name_from(raw).to_owned();
        let mut errors = Vec::new();
        let (billing, throughput, table_class) = parse_capacity_settings(input, &mut errors)?;
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let protection = input.bool_opt("DeletionProtectionEnabled")?;
        let stream_spec = input.obj_opt("StreamSpecification")?;
        if input.has("SSESpecification") {
            let others = [
                "BillingMode",
                "ProvisionedThroughput",
                "TableClass",
                "DeletionProtectionEnabled",
                "StreamSpecification",
                "GlobalSecondaryIndexUpdates",
                "ReplicaUpdates",
            ];
            if others.iter().any(|m| input.has(m)) {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Server-Side Encryption modification must be the only operation in the request",
                ));
            }
            return self.update_sse(input, caller).await;
        }
        if input.has("GlobalSecondaryIndexUpdates") {
            return self.update_indexes(input).await;
        }
        if input.has("ReplicaUpdates") {
            return self.update_replicas(input, caller).await;
        }
        if billing.is_none()
            && throughput.is_none()
            && table_class.is_none()
            && protection.is_none()
            && stream_spec.is_none()
        {
            return Err(DynamoError::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ));
        }
        let _guard = self.ddl.lock().await;
        let t = self.table(input).map_err(|_| not_found_table(&name))?;
        let mut def = (*t.def).clone();
        let now = self.now_ms();
        let mode = billing.unwrap_or(def.billing_mode);
        match (mode, throughput) {
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            (BillingMode::Provisioned, None) if def.billing_mode == BillingMode::PayPerRequest => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
                ));
            }
            (BillingMode::Provisioned, Some((r, w))) => {
                let (r, w) = (r.unwrap_or(1), w.unwrap_or(1));
                if r > MAX_CAPACITY || w > MAX_CAPACITY {
                    return Err(DynamoError::LimitExceeded(format!(
                        "Subscriber limit exceeded: Provisioned throughput for a table cannot exceed {MAX_CAPACITY} read or write capacity units"
                    )));
                }
                if def.billing_mode == BillingMode::Provisioned
                    && billing.is_none()
                    && r == def.read_capacity
                    && w == def.write_capacity
                {
                    return Err(DynamoError::validation(format!(
                        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnitsForTable: {}, Requested ReadCapacityUnitsForTable: {r}. Current WriteCapacityUnitsForTable: {}, Requested WriteCapacityUnitsForTable: {w}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                        def.read_capacity, def.write_capacity
                    )));
                }
                if r > def.read_capacity || w > def.write_capacity {
                    def.last_increase_ms = Some(now);
                }
                if r < def.read_capacity || w < def.write_capacity {
                    def.last_decrease_ms = Some(now);
                }
                def.read_capacity = r;
                def.write_capacity = w;
            }
            _ => {}
        }
        if billing.is_some() {
            def.billing_mode_explicit = true;
        }
        if mode == BillingMode::PayPerRequest && def.billing_mode != BillingMode::PayPerRequest {
            def.last_pay_per_request_ms = Some(now);
            def.read_capacity = 0;
            def.write_capacity = 0;
        }
        def.billing_mode = mode;
        if let Some(c) = table_class {
            def.table_class = Some(c.to_owned());
        }
        if let Some(p) = protection {
            def.deletion_protection = p;
        }
        if let Some(m) = stream_spec {
            let new = parse_stream_spec(m, now)?;
            match (&def.stream, &new) {
                (Some(_), Some(_)) => {
                    return Err(DynamoError::validation(format!(
                        "Table already has an enabled stream: TableName: {name}"
                    )));
                }
                (None, None) => {
                    return Err(DynamoError::validation(
                        "Stream is already disabled for this table",
                    ));
                }
                (None, Some(_)) => {
                    // Records of an earlier stream stay in the file until they age out.
                    let last = self.store(&t).await?.stream_bounds().await?.1;
                    def.stream = new.map(|s| crate::schema::StreamSettings {
                        after_seq: last,
                        ..s
                    });
                }
                (Some(_), None) if def.replication.is_some() => {
                    return Err(DynamoError::validation(
                        "One or more parameter values were invalid: Streams cannot be disabled on a table with replicas",
                    ));
                }
                (Some(_), None) => def.stream = None,
            }
        }
        let def = self.save_def(def)?;
        let t = crate::service::TableRef {
            def,
            handle: t.handle,
        };
        Ok(json!({ "TableDescription": self.live_description(&t, "ACTIVE").await? }))
    }

    /// The table named by a `ResourceArn`.
    fn table_by_arn(&self, arn: &str) -> Result<Arc<TableDef>, DynamoError> {
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.cfg.region, self.cfg.account_id
        );
        let not_found = || {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: ResourcArn: {arn} not found"
            ))
        };
        // AWS checks the shape first: an index ARN, a stream ARN or a short name is not a
        // table ARN whatever exists.
        if !is_table_arn_shape(arn) {
            return Err(DynamoError::validation(format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            )));
        }
        let name = arn.strip_prefix(prefix.as_str()).ok_or_else(not_found)?;
        self.def(name).ok_or_else(not_found)
    }

    pub(crate) async fn tag_resource(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let mut errors = Vec::new();
        let list = input.list_opt("Tags")?;
        if list.is_none() {
            errors.push(null_member("tags"));
        }
        let new_tags = parse_tags(list.map_or(&[][..], Vec::as_slice), &mut errors)?;
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_arn(arn)?).clone();
        for (k, v) in new_tags {
            if let Some(e) = def.tags.iter_mut().find(|(ek, _)| *ek == k) {
                e.1 = v;
            } else {
                def.tags.push((k, v));
            }
        }
        if def.tags.len() > MAX_TAGS {
            return Err(DynamoError::LimitExceeded(
                "The number of tags exceeds the limit of 50".into(),
            ));
        }
        self.save_def(def)?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_resource(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let Some(keys) = input.list_opt("TagKeys")? else {
            return Err(validation_errors(&[null_member("tagKeys")]));
        };
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_arn(arn)?).clone();
        def.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
        self.save_def(def)?;
        Ok(json!({}))
    }

    pub(crate) fn list_tags(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let def = self.table_by_arn(arn)?;
        let tags: Vec<Value> = def
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        Ok(json!({ "Tags": tags }))
    }

    pub(crate) fn describe_endpoints(&self) -> Value {
        json!({"Endpoints": [{"Address": self.cfg.endpoint_address, "CachePeriodInMinutes": 1440}]})
    }

    pub(crate) fn describe_ttl(&self, input: &Input) -> Result<Value, DynamoError> {
        let t = self.table(input)?;
        Ok(match &t.def.ttl_attribute {
            Some(a) => {
                json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": a}})
            }
            None => json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
        })
    }

    pub(crate) async fn update_ttl(&self, input: &Input) -> Result<Value, DynamoError> {
        let Some(spec) = input.obj_opt("TimeToLiveSpecification")? else {
            return Err(validation_errors(&[null_member("timeToLiveSpecification")]));
        };
        let enabled = match spec.get("Enabled") {
            Some(Value::Bool(b)) => *b,
            _ => {
                return Err(validation_errors(&[null_member(
                    "timeToLiveSpecification.enabled",
                )]));
            }
        };
        let Some(attr) = obj_str(spec, "AttributeName")? else {
            return Err(validation_errors(&[null_member(
                "timeToLiveSpecification.attributeName",
            )]));
        };
        if attr.is_empty() || attr.len() > 255 {
            return Err(validation_errors(&[format!(
                "Value '{attr}' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )]));
        }
        let _guard = self.ddl.lock().await;
        let t = self.table(input)?;
        let mut def = (*t.def).clone();
        match (&def.ttl_attribute, enabled) {
            (Some(_), true) => {
                return Err(DynamoError::validation("TimeToLive is already enabled"));
            }
            (None, false) => {
                return Err(DynamoError::validation("TimeToLive is already disabled"));
            }
            (Some(current), false) if current != attr => {
                return Err(DynamoError::validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
                )));
            }
            _ => {}
        }
        def.ttl_attribute = enabled.then(|| attr.to_owned());
        self.save_def(def)?;
        Ok(json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attr}}))
    }
}

/// What an SSESpecification asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SseRequest {
    /// The service-owned key (no KMS).
    Owned,
    /// The AWS managed key `alias/aws/dynamodb`.
    AwsManaged,
    /// A customer managed key (id, ARN, alias name or alias ARN as given).
    Customer(String),
}

/// Validates an SSESpecification with AWS's texts (before any KMS call).
pub(crate) fn parse_sse(m: &Map<String, Value>) -> Result<SseRequest, DynamoError> {
    let enabled = match m.get("Enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(DynamoError::Serialization(
                "Unexpected value type in payload for member Enabled".into(),
            ));
        }
    };
    let sse_type = obj_str(m, "SSEType")?;
    let key = obj_str(m, "KMSMasterKeyId")?;
    if let Some(t) = sse_type
        && t != "AES256"
        && t != "KMS"
    {
        return Err(validation_errors(&[enum_error(
            t,
            "sSESpecification.sSEType",
            "AES256, KMS",
        )]));
    }
    let invalid = |msg: &str| {
        DynamoError::validation(format!("One or more parameter values were invalid: {msg}"))
    };
    if enabled == Some(false) {
        if sse_type.is_some() {
            return Err(invalid("SSEType can not be specified if Enabled is false"));
        }
        if key.is_some() {
            return Err(invalid(
                "KMSMasterKeyId can not be specified if Enabled is false",
            ));
        }
        return Ok(SseRequest::Owned);
    }
    if enabled.is_none() && sse_type.is_none() && key.is_none() {
        return Ok(SseRequest::Owned);
    }
    if sse_type == Some("AES256") {
        return Err(invalid("SSEType AES256 is not supported"));
    }
    match key {
        Some(_) if sse_type.is_none() => Err(invalid(
            "SSEType KMS is required if KMSMasterKeyId is specified",
        )),
        Some(k) => Ok(SseRequest::Customer(k.to_owned())),
        None => Ok(SseRequest::AwsManaged),
    }
}

/// `arn:aws:dynamodb:<region>:<digits>:table/<name of 3+ characters, no slash>`, the
/// shape AWS accepts for a table's tags.
pub(crate) fn is_table_arn_shape(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:dynamodb:") else {
        return false;
    };
    let Some((scope, name)) = rest.split_once(":table/") else {
        return false;
    };
    let Some((region, account)) = scope.rsplit_once(':') else {
        return false;
    };
    !region.is_empty()
        && !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit())
        && name.len() >= 3
        && !name.contains('/')
}

#[cfg(test)]
mod sse_tests {
    use super::*;

    fn p(v: Value) -> Result<SseRequest, String> {
        parse_sse(v.as_object().unwrap()).map_err(|e| e.message())
    }

    #[test]
    fn sse_specification_rules() {
        assert_eq!(p(json!({})), Ok(SseRequest::Owned));
        assert_eq!(p(json!({"Enabled": false})), Ok(SseRequest::Owned));
        assert_eq!(p(json!({"Enabled": true})), Ok(SseRequest::AwsManaged));
        assert_eq!(p(json!({"SSEType": "KMS"})), Ok(SseRequest::AwsManaged));
        assert_eq!(
            p(json!({"SSEType": "KMS", "KMSMasterKeyId": "alias/k"})),
            Ok(SseRequest::Customer("alias/k".into()))
        );
        let prefix = "One or more parameter values were invalid: ";
        assert_eq!(
            p(json!({"Enabled": false, "SSEType": "KMS"})),
            Err(format!(
                "{prefix}SSEType can not be specified if Enabled is false"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": false, "KMSMasterKeyId": "k"})),
            Err(format!(
                "{prefix}KMSMasterKeyId can not be specified if Enabled is false"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": false, "SSEType": "AES256", "KMSMasterKeyId": "k"})),
            Err(format!(
                "{prefix}SSEType can not be specified if Enabled is false"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": true, "KMSMasterKeyId": "k"})),
            Err(format!(
                "{prefix}SSEType KMS is required if KMSMasterKeyId is specified"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": true, "SSEType": "AES256"})),
            Err(format!("{prefix}SSEType AES256 is not supported"))
        );
        assert_eq!(
            p(json!({"SSEType": "kms"})),
            Err("1 validation error detected: Value 'kms' at 'sSESpecification.sSEType' failed to satisfy constraint: Member must satisfy enum value set: [AES256, KMS]".into())
        );
    }
}
