//! TagResource, UntagResource, ListTagsOfResource, DescribeEndpoints and Time to Live.

use crate::error::DynamoError;
use crate::input::{Input, null_member, validation_errors};
use crate::schema::TableDef;
use crate::service::Service;
use serde_json::{Value, json};
use std::sync::Arc;

use super::params::*;

impl Service {
    /// The table named by a `ResourceArn`.
    fn table_by_arn(&self, arn: &str) -> Result<Arc<TableDef>, DynamoError> {
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.cfg.region, self.cfg.account_id
        );
        let not_found = || {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: ResourcArn: {arn} not found"
            ))
        };
        // AWS checks the shape first: an index ARN, a stream ARN or a short name is not a
        // table ARN whatever exists.
        if !is_table_arn_shape(arn) {
            return Err(DynamoError::validation(format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            )));
        }
        let name = arn.strip_prefix(prefix.as_str()).ok_or_else(not_found)?;
        self.def(name).ok_or_else(not_found)
    }

    pub(crate) async fn tag_resource(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let mut errors = Vec::new();
        let list = input.list_opt("Tags")?;
        if list.is_none() {
            errors.push(null_member("tags"));
        }
        let new_tags = parse_tags(list.map_or(&[][..], Vec::as_slice), &mut errors)?;
        if !errors.is_empty() {
            return Err(validation_errors(&errors));
        }
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_arn(arn)?).clone();
        for (k, v) in new_tags {
            if let Some(e) = def.tags.iter_mut().find(|(ek, _)| *ek == k) {
                e.1 = v;
            } else {
                def.tags.push((k, v));
            }
        }
        if def.tags.len() > MAX_TAGS {
            return Err(DynamoError::LimitExceeded(
                "The number of tags exceeds the limit of 50".into(),
            ));
        }
        self.save_def(def)?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_resource(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let Some(keys) = input.list_opt("TagKeys")? else {
            return Err(validation_errors(&[null_member("tagKeys")]));
        };
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        let _guard = self.ddl.lock().await;
        let mut def = (*self.table_by_arn(arn)?).clone();
        def.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
        self.save_def(def)?;
        Ok(json!({}))
    }

    pub(crate) fn list_tags(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let def = self.table_by_arn(arn)?;
        let tags: Vec<Value> = def
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        Ok(json!({ "Tags": tags }))
    }

    pub(crate) fn describe_endpoints(&self) -> Value {
        json!({"Endpoints": [{"Address": self.cfg.endpoint_address, "CachePeriodInMinutes": 1440}]})
    }

    pub(crate) fn describe_ttl(&self, input: &Input) -> Result<Value, DynamoError> {
        let t = self.table(input)?;
        if let state @ "DELETING" = self.table_status(&t.def) {
            return Err(DynamoError::validation(format!(
                "Cannot describe time to live while table is in {state} state: Current table state is {state}"
            )));
        }
        Ok(match crate::ttl::ttl_status(&t.def, self.now_ms()) {
            (status, Some(a)) => {
                json!({"TimeToLiveDescription": {"TimeToLiveStatus": status, "AttributeName": a}})
            }
            (status, None) => json!({"TimeToLiveDescription": {"TimeToLiveStatus": status}}),
        })
    }

    pub(crate) async fn update_ttl(&self, input: &Input) -> Result<Value, DynamoError> {
        let Some(spec) = input.obj_opt("TimeToLiveSpecification")? else {
            return Err(validation_errors(&[null_member("timeToLiveSpecification")]));
        };
        let enabled = match spec.get("Enabled") {
            Some(Value::Bool(b)) => *b,
            _ => {
                return Err(validation_errors(&[null_member(
                    "timeToLiveSpecification.enabled",
                )]));
            }
        };
        let Some(attr) = obj_str(spec, "AttributeName")? else {
            return Err(validation_errors(&[null_member(
                "timeToLiveSpecification.attributeName",
            )]));
        };
        if attr.is_empty() || attr.len() > 255 {
            return Err(validation_errors(&[format!(
                "Value '{attr}' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )]));
        }
        let _guard = self.ddl.lock().await;
        let t = self.table(input)?;
        let mut def = (*t.def).clone();
        match (&def.ttl_attribute, enabled) {
            (Some(_), true) => {
                return Err(DynamoError::validation("TimeToLive is already enabled"));
            }
            (None, false) => {
                return Err(DynamoError::validation("TimeToLive is already disabled"));
            }
            (Some(current), false) if current != attr => {
                return Err(DynamoError::validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
                )));
            }
            _ => {}
        }
        // AWS checks the request against the current setting before the change interval.
        let now = self.now_ms();
        if crate::ttl::ttl_change_too_soon(&def, now) {
            return Err(DynamoError::validation(
                "Time to live has been modified multiple times within a fixed interval",
            ));
        }
        def.ttl_attribute = enabled.then(|| attr.to_owned());
        def.ttl_change = Some(crate::schema::TtlChange {
            at_ms: now,
            attribute: attr.to_owned(),
        });
        self.save_def(def)?;
        Ok(json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attr}}))
    }
}

/// `arn:aws:dynamodb:<region>:<digits>:table/<name of 3+ characters, no slash>`, the
/// shape AWS accepts for a table's tags.
pub(crate) fn is_table_arn_shape(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:dynamodb:") else {
        return false;
    };
    let Some((scope, name)) = rest.split_once(":table/") else {
        return false;
    };
    let Some((region, account)) = scope.rsplit_once(':') else {
        return false;
    };
    !region.is_empty()
        && !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit())
        && name.len() >= 3
        && !name.contains('/')
}
