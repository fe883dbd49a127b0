//! The KMS operations.

use crate::KmsConfig;
use crate::asym;
use crate::crypto;
use crate::error::{KmsError, validation};
use crate::operation::Operation;
use crate::policy::{self, Verdict};
use crate::store::{Alias, Grant, KeyRecord, Rotation, Store};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealdb_common::Principal;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const DAY: f64 = 86_400.0;
const DYNAMODB_ALIAS: &str = "alias/aws/dynamodb";
const DYNAMODB_KEY_DESCRIPTION: &str =
    "Default key that protects my DynamoDB data when no other key is defined";
const GRANT_OPERATIONS: [&str; 18] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
];

/// What one call works with.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a Store,
    pub(crate) cfg: &'a KmsConfig,
    pub(crate) caller: &'a Principal,
    pub(crate) via_service: Option<String>,
    /// The key ARN the call acted on (for the audit record).
    pub(crate) resource: Option<String>,
}

/// What a requested grant would allow (checked against the caller's own grant).
pub(crate) struct GrantShape<'a> {
    pub(crate) operations: &'a [String],
    pub(crate) subset: Option<&'a BTreeMap<String, String>>,
    pub(crate) equals: Option<&'a BTreeMap<String, String>>,
}

impl GrantShape<'_> {
    /// True when everything this grant allows, `parent` allows too.
    fn is_covered_by(&self, parent: &Grant) -> bool {
        let ops_ok = self
            .operations
            .iter()
            .all(|o| parent.operations.iter().any(|p| p == o));
        let includes = |wide: &BTreeMap<String, String>, narrow: &BTreeMap<String, String>| {
            wide.iter().all(|(k, v)| narrow.get(k) == Some(v))
        };
        let constraints_ok = match (&parent.context_equals, &parent.context_subset) {
            // An exact context stays exact.
            (Some(e), _) => self.equals == Some(e) && self.subset.is_none_or(|s| includes(s, e)),
            // Pairs the parent requires must be required by the child too.
            (None, Some(s)) => {
                self.equals.is_some_and(|e| includes(s, e))
                    || self.subset.is_some_and(|c| includes(s, c))
            }
            (None, None) => true,
        };
        ops_ok && constraints_ok
    }
}

fn now(cfg: &KmsConfig) -> f64 {
    cfg.clock.now_epoch_seconds_f64()
}

fn ser(member: &str) -> KmsError {
    KmsError::Serialization(format!(
        "Unexpected value type in payload for member {member}"
    ))
}

fn lower_camel(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn opt_str<'v>(input: &'v Value, k: &str) -> Result<Option<&'v str>, KmsError> {
    match input.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ser(k)),
    }
}

fn req_str<'v>(input: &'v Value, k: &str) -> Result<&'v str, KmsError> {
    opt_str(input, k)?.ok_or_else(|| {
        validation(format!(
            "Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_camel(k)
        ))
    })
}

fn opt_bool(input: &Value, k: &str) -> Result<Option<bool>, KmsError> {
    match input.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ser(k)),
    }
}

fn opt_int(input: &Value, k: &str) -> Result<Option<i64>, KmsError> {
    match input.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| ser(k)),
    }
}

fn opt_f64(input: &Value, k: &str) -> Result<Option<f64>, KmsError> {
    match input.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| ser(k)),
    }
}

fn blob(input: &Value, k: &str) -> Result<Option<Vec<u8>>, KmsError> {
    match opt_str(input, k)? {
        None => Ok(None),
        Some(s) => B64
            .decode(s)
            .map(Some)
            .map_err(|_| KmsError::Serialization(format!("Invalid base64 in member {k}"))),
    }
}

fn context(input: &Value, k: &str) -> Result<BTreeMap<String, String>, KmsError> {
    match input.get(k) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(a, b)| {
                b.as_str()
                    .map(|s| (a.clone(), s.to_owned()))
                    .ok_or_else(|| ser(k))
            })
            .collect(),
        Some(_) => Err(ser(k)),
    }
}

fn int_range(v: i64, lo: i64, hi: i64, member: &str) -> Result<(), KmsError> {
    if v < lo {
        return Err(validation(format!(
            "Value '{v}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {lo}"
        )));
    }
    if v > hi {
        return Err(validation(format!(
            "Value '{v}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {hi}"
        )));
    }
    Ok(())
}

