//! The collector's routes on the dashboard port: `POST|OPTIONS /api/event`, `GET|HEAD /hk.js`
//! and the pinned `/hk.<version>.js`, all handed to the embedded edge host, which applies its
//! own body and header limits.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::AppError;
use crate::state::AppState;

/// The collector routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/event", post(event).options(event)).route("/hk.js", get(event).head(event))
}

/// Whether a path is a pinned tracker URL (`/hk.<version>.js`), which the app's fallback
/// hands to [`event`].
pub fn is_pinned_script(path: &str) -> bool {
    path.starts_with("/hk.") && path.ends_with(".js")
}

/// Hands the request to the embedded edge host.
pub async fn event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    match &state.edge {
        Some(edge) => edge.handle(request, peer).await.map(Body::new),
        None => AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this aggregator does not collect events itself; send them to an edge",
        )
        .into_response(),
    }
}
