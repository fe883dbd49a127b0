//! Adapters between the front door's traits and the services.

use bytes::Bytes;
use sealdb_common::Principal;
use sealdb_dynamodb::{Operation, Service};
use sealdb_http::{Backend, BoxFuture, WireError};
use std::sync::Arc;

/// The DynamoDB service as a front-door backend.
pub(crate) struct DynamoBackend(pub(crate) Arc<Service>);

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
            match self.0.call(op, caller, &body).await {
                Ok(v) => Ok(serde_json::to_vec(&v).unwrap_or_default()),
                Err(e) => Err(WireError {
                    type_name: e.wire_type().to_owned(),
                    status: e.status(),
                    message: e.message(),
                    capital_message: e.capital_message(),
                    extra: e.extra(),
                }),
            }
        })
    }
}

/// DynamoDB Streams, served by the DynamoDB service (the records live in its tables).
pub(crate) struct StreamsBackend(pub(crate) Arc<Service>);

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
            match self.0.call_streams(operation, caller, &body).await {
                None => Err(WireError::new(
                    "com.amazon.coral.service#UnknownOperationException",
                    400,
                    "",
                )),
                Some(Ok(v)) => Ok(serde_json::to_vec(&v).unwrap_or_default()),
                Some(Err(e)) => Err(WireError {
                    type_name: e.wire_type().to_owned(),
                    status: e.status(),
                    message: e.message(),
                    capital_message: e.capital_message(),
                    extra: e.extra(),
                }),
            }
        })
    }
}

/// The KMS service as a front-door backend.
pub(crate) struct KmsBackend(pub(crate) Arc<sealdb_kms::KmsService>);

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
            self.0
                .call(operation, caller, &body)
                .await
                .map_err(|e| WireError::new(e.error_type(), e.http_status(), e.message()))
        })
    }
}

/// CloudTrail's LookupEvents, answered from the key service's audit log.
pub(crate) struct CloudTrailBackend(pub(crate) Arc<sealdb_kms::KmsService>);

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
            self.0
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
