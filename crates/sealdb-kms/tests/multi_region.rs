//! Multi-Region keys across several key services of one server, each region with its
//! own key store in its own directory, joined as the server joins them (`KmsRegions`).
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealdb_common::{Clock, Principal, RootKey, SecretKey32};
use sealdb_iam::{IdentityPolicies, PolicyDocument, PolicyKind};
use sealdb_kms::{KmsConfig, KmsError, KmsRegions, KmsService};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

const ACCOUNT: &str = "000000000000";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const SOUTH: &str = "ap-south-1";
const DAY_MS: i64 = 86_400_000;

/// The server's registry of regions, reduced to what the key services need.
#[derive(Default)]
struct Registry {
    services: Mutex<HashMap<String, Arc<KmsService>>>,
}

impl KmsRegions for Registry {
    fn region(&self, region: &str) -> Option<Arc<KmsService>> {
        self.services.lock().unwrap().get(region).cloned()
    }
}

struct World {
    registry: Arc<Registry>,
    dirs: Vec<(String, tempfile::TempDir)>,
    clock: Clock,
    root: RootKey,
    rt: tokio::runtime::Runtime,
}

fn root() -> RootKey {
    RootKey::from_key(SecretKey32::from_bytes([9; 32]))
}

fn open_region(region: &str, dir: &std::path::Path, clock: &Clock) -> Arc<KmsService> {
    let cfg = KmsConfig {
        data_dir: dir.to_owned(),
        region: region.into(),
        account_id: ACCOUNT.into(),
        clock: clock.clone(),
    };
    Arc::new(KmsService::open(cfg, &root()).unwrap())
}

fn world(regions: &[&str]) -> World {
    world_with(regions, None)
}

/// Regions whose callers' IAM policies come from `identity` (else every IAM user of the
/// account may do anything, as `KmsService::open` gives).
fn world_with(regions: &[&str], identity: Option<Arc<dyn IdentityPolicies>>) -> World {
    let clock = Clock::system();
    let registry = Arc::new(Registry::default());
    let mut dirs = Vec::new();
    for r in regions {
        let dir = tempfile::tempdir().unwrap();
        let svc = match &identity {
            None => open_region(r, dir.path(), &clock),
            Some(identity) => Arc::new(
                KmsService::open_with_identity(
                    KmsConfig {
                        data_dir: dir.path().to_owned(),
                        region: (*r).into(),
                        account_id: ACCOUNT.into(),
                        clock: clock.clone(),
                    },
                    &root(),
                    Arc::clone(identity),
                )
                .unwrap(),
            ),
        };
        registry.services.lock().unwrap().insert((*r).into(), svc);
        dirs.push(((*r).to_owned(), dir));
    }
    let w = World {
        registry,
        dirs,
        clock,
        root: root(),
        rt: tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
    };
    w.join();
    w
}

impl World {
    fn join(&self) {
        let weak: Weak<dyn KmsRegions> = {
            let strong: Arc<dyn KmsRegions> = self.registry.clone();
            Arc::downgrade(&strong)
        };
        for svc in self.registry.services.lock().unwrap().values() {
            svc.set_regions(weak.clone());
        }
    }

    fn svc(&self, region: &str) -> Arc<KmsService> {
        self.registry.region(region).unwrap()
    }

    fn call(&self, region: &str, op: &str, body: Value) -> Result<Value, KmsError> {
        let who = Principal::root("AKIDADMIN", ACCOUNT, region, "127.0.0.1");
        self.call_as(&who, region, op, body)
    }

    fn call_as(
        &self,
        who: &Principal,
        region: &str,
        op: &str,
        body: Value,
    ) -> Result<Value, KmsError> {
        self.rt
            .block_on(self.svc(region).call(op, who, body.to_string().as_bytes()))
            .map(|b| serde_json::from_slice(&b).unwrap())
    }

    fn ok(&self, region: &str, op: &str, body: Value) -> Value {
        self.call(region, op, body)
            .unwrap_or_else(|e| panic!("{op} in {region}: {e:?}"))
    }

    fn err(&self, region: &str, op: &str, body: Value) -> KmsError {
        match self.call(region, op, body) {
            Ok(v) => panic!("{op} in {region} succeeded: {v}"),
            Err(e) => e,
        }
    }

