//! Example policies from AWS's IAM, DynamoDB and KMS documentation, each with a request
//! context and the outcome the documentation gives; then every operator family, set
//! qualifier and `...IfExists` form on present, absent and multivalued keys.
#![allow(clippy::unwrap_used)]

use sealdb_iam::{
    Decision, EvalInput, EvalPrincipal, PolicyDocument, PolicyInput, PolicyKind, PolicySource,
    RequestContext, ResourceRule, evaluate,
};
use serde_json::{Value, json};

const ACCT: &str = "111122223333";

fn alice() -> EvalPrincipal {
    let mut p = EvalPrincipal::account_root(ACCT);
    p.arn = format!("arn:aws:iam::{ACCT}:user/alice");
    p.user_id = "AIDAEXAMPLEALICE".into();
    p.username = Some("alice".into());
    p.principal_type = sealdb_iam::PrincipalType::User;
    p.tags.insert("Department".into(), "Finance".into());
    p
}

fn doc(policy: &Value) -> PolicyDocument {
    PolicyDocument::parse_as(&policy.to_string(), PolicyKind::Identity).unwrap()
}

/// The decision of one identity policy for `action` on `resource` with `keys`.
fn decide(policy: &Value, action: &str, resource: &str, keys: &[(&str, Value)]) -> Decision {
    let principal = alice();
    let document = doc(policy);
    let mut request = RequestContext::new(action, resource);
    for (k, v) in keys {
        match v {
            Value::Array(values) => {
                request
                    .keys
                    .set_multi(k, values.iter().map(|v| v.as_str().unwrap().to_owned()));
            }
            Value::String(s) => {
                request.keys.set(k, s.clone());
            }
            other => panic!("bad key value {other}"),
        }
    }
    request.add_principal_keys(&principal);
    let policies = [PolicyInput {
        id: "p",
        document: &document,
    }];
    evaluate(&EvalInput {
        principal: &principal,
        request: &request,
        identity_policies: &policies,
        resource_policy: None,
        resource_account: None,
        rule: ResourceRule::Standard,
    })
    .decision
}

const ALLOW: Decision = Decision::Allow;
const IMPLICIT: Decision = Decision::ImplicitDeny {
    missing: PolicySource::Identity,
};
const EXPLICIT: Decision = Decision::ExplicitDeny {
    source: PolicySource::Identity,
};

/// One statement: Allow `dynamodb:GetItem` on `*` under `condition`.
fn allow_if(condition: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*", "Condition": condition}]})
}

fn get(policy: &Value, keys: &[(&str, Value)]) -> Decision {
    decide(
        policy,
        "dynamodb:GetItem",
        "arn:aws:dynamodb:us-east-1:111122223333:table/T",
        keys,
    )
}

#[test]
fn iam_guide_deny_outside_ip_ranges() {
    // "AWS: Denies access to AWS based on the source IP".
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {
            "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
            "Bool": {"aws:ViaAWSService": "false"}}}]});
    let from = |ip: &str| {
        get(
            &policy,
            &[
                ("aws:SourceIp", json!(ip)),
                ("aws:ViaAWSService", json!("false")),
            ],
        )
    };
    assert_eq!(from("192.0.2.10"), ALLOW);
    assert_eq!(from("203.0.113.255"), ALLOW);
    assert_eq!(from("198.51.100.7"), EXPLICIT);
    // Through a service the deny does not apply.
    assert_eq!(
        get(
            &policy,
            &[
                ("aws:SourceIp", json!("198.51.100.7")),
                ("aws:ViaAWSService", json!("true"))
            ]
        ),
        ALLOW
    );
}

