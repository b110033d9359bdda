//! The audit log over HTTP: instance admins read it in the API, the operator with
//! `hitkeep audit`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use hitkeep_store::AuditEntry;
use serde::Deserialize;

use crate::auth::InstanceAdmin;
use crate::error::AppError;
use crate::state::AppState;

/// Most entries one request returns.
pub const MAX_ENTRIES: u32 = 10_000;

/// `GET /api/audit`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/audit", get(api))
}

/// `GET /control/audit`.
pub fn control_router() -> Router<AppState> {
    Router::new().route("/control/audit", get(control))
}

/// Query of the audit routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// How many, newest first.
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Only entries about this account.
    #[serde(default)]
    pub user_id: Option<u32>,
}

fn default_limit() -> u32 {
    100
}

async fn entries(state: &AppState, query: AuditQuery) -> Result<Json<Vec<AuditEntry>>, AppError> {
    if query.limit == 0 || query.limit > MAX_ENTRIES {
        return Err(AppError::bad_request("invalid_limit", format!("limit is 1 to {MAX_ENTRIES}")));
    }
    Ok(Json(state.with_store(move |store| store.audit_log(query.limit, query.user_id)).await?))
}

async fn api(
    State(state): State<AppState>,
    _admin: InstanceAdmin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    entries(&state, query).await
}

async fn control(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    entries(&state, query).await
}
