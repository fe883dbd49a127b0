//! Audit events in CloudTrail's record shape: the typed API every service uses to record
//! its calls (KMS itself, DynamoDB's management events, IAM and STS), and the text
//! stored in the hash-chained log.
//!
//! A record keeps what CloudTrail keeps: who called (userIdentity), from where, what
//! (eventName, the request parameters CloudTrail lists for that event, never secrets or
//! item values), on which resources, and how it ended (errorCode, errorMessage).

use sealdb_common::Principal;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// CloudTrail's record format version written here.
pub(crate) const EVENT_VERSION: &str = "1.08";

/// One resource an event acted on (`resources[]` of the record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditResource {
    /// The resource's ARN (CloudTrail's ResourceName in LookupEvents).
    pub arn: String,
    /// CloudTrail's resource type, e.g. `AWS::KMS::Key`, `AWS::DynamoDB::Table`.
    pub resource_type: String,
}

/// How a call failed, as CloudTrail records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditError {
    /// The error code, e.g. `AccessDeniedException` or `ResourceNotFoundException`.
    pub code: String,
    /// The message sent to the caller.
    pub message: String,
}

/// One call to record. Build it with [`AuditEvent::new`] and the `with_*` methods.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// `kms.amazonaws.com`, `dynamodb.amazonaws.com`, `iam.amazonaws.com`, `sts.amazonaws.com`.
    pub event_source: String,
    /// The API operation, e.g. `CreateTable`.
    pub event_name: String,
    /// CloudTrail's `readOnly`.
    pub read_only: bool,
    /// Who called.
    pub caller: Principal,
    /// The service that called on the caller's behalf (`dynamodb.amazonaws.com`).
    pub invoked_by: Option<String>,
    /// The client's User-Agent, when known.
    pub user_agent: Option<String>,
    /// The request parameters CloudTrail records for this event (no secrets, no item values).
    pub request_parameters: Value,
    /// What CloudTrail records of the answer (`null` for most events).
    pub response_elements: Value,
    /// The resources acted on.
    pub resources: Vec<AuditResource>,
    /// Set when the call was denied or failed.
    pub error: Option<AuditError>,
}

impl AuditEvent {
    /// An event with no parameters, resources or error yet.
    pub fn new(event_source: &str, event_name: &str, read_only: bool, caller: &Principal) -> Self {
        AuditEvent {
            event_source: event_source.to_owned(),
            event_name: event_name.to_owned(),
            read_only,
            caller: caller.clone(),
            invoked_by: None,
            user_agent: None,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            resources: Vec::new(),
            error: None,
        }
    }

    /// The request parameters, from any serializable type (a struct of the members
    /// CloudTrail records for the event).
    pub fn with_parameters<T: Serialize>(mut self, parameters: &T) -> Self {
        self.request_parameters = serde_json::to_value(parameters).unwrap_or(Value::Null);
        self
    }

    /// The response elements.
    pub fn with_response<T: Serialize>(mut self, response: &T) -> Self {
        self.response_elements = serde_json::to_value(response).unwrap_or(Value::Null);
        self
    }

    /// One resource acted on.
    pub fn with_resource(mut self, arn: &str, resource_type: &str) -> Self {
        self.resources.push(AuditResource {
            arn: arn.to_owned(),
            resource_type: resource_type.to_owned(),
        });
        self
    }

    /// The failure of the call.
    pub fn with_error(mut self, code: &str, message: &str) -> Self {
        self.error = Some(AuditError {
            code: code.to_owned(),
            message: message.to_owned(),
        });
        self
    }

    /// The calling service, for calls made on the caller's behalf.
    pub fn invoked_by(mut self, service: &str) -> Self {
        self.invoked_by = Some(service.to_owned());
        self
    }

