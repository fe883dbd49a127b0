//! A table's page: tabs Overview (with its Encryption section and Manage encryption),
//! Items (items.rs), Indexes, Backups, Streams, TTL and Permissions; deleting a table.

use crate::calls::{n, s};
use crate::create_table::{customer_keys, encryption_fieldset, sse_specification};
use crate::form::Form;
use crate::layout::{self, Section};
use crate::tables::{encryption_label, stream_text};
use crate::{Ctx, Reply, path_segment};
use maud::{Markup, html};
use sealdb_dynamodb::Operation;
use serde_json::{Value, json};

const TABS: [(&str, &str); 7] = [
    ("overview", "Overview"),
    ("items", "Items"),
    ("indexes", "Indexes"),
    ("backups", "Backups"),
    ("streams", "Streams"),
    ("ttl", "TTL"),
    ("permissions", "Permissions"),
];

/// The tab strip of a table's page.
pub(crate) fn tabs(name: &str, current: &str) -> Markup {
    let base = format!("/console/tables/{}", path_segment(name));
    html! {
        ul.tabs aria-label="Table sections" {
            @for (id, label) in TABS {
                @let href = if id == "items" { format!("{base}/items") } else { format!("{base}?tab={id}") };
                li { a href=(href) aria-current=[(id == current).then_some("page")] { (label) } }
            }
        }
    }
}

/// The key id of a key ARN (`…:key/<id>`), for links to the key's page.
pub(crate) fn key_id_of(arn: &str) -> &str {
    arn.rsplit_once(":key/").map_or(arn, |(_, id)| id)
}

/// GET /console/tables/<name>[?tab=]
pub(crate) async fn page(ctx: &Ctx<'_>, name: &str, message: Option<(bool, String)>) -> Reply {
    let tab = ctx.query.get("tab").unwrap_or("overview");
    let message = message.or_else(|| match ctx.query.get("notice") {
        Some("encryption") => Some((
            true,
            "The table's encryption at rest is being updated.".to_owned(),
        )),
        Some("global-table-version") => Some((
            true,
            "The global table is being updated to version 2019.11.21.".to_owned(),
        )),
        _ => None,
    });
    let desc = match ctx
        .dynamodb(Operation::DescribeTable, json!({ "TableName": name }))
        .await
    {
        Ok(d) => d["Table"].clone(),
        Err(e) => {
            return layout::page(
                ctx,
                Section::Tables,
                name,
                html! { h1 { (name) } (layout::flash(Some(&e.text()))) p { a href="/console/tables" { "Back to tables" } } },
            );
        }
    };
    let body = match tab {
        "indexes" => indexes(&desc),
        "backups" => backups(ctx, name).await,
        "streams" => {
            html! { h2 { "DynamoDB stream" } dl.props { dt { "Status" } dd { (stream_text(&desc)) } dt { "Latest stream ARN" } dd { (s(&desc, "LatestStreamArn")) } } }
        }
        "ttl" => ttl(ctx, name).await,
        "permissions" => permissions(ctx, name).await,
        _ => overview(ctx, name, &desc).await,
    };
    let content = html! {
        p { a href="/console/tables" { "Tables" } " / " (name) }
        h1 { (name) }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        (tabs(name, tab))
        (body)
    };
    layout::page(ctx, Section::Tables, name, content)
}

