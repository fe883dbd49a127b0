//! The pre-expression ("legacy") parameters: AttributesToGet, KeyConditions,
//! QueryFilter, ScanFilter, Expected, AttributeUpdates and ConditionalOperator.
//!
//! Each is rewritten into the equivalent expression, with generated placeholders
//! (`#lN`, `:lN`), before the operation runs, so both forms share one evaluator.
//! Mixing them with expression parameters is refused, as AWS refuses it.

use crate::error::DynamoError;
use crate::service::Operation;
use serde_json::{Map, Value};

/// Placeholder generator and the names/values maps being built.
struct Builder {
    names: Map<String, Value>,
    values: Map<String, Value>,
    n: usize,
}

impl Builder {
    fn name(&mut self, attr: &str) -> String {
        // Reuse the placeholder of an attribute seen before.
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == Some(attr)) {
            return k.clone();
        }
        let k = format!("#l{}", self.names.len());
        self.names.insert(k.clone(), Value::from(attr));
        k
    }

    fn value(&mut self, v: &Value) -> String {
        let k = format!(":l{}", self.n);
        self.n += 1;
        self.values.insert(k.clone(), v.clone());
        k
    }
}

fn invalid(msg: impl Into<String>) -> DynamoError {
    DynamoError::validation(msg)
}

/// One `{ComparisonOperator, AttributeValueList}` condition as an expression.
fn comparison(
    b: &mut Builder,
    attr: &str,
    cond: &Map<String, Value>,
    what: &str,
) -> Result<String, DynamoError> {
    let op = cond
        .get("ComparisonOperator")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("One or more parameter values were invalid: ComparisonOperator must be specified for {what} attribute: {attr}")))?;
    let list: Vec<Value> = match cond.get("AttributeValueList") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(DynamoError::Serialization(
                "Unexpected value type in payload for member AttributeValueList".into(),
            ));
        }
    };
    let arity = |n: usize| -> Result<(), DynamoError> {
        if list.len() == n {
            Ok(())
        } else {
            Err(invalid(format!(
                "One or more parameter values were invalid: Invalid number of argument(s) for the {op} ComparisonOperator"
            )))
        }
    };
    // The argument types each operator takes (the ComparisonOperator reference): EQ and
    // NE any, BEGINS_WITH S or B, the others S, N or B.
    let allowed: &[&str] = match op {
        "LE" | "LT" | "GE" | "GT" | "CONTAINS" | "NOT_CONTAINS" | "IN" | "BETWEEN" => {
            &["S", "N", "B"]
        }
        "BEGINS_WITH" => &["S", "B"],
        _ => &[],
    };
    let arity_ok = match op {
        "NULL" | "NOT_NULL" => list.is_empty(),
        "IN" => !list.is_empty(),
        "BETWEEN" => list.len() == 2,
        _ => list.len() == 1,
    };
    if arity_ok && !allowed.is_empty() {
        for v in &list {
            let kind = v
                .as_object()
                .and_then(|m| m.keys().next())
                .map_or("", String::as_str);
            if !allowed.contains(&kind) {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: ComparisonOperator {op} is not valid for {kind} AttributeValue type"
                )));
            }
        }
        // IN and BETWEEN: every argument of one type (checked before the bounds' order).
        let kind = |v: &Value| v.as_object().and_then(|m| m.keys().next()).cloned();
        if list.iter().any(|v| kind(v) != kind(&list[0])) {
            return Err(invalid(
                "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type",
            ));
        }
    }
    let a = b.name(attr);
    Ok(match op {
        "EQ" | "NE" | "LE" | "LT" | "GE" | "GT" => {
            arity(1)?;
            let v = b.value(&list[0]);
            let sym = match op {
                "EQ" => "=",
                "NE" => "<>",
                "LE" => "<=",
                "LT" => "<",
                "GE" => ">=",
                _ => ">",
            };
            format!("{a} {sym} {v}")
        }
        "NOT_NULL" => {
            arity(0)?;
            format!("attribute_exists({a})")
        }
        "NULL" => {
            arity(0)?;
            format!("attribute_not_exists({a})")
        }
        "CONTAINS" => {
            arity(1)?;
            format!("contains({a}, {})", b.value(&list[0]))
        }
        "NOT_CONTAINS" => {
            arity(1)?;
            format!("NOT contains({a}, {})", b.value(&list[0]))
        }
        "BEGINS_WITH" => {
            arity(1)?;
            format!("begins_with({a}, {})", b.value(&list[0]))
        }
        "IN" => {
            if list.is_empty() {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Invalid number of argument(s) for the {op} ComparisonOperator"
                )));
            }
            let vs: Vec<String> = list.iter().map(|v| b.value(v)).collect();
            format!("{a} IN ({})", vs.join(", "))
        }
        "BETWEEN" => {
            arity(2)?;
            let lo = b.value(&list[0]);
            let hi = b.value(&list[1]);
            format!("{a} BETWEEN {lo} AND {hi}")
        }
        other => {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{other}' at '{what}.{attr}.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
            )));
        }
    })
}