    fn describe(&self, region: &str, id: &str) -> Value {
        self.ok(region, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone()
    }

    fn mrk(&self, region: &str, body: Value) -> String {
        let mut body = body;
        body["MultiRegion"] = json!(true);
        self.ok(region, "CreateKey", body)["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn replicate(&self, from: &str, id: &str, to: &str) -> Value {
        self.ok(
            from,
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": to}),
        )
    }

    fn encrypt(&self, region: &str, id: &str, plaintext: &[u8]) -> Value {
        self.ok(
            region,
            "Encrypt",
            json!({"KeyId": id, "Plaintext": B64.encode(plaintext), "EncryptionContext": {"purpose": "test"}}),
        )["CiphertextBlob"]
            .clone()
    }

    fn decrypt(&self, region: &str, blob: &Value) -> Vec<u8> {
        let out = self.ok(
            region,
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"purpose": "test"}}),
        );
        B64.decode(out["Plaintext"].as_str().unwrap()).unwrap()
    }

    fn audit(&self, region: &str) -> Vec<Value> {
        let dir = &self.dirs.iter().find(|(r, _)| r == region).unwrap().1;
        sealdb_kms::audit_records(dir.path(), &self.root).unwrap()
    }
}

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{id}")
}

fn regions_of(config: &Value, member: &str) -> Vec<String> {
    config[member]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["Region"].as_str().unwrap().to_owned())
        .collect()
}

/// Every region's DescribeKey shows the same primary and replicas, each with its type.
fn assert_view(w: &World, id: &str, primary: &str, replicas: &[&str]) {
    for region in std::iter::once(primary).chain(replicas.iter().copied()) {
        let md = w.describe(region, id);
        assert_eq!(md["MultiRegion"], json!(true), "{region}");
        assert_eq!(md["Arn"], json!(arn(region, id)));
        let config = &md["MultiRegionConfiguration"];
        let kind = if region == primary {
            "PRIMARY"
        } else {
            "REPLICA"
        };
        assert_eq!(config["MultiRegionKeyType"], json!(kind), "{region}");
        assert_eq!(
            config["PrimaryKey"],
            json!({"Arn": arn(primary, id), "Region": primary}),
            "{region}"
        );
        assert_eq!(regions_of(config, "ReplicaKeys"), replicas, "{region}");
        for k in config["ReplicaKeys"].as_array().unwrap() {
            assert_eq!(k["Arn"], json!(arn(k["Region"].as_str().unwrap(), id)));
        }
    }
}

#[test]
fn replicas_share_id_and_material_and_decrypt_each_others_ciphertext() {
    let w = world(&[EAST, WEST, SOUTH]);
    let id = w.mrk(EAST, json!({"Description": "primary"}));
    let hex_part = id.strip_prefix("mrk-").unwrap();
    assert_eq!(hex_part.len(), 32);
    assert!(hex_part.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_view(&w, &id, EAST, &[]);

    let out = w.ok(
        EAST,
        "ReplicateKey",
        json!({"KeyId": arn(EAST, &id), "ReplicaRegion": WEST, "Description": "replica",
               "Tags": [{"TagKey": "site", "TagValue": "west"}]}),
    );
    let md = &out["ReplicaKeyMetadata"];
    assert_eq!(md["KeyId"], json!(id));
    assert_eq!(md["Arn"], json!(arn(WEST, &id)));
    assert_eq!(md["KeyState"], json!("Enabled"));
    assert_eq!(md["Description"], json!("replica"));
    assert_eq!(
        md["MultiRegionConfiguration"]["MultiRegionKeyType"],
        json!("REPLICA")
    );
    assert_eq!(
        out["ReplicaTags"],
        json!([{"TagKey": "site", "TagValue": "west"}])
    );
    // No policy given: the default key policy, as CreateKey gives.
    let primary_policy = w.ok(EAST, "GetKeyPolicy", json!({"KeyId": id}))["Policy"].clone();
    assert_eq!(out["ReplicaPolicy"], primary_policy);
    w.replicate(EAST, &id, SOUTH);
    assert_view(&w, &id, EAST, &[WEST, SOUTH]);

    // Description and tags are the replica's own.
    assert_eq!(w.describe(EAST, &id)["Description"], json!("primary"));
    assert_eq!(
        w.ok(EAST, "ListResourceTags", json!({"KeyId": id}))["Tags"],
        json!([])
    );
    assert_eq!(
        w.ok(WEST, "ListResourceTags", json!({"KeyId": id}))["Tags"],
        json!([{"TagKey": "site", "TagValue": "west"}])
    );
    let listed = w.ok(WEST, "ListKeys", json!({}));
    assert_eq!(
        listed["Keys"],
        json!([{"KeyId": id, "KeyArn": arn(WEST, &id)}])
    );

    // A ciphertext from any region decrypts in every other one.
    for from in [EAST, WEST, SOUTH] {
        let blob = w.encrypt(from, &id, from.as_bytes());
        for to in [EAST, WEST, SOUTH] {
            assert_eq!(w.decrypt(to, &blob), from.as_bytes(), "{from} -> {to}");
        }
    }
    // Data keys too, and Decrypt naming the key by its ARN in its own region.
    let dk = w.ok(
        SOUTH,
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256"}),
    );
    let out = w.ok(
        EAST,
        "Decrypt",
        json!({"CiphertextBlob": dk["CiphertextBlob"], "KeyId": arn(EAST, &id)}),
    );
    assert_eq!(out["Plaintext"], dk["Plaintext"]);
    assert_eq!(out["KeyId"], json!(arn(EAST, &id)));
    // The context still binds.
    let blob = w.encrypt(EAST, &id, b"x");
    let e = w.err(
        WEST,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"purpose": "other"}}),
    );
    assert_eq!(e.error_type(), "InvalidCiphertextException");
}

