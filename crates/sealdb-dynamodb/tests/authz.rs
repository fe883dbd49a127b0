//! Enforcement in the DynamoDB service, with identity policies supplied by the test (the
//! identity store is another crate's): every operation asks before it acts, a denied call
//! answers AccessDeniedException with AWS's message and changes nothing, fine-grained
//! access (LeadingKeys, Attributes) and resource policies work as on AWS.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use sealdb_common::{Clock, Principal, RootKey, SecretKey32};
use sealdb_dynamodb::{DynamoError, Operation, Service, ServiceConfig};
use sealdb_iam::{Authorizer, IdentityPolicies, PolicyDocument, PolicyKind};
use sealdb_storage::{Engine, RootKeyVault};
use serde_json::{Value, json};

const ACCT: &str = "123456789012";
const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/Tab";

struct ByUser(BTreeMap<String, Vec<Arc<PolicyDocument>>>);

impl IdentityPolicies for ByUser {
    fn policies_for(&self, principal: &Principal) -> Vec<Arc<PolicyDocument>> {
        let name = principal.user_name.clone().unwrap_or_default();
        self.0.get(&name).cloned().unwrap_or_default()
    }
}

struct Harness {
    svc: Arc<Service>,
    _dir: tempfile::TempDir,
}

fn root() -> Principal {
    Principal::root("AKIAROOT", ACCT, "us-east-1", "127.0.0.1")
}

fn user(name: &str) -> Principal {
    // The user id is the name here, so that `${aws:userid}` policies read as the guide's.
    Principal::user(
        &format!("AKIA{name}"),
        ACCT,
        name,
        name,
        "us-east-1",
        "127.0.0.1",
    )
}

impl Harness {
    /// A service whose users have the given identity policies, with table T
    /// (pk S, sk N, GSI by_g on g) and a stream.
    async fn new(policies: &[(&str, Value)]) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let root_key = RootKey::from_key(SecretKey32::from_bytes([7; 32]));
        let engine = Arc::new(
            Engine::open(
                dir.path(),
                &root_key,
                Arc::new(RootKeyVault::new(&root_key)),
            )
            .unwrap(),
        );
        let svc = Service::new(
            engine,
            ServiceConfig {
                region: "us-east-1".into(),
                account_id: ACCT.into(),
                endpoint_address: "localhost".into(),
                clock: Clock::system(),
            },
        )
        .unwrap();
        let mut map: BTreeMap<String, Vec<Arc<PolicyDocument>>> = BTreeMap::new();
        for (name, doc) in policies {
            let doc = PolicyDocument::parse_as(&doc.to_string(), PolicyKind::Identity).unwrap();
            map.entry((*name).to_owned())
                .or_default()
                .push(Arc::new(doc));
        }
        svc.set_authorizer(Arc::new(Authorizer::new(Arc::new(ByUser(map)))));
        let h = Harness { svc, _dir: dir };
        h.call(
            &root(),
            Operation::CreateTable,
            json!({
                "TableName": "Tab",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"},
                    {"AttributeName": "g", "AttributeType": "S"}
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}
                ],
                "GlobalSecondaryIndexes": [{
                    "IndexName": "by_g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"}
                }],
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"},
                "Tags": [{"Key": "team", "Value": "blue"}]
            }),
        )
        .await
        .unwrap();
        for (pk, sk) in [("alice", 1), ("alice", 2), ("bob", 1)] {
            h.call(
                &root(),
                Operation::PutItem,
                json!({"TableName": "Tab", "Item": {
                    "pk": {"S": pk}, "sk": {"N": sk.to_string()}, "g": {"S": "x"},
                    "shown": {"S": "p"}, "secret": {"S": "s"}
                }}),
            )
            .await
            .unwrap();
        }
        h
    }

    async fn call(
        &self,
        who: &Principal,
        op: Operation,
        body: Value,
    ) -> Result<Value, DynamoError> {
        self.svc.call(op, who, body.to_string().as_bytes()).await
    }

    async fn item(&self, pk: &str, sk: i64) -> Option<Value> {
        let out = self
            .call(
                &root(),
                Operation::GetItem,
                json!({"TableName": "Tab", "Key": {"pk": {"S": pk}, "sk": {"N": sk.to_string()}}}),
            )
            .await
            .unwrap();
        out.get("Item").cloned()
    }
}

