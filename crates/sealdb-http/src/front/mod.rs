//! The front door: one request in, one response out, with DynamoDB's checks in its order.
//!
//! ```text
//! Origin?           → Access-Control-Allow-Origin: * on whatever is answered
//! OPTIONS + Origin  → CORS preflight (200, empty)       other OPTIONS, PUT, … → 404
//! GET /             → "healthy: <host> "               GET elsewhere → 404
//! POST: Content-Length over 16 MiB                    → 413 (nothing read)
//!   SigV4 headers checked (authn.rs: all but the signature, which needs the body);
//!   body read: 16 MiB, or 64 KiB if the headers failed  → 413, or that failure's error
//!   (connection closed, the rest of the body unread); slower than the body timeout → 408
//!   content type of the protocol (JSON 1.0 / 1.1)     else 404 <UnknownOperationException/>
//!   Content-Encoding gzip/deflate inflated (capped)    else 500 / 413
//!   body is JSON                                       else SerializationException
//!   X-Amz-Target names an operation                    else UnknownOperationException
//!   the header checks' error, else the signature over the bytes as sent → Principal
//!   backend.call(operation, principal, body)           → JSON body or WireError
//! response: x-amzn-RequestId; for DynamoDB and Streams gzip/deflate on Accept-Encoding
//!           (≥ 4 KiB) and x-amz-crc32 over the bytes sent
//! POST without X-Amz-Target, form-encoded: IAM / STS (the Query protocol, `query.rs`):
//!   Action and Version checked, SigV4, backend answers the `…Result` XML, which is
//!   wrapped here with the request id
//! ```
//! Every protocol passes `X-Amz-Security-Token` to the credential lookup, which opens
//! session tokens and refuses expired ones.
//!
//! Where each part lives: `route.rs` the checks above in their order, `protocol.rs` the
//! protocols and their error envelopes, `request_body.rs` the body's coding,
//! `query_call.rs` IAM and STS, `reply.rs` writing a response, `plain.rs` what is not an
//! API call (console, health check, CORS preflight, 404).

mod plain;
mod protocol;
mod query_call;
mod reply;
mod request_body;
mod route;

pub use protocol::Protocol;

use crate::authn::Verifier;
use crate::wire::{Backend, CredentialLookup, WebConsole};
use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use sealdb_common::Clock;
use std::sync::Arc;

/// Largest request body accepted, as sent and once inflated (DynamoDB's limit: 16 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Largest form a console page may post.
pub const MAX_CONSOLE_BODY_BYTES: usize = 1024 * 1024;

/// Largest body read from a request whose headers already failed authentication (enough
/// for every framing error to be answered as AWS orders them; the body is not kept
/// beyond that).
pub const UNAUTHENTICATED_BODY_BYTES: usize = 64 * 1024;

/// Everything the front door needs.
pub struct FrontDoor {
    /// The DynamoDB service.
    pub dynamodb: Arc<dyn Backend>,
    /// The KMS service, when enabled.
    pub kms: Option<Arc<dyn Backend>>,
    /// The DynamoDB Streams service, when enabled.
    pub streams: Option<Arc<dyn Backend>>,
    /// Replication calls of peer deployments (global tables across deployments).
    pub replication: Option<Arc<dyn Backend>>,
    /// CloudTrail (LookupEvents over the audit log), when enabled.
    pub cloudtrail: Option<Arc<dyn Backend>>,
    /// The web console under `/console`, when enabled.
    pub console: Option<Arc<dyn WebConsole>>,
    /// IAM (Query protocol), when enabled.
    pub iam: Option<Arc<dyn Backend>>,
    /// STS (Query protocol), when enabled.
    pub sts: Option<Arc<dyn Backend>>,
    /// Secrets of access keys and session tokens.
    pub credentials: Arc<dyn CredentialLookup>,
    /// Whether the listener speaks TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The default region (named where a request carries none, e.g. the health check).
    pub region: String,
    /// The regions answered; a request scoped to another is refused as AWS refuses a
    /// request sent to the wrong regional endpoint.
    pub regions: sealdb_common::RegionSet,
    /// The account id of this server.
    pub account_id: String,
    /// The clock (request time checks).
    pub clock: Clock,
}

type HttpResponse = Response<Full<Bytes>>;

impl FrontDoor {
    /// Answers one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>, remote_ip: &str) -> HttpResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = std::time::Instant::now();
        if let Some(console) = &self.console {
            let path = req.uri().path();
            if path == "/console" || path.starts_with("/console/") {
                return self.console_request(console.as_ref(), req, remote_ip).await;
            }
        }
        let has_origin = req.headers().contains_key(http::header::ORIGIN);
        let operation = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut response = self.route(req, remote_ip).await;
        if has_origin {
            response.headers_mut().insert(
                http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        tracing::debug!(
            operation = operation.as_deref().unwrap_or("-"),
            status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        response
    }

    fn verifier(&self) -> Verifier<'_> {
        Verifier {
            credentials: self.credentials.as_ref(),
            regions: &self.regions,
            account_id: &self.account_id,
            now_secs: self.clock.now_secs(),
            secure_transport: self.secure_transport,
        }
    }
}
