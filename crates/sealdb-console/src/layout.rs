//! The page frame (header, region selector, navigation, sign-out), the embedded assets,
//! and small pieces every page uses.

use crate::{Ctx, Reply};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use maud::{DOCTYPE, Markup, html};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// Which section of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Tables,
    Keys,
    Users,
    Policies,
    Audit,
}

/// An embedded asset, or 404.
pub(crate) fn asset(name: &str) -> Reply {
    let (body, kind) = match name {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return plain(StatusCode::NOT_FOUND, "Not found."),
    };
    let mut r = Response::new(Bytes::from_static(body.as_bytes()));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600"),
    );
    r
}

/// An HTML reply.
pub(crate) fn html_reply(status: StatusCode, markup: Markup) -> Reply {
    let mut r = Response::new(Bytes::from(markup.into_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// The document around a page's content.
fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " | sealdb console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body { (body) }
        }
    }
}

/// A page outside a session (sign-in, errors).
pub(crate) fn public_page(status: StatusCode, title: &str, content: Markup) -> Reply {
    html_reply(
        status,
        document(
            title,
            html! {
                header.top { span.brand { "sealdb console" } }
                main #main.narrow { (content) }
            },
        ),
    )
}

/// A page of a signed-in session.
pub(crate) fn page(ctx: &Ctx<'_>, section: Section, title: &str, content: Markup) -> Reply {
    page_with_status(ctx, StatusCode::OK, section, title, content)
}

/// [`page`] with a status other than 200 (refused forms).
pub(crate) fn page_with_status(
    ctx: &Ctx<'_>,
    status: StatusCode,
    section: Section,
    title: &str,
    content: Markup,
) -> Reply {
    let regions = ctx.regions();
    let nav = |s: Section, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(s == section).then_some("page")] { (label) } }
        }
    };
    html_reply(
        status,
        document(
            title,
            html! {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "sealdb console" }
                    form.region method="post" action="/console/region" {
                        (csrf(ctx))
                        label for="region" { "Region" }
                        select #region name="region" {
                            @for r in &regions {
                                option value=(r) selected[*r == ctx.session.region] { (r) }
                            }
                        }
                        button type="submit" { "Switch" }
                    }
                    span.who title="Signed in as" { (ctx.principal.arn) }
                    form method="post" action="/console/signout" {
                        (csrf(ctx))
                        button type="submit" { "Sign out" }
                    }
                }
                nav aria-label="Services" {
                    ul {
                        (nav(Section::Tables, "/console/tables", "Tables"))
                        (nav(Section::Keys, "/console/keys", "Keys (KMS)"))
                        (nav(Section::Users, "/console/users", "Users (IAM)"))
                        (nav(Section::Policies, "/console/policies", "Policies"))
                        (nav(Section::Audit, "/console/audit", "Event history"))
                    }
                }
                main #main tabindex="-1" { (content) }
            },
        ),
    )
}

/// The hidden CSRF field every form of a session carries.
pub(crate) fn csrf(ctx: &Ctx<'_>) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.session.csrf); }
}

/// A service message (error or success) in an alert region.
pub(crate) fn flash(error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error {
            div.alert.error role="alert" { (e) }
        }
    }
}

/// A plain-text reply (refusals outside any page).
pub(crate) fn plain(status: StatusCode, message: &str) -> Reply {
    let mut r = Response::new(Bytes::from(message.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// No such page.
pub(crate) fn not_found(ctx: &Ctx<'_>) -> Reply {
    page_with_status(
        ctx,
        StatusCode::NOT_FOUND,
        Section::Tables,
        "Not found",
        html! { h1 { "Not found" } p { "There is no such page in the console." } },
    )
}

/// A byte count for people.
pub(crate) fn bytes_text(n: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    if n < 1000 {
        format!("{n} bytes")
    } else if n < 1_000_000 {
        format!("{:.1} kB", f / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.1} GB", f / 1e9)
    }
}

/// An epoch-seconds timestamp (as the services answer them) in UTC, ISO 8601.
pub(crate) fn time_text(v: Option<&serde_json::Value>) -> String {
    let Some(secs) = v.and_then(serde_json::Value::as_f64) else {
        return "-".into();
    };
    #[allow(clippy::cast_possible_truncation)]
    let secs = secs as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = sealdb_common::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_read_as_people_write_them() {
        assert_eq!(
            time_text(Some(&serde_json::json!(1_700_000_000.5))),
            "2023-11-14 22:13:20 UTC"
        );
        assert_eq!(time_text(None), "-");
        assert_eq!(bytes_text(12), "12 bytes");
        assert_eq!(bytes_text(1500), "1.5 kB");
    }

    #[test]
    fn values_are_escaped_in_pages() {
        let out = public_page(
            StatusCode::OK,
            "<script>t</script>",
            html! { p { ("<script>alert(1)</script>") } },
        );
        let body = String::from_utf8(out.body().to_vec()).unwrap();
        assert!(!body.contains("<script>alert(1)"));
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(body.contains("&lt;script&gt;t&lt;/script&gt; | sealdb console"));
    }
}
