//! A KMS service on a temporary key store, shared by the KMS fuzz targets.

use sealdb_common::{Clock, Principal, RootKey, SecretKey32};
use sealdb_kms::{KmsConfig, KmsService};
use std::sync::OnceLock;

pub struct KmsHarness {
    runtime: tokio::runtime::Runtime,
    service: KmsService,
    caller: Principal,
    /// A real ciphertext blob of `alias/fuzz` (plaintext "seed", no context).
    pub blob: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl KmsHarness {
    pub fn call(&self, operation: &str, body: &[u8]) -> Result<Vec<u8>, sealdb_kms::KmsError> {
        self.runtime
            .block_on(self.service.call(operation, &self.caller, body))
    }
}

pub fn harness() -> &'static KmsHarness {
    static HARNESS: OnceLock<KmsHarness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = RootKey::from_key(SecretKey32::from_bytes([9; 32]));
        let service = KmsService::open(
            KmsConfig {
                data_dir: dir.path().to_path_buf(),
                region: "us-east-1".into(),
                account_id: "000000000000".into(),
                clock: Clock::system(),
            },
            &root,
        )
        .expect("key store");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let caller = Principal::root("AKID", "000000000000", "us-east-1", "127.0.0.1");
        let mut h = KmsHarness { runtime, service, caller, blob: Vec::new(), _dir: dir };
        let json = |v: serde_json::Value| v.to_string().into_bytes();
        let id = |reply: Vec<u8>| -> String {
            let v: serde_json::Value = serde_json::from_slice(&reply).expect("json");
            v["KeyMetadata"]["KeyId"].as_str().expect("key id").to_owned()
        };
        let key = id(h.call("CreateKey", &json(serde_json::json!({}))).expect("key"));
        h.call("CreateAlias", &json(serde_json::json!({"AliasName": "alias/fuzz", "TargetKeyId": key})))
            .expect("alias");
        let hmac = id(h
            .call("CreateKey", &json(serde_json::json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"})))
            .expect("hmac key"));
        h.call("CreateAlias", &json(serde_json::json!({"AliasName": "alias/fuzz-hmac", "TargetKeyId": hmac})))
            .expect("alias");
        let reply = h
            .call("Encrypt", &json(serde_json::json!({"KeyId": "alias/fuzz", "Plaintext": "c2VlZA=="})))
            .expect("encrypt");
        let v: serde_json::Value = serde_json::from_slice(&reply).expect("json");
        use base64::Engine as _;
        h.blob = base64::engine::general_purpose::STANDARD
            .decode(v["CiphertextBlob"].as_str().expect("blob"))
            .expect("base64");
        h
    })
}
