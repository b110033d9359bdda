//! Goals of a site: listed for anyone who may see its stats, added and removed by its
//! managers (`/api/sites/{domain}/goals`), and by the operator (`hitkeep goal`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use hitkeep_store::{Goal, GoalKind, Site};
use serde::{Deserialize, Serialize};

use crate::auth::{NeedsManage, NeedsView, SiteAccess};
use crate::error::AppError;
use crate::replicated::{Applied, Command, execute};
use crate::state::AppState;

/// The goal routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sites/{domain}/goals", get(list).post(add))
        .route("/api/sites/{domain}/goals/{name}", delete(remove))
}

/// The operator's goal routes.
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/sites/{domain}/goals", get(control_list).post(control_add))
        .route("/control/sites/{domain}/goals/{name}", delete(control_remove))
}

/// A goal to add: `page` (a path pattern) or `event` (a custom event's name, with `props`
/// it must have); `name` is what it is shown as (by default `Visit <page>` or the event's
/// name).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGoal {
    /// Shown as.
    #[serde(default)]
    pub name: Option<String>,
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

impl NewGoal {
    fn kind(self) -> Result<(Option<String>, GoalKind), AppError> {
        let step = super::funnels::NewStep { page: self.page, event: self.event, props: self.props };
        Ok((self.name, step.kind("invalid_goal")?))
    }
}

/// Adds a goal (on every node of a cluster: `crate::replicated`).
async fn add_to(state: &AppState, site: Site, new: NewGoal) -> Result<Goal, AppError> {
    let (name, kind) = new.kind()?;
    let command = Command::AddGoal { domain: site.domain, name, kind, at_ms: state.now_ms() };
    match execute(state, command).await? {
        Applied::Goal(goal) => Ok(goal),
        other => Err(AppError::internal(format!("adding a goal gave {other:?}"))),
    }
}

/// Removes a goal (on every node of a cluster).
async fn remove_from(state: &AppState, site: Site, name: String) -> Result<(), AppError> {
    execute(state, Command::RemoveGoal { domain: site.domain, name }).await.map(drop)
}

/// `GET /api/sites/{domain}/goals`: the site's goals.
async fn list(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
) -> Result<Json<Vec<Goal>>, AppError> {
    let site_id = access.site.id;
    Ok(Json(state.with_store(move |store| store.goals(site_id)).await?))
}

/// `POST /api/sites/{domain}/goals`: adds a goal.
async fn add(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Json(new): Json<NewGoal>,
) -> Result<(axum::http::StatusCode, Json<Goal>), AppError> {
    let goal = add_to(&state, access.site, new).await?;
    Ok((axum::http::StatusCode::CREATED, Json(goal)))
}

/// `DELETE /api/sites/{domain}/goals/{name}`: removes a goal (its conversions stay in the
/// events; a goal added again counts them again).
async fn remove(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Path((_, name)): Path<(String, String)>,
) -> Result<axum::http::StatusCode, AppError> {
    remove_from(&state, access.site, name).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn control_list(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<Vec<Goal>>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(state.with_store(move |store| store.goals(site.id)).await?))
}

async fn control_add(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Json(new): Json<NewGoal>,
) -> Result<Json<Goal>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(add_to(&state, site, new).await?))
}

async fn control_remove(
    State(state): State<AppState>,
    Path((domain, name)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    let site = super::control_site(&state, domain).await?;
    let removed = name.clone();
    remove_from(&state, site, name).await?;
    Ok(Json(serde_json::json!({ "removed": removed })))
}
