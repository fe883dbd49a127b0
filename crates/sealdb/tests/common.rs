//! Test harness: a real `sealdb serve` process on an ephemeral port, in a temp data
//! dir, driven by the real aws-sdk-dynamodb with real SigV4.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "AKIDSEALDBTEST0000001";
pub const SECRET_KEY: &str = "sealdbTestSecretKey0000000000000000000000";

/// A running server; killed on drop.
pub struct Server {
    child: Option<Child>,
    pub endpoint: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh data dir.
    pub fn start() -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut s = Server::start_on(&dir);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on the given data dir.
    pub fn start_on(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// Starts a server on the given data dir with more `serve` flags.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(dir, extra, &[])
    }

    /// [`Server::start_with`] with more environment variables.
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .envs(env.iter().copied())
            .env("SEALDB_ACCESS_KEY_ID", ACCESS_KEY)
            .env("SEALDB_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sealdb");
        let stdout = child.stdout.take().expect("stdout");
        let endpoint = wait_for_endpoint(stdout).expect("server did not start");
        Server {
            child: Some(child),
            endpoint,
            data_dir: dir.to_owned(),
            _tmp: None,
        }
    }

    /// Stops the server with SIGTERM and waits for it (dropping a `Server` kills it with SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = i32::try_from(child.id()).expect("pid");
            // SAFETY-free: `kill` via the command line keeps `unsafe` out of the tests.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Waits for the server to exit by itself (a crash point), up to a minute.
    pub fn wait_exit(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// A DynamoDB client for this server.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        client_with(&self.endpoint, ACCESS_KEY, SECRET_KEY)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads a starting server's stdout until its "sealdb listening on " line and returns the
/// endpoint, or `None` when stdout closes first or 30 s pass. A thread keeps draining
/// stdout afterwards so that the server never blocks on a full pipe.
pub fn wait_for_endpoint(stdout: ChildStdout) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ep) = line.strip_prefix("sealdb listening on ") {
                let _ = tx.send(ep.to_owned());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).ok()
}

/// A client with the given credentials.
pub fn client_with(endpoint: &str, akid: &str, secret: &str) -> aws_sdk_dynamodb::Client {
    client_in(endpoint, akid, secret, "us-east-1")
}

/// A client with the given credentials, configured for `region`.
pub fn client_in(
    endpoint: &str,
    akid: &str,
    secret: &str,
    region: &'static str,
) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(akid, secret, None, None, "test"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

impl Server {
    /// A KMS client for this server.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        self.kms_in("us-east-1")
    }

    /// A KMS client for this server, configured for `region`.
    pub fn kms_in(&self, region: &'static str) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(region))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }
}

/// An attribute definition for CreateTable.
pub fn attr_def(
    name: &str,
    t: aws_sdk_dynamodb::types::ScalarAttributeType,
) -> aws_sdk_dynamodb::types::AttributeDefinition {
    aws_sdk_dynamodb::types::AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .unwrap()
}

/// A key schema element for CreateTable and index definitions.
pub fn key_elem(
    name: &str,
    t: aws_sdk_dynamodb::types::KeyType,
) -> aws_sdk_dynamodb::types::KeySchemaElement {
    aws_sdk_dynamodb::types::KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .unwrap()
}

/// Imports `material` into the EXTERNAL-origin key `key_id` as a KMS user does: import
/// parameters (RSAES_OAEP_SHA_256, RSA 2048), the material wrapped under their public key,
/// ImportKeyMaterial with KEY_MATERIAL_DOES_NOT_EXPIRE.
pub async fn import_key_material(kms: &aws_sdk_kms::Client, key_id: &str, material: &[u8]) {
    use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, WrappingKeySpec};
    let params = kms
        .get_parameters_for_import()
        .key_id(key_id)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    let public = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(
        aws_lc_rs::rsa::PublicEncryptingKey::from_der(params.public_key().unwrap().as_ref())
            .unwrap(),
    )
    .unwrap();
    let mut out = vec![0u8; public.ciphertext_size()];
    let wrapped = public
        .encrypt(
            &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
            material,
            &mut out,
            None,
        )
        .unwrap()
        .to_vec();
    kms.import_key_material()
        .key_id(key_id)
        .import_token(params.import_token().unwrap().clone())
        .encrypted_key_material(aws_sdk_kms::primitives::Blob::new(wrapped))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
}
