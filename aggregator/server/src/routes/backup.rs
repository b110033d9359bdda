//! `POST /control/backup`: a backup of the data directory, for `hitkeep backup` (the
//! control socket only: whoever may use it owns the data already).

use std::path::PathBuf;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::backup::Manifest;
use crate::error::AppError;
use crate::state::AppState;

/// `POST /control/backup`.
pub fn control_router() -> Router<AppState> {
    Router::new().route("/control/backup", post(control))
}

/// Body of `POST /control/backup`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupRequest {
    /// Where to write it: an absolute path, new or empty.
    dir: PathBuf,
}

async fn control(
    State(state): State<AppState>,
    Json(request): Json<BackupRequest>,
) -> Result<Json<Manifest>, AppError> {
    let now_ms = state.now_ms();
    let store = state.store.clone();
    let manifest = tokio::task::spawn_blocking(move || crate::backup::backup(&store, &request.dir, now_ms))
        .await?
        .map_err(|error| AppError::bad_request("backup_failed", format!("{error:#}")))?;
    tracing::info!(events = manifest.counts.events, "backup written");
    Ok(Json(manifest))
}