#[test]
fn iam_guide_access_within_dates() {
    // "AWS: Allows access based on date and time".
    let policy = allow_if(json!({
        "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
        "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}));
    assert_eq!(
        get(
            &policy,
            &[("aws:CurrentTime", json!("2020-05-01T12:00:00Z"))]
        ),
        ALLOW
    );
    assert_eq!(
        get(
            &policy,
            &[("aws:CurrentTime", json!("2020-07-01T00:00:00Z"))]
        ),
        IMPLICIT
    );
    assert_eq!(get(&policy, &[]), IMPLICIT);
    // Epoch seconds compare with dates.
    let epoch = allow_if(json!({"DateLessThan": {"aws:EpochTime": "2020-01-01T00:00:00Z"}}));
    assert_eq!(
        get(&epoch, &[("aws:EpochTime", json!("1500000000"))]),
        ALLOW
    );
    assert_eq!(
        get(&epoch, &[("aws:EpochTime", json!("1600000000"))]),
        IMPLICIT
    );
}

#[test]
fn iam_guide_deny_without_mfa_and_without_tls() {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Sid": "DenyAllExceptListedIfNoMFA", "Effect": "Deny", "NotAction": ["iam:ChangePassword"],
         "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]});
    // aws:MultiFactorAuthPresent is always false here, so the deny applies.
    assert_eq!(get(&policy, &[]), EXPLICIT);
    let tls = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": false}}}]});
    assert_eq!(
        get(&tls, &[("aws:SecureTransport", json!("false"))]),
        EXPLICIT
    );
    assert_eq!(get(&tls, &[("aws:SecureTransport", json!("true"))]), ALLOW);
    // Bool on an absent key does not match, so the deny does not apply.
    assert_eq!(get(&tls, &[]), ALLOW);
}

#[test]
fn iam_guide_abac_principal_tag_matches_resource_tag() {
    let policy = allow_if(
        json!({"StringEquals": {"aws:ResourceTag/Department": "${aws:PrincipalTag/Department}"}}),
    );
    assert_eq!(
        get(&policy, &[("aws:ResourceTag/Department", json!("Finance"))]),
        ALLOW
    );
    assert_eq!(
        get(&policy, &[("aws:ResourceTag/department", json!("Finance"))]),
        ALLOW
    );
    assert_eq!(
        get(&policy, &[("aws:ResourceTag/Department", json!("Legal"))]),
        IMPLICIT
    );
    // Without the variable's value the condition is false.
    let missing = allow_if(
        json!({"StringEquals": {"aws:ResourceTag/Department": "${aws:PrincipalTag/Team}"}}),
    );
    assert_eq!(
        get(&missing, &[("aws:ResourceTag/Department", json!(""))]),
        IMPLICIT
    );
    let defaulted = allow_if(
        json!({"StringEquals": {"aws:ResourceTag/Team": "${aws:PrincipalTag/Team, 'none'}"}}),
    );
    assert_eq!(
        get(&defaulted, &[("aws:ResourceTag/Team", json!("none"))]),
        ALLOW
    );
}

#[test]
fn iam_guide_set_qualifiers_on_tag_keys() {
    // "ForAllValues ... returns true if there are no keys in the request".
    let all = allow_if(
        json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}),
    );
    assert_eq!(get(&all, &[("aws:TagKeys", json!(["environment"]))]), ALLOW);
    assert_eq!(
        get(
            &all,
            &[("aws:TagKeys", json!(["environment", "cost-center"]))]
        ),
        ALLOW
    );
    assert_eq!(
        get(&all, &[("aws:TagKeys", json!(["environment", "owner"]))]),
        IMPLICIT
    );
    assert_eq!(get(&all, &[]), ALLOW);
    assert_eq!(get(&all, &[("aws:TagKeys", json!([]))]), ALLOW);
    let any = allow_if(
        json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}),
    );
    assert_eq!(
        get(&any, &[("aws:TagKeys", json!(["owner", "environment"]))]),
        ALLOW
    );
    assert_eq!(get(&any, &[("aws:TagKeys", json!(["owner"]))]), IMPLICIT);
    assert_eq!(get(&any, &[]), IMPLICIT);
    // Negated with a qualifier: every (any) request value matches none of the policy's.
    let none_of =
        allow_if(json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret", "internal"]}}));
    assert_eq!(get(&none_of, &[("aws:TagKeys", json!(["a", "b"]))]), ALLOW);
    assert_eq!(
        get(&none_of, &[("aws:TagKeys", json!(["a", "secret"]))]),
        IMPLICIT
    );
    let any_not = allow_if(json!({"ForAnyValue:StringNotLike": {"aws:TagKeys": ["sec*"]}}));
    assert_eq!(
        get(&any_not, &[("aws:TagKeys", json!(["secret", "open"]))]),
        ALLOW
    );
    assert_eq!(
        get(&any_not, &[("aws:TagKeys", json!(["secret", "second"]))]),
        IMPLICIT
    );
}

