//! sealdb's web console, served under `/console/` by the front door's listener.
//!
//! Pages are rendered on the server with maud (every interpolated value is HTML-escaped)
//! and call the services in-process as the signed-in principal, through the same entry
//! points as the API, so authorization, validation, messages and the audit trail are the
//! API's. Assets (one stylesheet, one small script) are compiled in.
//!
//! ```text
//! GET  /console/signin, POST /console/signin      password or access key (signin.rs)
//! POST /console/signout, POST /console/region
//! GET  /console/tables[?q=]                        tables.rs
//! GET  /console/tables/new, POST …/new             create_table.rs
//! GET  /console/tables/<name>[?tab=]               table.rs
//! POST /console/tables/<name>/encryption|delete
//! GET  /console/tables/<name>/items, POST …/items/put|delete   items.rs
//! GET  /console/keys, /console/keys/new, /console/keys/<id>, POST …   keys.rs
//! GET  /console/audit                              audit.rs (CloudTrail event history)
//! GET  /console/users, /console/users/<name>, POST …, POST /console/groups/new   users.rs (IAM, global)
//! GET  /console/policies[/view?arn=], POST …/new|version|delete   policies.rs
//! ```
//! Every page but sign-in needs a session; every POST needs the session's CSRF token.

mod audit;
mod calls;
mod create_table;
mod form;
mod global_tables;
mod iam_xml;
mod item_editor;
mod items;
mod keys;
mod layout;
mod policies;
mod session;
mod session_store;
mod signin;
mod table;
mod tables;
mod users;

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use sealdb_common::secret::SecretKey32;
use sealdb_common::{Clock, Principal};
use sealdb_iam::IdentityStore;
use std::sync::Arc;

pub use calls::{BoxFuture, ConsoleServices, RegionServices, ServiceError};
use form::Form;
use session::{SESSION_COOKIE, Session, Sessions, SignInLimiter};
pub use session_store::SessionStore;

/// How the console is set up.
pub struct ConsoleConfig {
    /// The console secret: session cookies are MACed under it, so a new one ends every
    /// session.
    pub secret: SecretKey32,
    /// How long a session lasts, in seconds.
    pub session_ttl_secs: i64,
    /// The account id (ARNs, sign-in).
    pub account_id: String,
    /// The clock (session expiry, the sign-in limit).
    pub clock: Clock,
    /// Where sessions are kept across restarts (`None`: in memory only).
    pub session_store: Option<SessionStore>,
}

/// The connection a request came on.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// The peer address (`aws:SourceIp`, the sign-in limit).
    pub remote_ip: String,
    /// Whether the listener speaks TLS (Secure cookies, `aws:SecureTransport`).
    pub secure_transport: bool,
}

/// The web console.
pub struct Console {
    services: Arc<dyn ConsoleServices>,
    identities: Arc<IdentityStore>,
    sessions: Sessions,
    limiter: SignInLimiter,
    account_id: String,
}

/// A response body and headers, as the console builds them.
pub(crate) type Reply = Response<Bytes>;

/// What a page handler knows about the request it answers.
pub(crate) struct Ctx<'a> {
    pub(crate) console: &'a Console,
    pub(crate) session: Session,
    /// The principal the console acts as, in the session's region.
    pub(crate) principal: Principal,
    pub(crate) query: Form,
}

impl Console {
    /// A console over `services` (per region) and the account's identity store.
    pub fn new(
        services: Arc<dyn ConsoleServices>,
        identities: Arc<IdentityStore>,
        config: ConsoleConfig,
    ) -> Console {
        Console {
            services,
            identities,
            sessions: Sessions::new(
                &config.secret,
                config.session_ttl_secs,
                config.clock.clone(),
                config.session_store,
            ),
            limiter: SignInLimiter::new(config.clock),
            account_id: config.account_id,
        }
    }

