//! `sealdb`: a DynamoDB-compatible database whose data is always encrypted at rest.
//!
//! Subcommands: `serve` (the server), `bench` (benchmark), `credentials` (access keys),
//! `verify` (integrity of a stopped data dir), `rotate-root-key`, `change-passphrase`, `audit`,
//! `xks-proxy` (an XKS proxy for KMS external key stores in front of a PKCS#11 token).

mod bench;
mod identities;
mod limits;
mod peers;
mod regions;
mod root_key;
mod root_of_trust;
mod verify;
mod wiring;
mod xks_proxy;

use clap::{Args, Parser, Subcommand};
use root_key::{
    init, key_store_dirs, load_or_create_root_key, open_engine, restrict_dir, rotate_root_key,
};
use sealdb_common::Clock;
use sealdb_common::secret::SecretString;
use sealdb_http::FrontDoor;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "sealdb",
    version,
    about = "A DynamoDB-compatible database, always encrypted at rest"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server (DynamoDB API on one HTTP listener).
    Serve(ServeArgs),
    /// Make a data dir and its root of trust (--root-of-trust file|passphrase|pkcs11)
    /// without serving; `serve` on a new data dir does the same at its first start.
    Init {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Benchmark any DynamoDB endpoint: throughput, latency, errors, server CPU and memory.
    Bench(bench::BenchArgs),
    /// Manage access keys.
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
    /// Re-key the catalog, the key store and the transaction log under a new root key
    /// (table files are untouched). Run with the server stopped; safe to run again if
    /// interrupted.
    RotateRootKey {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Keep the root key another way (--root-of-trust file|passphrase|pkcs11): only the root key
    /// is re-wrapped, no data file is touched. Run with the server stopped; safe to run
    /// again if interrupted.
    SetRootOfTrust {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Re-wrap the root key under a new passphrase (root of trust `passphrase`); no data
    /// file is touched. Run with the server stopped.
    ChangePassphrase {
        #[command(flatten)]
        data: DataArgs,
        /// File holding the new passphrase (else SEALDB_NEW_PASSPHRASE, or the terminal).
        #[arg(long)]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Check every page of every file, every wrapped key and the audit chain; exits
    /// non-zero naming each fault. Run with the server stopped.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Print every action the server serves, one `service:Action` a line (the names
    /// IAM policies use), taken from the services' dispatch tables.
    Actions,
    /// Serve the AWS XKS proxy API (KMS external key stores) over HTTPS in front of a
    /// PKCS#11 token: GetHealthStatus, GetKeyMetadata, Encrypt and Decrypt, SigV4-checked.
    XksProxy(xks_proxy::XksProxyArgs),
    /// The KMS audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the hash chain of the audit log; names the first removed, reordered or edited record.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Print every record (one CloudTrail-style JSON object a line), oldest first.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Data directory (created on first start).
    #[arg(long, env = "SEALDB_DATA_DIR", default_value = "./sealdb-data")]
    data_dir: PathBuf,
    /// Root key file (default: <data-dir>/root.key, created on first start with mode 0600).
    #[arg(long, env = "SEALDB_ROOT_KEY_FILE")]
    root_key_file: Option<PathBuf>,
    /// Where the root key of a new data dir is kept (recorded in <data-dir>/root-of-trust
    /// at first start): a key file, or sealed under a passphrase.
    #[arg(long, env = "SEALDB_ROOT_OF_TRUST", value_enum)]
    root_of_trust: Option<root_of_trust::Kind>,
    /// File holding the passphrase (root of trust `passphrase`); else SEALDB_PASSPHRASE,
    /// the systemd credential `sealdb-passphrase`, or the terminal.
    #[arg(long, env = "SEALDB_PASSPHRASE_FILE")]
    passphrase_file: Option<PathBuf>,
    /// PKCS#11 module of the HSM (root of trust `pkcs11`), e.g.
    /// /usr/lib/softhsm/libsofthsm2.so. Recorded at first start; give it again only when
    /// the library lives elsewhere on this host.
    #[arg(long, env = "SEALDB_PKCS11_MODULE")]
    pkcs11_module: Option<PathBuf>,
    /// The token holding the wrapping key, by label (root of trust `pkcs11`, first start).
    #[arg(
        long,
        env = "SEALDB_PKCS11_TOKEN_LABEL",
        conflicts_with = "pkcs11_token_serial"
    )]
    pkcs11_token_label: Option<String>,
    /// The token holding the wrapping key, by serial number (instead of its label).
    #[arg(long, env = "SEALDB_PKCS11_TOKEN_SERIAL")]
    pkcs11_token_serial: Option<String>,
    /// Label of the non-extractable AES-256 key that seals the root key (made in the
    /// token at first start when it has none of that label).
    #[arg(long, env = "SEALDB_PKCS11_KEY_LABEL")]
    pkcs11_key_label: Option<String>,
    /// File holding the token's user PIN (mode 0600); else SEALDB_PKCS11_PIN, or the
    /// systemd credential `sealdb-pkcs11-pin`.
    #[arg(long, env = "SEALDB_PKCS11_PIN_FILE")]
    pkcs11_pin_file: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SEALDB_LISTEN", default_value = "127.0.0.1:8000")]
    listen: String,
    /// The default region: a new data dir's tables and keys made before regions existed
    /// stay in it (it is recorded at first start), and the banner names it.
    #[arg(long, env = "SEALDB_REGION", default_value = "us-east-1")]
    region: String,
    /// The regions answered, each a namespace of its own (tables, keys, streams, backups):
    /// a comma-separated list, or '*' for any region name. Default: every region of the
    /// aws partition. A request for another region is refused as AWS refuses a request
    /// sent to the wrong regional endpoint.
    #[arg(long, env = "SEALDB_REGIONS", value_parser = parse_regions)]
    regions: Option<sealdb_common::RegionSet>,
    /// 12-digit account id used in ARNs.
    #[arg(long, env = "SEALDB_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// A region served by another sealdb deployment, REGION=URL (repeatable): global
    /// table replicas there are created and fed over HTTP(S) with SigV4. The region is
    /// not answered here.
    #[arg(long = "peer", value_parser = peers::parse_peer)]
    peers: Vec<(String, String)>,
    /// The replication credential for --peer: a file (mode 0600) of two lines, the
    /// access key id and secret of an IAM user of the peers, allowed DescribeTable,
    /// Scan, CreateTable and UpdateTable on the global tables (and their KMS keys' use).
    #[arg(long, env = "SEALDB_PEER_CREDENTIAL_FILE")]
    peer_credential_file: Option<PathBuf>,
    /// The CA certificates (PEM) an https --peer's certificate must chain to.
    #[arg(long, env = "SEALDB_PEER_CA_FILE")]
    peer_ca_file: Option<PathBuf>,
    /// TLS certificate chain (PEM); enables HTTPS with --tls-key.
    #[arg(long, env = "SEALDB_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "SEALDB_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Admin access key id (with --secret-access-key replaces the generated admin credential).
    #[arg(long, env = "SEALDB_ACCESS_KEY_ID", requires = "secret_access_key")]
    access_key_id: Option<String>,
    /// Admin secret access key.
    #[arg(
        long,
        env = "SEALDB_SECRET_ACCESS_KEY",
        requires = "access_key_id",
        hide_env_values = true
    )]
    secret_access_key: Option<String>,
    /// A CloudHSM cluster for KMS custom key stores (AWS_CLOUDHSM), as
    /// `cluster-<id>=<PKCS#11 module path>:<token label>`: CreateCustomKeyStore's
    /// CloudHsmClusterId names it, its KeyStorePassword is the token's user PIN.
    /// Repeatable; the environment variable takes a comma-separated list.
    #[arg(
        long = "cloudhsm-cluster",
        env = "SEALDB_CLOUDHSM_CLUSTERS",
        value_delimiter = ','
    )]
    cloudhsm_clusters: Vec<String>,
    /// How long a custom key store stays CONNECTING after ConnectCustomKeyStore before
    /// its token is logged in to, in milliseconds (AWS takes minutes; 0 here).
    #[arg(
        long,
        env = "SEALDB_CUSTOM_KEY_STORE_CONNECT_DELAY_MS",
        default_value_t = 0
    )]
    custom_key_store_connect_delay_ms: u64,
    /// The CA certificates (PEM) an XKS proxy's certificate must chain to (KMS external
    /// key stores; without it no external key store connects).
    #[arg(long, env = "SEALDB_XKS_PROXY_CA_FILE")]
    xks_proxy_ca_file: Option<PathBuf>,
    /// How long KMS waits for an XKS proxy's answer, connection included, in
    /// milliseconds (AWS: 250; slower answers fail with XKS_PROXY_TIMED_OUT or
    /// KMSInvalidStateException).
    #[arg(long, env = "SEALDB_XKS_PROXY_TIMEOUT_MS", default_value_t = 2000)]
    xks_proxy_timeout_ms: u64,
    /// How often an open table's KMS key is re-checked, in seconds (AWS: about 300).
    #[arg(long, env = "SEALDB_KEY_CHECK_INTERVAL_SECS", default_value_t = 300)]
    key_check_interval_secs: u64,
    /// How long a table's KMS key may stay unusable before the table is archived, in
    /// seconds (AWS: 7 days).
    #[arg(long, env = "SEALDB_ARCHIVE_AFTER_SECS", default_value_t = 7 * 24 * 3600)]
    archive_after_secs: u64,
    /// How long a global table replica's KMS key may stay unusable before the replica
    /// leaves its replication group, in seconds (AWS: 20 hours).
    #[arg(long, env = "SEALDB_REPLICA_INACCESSIBLE_SECS", default_value_t = 20 * 3600)]
    replica_inaccessible_secs: u64,
    /// How long a global table replica shows UPDATING after a ReplicaUpdates Update, and
    /// DELETING before a ReplicaUpdates Delete removes it, in seconds (AWS: seconds to
    /// minutes).
    #[arg(long, env = "SEALDB_REPLICA_TRANSITION_SECS", default_value_t = 2)]
    replica_transition_secs: u64,
    /// For tests of day-long limits (stream retention between peers): moves the clock
    /// of the regions' data (tables, streams, keys) forward by this many seconds; request
    /// signatures and sessions keep the system clock.
    #[arg(
        long,
        hide = true,
        env = "SEALDB_TEST_DATA_CLOCK_OFFSET_SECS",
        default_value_t = 0
    )]
    test_data_clock_offset_secs: i64,
    /// How often Time to Live deletes expired items, in seconds (AWS: within days; the
    /// sweep reads every TTL-enabled table, paced behind foreground work).
    #[arg(long, env = "SEALDB_TTL_SWEEP_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    ttl_sweep_interval: u64,
    /// How long UpdateTimeToLive's ENABLING / DISABLING lasts, in seconds (AWS: up to an
    /// hour, usually seconds).
    #[arg(long, env = "SEALDB_TTL_TRANSITION_SECS", default_value_t = 2)]
    ttl_transition_secs: u64,
    /// How long after a TTL change another UpdateTimeToLive is refused, in seconds (AWS:
    /// one hour).
    #[arg(long, env = "SEALDB_TTL_CHANGE_INTERVAL_SECS", default_value_t = 3600)]
    ttl_change_interval_secs: u64,
    /// How far DescribeContinuousBackups' LatestRestorableDateTime (and
    /// RestoreTableToPointInTime's latest restorable time) lags behind now, in seconds
    /// (AWS: 5 minutes; tests use 0).
    #[arg(long, env = "SEALDB_PITR_LATEST_LAG_SECS", default_value_t = 300)]
    pitr_latest_lag_secs: u64,
    /// How long a stream shard stays open before the next write opens a child shard, in
    /// seconds (DynamoDB: about 4 hours).
    #[arg(long, env = "SEALDB_STREAM_SHARD_ROLLOVER_SECS", default_value_t = 4 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    stream_shard_rollover_secs: u64,
    /// File holding the web console's secret (at least 32 bytes); session cookies are
    /// MACed under it, so changing it signs everyone out. Default: derived from the root key.
    #[arg(long, env = "SEALDB_CONSOLE_SECRET_FILE")]
    console_secret_file: Option<PathBuf>,
    /// How long a console session lasts, in seconds (the AWS console: 12 hours).
    #[arg(long, env = "SEALDB_CONSOLE_SESSION_SECS", default_value_t = 12 * 3600, value_parser = clap::value_parser!(i64).range(60..))]
    console_session_secs: i64,
    #[command(flatten)]
    limits: limits::LimitArgs,
}