fn join(parts: Vec<String>, op: &str) -> String {
    parts
        .into_iter()
        .map(|p| format!("({p})"))
        .collect::<Vec<_>>()
        .join(&format!(" {op} "))
}

fn conditional_operator(obj: &Map<String, Value>) -> Result<&'static str, DynamoError> {
    match obj.get("ConditionalOperator").and_then(Value::as_str) {
        None | Some("AND") => Ok("AND"),
        Some("OR") => Ok("OR"),
        Some(other) => Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{other}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [AND, OR]"
        ))),
    }
}

fn as_map<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, DynamoError> {
    v.as_object().ok_or_else(|| {
        DynamoError::Serialization(format!(
            "Unexpected value type in payload for member {what}"
        ))
    })
}

/// `Expected` as a condition expression.
fn expected(b: &mut Builder, m: &Map<String, Value>, op: &str) -> Result<String, DynamoError> {
    let mut parts = Vec::new();
    for (attr, spec) in m {
        let spec = as_map(spec, "Expected")?;
        if spec.contains_key("ComparisonOperator") {
            if spec.contains_key("Value") || spec.contains_key("Exists") {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Value or Exists cannot be used with ComparisonOperator for Attribute: {attr}"
                )));
            }
            parts.push(comparison(b, attr, spec, "expected")?);
            continue;
        }
        let exists = spec.get("Exists").and_then(Value::as_bool).unwrap_or(true);
        match (exists, spec.get("Value").filter(|v| !v.is_null())) {
            (true, Some(v)) => {
                let a = b.name(attr);
                let v = b.value(v);
                parts.push(format!("{a} = {v}"));
            }
            (true, None) => {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: {attr}"
                )));
            }
            (false, None) => {
                let a = b.name(attr);
                parts.push(format!("attribute_not_exists({a})"));
            }
            (false, Some(_)) => {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: {attr}"
                )));
            }
        }
    }
    Ok(join(parts, op))
}

/// `AttributeUpdates` as an update expression.
fn attribute_updates(b: &mut Builder, m: &Map<String, Value>) -> Result<String, DynamoError> {
    let (mut set, mut add, mut del, mut remove) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (attr, spec) in m {
        let spec = as_map(spec, "AttributeUpdates")?;
        let action = spec.get("Action").and_then(Value::as_str).unwrap_or("PUT");
        let value = spec.get("Value").filter(|v| !v.is_null());
        let a = b.name(attr);
        match (action, value) {
            ("PUT", Some(v)) => set.push(format!("{a} = {}", b.value(v))),
            ("PUT", None) => {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified: {attr}"
                )));
            }
            ("ADD", Some(v)) => add.push(format!("{a} {}", b.value(v))),
            ("ADD", None) => {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified: {attr}"
                )));
            }
            ("DELETE", Some(v)) => del.push(format!("{a} {}", b.value(v))),
            ("DELETE", None) => remove.push(a),
            (other, _) => {
                return Err(DynamoError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'attributeUpdates.{attr}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
                )));
            }
        }
    }
    let mut out = Vec::new();
    if !set.is_empty() {
        out.push(format!("SET {}", set.join(", ")));
    }
    if !remove.is_empty() {
        out.push(format!("REMOVE {}", remove.join(", ")));
    }
    if !add.is_empty() {
        out.push(format!("ADD {}", add.join(", ")));
    }
    if !del.is_empty() {
        out.push(format!("DELETE {}", del.join(", ")));
    }
    Ok(out.join(" "))
}