impl Ctx<'_> {
    fn key_arn(&self, id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{id}",
            self.cfg.region, self.cfg.account_id
        )
    }

    fn alias_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:{name}",
            self.cfg.region, self.cfg.account_id
        )
    }

    fn not_found_key(&self, id: &str) -> KmsError {
        KmsError::NotFound(format!("Key '{}' does not exist", self.key_arn(id)))
    }

    /// Deletes keys whose deletion window has passed.
    pub(crate) fn purge_deleted_keys(&self) -> Result<(), KmsError> {
        let t = now(self.cfg);
        for mut k in self.store.keys()? {
            if k.state == "PendingDeletion" && k.deletion_date.is_some_and(|d| d <= t) {
                self.store.delete_key(&k.id)?;
            } else if k.valid_to.is_some_and(|v| v <= t) && k.origin == "EXTERNAL" {
                // Expired imported material: gone, as if deleted.
                self.store.delete_material(&k.id, 1)?;
                k.valid_to = None;
                if k.state != "PendingDeletion" {
                    k.state = "PendingImport".into();
                }
                self.store.put_key(&k)?;
            }
        }
        Ok(())
    }

    /// Resolves a key identifier. `aliases` says whether alias names/ARNs are accepted.
    fn resolve(&mut self, id: &str, aliases: bool) -> Result<KeyRecord, KmsError> {
        let prefix = format!("arn:aws:kms:{}:{}:", self.cfg.region, self.cfg.account_id);
        let rest = if let Some(r) = id.strip_prefix(&prefix) {
            r
        } else if let Some(r) = id.strip_prefix("arn:") {
            let region = r.split(':').nth(2).unwrap_or("");
            return Err(KmsError::NotFound(format!("Invalid arn {region}")));
        } else {
            id
        };
        let key_id = if let Some(k) = rest.strip_prefix("key/") {
            k.to_owned()
        } else if rest.starts_with("alias/") {
            if !aliases {
                return Err(KmsError::NotFound(format!("Invalid keyId {id}")));
            }
            match self.store.alias(rest)? {
                Some(Alias {
                    key_id: Some(k), ..
                }) => k,
                _ if rest == DYNAMODB_ALIAS => self.create_managed_dynamodb_key()?,
                _ => {
                    return Err(KmsError::NotFound(format!(
                        "Alias {} is not found.",
                        self.alias_arn(rest)
                    )));
                }
            }
        } else {
            rest.to_owned()
        };
        if uuid::Uuid::parse_str(&key_id).is_err() {
            return Err(KmsError::NotFound(format!("Invalid keyId {id}")));
        }
        let k = self
            .store
            .key(&key_id)?
            .ok_or_else(|| self.not_found_key(&key_id))?;
        self.resource = Some(self.key_arn(&k.id));
        Ok(k)
    }

    /// The AWS managed key of DynamoDB, created the first time something asks for it.
    fn create_managed_dynamodb_key(&self) -> Result<String, KmsError> {
        let id = uuid::Uuid::new_v4().to_string();
        let t = now(self.cfg);
        let rec = KeyRecord {
            id: id.clone(),
            created: t,
            description: DYNAMODB_KEY_DESCRIPTION.into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            origin: "AWS_KMS".into(),
            state: "Enabled".into(),
            deletion_date: None,
            key_manager: "AWS".into(),
            policy: policy::dynamodb_managed_policy(&self.cfg.account_id, &self.cfg.region),
            tags: Vec::new(),
            rotation_enabled: true,
            rotation_period_days: 365,
            last_rotation: t,
            current_version: 1,
            rotations: Vec::new(),
            valid_to: None,
            expiration_model: None,
            imported_hash: None,
            import_params: None,
        };
        self.store.put_key(&rec)?;
        self.store.put_material(&id, 1, &crypto::random(32)?)?;
        self.store.put_alias(&Alias {
            name: DYNAMODB_ALIAS.into(),
            key_id: Some(id.clone()),
            created: t,
            updated: t,
        })?;
        Ok(id)
    }

    /// The key policy's verdict on `kms:<action>` by the caller.
    fn policy_verdict(
        &self,
        key: &KeyRecord,
        action: &str,
        ctx: &BTreeMap<String, String>,
    ) -> Verdict {
        let req = policy::Request {
            principal_arn: &self.caller.arn,
            account_id: &self.cfg.account_id,
            action: &format!("kms:{action}"),
            context: ctx,
            via_service: self.via_service.as_deref(),
        };
        policy::evaluate(&key.policy, &req)
    }

    /// Who grants are matched against: the service when one acts, else the caller.
    fn grantee(&self) -> String {
        self.via_service
            .clone()
            .unwrap_or_else(|| self.caller.arn.clone())
    }

    /// The caller's grants on `key` that include `op`.
    fn grants_with(&self, key: &KeyRecord, op: &str) -> Result<Vec<Grant>, KmsError> {
        let grantee = self.grantee();
        Ok(self
            .store
            .grants(Some(&key.id))?
            .into_iter()
            .filter(|g| g.grantee == grantee && g.operations.iter().any(|o| o == op))
            .collect())
    }

    /// Key policy, then grants. `grant_op` is the grant operation that would allow it.
    fn authorize(
        &self,
        key: &KeyRecord,
        action: &str,
        grant_op: Option<&str>,
        ctx: &BTreeMap<String, String>,
    ) -> Result<(), KmsError> {
        match self.policy_verdict(key, action, ctx) {
            Verdict::Deny => return Err(self.denied(key, action, true)),
            Verdict::Allow => return Ok(()),
            Verdict::NoMatch => {}
        }
        if let Some(op) = grant_op {
            for g in self.grants_with(key, op)? {
                let subset_ok = g
                    .context_subset
                    .as_ref()
                    .is_none_or(|s| s.iter().all(|(k, v)| ctx.get(k) == Some(v)));
                let equals_ok = g.context_equals.as_ref().is_none_or(|e| e == ctx);
                if subset_ok && equals_ok {
                    return Ok(());
                }
            }
        }
        Err(self.denied(key, action, false))
    }

    /// CreateGrant: the key policy, or a grant of the caller's that allows CreateGrant
    /// and covers the new grant (its operations a subset, its constraints at least as
    /// strict), so a grant can never be passed on wider than it is.
    fn authorize_create_grant(
        &self,
        key: &KeyRecord,
        child: &GrantShape<'_>,
    ) -> Result<(), KmsError> {
        let ctx = child.subset.cloned().unwrap_or_default();
        match self.policy_verdict(key, "CreateGrant", &ctx) {
            Verdict::Deny => return Err(self.denied(key, "CreateGrant", true)),
            Verdict::Allow => return Ok(()),
            Verdict::NoMatch => {}
        }
        if self
            .grants_with(key, "CreateGrant")?
            .iter()
            .any(|parent| child.is_covered_by(parent))
        {
            return Ok(());
        }
        Err(self.denied(key, "CreateGrant", false))
    }

    /// AWS's lockout safety check: a new key policy must let the caller change the policy
    /// again later, unless the request sets `BypassPolicyLockoutSafetyCheck`.
    fn lockout_check(&self, policy_text: &str, input: &Value) -> Result<(), KmsError> {
        if opt_bool(input, "BypassPolicyLockoutSafetyCheck")? == Some(true) {
            return Ok(());
        }
        let req = policy::Request {
            principal_arn: &self.caller.arn,
            account_id: &self.cfg.account_id,
            action: "kms:PutKeyPolicy",
            context: &BTreeMap::new(),
            via_service: None,
        };
        if policy::evaluate(policy_text, &req) == Verdict::Allow {
            return Ok(());
        }
        Err(KmsError::MalformedPolicyDocument(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        ))
    }

    /// An action authorized by identity (IAM) policies alone, with no key involved
    /// (ListRetirableGrants). Until identity policies exist, the account's own
    /// principals are allowed, as the default key policy allows them; services acting
    /// on someone's behalf and other accounts are not.
    fn authorize_identity(&self, action: &str) -> Result<(), KmsError> {
        let own = format!("arn:aws:iam::{}:", self.cfg.account_id);
        if self.via_service.is_none() && self.caller.arn.starts_with(&own) {
            return Ok(());
        }
        Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{action} on resource: * because no identity-based policy allows the kms:{action} action",
            self.caller.arn
        )))
    }

    fn denied(&self, key: &KeyRecord, action: &str, explicit: bool) -> KmsError {
        let why = if explicit {
            "with an explicit deny in a resource-based policy".to_owned()
        } else {
            format!("because no resource-based policy allows the kms:{action} action")
        };
        KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{action} on resource: {} {why}",
            self.caller.arn,
            self.key_arn(&key.id)
        ))
    }

    /// The key must be Enabled for cryptographic use.
    fn usable(&self, key: &KeyRecord) -> Result<(), KmsError> {
        let arn = self.key_arn(&key.id);
        match key.state.as_str() {
            "Enabled" => Ok(()),
            "Disabled" => Err(KmsError::Disabled(format!("{arn} is disabled."))),
            "PendingDeletion" => Err(KmsError::InvalidState(format!(
                "{arn} is pending deletion."
            ))),
            "PendingImport" => Err(KmsError::InvalidState(format!("{arn} is pending import."))),
            other => Err(KmsError::InvalidState(format!("{arn} is {other}."))),
        }
    }

    fn not_pending_deletion(&self, key: &KeyRecord) -> Result<(), KmsError> {
        if key.state == "PendingDeletion" {
            return Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                self.key_arn(&key.id)
            )));
        }
        Ok(())
    }

    fn symmetric(&self, key: &KeyRecord) -> Result<(), KmsError> {
        if key.key_spec != "SYMMETRIC_DEFAULT" || key.key_usage != "ENCRYPT_DECRYPT" {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is {} which is not valid for this operation.",
                self.key_arn(&key.id),
                key.key_usage
            )));
        }
        Ok(())
    }

    fn metadata(&self, k: &KeyRecord) -> Value {
        let mut m = json!({
            "AWSAccountId": self.cfg.account_id,
            "KeyId": k.id,
            "Arn": self.key_arn(&k.id),
            "CreationDate": k.created,
            "Enabled": k.state == "Enabled",
            "Description": k.description,
            "KeyUsage": k.key_usage,
            "KeyState": k.state,
            "Origin": k.origin,
            "KeyManager": k.key_manager,
            "CustomerMasterKeySpec": k.key_spec,
            "KeySpec": k.key_spec,
            "MultiRegion": false,
            "CurrentKeyMaterialId": material_id(&k.id, k.current_version),
        });
        if k.key_spec == "SYMMETRIC_DEFAULT" {
            m["EncryptionAlgorithms"] = json!(["SYMMETRIC_DEFAULT"]);
        } else if let Some(alg) = mac_algorithm(&k.key_spec) {
            m["MacAlgorithms"] = json!([alg]);
        } else if k.key_usage == "ENCRYPT_DECRYPT" {
            m["EncryptionAlgorithms"] = json!(asym::RSA_ENCRYPTION_ALGORITHMS);
        } else {
            m["SigningAlgorithms"] = json!(asym::signing_algorithms(&k.key_spec));
        }
        if k.origin == "EXTERNAL" {
            if let Some(e) = &k.expiration_model {
                m["ExpirationModel"] = json!(e);
            }
            if let Some(v) = k.valid_to {
                m["ValidTo"] = json!(v);
            }
        }
        if let Some(d) = k.deletion_date {
            m["DeletionDate"] = json!(d);
        }
        m
    }

    fn material(&self, k: &KeyRecord, version: u32) -> Result<crypto::Material, KmsError> {
        self.store
            .material(&k.id, version)?
            .ok_or_else(|| KmsError::InvalidCiphertext(String::new()))
    }

    /// Rotates the key if its automatic rotation period has passed.
    fn rotate_if_due(&self, k: &mut KeyRecord) -> Result<(), KmsError> {
        let t = now(self.cfg);
        if k.rotation_enabled
            && k.state == "Enabled"
            && t >= k.last_rotation + f64::from(k.rotation_period_days) * DAY
        {
            self.rotate(k, false)?;
        }
        Ok(())
    }

    fn rotate(&self, k: &mut KeyRecord, on_demand: bool) -> Result<(), KmsError> {
        let t = now(self.cfg);
        let v = k.current_version + 1;
        self.store.put_material(&k.id, v, &crypto::random(32)?)?;
        k.current_version = v;
        k.last_rotation = t;
        k.rotations.push(Rotation {
            version: v,
            date: t,
            on_demand,
        });
        self.store.put_key(k)
    }
}