#[test]
fn negated_operators_with_several_values_mean_none_of_them() {
    let policy =
        allow_if(json!({"StringNotEquals": {"aws:PrincipalTag/Department": ["Legal", "HR"]}}));
    assert_eq!(get(&policy, &[]), ALLOW); // alice is in Finance
    let legal = allow_if(json!({"StringNotEquals": {"aws:username": ["bob", "alice"]}}));
    assert_eq!(get(&legal, &[]), IMPLICIT);
    let like = allow_if(json!({"StringNotLike": {"aws:username": ["b*", "a*"]}}));
    assert_eq!(get(&like, &[]), IMPLICIT);
    // A negated operator on an absent key matches.
    let absent = allow_if(json!({"StringNotEquals": {"aws:RequestTag/x": ["a"]}}));
    assert_eq!(get(&absent, &[]), ALLOW);
    let not_ip = allow_if(json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}));
    assert_eq!(get(&not_ip, &[]), ALLOW);
}

#[test]
fn every_operator_family() {
    type Case<'a> = (&'a str, Value, &'a str, bool);
    let cases: Vec<Case<'_>> = vec![
        ("StringEquals", json!("Finance"), "Finance", true),
        ("StringEquals", json!("Finance"), "finance", false),
        ("StringEqualsIgnoreCase", json!("FINANCE"), "finance", true),
        (
            "StringNotEqualsIgnoreCase",
            json!("FINANCE"),
            "finance",
            false,
        ),
        ("StringLike", json!("Fin*"), "Finance", true),
        ("StringLike", json!("F?nance"), "Finance", true),
        ("StringLike", json!("fin*"), "Finance", false),
        ("StringNotLike", json!("Fin*"), "Legal", true),
        ("NumericEquals", json!(10), "10", true),
        ("NumericEquals", json!("10"), "10.0", true),
        ("NumericNotEquals", json!(10), "11", true),
        ("NumericLessThan", json!(10), "9.5", true),
        ("NumericLessThan", json!(10), "10", false),
        ("NumericLessThanEquals", json!(10), "10", true),
        ("NumericGreaterThan", json!(10), "11", true),
        ("NumericGreaterThanEquals", json!(10), "10", true),
        ("NumericGreaterThanEquals", json!(10), "not a number", false),
        (
            "DateEquals",
            json!("2020-01-01T00:00:00Z"),
            "2020-01-01T00:00:00Z",
            true,
        ),
        (
            "DateNotEquals",
            json!("2020-01-01T00:00:00Z"),
            "2020-01-02T00:00:00Z",
            true,
        ),
        (
            "DateLessThan",
            json!("2020-01-01T00:00:00Z"),
            "2019-12-31T23:59:59Z",
            true,
        ),
        (
            "DateLessThanEquals",
            json!("2020-01-01T00:00:00Z"),
            "2020-01-01T00:00:00Z",
            true,
        ),
        (
            "DateGreaterThan",
            json!("2020-01-01T00:00:00Z"),
            "2020-01-01T00:00:01Z",
            true,
        ),
        (
            "DateGreaterThanEquals",
            json!("2020-01-01"),
            "2020-01-01T00:00:00Z",
            true,
        ),
        ("Bool", json!("true"), "true", true),
        ("Bool", json!(true), "false", false),
        (
            "BinaryEquals",
            json!("QmluYXJ5VmFsdWVJbkJhc2U2NA=="),
            "QmluYXJ5VmFsdWVJbkJhc2U2NA==",
            true,
        ),
        (
            "BinaryEquals",
            json!("QmluYXJ5VmFsdWVJbkJhc2U2NA=="),
            "b3RoZXI=",
            false,
        ),
        ("IpAddress", json!("203.0.113.0/24"), "203.0.113.9", true),
        ("IpAddress", json!("2001:db8::/32"), "2001:db8:1::5", true),
        ("IpAddress", json!("2001:db8::/32"), "2001:db9::5", false),
        ("IpAddress", json!("203.0.113.7"), "203.0.113.7", true),
        (
            "NotIpAddress",
            json!("203.0.113.0/24"),
            "198.51.100.1",
            true,
        ),
        (
            "ArnEquals",
            json!("arn:aws:sns:us-east-1:111122223333:topic"),
            "arn:aws:sns:us-east-1:111122223333:topic",
            true,
        ),
        (
            "ArnLike",
            json!("arn:aws:sns:*:111122223333:*"),
            "arn:aws:sns:eu-west-1:111122223333:t",
            true,
        ),
        (
            "ArnLike",
            json!("arn:aws:sns:*:111122223333:*"),
            "arn:aws:sqs:eu-west-1:111122223333:t",
            false,
        ),
        (
            "ArnNotEquals",
            json!("arn:aws:sns:*:111122223333:*"),
            "arn:aws:sns:eu-west-1:444455556666:t",
            true,
        ),
        (
            "ArnNotLike",
            json!("arn:aws:sns:*:111122223333:*"),
            "arn:aws:sns:eu-west-1:111122223333:t",
            false,
        ),
    ];
    for (operator, policy_value, request_value, allowed) in cases {
        let policy = allow_if(json!({ operator: { "test:key": policy_value.clone() } }));
        let want = if allowed { ALLOW } else { IMPLICIT };
        assert_eq!(
            get(&policy, &[("test:key", json!(request_value))]),
            want,
            "{operator} {policy_value} vs {request_value}"
        );
        // Absent: positive operators fail, negated ones match; IfExists always matches.
        let negated = operator.contains("Not");
        let absent = if negated { ALLOW } else { IMPLICIT };
        assert_eq!(get(&policy, &[]), absent, "{operator} on an absent key");
        let if_exists = allow_if(
            json!({ format!("{operator}IfExists"): { "test:key": policy_value.clone() } }),
        );
        assert_eq!(
            get(&if_exists, &[]),
            ALLOW,
            "{operator}IfExists on an absent key"
        );
        assert_eq!(
            get(&if_exists, &[("test:key", json!(request_value))]),
            want,
            "{operator}IfExists on a present key"
        );
    }
}

