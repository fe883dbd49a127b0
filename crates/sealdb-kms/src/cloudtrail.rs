//! CloudTrail's `LookupEvents` over the audit log (JSON 1.1, target prefix
//! `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`, signed for `cloudtrail`).
//!
//! Events come newest first. The log is read from its newest record backwards, so a
//! page costs the records it skips, not the whole log; a NextToken is the sequence
//! number to continue below, tied to the request's filters.

use crate::trail::parse_iso8601;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

/// The one CloudTrail operation served.
pub const LOOKUP_EVENTS: &str = "LookupEvents";

/// An error answered to a CloudTrail client (bare names, as CloudTrail sends them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudTrailError {
    /// A lookup attribute that is not valid, or more than one.
    InvalidLookupAttributes(String),
    /// StartTime after EndTime.
    InvalidTimeRange(String),
    /// MaxResults outside 1..=50.
    InvalidMaxResults(String),
    /// A token this server did not give for these parameters.
    InvalidNextToken(String),
    /// EventCategory other than `insight`.
    InvalidEventCategory(String),
    /// A member of the wrong JSON type, or a body that is not JSON.
    Serialization(String),
    /// The caller may not look up events.
    AccessDenied(String),
    /// Not a CloudTrail operation served here.
    UnknownOperation,
    /// Failure on our side (logged, not sent).
    Internal,
}

impl CloudTrailError {
    /// The `__type` sent.
    pub fn error_type(&self) -> &'static str {
        match self {
            CloudTrailError::InvalidLookupAttributes(_) => "InvalidLookupAttributesException",
            CloudTrailError::InvalidTimeRange(_) => "InvalidTimeRangeException",
            CloudTrailError::InvalidMaxResults(_) => "InvalidMaxResultsException",
            CloudTrailError::InvalidNextToken(_) => "InvalidNextTokenException",
            CloudTrailError::InvalidEventCategory(_) => "InvalidEventCategoryException",
            CloudTrailError::Serialization(_) => "SerializationException",
            CloudTrailError::AccessDenied(_) => "AccessDeniedException",
            CloudTrailError::UnknownOperation => "UnknownOperationException",
            CloudTrailError::Internal => "InternalFailure",
        }
    }

    /// HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            CloudTrailError::Internal => 500,
            CloudTrailError::InvalidLookupAttributes(_)
            | CloudTrailError::InvalidTimeRange(_)
            | CloudTrailError::InvalidMaxResults(_)
            | CloudTrailError::InvalidNextToken(_)
            | CloudTrailError::InvalidEventCategory(_)
            | CloudTrailError::Serialization(_)
            | CloudTrailError::AccessDenied(_)
            | CloudTrailError::UnknownOperation => 400,
        }
    }

    /// The message sent.
    pub fn message(&self) -> String {
        match self {
            CloudTrailError::InvalidLookupAttributes(m)
            | CloudTrailError::InvalidTimeRange(m)
            | CloudTrailError::InvalidMaxResults(m)
            | CloudTrailError::InvalidNextToken(m)
            | CloudTrailError::InvalidEventCategory(m)
            | CloudTrailError::Serialization(m)
            | CloudTrailError::AccessDenied(m) => m.clone(),
            CloudTrailError::UnknownOperation => String::new(),
            CloudTrailError::Internal => "Internal error".into(),
        }
    }
}

impl From<rusqlite::Error> for CloudTrailError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "audit log read failed");
        CloudTrailError::Internal
    }
}

/// What a lookup attribute filters on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AttributeKey {
    EventId,
    EventName,
    ReadOnly,
    Username,
    ResourceType,
    ResourceName,
    EventSource,
    AccessKeyId,
}

impl AttributeKey {
    const ALL: [(&'static str, AttributeKey); 8] = [
        ("EventId", AttributeKey::EventId),
        ("EventName", AttributeKey::EventName),
        ("ReadOnly", AttributeKey::ReadOnly),
        ("Username", AttributeKey::Username),
        ("ResourceType", AttributeKey::ResourceType),
        ("ResourceName", AttributeKey::ResourceName),
        ("EventSource", AttributeKey::EventSource),
        ("AccessKeyId", AttributeKey::AccessKeyId),
    ];

    fn parse(s: &str) -> Option<AttributeKey> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, k)| *k)
    }
}

