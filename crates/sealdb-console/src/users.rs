//! IAM users (the IAM console's essentials): the list with groups, access keys and console
//! access; creating a user (console password, a managed policy, an inline policy); a
//! user's page with access keys (create — the secret shown once —, deactivate, delete),
//! the console password, and attached and inline policies (JSON validated by IAM).

use crate::form::Form;
use crate::iam_xml::{field, get, p, percent_decoded, records, texts};
use crate::layout::{self, Section};
use crate::{Ctx, Reply, path_segment};
use maud::{Markup, html};

/// GET /console/users
pub(crate) async fn list(ctx: &Ctx<'_>, message: Option<(bool, String)>) -> Reply {
    let users = match ctx.iam("ListUsers", p(&[("MaxItems", "1000")])).await {
        Ok(xml) => records(&xml, "Users"),
        Err(e) => {
            return layout::page(
                ctx,
                Section::Users,
                "Users",
                html! { h1 { "Users" } (layout::flash(Some(&e.text()))) },
            );
        }
    };
    let policies = ctx
        .iam(
            "ListPolicies",
            p(&[("Scope", "Local"), ("MaxItems", "1000")]),
        )
        .await
        .map(|x| records(&x, "Policies"))
        .unwrap_or_default();
    let groups = ctx
        .iam("ListGroups", p(&[("MaxItems", "1000")]))
        .await
        .map(|x| records(&x, "Groups"))
        .unwrap_or_default();
    let mut rows = Vec::new();
    for u in &users {
        let name = get(u, "UserName");
        let groups = ctx
            .iam("ListGroupsForUser", p(&[("UserName", name)]))
            .await
            .map(|x| {
                records(&x, "Groups")
                    .iter()
                    .map(|g| get(g, "GroupName").to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let keys = ctx
            .iam("ListAccessKeys", p(&[("UserName", name)]))
            .await
            .map(|x| records(&x, "AccessKeyMetadata").len())
            .unwrap_or(0);
        let console = ctx
            .iam("GetLoginProfile", p(&[("UserName", name)]))
            .await
            .is_ok();
        rows.push(html! {
            tr {
                td { a href=(format!("/console/users/{}", path_segment(name))) { (name) } }
                td { (groups) }
                td { (keys) }
                td { @if console { "Enabled" } @else { "-" } }
                td { (get(u, "CreateDate")) }
            }
        });
    }
    let content = html! {
        h1 { "Users (" (users.len()) ")" }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        div.scroll {
            table.list #users {
                thead { tr { th scope="col" { "User name" } th scope="col" { "Groups" } th scope="col" { "Access keys" } th scope="col" { "Console access" } th scope="col" { "Created" } } }
                tbody { @for r in &rows { (r) } @if rows.is_empty() { tr { td colspan="5" { "No users." } } } }
            }
        }
        h2 { "User groups (" (groups.len()) ")" }
        div.scroll {
            table.list #groups {
                thead { tr { th scope="col" { "Group name" } th scope="col" { "ARN" } th scope="col" { "Created" } } }
                tbody {
                    @for g in &groups { tr { td { (get(g, "GroupName")) } td.mono { (get(g, "Arn")) } td { (get(g, "CreateDate")) } } }
                    @if groups.is_empty() { tr { td colspan="3" { "No groups." } } }
                }
            }
        }
        form.box method="post" action="/console/groups/new" {
            (layout::csrf(ctx))
            label for="group_name" { "Group name" }
            input #group_name type="text" name="group_name" required;
            div.actions { button #create-group type="submit" { "Create group" } }
        }
        h2 { "Create user" }
        form.box method="post" action="/console/users/new" {
            (layout::csrf(ctx))
            label for="user_name" { "User name" }
            input #user_name type="text" name="user_name" required;
            label for="user_password" { "Console password - optional" }
            input #user_password type="password" name="password" autocomplete="new-password";
            div {
                input #user_reset type="checkbox" name="reset_required";
                label.inline for="user_reset" { "User must create a new password at next sign-in" }
            }
            label for="user_group" { "Add to a group - optional" }
            select #user_group name="group" {
                option value="" { "None" }
                @for g in &groups { option value=(get(g, "GroupName")) { (get(g, "GroupName")) } }
            }
            label for="policy_arn" { "Attach a managed policy - optional" }
            select #policy_arn name="policy_arn" {
                option value="" { "None" }
                @for pol in &policies { option value=(get(pol, "Arn")) { (get(pol, "PolicyName")) } }
            }
            label for="inline_policy" { "Inline policy (JSON) - optional" }
            textarea #inline_policy name="inline_policy" spellcheck="false" {}
            div.actions { button.primary #create-user type="submit" { "Create user" } }
        }
    };
    layout::page(ctx, Section::Users, "Users", content)
}

/// POST /console/groups/new
pub(crate) async fn create_group(ctx: &Ctx<'_>, f: &Form) -> Reply {
    let name = f.get("group_name").unwrap_or("").trim().to_owned();
    let message = match ctx.iam("CreateGroup", p(&[("GroupName", &name)])).await {
        Ok(_) => (true, format!("The group {name} is created.")),
        Err(e) => (false, e.text()),
    };
    list(ctx, Some(message)).await
}

/// POST /console/users/new
pub(crate) async fn create(ctx: &Ctx<'_>, f: &Form) -> Reply {
    let name = f.get("user_name").unwrap_or("").trim().to_owned();
    if let Err(e) = ctx.iam("CreateUser", p(&[("UserName", &name)])).await {
        return list(ctx, Some((false, e.text()))).await;
    }
    let mut steps = Vec::new();
    if let Some(pw) = f.get("password").filter(|v| !v.is_empty()) {
        let reset = if f.checked("reset_required") {
            "true"
        } else {
            "false"
        };
        steps.push((
            "CreateLoginProfile",
            p(&[
                ("UserName", &name),
                ("Password", pw),
                ("PasswordResetRequired", reset),
            ]),
        ));
    }
    if let Some(group) = f.non_empty("group") {
        steps.push((
            "AddUserToGroup",
            p(&[("UserName", &name), ("GroupName", group)]),
        ));
    }
    if let Some(arn) = f.non_empty("policy_arn") {
        steps.push((
            "AttachUserPolicy",
            p(&[("UserName", &name), ("PolicyArn", arn)]),
        ));
    }
    if let Some(doc) = f.non_empty("inline_policy") {
        steps.push((
            "PutUserPolicy",
            p(&[
                ("UserName", &name),
                ("PolicyName", "console-inline"),
                ("PolicyDocument", doc),
            ]),
        ));
    }
    for (action, params) in steps {
        if let Err(e) = ctx.iam(action, params).await {
            return page(
                ctx,
                &name,
                Some((
                    false,
                    format!("The user was created, but {action} failed: {}", e.text()),
                )),
            )
            .await;
        }
    }
    crate::redirect(&format!("/console/users/{}", path_segment(&name)))
}

/// GET /console/users/<name>
pub(crate) async fn page(ctx: &Ctx<'_>, name: &str, message: Option<(bool, String)>) -> Reply {
    page_with(ctx, name, message, None).await
}

/// The policy simulator's answers: (action, decision).
type Decisions = Vec<(String, String)>;

async fn page_with(
    ctx: &Ctx<'_>,
    name: &str,
    message: Option<(bool, String)>,
    new_key: Option<(String, String)>,
) -> Reply {
    page_full(ctx, name, message, new_key, None).await
}

async fn page_full(
    ctx: &Ctx<'_>,
    name: &str,
    message: Option<(bool, String)>,
    new_key: Option<(String, String)>,
    simulated: Option<Decisions>,
) -> Reply {
    let user = match ctx.iam("GetUser", p(&[("UserName", name)])).await {
        Ok(x) => x,
        Err(e) => {
            return layout::page(
                ctx,
                Section::Users,
                name,
                html! { h1 { (name) } (layout::flash(Some(&e.text()))) p { a href="/console/users" { "Back to users" } } },
            );
        }
    };
    let one = |action: &'static str| {
        let params = p(&[("UserName", name)]);
        async move { ctx.iam(action, params).await }
    };
    let keys = one("ListAccessKeys")
        .await
        .map(|x| records(&x, "AccessKeyMetadata"))
        .unwrap_or_default();
    let groups = one("ListGroupsForUser")
        .await
        .map(|x| records(&x, "Groups"))
        .unwrap_or_default();
    let attached = one("ListAttachedUserPolicies")
        .await
        .map(|x| records(&x, "AttachedPolicies"))
        .unwrap_or_default();
    let inline = one("ListUserPolicies")
        .await
        .map(|x| texts(&x, "PolicyNames"))
        .unwrap_or_default();
    let mut inline_docs = Vec::new();
    for pol in &inline {
        let doc = ctx
            .iam(
                "GetUserPolicy",
                p(&[("UserName", name), ("PolicyName", pol)]),
            )
            .await
            .map(|x| percent_decoded(&field(&x, "PolicyDocument")))
            .unwrap_or_default();
        inline_docs.push((pol.clone(), doc));
    }
    let login = one("GetLoginProfile").await.ok();
    let console = login.is_some();
    let reset_required = login
        .as_deref()
        .is_some_and(|x| field(x, "PasswordResetRequired") == "true");
    let all_groups = ctx
        .iam("ListGroups", p(&[("MaxItems", "1000")]))
        .await
        .map(|x| records(&x, "Groups"))
        .unwrap_or_default();
    let joinable: Vec<String> = all_groups
        .iter()
        .map(|g| get(g, "GroupName").to_owned())
        .filter(|g| !groups.iter().any(|m| get(m, "GroupName") == g))
        .collect();
    let base = format!("/console/users/{}", path_segment(name));
    let action = |what: &str, label: &str, extra: Markup, class: &str| {
        html! {
            form method="post" action=(format!("{base}/{what}")) {
                (layout::csrf(ctx)) (extra)
                button class=(class) type="submit" { (label) }
            }
        }
    };
    let content = html! {
        p { a href="/console/users" { "Users" } " / " (name) }
        h1 { (name) }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        @if let Some((id, secret)) = &new_key {
            section.box #new-key role="status" {
                h2 { "Access key created" }
                p { "This is the only time the secret access key is shown. Copy it now." }
                dl.props { dt { "Access key ID" } dd.mono #new-key-id { (id) } dt { "Secret access key" } dd.mono #new-key-secret { (secret) } }
            }
        }
        section.box {
            h2 { "Summary" }
            dl.props {
                dt { "ARN" } dd.mono { (field(&user, "Arn")) }
                dt { "Created" } dd { (field(&user, "CreateDate")) }
                dt { "Groups" } dd { (groups.iter().map(|g| get(g, "GroupName")).collect::<Vec<_>>().join(", ")) }
            }
        }
        section.box aria-labelledby="groups" {
            h2 #groups { "Groups" }
            table.list #user-groups {
                thead { tr { th scope="col" { "Group name" } th scope="col" { "Actions" } } }
                tbody {
                    @for g in &groups {
                        @let group = get(g, "GroupName");
                        tr {
                            td { (group) }
                            td { (action("remove-group", "Remove from group", html! { input type="hidden" name="group" value=(group); }, "")) }
                        }
                    }
                    @if groups.is_empty() { tr { td colspan="2" { "The user is in no group." } } }
                }
            }
            @if joinable.is_empty() {
                p.hint { "There is no other group to add the user to. Groups are created on the " a href="/console/users" { "Users" } " page." }
            } @else {
                (action("add-group", "Add to group", html! {
                    label for="add_group" { "Add the user to a group" }
                    select #add_group name="group" {
                        @for g in &joinable { option value=(g) { (g) } }
                    }
                }, ""))
            }
        }
        section.box aria-labelledby="keys" {
            h2 #keys { "Access keys" }
            table.list #access-keys {
                thead { tr { th scope="col" { "Access key ID" } th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { "Actions" } } }
                tbody {
                    @for k in &keys {
                        @let id = get(k, "AccessKeyId");
                        @let active = get(k, "Status") == "Active";
                        tr {
                            td.mono { (id) } td { (get(k, "Status")) } td { (get(k, "CreateDate")) }
                            td.actions {
                                (action("key-status", if active { "Deactivate" } else { "Activate" }, html! {
                                    input type="hidden" name="key" value=(id);
                                    input type="hidden" name="status" value=(if active { "Inactive" } else { "Active" });
                                }, ""))
                                (action("delete-key", "Delete", html! { input type="hidden" name="key" value=(id); }, "danger"))
                            }
                        }
                    }
                }
            }
            div.actions { (action("create-key", "Create access key", html!{}, "primary")) }
        }
        section.box aria-labelledby="password" {
            h2 #password { "Console password" }
            p #console-access { "Console access: " @if console { "Enabled" } @else { "Disabled" }
                @if reset_required { " (a new password must be chosen at the next sign-in)" } }
            (action("password", if console { "Change password" } else { "Enable console access" }, html! {
                label for="new_password" { "Password" }
                input #new_password type="password" name="password" autocomplete="new-password" required;
                div {
                    input #password_reset type="checkbox" name="reset_required";
                    label.inline for="password_reset" { "User must create a new password at next sign-in" }
                }
            }, ""))
            @if console { div.actions { (action("delete-password", "Disable console access", html!{}, "danger")) } }
        }
        section.box aria-labelledby="permissions" {
            h2 #permissions { "Permissions policies" }
            h3 { "Attached" }
            ul { @for a in &attached { li { (get(a, "PolicyName")) " " (action("detach-policy", "Detach", html! { input type="hidden" name="policy_arn" value=(get(a, "PolicyArn")); }, "")) } } }
            @if attached.is_empty() { p { "None." } }
            h3 { "Inline" }
            @for (pol, doc) in &inline_docs {
                details { summary { (pol) } pre.mono { (doc) } (action("delete-policy", "Delete", html! { input type="hidden" name="policy_name" value=(pol); }, "danger")) }
            }
            @if inline_docs.is_empty() { p { "None." } }
            h3 { "Policy simulator" }
            (action("simulate", "Simulate", html! {
                label for="sim_actions" { "Actions (comma-separated, e.g. dynamodb:PutItem)" }
                input #sim_actions type="text" name="actions" required;
                label for="sim_resource" { "Resource ARN" }
                input #sim_resource type="text" name="resource" value="*";
            }, ""))
            @if let Some(results) = &simulated {
                table.list #simulation {
                    thead { tr { th scope="col" { "Action" } th scope="col" { "Decision" } } }
                    tbody { @for (a, d) in results { tr { td { (a) } td { (d) } } } }
                }
            }
            h3 { "Add an inline policy" }
            (action("put-policy", "Save policy", html! {
                label for="policy_name" { "Policy name" }
                input #policy_name type="text" name="policy_name" required;
                label for="policy_document" { "Policy (JSON)" }
                textarea #policy_document name="policy_document" spellcheck="false" {}
            }, "primary"))
        }
    };
    layout::page(ctx, Section::Users, name, content)
}

