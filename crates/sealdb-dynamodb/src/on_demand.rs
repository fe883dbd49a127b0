//! OnDemandThroughput (MaxReadRequestUnits, MaxWriteRequestUnits) of on-demand tables and
//! their global indexes, and OnDemandThroughputOverride of restores: parsing with AWS's
//! texts, UpdateTable's merge (-1 takes a maximum away) and the described form.

use crate::error::DynamoError;
use crate::input::int_value;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The maximums kept in a table's or an index's definition; `None` is no maximum.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OnDemandMax {
    /// MaxReadRequestUnits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_read: Option<i64>,
    /// MaxWriteRequestUnits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_write: Option<i64>,
}

impl OnDemandMax {
    /// No maximum set (the definition then has no member).
    pub fn is_none(&self) -> bool {
        *self == OnDemandMax::default()
    }

    /// Refuses maximums above the account's per-table (and per-index) maximum with AWS's
    /// LimitExceededException (DescribeLimits' TableMax*CapacityUnits).
    pub fn check_account_max(
        &self,
        subject: Subject<'_>,
        region: &str,
        max: i64,
    ) -> Result<(), DynamoError> {
        for (v, member, quota) in [
            (self.max_read, READ, "TableMaxReadCapacityUnits"),
            (self.max_write, WRITE, "TableMaxWriteCapacityUnits"),
        ] {
            if v.is_some_and(|v| v > max) {
                let of = match subject {
                    Subject::Index(name) => format!("index : {name}"),
                    _ => "table".to_owned(),
                };
                return Err(DynamoError::LimitExceeded(format!(
                    "Subscriber limit exceeded: Requested {member} for OnDemandThroughput for {of} exceeds {quota} of the account in region {region}"
                )));
            }
        }
        Ok(())
    }

    /// DescribeTable's `OnDemandThroughput`: only the members set; absent when none is.
    pub fn describe(&self) -> Option<Value> {
        let mut m = Map::new();
        if let Some(r) = self.max_read {
            m.insert("MaxReadRequestUnits".into(), r.into());
        }
        if let Some(w) = self.max_write {
            m.insert("MaxWriteRequestUnits".into(), w.into());
        }
        (!m.is_empty()).then_some(Value::Object(m))
    }
}

/// The members of an `OnDemandThroughput` (or override) as given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OnDemandRequest {
    read: Option<i64>,
    write: Option<i64>,
}

/// What the request's maximums belong to, for AWS's wording of errors.
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    /// The table, in CreateTable.
    CreateTable,
    /// The table, in UpdateTable.
    UpdateTable,
    /// A global index of that name (CreateTable or a GlobalSecondaryIndexUpdate).
    Index(&'a str),
    /// OnDemandThroughputOverride of a restore.
    Restore,
}

const READ: &str = "MaxReadRequestUnits";
const WRITE: &str = "MaxWriteRequestUnits";

impl OnDemandRequest {
    /// Reads the two members (either may be missing).
    pub fn parse(m: &Map<String, Value>) -> Result<OnDemandRequest, DynamoError> {
        Ok(OnDemandRequest {
            read: int_value(m.get(READ), READ)?,
            write: int_value(m.get(WRITE), WRITE)?,
        })
    }

    /// The member AWS names in its errors: the read maximum when given.
    fn named(&self) -> Option<&'static str> {
        if self.read.is_some() {
            Some(READ)
        } else if self.write.is_some() {
            Some(WRITE)
        } else {
            None
        }
    }

    /// Refuses maximums on a table (or restore) whose billing mode is PROVISIONED.
    pub fn refuse_provisioned(&self, subject: Subject<'_>) -> Result<(), DynamoError> {
        let Some(member) = self.named() else {
            return Ok(());
        };
        Err(DynamoError::validation(match subject {
            Subject::CreateTable => format!(
                "One or more parameter values were invalid: {member} for OnDemandThroughput cannot be specified when table BillingMode is PROVISIONED."
            ),
            Subject::UpdateTable => format!(
                "One or more parameter values were invalid: {member} for OnDemandThroughput cannot be specified when the table BillingMode is PROVISIONED"
            ),
            Subject::Index(name) => format!(
                "One or more parameter values were invalid: {member} for OnDemandThroughput for index: {name} cannot be specified when table BillingMode is PROVISIONED."
            ),
            Subject::Restore => format!(
                "Cannot override {member} for OnDemandThroughput unless BillingModeOverride is PAY_PER_REQUEST"
            ),
        }))
    }

    /// The maximums of a new table, index or restored table: each given one at least 1
    /// (-1 only takes a maximum away in UpdateTable).
    pub fn for_create(&self, subject: Subject<'_>) -> Result<OnDemandMax, DynamoError> {
        for (v, member) in [(self.read, READ), (self.write, WRITE)] {
            if v.is_some_and(|v| v < 1) {
                return Err(out_of_range(member, subject));
            }
        }
        Ok(OnDemandMax {
            max_read: self.read,
            max_write: self.write,
        })
    }

    /// UpdateTable: the given members replace the current ones (-1 takes one away).
    /// Returns the new maximums and UpdateTable's answer, which shows a maximum taken
    /// away by this request as -1.
    pub fn merge(
        &self,
        current: OnDemandMax,
        subject: Subject<'_>,
    ) -> Result<(OnDemandMax, Value), DynamoError> {
        let mut next = current;
        let mut shown = Map::new();
        for (v, member, slot) in [
            (self.read, READ, &mut next.max_read),
            (self.write, WRITE, &mut next.max_write),
        ] {
            match v {
                None => {
                    if let Some(c) = *slot {
                        shown.insert(member.into(), c.into());
                    }
                }
                Some(-1) => {
                    *slot = None;
                    shown.insert(member.into(), json!(-1));
                }
                Some(n) if n >= 1 => {
                    *slot = Some(n);
                    shown.insert(member.into(), n.into());
                }
                Some(_) => return Err(out_of_range(member, subject)),
            }
        }
        Ok((next, Value::Object(shown)))
    }

    /// The restored table's maximums: the source's, with the given members replacing
    /// theirs.
    pub fn override_of(&self, source: OnDemandMax) -> Result<OnDemandMax, DynamoError> {
        let given = self.for_create(Subject::Restore)?;
        Ok(OnDemandMax {
            max_read: given.max_read.or(source.max_read),
            max_write: given.max_write.or(source.max_write),
        })
    }
}

