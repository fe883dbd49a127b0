//! DynamoDB's management events in the audit log, as CloudTrail records them: table,
//! index, stream, encryption, TTL, tag and backup changes, with the caller, the request
//! parameters (lowerCamel, as CloudTrail writes them; control-plane requests carry no
//! item values) and, for a failed call, its error code and message.

use crate::error::DynamoError;
use crate::input::Input;
use crate::service::{Operation, Service};
use sealdb_common::Principal;
use sealdb_kms::AuditEvent;
use serde_json::Value;

/// The control-plane reads CloudTrail records as management events (`readOnly: true`).
fn is_recorded_read(op: Operation) -> bool {
    use Operation as O;
    matches!(
        op,
        O::DescribeTable
            | O::ListTables
            | O::DescribeTimeToLive
            | O::ListTagsOfResource
            | O::DescribeBackup
            | O::ListBackups
            | O::DescribeContinuousBackups
            | O::GetResourcePolicy
            | O::DescribeLimits
            | O::DescribeGlobalTable
            | O::ListGlobalTables
            | O::DescribeGlobalTableSettings
            | O::DescribeTableReplicaAutoScaling
    )
}

/// True for the control-plane calls recorded as management events: every change, and
/// the reads of [`is_recorded_read`].
fn is_recorded(op: Operation) -> bool {
    use Operation as O;
    is_recorded_read(op)
        || matches!(
            op,
            O::CreateTable
                | O::UpdateTable
                | O::DeleteTable
                | O::TagResource
                | O::UntagResource
                | O::UpdateTimeToLive
                | O::CreateBackup
                | O::DeleteBackup
                | O::RestoreTableFromBackup
                | O::UpdateContinuousBackups
                | O::RestoreTableToPointInTime
                | O::PutResourcePolicy
                | O::DeleteResourcePolicy
                | O::CreateGlobalTable
                | O::UpdateGlobalTable
                | O::UpdateGlobalTableSettings
        )
}

/// `ResourceNotFoundException` from `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`.
fn short_type(wire: &str) -> &str {
    wire.rsplit_once('#').map_or(wire, |(_, n)| n)
}

impl Service {
    /// Appends the management event of `op` (if it is one) to the audit log. A failure
    /// to record is logged; the call's own answer stands.
    pub(crate) async fn record_management_event(
        &self,
        op: Operation,
        caller: &Principal,
        input: &Input,
        result: &Result<Value, DynamoError>,
    ) {
        let Some(kms) = self.kms.as_ref().map(|v| v.service()) else {
            return;
        };
        if !is_recorded(op) {
            return;
        }
        let read_only = is_recorded_read(op);
        let mut event = AuditEvent::new("dynamodb.amazonaws.com", op.name(), read_only, caller)
            .with_parameters(&sealdb_kms::cloudtrail_members(&Value::Object(
                input.raw().clone(),
            )));
        if let Some(arn) = self.resource_arn(op, input) {
            event = event.with_resource(&arn, "AWS::DynamoDB::Table");
        }
        if let Err(e) = result {
            event = event.with_error(short_type(e.wire_type()), &e.message());
        }
        if let Err(e) = kms.record(event).await {
            tracing::error!(error = ?e, "recording a DynamoDB management event failed");
        }
    }

    /// The table an event is about (CloudTrail lists the table for every one of these).
    fn resource_arn(&self, op: Operation, input: &Input) -> Option<String> {
        let raw = input.raw();
        let s = |k: &str| raw.get(k).and_then(Value::as_str);
        let table = match op {
            Operation::ListTables | Operation::ListBackups | Operation::DescribeLimits => {
                return None;
            }
            Operation::TagResource
            | Operation::UntagResource
            | Operation::ListTagsOfResource
            | Operation::PutResourcePolicy
            | Operation::GetResourcePolicy
            | Operation::DeleteResourcePolicy => {
                return s("ResourceArn").map(str::to_owned);
            }
            Operation::DeleteBackup | Operation::DescribeBackup => {
                // `arn:...:table/T/backup/B`: the table is inside the backup's ARN.
                let arn = s("BackupArn")?;
                return Some(arn.split("/backup/").next().unwrap_or(arn).to_owned());
            }
            Operation::RestoreTableFromBackup | Operation::RestoreTableToPointInTime => {
                s("TargetTableName")?
            }
            _ => self.table_name_from(s("TableName")?),
        };
        Some(format!(
            "arn:aws:dynamodb:{}:{}:table/{table}",
            self.cfg.region, self.cfg.account_id
        ))
    }
}
