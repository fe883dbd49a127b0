//! The DynamoDB service: operation dispatch, the table-definition cache, and what
//! every operation shares (table lookup, key extraction, capacity accounting).

use crate::codec;
use crate::error::DynamoError;
use crate::input::Input;
use crate::schema::{KeyAttr, KeyKind, TableDef};
use crate::value::{AttributeValue, Item};
use sealdb_common::{Clock, Principal};
use sealdb_storage::{Engine, ItemKey, TableStore};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

macro_rules! operations {
    ($($op:ident),+ $(,)?) => {
        /// The DynamoDB operations sealdb serves (the dispatch table). Anything else is
        /// `UnknownOperationException`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Operation {
            $(
                #[doc = stringify!($op)]
                $op,
            )+
        }

        impl Operation {
            /// Every operation served, in the order of the dispatch table.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),+];

            /// The wire name (`PutItem`), as in `X-Amz-Target` and `dynamodb:<name>`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($op),)+
                }
            }
        }
    };
}

operations!(
    CreateTable,
    DescribeTable,
    ListTables,
    DeleteTable,
    UpdateTable,
    TagResource,
    UntagResource,
    ListTagsOfResource,
    DescribeLimits,
    DescribeEndpoints,
    DescribeTimeToLive,
    UpdateTimeToLive,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchGetItem,
    BatchWriteItem,
    TransactWriteItems,
    TransactGetItems,
    CreateBackup,
    DescribeBackup,
    ListBackups,
    DeleteBackup,
    RestoreTableFromBackup,
    UpdateContinuousBackups,
    DescribeContinuousBackups,
    RestoreTableToPointInTime,
    PutResourcePolicy,
    GetResourcePolicy,
    DeleteResourcePolicy,
    ExecuteStatement,
    BatchExecuteStatement,
    ExecuteTransaction,
    CreateGlobalTable,
    DescribeGlobalTable,
    UpdateGlobalTable,
    ListGlobalTables,
    DescribeGlobalTableSettings,
    UpdateGlobalTableSettings,
    DescribeTableReplicaAutoScaling,
);

impl Operation {
    /// Parses the operation part of `X-Amz-Target`.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.iter().copied().find(|o| o.name() == name)
    }
}

/// Settings of the service.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Region (ARNs, DescribeEndpoints).
    pub region: String,
    /// Account id (ARNs).
    pub account_id: String,
    /// `host:port` clients reach us at (DescribeEndpoints).
    pub endpoint_address: String,
    /// The clock.
    pub clock: Clock,
}

/// A table as operations see it: its definition and its storage handle.
#[derive(Clone)]
pub(crate) struct TableRef {
    pub(crate) def: Arc<TableDef>,
    pub(crate) handle: Arc<sealdb_storage::TableHandle>,
}

/// The DynamoDB service over one storage engine.
pub struct Service {
    pub(crate) engine: Arc<Engine>,
    pub(crate) cfg: ServiceConfig,
    pub(crate) defs: RwLock<HashMap<String, Arc<TableDef>>>,
    /// Serializes table-level changes (create, update, delete) against each other.
    pub(crate) ddl: tokio::sync::Mutex<()>,
    /// ClientRequestTokens of recent TransactWriteItems.
    pub(crate) tokens: crate::ops::transact::TokenCache,
    /// This service, for background tasks (index backfill) started by a request.
    pub(crate) me: std::sync::Weak<Service>,
    /// The KMS-backed vault, when the server has a key service (SSE with KMS keys).
    pub(crate) kms: Option<Arc<crate::sse::KmsVault>>,
    /// Set once by the server: from then on every request is authorized (`authz.rs`).
    pub(crate) authorizer: std::sync::OnceLock<Arc<sealdb_iam::Authorizer>>,
    /// The other regions' services (global tables), set once by the server.
    pub(crate) peers: std::sync::OnceLock<Arc<dyn crate::replication::RegionPeers>>,
    /// The (table, source region) pairs being pulled, so each runs once.
    pub(crate) replicators: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// How long a replica's key may stay unusable before it leaves its global table.
    pub(crate) replica_inaccessible_ms: std::sync::atomic::AtomicI64,
    /// Table and stream resource policies, parsed once per revision.
    pub(crate) policy_cache: crate::authz::PolicyCache,
}

impl Service {
    /// Loads every table definition from the catalog. Index changes that a restart
    /// interrupted are resumed by [`Service::resume_index_changes`].
    pub fn new(engine: Arc<Engine>, cfg: ServiceConfig) -> Result<Arc<Service>, String> {
        Service::with_kms(engine, cfg, None)
    }

