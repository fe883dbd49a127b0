//! IAM users (the IAM console's essentials): the list with groups, access keys and console
//! access; creating a user (console password, a managed policy, an inline policy); a
//! user's page with access keys (create — the secret shown once —, deactivate, delete),
//! the console password, and attached and inline policies (JSON validated by IAM).

use crate::form::Form;
use crate::layout::{self, Section};
use crate::{Ctx, Reply, path_segment};
use maud::{Markup, html};

/// The `<member>` records of the list element `list` in an IAM reply, each as
/// (field, text) pairs of its child elements.
pub(crate) fn records(xml: &str, list: &str) -> Vec<Vec<(String, String)>> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.tag_name().name() == list)
        .flat_map(|l| l.children().filter(|m| m.tag_name().name() == "member"))
        .map(|m| {
            m.children()
                .filter(roxmltree::Node::is_element)
                .map(|c| {
                    (
                        c.tag_name().name().to_owned(),
                        c.text().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

/// The texts of the `<member>`s of `list` (lists of names).
fn texts(xml: &str, list: &str) -> Vec<String> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.tag_name().name() == list)
        .flat_map(|l| l.children().filter(|m| m.tag_name().name() == "member"))
        .map(|m| m.text().unwrap_or("").to_owned())
        .collect()
}

/// The text of the first element named `name`.
fn field(xml: &str, name: &str) -> String {
    roxmltree::Document::parse(xml)
        .ok()
        .and_then(|d| {
            d.descendants()
                .find(|n| n.tag_name().name() == name)
                .and_then(|n| n.text().map(str::to_owned))
        })
        .unwrap_or_default()
}

pub(crate) fn get<'a>(record: &'a [(String, String)], name: &str) -> &'a str {
    record
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

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
        h2 { "Create user" }
        form.box method="post" action="/console/users/new" {
            (layout::csrf(ctx))
            label for="user_name" { "User name" }
            input #user_name type="text" name="user_name" required;
            label for="user_password" { "Console password - optional" }
            input #user_password type="password" name="password" autocomplete="new-password";
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

/// POST /console/users/new
pub(crate) async fn create(ctx: &Ctx<'_>, f: &Form) -> Reply {
    let name = f.get("user_name").unwrap_or("").trim().to_owned();
    if let Err(e) = ctx.iam("CreateUser", p(&[("UserName", &name)])).await {
        return list(ctx, Some((false, e.text()))).await;
    }
    let mut steps = Vec::new();
    if let Some(pw) = f.get("password").filter(|v| !v.is_empty()) {
        steps.push((
            "CreateLoginProfile",
            p(&[("UserName", &name), ("Password", pw)]),
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
    let console = one("GetLoginProfile").await.is_ok();
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
            p { "Console access: " @if console { "Enabled" } @else { "Disabled" } }
            (action("password", if console { "Change password" } else { "Enable console access" }, html! {
                label for="new_password" { "Password" }
                input #new_password type="password" name="password" autocomplete="new-password" required;
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

/// IAM returns policy documents URL-encoded, as AWS does.
fn percent_decoded(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
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
            p(&[("UserName", name), ("Password", &v("password"))]),
            "The console password is changed.",
        ),
        "password" => (
            "CreateLoginProfile",
            p(&[("UserName", name), ("Password", &v("password"))]),
            "Console access is enabled.",
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users><member><UserName>ana</UserName><Arn>arn:aws:iam::000000000000:user/ana</Arn></member><member><UserName>&lt;b&gt;</UserName></member></Users><IsTruncated>false</IsTruncated></ListUsersResult></ListUsersResponse>"#;

    #[test]
    fn iam_lists_are_read_from_the_xml() {
        let users = records(LIST, "Users");
        assert_eq!(users.len(), 2);
        assert_eq!(get(&users[0], "Arn"), "arn:aws:iam::000000000000:user/ana");
        assert_eq!(get(&users[1], "UserName"), "<b>");
        assert_eq!(field(LIST, "IsTruncated"), "false");
        assert_eq!(
            texts(
                "<R><PolicyNames><member>a</member><member>b</member></PolicyNames></R>",
                "PolicyNames"
            ),
            vec!["a", "b"]
        );
        assert!(records("not xml", "Users").is_empty());
    }

    #[test]
    fn policy_documents_are_url_decoded() {
        assert_eq!(percent_decoded("%7B%22a%22%3A%201%7D"), "{\"a\": 1}");
    }
}
