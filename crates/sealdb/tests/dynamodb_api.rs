//! The DynamoDB API through aws-sdk-dynamodb against a real server.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, ProvisionedThroughput, ReturnValue, ScalarAttributeType,
};
use common::Server;
use std::collections::HashMap;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.to_owned())
}

async fn create_pk_sk_table(c: &aws_sdk_dynamodb::Client, name: &str) {
    c.create_table()
        .table_name(name)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(common::attr_def("sk", ScalarAttributeType::N))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .key_schema(common::key_elem("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

#[tokio::test]
async fn table_lifecycle() {
    let server = Server::start();
    let c = server.client();
    create_pk_sk_table(&c, "lifecycle").await;

    let desc = c
        .describe_table()
        .table_name("lifecycle")
        .send()
        .await
        .unwrap();
    let t = desc.table().unwrap();
    assert_eq!(t.table_name(), Some("lifecycle"));
    assert_eq!(t.table_status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(
        t.table_arn(),
        Some("arn:aws:dynamodb:us-east-1:000000000000:table/lifecycle")
    );
    assert_eq!(t.item_count(), Some(0));
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );

    let err = c
        .create_table()
        .table_name("lifecycle")
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceInUseException"));

    let list = c.list_tables().send().await.unwrap();
    assert_eq!(list.table_names(), ["lifecycle".to_owned()]);

    c.delete_table()
        .table_name("lifecycle")
        .send()
        .await
        .unwrap();
    let err = c
        .describe_table()
        .table_name("lifecycle")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        err.message(),
        Some("Requested resource not found: Table: lifecycle not found")
    );
}

#[tokio::test]
async fn items_round_trip_and_conditions() {
    let server = Server::start();
    let c = server.client();
    create_pk_sk_table(&c, "items").await;

    let mut item = HashMap::new();
    item.insert("pk".to_owned(), s("user#1"));
    item.insert("sk".to_owned(), n("1"));
    item.insert("name".to_owned(), s("Ada"));
    item.insert("score".to_owned(), n("10.50"));
    item.insert(
        "tags".to_owned(),
        AttributeValue::Ss(vec!["a".into(), "b".into()]),
    );
    item.insert(
        "blob".to_owned(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![0, 255, 7])),
    );
    c.put_item()
        .table_name("items")
        .set_item(Some(item))
        .send()
        .await
        .unwrap();

    let key = HashMap::from([("pk".to_owned(), s("user#1")), ("sk".to_owned(), n("1"))]);
    let got = c
        .get_item()
        .table_name("items")
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let got = got.item().unwrap();
    assert_eq!(got.get("name"), Some(&s("Ada")));
    // Numbers come back in canonical form.
    assert_eq!(got.get("score"), Some(&n("10.5")));

    // A failing condition changes nothing and says so.
    let err = c
        .put_item()
        .table_name("items")
        .item("pk", s("user#1"))
        .item("sk", n("1"))
        .item("name", s("Eve"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ConditionalCheckFailedException"));
    assert_eq!(err.message(), Some("The conditional request failed"));

    // Exact arithmetic in updates.
    let out = c
        .update_item()
        .table_name("items")
        .set_key(Some(key.clone()))
        .update_expression("SET score = score + :d, #n = :n ADD visits :one")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":d", n("0.2"))
        .expression_attribute_values(":n", s("Ada L."))
        .expression_attribute_values(":one", n("1"))
        .condition_expression("score > :min")
        .expression_attribute_values(":min", n("10"))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().unwrap();
    assert_eq!(attrs.get("score"), Some(&n("10.7")));
    assert_eq!(attrs.get("visits"), Some(&n("1")));
    assert!(!attrs.contains_key("tags"));

    let old = c
        .delete_item()
        .table_name("items")
        .set_key(Some(key.clone()))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(old.attributes().unwrap().get("name"), Some(&s("Ada L.")));
    let gone = c
        .get_item()
        .table_name("items")
        .set_key(Some(key))
        .send()
        .await
        .unwrap();
    assert!(gone.item().is_none());
}

#[tokio::test]
async fn bad_input_gets_aws_errors() {
    let server = Server::start();
    let c = server.client();
    create_pk_sk_table(&c, "bad").await;

    let err = c
        .put_item()
        .table_name("bad")
        .item("pk", n("1"))
        .item("sk", n("1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(
        err.message(),
        Some(
            "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"
        )
    );

    let err = c
        .update_item()
        .table_name("bad")
        .key("pk", s("a"))
        .key("sk", n("1"))
        .update_expression("SET a = ")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(
        err.message()
            .unwrap()
            .starts_with("Invalid UpdateExpression: Syntax error; token: \"<EOF>\""),
        "{:?}",
        err.message()
    );

    let err = c
        .get_item()
        .table_name("nope")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));

    let big = "x".repeat(400 * 1024);
    let err = c
        .put_item()
        .table_name("bad")
        .item("pk", s("a"))
        .item("sk", n("1"))
        .item("big", s(&big))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        Some("Item size has exceeded the maximum allowed size")
    );
    // Nothing was written by the failed requests.
    let got = c
        .get_item()
        .table_name("bad")
        .key("pk", s("a"))
        .key("sk", n("1"))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn wrong_secret_and_unknown_key_are_refused() {
    let server = Server::start();
    let bad = common::client_with(&server.endpoint, common::ACCESS_KEY, "wrong-secret");
    let err = bad.list_tables().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    let unknown = common::client_with(&server.endpoint, "AKIDUNKNOWN", "whatever");
    let err = unknown.list_tables().send().await.unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"));
    assert_eq!(
        err.message(),
        Some("The security token included in the request is invalid.")
    );
}

#[tokio::test]
async fn data_survives_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    {
        let mut server = Server::start_on(&dir);
        let c = server.client();
        create_pk_sk_table(&c, "durable").await;
        for i in 0..20 {
            c.put_item()
                .table_name("durable")
                .item("pk", s(&format!("k{i}")))
                .item("sk", n(&i.to_string()))
                .item("v", n(&(i * 3).to_string()))
                .send()
                .await
                .unwrap();
        }
        server.stop();
    }
    let server = Server::start_on(&dir);
    let c = server.client();
    for i in 0..20 {
        let got = c
            .get_item()
            .table_name("durable")
            .key("pk", s(&format!("k{i}")))
            .key("sk", n(&i.to_string()))
            .send()
            .await
            .unwrap();
        assert_eq!(got.item().unwrap().get("v"), Some(&n(&(i * 3).to_string())));
    }
    let desc = c
        .describe_table()
        .table_name("durable")
        .send()
        .await
        .unwrap();
    assert_eq!(desc.table().unwrap().item_count(), Some(20));
}
