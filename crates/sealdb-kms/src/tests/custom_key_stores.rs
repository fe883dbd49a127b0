//! Custom key stores of type AWS_CLOUDHSM over SoftHSM2 tokens: the six operations with
//! every connection state, and KMS keys whose material stays in the token.

use super::*;
use crate::custom_key_store::{CloudHsmClusters, ConnectionState};
use sealdb_hsm::testing::{TEST_PIN, in_process};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh token (unique label) and a KMS service that knows it as `cluster`; also
/// a cluster id naming a token that does not exist.
struct T {
    h: H,
    cluster: String,
    missing_cluster: String,
    label: String,
}

const MISSING: &str = "cluster-missingtoken";

fn with_token(delay_ms: u64) -> T {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let label = format!("cks-{}-{n}", std::process::id());
    let dir = in_process().unwrap();
    dir.init_token(&label).unwrap();
    // Cluster ids are cluster-[2-7a-zA-Z]{11,16}: letters from the counter.
    let letters: String = format!("{n:04}")
        .chars()
        .map(|d| char::from(b'a' + (d as u8 - b'0')))
        .collect();
    let cluster = format!("cluster-abcdefg{letters}");
    let module = dir.module().display().to_string();
    let mut clusters = CloudHsmClusters::new(std::time::Duration::from_millis(delay_ms));
    for (id, tok) in [
        (&cluster, &label),
        (&MISSING.to_owned(), &"no-such-token".to_owned()),
    ] {
        let (id, t) = CloudHsmClusters::parse_spec(&format!("{id}={module}:{tok}")).unwrap();
        clusters.insert(id, t);
    }
    let h = open();
    h.kms.set_cloudhsm_clusters(clusters);
    T {
        h,
        cluster,
        missing_cluster: MISSING.into(),
        label,
    }
}

