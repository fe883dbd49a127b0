//! Inputs of the custom key store operations (botocore `kms/2014-11-01`).

use super::{KmsInput, Paging, Violations};
use serde::{Deserialize, Deserializer};

/// CustomKeyStoreType: AWS's enum (both are made here).
pub(crate) const CUSTOM_KEY_STORE_TYPES: &[&str] = &["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// `KeyStorePassword` (the kmsuser password, here the token's user PIN): wiped on
/// drop, never printed, never audited.
pub(crate) struct Password(pub(crate) sealdb_common::secret::SecretString);

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Password(sealdb_common::secret::SecretString::new(s)))
    }
}

impl Password {
    fn check(&self, v: &mut Violations) {
        // Sensitive: AWS does not quote the value.
        let n = self.0.expose().chars().count();
        if n < 7 {
            v.push("Value at 'keyStorePassword' failed to satisfy constraint: Member must have length greater than or equal to 7");
        } else if n > 32 {
            v.push("Value at 'keyStorePassword' failed to satisfy constraint: Member must have length less than or equal to 32");
        }
    }
}

/// XksProxyAuthenticationCredential: the secret is wiped on drop, never printed, never
/// audited.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct XksCredentialInput {
    pub(crate) access_key_id: Option<String>,
    pub(crate) raw_secret_access_key: Option<Password>,
}

/// The XKS members (EXTERNAL_KEY_STORE stores; AWS_CLOUDHSM stores refuse them).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct XksMembers {
    pub(crate) xks_proxy_uri_endpoint: Option<String>,
    pub(crate) xks_proxy_uri_path: Option<String>,
    pub(crate) xks_proxy_vpc_endpoint_service_name: Option<String>,
    pub(crate) xks_proxy_vpc_endpoint_service_owner: Option<String>,
    pub(crate) xks_proxy_authentication_credential: Option<XksCredentialInput>,
    pub(crate) xks_proxy_connectivity: Option<String>,
}

/// XksProxyConnectivityType.
pub(crate) const XKS_CONNECTIVITY: &[&str] = &["PUBLIC_ENDPOINT", "VPC_ENDPOINT_SERVICE"];

fn pattern(v: &mut Violations, member: &str, value: Option<&str>, ok: bool, re: &str) {
    if let Some(s) = value
        && !ok
    {
        v.push(format!(
            "Value '{s}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {re}"
        ));
    }
}

/// `^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`, AWS's XksProxyUriPath.
pub(crate) fn uri_path_ok(p: &str) -> bool {
    let Some((prefix, version)) = p.rsplit_once("/kms/xks/v") else {
        return false;
    };
    let version_ok =
        (1..=2).contains(&version.len()) && version.bytes().all(|b| b.is_ascii_digit());
    let prefix_ok = prefix.is_empty()
        || (prefix.len() > 1
            && prefix.starts_with('/')
            && prefix[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b)));
    version_ok && prefix_ok
}

impl XksMembers {
    pub(crate) fn any(&self) -> bool {
        self.xks_proxy_uri_endpoint.is_some()
            || self.xks_proxy_uri_path.is_some()
            || self.xks_proxy_vpc_endpoint_service_name.is_some()
            || self.xks_proxy_vpc_endpoint_service_owner.is_some()
            || self.xks_proxy_authentication_credential.is_some()
            || self.xks_proxy_connectivity.is_some()
    }

    fn check(&self, v: &mut Violations) {
        let endpoint = self.xks_proxy_uri_endpoint.as_deref();
        v.length("XksProxyUriEndpoint", endpoint, 10, 128);
        pattern(
            v,
            "xksProxyUriEndpoint",
            endpoint,
            endpoint.is_none_or(|e| {
                e.strip_prefix("https://").is_some_and(|h| {
                    !h.is_empty()
                        && h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".:-".contains(&b))
                })
            }),
            "^https://[.:a-zA-Z0-9-]+$",
        );
        let path = self.xks_proxy_uri_path.as_deref();
        v.length("XksProxyUriPath", path, 10, 128);
        pattern(
            v,
            "xksProxyUriPath",
            path,
            path.is_none_or(uri_path_ok),
            "^(/[a-zA-Z0-9\\/_-]+/kms/xks/v\\d{1,2})$|^(/kms/xks/v\\d{1,2})$",
        );
        v.length(
            "XksProxyVpcEndpointServiceName",
            self.xks_proxy_vpc_endpoint_service_name.as_deref(),
            20,
            64,
        );
        let owner = self.xks_proxy_vpc_endpoint_service_owner.as_deref();
        v.length("XksProxyVpcEndpointServiceOwner", owner, 12, 12);
        v.one_of(
            "XksProxyConnectivity",
            self.xks_proxy_connectivity.as_deref(),
            XKS_CONNECTIVITY,
        );
        if let Some(c) = &self.xks_proxy_authentication_credential {
            let id = c.access_key_id.as_deref();
            match id {
                None => v.push("Value null at 'xksProxyAuthenticationCredential.accessKeyId' failed to satisfy constraint: Member must not be null"),
                Some(id) => {
                    let n = id.chars().count();
                    if !(20..=30).contains(&n) {
                        v.push(format!("Value '{id}' at 'xksProxyAuthenticationCredential.accessKeyId' failed to satisfy constraint: Member must have length less than or equal to 30 and greater than or equal to 20"));
                    }
                    pattern(
                        v,
                        "xksProxyAuthenticationCredential.accessKeyId",
                        Some(id),
                        id.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
                        "^[A-Z2-7]+$",
                    );
                }
            }
            match &c.raw_secret_access_key {
                None => v.push("Value null at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must not be null"),
                Some(secret) => {
                    // Sensitive: AWS does not quote the value.
                    let s = secret.0.expose();
                    let n = s.chars().count();
                    if !(43..=64).contains(&n) {
                        v.push("Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must have length less than or equal to 64 and greater than or equal to 43");
                    } else if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/+=".contains(&b)) {
                        v.push("Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\/+=]+$");
                    }
                }
            }
        }
    }
}

