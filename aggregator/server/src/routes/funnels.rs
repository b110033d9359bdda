//! Funnels of a site: listed and reported for anyone who may see its stats, added and
//! removed by its managers (`/api/sites/{domain}/funnels`), and by the operator
//! (`hitkeep funnel`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono_tz::Tz;
use hitkeep_store::stats::FunnelReport;
use hitkeep_store::{Funnel, GoalKind, Site};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{NeedsManage, NeedsView, SiteAccess};
use crate::error::AppError;
use crate::replicated::{Applied, Command, execute};
use crate::state::AppState;

/// The funnel routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sites/{domain}/funnels", get(list).post(add))
        .route("/api/sites/{domain}/funnels/{name}", delete(remove))
        .route("/api/sites/{domain}/funnels/{name}/report", post(report))
}

/// The operator's funnel routes.
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/sites/{domain}/funnels", get(control_list).post(control_add))
        .route("/control/sites/{domain}/funnels/{name}", delete(control_remove))
        .route("/control/sites/{domain}/funnels/{name}/report", post(control_report))
}

/// One step: a `page` pattern or an `event` (with `props`), as goals are defined.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStep {
    /// A path pattern: `*` any characters but `/`, `**` any characters.
    #[serde(default)]
    pub page: Option<String>,
    /// A custom event's name.
    #[serde(default)]
    pub event: Option<String>,
    /// Property values the event must have.
    #[serde(default)]
    pub props: BTreeMap<String, String>,
}

/// A funnel to add.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFunnel {
    /// Its name, unique on the site.
    pub name: String,
    /// 2 to 8 steps, in order.
    pub steps: Vec<NewStep>,
    /// Absent: the steps must happen within one visit; else within this many minutes of
    /// the first (at most a day).
    #[serde(default)]
    pub window_minutes: Option<u32>,
}

impl NewStep {
    /// What it matches; a step (or goal) that is both or neither a page and an event is
    /// refused with `code`.
    pub fn kind(self, code: &'static str) -> Result<GoalKind, AppError> {
        match (self.page, self.event) {
            (Some(pattern), None) if self.props.is_empty() => Ok(GoalKind::Page { pattern }),
            (None, Some(name)) => Ok(GoalKind::Event { name, props: self.props }),
            _ => Err(AppError::bad_request(
                code,
                "a goal or step is a `page` (a path pattern) or an `event` (with optional `props`), not both",
            )),
        }
    }
}

fn steps(new: Vec<NewStep>) -> Result<Vec<GoalKind>, AppError> {
    new.into_iter().map(|step| step.kind("invalid_funnel")).collect()
}

/// Adds a funnel (on every node of a cluster: `crate::replicated`).
async fn add_to(state: &AppState, site: Site, new: NewFunnel) -> Result<Funnel, AppError> {
    let steps = steps(new.steps)?;
    let window_ms = new.window_minutes.map(|minutes| i64::from(minutes) * 60_000);
    let command =
        Command::AddFunnel { domain: site.domain, name: new.name, steps, window_ms, at_ms: state.now_ms() };
    match execute(state, command).await? {
        Applied::Funnel(funnel) => Ok(funnel),
        other => Err(AppError::internal(format!("adding a funnel gave {other:?}"))),
    }
}

/// Removes a funnel (on every node of a cluster).
async fn remove_from(state: &AppState, site: Site, name: String) -> Result<(), AppError> {
    execute(state, Command::RemoveFunnel { domain: site.domain, name }).await.map(drop)
}

/// A report's range and filters, in the Stats API's words: `{"date_range": "30d",
/// "filters": [...]}`.
async fn report_of(
    state: &AppState,
    site: Site,
    name: String,
    body: Value,
) -> Result<FunnelReport, AppError> {
    let mut query = json!({"metrics": ["visitors"], "date_range": body.get("date_range").cloned().unwrap_or(json!("30d"))});
    if let Some(filters) = body.get("filters") {
        query["filters"] = filters.clone();
    }
    let zone: Tz = site.timezone.parse().unwrap_or(Tz::UTC);
    let request = crate::stats::parse(&query, site.id, &site.domain, zone, state.auth.now_ms(), true)
        .map_err(|error| AppError::bad_request("invalid_query", error.0))?;
    state
        .with_store(move |store| {
            let funnel = store.funnel(site.id, &name)?;
            store.funnel_report(&funnel, &request.query)
        })
        .await
}

/// `GET /api/sites/{domain}/funnels`: the site's funnels.
async fn list(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
) -> Result<Json<Vec<Funnel>>, AppError> {
    let site_id = access.site.id;
    Ok(Json(state.with_store(move |store| store.funnels(site_id)).await?))
}

/// `POST /api/sites/{domain}/funnels`: adds a funnel.
async fn add(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Json(new): Json<NewFunnel>,
) -> Result<(StatusCode, Json<Funnel>), AppError> {
    Ok((StatusCode::CREATED, Json(add_to(&state, access.site, new).await?)))
}

/// `DELETE /api/sites/{domain}/funnels/{name}`: removes a funnel.
async fn remove(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    remove_from(&state, access.site, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/sites/{domain}/funnels/{name}/report`: visitors and drop-off per step.
async fn report(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
    Path((_, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<FunnelReport>, AppError> {
    Ok(Json(report_of(&state, access.site, name, body).await?))
}

async fn control_list(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<Vec<Funnel>>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(state.with_store(move |store| store.funnels(site.id)).await?))
}

async fn control_add(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Json(new): Json<NewFunnel>,
) -> Result<Json<Funnel>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(add_to(&state, site, new).await?))
}

async fn control_remove(
    State(state): State<AppState>,
    Path((domain, name)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let site = super::control_site(&state, domain).await?;
    let removed = name.clone();
    remove_from(&state, site, name).await?;
    Ok(Json(json!({ "removed": removed })))
}

async fn control_report(
    State(state): State<AppState>,
    Path((domain, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<FunnelReport>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(report_of(&state, site, name, body).await?))
}
