//! How AWS words request-validation failures, operation by operation.
//!
//! PutItem, UpdateItem and DeleteItem report the checks made while reading the request
//! (unused expression names or values, empty ExpressionAttributeValues, an empty
//! UpdateExpression, overlapping update paths, an empty set) as a one-error validation
//! report, `1 validation error detected: <message>`, and so does Query for its Select
//! checks; GetItem, Scan, the batch and transaction operations send the same messages
//! bare. Checks made later (key sizes, types against the schema) stay bare everywhere.
//! As verified against AWS by moto's DynamoDB suite (2026).

use crate::error::DynamoError;
use crate::service::Operation;

const REPORT_PREFIX: &str = "1 validation error detected: ";

/// Messages the single-item writes report as a validation report.
const WRITE_REQUEST_CHECKS: [&str; 6] = [
    "Value provided in ExpressionAttributeNames unused in expressions",
    "Value provided in ExpressionAttributeValues unused in expressions",
    "ExpressionAttributeValues must not be empty",
    "Invalid UpdateExpression: The expression can not be empty;",
    "Invalid UpdateExpression: Two document paths overlap with each other;",
    "One or more parameter values were invalid: An ",
];

/// Messages Query reports as a validation report (Scan sends them bare).
const QUERY_SELECT_CHECKS: [&str; 4] = [
    "Cannot specify the ProjectionExpression when choosing to get",
    "Cannot specify the AttributesToGet when choosing to get",
    "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
    "Must specify the AttributesToGet or ProjectionExpression when choosing to get",
];

/// `e` worded as AWS words it for `op`.
pub(crate) fn as_aws_words(op: Operation, e: DynamoError) -> DynamoError {
    let DynamoError::Validation(message) = e else {
        return e;
    };
    let checks: &[&str] = match op {
        Operation::PutItem | Operation::UpdateItem | Operation::DeleteItem => &WRITE_REQUEST_CHECKS,
        Operation::Query => &QUERY_SELECT_CHECKS,
        _ => &[],
    };
    let reported = checks.iter().any(|c| message.starts_with(c))
        // "An <type> set may not be empty" is the only "An ..." check of this kind.
        && (!message.starts_with("One or more parameter values were invalid: An ")
            || message.ends_with("set  may not be empty"));
    if reported {
        DynamoError::Validation(format!("{REPORT_PREFIX}{message}"))
    } else {
        DynamoError::Validation(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: DynamoError) -> String {
        e.message()
    }

    #[test]
    fn writes_and_query_report_request_checks() {
        let unused = "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}";
        for op in [
            Operation::PutItem,
            Operation::UpdateItem,
            Operation::DeleteItem,
        ] {
            assert_eq!(
                text(as_aws_words(op, DynamoError::validation(unused))),
                format!("1 validation error detected: {unused}")
            );
        }
        for op in [
            Operation::GetItem,
            Operation::Scan,
            Operation::TransactWriteItems,
        ] {
            assert_eq!(
                text(as_aws_words(op, DynamoError::validation(unused))),
                unused
            );
        }
        let key = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of 2048 bytes";
        assert_eq!(
            text(as_aws_words(
                Operation::UpdateItem,
                DynamoError::validation(key)
            )),
            key
        );
        let select = "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName";
        assert_eq!(
            text(as_aws_words(
                Operation::Query,
                DynamoError::validation(select)
            )),
            format!("1 validation error detected: {select}")
        );
        assert_eq!(
            text(as_aws_words(
                Operation::Scan,
                DynamoError::validation(select)
            )),
            select
        );
    }
}
