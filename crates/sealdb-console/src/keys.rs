//! KMS keys: the list (customer managed and AWS managed), creating a key, and a key's
//! page (configuration, aliases, key policy, rotation, enable/disable, deletion, grants,
//! the tables that use it). AWS managed keys are read-only, as AWS shows them.

use crate::calls::s;
use crate::form::Form;
use crate::layout::{self, Section};
use crate::tables::all_table_names;
use crate::{Ctx, Reply, path_segment};
use maud::{Markup, html};
use sealdb_dynamodb::Operation;
use serde_json::{Value, json};

/// Every key's metadata with its aliases, as the caller may see them.
async fn all_keys(ctx: &Ctx<'_>) -> Result<Vec<(Value, Vec<String>)>, String> {
    let listed = ctx
        .kms("ListKeys", json!({ "Limit": 1000 }))
        .await
        .map_err(|e| e.text())?;
    let aliases = ctx
        .kms("ListAliases", json!({ "Limit": 100 }))
        .await
        .map(|a| a["Aliases"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
    let mut keys = Vec::new();
    for k in listed["Keys"].as_array().into_iter().flatten() {
        let id = s(k, "KeyId");
        if let Ok(d) = ctx.kms("DescribeKey", json!({ "KeyId": id })).await {
            let names = aliases
                .iter()
                .filter(|a| s(a, "TargetKeyId") == id)
                .map(|a| s(a, "AliasName").to_owned())
                .collect();
            keys.push((d["KeyMetadata"].clone(), names));
        }
    }
    Ok(keys)
}

fn key_rows(keys: &[&(Value, Vec<String>)]) -> Markup {
    html! {
        div.scroll {
            table.list {
                thead { tr {
                    th scope="col" { "Aliases" } th scope="col" { "Key ID" } th scope="col" { "Status" }
                    th scope="col" { "Key spec" } th scope="col" { "Key usage" } th scope="col" { "Origin" }
                } }
                tbody {
                    @for (m, aliases) in keys {
                        tr {
                            td { (aliases.join(", ")) }
                            td.mono { a href=(format!("/console/keys/{}", path_segment(s(m, "KeyId")))) { (s(m, "KeyId")) } }
                            td { span class=(format!("status-{}", s(m, "KeyState"))) { (s(m, "KeyState")) } }
                            td { (s(m, "KeySpec")) } td { (s(m, "KeyUsage")) } td { (s(m, "Origin")) }
                        }
                    }
                    @if keys.is_empty() { tr { td colspan="6" { "No keys." } } }
                }
            }
        }
    }
}

/// GET /console/keys
pub(crate) async fn list(ctx: &Ctx<'_>) -> Reply {
    let content = match all_keys(ctx).await {
        Err(e) => html! { h1 { "Keys" } (layout::flash(Some(&e))) },
        Ok(keys) => {
            let (aws, customer): (Vec<_>, Vec<_>) =
                keys.iter().partition(|(m, _)| s(m, "KeyManager") == "AWS");
            html! {
                h1 { "Customer managed keys (" (customer.len()) ")" }
                div.actions { a.button.primary #create-key href="/console/keys/new" { "Create key" } }
                (key_rows(&customer))
                h2 { "AWS managed keys (" (aws.len()) ")" }
                (key_rows(&aws))
            }
        }
    };
    layout::page(ctx, Section::Keys, "Keys", content)
}

/// The key specs of each key type, with the usages each allows.
const KEY_SPECS: [(&str, &str, &str); 10] = [
    (
        "SYMMETRIC_DEFAULT",
        "Symmetric (SYMMETRIC_DEFAULT)",
        "ENCRYPT_DECRYPT",
    ),
    ("HMAC_256", "HMAC (HMAC_256)", "GENERATE_VERIFY_MAC"),
    ("HMAC_384", "HMAC (HMAC_384)", "GENERATE_VERIFY_MAC"),
    ("HMAC_512", "HMAC (HMAC_512)", "GENERATE_VERIFY_MAC"),
    ("RSA_2048", "RSA (RSA_2048)", "ENCRYPT_DECRYPT, SIGN_VERIFY"),
    ("RSA_3072", "RSA (RSA_3072)", "ENCRYPT_DECRYPT, SIGN_VERIFY"),
    ("RSA_4096", "RSA (RSA_4096)", "ENCRYPT_DECRYPT, SIGN_VERIFY"),
    ("ECC_NIST_P256", "ECC (ECC_NIST_P256)", "SIGN_VERIFY"),
    ("ECC_NIST_P384", "ECC (ECC_NIST_P384)", "SIGN_VERIFY"),
    ("ECC_SECG_P256K1", "ECC (ECC_SECG_P256K1)", "SIGN_VERIFY"),
];

/// GET /console/keys/new (and again with the service's refusal).
pub(crate) fn new_page(ctx: &Ctx<'_>, error: Option<&str>) -> Reply {
    let content = html! {
        h1 { "Create key" }
        (layout::flash(error))
        form method="post" action="/console/keys/new" {
            (layout::csrf(ctx))
            fieldset {
                legend { "Configure key" }
                label for="key_spec" { "Key type and spec" }
                select #key_spec name="key_spec" {
                    @for (spec, label, _) in KEY_SPECS { option value=(spec) { (label) } }
                }
                label for="key_usage" { "Key usage" }
                select #key_usage name="key_usage" {
                    option value="ENCRYPT_DECRYPT" { "Encrypt and decrypt" }
                    option value="SIGN_VERIFY" { "Sign and verify" }
                    option value="GENERATE_VERIFY_MAC" { "Generate and verify MAC" }
                }
                p.hint { "Symmetric keys encrypt and decrypt; HMAC keys generate and verify MACs; RSA keys do either of the others; ECC keys sign and verify." }
            }
            fieldset {
                legend { "Labels" }
                label for="alias" { "Alias" }
                input #alias type="text" name="alias" placeholder="alias/my-key";
                label for="description" { "Description - optional" }
                input #description type="text" name="description";
                label for="tag_key" { "Tag key - optional" }
                input #tag_key type="text" name="tag_key";
                label for="tag_value" { "Tag value" }
                input #tag_value type="text" name="tag_value";
            }
            div.actions {
                button.primary #create-key-submit type="submit" { "Create key" }
                a.button href="/console/keys" { "Cancel" }
            }
        }
    };
    layout::page(ctx, Section::Keys, "Create key", content)
}

/// POST /console/keys/new
pub(crate) async fn create(ctx: &Ctx<'_>, f: &Form) -> Reply {
    let mut req = json!({
        "KeySpec": f.get("key_spec").unwrap_or("SYMMETRIC_DEFAULT"),
        "KeyUsage": f.get("key_usage").unwrap_or("ENCRYPT_DECRYPT"),
    });
    if let Some(d) = f.non_empty("description") {
        req["Description"] = json!(d);
    }
    if let Some(k) = f.non_empty("tag_key") {
        req["Tags"] = json!([{ "TagKey": k, "TagValue": f.get("tag_value").unwrap_or("") }]);
    }
    let created = match ctx.kms("CreateKey", req).await {
        Ok(c) => c,
        Err(e) => return new_page(ctx, Some(&e.text())),
    };
    let id = s(&created["KeyMetadata"], "KeyId").to_owned();
    let message = match f.non_empty("alias") {
        None => None,
        Some(alias) => {
            let alias = if alias.starts_with("alias/") {
                alias.to_owned()
            } else {
                format!("alias/{alias}")
            };
            match ctx
                .kms(
                    "CreateAlias",
                    json!({ "AliasName": alias, "TargetKeyId": id }),
                )
                .await
            {
                Ok(_) => None,
                Err(e) => Some((
                    false,
                    format!("The key was created, but not its alias: {}", e.text()),
                )),
            }
        }
    };
    match message {
        None => crate::redirect(&format!("/console/keys/{}", path_segment(&id))),
        Some(m) => page(ctx, &id, Some(m)).await,
    }
}

/// GET /console/keys/<id>
pub(crate) async fn page(ctx: &Ctx<'_>, id: &str, message: Option<(bool, String)>) -> Reply {
    let meta = match ctx.kms("DescribeKey", json!({ "KeyId": id })).await {
        Ok(d) => d["KeyMetadata"].clone(),
        Err(e) => {
            return layout::page(
                ctx,
                Section::Keys,
                id,
                html! { h1 { (id) } (layout::flash(Some(&e.text()))) p { a href="/console/keys" { "Back to keys" } } },
            );
        }
    };
    let aws_managed = s(&meta, "KeyManager") == "AWS";
    let symmetric = s(&meta, "KeySpec") == "SYMMETRIC_DEFAULT";
    let aliases: Vec<String> = ctx
        .kms("ListAliases", json!({ "KeyId": id }))
        .await
        .map(|a| {
            a["Aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| s(x, "AliasName").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let rotation = if symmetric {
        ctx.kms("GetKeyRotationStatus", json!({ "KeyId": id }))
            .await
            .ok()
    } else {
        None
    };
    let policy = ctx
        .kms(
            "GetKeyPolicy",
            json!({ "KeyId": id, "PolicyName": "default" }),
        )
        .await;
    let grants = ctx.kms("ListGrants", json!({ "KeyId": id })).await;
    let tables = tables_using(ctx, s(&meta, "Arn")).await;
    let base = format!("/console/keys/{}", path_segment(id));
    let state = s(&meta, "KeyState");
    let action = |what: &str, label: &str, extra: Markup, class: &str| {
        html! {
            form method="post" action=(format!("{base}/{what}")) {
                (layout::csrf(ctx))
                (extra)
                button class=(class) id=(format!("key-{what}")) type="submit" { (label) }
            }
        }
    };
    let content = html! {
        p { a href="/console/keys" { "Keys" } " / " (id) }
        h1 { @if let Some(a) = aliases.first() { (a) } @else { (id) } }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        section.box aria-labelledby="config" {
            h2 #config { "General configuration" }
            dl.props {
                dt { "Aliases" } dd { (aliases.join(", ")) }
                dt { "ARN" } dd.mono { (s(&meta, "Arn")) }
                dt { "Status" } dd #key-state { span class=(format!("status-{state}")) { (state) } }
                @if let Some(d) = meta.get("DeletionDate") { dt { "Scheduled deletion date" } dd { (layout::time_text(Some(d))) } }
                dt { "Description" } dd { (s(&meta, "Description")) }
                dt { "Key spec" } dd { (s(&meta, "KeySpec")) }
                dt { "Key usage" } dd { (s(&meta, "KeyUsage")) }
                dt { "Origin" } dd { (s(&meta, "Origin")) }
                dt { "Key manager" } dd { (s(&meta, "KeyManager")) }
                dt { "Created" } dd { (layout::time_text(meta.get("CreationDate"))) }
            }
            @if !aws_managed {
                div.actions {
                    @if state == "Enabled" { (action("disable", "Disable key", html!{}, "")) }
                    @if state == "Disabled" { (action("enable", "Enable key", html!{}, "primary")) }
                    @if state == "PendingDeletion" { (action("cancel-deletion", "Cancel key deletion", html!{}, "primary")) }
                    @else {
                        (action("schedule-deletion", "Schedule key deletion", html! {
                            label for="days" { "Waiting period (7-30 days)" }
                            input #days type="number" name="days" min="7" max="30" value="30";
                        }, "danger"))
                    }
                }
            }
        }
        @if let Some(r) = &rotation {
            section.box aria-labelledby="rotation" {
                h2 #rotation { "Key rotation" }
                dl.props {
                    dt { "Automatic rotation" } dd #rotation-status { @if r["KeyRotationEnabled"].as_bool() == Some(true) { "Enabled" } @else { "Disabled" } }
                    @if let Some(p) = r.get("RotationPeriodInDays") { dt { "Rotation period" } dd { (p) " days" } }
                    @if let Some(d) = r.get("NextRotationDate") { dt { "Next rotation" } dd { (layout::time_text(Some(d))) } }
                }
                @if !aws_managed {
                    div.actions {
                        @if r["KeyRotationEnabled"].as_bool() == Some(true) {
                            (action("rotation-off", "Disable automatic rotation", html!{}, ""))
                        } @else {
                            (action("rotation-on", "Enable automatic rotation", html! {
                                label for="period" { "Rotation period (90-2560 days)" }
                                input #period type="number" name="period" min="90" max="2560" value="365";
                            }, ""))
                        }
                        (action("rotate", "Rotate now", html!{}, ""))
                    }
                }
            }
        }
        section.box aria-labelledby="policy" {
            h2 #policy { "Key policy" }
            @match &policy {
                Err(e) => (layout::flash(Some(&e.text()))),
                Ok(p) if aws_managed => pre.mono { (s(p, "Policy")) },
                Ok(p) => form method="post" action=(format!("{base}/policy")) {
                    (layout::csrf(ctx))
                    label for="policy_text" { "Policy (JSON)" }
                    textarea #policy_text name="policy" spellcheck="false" { (s(p, "Policy")) }
                    div.actions { button #key-policy type="submit" { "Save key policy" } }
                },
            }
        }
        section.box aria-labelledby="grants" {
            h2 #grants { "Grants" }
            @match &grants {
                Err(e) => (layout::flash(Some(&e.text()))),
                Ok(g) => table.list {
                    thead { tr { th scope="col" { "Grant ID" } th scope="col" { "Grantee" } th scope="col" { "Operations" } th scope="col" { "Actions" } } }
                    tbody {
                        @for grant in g["Grants"].as_array().into_iter().flatten() {
                            tr {
                                td.mono { (s(grant, "GrantId")) }
                                td { (s(grant, "GranteePrincipal")) }
                                td { (grant["Operations"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) }
                                td { @if !aws_managed { (action("revoke-grant", "Revoke", html! { input type="hidden" name="grant" value=(s(grant, "GrantId")); }, "danger")) } }
                            }
                        }
                    }
                },
            }
        }
        section.box aria-labelledby="tables" {
            h2 #tables { "Tables that use this key" }
            ul { @for t in &tables { li { a href=(format!("/console/tables/{}", path_segment(t))) { (t) } } } }
            @if tables.is_empty() { p { "None." } }
        }
    };
    layout::page(ctx, Section::Keys, id, content)
}

/// Tables of this region whose encryption key is `arn` (as the caller may describe them).
async fn tables_using(ctx: &Ctx<'_>, arn: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in all_table_names(ctx).await.unwrap_or_default() {
        if let Ok(d) = ctx
            .dynamodb(Operation::DescribeTable, json!({ "TableName": name }))
            .await
        {
            if s(&d["Table"]["SSEDescription"], "KMSMasterKeyArn") == arn {
                out.push(name);
            }
        }
    }
    out
}

/// POST /console/keys/<id>/<action>
pub(crate) async fn act(ctx: &Ctx<'_>, id: &str, action: &str, f: &Form) -> Reply {
    let days = |name: &str, default: i64| {
        f.get(name)
            .and_then(|d| d.trim().parse::<i64>().ok())
            .unwrap_or(default)
    };
    let (op, input, done) = match action {
        "enable" => ("EnableKey", json!({ "KeyId": id }), "The key is enabled."),
        "disable" => ("DisableKey", json!({ "KeyId": id }), "The key is disabled."),
        "schedule-deletion" => (
            "ScheduleKeyDeletion",
            json!({ "KeyId": id, "PendingWindowInDays": days("days", 30) }),
            "The key is scheduled for deletion.",
        ),
        "cancel-deletion" => (
            "CancelKeyDeletion",
            json!({ "KeyId": id }),
            "The key's deletion is cancelled; the key is disabled.",
        ),
        "rotation-on" => (
            "EnableKeyRotation",
            json!({ "KeyId": id, "RotationPeriodInDays": days("period", 365) }),
            "Automatic rotation is enabled.",
        ),
        "rotation-off" => (
            "DisableKeyRotation",
            json!({ "KeyId": id }),
            "Automatic rotation is disabled.",
        ),
        "rotate" => (
            "RotateKeyOnDemand",
            json!({ "KeyId": id }),
            "The key is being rotated.",
        ),
        "policy" => (
            "PutKeyPolicy",
            json!({ "KeyId": id, "PolicyName": "default", "Policy": f.get("policy").unwrap_or("") }),
            "The key policy is saved.",
        ),
        "revoke-grant" => (
            "RevokeGrant",
            json!({ "KeyId": id, "GrantId": f.get("grant").unwrap_or("") }),
            "The grant is revoked.",
        ),
        _ => return layout::not_found(ctx),
    };
    let message = match ctx.kms(op, input).await {
        Ok(out) if op == "ScheduleKeyDeletion" => (
            true,
            format!(
                "{done} Deletion date: {}.",
                layout::time_text(out.get("DeletionDate"))
            ),
        ),
        Ok(_) => (true, done.to_owned()),
        Err(e) => (false, e.text()),
    };
    page(ctx, id, Some(message)).await
}
