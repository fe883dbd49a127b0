//! The XKS proxy's listener (`sealdb xks-proxy`): HTTPS only, each request's SigV4
//! signature checked against the one configured credential (service `kms-xks-proxy`,
//! at most [`MAX_SKEW_SECS`] from now), the path routed under the configured URI path,
//! and the specification's JSON answered. The key operations are the backend's.

use super::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, ErrorBody, HealthStatus,
    KeyMetadata, MetadataOnly, ProxyCredential, RequestMetadata, SERVICE, XksError, XksErrorName,
};
use crate::sigv4::{self, RequestParts};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How far a request's X-Amz-Date may be from the proxy's clock (a replayed request
/// older than this is refused).
pub const MAX_SKEW_SECS: i64 = 5 * 60;
/// Largest request body (the specification's plaintexts are at most a few KiB).
const MAX_BODY: usize = 64 * 1024;

/// What the proxy does with keys; blocking calls (PKCS#11), run off the async workers.
pub trait XksBackend: Send + Sync + 'static {
    /// GetHealthStatus.
    fn health(&self) -> Result<HealthStatus, XksError>;
    /// GetKeyMetadata.
    fn metadata(&self, key_id: &str, md: &RequestMetadata) -> Result<KeyMetadata, XksError>;
    /// Encrypt.
    fn encrypt(&self, key_id: &str, req: &EncryptRequest) -> Result<EncryptResponse, XksError>;
    /// Decrypt.
    fn decrypt(&self, key_id: &str, req: &DecryptRequest) -> Result<DecryptResponse, XksError>;
}

