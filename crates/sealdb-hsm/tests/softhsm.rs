//! `Pkcs11Token` against real SoftHSM2 tokens (one token directory for this process,
//! one token per test, so tests run in parallel).
#![allow(clippy::unwrap_used)]

use sealdb_hsm::testing::{TEST_PIN, in_process};
use sealdb_hsm::{GcmSealed, HsmError, Pkcs11Token, SecretString, TokenConfig, TokenSelector};

fn token(label: &str) -> (TokenConfig, Pkcs11Token) {
    let config = in_process().unwrap().init_token(label).unwrap();
    let token = Pkcs11Token::open(&config).unwrap();
    (config, token)
}

#[test]
fn gcm_round_trip_inside_the_token() {
    let (_, t) = token("gcm-round-trip");
    t.generate_aes256("k1").unwrap();
    assert!(t.has_key("k1").unwrap());
    assert!(!t.has_key("k2").unwrap());
    let sealed = t
        .encrypt_gcm("k1", b"header", b"thirty-two bytes of root key!!!!")
        .unwrap();
    assert_eq!(sealed.ciphertext.len(), 32 + 16);
    assert_ne!(
        &sealed.ciphertext[..32],
        b"thirty-two bytes of root key!!!!"
    );
    let again = GcmSealed::from_bytes(&sealed.to_bytes()).unwrap();
    let plain = t.decrypt_gcm("k1", b"header", &again).unwrap();
    assert_eq!(plain.as_slice(), b"thirty-two bytes of root key!!!!");
    // A fresh IV every time.
    let other = t
        .encrypt_gcm("k1", b"header", b"thirty-two bytes of root key!!!!")
        .unwrap();
    assert_ne!(other.iv, sealed.iv);
}

#[test]
fn altered_ciphertext_aad_or_key_does_not_open() {
    let (_, t) = token("gcm-tamper");
    t.generate_aes256("a").unwrap();
    t.generate_aes256("b").unwrap();
    let sealed = t.encrypt_gcm("a", b"aad", b"secret").unwrap();
    let wrong_aad = t.decrypt_gcm("a", b"aae", &sealed).unwrap_err();
    assert!(matches!(wrong_aad, HsmError::Decrypt { .. }), "{wrong_aad}");
    let wrong_key = t.decrypt_gcm("b", b"aad", &sealed).unwrap_err();
    assert!(matches!(wrong_key, HsmError::Decrypt { .. }), "{wrong_key}");
    let mut flipped = sealed.clone();
    flipped.ciphertext[0] ^= 1;
    assert!(matches!(
        t.decrypt_gcm("a", b"aad", &flipped),
        Err(HsmError::Decrypt { .. })
    ));
    let mut iv = sealed.clone();
    iv.iv[0] ^= 1;
    assert!(matches!(
        t.decrypt_gcm("a", b"aad", &iv),
        Err(HsmError::Decrypt { .. })
    ));
    assert!(matches!(
        GcmSealed::from_bytes(&[0; 27]),
        Err(HsmError::Malformed(27))
    ));
    // The token still works after the failures.
    assert_eq!(
        t.decrypt_gcm("a", b"aad", &sealed).unwrap().as_slice(),
        b"secret"
    );
}

