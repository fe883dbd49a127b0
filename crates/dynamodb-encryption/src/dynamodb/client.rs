//! A DynamoDB client that encrypts items on write and verifies and decrypts them on read,
//! as Python's `EncryptedClient` (reference §7.2).

use super::{SdkItem, dynamodb_error, item_from_sdk, item_to_sdk};
use crate::actions::AttributeActions;
use crate::error::{Error, Result};
use crate::item::{decrypt_item, encrypt_item};
use crate::materials::{CryptographicMaterialsProvider, EncryptionContext};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_get_item::builders::BatchGetItemFluentBuilder;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::builders::BatchWriteItemFluentBuilder;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsOutput;
use aws_sdk_dynamodb::operation::transact_get_items::builders::TransactGetItemsFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{KeyType, Select};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// A table's primary key attribute names, learnt from DescribeTable.
#[derive(Clone, Debug)]
struct TableKeys {
    partition: String,
    sort: Option<String>,
}

/// Wraps an `aws_sdk_dynamodb::Client`. Requests are the SDK's own fluent builders (so
/// every option passes through); items in them are plaintext, and outputs carry plaintext.
/// Partial updates and projections are refused: the signature covers the whole item.
#[derive(Debug)]
pub struct EncryptedClient<P> {
    client: Client,
    provider: P,
    default_actions: AttributeActions,
    table_actions: HashMap<String, AttributeActions>,
    key_schemas: Mutex<HashMap<String, TableKeys>>,
}

fn projection_refused(what: &str) -> Error {
    Error::NotSupported(format!(
        "{what}: decryption needs the whole item to verify its signature"
    ))
}

impl<P: CryptographicMaterialsProvider> EncryptedClient<P> {
    /// Items of every table get `actions` (the primary key is always signed only).
    pub fn new(client: Client, provider: P, actions: AttributeActions) -> Self {
        EncryptedClient {
            client,
            provider,
            default_actions: actions,
            table_actions: HashMap::new(),
            key_schemas: Mutex::new(HashMap::new()),
        }
    }

    /// Other actions for one table.
    pub fn with_table_actions(
        mut self,
        table: impl Into<String>,
        actions: AttributeActions,
    ) -> Self {
        self.table_actions.insert(table.into(), actions);
        self
    }

    /// The wrapped client, for building requests and for calls that need no encryption.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The materials provider (e.g. to rotate a most-recent provider).
    pub fn provider(&self) -> &P {
        &self.provider
    }

    fn actions(&self, table: &str) -> &AttributeActions {
        self.table_actions
            .get(table)
            .unwrap_or(&self.default_actions)
    }

    async fn context(&self, table: &str) -> Result<EncryptionContext> {
        let cached = self
            .key_schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(table)
            .cloned();
        let keys = match cached {
            Some(keys) => keys,
            None => {
                let described = self
                    .client
                    .describe_table()
                    .table_name(table)
                    .send()
                    .await
                    .map_err(dynamodb_error)?;
                let schema = described
                    .table
                    .map(|t| t.key_schema.unwrap_or_default())
                    .unwrap_or_default();
                let name_of = |kind: KeyType| {
                    schema
                        .iter()
                        .find(|k| k.key_type == kind)
                        .map(|k| k.attribute_name.clone())
                };
                let keys = TableKeys {
                    partition: name_of(KeyType::Hash).ok_or_else(|| {
                        Error::DynamoDb(format!("table {table} has no partition key"))
                    })?,
                    sort: name_of(KeyType::Range),
                };
                self.key_schemas
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(table.to_owned(), keys.clone());
                keys
            }
        };
        Ok(EncryptionContext::new(
            table,
            keys.partition,
            keys.sort.as_deref(),
        ))
    }

    /// Encrypts one item as this client would write it to `table`.
    pub async fn encrypt(&self, table: &str, item: &SdkItem) -> Result<SdkItem> {
        let context = self.context(table).await?;
        self.encrypt_in(&context, self.actions(table), item).await
    }

    /// Verifies and decrypts one item read from `table`.
    pub async fn decrypt(&self, table: &str, stored: &SdkItem) -> Result<SdkItem> {
        let context = self.context(table).await?;
        self.decrypt_in(&context, self.actions(table), stored).await
    }

    async fn encrypt_in(
        &self,
        context: &EncryptionContext,
        actions: &AttributeActions,
        item: &SdkItem,
    ) -> Result<SdkItem> {
        let stored = encrypt_item(&item_from_sdk(item)?, context, actions, &self.provider).await?;
        Ok(item_to_sdk(&stored))
    }

