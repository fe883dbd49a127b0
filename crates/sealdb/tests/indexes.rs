//! Secondary indexes and transaction isolation through aws-sdk-dynamodb: GSIs and LSIs at
//! CreateTable, a GSI added online and backfilled while the table is in use, index
//! queries, index key type checks, ClientRequestToken idempotency, and TransactGetItems
//! never seeing a transaction half applied.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction, Get, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType, TransactGetItem, TransactWriteItem, Update,
};
use common::Server;
use std::time::Duration;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[tokio::test]
async fn gsi_and_lsi_queries_and_type_checks() {
    let server = Server::start();
    let c = server.client();
    c.create_table()
        .table_name("orders")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("customer", ScalarAttributeType::S))
        .attribute_definitions(common::attr_def("order", ScalarAttributeType::N))
        .attribute_definitions(common::attr_def("status", ScalarAttributeType::S))
        .attribute_definitions(common::attr_def("amount", ScalarAttributeType::N))
        .key_schema(common::key_elem("customer", KeyType::Hash))
        .key_schema(common::key_elem("order", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_status")
                .key_schema(common::key_elem("status", KeyType::Hash))
                .key_schema(common::key_elem("amount", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by_amount")
                .key_schema(common::key_elem("customer", KeyType::Hash))
                .key_schema(common::key_elem("amount", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("note")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for (cust, order, status, total) in [
        ("ann", 1, Some("open"), 30),
        ("ann", 2, Some("shipped"), 10),
        ("ann", 3, Some("open"), 20),
        ("bob", 1, Some("open"), 5),
        ("bob", 2, None, 50),
    ] {
        let mut req = c
            .put_item()
            .table_name("orders")
            .item("customer", s(cust))
            .item("order", n(order))
            .item("amount", n(total))
            .item("note", s("n"))
            .item("secret", s("not projected"));
        if let Some(st) = status {
            req = req.item("status", s(st));
        }
        req.send().await.unwrap();
    }
    // GSI: sparse (bob's order 2 has no status), sorted by total, keys only.
    let out = c
        .query()
        .table_name("orders")
        .index_name("by_status")
        .key_condition_expression("#s = :o AND amount > :min")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":o", s("open"))
        .expression_attribute_values(":min", n(6))
        .send()
        .await
        .unwrap();
    let totals: Vec<_> = out.items().iter().map(|i| i["amount"].clone()).collect();
    assert_eq!(totals, vec![n(20), n(30)]);
    assert!(
        out.items()
            .iter()
            .all(|i| !i.contains_key("secret") && i.contains_key("order"))
    );
    let desc = c
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .unwrap();
    let gsi = &desc.table().unwrap().global_secondary_indexes()[0];
    assert_eq!(gsi.item_count(), Some(4));
    assert_eq!(gsi.index_status(), Some(&IndexStatus::Active));
    // LSI: one customer's orders by total, descending, with the included attribute.
    let out = c
        .query()
        .table_name("orders")
        .index_name("by_amount")
        .key_condition_expression("customer = :c")
        .expression_attribute_values(":c", s("ann"))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    let orders: Vec<_> = out.items().iter().map(|i| i["order"].clone()).collect();
    assert_eq!(orders, vec![n(1), n(3), n(2)]);
    assert!(out.items()[0].contains_key("note") && !out.items()[0].contains_key("secret"));
    // Updating the index key moves the entry.
    c.update_item()
        .table_name("orders")
        .key("customer", s("ann"))
        .key("order", n(1))
        .update_expression("SET #s = :x")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":x", s("shipped"))
        .send()
        .await
        .unwrap();
    let out = c
        .query()
        .table_name("orders")
        .index_name("by_status")
        .key_condition_expression("#s = :x")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":x", s("shipped"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 2);
    // A wrongly typed index key is refused and changes nothing.
    let err = c
        .put_item()
        .table_name("orders")
        .item("customer", s("cat"))
        .item("order", n(1))
        .item("status", n(7))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(
        err.message()
            .unwrap()
            .contains("Type mismatch for Index Key status")
    );
    // Consistent reads on a GSI are refused.
    let err = c
        .query()
        .table_name("orders")
        .index_name("by_status")
        .key_condition_expression("#s = :o")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":o", s("open"))
        .consistent_read(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        Some("Consistent reads are not supported on global secondary indexes")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gsi_created_online_is_backfilled_while_writes_continue() {
    let server = Server::start();
    let c = server.client();
    c.create_table()
        .table_name("events")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("id", ScalarAttributeType::S))
        .key_schema(common::key_elem("id", KeyType::Hash))
        .send()
        .await
        .unwrap();
    for i in 0..2000 {
        c.put_item()
            .table_name("events")
            .item("id", s(&format!("e{i}")))
            .item("kind", s(if i % 2 == 0 { "even" } else { "odd" }))
            .send()
            .await
            .unwrap();
    }
    c.update_table()
        .table_name("events")
        .attribute_definitions(common::attr_def("kind", ScalarAttributeType::S))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by_kind")
                        .key_schema(common::key_elem("kind", KeyType::Hash))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // Writes during the backfill land in the index too.
    for i in 2000..2100 {
        c.put_item()
            .table_name("events")
            .item("id", s(&format!("e{i}")))
            .item("kind", s("even"))
            .send()
            .await
            .unwrap();
    }
    let mut active = false;
    for _ in 0..200 {
        let d = c
            .describe_table()
            .table_name("events")
            .send()
            .await
            .unwrap();
        if d.table().unwrap().global_secondary_indexes()[0].index_status()
            == Some(&IndexStatus::Active)
        {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(active, "the index never became ACTIVE");
    let mut count = 0;
    let mut pages = c
        .query()
        .table_name("events")
        .index_name("by_kind")
        .key_condition_expression("kind = :k")
        .expression_attribute_values(":k", s("even"))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        count += p.unwrap().count();
    }
    assert_eq!(count, 1100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transact_get_never_sees_half_a_transaction_and_tokens_are_idempotent() {
    let server = Server::start();
    let c = server.client();
    for t in ["left", "right"] {
        c.create_table()
            .table_name(t)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(common::attr_def("id", ScalarAttributeType::S))
            .key_schema(common::key_elem("id", KeyType::Hash))
            .send()
            .await
            .unwrap();
        c.put_item()
            .table_name(t)
            .item("id", s("x"))
            .item("v", n(0))
            .send()
            .await
            .unwrap();
    }
    let bump = |t: &str| {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(t)
                    .key("id", s("x"))
                    .update_expression("ADD v :one")
                    .expression_attribute_values(":one", n(1))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let writer = {
        let c = c.clone();
        tokio::spawn(async move {
            for _ in 0..150 {
                c.transact_write_items()
                    .transact_items(bump("left"))
                    .transact_items(bump("right"))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let get = |t: &str| {
        TransactGetItem::builder()
            .get(
                Get::builder()
                    .table_name(t)
                    .key("id", s("x"))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let mut reads = 0;
    while !writer.is_finished() {
        let out = c
            .transact_get_items()
            .transact_items(get("left"))
            .transact_items(get("right"))
            .send()
            .await
            .unwrap();
        let r = out.responses();
        assert_eq!(
            r[0].item().unwrap()["v"],
            r[1].item().unwrap()["v"],
            "saw half a transaction"
        );
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 0);

    // The same token and request: applied once. The same token, another request: refused.
    for _ in 0..2 {
        c.transact_write_items()
            .client_request_token("token-1")
            .transact_items(bump("left"))
            .send()
            .await
            .unwrap();
    }
    let v = c
        .get_item()
        .table_name("left")
        .key("id", s("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(v.item().unwrap()["v"], n(151));
    let err = c
        .transact_write_items()
        .client_request_token("token-1")
        .transact_items(bump("right"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("IdempotentParameterMismatchException"));
}