/// `KeyMaterialId`: 64 hex characters naming one version of a key's material.
fn material_id(key_id: &str, version: u32) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{key_id}/{version}").as_bytes(),
    );
    hex::encode(d.as_ref())
}

fn mac_algorithm(spec: &str) -> Option<&'static str> {
    match spec {
        "HMAC_224" => Some("HMAC_SHA_224"),
        "HMAC_256" => Some("HMAC_SHA_256"),
        "HMAC_384" => Some("HMAC_SHA_384"),
        "HMAC_512" => Some("HMAC_SHA_512"),
        _ => None,
    }
}

fn parse_tags(input: &Value, member: &str) -> Result<Vec<(String, String)>, KmsError> {
    let Some(list) = input.get(member) else {
        return Ok(Vec::new());
    };
    let list = list.as_array().ok_or_else(|| ser(member))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for t in list {
        let k = t
            .get("TagKey")
            .and_then(Value::as_str)
            .ok_or_else(|| KmsError::Tag("TagKey is required".into()))?;
        let v = t
            .get("TagValue")
            .and_then(Value::as_str)
            .ok_or_else(|| KmsError::Tag("TagValue is required".into()))?;
        if k.is_empty()
            || k.chars().count() > 128
            || v.chars().count() > 256
            || k.starts_with("aws:")
        {
            return Err(KmsError::Tag(format!("Tag key or value is invalid: {k}")));
        }
        if let Some(e) = out.iter_mut().find(|(ek, _)| ek == k) {
            e.1 = v.to_owned();
        } else {
            out.push((k.to_owned(), v.to_owned()));
        }
    }
    Ok(out)
}

fn data_key_length(input: &Value) -> Result<usize, KmsError> {
    let n = opt_int(input, "NumberOfBytes")?;
    let spec = opt_str(input, "KeySpec")?;
    match (n, spec) {
        (Some(n), None) => {
            int_range(n, 1, 1024, "numberOfBytes")?;
            Ok(usize::try_from(n).unwrap_or(0))
        }
        (None, Some("AES_256")) => Ok(32),
        (None, Some("AES_128")) => Ok(16),
        (None, Some(other)) => Err(validation(format!(
            "Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
        ))),
        _ => Err(KmsError::Validation(
            "Please specify either number of bytes or key spec.".into(),
        )),
    }
}

