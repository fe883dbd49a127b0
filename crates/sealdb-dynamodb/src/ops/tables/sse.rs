//! Encryption at rest in CreateTable / UpdateTable: SSESpecification parsed with AWS's
//! texts, resolved to a KMS key, and a key switch.

use crate::error::DynamoError;
use crate::input::{Input, validation_errors};
use crate::service::Service;
use sealdb_common::Principal;
use serde_json::{Map, Value, json};

use super::params::*;

impl Service {
    /// [`Service::resolve_sse`] for the other operations of this crate.
    pub(crate) async fn resolve_sse_public(
        &self,
        sse: &SseRequest,
        caller: &Principal,
    ) -> Result<Option<String>, DynamoError> {
        self.resolve_sse(sse, caller).await
    }

    /// The KMS key ARN an SSE request resolves to (`None`: the service-owned key),
    /// with DynamoDB's wording of KMS failures.
    pub(super) async fn resolve_sse(
        &self,
        sse: &SseRequest,
        caller: &Principal,
    ) -> Result<Option<String>, DynamoError> {
        let key_id = match sse {
            SseRequest::Owned => return Ok(None),
            SseRequest::AwsManaged => "alias/aws/dynamodb",
            SseRequest::Customer(k) => k.as_str(),
        };
        let Some(vault) = &self.kms else {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: KMS encryption is not available on this server",
            ));
        };
        vault
            .resolve_key(caller, key_id)
            .await
            .map(Some)
            .map_err(|e| match e {
                sealdb_kms::KmsError::AccessDenied(_) => {
                    DynamoError::AccessDenied(crate::sse::kms_failure_message(&e))
                }
                _ => DynamoError::Validation(crate::sse::kms_failure_message(&e)),
            })
    }

    /// UpdateTable with SSESpecification: re-wraps the table key under the new key.
    pub(super) async fn update_sse(
        &self,
        input: &Input,
        caller: &Principal,
    ) -> Result<Value, DynamoError> {
        let Some(m) = input.obj_opt("SSESpecification")? else {
            return Err(DynamoError::Internal);
        };
        let sse = parse_sse(m)?;
        let _guard = self.ddl.lock().await;
        let raw = input.str_req("TableName")?;
        let name = self.table_name_from(raw).to_owned();
        let t = self.table(input).map_err(|_| not_found_table(&name))?;
        let current = t.def.sse_key_arn.clone();
        match (&sse, &current) {
            (SseRequest::Owned, None) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Table is already encrypted by default",
                ));
            }
            (SseRequest::Customer(k), Some(arn)) if k == arn => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Table is already encrypted with given KMSMasterKeyId. Use KMSMasterKeyId parameter if you want to change Master Key",
                ));
            }
            _ => {}
        }
        let now = self.now_ms();
        let day = 24 * 3600 * 1000;
        let recent: Vec<i64> = t
            .def
            .sse_changes
            .iter()
            .copied()
            .filter(|c| now - c < day)
            .collect();
        if recent.len() >= 4 && recent.last().is_some_and(|l| now - l < 21_600_000) {
            return Err(DynamoError::LimitExceeded(format!(
                "Subscriber limit exceeded: Encryption mode changes are limited in the 24h window ending at {}. After the first 4 change, each subsequent change in the same window can be performed at most once every 21600 seconds. Number of updates today: {}. Last change at {}",
                crate::schema::iso_millis(now),
                recent.len(),
                crate::schema::iso_millis(recent.last().copied().unwrap_or(now))
            )));
        }
        let new_arn = self.resolve_sse(&sse, caller).await?;
        let mut def = (*t.def).clone();
        def.sse_key_arn = new_arn.clone();
        def.sse_changes = recent;
        def.sse_changes.push(now);
        // The new wrapped key and the definition naming its key in one catalog write.
        self.engine
            .rewrap_table(&name, new_arn, Some(caller.clone()), def.encode())
            .await?;
        let def = self.cache_def(def);
        let t2 = crate::service::TableRef {
            def,
            handle: t.handle,
        };
        let mut d = self.live_description(&t2, "ACTIVE").await?;
        // The response shows the change in progress, as AWS does: UPDATING, old key.
        d["SSEDescription"] = match &current {
            Some(arn) => json!({"Status": "UPDATING", "SSEType": "KMS", "KMSMasterKeyArn": arn}),
            None => json!({"Status": "UPDATING"}),
        };
        Ok(json!({ "TableDescription": d }))
    }
}

/// What the service keeps of a table's encryption key switches (UpdateTable
/// SSESpecification), which the daily switch limit counts. DescribeTable's
/// SSEDescription has no such member on AWS, so this is read apart from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptionSwitches {
    /// When the last switch was made, epoch milliseconds; `None` if the key has not
    /// changed since the table was created (or restored).
    pub last_ms: Option<i64>,
    /// Switches made in the 24 hours before now (the limit's window).
    pub in_last_day: usize,
}

