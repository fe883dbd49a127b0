//! `sealdb bench` run briefly against real servers: the JSON report's structure, that every
//! phase did work without errors, and the comparison mode's ratios. No timing is asserted.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;
use std::process::Command;

const PHASES: [&str; 8] = [
    "put",
    "get",
    "query",
    "scan",
    "mixed",
    "transact",
    "update",
    "batch-write",
];

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .arg("bench")
        .args(args)
        .output()
        .expect("run sealdb bench")
}

fn bench_json(args: &[&str]) -> Value {
    let out = bench(args);
    assert!(
        out.status.success(),
        "sealdb bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report is JSON")
}

/// Every phase ran, did work, and none of its requests failed.
fn assert_phases_clean(endpoint: &Value, names: &[&str]) {
    let phases = endpoint["phases"].as_array().unwrap();
    let got: Vec<&str> = phases
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(got, names);
    for p in phases {
        let name = &p["phase"];
        assert!(p["ops"].as_u64().unwrap() > 0, "{name}: no operations");
        assert!(p["ops_per_sec"].as_f64().unwrap() > 0.0, "{name}");
        assert_eq!(p["error_count"], 0, "{name}: {}", p["errors"]);
        assert_eq!(p["errors"], serde_json::json!({}), "{name}");
        let lat = &p["latency_ms"];
        let order = ["p50", "p99", "p99_9", "max"].map(|k| lat[k].as_f64().unwrap());
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{name}: {lat}");
        assert!(order[0] > 0.0, "{name}: {lat}");
    }
}

#[test]
fn bench_with_its_own_server_reports_every_phase_as_json() {
    let report = bench_json(&[
        "--json",
        "--quiet",
        "--duration",
        "0.3",
        "--preload",
        "100",
        "--workers",
        "2",
        "--item-bytes",
        "200",
    ]);
    assert_eq!(report["tool"], "sealdb bench");
    assert_eq!(report["config"]["workers"], 2);
    assert_eq!(report["config"]["preload"], 100);
    let endpoints = report["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    let own = &endpoints[0];
    assert!(own["server_pid"].as_u64().unwrap() > 0);
    assert_phases_clean(own, &PHASES);
    for p in own["phases"].as_array().unwrap() {
        // The server it started is a local process: its CPU and memory are reported.
        assert!(p["server_cpu_us_per_op"].as_f64().unwrap() >= 0.0, "{p}");
        assert!(
            p["server_peak_rss_bytes"].as_u64().unwrap() > 1_000_000,
            "{p}"
        );
    }
    assert_eq!(report["comparison"], serde_json::json!([]));
}

#[test]
fn bench_compares_several_endpoints() {
    let a = common::Server::start();
    let b = common::Server::start();
    let spec_a = format!("first={}", a.endpoint);
    let spec_b = format!("second={}", b.endpoint);
    let report = bench_json(&[
        "--json",
        "--quiet",
        "--endpoint",
        &spec_a,
        "--endpoint",
        &spec_b,
        "--access-key-id",
        common::ACCESS_KEY,
        "--secret-access-key",
        common::SECRET_KEY,
        "--phases",
        "get,put",
        "--duration",
        "0.3",
        "--preload",
        "50",
        "--workers",
        "2",
    ]);
    let endpoints = report["endpoints"].as_array().unwrap();
    let labels: Vec<&str> = endpoints
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["first", "second"]);
    assert_eq!(endpoints[1]["endpoint"], b.endpoint.as_str());
    for e in endpoints {
        assert_phases_clean(e, &["get", "put"]);
        // No --server-pid: nothing to read CPU from.
        assert!(e["phases"][0]["server_cpu_us_per_op"].is_null());
    }
    let ratios = report["comparison"].as_array().unwrap();
    assert_eq!(ratios.len(), 2);
    for r in ratios {
        assert_eq!(r["baseline"], "first");
        assert_eq!(r["other"], "second");
        assert!(r["throughput_ratio"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["cpu_per_op_ratio"].is_null(), "{r}");
    }
}

#[test]
fn bench_refuses_what_it_cannot_do() {
    let https = bench(&["--endpoint", "https://dynamodb.us-east-1.amazonaws.com"]);
    assert!(!https.status.success());
    assert!(String::from_utf8_lossy(&https.stderr).contains("http://"));
    let unmatched = bench(&[
        "--endpoint",
        "http://127.0.0.1:1",
        "--endpoint",
        "http://127.0.0.1:2",
        "--server-pid",
        "1",
    ]);
    assert!(!unmatched.status.success());
    assert!(String::from_utf8_lossy(&unmatched.stderr).contains("--server-pid"));
}
