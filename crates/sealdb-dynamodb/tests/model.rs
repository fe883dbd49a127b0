//! Model test: random sequences of puts, updates, deletes, conditional writes, batches and
//! transactions run against the real service (real SQLCipher files) and against a plain
//! in-memory model. After every step the table, its global and its local secondary index
//! must match the model, and the NEW_AND_OLD_IMAGES stream must hold exactly the step's
//! changes (one record per item changed, none for a write that changed nothing, as AWS).
//! `SEALDB_MODEL_CASES=N` runs N sequences instead of the quick run's 24.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sealdb_common::{Clock, Principal, RootKey, SecretKey32};
use sealdb_dynamodb::{Operation, Service, ServiceConfig};
use sealdb_storage::{Engine, RootKeyVault};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the model keeps of an item: its counter and its optional GSI and LSI keys.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Lite {
    v: Option<i64>,
    g: Option<String>,
    l: Option<i64>,
}

impl Lite {
    fn v(v: i64) -> Lite {
        Lite {
            v: Some(v),
            g: None,
            l: None,
        }
    }
    const EMPTY: Lite = Lite {
        v: None,
        g: None,
        l: None,
    };
}

/// A stream record as the model expects it: event name, key, old and new image.
type Change = (String, (String, i64), Option<Lite>, Option<Lite>);

type Model = BTreeMap<(String, i64), Lite>;