#[test]
fn replicate_key_errors_change_nothing() {
    let w = world(&[EAST, WEST, SOUTH]);
    let single = w.ok(EAST, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = w.err(
        EAST,
        "ReplicateKey",
        json!({"KeyId": single, "ReplicaRegion": WEST}),
    );
    assert_eq!(e.error_type(), "UnsupportedOperationException");
    assert_eq!(
        e.message(),
        format!("{} is not a multi-Region key.", arn(EAST, &single))
    );

    let id = w.mrk(EAST, json!({}));
    w.replicate(EAST, &id, WEST);
    let cases = [
        (EAST, WEST, "AlreadyExistsException"),
        (EAST, EAST, "ValidationException"),
        (EAST, "sa-east-1", "UnsupportedOperationException"),
        (EAST, "not a region", "ValidationException"),
        // Only the primary is replicated.
        (WEST, SOUTH, "UnsupportedOperationException"),
    ];
    for (from, to, want) in cases {
        let e = w.err(
            from,
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": to}),
        );
        assert_eq!(e.error_type(), want, "{from} -> {to}: {e:?}");
    }
    let e = w.err(
        EAST,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": WEST}),
    );
    assert_eq!(
        e.message(),
        format!("Replica key {} already exists.", arn(WEST, &id))
    );
    let e = w.err(EAST, "ReplicateKey", json!({"KeyId": id}));
    assert_eq!(e.error_type(), "ValidationException");
    let e = w.err(
        EAST,
        "ReplicateKey",
        json!({"KeyId": "mrk-00000000000000000000000000000000", "ReplicaRegion": SOUTH}),
    );
    assert_eq!(e.error_type(), "NotFoundException");
    // A policy that would lock the caller out is refused, and no replica appears.
    let locked_out = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/someone"}, "Action": "kms:*", "Resource": "*"}]});
    let e = w.err(
        EAST,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": SOUTH, "Policy": locked_out.to_string()}),
    );
    assert_eq!(e.error_type(), "MalformedPolicyDocumentException");
    assert_view(&w, &id, EAST, &[WEST]);
    assert_eq!(
        w.err(SOUTH, "DescribeKey", json!({"KeyId": id}))
            .error_type(),
        "NotFoundException"
    );
    // With the bypass the same policy is taken, and it is only the replica's.
    let out = w.ok(
        EAST,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": SOUTH, "Policy": locked_out.to_string(),
               "BypassPolicyLockoutSafetyCheck": true}),
    );
    assert_eq!(out["ReplicaPolicy"], json!(locked_out.to_string()));
    assert_ne!(
        w.ok(EAST, "GetKeyPolicy", json!({"KeyId": id}))["Policy"],
        out["ReplicaPolicy"]
    );
    assert_eq!(
        w.err(SOUTH, "DescribeKey", json!({"KeyId": id}))
            .error_type(),
        "AccessDeniedException"
    );
}

