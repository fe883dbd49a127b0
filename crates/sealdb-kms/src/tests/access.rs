//! Grant delegation, the lockout safety check, identity-only actions, audit contents.

use super::*;

fn key_owned_by(h: &H, owner: &Principal) -> String {
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": owner.arn}, "Action": "kms:*", "Resource": "*"}]});
    h.call_as(owner, "CreateKey", json!({"Policy": policy.to_string()}))
        .unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_grant_cannot_be_passed_on_wider_than_it_is() {
    let h = open();
    let owner = user("owner");
    let (alice, bob) = (user("alice"), user("bob"));
    let k = key_owned_by(&h, &owner);
    h.call_as(&owner, "CreateGrant", json!({"KeyId": k, "GranteePrincipal": alice.arn,
        "Operations": ["CreateGrant", "Decrypt"], "Constraints": {"EncryptionContextSubset": {"app": "x"}}}))
        .unwrap();
    let pass_on = |ops: Value, constraints: Value| {
        let mut body = json!({"KeyId": k, "GranteePrincipal": bob.arn, "Operations": ops});
        if !constraints.is_null() {
            body["Constraints"] = constraints;
        }
        h.call_as(&alice, "CreateGrant", body)
    };
    let denied = |r: Result<Value, KmsError>| {
        assert_eq!(r.unwrap_err().error_type(), "AccessDeniedException");
    };
    // Wider operations, or the constraint dropped: refused.
    denied(pass_on(
        json!(["Decrypt", "Encrypt"]),
        json!({"EncryptionContextSubset": {"app": "x"}}),
    ));
    denied(pass_on(json!(["Decrypt"]), Value::Null));
    denied(pass_on(
        json!(["Decrypt"]),
        json!({"EncryptionContextSubset": {"app": "y"}}),
    ));
    denied(pass_on(
        json!(["Decrypt"]),
        json!({"EncryptionContextSubset": {"other": "x"}}),
    ));
    // The same or stricter: allowed.
    pass_on(
        json!(["Decrypt"]),
        json!({"EncryptionContextSubset": {"app": "x"}}),
    )
    .unwrap();
    pass_on(
        json!(["Decrypt"]),
        json!({"EncryptionContextSubset": {"app": "x", "team": "t"}}),
    )
    .unwrap();
    pass_on(
        json!(["Decrypt"]),
        json!({"EncryptionContextEquals": {"app": "x"}}),
    )
    .unwrap();
    pass_on(
        json!(["CreateGrant", "Decrypt"]),
        json!({"EncryptionContextSubset": {"app": "x"}}),
    )
    .unwrap();
    // Bob's first grant above allows Decrypt only, with the constraint: no Encrypt for him.
    let e = h
        .call_as(
            &bob,
            "Encrypt",
            json!({"KeyId": k, "Plaintext": "YQ==", "EncryptionContext": {"app": "x"}}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");

    // An exact-context parent can only pass on the same exact context.
    let carol = user("carol");
    h.call_as(&owner, "CreateGrant", json!({"KeyId": k, "GranteePrincipal": carol.arn,
        "Operations": ["CreateGrant", "Decrypt"], "Constraints": {"EncryptionContextEquals": {"app": "x"}}}))
        .unwrap();
    let from_carol = |constraints: Value| {
        h.call_as(
            &carol,
            "CreateGrant",
            json!({"KeyId": k, "GranteePrincipal": bob.arn,
            "Operations": ["Decrypt"], "Constraints": constraints}),
        )
    };
    denied(from_carol(json!({"EncryptionContextSubset": {"app": "x"}})));
    denied(from_carol(
        json!({"EncryptionContextEquals": {"app": "x", "more": "1"}}),
    ));
    from_carol(json!({"EncryptionContextEquals": {"app": "x"}})).unwrap();
}

#[test]
fn put_key_policy_refuses_a_policy_that_locks_the_caller_out() {
    let h = open();
    let owner = user("owner");
    let k = key_owned_by(&h, &owner);
    let only_bob = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/bob"}, "Action": "kms:*", "Resource": "*"}]}).to_string();
    let e = h
        .call_as(
            &owner,
            "PutKeyPolicy",
            json!({"KeyId": k, "PolicyName": "default", "Policy": only_bob}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "MalformedPolicyDocumentException");
    assert_eq!(
        e.message(),
        "The new key policy will not allow you to update the key policy in the future."
    );
    // Nothing changed: the owner still manages the key.
    let now = h
        .call_as(
            &owner,
            "GetKeyPolicy",
            json!({"KeyId": k, "PolicyName": "default"}),
        )
        .unwrap();
    assert!(now["Policy"].as_str().unwrap().contains("user/owner"));
    // A Deny of PutKeyPolicy for the caller locks out just the same.
    let denies_owner = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": owner.arn}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": owner.arn}, "Action": "kms:PutKeyPolicy", "Resource": "*"}]}).to_string();
    let e = h
        .call_as(
            &owner,
            "PutKeyPolicy",
            json!({"KeyId": k, "Policy": denies_owner}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "MalformedPolicyDocumentException");
    // A wrong type for the flag is a serialization error, not a bypass.
    let e = h
        .call_as(
            &owner,
            "PutKeyPolicy",
            json!({"KeyId": k, "Policy": only_bob, "BypassPolicyLockoutSafetyCheck": "yes"}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "SerializationException");
    // With the bypass, the owner may hand the key to bob.
    h.call_as(
        &owner,
        "PutKeyPolicy",
        json!({"KeyId": k, "Policy": only_bob, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .unwrap();
    assert_eq!(
        h.call_as(&owner, "GetKeyPolicy", json!({"KeyId": k}))
            .unwrap_err()
            .error_type(),
        "AccessDeniedException"
    );
}

fn audit_log(h: &H) -> Vec<Value> {
    audit::records(h.dir.path(), &h.root).unwrap()
}

#[test]
fn audit_records_keep_only_what_cloudtrail_records() {
    let h = open();
    let k = h.key();
    h.call(
        "Encrypt",
        json!({"KeyId": k, "Plaintext": "c2VjcmV0", "EncryptionContext": {"Dept": "IT"},
               "GrantTokens": ["tok"], "Unknown": "x"}),
    )
    .unwrap();
    let mac_key = h
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
            json!({"KeyId": mac_key, "Message": "bXNn", "MacAlgorithm": "HMAC_SHA_256"}),
        )
        .unwrap()["Mac"]
        .clone();
    h.call(
        "VerifyMac",
        json!({"KeyId": mac_key, "Message": "bXNn", "MacAlgorithm": "HMAC_SHA_256", "Mac": mac}),
    )
    .unwrap();
    let g = h
        .call("CreateGrant", json!({"KeyId": k, "GranteePrincipal": "arn:aws:iam::000000000000:user/eve",
                                    "Operations": ["Decrypt"], "RetiringPrincipal": "arn:aws:iam::000000000000:root",
                                    "Constraints": {"EncryptionContextSubset": {"Dept": "IT"}}}))
        .unwrap();
    h.call("RetireGrant", json!({"GrantToken": g["GrantToken"]}))
        .unwrap();
    let log = audit_log(&h);
    let by =
        |name: &str| -> Vec<&Value> { log.iter().filter(|r| r["eventName"] == name).collect() };
    let enc = by("Encrypt")[0];
    assert_eq!(
        enc["requestParameters"],
        json!({"keyId": k, "encryptionContext": {"Dept": "IT"}})
    );
    assert_eq!(enc["readOnly"], true);
    assert_eq!(enc["responseElements"], Value::Null);
    assert_eq!(enc["resources"][0]["type"], "AWS::KMS::Key");
    assert!(enc["eventTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        by("VerifyMac")[0]["requestParameters"],
        json!({"keyId": mac_key, "macAlgorithm": "HMAC_SHA_256"})
    );
    let grant = by("CreateGrant")[0];
    assert_eq!(
        grant["requestParameters"]["constraints"],
        json!({"encryptionContextSubset": {"Dept": "IT"}})
    );
    assert_eq!(grant["responseElements"], json!({"grantId": g["GrantId"]}));
    assert_eq!(grant["readOnly"], false);
    // RetireGrant by token: the token is not recorded.
    assert_eq!(by("RetireGrant")[0]["requestParameters"], Value::Null);
    let text = serde_json::to_string(&log).unwrap();
    for secret in [
        "c2VjcmV0",
        "bXNn",
        mac.as_str().unwrap(),
        g["GrantToken"].as_str().unwrap(),
        "tok",
        "Unknown",
    ] {
        assert!(!text.contains(secret), "{secret} is in the audit log");
    }
}

#[test]
fn a_failed_call_changes_nothing_and_is_recorded_with_its_error() {
    let h = open();
    // alias/aws/dynamodb is created on first use, but a direct Encrypt with it is denied
    // (its policy wants kms:ViaService): the denied call must not leave the key behind.
    let e = h
        .call(
            "Encrypt",
            json!({"KeyId": "alias/aws/dynamodb", "Plaintext": "YQ=="}),
        )
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
    assert_eq!(h.call("ListKeys", json!({})).unwrap()["Keys"], json!([]));
    let log = audit_log(&h);
    let denied = log.iter().find(|r| r["eventName"] == "Encrypt").unwrap();
    assert_eq!(denied["errorCode"], "AccessDeniedException");
    assert_eq!(denied["errorMessage"], e.message());
    assert!(audit::verify(h.dir.path(), &h.root).is_ok());
}

#[test]
fn list_retirable_grants_needs_an_identity_policy() {
    let dir = tempfile::tempdir().unwrap();
    let root = RootKey::from_key(sealdb_common::SecretKey32::from_bytes([5; 32]));
    // No identity policies at all: only the account root may list.
    let kms = KmsService::open_with_identity(
        KmsConfig {
            data_dir: dir.path().to_owned(),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            clock: Clock::system(),
        },
        &root,
        std::sync::Arc::new(sealdb_iam::NoIdentityPolicies),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = json!({"RetiringPrincipal": "arn:aws:iam::000000000000:user/bob"}).to_string();
    let e = rt
        .block_on(kms.call("ListRetirableGrants", &user("bob"), body.as_bytes()))
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
    assert_eq!(
        e.message(),
        "User: arn:aws:iam::000000000000:user/bob is not authorized to perform: kms:ListRetirableGrants on resource: * because no identity-based policy allows the kms:ListRetirableGrants action"
    );
    assert!(
        rt.block_on(kms.call("ListRetirableGrants", &admin(), body.as_bytes()))
            .is_ok()
    );
    // The same user with the default key policy but no identity policy: IAM decides, so
    // the account statement alone does not let bob use the key.
    let key = rt.block_on(kms.call("CreateKey", &admin(), b"{}")).unwrap();
    let id = serde_json::from_slice::<Value>(&key).unwrap()["KeyMetadata"]["KeyId"].clone();
    let enc = json!({"KeyId": id, "Plaintext": "YQ=="}).to_string();
    let e = rt
        .block_on(kms.call("Encrypt", &user("bob"), enc.as_bytes()))
        .unwrap_err();
    assert_eq!(e.error_type(), "AccessDeniedException");
    // The key policy delegates to IAM, so AWS names the missing identity-based policy.
    assert!(
        e.message()
            .ends_with("because no identity-based policy allows the kms:Encrypt action"),
        "{}",
        e.message()
    );
    // The actions on no key are IAM's alone: refused to bob, allowed to the root.
    for (op, body) in [
        ("CreateKey", "{}"),
        ("ListKeys", "{}"),
        ("ListAliases", "{}"),
        ("GenerateRandom", r#"{"NumberOfBytes": 8}"#),
    ] {
        let e = rt
            .block_on(kms.call(op, &user("bob"), body.as_bytes()))
            .unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "User: arn:aws:iam::000000000000:user/bob is not authorized to perform: kms:{op} on resource: * because no identity-based policy allows the kms:{op} action"
            )
        );
        assert!(
            rt.block_on(kms.call(op, &admin(), body.as_bytes())).is_ok(),
            "{op}"
        );
    }
}