    /// Answers one request whose path is `/console` or under `/console/`.
    pub async fn handle(&self, req: http::Request<Bytes>, client: &ClientInfo) -> Response<Bytes> {
        let mut reply = self.route(req, client).await;
        let h = reply.headers_mut();
        // Pages load nothing from elsewhere and run only the console's own script.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            http::HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            http::HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            http::HeaderValue::from_static("same-origin"),
        );
        h.entry(header::CACHE_CONTROL)
            .or_insert(http::HeaderValue::from_static("no-store"));
        reply
    }

    async fn route(&self, req: http::Request<Bytes>, client: &ClientInfo) -> Reply {
        let path = req.uri().path().to_owned();
        let rest = path
            .strip_prefix("/console")
            .unwrap_or("")
            .trim_start_matches('/');
        let segments: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = req.method().clone();
        let query = Form::parse(req.uri().query().unwrap_or("").as_bytes());

        // What needs no session: the assets and the sign-in page.
        match (&method, segs.as_slice()) {
            (&Method::GET, ["assets", name]) => return layout::asset(name),
            (&Method::GET, ["signin"]) => return signin::page(client, None, &query),
            (&Method::POST, ["signin"]) => {
                let form = Form::parse(req.body());
                return signin::submit(self, req.headers(), &form, client).await;
            }
            _ => {}
        }

        let cookie = session::cookie_value(req.headers(), SESSION_COOKIE).map(str::to_owned);
        let Some((cookie, session)) = cookie
            .as_deref()
            .and_then(|c| self.sessions.get(c).map(|s| (c.to_owned(), s)))
        else {
            return not_signed_in(&method);
        };
        let Some(principal) = signin::principal(self, &session, client) else {
            // The user or key behind the session is gone or inactive.
            self.sessions.end(&cookie);
            return not_signed_in(&method);
        };
        let form = Form::parse(req.body());
        if method == Method::POST
            && !session::tokens_equal(form.get("csrf").unwrap_or(""), &session.csrf)
        {
            return layout::plain(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or wrong. Reload the page and try again.",
            );
        }
        let ctx = Ctx {
            console: self,
            session,
            principal,
            query,
        };
        match (&method, segs.as_slice()) {
            (&Method::GET, []) => redirect("/console/tables"),
            (&Method::POST, ["signout"]) => {
                self.sessions.end(&cookie);
                signin::signed_out(client)
            }
            (&Method::POST, ["region"]) => {
                let region = form.get("region").unwrap_or("");
                if self.services.regions().iter().any(|r| r == region) {
                    self.sessions.set_region(&cookie, region);
                }
                redirect("/console/tables")
            }
            (&Method::GET, ["tables"]) => tables::list(&ctx).await,
            (&Method::GET, ["tables", "new"]) => {
                create_table::page(&ctx, &Form::default(), None).await
            }
            (&Method::POST, ["tables", "new"]) => create_table::submit(&ctx, &form).await,
            (&Method::GET, ["tables", name]) => table::page(&ctx, name, None).await,
            (&Method::POST, ["tables", name, "encryption"]) => {
                table::manage_encryption(&ctx, name, &form).await
            }
            (&Method::POST, ["tables", name, "delete"]) => table::delete(&ctx, name, &form).await,
            (&Method::POST, ["tables", name, "global-table-version"]) => {
                global_tables::upgrade(&ctx, name).await
            }
            (&Method::GET, ["tables", name, "items"]) => items::page(&ctx, name, None).await,
            (&Method::GET, ["tables", name, "items", "edit"]) => {
                item_editor::editor(&ctx, name).await
            }
            (&Method::POST, ["tables", name, "items", "put"]) => {
                item_editor::put(&ctx, name, &form).await
            }
            (&Method::POST, ["tables", name, "items", "delete"]) => {
                items::delete(&ctx, name, &form).await
            }
            (&Method::GET, ["audit"]) => audit::page(&ctx).await,
            (&Method::GET, ["policies"]) => policies::list(&ctx, None).await,
            (&Method::POST, ["policies", "new"]) => policies::create(&ctx, &form).await,
            (&Method::GET, ["policies", "view"]) => {
                let arn = ctx.query.get("arn").unwrap_or("").to_owned();
                policies::view(&ctx, &arn, None).await
            }
            (&Method::POST, ["policies", "version"]) => policies::save_version(&ctx, &form).await,
            (&Method::POST, ["policies", "delete"]) => policies::delete(&ctx, &form).await,
            (&Method::GET, ["users"]) => users::list(&ctx, None).await,
            (&Method::POST, ["users", "new"]) => users::create(&ctx, &form).await,
            (&Method::POST, ["groups", "new"]) => users::create_group(&ctx, &form).await,
            (&Method::GET, ["users", name]) => users::page(&ctx, name, None).await,
            (&Method::POST, ["users", name, action]) => users::act(&ctx, name, action, &form).await,
            (&Method::GET, ["keys"]) => keys::list(&ctx).await,
            (&Method::GET, ["keys", "new"]) => keys::new_page(&ctx, None).await,
            (&Method::POST, ["keys", "new"]) => keys::create(&ctx, &form).await,
            (&Method::GET, ["keys", id]) => keys::page(&ctx, id, None).await,
            (&Method::POST, ["keys", id, action]) => keys::act(&ctx, id, action, &form).await,
            _ => layout::not_found(&ctx),
        }
    }
}

/// A request without a live session: pages send the browser to sign-in, anything else
/// is refused; nothing of the account is shown either way.
fn not_signed_in(method: &Method) -> Reply {
    if *method == Method::GET {
        redirect("/console/signin")
    } else {
        layout::plain(
            StatusCode::FORBIDDEN,
            "You are not signed in. Sign in to the console and try again.",
        )
    }
}

/// A 303 to `location` (after a form, the browser GETs the result).
pub(crate) fn redirect(location: &str) -> Reply {
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = http::HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Decodes `%XX` escapes of a path segment (table names and key ids are plain, but the
/// browser may escape some characters).
fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Escapes `s` for use as one path segment of a console link.
pub(crate) fn path_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