fn check_cluster_id(v: &mut Violations, id: Option<&str>) {
    let Some(s) = id else { return };
    v.length("CloudHsmClusterId", Some(s), 19, 24);
    let ok = s.strip_prefix("cluster-").is_some_and(|rest| {
        (11..=16).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_alphabetic() || ('2'..='7').contains(&c))
    });
    if !ok && (19..=24).contains(&s.chars().count()) {
        v.push(format!(
            "Value '{s}' at 'cloudHsmClusterId' failed to satisfy constraint: Member must satisfy regular expression pattern: cluster-[2-7a-zA-Z]{{11,16}}"
        ));
    }
}

/// CreateCustomKeyStore.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateCustomKeyStoreInput {
    pub(crate) custom_key_store_name: String,
    pub(crate) cloud_hsm_cluster_id: Option<String>,
    pub(crate) trust_anchor_certificate: Option<String>,
    pub(crate) key_store_password: Option<Password>,
    pub(crate) custom_key_store_type: Option<String>,
    #[serde(flatten)]
    pub(crate) xks: XksMembers,
}

impl KmsInput for CreateCustomKeyStoreInput {
    const REQUIRED: &'static [&'static str] = &["CustomKeyStoreName"];
    fn check(&self, v: &mut Violations) {
        v.length(
            "CustomKeyStoreName",
            Some(&self.custom_key_store_name),
            1,
            256,
        );
        check_cluster_id(v, self.cloud_hsm_cluster_id.as_deref());
        if let Some(t) = &self.trust_anchor_certificate
            && (t.is_empty() || t.chars().count() > 5000)
        {
            v.push("Value at 'trustAnchorCertificate' failed to satisfy constraint: Member must have length less than or equal to 5000 and greater than or equal to 1");
        }
        if let Some(p) = &self.key_store_password {
            p.check(v);
        }
        v.one_of(
            "CustomKeyStoreType",
            self.custom_key_store_type.as_deref(),
            CUSTOM_KEY_STORE_TYPES,
        );
        self.xks.check(v);
    }
}

/// DescribeCustomKeyStores.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeCustomKeyStoresInput {
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) custom_key_store_name: Option<String>,
    #[serde(flatten)]
    pub(crate) paging: Paging,
}

impl KmsInput for DescribeCustomKeyStoresInput {
    fn check(&self, v: &mut Violations) {
        v.length(
            "CustomKeyStoreId",
            self.custom_key_store_id.as_deref(),
            1,
            64,
        );
        v.length(
            "CustomKeyStoreName",
            self.custom_key_store_name.as_deref(),
            1,
            256,
        );
        self.paging.check(v, 1000);
    }
}

/// UpdateCustomKeyStore.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateCustomKeyStoreInput {
    pub(crate) custom_key_store_id: String,
    pub(crate) new_custom_key_store_name: Option<String>,
    pub(crate) key_store_password: Option<Password>,
    pub(crate) cloud_hsm_cluster_id: Option<String>,
    #[serde(flatten)]
    pub(crate) xks: XksMembers,
}

impl KmsInput for UpdateCustomKeyStoreInput {
    const REQUIRED: &'static [&'static str] = &["CustomKeyStoreId"];
    fn check(&self, v: &mut Violations) {
        v.length("CustomKeyStoreId", Some(&self.custom_key_store_id), 1, 64);
        v.length(
            "NewCustomKeyStoreName",
            self.new_custom_key_store_name.as_deref(),
            1,
            256,
        );
        if let Some(p) = &self.key_store_password {
            p.check(v);
        }
        check_cluster_id(v, self.cloud_hsm_cluster_id.as_deref());
        self.xks.check(v);
    }
}

/// ConnectCustomKeyStore, DisconnectCustomKeyStore and DeleteCustomKeyStore.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CustomKeyStoreIdInput {
    pub(crate) custom_key_store_id: String,
}

impl KmsInput for CustomKeyStoreIdInput {
    const REQUIRED: &'static [&'static str] = &["CustomKeyStoreId"];
    fn check(&self, v: &mut Violations) {
        v.length("CustomKeyStoreId", Some(&self.custom_key_store_id), 1, 64);
    }
}
