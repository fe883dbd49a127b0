//! A minimal DynamoDB client for the benchmark: signed (SigV4) JSON requests over keep-alive
//! HTTP/1.1 connections, with nothing between the load generator and the socket that would
//! cost more CPU than the server it measures.

use sealdb_common::secret::SecretString;
use sealdb_http::sigv4;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

/// Where requests go and how they are signed.
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) region: String,
    pub(crate) akid: String,
    pub(crate) secret: SecretString,
}

/// One keep-alive connection that sends signed DynamoDB requests (reconnecting when
/// the server closes it, as some peers do after every response).
pub(crate) struct Conn {
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
    pub(crate) async fn open(target: Arc<Target>) -> Result<Conn, String> {
        let stream = Some(connect(&target.host).await?);
        Ok(Conn { stream, target })
    }

    pub(crate) async fn call(&mut self, op: &str, body: &str) -> Result<(u16, Vec<u8>), String> {
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