#[test]
fn iam_guide_null_checks_presence() {
    // "Null": {"aws:TokenIssueTime": "true"} — the key is absent (long-term credentials).
    let long_term = allow_if(json!({"Null": {"aws:TokenIssueTime": "true"}}));
    assert_eq!(get(&long_term, &[]), ALLOW);
    assert_eq!(
        get(
            &long_term,
            &[("aws:TokenIssueTime", json!("2020-01-01T00:00:00Z"))]
        ),
        IMPLICIT
    );
    let tagged = allow_if(json!({"Null": {"aws:RequestTag/project": "false"}}));
    assert_eq!(
        get(&tagged, &[("aws:RequestTag/project", json!("x"))]),
        ALLOW
    );
    assert_eq!(get(&tagged, &[]), IMPLICIT);
}

#[test]
fn iam_guide_if_exists_for_instance_types() {
    // "...IfExists": the EC2 instance type example.
    let policy =
        allow_if(json!({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}));
    assert_eq!(get(&policy, &[]), ALLOW);
    assert_eq!(
        get(&policy, &[("ec2:InstanceType", json!("t2.micro"))]),
        ALLOW
    );
    assert_eq!(
        get(&policy, &[("ec2:InstanceType", json!("c5.large"))]),
        IMPLICIT
    );
}