pub(crate) fn dispatch(
    c: &mut Ctx<'_>,
    operation: Operation,
    input: &Value,
) -> Result<Value, KmsError> {
    use Operation as O;
    let op = operation.name();
    match operation {
        O::CreateKey => create_key(c, input),
        O::DescribeKey => {
            let k = c.resolve(req_str(input, "KeyId")?, true)?;
            c.authorize(&k, "DescribeKey", Some("DescribeKey"), &BTreeMap::new())?;
            Ok(json!({ "KeyMetadata": c.metadata(&k) }))
        }
        O::ListKeys => list_keys(c, input),
        O::UpdateKeyDescription => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            let d = req_str(input, "Description")?;
            c.authorize(&k, "UpdateKeyDescription", None, &BTreeMap::new())?;
            c.not_pending_deletion(&k)?;
            k.description = d.to_owned();
            c.store.put_key(&k)?;
            Ok(json!({}))
        }
        O::EnableKey | O::DisableKey => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            c.not_pending_deletion(&k)?;
            if k.state == "PendingImport" {
                return Err(KmsError::InvalidState(format!(
                    "{} is pending import.",
                    c.key_arn(&k.id)
                )));
            }
            k.state = if op == "EnableKey" {
                "Enabled"
            } else {
                "Disabled"
            }
            .into();
            c.store.put_key(&k)?;
            Ok(json!({}))
        }
        O::ScheduleKeyDeletion => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            let days = opt_int(input, "PendingWindowInDays")?.unwrap_or(30);
            int_range(days, 7, 30, "pendingWindowInDays")?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            c.not_pending_deletion(&k)?;
            #[allow(clippy::cast_precision_loss)]
            let date = now(c.cfg) + days as f64 * DAY;
            k.state = "PendingDeletion".into();
            k.deletion_date = Some(date);
            c.store.put_key(&k)?;
            Ok(
                json!({"KeyId": c.key_arn(&k.id), "DeletionDate": date, "KeyState": "PendingDeletion", "PendingWindowInDays": days}),
            )
        }
        O::CancelKeyDeletion => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            if k.state != "PendingDeletion" {
                return Err(KmsError::InvalidState(format!(
                    "{} is not pending deletion.",
                    c.key_arn(&k.id)
                )));
            }
            k.state = "Disabled".into();
            k.deletion_date = None;
            c.store.put_key(&k)?;
            Ok(json!({"KeyId": c.key_arn(&k.id)}))
        }
        O::CreateAlias | O::UpdateAlias => alias_write(c, op, input),
        O::DeleteAlias => {
            let name = req_str(input, "AliasName")?;
            if name.starts_with("alias/aws/") {
                return Err(KmsError::AccessDenied(format!(
                    "User: {} is not authorized to perform: kms:DeleteAlias on resource: {}",
                    c.caller.arn,
                    c.alias_arn(name)
                )));
            }
            let a = c.store.alias(name)?.ok_or_else(|| {
                KmsError::NotFound(format!("Alias {} is not found.", c.alias_arn(name)))
            })?;
            if let Some(id) = &a.key_id {
                let k = c.resolve(id, false)?;
                c.authorize(&k, op, None, &BTreeMap::new())?;
            }
            c.store.delete_alias(name)?;
            Ok(json!({}))
        }
        O::ListAliases => list_aliases(c, input),
        O::Encrypt => {
            let mut k = c.resolve(req_str(input, "KeyId")?, true)?;
            let plaintext = blob(input, "Plaintext")?.ok_or_else(|| {
                validation("Value null at 'plaintext' failed to satisfy constraint: Member must not be null")
            })?;
            if plaintext.is_empty() || plaintext.len() > 4096 {
                return Err(validation(
                    "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096 and greater than or equal to 1",
                ));
            }
            let ctx = context(input, "EncryptionContext")?;
            c.authorize(&k, "Encrypt", Some("Encrypt"), &ctx)?;
            c.usable(&k)?;
            if asym::is_rsa(&k.key_spec) && k.key_usage == "ENCRYPT_DECRYPT" {
                let alg = opt_str(input, "EncryptionAlgorithm")?.unwrap_or("SYMMETRIC_DEFAULT");
                if !ctx.is_empty() {
                    return Err(KmsError::InvalidKeyUsage(
                        "EncryptionContext is not supported for asymmetric keys.".into(),
                    ));
                }
                let m = c.material(&k, 1)?;
                let ct = asym::rsa_encrypt(&m, alg, &plaintext)?;
                return Ok(
                    json!({"CiphertextBlob": B64.encode(ct), "KeyId": c.key_arn(&k.id), "EncryptionAlgorithm": alg}),
                );
            }
            c.symmetric(&k)?;
            c.rotate_if_due(&mut k)?;
            let m = c.material(&k, k.current_version)?;
            let id = uuid::Uuid::parse_str(&k.id).map_err(|_| KmsError::Internal)?;
            let ct = crypto::seal(&id, k.current_version, &m, &plaintext, &ctx)?;
            Ok(
                json!({"CiphertextBlob": B64.encode(ct), "KeyId": c.key_arn(&k.id), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            )
        }
        O::Decrypt => {
            let ct = blob(input, "CiphertextBlob")?.ok_or_else(|| {
                validation("Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
            })?;
            let ctx = context(input, "EncryptionContext")?;
            if let Some(alg) = opt_str(input, "EncryptionAlgorithm")?
                && alg != "SYMMETRIC_DEFAULT"
            {
                let k = c.resolve(req_str(input, "KeyId")?, true)?;
                c.authorize(&k, "Decrypt", Some("Decrypt"), &ctx)?;
                c.usable(&k)?;
                if !asym::is_rsa(&k.key_spec) || k.key_usage != "ENCRYPT_DECRYPT" {
                    return Err(KmsError::InvalidKeyUsage(format!(
                        "{} is not an RSA encryption key.",
                        c.key_arn(&k.id)
                    )));
                }
                let m = c.material(&k, 1)?;
                let pt = asym::rsa_decrypt(&m, alg, &ct)?;
                return Ok(
                    json!({"KeyId": c.key_arn(&k.id), "Plaintext": B64.encode(pt.as_slice()), "EncryptionAlgorithm": alg}),
                );
            }
            let (k, pt) =
                decrypt_blob(c, &ct, opt_str(input, "KeyId")?, &ctx, "Decrypt", "Decrypt")?;
            Ok(
                json!({"KeyId": c.key_arn(&k.id), "Plaintext": B64.encode(pt.as_slice()), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                      "KeyMaterialId": material_id(&k.id, crypto::blob_key(&ct)?.1)}),
            )
        }
        O::ReEncrypt => {
            let ct = blob(input, "CiphertextBlob")?.ok_or_else(|| {
                validation("Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
            })?;
            let src_ctx = context(input, "SourceEncryptionContext")?;
            let (src, pt) = decrypt_blob(
                c,
                &ct,
                opt_str(input, "SourceKeyId")?,
                &src_ctx,
                "ReEncryptFrom",
                "ReEncryptFrom",
            )?;
            let mut dst = c.resolve(req_str(input, "DestinationKeyId")?, true)?;
            let dst_ctx = context(input, "DestinationEncryptionContext")?;
            c.authorize(&dst, "ReEncryptTo", Some("ReEncryptTo"), &dst_ctx)?;
            c.usable(&dst)?;
            c.symmetric(&dst)?;
            c.rotate_if_due(&mut dst)?;
            let m = c.material(&dst, dst.current_version)?;
            let id = uuid::Uuid::parse_str(&dst.id).map_err(|_| KmsError::Internal)?;
            let new_ct = crypto::seal(&id, dst.current_version, &m, &pt, &dst_ctx)?;
            Ok(
                json!({"CiphertextBlob": B64.encode(new_ct), "SourceKeyId": c.key_arn(&src.id), "KeyId": c.key_arn(&dst.id),
                      "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            )
        }
        O::GenerateDataKey | O::GenerateDataKeyWithoutPlaintext => {
            let mut k = c.resolve(req_str(input, "KeyId")?, true)?;
            let len = data_key_length(input)?;
            let ctx = context(input, "EncryptionContext")?;
            c.authorize(&k, op, Some(op), &ctx)?;
            c.usable(&k)?;
            c.symmetric(&k)?;
            c.rotate_if_due(&mut k)?;
            let data_key = crypto::random(len)?;
            let m = c.material(&k, k.current_version)?;
            let id = uuid::Uuid::parse_str(&k.id).map_err(|_| KmsError::Internal)?;
            let ct = crypto::seal(&id, k.current_version, &m, &data_key, &ctx)?;
            let mut out = json!({"CiphertextBlob": B64.encode(ct), "KeyId": c.key_arn(&k.id),
                                 "KeyMaterialId": material_id(&k.id, k.current_version)});
            if op == "GenerateDataKey" {
                out["Plaintext"] = Value::from(B64.encode(data_key.as_slice()));
            }
            Ok(out)
        }
        O::GenerateRandom => {
            let n = opt_int(input, "NumberOfBytes")?.unwrap_or(32);
            int_range(n, 1, 1024, "numberOfBytes")?;
            let bytes = crypto::random(usize::try_from(n).unwrap_or(1))?;
            Ok(json!({"Plaintext": B64.encode(bytes.as_slice())}))
        }
        O::GenerateMac | O::VerifyMac => mac(c, op, input),
        O::EnableKeyRotation | O::DisableKeyRotation => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            rotation_allowed(c, &k)?;
            c.usable(&k)?;
            if op == "EnableKeyRotation" {
                let days = opt_int(input, "RotationPeriodInDays")?.unwrap_or(365);
                int_range(days, 90, 2560, "rotationPeriodInDays")?;
                k.rotation_enabled = true;
                k.rotation_period_days = u32::try_from(days).unwrap_or(365);
            } else {
                k.rotation_enabled = false;
            }
            c.store.put_key(&k)?;
            Ok(json!({}))
        }
        O::GetKeyRotationStatus => {
            let k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            if k.origin == "EXTERNAL" {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{} origin is EXTERNAL which is not valid for this operation.",
                    c.key_arn(&k.id)
                )));
            }
            let enabled = k.rotation_enabled && k.state != "PendingDeletion";
            let mut out = json!({"KeyRotationEnabled": enabled, "KeyId": c.key_arn(&k.id)});
            if enabled {
                out["RotationPeriodInDays"] = json!(k.rotation_period_days);
                out["NextRotationDate"] =
                    json!(k.last_rotation + f64::from(k.rotation_period_days) * DAY);
            }
            Ok(out)
        }
        O::RotateKeyOnDemand => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            rotation_allowed(c, &k)?;
            c.usable(&k)?;
            if k.key_manager == "AWS" {
                return Err(KmsError::UnsupportedOperation(
                    "AWS managed keys cannot be rotated on demand".into(),
                ));
            }
            if k.rotations.iter().filter(|r| r.on_demand).count() >= 25 {
                return Err(KmsError::LimitExceeded(format!(
                    "{} has reached the maximum number of on-demand rotations.",
                    c.key_arn(&k.id)
                )));
            }
            c.rotate(&mut k, true)?;
            Ok(json!({"KeyId": k.id}))
        }
        O::ListKeyRotations => {
            let k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            let rotations: Vec<Value> = k
                .rotations
                .iter()
                .map(|r| json!({"KeyId": k.id, "RotationDate": r.date, "RotationType": if r.on_demand { "ON_DEMAND" } else { "AUTOMATIC" },
                                "KeyMaterialId": material_id(&k.id, r.version),
                                "KeyMaterialState": if r.version == k.current_version { "CURRENT" } else { "NON_CURRENT" }}))
                .collect();
            Ok(json!({"Rotations": rotations, "Truncated": false}))
        }
        O::TagResource | O::UntagResource => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            c.not_pending_deletion(&k)?;
            if op == "TagResource" {
                for (tk, tv) in parse_tags(input, "Tags")? {
                    if let Some(e) = k.tags.iter_mut().find(|(ek, _)| *ek == tk) {
                        e.1 = tv;
                    } else {
                        k.tags.push((tk, tv));
                    }
                }
                if k.tags.len() > 50 {
                    return Err(KmsError::Tag("A key can have at most 50 tags".into()));
                }
            } else {
                let keys: Vec<&str> = input
                    .get("TagKeys")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                k.tags.retain(|(tk, _)| !keys.contains(&tk.as_str()));
            }
            c.store.put_key(&k)?;
            Ok(json!({}))
        }
        O::ListResourceTags => {
            let k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            let tags: Vec<Value> = k
                .tags
                .iter()
                .map(|(a, b)| json!({"TagKey": a, "TagValue": b}))
                .collect();
            Ok(json!({"Tags": tags, "Truncated": false}))
        }
        O::GetKeyPolicy => {
            let k = c.resolve(req_str(input, "KeyId")?, false)?;
            let name = opt_str(input, "PolicyName")?.unwrap_or("default");
            c.authorize(&k, op, None, &BTreeMap::new())?;
            if name != "default" {
                return Err(KmsError::NotFound(format!("No such policy exists: {name}")));
            }
            Ok(json!({"Policy": k.policy, "PolicyName": "default"}))
        }
        O::PutKeyPolicy => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            let name = opt_str(input, "PolicyName")?.unwrap_or("default");
            let p = req_str(input, "Policy")?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            if name == "AWS_RAM" {
                return Err(KmsError::Validation(
                    "The AWS_RAM policy can only be managed by the RAM service.".into(),
                ));
            }
            if name != "default" {
                return Err(KmsError::NotFound(format!("No such policy exists: {name}")));
            }
            if p.len() > 32 * 1024 {
                return Err(KmsError::LimitExceeded(
                    "The key policy exceeds the maximum size of 32 KB".into(),
                ));
            }
            policy::validate(p).map_err(KmsError::MalformedPolicyDocument)?;
            c.lockout_check(p, input)?;
            k.policy = p.to_owned();
            c.store.put_key(&k)?;
            Ok(json!({}))
        }
        O::ListKeyPolicies => {
            let k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
        }
        O::CreateGrant => create_grant(c, input),
        O::ListGrants => {
            let k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            let grants: Vec<Value> = c
                .store
                .grants(Some(&k.id))?
                .iter()
                .map(|g| grant_json(c, g))
                .collect();
            Ok(json!({"Grants": grants, "Truncated": false}))
        }
        O::ListRetirableGrants => {
            let who = req_str(input, "RetiringPrincipal")?;
            c.authorize_identity("ListRetirableGrants")?;
            let grants: Vec<Value> = c
                .store
                .grants(None)?
                .iter()
                .filter(|g| g.retiring.as_deref() == Some(who))
                .map(|g| grant_json(c, g))
                .collect();
            Ok(json!({"Grants": grants, "Truncated": false}))
        }
        O::RetireGrant | O::RevokeGrant => retire_or_revoke(c, op, input),
        O::GetPublicKey => {
            let k = c.resolve(req_str(input, "KeyId")?, true)?;
            c.authorize(&k, op, Some(op), &BTreeMap::new())?;
            c.usable(&k)?;
            if !asym::is_rsa(&k.key_spec) && !asym::is_ecc(&k.key_spec) {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{} key spec {} is not valid for this operation.",
                    c.key_arn(&k.id),
                    k.key_spec
                )));
            }
            let m = c.material(&k, 1)?;
            let mut out = json!({"KeyId": c.key_arn(&k.id), "PublicKey": B64.encode(asym::public_key(&k.key_spec, &m)?),
                                 "KeySpec": k.key_spec, "CustomerMasterKeySpec": k.key_spec, "KeyUsage": k.key_usage});
            if k.key_usage == "ENCRYPT_DECRYPT" {
                out["EncryptionAlgorithms"] = json!(asym::RSA_ENCRYPTION_ALGORITHMS);
            } else {
                out["SigningAlgorithms"] = json!(asym::signing_algorithms(&k.key_spec));
            }
            Ok(out)
        }
        O::Sign | O::Verify => {
            let k = c.resolve(req_str(input, "KeyId")?, true)?;
            let msg = blob(input, "Message")?.ok_or_else(|| {
                validation(
                    "Value null at 'message' failed to satisfy constraint: Member must not be null",
                )
            })?;
            if msg.is_empty() || msg.len() > 4096 {
                return Err(validation(
                    "Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096",
                ));
            }
            let alg = req_str(input, "SigningAlgorithm")?;
            let is_digest = match opt_str(input, "MessageType")?.unwrap_or("RAW") {
                "RAW" => false,
                "DIGEST" => true,
                other => {
                    return Err(validation(format!(
                        "Value '{other}' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST]"
                    )));
                }
            };
            c.authorize(&k, op, Some(op), &BTreeMap::new())?;
            c.usable(&k)?;
            if k.key_usage != "SIGN_VERIFY" {
                return Err(KmsError::InvalidKeyUsage(format!(
                    "{} key usage is {} which is not valid for {op}.",
                    c.key_arn(&k.id),
                    k.key_usage
                )));
            }
            let m = c.material(&k, 1)?;
            if op == "Sign" {
                let sig = asym::sign(&k.key_spec, &m, alg, &msg, is_digest)?;
                return Ok(
                    json!({"KeyId": c.key_arn(&k.id), "Signature": B64.encode(sig), "SigningAlgorithm": alg}),
                );
            }
            let sig = blob(input, "Signature")?.unwrap_or_default();
            if !asym::verify(&k.key_spec, &m, alg, &msg, is_digest, &sig)? {
                return Err(KmsError::InvalidSignature(String::new()));
            }
            Ok(json!({"KeyId": c.key_arn(&k.id), "SignatureValid": true, "SigningAlgorithm": alg}))
        }
        O::GenerateDataKeyPair | O::GenerateDataKeyPairWithoutPlaintext => {
            let mut k = c.resolve(req_str(input, "KeyId")?, true)?;
            let pair_spec = req_str(input, "KeyPairSpec")?;
            if !asym::is_rsa(pair_spec) && !asym::is_ecc(pair_spec) {
                return Err(validation(format!(
                    "Value '{pair_spec}' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1]"
                )));
            }
            let ctx = context(input, "EncryptionContext")?;
            c.authorize(&k, op, Some(op), &ctx)?;
            c.usable(&k)?;
            c.symmetric(&k)?;
            c.rotate_if_due(&mut k)?;
            let (private, public) = asym::data_key_pair(pair_spec)?;
            let m = c.material(&k, k.current_version)?;
            let id = uuid::Uuid::parse_str(&k.id).map_err(|_| KmsError::Internal)?;
            let ct = crypto::seal(&id, k.current_version, &m, &private, &ctx)?;
            let mut out = json!({"PrivateKeyCiphertextBlob": B64.encode(ct), "PublicKey": B64.encode(public),
                                 "KeyId": c.key_arn(&k.id), "KeyPairSpec": pair_spec});
            if op == "GenerateDataKeyPair" {
                out["PrivateKeyPlaintext"] = Value::from(B64.encode(private.as_slice()));
            }
            Ok(out)
        }
        O::GetParametersForImport => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            let alg = req_str(input, "WrappingAlgorithm")?;
            let spec = req_str(input, "WrappingKeySpec")?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            if k.origin != "EXTERNAL" {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{} origin is {} which is not valid for this operation.",
                    c.key_arn(&k.id),
                    k.origin
                )));
            }
            c.not_pending_deletion(&k)?;
            if ![
                "RSAES_OAEP_SHA_1",
                "RSAES_OAEP_SHA_256",
                "RSA_AES_KEY_WRAP_SHA_1",
                "RSA_AES_KEY_WRAP_SHA_256",
            ]
            .contains(&alg)
            {
                return Err(validation(format!(
                    "Value '{alg}' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256]"
                )));
            }
            if !asym::is_rsa(spec) {
                return Err(validation(format!(
                    "Value '{spec}' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096]"
                )));
            }
            let wrapping = asym::generate(spec)?;
            let public = asym::public_key(spec, &wrapping)?;
            // Version 0 holds the wrapping key of the outstanding import parameters.
            c.store.put_material(&k.id, 0, &wrapping)?;
            let token = hex::encode(crypto::random(24)?.as_slice());
            let valid = now(c.cfg) + DAY;
            k.import_params = Some((token.clone(), alg.to_owned(), valid));
            c.store.put_key(&k)?;
            Ok(
                json!({"KeyId": c.key_arn(&k.id), "ImportToken": B64.encode(token.as_bytes()), "PublicKey": B64.encode(public), "ParametersValidTo": valid}),
            )
        }
        O::ImportKeyMaterial => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            let token = blob(input, "ImportToken")?.unwrap_or_default();
            let wrapped = blob(input, "EncryptedKeyMaterial")?.unwrap_or_default();
            let model = opt_str(input, "ExpirationModel")?.unwrap_or("KEY_MATERIAL_EXPIRES");
            c.authorize(&k, op, None, &BTreeMap::new())?;
            if k.origin != "EXTERNAL" {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{} origin is {} which is not valid for this operation.",
                    c.key_arn(&k.id),
                    k.origin
                )));
            }
            c.not_pending_deletion(&k)?;
            let valid_to = match (model, opt_f64(input, "ValidTo")?) {
                ("KEY_MATERIAL_EXPIRES", Some(v)) if v > now(c.cfg) => Some(v),
                ("KEY_MATERIAL_EXPIRES", _) => {
                    return Err(KmsError::Validation("A ValidTo date in the future is required when ExpirationModel is KEY_MATERIAL_EXPIRES.".into()));
                }
                ("KEY_MATERIAL_DOES_NOT_EXPIRE", None) => None,
                ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => {
                    return Err(KmsError::Validation("ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.".into()));
                }
                (other, _) => {
                    return Err(validation(format!(
                        "Value '{other}' at 'expirationModel' failed to satisfy constraint: Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]"
                    )));
                }
            };
            let Some((want, alg, until)) = k.import_params.clone() else {
                return Err(KmsError::InvalidImportToken(
                    "The import token is not valid for this key.".into(),
                ));
            };
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                token.as_slice(),
                want.as_bytes(),
            )) {
                return Err(KmsError::InvalidImportToken(
                    "The import token is not valid for this key.".into(),
                ));
            }
            if now(c.cfg) > until {
                return Err(KmsError::ExpiredImportToken(
                    "The import token has expired.".into(),
                ));
            }
            let wrapping = c.store.material(&k.id, 0)?.ok_or(KmsError::Internal)?;
            let material = asym::unwrap_import(&wrapping, &alg, &wrapped)?;
            if material.len() != 32 {
                return Err(KmsError::InvalidCiphertext(
                    "Symmetric key material must be 32 bytes.".into(),
                ));
            }
            let hash = hex::encode(
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &material).as_ref(),
            );
            if k.imported_hash.as_ref().is_some_and(|h| *h != hash) {
                return Err(KmsError::IncorrectKeyMaterial(
                    "The key material is not the material previously imported into this key."
                        .into(),
                ));
            }
            c.store.put_material(&k.id, 1, &material)?;
            c.store.delete_material(&k.id, 0)?;
            k.imported_hash = Some(hash);
            k.valid_to = valid_to;
            k.expiration_model = Some(model.to_owned());
            k.import_params = None;
            k.state = "Enabled".into();
            c.store.put_key(&k)?;
            Ok(json!({"KeyId": c.key_arn(&k.id), "KeyMaterialId": material_id(&k.id, 1)}))
        }
        O::DeleteImportedKeyMaterial => {
            let mut k = c.resolve(req_str(input, "KeyId")?, false)?;
            c.authorize(&k, op, None, &BTreeMap::new())?;
            if k.origin != "EXTERNAL" {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{} origin is {} which is not valid for this operation.",
                    c.key_arn(&k.id),
                    k.origin
                )));
            }
            c.store.delete_material(&k.id, 1)?;
            k.valid_to = None;
            if k.state != "PendingDeletion" {
                k.state = "PendingImport".into();
            }
            c.store.put_key(&k)?;
            Ok(json!({"KeyId": c.key_arn(&k.id), "KeyMaterialId": material_id(&k.id, 1)}))
        }
    }
}