impl T {
    fn create(&self, name: &str, cluster: &str, pin: &str) -> Result<String, KmsError> {
        self.h
            .call(
                "CreateCustomKeyStore",
                json!({"CustomKeyStoreName": name, "CloudHsmClusterId": cluster,
                       "TrustAnchorCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                       "KeyStorePassword": pin}),
            )
            .map(|v| v["CustomKeyStoreId"].as_str().unwrap().to_owned())
    }

    fn entry(&self, id: &str) -> Value {
        self.h
            .call("DescribeCustomKeyStores", json!({"CustomKeyStoreId": id}))
            .unwrap()["CustomKeyStores"][0]
            .clone()
    }

    fn state(&self, id: &str) -> String {
        self.entry(id)["ConnectionState"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn op(&self, op: &str, id: &str) -> Result<Value, KmsError> {
        self.h.call(op, json!({"CustomKeyStoreId": id}))
    }

    fn connect(&self, id: &str) -> ConnectionState {
        self.op("ConnectCustomKeyStore", id).unwrap();
        self.h.kms.inner.cks.settle(id)
    }
}

fn kind(r: Result<impl std::fmt::Debug, KmsError>) -> &'static str {
    r.unwrap_err().error_type()
}

#[test]
fn store_lifecycle_follows_the_connection_state_rules() {
    let t = with_token(0);
    assert_eq!(
        kind(t.create("s", "cluster-nosuchcluster", TEST_PIN)),
        "CloudHsmClusterNotFoundException"
    );
    assert_eq!(
        kind(t.h.call(
            "CreateCustomKeyStore",
            json!({"CustomKeyStoreName": "xks", "CustomKeyStoreType": "EXTERNAL_KEY_STORE"})
        )),
        "ValidationException",
        "an external key store needs its proxy settings"
    );
    assert_eq!(
        kind(t.h.call(
            "CreateCustomKeyStore",
            json!({"CustomKeyStoreName": "no-pin", "CloudHsmClusterId": t.cluster,
                   "TrustAnchorCertificate": "x"})
        )),
        "ValidationException"
    );
    let id = t.create("store-one", &t.cluster, TEST_PIN).unwrap();
    assert!(id.starts_with("cks-"));
    assert_eq!(
        kind(t.h.call(
            "GenerateRandom",
            json!({"NumberOfBytes": 8, "CustomKeyStoreId": id})
        )),
        "CustomKeyStoreInvalidStateException"
    );
    assert_eq!(
        kind(t.create("store-one", &t.missing_cluster, TEST_PIN)),
        "CustomKeyStoreNameInUseException"
    );
    assert_eq!(
        kind(t.create("store-two", &t.cluster, TEST_PIN)),
        "CloudHsmClusterInUseException"
    );
    let e = t.entry(&id);
    assert_eq!(e["ConnectionState"], "DISCONNECTED");
    assert_eq!(e["CustomKeyStoreType"], "AWS_CLOUDHSM");
    assert_eq!(e["CloudHsmClusterId"], json!(t.cluster));
    assert!(
        e["TrustAnchorCertificate"]
            .as_str()
            .unwrap()
            .contains("BEGIN")
    );
    assert!(e.get("ConnectionErrorCode").is_none());
    // The password is never shown and never audited.
    assert!(!e.to_string().contains(TEST_PIN));
    assert_eq!(
        kind(t.op("DisconnectCustomKeyStore", &id)),
        "CustomKeyStoreInvalidStateException"
    );
    assert_eq!(t.connect(&id), ConnectionState::Connected);
    assert_eq!(t.state(&id), "CONNECTED");
    let r =
        t.h.call(
            "GenerateRandom",
            json!({"NumberOfBytes": 8, "CustomKeyStoreId": id}),
        )
        .unwrap();
    assert_eq!(unb64(&r["Plaintext"]).len(), 8);
    // Connecting a connected store is a no-op.
    t.op("ConnectCustomKeyStore", &id).unwrap();
    // While connected: the name may change, not the password; no deletion.
    t.h.call(
        "UpdateCustomKeyStore",
        json!({"CustomKeyStoreId": id, "NewCustomKeyStoreName": "renamed"}),
    )
    .unwrap();
    assert_eq!(t.entry(&id)["CustomKeyStoreName"], "renamed");
    assert_eq!(
        kind(t.h.call(
            "UpdateCustomKeyStore",
            json!({"CustomKeyStoreId": id, "KeyStorePassword": "another-pin"})
        )),
        "CustomKeyStoreInvalidStateException"
    );
    assert_eq!(
        kind(t.op("DeleteCustomKeyStore", &id)),
        "CustomKeyStoreInvalidStateException"
    );
    t.op("DisconnectCustomKeyStore", &id).unwrap();
    assert_eq!(t.state(&id), "DISCONNECTED");
    // Another configured cluster holding other material is not related.
    assert_eq!(
        kind(t.h.call(
            "UpdateCustomKeyStore",
            json!({"CustomKeyStoreId": id, "CloudHsmClusterId": t.missing_cluster})
        )),
        "CloudHsmClusterNotRelatedException"
    );
    let by_name =
        t.h.call(
            "DescribeCustomKeyStores",
            json!({"CustomKeyStoreName": "renamed"}),
        )
        .unwrap();
    assert_eq!(by_name["CustomKeyStores"][0]["CustomKeyStoreId"], json!(id));
    t.op("DeleteCustomKeyStore", &id).unwrap();
    assert_eq!(
        kind(t.op("DeleteCustomKeyStore", &id)),
        "CustomKeyStoreNotFoundException"
    );
    assert_eq!(
        kind(t.h.call("DescribeCustomKeyStores", json!({"CustomKeyStoreId": id}))),
        "CustomKeyStoreNotFoundException"
    );
    // keystore.db never holds the password in the clear.
    let raw = std::fs::read(t.h.dir.path().join("keystore.db")).unwrap();
    assert!(
        !raw.windows(TEST_PIN.len())
            .any(|w| w == TEST_PIN.as_bytes())
    );
    // The audit log never holds the password.
    let log = crate::audit::records(t.h.dir.path(), &t.h.root).unwrap();
    assert!(log.iter().any(|r| r["eventName"] == "CreateCustomKeyStore"));
    assert!(!format!("{log:?}").contains(TEST_PIN));
}

#[test]
fn wrong_pin_fails_with_invalid_credentials_and_missing_token_with_cluster_not_found() {
    let t = with_token(0);
    let id = t.create("bad-pin", &t.cluster, "wrong-pin-123").unwrap();
    assert_eq!(t.connect(&id), ConnectionState::Failed);
    let e = t.entry(&id);
    assert_eq!(e["ConnectionState"], "FAILED");
    assert_eq!(e["ConnectionErrorCode"], "INVALID_CREDENTIALS");
    // A FAILED store must be disconnected before it connects again.
    assert_eq!(
        kind(t.op("ConnectCustomKeyStore", &id)),
        "CustomKeyStoreInvalidStateException"
    );
    t.op("DisconnectCustomKeyStore", &id).unwrap();
    t.h.call(
        "UpdateCustomKeyStore",
        json!({"CustomKeyStoreId": id, "KeyStorePassword": TEST_PIN}),
    )
    .unwrap();
    assert_eq!(t.connect(&id), ConnectionState::Connected);
    t.op("DisconnectCustomKeyStore", &id).unwrap();

    let gone = t.create("no-token", &t.missing_cluster, TEST_PIN).unwrap();
    assert_eq!(t.connect(&gone), ConnectionState::Failed);
    assert_eq!(t.entry(&gone)["ConnectionErrorCode"], "CLUSTER_NOT_FOUND");
}

#[test]
fn connecting_is_seen_while_the_login_is_pending() {
    let t = with_token(400);
    let id = t.create("slow", &t.cluster, TEST_PIN).unwrap();
    t.op("ConnectCustomKeyStore", &id).unwrap();
    assert_eq!(t.state(&id), "CONNECTING");
    assert_eq!(
        kind(t.op("DeleteCustomKeyStore", &id)),
        "CustomKeyStoreInvalidStateException"
    );
    assert_eq!(t.h.kms.inner.cks.settle(&id), ConnectionState::Connected);
    // Disconnecting during a connection wins over the login that ends later.
    t.op("DisconnectCustomKeyStore", &id).unwrap();
    t.op("ConnectCustomKeyStore", &id).unwrap();
    t.op("DisconnectCustomKeyStore", &id).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(t.state(&id), "DISCONNECTED");
}

fn b64(s: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

#[test]
fn keys_in_the_store_encrypt_in_the_token_and_fail_while_disconnected() {
    let t = with_token(0);
    let id = t.create("keys", &t.cluster, TEST_PIN).unwrap();
    let create = json!({"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": id});
    assert_eq!(
        kind(t.h.call("CreateKey", create.clone())),
        "CustomKeyStoreInvalidStateException"
    );
    assert_eq!(t.connect(&id), ConnectionState::Connected);
    assert_eq!(
        kind(t.h.call("CreateKey", json!({"Origin": "AWS_CLOUDHSM"}))),
        "ValidationException"
    );
    assert_eq!(
        kind(t.h.call(
            "CreateKey",
            json!({"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": "cks-00000000000000000"})
        )),
        "CustomKeyStoreNotFoundException"
    );
    let md = t.h.call("CreateKey", create).unwrap()["KeyMetadata"].clone();
    let key = md["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(md["Origin"], "AWS_CLOUDHSM");
    assert_eq!(md["CustomKeyStoreId"], json!(id));
    assert_eq!(md["CloudHsmClusterId"], json!(t.cluster));
    let d = t.h.call("DescribeKey", json!({"KeyId": key})).unwrap();
    assert_eq!(d["KeyMetadata"]["CustomKeyStoreId"], json!(id));
    // The material is a token key named by the KMS key id, and not in the key store.
    let token = t.h.kms.inner.cks.token(&id).unwrap();
    assert!(token.has_key(&key).unwrap());
    assert_eq!(token.label(), t.label);
    {
        let store = t.h.kms.inner.store.lock().unwrap();
        assert!(store.material(&key, 1).unwrap().is_none());
    }
    drop(token);

    let ctx = json!({"purpose": "test"});
    let ct =
        t.h.call(
            "Encrypt",
            json!({"KeyId": key, "Plaintext": b64(b"in the token"), "EncryptionContext": ctx}),
        )
        .unwrap()["CiphertextBlob"]
            .clone();
    let raw = unb64(&ct);
    assert_eq!(raw[0], 3, "blob v3");
    assert_eq!(&raw[1..17], uuid::Uuid::parse_str(&key).unwrap().as_bytes());
    let pt =
        t.h.call(
            "Decrypt",
            json!({"CiphertextBlob": ct, "EncryptionContext": ctx}),
        )
        .unwrap();
    assert_eq!(unb64(&pt["Plaintext"]), b"in the token");
    assert_eq!(
        kind(t.h.call("Decrypt", json!({"CiphertextBlob": ct}))),
        "InvalidCiphertextException"
    );
    let mut bad = raw.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        kind(t.h.call(
            "Decrypt",
            json!({"CiphertextBlob": b64(&bad), "EncryptionContext": ctx})
        )),
        "InvalidCiphertextException"
    );
    // GenerateDataKey, and ReEncrypt to an ordinary key and back.
    let dk =
        t.h.call(
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256"}),
        )
        .unwrap();
    let back =
        t.h.call("Decrypt", json!({"CiphertextBlob": dk["CiphertextBlob"]}))
            .unwrap();
    assert_eq!(back["Plaintext"], dk["Plaintext"]);
    let pair =
        t.h.call(
            "GenerateDataKeyPair",
            json!({"KeyId": key, "KeyPairSpec": "ECC_NIST_P256"}),
        )
        .unwrap();
    assert_eq!(unb64(&pair["PrivateKeyCiphertextBlob"])[0], 3);
    let private =
        t.h.call(
            "Decrypt",
            json!({"CiphertextBlob": pair["PrivateKeyCiphertextBlob"]}),
        )
        .unwrap();
    assert_eq!(private["Plaintext"], pair["PrivateKeyPlaintext"]);
    let plain = t.h.key();
    let moved = t
        .h
        .call(
            "ReEncrypt",
            json!({"CiphertextBlob": ct, "SourceEncryptionContext": ctx, "DestinationKeyId": plain}),
        )
        .unwrap();
    let home =
        t.h.call(
            "ReEncrypt",
            json!({"CiphertextBlob": moved["CiphertextBlob"], "DestinationKeyId": key}),
        )
        .unwrap();
    assert_eq!(unb64(&home["CiphertextBlob"])[0], 3);
    assert_eq!(
        kind(t.h.call("EnableKeyRotation", json!({"KeyId": key}))),
        "UnsupportedOperationException"
    );

    // Disconnected: the key shows Unavailable (AWS), every cryptographic use fails.
    t.op("DisconnectCustomKeyStore", &id).unwrap();
    let d = t.h.call("DescribeKey", json!({"KeyId": key})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeyState"], "Unavailable");
    assert_eq!(d["KeyMetadata"]["Enabled"], false);
    let e =
        t.h.call(
            "Decrypt",
            json!({"CiphertextBlob": ct, "EncryptionContext": ctx}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "KMSInvalidStateException");
    assert!(e.message().contains("DISCONNECTED"), "{}", e.message());
    assert_eq!(
        kind(t.h.call("Encrypt", json!({"KeyId": key, "Plaintext": b64(b"x")}))),
        "KMSInvalidStateException"
    );
    assert_eq!(
        kind(t.h.call(
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256"})
        )),
        "KMSInvalidStateException"
    );
    assert_eq!(
        kind(t.op("DeleteCustomKeyStore", &id)),
        "CustomKeyStoreHasCMKsException"
    );
    // Reconnected: the key is Enabled again and the old ciphertext opens.
    assert_eq!(t.connect(&id), ConnectionState::Connected);
    let d = t.h.call("DescribeKey", json!({"KeyId": key})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    let pt =
        t.h.call(
            "Decrypt",
            json!({"CiphertextBlob": ct, "EncryptionContext": ctx}),
        )
        .unwrap();
    assert_eq!(unb64(&pt["Plaintext"]), b"in the token");

    // Deletion: the token key goes with the KMS key; then the store can be deleted.
    t.h.call(
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    )
    .unwrap();
    t.h.clock.advance_millis(8 * 86_400_000);
    t.h.kms.purge().unwrap();
    let token = t.h.kms.inner.cks.token(&id).unwrap();
    assert!(!token.has_key(&key).unwrap());
    drop(token);
    t.op("DisconnectCustomKeyStore", &id).unwrap();
    t.op("DeleteCustomKeyStore", &id).unwrap();
}

#[test]
fn a_connected_store_reconnects_when_the_service_reopens() {
    let t = with_token(0);
    let id = t.create("again", &t.cluster, TEST_PIN).unwrap();
    assert_eq!(t.connect(&id), ConnectionState::Connected);
    let T {
        h, cluster, label, ..
    } = t;
    let H {
        kms,
        root,
        dir,
        clock,
    } = h;
    let clusters = kms.inner.cks.clusters_for_tests();
    drop(kms);
    let kms = KmsService::open(
        KmsConfig {
            data_dir: dir.path().to_owned(),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            clock: clock.clone(),
        },
        &root,
    )
    .unwrap();
    assert_eq!(kms.inner.cks.state(&id).0, ConnectionState::Disconnected);
    kms.set_cloudhsm_clusters(clusters);
    assert_eq!(kms.inner.cks.settle(&id), ConnectionState::Connected);
    let _ = (cluster, label);
}
