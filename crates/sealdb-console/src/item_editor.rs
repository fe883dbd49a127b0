//! One item, as a form (a row per attribute: name, type, value) or as DynamoDB JSON, to
//! create it or edit it; an edit is saved only if the item did not change meanwhile (a
//! condition on every attribute it had when it was opened).

use crate::calls::ServiceError;
use crate::form::Form;
use crate::items::{KeySchema, decode_key, describe, page, typed};
use crate::layout::{self, Section};
use crate::{Ctx, Reply, path_segment};
use maud::{Markup, html};
use sealdb_dynamodb::Operation;
use serde_json::{Map, Value, json};

/// Empty rows the form offers for new attributes.
const BLANK_ROWS: usize = 3;
/// More rows than this in one posted form are not read.
const MAX_ROWS: usize = 400;

/// The attribute types, as DynamoDB JSON names them, with their names in the form.
const TYPES: [(&str, &str); 10] = [
    ("S", "String"),
    ("N", "Number"),
    ("B", "Binary (base64)"),
    ("BOOL", "Boolean"),
    ("NULL", "Null"),
    ("SS", "String set"),
    ("NS", "Number set"),
    ("BS", "Binary set"),
    ("L", "List"),
    ("M", "Map"),
];

/// How the editor shows the item.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Form,
    Json,
}

impl View {
    fn of(v: Option<&str>) -> View {
        if v == Some("json") {
            View::Json
        } else {
            View::Form
        }
    }

    fn name(self) -> &'static str {
        match self {
            View::Form => "form",
            View::Json => "json",
        }
    }
}

/// One attribute in the form view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Row {
    name: String,
    ty: String,
    value: String,
    /// A key attribute: its name and type are the table's.
    key: bool,
}

/// What the editor shows: the item in one view, and the item as it was opened.
struct Draft {
    view: View,
    json: String,
    rows: Vec<Row>,
    /// The item as opened (DynamoDB JSON), empty for a new item.
    original: String,
}

/// The form rows of an item: key attributes first, then the others by name.
fn rows_of(keys: &KeySchema, item: &Map<String, Value>) -> Vec<Row> {
    let mut rows: Vec<Row> = keys
        .attributes()
        .map(|(n, t)| {
            let mut row = item.get(n).map(|v| row_of(n, v)).unwrap_or_else(|| Row {
                name: n.clone(),
                ty: t.clone(),
                ..Row::default()
            });
            row.key = true;
            row
        })
        .collect();
    let mut others: Vec<(&String, &Value)> = item
        .iter()
        .filter(|(n, _)| !keys.attributes().any(|(k, _)| k == *n))
        .collect();
    others.sort_by(|a, b| a.0.cmp(b.0));
    rows.extend(others.into_iter().map(|(n, v)| row_of(n, v)));
    rows
}

fn row_of(name: &str, v: &Value) -> Row {
    let (ty, inner) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .map_or(("S", &Value::Null), |(t, i)| (t.as_str(), i));
    let value = match (ty, inner) {
        ("S" | "N" | "B", Value::String(x)) => x.clone(),
        ("BOOL", Value::Bool(b)) => b.to_string(),
        ("NULL", _) => String::new(),
        _ => inner.to_string(),
    };
    Row {
        name: name.to_owned(),
        ty: ty.to_owned(),
        value,
        key: false,
    }
}

/// The rows of a posted form view.
fn rows_of_form(f: &Form) -> Vec<Row> {
    let count = f
        .get("rows")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_ROWS);
    (0..count)
        .filter(|i| !f.checked(&format!("attr_remove_{i}")))
        .map(|i| Row {
            name: f.get(&format!("attr_name_{i}")).unwrap_or("").to_owned(),
            ty: f.get(&format!("attr_type_{i}")).unwrap_or("S").to_owned(),
            value: f.get(&format!("attr_value_{i}")).unwrap_or("").to_owned(),
            key: f.get(&format!("attr_key_{i}")) == Some("1"),
        })
        .collect()
}

