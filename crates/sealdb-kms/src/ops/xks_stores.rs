//! CreateCustomKeyStore and UpdateCustomKeyStore for EXTERNAL_KEY_STORE stores: the
//! proxy settings are checked (the input checked their shape), the proxy's health is
//! asked with them before anything is written, and the secret is kept apart from the
//! record (the store's secret column of `keystore.db`).

use super::custom_key_stores::name_in_use;
use super::*;
use crate::custom_key_store::{ConnectionState, StoreRecord, StoreType, new_store_id};
use crate::error::XksFault;
use crate::xks::{self, PUBLIC_ENDPOINT, VPC_ENDPOINT_SERVICE, XksConfig};
use sealdb_common::secret::SecretString;

fn required(member: &str) -> KmsError {
    KmsError::Validation(format!(
        "{member} is required for custom key stores of type EXTERNAL_KEY_STORE."
    ))
}

/// Refuses what a VPC endpoint service store needs: this server has no VPCs, so the
/// service cannot be found, as AWS answers for a service it cannot find.
fn vpc_refused(xks: &XksMembers) -> Result<(), KmsError> {
    let name = xks
        .xks_proxy_vpc_endpoint_service_name
        .as_deref()
        .ok_or_else(|| required("XksProxyVpcEndpointServiceName"))?;
    Err(KmsError::Xks(
        XksFault::ProxyVpcEndpointServiceNotFound,
        format!(
            "KMS cannot find the VPC endpoint service {name}: this key service reaches external key store proxies over public endpoints only (XksProxyConnectivity PUBLIC_ENDPOINT)."
        ),
    ))
}

fn no_vpc_members(xks: &XksMembers) -> Result<(), KmsError> {
    if xks.xks_proxy_vpc_endpoint_service_name.is_some()
        || xks.xks_proxy_vpc_endpoint_service_owner.is_some()
    {
        return Err(KmsError::Validation(
            "XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner are valid only when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.".into(),
        ));
    }
    Ok(())
}

/// The credential of the request, both members present (the input checked them).
fn credential(xks: &XksMembers) -> Option<(String, SecretString)> {
    let c = xks.xks_proxy_authentication_credential.as_ref()?;
    Some((
        c.access_key_id.clone()?,
        c.raw_secret_access_key.as_ref()?.0.clone(),
    ))
}

