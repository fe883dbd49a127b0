//! The DirectKMS provider, the DynamoDB provider store and the encrypted client against a
//! real sealdb server.
#![allow(clippy::unwrap_used)]

mod support;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, Get, KeySchemaElement,
    KeyType, KeysAndAttributes, Put, PutRequest, ScalarAttributeType, TransactGetItem,
    TransactWriteItem, WriteRequest,
};
use dynamodb_encryption::dynamodb::{DynamoDbMetaStore, EncryptedClient, SdkItem};
use dynamodb_encryption::kms::DirectKmsProvider;
use dynamodb_encryption::providers::{MostRecentProvider, ProviderStoreRows};
use dynamodb_encryption::{
    Action, AttributeActions, CryptographicMaterialsProvider, Error,
    MATERIAL_DESCRIPTION_ATTRIBUTE, SIGNATURE_ATTRIBUTE, material_description,
};
use std::time::Duration;
use support::server::Server;

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

async fn kms_key(server: &Server) -> String {
    let key = server.kms().create_key().send().await.unwrap();
    key.key_metadata.unwrap().key_id
}

fn item(pk: &str, sk: u32) -> SdkItem {
    [
        ("pk", AttributeValue::S(pk.into())),
        ("sk", AttributeValue::N(sk.to_string())),
        ("secret", AttributeValue::S("top secret ünïcode".into())),
        ("note", AttributeValue::S("readable".into())),
        (
            "blobs",
            AttributeValue::Bs(vec![vec![0x80].into(), vec![0x01].into()]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn actions() -> AttributeActions {
    AttributeActions::default()
        .with_action("note", Action::SignOnly)
        .unwrap()
}

fn key(pk: &str, sk: u32) -> SdkItem {
    [
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::N(sk.to_string())),
    ]
    .into_iter()
    .collect()
}

/// Writes and reads through every wrapped operation and checks what the server stores.
async fn exercise<P: CryptographicMaterialsProvider>(enc: &EncryptedClient<P>, table: &str) {
    let raw = enc.client();
    enc.put_item(
        raw.put_item()
            .table_name(table)
            .set_item(Some(item("a", 1))),
    )
    .await
    .unwrap();
    // Stored: the secret is ciphertext, the signed note readable, both reserved attributes.
    let stored = raw
        .get_item()
        .table_name(table)
        .set_key(Some(key("a", 1)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(matches!(&stored["secret"], AttributeValue::B(b) if b.as_ref().len() >= 32));
    assert_eq!(stored["note"], AttributeValue::S("readable".into()));
    assert!(stored.contains_key(SIGNATURE_ATTRIBUTE));
    assert!(stored.contains_key(MATERIAL_DESCRIPTION_ATTRIBUTE));

    let got = enc
        .get_item(raw.get_item().table_name(table).set_key(Some(key("a", 1))))
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got["secret"], item("a", 1)["secret"]);

    let writes = vec![
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(item("a", 2)))
                    .build()
                    .unwrap(),
            )
            .build(),
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(item("b", 1)))
                    .build()
                    .unwrap(),
            )
            .build(),
    ];
    enc.batch_write_item(raw.batch_write_item().request_items(table, writes))
        .await
        .unwrap();
    enc.transact_write_items(
        raw.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(item("a", 3)))
                        .build()
                        .unwrap(),
                )
                .build(),
        ),
    )
    .await
    .unwrap();

    let queried = enc
        .query(
            raw.query()
                .table_name(table)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", AttributeValue::S("a".into())),
        )
        .await
        .unwrap();
    assert_eq!(queried.items().len(), 3);
    for got in queried.items() {
        assert_eq!(got["secret"], item("a", 1)["secret"]);
        assert!(!got.contains_key(SIGNATURE_ATTRIBUTE));
    }
    let scanned = enc.scan(raw.scan().table_name(table)).await.unwrap();
    assert_eq!(scanned.items().len(), 4);

    // Page by page: three items in pages of two, every one decrypted, then the end.
    let mut pages = enc.query_pages(
        raw.query()
            .table_name(table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", AttributeValue::S("a".into()))
            .limit(2),
    );
    let mut sort_keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        assert!(page.items().len() <= 2);
        for got in page.items() {
            assert_eq!(got["secret"], item("a", 1)["secret"]);
            sort_keys.push(got["sk"].clone());
        }
    }
    assert_eq!(
        sort_keys,
        (1..=3)
            .map(|n| AttributeValue::N(n.to_string()))
            .collect::<Vec<_>>()
    );
    let mut pages = enc.scan_pages(raw.scan().table_name(table).limit(3));
    let (mut page_count, mut scanned) = (0, 0);
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        page_count += 1;
        scanned += page.items().len();
        assert!(
            page.items()
                .iter()
                .all(|i| i["secret"] == item("a", 1)["secret"])
        );
    }
    assert_eq!((page_count, scanned), (2, 4));

    let batch = enc
        .batch_get_item(
            raw.batch_get_item().request_items(
                table,
                KeysAndAttributes::builder()
                    .keys(key("a", 2))
                    .keys(key("b", 1))
                    .build()
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
    let responses = &batch.responses.unwrap()[table];
    assert_eq!(responses.len(), 2);
    assert!(
        responses
            .iter()
            .all(|i| i["secret"] == item("a", 1)["secret"])
    );

    let transact = enc
        .transact_get_items(
            raw.transact_get_items().transact_items(
                TransactGetItem::builder()
                    .get(
                        Get::builder()
                            .table_name(table)
                            .set_key(Some(key("a", 3)))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        transact.responses.unwrap()[0].item.as_ref().unwrap()["secret"],
        item("a", 1)["secret"]
    );

    // Deletes in a batch pass through untouched.
    enc.batch_write_item(raw.batch_write_item().request_items(
        table,
        vec![
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key("b", 1)))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ],
    ))
    .await
    .unwrap();
    assert_eq!(
        enc.scan(raw.scan().table_name(table))
            .await
            .unwrap()
            .items()
            .len(),
        3
    );

    // Refused: partial updates and projections.
    assert!(matches!(
        enc.update_item(raw.update_item().table_name(table)).await,
        Err(Error::NotSupported(_))
    ));
    assert!(matches!(
        enc.get_item(
            raw.get_item()
                .table_name(table)
                .set_key(Some(key("a", 1)))
                .projection_expression("secret")
        )
        .await,
        Err(Error::NotSupported(_))
    ));

    // A signed attribute changed behind the client's back is detected.
    raw.update_item()
        .table_name(table)
        .set_key(Some(key("a", 1)))
        .update_expression("SET note = :n")
        .expression_attribute_values(":n", AttributeValue::S("changed".into()))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        enc.get_item(raw.get_item().table_name(table).set_key(Some(key("a", 1))))
            .await,
        Err(Error::SignatureMismatch)
    ));
}