    async fn decrypt_in(
        &self,
        context: &EncryptionContext,
        actions: &AttributeActions,
        stored: &SdkItem,
    ) -> Result<SdkItem> {
        let item = decrypt_item(&item_from_sdk(stored)?, context, actions, &self.provider).await?;
        Ok(item_to_sdk(&item))
    }

    /// Decrypts every item of one table's page, looking the table's context up once.
    async fn decrypt_all(&self, table: &str, items: &mut [SdkItem]) -> Result<()> {
        let context = self.context(table).await?;
        for item in items.iter_mut() {
            *item = self.decrypt_in(&context, self.actions(table), item).await?;
        }
        Ok(())
    }

    /// The checks every Query or Scan needs before it is sent: no projection, a table.
    fn whole_item_read(
        select: Option<&Select>,
        has_projection: bool,
        table: &Option<String>,
    ) -> Result<String> {
        if has_projection
            || matches!(
                select,
                Some(Select::SpecificAttributes | Select::AllProjectedAttributes)
            )
        {
            return Err(projection_refused("a read with a projection"));
        }
        required_table(table)
    }

    /// PutItem with the item encrypted (old attributes, if returned, are decrypted).
    pub async fn put_item(&self, request: PutItemFluentBuilder) -> Result<PutItemOutput> {
        let table = required_table(request.get_table_name())?;
        let item = request
            .get_item()
            .clone()
            .ok_or_else(|| Error::InvalidConfiguration("PutItem without an item".into()))?;
        let encrypted = self.encrypt(&table, &item).await?;
        let mut out = request
            .set_item(Some(encrypted))
            .send()
            .await
            .map_err(dynamodb_error)?;
        if let Some(old) = out.attributes.as_mut() {
            *old = self.decrypt(&table, old).await?;
        }
        Ok(out)
    }

    /// GetItem with the item verified and decrypted.
    pub async fn get_item(&self, request: GetItemFluentBuilder) -> Result<GetItemOutput> {
        if request.get_projection_expression().is_some()
            || request.get_attributes_to_get().is_some()
        {
            return Err(projection_refused("GetItem with a projection"));
        }
        let table = required_table(request.get_table_name())?;
        let mut out = request.send().await.map_err(dynamodb_error)?;
        if let Some(item) = out.item.as_mut() {
            *item = self.decrypt(&table, item).await?;
        }
        Ok(out)
    }

    /// Query with every returned item verified and decrypted.
    pub async fn query(&self, request: QueryFluentBuilder) -> Result<QueryOutput> {
        let table = Self::whole_item_read(
            request.get_select().as_ref(),
            request.get_projection_expression().is_some()
                || request.get_attributes_to_get().is_some(),
            request.get_table_name(),
        )?;
        let mut out = request.send().await.map_err(dynamodb_error)?;
        if let Some(items) = out.items.as_mut() {
            self.decrypt_all(&table, items).await?;
        }
        Ok(out)
    }

    /// Scan with every returned item verified and decrypted.
    pub async fn scan(&self, request: ScanFluentBuilder) -> Result<ScanOutput> {
        let table = Self::whole_item_read(
            request.get_select().as_ref(),
            request.get_projection_expression().is_some()
                || request.get_attributes_to_get().is_some(),
            request.get_table_name(),
        )?;
        let mut out = request.send().await.map_err(dynamodb_error)?;
        if let Some(items) = out.items.as_mut() {
            self.decrypt_all(&table, items).await?;
        }
        Ok(out)
    }

