//! Adapters between the front door's traits and the services.

use bytes::Bytes;
use sealdb_common::Principal;
use sealdb_common::Purpose;
use sealdb_dynamodb::{Operation, Service};
use sealdb_http::{Backend, BoxFuture, WireError};
use std::sync::Arc;

use crate::regions::{RegionServices, Regions};

/// The services of the caller's region (its SigV4 scope; the front door refused the
/// regions not served). A region that cannot be opened is the service's internal error.
async fn region_of(
    regions: &Arc<Regions>,
    caller: &Principal,
    internal: impl FnOnce() -> WireError,
) -> Result<Arc<RegionServices>, WireError> {
    match regions.services(&caller.region).await {
        Ok(r) => Ok(r),
        Err(e) => {
            tracing::error!(region = %caller.region, error = %e, "cannot open region");
            Err(internal())
        }
    }
}

fn dynamodb_internal() -> WireError {
    WireError::new(
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        500,
        "Internal server error",
    )
}

/// A DynamoDB error as the front door writes it.
fn dynamo_wire_error(e: &sealdb_dynamodb::error::DynamoError) -> WireError {
    WireError {
        type_name: e.wire_type().to_owned(),
        status: e.status(),
        message: e.message(),
        capital_message: e.capital_message(),
        extra: e.extra(),
    }
}

fn kms_internal() -> WireError {
    WireError::new("KMSInternalException", 500, "Internal server error")
}

/// The DynamoDB service of each region as a front-door backend.
pub(crate) struct DynamoBackend(pub(crate) Arc<Regions>);

impl Backend for DynamoBackend {
    fn has_operation(&self, operation: &str) -> bool {
        Operation::from_name(operation).is_some()
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        caller: &'a Principal,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Vec<u8>, WireError>> {
        Box::pin(async move {
            let Some(op) = Operation::from_name(operation) else {
                return Err(WireError::new(
                    "com.amazon.coral.service#UnknownOperationException",
                    400,
                    "",
                ));
            };
            let region = region_of(&self.0, caller, dynamodb_internal).await?;
            match region.dynamodb.call(op, caller, &body).await {
                Ok(v) => Ok(to_json_bytes(&v)),
                Err(e) => Err(dynamo_wire_error(&e)),
            }
        })
    }
}

/// A response body. Sized for a 1 KB item up front: serde_json's own 128 bytes took four
/// reallocations to get there.
fn to_json_bytes(v: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    match serde_json::to_writer(&mut out, v) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// DynamoDB Streams, served by each region's DynamoDB service (the records live in its tables).
pub(crate) struct StreamsBackend(pub(crate) Arc<Regions>);

impl Backend for StreamsBackend {
    fn has_operation(&self, operation: &str) -> bool {
        Service::is_streams_operation(operation)
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        caller: &'a Principal,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Vec<u8>, WireError>> {
        Box::pin(async move {
            let region = region_of(&self.0, caller, dynamodb_internal).await?;
            match region.dynamodb.call_streams(operation, caller, &body).await {
                None => Err(WireError::new(
                    "com.amazon.coral.service#UnknownOperationException",
                    400,
                    "",
                )),
                Some(Ok(v)) => Ok(serde_json::to_vec(&v).unwrap_or_default()),
                Some(Err(e)) => Err(dynamo_wire_error(&e)),
            }
        })
    }
}

/// The replication calls of peer deployments (`SealdbReplication_20261202.*`), run by
/// the caller's region's DynamoDB service.
pub(crate) struct ReplicationBackend(pub(crate) Arc<Regions>);

impl Backend for ReplicationBackend {
    fn has_operation(&self, operation: &str) -> bool {
        sealdb_dynamodb::remote::REPLICATION_OPERATIONS.contains(&operation)
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        caller: &'a Principal,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Vec<u8>, WireError>> {
        Box::pin(async move {
            let region = region_of(&self.0, caller, dynamodb_internal).await?;
            match region
                .dynamodb
                .replication_call(operation, caller, &body)
                .await
            {
                Ok(v) => Ok(serde_json::to_vec(&v).unwrap_or_default()),
                Err(e) => Err(dynamo_wire_error(&e)),
            }
        })
    }
}

/// The KMS service of each region as a front-door backend.
pub(crate) struct KmsBackend(pub(crate) Arc<Regions>);

impl Backend for KmsBackend {
    fn has_operation(&self, operation: &str) -> bool {
        sealdb_kms::KmsService::has_operation(operation)
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        caller: &'a Principal,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Vec<u8>, WireError>> {
        Box::pin(async move {
            let region = region_of(&self.0, caller, kms_internal).await?;
            region
                .kms
                .call(operation, caller, &body)
                .await
                .map_err(|e| WireError::new(e.error_type(), e.http_status(), e.message()))
        })
    }
}

/// CloudTrail's LookupEvents, answered from the audit log of the caller's region.
pub(crate) struct CloudTrailBackend(pub(crate) Arc<Regions>);

impl Backend for CloudTrailBackend {
    fn has_operation(&self, operation: &str) -> bool {
        operation == sealdb_kms::LOOKUP_EVENTS
    }

    fn call<'a>(
        &'a self,
        _operation: &'a str,
        caller: &'a Principal,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Vec<u8>, WireError>> {
        Box::pin(async move {
            let region = region_of(&self.0, caller, || {
                WireError::new("InternalFailure", 500, "Internal server error")
            })
            .await?;
            region
                .kms
                .lookup_events(caller, &body)
                .await
                .map_err(|e| WireError::new(e.error_type(), e.http_status(), e.message()))
        })
    }
}