#[test]
fn update_primary_region_swaps_the_roles_in_every_view() {
    let w = world(&[EAST, WEST, SOUTH]);
    let id = w.mrk(EAST, json!({}));
    w.replicate(EAST, &id, WEST);
    w.replicate(EAST, &id, SOUTH);
    let e = w.err(
        WEST,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": SOUTH}),
    );
    assert_eq!(e.error_type(), "UnsupportedOperationException");
    let e = w.err(
        EAST,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": "sa-east-1"}),
    );
    assert_eq!(e.error_type(), "NotFoundException");
    assert_view(&w, &id, EAST, &[WEST, SOUTH]);

    w.ok(
        EAST,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": WEST}),
    );
    assert_view(&w, &id, WEST, &[SOUTH, EAST]);
    // The new primary is the one that replicates and rotates; the old one no longer.
    let e = w.err(
        EAST,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": SOUTH}),
    );
    assert_eq!(e.error_type(), "UnsupportedOperationException");
    let e = w.err(EAST, "EnableKeyRotation", json!({"KeyId": id}));
    assert_eq!(e.error_type(), "UnsupportedOperationException");
    w.ok(WEST, "EnableKeyRotation", json!({"KeyId": id}));
    let blob = w.encrypt(EAST, &id, b"after the switch");
    assert_eq!(w.decrypt(WEST, &blob), b"after the switch");

    // Both regions log the change.
    for region in [EAST, WEST] {
        let events = w.audit(region);
        let e = events
            .iter()
            .find(|e| e["eventName"] == "UpdatePrimaryRegion" && e["errorCode"].is_null())
            .unwrap_or_else(|| panic!("no UpdatePrimaryRegion in {region}"));
        assert_eq!(e["awsRegion"], json!(region));
        assert_eq!(e["requestParameters"]["primaryRegion"], json!(WEST));
    }
}