/// The proxy's configuration.
pub struct XksServerConfig {
    /// The URI path prefix, ending in `/kms/xks/v1`.
    pub uri_path: String,
    /// The one credential KMS signs with.
    pub credential: ProxyCredential,
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    config: Arc<XksServerConfig>,
    backend: Arc<dyn XksBackend>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        let config = Arc::clone(&config);
        let backend = Arc::clone(&backend);
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), tls.accept(stream)).await
            else {
                return;
            };
            let service = service_fn(move |req: Request<Incoming>| {
                let config = Arc::clone(&config);
                let backend = Arc::clone(&backend);
                async move { Ok::<_, std::convert::Infallible>(handle(req, &config, backend).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new());
            builder.header_read_timeout(Duration::from_secs(30));
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(e: &XksError) -> Response<Full<Bytes>> {
    let body = ErrorBody {
        error_name: e.name.as_str().to_owned(),
        error_message: e.message.clone(),
    };
    reply(
        e.name.status(),
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// Which operation a path names.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Health,
    Key(String, KeyOp),
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum KeyOp {
    Metadata,
    Encrypt,
    Decrypt,
}

fn route(uri_path: &str, path: &str) -> Option<Route> {
    let rest = path.strip_prefix(uri_path)?;
    if rest == "/health" {
        return Some(Route::Health);
    }
    let rest = rest.strip_prefix("/keys/")?;
    let (id, op) = rest.rsplit_once('/')?;
    let op = match op {
        "metadata" => KeyOp::Metadata,
        "encrypt" => KeyOp::Encrypt,
        "decrypt" => KeyOp::Decrypt,
        _ => return None,
    };
    let id_ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    id_ok.then(|| Route::Key(id.to_owned(), op))
}

/// Checks the request's signature: the credential, the service, the date, the
/// signature over what was received.
fn authenticate(
    parts: &http::request::Parts,
    body: &[u8],
    cred: &ProxyCredential,
) -> Result<(), XksError> {
    let fail = |m: &str| XksError::new(XksErrorName::AuthenticationFailed, m);
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let auth = header("authorization").ok_or_else(|| fail("Missing Authorization header"))?;
    let auth =
        sigv4::parse_authorization(auth).map_err(|_| fail("Malformed Authorization header"))?;
    if auth.service != SERVICE {
        return Err(fail(
            "Credential scope does not name the kms-xks-proxy service",
        ));
    }
    if auth.access_key_id != cred.access_key_id {
        return Err(fail("Unknown access key id"));
    }
    let amz_date = header("x-amz-date").ok_or_else(|| fail("Missing X-Amz-Date header"))?;
    let signed_at = sigv4::parse_amz_date(amz_date).ok_or_else(|| fail("Malformed X-Amz-Date"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if (now - signed_at).abs() > MAX_SKEW_SECS || !amz_date.starts_with(&auth.date) {
        return Err(fail("Signature expired or not yet valid"));
    }
    if !["host", "x-amz-date"]
        .iter()
        .all(|h| auth.signed_headers.iter().any(|s| s == h))
    {
        return Err(fail("Host and X-Amz-Date must be signed"));
    }
    let hash = sigv4::sha256_hex(body);
    if header("x-amz-content-sha256").is_some_and(|h| h != hash) {
        return Err(fail("X-Amz-Content-Sha256 does not match the body"));
    }
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    if !headers.iter().any(|(n, _)| n == "host")
        && let Some(a) = parts.uri.authority()
    {
        headers.push(("host".into(), a.to_string()));
    }
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload_hash: &hash,
    };
    if !sigv4::verify(&auth, &cred.secret, amz_date, &req) {
        return Err(fail("Signature does not match"));
    }
    Ok(())
}

async fn handle(
    req: Request<Incoming>,
    config: &XksServerConfig,
    backend: Arc<dyn XksBackend>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => zeroize::Zeroizing::new(b.to_bytes().to_vec()),
        Err(_) => {
            return error(&XksError::new(
                XksErrorName::Validation,
                "Request body too large or incomplete",
            ));
        }
    };
    if let Err(e) = authenticate(&parts, &body, &config.credential) {
        tracing::info!(reason = %e.message, "XKS request refused");
        return error(&e);
    }
    let Some(route) = route(&config.uri_path, parts.uri.path()) else {
        return error(&XksError::new(
            XksErrorName::InvalidUriPath,
            format!("No XKS API at {}", parts.uri.path()),
        ));
    };
    if parts.method != http::Method::POST {
        return error(&XksError::new(
            XksErrorName::UnsupportedOperation,
            "Only POST is supported",
        ));
    }
    let answered = tokio::task::spawn_blocking(move || dispatch(&route, &body, backend.as_ref()))
        .await
        .unwrap_or_else(|_| Err(XksError::new(XksErrorName::Internal, "internal failure")));
    match answered {
        Ok(json) => reply(200, json),
        Err(e) => error(&e),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, XksError> {
    serde_json::from_slice(body)
        .map_err(|e| XksError::new(XksErrorName::Validation, format!("Invalid request: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, XksError> {
    serde_json::to_vec(v).map_err(|_| XksError::new(XksErrorName::Internal, "internal failure"))
}

fn check_metadata(md: &RequestMetadata) -> Result<(), XksError> {
    if md.kms_operation.is_empty() || md.kms_request_id.is_empty() {
        return Err(XksError::new(
            XksErrorName::Validation,
            "requestMetadata must have kmsOperation and kmsRequestId",
        ));
    }
    Ok(())
}

fn dispatch(route: &Route, body: &[u8], backend: &dyn XksBackend) -> Result<Vec<u8>, XksError> {
    match route {
        Route::Health => {
            let req: MetadataOnly = parse(body)?;
            check_metadata(&req.request_metadata)?;
            to_json(&backend.health()?)
        }
        Route::Key(id, op) => {
            let key_md = |md: &RequestMetadata| -> Result<(), XksError> {
                check_metadata(md)?;
                if md.aws_principal_arn.is_none() {
                    return Err(XksError::new(
                        XksErrorName::Validation,
                        "requestMetadata must have awsPrincipalArn",
                    ));
                }
                Ok(())
            };
            match op {
                KeyOp::Metadata => {
                    let req: MetadataOnly = parse(body)?;
                    key_md(&req.request_metadata)?;
                    to_json(&backend.metadata(id, &req.request_metadata)?)
                }
                KeyOp::Encrypt => {
                    let req: EncryptRequest = parse(body)?;
                    key_md(&req.request_metadata)?;
                    aes_gcm(&req.encryption_algorithm)?;
                    let out: EncryptResponse = backend.encrypt(id, &req)?;
                    to_json(&out)
                }
                KeyOp::Decrypt => {
                    let req: DecryptRequest = parse(body)?;
                    key_md(&req.request_metadata)?;
                    aes_gcm(&req.encryption_algorithm)?;
                    let out: DecryptResponse = backend.decrypt(id, &req)?;
                    to_json(&out)
                }
            }
        }
    }
}

fn aes_gcm(alg: &str) -> Result<(), XksError> {
    if alg != "AES_GCM" {
        return Err(XksError::new(
            XksErrorName::Validation,
            format!("encryptionAlgorithm {alg} is not supported: AES_GCM"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_under_the_prefix_only() {
        let p = "/tenant/kms/xks/v1";
        assert_eq!(route(p, "/tenant/kms/xks/v1/health"), Some(Route::Health));
        assert_eq!(
            route(p, "/tenant/kms/xks/v1/keys/k-1_a.b/encrypt"),
            Some(Route::Key("k-1_a.b".into(), KeyOp::Encrypt))
        );
        for bad in [
            "/kms/xks/v1/health",
            "/tenant/kms/xks/v1/keys//encrypt",
            "/tenant/kms/xks/v1/keys/a%2Fb/decrypt",
            "/tenant/kms/xks/v1/keys/a/sign",
            "/tenant/kms/xks/v1/healthz",
        ] {
            assert_eq!(route(p, bad), None, "{bad}");
        }
    }
}
