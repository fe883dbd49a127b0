use super::*;
use serde_json::{Value, json};

/// Grant delegation, the lockout check, identity-only actions and the audit record.
mod access;
/// Custom key stores (AWS_CLOUDHSM) over SoftHSM2 tokens.
mod custom_key_stores;
/// Versions of the key store schema.
mod schema;

struct H {
    kms: KmsService,
    root: RootKey,
    dir: tempfile::TempDir,
    clock: Clock,
}

fn admin() -> Principal {
    Principal::root("AKIDADMIN", "000000000000", "us-east-1", "127.0.0.1")
}

fn user(name: &str) -> Principal {
    Principal::user(
        "AKIDUSER",
        "000000000000",
        name,
        "AIDAUSER",
        "us-east-1",
        "127.0.0.1",
    )
}

fn open() -> H {
    let dir = tempfile::tempdir().unwrap();
    let root = RootKey::from_key(sealdb_common::SecretKey32::from_bytes([5; 32]));
    let clock = Clock::system();
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
    H {
        kms,
        root,
        dir,
        clock,
    }
}

impl H {
    fn call_as(&self, who: &Principal, op: &str, body: Value) -> Result<Value, KmsError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(self.kms.call(op, who, body.to_string().as_bytes()))
            .map(|b| serde_json::from_slice(&b).unwrap())
    }
    fn call(&self, op: &str, body: Value) -> Result<Value, KmsError> {
        self.call_as(&admin(), op, body)
    }
    fn key(&self) -> String {
        self.call("CreateKey", json!({"Description": "test"}))
            .unwrap()["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[test]
fn encrypt_decrypt_with_context_and_tampering() {
    let h = open();
    let k = h.key();
    let ct = h
        .call(
            "Encrypt",
            json!({"KeyId": k, "Plaintext": "aGVsbG8=", "EncryptionContext": {"a": "1"}}),
        )
        .unwrap()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = h
        .call(
            "Decrypt",
            json!({"CiphertextBlob": ct, "EncryptionContext": {"a": "1"}}),
        )
        .unwrap();
    assert_eq!(out["Plaintext"], "aGVsbG8=");
    assert_eq!(
        out["KeyId"],
        format!("arn:aws:kms:us-east-1:000000000000:key/{k}")
    );
    let e = h
        .call(
            "Decrypt",
            json!({"CiphertextBlob": ct, "EncryptionContext": {"a": "2"}}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidCiphertextException");
    use base64::Engine as _;
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(&ct)
        .unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let bad = base64::engine::general_purpose::STANDARD.encode(&raw);
    assert_eq!(
        h.call(
            "Decrypt",
            json!({"CiphertextBlob": bad, "EncryptionContext": {"a": "1"}})
        )
        .unwrap_err()
        .error_type(),
        "InvalidCiphertextException"
    );
    let other = h.key();
    assert_eq!(
        h.call(
            "Decrypt",
            json!({"CiphertextBlob": ct, "KeyId": other, "EncryptionContext": {"a": "1"}})
        )
        .unwrap_err()
        .error_type(),
        "IncorrectKeyException"
    );
    let truncated = base64::engine::general_purpose::STANDARD.encode(&raw[..10]);
    assert_eq!(
        h.call("Decrypt", json!({"CiphertextBlob": truncated}))
            .unwrap_err()
            .error_type(),
        "InvalidCiphertextException"
    );
}

#[test]
fn key_states_rotation_and_deletion() {
    let h = open();
    let k = h.key();
    let ct = h
        .call("Encrypt", json!({"KeyId": k, "Plaintext": "YQ=="}))
        .unwrap()["CiphertextBlob"]
        .clone();
    h.call("DisableKey", json!({"KeyId": k})).unwrap();
    let e = h
        .call("Encrypt", json!({"KeyId": k, "Plaintext": "YQ=="}))
        .unwrap_err();
    assert_eq!(e.error_type(), "DisabledException");
    assert!(e.message().ends_with(" is disabled."));
    h.call("EnableKey", json!({"KeyId": k})).unwrap();
    h.call("RotateKeyOnDemand", json!({"KeyId": k})).unwrap();
    assert_eq!(
        h.call("Decrypt", json!({"CiphertextBlob": ct})).unwrap()["Plaintext"],
        "YQ=="
    );
    let rot = h.call("ListKeyRotations", json!({"KeyId": k})).unwrap();
    assert_eq!(rot["Rotations"].as_array().unwrap().len(), 1);
    let out = h
        .call(
            "ScheduleKeyDeletion",
            json!({"KeyId": k, "PendingWindowInDays": 7}),
        )
        .unwrap();
    assert_eq!(out["KeyState"], "PendingDeletion");
    let e = h
        .call("Decrypt", json!({"CiphertextBlob": ct}))
        .unwrap_err();
    assert_eq!(e.error_type(), "KMSInvalidStateException");
    assert_eq!(
        h.call(
            "ScheduleKeyDeletion",
            json!({"KeyId": k, "PendingWindowInDays": 3})
        )
        .unwrap_err()
        .message(),
        "1 validation error detected: Value '3' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7"
    );
    h.call("CancelKeyDeletion", json!({"KeyId": k})).unwrap();
    let md = h.call("DescribeKey", json!({"KeyId": k})).unwrap();
    assert_eq!(md["KeyMetadata"]["KeyState"], "Disabled");
    h.call(
        "ScheduleKeyDeletion",
        json!({"KeyId": k, "PendingWindowInDays": 7}),
    )
    .unwrap();
    h.clock.advance_millis(8 * 86_400_000);
    assert_eq!(
        h.call("DescribeKey", json!({"KeyId": k}))
            .unwrap_err()
            .error_type(),
        "NotFoundException"
    );
}

#[test]
fn aliases_and_managed_key() {
    let h = open();
    let k = h.key();
    h.call(
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": k}),
    )
    .unwrap();
    let e = h
        .call(
            "CreateAlias",
            json!({"AliasName": "alias/app", "TargetKeyId": k}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "AlreadyExistsException");
    let md = h
        .call("DescribeKey", json!({"KeyId": "alias/app"}))
        .unwrap();
    assert_eq!(md["KeyMetadata"]["KeyId"], k);
    let e = h
        .call("DescribeKey", json!({"KeyId": "alias/nope"}))
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found."
    );
    assert_eq!(
        h.call(
            "CreateAlias",
            json!({"AliasName": "alias/aws/x", "TargetKeyId": k})
        )
        .unwrap_err()
        .error_type(),
        "AccessDeniedException"
    );
    let managed = h
        .call("DescribeKey", json!({"KeyId": "alias/aws/dynamodb"}))
        .unwrap();
    assert_eq!(managed["KeyMetadata"]["KeyManager"], "AWS");
    let id = managed["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    // Users cannot manage it, nor encrypt with it directly.
    assert_eq!(
        h.call("DisableKey", json!({"KeyId": id}))
            .unwrap_err()
            .error_type(),
        "AccessDeniedException"
    );
    assert_eq!(
        h.call(
            "Encrypt",
            json!({"KeyId": "alias/aws/dynamodb", "Plaintext": "YQ=="})
        )
        .unwrap_err()
        .error_type(),
        "AccessDeniedException"
    );
    // Through DynamoDB it works.
    let out = h.kms.call_via_service(
        "dynamodb",
        "GenerateDataKey",
        &admin(),
        &json!({"KeyId": "alias/aws/dynamodb", "KeySpec": "AES_256", "EncryptionContext": {"aws:dynamodb:tableName": "t"}}),
    );
    assert!(out.is_ok(), "{out:?}");
}

#[test]
fn policies_and_grants() {
    let h = open();
    let k = h.key();
    let bob = user("bob");
    let eve = user("eve");
    // Default policy: the account's users may use the key.
    let ct = h
        .call_as(&bob, "Encrypt", json!({"KeyId": k, "Plaintext": "YQ=="}))
        .unwrap()["CiphertextBlob"]
        .clone();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "no-eve", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/eve"}, "Action": "kms:Decrypt", "Resource": "*"}
    ]});
    h.call(
        "PutKeyPolicy",
        json!({"KeyId": k, "PolicyName": "default", "Policy": policy.to_string()}),
    )
    .unwrap();
    let e = h
        .call_as(&eve, "Decrypt", json!({"CiphertextBlob": ct}))
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
    assert!(
        h.call_as(&bob, "Decrypt", json!({"CiphertextBlob": ct}))
            .is_ok()
    );
    // A key whose policy names only the admin: a user needs a grant.
    let restricted = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/admin"}, "Action": "kms:*", "Resource": "*"}]});
    // The root creating it would lock itself out: refused unless the check is bypassed.
    let e = h
        .call("CreateKey", json!({"Policy": restricted.to_string()}))
        .unwrap_err();
    assert_eq!(e.error_type(), "MalformedPolicyDocumentException");
    let k2 = h.call(
        "CreateKey",
        json!({"Policy": restricted.to_string(), "BypassPolicyLockoutSafetyCheck": true}),
    );
    // The admin is the account root, not user/admin: creating works, using needs a grant.
    let k2 = k2.unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.call_as(&bob, "Encrypt", json!({"KeyId": k2, "Plaintext": "YQ=="}))
            .unwrap_err()
            .error_type(),
        "AccessDeniedException"
    );
    let bad = h
        .call("CreateKey", json!({"Policy": "{not json"}))
        .unwrap_err();
    assert_eq!(bad.error_type(), "MalformedPolicyDocumentException");
    let _ = &h.dir;
    // Grants on the first key (whose policy allows the admin).
    let g = h
        .call("CreateGrant", json!({"KeyId": k, "GranteePrincipal": "arn:aws:iam::000000000000:user/eve",
                                      "Operations": ["Decrypt"], "RetiringPrincipal": "arn:aws:iam::000000000000:root"}))
        .unwrap();
    let grants = h.call("ListGrants", json!({"KeyId": k})).unwrap();
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 1);
    h.call("RetireGrant", json!({"GrantToken": g["GrantToken"]}))
        .unwrap();
    assert_eq!(
        h.call("ListGrants", json!({"KeyId": k})).unwrap()["Grants"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn grant_lets_a_user_the_policy_does_not_name() {
    let h = open();
    let only_root = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/owner"}, "Action": "kms:*", "Resource": "*"},
                                         {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/admin2"}, "Action": "kms:*", "Resource": "*"}]});
    let owner = user("owner");
    let k = h
        .call_as(
            &owner,
            "CreateKey",
            json!({"Policy": only_root.to_string()}),
        )
        .unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let carol = user("carol");
    // The policy names neither the account root nor carol: only a grant lets her in.
    assert_eq!(
        h.call_as(
            &carol,
            "GenerateDataKey",
            json!({"KeyId": k, "KeySpec": "AES_256"})
        )
        .unwrap_err()
        .error_type(),
        "AccessDeniedException"
    );
    h.call_as(&owner, "CreateGrant", json!({"KeyId": k, "GranteePrincipal": carol.arn, "Operations": ["GenerateDataKey"],
                                            "Constraints": {"EncryptionContextSubset": {"app": "x"}}}))
        .unwrap();
    assert!(
        h.call_as(
            &carol,
            "GenerateDataKey",
            json!({"KeyId": k, "KeySpec": "AES_256", "EncryptionContext": {"app": "x"}})
        )
        .is_ok()
    );
    assert_eq!(
        h.call_as(
            &carol,
            "GenerateDataKey",
            json!({"KeyId": k, "KeySpec": "AES_256", "EncryptionContext": {"app": "y"}})
        )
        .unwrap_err()
        .error_type(),
        "AccessDeniedException"
    );
}

#[test]
fn hmac_keys() {
    let h = open();
    let k = h
        .call(
            "CreateKey",
            json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
        )
        .unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mac = h
        .call(
            "GenerateMac",
            json!({"KeyId": k, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"}),
        )
        .unwrap();
    let ok = h.call("VerifyMac", json!({"KeyId": k, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256", "Mac": mac["Mac"]})).unwrap();
    assert_eq!(ok["MacValid"], true);
    let bad = h.call("VerifyMac", json!({"KeyId": k, "Message": "aG8=", "MacAlgorithm": "HMAC_SHA_256", "Mac": mac["Mac"]})).unwrap_err();
    assert_eq!(bad.error_type(), "KMSInvalidMacException");
    assert_eq!(
        h.call("Encrypt", json!({"KeyId": k, "Plaintext": "YQ=="}))
            .unwrap_err()
            .error_type(),
        "InvalidKeyUsageException"
    );
}

#[test]
fn audit_chain_detects_edits_and_removals() {
    let h = open();
    let k = h.key();
    h.call(
        "Encrypt",
        json!({"KeyId": k, "Plaintext": "c2VjcmV0LXBsYWludGV4dA=="}),
    )
    .unwrap();
    let _ = h.call_as(&user("eve"), "DisableKey", json!({"KeyId": "nope"}));
    let report = audit::verify(h.dir.path(), &h.root).unwrap();
    assert_eq!(report.records, 3);
    // Records never hold the plaintext.
    {
        let store = h.kms.inner.store.lock().unwrap();
        let texts: Vec<String> = store
            .conn
            .prepare("SELECT record FROM audit")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(texts.iter().all(|t| !t.contains("c2VjcmV0")));
        assert!(texts[2].contains("errorCode"));
        store
            .conn
            .execute(
                "UPDATE audit SET record = replace(record, 'Encrypt', 'Decrypt') WHERE seq = 2",
                [],
            )
            .unwrap();
    }
    assert!(
        audit::verify(h.dir.path(), &h.root)
            .unwrap_err()
            .contains("record 2 was edited")
    );
    {
        let store = h.kms.inner.store.lock().unwrap();
        store
            .conn
            .execute("DELETE FROM audit WHERE seq = 2", [])
            .unwrap();
    }
    assert!(
        audit::verify(h.dir.path(), &h.root)
            .unwrap_err()
            .contains("record 2 is missing")
    );
}

#[test]
fn key_material_is_not_in_the_file_in_clear() {
    let h = open();
    let k = h.key();
    let dk = h
        .call("GenerateDataKey", json!({"KeyId": k, "KeySpec": "AES_256"}))
        .unwrap();
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD
        .decode(dk["Plaintext"].as_str().unwrap())
        .unwrap();
    let material = h
        .kms
        .inner
        .store
        .lock()
        .unwrap()
        .material(&k, 1)
        .unwrap()
        .unwrap();
    for entry in std::fs::read_dir(h.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(16).any(|w| w == &material[..16]));
        assert!(!bytes.windows(16).any(|w| w == &plain[..16]));
    }
}

#[test]
fn service_access_needs_its_grant() {
    let h = open();
    let k = h.key();
    let svc = Principal::service(
        "dynamodb.us-east-1.amazonaws.com",
        "000000000000",
        "us-east-1",
    );
    let ctx = json!({"aws:dynamodb:tableName": "t", "aws:dynamodb:subscriberId": "000000000000"});
    // Without a grant the service may not use a customer key.
    let e = h
        .kms
        .call_via_service(
            "dynamodb",
            "GenerateDataKey",
            &svc,
            &json!({"KeyId": k, "KeySpec": "AES_256", "EncryptionContext": ctx}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
    let g = h.kms.call_via_service("dynamodb", "CreateGrant", &admin(), &json!({"KeyId": k, "GranteePrincipal": "dynamodb.us-east-1.amazonaws.com",
        "Operations": ["GenerateDataKey", "Decrypt"], "Constraints": {"EncryptionContextSubset": ctx}})).unwrap();
    let dk = h
        .kms
        .call_via_service(
            "dynamodb",
            "GenerateDataKey",
            &svc,
            &json!({"KeyId": k, "KeySpec": "AES_256", "EncryptionContext": ctx}),
        )
        .unwrap();
    h.kms
        .call_via_service(
            "dynamodb",
            "Decrypt",
            &svc,
            &json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": ctx}),
        )
        .unwrap();
    h.call("RevokeGrant", json!({"KeyId": k, "GrantId": g["GrantId"]}))
        .unwrap();
    let e = h
        .kms
        .call_via_service(
            "dynamodb",
            "Decrypt",
            &svc,
            &json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": ctx}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
}

fn b64(s: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap())
        .unwrap()
}

fn enc(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn asymmetric_sign_verify_and_rsa_encryption() {
    let h = open();
    for (spec, alg) in [
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ] {
        let k = h
            .call(
                "CreateKey",
                json!({"KeySpec": spec, "KeyUsage": "SIGN_VERIFY"}),
            )
            .unwrap()["KeyMetadata"]
            .clone();
        assert!(
            k["SigningAlgorithms"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == alg),
            "{spec}"
        );
        let id = k["KeyId"].as_str().unwrap();
        let sig = h
            .call(
                "Sign",
                json!({"KeyId": id, "Message": enc(b"hello"), "SigningAlgorithm": alg}),
            )
            .unwrap()["Signature"]
            .clone();
        let ok = h.call("Verify", json!({"KeyId": id, "Message": enc(b"hello"), "SigningAlgorithm": alg, "Signature": sig})).unwrap();
        assert_eq!(ok["SignatureValid"], true);
        let bad = h.call("Verify", json!({"KeyId": id, "Message": enc(b"hellO"), "SigningAlgorithm": alg, "Signature": sig})).unwrap_err();
        assert_eq!(bad.error_type(), "KMSInvalidSignatureException");
        // A signature over a digest verifies as a signature over the raw message.
        let d = aws_lc_rs::digest::digest(
            if alg.ends_with("384") {
                &aws_lc_rs::digest::SHA384
            } else {
                &aws_lc_rs::digest::SHA256
            },
            b"hello",
        );
        let dsig = h.call("Sign", json!({"KeyId": id, "Message": enc(d.as_ref()), "MessageType": "DIGEST", "SigningAlgorithm": alg})).unwrap()["Signature"].clone();
        assert_eq!(h.call("Verify", json!({"KeyId": id, "Message": enc(b"hello"), "SigningAlgorithm": alg, "Signature": dsig})).unwrap()["SignatureValid"], true);
        let pk = h.call("GetPublicKey", json!({"KeyId": id})).unwrap();
        assert!(b64(&pk["PublicKey"]).len() > 60);
        assert_eq!(
            h.call("Encrypt", json!({"KeyId": id, "Plaintext": "YQ=="}))
                .unwrap_err()
                .error_type(),
            "InvalidKeyUsageException"
        );
    }
    assert_eq!(
        h.call("CreateKey", json!({"KeySpec": "RSA_2048"}))
            .unwrap_err()
            .error_type(),
        "ValidationException"
    );
    let rsa = h
        .call(
            "CreateKey",
            json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
        )
        .unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let ct = h.call("Encrypt", json!({"KeyId": rsa, "Plaintext": enc(b"secret"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})).unwrap()["CiphertextBlob"].clone();
    let pt = h.call("Decrypt", json!({"KeyId": rsa, "CiphertextBlob": ct, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})).unwrap();
    assert_eq!(b64(&pt["Plaintext"]), b"secret");
    let wrong = h
        .call(
            "Decrypt",
            json!({"KeyId": rsa, "CiphertextBlob": ct, "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
        )
        .unwrap_err();
    assert_eq!(wrong.error_type(), "InvalidCiphertextException");
}

#[test]
fn data_key_pairs() {
    let h = open();
    let k = h.key();
    let out = h
        .call(
            "GenerateDataKeyPair",
            json!({"KeyId": k, "KeyPairSpec": "ECC_NIST_P256", "EncryptionContext": {"a": "b"}}),
        )
        .unwrap();
    let private = b64(&out["PrivateKeyPlaintext"]);
    let back = h.call("Decrypt", json!({"CiphertextBlob": out["PrivateKeyCiphertextBlob"], "EncryptionContext": {"a": "b"}})).unwrap();
    assert_eq!(b64(&back["Plaintext"]), private);
    let without = h
        .call(
            "GenerateDataKeyPairWithoutPlaintext",
            json!({"KeyId": k, "KeyPairSpec": "RSA_2048"}),
        )
        .unwrap();
    assert!(without.get("PrivateKeyPlaintext").is_none());
    assert!(!b64(&without["PublicKey"]).is_empty());
}

#[test]
fn imported_key_material() {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let h = open();
    let k = h.call("CreateKey", json!({"Origin": "EXTERNAL"})).unwrap()["KeyMetadata"].clone();
    assert_eq!(k["KeyState"], "PendingImport");
    let id = k["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(
        h.call("Encrypt", json!({"KeyId": id, "Plaintext": "YQ=="}))
            .unwrap_err()
            .error_type(),
        "KMSInvalidStateException"
    );
    let material = [42u8; 32];
    let wrap = |alg: &str| -> (Value, Vec<u8>) {
        let p = h
            .call(
                "GetParametersForImport",
                json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": "RSA_2048"}),
            )
            .unwrap();
        let public = OaepPublicEncryptingKey::new(
            PublicEncryptingKey::from_der(&b64(&p["PublicKey"])).unwrap(),
        )
        .unwrap();
        let wrapped = if alg == "RSAES_OAEP_SHA_256" {
            let mut out = vec![0u8; public.ciphertext_size()];
            public
                .encrypt(&OAEP_SHA256_MGF1SHA256, &material, &mut out, None)
                .unwrap()
                .to_vec()
        } else {
            use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
            let aes = [7u8; 32];
            let mut out = vec![0u8; public.ciphertext_size()];
            let mut first = public
                .encrypt(&OAEP_SHA256_MGF1SHA256, &aes, &mut out, None)
                .unwrap()
                .to_vec();
            let mut kwp = vec![0u8; 48];
            let w = AesKek::new(&AES_256, &aes)
                .unwrap()
                .wrap_with_padding(&material, &mut kwp)
                .unwrap()
                .to_vec();
            first.extend(w);
            first
        };
        (p["ImportToken"].clone(), wrapped)
    };
    let (token, wrapped) = wrap("RSAES_OAEP_SHA_256");
    h.call(
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": token, "EncryptedKeyMaterial": enc(&wrapped),
                                        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    )
    .unwrap();
    assert_eq!(
        h.call("DescribeKey", json!({"KeyId": id})).unwrap()["KeyMetadata"]["KeyState"],
        "Enabled"
    );
    let ct = h
        .call("Encrypt", json!({"KeyId": id, "Plaintext": "YQ=="}))
        .unwrap()["CiphertextBlob"]
        .clone();
    h.call("DeleteImportedKeyMaterial", json!({"KeyId": id}))
        .unwrap();
    assert_eq!(
        h.call("Decrypt", json!({"CiphertextBlob": ct}))
            .unwrap_err()
            .error_type(),
        "KMSInvalidStateException"
    );
    // The same material, re-imported (with the AES key-wrap algorithm), decrypts old ciphertexts.
    let (token, wrapped) = wrap("RSA_AES_KEY_WRAP_SHA_256");
    let valid_to = h.clock.now_epoch_seconds_f64() + 3600.0;
    h.call("ImportKeyMaterial", json!({"KeyId": id, "ImportToken": token, "EncryptedKeyMaterial": enc(&wrapped),
                                        "ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": valid_to})).unwrap();
    assert_eq!(
        b64(&h.call("Decrypt", json!({"CiphertextBlob": ct})).unwrap()["Plaintext"]),
        b"a"
    );
    // Expiry takes the material away again.
    h.clock.advance_millis(2 * 3600 * 1000);
    assert_eq!(
        h.call("DescribeKey", json!({"KeyId": id})).unwrap()["KeyMetadata"]["KeyState"],
        "PendingImport"
    );
    // Other material is refused.
    let p = h.call("GetParametersForImport", json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"})).unwrap();
    let public =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&b64(&p["PublicKey"])).unwrap())
            .unwrap();
    let mut out = vec![0u8; public.ciphertext_size()];
    let other = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, &[1u8; 32], &mut out, None)
        .unwrap()
        .to_vec();
    let e = h.call("ImportKeyMaterial", json!({"KeyId": id, "ImportToken": p["ImportToken"], "EncryptedKeyMaterial": enc(&other),
                                                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})).unwrap_err();
    assert_eq!(e.error_type(), "IncorrectKeyMaterialException");
    let e = h
        .call(
            "ImportKeyMaterial",
            json!({"KeyId": id, "ImportToken": enc(b"bogus"), "EncryptedKeyMaterial": enc(&other),
                                                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidImportTokenException");
}

#[test]
fn custom_key_stores_are_refused_also_for_multi_region_keys() {
    let h = open();
    for body in [
        json!({"MultiRegion": true, "CustomKeyStoreId": "cks-1234567890abcdef0"}),
        json!({"MultiRegion": true, "Origin": "AWS_CLOUDHSM"}),
        json!({"CustomKeyStoreId": "cks-1234567890abcdef0"}),
    ] {
        let err = h.call("CreateKey", body.clone()).unwrap_err();
        assert!(matches!(err, KmsError::UnsupportedOperation(_)), "{body}");
    }
    for body in [
        json!({"Origin": "EXTERNAL_KEY_STORE"}),
        json!({"Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": "cks-1234567890abcdef0"}),
        json!({"XksKeyId": "k1"}),
    ] {
        let err = h.call("CreateKey", body.clone()).unwrap_err();
        assert!(matches!(err, KmsError::Validation(_)), "{body}: {err:?}");
    }
    let listed = h.call("ListKeys", json!({})).unwrap();
    assert!(
        listed["Keys"].as_array().unwrap().is_empty(),
        "nothing created"
    );
    let ok = h.call("CreateKey", json!({"MultiRegion": false})).unwrap();
    assert_eq!(ok["KeyMetadata"]["MultiRegion"], json!(false));
}

#[test]
fn on_demand_rotations_are_limited_to_25() {
    let h = open();
    let k = h.key();
    for _ in 0..25 {
        h.call("RotateKeyOnDemand", json!({"KeyId": k})).unwrap();
    }
    let err = h
        .call("RotateKeyOnDemand", json!({"KeyId": k}))
        .unwrap_err();
    assert_eq!(err.error_type(), "LimitExceededException");
    let rotations = h
        .call("ListKeyRotations", json!({"KeyId": k, "Limit": 1000}))
        .unwrap();
    assert_eq!(rotations["Rotations"].as_array().unwrap().len(), 25);
}

#[test]
fn dry_run_answers_without_doing() {
    let h = open();
    let k = h.key();
    let err = h
        .call(
            "Encrypt",
            json!({"KeyId": k, "Plaintext": "aGVsbG8=", "DryRun": true}),
        )
        .unwrap_err();
    assert_eq!(err.error_type(), "DryRunOperationException");
    assert_eq!(err.http_status(), 412);
    let grant = json!({"KeyId": k, "GranteePrincipal": "arn:aws:iam::000000000000:user/g",
                       "Operations": ["Decrypt"], "DryRun": true});
    let err = h.call("CreateGrant", grant).unwrap_err();
    assert_eq!(err.error_type(), "DryRunOperationException");
    let grants = h.call("ListGrants", json!({"KeyId": k})).unwrap();
    assert!(grants["Grants"].as_array().unwrap().is_empty());
    // A dry run that would fail answers the failure.
    h.call("DisableKey", json!({"KeyId": k})).unwrap();
    let err = h
        .call(
            "Encrypt",
            json!({"KeyId": k, "Plaintext": "aGVsbG8=", "DryRun": true}),
        )
        .unwrap_err();
    assert_eq!(err.error_type(), "DisabledException");
}
