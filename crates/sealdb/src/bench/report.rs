//! The benchmark's figures: per-phase results, the server's CPU and memory from /proc, and
//! the two renderings (a table for people, JSON for machines), with the ratios between
//! endpoints when several are measured.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What one phase measured against one endpoint.
pub(crate) struct PhaseResult {
    pub(crate) phase: &'static str,
    pub(crate) items_per_op: u32,
    pub(crate) ops: u64,
    pub(crate) seconds: f64,
    /// Latencies of the successful requests, in microseconds, sorted.
    pub(crate) latencies_us: Vec<u32>,
    /// Failed requests by error type (the `__type` after `#`, or a transport error).
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) server_cpu_secs: Option<f64>,
    pub(crate) server_peak_rss_bytes: Option<u64>,
}

impl PhaseResult {
    pub(crate) fn ops_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            to_f64(self.ops) / self.seconds
        } else {
            0.0
        }
    }

    /// Server CPU per request (successful or not), in microseconds.
    pub(crate) fn cpu_us_per_op(&self) -> Option<f64> {
        let requests = self.ops + self.errors.values().sum::<u64>();
        let cpu = self.server_cpu_secs?;
        (requests > 0).then(|| cpu * 1e6 / to_f64(requests))
    }

    /// The latency below which the fraction `p` of requests completed, in milliseconds.
    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        let Some(last) = self.latencies_us.len().checked_sub(1) else {
            return 0.0;
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let idx = ((to_f64(last as u64) * p).ceil() as usize).min(last);
        f64::from(self.latencies_us[idx]) / 1e3
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn to_json(&self) -> Value {
        json!({
            "phase": self.phase,
            "items_per_op": self.items_per_op,
            "ops": self.ops,
            "seconds": self.seconds,
            "ops_per_sec": self.ops_per_sec(),
            "latency_ms": {
                "p50": self.percentile_ms(0.5),
                "p99": self.percentile_ms(0.99),
                "p99_9": self.percentile_ms(0.999),
                "max": self.percentile_ms(1.0),
            },
            "error_count": self.error_count(),
            "errors": self.errors,
            "server_cpu_us_per_op": self.cpu_us_per_op(),
            "server_peak_rss_bytes": self.server_peak_rss_bytes,
        })
    }
}

#[allow(clippy::cast_precision_loss)]
fn to_f64(n: u64) -> f64 {
    n as f64
}

/// One endpoint's results.
pub(crate) struct EndpointReport {
    pub(crate) label: String,
    pub(crate) endpoint: String,
    pub(crate) server_pid: Option<u32>,
    pub(crate) phases: Vec<PhaseResult>,
}

/// Everything `sealdb bench` measured.
pub(crate) struct Report {
    pub(crate) config: Value,
    pub(crate) endpoints: Vec<EndpointReport>,
}

/// CPU seconds (user + system) used so far by a process.
pub(crate) fn process_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // /proc counts in USER_HZ ticks, which Linux fixes at 100 for user space on every
    // architecture it exports /proc to (whatever the kernel's own HZ).
    Some((utime + stime) / 100.0)
}

/// The process's peak resident memory (VmHWM), in bytes.
pub(crate) fn process_peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Ratios of the first endpoint to each other one, per phase: throughput first ÷ other and
/// server CPU per operation other ÷ first, so that above 1 the first endpoint is ahead.
fn comparisons(endpoints: &[EndpointReport]) -> Vec<Value> {
    let Some((first, others)) = endpoints.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for other in others {
        for mine in &first.phases {
            let Some(theirs) = other.phases.iter().find(|p| p.phase == mine.phase) else {
                continue;
            };
            let throughput =
                (theirs.ops_per_sec() > 0.0).then(|| mine.ops_per_sec() / theirs.ops_per_sec());
            let cpu = match (mine.cpu_us_per_op(), theirs.cpu_us_per_op()) {
                (Some(a), Some(b)) if a > 0.0 => Some(b / a),
                _ => None,
            };
            out.push(json!({
                "phase": mine.phase,
                "baseline": first.label,
                "other": other.label,
                "throughput_ratio": throughput,
                "cpu_per_op_ratio": cpu,
            }));
        }
    }
    out
}

impl Report {
    pub(crate) fn to_json(&self) -> Value {
        let endpoints: Vec<Value> = self
            .endpoints
            .iter()
            .map(|e| {
                json!({
                    "label": e.label,
                    "endpoint": e.endpoint,
                    "server_pid": e.server_pid,
                    "phases": e.phases.iter().map(PhaseResult::to_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "tool": "sealdb bench",
            "version": env!("CARGO_PKG_VERSION"),
            "config": self.config,
            "endpoints": endpoints,
            "comparison": comparisons(&self.endpoints),
        })
    }

    pub(crate) fn to_table(&self) -> String {
        let mut out = String::new();
        for e in &self.endpoints {
            let _ = writeln!(out, "\n{} ({})", e.label, e.endpoint);
            let _ = writeln!(
                out,
                "{:<12} {:>10} {:>9} {:>9} {:>9} {:>12} {:>10}  errors",
                "phase", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU µs/op", "peak RSS"
            );
            for p in &e.phases {
                let cpu = p
                    .cpu_us_per_op()
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.1}"));
                let rss = p
                    .server_peak_rss_bytes
                    .map_or_else(|| "n/a".to_owned(), |b| format!("{} MB", b / (1024 * 1024)));
                let errors = if p.errors.is_empty() {
                    "0".to_owned()
                } else {
                    p.errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = writeln!(
                    out,
                    "{:<12} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>12} {:>10}  {errors}",
                    p.phase,
                    p.ops_per_sec(),
                    p.percentile_ms(0.5),
                    p.percentile_ms(0.99),
                    p.percentile_ms(0.999),
                    cpu,
                    rss,
                );
            }
        }
        let ratios = comparisons(&self.endpoints);
        if !ratios.is_empty() {
            let _ = writeln!(
                out,
                "\nratios (above 1: the first endpoint is ahead)\n{:<12} {:<24} {:>18} {:>18}",
                "phase", "versus", "throughput ×", "less CPU/op ×"
            );
            for r in ratios {
                let fmt = |v: &Value| {
                    v.as_f64()
                        .map_or_else(|| "n/a".to_owned(), |x| format!("{x:.2}"))
                };
                let _ = writeln!(
                    out,
                    "{:<12} {:<24} {:>18} {:>18}",
                    r["phase"].as_str().unwrap_or(""),
                    r["other"].as_str().unwrap_or(""),
                    fmt(&r["throughput_ratio"]),
                    fmt(&r["cpu_per_op_ratio"]),
                );
            }
        }
        out
    }
}