#[derive(Clone, Debug)]
enum Step {
    Put {
        pk: u8,
        sk: u8,
        v: i64,
        g: Option<u8>,
        l: Option<u8>,
    },
    PutIfAbsent {
        pk: u8,
        sk: u8,
        v: i64,
    },
    Add {
        pk: u8,
        sk: u8,
        d: i64,
    },
    SetG {
        pk: u8,
        sk: u8,
        g: Option<u8>,
    },
    SetL {
        pk: u8,
        sk: u8,
        l: Option<u8>,
    },
    Delete {
        pk: u8,
        sk: u8,
    },
    /// DeleteItem if `v >= min`.
    DeleteIfAtLeast {
        pk: u8,
        sk: u8,
        min: i64,
    },
    /// UpdateItem `ADD v :d` if v is absent or below `max`.
    AddIfBelow {
        pk: u8,
        sk: u8,
        d: i64,
        max: i64,
    },
    Batch {
        puts: Vec<(u8, u8, i64)>,
        deletes: Vec<(u8, u8)>,
    },
    Transact {
        a: (u8, u8),
        b: (u8, u8),
        d: i64,
        require_a: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let k = || (0u8..4, 0u8..3);
    prop_oneof![
        (
            k(),
            -50i64..50,
            proptest::option::of(0u8..3),
            proptest::option::of(0u8..3)
        )
            .prop_map(|((pk, sk), v, g, l)| Step::Put { pk, sk, v, g, l }),
        (k(), -50i64..50).prop_map(|((pk, sk), v)| Step::PutIfAbsent { pk, sk, v }),
        (k(), -5i64..5).prop_map(|((pk, sk), d)| Step::Add { pk, sk, d }),
        (k(), proptest::option::of(0u8..3)).prop_map(|((pk, sk), g)| Step::SetG { pk, sk, g }),
        (k(), proptest::option::of(0u8..3)).prop_map(|((pk, sk), l)| Step::SetL { pk, sk, l }),
        k().prop_map(|(pk, sk)| Step::Delete { pk, sk }),
        (k(), -10i64..10).prop_map(|((pk, sk), min)| Step::DeleteIfAtLeast { pk, sk, min }),
        (k(), -3i64..4, -10i64..10).prop_map(|((pk, sk), d, max)| Step::AddIfBelow {
            pk,
            sk,
            d,
            max
        }),
        (
            proptest::collection::vec((0u8..4, 0u8..3, -9i64..9), 0..4),
            proptest::collection::vec((0u8..4, 0u8..3), 0..3)
        )
            .prop_map(|(puts, deletes)| Step::Batch { puts, deletes }),
        (k(), k(), -5i64..5, any::<bool>()).prop_map(|(a, b, d, require_a)| Step::Transact {
            a,
            b,
            d,
            require_a
        }),
    ]
}

fn pk(p: u8) -> String {
    format!("p{p}")
}

fn key(p: u8, s: u8) -> Value {
    json!({"pk": {"S": pk(p)}, "sk": {"N": s.to_string()}})
}

struct Harness {
    svc: Arc<Service>,
    caller: Principal,
    /// Where the next GetRecords of the table's stream starts.
    stream_iterator: std::sync::Mutex<String>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::from_key(SecretKey32::from_bytes([7; 32]));
        let engine =
            Arc::new(Engine::open(dir.path(), &root, Arc::new(RootKeyVault::new(&root))).unwrap());
        let svc = Service::new(
            engine,
            ServiceConfig {
                region: "us-east-1".into(),
                account_id: "000000000000".into(),
                endpoint_address: "localhost".into(),
                clock: Clock::system(),
            },
        )
        .unwrap();
        let h = Harness {
            svc,
            caller: Principal::root("AKID", "000000000000", "us-east-1", "127.0.0.1"),
            stream_iterator: std::sync::Mutex::new(String::new()),
            _dir: dir,
        };
        h.call(
            Operation::CreateTable,
            json!({
                "TableName": "model",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"},
                    {"AttributeName": "g", "AttributeType": "S"},
                    {"AttributeName": "l", "AttributeType": "N"}
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
                "LocalSecondaryIndexes": [{
                    "IndexName": "by_l",
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "l", "KeyType": "RANGE"}
                    ],
                    "Projection": {"ProjectionType": "ALL"}
                }],
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}
            }),
        )
        .await
        .unwrap();
        let desc = h
            .call(Operation::DescribeTable, json!({"TableName": "model"}))
            .await
            .unwrap();
        let arn = desc["Table"]["LatestStreamArn"]
            .as_str()
            .unwrap()
            .to_owned();
        let stream = h.streams("DescribeStream", json!({"StreamArn": arn})).await;
        let shards = stream["StreamDescription"]["Shards"].as_array().unwrap();
        assert_eq!(shards.len(), 1, "{stream}");
        let it = h
            .streams(
                "GetShardIterator",
                json!({"StreamArn": arn, "ShardId": shards[0]["ShardId"],
                       "ShardIteratorType": "TRIM_HORIZON"}),
            )
            .await;
        *h.stream_iterator.lock().unwrap() = it["ShardIterator"].as_str().unwrap().to_owned();
        h
    }

    async fn streams(&self, op: &str, body: Value) -> Value {
        self.svc
            .call_streams(op, &self.caller, body.to_string().as_bytes())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{op}: {}: {}", e.wire_type(), e.message()))
    }

    /// The stream records written since the last call, as the model's changes.
    async fn new_changes(&self) -> Vec<Change> {
        let mut out = Vec::new();
        loop {
            let it = self.stream_iterator.lock().unwrap().clone();
            let page = self
                .streams("GetRecords", json!({"ShardIterator": it}))
                .await;
            // The shard stays open (it rolls over after hours): there is always a next.
            *self.stream_iterator.lock().unwrap() =
                page["NextShardIterator"].as_str().unwrap().to_owned();
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            if records.is_empty() {
                return out;
            }
            for r in records {
                let d = &r["dynamodb"];
                let image = |name: &str| d.get(name).map(|i| lite_of(i).1);
                let key = lite_of(&d["Keys"]).0;
                out.push((
                    r["eventName"].as_str().unwrap().to_owned(),
                    key,
                    image("OldImage"),
                    image("NewImage"),
                ));
            }
        }
    }

    async fn call(&self, op: Operation, body: Value) -> Result<Value, String> {
        self.svc
            .call(op, &self.caller, body.to_string().as_bytes())
            .await
            .map_err(|e| format!("{}: {}", e.wire_type(), e.message()))
    }

    async fn scan_all(&self, index: Option<&str>) -> Vec<Value> {
        let mut out = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut req = json!({"TableName": "model", "Limit": 3});
            if let Some(i) = index {
                req["IndexName"] = json!(i);
            }
            if let Some(s) = &start {
                req["ExclusiveStartKey"] = s.clone();
            }
            let page = self.call(Operation::Scan, req).await.unwrap();
            out.extend(page["Items"].as_array().cloned().unwrap_or_default());
            match page.get("LastEvaluatedKey") {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
        out
    }
}

