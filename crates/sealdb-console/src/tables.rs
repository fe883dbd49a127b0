//! The tables list: status, item count, size, encryption, indexes, streams; search by name.

use crate::calls::{n, s};
use crate::layout::{self, Section};
use crate::{Ctx, Reply, path_segment};
use maud::{Markup, html};
use sealdb_dynamodb::Operation;
use serde_json::{Value, json};

/// How a table is encrypted at rest, in the console's (AWS's) words.
pub(crate) async fn encryption_label(ctx: &Ctx<'_>, desc: &Value) -> &'static str {
    let Some(arn) = desc
        .get("SSEDescription")
        .and_then(|d| d.get("KMSMasterKeyArn"))
        .and_then(Value::as_str)
    else {
        return "Owned by Amazon DynamoDB";
    };
    match ctx.kms("DescribeKey", json!({ "KeyId": arn })).await {
        Ok(k) if s(&k["KeyMetadata"], "KeyManager") == "AWS" => "AWS managed key",
        Ok(_) => "Customer managed key",
        // The caller may not describe the key; the table still says it is a KMS key.
        Err(_) => "KMS key",
    }
}

/// Every table name (ListTables, all pages).
pub(crate) async fn all_table_names(ctx: &Ctx<'_>) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut input = json!({ "Limit": 100 });
        if let Some(s) = &start {
            input["ExclusiveStartTableName"] = json!(s);
        }
        let out = ctx
            .dynamodb(Operation::ListTables, input)
            .await
            .map_err(|e| e.text())?;
        if let Some(list) = out["TableNames"].as_array() {
            names.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        match out["LastEvaluatedTableName"].as_str() {
            Some(next) => start = Some(next.to_owned()),
            None => return Ok(names),
        }
    }
}

/// The streams setting in words.
pub(crate) fn stream_text(desc: &Value) -> String {
    let spec = &desc["StreamSpecification"];
    if spec["StreamEnabled"].as_bool() == Some(true) {
        format!("On ({})", s(spec, "StreamViewType"))
    } else {
        "Off".into()
    }
}

/// GET /console/tables[?q=]
pub(crate) async fn list(ctx: &Ctx<'_>) -> Reply {
    let search = ctx.query.non_empty("q").unwrap_or("").to_owned();
    let content = match all_table_names(ctx).await {
        Err(e) => html! { h1 { "Tables" } (layout::flash(Some(&e))) },
        Ok(names) => {
            let wanted = search.to_lowercase();
            let mut rows = Vec::new();
            for name in names
                .iter()
                .filter(|n| wanted.is_empty() || n.to_lowercase().contains(&wanted))
            {
                rows.push(row(ctx, name).await);
            }
            html! {
                h1 { "Tables (" (rows.len()) ")" }
                div.actions {
                    form role="search" method="get" action="/console/tables" {
                        label for="q" { "Find tables by table name" }
                        input #q type="search" name="q" value=(search);
                        " " button type="submit" { "Search" }
                    }
                    a.button.primary #create-table href="/console/tables/new" { "Create table" }
                }
                div.scroll {
                    table.list #tables {
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "Status" }
                            th scope="col" { "Items" } th scope="col" { "Size" }
                            th scope="col" { "Encryption" } th scope="col" { "Indexes" }
                            th scope="col" { "Streams" } th scope="col" { "Deletion protection" }
                        } }
                        tbody {
                            @for r in &rows { (r) }
                            @if rows.is_empty() { tr { td colspan="8" { "No tables." } } }
                        }
                    }
                }
            }
        }
    };
    layout::page(ctx, Section::Tables, "Tables", content)
}

/// One table's row (DescribeTable as the caller; a refusal is shown in the row).
async fn row(ctx: &Ctx<'_>, name: &str) -> Markup {
    let link = format!("/console/tables/{}", path_segment(name));
    let desc = match ctx
        .dynamodb(Operation::DescribeTable, json!({ "TableName": name }))
        .await
    {
        Ok(d) => d["Table"].clone(),
        Err(e) => {
            return html! { tr { td { a href=(link) { (name) } } td colspan="7" { (e.text()) } } };
        }
    };
    let status = s(&desc, "TableStatus");
    let indexes = desc["GlobalSecondaryIndexes"]
        .as_array()
        .map_or(0, Vec::len)
        + desc["LocalSecondaryIndexes"].as_array().map_or(0, Vec::len);
    let protection = if desc["DeletionProtectionEnabled"].as_bool() == Some(true) {
        "On"
    } else {
        "Off"
    };
    html! {
        tr {
            td { a href=(link) { (name) } }
            td { span class=(format!("status-{status}")) { (status) } }
            td { (n(&desc, "ItemCount")) }
            td { (layout::bytes_text(n(&desc, "TableSizeBytes"))) }
            td { (encryption_label(ctx, &desc).await) }
            td { (indexes) }
            td { (stream_text(&desc)) }
            td { (protection) }
        }
    }
}
