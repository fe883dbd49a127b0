//! The crash test's load, bookkeeping and checks.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod global;
pub mod powercut;

use crate::common::{self, Server};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType,
    StreamSpecification, StreamViewType, TransactWriteItem, Update, WriteRequest,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// What the server acknowledged (and, for updates, what was attempted).
#[derive(Clone, Default)]
pub struct Acked {
    pub puts: Vec<String>,
    pub batch_puts: Vec<String>,
    pub deletes: Vec<String>,
    /// Per writer: updates acknowledged and attempted.
    pub adds: [u64; 4],
    pub add_attempts: [u64; 4],
    pub tx2: Vec<String>,
    pub tx3: Vec<String>,
    /// Acknowledged puts in the global table: (region, id); and the ids deleted again.
    pub global_puts: Vec<(String, String)>,
    pub global_deletes: Vec<String>,
    /// Ids whose delete was sent (acknowledged or not).
    pub global_delete_attempts: Vec<String>,
}

/// A pseudo-random number from the clock (no extra dependency needed).
pub fn jitter_ms(lo: u64, hi: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    lo + nanos % (hi - lo)
}

/// A client that never retries: a request is acknowledged only by its own answer.
pub fn no_retry_client(server: &Server) -> aws_sdk_dynamodb::Client {
    let conf = server
        .client()
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

pub async fn create_table(
    c: &aws_sdk_dynamodb::Client,
    name: &str,
    gsi_on: Option<&str>,
) -> Result<(), String> {
    let mut req = c
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash));
    if let Some(attr) = gsi_on {
        req = req
            .attribute_definitions(common::attr_def(attr, ScalarAttributeType::S))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(format!("by_{attr}"))
                    .key_schema(common::key_elem(attr, KeyType::Hash))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.map(|_| ()).map_err(|e| format!("{e:?}"))
}

