//! JSON text → [`PolicyDocument`], following IAM's grammar and its refusal texts.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{
    Effect, Matcher, PolicyDocument, PolicyError, PolicyKind, PolicyVersion, PrincipalPattern,
    Statement, Template,
};
use crate::condition::parse_conditions;

const DOCUMENT_FIELDS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

pub(super) fn parse_document(
    text: &str,
    kind: Option<PolicyKind>,
) -> Result<PolicyDocument, PolicyError> {
    let value: Value = serde_json::from_str(text).map_err(|_| PolicyError::syntax())?;
    let doc = value.as_object().ok_or_else(PolicyError::syntax)?;
    if doc.keys().any(|k| !DOCUMENT_FIELDS.contains(&k.as_str())) {
        return Err(PolicyError::syntax());
    }
    let version = match doc.get("Version") {
        None => PolicyVersion::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
        Some(_) => return Err(PolicyError::syntax()),
    };
    let id = match doc.get("Id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(PolicyError::syntax()),
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Err(PolicyError::syntax()),
    };
    let mut sids = BTreeSet::new();
    let mut parsed = Vec::with_capacity(statements.len());
    for (index, statement) in statements.into_iter().enumerate() {
        let statement = statement.as_object().ok_or_else(PolicyError::syntax)?;
        let statement = parse_statement(statement, index, version, kind)?;
        if let Some(sid) = &statement.sid {
            if !sids.insert(sid.clone()) {
                return Err(PolicyError::duplicate_sid());
            }
        }
        parsed.push(statement);
    }
    Ok(PolicyDocument {
        version,
        id,
        statements: parsed,
    })
}

fn parse_statement(
    statement: &Map<String, Value>,
    index: usize,
    version: PolicyVersion,
    kind: Option<PolicyKind>,
) -> Result<Statement, PolicyError> {
    if statement
        .keys()
        .any(|k| !STATEMENT_FIELDS.contains(&k.as_str()))
    {
        return Err(PolicyError::syntax());
    }
    let sid = match statement.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return Err(PolicyError::syntax()),
    };
    if kind == Some(PolicyKind::Identity)
        && sid
            .as_deref()
            .is_some_and(|s| !s.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(PolicyError::sid_not_alphanumeric());
    }
    let effect = match statement.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        _ => return Err(PolicyError::syntax()),
    };

    let actions = match either(statement, "Action", "NotAction")? {
        None => return Err(PolicyError::missing_actions()),
        Some((negated, values)) => {
            let patterns = strings(values)?
                .into_iter()
                .map(|a| parse_action(&a))
                .collect::<Result<Vec<_>, _>>()?;
            matcher(negated, patterns)
        }
    };

    let resources = match either(statement, "Resource", "NotResource")? {
        None => {
            if matches!(kind, Some(PolicyKind::Identity | PolicyKind::Resource)) {
                return Err(PolicyError::missing_resources());
            }
            None
        }
        Some((negated, values)) => {
            let patterns = strings(values)?
                .into_iter()
                .map(|r| parse_resource(&r, version))
                .collect::<Result<Vec<_>, _>>()?;
            Some(matcher(negated, patterns))
        }
    };

    let principals = match either(statement, "Principal", "NotPrincipal")? {
        None => {
            if matches!(kind, Some(PolicyKind::Resource | PolicyKind::Trust)) {
                return Err(PolicyError::missing_principal());
            }
            None
        }
        Some(_) if kind == Some(PolicyKind::Identity) => {
            return Err(PolicyError::principal_not_allowed());
        }
        Some((negated, value)) => Some(matcher(negated, parse_principal(value)?)),
    };

    let conditions = match statement.get("Condition") {
        None => Vec::new(),
        Some(block) => parse_conditions(block, version)?,
    };

    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        principals,
        conditions,
        index,
    })
}

fn matcher<T>(negated: bool, values: Vec<T>) -> Matcher<T> {
    if negated {
        Matcher::Not(values)
    } else {
        Matcher::Is(values)
    }
}

/// The element `positive` or `negative` (never both): (is it the negative one, its value).
fn either<'a>(
    statement: &'a Map<String, Value>,
    positive: &str,
    negative: &str,
) -> Result<Option<(bool, &'a Value)>, PolicyError> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(_), Some(_)) => Err(PolicyError::syntax()),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings(value: &Value) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(PolicyError::syntax)
            })
            .collect(),
        _ => Err(PolicyError::syntax()),
    }
}

/// `*` or `vendor:Action` (wildcards allowed), kept lowercase for a case-insensitive match.
fn parse_action(action: &str) -> Result<String, PolicyError> {
    if action == "*" {
        return Ok("*".to_owned());
    }
    let mut parts = action.split(':');
    let vendor = parts.next().unwrap_or_default();
    let Some(name) = parts.next() else {
        return Err(PolicyError::vendor_missing());
    };
    if parts.next().is_some() {
        return Err(PolicyError::action_colons());
    }
    if vendor.is_empty() || name.is_empty() {
        return Err(PolicyError::vendor_missing());
    }
    Ok(action.to_ascii_lowercase())
}

/// `*` or an ARN of at least six colon-separated parts.
fn parse_resource(resource: &str, version: PolicyVersion) -> Result<Template, PolicyError> {
    if resource != "*" && (!resource.starts_with("arn:") || resource.split(':').count() < 6) {
        return Err(PolicyError::resource_not_arn(resource));
    }
    match version {
        PolicyVersion::V2012_10_17 => Template::with_variables(resource),
        PolicyVersion::V2008_10_17 => Ok(Template::plain(resource)),
    }
}

/// `"*"` or `{"AWS" | "Service" | "Federated" | "CanonicalUser": value | [values]}`.
fn parse_principal(value: &Value) -> Result<Vec<PrincipalPattern>, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalPattern::Everyone]),
        Value::Object(map) if !map.is_empty() => {
            let mut out = Vec::new();
            for (kind, values) in map {
                for v in strings(values)? {
                    out.push(principal_pattern(kind, &v)?);
                }
            }
            Ok(out)
        }
        _ => Err(PolicyError::syntax()),
    }
}

fn principal_pattern(kind: &str, value: &str) -> Result<PrincipalPattern, PolicyError> {
    let invalid = || PolicyError::invalid_principal(kind, value);
    match kind {
        "AWS" => {
            if value == "*" {
                Ok(PrincipalPattern::Everyone)
            } else if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
                Ok(PrincipalPattern::Aws(format!("arn:aws:iam::{value}:root")))
            } else if is_principal_arn(value) {
                Ok(PrincipalPattern::Aws(value.to_owned()))
            } else {
                Err(invalid())
            }
        }
        "Service" if !value.is_empty() && !value.contains('*') => {
            Ok(PrincipalPattern::Service(value.to_owned()))
        }
        "Federated" if !value.is_empty() => Ok(PrincipalPattern::Federated(value.to_owned())),
        "CanonicalUser" if !value.is_empty() => {
            Ok(PrincipalPattern::CanonicalUser(value.to_owned()))
        }
        "Service" | "Federated" | "CanonicalUser" => Err(invalid()),
        _ => Err(PolicyError::syntax()),
    }
}

/// An IAM or STS ARN naming a principal (`arn:aws:iam::ACCT:user/x`, `…:root`,
/// `arn:aws:sts::ACCT:assumed-role/R/S`); wildcards are not allowed in Principal.
fn is_principal_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam" | "sts", "", account, resource]
        if !partition.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !resource.is_empty()
            && !value.contains('*'))
}

#[cfg(test)]
mod tests;