fn out_of_range(member: &str, subject: Subject<'_>) -> DynamoError {
    DynamoError::validation(match subject {
        Subject::CreateTable | Subject::UpdateTable => format!(
            "One or more parameter values were invalid: Requested {member} for OnDemandThroughput for table is outside of valid range"
        ),
        Subject::Index(name) => format!(
            "One or more parameter values were invalid: Requested {member} for OnDemandThroughput for index : {name} is outside of valid range"
        ),
        Subject::Restore => {
            format!("Requested {member} for OnDemandThroughput is outside of valid range")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> OnDemandRequest {
        OnDemandRequest::parse(v.as_object().unwrap()).unwrap()
    }

    fn message(e: DynamoError) -> String {
        match e {
            DynamoError::Validation(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_needs_positive_values() {
        let m = req(json!({"MaxReadRequestUnits": 100}))
            .for_create(Subject::CreateTable)
            .unwrap();
        assert_eq!(m.describe(), Some(json!({"MaxReadRequestUnits": 100})));
        assert_eq!(
            req(json!({}))
                .for_create(Subject::CreateTable)
                .unwrap()
                .describe(),
            None
        );
        let e = req(json!({"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": 0}))
            .for_create(Subject::CreateTable)
            .unwrap_err();
        assert_eq!(
            message(e),
            "One or more parameter values were invalid: Requested MaxReadRequestUnits for OnDemandThroughput for table is outside of valid range"
        );
        let e = req(json!({"MaxWriteRequestUnits": 0}))
            .for_create(Subject::Index("g-a"))
            .unwrap_err();
        assert!(message(e).contains("for OnDemandThroughput for index : g-a is outside"));
    }

    #[test]
    fn update_merges_and_minus_one_clears() {
        let cur = OnDemandMax {
            max_read: Some(1000),
            max_write: Some(500),
        };
        let (next, shown) = req(json!({"MaxReadRequestUnits": -1}))
            .merge(cur, Subject::UpdateTable)
            .unwrap();
        assert_eq!(next.describe(), Some(json!({"MaxWriteRequestUnits": 500})));
        assert_eq!(
            shown,
            json!({"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": 500})
        );
        let (next, shown) = req(json!({"MaxWriteRequestUnits": -1}))
            .merge(next, Subject::UpdateTable)
            .unwrap();
        assert!(next.is_none());
        assert_eq!(shown, json!({"MaxWriteRequestUnits": -1}));
        for bad in [0, -2] {
            let e = req(json!({"MaxWriteRequestUnits": bad}))
                .merge(cur, Subject::UpdateTable)
                .unwrap_err();
            assert!(message(e).contains("Requested MaxWriteRequestUnits"));
        }
    }

    #[test]
    fn provisioned_refusals_name_the_member_given() {
        let e = req(json!({"MaxWriteRequestUnits": 5}))
            .refuse_provisioned(Subject::Restore)
            .unwrap_err();
        assert_eq!(
            message(e),
            "Cannot override MaxWriteRequestUnits for OnDemandThroughput unless BillingModeOverride is PAY_PER_REQUEST"
        );
        assert!(
            req(json!({}))
                .refuse_provisioned(Subject::UpdateTable)
                .is_ok()
        );
    }
}