fn key_text(desc: &Value, kind: &str) -> String {
    desc["KeySchema"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| s(k, "KeyType") == kind)
        .map(|k| {
            let attr = s(k, "AttributeName");
            let ty = desc["AttributeDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| s(a, "AttributeName") == attr)
                .map_or("", |a| s(a, "AttributeType"));
            format!("{attr} ({ty})")
        })
        .unwrap_or_else(|| "-".into())
}

async fn overview(ctx: &Ctx<'_>, name: &str, desc: &Value) -> Markup {
    let base = format!("/console/tables/{}", path_segment(name));
    let status = s(desc, "TableStatus");
    let sse = &desc["SSEDescription"];
    let key_arn = s(sse, "KMSMasterKeyArn");
    let label = encryption_label(ctx, desc).await;
    let sse_status = if sse.is_null() {
        "ENABLED"
    } else {
        s(sse, "Status")
    };
    let chosen = match label {
        "Owned by Amazon DynamoDB" => "owned",
        "AWS managed key" => "aws",
        _ => "customer",
    };
    let keys = customer_keys(ctx).await;
    let switches = ctx.encryption_switches(name).await;
    let tags = ctx
        .dynamodb(
            Operation::ListTagsOfResource,
            json!({ "ResourceArn": s(desc, "TableArn") }),
        )
        .await
        .map(|t| t["Tags"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
    let mode = s(&desc["BillingModeSummary"], "BillingMode");
    html! {
        section.box aria-labelledby="general" {
            h2 #general { "General information" }
            dl.props {
                dt { "Partition key" } dd { (key_text(desc, "HASH")) }
                dt { "Sort key" } dd { (key_text(desc, "RANGE")) }
                dt { "Capacity mode" } dd { @if mode == "PAY_PER_REQUEST" { "On-demand" } @else { "Provisioned" } }
                dt { "Table status" } dd #table-status { span class=(format!("status-{status}")) { (status) } }
                dt { "Item count" } dd { (n(desc, "ItemCount")) }
                dt { "Table size" } dd { (layout::bytes_text(n(desc, "TableSizeBytes"))) }
                dt { "Deletion protection" } dd { @if desc["DeletionProtectionEnabled"].as_bool() == Some(true) { "On" } @else { "Off" } }
                dt { "Created" } dd { (layout::time_text(desc.get("CreationDateTime"))) }
                dt { "Amazon Resource Name (ARN)" } dd.mono { (s(desc, "TableArn")) }
            }
        }
        section.box aria-labelledby="encryption" {
            h2 #encryption { "Encryption" }
            dl.props {
                dt { "Key type" } dd #key-type { (label) }
                dt { "Status" } dd #encryption-status {
                    @if status == "INACCESSIBLE_ENCRYPTION_CREDENTIALS" { span.status-INACCESSIBLE_ENCRYPTION_CREDENTIALS { (status) } }
                    @else { span class=(format!("status-{sse_status}")) { (sse_status) } }
                }
                @if !key_arn.is_empty() {
                    dt { "KMS key ARN" }
                    dd.mono { a #key-arn href=(format!("/console/keys/{}", path_segment(key_id_of(key_arn)))) { (key_arn) } }
                }
                dt { "Last key switch" }
                dd #last-switch {
                    @match switches.as_ref().map(|w| w.last_ms) {
                        Ok(Some(ms)) => { (switch_time(ms)) }
                        Ok(None) => { "Never: the key has not changed since the table was created." }
                        Err(e) => { (e.text()) }
                    }
                }
                @if let Ok(w) = &switches {
                    dt { "Key switches in the last 24 hours" }
                    dd #switches-today { (w.in_last_day) " (after 4 in 24 hours, at most one every 6 hours)" }
                }
                @if let Some(t) = sse.get("InaccessibleEncryptionDateTime") {
                    dt { "Inaccessible since" } dd { (layout::time_text(Some(t))) }
                }
            }
            details #manage-encryption {
                summary { "Manage encryption" }
                form method="post" action=(format!("{base}/encryption")) {
                    (layout::csrf(ctx))
                    (encryption_fieldset(&keys, chosen, key_arn, None))
                    div.actions { button.primary #save-encryption type="submit" { "Save changes" } }
                }
            }
        }
        (crate::global_tables::section(ctx, name, desc).await)
        section.box aria-labelledby="tags" {
            h2 #tags { "Tags" }
            @if tags.is_empty() { p { "No tags." } }
            @else {
                table.list #tag-list {
                    thead { tr { th scope="col" { "Key" } th scope="col" { "Value" } } }
                    tbody { @for t in &tags { tr { td { (s(t, "Key")) } td { (s(t, "Value")) } } } }
                }
            }
        }
        section.box aria-labelledby="delete" {
            h2 #delete { "Delete table" }
            form method="post" action=(format!("{base}/delete")) {
                (layout::csrf(ctx))
                label for="confirm" { "To confirm the deletion, type " strong { "confirm" } " in the box." }
                input #confirm type="text" name="confirm" autocomplete="off" data-confirm-word="confirm" data-confirm-button="delete-table";
                div.actions { button.danger #delete-table type="submit" { "Delete table" } }
            }
        }
    }
}

/// An epoch-milliseconds time as the rest of the page shows times.
fn switch_time(ms: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    layout::time_text(Some(&json!(secs)))
}

fn indexes(desc: &Value) -> Markup {
    let all: Vec<(&str, &Value)> = desc["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| ("Global", i))
        .chain(
            desc["LocalSecondaryIndexes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| ("Local", i)),
        )
        .collect();
    html! {
        h2 { "Secondary indexes (" (all.len()) ")" }
        table.list {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Status" } th scope="col" { "Partition key" } th scope="col" { "Sort key" } th scope="col" { "Projection" } } }
            tbody {
                @for (kind, i) in &all {
                    tr {
                        td { (s(i, "IndexName")) } td { (kind) }
                        td { (if s(i, "IndexStatus").is_empty() { "ACTIVE" } else { s(i, "IndexStatus") }) }
                        td { (key_text(&json!({"KeySchema": i["KeySchema"], "AttributeDefinitions": desc["AttributeDefinitions"]}), "HASH")) }
                        td { (key_text(&json!({"KeySchema": i["KeySchema"], "AttributeDefinitions": desc["AttributeDefinitions"]}), "RANGE")) }
                        td { (s(&i["Projection"], "ProjectionType")) }
                    }
                }
                @if all.is_empty() { tr { td colspan="6" { "No indexes." } } }
            }
        }
    }
}

async fn backups(ctx: &Ctx<'_>, name: &str) -> Markup {
    match ctx
        .dynamodb(Operation::ListBackups, json!({ "TableName": name }))
        .await
    {
        Err(e) => layout::flash(Some(&e.text())),
        Ok(out) => html! {
            h2 { "Backups" }
            table.list {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { "Size" } } }
                tbody {
                    @for b in out["BackupSummaries"].as_array().into_iter().flatten() {
                        tr { td { (s(b, "BackupName")) } td { (s(b, "BackupStatus")) } td { (layout::time_text(b.get("BackupCreationDateTime"))) } td { (layout::bytes_text(n(b, "BackupSizeBytes"))) } }
                    }
                }
            }
        },
    }
}

async fn ttl(ctx: &Ctx<'_>, name: &str) -> Markup {
    match ctx
        .dynamodb(Operation::DescribeTimeToLive, json!({ "TableName": name }))
        .await
    {
        Err(e) => layout::flash(Some(&e.text())),
        Ok(out) => {
            let d = &out["TimeToLiveDescription"];
            html! {
                h2 { "Time to Live" }
                dl.props {
                    dt { "Status" } dd { (s(d, "TimeToLiveStatus")) }
                    dt { "Attribute" } dd { (s(d, "AttributeName")) }
                }
            }
        }
    }
}

async fn permissions(ctx: &Ctx<'_>, name: &str) -> Markup {
    let policy = ctx
        .dynamodb(Operation::GetResourcePolicy, json!({ "ResourceArn": name }))
        .await;
    html! {
        h2 { "Resource-based policy" }
        @match policy {
            Ok(p) => pre.mono { (s(&p, "Policy")) },
            Err(e) if e.name == "PolicyNotFoundException" => p { "No resource-based policy." },
            Err(e) => (layout::flash(Some(&e.text()))),
        }
    }
}

/// POST /console/tables/<name>/encryption: UpdateTable with the chosen SSESpecification.
pub(crate) async fn manage_encryption(ctx: &Ctx<'_>, name: &str, f: &Form) -> Reply {
    let sse = match sse_specification(f) {
        Ok(Some(sse)) => sse,
        // Back to the key DynamoDB owns.
        Ok(None) => json!({ "Enabled": false }),
        Err(e) => return page(ctx, name, Some((false, e))).await,
    };
    let req = json!({ "TableName": name, "SSESpecification": sse });
    match ctx.dynamodb(Operation::UpdateTable, req).await {
        // To the table's page, so reloading it does not post the change again.
        Ok(_) => crate::redirect(&format!(
            "/console/tables/{}?notice=encryption",
            path_segment(name)
        )),
        Err(e) => page(ctx, name, Some((false, e.text()))).await,
    }
}

/// POST /console/tables/<name>/delete: only with the typed confirmation; deletion
/// protection is the service's to refuse.
pub(crate) async fn delete(ctx: &Ctx<'_>, name: &str, f: &Form) -> Reply {
    if f.get("confirm").map(str::trim) != Some("confirm") {
        return page(
            ctx,
            name,
            Some((false, "Type confirm in the box to delete the table.".into())),
        )
        .await;
    }
    match ctx
        .dynamodb(Operation::DeleteTable, json!({ "TableName": name }))
        .await
    {
        Ok(_) => crate::redirect("/console/tables"),
        Err(e) => page(ctx, name, Some((false, e.text()))).await,
    }
}