fn denied(result: Result<Value, DynamoError>) -> String {
    match result {
        Err(e @ DynamoError::NotAuthorized(_)) => {
            assert_eq!(
                e.wire_type(),
                "com.amazon.coral.service#AccessDeniedException"
            );
            assert_eq!(e.status(), 400);
            e.message()
        }
        other => panic!("expected AccessDeniedException, got {other:?}"),
    }
}

fn key(pk: &str, sk: i64) -> Value {
    json!({"pk": {"S": pk}, "sk": {"N": sk.to_string()}})
}

/// Every operation with a request a permitted caller could make.
fn every_operation(stream_arn: &str, backup_arn: &str) -> Vec<(Operation, Value)> {
    use Operation as O;
    vec![
        (O::DescribeTable, json!({"TableName": "Tab"})),
        (O::ListTables, json!({})),
        (
            O::UpdateTable,
            json!({"TableName": "Tab", "DeletionProtectionEnabled": true}),
        ),
        (
            O::TagResource,
            json!({"ResourceArn": TABLE_ARN, "Tags": [{"Key": "k", "Value": "v"}]}),
        ),
        (
            O::UntagResource,
            json!({"ResourceArn": TABLE_ARN, "TagKeys": ["team"]}),
        ),
        (O::ListTagsOfResource, json!({"ResourceArn": TABLE_ARN})),
        (O::DescribeLimits, json!({})),
        (O::DescribeEndpoints, json!({})),
        (O::DescribeTimeToLive, json!({"TableName": "Tab"})),
        (
            O::UpdateTimeToLive,
            json!({"TableName": "Tab", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "ttl"}}),
        ),
        (
            O::PutItem,
            json!({"TableName": "Tab", "Item": {"pk": {"S": "new"}, "sk": {"N": "1"}}}),
        ),
        (
            O::GetItem,
            json!({"TableName": "Tab", "Key": key("alice", 1)}),
        ),
        (
            O::UpdateItem,
            json!({"TableName": "Tab", "Key": key("alice", 1), "UpdateExpression": "SET shown = :v",
                   "ExpressionAttributeValues": {":v": {"S": "changed"}}}),
        ),
        (
            O::DeleteItem,
            json!({"TableName": "Tab", "Key": key("alice", 1)}),
        ),
        (
            O::Query,
            json!({"TableName": "Tab", "KeyConditionExpression": "pk = :p",
                   "ExpressionAttributeValues": {":p": {"S": "alice"}}}),
        ),
        (O::Scan, json!({"TableName": "Tab"})),
        (
            O::BatchGetItem,
            json!({"RequestItems": {"Tab": {"Keys": [key("alice", 1)]}}}),
        ),
        (
            O::BatchWriteItem,
            json!({"RequestItems": {"Tab": [{"DeleteRequest": {"Key": key("alice", 1)}}]}}),
        ),
        (
            O::TransactWriteItems,
            json!({"TransactItems": [{"Delete": {"TableName": "Tab", "Key": key("alice", 1)}}]}),
        ),
        (
            O::TransactGetItems,
            json!({"TransactItems": [{"Get": {"TableName": "Tab", "Key": key("alice", 1)}}]}),
        ),
        (
            O::CreateBackup,
            json!({"TableName": "Tab", "BackupName": "bk2"}),
        ),
        (O::DescribeBackup, json!({"BackupArn": backup_arn})),
        (O::ListBackups, json!({})),
        (
            O::RestoreTableFromBackup,
            json!({"BackupArn": backup_arn, "TargetTableName": "Rtab"}),
        ),
        (O::DeleteBackup, json!({"BackupArn": backup_arn})),
        (
            O::UpdateContinuousBackups,
            json!({"TableName": "Tab", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}}),
        ),
        (O::DescribeContinuousBackups, json!({"TableName": "Tab"})),
        (
            O::RestoreTableToPointInTime,
            json!({"SourceTableName": "Tab", "TargetTableName": "Ptab", "UseLatestRestorableTime": true}),
        ),
        (
            O::PutResourcePolicy,
            json!({"ResourceArn": stream_arn, "Policy": json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/carol"},
                "Action": "dynamodb:GetRecords", "Resource": stream_arn}]}).to_string()}),
        ),
        (O::GetResourcePolicy, json!({"ResourceArn": stream_arn})),
        (O::DeleteResourcePolicy, json!({"ResourceArn": stream_arn})),
        (O::DeleteTable, json!({"TableName": "Tab"})),
        (
            O::CreateTable,
            json!({"TableName": "Ctab", "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
        ),
    ]
}

