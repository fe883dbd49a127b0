//! Running the workers: the preload, and one timed phase with its live progress line.

use super::client::Conn;
use super::report::{PhaseResult, process_cpu_secs, process_peak_rss_bytes};
use super::workload::{Phase, Rng, WorkerState, Workload};
use super::{Endpoint, error_type};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Whether a BatchWriteItem answer left items unwritten; returns them as the next request.
fn unprocessed(table_resp: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(table_resp).ok()?;
    let items = v.get("UnprocessedItems")?;
    let any = items.as_object().is_some_and(|m| !m.is_empty());
    any.then(|| serde_json::json!({ "RequestItems": items }).to_string())
}

/// Writes items 0..preload in BatchWriteItem requests of 25, retrying unprocessed items.
pub(super) async fn preload(
    ep: &Endpoint,
    workload: &Arc<Workload>,
    workers: usize,
) -> Result<(), String> {
    let batches = workload.preload.div_ceil(25);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let target = Arc::clone(&ep.target);
        let workload = Arc::clone(workload);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(target).await?;
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return Ok::<(), String>(());
                }
                let indexes: Vec<usize> = (b * 25..((b + 1) * 25).min(workload.preload)).collect();
                let mut body = workload.batch_put(&indexes);
                for attempt in 0..100u64 {
                    let (status, resp) = conn.call("BatchWriteItem", &body).await?;
                    if status != 200 {
                        let t = error_type(status, &resp);
                        if t.contains("Throughput") || t.contains("Throttling") {
                            tokio::time::sleep(Duration::from_millis(10 * (attempt + 1))).await;
                            continue;
                        }
                        return Err(format!("preload: {t} {}", String::from_utf8_lossy(&resp)));
                    }
                    match unprocessed(&resp) {
                        Some(rest) => {
                            body = rest;
                            tokio::time::sleep(Duration::from_millis(10 * (attempt + 1))).await;
                        }
                        None => break,
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// What one worker measured.
#[derive(Default)]
struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

/// The Scan cursor to continue from: the answer's LastEvaluatedKey, or the start again.
fn scan_cursor(resp: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(resp).ok()?;
    v.get("LastEvaluatedKey").map(ToString::to_string)
}

#[allow(clippy::too_many_lines)]
async fn worker(
    ep_target: Arc<super::client::Target>,
    workload: Arc<Workload>,
    phase: Phase,
    mut st: WorkerState,
    deadline: Instant,
    done_ops: Arc<AtomicU64>,
    done_errors: Arc<AtomicU64>,
) -> WorkerResult {
    let mut out = WorkerResult::default();
    let mut conn = None;
    while Instant::now() < deadline {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Conn::open(Arc::clone(&ep_target)).await {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    *out.errors.entry("connection refused".into()).or_default() += 1;
                    done_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let (op, body) = workload.request(phase, &mut st);
        let started = Instant::now();
        let answer = c.call(op, &body).await;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let failure = match answer {
            Ok((200, resp)) => {
                if phase == Phase::Scan {
                    st.scan_from = scan_cursor(&resp);
                }
                if op == "BatchWriteItem" && unprocessed(&resp).is_some() {
                    Some("UnprocessedItems".to_owned())
                } else {
                    None
                }
            }
            Ok((status, resp)) => Some(error_type(status, &resp)),
            Err(_) => {
                conn = None;
                Some("transport error".to_owned())
            }
        };
        match failure {
            None => {
                out.latencies_us.push(micros);
                done_ops.fetch_add(1, Ordering::Relaxed);
            }
            Some(kind) => {
                *out.errors.entry(format!("{op}: {kind}")).or_default() += 1;
                done_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    out
}

/// Prints a progress line on stderr about once a second until `stop` is set.
async fn progress_line(
    label: String,
    phase: &'static str,
    total: Duration,
    ops: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let elapsed = started.elapsed().as_secs_f64();
        let n = ops.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        let rate = n as f64 / elapsed.max(1e-3);
        let line = format!(
            "{label} {phase}: {elapsed:.0}/{:.0} s, {n} ops, {rate:.0} ops/s, {} errors",
            total.as_secs_f64(),
            errors.load(Ordering::Relaxed)
        );
        let mut err = std::io::stderr();
        if tty {
            let _ = write!(err, "\r\x1b[K{line}");
        } else if started.elapsed().as_millis() % 1000 < 250 {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
    if tty {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
}

/// Runs one phase for `duration` with `workers` connections.
pub(super) async fn phase(
    ep: &Endpoint,
    workload: &Arc<Workload>,
    phase: Phase,
    workers: usize,
    duration: Duration,
    progress: Option<&str>,
) -> PhaseResult {
    let cpu_before = ep.pid.and_then(process_cpu_secs);
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress_task = progress.map(|label| {
        tokio::spawn(progress_line(
            label.to_owned(),
            phase.name(),
            duration,
            Arc::clone(&ops),
            Arc::clone(&errors),
            Arc::clone(&stop),
        ))
    });
    let started = Instant::now();
    let deadline = started + duration;
    let seed = u64::from(std::process::id()) << 16;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let st = WorkerState {
                worker: w,
                workers,
                rng: Rng::new(seed ^ (w as u64) ^ ((phase as u64) << 8)),
                scan_from: None,
            };
            tokio::spawn(worker(
                Arc::clone(&ep.target),
                Arc::clone(workload),
                phase,
                st,
                deadline,
                Arc::clone(&ops),
                Arc::clone(&errors),
            ))
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut all_errors: BTreeMap<String, u64> = BTreeMap::new();
    for t in tasks {
        match t.await {
            Ok(r) => {
                latencies_us.extend(r.latencies_us);
                for (k, v) in r.errors {
                    *all_errors.entry(k).or_default() += v;
                }
            }
            Err(e) => *all_errors.entry(format!("worker failed: {e}")).or_default() += 1,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = progress_task {
        let _ = t.await;
    }
    latencies_us.sort_unstable();
    let server_cpu_secs = match (cpu_before, ep.pid.and_then(process_cpu_secs)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    PhaseResult {
        phase: phase.name(),
        items_per_op: phase.items_per_op(),
        ops: latencies_us.len() as u64,
        seconds,
        latencies_us,
        errors: all_errors,
        server_cpu_secs,
        server_peak_rss_bytes: ep.pid.and_then(process_peak_rss_bytes),
    }
}
