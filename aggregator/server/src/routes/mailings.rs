//! E-mail reports and alerts of a site (`/api/sites/{domain}/reports`, `/alerts`), managed by
//! its managers, and the unsubscribe link every such e-mail carries (`/unsubscribe/{secret}`),
//! which works without signing in.
//!
//! The link's page asks before it acts (`GET` shows a button, `POST` unsubscribes), because
//! mail scanners open links; mail clients that know RFC 8058 `POST` to it directly
//! (`List-Unsubscribe=One-Click`). Either answer is one of the plain server-rendered pages
//! (`routes::pages`), in the mail's language, with no script.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use hitkeep_store::{Alert, AlertKind, Frequency, NewAlert, ReportSubscription, Unsubscribed};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{NeedsManage, SiteAccess};
use crate::error::AppError;
use crate::reports::i18n::{fill, words};
use crate::reports::render::escape;
use crate::state::AppState;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sites/{domain}/reports", get(list_reports).post(add_report))
        .route("/api/sites/{domain}/reports/{id}", delete(remove_report))
        .route("/api/sites/{domain}/alerts", get(list_alerts).post(add_alert))
        .route("/api/sites/{domain}/alerts/{id}", delete(remove_alert))
        .route("/unsubscribe/{secret}", get(unsubscribe_page).post(unsubscribe))
}

/// The operator's routes (`hitkeep report`, `hitkeep alert`): no SMTP server is needed to
/// add one (the operator may set it up afterwards).
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/sites/{domain}/reports", get(control_list_reports).post(control_add_report))
        .route("/control/sites/{domain}/reports/{id}", delete(control_remove_report))
        .route("/control/sites/{domain}/alerts", get(control_list_alerts).post(control_add_alert))
        .route("/control/sites/{domain}/alerts/{id}", delete(control_remove_alert))
}

async fn control_list_reports(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<Vec<ReportSubscription>>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(state.with_store(move |store| store.report_subscriptions(Some(site.id))).await?))
}

async fn control_add_report(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Json(new): Json<NewReport>,
) -> Result<Json<ReportSubscription>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(add_report_to(&state, site.id, new, None).await?))
}

async fn control_remove_report(
    State(state): State<AppState>,
    Path((domain, id)): Path<(String, u32)>,
) -> Result<Json<serde_json::Value>, AppError> {
    let site = super::control_site(&state, domain).await?;
    state.with_store(move |store| store.remove_report_subscription(site.id, id)).await?;
    Ok(Json(serde_json::json!({ "removed": id })))
}

async fn control_list_alerts(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<Vec<Alert>>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(state.with_store(move |store| store.alerts(Some(site.id))).await?))
}

async fn control_add_alert(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Json(new): Json<NewAlertBody>,
) -> Result<Json<Alert>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(add_alert_to(&state, site.id, new, None).await?))
}

async fn control_remove_alert(
    State(state): State<AppState>,
    Path((domain, id)): Path<(String, u32)>,
) -> Result<Json<serde_json::Value>, AppError> {
    let site = super::control_site(&state, domain).await?;
    state.with_store(move |store| store.remove_alert(site.id, id)).await?;
    Ok(Json(serde_json::json!({ "removed": id })))
}

/// A report recipient to add.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// Where it goes.
    pub email: String,
    /// `daily`, `weekly` or `monthly`.
    pub frequency: Frequency,
    /// `en`, `de`, `es`, `fr` or `it` (default `en`).
    #[serde(default = "english")]
    pub language: String,
}

/// An alert to add.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAlertBody {
    /// Where it goes.
    pub email: String,
    /// `visitors_above` or `traffic_drop`.
    pub kind: AlertKind,
    /// Visitors (`visitors_above`), or a percentage of the usual day (`traffic_drop`).
    pub threshold: u32,
    /// The language (default `en`).
    #[serde(default = "english")]
    pub language: String,
}

fn english() -> String {
    "en".into()
}

/// Adds a report recipient (the API's and the operator's way alike).
async fn add_report_to(
    state: &AppState,
    site_id: u32,
    new: NewReport,
    by: Option<u32>,
) -> Result<ReportSubscription, AppError> {
    let now_ms = state.now_ms();
    state
        .with_store(move |store| {
            store.add_report_subscription(site_id, &new.email, new.frequency, &new.language, by, now_ms)
        })
        .await
}

