//! The services the console calls, per region, and its calls to them.
//!
//! The console calls each service through the entry point the API uses
//! (`Service::call` with the typed `Operation`, `KmsService::call`), as the signed-in
//! principal, so authorization, validation, error texts and audit records are the API's.
//! Requests are built as the service's own input shape.

use crate::Ctx;
use sealdb_common::Principal;
use sealdb_dynamodb::{Operation, Service};
use sealdb_kms::KmsService;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so [`ConsoleServices`] can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The services of one region.
#[derive(Clone)]
pub struct RegionServices {
    /// The region's DynamoDB (and Streams) service.
    pub dynamodb: Arc<Service>,
    /// The region's key service (and its CloudTrail log).
    pub kms: Arc<KmsService>,
}

/// What the console calls, implemented by the binary: the services of each region (the
/// console knows nothing of how regions are opened) and IAM, which is global.
pub trait ConsoleServices: Send + Sync {
    /// The regions the console offers, home region first.
    fn regions(&self) -> Vec<String>;
    /// The services of `region` (opened on first use), or `None` if it is not served.
    fn region<'a>(&'a self, region: &'a str) -> BoxFuture<'a, Option<RegionServices>>;
    /// Runs an IAM action with the Query protocol's parameters as `caller`, authorized and
    /// recorded in the audit log as the API's calls are; the `…Result` XML.
    fn iam<'a>(
        &'a self,
        action: &'a str,
        caller: &'a Principal,
        params: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<String, ServiceError>>;
}

/// A service's refusal, as the console shows it: the error name and AWS's message.
#[derive(Clone, Debug)]
pub struct ServiceError {
    /// The error's short name, e.g. `ValidationException`.
    pub name: String,
    /// The message, as the API answers it.
    pub message: String,
}

impl ServiceError {
    fn no_service(region: &str) -> ServiceError {
        ServiceError {
            name: "UnrecognizedClientException".into(),
            message: format!("The region {region} is not served here."),
        }
    }

    /// An error of `type_name` (a namespace before `#` is dropped).
    pub fn new(type_name: &str, message: impl Into<String>) -> ServiceError {
        ServiceError {
            name: short_name(type_name),
            message: message.into(),
        }
    }

    /// The text shown to the user.
    pub(crate) fn text(&self) -> String {
        if self.message.is_empty() {
            self.name.clone()
        } else {
            format!("{}: {}", self.name, self.message)
        }
    }
}

/// The short name of a `__type` (`com.amazonaws.dynamodb.v20120810#X` → `X`).
fn short_name(type_name: &str) -> String {
    type_name
        .rsplit_once('#')
        .map_or(type_name, |(_, n)| n)
        .to_owned()
}

impl Ctx<'_> {
    /// The services of the session's region.
    async fn region(&self) -> Result<RegionServices, ServiceError> {
        let region = &self.session.region;
        self.console
            .services
            .region(region)
            .await
            .ok_or_else(|| ServiceError::no_service(region))
    }

    /// Runs an IAM action as the signed-in principal; the `…Result` XML.
    pub(crate) async fn iam(
        &self,
        action: &str,
        params: Vec<(String, String)>,
    ) -> Result<String, ServiceError> {
        self.console
            .services
            .iam(action, &self.principal, params)
            .await
    }

    /// Runs a DynamoDB operation as the signed-in principal.
    pub(crate) async fn dynamodb(
        &self,
        op: Operation,
        input: Value,
    ) -> Result<Value, ServiceError> {
        let service = self.region().await?.dynamodb;
        let body = serde_json::to_vec(&input).unwrap_or_default();
        service
            .call(op, &self.principal, &body)
            .await
            .map_err(|e| ServiceError {
                name: short_name(e.wire_type()),
                message: e.message(),
            })
    }

    /// The table's encryption key switches, as the signed-in principal (who must be
    /// allowed to describe the table).
    pub(crate) async fn encryption_switches(
        &self,
        table: &str,
    ) -> Result<sealdb_dynamodb::ops::tables::EncryptionSwitches, ServiceError> {
        let service = self.region().await?.dynamodb;
        service
            .encryption_switches(&self.principal, table)
            .map_err(|e| ServiceError {
                name: short_name(e.wire_type()),
                message: e.message(),
            })
    }

    /// Upgrades a 2017.11.29 global table to version 2019.11.21 as the signed-in principal.
    pub(crate) async fn upgrade_global_table(&self, table: &str) -> Result<(), ServiceError> {
        let service = self.region().await?.dynamodb;
        service
            .upgrade_global_table_version(&self.principal, table)
            .await
            .map_err(|e| ServiceError {
                name: short_name(e.wire_type()),
                message: e.message(),
            })
    }

    /// Runs a KMS operation as the signed-in principal.
    pub(crate) async fn kms(&self, op: &str, input: Value) -> Result<Value, ServiceError> {
        let service = self.region().await?.kms;
        let body = serde_json::to_vec(&input).unwrap_or_default();
        let out = service
            .call(op, &self.principal, &body)
            .await
            .map_err(|e| ServiceError {
                name: short_name(e.error_type()),
                message: e.message(),
            })?;
        serde_json::from_slice(&out).map_err(|_| ServiceError {
            name: "InternalError".into(),
            message: "The key service answered something unreadable.".into(),
        })
    }

    /// CloudTrail's LookupEvents as the signed-in principal.
    pub(crate) async fn lookup_events(&self, input: Value) -> Result<Value, ServiceError> {
        let service = self.region().await?.kms;
        let body = serde_json::to_vec(&input).unwrap_or_default();
        let out = service
            .lookup_events(&self.principal, &body)
            .await
            .map_err(|e| ServiceError {
                name: short_name(e.error_type()),
                message: e.message(),
            })?;
        serde_json::from_slice(&out).map_err(|_| ServiceError {
            name: "InternalError".into(),
            message: "CloudTrail answered something unreadable.".into(),
        })
    }

    /// Whether the audit log's hash chain verifies (records checked, or the first bad one).
    pub(crate) async fn verify_audit_chain(&self) -> Result<u64, String> {
        match self.region().await {
            Ok(r) => r.kms.verify_audit_chain().await,
            Err(e) => Err(e.text()),
        }
    }

    /// The regions the console can switch between.
    pub(crate) fn regions(&self) -> Vec<String> {
        self.console.services.regions()
    }
}

/// Reads a string member.
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Reads an integer member.
pub(crate) fn n(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_namespace() {
        assert_eq!(
            short_name("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"),
            "ResourceNotFoundException"
        );
        assert_eq!(short_name("NotFoundException"), "NotFoundException");
    }
}
