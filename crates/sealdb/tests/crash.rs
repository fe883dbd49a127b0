//! Crash safety: clients write while the server is killed with SIGKILL at a random
//! moment, round after round, and some rounds also kill it during a KMS key switch, a
//! GSI backfill, a backup, a restore, or kill a root-key rotation. At the end:
//! - every acknowledged put, batch put, update and delete is there (or gone) as written;
//! - no transaction (two and three tables) is half applied;
//! - every index agrees with its table;
//! - stream records match the changes one for one;
//! - the catalog and the key store open, every table and backup still reads;
//! - the global table (on a multi-Region key, a replica in a second region, written in
//!   both) holds every acknowledged write in both regions and its replicas converge.
//!
//! Rounds: `SEALDB_CRASH_ROUNDS` (default 20; `scripts/crash-loop N` runs N).
#![allow(clippy::unwrap_used)]

mod common;
mod crash_support;

use aws_sdk_dynamodb::types::{AttributeValue, SseSpecification, SseType};
use common::Server;
use crash_support::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let rounds: usize = std::env::var("SEALDB_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    crash_rounds(rounds, false).await;
}

/// The same rounds, each kill also a power cut: every write not yet synced is dropped
/// (`crash_support::powercut`). Rounds: `SEALDB_POWERCUT_ROUNDS` (default 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_power_cuts() {
    let rounds: usize = std::env::var("SEALDB_POWERCUT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    crash_rounds(rounds, true).await;
}

async fn crash_rounds(rounds: usize, power_cuts: bool) {
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cut = if power_cuts {
        match powercut::PowerCut::build(tmp.path()) {
            Some(c) => Some(c),
            None => return,
        }
    } else {
        None
    };
    let env: Vec<(String, String)> = cut.as_ref().map(|c| c.env(&dir)).unwrap_or_default();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let key_arn = {
        let mut server = Server::start_on(&dir);
        let arn = setup(&server).await;
        global::setup_global(&server).await;
        server.stop();
        arn
    };
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut backups: Vec<String> = Vec::new();
    let mut rotations = 0;
    let mut dropped = powercut::Dropped::default();
    for round in 0..rounds {
        let server = Server::start_with_env(&dir, &[], &env);
        let c = no_retry_client(&server);
        let mut writers = Vec::new();
        for w in 0..4 {
            let c = c.clone();
            let acked = Arc::clone(&acked);
            writers.push(tokio::spawn(async move {
                write_until_error(&c, &acked, round, w).await;
            }));
        }
        // The global table, written in both regions.
        for region in [global::EAST, global::WEST] {
            let c = global::no_retry_client_in(&server, region);
            let acked = Arc::clone(&acked);
            writers.push(tokio::spawn(async move {
                global::write_global_until_error(&c, &acked, round, region).await;
            }));
        }
        // The maintenance work this round is killed in the middle of (if the kill
        // comes at the right moment).
        let op = {
            let c = c.clone();
            let key_arn = key_arn.clone();
            let earlier = backups.last().cloned();
            tokio::spawn(async move { maintenance(&c, round, &key_arn, earlier).await })
        };
        // The layer slows every write down: its rounds last longer.
        let (lo, hi) = if power_cuts {
            (1000, 4000)
        } else {
            (300, 1500)
        };
        tokio::time::sleep(Duration::from_millis(jitter_ms(lo, hi))).await;
        // SIGKILL: no chance to flush anything.
        drop(server);
        // And, under the fault layer, what was not synced is lost too.
        if let Some(cut) = &cut {
            let d = cut.cut();
            dropped.files += d.files;
            dropped.writes += d.writes;
            dropped.bytes += d.bytes;
        }
        for w in writers {
            let _ = tokio::time::timeout(Duration::from_secs(60), w).await;
        }
        if let Ok(Ok(Some(backup))) = tokio::time::timeout(Duration::from_secs(60), op).await {
            backups.push(backup);
        }
        // Known defect (open): a rotation killed after the audit chain was re-keyed but
        // before the key store's pages were cannot be run again ("record 1 was edited").
        // Until it is fixed only scripts/crash-loop kills rotations.
        if round % 7 == 6 && std::env::var_os("SEALDB_CRASH_KILL_ROTATION").is_some() {
            kill_then_finish_root_key_rotation(&dir, &env, || {
                if let Some(cut) = &cut {
                    cut.cut();
                }
            });
            rotations += 1;
        }
    }
    let mut server = Server::start_on(&dir);
    let c = server.client();
    let acked = acked.lock().unwrap().clone();
    assert!(
        !acked.puts.is_empty() && !acked.tx2.is_empty() && !acked.tx3.is_empty(),
        "the writers made no progress: {} puts, {} two-table and {} three-table transactions",
        acked.puts.len(),
        acked.tx2.len(),
        acked.tx3.len()
    );
    check_items(&c, &acked).await;
    check_transactions(&c, &acked).await;
    check_indexes(&c).await;
    check_every_table_reads(&c).await;
    check_backups_restore(&c, &backups).await;
    global::check_global(&server, &acked).await;
    let kms = server.kms();
    kms.list_keys().send().await.unwrap();
    let items = scan_all(&c, "items", None).await;
    server.stop();
    check_stream(&dir, &items, &acked).await;
    let kind = if power_cuts {
        format!(
            "power cuts (SIGKILL, then {} unsynced writes, {} bytes, in {} file logs dropped)",
            dropped.writes, dropped.bytes, dropped.files
        )
    } else {
        "kills".to_owned()
    };
    eprintln!(
        "crash test: {rounds} {kind} ({rotations} root-key rotations killed), {} puts, {} batch puts, {} deletes, {} updates, {} two-table and {} three-table transactions acknowledged, {} backups, {} global-table puts ({} deleted again) in two regions; all checks passed in {:.0} s",
        acked.puts.len(),
        acked.batch_puts.len(),
        acked.deletes.len(),
        acked.adds.iter().sum::<u64>(),
        acked.tx2.len(),
        acked.tx3.len(),
        backups.len(),
        acked.global_puts.len(),
        acked.global_deletes.len(),
        started.elapsed().as_secs_f64()
    );
}

