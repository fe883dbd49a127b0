//! Key policies, evaluated by the shared policy engine (`sealdb-iam`) under KMS's rule:
//! the key policy is the authority; IAM identity policies count for a key only when its
//! key policy allows the account (`arn:aws:iam::ACCOUNT:root`); grants add to both (see
//! `ops::Ctx::authorize`). Parsed policies are cached per key.

use sealdb_common::Principal;
use sealdb_iam::{
    Authorizer, Decision, IdentityPolicies, PolicyDocument, PolicyKind, PolicySource,
    RequestContext, ResourceRule,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The verdict of the key policy (with IAM where it delegates to the account).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    /// An explicit Deny, in the key policy (resource-based) or in one of the caller's
    /// IAM policies (identity-based): AWS's message names which.
    Deny(PolicySource),
    /// The key policy does not allow the caller (directly or through the account).
    NoMatch,
    /// The key policy allows the account, and no IAM policy of the caller allows it.
    NoIdentityAllow,
}

/// Parses and validates a key policy; the error is AWS's MalformedPolicyDocument text.
pub(crate) fn parse(text: &str) -> Result<PolicyDocument, String> {
    PolicyDocument::parse_as(text, PolicyKind::Resource).map_err(|e| e.message().to_owned())
}

/// Parsed key policies by key id, re-parsed only when a key's policy text changes.
#[derive(Default)]
pub(crate) struct PolicyCache {
    parsed: Mutex<HashMap<String, (String, Arc<PolicyDocument>)>>,
}

impl PolicyCache {
    /// The parsed policy of `key_id` (whose text is `text`); `None` if it does not parse
    /// (a stored policy written under older rules): such a policy allows nothing.
    pub(crate) fn get(&self, key_id: &str, text: &str) -> Option<Arc<PolicyDocument>> {
        let mut map = self.parsed.lock().ok()?;
        if let Some((t, doc)) = map.get(key_id)
            && t == text
        {
            return Some(Arc::clone(doc));
        }
        match parse(text) {
            Ok(doc) => {
                let doc = Arc::new(doc);
                map.insert(key_id.to_owned(), (text.to_owned(), Arc::clone(&doc)));
                Some(doc)
            }
            Err(e) => {
                tracing::warn!(key = key_id, error = %e, "stored key policy does not parse; it allows nothing");
                None
            }
        }
    }
}

/// Evaluates `doc` for `request` by `caller` under KMS's rule.
pub(crate) fn verdict(
    authorizer: &Authorizer,
    caller: &Principal,
    request: &RequestContext,
    doc: &PolicyDocument,
) -> Verdict {
    match authorizer
        .evaluate(caller, request, Some(doc), ResourceRule::KeyPolicy)
        .decision
    {
        Decision::Allow => Verdict::Allow,
        Decision::ExplicitDeny { source } => Verdict::Deny(source),
        Decision::ImplicitDeny {
            missing: PolicySource::Identity,
        } => Verdict::NoIdentityAllow,
        Decision::ImplicitDeny { .. } => Verdict::NoMatch,
    }
}

/// The identity side until the server's IAM store is wired in: every IAM user of the
/// account may use KMS as far as IAM is concerned (sealdb's users were unrestricted
/// before identity policies existed), so the key policy alone decides. Services acting
/// for themselves and other accounts get nothing.
pub struct AccountUsersUnrestricted {
    account_id: String,
    allow_all: Vec<Arc<PolicyDocument>>,
}

impl AccountUsersUnrestricted {
    /// For the users of `account_id`.
    pub fn new(account_id: &str) -> Self {
        let allow_all = PolicyDocument::parse_as(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .map(|d| vec![Arc::new(d)])
        .unwrap_or_default();
        AccountUsersUnrestricted {
            account_id: account_id.to_owned(),
            allow_all,
        }
    }
}

impl IdentityPolicies for AccountUsersUnrestricted {
    fn policies_for(&self, principal: &Principal) -> Vec<Arc<PolicyDocument>> {
        let user = format!("arn:aws:iam::{}:user/", self.account_id);
        if principal.arn.starts_with(&user) {
            self.allow_all.clone()
        } else {
            Vec::new()
        }
    }
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
    use sealdb_iam::NoIdentityPolicies;

    fn check(policy: &str, who: &Principal, action: &str, ctx: &[(&str, &str)]) -> Verdict {
        let doc = parse(policy).unwrap();
        let authorizer = Authorizer::new(Arc::new(AccountUsersUnrestricted::new("000000000000")));
        let mut req = RequestContext::new(action, "arn:aws:kms:us-east-1:000000000000:key/k");
        for (k, v) in ctx {
            req.keys.set(&format!("kms:EncryptionContext:{k}"), *v);
        }
        verdict(&authorizer, who, &req, &doc)
    }

    fn user(name: &str) -> Principal {
        Principal::user(
            "AKID",
            "000000000000",
            name,
            "AIDAUSER",
            "us-east-1",
            "127.0.0.1",
        )
    }

    #[test]
    fn default_policy_allows_the_account() {
        let p = default_policy("000000000000");
        assert_eq!(check(&p, &user("bob"), "kms:Encrypt", &[]), Verdict::Allow);
        let root = Principal::root("AKID", "000000000000", "us-east-1", "");
        assert_eq!(check(&p, &root, "kms:PutKeyPolicy", &[]), Verdict::Allow);
        assert!(parse(&dynamodb_managed_policy("000000000000", "us-east-1")).is_ok());
    }

    #[test]
    fn negated_operators_with_several_values_match_none_of_them() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
             "Condition":{"StringNotEquals":{"kms:EncryptionContext:team":["db","web"]}}}
        ]}"#;
        let bob = user("bob");
        // "db" is one of the listed values: not "not equal to all of them", so no Deny.
        assert_eq!(
            check(p, &bob, "kms:Decrypt", &[("team", "db")]),
            Verdict::Allow
        );
        assert_eq!(
            check(p, &bob, "kms:Decrypt", &[("team", "web")]),
            Verdict::Allow
        );
        assert_eq!(
            check(p, &bob, "kms:Decrypt", &[("team", "ops")]),
            Verdict::Deny(PolicySource::Resource)
        );
        // No key at all: a negated operator holds, so the Deny applies.
        assert_eq!(
            check(p, &bob, "kms:Decrypt", &[]),
            Verdict::Deny(PolicySource::Resource)
        );
    }

    #[test]
    fn iam_counts_only_where_the_key_policy_allows_the_account() {
        let only_alice = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"kms:*","Resource":"*"}]}"#;
        // bob's identity policy allows kms:*, but the key policy does not name the account.
        assert_eq!(
            check(only_alice, &user("bob"), "kms:Encrypt", &[]),
            Verdict::NoMatch
        );
        assert_eq!(
            check(only_alice, &user("alice"), "kms:Encrypt", &[]),
            Verdict::Allow
        );
        // With the account statement, IAM decides: no identity policy, no access.
        let doc = parse(&default_policy("000000000000")).unwrap();
        let no_iam = Authorizer::new(Arc::new(NoIdentityPolicies));
        let req = RequestContext::new("kms:Encrypt", "arn:aws:kms:us-east-1:000000000000:key/k");
        assert_eq!(
            verdict(&no_iam, &user("bob"), &req, &doc),
            Verdict::NoIdentityAllow
        );
    }

    #[test]
    fn unknown_condition_operators_are_refused() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
             "Condition":{"NumericGreaterThanButFuzzy":{"kms:EncryptionContext:n":"1"}}}]}"#;
        assert!(parse(p).is_err());
    }
}
