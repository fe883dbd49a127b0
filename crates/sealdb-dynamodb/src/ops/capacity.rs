//! Capacity units as DynamoDB computes them, and the `ConsumedCapacity` member.

use crate::error::DynamoError;
use crate::input::validation_errors;
use serde_json::{Value, json};

/// `ReturnConsumedCapacity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnCapacity {
    /// Nothing.
    None,
    /// The total.
    Total,
    /// The total and per table/index.
    Indexes,
}

impl ReturnCapacity {
    /// Parses the member.
    pub fn parse(v: Option<&str>) -> Result<ReturnCapacity, DynamoError> {
        match v {
            None | Some("NONE") => Ok(ReturnCapacity::None),
            Some("TOTAL") => Ok(ReturnCapacity::Total),
            Some("INDEXES") => Ok(ReturnCapacity::Indexes),
            Some(other) => Err(validation_errors(&[format!(
                "Value '{other}' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
            )])),
        }
    }
}

/// Write units: one per started KB of the larger of the old and new item (at least 1).
pub fn write_units(size_bytes: usize) -> f64 {
    let kb = size_bytes.div_ceil(1024).max(1);
    f64::from(u32::try_from(kb).unwrap_or(u32::MAX))
}

/// Read units: one per started 4 KB (at least 1), halved when eventually consistent.
pub fn read_units(size_bytes: usize, consistent: bool) -> f64 {
    let blocks = size_bytes.div_ceil(4096).max(1);
    let units = f64::from(u32::try_from(blocks).unwrap_or(u32::MAX));
    if consistent { units } else { units / 2.0 }
}

/// The `ConsumedCapacity` member, or `None` when not asked for.
pub fn consumed(mode: ReturnCapacity, table: &str, units: f64, write: bool) -> Option<Value> {
    let kind = if write {
        "WriteCapacityUnits"
    } else {
        "ReadCapacityUnits"
    };
    match mode {
        ReturnCapacity::None => None,
        ReturnCapacity::Total => Some(json!({
            "TableName": table,
            "CapacityUnits": units,
            kind: units,
        })),
        ReturnCapacity::Indexes => Some(json!({
            "TableName": table,
            "CapacityUnits": units,
            kind: units,
            "Table": {"CapacityUnits": units, kind: units},
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_dynamodb_rounding() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(100, false), 0.5);
    }
}
