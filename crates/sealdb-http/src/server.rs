//! The listener: plain HTTP/1.1 or TLS (rustls), limits against slow and greedy clients
//! ([`ServerLimits`]), and a graceful shutdown that lets in-flight requests finish.

use crate::body::DeadlineBody;
use crate::front::FrontDoor;
use crate::write_deadline::WriteDeadline;
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the certificate or key.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A TLS acceptor from PEM files (certificate chain, private key), with the aws-lc-rs provider.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let pem_err = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert, e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The listener's limits against slow, idle and greedy clients. Every timeout closes the
/// connection; none applies to a request the backend is working on.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection stays open waiting for its next request.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, from the end of its headers
    /// (answered 408 and closed).
    pub body_timeout: Duration,
    /// How long a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// How long a response write may make no progress (a client that stopped reading)
    /// before the connection is closed.
    pub write_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog until one
    /// closes.
    pub max_connections: usize,
    /// Requests served on one connection; the last is answered with `Connection: close`.
    pub max_requests_per_connection: u64,
    /// Largest request head (request line and headers), in bytes (larger: 431 and close).
    pub max_header_bytes: usize,
    /// Most headers in one request (more: 431 and close).
    pub max_headers: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_requests_per_connection: 10_000,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting and waits for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    front: Arc<FrontDoor>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    serve_with_limits(listener, front, tls, ServerLimits::default(), shutdown).await;
}

/// [`serve`] with the given limits.
pub async fn serve_with_limits(
    listener: TcpListener,
    front: Arc<FrontDoor>,
    tls: Option<TlsAcceptor>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        // A slot first, so a client over the cap waits in the backlog rather than being
        // accepted and left unserved.
        let slot = tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => s,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let front = Arc::clone(&front);
        let remote_ip = remote.ip().to_string();
        let served = Arc::new(AtomicU64::new(0));
        let body_timeout = limits.body_timeout;
        let max_requests = limits.max_requests_per_connection.max(1);
        let service = service_fn(move |req: Request<Incoming>| {
            let front = Arc::clone(&front);
            let remote_ip = remote_ip.clone();
            let last = served.fetch_add(1, Ordering::Relaxed) + 1 >= max_requests;
            async move {
                let (parts, body) = req.into_parts();
                let body = DeadlineBody {
                    inner: body,
                    deadline: Box::pin(tokio::time::sleep(body_timeout)),
                };
                let mut response = front
                    .handle(Request::from_parts(parts, body), &remote_ip)
                    .await;
                if last {
                    response.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new());
        builder.header_read_timeout(limits.header_timeout);
        builder.max_header_size(limits.max_header_bytes);
        builder.max_headers(limits.max_headers);
        match &tls {
            None => {
                let stream = WriteDeadline::new(stream, limits.write_timeout);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    drop(slot);
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                let handshake_timeout = limits.tls_handshake_timeout;
                let write_timeout = limits.write_timeout;
                tokio::spawn(async move {
                    let tls_stream = match tokio::time::timeout(
                        handshake_timeout,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "tls handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("tls handshake timed out");
                            return;
                        }
                    };
                    let tls_stream = WriteDeadline::new(tls_stream, write_timeout);
                    let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("shutdown: gave up waiting for in-flight requests");
        }
    }
}