fn rotation_allowed(c: &Ctx<'_>, k: &KeyRecord) -> Result<(), KmsError> {
    if k.origin == "EXTERNAL" {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is EXTERNAL which is not valid for this operation.",
            c.key_arn(&k.id)
        )));
    }
    if k.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} key spec {} is not valid for this operation.",
            c.key_arn(&k.id),
            k.key_spec
        )));
    }
    c.not_pending_deletion(k)
}

fn decrypt_blob(
    c: &mut Ctx<'_>,
    ct: &[u8],
    named: Option<&str>,
    ctx: &BTreeMap<String, String>,
    action: &str,
    grant_op: &str,
) -> Result<(KeyRecord, zeroize::Zeroizing<Vec<u8>>), KmsError> {
    let (id, version) = crypto::blob_key(ct)?;
    let k = match c.store.key(&id.to_string())? {
        Some(k) => k,
        None => return Err(KmsError::InvalidCiphertext(String::new())),
    };
    c.resource = Some(c.key_arn(&k.id));
    if let Some(named) = named {
        let want = c.resolve(named, true)?;
        if want.id != k.id {
            return Err(KmsError::IncorrectKey(
                "The key ID in the request does not identify a CMK that can perform this operation.".into(),
            ));
        }
    }
    c.resource = Some(c.key_arn(&k.id));
    c.authorize(&k, action, Some(grant_op), ctx)?;
    c.usable(&k)?;
    c.symmetric(&k)?;
    let m = c.material(&k, version)?;
    let pt = crypto::open(ct, &m, ctx)?;
    Ok((k, pt))
}