#[test]
fn rotation_is_set_on_the_primary_and_new_material_reaches_every_replica() {
    let w = world(&[EAST, WEST]);
    let id = w.mrk(EAST, json!({}));
    w.replicate(EAST, &id, WEST);
    for op in [
        "EnableKeyRotation",
        "DisableKeyRotation",
        "RotateKeyOnDemand",
    ] {
        let e = w.err(WEST, op, json!({"KeyId": id}));
        assert_eq!(e.error_type(), "UnsupportedOperationException", "{op}");
    }
    let before = [
        w.encrypt(EAST, &id, b"v1 east"),
        w.encrypt(WEST, &id, b"v1 west"),
    ];

    w.ok(EAST, "RotateKeyOnDemand", json!({"KeyId": id}));
    let current = w.describe(EAST, &id)["CurrentKeyMaterialId"].clone();
    assert_eq!(w.describe(WEST, &id)["CurrentKeyMaterialId"], current);
    let after_west = w.encrypt(WEST, &id, b"v2 west");
    let out = w.ok(
        EAST,
        "Decrypt",
        json!({"CiphertextBlob": after_west, "EncryptionContext": {"purpose": "test"}}),
    );
    assert_eq!(
        out["KeyMaterialId"], current,
        "the replica used the new material"
    );
    for blob in &before {
        w.decrypt(EAST, blob);
        w.decrypt(WEST, blob);
    }

    // Automatic rotation: enabled on the primary, shown by the replica, and when it is
    // due the new material is in both regions.
    w.ok(
        EAST,
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    let status = w.ok(WEST, "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(status["KeyRotationEnabled"], json!(true));
    assert_eq!(status["RotationPeriodInDays"], json!(90));
    w.clock.advance_millis(91 * DAY_MS);
    w.svc(EAST).purge().unwrap();
    let rotations = w.ok(WEST, "ListKeyRotations", json!({"KeyId": id}))["Rotations"].clone();
    let types: Vec<&str> = rotations
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["RotationType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ON_DEMAND", "AUTOMATIC"]);
    let third = w.describe(WEST, &id)["CurrentKeyMaterialId"].clone();
    assert_ne!(third, current);
    assert_eq!(w.describe(EAST, &id)["CurrentKeyMaterialId"], third);
    let blob = w.encrypt(WEST, &id, b"v3 west");
    assert_eq!(w.decrypt(EAST, &blob), b"v3 west");
    let blob = w.encrypt(EAST, &id, b"v3 east");
    assert_eq!(w.decrypt(WEST, &blob), b"v3 east");
}

#[test]
fn a_primary_with_replicas_waits_for_their_deletion() {
    let w = world(&[EAST, WEST, SOUTH]);
    let id = w.mrk(EAST, json!({}));
    w.replicate(EAST, &id, WEST);
    w.replicate(EAST, &id, SOUTH);
    let e = w.err(
        EAST,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 6}),
    );
    assert_eq!(e.error_type(), "ValidationException");

    let out = w.ok(
        EAST,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    assert_eq!(out["KeyState"], json!("PendingReplicaDeletion"));
    assert_eq!(out["PendingWindowInDays"], json!(7));
    assert!(out.get("DeletionDate").is_none(), "{out}");
    let md = w.describe(EAST, &id);
    assert_eq!(md["KeyState"], json!("PendingReplicaDeletion"));
    assert_eq!(md["PendingDeletionWindowInDays"], json!(7));
    assert!(md.get("DeletionDate").is_none());
    assert_eq!(md["Enabled"], json!(false));
    let e = w.err(
        EAST,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": B64.encode(b"x")}),
    );
    assert_eq!(e.error_type(), "KMSInvalidStateException");
    // Cancelling brings it back disabled, as for any key; then schedule again.
    w.ok(EAST, "CancelKeyDeletion", json!({"KeyId": id}));
    let md = w.describe(EAST, &id);
    assert_eq!(md["KeyState"], json!("Disabled"));
    assert!(md.get("PendingDeletionWindowInDays").is_none());
    w.ok(
        EAST,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    // The replicas stay usable until they are deleted themselves.
    let blob = w.encrypt(WEST, &id, b"still here");
    assert_eq!(w.decrypt(SOUTH, &blob), b"still here");

    w.ok(
        WEST,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    w.clock.advance_millis(8 * DAY_MS);
    // The first call after the waiting period finds the key gone, and deletes it.
    assert_eq!(
        w.err(WEST, "CancelKeyDeletion", json!({"KeyId": id}))
            .error_type(),
        "NotFoundException"
    );
    assert_view(&w, &id, EAST, &[SOUTH]);
    assert_eq!(
        w.describe(EAST, &id)["KeyState"],
        json!("PendingReplicaDeletion")
    );

    // The last replica's deletion starts the primary's waiting period.
    w.ok(
        SOUTH,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    w.clock.advance_millis(8 * DAY_MS);
    w.svc(SOUTH).purge().unwrap();
    let md = w.describe(EAST, &id);
    assert_eq!(md["KeyState"], json!("PendingDeletion"));
    assert_eq!(
        regions_of(&md["MultiRegionConfiguration"], "ReplicaKeys"),
        Vec::<String>::new()
    );
    let due = md["DeletionDate"].as_f64().unwrap();
    let expected = w.clock.now_epoch_seconds_f64() + 7.0 * 86_400.0;
    assert!((due - expected).abs() < 120.0, "{due} vs {expected}");
    w.clock.advance_millis(8 * DAY_MS);
    w.svc(EAST).purge().unwrap();
    assert_eq!(
        w.err(EAST, "DescribeKey", json!({"KeyId": id}))
            .error_type(),
        "NotFoundException"
    );
}

#[test]
fn asymmetric_and_hmac_keys_work_in_every_region() {
    let w = world(&[EAST, WEST]);
    let sign = w.mrk(
        EAST,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    w.replicate(EAST, &sign, WEST);
    assert_eq!(
        w.ok(EAST, "GetPublicKey", json!({"KeyId": sign}))["PublicKey"],
        w.ok(WEST, "GetPublicKey", json!({"KeyId": sign}))["PublicKey"]
    );
    let msg = B64.encode(b"message");
    let sig = w.ok(
        WEST,
        "Sign",
        json!({"KeyId": sign, "Message": msg, "SigningAlgorithm": "ECDSA_SHA_256"}),
    )["Signature"]
        .clone();
    let v = w.ok(
        EAST,
        "Verify",
        json!({"KeyId": sign, "Message": msg, "Signature": sig, "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    assert_eq!(v["SignatureValid"], json!(true));

    let mac = w.mrk(
        EAST,
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    w.replicate(EAST, &mac, WEST);
    let tag = w.ok(
        EAST,
        "GenerateMac",
        json!({"KeyId": mac, "Message": msg, "MacAlgorithm": "HMAC_SHA_256"}),
    )["Mac"]
        .clone();
    let v = w.ok(
        WEST,
        "VerifyMac",
        json!({"KeyId": mac, "Message": msg, "Mac": tag, "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert_eq!(v["MacValid"], json!(true));
}

fn wrap_for_import(w: &World, region: &str, id: &str, material: &[u8; 32]) -> (Value, String) {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let p = w.ok(
        region,
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    let der = B64.decode(p["PublicKey"].as_str().unwrap()).unwrap();
    let public =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&der).unwrap()).unwrap();
    let mut out = vec![0u8; public.ciphertext_size()];
    let wrapped = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, material, &mut out, None)
        .unwrap();
    (p["ImportToken"].clone(), B64.encode(wrapped))
}

fn import(w: &World, region: &str, id: &str, material: &[u8; 32]) -> Result<Value, KmsError> {
    let (token, wrapped) = wrap_for_import(w, region, id, material);
    w.call(
        region,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": token, "EncryptedKeyMaterial": wrapped,
               "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    )
}

#[test]
fn imported_material_must_be_the_same_in_every_region() {
    let w = world(&[EAST, WEST]);
    let id = w.mrk(EAST, json!({"Origin": "EXTERNAL"}));
    let out = w.replicate(EAST, &id, WEST);
    assert_eq!(
        out["ReplicaKeyMetadata"]["KeyState"],
        json!("PendingImport")
    );
    assert_eq!(out["ReplicaKeyMetadata"]["Origin"], json!("EXTERNAL"));
    import(&w, EAST, &id, &[42; 32]).unwrap();
    assert_eq!(w.describe(WEST, &id)["KeyState"], json!("PendingImport"));
    let e = import(&w, WEST, &id, &[43; 32]).unwrap_err();
    assert_eq!(e.error_type(), "IncorrectKeyMaterialException");
    assert_eq!(w.describe(WEST, &id)["KeyState"], json!("PendingImport"));
    import(&w, WEST, &id, &[42; 32]).unwrap();
    assert_eq!(w.describe(WEST, &id)["KeyState"], json!("Enabled"));
    let blob = w.encrypt(WEST, &id, b"imported");
    assert_eq!(w.decrypt(EAST, &blob), b"imported");
}

#[test]
fn policies_grants_aliases_state_and_audit_stay_per_region() {
    let w = world(&[EAST, WEST]);
    let id = w.mrk(EAST, json!({}));
    w.replicate(EAST, &id, WEST);
    w.ok(WEST, "DisableKey", json!({"KeyId": id}));
    let e = w.err(
        WEST,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": B64.encode(b"x")}),
    );
    assert_eq!(e.error_type(), "DisabledException");
    let blob = w.encrypt(EAST, &id, b"east still works");
    assert_eq!(w.decrypt(EAST, &blob), b"east still works");
    w.ok(WEST, "EnableKey", json!({"KeyId": id}));

    w.ok(
        EAST,
        "CreateAlias",
        json!({"AliasName": "alias/shared-name", "TargetKeyId": id}),
    );
    let e = w.err(WEST, "DescribeKey", json!({"KeyId": "alias/shared-name"}));
    assert_eq!(e.error_type(), "NotFoundException");
    w.ok(
        EAST,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::000000000000:user/app",
               "Operations": ["Decrypt"]}),
    );
    assert_eq!(
        w.ok(EAST, "ListGrants", json!({"KeyId": id}))["Grants"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.ok(WEST, "ListGrants", json!({"KeyId": id}))["Grants"],
        json!([])
    );

    // ReplicateKey is logged in the primary's region, the new key as CreateKey in the
    // replica's.
    let east = w.audit(EAST);
    let rep = east
        .iter()
        .find(|e| e["eventName"] == "ReplicateKey")
        .unwrap();
    assert_eq!(rep["awsRegion"], json!(EAST));
    assert_eq!(rep["requestParameters"]["replicaRegion"], json!(WEST));
    assert_eq!(rep["resources"][0]["ARN"], json!(arn(EAST, &id)));
    let west = w.audit(WEST);
    let created = west.iter().find(|e| e["eventName"] == "CreateKey").unwrap();
    assert_eq!(created["awsRegion"], json!(WEST));
    assert_eq!(created["requestParameters"]["multiRegion"], json!(true));
    assert_eq!(created["resources"][0]["ARN"], json!(arn(WEST, &id)));
    assert!(west.iter().all(|e| e["eventName"] != "ReplicateKey"));
    for region in [EAST, WEST] {
        let dir = &w.dirs.iter().find(|(r, _)| r == region).unwrap().1;
        let report = sealdb_kms::verify_audit_log(dir.path(), &w.root).unwrap();
        assert_eq!(report.records as usize, w.audit(region).len(), "{region}");
    }
}

#[test]
fn without_regions_a_replica_cannot_be_made_and_the_keys_survive_a_restart() {
    let w = world(&[EAST, WEST]);
    let id = w.mrk(EAST, json!({}));
    w.replicate(EAST, &id, WEST);
    let blob = w.encrypt(EAST, &id, b"kept");
    // Reopen both regions from their directories, not yet joined.
    let clock = w.clock.clone();
    let mut reopened = World {
        registry: Arc::new(Registry::default()),
        dirs: Vec::new(),
        clock: clock.clone(),
        root: root(),
        rt: tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
    };
    let World { registry, dirs, .. } = w;
    drop(registry);
    for (region, dir) in dirs {
        let svc = open_region(&region, dir.path(), &clock);
        reopened
            .registry
            .services
            .lock()
            .unwrap()
            .insert(region.clone(), svc);
        reopened.dirs.push((region, dir));
    }
    let single_primary = reopened.mrk(EAST, json!({}));
    let e = reopened.err(
        EAST,
        "ReplicateKey",
        json!({"KeyId": single_primary, "ReplicaRegion": WEST}),
    );
    assert_eq!(e.error_type(), "UnsupportedOperationException");
    reopened.join();
    assert_view(&reopened, &id, EAST, &[WEST]);
    assert_eq!(reopened.decrypt(WEST, &blob), b"kept");
}

/// The IAM policies of the one user of these tests, changed as a test goes.
#[derive(Default)]
struct UserPolicies(Mutex<Vec<Arc<PolicyDocument>>>);

impl UserPolicies {
    fn allow(&self, actions: &[&str]) {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "*"}]});
        let doc = PolicyDocument::parse_as(&doc.to_string(), PolicyKind::Identity).unwrap();
        *self.0.lock().unwrap() = vec![Arc::new(doc)];
    }
}

impl IdentityPolicies for UserPolicies {
    fn policies_for(&self, _principal: &Principal) -> Vec<Arc<PolicyDocument>> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn replicate_key_needs_create_key_in_the_replica_region_and_update_needs_both_policies() {
    let policies = Arc::new(UserPolicies::default());
    let w = world_with(&[EAST, WEST], Some(policies.clone()));
    let id = w.mrk(EAST, json!({}));
    let ops =
        |region: &str| Principal::user("AKIDOPS", ACCOUNT, "ops", "AIDAOPS", region, "127.0.0.1");
    let replicate = json!({"KeyId": id, "ReplicaRegion": WEST});
    // kms:ReplicateKey alone: the replica region's kms:CreateKey is missing.
    policies.allow(&["kms:ReplicateKey", "kms:DescribeKey"]);
    let e = w
        .call_as(&ops(EAST), EAST, "ReplicateKey", replicate.clone())
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
    assert!(e.message().contains("kms:CreateKey"), "{}", e.message());
    assert_view(&w, &id, EAST, &[]);
    policies.allow(&["kms:ReplicateKey", "kms:CreateKey"]);
    w.call_as(&ops(EAST), EAST, "ReplicateKey", replicate)
        .unwrap();
    assert_view(&w, &id, EAST, &[WEST]);

    // UpdatePrimaryRegion is authorized by the primary's key policy and the replica's.
    policies.allow(&["kms:UpdatePrimaryRegion"]);
    let deny_update = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:UpdatePrimaryRegion",
         "Resource": "*"}]});
    w.ok(
        WEST,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": deny_update.to_string()}),
    );
    let update = json!({"KeyId": id, "PrimaryRegion": WEST});
    let e = w
        .call_as(&ops(EAST), EAST, "UpdatePrimaryRegion", update.clone())
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
    assert!(e.message().contains(&arn(WEST, &id)), "{}", e.message());
    assert_view(&w, &id, EAST, &[WEST]);
    w.ok(
        WEST,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": w.ok(EAST, "GetKeyPolicy", json!({"KeyId": id}))["Policy"]}),
    );
    w.call_as(&ops(EAST), EAST, "UpdatePrimaryRegion", update)
        .unwrap();
    assert_view(&w, &id, WEST, &[EAST]);
}
