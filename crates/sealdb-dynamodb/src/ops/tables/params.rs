//! Parsing and checking CreateTable / UpdateTable members with AWS's texts: names,
//! throughput, tags, billing, streams, key schemas.

use crate::error::DynamoError;
use crate::input::{Input, int_value, null_member, validation_errors};
use crate::schema::{BillingMode, KeyAttr, KeyKind, StreamSettings, iso_millis};
use serde_json::{Map, Value, json};

pub(super) const MAX_TAGS: usize = 50;
pub(crate) const MAX_CAPACITY: i64 = 40_000;

pub(super) fn not_found_table(name: &str) -> DynamoError {
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

pub(super) fn parse_tags(
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

pub(super) const STREAM_VIEW_TYPES: &str = "NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY";

/// Billing mode, (read, write) capacity units as given, table class.
type CapacitySettings<'a> = (
    Option<BillingMode>,
    Option<(Option<i64>, Option<i64>)>,
    Option<&'a str>,
);

/// BillingMode, ProvisionedThroughput and TableClass, shared by CreateTable and
/// UpdateTable; member errors are collected into `errors`.
pub(super) fn parse_capacity_settings<'a>(
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

pub(super) fn parse_stream_spec(
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
pub(super) fn parse_key_schema(
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
        if let Some(n) = name {
            errors.extend(key_name_length_error(
                n,
                &format!("attributeDefinitions.{}.member.attributeName", i + 1),
            ));
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
        if let Some(n) = name {
            errors.extend(key_name_length_error(
                n,
                &format!("keySchema.{}.member.attributeName", i + 1),
            ));
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
            return Err(DynamoError::validation(format!(
                "Attribute Name is duplicated: {}",
                d.name
            )));
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

/// Names in key schemas and attribute definitions are 1 to 255 bytes
/// (`KeySchemaAttributeName` in the service model); AWS reports longer ones as a
/// constraint of the member.
pub(crate) fn key_name_length_error(name: &str, path: &str) -> Option<String> {
    (name.len() > 255).then(|| {
        format!(
            "Value '{name}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to 255"
        )
    })
}

pub(super) fn key_schema_shown(elems: &[(String, String)]) -> String {
    let parts: Vec<String> = elems
        .iter()
        .map(|(n, t)| format!("KeySchemaElement(attributeName={n}, keyType={t})"))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// AWS's LimitExceededException for provisioned capacity above the per-table maximum.
pub(crate) fn capacity_above_max(r: i64, w: i64, region: &str) -> Result<(), DynamoError> {
    for (v, member) in [(r, "ReadCapacityUnits"), (w, "WriteCapacityUnits")] {
        if v > MAX_CAPACITY {
            return Err(DynamoError::LimitExceeded(format!(
                "The requested {member}, {v}, is above the per table maximum for the account in {region}. Per table maximum: {MAX_CAPACITY}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits."
            )));
        }
    }
    Ok(())
}

pub(crate) fn describe_limits() -> Value {
    json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": MAX_CAPACITY,
        "TableMaxWriteCapacityUnits": MAX_CAPACITY,
    })
}
