//! Items: scan or query the table or one of its indexes, with a key-condition builder on
//! the chosen source's keys, a filter builder (up to three conditions, all of which must
//! hold) and pages of results; deleting an item. One item's editor is `item_editor.rs`.

use crate::calls::s;
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
/// Filter conditions the builder offers.
const FILTER_ROWS: usize = 3;

/// The key attributes of a table or index: (name, type) of the partition key and of the
/// sort key.
pub(crate) struct KeySchema {
    pub(crate) partition: (String, String),
    pub(crate) sort: Option<(String, String)>,
}

impl KeySchema {
    /// The table's own keys.
    pub(crate) fn of(desc: &Value) -> KeySchema {
        KeySchema::from_schema(&desc["KeySchema"], &desc["AttributeDefinitions"])
    }

    /// The keys of the table's index `name` (global or local), if it has one.
    fn of_index(desc: &Value, name: &str) -> Option<KeySchema> {
        index_descriptions(desc)
            .find(|i| s(i, "IndexName") == name)
            .map(|i| KeySchema::from_schema(&i["KeySchema"], &desc["AttributeDefinitions"]))
    }

    fn from_schema(schema: &Value, defs: &Value) -> KeySchema {
        let attr = |kind: &str| {
            let name = schema
                .as_array()
                .into_iter()
                .flatten()
                .find(|k| s(k, "KeyType") == kind)
                .map(|k| s(k, "AttributeName").to_owned())?;
            let ty = defs
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
    pub(crate) fn key_of(&self, item: &Map<String, Value>) -> Map<String, Value> {
        self.attributes()
            .filter_map(|(n, _)| item.get(n).map(|v| (n.clone(), v.clone())))
            .collect()
    }

    /// The key attributes, partition key first.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = &(String, String)> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }
}

/// The table's global and local secondary indexes, as DescribeTable lists them.
fn index_descriptions(desc: &Value) -> impl Iterator<Item = &Value> {
    desc["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            desc["LocalSecondaryIndexes"]
                .as_array()
                .into_iter()
                .flatten(),
        )
}

/// A value typed as `ty` (`S`, `N` or `B`).
pub(crate) fn typed(ty: &str, v: &str) -> Value {
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

pub(crate) fn encode_key(key: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(Value::Object(key.clone()).to_string())
}

pub(crate) fn decode_key(text: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The name of filter row `i`'s field `what` (`filter_attr`, `filter_attr_2`, …).
fn filter_field(what: &str, i: usize) -> String {
    if i == 0 {
        format!("filter_{what}")
    } else {
        format!("filter_{what}_{}", i + 1)
    }
}

/// The FilterExpression of the filter rows (each a condition, all joined by AND).
fn filter_expression(
    q: &Form,
    names: &mut Map<String, Value>,
    values: &mut Map<String, Value>,
) -> Option<String> {
    let mut parts = Vec::new();
    for i in 0..FILTER_ROWS {
        let Some(attr) = q.non_empty(&filter_field("attr", i)) else {
            continue;
        };
        let (n, v) = (format!("#f{i}"), format!(":f{i}"));
        names.insert(n.clone(), json!(attr));
        let ty = if q.get(&filter_field("type", i)) == Some("N") {
            "N"
        } else {
            "S"
        };
        let value = typed(ty, q.get(&filter_field("value", i)).unwrap_or(""));
        let part = match q.get(&filter_field("op", i)).unwrap_or("=") {
            "exists" => format!("attribute_exists({n})"),
            "not_exists" => format!("attribute_not_exists({n})"),
            f @ ("begins_with" | "contains") => {
                values.insert(v.clone(), value);
                format!("{f}({n}, {v})")
            }
            op => {
                // Only known operators reach the expression.
                let op = if ["=", "<>", "<", "<=", ">", ">="].contains(&op) {
                    op
                } else {
                    "="
                };
                values.insert(v.clone(), value);
                format!("{n} {op} {v}")
            }
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

/// The Scan or Query request the search form describes, on the table or on `index`
/// (whose keys `keys` are).
fn search_request(table: &str, index: Option<&str>, keys: &KeySchema, q: &Form) -> Value {
    let mut names = Map::new();
    let mut values = Map::new();
    let mut req = json!({ "TableName": table, "Limit": PAGE_SIZE });
    if let Some(index) = index {
        req["IndexName"] = json!(index);
    }
    if q.get("mode") == Some("query") {
        let (pk, pk_ty) = &keys.partition;
        names.insert("#pk".into(), json!(pk));
        values.insert(":pk".into(), typed(pk_ty, q.get("pk").unwrap_or("")));
        let mut cond = "#pk = :pk".to_owned();
        if let (Some((sk, sk_ty)), Some(v)) = (&keys.sort, q.non_empty("sk")) {
            names.insert("#sk".into(), json!(sk));
            values.insert(":sk".into(), typed(sk_ty, v));
            match q.get("sk_op").unwrap_or("=") {
                "begins_with" => cond.push_str(" AND begins_with(#sk, :sk)"),
                "between" => {
                    values.insert(":sk2".into(), typed(sk_ty, q.get("sk2").unwrap_or("")));
                    cond.push_str(" AND #sk BETWEEN :sk AND :sk2");
                }
                op if ["=", "<", "<=", ">", ">="].contains(&op) => {
                    cond.push_str(&format!(" AND #sk {op} :sk"));
                }
                _ => {}
            }
        }
        req["KeyConditionExpression"] = json!(cond);
    }
    if let Some(filter) = filter_expression(q, &mut names, &mut values) {
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
pub(crate) async fn describe(ctx: &Ctx<'_>, name: &str) -> Result<Value, Reply> {
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

/// The sources a search can read: the table, then each index, as (index name, keys).
fn sources(desc: &Value) -> Vec<(Option<String>, KeySchema)> {
    let mut all = vec![(None, KeySchema::of(desc))];
    for i in index_descriptions(desc) {
        let name = s(i, "IndexName").to_owned();
        if let Some(keys) = KeySchema::of_index(desc, &name) {
            all.push((Some(name), keys));
        }
    }
    all
}

fn search_form(
    name: &str,
    all: &[(Option<String>, KeySchema)],
    chosen: Option<&str>,
    keys: &KeySchema,
    q: &Form,
) -> Markup {
    let action = format!("/console/tables/{}/items", path_segment(name));
    let query = q.get("mode") == Some("query");
    let any_sort = all.iter().any(|(_, k)| k.sort.is_some());
    let sk_name = keys.sort.as_ref().map_or("", |(n, _)| n.as_str());
    html! {
        form.box #search method="get" action=(action) {
            fieldset {
                legend { "Scan or query items" }
                input #mode-scan type="radio" name="mode" value="scan" checked[!query];
                label.inline for="mode-scan" { "Scan" }
                input #mode-query type="radio" name="mode" value="query" checked[query];
                label.inline for="mode-query" { "Query" }
                label for="index" { "Table or index" }
                select #index name="index" {
                    @for (index, k) in all {
                        option value=(index.as_deref().unwrap_or(""))
                            data-pk=(k.partition.0)
                            data-sk=(k.sort.as_ref().map_or("", |(n, _)| n.as_str()))
                            selected[index.as_deref() == chosen] {
                            @match index { Some(i) => { "Index: " (i) }, None => { "Table: " (name) } }
                        }
                    }
                }
            }
            div data-show-when="mode=query" {
                label for="pk" { span #pk-name { (keys.partition.0) } " (partition key)" }
                input #pk type="text" name="pk" value=(q.get("pk").unwrap_or(""));
                @if any_sort {
                    div #sk-group hidden[keys.sort.is_none()] {
                        label for="sk_op" { span #sk-name { (sk_name) } " (sort key) - optional" }
                        select #sk_op name="sk_op" {
                            @for op in ["=", "<", "<=", ">", ">=", "between", "begins_with"] {
                                option value=(op) selected[q.get("sk_op") == Some(op)] { (op) }
                            }
                        }
                        input #sk type="text" name="sk" aria-label="Sort key value" value=(q.get("sk").unwrap_or(""));
                        input #sk2 type="text" name="sk2" aria-label="Second sort key value (between)" value=(q.get("sk2").unwrap_or(""));
                    }
                }
            }
            fieldset {
                legend { "Filters - optional (every condition must hold)" }
                @for i in 0..FILTER_ROWS {
                    (filter_row(q, i))
                }
            }
            div.actions { button.primary #run type="submit" { "Run" } }
        }
    }
}

fn filter_row(q: &Form, i: usize) -> Markup {
    let id = |what: &str| filter_field(what, i);
    let n = i + 1;
    html! {
        div.filter-row {
            div {
                label for=(id("attr")) { "Attribute name " (n) }
                input id=(id("attr")) type="text" name=(id("attr")) value=(q.get(&id("attr")).unwrap_or(""));
            }
            div {
                label for=(id("op")) { "Condition " (n) }
                select id=(id("op")) name=(id("op")) {
                    @for (op, label) in [("=", "Equal to"), ("<>", "Not equal to"), ("<", "Less than"), ("<=", "Less than or equal to"), (">", "Greater than"), (">=", "Greater than or equal to"), ("begins_with", "Begins with"), ("contains", "Contains"), ("exists", "Exists"), ("not_exists", "Not exists")] {
                        option value=(op) selected[q.get(&id("op")) == Some(op)] { (label) }
                    }
                }
            }
            div {
                label for=(id("type")) { "Type " (n) }
                select id=(id("type")) name=(id("type")) {
                    option value="S" selected[q.get(&id("type")) != Some("N")] { "String" }
                    option value="N" selected[q.get(&id("type")) == Some("N")] { "Number" }
                }
            }
            div {
                label for=(id("value")) { "Value " (n) }
                input id=(id("value")) type="text" name=(id("value")) value=(q.get(&id("value")).unwrap_or(""));
            }
        }
    }
}

/// GET /console/tables/<name>/items
pub(crate) async fn page(ctx: &Ctx<'_>, name: &str, message: Option<(bool, String)>) -> Reply {
    let desc = match describe(ctx, name).await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let table_keys = KeySchema::of(&desc);
    let all = sources(&desc);
    let q = &ctx.query;
    let chosen = q.non_empty("index");
    let (index, keys) = match chosen.and_then(|i| all.iter().find(|(n, _)| n.as_deref() == Some(i)))
    {
        Some((Some(i), k)) => (Some(i.as_str()), k),
        _ => (None, &table_keys),
    };
    let op = if q.get("mode") == Some("query") {
        Operation::Query
    } else {
        Operation::Scan
    };
    let result = ctx.dynamodb(op, search_request(name, index, keys, q)).await;
    let base = format!("/console/tables/{}/items", path_segment(name));
    let content = html! {
        p { a href="/console/tables" { "Tables" } " / " (name) }
        h1 { (name) }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        (tabs(name, "items"))
        (search_form(name, &all, index, keys, q))
        div.actions { a.button.primary #create-item href=(format!("{base}/edit")) { "Create item" } }
        @match &result {
            Err(e) => (layout::flash(Some(&e.text()))),
            Ok(out) => (results(ctx, &base, &table_keys, out)),
        }
    };
    layout::page(ctx, Section::Tables, name, content)
}

/// The search fields carried to the next page.
fn search_fields() -> Vec<String> {
    let mut fields: Vec<String> = ["mode", "index", "pk", "sk_op", "sk", "sk2"]
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    for i in 0..FILTER_ROWS {
        for what in ["attr", "op", "type", "value"] {
            fields.push(filter_field(what, i));
        }
    }
    fields
}

fn results(ctx: &Ctx<'_>, base: &str, keys: &KeySchema, out: &Value) -> Markup {
    let items: Vec<&Map<String, Value>> = out["Items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let mut columns: Vec<String> = keys.attributes().map(|(n, _)| n.clone()).collect();
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
            for field in search_fields() {
                if let Some(v) = ctx.query.get(&field) {
                    pairs.append_pair(&field, v);
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
    fn a_query_has_a_key_condition_and_filters() {
        let q = Form::default()
            .with("mode", "query")
            .with("pk", "a")
            .with("sk_op", ">=")
            .with("sk", "3")
            .with("filter_attr", "color")
            .with("filter_op", "begins_with")
            .with("filter_value", "re")
            .with("filter_attr_2", "size")
            .with("filter_op_2", ">")
            .with("filter_type_2", "N")
            .with("filter_value_2", "4");
        let r = search_request("t", None, &keys(), &q);
        assert_eq!(r["KeyConditionExpression"], "#pk = :pk AND #sk >= :sk");
        assert_eq!(r["ExpressionAttributeValues"][":sk"], json!({"N": "3"}));
        assert_eq!(r["FilterExpression"], "begins_with(#f0, :f0) AND #f1 > :f1");
        assert_eq!(r["ExpressionAttributeValues"][":f1"], json!({"N": "4"}));
        assert!(r.get("IndexName").is_none());
    }

    #[test]
    fn an_index_query_names_the_index_and_uses_its_keys() {
        let index_keys = KeySchema {
            partition: ("color".into(), "S".into()),
            sort: Some(("size".into(), "N".into())),
        };
        let q = Form::default()
            .with("mode", "query")
            .with("pk", "red")
            .with("sk_op", "between")
            .with("sk", "1")
            .with("sk2", "9");
        let r = search_request("t", Some("by-color"), &index_keys, &q);
        assert_eq!(r["IndexName"], "by-color");
        assert_eq!(
            r["KeyConditionExpression"],
            "#pk = :pk AND #sk BETWEEN :sk AND :sk2"
        );
        assert_eq!(r["ExpressionAttributeNames"]["#pk"], "color");
        assert_eq!(r["ExpressionAttributeValues"][":sk2"], json!({"N": "9"}));
    }

    #[test]
    fn an_unknown_operator_is_not_put_into_an_expression() {
        let q = Form::default()
            .with("filter_attr", "x")
            .with("filter_op", ") OR (attribute_exists(y)");
        let r = search_request("t", None, &keys(), &q);
        assert_eq!(r["FilterExpression"], "#f0 = :f0");
        assert!(r.get("KeyConditionExpression").is_none());
        let q = Form::default()
            .with("mode", "query")
            .with("sk", "1")
            .with("sk_op", "<> 0 OR");
        let r = search_request("t", None, &keys(), &q);
        assert_eq!(r["KeyConditionExpression"], "#pk = :pk");
    }

    #[test]
    fn index_keys_come_from_the_description() {
        let desc = json!({
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "n", "AttributeType": "N"}],
            "LocalSecondaryIndexes": [{"IndexName": "l", "KeySchema": [
                {"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}]}],
        });
        let all = sources(&desc);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].0.as_deref(), Some("l"));
        assert_eq!(all[1].1.sort, Some(("n".into(), "N".into())));
        assert!(KeySchema::of_index(&desc, "nope").is_none());
    }

    #[test]
    fn keys_round_trip_through_links() {
        let mut k = Map::new();
        k.insert("id".into(), json!({"S": "<&>"}));
        assert_eq!(decode_key(&encode_key(&k)), Some(k));
        assert_eq!(decode_key("not base64!"), None);
    }
}