    /// Query page by page, as the SDK's paginator: each page verified and decrypted, the
    /// next one started after the last key of the one before.
    pub fn query_pages(&self, request: QueryFluentBuilder) -> Pages<'_, P, QueryFluentBuilder> {
        Pages {
            client: self,
            next: Some(request),
        }
    }

    /// Scan page by page, as [`query_pages`](Self::query_pages).
    pub fn scan_pages(&self, request: ScanFluentBuilder) -> Pages<'_, P, ScanFluentBuilder> {
        Pages {
            client: self,
            next: Some(request),
        }
    }

    /// BatchGetItem with every returned item verified and decrypted.
    pub async fn batch_get_item(
        &self,
        request: BatchGetItemFluentBuilder,
    ) -> Result<BatchGetItemOutput> {
        for keys in request.get_request_items().iter().flat_map(|m| m.values()) {
            if keys.projection_expression.is_some() || keys.attributes_to_get.is_some() {
                return Err(projection_refused("BatchGetItem with a projection"));
            }
        }
        let mut out = request.send().await.map_err(dynamodb_error)?;
        if let Some(responses) = out.responses.as_mut() {
            for (table, items) in responses.iter_mut() {
                self.decrypt_all(table, items).await?;
            }
        }
        Ok(out)
    }

    /// BatchWriteItem with put items encrypted (delete keys pass through). Unprocessed puts
    /// come back decrypted, ready to resubmit through this client.
    pub async fn batch_write_item(
        &self,
        request: BatchWriteItemFluentBuilder,
    ) -> Result<BatchWriteItemOutput> {
        let mut items = request.get_request_items().clone().unwrap_or_default();
        for (table, writes) in items.iter_mut() {
            let context = self.context(table).await?;
            for write in writes.iter_mut() {
                if let Some(put) = write.put_request.as_mut() {
                    put.item = self
                        .encrypt_in(&context, self.actions(table), &put.item)
                        .await?;
                }
            }
        }
        let mut out = request
            .set_request_items(Some(items))
            .send()
            .await
            .map_err(dynamodb_error)?;
        if let Some(unprocessed) = out.unprocessed_items.as_mut() {
            for (table, writes) in unprocessed.iter_mut() {
                let context = self.context(table).await?;
                for write in writes.iter_mut() {
                    if let Some(put) = write.put_request.as_mut() {
                        put.item = self
                            .decrypt_in(&context, self.actions(table), &put.item)
                            .await?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// TransactWriteItems with put items encrypted; an update is refused.
    pub async fn transact_write_items(
        &self,
        request: TransactWriteItemsFluentBuilder,
    ) -> Result<TransactWriteItemsOutput> {
        let mut writes = request.get_transact_items().clone().unwrap_or_default();
        for write in writes.iter_mut() {
            if write.update.is_some() {
                return Err(Error::NotSupported(
                    "an Update in TransactWriteItems would break the item signature".into(),
                ));
            }
            if let Some(put) = write.put.as_mut() {
                put.item = self.encrypt(&put.table_name, &put.item).await?;
            }
        }
        request
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(dynamodb_error)
    }

    /// TransactGetItems with every returned item verified and decrypted.
    pub async fn transact_get_items(
        &self,
        request: TransactGetItemsFluentBuilder,
    ) -> Result<TransactGetItemsOutput> {
        let tables: Vec<String> = request
            .get_transact_items()
            .iter()
            .flatten()
            .map(|item| {
                let get = item.get.as_ref().ok_or_else(|| {
                    Error::InvalidConfiguration("TransactGetItems entry without Get".into())
                })?;
                if get.projection_expression.is_some() {
                    return Err(projection_refused("TransactGetItems with a projection"));
                }
                Ok(get.table_name.clone())
            })
            .collect::<Result<_>>()?;
        let mut out = request.send().await.map_err(dynamodb_error)?;
        if let Some(responses) = out.responses.as_mut() {
            for (response, table) in responses.iter_mut().zip(&tables) {
                if let Some(item) = response.item.as_mut() {
                    *item = self.decrypt(table, item).await?;
                }
            }
        }
        Ok(out)
    }

    /// Always refused: a partial update cannot re-sign the item (Python raises
    /// `NotImplementedError` here too). Read, change and put the whole item instead.
    pub async fn update_item(&self, _request: UpdateItemFluentBuilder) -> Result<UpdateItemOutput> {
        Err(Error::NotSupported(
            "UpdateItem would break the item signature; put the whole item".into(),
        ))
    }
}

/// The pages of a Query or Scan through an [`EncryptedClient`]; `next` gives `None` after
/// the last page.
#[derive(Debug)]
pub struct Pages<'a, P, R> {
    client: &'a EncryptedClient<P>,
    /// The request for the next page; `None` once a page came without LastEvaluatedKey.
    next: Option<R>,
}

impl<P: CryptographicMaterialsProvider> Pages<'_, P, QueryFluentBuilder> {
    /// The next page of plaintext items.
    pub async fn next(&mut self) -> Option<Result<QueryOutput>> {
        let request = self.next.take()?;
        let page = self.client.query(request.clone()).await;
        if let Ok(out) = &page {
            self.next = out
                .last_evaluated_key
                .clone()
                .map(|key| request.set_exclusive_start_key(Some(key)));
        }
        Some(page)
    }
}

impl<P: CryptographicMaterialsProvider> Pages<'_, P, ScanFluentBuilder> {
    /// The next page of plaintext items.
    pub async fn next(&mut self) -> Option<Result<ScanOutput>> {
        let request = self.next.take()?;
        let page = self.client.scan(request.clone()).await;
        if let Ok(out) = &page {
            self.next = out
                .last_evaluated_key
                .clone()
                .map(|key| request.set_exclusive_start_key(Some(key)));
        }
        Some(page)
    }
}

fn required_table(table: &Option<String>) -> Result<String> {
    table
        .clone()
        .ok_or_else(|| Error::InvalidConfiguration("request has no table name".into()))
}
