//! The XKS client against the XKS listener over real TLS (certificates made by the
//! `openssl` command), with a backend that keeps one AES-256 key in memory: the
//! specification's calls, and each way a call fails as KMS must tell them apart.
// Test helpers may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sealdb_common::secret::SecretString;
use sealdb_http::xks::client::{XksCallError, XksEndpoint, XksTrust};
use sealdb_http::xks::server::{XksBackend, XksServerConfig};
use sealdb_http::xks::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const KEY_ID: &str = "AKIAXKSTESTKEY234567";
const SECRET: &str = "testSecretForTheXksListener0123456789abcdefg";
const PATH: &str = "/t/kms/xks/v1";

struct MemoryKey(LessSafeKey);

impl XksBackend for MemoryKey {
    fn health(&self) -> Result<HealthStatus, XksError> {
        Ok(HealthStatus {
            xks_proxy_fleet_size: 1,
            xks_proxy_vendor: "test".into(),
            xks_proxy_model: "test".into(),
            ekm_vendor: "memory".into(),
            ekm_fleet_details: vec![EkmInstance {
                id: "m1".into(),
                model: "m".into(),
                health_status: "ACTIVE".into(),
            }],
        })
    }

    fn metadata(&self, key_id: &str, _md: &RequestMetadata) -> Result<KeyMetadata, XksError> {
        if key_id != "k1" {
            return Err(XksError::new(XksErrorName::KeyNotFound, "no such key"));
        }
        Ok(KeyMetadata {
            key_spec: "AES_256".into(),
            key_usage: vec!["ENCRYPT".into(), "DECRYPT".into()],
            key_status: "ENABLED".into(),
        })
    }

    fn encrypt(&self, _key_id: &str, req: &EncryptRequest) -> Result<EncryptResponse, XksError> {
        let iv = [9u8; 12];
        let mut buf = req.plaintext.0.to_vec();
        let aad = req
            .additional_authenticated_data
            .clone()
            .unwrap_or_default()
            .0;
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(&aad), &mut buf)
            .map_err(|_| XksError::new(XksErrorName::Internal, "seal"))?;
        Ok(EncryptResponse {
            authentication_tag: Blob(tag.as_ref().to_vec()),
            ciphertext: Blob(buf),
            initialization_vector: Blob(iv.to_vec()),
            ciphertext_metadata: None,
            ciphertext_data_integrity_value: None,
        })
    }

    fn decrypt(&self, _key_id: &str, req: &DecryptRequest) -> Result<DecryptResponse, XksError> {
        let bad = || XksError::new(XksErrorName::InvalidCiphertext, "bad");
        let iv: [u8; 12] = req
            .initialization_vector
            .0
            .as_slice()
            .try_into()
            .map_err(|_| bad())?;
        let mut buf = req.ciphertext.0.clone();
        buf.extend_from_slice(&req.authentication_tag.0);
        let aad = req
            .additional_authenticated_data
            .clone()
            .unwrap_or_default()
            .0;
        let plain = self
            .0
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(&aad), &mut buf)
            .map_err(|_| bad())?;
        Ok(DecryptResponse {
            plaintext: SecretBlob(zeroize::Zeroizing::new(plain.to_vec())),
        })
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a certificate for 127.0.0.1 it signed: (ca, cert, key).
fn certificates(d: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| d.join(n).display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &p("ca.key"),
                "-out",
                &p("ca.pem"),
                "-days",
                "1",
                "-subj",
                "/CN=xks test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                &p("px.key"),
                "-out",
                &p("px.csr"),
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        d.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("px.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-out",
        &p("px.pem"),
        "-days",
        "1",
        "-extfile",
        &p("ext"),
    ]);
    (d.join("ca.pem"), d.join("px.pem"), d.join("px.key"))
}

/// Serves on a thread of its own; returns the port.
fn start_listener(cert: &Path, key: &Path) -> u16 {
    let tls = sealdb_http::tls_acceptor(cert, key).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Arc::new(XksServerConfig {
        uri_path: PATH.into(),
        credential: ProxyCredential {
            access_key_id: KEY_ID.into(),
            secret: SecretString::new(SECRET.into()),
        },
    });
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[5u8; 32]).unwrap());
    let backend: Arc<dyn XksBackend> = Arc::new(MemoryKey(key));
    std::thread::spawn(move || {
        rt.block_on(sealdb_http::xks::server::serve(
            listener,
            tls,
            config,
            backend,
            std::future::pending(),
        ));
    });
    port
}

