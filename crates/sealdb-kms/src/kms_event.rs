//! The audit record of one KMS call: the request members CloudTrail keeps for that
//! event (see [`Operation::audited_members`]), under CloudTrail's lowerCamel names, and
//! the few response elements it keeps.

use crate::error::KmsError;
use crate::operation::Operation;
use crate::trail::{AuditEvent, camel_members};
use sealdb_common::Principal;
use serde_json::{Map, Value, json};

/// The event for `op` called by `caller`: `params` as CloudTrail records them, and the
/// response elements of a success or the error of a failure.
pub(crate) fn audit_event(
    op: Operation,
    caller: &Principal,
    params: Value,
    resource: Option<&str>,
    outcome: Result<Value, &KmsError>,
    via: Option<&str>,
) -> AuditEvent {
    let mut event = AuditEvent::new("kms.amazonaws.com", op.name(), op.is_read_only(), caller);
    event.request_parameters = params;
    if let Some(service) = via {
        event = event.invoked_by(&format!("{service}.amazonaws.com"));
    }
    if let Some(arn) = resource {
        event = event.with_resource(arn, "AWS::KMS::Key");
    }
    match outcome {
        Ok(response) => event.response_elements = response,
        Err(e) => event = event.with_error(e.error_type(), &e.message()),
    }
    event
}

/// The members of `input` CloudTrail records for `op`, under its names.
pub(crate) fn request_parameters(op: Operation, input: &Value) -> Value {
    let Some(m) = input.as_object() else {
        return Value::Null;
    };
    let kept: Map<String, Value> = op
        .audited_members()
        .iter()
        .filter_map(|k| m.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    if kept.is_empty() {
        Value::Null
    } else {
        camel_members(&Value::Object(kept))
    }
}

/// CloudTrail keeps the identifiers a call created, not its data.
pub(crate) fn response_elements(op: Operation, out: &Value, account_id: &str) -> Value {
    match op {
        Operation::CreateGrant => json!({"grantId": out["GrantId"]}),
        Operation::CreateKey => {
            let mut md = camel_members(&out["KeyMetadata"]);
            if let Some(m) = md.as_object_mut() {
                m.insert("aWSAccountId".into(), account_id.into());
            }
            json!({"keyMetadata": md})
        }
        Operation::ScheduleKeyDeletion | Operation::CreateCustomKeyStore => camel_members(out),
        Operation::ReplicateKey => {
            json!({"replicaKeyMetadata": camel_members(&out["ReplicaKeyMetadata"])})
        }
        _ => Value::Null,
    }
}
