//! Plain server-rendered pages under `/basic/`, for signing in without the dashboard's
//! script: first-run setup, password sign-in and its second step, invitations, password
//! resets, an account page (who is signed in, their sites, the authenticator app, passkeys,
//! sign-out), and the page of a share link (with its password form).
//!
//! They are HTML forms posting to the same origin, no script but the passkey buttons' (which
//! need WebAuthn), styled by one stylesheet of this binary, so they work under the strict
//! content security policy and in any browser. The dashboard (web/, `routes::web`) draws
//! richer versions of the same flows at the same paths without `/basic` over the JSON API;
//! these stay as the fallback its `<noscript>` links to. A sign-in here ends on the
//! dashboard (`/`); everything else stays under `/basic/`.

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::auth::web::Embeddable;
use crate::auth::{ClientAddress, Principal};
use crate::error::AppError;
use crate::routes::account::{self, LoginBody, SetupBody, SignInStep};
use crate::routes::factors::{self, SecondFactorBody};
use crate::routes::reset::{self, ResetBody};
use crate::routes::shares::{self, ShareInfo, UnlockBody};
use crate::state::AppState;

/// The pages.
pub fn router(state: &AppState) -> Router<AppState> {
    // A share link's page is public and may be opened by many people behind one address:
    // only its password form is under the auth routes' request budget.
    let share = Router::new().route("/basic/share/{code}", get(share_page));
    Router::new()
        .route("/basic", get(|| async { Redirect::to(ACCOUNT) }))
        .route("/basic/account", get(home))
        .route("/basic/setup", get(setup_page).post(setup_form))
        .route("/basic/login", get(login_page).post(login_form))
        .route("/basic/login/code", axum::routing::post(code_form))
        .route("/basic/logout", axum::routing::post(logout_form))
        .route("/basic/invite", get(invite_page).post(invite_form))
        .route("/basic/reset", get(reset_page).post(reset_form))
        .route("/basic/account/totp", axum::routing::post(totp_begin_form))
        .route("/basic/account/totp/confirm", axum::routing::post(totp_confirm_form))
        .route("/basic/reset/complete", axum::routing::post(reset_complete_form))
        .route("/basic/share/{code}/unlock", axum::routing::post(share_form))
        .route("/assets/fallback.css", get(stylesheet))
        .route("/assets/passkey.js", get(passkey_script))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::web::auth_rate_limit))
        .merge(share)
        .layer(axum::extract::DefaultBodyLimit::max(account::MAX_AUTH_BODY))
}

/// The plain sign-in page, where every way out of these pages without a session leads.
pub const LOGIN: &str = "/basic/login";
/// The plain account page.
pub const ACCOUNT: &str = "/basic/account";

const STYLESHEET: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1f2328;background:#fff}\
h1{font-size:1.5rem}label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box;border:1px solid #8c959f;border-radius:6px}\
button{margin-top:1rem;padding:.5rem 1rem;font:inherit;border:1px solid #0969da;border-radius:6px;background:#0969da;color:#fff;cursor:pointer}\
button.secondary{background:transparent;color:#0969da}\
a.button{display:inline-block;margin-top:1rem;padding:.5rem 1rem;border:1px solid #0969da;border-radius:6px;color:#0969da;text-decoration:none}\
.error{color:#cf222e}.qr svg{width:200px;height:200px;background:#fff;padding:8px}.muted{color:#59636e;font-size:.9rem}ul{padding-left:1.2rem}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}input{background:#161b22;color:inherit;border-color:#3d444d}.muted{color:#9198a1}}";

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        STYLESHEET,
    )
}

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_in("en", status, title, body)
}

/// [`page`] in another language (`lang` is one of the dashboard's codes).
pub(crate) fn page_in(lang: &str, status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Hitkeep</title><link rel=\"stylesheet\" href=\"/assets/fallback.css\"><link rel=\"icon\" href=\"data:,\"></head><body>{body}</body></html>",
        escape(lang),
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn error_line(error: Option<&str>) -> String {
    error
        .map(|message| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message)))
        .unwrap_or_default()
}

