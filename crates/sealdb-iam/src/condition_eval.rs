//! Evaluating one condition against the request's keys, as AWS documents it:
//! - a missing key matches nothing, except that negated operators then match,
//!   `...IfExists` then matches, `ForAllValues:` then matches, and `Null` tests presence;
//! - with several policy values a positive operator matches any of them and a negated
//!   operator matches when the request value matches none of them;
//! - a policy variable without a value (and no default) makes the condition false.

use std::net::IpAddr;

use base64::Engine as _;

use crate::condition::{
    Condition, ConditionOperator as O, ConditionValue, SetQualifier, parse_bool, parse_date,
    parse_number,
};
use crate::context::ConditionKeys;
use crate::policy::{Glob, glob_match};

/// A policy value with its variables replaced from the request.
enum Resolved<'a> {
    Exact(String),
    Pattern(Vec<Glob>),
    Typed(&'a ConditionValue),
}

pub(crate) fn condition_matches(condition: &Condition, keys: &ConditionKeys) -> bool {
    let request_values = keys.get(&condition.key).map(|v| v.values()).unwrap_or(&[]);
    if condition.operator == O::Null {
        let absent = request_values.is_empty();
        return condition
            .values
            .iter()
            .any(|v| matches!(v, ConditionValue::Absent(want) if *want == absent));
    }
    if request_values.is_empty() {
        return match condition.qualifier {
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => condition.if_exists,
            None => condition.if_exists || condition.operator.is_negated(),
        };
    }
    let Some(policy_values) = resolve_all(condition, keys) else {
        return false;
    };
    let positive = |request_value: &str| {
        policy_values
            .iter()
            .any(|p| value_matches(condition.operator, p, request_value))
    };
    let negated = condition.operator.is_negated();
    // The per-value test: for a negated operator, "matches none of the policy values".
    let test = |request_value: &String| positive(request_value) != negated;
    match condition.qualifier {
        Some(SetQualifier::ForAllValues) => request_values.iter().all(test),
        Some(SetQualifier::ForAnyValue) => request_values.iter().any(test),
        None => request_values.iter().any(|v| positive(v)) != negated,
    }
}

fn resolve_all<'a>(condition: &'a Condition, keys: &ConditionKeys) -> Option<Vec<Resolved<'a>>> {
    let like = matches!(
        condition.operator,
        O::StringLike
            | O::StringNotLike
            | O::ArnEquals
            | O::ArnLike
            | O::ArnNotEquals
            | O::ArnNotLike
    );
    condition
        .values
        .iter()
        .map(|v| match v {
            ConditionValue::Text(t) if like => t.resolve_glob(keys).map(Resolved::Pattern),
            ConditionValue::Text(t) => t.resolve(keys).map(Resolved::Exact),
            typed => Some(Resolved::Typed(typed)),
        })
        .collect()
}

/// The positive form of `operator`: does the request value match this policy value?
fn value_matches(operator: O, policy: &Resolved<'_>, request: &str) -> bool {
    match (operator, policy) {
        (O::StringEquals | O::StringNotEquals, Resolved::Exact(p)) => p == request,
        (O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase, Resolved::Exact(p)) => {
            p.to_lowercase() == request.to_lowercase()
        }
        (O::StringLike | O::StringNotLike, Resolved::Pattern(p)) => glob_match(p, request, false),
        (O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike, Resolved::Pattern(p)) => {
            crate::arn::arn_matches(p, request)
        }
        (_, Resolved::Typed(ConditionValue::Number(p))) => {
            parse_number(request).is_some_and(|r| compare(operator, r.partial_cmp(p)))
        }
        (_, Resolved::Typed(ConditionValue::Date(p))) => {
            parse_date(request).is_some_and(|r| compare(operator, Some(r.cmp(p))))
        }
        (O::Bool, Resolved::Typed(ConditionValue::Bool(p))) => parse_bool(request) == Some(*p),
        (O::BinaryEquals, Resolved::Typed(ConditionValue::Binary(p))) => {
            base64::engine::general_purpose::STANDARD
                .decode(request.as_bytes())
                .is_ok_and(|r| &r == p)
        }
        (O::IpAddress | O::NotIpAddress, Resolved::Typed(ConditionValue::Network(net))) => request
            .trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| net.contains(&ip)),
        _ => false,
    }
}

/// Numeric and date comparisons: request value `ordering` policy value.
fn compare(operator: O, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let Some(ordering) = ordering else {
        return false;
    };
    match operator {
        O::NumericEquals | O::NumericNotEquals | O::DateEquals | O::DateNotEquals => {
            ordering == Equal
        }
        O::NumericLessThan | O::DateLessThan => ordering == Less,
        O::NumericLessThanEquals | O::DateLessThanEquals => ordering != Greater,
        O::NumericGreaterThan | O::DateGreaterThan => ordering == Greater,
        O::NumericGreaterThanEquals | O::DateGreaterThanEquals => ordering != Less,
        _ => false,
    }
}