/// One round's maintenance operation, chosen by round; returns a backup ARN it made.
async fn maintenance(
    c: &aws_sdk_dynamodb::Client,
    round: usize,
    key_arn: &str,
    earlier_backup: Option<String>,
) -> Option<String> {
    tokio::time::sleep(Duration::from_millis(jitter_ms(0, 400))).await;
    match round % 5 {
        0 => {
            // A KMS key switch (on a table of its own: switches are limited per table).
            let name = format!("sse{round}");
            create_table(c, &name, None).await.ok()?;
            put_value(c, &name, "k", "v").await.ok()?;
            let _ = c
                .update_table()
                .table_name(&name)
                .sse_specification(
                    SseSpecification::builder()
                        .enabled(true)
                        .sse_type(SseType::Kms)
                        .kms_master_key_id(key_arn)
                        .build(),
                )
                .send()
                .await;
            None
        }
        1 => {
            toggle_backfill_index(c).await;
            None
        }
        2 => c
            .create_backup()
            .table_name("items")
            .backup_name(format!("b{round}"))
            .send()
            .await
            .ok()
            .and_then(|b| b.backup_details().map(|d| d.backup_arn().to_owned())),
        3 => {
            let arn = earlier_backup?;
            let _ = c
                .restore_table_from_backup()
                .backup_arn(arn)
                .target_table_name(format!("restored{round}"))
                .send()
                .await;
            None
        }
        _ => None,
    }
}

/// Puts `v` under `pk`.
async fn put_value(
    c: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    v: &str,
) -> Result<(), String> {
    c.put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.to_owned()))
        .item("v", AttributeValue::S(v.to_owned()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}
