//! The Condition element: operators, set qualifiers, `...IfExists`, and the typed values
//! each operator compares. Parsing refuses what the engine does not implement.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;
use serde_json::Value;

use crate::policy::{PolicyError, PolicyVersion, Template};

/// A condition operator without its qualifier or `IfExists` suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// What kind of value an operator compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

impl ConditionOperator {
    const ALL: [ConditionOperator; 27] = [
        ConditionOperator::StringEquals,
        ConditionOperator::StringNotEquals,
        ConditionOperator::StringEqualsIgnoreCase,
        ConditionOperator::StringNotEqualsIgnoreCase,
        ConditionOperator::StringLike,
        ConditionOperator::StringNotLike,
        ConditionOperator::NumericEquals,
        ConditionOperator::NumericNotEquals,
        ConditionOperator::NumericLessThan,
        ConditionOperator::NumericLessThanEquals,
        ConditionOperator::NumericGreaterThan,
        ConditionOperator::NumericGreaterThanEquals,
        ConditionOperator::DateEquals,
        ConditionOperator::DateNotEquals,
        ConditionOperator::DateLessThan,
        ConditionOperator::DateLessThanEquals,
        ConditionOperator::DateGreaterThan,
        ConditionOperator::DateGreaterThanEquals,
        ConditionOperator::Bool,
        ConditionOperator::BinaryEquals,
        ConditionOperator::IpAddress,
        ConditionOperator::NotIpAddress,
        ConditionOperator::ArnEquals,
        ConditionOperator::ArnLike,
        ConditionOperator::ArnNotEquals,
        ConditionOperator::ArnNotLike,
        ConditionOperator::Null,
    ];

    /// The operator's name as written in policies.
    pub fn name(self) -> &'static str {
        use ConditionOperator as O;
        match self {
            O::StringEquals => "StringEquals",
            O::StringNotEquals => "StringNotEquals",
            O::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            O::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            O::StringLike => "StringLike",
            O::StringNotLike => "StringNotLike",
            O::NumericEquals => "NumericEquals",
            O::NumericNotEquals => "NumericNotEquals",
            O::NumericLessThan => "NumericLessThan",
            O::NumericLessThanEquals => "NumericLessThanEquals",
            O::NumericGreaterThan => "NumericGreaterThan",
            O::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            O::DateEquals => "DateEquals",
            O::DateNotEquals => "DateNotEquals",
            O::DateLessThan => "DateLessThan",
            O::DateLessThanEquals => "DateLessThanEquals",
            O::DateGreaterThan => "DateGreaterThan",
            O::DateGreaterThanEquals => "DateGreaterThanEquals",
            O::Bool => "Bool",
            O::BinaryEquals => "BinaryEquals",
            O::IpAddress => "IpAddress",
            O::NotIpAddress => "NotIpAddress",
            O::ArnEquals => "ArnEquals",
            O::ArnLike => "ArnLike",
            O::ArnNotEquals => "ArnNotEquals",
            O::ArnNotLike => "ArnNotLike",
            O::Null => "Null",
        }
    }

    fn from_name(name: &str) -> Option<ConditionOperator> {
        ConditionOperator::ALL
            .into_iter()
            .find(|o| o.name() == name)
    }

    /// Negated operators match when the request value matches none of the policy values.
    pub fn is_negated(self) -> bool {
        use ConditionOperator as O;
        matches!(
            self,
            O::StringNotEquals
                | O::StringNotEqualsIgnoreCase
                | O::StringNotLike
                | O::NumericNotEquals
                | O::DateNotEquals
                | O::NotIpAddress
                | O::ArnNotEquals
                | O::ArnNotLike
        )
    }

    pub(crate) fn value_kind(self) -> ValueKind {
        use ConditionOperator as O;
        match self {
            O::StringEquals
            | O::StringNotEquals
            | O::StringEqualsIgnoreCase
            | O::StringNotEqualsIgnoreCase
            | O::StringLike
            | O::StringNotLike => ValueKind::String,
            O::NumericEquals
            | O::NumericNotEquals
            | O::NumericLessThan
            | O::NumericLessThanEquals
            | O::NumericGreaterThan
            | O::NumericGreaterThanEquals => ValueKind::Numeric,
            O::DateEquals
            | O::DateNotEquals
            | O::DateLessThan
            | O::DateLessThanEquals
            | O::DateGreaterThan
            | O::DateGreaterThanEquals => ValueKind::Date,
            O::Bool => ValueKind::Bool,
            O::BinaryEquals => ValueKind::Binary,
            O::IpAddress | O::NotIpAddress => ValueKind::Ip,
            O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike => ValueKind::Arn,
            O::Null => ValueKind::Null,
        }
    }
}