impl Ctx<'_> {
    /// Refuses a proxy URI (endpoint and path) another store (other than `except`) uses.
    fn free_uri(&self, cfg: &XksConfig, except: Option<&str>) -> Result<(), KmsError> {
        for other in self.store.custom_key_stores()? {
            if Some(other.id.as_str()) == except {
                continue;
            }
            if let Some(o) = &other.xks
                && o.uri_endpoint == cfg.uri_endpoint
                && o.uri_path == cfg.uri_path
            {
                return Err(KmsError::Xks(
                    XksFault::ProxyUriInUse,
                    format!(
                        "The XksProxyUriEndpoint and XksProxyUriPath {}{} are already associated with custom key store {}.",
                        cfg.uri_endpoint, cfg.uri_path, other.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// GetHealthStatus with these settings, answering AWS's exceptions when it fails.
    fn proxy_healthy(
        &self,
        cfg: &XksConfig,
        secret: &SecretString,
        operation: &str,
    ) -> Result<(), KmsError> {
        let ep = cfg.endpoint(secret.clone(), &self.cfg.region);
        xks::check_health(&ep, &self.cks.xks_trust(), operation)
            .map_err(|f| xks::management_error(&f, cfg))
    }
}

/// CreateCustomKeyStore with CustomKeyStoreType EXTERNAL_KEY_STORE.
pub(super) fn create(
    c: &mut Ctx<'_>,
    input: &CreateCustomKeyStoreInput,
) -> Result<Value, KmsError> {
    if input.cloud_hsm_cluster_id.is_some()
        || input.trust_anchor_certificate.is_some()
        || input.key_store_password.is_some()
    {
        return Err(KmsError::Validation(
            "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are not valid for a custom key store of type EXTERNAL_KEY_STORE.".into(),
        ));
    }
    let x = &input.xks;
    let connectivity = x
        .xks_proxy_connectivity
        .as_deref()
        .ok_or_else(|| required("XksProxyConnectivity"))?;
    if connectivity == VPC_ENDPOINT_SERVICE {
        return vpc_refused(x).map(|()| json!({}));
    }
    no_vpc_members(x)?;
    let uri_endpoint = x
        .xks_proxy_uri_endpoint
        .clone()
        .ok_or_else(|| required("XksProxyUriEndpoint"))?;
    let uri_path = x
        .xks_proxy_uri_path
        .clone()
        .ok_or_else(|| required("XksProxyUriPath"))?;
    let (access_key_id, secret) =
        credential(x).ok_or_else(|| required("XksProxyAuthenticationCredential"))?;
    if c.name_taken(&input.custom_key_store_name, None)? {
        return Err(name_in_use(&input.custom_key_store_name));
    }
    let cfg = XksConfig {
        uri_endpoint,
        uri_path,
        connectivity: PUBLIC_ENDPOINT.to_owned(),
        access_key_id,
    };
    c.free_uri(&cfg, None)?;
    c.proxy_healthy(&cfg, &secret, "CreateCustomKeyStore")?;
    let rec = StoreRecord {
        v: crate::custom_key_store::STORE_RECORD_V2,
        id: new_store_id()?,
        name: input.custom_key_store_name.clone(),
        store_type: StoreType::ExternalKeyStore,
        created: now(c.cfg),
        cluster_id: None,
        trust_anchor: None,
        connect_requested: false,
        xks: Some(cfg),
    };
    c.store.put_custom_key_store(&rec, Some(&secret))?;
    Ok(json!({ "CustomKeyStoreId": rec.id }))
}

/// UpdateCustomKeyStore of an external key store: the name and the credential in
/// CONNECTED or DISCONNECTED, the proxy's URI and connectivity only while DISCONNECTED.
pub(super) fn update(
    c: &mut Ctx<'_>,
    input: &UpdateCustomKeyStoreInput,
    mut rec: StoreRecord,
) -> Result<Value, KmsError> {
    if input.key_store_password.is_some() || input.cloud_hsm_cluster_id.is_some() {
        return Err(KmsError::Validation(
            "KeyStorePassword and CloudHsmClusterId are not valid for a custom key store of type EXTERNAL_KEY_STORE.".into(),
        ));
    }
    let x = &input.xks;
    let state = c.cks.state(&rec.id).0;
    let moves = x.xks_proxy_uri_endpoint.is_some()
        || x.xks_proxy_uri_path.is_some()
        || x.xks_proxy_connectivity.is_some()
        || x.xks_proxy_vpc_endpoint_service_name.is_some()
        || x.xks_proxy_vpc_endpoint_service_owner.is_some();
    custom_key_stores::may_update(&rec.id, state, moves, "its proxy URI or connectivity")?;
    if x.xks_proxy_connectivity.as_deref() == Some(VPC_ENDPOINT_SERVICE) {
        return vpc_refused(x).map(|()| json!({}));
    }
    no_vpc_members(x)?;
    if let Some(name) = &input.new_custom_key_store_name {
        if c.name_taken(name, Some(&rec.id))? {
            return Err(name_in_use(name));
        }
        rec.name.clone_from(name);
    }
    let mut cfg = rec.xks.clone().ok_or(KmsError::Internal)?;
    if let Some(e) = &x.xks_proxy_uri_endpoint {
        cfg.uri_endpoint.clone_from(e);
    }
    if let Some(p) = &x.xks_proxy_uri_path {
        cfg.uri_path.clone_from(p);
    }
    let new_secret = match x.xks_proxy_authentication_credential {
        Some(_) => {
            let (id, secret) =
                credential(x).ok_or_else(|| required("XksProxyAuthenticationCredential"))?;
            cfg.access_key_id = id;
            Some(secret)
        }
        None => None,
    };
    if Some(&cfg) != rec.xks.as_ref() || new_secret.is_some() {
        c.free_uri(&cfg, Some(&rec.id))?;
        let secret = match &new_secret {
            Some(s) => s.clone(),
            None => c
                .store
                .custom_key_store_password(&rec.id)?
                .ok_or(KmsError::Internal)?,
        };
        c.proxy_healthy(&cfg, &secret, "UpdateCustomKeyStore")?;
        if state == ConnectionState::Connected {
            // The live connection signs with the new credential from now on.
            c.cks
                .replace_proxy(&rec.id, cfg.endpoint(secret, &c.cfg.region));
        }
    }
    rec.xks = Some(cfg);
    rec.v = crate::custom_key_store::STORE_RECORD_V2;
    c.store.put_custom_key_store(&rec, new_secret.as_ref())?;
    Ok(json!({}))
}
