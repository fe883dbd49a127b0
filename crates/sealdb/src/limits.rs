//! The listener's limits as `serve` flags (`sealdb_http::ServerLimits`).

use clap::Args;
use sealdb_http::ServerLimits;
use std::time::Duration;

#[derive(Args, Clone, Debug)]
pub struct LimitArgs {
    /// Seconds a client may take to send a request's headers; also how long an idle
    /// keep-alive connection is kept.
    #[arg(long, env = "SEALDB_HEADER_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Seconds a client may take to send a request's body (then 408 and close).
    #[arg(long, env = "SEALDB_BODY_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_secs: u64,
    /// Seconds a TLS handshake may take.
    #[arg(long, env = "SEALDB_TLS_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    tls_handshake_timeout_secs: u64,
    /// Seconds a response write may make no progress (a client that stopped reading)
    /// before the connection is closed.
    #[arg(long, env = "SEALDB_WRITE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    write_timeout_secs: u64,
    /// Connections served at once (more wait in the listen backlog).
    #[arg(long, env = "SEALDB_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Requests served on one connection before it is closed.
    #[arg(long, env = "SEALDB_MAX_REQUESTS_PER_CONNECTION", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_requests_per_connection: u64,
}

impl From<&LimitArgs> for ServerLimits {
    fn from(args: &LimitArgs) -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(args.header_timeout_secs),
            body_timeout: Duration::from_secs(args.body_timeout_secs),
            tls_handshake_timeout: Duration::from_secs(args.tls_handshake_timeout_secs),
            write_timeout: Duration::from_secs(args.write_timeout_secs),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            max_requests_per_connection: args.max_requests_per_connection,
            ..ServerLimits::default()
        }
    }
}
