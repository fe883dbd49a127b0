//! The server as a client of a peer deployment (`sealdb serve --peer REGION=URL`): one
//! JSON request at a time over HTTP/1.1 (hyper's client connection, rustls for https),
//! signed with SigV4 for `dynamodb` in the peer's region with the replication
//! credential. The secret is held as a `SecretString` (zeroized on drop, never logged).

use crate::sigv4::{self, RequestParts, SigningParams};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use sealdb_common::secret::SecretString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The most a peer's answer may be (its replication batches are far smaller).
const MAX_REPLY: usize = 32 << 20;
/// How long one call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The credential a deployment signs its calls to its peers with: an access key of an
/// IAM user of the peers' account.
pub struct PeerCredential {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret: SecretString,
}

impl std::fmt::Debug for PeerCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerCredential")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Why a call to a peer failed: it was not reached (or did not answer in time), or it
/// answered with an error.
#[derive(Debug, Clone)]
pub enum PeerCallError {
    /// Connection, TLS, timeout or a broken answer: worth retrying.
    Unreachable(String),
    /// The peer answered with an error status.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error's `__type` (without its namespace).
        kind: String,
        /// Its message.
        message: String,
    },
}

impl From<String> for PeerCallError {
    fn from(e: String) -> Self {
        Self::Unreachable(e)
    }
}

impl std::fmt::Display for PeerCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(e) => f.write_str(e),
            Self::Refused {
                status,
                kind,
                message,
            } => write!(f, "status {status} {kind}: {message}"),
        }
    }
}

/// One peer deployment's endpoint.
pub struct PeerClient {
    host: String,
    port: u16,
    /// `Host` header value.
    authority: String,
    tls: Option<tokio_rustls::TlsConnector>,
    credential: Arc<PeerCredential>,
}

impl PeerClient {
    /// A client of `url` (`http://host:port` or `https://host:port`); https trusts the
    /// certificates of `ca_file` (PEM) only.
    pub fn new(
        url: &str,
        ca_file: Option<&Path>,
        credential: Arc<PeerCredential>,
    ) -> Result<Self, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "peer URL {url:?}: must start with http:// or https://"
            ));
        };
        let authority = rest.trim_end_matches('/').to_owned();
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("peer URL {url:?}: give only scheme, host and port"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']').to_owned(),
                p.parse()
                    .map_err(|_| format!("peer URL {url:?}: bad port"))?,
            ),
            _ => (authority.clone(), if tls { 443 } else { 80 }),
        };
        let tls = if tls {
            let ca = ca_file.ok_or("an https peer needs --peer-ca-file")?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| e.to_string())? {
                roots
                    .add(cert.map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        Ok(Self {
            host,
            port,
            authority,
            tls,
            credential,
        })
    }

    /// POSTs `body` with `X-Amz-Target: target`, signed for `dynamodb` in `region`; the
    /// answer's body on 200, else the peer's error (or why it was not reached).
    pub async fn call(
        &self,
        region: &str,
        target: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, PeerCallError> {
        match tokio::time::timeout(CALL_TIMEOUT, self.call_inner(region, target, body)).await {
            Err(_) => Err(PeerCallError::Unreachable(
                "the peer did not answer in time".to_owned(),
            )),
            Ok(r) => r,
        }
    }

    async fn call_inner(
        &self,
        region: &str,
        target: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, PeerCallError> {
        let hash = sigv4::sha256_hex(&body);
        let headers = vec![
            ("host".to_owned(), self.authority.clone()),
            ("x-amz-target".to_owned(), target.to_owned()),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.0".to_owned(),
            ),
        ];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let parts = RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload_hash: &hash,
        };
        let (auth, amz_date) = sigv4::sign(
            &parts,
            &SigningParams {
                access_key_id: &self.credential.access_key_id,
                secret: &self.credential.secret,
                region,
                service: "dynamodb",
                now_secs: now,
            },
        );
        let mut req = http::Request::post("/");
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let req = req
            .header("x-amz-date", amz_date)
            .header("authorization", auth)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let resp = match &self.tls {
            None => send(TokioIo::new(tcp), req).await?,
            Some(c) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|e| e.to_string())?;
                let stream = c
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("tls: {e}"))?;
                send(TokioIo::new(stream), req).await?
            }
        };
        let status = resp.status();
        let bytes = http_body_util::Limited::new(resp.into_body(), MAX_REPLY)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        if status != http::StatusCode::OK {
            let v = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default();
            let kind = v["__type"].as_str().unwrap_or_default();
            let message = v["message"]
                .as_str()
                .or_else(|| v["Message"].as_str())
                .unwrap_or_default();
            return Err(PeerCallError::Refused {
                status: status.as_u16(),
                kind: kind.rsplit('#').next().unwrap_or_default().to_owned(),
                message: message.to_owned(),
            });
        }
        Ok(bytes.to_vec())
    }
}

async fn send<T>(
    io: TokioIo<T>,
    req: http::Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))
}
