//! Key policy evaluation: Allow/Deny statements with Principal, Action (wildcards) and
//! the condition keys that matter for KMS. An explicit Deny wins; the account root
//! principal stands for every principal of the account (sealdb has no IAM of its own,
//! so what IAM would decide is granted).

use serde_json::Value;
use std::collections::BTreeMap;

/// What one request looks like to a policy.
pub(crate) struct Request<'a> {
    pub(crate) principal_arn: &'a str,
    pub(crate) account_id: &'a str,
    /// `kms:Encrypt` etc.
    pub(crate) action: &'a str,
    pub(crate) context: &'a BTreeMap<String, String>,
    /// `dynamodb.<region>.amazonaws.com` when a service calls on a user's behalf.
    pub(crate) via_service: Option<&'a str>,
}

/// The verdict of a policy.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    Deny,
    NoMatch,
}

fn as_list(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Glob match with `*` and `?`, case-insensitive as IAM action matching is.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn principal_matches(stmt: &Value, req: &Request<'_>) -> bool {
    let Some(p) = stmt.get("Principal") else {
        return false;
    };
    let root = format!("arn:aws:iam::{}:root", req.account_id);
    let candidates: Vec<&str> = match p {
        Value::String(s) => vec![s.as_str()],
        Value::Object(m) => m.get("AWS").map(as_list).unwrap_or_default(),
        _ => Vec::new(),
    };
    // The account root (or the bare account id) stands for the account's own IAM
    // principals, not for services acting through grants.
    let in_account = req
        .principal_arn
        .starts_with(&format!("arn:aws:iam::{}:", req.account_id));
    candidates.iter().any(|c| {
        *c == "*" || *c == req.principal_arn || (in_account && (*c == root || *c == req.account_id))
    })
}

fn condition_values(key: &str, req: &Request<'_>) -> Vec<String> {
    let lower = key.to_ascii_lowercase();
    if let Some(ctx_key) = key.strip_prefix("kms:EncryptionContext:") {
        return req.context.get(ctx_key).cloned().into_iter().collect();
    }
    match lower.as_str() {
        "kms:callingaccount" | "kms:calleraccount" => vec![req.account_id.to_owned()],
        "kms:viaservice" => req.via_service.map(str::to_owned).into_iter().collect(),
        "kms:encryptioncontextkeys" => req.context.keys().cloned().collect(),
        // True when an AWS service (here: DynamoDB) creates the grant on the caller's behalf.
        "kms:grantisforawsresource" => vec![req.via_service.is_some().to_string()],
        "aws:principalarn" => vec![req.principal_arn.to_owned()],
        _ => Vec::new(),
    }
}

fn conditions_hold(stmt: &Value, req: &Request<'_>) -> bool {
    let Some(Value::Object(conds)) = stmt.get("Condition") else {
        return true;
    };
    for (op, tests) in conds {
        let Value::Object(tests) = tests else {
            return false;
        };
        let (set_mode, base) = if let Some(b) = op.strip_prefix("ForAnyValue:") {
            (Some(true), b)
        } else if let Some(b) = op.strip_prefix("ForAllValues:") {
            (Some(false), b)
        } else {
            (None, op.as_str())
        };
        for (key, wanted) in tests {
            let wanted = as_list(wanted);
            let have = condition_values(key, req);
            // A negated operator (StringNotEquals, StringNotLike) holds for a value that
            // matches none of the listed values, and holds when the key is absent.
            let (negated, positive) = match base {
                "StringNotEquals" => (true, "StringEquals"),
                "StringNotLike" => (true, "StringLike"),
                "StringNotEqualsIgnoreCase" => (true, "StringEqualsIgnoreCase"),
                other => (false, other),
            };
            let matches_one = |v: &str| {
                let any = wanted.iter().any(|w| match positive {
                    "StringEquals" => v == *w,
                    "Bool" => v.eq_ignore_ascii_case(w),
                    "StringEqualsIgnoreCase" => v.eq_ignore_ascii_case(w),
                    "StringLike" => glob(w, v),
                    _ => false,
                });
                any != negated
            };
            let ok = match set_mode {
                Some(true) => have.iter().any(|v| matches_one(v)),
                Some(false) => have.iter().all(|v| matches_one(v)),
                None if have.is_empty() => negated,
                None => have.iter().all(|v| matches_one(v)),
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Evaluates a policy document for one request.
pub(crate) fn evaluate(policy: &str, req: &Request<'_>) -> Verdict {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Verdict::NoMatch;
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    };
    let mut allowed = false;
    for s in statements {
        let actions = s.get("Action").map(as_list).unwrap_or_default();
        if !actions.iter().any(|a| glob(a, req.action)) {
            continue;
        }
        if !principal_matches(s, req) || !conditions_hold(s, req) {
            continue;
        }
        match s.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Verdict::Deny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Verdict::Allow
    } else {
        Verdict::NoMatch
    }
}

/// The condition operators evaluated here.
const SUPPORTED_OPERATORS: [&str; 7] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "Bool",
];

/// Checks that a policy document parses as a policy.
pub(crate) fn validate(policy: &str) -> Result<(), String> {
    let doc: Value =
        serde_json::from_str(policy).map_err(|_| "The policy is not valid JSON".to_owned())?;
    let st = doc.get("Statement").ok_or("The policy has no Statement")?;
    let list: Vec<&Value> = match st {
        Value::Array(a) => a.iter().collect(),
        v @ Value::Object(_) => vec![v],
        _ => return Err("Statement must be a list".into()),
    };
    for s in list {
        match s.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err("Each statement needs an Effect of Allow or Deny".into()),
        }
        if s.get("Action").is_none() {
            return Err("Each statement needs an Action".into());
        }
        if let Some(conds) = s.get("Condition") {
            let Value::Object(conds) = conds else {
                return Err("Condition must be an object".into());
            };
            for (op, tests) in conds {
                let base = op
                    .strip_prefix("ForAnyValue:")
                    .or_else(|| op.strip_prefix("ForAllValues:"))
                    .unwrap_or(op);
                // Refused rather than silently never matching (a Deny that stops applying).
                if !SUPPORTED_OPERATORS.contains(&base) {
                    return Err(format!("Condition operator {op} is not supported"));
                }
                if !tests.is_object() {
                    return Err(format!("Condition {op} must map keys to values"));
                }
            }
        }
    }
    Ok(())
}

/// AWS's default key policy text, pretty-printed as KMS returns it.
pub(crate) fn default_policy(account_id: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account_id}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

/// The fixed policy of the AWS managed DynamoDB key (`auto-dynamodb-1`).
pub(crate) fn dynamodb_managed_policy(account_id: &str, region: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Version": "2012-10-17",
        "Id": "auto-dynamodb-1",
        "Statement": [
            {
                "Sid": "Allow access through Amazon DynamoDB for all principals in the account that are authorized to use Amazon DynamoDB",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account_id, "kms:ViaService": format!("dynamodb.{region}.amazonaws.com")}}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(arn: &'a str, action: &'a str, ctx: &'a BTreeMap<String, String>) -> Request<'a> {
        Request {
            principal_arn: arn,
            account_id: "000000000000",
            action,
            context: ctx,
            via_service: None,
        }
    }

    #[test]
    fn default_policy_allows_the_account() {
        let p = default_policy("000000000000");
        let ctx = BTreeMap::new();
        assert_eq!(
            evaluate(
                &p,
                &req("arn:aws:iam::000000000000:user/bob", "kms:Encrypt", &ctx)
            ),
            Verdict::Allow
        );
        assert!(validate(&p).is_ok());
    }

    #[test]
    fn explicit_deny_wins_and_conditions_apply() {
        let p = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/eve"},"Action":["kms:Decrypt","kms:Gen*"],"Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*",
             "Condition":{"StringNotEquals":{"kms:EncryptionContext:team":"db"}}}
        ]}"#;
        let ctx = BTreeMap::new();
        let db: BTreeMap<String, String> = [("team".to_owned(), "db".to_owned())].into();
        let eve = "arn:aws:iam::000000000000:user/eve";
        let bob = "arn:aws:iam::000000000000:user/bob";
        assert_eq!(evaluate(p, &req(eve, "kms:Decrypt", &ctx)), Verdict::Deny);
        assert_eq!(
            evaluate(p, &req(eve, "kms:GenerateDataKey", &ctx)),
            Verdict::Deny
        );
        assert_eq!(evaluate(p, &req(bob, "kms:Decrypt", &ctx)), Verdict::Allow);
        assert_eq!(evaluate(p, &req(bob, "kms:Encrypt", &db)), Verdict::Allow);
        // No "team" key at all: a negated operator holds when the key is absent (IAM's
        // rule), so the Deny applies.
        assert_eq!(evaluate(p, &req(bob, "kms:Encrypt", &ctx)), Verdict::Deny);
        let other: BTreeMap<String, String> = [("team".to_owned(), "web".to_owned())].into();
        assert_eq!(evaluate(p, &req(bob, "kms:Encrypt", &other)), Verdict::Deny);
    }

    #[test]
    fn negated_operators_with_several_values_match_none_of_them() {
        let p = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
             "Condition":{"StringNotEquals":{"kms:EncryptionContext:team":["db","web"]}}},
            {"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*",
             "Condition":{"StringNotLike":{"kms:EncryptionContext:app":["db-*","web-*"]}}}
        ]}"#;
        let bob = "arn:aws:iam::000000000000:user/bob";
        let team =
            |t: &str| -> BTreeMap<String, String> { [("team".to_owned(), t.to_owned())].into() };
        let app =
            |a: &str| -> BTreeMap<String, String> { [("app".to_owned(), a.to_owned())].into() };
        // "db" is one of the listed values: not "not equal to all of them", so no Deny.
        assert_eq!(
            evaluate(p, &req(bob, "kms:Decrypt", &team("db"))),
            Verdict::Allow
        );
        assert_eq!(
            evaluate(p, &req(bob, "kms:Decrypt", &team("web"))),
            Verdict::Allow
        );
        assert_eq!(
            evaluate(p, &req(bob, "kms:Decrypt", &team("ops"))),
            Verdict::Deny
        );
        assert_eq!(
            evaluate(p, &req(bob, "kms:Encrypt", &app("web-1"))),
            Verdict::Allow
        );
        assert_eq!(
            evaluate(p, &req(bob, "kms:Encrypt", &app("ops-1"))),
            Verdict::Deny
        );
    }

    #[test]
    fn unknown_condition_operators_are_refused() {
        let p = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
             "Condition":{"NumericGreaterThanButFuzzy":{"kms:EncryptionContext:n":"1"}}}]}"#;
        assert!(validate(p).is_err());
        let ok = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
             "Condition":{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"x*"}}}]}"#;
        assert!(validate(ok).is_ok());
    }

    #[test]
    fn globs() {
        assert!(glob("kms:*", "kms:Encrypt"));
        assert!(glob("kms:ReEncrypt*", "kms:ReEncryptFrom"));
        assert!(!glob("kms:Gen*Key", "kms:GenerateDataKeyPair"));
        assert!(glob("KMS:decrypt", "kms:Decrypt"));
    }
}
