//! `GET /api/cluster`: the cluster this node belongs to, for the instance's admins (the
//! settings page): the leader, the ingest stream, every aggregator with its position and lag,
//! as `hitkeep cluster status` shows them (see `crate::cluster`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::InstanceAdmin;
use crate::cluster::ClusterStatus;
use crate::state::AppState;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/cluster", get(cluster))
}

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterView {
    /// True when this node is one of several aggregators (`cluster = true`).
    pub enabled: bool,
    /// This node's name.
    pub node: Option<String>,
    /// The cluster's state, when it could be read.
    pub status: Option<ClusterStatus>,
    /// Why it could not (NATS unreachable, ...).
    pub error: Option<String>,
}

async fn cluster(State(state): State<AppState>, _admin: InstanceAdmin) -> Json<ClusterView> {
    let Some(member) = &state.cluster else {
        return Json(ClusterView { enabled: false, node: None, status: None, error: None });
    };
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        crate::cluster::status(member.client.clone()),
    );
    let (status, error) = match read.await {
        Ok(Ok(status)) => (Some(status), None),
        Ok(Err(error)) => (None, Some(format!("{error:#}"))),
        Err(_) => (None, Some("NATS did not answer within 5 seconds".to_owned())),
    };
    Json(ClusterView { enabled: true, node: Some(member.node.clone()), status, error })
}
