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

/// What the key's users may do, by key spec and usage (as the AWS console's template).
fn usage_actions(spec: &str, usage: &str) -> Vec<&'static str> {
    match (spec, usage) {
        ("SYMMETRIC_DEFAULT", _) => vec![
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
        ],
        (_, "GENERATE_VERIFY_MAC") => vec!["kms:GenerateMac", "kms:VerifyMac", "kms:DescribeKey"],
        (_, "SIGN_VERIFY") => vec![
            "kms:Sign",
            "kms:Verify",
            "kms:GetPublicKey",
            "kms:DescribeKey",
        ],
        _ => vec![
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GetPublicKey",
            "kms:DescribeKey",
        ],
    }
}

/// The key policy of the AWS console's template: the account may delegate through IAM
/// policies, the chosen administrators manage the key, the chosen users use it (and,
/// for a symmetric key, let AWS services such as DynamoDB hold grants on it).
pub(crate) fn policy_template(
    account: &str,
    spec: &str,
    usage: &str,
    admins: &[&str],
    users: &[&str],
) -> Value {
    let mut statements = vec![json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
        "Action": "kms:*",
        "Resource": "*",
    })];
    if !admins.is_empty() {
        statements.push(json!({
            "Sid": "Allow access for Key Administrators",
            "Effect": "Allow",
            "Principal": { "AWS": admins },
            "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                       "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                       "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                       "kms:RotateKeyOnDemand"],
            "Resource": "*",
        }));
    }
    if !users.is_empty() {
        statements.push(json!({
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": { "AWS": users },
            "Action": usage_actions(spec, usage),
            "Resource": "*",
        }));
        if spec == "SYMMETRIC_DEFAULT" {
            statements.push(json!({
                "Sid": "Allow attachment of persistent resources",
                "Effect": "Allow",
                "Principal": { "AWS": users },
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": "*",
                "Condition": { "Bool": { "kms:GrantIsForAWSResource": "true" } },
            }));
        }
    }
    json!({ "Version": "2012-10-17", "Id": "key-consolepolicy-3", "Statement": statements })
}

/// The account's users and roles (ARN, label) for the policy template's pickers.
async fn principals(ctx: &Ctx<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (action, list, kind) in [
        ("ListUsers", "Users", "user"),
        ("ListRoles", "Roles", "role"),
    ] {
        if let Ok(xml) = ctx
            .iam(action, vec![("MaxItems".into(), "1000".into())])
            .await
        {
            for r in crate::iam_xml::records(&xml, list) {
                let arn = crate::iam_xml::get(&r, "Arn").to_owned();
                let name = crate::iam_xml::get(
                    &r,
                    if kind == "user" {
                        "UserName"
                    } else {
                        "RoleName"
                    },
                );
                out.push((arn, format!("{name} ({kind})")));
            }
        }
    }
    out
}

/// GET /console/keys/new (and again with the service's refusal).
pub(crate) async fn new_page(ctx: &Ctx<'_>, error: Option<&str>) -> Reply {
    let principals = principals(ctx).await;
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
                legend { "Key policy" }
                p.hint { "The policy is made from the AWS console's template: the account may grant access with IAM policies, key administrators manage the key, key users use it." }
                label for="admins" { "Key administrators" }
                select #admins name="admins" multiple size="4" {
                    @for (arn, label) in &principals { option value=(arn) { (label) } }
                }
                label for="key_users" { "Key users" }
                select #key_users name="key_users" multiple size="4" {
                    @for (arn, label) in &principals { option value=(arn) { (label) } }
                }
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
    let spec = f.get("key_spec").unwrap_or("SYMMETRIC_DEFAULT");
    let usage = f.get("key_usage").unwrap_or("ENCRYPT_DECRYPT");
    let mut req = json!({ "KeySpec": spec, "KeyUsage": usage });
    let (admins, users) = (f.all("admins"), f.all("key_users"));
    if !admins.is_empty() || !users.is_empty() {
        let policy = policy_template(&ctx.principal.account_id, spec, usage, &admins, &users);
        req["Policy"] = json!(policy.to_string());
    }
    if let Some(d) = f.non_empty("description") {
        req["Description"] = json!(d);
    }
    if let Some(k) = f.non_empty("tag_key") {
        req["Tags"] = json!([{ "TagKey": k, "TagValue": f.get("tag_value").unwrap_or("") }]);
    }
    let created = match ctx.kms("CreateKey", req).await {
        Ok(c) => c,
        Err(e) => return new_page(ctx, Some(&e.text())).await,
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
    let rotations = if symmetric {
        ctx.kms("ListKeyRotations", json!({ "KeyId": id }))
            .await
            .map(|r| r["Rotations"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default()
    } else {
        Vec::new()
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
                h3 { "Rotation history" }
                @if rotations.is_empty() { p { "No rotations yet." } }
                @else {
                    table.list #rotations {
                        thead { tr { th scope="col" { "Date" } th scope="col" { "Type" } } }
                        tbody { @for r in &rotations { tr { td { (layout::time_text(r.get("RotationDate"))) } td { (s(r, "RotationType")) } } } }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_template_names_administrators_and_users() {
        let p = policy_template(
            "111122223333",
            "SYMMETRIC_DEFAULT",
            "ENCRYPT_DECRYPT",
            &["arn:aws:iam::111122223333:user/admin"],
            &["arn:aws:iam::111122223333:user/app"],
        );
        let st = p["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 4);
        assert_eq!(st[0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
        assert_eq!(
            st[1]["Principal"]["AWS"][0],
            "arn:aws:iam::111122223333:user/admin"
        );
        assert_eq!(st[2]["Action"][1], "kms:Decrypt");
        assert_eq!(
            st[3]["Condition"]["Bool"]["kms:GrantIsForAWSResource"],
            "true"
        );
        let sign = policy_template("1", "ECC_NIST_P256", "SIGN_VERIFY", &[], &["u"]);
        assert_eq!(sign["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(sign["Statement"][1]["Action"][0], "kms:Sign");
    }
}
