//! Model test: random sequences of puts, updates, deletes, batches and transactions run
//! against the real service (real SQLCipher files) and against a plain in-memory model;
//! after every step the table, and a global secondary index, must match the model.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sealdb_common::{Clock, Principal, RootKey, SecretKey32};
use sealdb_dynamodb::{Operation, Service, ServiceConfig};
use sealdb_storage::{Engine, RootKeyVault};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the model keeps of an item: its counter and its optional GSI key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Lite {
    v: i64,
    g: Option<String>,
}

type Model = BTreeMap<(String, i64), Lite>;

#[derive(Clone, Debug)]
enum Step {
    Put {
        pk: u8,
        sk: u8,
        v: i64,
        g: Option<u8>,
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
    Delete {
        pk: u8,
        sk: u8,
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
        (k(), -50i64..50, proptest::option::of(0u8..3)).prop_map(|((pk, sk), v, g)| Step::Put {
            pk,
            sk,
            v,
            g
        }),
        (k(), -50i64..50).prop_map(|((pk, sk), v)| Step::PutIfAbsent { pk, sk, v }),
        (k(), -5i64..5).prop_map(|((pk, sk), d)| Step::Add { pk, sk, d }),
        (k(), proptest::option::of(0u8..3)).prop_map(|((pk, sk), g)| Step::SetG { pk, sk, g }),
        k().prop_map(|(pk, sk)| Step::Delete { pk, sk }),
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
                }]
            }),
        )
        .await
        .unwrap();
        h
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
    let v: i64 = item["v"]["N"].as_str().unwrap_or("0").parse().unwrap();
    let g = item.get("g").map(|g| g["S"].as_str().unwrap().to_owned());
    ((pk, sk), Lite { v, g })
}

async fn apply(h: &Harness, model: &mut Model, s: &Step) {
    let g_name = |g: u8| format!("g{g}");
    match s {
        Step::Put { pk: p, sk, v, g } => {
            let mut item = key(*p, *sk);
            item["v"] = json!({"N": v.to_string()});
            if let Some(g) = g {
                item["g"] = json!({"S": g_name(*g)});
            }
            h.call(
                Operation::PutItem,
                json!({"TableName": "model", "Item": item}),
            )
            .await
            .unwrap();
            model.insert(
                (pk(*p), i64::from(*sk)),
                Lite {
                    v: *v,
                    g: g.map(g_name),
                },
            );
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
            if let std::collections::btree_map::Entry::Vacant(e) = model.entry(k) {
                r.unwrap();
                e.insert(Lite { v: *v, g: None });
            } else {
                assert!(r.unwrap_err().contains("ConditionalCheckFailedException"));
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
            let e = model
                .entry((pk(*p), i64::from(*sk)))
                .or_insert(Lite { v: 0, g: None });
            e.v += d;
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
                let e = model.entry(k).or_insert(Lite { v: 0, g: None });
                e.g = g.map(g_name);
            }
        }
        Step::Delete { pk: p, sk } => {
            h.call(
                Operation::DeleteItem,
                json!({"TableName": "model", "Key": key(*p, *sk)}),
            )
            .await
            .unwrap();
            model.remove(&(pk(*p), i64::from(*sk)));
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
                return;
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
                match v {
                    Some(v) => {
                        model.insert(k, Lite { v, g: None });
                    }
                    None => {
                        model.remove(&k);
                    }
                }
            }
        }
        Step::Transact { a, b, d, require_a } => {
            if a == b {
                return;
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
                model.entry(ka).or_insert(Lite { v: 0, g: None }).v -= d;
                model.entry(kb).or_insert(Lite { v: 0, g: None }).v += d;
            }
        }
    }
}

async fn check(h: &Harness, model: &Model) {
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
    let desc = h
        .call(Operation::DescribeTable, json!({"TableName": "model"}))
        .await
        .unwrap();
    assert_eq!(desc["Table"]["ItemCount"], json!(model.len()));
    assert_eq!(
        desc["Table"]["GlobalSecondaryIndexes"][0]["ItemCount"],
        json!(expected_index.len())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn service_matches_model(steps in proptest::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let h = Harness::new().await;
            let mut model = Model::new();
            for s in &steps {
                apply(&h, &mut model, s).await;
                check(&h, &model).await;
            }
            h.svc.close();
        });
    }
}
