use super::*;

fn parse(text: &str) -> Result<PolicyDocument, PolicyError> {
    PolicyDocument::parse(text)
}

fn message(text: &str, kind: Option<PolicyKind>) -> String {
    match parse_document(text, kind) {
        Ok(_) => "accepted".to_owned(),
        Err(e) => e.message().to_owned(),
    }
}

#[test]
fn statement_may_be_an_object_or_an_array() {
    let one = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}}"#,
    )
    .unwrap();
    assert_eq!(one.statements().len(), 1);
    let two = parse(
        r#"{"Version":"2012-10-17","Id":"p1","Statement":[
            {"Sid":"A","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":["*"]},
            {"Sid":"B","Effect":"Deny","NotAction":"dynamodb:*","NotResource":"arn:aws:dynamodb:*:*:table/T"}]}"#,
    )
    .unwrap();
    assert_eq!(two.id(), Some("p1"));
    assert_eq!(two.statements()[1].sid(), Some("B"));
    assert_eq!(two.statements()[1].effect(), Effect::Deny);
    assert_eq!(two.statements()[1].index(), 1);
}

#[test]
fn versions() {
    let v = |t: &str| parse(t).map(|d| d.version());
    let body = r#""Statement":{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    assert_eq!(v(&format!("{{{body}}}")), Ok(PolicyVersion::V2008_10_17));
    assert_eq!(
        v(&format!(r#"{{"Version":"2008-10-17",{body}}}"#)),
        Ok(PolicyVersion::V2008_10_17)
    );
    assert_eq!(
        v(&format!(r#"{{"Version":"2012-10-17",{body}}}"#)),
        Ok(PolicyVersion::V2012_10_17)
    );
    assert_eq!(
        v(&format!(r#"{{"Version":"2012-10-18",{body}}}"#)),
        Err(PolicyError::syntax())
    );
}

#[test]
fn refusals_carry_iams_texts() {
    let cases: &[(&str, Option<PolicyKind>, &str)] = &[
        ("not json", None, "Syntax errors in policy."),
        ("[]", None, "Syntax errors in policy."),
        (
            r#"{"Version":"2012-10-17"}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Unknown":1}}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Statement":{"Action":"*","Resource":"*"}}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
            None,
            "Policy statement must contain actions.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#,
            Some(PolicyKind::Identity),
            "Policy statement must contain resources.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"GetItem","Resource":"*"}}"#,
            None,
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"dynamodb:dynamodb:GetItem","Resource":"*"}}"#,
            None,
            "Actions/Condition can contain only one colon.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"table/Music"}}"#,
            None,
            "Resource table/Music must be in ARN format or \"*\".",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}"#,
            Some(PolicyKind::Identity),
            "Policy document should not specify a principal.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            Some(PolicyKind::Resource),
            "Missing required field Principal",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"alice"}}}"#,
            Some(PolicyKind::Trust),
            "Invalid principal in policy: \"AWS\":\"alice\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":{"Robot":"x"}}}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            None,
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            r#"{"Statement":{"Sid":"not ok","Effect":"Allow","Action":"*","Resource":"*"}}"#,
            Some(PolicyKind::Identity),
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}}"#,
            None,
            "Syntax errors in policy.",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
            None,
            "Syntax errors in policy.",
        ),
    ];
    for (text, kind, want) in cases {
        assert_eq!(message(text, *kind), *want, "{text}");
    }
}

#[test]
fn resource_policies_allow_spaces_in_sid_and_take_principals() {
    // The KMS default key policy's statement, as AWS writes it.
    let doc = PolicyDocument::parse_as(
        r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",
            "Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    assert_eq!(
        doc.statements()[0].principals,
        Some(Matcher::Is(vec![PrincipalPattern::Aws(
            "arn:aws:iam::111122223333:root".into()
        )]))
    );
    // Account ids stand for the account root; "*" for everyone.
    let doc = PolicyDocument::parse_as(
        r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":["111122223333","*"],"Service":"dynamodb.amazonaws.com"}}}"#,
        PolicyKind::Trust,
    )
    .unwrap();
    assert_eq!(
        doc.statements()[0].principals,
        Some(Matcher::Is(vec![
            PrincipalPattern::Aws("arn:aws:iam::111122223333:root".into()),
            PrincipalPattern::Everyone,
            PrincipalPattern::Service("dynamodb.amazonaws.com".into()),
        ]))
    );
}