/// The item the rows describe, or what is wrong with them. The service validates the
/// values (numbers, empty sets, key types) and answers with its own messages.
fn item_of_rows(rows: &[Row]) -> Result<Map<String, Value>, String> {
    let mut item = Map::new();
    for (i, row) in rows.iter().enumerate() {
        let name = row.name.trim();
        if name.is_empty() {
            if row.value.trim().is_empty() {
                continue;
            }
            return Err(format!("Row {} has a value but no attribute name.", i + 1));
        }
        if item.contains_key(name) {
            return Err(format!("The attribute {name} is named twice."));
        }
        let json_of = |what: &str| {
            serde_json::from_str::<Value>(&row.value)
                .map_err(|_| format!("The value of {name} must be {what} written as JSON."))
        };
        let value = match row.ty.as_str() {
            t @ ("S" | "N" | "B") => typed(
                t,
                if t == "S" {
                    row.value.as_str()
                } else {
                    row.value.trim()
                },
            ),
            "BOOL" => match row.value.trim() {
                "true" => json!({ "BOOL": true }),
                "false" => json!({ "BOOL": false }),
                _ => return Err(format!("The value of {name} must be true or false.")),
            },
            "NULL" => json!({ "NULL": true }),
            t @ ("SS" | "NS" | "BS") => match json_of("an array of strings")? {
                a @ Value::Array(_) => json!({ t: a }),
                _ => {
                    return Err(format!(
                        "The value of {name} must be an array of strings written as JSON."
                    ));
                }
            },
            "L" => match json_of("an array of DynamoDB JSON values")? {
                a @ Value::Array(_) => json!({ "L": a }),
                _ => {
                    return Err(format!(
                        "The value of {name} must be an array of DynamoDB JSON values written as JSON."
                    ));
                }
            },
            "M" => match json_of("an object of DynamoDB JSON values")? {
                m @ Value::Object(_) => json!({ "M": m }),
                _ => {
                    return Err(format!(
                        "The value of {name} must be an object of DynamoDB JSON values written as JSON."
                    ));
                }
            },
            other => return Err(format!("{other} is not an attribute type.")),
        };
        item.insert(name.to_owned(), value);
    }
    Ok(item)
}

/// GET /console/tables/<name>/items/edit[?key=][&view=form|json]
pub(crate) async fn editor(ctx: &Ctx<'_>, name: &str) -> Reply {
    let desc = match describe(ctx, name).await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let keys = KeySchema::of(&desc);
    let view = View::of(ctx.query.get("view"));
    let (item, original) = match ctx.query.get("key").and_then(decode_key) {
        Some(key) => {
            let got = ctx
                .dynamodb(
                    Operation::GetItem,
                    json!({ "TableName": name, "Key": key, "ConsistentRead": true }),
                )
                .await;
            match got {
                Ok(out) => match out.get("Item").and_then(Value::as_object) {
                    Some(item) => (item.clone(), Value::Object(item.clone()).to_string()),
                    None => {
                        return page(
                            ctx,
                            name,
                            Some((false, "The item no longer exists.".into())),
                        )
                        .await;
                    }
                },
                Err(e) => return page(ctx, name, Some((false, e.text()))).await,
            }
        }
        None => {
            let template: Map<String, Value> = keys
                .attributes()
                .map(|(n, t)| (n.clone(), typed(t, "")))
                .collect();
            (template, String::new())
        }
    };
    let draft = Draft {
        view,
        json: serde_json::to_string_pretty(&Value::Object(item.clone())).unwrap_or_default(),
        rows: rows_of(&keys, &item),
        original,
    };
    render(ctx, name, draft, None, BLANK_ROWS)
}