#[derive(Subcommand)]
enum CredentialsAction {
    /// Create an access key for a named user (printed once). Restart the server to use it.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// User name (the principal is arn:aws:iam::<account>:user/<name>).
        #[arg(long)]
        name: String,
    },
    /// List access key ids and their users.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Delete an access key. Restart the server for it to take effect.
    Delete {
        #[command(flatten)]
        data: DataArgs,
        /// The access key id.
        access_key_id: String,
    },
}

fn parse_regions(text: &str) -> Result<sealdb_common::RegionSet, String> {
    sealdb_common::RegionSet::parse(text)
}

fn main() -> ExitCode {
    // Everything sealdb creates is owner-only: files 0600, directories 0700.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALDB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // One process at a time on a data dir: held until this process exits.
    let _lock = match cli.command.data_dir() {
        Some((data, create)) => match lock_data_dir(data, create) {
            Ok(lock) => lock,
            Err(e) => {
                eprintln!("sealdb: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Init { data } => init(&data),
        Command::Bench(args) => bench::run(&args),
        Command::Credentials { action } => credentials(action),
        Command::Audit {
            action: AuditAction::Verify { data },
        } => audit_verify(&data),
        Command::Audit {
            action: AuditAction::List { data },
        } => audit_list(&data),
        Command::RotateRootKey { data } => rotate_root_key(&data),
        Command::SetRootOfTrust { data } => root_of_trust::switch::set_root_of_trust(&data),
        Command::ChangePassphrase {
            data,
            new_passphrase_file,
        } => root_of_trust::change_passphrase(&data, new_passphrase_file.as_deref()),
        Command::Verify { data } => verify::run(&data),
        Command::XksProxy(args) => xks_proxy::run(args),
        Command::Actions => {
            for action in served_actions() {
                println!("{action}");
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealdb: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every action served, as `service:Action`: DynamoDB, DynamoDB Streams (whose actions
/// IAM names `dynamodb:`), KMS, IAM, STS and CloudTrail.
fn served_actions() -> Vec<String> {
    let dynamodb = sealdb_dynamodb::Operation::ALL.iter().map(|o| o.name());
    let streams = sealdb_dynamodb::STREAMS_OPERATIONS.iter().copied();
    let kms = sealdb_kms::Operation::ALL.iter().map(|o| o.name());
    let iam = sealdb_iam::api::IAM_ACTIONS.iter().copied();
    let sts = sealdb_iam::sts::STS_ACTIONS.iter().copied();
    let mut all: Vec<String> = dynamodb
        .chain(streams)
        .map(|a| format!("dynamodb:{a}"))
        .collect();
    all.extend(kms.map(|a| format!("kms:{a}")));
    all.extend(iam.map(|a| format!("iam:{a}")));
    all.extend(sts.map(|a| format!("sts:{a}")));
    all.push(format!("cloudtrail:{}", sealdb_kms::LOOKUP_EVENTS));
    all
}

impl Command {
    /// The data dir the command works on, and whether the command creates it.
    fn data_dir(&self) -> Option<(&DataArgs, bool)> {
        match self {
            Command::Serve(args) => Some((&args.data, true)),
            Command::Init { data } => Some((data, true)),
            Command::Bench(_) | Command::Actions | Command::XksProxy(_) => None,
            Command::Credentials { action } => match action {
                CredentialsAction::Create { data, .. }
                | CredentialsAction::List { data }
                | CredentialsAction::Delete { data, .. } => Some((data, true)),
            },
            Command::RotateRootKey { data }
            | Command::Verify { data }
            | Command::SetRootOfTrust { data }
            | Command::ChangePassphrase { data, .. } => Some((data, false)),
            Command::Audit { action } => match action {
                AuditAction::Verify { data } | AuditAction::List { data } => Some((data, false)),
            },
        }
    }
}

/// Takes the data dir's lock (creating the dir, mode 0700, if `create`); `None` when
/// the dir does not exist and is not to be created (the command then says so).
fn lock_data_dir(
    data: &DataArgs,
    create: bool,
) -> Result<Option<sealdb_storage::DataDirLock>, String> {
    if !data.data_dir.exists() {
        if !create {
            return Ok(None);
        }
        std::fs::create_dir_all(&data.data_dir)
            .map_err(|e| format!("cannot create data dir {}: {e}", data.data_dir.display()))?;
        restrict_dir(&data.data_dir);
    }
    sealdb_storage::DataDirLock::acquire(&data.data_dir)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve_async(args))
}

async fn serve_async(args: ServeArgs) -> Result<(), String> {
    let mut answered = args.regions.clone().unwrap_or_default();
    let peer_clients = peers::clients(
        &args.peers,
        args.peer_credential_file.as_deref(),
        args.peer_ca_file.as_deref(),
    )?;
    // A region of a peer deployment is answered there, not here.
    match &mut answered {
        sealdb_common::RegionSet::Listed(set) => {
            for r in peer_clients.keys() {
                set.remove(r);
            }
        }
        sealdb_common::RegionSet::Any if !peer_clients.is_empty() => {
            return Err("--peer needs --regions listing the regions served here".into());
        }
        sealdb_common::RegionSet::Any => {}
    }
    if !sealdb_common::region::is_region_name(&args.region) {
        return Err(format!("--region '{}' is not a region name", args.region));
    }
    let (root, first_start) = load_or_create_root_key(&args.data)?;
    let key_path = root_of_trust::key_file(&args.data.data_dir, args.data.root_key_file.as_deref());
    if let Some(warning) = root_of_trust::key_inside_warning(&args.data.data_dir, &key_path) {
        eprintln!("sealdb: warning: {warning}");
    }
    let home = regions::home_region(&args.data.data_dir, &args.region)?;
    if !answered.answers(&home) {
        return Err(format!(
            "the data dir's home region {home} holds its tables and keys, but --regions leaves it out"
        ));
    }
    let clock = Clock::system();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(sealdb_http::tls_acceptor(c, k).map_err(|e| e.to_string())?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Each region's key service comes first (table keys of KMS-encrypted tables are
    // wrapped by it); its callers' IAM policies come from the identity store, opened
    // after the home region's engine (it migrates the catalog's old credentials).
    let kms_identity = Arc::new(wiring::LateIdentityPolicies::default());
    let key_check_interval_ms =
        i64::try_from(args.key_check_interval_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    sealdb_dynamodb::ttl::set_ttl_timing(
        i64::try_from(args.ttl_transition_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        i64::try_from(args.ttl_change_interval_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    );
    sealdb_dynamodb::replication::set_replica_transition_ms(
        i64::try_from(args.replica_transition_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    );
    sealdb_dynamodb::ops::pitr::set_latest_restorable_lag_ms(
        i64::try_from(args.pitr_latest_lag_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    );
    sealdb_storage::stream::set_shard_rollover_ms(
        i64::try_from(args.stream_shard_rollover_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    );
    let mut cloudhsm_clusters = sealdb_kms::CloudHsmClusters::new(
        std::time::Duration::from_millis(args.custom_key_store_connect_delay_ms),
    );
    for spec in &args.cloudhsm_clusters {
        let (id, token) = sealdb_kms::CloudHsmClusters::parse_spec(spec)?;
        cloudhsm_clusters.insert(id, token);
    }
    let xks_timeout = std::time::Duration::from_millis(args.xks_proxy_timeout_ms);
    let xks_trust = match &args.xks_proxy_ca_file {
        Some(ca) => sealdb_http::xks::client::XksTrust::from_ca_file(ca, xks_timeout)
            .map_err(|e| format!("--xks-proxy-ca-file: {e}"))?,
        None => sealdb_http::xks::client::XksTrust::without_ca(xks_timeout),
    };
    let regions = regions::Regions::new(
        &args.data.data_dir,
        home.clone(),
        answered.clone(),
        root.clone(),
        regions::RegionSettings {
            account_id: args.account_id.clone(),
            clock: data_clock(args.test_data_clock_offset_secs),
            endpoint_address: local.to_string(),
            key_check_interval_ms,
            archive_after_ms: i64::try_from(args.archive_after_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            replica_inaccessible_ms: i64::try_from(
                args.replica_inaccessible_secs.saturating_mul(1000),
            )
            .unwrap_or(i64::MAX),
            ttl_sweep: std::time::Duration::from_secs(args.ttl_sweep_interval),
            peers: peer_clients,
            cloudhsm_clusters,
            xks_trust,
        },
        Arc::clone(&kms_identity),
    );
    let home_services = regions.open_at_start().await?;
    // Identities (global); the admin credential is a key of the account root, fixed by
    // flags/env, else generated once on first start.
    let identities = identities::open_store(
        &args.data.data_dir,
        &root,
        &args.account_id,
        clock.clone(),
        &home_services.engine,
    )?;
    let fixed_admin = args
        .access_key_id
        .as_deref()
        .zip(args.secret_access_key.as_deref());
    let printed_secret = identities::ensure_admin(&identities, fixed_admin)?;
    let session_tokens =
        Arc::new(sealdb_iam::SessionTokens::new(&root).map_err(|e| e.to_string())?);
    // Every DynamoDB, Streams, KMS, IAM and STS action is authorized by the policy engine
    // over the store's policies.
    let store_policies: Arc<dyn sealdb_iam::IdentityPolicies> =
        Arc::new(sealdb_iam::StorePolicies::new(Arc::clone(&identities)));
    kms_identity.set(Arc::clone(&store_policies));
    let authorizer = sealdb_iam::Authorizer::with_clock(Arc::clone(&store_policies), clock.clone());
    regions.set_authorizer(Arc::new(authorizer.clone()));
    let iam_service = Arc::new(sealdb_iam::IamService::new(
        Arc::clone(&identities),
        Arc::clone(&session_tokens),
        Arc::new(sealdb_iam::EngineGate(authorizer)),
        Arc::new(sealdb_iam::EnginePolicies),
    ));

    let iam_backend = Arc::new(identities::QueryBackend {
        service: Arc::clone(&iam_service),
        sts: false,
        regions: Arc::clone(&regions),
    });
    let console = sealdb_console::Console::new(
        Arc::new(wiring::ConsoleRegions::new(
            Arc::clone(&regions),
            &args.data.data_dir,
            &home,
            &answered,
            Arc::clone(&iam_backend),
        )),
        Arc::clone(&identities),
        sealdb_console::ConsoleConfig {
            secret: wiring::console_secret(args.console_secret_file.as_deref(), &root)?,
            session_ttl_secs: args.console_session_secs,
            account_id: args.account_id.clone(),
            clock: clock.clone(),
            session_store: Some(sealdb_console::SessionStore::new(
                args.data.data_dir.join("console-sessions"),
                root.derive(sealdb_common::key_hierarchy::Purpose::ConsoleSessionStore),
            )),
        },
    );
    let front = Arc::new(FrontDoor {
        console: Some(Arc::new(wiring::ConsoleBackend(console))),
        dynamodb: Arc::new(wiring::DynamoBackend(Arc::clone(&regions))),
        kms: Some(Arc::new(wiring::KmsBackend(Arc::clone(&regions)))),
        streams: Some(Arc::new(wiring::StreamsBackend(Arc::clone(&regions)))),
        replication: Some(Arc::new(wiring::ReplicationBackend(Arc::clone(&regions)))),
        cloudtrail: Some(Arc::new(wiring::CloudTrailBackend(Arc::clone(&regions)))),
        iam: Some(iam_backend),
        sts: Some(Arc::new(identities::QueryBackend {
            service: Arc::clone(&iam_service),
            sts: true,
            regions: Arc::clone(&regions),
        })),
        credentials: Arc::new(identities::StoreCredentials {
            store: Arc::clone(&identities),
            tokens: Arc::clone(&session_tokens),
        }),
        secure_transport: tls.is_some(),
        region: home.clone(),
        regions: answered,
        account_id: args.account_id.clone(),
        clock,
    });

    print_banner(
        &args,
        &home,
        scheme,
        &local.to_string(),
        first_start,
        printed_secret.as_ref(),
    );

    let limits = sealdb_http::ServerLimits::from(&args.limits);
    sealdb_http::serve_with_limits(listener, front, tls, limits, shutdown_signal()).await;
    regions.close();
    println!("sealdb stopped");
    Ok(())
}

fn print_banner(
    args: &ServeArgs,
    home: &str,
    scheme: &str,
    addr: &str,
    first_start: bool,
    new_admin: Option<&(String, SecretString)>,
) {
    let endpoint = format!("{scheme}://{addr}");
    if first_start {
        println!(
            "sealdb: new data dir {} (root key created, mode 0600)",
            args.data.data_dir.display()
        );
    }
    let admin_id = match (new_admin, &args.access_key_id) {
        (Some((id, secret)), _) => {
            println!("sealdb: admin credential created; the secret is shown only now:");
            println!("  AWS_ACCESS_KEY_ID={id}");
            println!("  AWS_SECRET_ACCESS_KEY={}", secret.expose());
            Some(id.clone())
        }
        (None, Some(id)) => Some(id.clone()),
        (None, None) => None,
    };
    println!("sealdb: connect with");
    if let Some(id) = admin_id {
        println!(
            "  export AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY=<secret> AWS_DEFAULT_REGION={home}"
        );
    }
    println!("  aws dynamodb list-tables --endpoint-url {endpoint}");
    println!("  aws kms list-keys --endpoint-url {endpoint}");
    println!("  boto3.client('dynamodb', endpoint_url='{endpoint}', region_name='{home}')");
    println!("  (SDKs: AWS_ENDPOINT_URL={endpoint})");
    // Tests and scripts wait for this exact line.
    println!("sealdb listening on {endpoint}");
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Every region's records (each names its `awsRegion`), region by region.
fn audit_list(data: &DataArgs) -> Result<(), String> {
    let dirs = key_store_dirs(data)?;
    let (root, _) = load_or_create_root_key(data)?;
    for (_, dir) in dirs {
        for r in sealdb_kms::audit_records(&dir, &root)? {
            println!("{r}");
        }
    }
    Ok(())
}

/// Every region's chain (each region's key store has its own).
fn audit_verify(data: &DataArgs) -> Result<(), String> {
    let dirs = key_store_dirs(data)?;
    let (root, _) = load_or_create_root_key(data)?;
    for (region, dir) in dirs {
        let label = if dir == data.data_dir {
            String::new()
        } else {
            format!("{region}: ")
        };
        match sealdb_kms::verify_audit_log(&dir, &root) {
            Ok(report) => println!("{label}audit log intact: {} records", report.records),
            Err(e) => return Err(format!("{label}audit log check failed: {e}")),
        }
    }
    Ok(())
}

/// Opens the identity store of a data dir for the `credentials` commands.
fn open_identities(data: &DataArgs) -> Result<Arc<sealdb_iam::IdentityStore>, String> {
    let (engine, root, _) = open_engine(data)?;
    // The account id only appears in ARNs, which these commands do not print.
    identities::open_store(
        &data.data_dir,
        &root,
        "000000000000",
        Clock::system(),
        &engine,
    )
}

fn credentials(action: CredentialsAction) -> Result<(), String> {
    match action {
        CredentialsAction::Create { data, name } => {
            let store = open_identities(&data)?;
            let (id, secret) = identities::create(&store, &name)?;
            println!("user: {name}");
            println!("AWS_ACCESS_KEY_ID={id}");
            println!("AWS_SECRET_ACCESS_KEY={}", secret.expose());
            Ok(())
        }
        CredentialsAction::List { data } => {
            let store = open_identities(&data)?;
            for line in identities::list(&store) {
                println!("{line}");
            }
            Ok(())
        }
        CredentialsAction::Delete {
            data,
            access_key_id,
        } => {
            let store = open_identities(&data)?;
            if identities::delete(&store, &access_key_id)? {
                println!("deleted {access_key_id}");
                Ok(())
            } else {
                Err(format!("no access key {access_key_id}"))
            }
        }
    }
}

/// The clock of the regions' data: the system clock, moved by `--test-data-clock-offset-secs`.
fn data_clock(offset_secs: i64) -> Clock {
    sealdb_dynamodb::index::set_test_wall_offset_ms(offset_secs.saturating_mul(1000));
    let clock = Clock::system();
    clock.advance_millis(offset_secs.saturating_mul(1000));
    clock
}
