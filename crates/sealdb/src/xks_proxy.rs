//! `sealdb xks-proxy`: an AWS XKS proxy (external key store) in front of a PKCS#11
//! token. KMS (AWS's or sealdb's) calls it over HTTPS with SigV4 (`kms-xks-proxy`);
//! the external keys are non-extractable AES-256 keys of the token, the external key
//! id is the key's label, and AES-GCM runs inside the token, so key material never
//! enters this process. `--create-key` makes keys at start; `--disabled-key` answers a
//! key as DISABLED (an operator switch, and how tests see KMS refuse such a key).

use crate::root_of_trust::secret_input::read_secret_file;
use clap::Args;
use sealdb_hsm::{GcmSealed, HsmError, Pkcs11Token, TokenConfig, TokenSelector};
use sealdb_http::xks::server::{XksBackend, XksServerConfig};
use sealdb_http::xks::{
    Blob, DecryptRequest, DecryptResponse, EkmInstance, EncryptRequest, EncryptResponse,
    HealthStatus, KeyMetadata, ProxyCredential, RequestMetadata, SecretBlob, XksError,
    XksErrorName,
};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `sealdb xks-proxy`.
#[derive(Args)]
pub(crate) struct XksProxyArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SEALDB_XKS_LISTEN", default_value = "127.0.0.1:8443")]
    listen: String,
    /// TLS certificate chain (PEM). The proxy serves HTTPS only, as KMS requires.
    #[arg(long, env = "SEALDB_XKS_TLS_CERT")]
    tls_cert: PathBuf,
    /// TLS private key (PEM).
    #[arg(long, env = "SEALDB_XKS_TLS_KEY")]
    tls_key: PathBuf,
    /// The URI path prefix (the key store's XksProxyUriPath).
    #[arg(long, env = "SEALDB_XKS_URI_PATH", default_value = "/kms/xks/v1")]
    uri_path: String,
    /// The access key id KMS signs with (the key store's
    /// XksProxyAuthenticationCredential AccessKeyId).
    #[arg(long, env = "SEALDB_XKS_ACCESS_KEY_ID")]
    access_key_id: String,
    /// File (mode 0600) holding the matching RawSecretAccessKey.
    #[arg(long, env = "SEALDB_XKS_SECRET_FILE")]
    secret_access_key_file: PathBuf,
    /// The PKCS#11 module holding the external keys.
    #[arg(long, env = "SEALDB_XKS_PKCS11_MODULE")]
    pkcs11_module: PathBuf,
    /// The token, by label.
    #[arg(long, env = "SEALDB_XKS_PKCS11_TOKEN_LABEL")]
    pkcs11_token_label: String,
    /// File (mode 0600) holding the token's user PIN.
    #[arg(long, env = "SEALDB_XKS_PKCS11_PIN_FILE")]
    pkcs11_pin_file: PathBuf,
    /// Makes an AES-256 key with this label (external key id) at start unless the token
    /// has one. Repeatable.
    #[arg(long = "create-key")]
    create_keys: Vec<String>,
    /// Answers the key with this label as DISABLED (InvalidStateException). Repeatable.
    #[arg(long = "disabled-key")]
    disabled_keys: Vec<String>,
}

/// The external keys of one token.
struct TokenKeys {
    token: Pkcs11Token,
    disabled: HashSet<String>,
}

fn hsm_error(e: &HsmError) -> XksError {
    match e {
        HsmError::KeyNotFound { .. } => {
            XksError::new(XksErrorName::KeyNotFound, "External key not found")
        }
        HsmError::Decrypt { .. } => XksError::new(
            XksErrorName::InvalidCiphertext,
            "The ciphertext, IV, tag or additional authenticated data do not decrypt",
        ),
        other => {
            tracing::error!(error = %other, "PKCS#11 operation failed");
            XksError::new(XksErrorName::Internal, "The key manager failed")
        }
    }
}

impl TokenKeys {
    /// The key must exist and be enabled.
    fn usable(&self, key_id: &str) -> Result<(), XksError> {
        if !self.token.has_key(key_id).map_err(|e| hsm_error(&e))? {
            return Err(XksError::new(
                XksErrorName::KeyNotFound,
                format!("External key {key_id} not found"),
            ));
        }
        if self.disabled.contains(key_id) {
            return Err(XksError::new(
                XksErrorName::InvalidState,
                format!("External key {key_id} is disabled"),
            ));
        }
        Ok(())
    }
}

fn aad(b: Option<&Blob>) -> &[u8] {
    b.map_or(&[][..], |b| b.0.as_slice())
}

impl XksBackend for TokenKeys {
    fn health(&self) -> Result<HealthStatus, XksError> {
        // A token that no longer answers a key search is UNAVAILABLE.
        let status = match self.token.has_key("sealdb-xks-health-probe") {
            Ok(_) => "ACTIVE",
            Err(_) => "UNAVAILABLE",
        };
        Ok(HealthStatus {
            xks_proxy_fleet_size: 1,
            xks_proxy_vendor: "sealdb".into(),
            xks_proxy_model: format!("sealdb xks-proxy {}", env!("CARGO_PKG_VERSION")),
            ekm_vendor: "PKCS#11".into(),
            ekm_fleet_details: vec![EkmInstance {
                id: self.token.serial().to_owned(),
                model: self.token.label().to_owned(),
                health_status: status.into(),
            }],
        })
    }