/// A parsed LookupEvents request.
#[derive(Debug, PartialEq)]
pub(crate) struct LookupRequest {
    attribute: Option<(AttributeKey, String)>,
    start: Option<f64>,
    end: Option<f64>,
    insight: bool,
    max_results: usize,
    /// Continue with records below this sequence number.
    before_seq: Option<i64>,
    /// Ties a token to the filters it was given for.
    fingerprint: String,
}

fn ser(member: &str) -> CloudTrailError {
    CloudTrailError::Serialization(format!(
        "Unexpected value type in payload for member {member}"
    ))
}

fn time(input: &Value, member: &str) -> Result<Option<f64>, CloudTrailError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| ser(member)),
    }
}

impl LookupRequest {
    pub(crate) fn parse(input: &Value) -> Result<LookupRequest, CloudTrailError> {
        let attribute = match input.get("LookupAttributes") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => match list.as_slice() {
                [] => None,
                [one] => {
                    let key = one
                        .get("AttributeKey")
                        .and_then(Value::as_str)
                        .ok_or_else(|| ser("AttributeKey"))?;
                    let value = one
                        .get("AttributeValue")
                        .and_then(Value::as_str)
                        .ok_or_else(|| ser("AttributeValue"))?;
                    let key = AttributeKey::parse(key).ok_or_else(|| {
                        CloudTrailError::InvalidLookupAttributes(format!(
                            "Lookup attribute key {key} is not valid. Valid keys are EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource and AccessKeyId."
                        ))
                    })?;
                    if value.is_empty() || value.chars().count() > 2000 {
                        return Err(CloudTrailError::InvalidLookupAttributes(
                            "The lookup attribute value must be 1 to 2000 characters long.".into(),
                        ));
                    }
                    Some((key, value.to_owned()))
                }
                _ => {
                    return Err(CloudTrailError::InvalidLookupAttributes(
                        "You can specify only one lookup attribute.".into(),
                    ));
                }
            },
            Some(_) => return Err(ser("LookupAttributes")),
        };
        let (start, end) = (time(input, "StartTime")?, time(input, "EndTime")?);
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(CloudTrailError::InvalidTimeRange(
                "Start time must be before end time.".into(),
            ));
        }
        let insight = match input.get("EventCategory") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s == "insight" => true,
            Some(Value::String(s)) => {
                return Err(CloudTrailError::InvalidEventCategory(format!(
                    "Event category {s} is not valid. The valid value is insight."
                )));
            }
            Some(_) => return Err(ser("EventCategory")),
        };
        let max_results = match input.get("MaxResults") {
            None | Some(Value::Null) => 50,
            Some(v) => match v.as_i64() {
                Some(n @ 1..=50) => usize::try_from(n).unwrap_or(50),
                Some(_) => {
                    return Err(CloudTrailError::InvalidMaxResults(
                        "MaxResults must be between 1 and 50.".into(),
                    ));
                }
                None => return Err(ser("MaxResults")),
            },
        };
        let fingerprint = fingerprint(input);
        let before_seq = match input.get("NextToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(parse_token(t, &fingerprint)?),
            Some(_) => return Err(ser("NextToken")),
        };
        Ok(LookupRequest {
            attribute,
            start,
            end,
            insight,
            max_results,
            before_seq,
            fingerprint,
        })
    }

    fn matches(&self, record: &Value) -> bool {
        if let Some(t) = event_time(record) {
            if self.start.is_some_and(|s| t < s) || self.end.is_some_and(|e| t > e) {
                return false;
            }
        }
        let Some((key, want)) = &self.attribute else {
            return true;
        };
        let s = |v: &Value| v.as_str().map(str::to_owned);
        let resources = record["resources"].as_array().cloned().unwrap_or_default();
        match key {
            AttributeKey::EventId => s(&record["eventID"]).as_ref() == Some(want),
            AttributeKey::EventName => s(&record["eventName"]).as_ref() == Some(want),
            AttributeKey::EventSource => s(&record["eventSource"]).as_ref() == Some(want),
            AttributeKey::ReadOnly => {
                record["readOnly"].as_bool().map(|b| b.to_string())
                    == Some(want.to_ascii_lowercase())
            }
            AttributeKey::Username => username(record).as_ref() == Some(want),
            AttributeKey::AccessKeyId => {
                s(&record["userIdentity"]["accessKeyId"]).as_ref() == Some(want)
            }
            AttributeKey::ResourceType => resources
                .iter()
                .any(|r| s(&r["type"]).as_ref() == Some(want)),
            AttributeKey::ResourceName => resources.iter().any(|r| {
                s(&r["ARN"]).is_some_and(|arn| arn == *want || resource_name(&arn) == want)
            }),
        }
    }
}