#[tokio::test]
async fn direct_kms_through_the_encrypted_client() {
    let Some(server) = Server::start() else {
        return;
    };
    let raw = server.dynamodb();
    create_table(&raw, "kms_items").await;
    let provider = DirectKmsProvider::new(server.kms(), kms_key(&server).await);
    let enc = EncryptedClient::new(raw.clone(), provider, actions());
    exercise(&enc, "kms_items").await;

    // The description records the KMS envelope; the key attributes are bound into the KMS
    // encryption context, so the same item under another key does not decrypt.
    let stored = raw
        .get_item()
        .table_name("kms_items")
        .set_key(Some(key("a", 2)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let AttributeValue::B(desc) = &stored[MATERIAL_DESCRIPTION_ATTRIBUTE] else {
        panic!("no description")
    };
    let desc = material_description::parse(desc.as_ref()).unwrap();
    assert_eq!(desc["amzn-ddb-wrap-alg"], "kms");
    assert_eq!(desc["amzn-ddb-sig-alg"], "HmacSHA256/256");
    assert_eq!(desc["aws-kms-ec-attr"], "*keys*");
    let mut moved = stored.clone();
    moved.insert("pk".into(), AttributeValue::S("elsewhere".into()));
    assert!(matches!(
        enc.decrypt("kms_items", &moved).await,
        Err(Error::Kms(_))
    ));
}

#[tokio::test]
async fn most_recent_over_a_dynamodb_provider_store() {
    let Some(server) = Server::start() else {
        return;
    };
    let raw = server.dynamodb();
    create_table(&raw, "mr_items").await;
    DynamoDbMetaStore::<DirectKmsProvider>::create_table(&raw, "provider_store")
        .await
        .unwrap();
    let rows = ProviderStoreRows::new(
        "provider_store",
        DirectKmsProvider::new(server.kms(), kms_key(&server).await),
    );
    let store = DynamoDbMetaStore::new(raw.clone(), rows);
    let provider = MostRecentProvider::new(store, "material", Duration::from_secs(600));
    let enc = EncryptedClient::new(raw.clone(), provider, actions());
    exercise(&enc, "mr_items").await;

    // Version 0 was created on first use, stored encrypted under KMS; rotation writes
    // version 1 and old items stay readable.
    let rows = raw
        .scan()
        .table_name("provider_store")
        .send()
        .await
        .unwrap();
    assert_eq!(rows.items().len(), 1);
    assert!(matches!(&rows.items()[0]["enc"], AttributeValue::B(b) if b.as_ref().len() > 32));
    assert_eq!(enc.provider().rotate().await.unwrap(), 1);
    enc.put_item(
        raw.put_item()
            .table_name("mr_items")
            .set_item(Some(item("c", 1))),
    )
    .await
    .unwrap();
    let meta_id = |pk: &str, sk: u32| {
        let raw = raw.clone();
        let key = key(pk, sk);
        async move {
            let stored = raw
                .get_item()
                .table_name("mr_items")
                .set_key(Some(key))
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            let AttributeValue::B(desc) = &stored[MATERIAL_DESCRIPTION_ATTRIBUTE] else {
                panic!("no description")
            };
            material_description::parse(desc.as_ref()).unwrap()["amzn-ddb-meta-id"].clone()
        }
    };
    assert_eq!(meta_id("a", 2).await, "material#0");
    assert_eq!(meta_id("c", 1).await, "material#1");
    for (pk, sk) in [("a", 2), ("c", 1)] {
        enc.get_item(
            raw.get_item()
                .table_name("mr_items")
                .set_key(Some(key(pk, sk))),
        )
        .await
        .unwrap();
    }
    let rows = raw
        .scan()
        .table_name("provider_store")
        .send()
        .await
        .unwrap();
    assert_eq!(rows.items().len(), 2);
}
