//! Customer managed IAM policies: the list, creating one and saving a new default version
//! with a JSON editor (IAM validates the document and answers its own messages), and
//! deleting one.

use crate::form::Form;
use crate::iam_xml::{get, records};
use crate::layout::{self, Section};
use crate::{Ctx, Reply};
use maud::html;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The text of the first element `name` of an IAM reply.
fn first(xml: &str, name: &str) -> String {
    roxmltree::Document::parse(xml)
        .ok()
        .and_then(|d| {
            d.descendants()
                .find(|n| n.tag_name().name() == name)
                .and_then(|n| n.text().map(str::to_owned))
        })
        .unwrap_or_default()
}

/// IAM answers policy documents URL-encoded.
fn decoded(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// GET /console/policies
pub(crate) async fn list(ctx: &Ctx<'_>, message: Option<(bool, String)>) -> Reply {
    let listed = ctx
        .iam(
            "ListPolicies",
            pairs(&[("Scope", "Local"), ("MaxItems", "1000")]),
        )
        .await;
    let content = html! {
        h1 { "Policies" }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        @match &listed {
            Err(e) => (layout::flash(Some(&e.text()))),
            Ok(xml) => {
                table.list #policies {
                    thead { tr { th scope="col" { "Policy name" } th scope="col" { "Attachments" } th scope="col" { "Default version" } th scope="col" { "ARN" } } }
                    tbody {
                        @for pol in records(xml, "Policies") {
                            tr {
                                td { a href=(format!("/console/policies/view?arn={}", crate::path_segment(get(&pol, "Arn")))) { (get(&pol, "PolicyName")) } }
                                td { (get(&pol, "AttachmentCount")) }
                                td { (get(&pol, "DefaultVersionId")) }
                                td.mono { (get(&pol, "Arn")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Create policy" }
        form.box method="post" action="/console/policies/new" {
            (layout::csrf(ctx))
            label for="policy_name" { "Policy name" }
            input #policy_name type="text" name="name" required;
            label for="description" { "Description - optional" }
            input #description type="text" name="description";
            label for="document" { "Policy (JSON)" }
            textarea #document name="document" spellcheck="false" required {
                "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"dynamodb:GetItem\", \"Resource\": \"*\"}\n  ]\n}"
            }
            div.actions { button.primary #create-policy type="submit" { "Create policy" } }
        }
    };
    layout::page(ctx, Section::Policies, "Policies", content)
}

/// POST /console/policies/new
pub(crate) async fn create(ctx: &Ctx<'_>, f: &Form) -> Reply {
    let mut params = pairs(&[
        ("PolicyName", f.get("name").unwrap_or("").trim()),
        ("PolicyDocument", f.get("document").unwrap_or("")),
    ]);
    if let Some(d) = f.non_empty("description") {
        params.push(("Description".into(), d.to_owned()));
    }
    match ctx.iam("CreatePolicy", params).await {
        Ok(xml) => {
            let arn = first(&xml, "Arn");
            crate::redirect(&format!(
                "/console/policies/view?arn={}",
                crate::path_segment(&arn)
            ))
        }
        Err(e) => list(ctx, Some((false, e.text()))).await,
    }
}

/// GET /console/policies/view?arn=
pub(crate) async fn view(ctx: &Ctx<'_>, arn: &str, message: Option<(bool, String)>) -> Reply {
    let policy = match ctx.iam("GetPolicy", pairs(&[("PolicyArn", arn)])).await {
        Ok(x) => x,
        Err(e) => return list(ctx, Some((false, e.text()))).await,
    };
    let version = first(&policy, "DefaultVersionId");
    let document = ctx
        .iam(
            "GetPolicyVersion",
            pairs(&[("PolicyArn", arn), ("VersionId", &version)]),
        )
        .await
        .map(|x| decoded(&first(&x, "Document")))
        .unwrap_or_default();
    let name = first(&policy, "PolicyName");
    let content = html! {
        p { a href="/console/policies" { "Policies" } " / " (name) }
        h1 { (name) }
        @if let Some((ok, text)) = &message {
            @if *ok { div.alert.ok role="status" { (text) } } @else { (layout::flash(Some(text))) }
        }
        section.box {
            dl.props {
                dt { "ARN" } dd.mono { (arn) }
                dt { "Description" } dd { (first(&policy, "Description")) }
                dt { "Default version" } dd #default-version { (version) }
                dt { "Attachments" } dd { (first(&policy, "AttachmentCount")) }
            }
        }
        form.box method="post" action="/console/policies/version" {
            (layout::csrf(ctx))
            input type="hidden" name="arn" value=(arn);
            label for="document" { "Policy (JSON)" }
            textarea #document name="document" spellcheck="false" { (document) }
            p.hint { "Saving makes a new version and sets it as the default (IAM keeps at most five)." }
            div.actions { button.primary #save-policy type="submit" { "Save changes" } }
        }
        form.box method="post" action="/console/policies/delete" {
            (layout::csrf(ctx))
            input type="hidden" name="arn" value=(arn);
            div.actions { button.danger #delete-policy type="submit" { "Delete policy" } }
        }
    };
    layout::page(ctx, Section::Policies, &name, content)
}

/// POST /console/policies/version: a new default version.
pub(crate) async fn save_version(ctx: &Ctx<'_>, f: &Form) -> Reply {
    let arn = f.get("arn").unwrap_or("");
    let params = pairs(&[
        ("PolicyArn", arn),
        ("PolicyDocument", f.get("document").unwrap_or("")),
        ("SetAsDefault", "true"),
    ]);
    let message = match ctx.iam("CreatePolicyVersion", params).await {
        Ok(_) => (
            true,
            "A new default version of the policy is saved.".to_owned(),
        ),
        Err(e) => (false, e.text()),
    };
    view(ctx, arn, Some(message)).await
}

/// POST /console/policies/delete: as the AWS console does, the versions other than the
/// default are deleted first (IAM refuses to delete a policy that has them).
pub(crate) async fn delete(ctx: &Ctx<'_>, f: &Form) -> Reply {
    let arn = f.get("arn").unwrap_or("");
    let versions = ctx
        .iam("ListPolicyVersions", pairs(&[("PolicyArn", arn)]))
        .await
        .map(|x| records(&x, "Versions"))
        .unwrap_or_default();
    for v in versions
        .iter()
        .filter(|v| get(v, "IsDefaultVersion") != "true")
    {
        let params = pairs(&[("PolicyArn", arn), ("VersionId", get(v, "VersionId"))]);
        if let Err(e) = ctx.iam("DeletePolicyVersion", params).await {
            return view(ctx, arn, Some((false, e.text()))).await;
        }
    }
    match ctx.iam("DeletePolicy", pairs(&[("PolicyArn", arn)])).await {
        Ok(_) => list(ctx, Some((true, "The policy is deleted.".into()))).await,
        Err(e) => view(ctx, arn, Some((false, e.text()))).await,
    }
}
