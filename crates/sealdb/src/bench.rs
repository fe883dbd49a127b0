//! `sealdb bench`: drives a DynamoDB endpoint (a `sealdb serve` it starts itself, or any
//! endpoint, e.g. a peer implementation) with signed PutItem and GetItem requests over
//! keep-alive HTTP/1.1 connections, and reports throughput, latency and, when the server
//! is a local process, its CPU time per operation (from /proc/<pid>/stat).

use sealdb_common::secret::SecretString;
use sealdb_http::sigv4;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

/// Options of `sealdb bench`.
#[derive(clap::Args, Clone)]
pub(crate) struct BenchArgs {
    /// Endpoint to drive (default: start a `sealdb serve` in a temporary data dir).
    #[arg(long)]
    endpoint: Option<String>,
    /// Process id of the server behind --endpoint, to report its CPU time per operation.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Access key id for --endpoint.
    #[arg(long, default_value = "AKIDSEALDBBENCH000001")]
    access_key_id: String,
    /// Secret access key for --endpoint.
    #[arg(long, default_value = "sealdbBenchSecret000000000000000000000000")]
    secret_access_key: String,
    /// Items written, then read back.
    #[arg(long, default_value_t = 5000)]
    items: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Size of the string attribute of each item, in bytes.
    #[arg(long, default_value_t = 1000)]
    value_bytes: usize,
}

struct Target {
    host: String,
    region: String,
    akid: String,
    secret: SecretString,
}

/// A started server, stopped on drop.
struct OwnServer {
    child: Child,
    _dir: std::path::PathBuf,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start_own_server(args: &BenchArgs) -> Result<(OwnServer, String), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("sealdb-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env("SEALDB_ACCESS_KEY_ID", &args.access_key_id)
        .env("SEALDB_SECRET_ACCESS_KEY", &args.secret_access_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start server: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut endpoint = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(ep) = line.strip_prefix("sealdb listening on ") {
            endpoint = Some(ep.to_owned());
            break;
        }
    }
    let endpoint = endpoint.ok_or("server did not start")?;
    Ok((OwnServer { child, _dir: dir }, endpoint))
}

/// CPU seconds (user + system) used so far by a process.
fn process_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks; USER_HZ is 100 on every mainstream configuration.
    Some((utime + stime) / 100.0)
}

/// One keep-alive connection that sends signed DynamoDB requests (reconnecting when
/// the server closes it, as some peers do after every response).
struct Conn {
    stream: Option<TokioBufReader<TcpStream>>,
    target: Arc<Target>,
}

async fn connect(host: &str) -> Result<TokioBufReader<TcpStream>, String> {
    let stream = TcpStream::connect(host)
        .await
        .map_err(|e| format!("connect {host}: {e}"))?;
    let _ = stream.set_nodelay(true);
    Ok(TokioBufReader::new(stream))
}

impl Conn {
    async fn open(target: Arc<Target>) -> Result<Conn, String> {
        let stream = Some(connect(&target.host).await?);
        Ok(Conn { stream, target })
    }

    async fn call(&mut self, op: &str, body: &str) -> Result<(u16, Vec<u8>), String> {
        match self.try_call(op, body).await {
            Ok(r) => Ok(r),
            Err(_) => {
                // The server may have closed an idle connection: once more, fresh.
                self.stream = None;
                self.try_call(op, body).await
            }
        }
    }

