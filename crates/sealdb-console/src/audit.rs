//! Event history: CloudTrail's LookupEvents with one lookup attribute and a time range (as
//! the AWS console offers), each event's JSON, and whether the log's hash chain verifies.

use crate::calls::s;
use crate::layout::{self, Section};
use crate::{Ctx, Reply};
use maud::{Markup, html};
use serde_json::{Value, json};

/// The lookup attributes, with the AWS console's labels.
const ATTRIBUTES: [(&str, &str); 8] = [
    ("EventName", "Event name"),
    ("Username", "User name"),
    ("ResourceName", "Resource name"),
    ("ResourceType", "Resource type"),
    ("EventSource", "Event source"),
    ("AccessKeyId", "AWS access key"),
    ("EventId", "Event ID"),
    ("ReadOnly", "Read-only"),
];

/// `YYYY-MM-DDTHH:MM[:SS]` (an `<input type=datetime-local>`, taken as UTC) → epoch seconds.
fn epoch_of(text: &str) -> Option<i64> {
    let with_secs = if text.len() == 16 {
        format!("{text}:00")
    } else {
        text.to_owned()
    };
    let format =
        time::format_description::parse("[year]-[month]-[day]T[hour]:[minute]:[second]").ok()?;
    time::PrimitiveDateTime::parse(&with_secs, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

fn request(ctx: &Ctx<'_>) -> Result<Value, String> {
    let q = &ctx.query;
    let mut req = json!({ "MaxResults": 50 });
    if let (Some(key), Some(value)) = (q.non_empty("attribute"), q.non_empty("value")) {
        req["LookupAttributes"] = json!([{ "AttributeKey": key, "AttributeValue": value }]);
    }
    for (field, member) in [("start", "StartTime"), ("end", "EndTime")] {
        if let Some(t) = q.non_empty(field) {
            let secs = epoch_of(t).ok_or_else(|| format!("{t} is not a date and time."))?;
            req[member] = json!(secs);
        }
    }
    if let Some(token) = q.non_empty("next") {
        req["NextToken"] = json!(token);
    }
    Ok(req)
}

fn filters(ctx: &Ctx<'_>) -> Markup {
    let q = &ctx.query;
    html! {
        form.box #event-filters method="get" action="/console/audit" {
            label for="attribute" { "Lookup attribute" }
            select #attribute name="attribute" {
                @for (key, label) in ATTRIBUTES {
                    option value=(key) selected[q.get("attribute") == Some(key)] { (label) }
                }
            }
            label for="value" { "Value" }
            input #value type="text" name="value" value=(q.get("value").unwrap_or(""));
            label for="start" { "From (UTC)" }
            input #start type="datetime-local" name="start" value=(q.get("start").unwrap_or(""));
            label for="end" { "To (UTC)" }
            input #end type="datetime-local" name="end" value=(q.get("end").unwrap_or(""));
            div.actions { button.primary #lookup type="submit" { "Look up events" } }
        }
    }
}

/// GET /console/audit
pub(crate) async fn page(ctx: &Ctx<'_>) -> Reply {
    let result = match request(ctx) {
        Ok(req) => ctx.lookup_events(req).await.map_err(|e| e.text()),
        Err(e) => Err(e),
    };
    // The chain is shown only to a caller the log was just shown to.
    let chain = match &result {
        Ok(_) => Some(ctx.verify_audit_chain().await),
        Err(_) => None,
    };
    let content = html! {
        h1 { "Event history" }
        @match &chain {
            Some(Ok(n)) => div.alert.ok #chain role="status" { "The log's hash chain verifies: " (n) " records, none removed, reordered or edited." },
            Some(Err(e)) => div.alert.error #chain role="alert" { "The log's hash chain does not verify: " (e) },
            None => {},
        }
        (filters(ctx))
        @match &result {
            Err(e) => (layout::flash(Some(e))),
            Ok(out) => (events(ctx, out)),
        }
    };
    layout::page(ctx, Section::Audit, "Event history", content)
}

fn events(ctx: &Ctx<'_>, out: &Value) -> Markup {
    let list: Vec<&Value> = out["Events"].as_array().into_iter().flatten().collect();
    let next = out["NextToken"].as_str().map(|token| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for field in ["attribute", "value", "start", "end"] {
            if let Some(v) = ctx.query.get(field) {
                pairs.append_pair(field, v);
            }
        }
        pairs.append_pair("next", token);
        format!("/console/audit?{}", pairs.finish())
    });
    html! {
        div.scroll {
            table.list #events {
                thead { tr {
                    th scope="col" { "Event time" } th scope="col" { "Event name" } th scope="col" { "User name" }
                    th scope="col" { "Event source" } th scope="col" { "Resources" } th scope="col" { "Read-only" }
                    th scope="col" { "Event record" }
                } }
                tbody {
                    @for e in &list {
                        @let record = serde_json::from_str::<Value>(s(e, "CloudTrailEvent")).ok();
                        @let read_only = record.as_ref().and_then(|r| r.get("readOnly")).and_then(Value::as_bool);
                        tr {
                            td { (layout::time_text(e.get("EventTime"))) }
                            td { (s(e, "EventName")) }
                            td { (s(e, "Username")) }
                            td { (s(e, "EventSource")) }
                            td { (e["Resources"].as_array().into_iter().flatten().map(|r| s(r, "ResourceName")).collect::<Vec<_>>().join(", ")) }
                            td { @match read_only { Some(true) => "true", Some(false) => "false", None => "-" } }
                            td {
                                details {
                                    summary { "View event" }
                                    pre.mono { (record.as_ref().and_then(|r| serde_json::to_string_pretty(r).ok()).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                    @if list.is_empty() { tr { td colspan="7" { "No events." } } }
                }
            }
        }
        @if let Some(href) = next { div.actions { a.button #next-events href=(href) { "Next page" } } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_times_are_read_as_utc() {
        assert_eq!(epoch_of("2023-11-14T22:13"), Some(1_699_999_980));
        assert_eq!(epoch_of("2023-11-14T22:13:20"), Some(1_700_000_000));
        assert_eq!(epoch_of("yesterday"), None);
    }
}