fn endpoint(port: u16, secret: &str, path: &str) -> XksEndpoint {
    XksEndpoint {
        uri_endpoint: format!("https://127.0.0.1:{port}"),
        uri_path: path.into(),
        credential: ProxyCredential {
            access_key_id: KEY_ID.into(),
            secret: SecretString::new(secret.into()),
        },
        region: "us-east-1".into(),
    }
}

fn md(op: &str) -> RequestMetadata {
    RequestMetadata {
        aws_principal_arn: Some("arn:aws:iam::000000000000:root".into()),
        kms_operation: op.into(),
        kms_request_id: "r-1".into(),
        ..Default::default()
    }
}

fn refused(r: Result<impl std::fmt::Debug, XksCallError>) -> XksErrorName {
    match r {
        Err(XksCallError::Refused { name, .. }) => name,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn client_and_listener_speak_the_xks_api_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let port = start_listener(&cert, &key);
    let trust = XksTrust::from_ca_file(&ca, Duration::from_secs(5)).unwrap();
    let ep = endpoint(port, SECRET, PATH);
    let only_md = |op: &str| MetadataOnly {
        request_metadata: md(op),
    };

    assert_eq!(
        ep.health(&trust, &only_md("KmsHealthCheck"))
            .unwrap()
            .ekm_fleet_details
            .len(),
        1
    );
    assert_eq!(
        ep.metadata(&trust, "k1", &only_md("CreateKey"))
            .unwrap()
            .key_spec,
        "AES_256"
    );
    assert_eq!(
        refused(ep.metadata(&trust, "k2", &only_md("CreateKey"))),
        XksErrorName::KeyNotFound
    );

    let aad = Some(Blob(b"context".to_vec()));
    let enc = ep
        .encrypt(
            &trust,
            "k1",
            &EncryptRequest {
                request_metadata: md("Encrypt"),
                plaintext: SecretBlob(zeroize::Zeroizing::new(b"hello".to_vec())),
                encryption_algorithm: "AES_GCM".into(),
                additional_authenticated_data: aad.clone(),
                ciphertext_data_integrity_value_algorithm: None,
            },
        )
        .unwrap();
    let mut dec = DecryptRequest {
        request_metadata: md("Decrypt"),
        encryption_algorithm: "AES_GCM".into(),
        ciphertext: enc.ciphertext.clone(),
        initialization_vector: enc.initialization_vector.clone(),
        authentication_tag: enc.authentication_tag.clone(),
        additional_authenticated_data: aad,
        ciphertext_metadata: None,
    };
    assert_eq!(
        ep.decrypt(&trust, "k1", &dec)
            .unwrap()
            .plaintext
            .0
            .as_slice(),
        b"hello"
    );
    dec.additional_authenticated_data = Some(Blob(b"other".to_vec()));
    assert_eq!(
        refused(ep.decrypt(&trust, "k1", &dec)),
        XksErrorName::InvalidCiphertext
    );
    dec.encryption_algorithm = "RSAES_OAEP_SHA_256".into();
    assert_eq!(
        refused(ep.decrypt(&trust, "k1", &dec)),
        XksErrorName::Validation
    );

    // Another secret, another path: refused by name; request metadata is required.
    let wrong = endpoint(port, "someOtherSecretForTheXksListener0123456789ab", PATH);
    assert_eq!(
        refused(wrong.health(&trust, &only_md("KmsHealthCheck"))),
        XksErrorName::AuthenticationFailed
    );
    let elsewhere = endpoint(port, SECRET, "/kms/xks/v1");
    assert_eq!(
        refused(elsewhere.health(&trust, &only_md("KmsHealthCheck"))),
        XksErrorName::InvalidUriPath
    );
    assert_eq!(
        refused(ep.health(&trust, &only_md(""))),
        XksErrorName::Validation
    );

    // A CA that did not sign the proxy's certificate; nobody listening; nobody answering.
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = certificates(other.path());
    let untrusted = XksTrust::from_ca_file(&other_ca, Duration::from_secs(5)).unwrap();
    assert!(matches!(
        ep.health(&untrusted, &only_md("KmsHealthCheck")),
        Err(XksCallError::Tls(_))
    ));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = endpoint(closed.local_addr().unwrap().port(), SECRET, PATH);
    drop(closed);
    assert!(matches!(
        dead.health(&trust, &only_md("KmsHealthCheck")),
        Err(XksCallError::Unreachable(_))
    ));
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let quiet = endpoint(silent.local_addr().unwrap().port(), SECRET, PATH);
    let short = XksTrust::from_ca_file(&ca, Duration::from_millis(300)).unwrap();
    assert_eq!(
        quiet
            .health(&short, &only_md("KmsHealthCheck"))
            .unwrap_err(),
        XksCallError::TimedOut
    );
    drop(silent);
}
