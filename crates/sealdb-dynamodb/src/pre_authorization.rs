//! What AWS checks before it authorizes: the request on its own.
//!
//! DynamoDB validates a request before IAM decides on it, so a caller without permission
//! who sends a malformed request hears the ValidationException (or SerializationException),
//! not AccessDeniedException. The checks here are exactly the ones each operation makes
//! before it looks at any table (the same functions, so the two cannot drift apart); what
//! needs the table (key types against the schema, item sizes with index keys) comes after
//! authorization, as on AWS, where a denied caller learns nothing of a table.
//!
//! They run only when authorization has refused: an allowed request makes them anyway, in
//! its operation, before it touches anything.

use crate::error::DynamoError;
use crate::input::Input;
use crate::ops::batch::{
    TableReadRequest, batch_get_request_items, batch_write_request_items, batch_write_requests,
};
use crate::ops::items::{GetRequest, PutOrDeleteRequest, UpdateRequest};
use crate::ops::query::QueryRequest;
use crate::ops::scan::ScanRequest;
use crate::ops::tables::CreateTableRequest;
use crate::ops::transact::{ActionRequest, client_request_token, transact_items};
use crate::service::Operation;

/// The error AWS gives `op` on this request alone, if any.
pub(crate) fn request_error(op: Operation, input: &Input) -> Option<DynamoError> {
    checks(op, input).err()
}

fn checks(op: Operation, input: &Input) -> Result<(), DynamoError> {
    use Operation as O;
    match op {
        O::PutItem | O::DeleteItem => PutOrDeleteRequest::parse(input).map(drop)?,
        O::GetItem => GetRequest::parse(input).map(drop)?,
        O::UpdateItem => UpdateRequest::parse(input).map(drop)?,
        O::Query => QueryRequest::parse(input).map(drop)?,
        O::Scan => ScanRequest::parse(input).map(drop)?,
        O::BatchWriteItem => {
            let (_, request_items) = batch_write_request_items(input)?;
            for (table_name, requests) in request_items {
                batch_write_requests(table_name, requests)?;
            }
        }
        O::BatchGetItem => {
            let (_, request_items) = batch_get_request_items(input)?;
            for (table_name, spec) in request_items {
                TableReadRequest::parse(table_name, spec)?;
            }
        }
        O::TransactWriteItems => {
            let (_, items) = transact_items(input)?;
            client_request_token(input)?;
            for (i, entry) in items.iter().enumerate() {
                ActionRequest::parse(i, entry)?;
            }
        }
        O::TransactGetItems => {
            transact_items(input)?;
        }
        O::UpdateContinuousBackups => crate::ops::pitr::parse_spec(input).map(drop)?,
        O::RestoreTableToPointInTime => {
            crate::ops::pitr::RestoreRequest::parse(input).map(drop)?;
        }
        // CreateTable names a new table: no ARN, and its own checks cover the name.
        O::CreateTable => return CreateTableRequest::parse(input, 0).map(drop),
        _ => {}
    }
    // Every operation that names a table by `TableName` checks the name first.
    if let Ok(Some(name)) = input.str_opt("TableName") {
        crate::ops::tables::validate_table_name_param(name)?;
    }
    Ok(())
}
