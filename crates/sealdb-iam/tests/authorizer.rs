//! The Authorizer as services use it: AWS's decisions and AccessDenied texts.

use std::collections::BTreeMap;
use std::sync::Arc;

use sealdb_common::Principal;
use sealdb_iam::{
    Authorizer, Decision, IdentityPolicies, NoIdentityPolicies, PolicyDocument, PolicyKind,
    PolicySource, RequestContext,
};

const ACCT: &str = "123456789012";
const OTHER: &str = "210987654321";
const MUSIC: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/Music";

/// Identity policies by user name.
struct ByUser(BTreeMap<String, Vec<Arc<PolicyDocument>>>);

impl IdentityPolicies for ByUser {
    fn policies_for(&self, principal: &Principal) -> Vec<Arc<PolicyDocument>> {
        let key = format!(
            "{}/{}",
            principal.account_id,
            principal.user_name.clone().unwrap_or_default()
        );
        self.0.get(&key).cloned().unwrap_or_default()
    }
}

fn identity(text: &str) -> Arc<PolicyDocument> {
    Arc::new(PolicyDocument::parse_as(text, PolicyKind::Identity).expect("valid identity policy"))
}

fn authorizer(users: &[(&str, &str, &str)]) -> Authorizer {
    let mut map: BTreeMap<String, Vec<Arc<PolicyDocument>>> = BTreeMap::new();
    for (account, user, policy) in users {
        map.entry(format!("{account}/{user}"))
            .or_default()
            .push(identity(policy));
    }
    Authorizer::new(Arc::new(ByUser(map)))
}

fn alice() -> Principal {
    Principal::user(
        "AKIAALICE",
        ACCT,
        "alice",
        "AIDAALICE",
        "us-east-1",
        "10.1.2.3",
    )
}

fn put_item() -> RequestContext {
    RequestContext::new("dynamodb:PutItem", MUSIC)
}

const ALLOW_PUT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/Music"}]}"#;
const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"dynamodb:*","Resource":"*"}]}"#;

#[test]
fn root_is_allowed_and_a_user_without_policies_is_denied_with_awss_message() {
    let authz = Authorizer::new(Arc::new(NoIdentityPolicies));
    let root = Principal::root("AKIAROOT", ACCT, "us-east-1", "10.0.0.1");
    assert_eq!(authz.authorize(&root, &put_item(), None), Ok(()));
    let denied = authz.authorize(&alice(), &put_item(), None).unwrap_err();
    assert_eq!(
        denied.message(),
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/Music because no identity-based policy allows the dynamodb:PutItem action"
    );
    assert_eq!(
        denied.decision(),
        Decision::ImplicitDeny {
            missing: PolicySource::Identity
        }
    );
}

#[test]
fn an_identity_allow_allows_and_an_explicit_deny_wins() {
    let authz = authorizer(&[(ACCT, "alice", ALLOW_PUT)]);
    assert_eq!(authz.authorize(&alice(), &put_item(), None), Ok(()));
    // Other actions and resources stay denied.
    let get = RequestContext::new("dynamodb:GetItem", MUSIC);
    assert!(authz.authorize(&alice(), &get, None).is_err());
    let other = RequestContext::new(
        "dynamodb:PutItem",
        "arn:aws:dynamodb:us-east-1:123456789012:table/Other",
    );
    assert!(authz.authorize(&alice(), &other, None).is_err());

    let authz = authorizer(&[(ACCT, "alice", ALLOW_PUT), (ACCT, "alice", DENY_ALL)]);
    let denied = authz.authorize(&alice(), &put_item(), None).unwrap_err();
    assert_eq!(
        denied.message(),
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/Music with an explicit deny in an identity-based policy"
    );
}

#[test]
fn resource_policies_same_account_and_cross_account() {
    let naming_alice = PolicyDocument::parse_as(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"dynamodb:PutItem","Resource":"*"}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    let naming_account = PolicyDocument::parse_as(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"dynamodb:PutItem","Resource":"*"}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    let denying_root = PolicyDocument::parse_as(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"dynamodb:PutItem","Resource":"*"}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    let authz = Authorizer::new(Arc::new(NoIdentityPolicies));
    // Same account: a resource policy naming the user is enough on its own ...
    assert_eq!(
        authz.authorize(&alice(), &put_item(), Some(&naming_alice)),
        Ok(())
    );
    // ... naming only the account delegates to identity policies.
    assert!(
        authz
            .authorize(&alice(), &put_item(), Some(&naming_account))
            .is_err()
    );
    // The root is allowed unless a resource policy denies it.
    let root = Principal::root("AKIAROOT", ACCT, "us-east-1", "10.0.0.1");
    let denied = authz
        .authorize(&root, &put_item(), Some(&denying_root))
        .unwrap_err();
    assert_eq!(
        denied.message(),
        "User: arn:aws:iam::123456789012:root is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/Music with an explicit deny in a resource-based policy"
    );

    // Cross account: both sides must allow.
    let bob = Principal::user("AKIABOB", OTHER, "bob", "AIDABOB", "us-east-1", "10.9.9.9");
    let trusting_other = PolicyDocument::parse_as(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"dynamodb:PutItem","Resource":"*"}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    let bob_allowed = authorizer(&[(
        OTHER,
        "bob",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}}"#,
    )]);
    assert_eq!(
        bob_allowed.authorize(&bob, &put_item(), Some(&trusting_other)),
        Ok(())
    );
    let denied = bob_allowed.authorize(&bob, &put_item(), None).unwrap_err();
    assert!(
        denied
            .message()
            .ends_with("because no resource-based policy allows the dynamodb:PutItem action"),
        "{}",
        denied.message()
    );
    let denied = authz
        .authorize(&bob, &put_item(), Some(&trusting_other))
        .unwrap_err();
    assert!(
        denied
            .message()
            .ends_with("because no identity-based policy allows the dynamodb:PutItem action"),
        "{}",
        denied.message()
    );
}

#[test]
fn aws_secure_transport_comes_from_the_listener() {
    // The documented "deny requests not sent over TLS" statement beside an allow.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"*"},
        {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    let authz = authorizer(&[(ACCT, "alice", policy)]);
    let mut plain = alice();
    plain.secure_transport = false;
    let denied = authz.authorize(&plain, &put_item(), None).unwrap_err();
    assert!(
        denied
            .message()
            .ends_with("with an explicit deny in an identity-based policy"),
        "{}",
        denied.message()
    );
    let mut tls = alice();
    tls.secure_transport = true;
    assert_eq!(authz.authorize(&tls, &put_item(), None), Ok(()));
}