impl Service {
    /// The table's key switches, for a caller allowed `dynamodb:DescribeTable` on it.
    pub fn encryption_switches(
        &self,
        caller: &Principal,
        table: &str,
    ) -> Result<EncryptionSwitches, DynamoError> {
        let mut request = Map::new();
        request.insert("TableName".into(), Value::String(table.to_owned()));
        let input = Input::from_map(request);
        self.authorize(crate::service::Operation::DescribeTable, caller, &input)?;
        let name = self.table_name_from(table);
        let def = self.def(name).ok_or_else(|| not_found_table(name))?;
        let now = self.now_ms();
        let day = 24 * 3600 * 1000;
        Ok(EncryptionSwitches {
            last_ms: def.sse_changes.iter().copied().max(),
            in_last_day: def.sse_changes.iter().filter(|c| now - **c < day).count(),
        })
    }
}

/// What an SSESpecification asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SseRequest {
    /// The service-owned key (no KMS).
    Owned,
    /// The AWS managed key `alias/aws/dynamodb`.
    AwsManaged,
    /// A customer managed key (id, ARN, alias name or alias ARN as given).
    Customer(String),
}

/// Validates an SSESpecification with AWS's texts (before any KMS call).
pub(crate) fn parse_sse(m: &Map<String, Value>) -> Result<SseRequest, DynamoError> {
    let enabled = match m.get("Enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(DynamoError::Serialization(
                "Unexpected value type in payload for member Enabled".into(),
            ));
        }
    };
    let sse_type = obj_str(m, "SSEType")?;
    let key = obj_str(m, "KMSMasterKeyId")?;
    if let Some(t) = sse_type
        && t != "AES256"
        && t != "KMS"
    {
        return Err(validation_errors(&[enum_error(
            t,
            "sSESpecification.sSEType",
            "AES256, KMS",
        )]));
    }
    let invalid = |msg: &str| {
        DynamoError::validation(format!("One or more parameter values were invalid: {msg}"))
    };
    if enabled == Some(false) {
        if sse_type.is_some() {
            return Err(invalid("SSEType can not be specified if Enabled is false"));
        }
        if key.is_some() {
            return Err(invalid(
                "KMSMasterKeyId can not be specified if Enabled is false",
            ));
        }
        return Ok(SseRequest::Owned);
    }
    if enabled.is_none() && sse_type.is_none() && key.is_none() {
        return Ok(SseRequest::Owned);
    }
    if sse_type == Some("AES256") {
        return Err(invalid("SSEType AES256 is not supported"));
    }
    match key {
        Some(_) if sse_type.is_none() => Err(invalid(
            "SSEType KMS is required if KMSMasterKeyId is specified",
        )),
        Some(k) => Ok(SseRequest::Customer(k.to_owned())),
        None => Ok(SseRequest::AwsManaged),
    }
}

#[cfg(test)]
mod sse_tests {
    use super::*;

    fn p(v: Value) -> Result<SseRequest, String> {
        parse_sse(v.as_object().unwrap()).map_err(|e| e.message())
    }

    #[test]
    fn sse_specification_rules() {
        assert_eq!(p(json!({})), Ok(SseRequest::Owned));
        assert_eq!(p(json!({"Enabled": false})), Ok(SseRequest::Owned));
        assert_eq!(p(json!({"Enabled": true})), Ok(SseRequest::AwsManaged));
        assert_eq!(p(json!({"SSEType": "KMS"})), Ok(SseRequest::AwsManaged));
        assert_eq!(
            p(json!({"SSEType": "KMS", "KMSMasterKeyId": "alias/k"})),
            Ok(SseRequest::Customer("alias/k".into()))
        );
        let prefix = "One or more parameter values were invalid: ";
        assert_eq!(
            p(json!({"Enabled": false, "SSEType": "KMS"})),
            Err(format!(
                "{prefix}SSEType can not be specified if Enabled is false"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": false, "KMSMasterKeyId": "k"})),
            Err(format!(
                "{prefix}KMSMasterKeyId can not be specified if Enabled is false"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": false, "SSEType": "AES256", "KMSMasterKeyId": "k"})),
            Err(format!(
                "{prefix}SSEType can not be specified if Enabled is false"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": true, "KMSMasterKeyId": "k"})),
            Err(format!(
                "{prefix}SSEType KMS is required if KMSMasterKeyId is specified"
            ))
        );
        assert_eq!(
            p(json!({"Enabled": true, "SSEType": "AES256"})),
            Err(format!("{prefix}SSEType AES256 is not supported"))
        );
        assert_eq!(
            p(json!({"SSEType": "kms"})),
            Err("1 validation error detected: Value 'kms' at 'sSESpecification.sSEType' failed to satisfy constraint: Member must satisfy enum value set: [AES256, KMS]".into())
        );
    }
}