fn lite_of(item: &Value) -> ((String, i64), Lite) {
    let pk = item["pk"]["S"].as_str().unwrap().to_owned();
    let sk: i64 = item["sk"]["N"].as_str().unwrap().parse().unwrap();
    let num = |name: &str| {
        item.get(name)
            .map(|n| n["N"].as_str().unwrap().parse::<i64>().unwrap())
    };
    let g = item.get("g").map(|g| g["S"].as_str().unwrap().to_owned());
    (
        (pk, sk),
        Lite {
            v: num("v"),
            g,
            l: num("l"),
        },
    )
}

/// Sets (or with `None` removes) one item of the model, noting the stream record AWS
/// writes: none when nothing changed.
fn change(model: &mut Model, changes: &mut Vec<Change>, k: (String, i64), new: Option<Lite>) {
    let old = match &new {
        Some(n) => model.insert(k.clone(), n.clone()),
        None => model.remove(&k),
    };
    let name = match (&old, &new) {
        (o, n) if o == n => return,
        (None, _) => "INSERT",
        (_, None) => "REMOVE",
        _ => "MODIFY",
    };
    changes.push((name.to_owned(), k, old, new));
}

async fn apply(h: &Harness, model: &mut Model, s: &Step) -> Vec<Change> {
    let g_name = |g: u8| format!("g{g}");
    let mut changes = Vec::new();
    let ch = &mut changes;
    match s {
        Step::Put { pk: p, sk, v, g, l } => {
            let mut item = key(*p, *sk);
            item["v"] = json!({"N": v.to_string()});
            if let Some(g) = g {
                item["g"] = json!({"S": g_name(*g)});
            }
            if let Some(l) = l {
                item["l"] = json!({"N": l.to_string()});
            }
            h.call(
                Operation::PutItem,
                json!({"TableName": "model", "Item": item}),
            )
            .await
            .unwrap();
            let new = Lite {
                v: Some(*v),
                g: g.map(g_name),
                l: l.map(i64::from),
            };
            change(model, ch, (pk(*p), i64::from(*sk)), Some(new));
        }
        Step::PutIfAbsent { pk: p, sk, v } => {
            let mut item = key(*p, *sk);
            item["v"] = json!({"N": v.to_string()});
            let r = h
                .call(
                    Operation::PutItem,
                    json!({"TableName": "model", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}),
                )
                .await;
            let k = (pk(*p), i64::from(*sk));
            if model.contains_key(&k) {
                assert!(r.unwrap_err().contains("ConditionalCheckFailedException"));
            } else {
                r.unwrap();
                change(model, ch, k, Some(Lite::v(*v)));
            }
        }
        Step::Add { pk: p, sk, d } => {
            h.call(
                Operation::UpdateItem,
                json!({"TableName": "model", "Key": key(*p, *sk), "UpdateExpression": "ADD v :d",
                       "ExpressionAttributeValues": {":d": {"N": d.to_string()}}}),
            )
            .await
            .unwrap();
            let k = (pk(*p), i64::from(*sk));
            let mut e = model.get(&k).cloned().unwrap_or(Lite::EMPTY);
            e.v = Some(e.v.unwrap_or(0) + d);
            change(model, ch, k, Some(e));
        }
        Step::AddIfBelow { pk: p, sk, d, max } => {
            let r = h
                .call(
                    Operation::UpdateItem,
                    json!({"TableName": "model", "Key": key(*p, *sk), "UpdateExpression": "ADD v :d",
                           "ConditionExpression": "attribute_not_exists(v) OR v < :m",
                           "ExpressionAttributeValues": {":d": {"N": d.to_string()}, ":m": {"N": max.to_string()}}}),
                )
                .await;
            let k = (pk(*p), i64::from(*sk));
            let old = model.get(&k).cloned();
            match old.as_ref().and_then(|o| o.v) {
                Some(v) if v >= *max => {
                    assert!(r.unwrap_err().contains("ConditionalCheckFailedException"));
                }
                v => {
                    r.unwrap();
                    let mut e = old.unwrap_or(Lite::EMPTY);
                    e.v = Some(v.unwrap_or(0) + d);
                    change(model, ch, k, Some(e));
                }
            }
        }
        Step::SetG { pk: p, sk, g } => {
            let body = match g {
                Some(g) => {
                    json!({"TableName": "model", "Key": key(*p, *sk), "UpdateExpression": "SET g = :g",
                                  "ExpressionAttributeValues": {":g": {"S": g_name(*g)}}})
                }
                None => {
                    json!({"TableName": "model", "Key": key(*p, *sk), "UpdateExpression": "REMOVE g"})
                }
            };
            h.call(Operation::UpdateItem, body).await.unwrap();
            let k = (pk(*p), i64::from(*sk));
            // As on AWS, REMOVE alone on a missing item creates nothing.
            if g.is_some() || model.contains_key(&k) {
                let mut e = model.get(&k).cloned().unwrap_or(Lite::EMPTY);
                e.g = g.map(g_name);
                change(model, ch, k, Some(e));
            }
        }
        Step::SetL { pk: p, sk, l } => {
            let body = match l {
                Some(l) => {
                    json!({"TableName": "model", "Key": key(*p, *sk), "UpdateExpression": "SET l = :l",
                                  "ExpressionAttributeValues": {":l": {"N": l.to_string()}}})
                }
                None => {
                    json!({"TableName": "model", "Key": key(*p, *sk), "UpdateExpression": "REMOVE l"})
                }
            };
            h.call(Operation::UpdateItem, body).await.unwrap();
            let k = (pk(*p), i64::from(*sk));
            if l.is_some() || model.contains_key(&k) {
                let mut e = model.get(&k).cloned().unwrap_or(Lite::EMPTY);
                e.l = l.map(i64::from);
                change(model, ch, k, Some(e));
            }
        }
        Step::Delete { pk: p, sk } => {
            h.call(
                Operation::DeleteItem,
                json!({"TableName": "model", "Key": key(*p, *sk)}),
            )
            .await
            .unwrap();
            change(model, ch, (pk(*p), i64::from(*sk)), None);
        }
        Step::DeleteIfAtLeast { pk: p, sk, min } => {
            let r = h
                .call(
                    Operation::DeleteItem,
                    json!({"TableName": "model", "Key": key(*p, *sk), "ConditionExpression": "v >= :m",
                           "ExpressionAttributeValues": {":m": {"N": min.to_string()}}}),
                )
                .await;
            let k = (pk(*p), i64::from(*sk));
            if model.get(&k).and_then(|o| o.v).is_some_and(|v| v >= *min) {
                r.unwrap();
                change(model, ch, k, None);
            } else {
                assert!(r.unwrap_err().contains("ConditionalCheckFailedException"));
            }
        }
        Step::Batch { puts, deletes } => {
            let mut seen = BTreeSet::new();
            let mut reqs = Vec::new();
            let mut effects = Vec::new();
            for (p, sk, v) in puts {
                if seen.insert((*p, *sk)) {
                    let mut item = key(*p, *sk);
                    item["v"] = json!({"N": v.to_string()});
                    reqs.push(json!({"PutRequest": {"Item": item}}));
                    effects.push(((pk(*p), i64::from(*sk)), Some(*v)));
                }
            }
            for (p, sk) in deletes {
                if seen.insert((*p, *sk)) {
                    reqs.push(json!({"DeleteRequest": {"Key": key(*p, *sk)}}));
                    effects.push(((pk(*p), i64::from(*sk)), None));
                }
            }
            if reqs.is_empty() {
                return changes;
            }
            let out = h
                .call(
                    Operation::BatchWriteItem,
                    json!({"RequestItems": {"model": reqs}}),
                )
                .await
                .unwrap();
            assert_eq!(out["UnprocessedItems"], json!({}));
            for (k, v) in effects {
                change(model, ch, k, v.map(Lite::v));
            }
        }
        Step::Transact { a, b, d, require_a } => {
            if a == b {
                return changes;
            }
            let ka = (pk(a.0), i64::from(a.1));
            let kb = (pk(b.0), i64::from(b.1));
            let mut upd_a = json!({"TableName": "model", "Key": key(a.0, a.1), "UpdateExpression": "ADD v :d",
                                   "ExpressionAttributeValues": {":d": {"N": (-d).to_string()}}});
            if *require_a {
                upd_a["ConditionExpression"] = json!("attribute_exists(pk)");
            }
            let upd_b = json!({"TableName": "model", "Key": key(b.0, b.1), "UpdateExpression": "ADD v :d",
                               "ExpressionAttributeValues": {":d": {"N": d.to_string()}}});
            let r = h
                .call(
                    Operation::TransactWriteItems,
                    json!({"TransactItems": [{"Update": upd_a}, {"Update": upd_b}]}),
                )
                .await;
            if *require_a && !model.contains_key(&ka) {
                assert!(r.unwrap_err().contains("TransactionCanceledException"));
            } else {
                r.unwrap();
                for (k, d) in [(ka, -d), (kb, *d)] {
                    let mut e = model.get(&k).cloned().unwrap_or(Lite::EMPTY);
                    e.v = Some(e.v.unwrap_or(0) + d);
                    change(model, ch, k, Some(e));
                }
            }
        }
    }
    changes
}