/// POST /console/users/<name>/<action>
pub(crate) async fn act(ctx: &Ctx<'_>, name: &str, what: &str, f: &Form) -> Reply {
    let v = |k: &str| f.get(k).unwrap_or("").to_owned();
    if what == "create-key" {
        return match ctx.iam("CreateAccessKey", p(&[("UserName", name)])).await {
            Ok(x) => {
                let key = (field(&x, "AccessKeyId"), field(&x, "SecretAccessKey"));
                page_with(ctx, name, None, Some(key)).await
            }
            Err(e) => page(ctx, name, Some((false, e.text()))).await,
        };
    }
    if what == "simulate" {
        return simulate(ctx, name, f).await;
    }
    let console = ctx
        .iam("GetLoginProfile", p(&[("UserName", name)]))
        .await
        .is_ok();
    let reset = if f.checked("reset_required") {
        "true"
    } else {
        "false"
    };
    let (action, params, done) = match what {
        "key-status" => (
            "UpdateAccessKey",
            p(&[
                ("UserName", name),
                ("AccessKeyId", &v("key")),
                ("Status", &v("status")),
            ]),
            "The access key's status is changed.",
        ),
        "delete-key" => (
            "DeleteAccessKey",
            p(&[("UserName", name), ("AccessKeyId", &v("key"))]),
            "The access key is deleted.",
        ),
        "password" if console => (
            "UpdateLoginProfile",
            p(&[
                ("UserName", name),
                ("Password", &v("password")),
                ("PasswordResetRequired", reset),
            ]),
            "The console password is changed.",
        ),
        "password" => (
            "CreateLoginProfile",
            p(&[
                ("UserName", name),
                ("Password", &v("password")),
                ("PasswordResetRequired", reset),
            ]),
            "Console access is enabled.",
        ),
        "add-group" => (
            "AddUserToGroup",
            p(&[("UserName", name), ("GroupName", &v("group"))]),
            "The user is added to the group.",
        ),
        "remove-group" => (
            "RemoveUserFromGroup",
            p(&[("UserName", name), ("GroupName", &v("group"))]),
            "The user is removed from the group.",
        ),
        "delete-password" => (
            "DeleteLoginProfile",
            p(&[("UserName", name)]),
            "Console access is disabled.",
        ),
        "put-policy" => (
            "PutUserPolicy",
            p(&[
                ("UserName", name),
                ("PolicyName", &v("policy_name")),
                ("PolicyDocument", &v("policy_document")),
            ]),
            "The inline policy is saved.",
        ),
        "delete-policy" => (
            "DeleteUserPolicy",
            p(&[("UserName", name), ("PolicyName", &v("policy_name"))]),
            "The inline policy is deleted.",
        ),
        "detach-policy" => (
            "DetachUserPolicy",
            p(&[("UserName", name), ("PolicyArn", &v("policy_arn"))]),
            "The policy is detached.",
        ),
        _ => return layout::not_found(ctx),
    };
    let message = match ctx.iam(action, params).await {
        Ok(_) => (true, done.to_owned()),
        Err(e) => (false, e.text()),
    };
    page(ctx, name, Some(message)).await
}

/// The policy simulator: SimulatePrincipalPolicy for the user, the actions and one resource.
async fn simulate(ctx: &Ctx<'_>, name: &str, f: &Form) -> Reply {
    let arn = ctx
        .iam("GetUser", p(&[("UserName", name)]))
        .await
        .map(|x| field(&x, "Arn"))
        .unwrap_or_default();
    let mut params = p(&[
        ("PolicySourceArn", &arn),
        ("ResourceArns.member.1", f.get("resource").unwrap_or("*")),
    ]);
    let actions = f.get("actions").unwrap_or("").split(',').map(str::trim);
    for (i, a) in actions.filter(|a| !a.is_empty()).enumerate() {
        params.push((format!("ActionNames.member.{}", i + 1), a.to_owned()));
    }
    match ctx.iam("SimulatePrincipalPolicy", params).await {
        Ok(x) => {
            let results = records(&x, "EvaluationResults")
                .iter()
                .map(|r| {
                    (
                        get(r, "EvalActionName").to_owned(),
                        get(r, "EvalDecision").to_owned(),
                    )
                })
                .collect();
            page_full(ctx, name, None, None, Some(results)).await
        }
        Err(e) => page(ctx, name, Some((false, e.text()))).await,
    }
}
