//! KMS as a client of an XKS proxy: one signed POST per call over HTTPS (rustls,
//! trusting only the configured CA certificates), with a deadline. The calls block the
//! calling thread (KMS runs on blocking threads); the I/O runs on a small runtime of
//! this module's own, so they work from any thread.

use super::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, ErrorBody, HealthStatus,
    KeyMetadata, MetadataOnly, ProxyCredential, SERVICE, XksErrorName,
};
use crate::sigv4::{self, RequestParts, SigningParams};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Largest answer read (the specification's answers are a few KiB).
const MAX_REPLY: usize = 1 << 20;

/// Why a proxy call failed, in the terms KMS reports (connection error codes and
/// XksProxy* exceptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XksCallError {
    /// No TCP connection (refused, no route, DNS).
    Unreachable(String),
    /// The TLS handshake failed (certificate not trusted, wrong name).
    Tls(String),
    /// No complete answer before the deadline.
    TimedOut,
    /// The proxy answered with one of the specification's errors.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error name.
        name: XksErrorName,
        /// Its message.
        message: String,
    },
    /// An answer that is not the specification's (status, JSON, or a field).
    InvalidResponse(String),
}

impl std::fmt::Display for XksCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(e) => write!(f, "proxy not reachable: {e}"),
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::TimedOut => f.write_str("the proxy did not answer in time"),
            Self::Refused {
                status,
                name,
                message,
            } => write!(f, "{status} {}: {message}", name.as_str()),
            Self::InvalidResponse(e) => write!(f, "invalid answer: {e}"),
        }
    }
}

/// Where a proxy is and how KMS signs for it.
#[derive(Clone, Debug)]
pub struct XksEndpoint {
    /// `https://host[:port]` (XksProxyUriEndpoint).
    pub uri_endpoint: String,
    /// The path prefix ending in `/kms/xks/v1` (XksProxyUriPath).
    pub uri_path: String,
    /// The credential.
    pub credential: ProxyCredential,
    /// The SigV4 region (the KMS region).
    pub region: String,
}

/// The TLS trust and deadline of proxy calls (the server's configuration).
#[derive(Clone)]
pub struct XksTrust {
    tls: Option<tokio_rustls::TlsConnector>,
    /// How long one call may take, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for XksTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XksTrust")
            .field("ca_configured", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for XksTrust {
    fn default() -> Self {
        XksTrust {
            tls: None,
            timeout: Duration::from_secs(2),
        }
    }
}

impl XksTrust {
    /// No CA: every proxy call fails its TLS check (no external key store connects).
    pub fn without_ca(timeout: Duration) -> Self {
        XksTrust { tls: None, timeout }
    }

    /// Trusts the CA certificates of `ca_file` (PEM) only.
    pub fn from_ca_file(ca_file: &std::path::Path, timeout: Duration) -> Result<Self, String> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| format!("{}: {e}", ca_file.display()))?
        {
            roots
                .add(cert.map_err(|e| format!("{}: {e}", ca_file.display()))?)
                .map_err(|e| format!("{}: {e}", ca_file.display()))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(XksTrust {
            tls: Some(tokio_rustls::TlsConnector::from(Arc::new(config))),
            timeout,
        })
    }
}

fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("xks-client")
            .enable_all()
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot start the XKS client runtime"))
            .ok()
    })
    .as_ref()
}

/// Splits `https://host[:port]` into host and port.
pub fn parse_endpoint(uri: &str) -> Option<(String, u16)> {
    let rest = uri.strip_prefix("https://")?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !h.contains(':') => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((rest.to_owned(), 443)),
        _ => None,
    }
}

impl XksEndpoint {
    /// GetHealthStatus.
    pub fn health(
        &self,
        trust: &XksTrust,
        req: &MetadataOnly,
    ) -> Result<HealthStatus, XksCallError> {
        self.call(trust, "/health", req)
    }

    /// GetKeyMetadata of `key_id`.
    pub fn metadata(
        &self,
        trust: &XksTrust,
        key_id: &str,
        req: &MetadataOnly,
    ) -> Result<KeyMetadata, XksCallError> {
        self.call(trust, &key_path(key_id, "metadata"), req)
    }

