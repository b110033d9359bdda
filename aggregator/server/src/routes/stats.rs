//! Stats: the Plausible-compatible Stats API v2 (`POST /api/v2/query`), the dashboard's own
//! query endpoint and its CSV, and the operator's on the control socket (`hitkeep stats`).
//!
//! All of them speak the same query JSON ([`crate::stats::parse`]) and run it through the
//! store's engine; they differ in who may ask and in their error shape: the Stats API
//! answers as Plausible does (`{"error": "..."}`, `401` for a bad key or a site the key may
//! not see), the others as the rest of Hitkeep's API.
//!
//! Beside them, `POST /api/sites/{domain}/property-keys`: the custom property keys of the
//! events that a query's range and filters select, for the dashboard's property breakdowns.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono_tz::Tz;
use hitkeep_store::Site;
use serde_json::{Value, json};

use crate::auth::{Access, NeedsView, Principal, SiteAccess, authorize_site};
use crate::error::AppError;
use crate::state::AppState;
use crate::stats::{Answer, Request, answer, parse, to_csv};

/// Largest query body.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// The public stats routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/query", post(plausible_query))
        .route("/api/sites/{domain}/stats", post(site_query))
        .route("/api/sites/{domain}/stats.csv", post(site_query_csv))
        .route("/api/sites/{domain}/property-keys", post(property_keys))
        .layer(DefaultBodyLimit::max(MAX_QUERY_BYTES))
}

/// The operator's stats route on the control socket.
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/sites/{domain}/stats", post(control_query))
        .layer(DefaultBodyLimit::max(MAX_QUERY_BYTES))
}

