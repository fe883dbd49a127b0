//! Crash safety: clients write (single items and transactions over two tables) while
//! the server is killed with SIGKILL at a random moment; after a restart every
//! acknowledged write is there, and no transaction is half applied.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, Put, ScalarAttributeType, TransactWriteItem, Update,
};
use common::Server;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

async fn create(c: &aws_sdk_dynamodb::Client, name: &str) {
    c.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .send()
        .await
        .unwrap();
}

/// A pseudo-random number from the clock (no extra dependency needed).
fn jitter_ms(lo: u64, hi: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    lo + nanos % (hi - lo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let rounds: usize = std::env::var("SEALDB_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    {
        let mut server = Server::start_on(&dir);
        let c = server.client();
        create(&c, "items").await;
        create(&c, "ledger").await;
        c.put_item()
            .table_name("items")
            .item("pk", s("counter"))
            .item("n", AttributeValue::N("0".into()))
            .send()
            .await
            .unwrap();
        server.stop();
    }
    let acked_puts = Arc::new(Mutex::new(Vec::<String>::new()));
    let acked_tx = Arc::new(Mutex::new(Vec::<String>::new()));
    for round in 0..rounds {
        let server = Server::start_on(&dir);
        let c = server.client();
        let mut writers = Vec::new();
        for w in 0..4 {
            let c = c.clone();
            let acked_puts = Arc::clone(&acked_puts);
            let acked_tx = Arc::clone(&acked_tx);
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let id = format!("r{round}-w{w}-{i}");
                    if i % 2 == 0 {
                        let r = c
                            .put_item()
                            .table_name("items")
                            .item("pk", s(&id))
                            .item("v", s(&format!("value-{id}")))
                            .send()
                            .await;
                        match r {
                            Ok(_) => acked_puts.lock().unwrap().push(id),
                            Err(_) => break,
                        }
                    } else {
                        let r = c
                            .transact_write_items()
                            .transact_items(
                                TransactWriteItem::builder()
                                    .put(
                                        Put::builder()
                                            .table_name("ledger")
                                            .item("pk", s(&id))
                                            .build()
                                            .unwrap(),
                                    )
                                    .build(),
                            )
                            .transact_items(
                                TransactWriteItem::builder()
                                    .update(
                                        Update::builder()
                                            .table_name("items")
                                            .key("pk", s("counter"))
                                            .update_expression("ADD n :one")
                                            .expression_attribute_values(
                                                ":one",
                                                AttributeValue::N("1".into()),
                                            )
                                            .build()
                                            .unwrap(),
                                    )
                                    .build(),
                            )
                            .send()
                            .await;
                        match r {
                            Ok(_) => acked_tx.lock().unwrap().push(id),
                            Err(_) => break,
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(jitter_ms(300, 1500))).await;
        // SIGKILL: no chance to flush anything.
        drop(server);
        for w in writers {
            let _ = tokio::time::timeout(Duration::from_secs(60), w).await;
        }
    }
    let server = Server::start_on(&dir);
    let c = server.client();
    let puts = acked_puts.lock().unwrap().clone();
    let txs = acked_tx.lock().unwrap().clone();
    assert!(
        !puts.is_empty() && !txs.is_empty(),
        "the writers made no progress"
    );
    for id in &puts {
        let got = c
            .get_item()
            .table_name("items")
            .key("pk", s(id))
            .send()
            .await
            .unwrap();
        let item = got
            .item()
            .unwrap_or_else(|| panic!("acknowledged put {id} lost"));
        assert_eq!(item["v"], s(&format!("value-{id}")));
    }
    let mut ledger = HashSet::new();
    let mut pages = c.scan().table_name("ledger").into_paginator().send();
    while let Some(p) = pages.next().await {
        for item in p.unwrap().items() {
            let AttributeValue::S(pk) = &item["pk"] else {
                panic!()
            };
            ledger.insert(pk.clone());
        }
    }
    for id in &txs {
        assert!(ledger.contains(id), "acknowledged transaction {id} lost");
    }
    // Every ledger entry (acknowledged or not) came with exactly one increment.
    let counter = c
        .get_item()
        .table_name("items")
        .key("pk", s("counter"))
        .send()
        .await
        .unwrap();
    let AttributeValue::N(n) = &counter.item().unwrap()["n"] else {
        panic!()
    };
    assert_eq!(
        n.parse::<usize>().unwrap(),
        ledger.len(),
        "a transaction was half applied"
    );
    eprintln!(
        "crash test: {rounds} kills, {} puts and {} transactions acknowledged, all present",
        puts.len(),
        txs.len()
    );
}