/// The filters of a request (everything but NextToken and MaxResults).
fn fingerprint(input: &Value) -> String {
    let parts = json!([
        input.get("LookupAttributes"),
        input.get("StartTime"),
        input.get("EndTime"),
        input.get("EventCategory")
    ]);
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parts.to_string().as_bytes());
    hex::encode(&d.as_ref()[..8])
}

fn parse_token(token: &str, fingerprint: &str) -> Result<i64, CloudTrailError> {
    let bad = || CloudTrailError::InvalidNextToken("Invalid NextToken.".into());
    let raw = B64URL.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (seq, fp) = text.split_once(':').ok_or_else(bad)?;
    if fp != fingerprint {
        return Err(bad());
    }
    seq.parse::<i64>().map_err(|_| bad())
}

fn make_token(seq: i64, fingerprint: &str) -> String {
    B64URL.encode(format!("{seq}:{fingerprint}"))
}

/// Epoch seconds of a record (ISO text, or the number older records hold).
fn event_time(record: &Value) -> Option<f64> {
    match &record["eventTime"] {
        Value::String(s) => parse_iso8601(s).map(|t| t as f64),
        v => v.as_f64(),
    }
}

/// CloudTrail's Username: the user name, `root` for the account root.
fn username(record: &Value) -> Option<String> {
    let id = &record["userIdentity"];
    if let Some(n) = id["userName"].as_str() {
        return Some(n.to_owned());
    }
    (id["type"] == "Root").then(|| "root".to_owned())
}

/// The name part of an ARN: `table/Music` → `Music`, `key/<id>` → `<id>`.
fn resource_name(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, n)| n)
}

fn event_of(record: &Value, text: &str) -> Value {
    let resources: Vec<Value> = record["resources"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| json!({"ResourceType": r["type"], "ResourceName": r["ARN"]}))
                .collect()
        })
        .unwrap_or_default();
    let mut e = json!({
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": record["readOnly"].as_bool().unwrap_or(false).to_string(),
        "EventTime": event_time(record),
        "EventSource": record["eventSource"],
        "Resources": resources,
        "CloudTrailEvent": text,
    });
    if let Some(k) = record["userIdentity"]["accessKeyId"].as_str() {
        e["AccessKeyId"] = k.into();
    }
    if let Some(u) = username(record) {
        e["Username"] = u.into();
    }
    e
}