    /// Encrypt under `key_id`.
    pub fn encrypt(
        &self,
        trust: &XksTrust,
        key_id: &str,
        req: &EncryptRequest,
    ) -> Result<EncryptResponse, XksCallError> {
        self.call(trust, &key_path(key_id, "encrypt"), req)
    }

    /// Decrypt under `key_id`.
    pub fn decrypt(
        &self,
        trust: &XksTrust,
        key_id: &str,
        req: &DecryptRequest,
    ) -> Result<DecryptResponse, XksCallError> {
        self.call(trust, &key_path(key_id, "decrypt"), req)
    }

    fn call<Q: Serialize, A: DeserializeOwned + Send + 'static>(
        &self,
        trust: &XksTrust,
        suffix: &str,
        req: &Q,
    ) -> Result<A, XksCallError> {
        let body = zeroize::Zeroizing::new(
            serde_json::to_vec(req).map_err(|e| XksCallError::InvalidResponse(e.to_string()))?,
        );
        let rt = runtime().ok_or_else(|| XksCallError::Unreachable("no runtime".into()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let me = self.clone();
        let tls = trust.tls.clone();
        let path = format!("{}{suffix}", self.uri_path);
        let deadline = trust.timeout;
        let body = Bytes::from(body.to_vec());
        rt.spawn(async move {
            let r = match tokio::time::timeout(deadline, me.post(tls, &path, body)).await {
                Ok(r) => r,
                Err(_) => Err(XksCallError::TimedOut),
            };
            let _ = tx.send(r);
        });
        let (status, bytes) = rx
            .recv_timeout(deadline + Duration::from_secs(1))
            .map_err(|_| XksCallError::TimedOut)??;
        let bytes = zeroize::Zeroizing::new(bytes);
        if status == 200 {
            return serde_json::from_slice(&bytes)
                .map_err(|e| XksCallError::InvalidResponse(format!("status 200: {e}")));
        }
        let err: ErrorBody = serde_json::from_slice(&bytes).map_err(|_| {
            XksCallError::InvalidResponse(format!("status {status} without an error body"))
        })?;
        let name = XksErrorName::parse(&err.error_name).ok_or_else(|| {
            XksCallError::InvalidResponse(format!("unknown error name {:?}", err.error_name))
        })?;
        Err(XksCallError::Refused {
            status,
            name,
            message: err.error_message,
        })
    }

    async fn post(
        &self,
        tls: Option<tokio_rustls::TlsConnector>,
        path: &str,
        body: Bytes,
    ) -> Result<(u16, Vec<u8>), XksCallError> {
        let (host, port) = parse_endpoint(&self.uri_endpoint)
            .ok_or_else(|| XksCallError::Unreachable("bad XksProxyUriEndpoint".into()))?;
        let tls = tls.ok_or_else(|| {
            XksCallError::Tls("no CA is configured for XKS proxies (--xks-proxy-ca-file)".into())
        })?;
        let authority = if port == 443 {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        let hash = sigv4::sha256_hex(&body);
        let headers = vec![
            ("host".to_owned(), authority),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-amz-content-sha256".to_owned(), hash.clone()),
        ];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let parts = RequestParts {
            method: "POST",
            path,
            query: "",
            headers: &headers,
            payload_hash: &hash,
        };
        let (auth, amz_date) = sigv4::sign(
            &parts,
            &SigningParams {
                access_key_id: &self.credential.access_key_id,
                secret: &self.credential.secret,
                region: &self.region,
                service: SERVICE,
                now_secs: now,
            },
        );
        let mut req = http::Request::post(path);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let req = req
            .header("x-amz-date", amz_date)
            .header("authorization", auth)
            .body(Full::new(body))
            .map_err(|e| XksCallError::Unreachable(e.to_string()))?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| XksCallError::Unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(host).map_err(|e| XksCallError::Tls(e.to_string()))?;
        let stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| XksCallError::Tls(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| XksCallError::InvalidResponse(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| XksCallError::InvalidResponse(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = http_body_util::Limited::new(resp.into_body(), MAX_REPLY)
            .collect()
            .await
            .map_err(|e| XksCallError::InvalidResponse(e.to_string()))?
            .to_bytes();
        Ok((status, bytes.to_vec()))
    }
}

/// `/keys/{id}/{op}`, the id percent-encoded as a path segment.
fn key_path(key_id: &str, op: &str) -> String {
    format!("/keys/{}/{op}", sigv4::uri_encode(key_id, true))
}