/// `/basic/account`: who is signed in and their sites, or the way to sign in.
async fn home(State(state): State<AppState>, parts: Parts) -> Result<Response, AppError> {
    let principal = state.auth.principal(&state.store, &parts).await.ok().flatten();
    let Some(Principal::Person { person, .. }) = principal else {
        let owners = state.with_store(|store| store.owner_count()).await?;
        if owners == 0 {
            return Ok(page(
                StatusCode::OK,
                "Set up",
                "<h1>Hitkeep</h1><p>This instance has no owner yet. Open the setup link that \
                 <code>hitkeep serve</code> printed when it started.</p>",
            ));
        }
        return Ok(Redirect::to(LOGIN).into_response());
    };
    let sites = state.with_store(|store| store.sites()).await?;
    let items: String = sites
        .iter()
        .filter(|site| person.access(site.id).is_some())
        .map(|site| format!("<li>{}</li>", escape(&site.domain)))
        .collect();
    let items = if items.is_empty() { "<li class=\"muted\">none yet</li>".to_owned() } else { items };
    let user_id = person.user.id;
    let (passkeys, totp) = state
        .with_store(move |store| {
            Ok::<_, hitkeep_store::Error>((
                store.passkeys_of(user_id)?,
                store.totp_factor(user_id)?.filter(|factor| factor.confirmed).is_some(),
            ))
        })
        .await?;
    let keys: String = passkeys
        .iter()
        .map(|key| {
            format!(
                "<li>{} <span class=\"muted\">added {} UTC</span></li>",
                escape(&key.name),
                crate::state::format_utc(key.created_at_ms)
            )
        })
        .collect();
    let keys = if keys.is_empty() { "<li class=\"muted\">none yet</li>".to_owned() } else { keys };
    let password_field = if person.user.has_password {
        "<label for=\"passkey-password\">Your password</label>\
         <input id=\"passkey-password\" name=\"password\" type=\"password\" required autocomplete=\"current-password\">"
    } else {
        ""
    };
    let authenticator = if totp {
        "<p>On: sign-ins ask for its code.</p>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"/basic/account/totp\">{}<button type=\"submit\">Set up an authenticator app</button></form>",
            password_field.replace("passkey-password", "totp-password")
        )
    };
    Ok(page(
        StatusCode::OK,
        "Sites",
        &format!(
            "<h1>Hitkeep</h1><p>Signed in as {}.</p><h2>Sites</h2><ul>{items}</ul>\
             <h2>Authenticator app</h2>{authenticator}\
             <h2>Passkeys</h2><ul id=\"passkeys\">{keys}</ul>\
             <form id=\"passkey-add\" hidden><label for=\"passkey-name\">Name of the new passkey</label>\
             <input id=\"passkey-name\" name=\"name\" required maxlength=\"64\" placeholder=\"laptop\">{password_field}\
             <button type=\"submit\">Add a passkey</button></form><p id=\"passkey-status\" class=\"muted\" role=\"status\"></p>\
             <form method=\"post\" action=\"/basic/logout\"><button type=\"submit\">Sign out</button></form>\
             <p class=\"muted\"><a href=\"/\">Open the dashboard</a></p>{PASSKEY_SCRIPT}",
            escape(&person.user.email)
        ),
    ))
}

#[derive(Debug, Deserialize)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

fn setup_form_html(code: &str, error: Option<&str>) -> String {
    format!(
        "<h1>Set up Hitkeep</h1><p>Create the owner account of this instance.</p>{}\
         <form method=\"post\" action=\"/basic/setup\"><input type=\"hidden\" name=\"code\" value=\"{}\">\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" autocomplete=\"name\">\
         <label for=\"email\">E-mail</label><input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"email\">\
         <label for=\"password\">Password (at least 10 characters)</label>\
         <input id=\"password\" name=\"password\" type=\"password\" required minlength=\"10\" autocomplete=\"new-password\">\
         <button type=\"submit\">Create the owner</button></form>",
        error_line(error),
        escape(code)
    )
}

async fn setup_page(
    State(state): State<AppState>,
    Query(query): Query<CodeQuery>,
) -> Result<Response, AppError> {
    let owners = state.with_store(|store| store.owner_count()).await?;
    if owners > 0 {
        return Ok(Redirect::to(LOGIN).into_response());
    }
    Ok(page(StatusCode::OK, "Set up", &setup_form_html(&query.code, None)))
}

#[derive(Debug, Deserialize)]
struct SetupForm {
    code: String,
    email: String,
    password: String,
    #[serde(default)]
    name: String,
}