async fn stream_and_backup(h: &Harness) -> (String, String) {
    let described = h
        .call(
            &root(),
            Operation::DescribeTable,
            json!({"TableName": "Tab"}),
        )
        .await
        .unwrap();
    let stream_arn = described["Table"]["LatestStreamArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let backup = h
        .call(
            &root(),
            Operation::CreateBackup,
            json!({"TableName": "Tab", "BackupName": "bk1"}),
        )
        .await
        .unwrap();
    let backup_arn = backup["BackupDetails"]["BackupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    (stream_arn, backup_arn)
}

#[tokio::test]
async fn a_user_without_policies_is_denied_every_operation_and_nothing_changes() {
    let h = Harness::new(&[]).await;
    let (stream_arn, backup_arn) = stream_and_backup(&h).await;
    let nobody = user("nobody");
    for (op, body) in every_operation(&stream_arn, &backup_arn) {
        let message = denied(h.call(&nobody, op, body).await);
        // Transactions ask for their actions' own names (here DeleteItem and GetItem).
        let action = match op {
            Operation::TransactWriteItems => "dynamodb:DeleteItem".to_owned(),
            Operation::TransactGetItems => "dynamodb:GetItem".to_owned(),
            _ => format!("dynamodb:{}", op.name()),
        };
        assert!(
            message.starts_with(&format!(
                "User: arn:aws:iam::123456789012:user/nobody is not authorized to perform: {action} on resource: "
            )) && message.ends_with(&format!("because no identity-based policy allows the {action} action")),
            "{op:?}: {message}"
        );
    }
    // Nothing changed: the items, the table, its tags and backups are as they were.
    assert_eq!(
        h.item("alice", 1).await.unwrap()["shown"],
        json!({"S": "p"})
    );
    let tags = h
        .call(
            &root(),
            Operation::ListTagsOfResource,
            json!({"ResourceArn": TABLE_ARN}),
        )
        .await
        .unwrap();
    assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "blue"}]));
    let tables = h
        .call(&root(), Operation::ListTables, json!({}))
        .await
        .unwrap();
    assert_eq!(tables["TableNames"], json!(["Tab"]));
    let described = h
        .call(
            &root(),
            Operation::DescribeTable,
            json!({"TableName": "Tab"}),
        )
        .await
        .unwrap();
    assert_eq!(
        described["Table"]["DeletionProtectionEnabled"],
        json!(false)
    );

    // The Streams operations ask for the stream ARN.
    let message = match h
        .svc
        .call_streams(
            "DescribeStream",
            &nobody,
            json!({"StreamArn": stream_arn}).to_string().as_bytes(),
        )
        .await
    {
        Some(Err(e @ DynamoError::NotAuthorized(_))) => e.message(),
        other => panic!("{other:?}"),
    };
    assert!(
        message.contains(&format!(
            "dynamodb:DescribeStream on resource: {stream_arn} "
        )),
        "{message}"
    );
    for op in ["ListStreams", "GetShardIterator", "GetRecords"] {
        let body = json!({"StreamArn": stream_arn, "ShardId": "x", "ShardIteratorType": "LATEST", "ShardIterator": "x"});
        let result = h
            .svc
            .call_streams(op, &nobody, body.to_string().as_bytes())
            .await;
        assert!(
            matches!(result, Some(Err(DynamoError::NotAuthorized(_)))),
            "{op}: {result:?}"
        );
    }
}

