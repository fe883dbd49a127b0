//! Query, Scan, batches and transactions through aws-sdk-dynamodb.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, ConditionCheck, Get, KeyType, KeysAndAttributes, Put, PutRequest,
    ScalarAttributeType, TransactGetItem, TransactWriteItem, Update, WriteRequest,
};
use common::Server;
use std::collections::{HashMap, HashSet};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

async fn create(c: &aws_sdk_dynamodb::Client, name: &str, sort: Option<ScalarAttributeType>) {
    let mut req = c
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash));
    if let Some(t) = sort {
        req = req
            .attribute_definitions(common::attr_def("sk", t))
            .key_schema(common::key_elem("sk", KeyType::Range));
    }
    req.send().await.unwrap();
}

async fn batch_put(
    c: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<HashMap<String, AttributeValue>>,
) {
    for chunk in items.chunks(25) {
        let reqs: Vec<WriteRequest> = chunk
            .iter()
            .map(|i| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(i.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let out = c
            .batch_write_item()
            .request_items(table, reqs)
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }
}

#[tokio::test]
async fn scan_pages_and_segments_see_every_item_once() {
    let server = Server::start();
    let c = server.client();
    create(&c, "scanned", None).await;
    let items: Vec<_> = (0..500)
        .map(|i| {
            HashMap::from([
                ("pk".to_owned(), s(&format!("item-{i}"))),
                ("v".to_owned(), n(i)),
            ])
        })
        .collect();
    batch_put(&c, "scanned", items).await;

    // Paginate with a small Limit through the SDK paginator.
    let pages: Vec<_> = c
        .scan()
        .table_name("scanned")
        .limit(37)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let mut seen = HashSet::new();
    for p in pages {
        for item in p.unwrap().items() {
            let AttributeValue::S(pk) = &item["pk"] else {
                panic!()
            };
            assert!(seen.insert(pk.clone()), "duplicate {pk}");
        }
    }
    assert_eq!(seen.len(), 500);

    // Four segments: disjoint, and together everything.
    let mut union = HashSet::new();
    for seg in 0..4 {
        let out = c
            .scan()
            .table_name("scanned")
            .segment(seg)
            .total_segments(4)
            .send()
            .await
            .unwrap();
        for item in out.items() {
            let AttributeValue::S(pk) = &item["pk"] else {
                panic!()
            };
            assert!(union.insert(pk.clone()));
        }
    }
    assert_eq!(union.len(), 500);

    // A filter is applied after the page is read.
    let out = c
        .scan()
        .table_name("scanned")
        .filter_expression("v < :ten")
        .expression_attribute_values(":ten", n(10))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 10);
    assert_eq!(out.scanned_count(), 500);
}

#[tokio::test]
async fn query_orders_by_sort_key_and_pages() {
    let server = Server::start();
    let c = server.client();
    create(&c, "qtab", Some(ScalarAttributeType::N)).await;
    let mut items = Vec::new();
    for i in [-5, 100, 3, 20, 7, 0, 1000, -100] {
        items.push(HashMap::from([
            ("pk".to_owned(), s("p")),
            ("sk".to_owned(), n(i)),
        ]));
    }
    items.push(HashMap::from([
        ("pk".to_owned(), s("other")),
        ("sk".to_owned(), n(1)),
    ]));
    batch_put(&c, "qtab", items).await;

    let sks = |items: &[HashMap<String, AttributeValue>]| -> Vec<String> {
        items
            .iter()
            .map(|i| match &i["sk"] {
                AttributeValue::N(v) => v.clone(),
                _ => panic!(),
            })
            .collect()
    };
    let out = c
        .query()
        .table_name("qtab")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sks(out.items()),
        ["-100", "-5", "0", "3", "7", "20", "100", "1000"]
    );

    let out = c
        .query()
        .table_name("qtab")
        .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", n(0))
        .expression_attribute_values(":b", n(100))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(sks(out.items()), ["100", "20", "7", "3", "0"]);

    // Page two at a time, backwards, through the paginator.
    let mut all = Vec::new();
    let mut pages = c
        .query()
        .table_name("qtab")
        .key_condition_expression("pk = :p AND sk > :a")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", n(-5))
        .scan_index_forward(false)
        .limit(2)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        all.extend(sks(page.unwrap().items()));
    }
    assert_eq!(all, ["1000", "100", "20", "7", "3", "0"]);

    let err = c
        .query()
        .table_name("qtab")
        .key_condition_expression("sk = :a")
        .expression_attribute_values(":a", n(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
}

#[tokio::test]
async fn batch_get_returns_found_items() {
    let server = Server::start();
    let c = server.client();
    create(&c, "bgtab", None).await;
    batch_put(
        &c,
        "bgtab",
        (0..30)
            .map(|i| HashMap::from([("pk".to_owned(), s(&format!("k{i}")))]))
            .collect(),
    )
    .await;
    let keys: Vec<_> = (0..40)
        .map(|i| HashMap::from([("pk".to_owned(), s(&format!("k{i}")))]))
        .collect();
    let out = c
        .batch_get_item()
        .request_items(
            "bgtab",
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.responses().unwrap()["bgtab"].len(), 30);

    let dup = vec![
        HashMap::from([("pk".to_owned(), s("k1"))]),
        HashMap::from([("pk".to_owned(), s("k1"))]),
    ];
    let err = c
        .batch_get_item()
        .request_items(
            "bgtab",
            KeysAndAttributes::builder()
                .set_keys(Some(dup))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        Some("Provided list of item keys contains duplicates")
    );
}

#[tokio::test]
async fn transactions_are_all_or_nothing_across_tables() {
    let server = Server::start();
    let c = server.client();
    create(&c, "acct", None).await;
    create(&c, "ledger", None).await;
    c.put_item()
        .table_name("acct")
        .item("pk", s("alice"))
        .item("bal", n(100))
        .send()
        .await
        .unwrap();

    let debit = |amount: i64| {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name("acct")
                    .key("pk", s("alice"))
                    .update_expression("SET bal = bal - :a")
                    .condition_expression("bal >= :a")
                    .expression_attribute_values(":a", n(amount))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let entry = |id: &str| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name("ledger")
                    .item("pk", s(id))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .unwrap(),
            )
            .build()
    };
    c.transact_write_items()
        .transact_items(debit(60))
        .transact_items(entry("t1"))
        .send()
        .await
        .unwrap();
    // Not enough left: cancelled, and the ledger entry is not written either.
    let err = c
        .transact_write_items()
        .transact_items(entry("t2"))
        .transact_items(debit(60))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TransactionCanceledException"));
    let svc = err.into_service_error();
    let reasons = match svc {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
            e.cancellation_reasons().iter().map(|r| r.code().unwrap_or("").to_owned()).collect::<Vec<_>>()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(reasons, ["None", "ConditionalCheckFailed"]);
    let t2 = c
        .get_item()
        .table_name("ledger")
        .key("pk", s("t2"))
        .send()
        .await
        .unwrap();
    assert!(t2.item().is_none());

    let out = c
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name("acct")
                        .key("pk", s("alice"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name("ledger")
                        .key("pk", s("t1"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = out.responses();
    assert_eq!(r[0].item().unwrap()["bal"], n(40));
    assert!(r[1].item().is_some());

    // A condition check on its own item, and two operations on one item refused.
    let err = c
        .transact_write_items()
        .transact_items(debit(1))
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name("acct")
                        .key("pk", s("alice"))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        Some("Transaction request cannot include multiple operations on one item")
    );
}

#[tokio::test]
async fn concurrent_conditional_increments_are_exact() {
    let server = Server::start();
    let c = server.client();
    create(&c, "counters", None).await;
    c.put_item()
        .table_name("counters")
        .item("pk", s("c"))
        .item("n", n(0))
        .send()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < 25 {
                // Read, then write only if nobody else wrote in between.
                let cur = c
                    .get_item()
                    .table_name("counters")
                    .key("pk", s("c"))
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap();
                let AttributeValue::N(v) = &cur.item().unwrap()["n"] else {
                    panic!()
                };
                let v: i64 = v.parse().unwrap();
                let r = c
                    .update_item()
                    .table_name("counters")
                    .key("pk", s("c"))
                    .update_expression("SET n = :new")
                    .condition_expression("n = :old")
                    .expression_attribute_values(":new", n(v + 1))
                    .expression_attribute_values(":old", n(v))
                    .send()
                    .await;
                if r.is_ok() {
                    done += 1;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cur = c
        .get_item()
        .table_name("counters")
        .key("pk", s("c"))
        .send()
        .await
        .unwrap();
    assert_eq!(cur.item().unwrap()["n"], n(200));
}
