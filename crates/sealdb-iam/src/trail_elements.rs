//! CloudTrail's `responseElements` for the IAM and STS calls that record them (the
//! create calls, AssumeRole, GetSessionToken): the same answer the client got, read back
//! from the `…Result` XML this crate wrote, in CloudTrail's shape (lowerCamel members,
//! lists as arrays, AWS's CloudTrail dates, booleans and counts as JSON values).
//!
//! AWS records the session token of AssumeRole and GetSessionToken; sealdb records no
//! secret or bearer credential, so `secretAccessKey` and `sessionToken` are left out.

use serde_json::{Map, Value};

/// The actions whose answer CloudTrail records (every other IAM/STS call: `null`).
const RECORDED: &[&str] = &[
    "CreateUser",
    "CreateGroup",
    "CreateRole",
    "CreatePolicy",
    "CreatePolicyVersion",
    "CreateAccessKey",
    "CreateLoginProfile",
    "AssumeRole",
    "GetSessionToken",
];

/// Members never recorded: secrets and bearer credentials.
const SECRET: &[&str] = &["SecretAccessKey", "SessionToken", "Password"];

/// Members holding a timestamp (written `YYYY-MM-DDTHH:MM:SSZ` in the XML).
const DATES: &[&str] = &["CreateDate", "UpdateDate", "Expiration"];

/// Members CloudTrail records as JSON booleans or numbers.
const BOOLS: &[&str] = &["IsAttachable", "IsDefaultVersion", "PasswordResetRequired"];
const NUMBERS: &[&str] = &[
    "AttachmentCount",
    "PermissionsBoundaryUsageCount",
    "MaxSessionDuration",
];

/// The responseElements of `action` whose answer was `result_xml` (`<{action}Result>…`);
/// `None` for actions CloudTrail records no answer for, or a text this crate did not write.
pub fn response_elements(action: &str, result_xml: &str) -> Option<Value> {
    if !RECORDED.contains(&action) {
        return None;
    }
    let mut pos = 0;
    let nodes = parse_nodes(result_xml.as_bytes(), &mut pos)?;
    let [(_, Node::Elements(body))] = nodes.as_slice() else {
        return None;
    };
    match to_json(body) {
        Value::Object(m) if !m.is_empty() => Some(Value::Object(m)),
        _ => None,
    }
}

enum Node {
    Text(String),
    Elements(Vec<(String, Node)>),
}

/// The elements from `pos` up to the closing tag of the parent (or the end).
fn parse_nodes(s: &[u8], pos: &mut usize) -> Option<Vec<(String, Node)>> {
    let mut out = Vec::new();
    while *pos < s.len() {
        if s.get(*pos..*pos + 2) == Some(b"</") {
            return Some(out);
        }
        if s[*pos] != b'<' {
            return None;
        }
        let end = *pos + s[*pos..].iter().position(|&b| b == b'>')?;
        let name = std::str::from_utf8(&s[*pos + 1..end]).ok()?.to_owned();
        *pos = end + 1;
        let node = if s.get(*pos) == Some(&b'<') && s.get(*pos + 1) != Some(&b'/') {
            Node::Elements(parse_nodes(s, pos)?)
        } else {
            let text_end = *pos + s[*pos..].iter().position(|&b| b == b'<')?;
            let text = unescape(std::str::from_utf8(&s[*pos..text_end]).ok()?);
            *pos = text_end;
            Node::Text(text)
        };
        let close = format!("</{name}>");
        if s.get(*pos..*pos + close.len()) != Some(close.as_bytes()) {
            return None;
        }
        *pos += close.len();
        out.push((name, node));
    }
    Some(out)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#13;", "\r")
        .replace("&amp;", "&")
}

fn to_json(nodes: &[(String, Node)]) -> Value {
    let mut map = Map::new();
    for (name, node) in nodes {
        if SECRET.contains(&name.as_str()) {
            continue;
        }
        let value = match node {
            Node::Text(t) => leaf(name, t),
            Node::Elements(children) if children.iter().all(|(n, _)| n == "member") => {
                Value::Array(
                    children
                        .iter()
                        .map(|(_, c)| match c {
                            Node::Elements(e) => to_json(e),
                            Node::Text(t) => Value::String(t.clone()),
                        })
                        .collect(),
                )
            }
            Node::Elements(children) => to_json(children),
        };
        map.insert(lower_camel(name), value);
    }
    Value::Object(map)
}

fn leaf(name: &str, text: &str) -> Value {
    if DATES.contains(&name) {
        return Value::String(cloudtrail_date(text).unwrap_or_else(|| text.to_owned()));
    }
    if BOOLS.contains(&name) {
        return Value::Bool(text == "true");
    }
    if NUMBERS.contains(&name)
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::from(n);
    }
    Value::String(text.to_owned())
}

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `2026-12-02T15:04:05Z` as CloudTrail writes IAM and STS dates: `Dec 2, 2026, 3:04:05 PM`.
fn cloudtrail_date(iso: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let num = |range: std::ops::Range<usize>| iso.get(range)?.parse::<u32>().ok();
    if iso.len() != 20 || !iso.ends_with('Z') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let name = MONTHS.get(usize::try_from(month.checked_sub(1)?).ok()?)?;
    let (h12, half) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    Some(format!(
        "{name} {day}, {year}, {h12}:{minute:02}:{second:02} {half}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_access_key_keeps_no_secret() {
        let xml = "<CreateAccessKeyResult><AccessKey><UserName>bob</UserName><AccessKeyId>AKIAX</AccessKeyId><Status>Active</Status><SecretAccessKey>s3cr3t</SecretAccessKey><CreateDate>2026-12-02T15:04:05Z</CreateDate></AccessKey></CreateAccessKeyResult>";
        assert_eq!(
            response_elements("CreateAccessKey", xml),
            Some(
                json!({"accessKey": {"userName": "bob", "accessKeyId": "AKIAX", "status": "Active",
                                      "createDate": "Dec 2, 2026, 3:04:05 PM"}})
            )
        );
    }

    #[test]
    fn lists_escapes_and_typed_members() {
        let xml = "<CreatePolicyResult><Policy><PolicyName>a&amp;b</PolicyName><AttachmentCount>0</AttachmentCount><IsAttachable>true</IsAttachable><Tags><member><Key>k</Key><Value>1</Value></member></Tags><UpdateDate>2026-01-01T00:00:09Z</UpdateDate></Policy></CreatePolicyResult>";
        assert_eq!(
            response_elements("CreatePolicy", xml),
            Some(
                json!({"policy": {"policyName": "a&b", "attachmentCount": 0, "isAttachable": true,
                                   "tags": [{"key": "k", "value": "1"}],
                                   "updateDate": "Jan 1, 2026, 12:00:09 AM"}})
            )
        );
    }

    #[test]
    fn session_credentials_keep_no_token() {
        let xml = "<GetSessionTokenResult><Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2026-12-02T12:30:00Z</Expiration></Credentials></GetSessionTokenResult>";
        assert_eq!(
            response_elements("GetSessionToken", xml),
            Some(
                json!({"credentials": {"accessKeyId": "ASIAX", "expiration": "Dec 2, 2026, 12:30:00 PM"}})
            )
        );
    }

    #[test]
    fn other_actions_and_foreign_text_record_nothing() {
        assert_eq!(
            response_elements("GetUser", "<GetUserResult></GetUserResult>"),
            None
        );
        assert_eq!(
            response_elements("CreateUser", "<CreateUserResult><User>"),
            None
        );
        assert_eq!(response_elements("CreateUser", "not xml"), None);
        assert_eq!(response_elements("CreateUser", ""), None);
    }
}