fn create_key(c: &mut Ctx<'_>, input: &Value) -> Result<Value, KmsError> {
    let spec = opt_str(input, "KeySpec")?
        .or(opt_str(input, "CustomerMasterKeySpec")?)
        .unwrap_or("SYMMETRIC_DEFAULT");
    let is_hmac = crypto::hmac_algorithm(spec).is_some();
    let default_usage = if is_hmac {
        "GENERATE_VERIFY_MAC"
    } else {
        "ENCRYPT_DECRYPT"
    };
    let usage = opt_str(input, "KeyUsage")?.unwrap_or(default_usage);
    let origin = opt_str(input, "Origin")?.unwrap_or("AWS_KMS");
    // One server is one Region with no external key stores: refuse rather than pretend.
    if input.get("MultiRegion").and_then(Value::as_bool) == Some(true) {
        return Err(KmsError::UnsupportedOperation(
            "Multi-Region keys are not supported by this key service.".into(),
        ));
    }
    if input.get("CustomKeyStoreId").is_some_and(|v| !v.is_null())
        || matches!(origin, "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE")
    {
        return Err(KmsError::UnsupportedOperation(
            "Custom key stores are not supported by this key service.".into(),
        ));
    }
    match spec {
        "SYMMETRIC_DEFAULT" if usage == "ENCRYPT_DECRYPT" => {}
        s if crypto::hmac_algorithm(s).is_some() && usage == "GENERATE_VERIFY_MAC" => {}
        "SYMMETRIC_DEFAULT" | "HMAC_224" | "HMAC_256" | "HMAC_384" | "HMAC_512" => {
            return Err(KmsError::Validation(format!(
                "KeyUsage {usage} is not compatible with KeySpec {spec}"
            )));
        }
        s if (asym::is_rsa(s) || asym::is_ecc(s)) && opt_str(input, "KeyUsage")?.is_none() => {
            return Err(KmsError::Validation(
                "You must specify a KeyUsage value for an asymmetric KMS key.".into(),
            ));
        }
        s if asym::is_rsa(s) && (usage == "ENCRYPT_DECRYPT" || usage == "SIGN_VERIFY") => {}
        s if asym::is_ecc(s) && usage == "SIGN_VERIFY" => {}
        "RSA_2048" | "RSA_3072" | "RSA_4096" | "ECC_NIST_P256" | "ECC_NIST_P384"
        | "ECC_NIST_P521" | "ECC_SECG_P256K1" => {
            return Err(KmsError::Validation(format!(
                "KeyUsage {usage} is not compatible with KeySpec {spec}"
            )));
        }
        other => {
            return Err(validation(format!(
                "Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1]"
            )));
        }
    }
    match origin {
        "AWS_KMS" => {}
        "EXTERNAL" if spec == "SYMMETRIC_DEFAULT" => {}
        "EXTERNAL" => {
            return Err(KmsError::UnsupportedOperation(format!(
                "KeySpec {spec} is not supported for keys with EXTERNAL origin"
            )));
        }
        other => {
            return Err(KmsError::UnsupportedOperation(format!(
                "Origin {other} (custom key stores) is not supported by this server"
            )));
        }
    }
    let description = opt_str(input, "Description")?.unwrap_or("");
    if description.chars().count() > 8192 {
        return Err(validation(
            "Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
        ));
    }
    let policy_text = match opt_str(input, "Policy")? {
        Some(p) => {
            policy::validate(p).map_err(KmsError::MalformedPolicyDocument)?;
            c.lockout_check(p, input)?;
            p.to_owned()
        }
        None => policy::default_policy(&c.cfg.account_id),
    };
    let tags = parse_tags(input, "Tags")?;
    let id = uuid::Uuid::new_v4().to_string();
    let t = now(c.cfg);
    let material_len = crypto::hmac_algorithm(spec).map_or(32, |(_, n)| n);
    let external = origin == "EXTERNAL";
    let rec = KeyRecord {
        id: id.clone(),
        created: t,
        description: description.to_owned(),
        key_usage: usage.to_owned(),
        key_spec: spec.to_owned(),
        origin: origin.to_owned(),
        state: if external { "PendingImport" } else { "Enabled" }.into(),
        deletion_date: None,
        key_manager: "CUSTOMER".into(),
        policy: policy_text,
        tags,
        rotation_enabled: false,
        rotation_period_days: 365,
        last_rotation: t,
        current_version: 1,
        rotations: Vec::new(),
        valid_to: None,
        expiration_model: None,
        imported_hash: None,
        import_params: None,
    };
    c.store.put_key(&rec)?;
    if asym::is_rsa(spec) || asym::is_ecc(spec) {
        c.store.put_material(&id, 1, &asym::generate(spec)?)?;
    } else if !external {
        c.store
            .put_material(&id, 1, &crypto::random(material_len)?)?;
    }
    c.resource = Some(c.key_arn(&id));
    Ok(json!({ "KeyMetadata": c.metadata(&rec) }))
}