/// Answers LookupEvents from the log in `conn`.
pub(crate) fn lookup(conn: &Connection, req: &LookupRequest) -> Result<Value, CloudTrailError> {
    if req.insight {
        // No Insights events are produced here.
        return Ok(json!({"Events": []}));
    }
    let mut stmt =
        conn.prepare("SELECT seq, record FROM audit WHERE seq < ?1 ORDER BY seq DESC")?;
    let mut rows = stmt.query(params![req.before_seq.unwrap_or(i64::MAX)])?;
    let mut events = Vec::new();
    let mut last_seq = None;
    while let Some(row) = rows.next()? {
        let (seq, text): (i64, String) = (row.get(0)?, row.get(1)?);
        let Ok(record) = serde_json::from_str::<Value>(&text) else {
            tracing::error!(seq, "audit record does not parse");
            return Err(CloudTrailError::Internal);
        };
        if !req.matches(&record) {
            continue;
        }
        if events.len() == req.max_results {
            // One more match exists: the page ends at the last one taken.
            let mut out = json!({"Events": events});
            if let Some(s) = last_seq {
                out["NextToken"] = make_token(s, &req.fingerprint).into();
            }
            return Ok(out);
        }
        events.push(event_of(&record, &text));
        last_seq = Some(seq);
    }
    Ok(json!({"Events": events}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_validated() {
        let err = |v: Value| LookupRequest::parse(&v).unwrap_err().error_type();
        assert_eq!(err(json!({"MaxResults": 51})), "InvalidMaxResultsException");
        assert_eq!(err(json!({"MaxResults": 0})), "InvalidMaxResultsException");
        assert_eq!(
            err(json!({"StartTime": 10, "EndTime": 5})),
            "InvalidTimeRangeException"
        );
        assert_eq!(
            err(json!({"EventCategory": "data"})),
            "InvalidEventCategoryException"
        );
        assert_eq!(
            err(json!({"LookupAttributes": [{"AttributeKey": "Color", "AttributeValue": "x"}]})),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            err(json!({"LookupAttributes": [
                {"AttributeKey": "EventName", "AttributeValue": "x"},
                {"AttributeKey": "Username", "AttributeValue": "y"}]})),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            err(json!({"NextToken": "nope"})),
            "InvalidNextTokenException"
        );
        assert_eq!(err(json!({"MaxResults": "5"})), "SerializationException");
        // A token is only good with the filters it was given for.
        let a = json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "A"}]});
        let token = make_token(9, &fingerprint(&a));
        let mut with = a.clone();
        with["NextToken"] = token.clone().into();
        assert_eq!(LookupRequest::parse(&with).unwrap().before_seq, Some(9));
        let other = json!({"NextToken": token});
        assert_eq!(err(other), "InvalidNextTokenException");
    }

    #[test]
    fn attributes_match_records() {
        let rec = json!({"eventID": "e1", "eventName": "CreateTable", "eventSource": "dynamodb.amazonaws.com",
            "readOnly": false, "eventTime": "2026-12-02T01:00:00Z",
            "userIdentity": {"type": "IAMUser", "userName": "alice", "accessKeyId": "AKIA1"},
            "resources": [{"type": "AWS::DynamoDB::Table", "ARN": "arn:aws:dynamodb:us-east-1:000000000000:table/Music"}]});
        let with = |k: &str, v: &str| {
            LookupRequest::parse(
                &json!({"LookupAttributes": [{"AttributeKey": k, "AttributeValue": v}]}),
            )
            .unwrap()
            .matches(&rec)
        };
        assert!(with("EventName", "CreateTable") && !with("EventName", "DeleteTable"));
        assert!(with("Username", "alice") && !with("Username", "root"));
        assert!(with("ReadOnly", "false") && !with("ReadOnly", "true"));
        assert!(with("ResourceName", "Music"));
        assert!(with(
            "ResourceName",
            "arn:aws:dynamodb:us-east-1:000000000000:table/Music"
        ));
        assert!(with("ResourceType", "AWS::DynamoDB::Table"));
        assert!(with("EventSource", "dynamodb.amazonaws.com"));
        assert!(with("AccessKeyId", "AKIA1") && with("EventId", "e1"));
        let t = parse_iso8601("2026-12-02T01:00:00Z").unwrap();
        let in_range = |s: i64, e: i64| {
            LookupRequest::parse(&json!({"StartTime": s, "EndTime": e}))
                .unwrap()
                .matches(&rec)
        };
        assert!(in_range(t, t) && !in_range(t + 1, t + 2) && !in_range(t - 2, t - 1));
    }
}