#[test]
fn resources_actions_and_their_negations() {
    let per_user = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "dynamodb:*",
        "Resource": "arn:aws:dynamodb:*:*:table/${aws:username}_*"}]});
    assert_eq!(
        decide(
            &per_user,
            "dynamodb:PutItem",
            "arn:aws:dynamodb:us-east-1:111122223333:table/alice_notes",
            &[]
        ),
        ALLOW
    );
    assert_eq!(
        decide(
            &per_user,
            "dynamodb:PutItem",
            "arn:aws:dynamodb:us-east-1:111122223333:table/bob_notes",
            &[]
        ),
        IMPLICIT
    );
    // 2008-10-17 takes ${...} literally.
    let legacy = json!({"Version": "2008-10-17", "Statement": [{
        "Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:*:table/${aws:username}"}]});
    assert_eq!(
        decide(
            &legacy,
            "dynamodb:PutItem",
            "arn:aws:dynamodb:us-east-1:111122223333:table/alice",
            &[]
        ),
        IMPLICIT
    );

    let not_iam = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
    assert_eq!(decide(&not_iam, "dynamodb:GetItem", "*", &[]), ALLOW);
    assert_eq!(decide(&not_iam, "iam:CreateUser", "*", &[]), IMPLICIT);
    let mixed_case = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "DynamoDB:getitem", "Resource": "*"}]});
    assert_eq!(decide(&mixed_case, "dynamodb:GetItem", "*", &[]), ALLOW);
    let not_resource = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": "arn:aws:dynamodb:*:*:table/Public*"}]});
    assert_eq!(
        decide(
            &not_resource,
            "dynamodb:Scan",
            "arn:aws:dynamodb:us-east-1:111122223333:table/PublicData",
            &[]
        ),
        ALLOW
    );
    assert_eq!(
        decide(
            &not_resource,
            "dynamodb:Scan",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Private",
            &[]
        ),
        EXPLICIT
    );
}

#[test]
fn dynamodb_guide_leading_keys_and_enclosing_operation() {
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
        "Resource": "arn:aws:dynamodb:*:*:table/GameScores",
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}}}]});
    let table = "arn:aws:dynamodb:us-west-2:111122223333:table/GameScores";
    let keys = |k: &str| vec![("dynamodb:LeadingKeys", json!([k]))];
    assert_eq!(
        decide(
            &policy,
            "dynamodb:GetItem",
            table,
            &keys("AIDAEXAMPLEALICE")
        ),
        ALLOW
    );
    assert_eq!(
        decide(&policy, "dynamodb:GetItem", table, &keys("AIDAOTHER")),
        IMPLICIT
    );
    let tx_only = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"], "Resource": "*",
        "Condition": {"StringEquals": {"dynamodb:EnclosingOperation": "TransactWriteItems"}}}]});
    assert_eq!(
        decide(
            &tx_only,
            "dynamodb:PutItem",
            table,
            &[("dynamodb:EnclosingOperation", json!("TransactWriteItems"))]
        ),
        ALLOW
    );
    assert_eq!(decide(&tx_only, "dynamodb:PutItem", table, &[]), IMPLICIT);
}

