//! Crypto-shredding as AWS guarantees it (issue 15): when a KMS key's waiting period
//! ends its material is erased from the key store file, DeleteImportedKeyMaterial erases
//! imported material the same way, and every table, backup and stream record under the
//! key becomes unreadable for good, the tables archived as DynamoDB archives them.
//!
//! Tables: `Direct` (created under key K, a stream, a backup), `Switched` (made under
//! the service-owned key, then moved to K), `Moved` (made under key Keep, then moved to
//! K), `Kept` (under Keep: the control that must stay readable) and `Imported` (under an
//! EXTERNAL key whose material is deleted).
//!
//! What is proven, once K's waiting period has ended and its material is erased:
//! - the API: the tables are ARCHIVED with an ArchivalSummary at once (not after the
//!   grace period), GetItem / Query / Scan / PutItem, restoring the user backup or the
//!   archival backup and every Streams call fail; `Kept` still reads;
//! - the maintenance commands: `sealdb verify` names each shredded file as shredded
//!   (its only fault is `Imported`, whose key exists but has no material);
//!   `sealdb audit list` shows no material;
//! - the root key: with every key the root derives (`Purpose::ALL`) and the root itself,
//!   no table or backup file opens; through the key service opened in-process on the
//!   data dir with the root, no wrapped key of a shredded file unwraps (while `Kept`'s
//!   does);
//! - the key store, read page by page with its file key (every page of keystore.db,
//!   free pages and free space included, and every frame of keystore.db-wal): neither
//!   K's material nor the deleted imported material is in any of them, and no encrypted
//!   page image that held K's material before the erase is left in either file;
//! - the catalog, read the same way: the wrapped table keys that the key switches
//!   replaced (one sealed under the root key, one under Keep, which still exists and
//!   would open it) are in no page or WAL frame, and no 62-byte window of any page opens
//!   as a root-sealed table key;
//! - the whole data dir, raw: no material, no table key and no item marker.
//!
//! The waiting period (at least 7 days) is made to end by moving K's deletion date into
//! the past in the stopped server's key store (the test holds the root key), which is
//! what the passing of a week looks like on disk.
#![allow(clippy::unwrap_used)]

mod common;
mod shred_support;

use aws_sdk_dynamodb::types::{
    AttributeValue, KeyType, ProvisionedThroughput, ScalarAttributeType, SseSpecification, SseType,
    StreamSpecification, StreamViewType, TableStatus,
};
use aws_sdk_kms::types::OriginType;
use common::{ACCESS_KEY, SECRET_KEY, Server, attr_def, key_elem};
use sealdb_common::{Purpose, RootKey, SecretKey32};
use sealdb_storage::{KeyVault, RootKeyVault, TableKeyContext};
use shred_support::{Page, contains, files_under, pages, signed_call};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MARKER: &str = "ShreddedItemMarkerQ7v2";
const ARGS: &[&str] = &["--key-check-interval-secs", "1"];
const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

fn root(dir: &Path) -> RootKey {
    RootKey::load(&dir.join("root.key")).unwrap()
}

async fn create_table(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    kms_key: Option<&str>,
    stream: bool,
) {
    let mut req = ddb
        .create_table()
        .table_name(name)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(5)
                .write_capacity_units(5)
                .build()
                .unwrap(),
        );
    if let Some(k) = kms_key {
        req = req.sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(k)
                .build(),
        );
    }
    if stream {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        );
    }
    req.send().await.unwrap();
    for i in 0..5 {
        ddb.put_item()
            .table_name(name)
            .item("pk", AttributeValue::S(format!("{name}-{i}")))
            .item("v", AttributeValue::S(format!("{MARKER}-{name}-{i}")))
            .send()
            .await
            .unwrap();
    }
}