#[tokio::test]
async fn the_root_may_do_everything() {
    let h = Harness::new(&[]).await;
    let (stream_arn, backup_arn) = stream_and_backup(&h).await;
    for (op, body) in every_operation(&stream_arn, &backup_arn) {
        let result = h.call(&root(), op, body).await;
        assert!(
            !matches!(result, Err(DynamoError::NotAuthorized(_))),
            "{op:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn an_explicit_deny_wins_over_an_allow() {
    let allow_all = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]});
    let deny_delete = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE_ARN}]});
    let h = Harness::new(&[("dave", allow_all), ("dave", deny_delete)]).await;
    let dave = user("dave");
    h.call(
        &dave,
        Operation::GetItem,
        json!({"TableName": "Tab", "Key": key("alice", 1)}),
    )
    .await
    .unwrap();
    let message = denied(
        h.call(
            &dave,
            Operation::DeleteItem,
            json!({"TableName": "Tab", "Key": key("alice", 1)}),
        )
        .await,
    );
    assert_eq!(
        message,
        "User: arn:aws:iam::123456789012:user/dave is not authorized to perform: dynamodb:DeleteItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/Tab with an explicit deny in an identity-based policy"
    );
    assert!(h.item("alice", 1).await.is_some());
    // Transactions authorize each action under its own name.
    let message = denied(
        h.call(
            &dave,
            Operation::TransactWriteItems,
            json!({"TransactItems": [
                {"Put": {"TableName": "Tab", "Item": {"pk": {"S": "zed"}, "sk": {"N": "1"}}}},
                {"Delete": {"TableName": "Tab", "Key": key("alice", 1)}}
            ]}),
        )
        .await,
    );
    assert!(message.contains("dynamodb:DeleteItem"), "{message}");
    assert!(h.item("zed", 1).await.is_none());
}

/// The DynamoDB developer guide's example: users reach only the items whose partition key
/// is their user id (`dynamodb:LeadingKeys` with `ForAllValues:StringEquals`).
fn leading_keys_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowAccessToOnlyItemsMatchingUserID",
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                   "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
        "Resource": [TABLE_ARN],
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}}
    }]})
}

