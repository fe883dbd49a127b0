//! Items: scan or query with a key-condition and a filter builder, pages of results, and
//! an item as DynamoDB JSON to create, edit (only if it did not change meanwhile) and
//! delete.

use crate::calls::{ServiceError, s};
use crate::form::Form;
use crate::layout::{self, Section};
use crate::table::tabs;
use crate::{Ctx, Reply, path_segment};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::{Markup, html};
use sealdb_dynamodb::Operation;
use serde_json::{Map, Value, json};

/// Items per page.
const PAGE_SIZE: i64 = 25;

/// A table's key attributes: (name, type) of the partition key and of the sort key.
struct KeySchema {
    partition: (String, String),
    sort: Option<(String, String)>,
}

impl KeySchema {
    fn of(desc: &Value) -> KeySchema {
        let attr = |kind: &str| {
            let name = desc["KeySchema"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|k| s(k, "KeyType") == kind)
                .map(|k| s(k, "AttributeName").to_owned())?;
            let ty = desc["AttributeDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| s(a, "AttributeName") == name)
                .map_or("S", |a| s(a, "AttributeType"))
                .to_owned();
            Some((name, ty))
        };
        KeySchema {
            partition: attr("HASH").unwrap_or_default(),
            sort: attr("RANGE"),
        }
    }

    /// The key of an item (its key attributes).
    fn key_of(&self, item: &Map<String, Value>) -> Map<String, Value> {
        std::iter::once(&self.partition)
            .chain(self.sort.as_ref())
            .filter_map(|(n, _)| item.get(n).map(|v| (n.clone(), v.clone())))
            .collect()
    }
}

/// A value typed as `ty` (`S`, `N` or `B`).
fn typed(ty: &str, v: &str) -> Value {
    json!({ ty: v })
}

/// An attribute value in a cell: strings and numbers as they are, the rest as JSON.
fn cell(v: &Value) -> String {
    match v.as_object().and_then(|o| o.iter().next()) {
        Some((t, Value::String(x))) if t == "S" || t == "N" => x.clone(),
        Some((t, Value::Bool(b))) if t == "BOOL" => b.to_string(),
        _ => v.to_string(),
    }
}

fn encode_key(key: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(Value::Object(key.clone()).to_string())
}

fn decode_key(text: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The Scan or Query request the search form describes.
fn search_request(table: &str, keys: &KeySchema, q: &Form) -> Value {
    let mut names = Map::new();
    let mut values = Map::new();
    let mut req = json!({ "TableName": table, "Limit": PAGE_SIZE });
    if q.get("mode") == Some("query") {
        let (pk, pk_ty) = &keys.partition;
        names.insert("#pk".into(), json!(pk));
        values.insert(":pk".into(), typed(pk_ty, q.get("pk").unwrap_or("")));
        let mut cond = "#pk = :pk".to_owned();
        if let (Some((sk, sk_ty)), Some(v)) = (&keys.sort, q.non_empty("sk")) {
            names.insert("#sk".into(), json!(sk));
            values.insert(":sk".into(), typed(sk_ty, v));
            let op = q.get("sk_op").unwrap_or("=");
            if op == "begins_with" {
                cond.push_str(" AND begins_with(#sk, :sk)");
            } else if ["=", "<", "<=", ">", ">="].contains(&op) {
                cond.push_str(&format!(" AND #sk {op} :sk"));
            }
        }
        req["KeyConditionExpression"] = json!(cond);
    }
    if let Some(attr) = q.non_empty("filter_attr") {
        names.insert("#f".into(), json!(attr));
        let value = typed(
            if q.get("filter_type") == Some("N") {
                "N"
            } else {
                "S"
            },
            q.get("filter_value").unwrap_or(""),
        );
        let filter = match q.get("filter_op").unwrap_or("=") {
            "exists" => "attribute_exists(#f)".to_owned(),
            "not_exists" => "attribute_not_exists(#f)".to_owned(),
            f @ ("begins_with" | "contains") => {
                values.insert(":f".into(), value);
                format!("{f}(#f, :f)")
            }
            op => {
                let op = if ["=", "<>", "<", "<=", ">", ">="].contains(&op) {
                    op
                } else {
                    "="
                };
                values.insert(":f".into(), value);
                format!("#f {op} :f")
            }
        };
        req["FilterExpression"] = json!(filter);
    }
    if let Some(start) = q.get("start").and_then(decode_key) {
        req["ExclusiveStartKey"] = Value::Object(start);
    }
    if !names.is_empty() {
        req["ExpressionAttributeNames"] = Value::Object(names);
    }
    if !values.is_empty() {
        req["ExpressionAttributeValues"] = Value::Object(values);
    }
    req
}

/// The table's description, or the page saying why not.
async fn describe(ctx: &Ctx<'_>, name: &str) -> Result<Value, Reply> {
    ctx.dynamodb(Operation::DescribeTable, json!({ "TableName": name }))
        .await
        .map(|d| d["Table"].clone())
        .map_err(|e| {
            layout::page(
                ctx,
                Section::Tables,
                name,
                html! { h1 { (name) } (layout::flash(Some(&e.text()))) },
            )
        })
}

fn search_form(name: &str, keys: &KeySchema, q: &Form) -> Markup {
    let action = format!("/console/tables/{}/items", path_segment(name));
    let query = q.get("mode") == Some("query");
    html! {
        form.box #search method="get" action=(action) {
            fieldset {
                legend { "Scan or query items" }
                input #mode-scan type="radio" name="mode" value="scan" checked[!query];
                label.inline for="mode-scan" { "Scan" }
                input #mode-query type="radio" name="mode" value="query" checked[query];
                label.inline for="mode-query" { "Query" }
            }
            div data-show-when="mode=query" {
                label for="pk" { (keys.partition.0) " (partition key)" }
                input #pk type="text" name="pk" value=(q.get("pk").unwrap_or(""));
                @if let Some((sk, _)) = &keys.sort {
                    label for="sk_op" { (sk) " (sort key) - optional" }
                    select #sk_op name="sk_op" {
                        @for op in ["=", "<", "<=", ">", ">=", "begins_with"] {
                            option value=(op) selected[q.get("sk_op") == Some(op)] { (op) }
                        }
                    }
                    input #sk type="text" name="sk" aria-label="Sort key value" value=(q.get("sk").unwrap_or(""));
                }
            }
            fieldset {
                legend { "Filter - optional" }
                label for="filter_attr" { "Attribute name" }
                input #filter_attr type="text" name="filter_attr" value=(q.get("filter_attr").unwrap_or(""));
                label for="filter_op" { "Condition" }
                select #filter_op name="filter_op" {
                    @for (op, label) in [("=", "Equal to"), ("<>", "Not equal to"), ("<", "Less than"), ("<=", "Less than or equal to"), (">", "Greater than"), (">=", "Greater than or equal to"), ("begins_with", "Begins with"), ("contains", "Contains"), ("exists", "Exists"), ("not_exists", "Not exists")] {
                        option value=(op) selected[q.get("filter_op") == Some(op)] { (label) }
                    }
                }
                label for="filter_type" { "Type" }
                select #filter_type name="filter_type" {
                    option value="S" selected[q.get("filter_type") != Some("N")] { "String" }
                    option value="N" selected[q.get("filter_type") == Some("N")] { "Number" }
                }
                label for="filter_value" { "Value" }
                input #filter_value type="text" name="filter_value" value=(q.get("filter_value").unwrap_or(""));
            }
            div.actions { button.primary #run type="submit" { "Run" } }
        }
    }
}