    async fn try_call(&mut self, op: &str, body: &str) -> Result<(u16, Vec<u8>), String> {
        let t = Arc::clone(&self.target);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
            .unwrap_or(0);
        let amz_date = sigv4::format_amz_date(now);
        let target_header = format!("DynamoDB_20120810.{op}");
        let headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.0".to_owned(),
            ),
            ("host".to_owned(), t.host.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
            ("x-amz-target".to_owned(), target_header.clone()),
        ];
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let payload_hash = sigv4::sha256_hex(body.as_bytes());
        let creq = sigv4::canonical_request(
            &sigv4::RequestParts {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                payload_hash: &payload_hash,
            },
            &signed,
        );
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/dynamodb/aws4_request", t.region);
        let sts = sigv4::string_to_sign(&amz_date, &scope, &creq);
        let key = sigv4::signing_key(&t.secret, date, &t.region, "dynamodb");
        let sig = sigv4::signature(&key, &sts);
        let request = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amz-date: {amz_date}\r\nx-amz-target: {target_header}\r\nauthorization: AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={sig}\r\ncontent-length: {}\r\n\r\n{body}",
            t.host,
            t.akid,
            signed.join(";"),
            body.len()
        );
        if self.stream.is_none() {
            self.stream = Some(connect(&t.host).await?);
        }
        let Some(s) = self.stream.as_mut() else {
            return Err("no connection".into());
        };
        s.get_mut()
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        s.read_line(&mut line).await.map_err(|e| e.to_string())?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut len = 0usize;
        let mut close = false;
        loop {
            line.clear();
            s.read_line(&mut line).await.map_err(|e| e.to_string())?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("connection")
                    && v.trim().eq_ignore_ascii_case("close")
                {
                    close = true;
                }
            }
        }
        let mut buf = vec![0u8; len];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        if close {
            self.stream = None;
        }
        Ok((status, buf))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn run_phase(
    name: &str,
    target: &Arc<Target>,
    args: &BenchArgs,
    pid: Option<u32>,
    make_body: Arc<dyn Fn(usize) -> String + Send + Sync>,
    op: &'static str,
) -> Result<(), String> {
    let cpu_before = pid.and_then(process_cpu_secs);
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let target = Arc::clone(target);
        let next = Arc::clone(&next);
        let make_body = Arc::clone(&make_body);
        let total = args.items;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(target).await?;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = make_body(i);
                let t0 = Instant::now();
                let (status, resp) = conn.call(op, &body).await?;
                lat.push(t0.elapsed());
                if status != 200 {
                    return Err(format!(
                        "{op} failed: {status} {}",
                        String::from_utf8_lossy(&resp)
                    ));
                }
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed();
    lat.sort();
    #[allow(clippy::cast_precision_loss)]
    let ops = lat.len() as f64;
    let cpu = match (cpu_before, pid.and_then(process_cpu_secs)) {
        (Some(a), Some(b)) => format!("{:.1} µs server CPU/op", (b - a) * 1e6 / ops),
        _ => "server CPU: n/a".into(),
    };
    println!(
        "{name:<8} {:>8.0} ops/s   p50 {:>7.2} ms   p99 {:>7.2} ms   {cpu}",
        ops / elapsed.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}

/// Runs the benchmark.
pub(crate) fn run(args: &BenchArgs) -> Result<(), String> {
    let (own, endpoint, pid) = match &args.endpoint {
        Some(ep) => (None, ep.clone(), args.server_pid),
        None => {
            let (own, ep) = start_own_server(args)?;
            let pid = own.child.id();
            (Some(own), ep, Some(pid))
        }
    };
    let host = endpoint
        .strip_prefix("http://")
        .ok_or("bench speaks plain http:// only")?
        .trim_end_matches('/')
        .to_owned();
    let target = Arc::new(Target {
        host,
        region: "us-east-1".into(),
        akid: args.access_key_id.clone(),
        secret: SecretString::new(args.secret_access_key.clone()),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let table = format!("bench{}", std::process::id());
    let result = rt.block_on(async {
        let mut conn = Conn::open(Arc::clone(&target)).await?;
        let create = format!(
            r#"{{"TableName":"{table}","AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},{{"AttributeName":"sk","AttributeType":"N"}}],"KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}],"BillingMode":"PAY_PER_REQUEST"}}"#
        );
        let (status, resp) = conn.call("CreateTable", &create).await?;
        if status != 200 {
            return Err(format!("CreateTable: {}", String::from_utf8_lossy(&resp)));
        }
        println!(
            "sealdb bench: {} items of ~{} bytes, {} connections, endpoint {endpoint}",
            args.items, args.value_bytes, args.concurrency
        );
        let value = "v".repeat(args.value_bytes);
        let t = table.clone();
        let put: Arc<dyn Fn(usize) -> String + Send + Sync> = Arc::new(move |i| {
            // Ten items per partition, so that a Query returns ten.
            format!(
                r#"{{"TableName":"{t}","Item":{{"pk":{{"S":"key-{}"}},"sk":{{"N":"{}"}},"n":{{"N":"{i}"}},"v":{{"S":"{value}"}}}}}}"#,
                i / 10,
                i % 10
            )
        });
        run_phase("PutItem", &target, args, pid, put, "PutItem").await?;
        let t = table.clone();
        let get: Arc<dyn Fn(usize) -> String + Send + Sync> = Arc::new(move |i| {
            format!(
                r#"{{"TableName":"{t}","Key":{{"pk":{{"S":"key-{}"}},"sk":{{"N":"{}"}}}}}}"#,
                i / 10,
                i % 10
            )
        });
        run_phase("GetItem", &target, args, pid, get, "GetItem").await?;
        let t = table.clone();
        let partitions = args.items.div_ceil(10).max(1);
        let query: Arc<dyn Fn(usize) -> String + Send + Sync> = Arc::new(move |i| {
            format!(
                r#"{{"TableName":"{t}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"key-{}"}}}}}}"#,
                i % partitions
            )
        });
        run_phase("Query10", &target, args, pid, query, "Query").await?;
        let _ = conn
            .call("DeleteTable", &format!(r#"{{"TableName":"{table}"}}"#))
            .await;
        Ok(())
    });
    drop(own);
    result
}