#[tokio::test]
async fn leading_keys_confine_a_user_to_its_own_items() {
    let h = Harness::new(&[("alice", leading_keys_policy())]).await;
    let alice = user("alice");
    let get = |pk: &str| json!({"TableName": "Tab", "Key": key(pk, 1)});
    h.call(&alice, Operation::GetItem, get("alice"))
        .await
        .unwrap();
    denied(h.call(&alice, Operation::GetItem, get("bob")).await);

    let query = |pk: &str| {
        json!({"TableName": "Tab", "KeyConditionExpression": "#p = :p",
               "ExpressionAttributeNames": {"#p": "pk"},
               "ExpressionAttributeValues": {":p": {"S": pk}}})
    };
    let own = h
        .call(&alice, Operation::Query, query("alice"))
        .await
        .unwrap();
    assert_eq!(own["Count"], json!(2));
    denied(h.call(&alice, Operation::Query, query("bob")).await);
    // A Scan has no leading key to confine it, and the policy does not allow Scan.
    denied(
        h.call(&alice, Operation::Scan, json!({"TableName": "Tab"}))
            .await,
    );

    let batch_get = |keys: Vec<Value>| json!({"RequestItems": {"Tab": {"Keys": keys}}});
    h.call(
        &alice,
        Operation::BatchGetItem,
        batch_get(vec![key("alice", 1), key("alice", 2)]),
    )
    .await
    .unwrap();
    denied(
        h.call(
            &alice,
            Operation::BatchGetItem,
            batch_get(vec![key("alice", 1), key("bob", 1)]),
        )
        .await,
    );

    let put = |pk: &str| json!({"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"N": "9"}}}});
    h.call(
        &alice,
        Operation::BatchWriteItem,
        json!({"RequestItems": {"Tab": [put("alice")]}}),
    )
    .await
    .unwrap();
    assert!(h.item("alice", 9).await.is_some());
    denied(
        h.call(
            &alice,
            Operation::BatchWriteItem,
            json!({"RequestItems": {"Tab": [put("alice"), put("bob")]}}),
        )
        .await,
    );
    assert!(h.item("bob", 9).await.is_none());

    // A transaction asks for each action under its own name (PutItem, UpdateItem) with
    // its own key, so one item of another user's refuses the whole transaction.
    let tx = |pk: &str| {
        json!({"TransactItems": [
            {"Put": {"TableName": "Tab", "Item": {"pk": {"S": "alice"}, "sk": {"N": "5"}}}},
            {"Update": {"TableName": "Tab", "Key": key(pk, 1), "UpdateExpression": "SET shown = :v",
                        "ExpressionAttributeValues": {":v": {"S": "t"}}}}
        ]})
    };
    h.call(&alice, Operation::TransactWriteItems, tx("alice"))
        .await
        .unwrap();
    assert!(h.item("alice", 5).await.is_some());
    h.call(
        &root(),
        Operation::DeleteItem,
        json!({"TableName": "Tab", "Key": key("alice", 5)}),
    )
    .await
    .unwrap();
    denied(
        h.call(&alice, Operation::TransactWriteItems, tx("bob"))
            .await,
    );
    assert!(h.item("alice", 5).await.is_none());
    assert_eq!(h.item("bob", 1).await.unwrap()["shown"], json!({"S": "p"}));
}

/// The developer guide's attribute-level example: only some attributes, and only with
/// `Select = SPECIFIC_ATTRIBUTES` (a read without a projection is refused).
#[tokio::test]
async fn attributes_limit_what_a_user_reads_and_writes() {
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        "Resource": [TABLE_ARN, format!("{TABLE_ARN}/index/*")],
        "Condition": {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "shown"]},
            "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
        }
    }]});
    let h = Harness::new(&[("erin", policy)]).await;
    let erin = user("erin");
    let get = |projection: Option<&str>| {
        let mut body = json!({"TableName": "Tab", "Key": key("alice", 1)});
        if let Some(p) = projection {
            body["ProjectionExpression"] = json!(p);
        }
        body
    };
    let out = h
        .call(&erin, Operation::GetItem, get(Some("pk, shown")))
        .await
        .unwrap();
    assert_eq!(
        out["Item"],
        json!({"pk": {"S": "alice"}, "shown": {"S": "p"}})
    );
    denied(
        h.call(&erin, Operation::GetItem, get(Some("pk, secret")))
            .await,
    );
    denied(h.call(&erin, Operation::GetItem, get(None)).await);

    let put = |extra: &str| json!({"TableName": "Tab", "Item": {"pk": {"S": "erin"}, "sk": {"N": "1"}, extra: {"S": "v"}}});
    h.call(&erin, Operation::PutItem, put("shown"))
        .await
        .unwrap();
    denied(h.call(&erin, Operation::PutItem, put("secret")).await);
    let update = |attr: &str| {
        json!({"TableName": "Tab", "Key": key("erin", 1), "UpdateExpression": "SET #a = :v",
               "ExpressionAttributeNames": {"#a": attr}, "ExpressionAttributeValues": {":v": {"S": "u"}}})
    };
    h.call(&erin, Operation::UpdateItem, update("shown"))
        .await
        .unwrap();
    denied(h.call(&erin, Operation::UpdateItem, update("secret")).await);
    assert_eq!(h.item("erin", 1).await.unwrap().get("secret"), None);

    // Query on an index asks for the index ARN.
    let q = json!({"TableName": "Tab", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
                   "ExpressionAttributeValues": {":g": {"S": "x"}}, "ProjectionExpression": "pk, shown"});
    let out = h.call(&erin, Operation::Query, q).await.unwrap();
    assert_eq!(out["Count"], json!(3));
}

#[tokio::test]
async fn queries_on_an_index_ask_for_the_index_arn() {
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "dynamodb:Query", "Resource": TABLE_ARN}]});
    let h = Harness::new(&[("fay", policy)]).await;
    let q = json!({"TableName": "Tab", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
                   "ExpressionAttributeValues": {":g": {"S": "x"}}});
    let message = denied(h.call(&user("fay"), Operation::Query, q).await);
    assert!(
        message.contains(&format!("on resource: {TABLE_ARN}/index/by_g because")),
        "{message}"
    );
}