/// `ForAllValues:` / `ForAnyValue:`, for keys with several values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    /// Every request value matches some policy value (true when the key is absent or empty).
    ForAllValues,
    /// At least one request value matches some policy value (false when absent).
    ForAnyValue,
}

/// A policy value, typed for its operator when the policy is parsed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ConditionValue {
    /// String and ARN operators (policy variables allowed).
    Text(Template),
    Number(f64),
    /// Nanoseconds since the epoch.
    Date(i128),
    Bool(bool),
    Binary(Vec<u8>),
    Network(IpNet),
    /// Null's value: true means "the key must be absent".
    Absent(bool),
}

/// One `operator: { key: values }` test of a statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Condition {
    pub(crate) qualifier: Option<SetQualifier>,
    pub(crate) operator: ConditionOperator,
    pub(crate) if_exists: bool,
    pub(crate) key: String,
    pub(crate) values: Vec<ConditionValue>,
}

/// Parses a Condition element (`{ operator: { key: value | [values] } }`).
pub(crate) fn parse_conditions(
    block: &Value,
    version: PolicyVersion,
) -> Result<Vec<Condition>, PolicyError> {
    let block = block.as_object().ok_or_else(PolicyError::syntax)?;
    let mut conditions = Vec::new();
    for (operator_text, tests) in block {
        let (qualifier, operator, if_exists) = parse_operator(operator_text)?;
        let tests = tests.as_object().ok_or_else(PolicyError::syntax)?;
        for (key, values) in tests {
            if !key.contains(':') {
                return Err(PolicyError::vendor_missing());
            }
            let values = match values {
                Value::Array(items) => items
                    .iter()
                    .map(|v| parse_value(operator, v, version))
                    .collect::<Result<Vec<_>, _>>()?,
                single => vec![parse_value(operator, single, version)?],
            };
            conditions.push(Condition {
                qualifier,
                operator,
                if_exists,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(conditions)
}

/// Splits `ForAnyValue:StringLikeIfExists` into its three parts.
fn parse_operator(
    text: &str,
) -> Result<(Option<SetQualifier>, ConditionOperator, bool), PolicyError> {
    let (qualifier, rest) = if let Some(rest) = text.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), rest)
    } else if let Some(rest) = text.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), rest)
    } else {
        (None, text)
    };
    let (name, if_exists) = match rest.strip_suffix("IfExists") {
        Some(name) => (name, true),
        None => (rest, false),
    };
    let operator = ConditionOperator::from_name(name).ok_or_else(PolicyError::syntax)?;
    // Null already is the test for presence; it takes neither a suffix nor a qualifier.
    if operator == ConditionOperator::Null && (if_exists || qualifier.is_some()) {
        return Err(PolicyError::syntax());
    }
    Ok((qualifier, operator, if_exists))
}

/// The JSON scalar as the string AWS compares (numbers and booleans are accepted unquoted).
fn scalar_text(value: &Value) -> Result<String, PolicyError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(PolicyError::syntax()),
    }
}

fn parse_value(
    operator: ConditionOperator,
    value: &Value,
    version: PolicyVersion,
) -> Result<ConditionValue, PolicyError> {
    let text = scalar_text(value)?;
    let bad = PolicyError::syntax;
    Ok(match operator.value_kind() {
        ValueKind::String | ValueKind::Arn => ConditionValue::Text(match version {
            PolicyVersion::V2012_10_17 => Template::with_variables(&text)?,
            PolicyVersion::V2008_10_17 => Template::plain(&text),
        }),
        ValueKind::Numeric => ConditionValue::Number(parse_number(&text).ok_or_else(bad)?),
        ValueKind::Date => ConditionValue::Date(parse_date(&text).ok_or_else(bad)?),
        ValueKind::Bool => ConditionValue::Bool(parse_bool(&text).ok_or_else(bad)?),
        ValueKind::Binary => ConditionValue::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|_| bad())?,
        ),
        ValueKind::Ip => ConditionValue::Network(parse_network(&text).ok_or_else(bad)?),
        ValueKind::Null => ConditionValue::Absent(parse_bool(&text).ok_or_else(bad)?),
    })
}

pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let n: f64 = text.trim().parse().ok()?;
    n.is_finite().then_some(n)
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CIDR block, or a single address (a /32 or /128).
pub(crate) fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// ISO 8601 date or date-time (with `Z` or an offset), or epoch seconds; nanoseconds.
pub(crate) fn parse_date(text: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i128 = text.parse().ok()?;
        return secs.checked_mul(1_000_000_000);
    }
    let parsed = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .ok()
        .or_else(|| {
            let date = time::Date::parse(text, &Iso8601::DEFAULT).ok()?;
            Some(date.midnight().assume_utc())
        })?;
    Some(parsed.unix_timestamp_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(block: Value) -> Result<Vec<Condition>, PolicyError> {
        parse_conditions(&block, PolicyVersion::V2012_10_17)
    }

    #[test]
    fn every_operator_with_every_suffix_and_qualifier_parses() {
        for op in ConditionOperator::ALL {
            let value = match op.value_kind() {
                ValueKind::String | ValueKind::Arn => json!("x"),
                ValueKind::Numeric => json!(1),
                ValueKind::Date => json!("2020-01-01T00:00:00Z"),
                ValueKind::Bool | ValueKind::Null => json!("true"),
                ValueKind::Binary => json!("QmluYXJ5"),
                ValueKind::Ip => json!("10.0.0.0/8"),
            };
            let names: Vec<String> = if op == ConditionOperator::Null {
                vec![op.name().to_owned()]
            } else {
                let base = op.name();
                vec![
                    base.to_owned(),
                    format!("{base}IfExists"),
                    format!("ForAllValues:{base}"),
                    format!("ForAnyValue:{base}IfExists"),
                ]
            };
            for name in names {
                let c = parse(json!({ name.clone(): { "aws:k": value.clone() } }))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(c[0].operator, op, "{name}");
                assert_eq!(c[0].if_exists, name.ends_with("IfExists"));
            }
        }
    }

    #[test]
    fn unknown_operators_and_bad_values_are_refused() {
        let syntax = PolicyError::syntax();
        for block in [
            json!({"StringEqualz": {"aws:k": "v"}}),
            json!({"stringequals": {"aws:k": "v"}}),
            json!({"ForEveryValue:StringEquals": {"aws:k": "v"}}),
            json!({"NullIfExists": {"aws:k": "true"}}),
            json!({"ForAnyValue:Null": {"aws:k": "true"}}),
            json!({"NumericEquals": {"aws:k": "ten"}}),
            json!({"DateLessThan": {"aws:k": "yesterday"}}),
            json!({"Bool": {"aws:k": "yes"}}),
            json!({"IpAddress": {"aws:k": "10.0.0.0/33"}}),
            json!({"BinaryEquals": {"aws:k": "not base64!"}}),
            json!({"StringEquals": {"aws:k": null}}),
            json!({"StringEquals": {"aws:k": {"nested": "x"}}}),
            json!({"StringEquals": "aws:k"}),
            json!(["StringEquals"]),
        ] {
            assert_eq!(parse(block.clone()), Err(syntax.clone()), "{block}");
        }
        assert_eq!(
            parse(json!({"StringEquals": {"username": "v"}})),
            Err(PolicyError::vendor_missing())
        );
    }

    #[test]
    fn dates_in_the_forms_policies_use() {
        let t = parse_date("2020-01-01T00:00:00Z").unwrap();
        assert_eq!(t, 1_577_836_800 * 1_000_000_000);
        assert_eq!(parse_date("2020-01-01"), Some(t));
        assert_eq!(parse_date("1577836800"), Some(t));
        assert_eq!(parse_date("2020-01-01T01:00:00+01:00"), Some(t));
        assert_eq!(
            parse_date("2020-01-01T00:00:00.500Z"),
            Some(t + 500_000_000)
        );
        assert_eq!(parse_date("soon"), None);
    }
}