async fn check(h: &Harness, model: &Model, mut expected: Vec<Change>, step: &Step) {
    let mut got = h.new_changes().await;
    // One step writes each item at most once; the order between items is not the model's.
    got.sort_by(|a, b| a.1.cmp(&b.1));
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        got, expected,
        "stream records of {step:?} differ from the model's changes"
    );
    let table: Model = h.scan_all(None).await.iter().map(lite_of).collect();
    assert_eq!(&table, model, "table differs from model");
    let mut expected_index: Vec<((String, i64), Lite)> = model
        .iter()
        .filter(|(_, l)| l.g.is_some())
        .map(|(k, l)| (k.clone(), l.clone()))
        .collect();
    let mut index: Vec<((String, i64), Lite)> =
        h.scan_all(Some("by_g")).await.iter().map(lite_of).collect();
    expected_index.sort_by(|a, b| a.0.cmp(&b.0));
    index.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(index, expected_index, "index differs from model");
    let mut expected_lsi: Vec<((String, i64), Lite)> = model
        .iter()
        .filter(|(_, l)| l.l.is_some())
        .map(|(k, l)| (k.clone(), l.clone()))
        .collect();
    let mut lsi: Vec<((String, i64), Lite)> =
        h.scan_all(Some("by_l")).await.iter().map(lite_of).collect();
    expected_lsi.sort_by(|a, b| a.0.cmp(&b.0));
    lsi.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(lsi, expected_lsi, "local index differs from model");
    let desc = h
        .call(Operation::DescribeTable, json!({"TableName": "model"}))
        .await
        .unwrap();
    assert_eq!(desc["Table"]["ItemCount"], json!(model.len()));
    assert_eq!(
        desc["Table"]["GlobalSecondaryIndexes"][0]["ItemCount"],
        json!(expected_index.len())
    );
    assert_eq!(
        desc["Table"]["LocalSecondaryIndexes"][0]["ItemCount"],
        json!(expected_lsi.len())
    );
}

/// Sequences run: 24 in the quick suite, `SEALDB_MODEL_CASES` for a longer run by hand.
fn cases() -> u32 {
    std::env::var("SEALDB_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    #[test]
    fn service_matches_model(steps in proptest::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let h = Harness::new().await;
            let mut model = Model::new();
            for s in &steps {
                let changes = apply(&h, &mut model, s).await;
                check(&h, &model, changes, s).await;
            }
            h.svc.close();
        });
    }
}