    /// [`Service::new`] with the KMS-backed vault the engine was opened with, so that
    /// tables can be encrypted under KMS keys.
    pub fn with_kms(
        engine: Arc<Engine>,
        cfg: ServiceConfig,
        kms: Option<Arc<crate::sse::KmsVault>>,
    ) -> Result<Arc<Service>, String> {
        let mut defs = HashMap::new();
        for rec in engine.tables() {
            let def = TableDef::decode(&rec.definition)?;
            defs.insert(rec.name.clone(), Arc::new(def));
        }
        Ok(Arc::new_cyclic(|me| Service {
            engine,
            cfg,
            defs: RwLock::new(defs),
            ddl: tokio::sync::Mutex::new(()),
            tokens: crate::ops::transact::TokenCache::default(),
            me: me.clone(),
            kms,
            authorizer: std::sync::OnceLock::new(),
            peers: std::sync::OnceLock::new(),
            replicators: std::sync::Mutex::default(),
            replica_inaccessible_ms: std::sync::atomic::AtomicI64::new(
                crate::replication::DEFAULT_REPLICA_INACCESSIBLE_MS,
            ),
            policy_cache: crate::authz::PolicyCache::default(),
        }))
    }

    /// Runs one operation; `body` is the JSON request.
    pub async fn call(
        &self,
        op: Operation,
        caller: &Principal,
        body: &[u8],
    ) -> Result<serde_json::Value, DynamoError> {
        let mut input = Input::parse(body)?;
        crate::legacy::rewrite(op, input.raw_mut())?;
        // A denied call runs nothing, and is recorded like any other failed call. AWS
        // validates before it authorizes: a malformed request is refused as such first.
        let result = match self.authorize(op, caller, &input) {
            Ok(()) => self.dispatch(op, caller, &input).await,
            Err(denied) => {
                Err(crate::pre_authorization::request_error(op, &input).unwrap_or(denied))
            }
        };
        let result = result.map_err(|e| crate::request_validation::as_aws_words(op, e));
        self.record_management_event(op, caller, &input, &result)
            .await;
        result
    }

    /// Runs an operation the caller is authorized for.
    async fn dispatch(
        &self,
        op: Operation,
        caller: &Principal,
        input: &Input,
    ) -> Result<serde_json::Value, DynamoError> {
        use Operation as O;
        match op {
            O::CreateTable => self.create_table(input, caller).await,
            O::DescribeTable => self.describe_table(input).await,
            O::ListTables => self.list_tables(input),
            O::DeleteTable => self.delete_table(input, caller).await,
            O::UpdateTable => self.update_table(input, caller).await,
            O::TagResource => self.tag_resource(input).await,
            O::UntagResource => self.untag_resource(input).await,
            O::ListTagsOfResource => self.list_tags(input),
            O::DescribeLimits => Ok(crate::ops::tables::describe_limits()),
            O::DescribeEndpoints => Ok(self.describe_endpoints()),
            O::DescribeTimeToLive => self.describe_ttl(input),
            O::UpdateTimeToLive => self.update_ttl(input).await,
            O::PutItem => self.put_item(input).await,
            O::GetItem => self.get_item(input).await,
            O::UpdateItem => self.update_item(input).await,
            O::DeleteItem => self.delete_item(input).await,
            O::Query => self.query(input).await,
            O::Scan => self.scan(input).await,
            O::BatchGetItem => self.batch_get_item(input).await,
            O::BatchWriteItem => self.batch_write_item(input).await,
            O::TransactWriteItems => self.transact_write_items(input).await,
            O::TransactGetItems => self.transact_get_items(input).await,
            O::CreateBackup => self.create_backup(input, caller).await,
            O::DescribeBackup => self.describe_backup(input),
            O::ListBackups => self.list_backups(input),
            O::DeleteBackup => self.delete_backup(input).await,
            O::RestoreTableFromBackup => self.restore_table_from_backup(input, caller).await,
            O::UpdateContinuousBackups => self.update_continuous_backups(input).await,
            O::DescribeContinuousBackups => self.describe_continuous_backups(input),
            O::RestoreTableToPointInTime => {
                self.restore_table_to_point_in_time(input, caller).await
            }
            O::PutResourcePolicy => self.put_resource_policy(input).await,
            O::GetResourcePolicy => self.get_resource_policy(input),
            O::DeleteResourcePolicy => self.delete_resource_policy(input).await,
            // Each statement is authorized as the item operation it runs.
            O::ExecuteStatement => self.execute_statement(input, caller).await,
            O::BatchExecuteStatement => self.batch_execute_statement(input, caller).await,
            O::ExecuteTransaction => self.execute_transaction(input, caller).await,
            O::CreateGlobalTable => self.create_global_table(input).await,
            O::DescribeGlobalTable => self.describe_global_table(input).await,
            O::UpdateGlobalTable => self.update_global_table(input).await,
            O::ListGlobalTables => self.list_global_tables(input).await,
            O::DescribeGlobalTableSettings => self.describe_global_table_settings(input).await,
            O::UpdateGlobalTableSettings => self.update_global_table_settings(input).await,
            O::DescribeTableReplicaAutoScaling => {
                self.describe_table_replica_auto_scaling(input).await
            }
        }
    }

