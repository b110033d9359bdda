//! Single sign-on pages (see [`crate::oidc`]): `GET /login/oidc` sends the browser to the
//! provider, `GET /login/oidc/callback` takes it back, finds the account (by the provider's
//! subject, or the first time by verified e-mail address, which links the two) and signs in.
//!
//! The flow is bound to the browser that began it by a cookie (`hitkeep_oidc`, `HttpOnly`,
//! `SameSite=Lax`, only under `/login/oidc`, ten minutes), so a callback URL passed to
//! someone else signs nobody in ("login CSRF").

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use hitkeep_store::{AuditKind, User};
use serde::Deserialize;

use crate::auth::secret::digest;
use crate::auth::web;
use crate::error::AppError;
use crate::oidc::{Identity, OidcError};
use crate::routes::account;
use crate::routes::pages::{error_line, escape, page};
use crate::state::AppState;

/// The cookie that binds a flow to its browser.
pub const FLOW_COOKIE: &str = "hitkeep_oidc";

/// The routes.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/login/oidc", get(begin))
        .route("/login/oidc/callback", get(callback))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), web::auth_rate_limit))
}

fn flow_cookie(value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{FLOW_COOKIE}={value}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .expect("the flow cookie is visible ASCII")
}

impl From<OidcError> for AppError {
    fn from(error: OidcError) -> Self {
        let (status, code) = match &error {
            OidcError::Config(_) | OidcError::Provider(_) => (StatusCode::BAD_GATEWAY, "oidc_provider_error"),
            OidcError::State => (StatusCode::BAD_REQUEST, "oidc_state_invalid"),
            OidcError::Invalid(_) => (StatusCode::UNAUTHORIZED, "oidc_invalid"),
            OidcError::Unverified => (StatusCode::FORBIDDEN, "oidc_email_unverified"),
            OidcError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "too_many_ceremonies"),
        };
        if status == StatusCode::BAD_GATEWAY {
            tracing::warn!(%error, "single sign-on failed at the provider");
        }
        AppError::new(status, code, error.to_string())
    }
}

fn sso_page(status: StatusCode, error: &AppError) -> Response {
    page(
        status,
        "Sign in",
        &format!(
            "<h1>Sign in</h1>{}<p><a href=\"/login\">Back to signing in</a></p>",
            error_line(Some(&error.message()))
        ),
    )
}

fn not_configured() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "oidc_not_configured", "this instance has no single sign-on")
}

/// `GET /login/oidc`: to the provider.
async fn begin(State(state): State<AppState>) -> Response {
    let Some(oidc) = state.oidc.clone() else { return sso_page(StatusCode::NOT_FOUND, &not_configured()) };
    let mut browser = [0u8; 32];
    getrandom::fill(&mut browser).expect("the operating system provides randomness");
    let value: String = browser.iter().map(|byte| format!("{byte:02x}")).collect();
    match oidc.begin(digest(&value), state.now_ms()).await {
        Ok(url) => {
            let mut response = Redirect::to(&url).into_response();
            let max_age = crate::oidc::FLOW_TTL_MS / 1000;
            response
                .headers_mut()
                .insert(header::SET_COOKIE, flow_cookie(&value, max_age, state.auth.settings.secure));
            response
        }
        Err(error) => {
            let error = AppError::from(error);
            sso_page(error.status(), &error)
        }
    }
}

/// What the provider sends back.
#[derive(Debug, Deserialize)]
struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// The account of a provider's identity: linked before, or the account with its verified
/// address (linked now). Nobody gets an account by signing in.
pub async fn account_of(state: &AppState, identity: Identity) -> Result<User, AppError> {
    let now = state.now_ms();
    state
        .with_store(move |store| {
            if let Some(user_id) = store.user_of_identity(&identity.issuer, &identity.subject)? {
                return Ok(Some(store.user(user_id)?));
            }
            let user = match store.user_by_email(&identity.email) {
                Ok(user) => user,
                Err(hitkeep_store::Error::UserNotFound) => return Ok(None),
                Err(error) => return Err(error),
            };
            store.link_identity(&identity.issuer, &identity.subject, user.id, now)?;
            let detail = format!("issuer={}", identity.issuer);
            store.audit(AuditKind::IdentityLinked, Some(user.id), Some(user.id), &detail, now)?;
            Ok::<_, hitkeep_store::Error>(Some(user))
        })
        .await?
        .ok_or_else(|| {
            AppError::forbidden(
                "no_account",
                "no account here has this e-mail address; ask an administrator for an invitation",
            )
        })
}

/// `GET /login/oidc/callback`: back from the provider, signed in.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let Some(oidc) = state.oidc.clone() else { return sso_page(StatusCode::NOT_FOUND, &not_configured()) };
    let result = async {
        if let Some(error) = query.error {
            let detail = query.error_description.unwrap_or_default();
            return Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "oidc_denied",
                format!("the identity provider did not sign you in: {error} {detail}").trim_end().to_owned(),
            ));
        }
        let (Some(code), Some(flow)) = (query.code, query.state) else {
            return Err(AppError::from(OidcError::State));
        };
        let browser = web::cookie(&headers, FLOW_COOKIE).map(digest).ok_or(OidcError::State)?;
        let identity = oidc.finish(&code, &flow, browser, state.now_ms()).await?;
        let user = account_of(&state, identity).await?;
        account::sign_in(&state, user, "oidc", &headers, StatusCode::OK).await
    }
    .await;
    let mut response = match result {
        Ok(signed_in) => {
            let mut redirect = Redirect::to("/").into_response();
            if let Some(cookie) = signed_in.headers().get(header::SET_COOKIE) {
                redirect.headers_mut().insert(header::SET_COOKIE, cookie.clone());
            }
            redirect
        }
        Err(error) => sso_page(error.status(), &error),
    };
    response.headers_mut().append(header::SET_COOKIE, flow_cookie("", 0, state.auth.settings.secure));
    response
}

/// The sign-in page's button, when single sign-on is configured.
pub fn button(state: &AppState) -> String {
    match &state.oidc {
        Some(oidc) => format!(
            "<p><a class=\"button\" href=\"/login/oidc\">Sign in with {}</a></p>",
            escape(&oidc.settings.name)
        ),
        None => String::new(),
    }
}

/// Whether password sign-in is refused (single sign-on only).
pub fn sso_only(state: &AppState) -> bool {
    state.oidc.as_ref().is_some_and(|oidc| oidc.settings.only)
}