#[test]
fn kms_guide_key_policy_rule() {
    let principal = alice();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let iam_allows = doc(
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
    );
    let with_account = PolicyDocument::parse_as(&json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}).to_string(), PolicyKind::Resource).unwrap();
    let without_account = PolicyDocument::parse_as(&json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Allow use of the key through DynamoDB", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com", "kms:CallerAccount": "111122223333"}}}]}).to_string(), PolicyKind::Resource).unwrap();
    let run = |key_policy: &PolicyDocument,
               identity: &[PolicyInput<'_>],
               action: &str,
               keys: &[(&str, &str)]| {
        let mut request = RequestContext::new(action, key);
        for (k, v) in keys {
            request.keys.set(k, *v);
        }
        request.add_principal_keys(&principal);
        evaluate(&EvalInput {
            principal: &principal,
            request: &request,
            identity_policies: identity,
            resource_policy: Some(PolicyInput {
                id: "key",
                document: key_policy,
            }),
            resource_account: Some(ACCT),
            rule: ResourceRule::KeyPolicy,
        })
        .decision
    };
    let iam = [PolicyInput {
        id: "iam",
        document: &iam_allows,
    }];
    // The account statement makes IAM policies count ...
    assert_eq!(run(&with_account, &iam, "kms:Encrypt", &[]), ALLOW);
    assert_eq!(run(&with_account, &[], "kms:Encrypt", &[]), IMPLICIT);
    // ... without it IAM allows are irrelevant; the key policy's own conditions decide.
    assert_eq!(
        run(&without_account, &iam, "kms:Encrypt", &[]),
        Decision::ImplicitDeny {
            missing: PolicySource::Resource
        }
    );
    let via = [
        ("kms:ViaService", "dynamodb.us-east-1.amazonaws.com"),
        ("kms:CallerAccount", ACCT),
    ];
    assert_eq!(run(&without_account, &[], "kms:Decrypt", &via), ALLOW);
    assert_eq!(
        run(
            &without_account,
            &[],
            "kms:GenerateDataKeyWithoutPlaintext",
            &via
        ),
        ALLOW
    );
    assert_eq!(
        run(
            &without_account,
            &[],
            "kms:Decrypt",
            &[("kms:ViaService", "s3.us-east-1.amazonaws.com")]
        ),
        Decision::ImplicitDeny {
            missing: PolicySource::Resource
        }
    );
    // The root has no implicit rights over a key whose policy does not name the account.
    let root = EvalPrincipal::account_root(ACCT);
    let mut request = RequestContext::new("kms:PutKeyPolicy", key);
    request.add_principal_keys(&root);
    let decision = evaluate(&EvalInput {
        principal: &root,
        request: &request,
        identity_policies: &[],
        resource_policy: Some(PolicyInput {
            id: "key",
            document: &without_account,
        }),
        resource_account: Some(ACCT),
        rule: ResourceRule::KeyPolicy,
    })
    .decision;
    assert_eq!(
        decision,
        Decision::ImplicitDeny {
            missing: PolicySource::Resource
        }
    );
}

#[test]
fn simulator_reports_the_deciding_statements() {
    let document = doc(&json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadAll", "Effect": "Allow", "Action": "dynamodb:Get*", "Resource": "*"},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "*", "Resource": "arn:aws:dynamodb:*:*:table/Secrets"}]}));
    let principal = alice();
    let sim = |action: &str, resource: &str| sealdb_iam::SimulationRequest {
        request: RequestContext::new(action, resource),
        resource_account: None,
    };
    let results = sealdb_iam::simulate(
        &principal,
        &[PolicyInput {
            id: "alice-read",
            document: &document,
        }],
        None,
        &[
            sim(
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:111122223333:table/Music",
            ),
            sim(
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:111122223333:table/Secrets",
            ),
            sim(
                "dynamodb:PutItem",
                "arn:aws:dynamodb:us-east-1:111122223333:table/Music",
            ),
        ],
    );
    let summary: Vec<(&str, Vec<Option<&str>>)> = results
        .iter()
        .map(|r| {
            (
                r.decision.simulator_name(),
                r.matched.iter().map(|m| m.sid.as_deref()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("allowed", vec![Some("ReadAll")]),
            ("explicitDeny", vec![Some("NoSecrets")]),
            ("implicitDeny", vec![]),
        ]
    );
    assert_eq!(results[1].matched[0].policy_id, "alice-read");
    assert_eq!(results[1].matched[0].statement_index, 1);
}

#[test]
fn an_unknown_operator_is_refused_not_ignored() {
    let text = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"StringEqualsIgnoringCase": {"aws:username": "alice"}}}]})
    .to_string();
    assert_eq!(
        PolicyDocument::parse(&text).unwrap_err().message(),
        "Syntax errors in policy."
    );
}
