//! Plain server-rendered pages for signing in without the dashboard's script: first-run
//! setup, password sign-in, invitations, sign-out, and a home page listing the sites.
//!
//! They are HTML forms posting to the same origin, no script at all, styled by one
//! stylesheet of this binary, so they work under the strict content security policy and in
//! any browser. The dashboard (web/) draws richer versions of the same flows over the JSON
//! API; these stay as the fallback.

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::auth::{ClientAddress, Principal};
use crate::error::AppError;
use crate::routes::account::{self, LoginBody, SetupBody};
use crate::state::AppState;

/// The pages.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/setup", get(setup_page).post(setup_form))
        .route("/login", get(login_page).post(login_form))
        .route("/logout", axum::routing::post(logout_form))
        .route("/invite", get(invite_page).post(invite_form))
        .route("/assets/fallback.css", get(stylesheet))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::web::auth_rate_limit))
        .layer(axum::extract::DefaultBodyLimit::max(account::MAX_AUTH_BODY))
}

const STYLESHEET: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1f2328;background:#fff}\
h1{font-size:1.5rem}label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box;border:1px solid #8c959f;border-radius:6px}\
button{margin-top:1rem;padding:.5rem 1rem;font:inherit;border:0;border-radius:6px;background:#0969da;color:#fff;cursor:pointer}\
.error{color:#cf222e}.muted{color:#59636e;font-size:.9rem}ul{padding-left:1.2rem}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}input{background:#161b22;color:inherit;border-color:#3d444d}.muted{color:#9198a1}}";

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        STYLESHEET,
    )
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
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

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Hitkeep</title><link rel=\"stylesheet\" href=\"/assets/fallback.css\"><link rel=\"icon\" href=\"data:,\"></head><body>{body}</body></html>",
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_line(error: Option<&str>) -> String {
    error
        .map(|message| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message)))
        .unwrap_or_default()
}

/// `/`: who is signed in and their sites, or the way to sign in.
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
        return Ok(Redirect::to("/login").into_response());
    };
    let sites = state.with_store(|store| store.sites()).await?;
    let items: String = sites
        .iter()
        .filter(|site| person.access(site.id).is_some())
        .map(|site| format!("<li>{}</li>", escape(&site.domain)))
        .collect();
    let items = if items.is_empty() { "<li class=\"muted\">none yet</li>".to_owned() } else { items };
    Ok(page(
        StatusCode::OK,
        "Sites",
        &format!(
            "<h1>Hitkeep</h1><p>Signed in as {}.</p><h2>Sites</h2><ul>{items}</ul>\
             <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>",
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
         <form method=\"post\" action=\"/setup\"><input type=\"hidden\" name=\"code\" value=\"{}\">\
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
        return Ok(Redirect::to("/login").into_response());
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

/// Turns a JSON sign-in answer into a redirect home (keeping its cookie), or the form again
/// with the error.
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

fn login_form_html(error: Option<&str>) -> String {
    format!(
        "<h1>Sign in</h1>{}<form method=\"post\" action=\"/login\">\
         <label for=\"email\">E-mail</label><input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"username\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" required autocomplete=\"current-password\">\
         <button type=\"submit\">Sign in</button></form>",
        error_line(error)
    )
}

async fn login_page() -> Response {
    page(StatusCode::OK, "Sign in", &login_form_html(None))
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
    let result = account::password_sign_in(&state, client, body, &headers).await;
    after_sign_in(result, |error| login_form_html(Some(error)), "Sign in")
}

async fn logout_form(State(state): State<AppState>, parts: Parts) -> Result<Response, AppError> {
    if let Ok(Some(Principal::Person { person, session_id })) =
        state.auth.principal(&state.store, &parts).await
    {
        account::end_current_session(&state, &crate::auth::SignedIn { person, session_id }).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    for cookie in crate::auth::web::expired_session_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn invite_form_html(code: &str, email: &str, error: Option<&str>) -> String {
    format!(
        "<h1>Join Hitkeep</h1><p>You were invited as {}.</p>{}<form method=\"post\" action=\"/invite\">\
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

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(super::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
