//! E-mail reports and alerts of a site (`/api/sites/{domain}/reports`, `/alerts`), managed by
//! its managers, and the unsubscribe link every such e-mail carries (`/unsubscribe/{secret}`),
//! which works without signing in.
//!
//! The link's page asks before it acts (`GET` shows a button, `POST` unsubscribes), because
//! mail scanners open links; mail clients that know RFC 8058 `POST` to it directly
//! (`List-Unsubscribe=One-Click`). Either answer is a small page of its own, in the mail's
//! language, that loads nothing.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
    let (site_id, by, now_ms) = (access.site.id, access.principal.user_id(), state.now_ms());
    let added = state
        .with_store(move |store| {
            store.add_report_subscription(site_id, &new.email, new.frequency, &new.language, by, now_ms)
        })
        .await?;
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
    let (site_id, by, now_ms) = (access.site.id, access.principal.user_id(), state.now_ms());
    let added = state
        .with_store(move |store| {
            let alert = NewAlert {
                email: &new.email,
                language: &new.language,
                kind: new.kind,
                threshold: new.threshold,
            };
            store.add_alert(site_id, &alert, by, now_ms)
        })
        .await?;
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

/// The unsubscribe page's policy: its own inline styles, nothing else, a form to itself.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

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
    let (language, domain, alert, removed) = match found {
        Some(Unsubscribed::Report { domain, language, removed }) => {
            (language.as_str(), domain.as_deref(), false, *removed)
        }
        Some(Unsubscribed::Alert { domain, language, removed }) => {
            (language.as_str(), domain.as_deref(), true, *removed)
        }
        None => ("en", None, false, false),
    };
    let words = words(language);
    let (status, body) = match (found, domain) {
        (None, _) | (Some(_), None) => {
            (StatusCode::NOT_FOUND, format!("<p>{}</p>", escape(words.page_unknown)))
        }
        (Some(_), Some(domain)) if asking => {
            let question = if alert { words.page_question_alert } else { words.page_question_report };
            (
                StatusCode::OK,
                format!(
                    "<p>{}</p><form method=\"post\"><button type=\"submit\">{}</button></form>",
                    escape(&fill(question, &[("domain", domain)])),
                    escape(words.page_button)
                ),
            )
        }
        (Some(_), Some(domain)) => {
            let _ = removed;
            (
                StatusCode::OK,
                format!("<p role=\"status\">{}</p>", escape(&fill(words.page_done, &[("domain", domain)]))),
            )
        }
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} \u{2013} Hitkeep</title><style>\
         body{{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1f2430;margin:0;padding:48px 16px}}\
         main{{max-width:440px;margin:0 auto;background:#fff;border:1px solid #e3e5ea;border-radius:8px;padding:24px}}\
         h1{{font-size:20px;margin:0 0 12px}}p{{line-height:1.5}}\
         button{{font:inherit;background:#3b5bdb;color:#fff;border:0;border-radius:6px;padding:10px 16px;cursor:pointer}}\
         button:focus-visible{{outline:3px solid #1f2430;outline-offset:2px}}\
         @media (prefers-color-scheme: dark){{body{{background:#14161b;color:#e6e8ee}}main{{background:#1d2027;border-color:#2c303a}}}}\
         </style></head><body><main><h1>{title}</h1>{body}</main></body></html>",
        lang = words.code,
        title = escape(words.page_title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