/// Turns a JSON sign-in answer into a redirect to the dashboard (keeping its cookie), or the
/// form again with the error.
fn after_sign_in(
    result: Result<Response, AppError>,
    form: impl FnOnce(&str) -> String,
    title: &str,
) -> Response {
    match result {
        Ok(answer) => {
            let mut redirect = Redirect::to("/").into_response();
            if let Some(cookie) = answer.headers().get(header::SET_COOKIE) {
                redirect.headers_mut().insert(header::SET_COOKIE, cookie.clone());
            }
            redirect
        }
        Err(error) => {
            let status = error.status();
            let message = error.message();
            let mut response = page(status, title, &form(&message));
            if let Some(retry) = error_retry(&error) {
                response.headers_mut().insert(header::RETRY_AFTER, retry);
            }
            response
        }
    }
}

fn error_retry(error: &AppError) -> Option<HeaderValue> {
    (error.code() == "too_many_attempts").then(|| HeaderValue::from_static("60"))
}

async fn setup_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    let code = form.code.clone();
    let body = SetupBody { code: form.code, email: form.email, password: form.password, name: form.name };
    let result = account::complete_setup(&state, body, &headers).await;
    after_sign_in(result, |error| setup_form_html(&code, Some(error)), "Set up")
}

fn login_form_html(state: &AppState, error: Option<&str>) -> String {
    let sso = crate::routes::sso::button(state);
    if crate::routes::sso::sso_only(state) {
        return format!("<h1>Sign in</h1>{}{sso}", error_line(error));
    }
    let forgot = if state.mailer.is_some() {
        "<p class=\"muted\"><a href=\"/basic/reset\">Forgot your password?</a></p>"
    } else {
        ""
    };
    format!(
        "<h1>Sign in</h1>{}<form method=\"post\" action=\"/basic/login\">\
         <label for=\"email\">E-mail</label><input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"username\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" required autocomplete=\"current-password\">\
         <button type=\"submit\">Sign in</button></form>\
         <p><button type=\"button\" id=\"passkey-sign-in\" class=\"secondary\" hidden>Sign in with a passkey</button></p>\
         <p id=\"passkey-status\" class=\"muted\" role=\"status\"></p>{sso}{forgot}{PASSKEY_SCRIPT}",
        error_line(error)
    )
}

async fn login_page(State(state): State<AppState>) -> Response {
    page(StatusCode::OK, "Sign in", &login_form_html(&state, None))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login_form(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let body = LoginBody { email: form.email, password: form.password };
    let result = match account::password_sign_in(&state, client, body, &headers).await {
        Ok(SignInStep::Done(response)) => Ok(response),
        Ok(SignInStep::SecondFactor(challenge)) => {
            return page(
                StatusCode::OK,
                "Sign in",
                &code_form_html(&challenge.challenge, &challenge.methods, None),
            );
        }
        Err(error) => Err(error),
    };
    after_sign_in(result, |error| login_form_html(&state, Some(error)), "Sign in")
}

/// The second step of a sign-in: a code form when the account has an authenticator app, a
/// passkey button when it has a passkey.
fn code_form_html(challenge: &str, methods: &[String], error: Option<&str>) -> String {
    let has = |method: &str| methods.iter().any(|m| m == method);
    let code = if has("totp") {
        format!(
            "<p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>\
             <form method=\"post\" action=\"/basic/login/code\"><input type=\"hidden\" name=\"challenge\" value=\"{}\">\
             <label for=\"code\">Code</label><input id=\"code\" name=\"code\" required autofocus \
             autocomplete=\"one-time-code\" inputmode=\"text\" maxlength=\"40\">\
             <button type=\"submit\">Verify</button></form>",
            escape(challenge)
        )
    } else {
        String::new()
    };
    let passkey = if has("passkey") {
        format!(
            "<p><button type=\"button\" id=\"passkey-sign-in\" class=\"secondary\" data-challenge=\"{}\" hidden>Use a passkey</button></p>\
             <p id=\"passkey-status\" class=\"muted\" role=\"status\"></p>",
            escape(challenge)
        )
    } else {
        String::new()
    };
    format!("<h1>Sign in</h1>{}{code}{passkey}{PASSKEY_SCRIPT}", error_line(error))
}

/// The script of the passkey buttons and forms (this origin's own file).
const PASSKEY_SCRIPT: &str = "<script src=\"/assets/passkey.js\" defer></script>";

async fn passkey_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/passkey.js"),
    )
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    challenge: String,
    code: String,
}