async fn switch_key(ddb: &aws_sdk_dynamodb::Client, name: &str, key_arn: &str) {
    ddb.update_table()
        .table_name(name)
        .sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(key_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = ddb.describe_table().table_name(name).send().await.unwrap();
        let sse = t.table().unwrap().sse_description().unwrap();
        if sse.kms_master_key_arn() == Some(key_arn)
            && sse.status().map(|s| s.as_str()) == Some("ENABLED")
        {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never moved to {key_arn}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_status(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    want: TableStatus,
) -> aws_sdk_dynamodb::types::TableDescription {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let t = ddb.describe_table().table_name(name).send().await.unwrap();
        let t = t.table().unwrap().clone();
        if t.table_status() == Some(&want) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {:?}, never {want:?}",
            t.table_status()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The material (version 1) of a KMS key, read from the stopped server's key store.
fn material(dir: &Path, root: &RootKey, key_id: &str) -> Vec<u8> {
    let conn = sealdb_storage::sqlcipher::open_existing(
        &dir.join("keystore.db"),
        &root.derive(Purpose::Keystore),
    )
    .unwrap();
    conn.query_row(
        "SELECT material FROM materials WHERE key_id = ?1 AND version = 1",
        [key_id],
        |r| r.get(0),
    )
    .unwrap()
}

fn catalog(
    dir: &Path,
    root: &RootKey,
) -> (
    Vec<sealdb_storage::TableRecord>,
    Vec<sealdb_storage::BackupRecord>,
) {
    let c = sealdb_storage::catalog::Catalog::open(dir, &root.derive(Purpose::Catalog)).unwrap();
    (c.tables().unwrap(), c.backups().unwrap())
}

/// The key service and DynamoDB's vault opened in-process on the stopped server's data
/// dir with the root key: what someone holding the data dir and the root key can run.
fn vault(dir: &Path, root: &RootKey) -> sealdb_dynamodb::sse::KmsVault {
    let kms = sealdb_kms::KmsService::open(
        sealdb_kms::KmsConfig {
            data_dir: dir.to_owned(),
            region: REGION.into(),
            account_id: ACCOUNT.into(),
            clock: sealdb_common::Clock::system(),
        },
        root,
    )
    .unwrap();
    sealdb_dynamodb::sse::KmsVault::new(Arc::new(kms), root, REGION, ACCOUNT)
}

fn key_context(table_name: &str, id: &str) -> TableKeyContext {
    TableKeyContext {
        table_name: table_name.into(),
        table_id: id.into(),
        kms_key: None,
        caller: None,
    }
}

fn table_file(dir: &Path, id: &str) -> std::path::PathBuf {
    dir.join("tables").join(format!("{id}.db"))
}

/// Every place in `pages` that holds `needle`.
fn found_in(pages: &[Page], needle: &[u8]) -> Vec<String> {
    pages
        .iter()
        .filter(|p| contains(&p.plain, needle))
        .map(|p| p.place.clone())
        .collect()
}

/// The decrypted pages of catalog.db, free pages and WAL frames included.
fn decrypted_catalog(dir: &Path, root_key: &RootKey) -> Vec<Page> {
    pages(
        &dir.join("catalog.db"),
        root_key.derive(Purpose::Catalog).expose(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_leaves_nothing_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");

    // Phase 1: keys, tables, items, a stream, a backup.
    let server = Server::start_with(&dir, ARGS);
    let (ddb, kms) = (server.client(), server.kms());
    let key_arn = |r: aws_sdk_kms::operation::create_key::CreateKeyOutput| {
        r.key_metadata().unwrap().arn().unwrap().to_owned()
    };
    let doomed = key_arn(kms.create_key().send().await.unwrap());
    let keep = key_arn(kms.create_key().send().await.unwrap());
    let external = key_arn(
        kms.create_key()
            .origin(OriginType::External)
            .send()
            .await
            .unwrap(),
    );
    let imported_material = SecretKey32::random().unwrap().expose().to_vec();
    common::import_key_material(&kms, &external, &imported_material).await;

    create_table(&ddb, "Direct", Some(&doomed), true).await;
    create_table(&ddb, "Switched", None, false).await;
    create_table(&ddb, "Moved", Some(&keep), false).await;
    create_table(&ddb, "Kept", Some(&keep), false).await;
    create_table(&ddb, "Imported", Some(&external), false).await;
    let stream_arn = ddb
        .describe_table()
        .table_name("Direct")
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_owned();
    let backup_arn = ddb
        .create_backup()
        .table_name("Direct")
        .backup_name("before")
        .send()
        .await
        .unwrap()
        .backup_details()
        .unwrap()
        .backup_arn()
        .to_owned();
    // The stream holds records, and how to read them.
    let streams = |target: &str, body: serde_json::Value| {
        signed_call(
            &server.endpoint,
            ACCESS_KEY,
            SECRET_KEY,
            &format!("DynamoDBStreams_20120810.{target}"),
            &body,
        )
    };
    let (status, stream) = streams(
        "DescribeStream",
        serde_json::json!({"StreamArn": stream_arn}),
    );
    assert_eq!(status, 200, "{stream}");
    let shard_id = stream["StreamDescription"]["Shards"][0]["ShardId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, it) = streams(
        "GetShardIterator",
        serde_json::json!({"StreamArn": stream_arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}),
    );
    assert_eq!(status, 200, "{it}");
    let iterator = it["ShardIterator"].as_str().unwrap().to_owned();
    let (status, records) = streams("GetRecords", serde_json::json!({"ShardIterator": iterator}));
    assert_eq!(status, 200, "{records}");
    assert_eq!(records["Records"].as_array().unwrap().len(), 5, "{records}");
    drop(server);

    // Phase 2 (stopped): what the switches will replace, and the table keys, read with
    // the root key while everything is still readable.
    let root_key = root(&dir);
    let (tables, backups) = catalog(&dir, &root_key);
    let record = |name: &str| tables.iter().find(|t| t.name == name).unwrap().clone();
    let switched_before = record("Switched");
    let moved_before = record("Moved");
    assert_eq!(
        switched_before.wrapped_key[0], 1,
        "service-owned: root-sealed v1"
    );
    assert_eq!(moved_before.wrapped_key[0], 2, "KMS-wrapped v2");
    let catalog_pages = decrypted_catalog(&dir, &root_key);
    for old in [&switched_before, &moved_before] {
        assert!(
            !found_in(&catalog_pages, &old.wrapped_key).is_empty(),
            "control: the page search finds {}'s wrapped key",
            old.name
        );
    }
    let in_process = vault(&dir, &root_key);
    let mut table_keys = Vec::new();
    for t in &tables {
        let key = in_process
            .unwrap_key(&key_context(&t.name, &t.id), &t.wrapped_key)
            .await
            .unwrap();
        // Control: the table key really opens the table file.
        sealdb_storage::sqlcipher::open_existing(&table_file(&dir, &t.id), &key).unwrap();
        table_keys.push((t.name.clone(), key));
    }
    for b in &backups {
        let key = in_process
            .unwrap_key(&key_context(&b.table_name, &b.id), &b.wrapped_key)
            .await
            .unwrap();
        table_keys.push((format!("backup of {}", b.table_name), key));
    }
    drop(in_process);
    let doomed_id = doomed.rsplit('/').next().unwrap().to_owned();
    let doomed_material = material(&dir, &root_key, &doomed_id);
    assert_eq!(doomed_material.len(), 32);

    // Phase 3: both switches to K, K scheduled for deletion, the imported material deleted.
    let server = Server::start_with(&dir, ARGS);
    let (ddb, kms) = (server.client(), server.kms());
    switch_key(&ddb, "Switched", &doomed).await;
    switch_key(&ddb, "Moved", &doomed).await;
    kms.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    kms.delete_imported_key_material()
        .key_id(&external)
        .send()
        .await
        .unwrap();
    drop(server);

    // Right after the switches (the server killed, so its files are as it left them),
    // the replaced wrapped keys are already in no page and no WAL frame: the root key
    // (Switched's was sealed under it) or Keep (Moved's) would open them.
    let catalog_pages = decrypted_catalog(&dir, &root_key);
    for old in [&switched_before, &moved_before] {
        let places = found_in(&catalog_pages, &old.wrapped_key);
        assert!(
            places.is_empty(),
            "{}'s replaced wrapped key survives the switch in {places:?}",
            old.name
        );
    }

    // Phase 4: K's material is still there (the control for the search that
    // follows the erase), and where its encrypted page images are; then a week passes.
    let keystore = dir.join("keystore.db");
    let keystore_key = root_key.derive(Purpose::Keystore);
    let before = pages(&keystore, keystore_key.expose());
    let holding: Vec<&Page> = before
        .iter()
        .filter(|p| contains(&p.plain, &doomed_material))
        .collect();
    assert!(
        !holding.is_empty(),
        "control: the page search finds K's material"
    );
    let old_images: Vec<Vec<u8>> = holding.iter().map(|p| p.raw.clone()).collect();
    {
        let conn = sealdb_storage::sqlcipher::open_existing(&keystore, &keystore_key).unwrap();
        #[allow(clippy::cast_precision_loss)]
        let past = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 60) as f64;
        let n = conn
            .execute(
                "UPDATE keys SET record = json_set(record, '$.deletion_date', ?1) WHERE id = ?2",
                rusqlite::params![past, doomed_id],
            )
            .unwrap();
        assert_eq!(n, 1);
    }

    // Phase 5: the deletion completes on its own; every way in through the API.
    let server = Server::start_with(&dir, ARGS);
    let (ddb, kms) = (server.client(), server.kms());
    for name in ["Direct", "Switched", "Moved"] {
        let t = wait_status(&ddb, name, TableStatus::Archived).await;
        let summary = t.archival_summary().unwrap();
        assert_eq!(
            summary.archival_reason(),
            Some("INACCESSIBLE_ENCRYPTION_CREDENTIALS")
        );
        assert!(summary.archival_date_time().is_some());
        let archival_backup = summary.archival_backup_arn().unwrap().to_owned();
        let key = aws_sdk_dynamodb::types::AttributeValue::S(format!("{name}-0"));
        let e = ddb
            .get_item()
            .table_name(name)
            .key("pk", key.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            e.into_service_error().meta().code(),
            Some("ValidationException")
        );
        assert!(ddb.scan().table_name(name).send().await.is_err());
        assert!(
            ddb.query()
                .table_name(name)
                .key_condition_expression("pk = :k")
                .expression_attribute_values(":k", key.clone())
                .send()
                .await
                .is_err()
        );
        assert!(
            ddb.put_item()
                .table_name(name)
                .item("pk", key)
                .send()
                .await
                .is_err()
        );
        let e = ddb
            .restore_table_from_backup()
            .target_table_name(format!("{name}Back"))
            .backup_arn(&archival_backup)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            e.into_service_error().meta().code(),
            Some("ValidationException")
        );
    }
    let e = ddb
        .restore_table_from_backup()
        .target_table_name("DirectFromBackup")
        .backup_arn(&backup_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.into_service_error().meta().code(),
        Some("ValidationException")
    );
    assert!(
        ddb.describe_table()
            .table_name("DirectFromBackup")
            .send()
            .await
            .is_err(),
        "no table was left behind by the refused restore"
    );
    // The stream: its records were in the table's file.
    let streams = |target: &str, body: serde_json::Value| {
        signed_call(
            &server.endpoint,
            ACCESS_KEY,
            SECRET_KEY,
            &format!("DynamoDBStreams_20120810.{target}"),
            &body,
        )
    };
    for (target, body) in [
        (
            "DescribeStream",
            serde_json::json!({"StreamArn": stream_arn}),
        ),
        (
            "GetShardIterator",
            serde_json::json!({"StreamArn": stream_arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}),
        ),
        ("GetRecords", serde_json::json!({"ShardIterator": iterator})),
    ] {
        let (status, reply) = streams(target, body);
        assert_eq!(status, 400, "{target}: {reply}");
        assert!(
            reply["__type"]
                .as_str()
                .is_some_and(|t| t.ends_with("ValidationException")),
            "{target}: {reply}"
        );
        assert!(reply.get("Records").is_none(), "{target}: {reply}");
    }
    // The control table still reads, the imported-material table does not (its key
    // exists: re-importing the same material would bring it back, so it waits out the
    // grace period instead of being archived).
    let kept = ddb
        .get_item()
        .table_name("Kept")
        .key("pk", AttributeValue::S("Kept-0".into()))
        .send()
        .await
        .unwrap();
    assert!(kept.item().is_some());
    wait_status(
        &ddb,
        "Imported",
        TableStatus::InaccessibleEncryptionCredentials,
    )
    .await;
    let e = kms.describe_key().key_id(&doomed).send().await.unwrap_err();
    assert_eq!(
        e.into_service_error().meta().code(),
        Some("NotFoundException")
    );
    // SIGKILL: the files stay as the running server left them (a clean close would
    // checkpoint and remove the WAL, whatever the code did).
    drop(server);

    // Phase 6: the key store, page by page, and its WAL.
    let after = pages(&keystore, keystore_key.expose());
    assert!(
        found_in(&after, &doomed_material).is_empty(),
        "K's material survives in {:?}",
        found_in(&after, &doomed_material)
    );
    assert!(
        found_in(&after, &imported_material).is_empty(),
        "the deleted imported material survives in {:?}",
        found_in(&after, &imported_material)
    );
    let mut wal = keystore.clone().into_os_string();
    wal.push("-wal");
    let raw_store = [
        std::fs::read(&keystore).unwrap(),
        std::fs::read(&wal).unwrap_or_default(),
    ];
    for (i, image) in old_images.iter().enumerate() {
        for raw in &raw_store {
            // The IV and the HMAC alone identify an image; the first 64 bytes of
            // ciphertext are enough to find it.
            assert!(
                !contains(raw, &image[..64]),
                "encrypted page image {i} that held K's material is still on disk"
            );
        }
    }

    // The catalog: the replaced wrapped keys are gone, and nothing root-sealed opens.
    let catalog_pages = decrypted_catalog(&dir, &root_key);
    for old in [&switched_before, &moved_before] {
        let places = found_in(&catalog_pages, &old.wrapped_key);
        assert!(
            places.is_empty(),
            "{}'s replaced wrapped key survives in {places:?}",
            old.name
        );
    }
    let sealed = RootKeyVault::new(&root_key);
    let (tables, backups) = catalog(&dir, &root_key);
    let mut bound: Vec<(String, String)> = tables
        .iter()
        .map(|t| (t.name.clone(), t.id.clone()))
        .collect();
    bound.extend(backups.iter().map(|b| (b.table_name.clone(), b.id.clone())));
    for page in &catalog_pages {
        for w in page.plain.windows(62).filter(|w| w[0] == 1 && w[1] == 1) {
            for (name, id) in &bound {
                assert!(
                    sealed.open(&key_context(name, id), w).is_err(),
                    "a root-sealed key of {name} opens from {}",
                    page.place
                );
            }
        }
    }

    // The root key, every way: no derived key opens a table or backup file, and the key
    // service on the data dir unwraps nothing under K.
    let mut derived: Vec<(String, SecretKey32)> = Purpose::ALL
        .iter()
        .map(|p| (p.info().to_owned(), root_key.derive(*p)))
        .collect();
    derived.push((
        "the root key itself".into(),
        SecretKey32::from_slice(&std::fs::read(dir.join("root.key")).unwrap()).unwrap(),
    ));
    let data_files: Vec<_> = files_under(&dir.join("tables"))
        .into_iter()
        .chain(files_under(&dir.join("backups")))
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    // Kept and Imported; Direct's backup and three archived tables.
    assert_eq!(data_files.len(), 6, "{data_files:?}");
    for file in &data_files {
        for (purpose, key) in &derived {
            assert!(
                sealdb_storage::sqlcipher::open_existing(file, key).is_err(),
                "{} opens with {purpose}",
                file.display()
            );
        }
    }
    let in_process = vault(&dir, &root_key);
    let mut shredded = 0;
    for (name, id, wrapped) in tables
        .iter()
        .map(|t| (&t.name, &t.id, &t.wrapped_key))
        .chain(
            backups
                .iter()
                .map(|b| (&b.table_name, &b.id, &b.wrapped_key)),
        )
    {
        if wrapped.is_empty() {
            continue; // an archived table: its key moved to its archival backup
        }
        let opened = in_process.unwrap_key(&key_context(name, id), wrapped).await;
        match sealdb_dynamodb::sse::KmsVault::key_of(wrapped) {
            Some(arn) if arn == doomed || arn == external => {
                assert!(opened.is_err(), "{name} ({id}) unwraps");
                shredded += 1;
            }
            _ => {
                let key = opened.unwrap();
                sealdb_storage::sqlcipher::open_existing(&table_file(&dir, id), &key).unwrap();
            }
        }
    }
    // Direct's backup, three archival backups and Imported.
    assert_eq!(shredded, 5);
    drop(in_process);

    // The maintenance commands.
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealdb"))
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = run(&["verify"]);
    assert!(
        !ok,
        "Imported's key is unusable, which verify reports: {text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("shredded ")).count(),
        4,
        "{text}"
    );
    assert!(
        text.lines()
            .filter(|l| l.starts_with("FAULT "))
            .all(|l| l.contains("Imported")),
        "{text}"
    );
    let (ok, text) = run(&["audit", "list"]);
    assert!(ok, "{text}");
    use base64::Engine as _;
    for m in [&doomed_material, &imported_material] {
        assert!(!text.contains(&hex::encode(m)));
        assert!(!text.contains(&base64::engine::general_purpose::STANDARD.encode(m)));
    }

    // The whole data dir, raw: no material, no table key, no item.
    for file in files_under(&dir) {
        let bytes = std::fs::read(&file).unwrap();
        let place = file.display();
        assert!(!contains(&bytes, &doomed_material), "{place}");
        assert!(!contains(&bytes, &imported_material), "{place}");
        assert!(!contains(&bytes, MARKER.as_bytes()), "{place}");
        for (name, key) in &table_keys {
            assert!(!contains(&bytes, key.expose()), "{name}'s key in {place}");
        }
    }
}