#[tokio::test]
async fn resource_policies_are_stored_and_evaluated_with_identity_policies() {
    let h = Harness::new(&[]).await;
    let gus = user("gus");
    let get = json!({"TableName": "Tab", "Key": key("alice", 1)});
    denied(h.call(&gus, Operation::GetItem, get.clone()).await);

    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "gus reads", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/gus"},
        "Action": "dynamodb:GetItem", "Resource": TABLE_ARN}]})
    .to_string();
    let put = h
        .call(
            &root(),
            Operation::PutResourcePolicy,
            json!({"ResourceArn": TABLE_ARN, "Policy": policy}),
        )
        .await
        .unwrap();
    let revision = put["RevisionId"].as_str().unwrap().to_owned();
    // The same document again keeps its revision.
    let again = h
        .call(
            &root(),
            Operation::PutResourcePolicy,
            json!({"ResourceArn": TABLE_ARN, "Policy": policy}),
        )
        .await
        .unwrap();
    assert_eq!(again["RevisionId"], json!(revision));
    let got = h
        .call(
            &root(),
            Operation::GetResourcePolicy,
            json!({"ResourceArn": TABLE_ARN}),
        )
        .await
        .unwrap();
    assert_eq!(got, json!({"Policy": policy, "RevisionId": revision}));

    // Same account: the resource policy naming gus is enough.
    h.call(&gus, Operation::GetItem, get.clone()).await.unwrap();
    denied(
        h.call(&gus, Operation::Scan, json!({"TableName": "Tab"}))
            .await,
    );

    // A wrong ExpectedRevisionId changes nothing.
    let wrong = h
        .call(
            &root(),
            Operation::DeleteResourcePolicy,
            json!({"ResourceArn": TABLE_ARN, "ExpectedRevisionId": "1"}),
        )
        .await;
    assert!(
        matches!(wrong, Err(DynamoError::PolicyNotFound(_))),
        "{wrong:?}"
    );
    let no_policy = h
        .call(
            &root(),
            Operation::PutResourcePolicy,
            json!({"ResourceArn": TABLE_ARN, "Policy": policy, "ExpectedRevisionId": "NO_POLICY"}),
        )
        .await;
    assert!(
        matches!(no_policy, Err(DynamoError::PolicyNotFound(_))),
        "{no_policy:?}"
    );

    // An identity policy's deny still wins over the resource policy's allow.
    let bad = h
        .call(
            &root(),
            Operation::PutResourcePolicy,
            json!({"ResourceArn": TABLE_ARN, "Policy": "{\"Statement\": []"}),
        )
        .await;
    match bad {
        Err(e @ DynamoError::Validation(_)) => assert_eq!(
            e.message(),
            "One or more parameter values were invalid: Invalid policy document: Syntax errors in policy."
        ),
        other => panic!("{other:?}"),
    }
    let no_principal = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]});
    let bad = h
        .call(
            &root(),
            Operation::PutResourcePolicy,
            json!({"ResourceArn": TABLE_ARN, "Policy": no_principal.to_string()}),
        )
        .await;
    assert!(matches!(bad, Err(DynamoError::Validation(_))), "{bad:?}");

    let deleted = h
        .call(
            &root(),
            Operation::DeleteResourcePolicy,
            json!({"ResourceArn": TABLE_ARN, "ExpectedRevisionId": revision}),
        )
        .await
        .unwrap();
    assert_eq!(deleted["RevisionId"], json!(revision));
    denied(h.call(&gus, Operation::GetItem, get).await);
    let gone = h
        .call(
            &root(),
            Operation::GetResourcePolicy,
            json!({"ResourceArn": TABLE_ARN}),
        )
        .await;
    match gone {
        Err(e @ DynamoError::PolicyNotFound(_)) => assert_eq!(
            e.message(),
            format!("Resource-based policy not found for the provided ResourceArn: {TABLE_ARN}")
        ),
        other => panic!("{other:?}"),
    }

    // A resource policy's Deny binds even the root.
    let deny_root = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "dynamodb:DeleteTable", "Resource": TABLE_ARN}]});
    h.call(
        &root(),
        Operation::PutResourcePolicy,
        json!({"ResourceArn": TABLE_ARN, "Policy": deny_root.to_string()}),
    )
    .await
    .unwrap();
    let message = denied(
        h.call(&root(), Operation::DeleteTable, json!({"TableName": "Tab"}))
            .await,
    );
    assert!(
        message.ends_with("with an explicit deny in a resource-based policy"),
        "{message}"
    );
    assert!(h.item("alice", 1).await.is_some());
}