/// Adds an alert.
async fn add_alert_to(
    state: &AppState,
    site_id: u32,
    new: NewAlertBody,
    by: Option<u32>,
) -> Result<Alert, AppError> {
    let now_ms = state.now_ms();
    state
        .with_store(move |store| {
            let alert = NewAlert {
                email: &new.email,
                language: &new.language,
                kind: new.kind,
                threshold: new.threshold,
            };
            store.add_alert(site_id, &alert, by, now_ms)
        })
        .await
}

/// Reports and alerts need an SMTP server.
fn mail_configured(state: &AppState) -> Result<(), AppError> {
    if state.mailer.is_some() {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::CONFLICT,
            "mail_not_configured",
            "this instance sends no e-mail: its operator has not set smtp_host",
        ))
    }
}

/// `GET /api/sites/{domain}/reports`: who gets the site's reports.
async fn list_reports(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
) -> Result<Json<Vec<ReportSubscription>>, AppError> {
    let site_id = access.site.id;
    Ok(Json(state.with_store(move |store| store.report_subscriptions(Some(site_id))).await?))
}

/// `POST /api/sites/{domain}/reports`: adds a recipient.
async fn add_report(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Json(new): Json<NewReport>,
) -> Result<(StatusCode, Json<ReportSubscription>), AppError> {
    mail_configured(&state)?;
    let added = add_report_to(&state, access.site.id, new, access.principal.user_id()).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// `DELETE /api/sites/{domain}/reports/{id}`.
async fn remove_report(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Path((_, id)): Path<(String, u32)>,
) -> Result<StatusCode, AppError> {
    let site_id = access.site.id;
    state.with_store(move |store| store.remove_report_subscription(site_id, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/sites/{domain}/alerts`.
async fn list_alerts(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
) -> Result<Json<Vec<Alert>>, AppError> {
    let site_id = access.site.id;
    Ok(Json(state.with_store(move |store| store.alerts(Some(site_id))).await?))
}

/// `POST /api/sites/{domain}/alerts`.
async fn add_alert(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Json(new): Json<NewAlertBody>,
) -> Result<(StatusCode, Json<Alert>), AppError> {
    mail_configured(&state)?;
    let added = add_alert_to(&state, access.site.id, new, access.principal.user_id()).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// `DELETE /api/sites/{domain}/alerts/{id}`.
async fn remove_alert(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Path((_, id)): Path<(String, u32)>,
) -> Result<StatusCode, AppError> {
    let site_id = access.site.id;
    state.with_store(move |store| store.remove_alert(site_id, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn follow(state: &AppState, secret: String, apply: bool) -> Result<Option<Unsubscribed>, AppError> {
    if !SecretKind::Unsubscribe.matches(&secret) {
        return Ok(None);
    }
    let hash = digest(&secret);
    state.with_store(move |store| store.unsubscribe(&hash, apply)).await
}

/// `GET /unsubscribe/{secret}`: asks.
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> Result<Response, AppError> {
    let found = follow(&state, secret, false).await?;
    Ok(page(found.as_ref(), true))
}

/// `POST /unsubscribe/{secret}`: unsubscribes (a form's button, or a mail client's one click).
async fn unsubscribe(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> Result<Response, AppError> {
    let found = follow(&state, secret, true).await?;
    if found.is_some() {
        tracing::info!("unsubscribed by a mail's link");
    }
    Ok(page(found.as_ref(), false))
}

fn page(found: Option<&Unsubscribed>, asking: bool) -> Response {
    let (language, domain, alert) = match found {
        Some(Unsubscribed::Report { domain, language, .. }) => (language.as_str(), domain.as_deref(), false),
        Some(Unsubscribed::Alert { domain, language, .. }) => (language.as_str(), domain.as_deref(), true),
        None => ("en", None, false),
    };
    let words = words(language);
    let heading = format!("<h1>{}</h1>", escape(words.page_title));
    let (status, body) = match domain {
        None => (StatusCode::NOT_FOUND, format!("{heading}<p>{}</p>", escape(words.page_unknown))),
        Some(domain) if asking => {
            let question = if alert { words.page_question_alert } else { words.page_question_report };
            (
                StatusCode::OK,
                format!(
                    "{heading}<p>{}</p><form method=\"post\"><button type=\"submit\">{}</button></form>",
                    escape(&fill(question, &[("domain", domain)])),
                    escape(words.page_button)
                ),
            )
        }
        Some(domain) => (
            StatusCode::OK,
            format!(
                "{heading}<p role=\"status\">{}</p>",
                escape(&fill(words.page_done, &[("domain", domain)]))
            ),
        ),
    };
    let mut response = crate::routes::pages::page_in(words.code, status, words.page_title, &body);
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
