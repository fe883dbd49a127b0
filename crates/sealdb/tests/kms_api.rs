//! The key service through aws-sdk-kms against a real server.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, GrantOperation, KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, Tag,
};
use common::Server;

#[tokio::test]
async fn keys_crypto_and_errors() {
    let server = Server::start();
    let kms = server.kms();
    let key = kms
        .create_key()
        .description("sdk")
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("db")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let md = key.key_metadata().unwrap();
    let id = md.key_id().to_owned();
    assert_eq!(md.key_state(), Some(&KeyState::Enabled));
    assert!(
        kms.list_keys()
            .send()
            .await
            .unwrap()
            .keys()
            .iter()
            .any(|k| k.key_id() == Some(&id))
    );
    kms.create_alias()
        .alias_name("alias/sdk")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    kms.update_key_description()
        .key_id(&id)
        .description("changed")
        .send()
        .await
        .unwrap();
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(tags.tags()[0].tag_key(), "team");

    let ct = kms
        .encrypt()
        .key_id("alias/sdk")
        .plaintext(Blob::new(b"payload".to_vec()))
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .clone();
    let pt = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext().unwrap().as_ref(), b"payload");
    let err = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidCiphertextException"));
    let mut tampered = ct.as_ref().to_vec();
    tampered[30] ^= 0x40;
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(tampered))
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidCiphertextException"));
    let other = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let err = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .key_id(&other)
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("IncorrectKeyException"));

    // ReEncrypt to another key and another context.
    let re = kms
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_encryption_context("k", "v")
        .destination_key_id(&other)
        .destination_encryption_context("k2", "v2")
        .send()
        .await
        .unwrap();
    let pt = kms
        .decrypt()
        .ciphertext_blob(re.ciphertext_blob().unwrap().clone())
        .encryption_context("k2", "v2")
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext().unwrap().as_ref(), b"payload");

    let dk = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(dk.plaintext().unwrap().as_ref().len(), 32);
    let wp = kms
        .generate_data_key_without_plaintext()
        .key_id(&id)
        .number_of_bytes(16)
        .send()
        .await
        .unwrap();
    assert!(wp.ciphertext_blob().is_some());
    assert_eq!(
        kms.generate_random()
            .number_of_bytes(48)
            .send()
            .await
            .unwrap()
            .plaintext()
            .unwrap()
            .as_ref()
            .len(),
        48
    );

    // Rotation keeps old ciphertexts readable.
    kms.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let st = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(st.key_rotation_enabled());
    kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let pt = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext().unwrap().as_ref(), b"payload");
    kms.disable_key_rotation().key_id(&id).send().await.unwrap();

    // States.
    kms.disable_key().key_id(&id).send().await.unwrap();
    let err = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));
    kms.enable_key().key_id(&id).send().await.unwrap();
    let err = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    kms.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMSInvalidStateException"));
    kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    let err = kms
        .describe_key()
        .key_id("alias/none")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotFoundException"));
    let err = kms
        .create_alias()
        .alias_name("alias/sdk")
        .target_key_id(&other)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AlreadyExistsException"));
    let err = kms
        .create_alias()
        .alias_name("bad")
        .target_key_id(&other)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAliasNameException"));
    kms.delete_alias()
        .alias_name("alias/sdk")
        .send()
        .await
        .unwrap();

    // Grants and policies.
    let g = kms
        .create_grant()
        .key_id(&other)
        .grantee_principal("arn:aws:iam::000000000000:user/someone")
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms.list_grants()
            .key_id(&other)
            .send()
            .await
            .unwrap()
            .grants()
            .len(),
        1
    );
    kms.revoke_grant()
        .key_id(&other)
        .grant_id(g.grant_id().unwrap())
        .send()
        .await
        .unwrap();
    let policy = kms
        .get_key_policy()
        .key_id(&other)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(policy.policy().unwrap().contains("key-default-1"));
    let err = kms
        .put_key_policy()
        .key_id(&other)
        .policy_name("default")
        .policy("{")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MalformedPolicyDocumentException"));
    assert_eq!(
        kms.list_key_policies()
            .key_id(&other)
            .send()
            .await
            .unwrap()
            .policy_names(),
        ["default".to_owned()]
    );

    // HMAC keys.
    let mac_key = kms
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let mac = kms
        .generate_mac()
        .key_id(&mac_key)
        .message(Blob::new(b"m".to_vec()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    let ok = kms
        .verify_mac()
        .key_id(&mac_key)
        .message(Blob::new(b"m".to_vec()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .mac(mac.mac().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert!(ok.mac_valid());
    let err = kms
        .encrypt()
        .key_id(&mac_key)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidKeyUsageException"));
}

#[tokio::test]
async fn asymmetric_import_and_listing_operations() {
    use aws_sdk_kms::types::{
        DataKeyPairSpec, EncryptionAlgorithmSpec, MessageType, OriginType, SigningAlgorithmSpec,
    };
    let server = Server::start();
    let kms = server.kms();
    // Signing keys.
    let sign_key = kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let sig = kms
        .sign()
        .key_id(&sign_key)
        .message(Blob::new(b"doc".to_vec()))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap();
    let ok = kms
        .verify()
        .key_id(&sign_key)
        .message(Blob::new(b"doc".to_vec()))
        .signature(sig.signature().unwrap().clone())
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid());
    let err = kms
        .verify()
        .key_id(&sign_key)
        .message(Blob::new(b"other".to_vec()))
        .signature(sig.signature().unwrap().clone())
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMSInvalidSignatureException"));
    let pk = kms.get_public_key().key_id(&sign_key).send().await.unwrap();
    assert!(pk.public_key().unwrap().as_ref().len() > 200);

    // RSA encryption.
    let enc_key = kms
        .create_key()
        .key_spec(KeySpec::Rsa3072)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let ct = kms
        .encrypt()
        .key_id(&enc_key)
        .plaintext(Blob::new(b"rsa".to_vec()))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .unwrap();
    let pt = kms
        .decrypt()
        .key_id(&enc_key)
        .ciphertext_blob(ct.ciphertext_blob().unwrap().clone())
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext().unwrap().as_ref(), b"rsa");

    // Data key pairs under a symmetric key.
    let sym = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let pair = kms
        .generate_data_key_pair()
        .key_id(&sym)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    assert!(pair.private_key_plaintext().is_some() && pair.public_key().is_some());
    let pair = kms
        .generate_data_key_pair_without_plaintext()
        .key_id(&sym)
        .key_pair_spec(DataKeyPairSpec::Rsa2048)
        .send()
        .await
        .unwrap();
    assert!(pair.private_key_ciphertext_blob().is_some());

    // Imported material: the import itself needs a client-side RSA-OAEP wrap.
    let ext = kms
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    common::import_key_material(&kms, &ext, &[9u8; 32]).await;
    let md = kms.describe_key().key_id(&ext).send().await.unwrap();
    assert_eq!(
        md.key_metadata().unwrap().key_state(),
        Some(&KeyState::Enabled)
    );
    kms.delete_imported_key_material()
        .key_id(&ext)
        .send()
        .await
        .unwrap();
    let md = kms.describe_key().key_id(&ext).send().await.unwrap();
    assert_eq!(
        md.key_metadata().unwrap().key_state(),
        Some(&KeyState::PendingImport)
    );

    // Listings.
    kms.create_alias()
        .alias_name("alias/listed")
        .target_key_id(&sym)
        .send()
        .await
        .unwrap();
    let aliases = kms.list_aliases().key_id(&sym).send().await.unwrap();
    assert_eq!(aliases.aliases()[0].alias_name(), Some("alias/listed"));
    kms.tag_resource()
        .key_id(&sym)
        .tags(Tag::builder().tag_key("a").tag_value("1").build().unwrap())
        .send()
        .await
        .unwrap();
    kms.untag_resource()
        .key_id(&sym)
        .tag_keys("a")
        .send()
        .await
        .unwrap();
    assert!(
        kms.list_resource_tags()
            .key_id(&sym)
            .send()
            .await
            .unwrap()
            .tags()
            .is_empty()
    );
    kms.create_grant()
        .key_id(&sym)
        .grantee_principal("arn:aws:iam::000000000000:user/x")
        .retiring_principal("arn:aws:iam::000000000000:user/retirer")
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    let retirable = kms
        .list_retirable_grants()
        .retiring_principal("arn:aws:iam::000000000000:user/retirer")
        .send()
        .await
        .unwrap();
    assert_eq!(retirable.grants().len(), 1);
    let grant_id = retirable.grants()[0].grant_id().unwrap().to_owned();
    kms.retire_grant()
        .key_id(&sym)
        .grant_id(&grant_id)
        .send()
        .await
        .unwrap();
    assert!(
        kms.list_grants()
            .key_id(&sym)
            .send()
            .await
            .unwrap()
            .grants()
            .iter()
            .all(|g| g.grant_id() != Some(grant_id.as_str()))
    );
    let err = kms
        .retire_grant()
        .key_id(&sym)
        .grant_id(&grant_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");

    // UpdateAlias points an alias at another key of the same type.
    let other = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    kms.create_alias()
        .alias_name("alias/moving")
        .target_key_id(&sym)
        .send()
        .await
        .unwrap();
    kms.update_alias()
        .alias_name("alias/moving")
        .target_key_id(&other)
        .send()
        .await
        .unwrap();
    let described = kms
        .describe_key()
        .key_id("alias/moving")
        .send()
        .await
        .unwrap();
    assert_eq!(described.key_metadata().unwrap().key_id(), other);
    assert_eq!(
        kms.list_key_rotations()
            .key_id(&sym)
            .send()
            .await
            .unwrap()
            .rotations()
            .len(),
        0
    );
}