/// GET /console/tables/<name>/items
pub(crate) async fn page(ctx: &Ctx<'_>, name: &str, message: Option<(bool, String)>) -> Reply {
    let desc = match describe(ctx, name).await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let keys = KeySchema::of(&desc);
    let q = &ctx.query;
    let op = if q.get("mode") == Some("query") {
        Operation::Query
    } else {
        Operation::Scan
    };
    let result = ctx.dynamodb(op, search_request(name, &keys, q)).await;
    let base = format!("/console/tables/{}/items", path_segment(name));
    let content = html! {
        p { a href="/console/tables" { "Tables" } " / " (name) }
        h1 { (name) }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        (tabs(name, "items"))
        (search_form(name, &keys, q))
        div.actions { a.button.primary #create-item href=(format!("{base}/edit")) { "Create item" } }
        @match &result {
            Err(e) => (layout::flash(Some(&e.text()))),
            Ok(out) => (results(ctx, &base, &keys, out)),
        }
    };
    layout::page(ctx, Section::Tables, name, content)
}

fn results(ctx: &Ctx<'_>, base: &str, keys: &KeySchema, out: &Value) -> Markup {
    let items: Vec<&Map<String, Value>> = out["Items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let mut columns: Vec<String> = std::iter::once(keys.partition.0.clone())
        .chain(keys.sort.iter().map(|(n, _)| n.clone()))
        .collect();
    for item in &items {
        let mut others: Vec<&String> = item.keys().filter(|k| !columns.contains(k)).collect();
        others.sort();
        columns.extend(others.into_iter().cloned());
    }
    let next = out
        .get("LastEvaluatedKey")
        .and_then(Value::as_object)
        .map(|k| {
            let mut pairs = form_urlencoded::Serializer::new(String::new());
            for field in [
                "mode",
                "pk",
                "sk_op",
                "sk",
                "filter_attr",
                "filter_op",
                "filter_type",
                "filter_value",
            ] {
                if let Some(v) = ctx.query.get(field) {
                    pairs.append_pair(field, v);
                }
            }
            pairs.append_pair("start", &encode_key(k));
            format!("{base}?{}", pairs.finish())
        });
    html! {
        h2 { "Items returned (" (items.len()) ")" }
        div.scroll {
            table.list #items {
                thead { tr {
                    @for c in &columns { th scope="col" { (c) } }
                    th scope="col" { "Actions" }
                } }
                tbody {
                    @for item in &items {
                        @let key = encode_key(&keys.key_of(item));
                        tr {
                            @for c in &columns { td { @if let Some(v) = item.get(c) { (cell(v)) } } }
                            td {
                                a href=(format!("{base}/edit?key={key}")) { "Edit" }
                                form method="post" action=(format!("{base}/delete")) {
                                    (layout::csrf(ctx))
                                    input type="hidden" name="key" value=(key);
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                    @if items.is_empty() { tr { td colspan=(columns.len() + 1) { "No items." } } }
                }
            }
        }
        @if let Some(href) = next { div.actions { a.button #next-page href=(href) { "Next page" } } }
    }
}

/// A refused edit, shown again: the text as typed, the original item, and why.
pub(crate) struct Refused {
    text: String,
    original: String,
    message: String,
}

/// GET /console/tables/<name>/items/edit[?key=]: the item as DynamoDB JSON.
pub(crate) async fn editor(ctx: &Ctx<'_>, name: &str, refused: Option<Refused>) -> Reply {
    let desc = match describe(ctx, name).await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let keys = KeySchema::of(&desc);
    let (text, original) = match (&refused, ctx.query.get("key").and_then(decode_key)) {
        (Some(r), _) => (r.text.clone(), r.original.clone()),
        (None, Some(key)) => {
            let got = ctx
                .dynamodb(
                    Operation::GetItem,
                    json!({ "TableName": name, "Key": key, "ConsistentRead": true }),
                )
                .await;
            match got {
                Ok(out) if out.get("Item").is_some() => {
                    let item = out["Item"].clone();
                    (
                        serde_json::to_string_pretty(&item).unwrap_or_default(),
                        item.to_string(),
                    )
                }
                Ok(_) => {
                    return page(
                        ctx,
                        name,
                        Some((false, "The item no longer exists.".into())),
                    )
                    .await;
                }
                Err(e) => return page(ctx, name, Some((false, e.text()))).await,
            }
        }
        (None, None) => {
            let mut template = Map::new();
            for (n, t) in std::iter::once(&keys.partition).chain(keys.sort.as_ref()) {
                template.insert(n.clone(), typed(t, ""));
            }
            (
                serde_json::to_string_pretty(&Value::Object(template)).unwrap_or_default(),
                String::new(),
            )
        }
    };
    let base = format!("/console/tables/{}/items", path_segment(name));
    let title = if original.is_empty() {
        "Create item"
    } else {
        "Edit item"
    };
    let content = html! {
        p { a href="/console/tables" { "Tables" } " / " a href=(base) { (name) } " / " (title) }
        h1 { (title) }
        (layout::flash(refused.as_ref().map(|r| r.message.as_str())))
        form method="post" action=(format!("{base}/put")) {
            (layout::csrf(ctx))
            input type="hidden" name="original" value=(original);
            label for="item" { "Attributes (DynamoDB JSON)" }
            textarea #item name="item" spellcheck="false" { (text) }
            p.hint { "Each attribute is written with its type, for example {\"name\": {\"S\": \"Ana\"}, \"age\": {\"N\": \"42\"}}." }
            div.actions {
                button.primary #save-item type="submit" { (if original.is_empty() { "Create item" } else { "Save changes" }) }
                a.button href=(base) { "Cancel" }
            }
        }
    };
    layout::page(ctx, Section::Tables, title, content)
}

/// The condition that an item still has every attribute of `original` as it was, or,
/// for a new item, that none exists under its key.
fn unchanged_condition(
    keys: &KeySchema,
    original: Option<&Map<String, Value>>,
) -> (String, Map<String, Value>, Map<String, Value>) {
    let mut names = Map::new();
    let mut values = Map::new();
    let Some(original) = original else {
        names.insert("#k".into(), json!(keys.partition.0));
        return ("attribute_not_exists(#k)".into(), names, Map::new());
    };
    let parts: Vec<String> = original
        .iter()
        .enumerate()
        .map(|(i, (attr, v))| {
            names.insert(format!("#a{i}"), json!(attr));
            values.insert(format!(":v{i}"), v.clone());
            format!("#a{i} = :v{i}")
        })
        .collect();
    (parts.join(" AND "), names, values)
}

/// POST /console/tables/<name>/items/put
pub(crate) async fn put(ctx: &Ctx<'_>, name: &str, f: &Form) -> Reply {
    let text = f.get("item").unwrap_or("").to_owned();
    let original_text = f.get("original").unwrap_or("").to_owned();
    let again = |message: String| {
        let text = text.clone();
        let original_text = original_text.clone();
        async move { editor_error(ctx, name, text, original_text, message).await }
    };
    let item = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        _ => return again("The attributes must be a JSON object in DynamoDB JSON.".into()).await,
    };
    let original = match serde_json::from_str::<Value>(&original_text) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let desc = match describe(ctx, name).await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let keys = KeySchema::of(&desc);
    let (condition, names, values) = unchanged_condition(&keys, original.as_ref());
    let mut req = json!({
        "TableName": name,
        "Item": item,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
    });
    if !values.is_empty() {
        req["ExpressionAttributeValues"] = Value::Object(values);
    }
    match ctx.dynamodb(Operation::PutItem, req).await {
        Ok(_) => page(ctx, name, Some((true, "The item was saved.".into()))).await,
        Err(e) => again(condition_text(original.is_some(), &e)).await,
    }
}

fn condition_text(editing: bool, e: &ServiceError) -> String {
    if e.name == "ConditionalCheckFailedException" {
        if editing {
            format!(
                "{}. The item was changed or deleted since you opened it; open it again.",
                e.text()
            )
        } else {
            format!("{}. An item with this key already exists.", e.text())
        }
    } else {
        e.text()
    }
}

async fn editor_error(
    ctx: &Ctx<'_>,
    name: &str,
    text: String,
    original: String,
    message: String,
) -> Reply {
    let refused = Refused {
        text,
        original,
        message,
    };
    let mut reply = editor(ctx, name, Some(refused)).await;
    *reply.status_mut() = http::StatusCode::BAD_REQUEST;
    reply
}

/// POST /console/tables/<name>/items/delete
pub(crate) async fn delete(ctx: &Ctx<'_>, name: &str, f: &Form) -> Reply {
    let Some(key) = f.get("key").and_then(decode_key) else {
        return page(ctx, name, Some((false, "No item was named.".into()))).await;
    };
    match ctx
        .dynamodb(
            Operation::DeleteItem,
            json!({ "TableName": name, "Key": key }),
        )
        .await
    {
        Ok(_) => page(ctx, name, Some((true, "The item was deleted.".into()))).await,
        Err(e) => page(ctx, name, Some((false, e.text()))).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySchema {
        KeySchema {
            partition: ("id".into(), "S".into()),
            sort: Some(("at".into(), "N".into())),
        }
    }

    #[test]
    fn a_query_has_a_key_condition_and_a_filter() {
        let q = Form::default()
            .with("mode", "query")
            .with("pk", "a")
            .with("sk_op", ">=")
            .with("sk", "3")
            .with("filter_attr", "color")
            .with("filter_op", "begins_with")
            .with("filter_value", "re");
        let r = search_request("t", &keys(), &q);
        assert_eq!(r["KeyConditionExpression"], "#pk = :pk AND #sk >= :sk");
        assert_eq!(r["ExpressionAttributeValues"][":sk"], json!({"N": "3"}));
        assert_eq!(r["FilterExpression"], "begins_with(#f, :f)");
    }

    #[test]
    fn an_unknown_operator_is_not_put_into_an_expression() {
        let q = Form::default()
            .with("filter_attr", "x")
            .with("filter_op", ") OR (attribute_exists(y)");
        let r = search_request("t", &keys(), &q);
        assert_eq!(r["FilterExpression"], "#f = :f");
        assert!(r.get("KeyConditionExpression").is_none());
    }

    #[test]
    fn keys_round_trip_through_links() {
        let mut k = Map::new();
        k.insert("id".into(), json!({"S": "<&>"}));
        assert_eq!(decode_key(&encode_key(&k)), Some(k));
        assert_eq!(decode_key("not base64!"), None);
    }

    #[test]
    fn an_edit_is_conditional_on_every_original_attribute() {
        let mut orig = Map::new();
        orig.insert("id".into(), json!({"S": "a"}));
        orig.insert("n".into(), json!({"N": "1"}));
        let (c, names, values) = unchanged_condition(&keys(), Some(&orig));
        assert_eq!(c, "#a0 = :v0 AND #a1 = :v1");
        assert_eq!(names["#a1"], "n");
        assert_eq!(values[":v1"], json!({"N": "1"}));
        let (c, _, values) = unchanged_condition(&keys(), None);
        assert_eq!(c, "attribute_not_exists(#k)");
        assert!(values.is_empty());
    }
}
