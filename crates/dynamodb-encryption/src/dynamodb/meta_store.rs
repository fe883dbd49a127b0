//! A provider store in a DynamoDB table (partition key `N` string, sort key `V` number), in
//! the layout the Python and Java `MetaStore` use.

use super::{dynamodb_error, item_from_sdk, item_to_sdk};
use crate::error::{Error, Result};
use crate::materials::CryptographicMaterialsProvider;
use crate::providers::most_recent::{
    MetaStore, NAME_ATTRIBUTE, ProviderStoreRows, VERSION_ATTRIBUTE, VersionKeys,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};

/// Versions kept as encrypted rows in a DynamoDB table.
#[derive(Debug)]
pub struct DynamoDbMetaStore<P> {
    client: Client,
    rows: ProviderStoreRows<P>,
}

impl<P: CryptographicMaterialsProvider> DynamoDbMetaStore<P> {
    /// A store in the table `rows.table_name()`, rows protected by the rows' provider.
    pub fn new(client: Client, rows: ProviderStoreRows<P>) -> Self {
        DynamoDbMetaStore { client, rows }
    }

    /// Creates the provider-store table (on-demand capacity).
    pub async fn create_table(client: &Client, table_name: &str) -> Result<()> {
        let definition = |name: &str, t| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .map_err(|e| Error::InvalidConfiguration(e.to_string()))
        };
        let key = |name: &str, t| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(|e| Error::InvalidConfiguration(e.to_string()))
        };
        client
            .create_table()
            .table_name(table_name)
            .attribute_definitions(definition(NAME_ATTRIBUTE, ScalarAttributeType::S)?)
            .attribute_definitions(definition(VERSION_ATTRIBUTE, ScalarAttributeType::N)?)
            .key_schema(key(NAME_ATTRIBUTE, KeyType::Hash)?)
            .key_schema(key(VERSION_ATTRIBUTE, KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(dynamodb_error)?;
        Ok(())
    }

    fn store_error(e: impl std::error::Error) -> Error {
        match dynamodb_error(e) {
            Error::DynamoDb(m) => Error::Store(m),
            other => other,
        }
    }
}

impl<P: CryptographicMaterialsProvider> MetaStore for DynamoDbMetaStore<P> {
    async fn max_version(&self, material_name: &str) -> Result<Option<u64>> {
        let out = self
            .client
            .query()
            .table_name(self.rows.table_name())
            .key_condition_expression("#n = :n")
            .expression_attribute_names("#n", NAME_ATTRIBUTE)
            .expression_attribute_values(":n", AttributeValue::S(material_name.to_owned()))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(Self::store_error)?;
        match out
            .items()
            .first()
            .and_then(|row| row.get(VERSION_ATTRIBUTE))
        {
            None => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| Error::Store("row version is not an integer".into())),
            Some(_) => Err(Error::Store("row version is not a number".into())),
        }
    }

    async fn version(&self, material_name: &str, version: u64) -> Result<VersionKeys> {
        let out = self
            .client
            .get_item()
            .table_name(self.rows.table_name())
            .key(NAME_ATTRIBUTE, AttributeValue::S(material_name.to_owned()))
            .key(VERSION_ATTRIBUTE, AttributeValue::N(version.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(Self::store_error)?;
        let row = out.item.ok_or_else(|| {
            Error::MissingMaterials(format!("no provider-store version {version}"))
        })?;
        let (name, stored_version, keys) = self.rows.decode(&item_from_sdk(&row)?).await?;
        if name != material_name || stored_version != version {
            return Err(Error::Store("row does not match its key".into()));
        }
        Ok(keys)
    }

    async fn create_version(&self, material_name: &str, version: u64) -> Result<VersionKeys> {
        let keys = VersionKeys::generate()?;
        let row = self.rows.encode(material_name, version, &keys).await?;
        let put = self
            .client
            .put_item()
            .table_name(self.rows.table_name())
            .set_item(Some(item_to_sdk(&row)))
            .condition_expression("attribute_not_exists(#n) AND attribute_not_exists(#v)")
            .expression_attribute_names("#n", NAME_ATTRIBUTE)
            .expression_attribute_names("#v", VERSION_ATTRIBUTE)
            .send()
            .await;
        match put {
            Ok(_) => Ok(keys),
            // Another writer created this version first: use theirs.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                self.version(material_name, version).await
            }
            Err(e) => Err(Self::store_error(e)),
        }
    }
}