/// A map of conditions (`KeyConditions`, `QueryFilter`, `ScanFilter`) as an expression.
fn conditions(
    b: &mut Builder,
    m: &Map<String, Value>,
    op: &str,
    what: &str,
) -> Result<String, DynamoError> {
    let mut parts = Vec::new();
    for (attr, spec) in m {
        parts.push(comparison(b, attr, as_map(spec, what)?, what)?);
    }
    Ok(join(parts, op))
}

const EXPRESSION_MEMBERS: [&str; 5] = [
    "ConditionExpression",
    "UpdateExpression",
    "ProjectionExpression",
    "FilterExpression",
    "KeyConditionExpression",
];

/// Rewrites the legacy members of a request body into expressions (in place).
pub fn rewrite(op: Operation, obj: &mut Map<String, Value>) -> Result<(), DynamoError> {
    let legacy: Vec<&str> = [
        "AttributesToGet",
        "KeyConditions",
        "QueryFilter",
        "ScanFilter",
        "Expected",
        "AttributeUpdates",
        "ConditionalOperator",
    ]
    .into_iter()
    .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
    .collect();
    if legacy.is_empty() {
        return Ok(());
    }
    let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    // AWS names only the expressions themselves here, never the names/values maps.
    let expression: Vec<&str> = EXPRESSION_MEMBERS
        .into_iter()
        .filter(|k| present(k))
        .collect();
    if !expression.is_empty() {
        return Err(DynamoError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            legacy.join(", "),
            expression.join(", ")
        )));
    }
    // Legacy members are rewritten into expressions with names/values of our own, so a
    // caller's maps could only collide with them; AWS refuses them without expressions.
    if present("ExpressionAttributeNames") {
        return Err(DynamoError::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    if present("ExpressionAttributeValues") {
        return Err(DynamoError::validation(
            "ExpressionAttributeValues can only be specified when using expressions",
        ));
    }
    let mut b = Builder {
        names: Map::new(),
        values: Map::new(),
        n: 0,
    };
    let cond_op = conditional_operator(obj)?;
    obj.remove("ConditionalOperator");
    // A Select other than SPECIFIC_ATTRIBUTES with AttributesToGet: AWS's text names
    // AttributesToGet (the ProjectionExpression it becomes would be named otherwise).
    let has_attributes_to_get = obj.get("AttributesToGet").is_some_and(|v| !v.is_null());
    if let (true, Some(Value::String(select))) = (has_attributes_to_get, obj.get("Select")) {
        let what = match select.as_str() {
            "ALL_ATTRIBUTES" => Some("ALL_ATTRIBUTES"),
            "ALL_PROJECTED_ATTRIBUTES" => Some("ALL_PROJECTED_ATTRIBUTES"),
            "COUNT" => Some("only the Count"),
            _ => None,
        };
        if let Some(what) = what {
            let msg = format!("Cannot specify the AttributesToGet when choosing to get {what}");
            return Err(DynamoError::validation(if op == Operation::Query {
                format!("1 validation error detected: {msg}")
            } else {
                msg
            }));
        }
    }
    if let Some(v) = obj.remove("AttributesToGet").filter(|v| !v.is_null()) {
        let list = v.as_array().cloned().ok_or_else(|| {
            DynamoError::Serialization(
                "Unexpected value type in payload for member AttributesToGet".into(),
            )
        })?;
        if list.is_empty() {
            return Err(DynamoError::validation(
                "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut names = Vec::new();
        for a in &list {
            let a = a.as_str().ok_or_else(|| {
                DynamoError::Serialization(
                    "Unexpected value type in payload for member AttributesToGet".into(),
                )
            })?;
            let placeholder = b.name(a);
            if names.contains(&placeholder) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Duplicate value in attribute name: {a}"
                )));
            }
            names.push(placeholder);
        }
        obj.insert("ProjectionExpression".into(), Value::from(names.join(", ")));
    }
    if let Some(v) = obj.remove("Expected").filter(|v| !v.is_null()) {
        let e = expected(&mut b, as_map(&v, "Expected")?, cond_op)?;
        if !e.is_empty() {
            obj.insert("ConditionExpression".into(), Value::from(e));
        }
    }
    if let Some(v) = obj.remove("AttributeUpdates").filter(|v| !v.is_null()) {
        if op != Operation::UpdateItem {
            return Err(DynamoError::validation(
                "AttributeUpdates is only valid for UpdateItem",
            ));
        }
        let u = attribute_updates(&mut b, as_map(&v, "AttributeUpdates")?)?;
        if !u.is_empty() {
            obj.insert("UpdateExpression".into(), Value::from(u));
        }
    }
    if let Some(v) = obj.remove("KeyConditions").filter(|v| !v.is_null()) {
        let k = conditions(&mut b, as_map(&v, "KeyConditions")?, "AND", "keyConditions")?;
        obj.insert("KeyConditionExpression".into(), Value::from(k));
    }
    for member in ["QueryFilter", "ScanFilter"] {
        if let Some(v) = obj.remove(member).filter(|v| !v.is_null()) {
            let f = conditions(&mut b, as_map(&v, member)?, cond_op, "filter")?;
            if !f.is_empty() {
                obj.insert("FilterExpression".into(), Value::from(f));
            }
        }
    }
    if !b.names.is_empty() {
        obj.insert("ExpressionAttributeNames".into(), Value::Object(b.names));
    }
    if !b.values.is_empty() {
        obj.insert("ExpressionAttributeValues".into(), Value::Object(b.values));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(op: Operation, v: Value) -> Result<Map<String, Value>, DynamoError> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        rewrite(op, &mut m)?;
        Ok(m)
    }

    #[test]
    fn expected_and_attribute_updates_become_expressions() {
        let m = run(
            Operation::UpdateItem,
            json!({
                "Expected": {"a": {"Value": {"S": "x"}}, "b": {"Exists": false}},
                "ConditionalOperator": "OR",
                "AttributeUpdates": {"c": {"Action": "ADD", "Value": {"N": "1"}}, "d": {"Action": "DELETE"}}
            }),
        )
        .unwrap();
        assert_eq!(
            m["ConditionExpression"],
            "(#l0 = :l0) OR (attribute_not_exists(#l1))"
        );
        assert_eq!(m["UpdateExpression"], "REMOVE #l3 ADD #l2 :l1");
        assert_eq!(m["ExpressionAttributeNames"]["#l2"], "c");
        assert!(!m.contains_key("Expected"));
    }

    #[test]
    fn key_conditions_and_filters() {
        let m = run(
            Operation::Query,
            json!({
                "KeyConditions": {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}},
                "QueryFilter": {"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "5"}]}},
                "AttributesToGet": ["pk", "n"]
            }),
        )
        .unwrap();
        assert_eq!(m["KeyConditionExpression"], "(#l0 = :l0)");
        assert_eq!(m["FilterExpression"], "(#l1 BETWEEN :l1 AND :l2)");
        assert_eq!(m["ProjectionExpression"], "#l0, #l1");
    }

    #[test]
    fn mixing_is_refused() {
        let e = run(
            Operation::PutItem,
            json!({"Expected": {"a": {"Exists": false}}, "ConditionExpression": "x = :y"}),
        )
        .unwrap_err();
        assert!(e.message().starts_with(
            "Can not use both expression and non-expression parameters in the same request"
        ));
        let e = run(
            Operation::Scan,
            json!({"ScanFilter": {"a": {"ComparisonOperator": "EQ"}}}),
        )
        .unwrap_err();
        assert!(
            e.message()
                .contains("Invalid number of argument(s) for the EQ ComparisonOperator")
        );
    }
}
