//! Grants left by a crash (issue 11): the server is made to abort at an exact step
//! (`SEALDB_CRASH_POINT`) between CreateGrant and the catalog write of CreateTable, of
//! an UpdateTable key switch and of CreateBackup, and between the catalog write of a
//! key switch and the RetireGrant of the old key's grant. After each restart the key's
//! grants for DynamoDB are exactly those of the tables and backups the catalog holds.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeyType, ProvisionedThroughput, ScalarAttributeType, SseSpecification, SseType,
};
use common::{Server, attr_def, key_elem};
use std::path::Path;

const DYNAMODB: &str = "dynamodb.us-east-1.amazonaws.com";

fn sse(key: &str) -> SseSpecification {
    SseSpecification::builder()
        .enabled(true)
        .sse_type(SseType::Kms)
        .kms_master_key_id(key)
        .build()
}

async fn create_table(ddb: &aws_sdk_dynamodb::Client, key: &str) -> bool {
    ddb.create_table()
        .table_name("Tbl")
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(5)
                .write_capacity_units(5)
                .build()
                .unwrap(),
        )
        .sse_specification(sse(key))
        .send()
        .await
        .inspect_err(|e| eprintln!("CreateTable: {e:?}"))
        .is_ok()
}

async fn switch(ddb: &aws_sdk_dynamodb::Client, key: &str) -> bool {
    ddb.update_table()
        .table_name("Tbl")
        .sse_specification(sse(key))
        .send()
        .await
        .is_ok()
}

/// DynamoDB's grants on `key`.
async fn grants(kms: &aws_sdk_kms::Client, key: &str) -> usize {
    kms.list_grants()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .grants()
        .iter()
        .filter(|g| g.grantee_principal() == Some(DYNAMODB))
        .count()
}

/// Runs `request` on a server that aborts at `point`, and checks that it got there.
async fn crash_at<F, Fut>(dir: &Path, point: &str, request: F)
where
    F: FnOnce(aws_sdk_dynamodb::Client) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut server = Server::start_with_env(dir, &[], &[("SEALDB_CRASH_POINT", point)]);
    assert!(
        !request(server.client()).await,
        "the request answered although the server aborted at {point}"
    );
    assert!(server.wait_exit(), "the server never reached {point}");
}

async fn item_reads(ddb: &aws_sdk_dynamodb::Client) -> bool {
    ddb.get_item()
        .table_name("Tbl")
        .key("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap()
        .item()
        .is_some()
}

async fn table_key(ddb: &aws_sdk_dynamodb::Client) -> String {
    ddb.describe_table()
        .table_name("Tbl")
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .sse_description()
        .unwrap()
        .kms_master_key_arn()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_crash_around_create_grant_leaves_no_grant_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let server = Server::start_on(&dir);
    let kms = server.kms();
    let arn = |r: aws_sdk_kms::operation::create_key::CreateKeyOutput| {
        r.key_metadata().unwrap().arn().unwrap().to_owned()
    };
    let k1 = arn(kms.create_key().send().await.unwrap());
    let k2 = arn(kms.create_key().send().await.unwrap());
    drop(server);

    // CreateTable: the grant is made, the catalog never hears of the table.
    let key = k1.clone();
    crash_at(&dir, "after-create-grant", |ddb| async move {
        create_table(&ddb, &key).await
    })
    .await;
    let server = Server::start_on(&dir);
    let (ddb, kms) = (server.client(), server.kms());
    assert_eq!(grants(&kms, &k1).await, 0, "CreateTable's grant leaked");
    let e = ddb
        .describe_table()
        .table_name("Tbl")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.into_service_error().code(),
        Some("ResourceNotFoundException")
    );
    assert!(create_table(&ddb, &k1).await);
    ddb.put_item()
        .table_name("Tbl")
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(grants(&kms, &k1).await, 1);
    drop(server);

    // A key switch: the new key's grant is made, the catalog still names the old key.
    let key = k2.clone();
    crash_at(&dir, "after-create-grant", |ddb| async move {
        switch(&ddb, &key).await
    })
    .await;
    let server = Server::start_on(&dir);
    let (ddb, kms) = (server.client(), server.kms());
    assert_eq!(grants(&kms, &k2).await, 0, "the switch's new grant leaked");
    assert_eq!(grants(&kms, &k1).await, 1, "the table kept its grant");
    assert_eq!(table_key(&ddb).await, k1);
    assert!(item_reads(&ddb).await);
    drop(server);

    // A key switch: the catalog names the new key, the old grant was never retired.
    let key = k2.clone();
    crash_at(&dir, "before-retire-grant", |ddb| async move {
        switch(&ddb, &key).await
    })
    .await;
    let server = Server::start_on(&dir);
    let (ddb, kms) = (server.client(), server.kms());
    assert_eq!(grants(&kms, &k1).await, 0, "the old key's grant leaked");
    assert_eq!(grants(&kms, &k2).await, 1);
    assert_eq!(table_key(&ddb).await, k2);
    assert!(item_reads(&ddb).await);
    drop(server);

    // CreateBackup: the backup's grant is made, the catalog never records the backup.
    crash_at(&dir, "after-create-grant", |ddb| async move {
        ddb.create_backup()
            .table_name("Tbl")
            .backup_name("bak")
            .send()
            .await
            .inspect_err(|e| eprintln!("CreateBackup: {e:?}"))
            .is_ok()
    })
    .await;
    let server = Server::start_on(&dir);
    let (ddb, kms) = (server.client(), server.kms());
    assert_eq!(grants(&kms, &k2).await, 1, "CreateBackup's grant leaked");
    let backups = ddb.list_backups().send().await.unwrap();
    assert!(backups.backup_summaries().is_empty());
    // A grant a user made for DynamoDB is not DynamoDB's to retire.
    kms.create_grant()
        .key_id(&k2)
        .grantee_principal(DYNAMODB)
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    drop(server);
    let server = Server::start_on(&dir);
    assert_eq!(grants(&server.kms(), &k2).await, 2);
    assert!(item_reads(&server.client()).await);
}