/// An error in Plausible's shape.
fn plausible_error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (status, Json(json!({"error": message.into()}))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const INVALID_KEY: &str = "Invalid API key or site ID. Please make sure you're using a valid API key with access to the site you've requested.";

/// `POST /api/v2/query`: Plausible's Stats API v2, for programs with an API token (and for
/// people signed in, and share links, on their sites).
async fn plausible_query(
    State(state): State<AppState>,
    principal: Result<Principal, AppError>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let principal = match principal {
        Ok(principal) => principal,
        Err(error) if error.status() == StatusCode::UNAUTHORIZED && error.code() == "unauthenticated" => {
            return plausible_error(
                StatusCode::UNAUTHORIZED,
                "Missing API key. Please use a valid Plausible API key as a Bearer Token.",
            );
        }
        Err(error) if error.status() == StatusCode::UNAUTHORIZED => {
            return plausible_error(StatusCode::UNAUTHORIZED, INVALID_KEY);
        }
        Err(error) => return plausible_error(error.status(), error.detail()),
    };
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return plausible_error(rejection.status(), rejection.body_text()),
    };
    let Some(domain) = body.get("site_id").and_then(Value::as_str) else {
        return plausible_error(
            StatusCode::BAD_REQUEST,
            "Missing site ID. Please provide the required site_id parameter with your request.",
        );
    };
    let site = match authorize_site(&state, &principal, domain, Access::View).await {
        Ok((site, _)) => site,
        Err(error) if error.code() == "site_not_found" => {
            return plausible_error(StatusCode::UNAUTHORIZED, INVALID_KEY);
        }
        Err(error) => return plausible_error(error.status(), error.detail()),
    };
    let request = match parse_for(&state, &site, &body, false) {
        Ok(request) => request,
        Err(message) => return plausible_error(StatusCode::BAD_REQUEST, message),
    };
    match run(&state, request).await {
        Ok((_, answer)) => Json(answer.body).into_response(),
        Err(error) if error.status() == StatusCode::BAD_REQUEST => {
            plausible_error(StatusCode::BAD_REQUEST, error.detail())
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /api/sites/{domain}/stats`: the dashboard's query (the Stats API's JSON, `site_id`
/// optional, plus what Plausible keeps to its dashboard: `realtime`, `time:minute`,
/// `include.comparisons`).
async fn site_query(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, AppError> {
    let (_, answer) = query_site(&state, &access.site, body).await?;
    Ok(Json(answer.body).into_response())
}

/// `POST /api/sites/{domain}/stats.csv`: the same query's rows as CSV.
async fn site_query_csv(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, AppError> {
    let (request, answer) = query_site(&state, &access.site, body).await?;
    Ok(csv_response(&access.site, &request, &answer))
}

/// The fields `property-keys` takes: the stats query's range and filters, and a limit.
const PROPERTY_KEYS_FIELDS: &[&str] = &["date_range", "date", "filters", "limit"];

/// `POST /api/sites/{domain}/property-keys`: `{"date_range": "30d", "filters": [...]}` (both
/// optional, as the dashboard's query takes them; `limit` 1 to 100, default 100) answers
/// `[{"key": "plan", "events": 123}]`, most frequent first.
async fn property_keys(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Vec<hitkeep_store::stats::PropertyKey>>, AppError> {
    let Json(body) = body.map_err(body_refused)?;
    let invalid = |message: String| AppError::bad_request("invalid_query", message);
    let Some(object) = body.as_object() else {
        return Err(invalid("#: Type mismatch. Expected Object but got something else.".into()));
    };
    if let Some(key) = object.keys().find(|key| !PROPERTY_KEYS_FIELDS.contains(&key.as_str())) {
        return Err(invalid(format!("#/{key}: Schema does not allow additional properties.")));
    }
    let max = hitkeep_store::stats::MAX_PROPERTY_KEYS as u64;
    let limit = match object.get("limit") {
        None => max,
        Some(value) => value
            .as_u64()
            .filter(|limit| (1..=max).contains(limit))
            .ok_or_else(|| invalid(format!("#/limit: a number from 1 to {max}")))?,
    };
    let mut query = json!({ "metrics": ["events"], "date_range": "30d" });
    for key in ["date_range", "date", "filters"] {
        if let Some(value) = object.get(key) {
            query[key] = value.clone();
        }
    }
    let request = parse_for(&state, &access.site, &query, true).map_err(invalid)?;
    let store = state.store.clone();
    let keys =
        tokio::task::spawn_blocking(move || store.property_keys(&request.query, limit as usize)).await??;
    Ok(Json(keys))
}

/// `POST /control/sites/{domain}/stats`: the operator's query (`hitkeep stats`).
async fn control_query(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, AppError> {
    let site = state.store.site(&domain)?;
    let (_, answer) = query_site(&state, &site, body).await?;
    Ok(Json(answer.body).into_response())
}

fn csv_response(site: &Site, request: &Request, answer: &Answer) -> Response {
    let name: String = site
        .domain
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    let disposition = format!("attachment; filename=\"{name}-stats.csv\"");
    let mut response = to_csv(request, answer).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn query_site(
    state: &AppState,
    site: &Site,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(Request, Answer), AppError> {
    let Json(body) = body.map_err(body_refused)?;
    let request = parse_for(state, site, &body, true)
        .map_err(|message| AppError::bad_request("invalid_query", message))?;
    run(state, request).await
}

/// A body that is not JSON, or too large.
fn body_refused(rejection: JsonRejection) -> AppError {
    let code =
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "invalid_json" };
    AppError::new(rejection.status(), code, rejection.body_text())
}

fn parse_for(state: &AppState, site: &Site, body: &Value, dashboard: bool) -> Result<Request, String> {
    let timezone: Tz = site.timezone.parse().unwrap_or(Tz::UTC);
    parse(body, site.id, &site.domain, timezone, state.auth.now_ms(), dashboard).map_err(|error| error.0)
}

async fn run(state: &AppState, request: Request) -> Result<(Request, Answer), AppError> {
    let store = state.store.clone();
    let started = std::time::Instant::now();
    let (request, answer) = tokio::task::spawn_blocking(move || {
        let answer = answer(&store, &request);
        (request, answer)
    })
    .await?;
    metrics::histogram!("hitkeep_stats_query_seconds").record(started.elapsed().as_secs_f64());
    Ok((request, answer?))
}
