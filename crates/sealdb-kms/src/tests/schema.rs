//! The key store schema: v1, v2 and v3 stores open as v4, unknown versions are refused.

use super::*;

#[test]
fn key_store_schema_v1_to_v3_open_as_v4_and_unknown_versions_are_refused() {
    let h = open();
    let k = h.key();
    let H {
        kms,
        root,
        dir,
        clock,
    } = h;
    drop(kms);
    let path = dir.path().join("keystore.db");
    let set_schema = |v: i64| {
        let conn = sealdb_storage::sqlcipher::open_encrypted(
            &path,
            &root.derive(sealdb_common::Purpose::Keystore),
        )
        .unwrap();
        conn.execute("UPDATE meta SET v = ?1 WHERE k = 'schema'", [v])
            .unwrap();
    };
    let schema = || -> i64 {
        let conn = sealdb_storage::sqlcipher::open_encrypted(
            &path,
            &root.derive(sealdb_common::Purpose::Keystore),
        )
        .unwrap();
        conn.query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))
            .unwrap()
    };
    let cfg = KmsConfig {
        data_dir: dir.path().to_owned(),
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        clock: clock.clone(),
    };
    assert_eq!(schema(), 4);
    set_schema(3);
    drop(KmsService::open(cfg.clone(), &root).unwrap());
    assert_eq!(schema(), 4, "a v3 store is marked v4 when opened");
    set_schema(2);
    drop(KmsService::open(cfg.clone(), &root).unwrap());
    assert_eq!(schema(), 4, "a v2 store is marked v4 when opened");
    set_schema(1);
    let kms = KmsService::open(cfg.clone(), &root).unwrap();
    assert_eq!(schema(), 4, "a v1 store is marked v4 when opened");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = json!({"KeyId": k}).to_string();
    let md: Value = serde_json::from_slice(
        &rt.block_on(kms.call("DescribeKey", &admin(), body.as_bytes()))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(md["KeyMetadata"]["MultiRegion"], json!(false));
    drop(kms);
    set_schema(5);
    assert!(KmsService::open(cfg, &root).is_err());
}
