//! Signing in (an IAM user's console password, or an access key id and its secret),
//! signing out, and the principal a session acts as.

use crate::form::Form;
use crate::layout::{self, public_page};
use crate::session::{self, SESSION_COOKIE, SIGNIN_COOKIE, Session, Subject};
use crate::{ClientInfo, Console, Reply};
use http::{HeaderValue, StatusCode, header};
use maud::html;
use sealdb_common::Principal;
use sealdb_common::principal::{Identity, PrincipalKind};
use sealdb_iam::store_model::UserRecord;

/// What the console says for any wrong sign-in detail (as AWS's sign-in page, it does not
/// tell which one was wrong).
pub(crate) const WRONG_CREDENTIALS: &str =
    "Your authentication information is incorrect. Please try again.";

/// The sign-in page, with a fresh CSRF token in its own cookie.
pub(crate) fn page(client: &ClientInfo, error: Option<&str>, query: &Form) -> Reply {
    page_with_status(
        client,
        StatusCode::OK,
        error,
        query.get("signedout").is_some(),
    )
}

fn page_with_status(
    client: &ClientInfo,
    status: StatusCode,
    error: Option<&str>,
    signed_out: bool,
) -> Reply {
    with_signin_token(client, status, "Sign in", |token| {
        html! {
            h1 { "Sign in" }
            @if signed_out { div.alert.ok role="status" { "You are signed out." } }
            (layout::flash(error))
            form.box method="post" action="/console/signin" {
                h2 { "IAM user" }
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="mode" value="password";
                label for="account" { "Account ID" }
                input #account type="text" name="account" autocomplete="off" required;
                label for="username" { "IAM user name" }
                input #username type="text" name="username" autocomplete="username" required;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                div.actions { button.primary #signin-password type="submit" { "Sign in" } }
            }
            form.box method="post" action="/console/signin" {
                h2 { "Access key" }
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="mode" value="key";
                label for="access_key_id" { "Access key ID" }
                input #access_key_id type="text" name="access_key_id" autocomplete="username" required;
                label for="secret_access_key" { "Secret access key" }
                input #secret_access_key type="password" name="secret_access_key" autocomplete="current-password" required;
                div.actions { button.primary #signin-key type="submit" { "Sign in" } }
            }
        }
    })
}

/// A sign-in form posted.
pub(crate) async fn submit(
    console: &Console,
    headers: &http::HeaderMap,
    form: &Form,
    client: &ClientInfo,
) -> Reply {
    let expected = session::cookie_value(headers, SIGNIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::tokens_equal(form.get("csrf").unwrap_or(""), expected) {
        return page_with_status(
            client,
            StatusCode::FORBIDDEN,
            Some("The sign-in form's security token is missing or wrong. Try again."),
            false,
        );
    }
    let name = match form.get("mode") {
        Some("key") => form.get("access_key_id").unwrap_or("").trim().to_owned(),
        _ => form
            .get("username")
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    };
    let keys = [format!("ip:{}", client.remote_ip), format!("name:{name}")];
    if let Some(wait) = console.limiter.blocked_for(&keys) {
        let minutes = (wait + 59) / 60;
        return page_with_status(
            client,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed sign-in attempts. Wait {minutes} minute(s) and try again."
            )),
            false,
        );
    }
    let subject = match form.get("mode") {
        Some("key") => check_access_key(console, form),
        mode => match check_password(console, form).await {
            // AWS makes such a user choose a new password before anything else.
            Some(signed) if signed.reset_required && mode != Some("change") => {
                console.limiter.succeeded(&keys[1]);
                let name = signed.user.name;
                return change_page(client, StatusCode::OK, &console.account_id, &name, None);
            }
            Some(signed) if mode == Some("change") => {
                if let Err(message) =
                    change_password(console, form, signed.user.clone(), client).await
                {
                    let name = signed.user.name;
                    return change_page(
                        client,
                        StatusCode::BAD_REQUEST,
                        &console.account_id,
                        &name,
                        Some(&message),
                    );
                }
                Some(password_subject(signed.user))
            }
            Some(signed) => Some(password_subject(signed.user)),
            None => None,
        },
    };
    let Some(subject) = subject else {
        console.limiter.failed(&keys);
        return page_with_status(
            client,
            StatusCode::UNAUTHORIZED,
            Some(WRONG_CREDENTIALS),
            false,
        );
    };
    console.limiter.succeeded(&keys[1]);
    let home = console
        .services
        .regions()
        .into_iter()
        .next()
        .unwrap_or_default();
    let Some((cookie, _)) = console.sessions.start(subject, &home) else {
        return layout::plain(StatusCode::INTERNAL_SERVER_ERROR, "Cannot start a session.");
    };
    let mut reply = crate::redirect("/console/tables");
    let secure = client.secure_transport;
    for c in [
        session::set_cookie(SESSION_COOKIE, &cookie, console.sessions.ttl_secs(), secure),
        session::set_cookie(SIGNIN_COOKIE, "", 0, secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            reply.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    reply
}

fn password_subject(user: UserRecord) -> Subject {
    Subject::Password {
        user_name: user.name,
        user_id: user.id,
    }
}

/// The page a user with PasswordResetRequired gets after a right password: the current
/// password again (it is never put in the page), and the new one twice.
fn change_page(
    client: &ClientInfo,
    status: StatusCode,
    account: &str,
    user: &str,
    error: Option<&str>,
) -> Reply {
    with_signin_token(client, status, "Change your password", |token| {
        html! {
            h1 { "Change your password" }
            div.alert.ok role="status" { "You must choose a new password for " (user) " before you continue." }
            (layout::flash(error))
            form.box method="post" action="/console/signin" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="mode" value="change";
                input type="hidden" name="account" value=(account);
                input type="hidden" name="username" value=(user);
                label for="password" { "Old password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                label for="new_password" { "New password" }
                input #new_password type="password" name="new_password" autocomplete="new-password" required;
                label for="confirm_password" { "Retype new password" }
                input #confirm_password type="password" name="confirm_password" autocomplete="new-password" required;
                div.actions { button.primary #change-password type="submit" { "Confirm password change" } }
            }
        }
    })
}

/// IAM's ChangePassword as the user (authorized and recorded as the API's): the user
/// must be allowed `iam:ChangePassword` on itself, as on AWS.
async fn change_password(
    console: &Console,
    form: &Form,
    user: UserRecord,
    client: &ClientInfo,
) -> Result<(), String> {
    let new = zeroize::Zeroizing::new(form.get("new_password").unwrap_or("").to_owned());
    let confirm = form.get("confirm_password").unwrap_or("");
    if !session::tokens_equal(&new, confirm) {
        return Err("The new passwords do not match.".to_owned());
    }
    let home = console
        .services
        .regions()
        .into_iter()
        .next()
        .unwrap_or_default();
    let principal = Principal::new(
        user_identity(user),
        "",
        &console.account_id,
        &home,
        &client.remote_ip,
    );
    let params = vec![
        (
            "OldPassword".to_owned(),
            form.get("password").unwrap_or("").to_owned(),
        ),
        ("NewPassword".to_owned(), new.to_string()),
    ];
    console
        .services
        .iam("ChangePassword", &principal, params)
        .await
        .map(|_| ())
        .map_err(|e| e.text())
}

/// A public page carrying a fresh sign-in form token, set in its own cookie.
fn with_signin_token(
    client: &ClientInfo,
    status: StatusCode,
    title: &str,
    content: impl FnOnce(&str) -> maud::Markup,
) -> Reply {
    let Some(token) = session::random_token() else {
        return layout::plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No randomness available.",
        );
    };
    let mut reply = public_page(status, title, content(&token));
    let cookie = session::set_cookie(SIGNIN_COOKIE, &token, 3600, client.secure_transport);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        reply.headers_mut().append(header::SET_COOKIE, v);
    }
    reply
}

/// After sign-out: the cookie is cleared and the browser goes to the sign-in page.
pub(crate) fn signed_out(client: &ClientInfo) -> Reply {
    let mut reply = crate::redirect("/console/signin?signedout=1");
    let c = session::set_cookie(SESSION_COOKIE, "", 0, client.secure_transport);
    if let Ok(v) = HeaderValue::from_str(&c) {
        reply.headers_mut().append(header::SET_COOKIE, v);
    }
    reply
}

/// An active access key with this secret (compared in constant time).
fn check_access_key(console: &Console, form: &Form) -> Option<Subject> {
    let id = form.get("access_key_id")?.trim();
    let given = form.get("secret_access_key")?;
    let (secret, _) = console.identities.active_key(id)?;
    session::tokens_equal(secret.expose(), given).then(|| Subject::AccessKey {
        access_key_id: id.to_owned(),
    })
}

/// A user of this account with a console password that matches (Argon2id, off the
/// async threads). A wrong account or a user without a password is checked against a
/// stand-in hash, so every refusal takes as long (no user enumeration by timing).
async fn check_password(console: &Console, form: &Form) -> Option<PasswordSignIn> {
    let account_ok = form.get("account").map(str::trim) == Some(console.account_id.as_str());
    let name = form.get("username").unwrap_or("").trim();
    let password = zeroize::Zeroizing::new(form.get("password").unwrap_or("").to_owned());
    let user = console
        .identities
        .read(|s| s.user(name).cloned())
        .filter(|_| account_ok);
    let hash = user
        .as_ref()
        .and_then(|u| u.login_profile.as_ref())
        .map(|p| p.password_hash.clone());
    let reset_required = user
        .as_ref()
        .and_then(|u| u.login_profile.as_ref())
        .is_some_and(|p| p.password_reset_required);
    let real = hash.is_some();
    let matches = tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let hash = hash.unwrap_or_else(stand_in_hash);
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    let user = user?;
    (matches && real).then_some(PasswordSignIn {
        user,
        reset_required,
    })
}

/// A user whose console password matched.
struct PasswordSignIn {
    user: UserRecord,
    /// PasswordResetRequired: the user must choose a new password before going on.
    reset_required: bool,
}

/// The hash of a random password with IAM's parameters, made once.
fn stand_in_hash() -> String {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STAND_IN
        .get_or_init(|| {
            use argon2::password_hash::{PasswordHasher, SaltString};
            let (Some(salt), Some(password)) = (session::random_bytes(), session::random_token())
            else {
                return String::new();
            };
            SaltString::encode_b64(&salt[..16])
                .ok()
                .and_then(|s| {
                    argon2::Argon2::default()
                        .hash_password(password.as_bytes(), &s)
                        .ok()
                        .map(|h| h.to_string())
                })
                .unwrap_or_default()
        })
        .clone()
}

fn user_identity(u: UserRecord) -> Identity {
    Identity {
        kind: PrincipalKind::User {
            user_name: u.name,
            user_id: u.id,
            path: u.path,
        },
        tags: u.tags,
    }
}

/// The principal of a session now: the key must still be active and the user still
/// exist as it was, else the session is over.
pub(crate) fn principal(
    console: &Console,
    session: &Session,
    client: &ClientInfo,
) -> Option<Principal> {
    let (identity, key_id) = match &session.subject {
        Subject::AccessKey { access_key_id } => {
            let (_, user) = console.identities.active_key(access_key_id)?;
            let identity = user.map_or_else(Identity::root, user_identity);
            (identity, access_key_id.clone())
        }
        Subject::Password { user_name, user_id } => {
            let user = console
                .identities
                .read(|s| s.users.get(user_name).filter(|u| &u.id == user_id).cloned())?;
            // A console session signs no request with a key of its own.
            (user_identity(user), String::new())
        }
    };
    let mut p = Principal::new(
        identity,
        &key_id,
        &console.account_id,
        &session.region,
        &client.remote_ip,
    );
    p.secure_transport = client.secure_transport;
    Some(p)
}
