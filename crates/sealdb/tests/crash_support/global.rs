//! The crash test's second region: a multi-Region KMS key (primary in [`EAST`], replica in
//! [`WEST`]) and the global table [`GLOBAL`] sealed under it in both regions, written in
//! both regions while the server is killed; after the last restart both replicas hold
//! every acknowledged write and converge.

use super::{Acked, s};
use crate::common::{self, Server};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{
    BillingMode, CreateReplicationGroupMemberAction, KeyType, ReplicaStatus,
    ReplicationGroupUpdate, ScalarAttributeType, SseSpecification, SseType, StreamSpecification,
    StreamViewType,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

pub const EAST: &str = "us-east-1";
pub const WEST: &str = "eu-west-1";
/// The global table (2019.11.21 replicas).
pub const GLOBAL: &str = "global";

/// A client of `region` that never retries (an answer is the only acknowledgement).
pub fn no_retry_client_in(server: &Server, region: &'static str) -> aws_sdk_dynamodb::Client {
    let conf = common::client_in(
        &server.endpoint,
        common::ACCESS_KEY,
        common::SECRET_KEY,
        region,
    )
    .config()
    .to_builder()
    .retry_config(RetryConfig::disabled())
    .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// The multi-Region key, its replica in [`WEST`], and [`GLOBAL`] on it with a replica
/// in [`WEST`] (ACTIVE before this returns). Returns the replica key's ARN.
pub async fn setup_global(server: &Server) -> String {
    let kms = server.kms_in(EAST);
    let key = kms.create_key().multi_region(true).send().await.unwrap();
    let key = key.key_metadata().unwrap();
    let replica = kms
        .replicate_key()
        .key_id(key.key_id())
        .replica_region(WEST)
        .send()
        .await
        .unwrap();
    let replica_arn = replica
        .replica_key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let east = server.client();
    east.create_table()
        .table_name(GLOBAL)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
        .key_schema(common::key_elem("pk", KeyType::Hash))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(key.arn().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    east.update_table()
        .table_name(GLOBAL)
        .replica_updates(
            ReplicationGroupUpdate::builder()
                .create(
                    CreateReplicationGroupMemberAction::builder()
                        .region_name(WEST)
                        .kms_master_key_id(&replica_arn)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    for _ in 0..600 {
        let d = east
            .describe_table()
            .table_name(GLOBAL)
            .send()
            .await
            .unwrap();
        let replicas = d.table().unwrap().replicas().to_vec();
        if replicas
            .iter()
            .any(|r| r.replica_status() == Some(&ReplicaStatus::Active))
        {
            return replica_arn;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replica of {GLOBAL} in {WEST} never became ACTIVE");
}

/// Puts (and deletes) in `region`'s replica of [`GLOBAL`] until a request fails. Keys
/// are the region's own: no conflict, so each acknowledged write has one final value.
pub async fn write_global_until_error(
    c: &aws_sdk_dynamodb::Client,
    acked: &Mutex<Acked>,
    round: usize,
    region: &str,
) {
    for i in 0.. {
        let id = format!("{region}-r{round}-{i}");
        let put = c
            .put_item()
            .table_name(GLOBAL)
            .item("pk", s(&id))
            .item("v", s(&format!("value-{id}")))
            .send()
            .await;
        if put.is_err() {
            break;
        }
        acked
            .lock()
            .unwrap()
            .global_puts
            .push((region.to_owned(), id.clone()));
        if i % 5 == 4 {
            // Every fifth item is deleted again: a removal must travel too. A delete
            // that got no answer may or may not have happened.
            acked
                .lock()
                .unwrap()
                .global_delete_attempts
                .push(id.clone());
            let del = c
                .delete_item()
                .table_name(GLOBAL)
                .key("pk", s(&id))
                .send()
                .await;
            if del.is_err() {
                break;
            }
            acked.lock().unwrap().global_deletes.push(id);
        }
    }
}

async fn items(c: &aws_sdk_dynamodb::Client) -> BTreeMap<String, String> {
    crate::crash_support::scan_all(c, GLOBAL, None)
        .await
        .into_iter()
        .map(|(pk, item)| {
            let v = item.get("v").and_then(|v| v.as_s().ok()).cloned();
            (pk, v.unwrap_or_default())
        })
        .collect()
}

/// Each region holds its own acknowledged writes at once; within two minutes both
/// replicas hold every acknowledged write of either region (each replicated, or still
/// queued and delivered after the restart) and the same items.
pub async fn check_global(server: &Server, acked: &Acked) {
    let east = common::client_in(
        &server.endpoint,
        common::ACCESS_KEY,
        common::SECRET_KEY,
        EAST,
    );
    let west = common::client_in(
        &server.endpoint,
        common::ACCESS_KEY,
        common::SECRET_KEY,
        WEST,
    );
    let attempted: std::collections::HashSet<&String> =
        acked.global_delete_attempts.iter().collect();
    let expect = |got: &BTreeMap<String, String>, only: Option<&str>| -> Result<(), String> {
        for (region, id) in &acked.global_puts {
            if only.is_some_and(|r| r != region) || attempted.contains(id) {
                continue;
            }
            match got.get(id) {
                Some(v) if *v == format!("value-{id}") => {}
                other => return Err(format!("acknowledged put {id} in {region}: {other:?}")),
            }
        }
        for id in &acked.global_deletes {
            // Ids start with the region they were written in.
            if only.is_some_and(|r| !id.starts_with(r)) {
                continue;
            }
            if got.contains_key(id) {
                return Err(format!("acknowledged delete {id} undone"));
            }
        }
        Ok(())
    };
    // Local writes are durable where they were acknowledged.
    expect(&items(&east).await, Some(EAST)).unwrap();
    expect(&items(&west).await, Some(WEST)).unwrap();
    let mut last = String::new();
    for _ in 0..1200 {
        let (e, w) = (items(&east).await, items(&west).await);
        match (expect(&e, None), expect(&w, None)) {
            (Ok(()), Ok(())) if e == w => return,
            (Ok(()), Ok(())) => {
                let only_e = e.keys().filter(|k| !w.contains_key(*k)).count();
                let only_w = w.keys().filter(|k| !e.contains_key(*k)).count();
                last = format!("replicas differ: {only_e} only in {EAST}, {only_w} only in {WEST}");
            }
            (a, b) => last = format!("{EAST}: {a:?}; {WEST}: {b:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replicas of {GLOBAL} never converged: {last}");
}
