//! The DynamoDB JSON request decoders and validations, through `Service::call` on a real
//! engine (a temporary data dir with one table `fuzz`, hash key `pk` S, range key `sk` N).
//! The first byte picks the operation, the rest is the body. Errors are fine; a panic is
//! a defect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdb_common::{Clock, Principal, RootKey, SecretKey32};
use sealdb_dynamodb::{Operation, Service, ServiceConfig};
use sealdb_storage::{Engine, RootKeyVault};
use std::sync::{Arc, OnceLock};

/// Every operation but the backup and restore ones (they copy whole table files).
const OPERATIONS: &[&str] = &[
    "CreateTable", "DescribeTable", "ListTables", "DeleteTable", "UpdateTable", "TagResource",
    "UntagResource", "ListTagsOfResource", "DescribeLimits", "DescribeEndpoints",
    "DescribeTimeToLive", "UpdateTimeToLive", "PutItem", "GetItem", "UpdateItem", "DeleteItem",
    "Query", "Scan", "BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems",
    "DescribeBackup", "ListBackups", "DeleteBackup", "PutResourcePolicy", "GetResourcePolicy",
    "DeleteResourcePolicy",
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    service: Arc<Service>,
    caller: Principal,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = RootKey::from_key(SecretKey32::from_bytes([7; 32]));
        let engine = Arc::new(
            Engine::open(dir.path(), &root, Arc::new(RootKeyVault::new(&root))).expect("engine"),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let service = runtime.block_on(async {
            Service::new(
                engine,
                ServiceConfig {
                    region: "us-east-1".into(),
                    account_id: "000000000000".into(),
                    endpoint_address: "localhost".into(),
                    clock: Clock::system(),
                },
            )
            .expect("service")
        });
        let caller = Principal::root("AKID", "000000000000", "us-east-1", "127.0.0.1");
        let table = serde_json::json!({
            "TableName": "fuzz", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}]
        });
        runtime
            .block_on(service.call(Operation::CreateTable, &caller, table.to_string().as_bytes()))
            .expect("table t");
        Harness { runtime, service, caller, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((first, body)) = data.split_first() else { return };
    let name = OPERATIONS[usize::from(*first) % OPERATIONS.len()];
    let Some(op) = Operation::from_name(name) else { return };
    let h = harness();
    let _ = h.runtime.block_on(h.service.call(op, &h.caller, body));
});