/// The tables of the load, a KMS key for key switches; returns the key's ARN.
pub async fn setup(server: &Server) -> String {
    let c = server.client();
    create_table(&c, "items", Some("g")).await.unwrap();
    for t in ["ledger", "t3a", "t3b", "t3c", "backfill"] {
        create_table(&c, t, None).await.unwrap();
    }
    c.put_item()
        .table_name("items")
        .item("pk", s("counter"))
        .item("n", n(0))
        .send()
        .await
        .unwrap();
    for i in 0..300 {
        c.put_item()
            .table_name("backfill")
            .item("pk", s(&format!("b{i}")))
            .item("k", s(&format!("k{}", i % 7)))
            .send()
            .await
            .unwrap();
    }
    let key = server.kms().create_key().send().await.unwrap();
    key.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// Writes a mix until a request fails (the server was killed).
pub async fn write_until_error(
    c: &aws_sdk_dynamodb::Client,
    acked: &Mutex<Acked>,
    round: usize,
    w: usize,
) {
    for i in 0.. {
        let id = format!("r{round}-w{w}-{i}");
        let ok = match i % 6 {
            0 => {
                let r = c
                    .put_item()
                    .table_name("items")
                    .item("pk", s(&id))
                    .item("v", s(&format!("value-{id}")))
                    .item("g", s(&format!("g{}", i % 4)))
                    .send()
                    .await;
                r.is_ok() && {
                    acked.lock().unwrap().puts.push(id);
                    true
                }
            }
            1 => {
                acked.lock().unwrap().add_attempts[w] += 1;
                let r = c
                    .update_item()
                    .table_name("items")
                    .key("pk", s(&format!("cnt-w{w}")))
                    .update_expression("ADD n :one")
                    .expression_attribute_values(":one", n(1))
                    .send()
                    .await;
                r.is_ok() && {
                    acked.lock().unwrap().adds[w] += 1;
                    true
                }
            }
            2 => {
                let del = format!("del-{id}");
                let put = c
                    .put_item()
                    .table_name("items")
                    .item("pk", s(&del))
                    .item("g", s("gdel"))
                    .send()
                    .await;
                put.is_ok()
                    && c.delete_item()
                        .table_name("items")
                        .key("pk", s(&del))
                        .send()
                        .await
                        .is_ok()
                    && {
                        acked.lock().unwrap().deletes.push(del);
                        true
                    }
            }
            3 => {
                let ids: Vec<String> = (0..4).map(|j| format!("batch-{id}-{j}")).collect();
                let requests: Vec<WriteRequest> = ids
                    .iter()
                    .map(|k| {
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .item("pk", s(k))
                                    .item("v", s(&format!("value-{k}")))
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                    })
                    .collect();
                match c
                    .batch_write_item()
                    .request_items("items", requests)
                    .send()
                    .await
                {
                    Ok(out) => {
                        let left: BTreeSet<String> = out
                            .unprocessed_items()
                            .and_then(|u| u.get("items"))
                            .map(|reqs| {
                                reqs.iter()
                                    .filter_map(|r| r.put_request())
                                    .filter_map(|p| p.item().get("pk"))
                                    .filter_map(|v| v.as_s().ok().cloned())
                                    .collect()
                            })
                            .unwrap_or_default();
                        let mut a = acked.lock().unwrap();
                        a.batch_puts
                            .extend(ids.into_iter().filter(|k| !left.contains(k)));
                        true
                    }
                    Err(_) => false,
                }
            }
            4 => {
                // Two tables: a ledger entry and the counter, together.
                let r = c
                    .transact_write_items()
                    .transact_items(put_in("ledger", &id))
                    .transact_items(
                        TransactWriteItem::builder()
                            .update(
                                Update::builder()
                                    .table_name("items")
                                    .key("pk", s("counter"))
                                    .update_expression("ADD n :one")
                                    .expression_attribute_values(":one", n(1))
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .send()
                    .await;
                r.is_ok() && {
                    acked.lock().unwrap().tx2.push(id);
                    true
                }
            }
            _ => {
                let r = c
                    .transact_write_items()
                    .transact_items(put_in("t3a", &id))
                    .transact_items(put_in("t3b", &id))
                    .transact_items(put_in("t3c", &id))
                    .send()
                    .await;
                r.is_ok() && {
                    acked.lock().unwrap().tx3.push(id);
                    true
                }
            }
        };
        if !ok {
            break;
        }
    }
}

fn put_in(table: &str, id: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            aws_sdk_dynamodb::types::Put::builder()
                .table_name(table)
                .item("pk", s(id))
                .build()
                .unwrap(),
        )
        .build()
}

/// Creates the index `by_k` of table `bf` (a backfill of 300 items), or deletes it.
pub async fn toggle_backfill_index(c: &aws_sdk_dynamodb::Client) {
    let Ok(d) = c.describe_table().table_name("backfill").send().await else {
        return;
    };
    let exists = d
        .table()
        .is_some_and(|t| !t.global_secondary_indexes().is_empty());
    let update = if exists {
        GlobalSecondaryIndexUpdate::builder()
            .delete(
                DeleteGlobalSecondaryIndexAction::builder()
                    .index_name("by_k")
                    .build()
                    .unwrap(),
            )
            .build()
    } else {
        GlobalSecondaryIndexUpdate::builder()
            .create(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name("by_k")
                    .key_schema(common::key_elem("k", KeyType::Hash))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let _ = c
        .update_table()
        .table_name("backfill")
        .attribute_definitions(common::attr_def("k", ScalarAttributeType::S))
        .global_secondary_index_updates(update)
        .send()
        .await;
}

/// Starts `sealdb rotate-root-key`, kills it at a random moment, then runs it again to
/// the end (it is documented as safe to repeat).
/// `env` puts both runs under the power-cut layer, and `after_kill` cuts the power.
pub fn kill_then_finish_root_key_rotation(
    dir: &Path,
    env: &[(&str, &str)],
    after_kill: impl FnOnce(),
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["rotate-root-key", "--data-dir"])
        .arg(dir)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(jitter_ms(1, 60)));
    let _ = child.kill();
    let _ = child.wait();
    after_kill();
    let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["rotate-root-key", "--data-dir"])
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rotate-root-key after an interrupted run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every item of a table: pk → item.
pub async fn scan_all(
    c: &aws_sdk_dynamodb::Client,
    table: &str,
    index: Option<&str>,
) -> BTreeMap<String, HashMap<String, AttributeValue>> {
    let mut out = BTreeMap::new();
    let mut req = c.scan().table_name(table).consistent_read(index.is_none());
    if let Some(ix) = index {
        req = req.index_name(ix);
    }
    let mut pages = req.into_paginator().send();
    while let Some(p) = pages.next().await {
        for item in p.unwrap().items() {
            let pk = item["pk"].as_s().unwrap().clone();
            out.insert(pk, item.clone());
        }
    }
    out
}

pub async fn check_items(c: &aws_sdk_dynamodb::Client, acked: &Acked) {
    let items = scan_all(c, "items", None).await;
    for id in acked.puts.iter().chain(&acked.batch_puts) {
        let item = items
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged put {id} lost"));
        assert_eq!(item["v"], s(&format!("value-{id}")), "{id}");
    }
    for id in &acked.deletes {
        assert!(!items.contains_key(id), "acknowledged delete {id} undone");
    }
    for w in 0..4 {
        let got = items
            .get(&format!("cnt-w{w}"))
            .map(|i| i["n"].as_n().unwrap().parse::<u64>().unwrap())
            .unwrap_or(0);
        assert!(
            got >= acked.adds[w] && got <= acked.add_attempts[w],
            "counter of writer {w}: {got}, acknowledged {}, attempted {}",
            acked.adds[w],
            acked.add_attempts[w]
        );
    }
}

pub async fn check_transactions(c: &aws_sdk_dynamodb::Client, acked: &Acked) {
    let ledger = scan_all(c, "ledger", None).await;
    for id in &acked.tx2 {
        assert!(
            ledger.contains_key(id),
            "acknowledged transaction {id} lost"
        );
    }
    let items = scan_all(c, "items", None).await;
    let counter: usize = items["counter"]["n"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        counter,
        ledger.len(),
        "a two-table transaction was half applied"
    );
    let a: BTreeSet<String> = scan_all(c, "t3a", None).await.into_keys().collect();
    let b: BTreeSet<String> = scan_all(c, "t3b", None).await.into_keys().collect();
    let d: BTreeSet<String> = scan_all(c, "t3c", None).await.into_keys().collect();
    assert_eq!(a, b, "a three-table transaction was half applied");
    assert_eq!(a, d, "a three-table transaction was half applied");
    for id in &acked.tx3 {
        assert!(a.contains(id), "acknowledged transaction {id} lost");
    }
}

/// Index `ix` of `table` holds exactly the table's items that have `attr`, with it.
async fn index_agrees(c: &aws_sdk_dynamodb::Client, table: &str, ix: &str, attr: &str) {
    let rows = scan_all(c, table, None).await;
    let expected: BTreeMap<String, AttributeValue> = rows
        .iter()
        .filter_map(|(pk, item)| item.get(attr).map(|v| (pk.clone(), v.clone())))
        .collect();
    let got: BTreeMap<String, AttributeValue> = scan_all(c, table, Some(ix))
        .await
        .into_iter()
        .map(|(pk, item)| (pk, item[attr].clone()))
        .collect();
    assert_eq!(got, expected, "index {ix} of {table} disagrees with it");
}

pub async fn check_indexes(c: &aws_sdk_dynamodb::Client) {
    index_agrees(c, "items", "by_g", "g").await;
    // The backfill index, if it exists, finishes its backfill after the restarts.
    for _ in 0..600 {
        let d = c
            .describe_table()
            .table_name("backfill")
            .send()
            .await
            .unwrap();
        let gsis = d.table().unwrap().global_secondary_indexes().to_vec();
        match gsis.first() {
            None => return,
            Some(g) if g.index_status() == Some(&IndexStatus::Active) => {
                index_agrees(c, "backfill", "by_k", "k").await;
                return;
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("the backfill of by_k never finished");
}

/// One stream record per change of `items`: an INSERT per item ever created, a REMOVE
/// per deleted one, a MODIFY per counter increment, and no record of a change that is
/// not in the table. Read from the table's file itself (the server stopped), through
/// the storage engine, since the Rust SDK for DynamoDB Streams is not among the test
/// dependencies; `items` is the table as the server answered before it stopped.
pub async fn check_stream(
    dir: &Path,
    items: &BTreeMap<String, HashMap<String, AttributeValue>>,
    acked: &Acked,
) {
    let root = sealdb_common::RootKey::load(&dir.join("root.key")).unwrap();
    let vault = std::sync::Arc::new(sealdb_storage::RootKeyVault::new(&root));
    let engine = sealdb_storage::Engine::open(dir, &root, vault).unwrap();
    let store = engine.store(&engine.table("items").unwrap()).await.unwrap();
    let mut events: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut counter_trace: Vec<String> = Vec::new();
    let row_seq = |page: &[(i64, i64, Vec<u8>)], b: &Vec<u8>| {
        page.iter()
            .find(|r| std::ptr::eq(&r.2, b))
            .map_or(0, |r| r.0)
    };
    let mut after = 0;
    loop {
        let page = store
            .stream_read(after, 1000, 0, usize::MAX, 0)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.0;
        for (_, _, bytes) in &page {
            assert_eq!(bytes[0], 1, "stream record version");
            let r: serde_json::Value = serde_json::from_slice(&bytes[1..]).unwrap();
            let pk = r["Keys"]["pk"]["S"].as_str().unwrap().to_owned();
            let ev = r["eventName"].as_str().unwrap().to_owned();
            if pk == "counter" {
                counter_trace.push(format!(
                    "{}:{}:{}",
                    row_seq(&page, bytes),
                    ev,
                    r["NewImage"]["n"]["N"].as_str().unwrap_or("-")
                ));
            }
            events.entry(pk).or_default().push(ev);
        }
    }
    engine.close();
    let count = |pk: &str| -> usize { items[pk]["n"].as_n().unwrap().parse().unwrap() };
    for (pk, evs) in &events {
        let present = items.contains_key(pk);
        match evs
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["INSERT"] => assert!(present, "{pk}: INSERT recorded, item absent"),
            ["INSERT", "REMOVE"] => assert!(!present, "{pk}: REMOVE recorded, item present"),
            ["INSERT", rest @ ..] if rest.iter().all(|e| *e == "MODIFY") => {
                assert!(present, "{pk}: changes recorded, item absent");
                // The counter was created at 0, the writers' counters at 1.
                let created_at = usize::from(pk != "counter");
                assert_eq!(
                    count(pk),
                    rest.len() + created_at,
                    "{pk}: one MODIFY per increment; first records {:?}, records with a repeated value {:?}",
                    &counter_trace[..counter_trace.len().min(5)],
                    repeated(&counter_trace)
                );
            }
            other => panic!("{pk}: stream records {other:?}"),
        }
    }
    for pk in items.keys() {
        if pk != "counter" {
            assert!(events.contains_key(pk), "{pk}: no stream record");
        }
    }
    for id in &acked.deletes {
        assert_eq!(
            events.get(id).map(Vec::len),
            Some(2),
            "{id}: INSERT and REMOVE"
        );
    }
}

/// The records of `seq:event:value` whose value appears more than once.
fn repeated(trace: &[String]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for t in trace {
        *seen.entry(t.rsplit(':').next().unwrap_or("")).or_default() += 1;
    }
    trace
        .iter()
        .filter(|t| seen[t.rsplit(':').next().unwrap_or("")] > 1)
        .cloned()
        .collect()
}

/// Every table reads (its key unwraps, its file opens) and DescribeTable answers.
pub async fn check_every_table_reads(c: &aws_sdk_dynamodb::Client) {
    let mut names = Vec::new();
    let mut pages = c.list_tables().into_paginator().items().send();
    while let Some(n) = pages.next().await {
        names.push(n.unwrap());
    }
    for name in &names {
        c.describe_table().table_name(name).send().await.unwrap();
        // A restore killed half way may still be CREATING: reads then wait for it.
        let mut ok = false;
        for _ in 0..600 {
            if c.scan().table_name(name).limit(1).send().await.is_ok() {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "table {name} does not read");
    }
}

/// Every backup that was acknowledged restores.
pub async fn check_backups_restore(c: &aws_sdk_dynamodb::Client, backups: &[String]) {
    for (i, arn) in backups.iter().enumerate() {
        let name = format!("final-restore-{i}");
        c.restore_table_from_backup()
            .backup_arn(arn)
            .target_table_name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("backup {arn} does not restore: {e:?}"));
        let got = c
            .get_item()
            .table_name(&name)
            .key("pk", s("counter"))
            .send()
            .await
            .unwrap();
        assert!(
            got.item().is_some(),
            "restored backup {arn} lacks the counter"
        );
    }
}