    /// The client's User-Agent.
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = Some(user_agent.to_owned());
        self
    }

    /// The record as stored: CloudTrail's event JSON.
    pub(crate) fn to_record(&self, region: &str, epoch_millis: i64) -> Value {
        let caller = &self.caller;
        let mut user = Map::new();
        user.insert("type".into(), caller.cloudtrail_type().into());
        if !matches!(caller.kind, sealdb_common::PrincipalKind::Service { .. }) {
            user.insert("principalId".into(), caller.user_id().into());
        }
        user.insert("arn".into(), caller.arn.clone().into());
        user.insert("accountId".into(), caller.account_id.clone().into());
        if !caller.access_key_id.is_empty() {
            user.insert("accessKeyId".into(), caller.access_key_id.clone().into());
        }
        if let Some(name) = &caller.user_name {
            user.insert("userName".into(), name.clone().into());
        }
        if let Some(context) = session_context(caller) {
            user.insert("sessionContext".into(), context);
        }
        if let Some(service) = &self.invoked_by {
            user.insert("invokedBy".into(), service.clone().into());
        }
        let source_ip = self
            .invoked_by
            .clone()
            .unwrap_or_else(|| caller.source_ip.clone());
        let user_agent = self
            .invoked_by
            .clone()
            .or_else(|| self.user_agent.clone())
            .or_else(|| caller.user_agent.clone());
        let mut rec = Map::new();
        rec.insert("eventVersion".into(), EVENT_VERSION.into());
        rec.insert("userIdentity".into(), Value::Object(user));
        rec.insert("eventTime".into(), iso8601(epoch_millis).into());
        rec.insert("eventSource".into(), self.event_source.clone().into());
        rec.insert("eventName".into(), self.event_name.clone().into());
        rec.insert("awsRegion".into(), region.into());
        rec.insert("sourceIPAddress".into(), source_ip.into());
        if let Some(ua) = user_agent {
            rec.insert("userAgent".into(), ua.into());
        }
        if let Some(e) = &self.error {
            rec.insert("errorCode".into(), e.code.clone().into());
            rec.insert("errorMessage".into(), e.message.clone().into());
        }
        rec.insert("requestParameters".into(), self.request_parameters.clone());
        rec.insert("responseElements".into(), self.response_elements.clone());
        rec.insert("requestID".into(), uuid::Uuid::new_v4().to_string().into());
        rec.insert("eventID".into(), uuid::Uuid::new_v4().to_string().into());
        rec.insert("readOnly".into(), self.read_only.into());
        if !self.resources.is_empty() {
            let list: Vec<Value> = self
                .resources
                .iter()
                .map(|r| json!({"accountId": caller.account_id, "type": r.resource_type, "ARN": r.arn}))
                .collect();
            rec.insert("resources".into(), Value::Array(list));
        }
        rec.insert("eventType".into(), "AwsApiCall".into());
        rec.insert("managementEvent".into(), true.into());
        rec.insert(
            "recipientAccountId".into(),
            caller.account_id.clone().into(),
        );
        rec.insert("eventCategory".into(), "Management".into());
        Value::Object(rec)
    }
}

/// CloudTrail's `userIdentity.sessionContext` for temporary credentials: the role that
/// issued a role session (`sessionIssuer`), and when the session began.
fn session_context(caller: &Principal) -> Option<Value> {
    if !caller.session_token_used {
        return None;
    }
    let mut context = Map::new();
    if let sealdb_common::PrincipalKind::AssumedRole {
        role_name,
        role_id,
        role_path,
        ..
    } = &caller.kind
    {
        context.insert(
            "sessionIssuer".into(),
            json!({
                "type": "Role",
                "principalId": role_id,
                "arn": format!("arn:aws:iam::{}:role{role_path}{role_name}", caller.account_id),
                "accountId": caller.account_id,
                "userName": role_name,
            }),
        );
    }
    let mut attributes = Map::new();
    if let Some(created) = caller.session_created {
        attributes.insert(
            "creationDate".into(),
            iso8601(created.saturating_mul(1000)).into(),
        );
    }
    // No MFA here (aws:MultiFactorAuthPresent is always false).
    attributes.insert("mfaAuthenticated".into(), "false".into());
    context.insert("attributes".into(), Value::Object(attributes));
    Some(Value::Object(context))
}

/// `AWSAccountId` → `aWSAccountId`, `KeyId` → `keyId`: CloudTrail's member names.
pub(crate) fn lower_camel(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// Renames the members of a structure (and of structures inside it) to CloudTrail's
/// lowerCamel names. Maps that hold user data (encryption contexts) keep their keys.
pub fn camel_members(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let inner = if is_user_map(k) {
                        v.clone()
                    } else {
                        camel_members(v)
                    };
                    (lower_camel(k), inner)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(camel_members).collect()),
        other => other.clone(),
    }
}

fn is_user_map(member: &str) -> bool {
    member.ends_with("EncryptionContext")
        || member == "EncryptionContextSubset"
        || member == "EncryptionContextEquals"
}

/// `2026-12-02T00:57:03Z` (CloudTrail's eventTime) from epoch milliseconds.
pub fn iso8601(epoch_millis: i64) -> String {
    let secs = epoch_millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = sealdb_common::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Epoch seconds of a `YYYY-MM-DDTHH:MM:SSZ` time written by [`iso8601`].
pub(crate) fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    Some(sealdb_common::clock::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_764_637_023_999), "2025-12-02T00:57:03Z");
        for t in [0i64, 951_782_400, 1_764_637_023, 4_102_444_800] {
            assert_eq!(parse_iso8601(&iso8601(t * 1000)), Some(t));
        }
        assert_eq!(parse_iso8601("2025-12-02 00:57:03Z"), None);
    }

    #[test]
    fn member_names_are_camel_cased_but_contexts_are_not() {
        let v = json!({"KeyId": "k", "EncryptionContext": {"Dept": "IT"},
                       "Constraints": {"EncryptionContextSubset": {"Aa": "b"}},
                       "Tags": [{"TagKey": "A", "TagValue": "B"}]});
        assert_eq!(
            camel_members(&v),
            json!({"keyId": "k", "encryptionContext": {"Dept": "IT"},
                   "constraints": {"encryptionContextSubset": {"Aa": "b"}},
                   "tags": [{"tagKey": "A", "tagValue": "B"}]})
        );
    }
}