    /// Stops all table writers after their queued work.
    pub fn close(&self) {
        self.engine.close();
    }

    /// Accepts a table name or a table ARN of this account and region.
    pub(crate) fn table_name_from<'a>(&self, name_or_arn: &'a str) -> &'a str {
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.cfg.region, self.cfg.account_id
        );
        name_or_arn
            .strip_prefix(prefix.as_str())
            .unwrap_or(name_or_arn)
    }

    pub(crate) fn def(&self, name: &str) -> Option<Arc<TableDef>> {
        self.defs.read().ok()?.get(name).cloned()
    }

    /// The table named by `TableName`, or ResourceNotFoundException.
    pub(crate) fn table(&self, input: &Input) -> Result<TableRef, DynamoError> {
        let raw = input.str_req("TableName")?;
        crate::ops::tables::validate_table_name_param(raw)?;
        let name = self.table_name_from(raw);
        let not_found = || DynamoError::ResourceNotFound("Requested resource not found".into());
        let def = self.def(name).ok_or_else(not_found)?;
        let handle = self.engine.table(name).ok_or_else(not_found)?;
        Ok(TableRef { def, handle })
    }

    /// A table by its exact name (batch operations, which name tables as map keys).
    pub(crate) fn table_by_name(&self, name: &str) -> Result<TableRef, DynamoError> {
        let not_found = || DynamoError::ResourceNotFound("Requested resource not found".into());
        let def = self.def(name).ok_or_else(not_found)?;
        let handle = self.engine.table(name).ok_or_else(not_found)?;
        Ok(TableRef { def, handle })
    }

    pub(crate) async fn store(&self, t: &TableRef) -> Result<Arc<TableStore>, DynamoError> {
        Ok(self.engine.store(&t.handle).await?)
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.cfg.clock.now_millis()
    }
}

/// Where a key came from: an item (`PutItem`) or a `Key` member; AWS words errors differently.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    Item,
    Key,
}

const MAX_HASH_KEY_BYTES: usize = 2048;
const MAX_RANGE_KEY_BYTES: usize = 1024;

fn key_mismatch() -> DynamoError {
    DynamoError::validation("The provided key element does not match the schema")
}

fn check_key_value(
    attr: &KeyAttr,
    value: Option<&AttributeValue>,
    source: KeySource,
    is_hash: bool,
) -> Result<Vec<u8>, DynamoError> {
    let Some(value) = value else {
        return Err(match source {
            KeySource::Item => DynamoError::validation(format!(
                "One or more parameter values were invalid: Missing the key {} in the item",
                attr.name
            )),
            KeySource::Key => key_mismatch(),
        });
    };
    let matches = matches!(
        (attr.kind, value),
        (KeyKind::S, AttributeValue::S(_))
            | (KeyKind::N, AttributeValue::N(_))
            | (KeyKind::B, AttributeValue::B(_))
    );
    if !matches {
        return Err(match source {
            KeySource::Item => DynamoError::validation(format!(
                "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                attr.name,
                attr.kind.as_str(),
                value.type_name()
            )),
            KeySource::Key => key_mismatch(),
        });
    }
    match value {
        AttributeValue::S(s) if s.is_empty() => {
            return Err(DynamoError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                attr.name
            )));
        }
        AttributeValue::B(b) if b.is_empty() => {
            return Err(DynamoError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: {}",
                attr.name
            )));
        }
        _ => {}
    }
    let size = value.size_bytes();
    if is_hash && size > MAX_HASH_KEY_BYTES {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    if !is_hash && size > MAX_RANGE_KEY_BYTES {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    codec::encode_key(value).ok_or_else(key_mismatch)
}

/// The storage key of an item or `Key` member, validated against the key schema.
pub(crate) fn item_key(
    def: &TableDef,
    attrs: &Item,
    source: KeySource,
) -> Result<ItemKey, DynamoError> {
    if source == KeySource::Key {
        let expected = 1 + usize::from(def.range_key.is_some());
        if attrs.len() != expected {
            return Err(key_mismatch());
        }
    }
    let pk = check_key_value(&def.hash_key, attrs.get(&def.hash_key.name), source, true)?;
    let sk = match &def.range_key {
        Some(r) => check_key_value(r, attrs.get(&r.name), source, false)?,
        None => Vec::new(),
    };
    Ok(ItemKey {
        hash: codec::partition_hash(def.hash_key.kind.scalar(), &pk),
        pk,
        sk,
    })
}

/// Only the key attributes of an item.
pub(crate) fn key_only(def: &TableDef, item: &Item) -> Item {
    def.key_attrs()
        .filter_map(|k| item.get(&k.name).map(|v| (k.name.clone(), v.clone())))
        .collect()
}
