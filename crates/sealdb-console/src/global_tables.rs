//! A table's "Global tables" section: its version and replicas, and for a global table
//! of version 2017.11.29 the "Update version" action that upgrades it to 2019.11.21 (the
//! DynamoDB console is the only place AWS offers the upgrade).

use crate::calls::s;
use crate::{Ctx, Reply, path_segment};
use maud::{Markup, html};
use sealdb_dynamodb::Operation;
use serde_json::{Value, json};

/// The section, shown only for a table that is part of a global table.
pub(crate) async fn section(ctx: &Ctx<'_>, name: &str, desc: &Value) -> Markup {
    let legacy = ctx
        .dynamodb(
            Operation::DescribeGlobalTable,
            json!({ "GlobalTableName": name }),
        )
        .await
        .ok();
    let base = format!("/console/tables/{}", path_segment(name));
    if let Some(g) = legacy {
        let regions: Vec<String> = g["GlobalTableDescription"]["ReplicationGroup"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| s(r, "RegionName").to_owned())
            .collect();
        return html! {
            section.box aria-labelledby="global-tables" {
                h2 #global-tables { "Global tables" }
                dl.props {
                    dt { "Global table version" } dd #global-table-version { "2017.11.29 (Legacy)" }
                    dt { "Replicas" } dd #global-table-regions { (regions.join(", ")) }
                }
                form method="post" action=(format!("{base}/global-table-version")) {
                    (crate::layout::csrf(ctx))
                    p { "Updating to version 2019.11.21 (Current) cannot be undone. Every replica needs the same Time to Live, indexes and write capacity." }
                    div.actions { button.primary #update-global-table-version type="submit" { "Update version" } }
                }
            }
        };
    }
    let Some(replicas) = desc["Replicas"].as_array() else {
        return html! {};
    };
    html! {
        section.box aria-labelledby="global-tables" {
            h2 #global-tables { "Global tables" }
            dl.props {
                dt { "Global table version" } dd #global-table-version { (s(desc, "GlobalTableVersion")) }
                @for r in replicas {
                    dt { (s(r, "RegionName")) } dd { span class=(format!("status-{}", s(r, "ReplicaStatus"))) { (s(r, "ReplicaStatus")) } }
                }
            }
        }
    }
}

/// POST /console/tables/<name>/global-table-version: the upgrade to 2019.11.21.
pub(crate) async fn upgrade(ctx: &Ctx<'_>, name: &str) -> Reply {
    match ctx.upgrade_global_table(name).await {
        // To the table's page, so reloading it does not post the change again.
        Ok(()) => crate::redirect(&format!(
            "/console/tables/{}?notice=global-table-version",
            path_segment(name)
        )),
        Err(e) => crate::table::page(ctx, name, Some((false, e.text()))).await,
    }
}