fn render(ctx: &Ctx<'_>, name: &str, draft: Draft, message: Option<&str>, blank: usize) -> Reply {
    let base = format!("/console/tables/{}/items", path_segment(name));
    let editing = !draft.original.is_empty();
    let title = if editing { "Edit item" } else { "Create item" };
    // The other view of the same item, as it is stored (unsaved changes stay here).
    let other = match draft.view {
        View::Form => View::Json,
        View::Json => View::Form,
    };
    let mut link = format!("{base}/edit?view={}", other.name());
    if let Some(key) = ctx.query.get("key").filter(|_| editing) {
        link.push_str(&format!("&key={key}"));
    }
    let content = html! {
        p { a href="/console/tables" { "Tables" } " / " a href=(base) { (name) } " / " (title) }
        h1 { (title) }
        (layout::flash(message))
        ul.tabs aria-label="Item views" {
            li { a href=(if draft.view == View::Form { "#item-form".to_owned() } else { link.clone() }) #view-form aria-current=[(draft.view == View::Form).then_some("page")] { "Form" } }
            li { a href=(if draft.view == View::Json { "#item-form".to_owned() } else { link.clone() }) #view-json aria-current=[(draft.view == View::Json).then_some("page")] { "DynamoDB JSON" } }
        }
        form #item-form method="post" action=(format!("{base}/put")) {
            (layout::csrf(ctx))
            input type="hidden" name="original" value=(draft.original);
            input type="hidden" name="view" value=(draft.view.name());
            @match draft.view {
                View::Json => {
                    label for="item" { "Attributes (DynamoDB JSON)" }
                    textarea #item name="item" spellcheck="false" { (draft.json) }
                    p.hint { "Each attribute is written with its type, for example {\"name\": {\"S\": \"Ana\"}, \"age\": {\"N\": \"42\"}}." }
                }
                View::Form => { (form_rows(&draft.rows, editing, blank)) }
            }
            div.actions {
                button.primary #save-item type="submit" { (if editing { "Save changes" } else { "Create item" }) }
                @if draft.view == View::Form {
                    button #add-attribute type="submit" name="add_row" value="1" { "Add attribute" }
                }
                a.button href=(base) { "Cancel" }
            }
        }
    };
    let status = if message.is_some() {
        http::StatusCode::BAD_REQUEST
    } else {
        http::StatusCode::OK
    };
    layout::page_with_status(ctx, status, Section::Tables, title, content)
}

fn form_rows(rows: &[Row], editing: bool, blank: usize) -> Markup {
    let all: Vec<Row> = rows
        .iter()
        .cloned()
        .chain(std::iter::repeat_n(Row::default(), blank))
        .collect();
    html! {
        input type="hidden" name="rows" value=(all.len());
        div.scroll {
            table.list #attributes {
                caption { "Attributes" }
                thead { tr {
                    th scope="col" { "Attribute name" } th scope="col" { "Type" }
                    th scope="col" { "Value" } th scope="col" { "Remove" }
                } }
                tbody {
                    @for (i, row) in all.iter().enumerate() {
                        @let n = i + 1;
                        tr {
                            td {
                                input type="text" id=(format!("attr_name_{i}")) name=(format!("attr_name_{i}"))
                                    aria-label=(format!("Attribute {n} name")) value=(row.name) readonly[row.key];
                                @if row.key { input type="hidden" name=(format!("attr_key_{i}")) value="1"; }
                            }
                            td {
                                @if row.key {
                                    input type="hidden" name=(format!("attr_type_{i}")) value=(row.ty);
                                    span { (type_label(&row.ty)) " (key)" }
                                } @else {
                                    select id=(format!("attr_type_{i}")) name=(format!("attr_type_{i}")) aria-label=(format!("Attribute {n} type")) {
                                        @for (t, label) in TYPES {
                                            option value=(t) selected[row.ty == t || (row.ty.is_empty() && t == "S")] { (label) }
                                        }
                                    }
                                }
                            }
                            td {
                                input type="text" id=(format!("attr_value_{i}")) name=(format!("attr_value_{i}"))
                                    aria-label=(format!("Attribute {n} value")) value=(row.value)
                                    readonly[row.key && editing];
                            }
                            td {
                                @if !row.key {
                                    input type="checkbox" id=(format!("attr_remove_{i}")) name=(format!("attr_remove_{i}"))
                                        aria-label=(format!("Remove attribute {n}"));
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint { "Sets, lists and maps are written as JSON: a string set as [\"a\", \"b\"], a list as [{\"S\": \"a\"}, {\"N\": \"1\"}], a map as {\"x\": {\"S\": \"y\"}}. Binary values are base64. Empty rows are ignored." }
    }
}

fn type_label(ty: &str) -> &str {
    TYPES
        .iter()
        .find(|(t, _)| *t == ty)
        .map_or(ty, |(_, label)| label)
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

/// POST /console/tables/<name>/items/put (or "Add attribute" in the form view, which
/// shows the form again with one more empty row and saves nothing).
pub(crate) async fn put(ctx: &Ctx<'_>, name: &str, f: &Form) -> Reply {
    let view = View::of(f.get("view"));
    let draft = Draft {
        view,
        json: f.get("item").unwrap_or("").to_owned(),
        rows: rows_of_form(f),
        original: f.get("original").unwrap_or("").to_owned(),
    };
    if view == View::Form && f.get("add_row").is_some() {
        let rows: Vec<Row> = draft
            .rows
            .iter()
            .filter(|r| r.key || !r.name.trim().is_empty() || !r.value.trim().is_empty())
            .cloned()
            .collect();
        return render(ctx, name, Draft { rows, ..draft }, None, BLANK_ROWS + 1);
    }
    let item = match view {
        View::Json => match serde_json::from_str::<Value>(&draft.json) {
            Ok(Value::Object(m)) => m,
            _ => {
                return refused(
                    ctx,
                    name,
                    draft,
                    "The attributes must be a JSON object in DynamoDB JSON.",
                );
            }
        },
        View::Form => match item_of_rows(&draft.rows) {
            Ok(m) => m,
            Err(e) => return refused(ctx, name, draft, &e),
        },
    };
    let original = match serde_json::from_str::<Value>(&draft.original) {
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
        Err(e) => {
            let message = condition_text(original.is_some(), &e);
            refused(ctx, name, draft, &message)
        }
    }
}

/// The editor again, with what was typed and why it was not saved.
fn refused(ctx: &Ctx<'_>, name: &str, draft: Draft, message: &str) -> Reply {
    let blank = if draft.view == View::Form { 1 } else { 0 };
    render(ctx, name, draft, Some(message), blank)
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
    fn an_item_becomes_rows_and_the_rows_the_same_item() {
        let item = json!({
            "id": {"S": "a"}, "at": {"N": "7"}, "on": {"BOOL": true}, "none": {"NULL": true},
            "tags": {"SS": ["x", "y"]}, "m": {"M": {"k": {"S": "v"}}}, "l": {"L": [{"N": "1"}]},
            "b": {"B": "AAE="},
        });
        let item = item.as_object().unwrap().clone();
        let rows = rows_of(&keys(), &item);
        assert_eq!(rows[0].name, "id");
        assert!(rows[0].key && rows[1].key && !rows[2].key);
        assert_eq!(rows[1].value, "7");
        let tags = rows.iter().find(|r| r.name == "tags").unwrap();
        assert_eq!(
            (tags.ty.as_str(), tags.value.as_str()),
            ("SS", "[\"x\",\"y\"]")
        );
        assert_eq!(item_of_rows(&rows).unwrap(), item);
    }

    #[test]
    fn posted_rows_are_read_with_removals_and_blanks_skipped() {
        let f = Form::default()
            .with("rows", "4")
            .with("attr_name_0", "id")
            .with("attr_type_0", "S")
            .with("attr_key_0", "1")
            .with("attr_value_0", "a")
            .with("attr_name_1", "gone")
            .with("attr_value_1", "x")
            .with("attr_remove_1", "on")
            .with("attr_name_2", "n")
            .with("attr_type_2", "N")
            .with("attr_value_2", " 42 ");
        let rows = rows_of_form(&f);
        assert_eq!(rows.len(), 3);
        let item = item_of_rows(&rows).unwrap();
        assert_eq!(
            Value::Object(item),
            json!({"id": {"S": "a"}, "n": {"N": "42"}})
        );
    }

    #[test]
    fn bad_rows_say_what_is_wrong() {
        let row = |name: &str, ty: &str, value: &str| Row {
            name: name.into(),
            ty: ty.into(),
            value: value.into(),
            key: false,
        };
        let twice = [row("a", "S", "1"), row("a", "S", "2")];
        assert_eq!(
            item_of_rows(&twice).unwrap_err(),
            "The attribute a is named twice."
        );
        assert!(
            item_of_rows(&[row("", "S", "v")])
                .unwrap_err()
                .contains("no attribute name")
        );
        assert!(
            item_of_rows(&[row("f", "BOOL", "yes")])
                .unwrap_err()
                .contains("true or false")
        );
        assert!(
            item_of_rows(&[row("m", "M", "[1]")])
                .unwrap_err()
                .contains("object")
        );
        assert!(
            item_of_rows(&[row("s", "SS", "not json")])
                .unwrap_err()
                .contains("JSON")
        );
        assert!(
            item_of_rows(&[row("x", "ZZ", "1")])
                .unwrap_err()
                .contains("not an attribute type")
        );
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
