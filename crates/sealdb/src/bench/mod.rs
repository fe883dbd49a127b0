//! `sealdb bench`: a load generator for any DynamoDB endpoint (a `sealdb serve` it starts
//! itself, or sealdb, DynamoDB Local, dynalite, AWS given `--endpoint`). Each endpoint gets a
//! fresh table, preloaded; then every phase runs for a fixed time against each endpoint in
//! turn (interleaved, so drift on a shared machine hits all alike), with signed requests over
//! keep-alive HTTP/1.1. The report gives throughput, latency percentiles, errors by type and,
//! given the server's pid, its CPU per operation and peak resident memory; with several
//! endpoints, the ratios of the first to each other.

mod client;
mod report;
mod run;
mod workload;

use client::{Conn, Target};
use report::{EndpointReport, Report};
use sealdb_common::secret::SecretString;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{Phase, Workload};

/// Options of `sealdb bench`.
#[derive(clap::Args, Clone)]
pub(crate) struct BenchArgs {
    /// Endpoint to drive, as URL or LABEL=URL; repeat it to compare endpoints (the first is
    /// the baseline of the ratios). Default: start a `sealdb serve` in a temporary data dir.
    #[arg(long)]
    endpoint: Vec<String>,
    /// Process id of the server behind each --endpoint, in the same order, to report its
    /// CPU time per operation and peak resident memory.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Access key id for --endpoint.
    #[arg(long, default_value = "AKIDSEALDBBENCH000001")]
    access_key_id: String,
    /// Secret access key for --endpoint.
    #[arg(long, default_value = "sealdbBenchSecret000000000000000000000000")]
    secret_access_key: String,
    /// Region the requests are signed for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Phases to run, in order, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Phase::ALL)]
    phases: Vec<Phase>,
    /// Approximate size of each item, in bytes.
    #[arg(long, default_value_t = 1000)]
    item_bytes: usize,
    /// Items written before the phases start (the keys every phase works on).
    #[arg(long, default_value_t = 10_000)]
    preload: usize,
    /// Concurrent workers, each with its own connection.
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// Length of each phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Print the report as JSON on stdout (default: a table).
    #[arg(long)]
    json: bool,
    /// No live progress line on stderr.
    #[arg(long)]
    quiet: bool,
    /// Leave the benchmark's table in place at the end (to measure the server's data dir).
    #[arg(long)]
    keep_table: bool,
}

/// A started server, stopped on drop.
struct OwnServer {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_own_server(args: &BenchArgs) -> Result<(OwnServer, String), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("sealdb-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env("SEALDB_ACCESS_KEY_ID", &args.access_key_id)
        .env("SEALDB_SECRET_ACCESS_KEY", &args.secret_access_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start server: {e}"))?;
    // The guard stops the server on any error below.
    let mut server = OwnServer { child, dir };
    let stdout = server.child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut endpoint = None;
    for line in lines.by_ref() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(ep) = line.strip_prefix("sealdb listening on ") {
            endpoint = Some(ep.to_owned());
            break;
        }
    }
    // Keep draining the server's stdout so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let endpoint = endpoint.ok_or("server did not start")?;
    Ok((server, endpoint))
}

/// One endpoint under test.
struct Endpoint {
    label: String,
    url: String,
    pid: Option<u32>,
    target: Arc<Target>,
}

fn endpoints(args: &BenchArgs, own: Option<(&OwnServer, &str)>) -> Result<Vec<Endpoint>, String> {
    let specs: Vec<(String, String, Option<u32>)> = match own {
        Some((server, url)) => vec![("sealdb".into(), url.to_owned(), Some(server.child.id()))],
        None => {
            if !args.server_pid.is_empty() && args.server_pid.len() != args.endpoint.len() {
                return Err("give one --server-pid per --endpoint, or none".into());
            }
            args.endpoint
                .iter()
                .enumerate()
                .map(|(i, spec)| {
                    let (label, url) = match spec.split_once('=') {
                        Some((l, u)) if !l.contains('/') => (l.to_owned(), u.to_owned()),
                        _ => (spec.clone(), spec.clone()),
                    };
                    (label, url, args.server_pid.get(i).copied())
                })
                .collect()
        }
    };
    specs
        .into_iter()
        .map(|(label, url, pid)| {
            let host = url
                .strip_prefix("http://")
                .ok_or_else(|| format!("{url}: bench speaks plain http:// only"))?
                .trim_end_matches('/')
                .to_owned();
            let target = Arc::new(Target {
                host,
                region: args.region.clone(),
                akid: args.access_key_id.clone(),
                secret: SecretString::new(args.secret_access_key.clone()),
            });
            Ok(Endpoint {
                label,
                url,
                pid,
                target,
            })
        })
        .collect()
}

/// The `__type` of a DynamoDB error body, after its `#`.
pub(super) fn error_type(status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("__type")?.as_str().map(str::to_owned))
        .map_or_else(
            || format!("HTTP {status}"),
            |t| t.rsplit('#').next().unwrap_or(&t).to_owned(),
        )
}