fn page<T>(
    items: Vec<T>,
    input: &Value,
    default_limit: i64,
    max: i64,
) -> Result<(Vec<T>, Option<String>), KmsError> {
    let limit = opt_int(input, "Limit")?.unwrap_or(default_limit);
    int_range(limit, 1, max, "limit")?;
    let start = match opt_str(input, "Marker")? {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
    };
    let limit = usize::try_from(limit).unwrap_or(100);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| (start + page.len()).to_string());
    Ok((page, next))
}

fn list_keys(c: &mut Ctx<'_>, input: &Value) -> Result<Value, KmsError> {
    let keys: Vec<Value> = c
        .store
        .keys()?
        .iter()
        .map(|k| json!({"KeyId": k.id, "KeyArn": c.key_arn(&k.id)}))
        .collect();
    let (page, next) = page(keys, input, 100, 1000)?;
    let mut out = json!({"Keys": page, "Truncated": next.is_some()});
    if let Some(n) = next {
        out["NextMarker"] = Value::from(n);
    }
    Ok(out)
}

fn list_aliases(c: &mut Ctx<'_>, input: &Value) -> Result<Value, KmsError> {
    let filter = match opt_str(input, "KeyId")? {
        Some(k) => Some(c.resolve(k, false)?.id),
        None => None,
    };
    let mut aliases: Vec<Alias> = c.store.aliases()?;
    if c.store.alias(DYNAMODB_ALIAS)?.is_none() && filter.is_none() {
        // Predefined AWS aliases are listed before their key exists, without a target.
        aliases.push(Alias {
            name: DYNAMODB_ALIAS.into(),
            key_id: None,
            created: 0.0,
            updated: 0.0,
        });
    }
    let list: Vec<Value> = aliases
        .iter()
        .filter(|a| filter.is_none() || a.key_id == filter)
        .map(|a| {
            let mut v = json!({"AliasName": a.name, "AliasArn": c.alias_arn(&a.name)});
            if let Some(k) = &a.key_id {
                v["TargetKeyId"] = Value::from(k.clone());
                v["CreationDate"] = json!(a.created);
                v["LastUpdatedDate"] = json!(a.updated);
            }
            v
        })
        .collect();
    let (page, next) = page(list, input, 50, 100)?;
    let mut out = json!({"Aliases": page, "Truncated": next.is_some()});
    if let Some(n) = next {
        out["NextMarker"] = Value::from(n);
    }
    Ok(out)
}

fn alias_write(c: &mut Ctx<'_>, op: &str, input: &Value) -> Result<Value, KmsError> {
    let name = req_str(input, "AliasName")?;
    let target = req_str(input, "TargetKeyId")?;
    let valid = name.starts_with("alias/")
        && name.len() > 6
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-:".contains(&b));
    if !valid {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias must start with the prefix \"alias/\" and contain only alphanumeric characters, forward slashes (/), underscores (_), and dashes (-): {name}"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{op} on resource: {}",
            c.caller.arn,
            c.alias_arn(name)
        )));
    }
    let k = c.resolve(target, false)?;
    c.authorize(&k, op, None, &BTreeMap::new())?;
    if k.key_manager == "AWS" {
        return Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{op} on resource: {}",
            c.caller.arn,
            c.key_arn(&k.id)
        )));
    }
    c.not_pending_deletion(&k)?;
    let t = now(c.cfg);
    let existing = c.store.alias(name)?;
    match (op, &existing) {
        ("CreateAlias", Some(_)) => {
            return Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                c.alias_arn(name)
            )));
        }
        ("UpdateAlias", None) => {
            return Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                c.alias_arn(name)
            )));
        }
        _ => {}
    }
    c.store.put_alias(&Alias {
        name: name.to_owned(),
        key_id: Some(k.id.clone()),
        created: existing.map_or(t, |a| a.created),
        updated: t,
    })?;
    Ok(json!({}))
}