    fn metadata(&self, key_id: &str, _md: &RequestMetadata) -> Result<KeyMetadata, XksError> {
        if !self.token.has_key(key_id).map_err(|e| hsm_error(&e))? {
            return Err(XksError::new(
                XksErrorName::KeyNotFound,
                format!("External key {key_id} not found"),
            ));
        }
        Ok(KeyMetadata {
            key_spec: "AES_256".into(),
            key_usage: vec!["ENCRYPT".into(), "DECRYPT".into()],
            key_status: if self.disabled.contains(key_id) {
                "DISABLED".into()
            } else {
                "ENABLED".into()
            },
        })
    }

    fn encrypt(&self, key_id: &str, req: &EncryptRequest) -> Result<EncryptResponse, XksError> {
        self.usable(key_id)?;
        // The integrity value is optional in answers: SHA_256 is accepted, none is given.
        if let Some(alg) = req.ciphertext_data_integrity_value_algorithm.as_deref()
            && alg != "SHA_256"
        {
            return Err(XksError::new(
                XksErrorName::Validation,
                format!("ciphertextDataIntegrityValueAlgorithm {alg} is not supported: SHA_256"),
            ));
        }
        let sealed = self
            .token
            .encrypt_gcm(
                key_id,
                aad(req.additional_authenticated_data.as_ref()),
                req.plaintext.0.as_slice(),
            )
            .map_err(|e| hsm_error(&e))?;
        let mut ct = sealed.ciphertext;
        let tag = ct.split_off(ct.len().saturating_sub(16));
        Ok(EncryptResponse {
            authentication_tag: Blob(tag),
            ciphertext: Blob(ct),
            initialization_vector: Blob(sealed.iv.to_vec()),
            ciphertext_metadata: None,
            ciphertext_data_integrity_value: None,
        })
    }

    fn decrypt(&self, key_id: &str, req: &DecryptRequest) -> Result<DecryptResponse, XksError> {
        self.usable(key_id)?;
        let invalid = || {
            XksError::new(
                XksErrorName::InvalidCiphertext,
                "The ciphertext, IV, tag or ciphertext metadata are not valid",
            )
        };
        // This proxy never returns ciphertextMetadata, so none given can be genuine.
        if req
            .ciphertext_metadata
            .as_ref()
            .is_some_and(|m| !m.0.is_empty())
        {
            return Err(invalid());
        }
        let iv: [u8; 12] = req
            .initialization_vector
            .0
            .as_slice()
            .try_into()
            .map_err(|_| invalid())?;
        if req.authentication_tag.0.len() != 16 {
            return Err(invalid());
        }
        let mut ciphertext = req.ciphertext.0.clone();
        ciphertext.extend_from_slice(&req.authentication_tag.0);
        let plain = self
            .token
            .decrypt_gcm(
                key_id,
                aad(req.additional_authenticated_data.as_ref()),
                &GcmSealed { iv, ciphertext },
            )
            .map_err(|e| hsm_error(&e))?;
        Ok(DecryptResponse {
            plaintext: SecretBlob(plain),
        })
    }
}

/// The URI path pattern KMS accepts for XksProxyUriPath.
fn uri_path_ok(p: &str) -> bool {
    let Some(prefix) = p.strip_suffix("/kms/xks/v1") else {
        return false;
    };
    prefix.is_empty()
        || (prefix.starts_with('/')
            && prefix.len() > 1
            && prefix[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b)))
}

pub(crate) fn run(args: XksProxyArgs) -> Result<(), String> {
    if !uri_path_ok(&args.uri_path) {
        return Err(format!(
            "--uri-path {:?} must be /kms/xks/v1 or end in it after a prefix of [a-zA-Z0-9/_-]",
            args.uri_path
        ));
    }
    let secret = read_secret_file(&args.secret_access_key_file, "XKS proxy secret access key")?;
    let pin = read_secret_file(&args.pkcs11_pin_file, "PKCS#11 PIN")?;
    let token = Pkcs11Token::open(&TokenConfig {
        module: args.pkcs11_module.clone(),
        token: TokenSelector::Label(args.pkcs11_token_label.clone()),
        pin,
    })
    .map_err(|e| e.to_string())?;
    for label in &args.create_keys {
        if !token.has_key(label).map_err(|e| e.to_string())? {
            token.generate_aes256(label).map_err(|e| e.to_string())?;
        }
    }
    let tls =
        sealdb_http::tls_acceptor(&args.tls_cert, &args.tls_key).map_err(|e| e.to_string())?;
    let backend = Arc::new(TokenKeys {
        token,
        disabled: args.disabled_keys.iter().cloned().collect(),
    });
    let config = Arc::new(XksServerConfig {
        uri_path: args.uri_path.clone(),
        credential: ProxyCredential {
            access_key_id: args.access_key_id.clone(),
            secret,
        },
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        println!(
            "sealdb xks-proxy listening on https://{local}{}",
            args.uri_path
        );
        sealdb_http::xks::server::serve(listener, tls, config, backend, crate::shutdown_signal())
            .await;
        Ok::<(), String>(())
    })
}

#[cfg(test)]
mod tests {
    use super::uri_path_ok;

    #[test]
    fn uri_paths_follow_kms_pattern() {
        for ok in ["/kms/xks/v1", "/tenant-1/kms/xks/v1", "/a/b_c/kms/xks/v1"] {
            assert!(uri_path_ok(ok), "{ok}");
        }
        for bad in [
            "/kms/xks/v2",
            "kms/xks/v1",
            "/a b/kms/xks/v1",
            "//kms/xks/v1x",
            "/",
        ] {
            assert!(!uri_path_ok(bad), "{bad}");
        }
    }
}
