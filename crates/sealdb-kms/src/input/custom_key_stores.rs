//! Inputs of the custom key store operations (botocore `kms/2014-11-01`).

use super::{KmsInput, Paging, Violations};
use serde::{Deserialize, Deserializer};

/// CustomKeyStoreType: AWS's enum (this service makes AWS_CLOUDHSM stores).
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

/// The XKS members, which AWS_CLOUDHSM stores do not take (kept so that a request
/// naming them is refused, not silently ignored).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct XksMembers {
    pub(crate) xks_proxy_uri_endpoint: Option<String>,
    pub(crate) xks_proxy_uri_path: Option<String>,
    pub(crate) xks_proxy_vpc_endpoint_service_name: Option<String>,
    pub(crate) xks_proxy_vpc_endpoint_service_owner: Option<String>,
    pub(crate) xks_proxy_authentication_credential: Option<serde_json::Value>,
    pub(crate) xks_proxy_connectivity: Option<String>,
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