fn mac(c: &mut Ctx<'_>, op: &str, input: &Value) -> Result<Value, KmsError> {
    let k = c.resolve(req_str(input, "KeyId")?, true)?;
    let msg = blob(input, "Message")?.ok_or_else(|| {
        validation("Value null at 'message' failed to satisfy constraint: Member must not be null")
    })?;
    let alg = req_str(input, "MacAlgorithm")?;
    c.authorize(&k, op, Some(op), &BTreeMap::new())?;
    c.usable(&k)?;
    let Some((algorithm, _)) = crypto::hmac_algorithm(&k.key_spec) else {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {op}.",
            c.key_arn(&k.id),
            k.key_usage
        )));
    };
    if mac_algorithm(&k.key_spec) != Some(alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {alg} is incompatible with key spec {}.",
            k.key_spec
        )));
    }
    let m = c.material(&k, 1)?;
    let key = aws_lc_rs::hmac::Key::new(algorithm, &m);
    if op == "GenerateMac" {
        let tag = aws_lc_rs::hmac::sign(&key, &msg);
        return Ok(
            json!({"Mac": B64.encode(tag.as_ref()), "MacAlgorithm": alg, "KeyId": c.key_arn(&k.id)}),
        );
    }
    let given = blob(input, "Mac")?.unwrap_or_default();
    if aws_lc_rs::hmac::verify(&key, &msg, &given).is_err() {
        return Err(KmsError::InvalidMac(String::new()));
    }
    Ok(json!({"KeyId": c.key_arn(&k.id), "MacValid": true, "MacAlgorithm": alg}))
}

fn create_grant(c: &mut Ctx<'_>, input: &Value) -> Result<Value, KmsError> {
    let k = c.resolve(req_str(input, "KeyId")?, false)?;
    let grantee = opt_str(input, "GranteePrincipal")?
        .or(opt_str(input, "GranteeServicePrincipal")?)
        .ok_or_else(|| validation("Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null"))?
        .to_owned();
    let retiring = opt_str(input, "RetiringPrincipal")?
        .or(opt_str(input, "RetiringServicePrincipal")?)
        .map(str::to_owned);
    let ops: Vec<String> = input
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            validation(
                "Value null at 'operations' failed to satisfy constraint: Member must not be null",
            )
        })?
        .iter()
        .map(|o| {
            o.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ser("Operations"))
        })
        .collect::<Result<_, _>>()?;
    if ops.is_empty() {
        return Err(validation(
            "Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    for o in &ops {
        if !GRANT_OPERATIONS.contains(&o.as_str()) {
            return Err(validation(format!(
                "Value '[{o}]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                GRANT_OPERATIONS.join(", ")
            )));
        }
    }
    let constraints = input.get("Constraints");
    let subset = constraints
        .map(|v| context(v, "EncryptionContextSubset"))
        .transpose()?
        .filter(|m| !m.is_empty());
    let equals = constraints
        .map(|v| context(v, "EncryptionContextEquals"))
        .transpose()?
        .filter(|m| !m.is_empty());
    if (subset.is_some() || equals.is_some()) && k.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(KmsError::Validation(
            "EncryptionContext is supported only when creating a grant for a symmetric encryption KMS key.".into(),
        ));
    }
    c.authorize_create_grant(
        &k,
        &GrantShape {
            operations: &ops,
            subset: subset.as_ref(),
            equals: equals.as_ref(),
        },
    )?;
    c.usable(&k)?;
    let name = opt_str(input, "Name")?.map(str::to_owned);
    // Same name and parameters: the same grant (idempotent), as KMS does.
    if let Some(n) = &name {
        for g in c.store.grants(Some(&k.id))? {
            if g.name.as_deref() == Some(n)
                && g.grantee == grantee
                && g.operations == ops
                && g.retiring == retiring
            {
                return Ok(json!({"GrantId": g.id, "GrantToken": grant_token(&g.id)}));
            }
        }
    }
    let id = hex::encode(crypto::random(32)?.as_slice());
    let g = Grant {
        id: id.clone(),
        key_id: k.id.clone(),
        name,
        created: now(c.cfg),
        grantee,
        retiring,
        operations: ops,
        context_subset: subset,
        context_equals: equals,
        issuer: format!("arn:aws:iam::{}:root", c.cfg.account_id),
    };
    c.store.put_grant(&g)?;
    Ok(json!({"GrantId": id, "GrantToken": grant_token(&g.id)}))
}

/// A grant token: opaque to clients; here the grant id, base64url-encoded with a prefix.
fn grant_token(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("sealdb-grant:{id}"))
}

fn grant_from_token(token: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("sealdb-grant:")
        .map(str::to_owned)
}

fn grant_json(c: &Ctx<'_>, g: &Grant) -> Value {
    let mut v = json!({
        "KeyId": c.key_arn(&g.key_id), "GrantId": g.id, "CreationDate": g.created,
        "GranteePrincipal": g.grantee, "IssuingAccount": g.issuer, "Operations": g.operations,
    });
    if let Some(n) = &g.name {
        v["Name"] = Value::from(n.clone());
    }
    if let Some(r) = &g.retiring {
        v["RetiringPrincipal"] = Value::from(r.clone());
    }
    let mut cons = Map::new();
    if let Some(s) = &g.context_subset {
        cons.insert("EncryptionContextSubset".into(), json!(s));
    }
    if let Some(e) = &g.context_equals {
        cons.insert("EncryptionContextEquals".into(), json!(e));
    }
    if !cons.is_empty() {
        v["Constraints"] = Value::Object(cons);
    }
    v
}

fn retire_or_revoke(c: &mut Ctx<'_>, op: &str, input: &Value) -> Result<Value, KmsError> {
    let grant_id = match (opt_str(input, "GrantToken")?, opt_str(input, "GrantId")?) {
        (Some(t), _) if op == "RetireGrant" => grant_from_token(t)
            .ok_or_else(|| KmsError::InvalidGrantToken("Invalid grant token".into()))?,
        (_, Some(id)) => id.to_owned(),
        _ => {
            return Err(validation(
                "Value null at 'grantId' failed to satisfy constraint: Member must not be null",
            ));
        }
    };
    if grant_id.len() != 64 || !grant_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KmsError::InvalidGrantId(format!(
            "Invalid grant id: {grant_id}"
        )));
    }
    let grants = c.store.grants(None)?;
    let g = grants
        .iter()
        .find(|g| g.id == grant_id)
        .ok_or_else(|| KmsError::NotFound(format!("Grant ID {grant_id} not found")))?;
    let k = c.resolve(&g.key_id, false)?;
    if op == "RevokeGrant" {
        c.authorize(&k, "RevokeGrant", None, &BTreeMap::new())?;
    } else {
        // The retiring principal, the grantee of a grant that allows RetireGrant, or
        // anyone the key policy lets retire grants.
        let me = c
            .via_service
            .clone()
            .unwrap_or_else(|| c.caller.arn.clone());
        let allowed = g.retiring.as_deref() == Some(me.as_str())
            || (g.grantee == me && g.operations.iter().any(|o| o == "RetireGrant"));
        if !allowed {
            c.authorize(&k, "RetireGrant", None, &BTreeMap::new())?;
        }
    }
    c.store.delete_grant(&grant_id)?;
    Ok(json!({}))
}
