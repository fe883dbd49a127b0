//! A table of 100,000 items: Scan (whole and in parallel segments) and Query page
//! through it with every item exactly once, in order.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, PutRequest, ScalarAttributeType, WriteRequest,
};
use common::Server;
use std::collections::HashSet;

const ITEMS: usize = 100_000;
/// Items of the one large partition that Query pages through.
const BIG_PARTITION: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_items_page_exactly_once() {
    let server = Server::start();
    let c = server.client();
    c.create_table()
        .table_name("large")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(common::attr_def("sk", ScalarAttributeType::N))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .key_schema(common::key_elem("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    // Item i: the first BIG_PARTITION items share one partition, the rest have ten per partition.
    let item_key = |i: usize| -> (String, i64) {
        if i < BIG_PARTITION {
            ("big".to_owned(), i64::try_from(i).unwrap() - 5000)
        } else {
            (format!("p{}", i / 10), i64::try_from(i % 10).unwrap())
        }
    };
    let mut writers = Vec::new();
    for w in 0..4usize {
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            let mut i = w * 25;
            while i < ITEMS {
                let reqs: Vec<WriteRequest> = (i..(i + 25).min(ITEMS))
                    .map(|j| {
                        let (pk, sk) = item_key(j);
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .item("pk", AttributeValue::S(pk))
                                    .item("sk", AttributeValue::N(sk.to_string()))
                                    .item("payload", AttributeValue::S("x".repeat(64)))
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                    })
                    .collect();
                let out = c
                    .batch_write_item()
                    .request_items("large", reqs)
                    .send()
                    .await
                    .unwrap();
                assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
                i += 100;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let desc = c.describe_table().table_name("large").send().await.unwrap();
    assert_eq!(
        desc.table().unwrap().item_count(),
        Some(i64::try_from(ITEMS).unwrap())
    );

    // Whole-table Scan through the paginator: every item once; pages stop at 1 MB.
    let mut seen = HashSet::with_capacity(ITEMS);
    let mut pages = 0;
    let mut stream = c.scan().table_name("large").into_paginator().send();
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        pages += 1;
        for item in page.items() {
            let AttributeValue::S(pk) = &item["pk"] else {
                panic!()
            };
            let AttributeValue::N(sk) = &item["sk"] else {
                panic!()
            };
            assert!(seen.insert((pk.clone(), sk.clone())), "duplicate {pk}/{sk}");
        }
    }
    assert_eq!(seen.len(), ITEMS);
    assert!(
        pages > 5,
        "a 100,000-item scan should take several 1 MB pages, took {pages}"
    );

    // Parallel scan: four segments, disjoint, together everything.
    let mut union = HashSet::with_capacity(ITEMS);
    for seg in 0..4 {
        let mut stream = c
            .scan()
            .table_name("large")
            .segment(seg)
            .total_segments(4)
            .into_paginator()
            .send();
        while let Some(page) = stream.next().await {
            for item in page.unwrap().items() {
                let AttributeValue::S(pk) = &item["pk"] else {
                    panic!()
                };
                let AttributeValue::N(sk) = &item["sk"] else {
                    panic!()
                };
                assert!(union.insert((pk.clone(), sk.clone())));
            }
        }
    }
    assert_eq!(union.len(), ITEMS);

    // Query the big partition in pages of 777, in sort-key order (numbers by value).
    let mut sks = Vec::with_capacity(BIG_PARTITION);
    let mut stream = c
        .query()
        .table_name("large")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::S("big".into()))
        .limit(777)
        .into_paginator()
        .send();
    while let Some(page) = stream.next().await {
        for item in page.unwrap().items() {
            let AttributeValue::N(sk) = &item["sk"] else {
                panic!()
            };
            sks.push(sk.parse::<i64>().unwrap());
        }
    }
    let expected: Vec<i64> = (0..BIG_PARTITION)
        .map(|i| i64::try_from(i).unwrap() - 5000)
        .collect();
    assert_eq!(sks, expected);
}