#[test]
fn keys_are_sensitive_and_never_extractable() {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    let (config, t) = token("attributes");
    t.generate_aes256("locked").unwrap();
    // Look at the object with cryptoki directly, as another application would.
    let ctx = cryptoki::context::Pkcs11::new(&config.module).unwrap();
    // The module is initialised already by this process; a second context shares it.
    let _ = ctx.initialize(cryptoki::context::CInitializeArgs::new(
        cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
    ));
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == "attributes")
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(b"locked".to_vec()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1);
    let attrs = session
        .get_attributes(
            found[0],
            &[
                AttributeType::Extractable,
                AttributeType::Sensitive,
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::ValueLen,
            ],
        )
        .unwrap();
    let mut seen = 0;
    for a in attrs {
        match a {
            Attribute::Extractable(v) => assert!(!v, "extractable"),
            Attribute::Sensitive(v) => assert!(v, "sensitive"),
            Attribute::Token(v) => assert!(v, "token object"),
            Attribute::Private(v) => assert!(v, "private"),
            Attribute::ValueLen(n) => assert_eq!(u64::from(n), 32),
            other => panic!("unexpected {other:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 5);
    // The value itself cannot be read.
    assert!(
        session
            .get_attributes(found[0], &[AttributeType::Value])
            .map(|v| v.is_empty())
            .unwrap_or(true)
    );
}

#[test]
fn labels_are_unique_and_destroy_removes_the_key() {
    let (_, t) = token("labels");
    t.generate_aes256("only").unwrap();
    assert!(matches!(
        t.generate_aes256("only"),
        Err(HsmError::KeyExists { .. })
    ));
    let sealed = t.encrypt_gcm("only", b"", b"x").unwrap();
    t.destroy_key("only").unwrap();
    assert!(!t.has_key("only").unwrap());
    let gone = t.decrypt_gcm("only", b"", &sealed).unwrap_err();
    assert!(matches!(gone, HsmError::KeyNotFound { .. }), "{gone}");
    assert!(matches!(
        t.destroy_key("only"),
        Err(HsmError::KeyNotFound { .. })
    ));
}

#[test]
fn keys_survive_closing_and_reopening_the_token() {
    let (config, t) = token("persist");
    t.generate_aes256("kept").unwrap();
    let sealed = t.encrypt_gcm("kept", b"h", b"data").unwrap();
    drop(t);
    let again = Pkcs11Token::open(&config).unwrap();
    assert_eq!(
        again.decrypt_gcm("kept", b"h", &sealed).unwrap().as_slice(),
        b"data"
    );
}

#[test]
fn wrong_pin_is_refused_before_and_during_a_login() {
    let dir = in_process().unwrap();
    let config = dir.init_token("pin-check").unwrap();
    let wrong = TokenConfig {
        pin: SecretString::new("not-the-pin".into()),
        ..config.clone()
    };
    // Nobody logged in yet: the token itself refuses.
    let e = Pkcs11Token::open(&wrong).unwrap_err();
    assert!(matches!(e, HsmError::WrongPin { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "the PIN for PKCS#11 token pin-check is incorrect"
    );
    let right = Pkcs11Token::open(&config).unwrap();
    // Logged in by this process: the PIN is still checked.
    let e = Pkcs11Token::open(&wrong).unwrap_err();
    assert!(matches!(e, HsmError::WrongPin { .. }), "{e}");
    let second = Pkcs11Token::open(&config).unwrap();
    right.generate_aes256("k").unwrap();
    drop(right);
    // The second holder is still logged in after the first one closed.
    assert!(second.has_key("k").unwrap());
    second.encrypt_gcm("k", b"", b"still logged in").unwrap();
}

#[test]
fn missing_token_and_missing_module_say_so() {
    let dir = in_process().unwrap();
    let missing = TokenConfig {
        module: dir.module().to_path_buf(),
        token: TokenSelector::Label("no-such-token".into()),
        pin: SecretString::new(TEST_PIN.into()),
    };
    let e = Pkcs11Token::open(&missing).unwrap_err();
    assert!(matches!(e, HsmError::TokenNotFound { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("no PKCS#11 token with label \"no-such-token\" in module "),
        "{e}"
    );
    let no_module = TokenConfig {
        module: "/nonexistent/libpkcs11.so".into(),
        ..missing
    };
    let e = Pkcs11Token::open(&no_module).unwrap_err();
    assert!(matches!(e, HsmError::ModuleUnavailable { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("PKCS#11 module /nonexistent/libpkcs11.so cannot be loaded"),
        "{e}"
    );
}

#[test]
fn select_by_serial() {
    let dir = in_process().unwrap();
    let config = dir.init_token("by-serial").unwrap();
    let serial = {
        let t = Pkcs11Token::open(&config).unwrap();
        t.serial().to_owned()
    };
    assert!(!serial.is_empty());
    let by_serial = TokenConfig {
        token: TokenSelector::Serial(serial),
        ..config
    };
    let t = Pkcs11Token::open(&by_serial).unwrap();
    assert_eq!(t.label(), "by-serial");
}

#[test]
fn one_token_serves_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pkcs11Token>();
    let (_, t) = token("threads");
    t.generate_aes256("shared").unwrap();
    let t = std::sync::Arc::new(t);
    let handles: Vec<_> = (0..4u8)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                for j in 0..20u8 {
                    let msg = [i, j];
                    let s = t.encrypt_gcm("shared", &[i], &msg).unwrap();
                    assert_eq!(t.decrypt_gcm("shared", &[i], &s).unwrap().as_slice(), msg);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_separate_directory_for_child_processes() {
    let dir = sealdb_hsm::testing::SoftHsmDir::create().unwrap();
    dir.init_token("child-token").unwrap();
    let (name, value) = dir.env();
    let out = std::process::Command::new("softhsm2-util")
        .env(name, &value)
        .arg("--show-slots")
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("child-token"), "{shown}");
    // This process's own tokens are elsewhere.
    assert_ne!(value, in_process().unwrap().conf_path());
}