/// Identity policies for a service opened before the identity store: the key service
/// must be open first (table keys are unwrapped through it while the engine opens, as
/// DynamoDB's service principal, which has no identity policies), and the store is
/// opened after the engine (it migrates the catalog's old credentials). Until the store
/// is set, every non-root caller has no identity policy.
#[derive(Default)]
pub(crate) struct LateIdentityPolicies(std::sync::OnceLock<Arc<dyn sealdb_iam::IdentityPolicies>>);

impl LateIdentityPolicies {
    /// Points at the store's policies; only the first call counts.
    pub(crate) fn set(&self, policies: Arc<dyn sealdb_iam::IdentityPolicies>) {
        let _ = self.0.set(policies);
    }
}

impl sealdb_iam::IdentityPolicies for LateIdentityPolicies {
    fn policies_for(&self, principal: &Principal) -> Vec<Arc<sealdb_iam::PolicyDocument>> {
        self.0
            .get()
            .map(|p| p.policies_for(principal))
            .unwrap_or_default()
    }
}

/// The console's view of the regions and of IAM: the same services the front door
/// routes to, so the console's calls are authorized, answered and audited alike.
pub(crate) struct ConsoleRegions {
    regions: Arc<Regions>,
    /// Home region first, then the other answered ones.
    names: Vec<String>,
    iam: Arc<crate::identities::QueryBackend>,
}

impl ConsoleRegions {
    /// The answered regions, home first. With `--regions '*'` any well-formed name is
    /// served, so the console offers every region of the `aws` partition (botocore's
    /// list, the default of `--regions`) and any other region that has data.
    pub(crate) fn new(
        regions: Arc<Regions>,
        data_dir: &std::path::Path,
        home: &str,
        answered: &sealdb_common::region::RegionSet,
        iam: Arc<crate::identities::QueryBackend>,
    ) -> ConsoleRegions {
        let mut names = vec![home.to_owned()];
        let others: Vec<String> = match answered {
            sealdb_common::region::RegionSet::Listed(set) => set.iter().cloned().collect(),
            sealdb_common::region::RegionSet::Any => sealdb_common::region::AWS_REGIONS
                .iter()
                .map(|r| (*r).to_owned())
                .chain(
                    crate::regions::regions_on_disk(data_dir)
                        .map(|v| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>())
                        .unwrap_or_default(),
                )
                .collect(),
        };
        for name in others {
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        ConsoleRegions {
            regions,
            names,
            iam,
        }
    }
}

impl sealdb_console::ConsoleServices for ConsoleRegions {
    fn regions(&self) -> Vec<String> {
        self.names.clone()
    }

    fn region<'a>(
        &'a self,
        region: &'a str,
    ) -> sealdb_console::BoxFuture<'a, Option<sealdb_console::RegionServices>> {
        Box::pin(async move {
            if !self.names.iter().any(|n| n == region) {
                return None;
            }
            let r = self.regions.services(region).await.ok()?;
            Some(sealdb_console::RegionServices {
                dynamodb: Arc::clone(&r.dynamodb),
                kms: Arc::clone(&r.kms),
            })
        })
    }

    fn iam<'a>(
        &'a self,
        action: &'a str,
        caller: &'a Principal,
        params: Vec<(String, String)>,
    ) -> sealdb_console::BoxFuture<'a, Result<String, sealdb_console::ServiceError>> {
        Box::pin(async move {
            let body = {
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("Action", action);
                form.append_pair("Version", "2010-05-08");
                for (k, v) in &params {
                    form.append_pair(k, v);
                }
                Bytes::from(form.finish())
            };
            match self.iam.call(action, caller, body).await {
                Ok(xml) => Ok(String::from_utf8_lossy(&xml).into_owned()),
                Err(e) => Err(sealdb_console::ServiceError::new(&e.type_name, e.message)),
            }
        })
    }
}

/// The web console as the front door's `/console` handler.
pub(crate) struct ConsoleBackend(pub(crate) sealdb_console::Console);

impl sealdb_http::WebConsole for ConsoleBackend {
    fn handle<'a>(
        &'a self,
        request: http::Request<Bytes>,
        remote_ip: &'a str,
        secure_transport: bool,
    ) -> BoxFuture<'a, http::Response<Bytes>> {
        Box::pin(async move {
            let client = sealdb_console::ClientInfo {
                remote_ip: remote_ip.to_owned(),
                secure_transport,
            };
            self.0.handle(request, &client).await
        })
    }
}

/// The console secret: from `--console-secret-file` (at least 32 bytes, hashed into a
/// key), else derived from the root key.
pub(crate) fn console_secret(
    file: Option<&std::path::Path>,
    root: &sealdb_common::RootKey,
) -> Result<sealdb_common::SecretKey32, String> {
    let Some(path) = file else {
        return Ok(root.derive(Purpose::ConsoleSession));
    };
    let contents = zeroize::Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| format!("cannot read console secret {}: {e}", path.display()))?,
    );
    let trimmed = contents.trim_ascii();
    if trimmed.len() < 32 {
        return Err(format!(
            "console secret {} is shorter than 32 bytes",
            path.display()
        ));
    }
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        sealdb_common::key_hierarchy::console::SECRET_FILE_HMAC_KEY,
    );
    let tag = aws_lc_rs::hmac::sign(&key, trimmed);
    sealdb_common::SecretKey32::from_slice(tag.as_ref())
        .ok_or_else(|| "console secret: bad digest length".to_owned())
}