async fn call_ok(conn: &mut Conn, op: &str, body: &str) -> Result<serde_json::Value, String> {
    let (status, resp) = conn.call(op, body).await?;
    if status != 200 {
        return Err(format!(
            "{op}: {} {}",
            error_type(status, &resp),
            String::from_utf8_lossy(&resp)
        ));
    }
    serde_json::from_slice(&resp).map_err(|e| format!("{op}: {e}"))
}

/// Creates the table, waits until it is ACTIVE, and writes the preloaded items.
async fn set_up(ep: &Endpoint, workload: &Arc<Workload>, workers: usize) -> Result<(), String> {
    let mut conn = Conn::open(Arc::clone(&ep.target)).await?;
    let table = &workload.table;
    let create = format!(
        r#"{{"TableName":"{table}","AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},{{"AttributeName":"sk","AttributeType":"N"}}],"KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}],"BillingMode":"PAY_PER_REQUEST"}}"#
    );
    call_ok(&mut conn, "CreateTable", &create).await?;
    let describe = format!(r#"{{"TableName":"{table}"}}"#);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = call_ok(&mut conn, "DescribeTable", &describe).await?;
        if d["Table"]["TableStatus"] == "ACTIVE" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{}: table not ACTIVE after 120 s", ep.label));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run::preload(ep, workload, workers).await
}

async fn tear_down(ep: &Endpoint, table: &str) {
    if let Ok(mut conn) = Conn::open(Arc::clone(&ep.target)).await {
        let _ = conn
            .call("DeleteTable", &format!(r#"{{"TableName":"{table}"}}"#))
            .await;
    }
}

/// Runs the benchmark and prints its report.
pub(crate) fn run(args: &BenchArgs) -> Result<(), String> {
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        return Err("--duration must be a positive number of seconds".into());
    }
    let workers = args.workers.max(1);
    if args.preload < 25 * workers {
        return Err(format!(
            "--preload must be at least 25 × --workers ({}), so that writers never share an item",
            25 * workers
        ));
    }
    let own = if args.endpoint.is_empty() {
        Some(start_own_server(args)?)
    } else {
        None
    };
    let eps = endpoints(args, own.as_ref().map(|(s, u)| (s, u.as_str())))?;
    let workload = Arc::new(Workload {
        table: format!("sealdb-bench-{}", std::process::id()),
        preload: args.preload,
        value: "v".repeat(args.item_bytes.saturating_sub(40).max(1)),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.min(2))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let duration = Duration::from_secs_f64(args.duration);
    let result = rt.block_on(async {
        let mut reports: Vec<EndpointReport> = Vec::new();
        let mut outcome = Ok(());
        for ep in &eps {
            if !args.quiet {
                eprintln!("{}: preloading {} items", ep.label, args.preload);
            }
            if let Err(e) = set_up(ep, &workload, workers).await {
                outcome = Err(e);
                break;
            }
            reports.push(EndpointReport {
                label: ep.label.clone(),
                endpoint: ep.url.clone(),
                server_pid: ep.pid,
                phases: Vec::new(),
            });
        }
        if outcome.is_ok() {
            for &phase in &args.phases {
                for (ep, report) in eps.iter().zip(reports.iter_mut()) {
                    let progress = (!args.quiet).then_some(ep.label.as_str());
                    let r = run::phase(ep, &workload, phase, workers, duration, progress).await;
                    report.phases.push(r);
                }
            }
        }
        if !args.keep_table {
            for ep in &eps {
                tear_down(ep, &workload.table).await;
            }
        }
        outcome.map(|()| reports)
    });
    drop(own);
    let report = Report {
        config: json!({
            "phases": args.phases.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "item_bytes": args.item_bytes,
            "preload": args.preload,
            "workers": workers,
            "duration_secs": args.duration,
        }),
        endpoints: result?,
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!(
            "sealdb bench: {} workers, {} preloaded items of ~{} bytes, {} s per phase",
            workers, args.preload, args.item_bytes, args.duration
        );
        print!("{}", report.to_table());
    }
    Ok(())
}