/// `POST /basic/login/code`: the second step of the fallback sign-in. A wrong code shows the code
/// form again while the challenge lasts, then the password form.
async fn code_form(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let challenge = form.challenge.clone();
    let methods = match factors::open_challenge(&state, &challenge).await {
        Ok((_, open)) => {
            let user_id = open.user_id;
            let methods = state.with_store(move |store| store.second_factor_methods(user_id)).await;
            methods.unwrap_or_default().into_iter().map(str::to_owned).collect()
        }
        Err(_) => Vec::new(),
    };
    let body = SecondFactorBody { challenge: form.challenge, code: form.code };
    let result = factors::second_factor_sign_in(&state, client, body, &headers).await;
    let ended = result.as_ref().err().is_some_and(|error| error.code() == "challenge_expired");
    if ended {
        return after_sign_in(result, |error| login_form_html(&state, Some(error)), "Sign in");
    }
    after_sign_in(result, |error| code_form_html(&challenge, &methods, Some(error)), "Sign in")
}

async fn logout_form(State(state): State<AppState>, parts: Parts) -> Result<Response, AppError> {
    if let Ok(Some(Principal::Person { person, session_id })) =
        state.auth.principal(&state.store, &parts).await
    {
        account::end_current_session(&state, &crate::auth::AnyPerson { person, session_id }).await?;
    }
    let mut response = Redirect::to(LOGIN).into_response();
    for cookie in crate::auth::web::expired_session_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn invite_form_html(code: &str, email: &str, error: Option<&str>) -> String {
    format!(
        "<h1>Join Hitkeep</h1><p>You were invited as {}.</p>{}<form method=\"post\" action=\"/basic/invite\">\
         <input type=\"hidden\" name=\"code\" value=\"{}\">\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" autocomplete=\"name\">\
         <label for=\"password\">Password (at least 10 characters)</label>\
         <input id=\"password\" name=\"password\" type=\"password\" required minlength=\"10\" autocomplete=\"new-password\">\
         <button type=\"submit\">Create my account</button></form>",
        escape(email),
        error_line(error),
        escape(code)
    )
}

async fn invite_page(State(state): State<AppState>, Query(query): Query<CodeQuery>) -> Response {
    let invitation = account::invitation_email(&state, &query.code).await;
    match invitation {
        Ok(email) => page(StatusCode::OK, "Invitation", &invite_form_html(&query.code, &email, None)),
        Err(error) => page(
            error.status(),
            "Invitation",
            &format!("<h1>Invitation</h1>{}", error_line(Some(&error.message()))),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    code: String,
    password: String,
    #[serde(default)]
    name: String,
}

async fn invite_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    let email = account::invitation_email(&state, &form.code).await.unwrap_or_default();
    let code = form.code.clone();
    let result = account::accept(&state, form.code, form.name, form.password, &headers).await;
    after_sign_in(result, |error| invite_form_html(&code, &email, Some(error)), "Invitation")
}

/// A share link's page: framable by any site when the link is an embed link.
fn share_page_response(status: StatusCode, embed: bool, body: &str) -> Response {
    let mut response = page(status, "Shared dashboard", body);
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if embed {
        response.extensions_mut().insert(Embeddable);
    }
    response
}

fn share_open_html(code: &str, info: &ShareInfo) -> String {
    let until = info
        .expires_at_ms
        .map(|at| format!(" until {} UTC", crate::state::format_utc(at)))
        .unwrap_or_default();
    format!(
        "<h1>{}</h1><p>A read-only dashboard shared as “{}”{until}; times are in {}.</p>\
         <p class=\"muted\">Its charts need the dashboard's script: <a href=\"/share/{}\">open the dashboard</a>.</p>",
        escape(&info.domain),
        escape(&info.name),
        escape(&info.timezone),
        escape(code)
    )
}

fn share_password_html(code: &str, error: Option<&str>) -> String {
    format!(
        "<h1>Shared dashboard</h1><p>This dashboard is protected by a password.</p>{}\
         <form method=\"post\" action=\"/basic/share/{}/unlock\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" required autofocus autocomplete=\"current-password\">\
         <button type=\"submit\">Open</button></form>",
        error_line(error),
        escape(code)
    )
}

fn share_error(error: &AppError) -> Response {
    share_page_response(
        error.status(),
        false,
        &format!("<h1>Shared dashboard</h1>{}", error_line(Some(&error.message()))),
    )
}

/// `GET /basic/share/{code}`: what the link shares, or its password form.
async fn share_page(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, AppError> {
    let link = match state.auth.open_share_link(&state.store, &code).await {
        Ok(link) => link,
        Err(error) if error.status().is_client_error() => return Ok(share_error(&error)),
        Err(error) => return Err(error),
    };
    if link.password_hash.is_some() {
        return Ok(share_page_response(StatusCode::OK, link.embed, &share_password_html(&code, None)));
    }
    let info = shares::info(&state, std::sync::Arc::new(link)).await?;
    Ok(share_page_response(StatusCode::OK, info.embed, &share_open_html(&code, &info)))
}

#[derive(Debug, Deserialize)]
struct ShareForm {
    password: String,
}

/// `POST /basic/share/{code}/unlock`: the password form's answer. This page has no script to
/// keep the unlocking, so it shows what the link shares at once.
async fn share_form(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(code): Path<String>,
    Form(form): Form<ShareForm>,
) -> Response {
    let body = UnlockBody { code: code.clone(), password: form.password };
    match shares::unlock(&state, client, body).await {
        Ok(unlocked) => share_page_response(
            StatusCode::OK,
            unlocked.share.embed,
            &share_open_html(&code, &unlocked.share),
        ),
        Err(error) if error.code() == "invalid_share_password" || error.code() == "too_many_attempts" => {
            let mut response = share_page_response(
                error.status(),
                false,
                &share_password_html(&code, Some(&error.message())),
            );
            if let Some(retry) = error_retry(&error) {
                response.headers_mut().insert(header::RETRY_AFTER, retry);
            }
            response
        }
        Err(error) => share_error(&error),
    }
}

fn reset_request_html(error: Option<&str>) -> String {
    format!(
        "<h1>Reset your password</h1><p>We send a link to the account's address; it works for an hour.</p>{}\
         <form method=\"post\" action=\"/basic/reset\">\
         <label for=\"email\">E-mail</label><input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"username\">\
         <button type=\"submit\">Send the link</button></form>",
        error_line(error)
    )
}

fn reset_password_html(code: &str, email: &str, error: Option<&str>) -> String {
    format!(
        "<h1>Choose a new password</h1><p>For {}. Signing in afterwards still asks for your second factor, if you have one.</p>{}\
         <form method=\"post\" action=\"/basic/reset/complete\"><input type=\"hidden\" name=\"code\" value=\"{}\">\
         <label for=\"password\">New password (at least 10 characters)</label>\
         <input id=\"password\" name=\"password\" type=\"password\" required minlength=\"10\" autocomplete=\"new-password\">\
         <button type=\"submit\">Set the password</button></form>",
        escape(email),
        error_line(error),
        escape(code)
    )
}

/// `GET /basic/reset`: the request form, or with `?code=` the new password's.
async fn reset_page(State(state): State<AppState>, Query(query): Query<CodeQuery>) -> Response {
    if query.code.is_empty() {
        return page(StatusCode::OK, "Reset your password", &reset_request_html(None));
    }
    match reset::account_of(&state, query.code.trim()).await {
        Ok(user) => {
            page(StatusCode::OK, "Reset your password", &reset_password_html(&query.code, &user.email, None))
        }
        Err(error) => page(
            error.status(),
            "Reset your password",
            &format!(
                "<h1>Reset your password</h1>{}<p><a href=\"/basic/reset\">Ask for a new link</a></p>",
                error_line(Some(&error.message()))
            ),
        ),
    }
}

/// The person a page's form comes from, or the way to the sign-in page.
async fn person_of(state: &AppState, parts: &Parts) -> Result<crate::auth::AnyPerson, Response> {
    match state.auth.principal(&state.store, parts).await {
        Ok(Some(Principal::Person { person, session_id })) => {
            Ok(crate::auth::AnyPerson { person, session_id })
        }
        _ => Err(Redirect::to(LOGIN).into_response()),
    }
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: Option<String>,
}

fn totp_confirm_html(enrolment: Option<&factors::Enrolment>, error: Option<&str>) -> String {
    let setup = enrolment
        .map(|enrolment| {
            format!(
                "<p>Scan this code with your authenticator app, or type in the key.</p>\
                 <div class=\"qr\">{}</div><p>Key: <code id=\"totp-secret\">{}</code></p>",
                // The SVG document without its XML declaration, inline (no request, no script).
                enrolment.qr_svg.find("<svg").map_or("", |at| &enrolment.qr_svg[at..]),
                escape(&enrolment.secret)
            )
        })
        .unwrap_or_default();
    format!(
        "<h1>Authenticator app</h1>{}{setup}<form method=\"post\" action=\"/basic/account/totp/confirm\">\
         <label for=\"code\">The 6-digit code it shows</label><input id=\"code\" name=\"code\" required \
         autocomplete=\"one-time-code\" inputmode=\"numeric\" maxlength=\"6\">\
         <button type=\"submit\">Turn it on</button></form>",
        error_line(error)
    )
}

/// `POST /basic/account/totp`: the QR code and the key of a new authenticator app.
async fn totp_begin_form(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    parts: Parts,
    Form(form): Form<PasswordForm>,
) -> Response {
    let person = match person_of(&state, &parts).await {
        Ok(person) => person,
        Err(redirect) => return redirect,
    };
    match factors::begin_enrolment(&state, client, person.user(), form.password).await {
        Ok(enrolment) => {
            page(StatusCode::OK, "Authenticator app", &totp_confirm_html(Some(&enrolment), None))
        }
        Err(error) => page(
            error.status(),
            "Authenticator app",
            &format!(
                "<h1>Authenticator app</h1>{}<p><a href=\"/basic/account\">Back</a></p>",
                error_line(Some(&error.message()))
            ),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct TotpCodeForm {
    code: String,
}

/// `POST /basic/account/totp/confirm`: the first code turns it on; the recovery codes, once.
async fn totp_confirm_form(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    parts: Parts,
    Form(form): Form<TotpCodeForm>,
) -> Response {
    let person = match person_of(&state, &parts).await {
        Ok(person) => person,
        Err(redirect) => return redirect,
    };
    match factors::confirm_enrolment(&state, client, person.user(), &form.code).await {
        Ok(codes) => {
            let items: String = codes
                .recovery_codes
                .iter()
                .map(|code| format!("<li><code>{}</code></li>", escape(code)))
                .collect();
            page(
                StatusCode::OK,
                "Authenticator app",
                &format!(
                    "<h1>Authenticator app</h1><p>It is on. Keep these recovery codes somewhere safe: each signs \
                     you in once if you lose your phone, and they are not shown again.</p>\
                     <ul id=\"recovery-codes\">{items}</ul><p><a class=\"button\" href=\"/basic/account\">Done</a></p>"
                ),
            )
        }
        Err(error) => {
            page(error.status(), "Authenticator app", &totp_confirm_html(None, Some(&error.message())))
        }
    }
}

#[derive(Debug, Deserialize)]
struct ResetForm {
    email: String,
}

async fn reset_form(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Form(form): Form<ResetForm>,
) -> Response {
    match reset::request(&state, client, &form.email).await {
        Ok(done) => page(
            StatusCode::OK,
            "Reset your password",
            &format!("<h1>Check your e-mail</h1><p>{}.</p>", escape(&done.message)),
        ),
        Err(error) => {
            page(error.status(), "Reset your password", &reset_request_html(Some(&error.message())))
        }
    }
}

#[derive(Debug, Deserialize)]
struct ResetCompleteForm {
    code: String,
    password: String,
}

async fn reset_complete_form(State(state): State<AppState>, Form(form): Form<ResetCompleteForm>) -> Response {
    let code = form.code.clone();
    match reset::complete(&state, ResetBody { code: form.code, password: form.password }).await {
        Ok(user) => page(
            StatusCode::OK,
            "Reset your password",
            &format!(
                "<h1>Password changed</h1><p>The password of {} is set, and every session of the account has ended.</p>\
                 <p><a href=\"/basic/login\">Sign in</a></p>",
                escape(&user.email)
            ),
        ),
        Err(error) if error.code() == "weak_password" => {
            let email =
                reset::account_of(&state, code.trim()).await.map(|user| user.email).unwrap_or_default();
            page(
                error.status(),
                "Reset your password",
                &reset_password_html(&code, &email, Some(&error.message())),
            )
        }
        Err(error) => page(
            error.status(),
            "Reset your password",
            &format!("<h1>Reset your password</h1>{}", error_line(Some(&error.message()))),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(super::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
