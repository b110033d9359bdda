//! The HTTP application: [`app`] assembles the public router from one module per area
//! (`crate::routes::*`) with the layers every answer goes through; [`control_app`] the
//! operator's routes served on the data directory's socket.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};

use crate::auth::web;
use crate::error::AppError;
use crate::routes;
use crate::state::AppState;

/// Largest JSON body of the API (the batch route allows more).
pub const MAX_API_BODY: usize = 64 * 1024;

/// The public router, served on `listen`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::router())
        .merge(routes::collect::router())
        .merge(routes::edge::router())
        .merge(routes::account::router(&state))
        .merge(routes::factors::router(&state))
        .merge(routes::reset::router(&state))
        .merge(routes::passkeys::router(&state))
        .merge(routes::sso::router(&state))
        .merge(routes::pages::router(&state))
        .merge(routes::sites::router())
        .merge(routes::people::router())
        .merge(routes::tokens::router())
        .merge(routes::shares::router(&state))
        .merge(routes::audit::router())
        .merge(routes::stats::router())
        .merge(routes::backfill::router())
        .merge(routes::export::router())
        .merge(routes::realtime::router())
        .merge(routes::openapi::router())
        .merge(routes::goals::router())
        .merge(routes::funnels::router())
        .merge(routes::mailings::router())
        .merge(routes::import::router())
        .merge(routes::plugins::router())
        .merge(routes::cluster::router())
        .merge(routes::web::router())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_API_BODY))
        .layer(from_fn_with_state(state.clone(), web::csrf))
        .layer(from_fn_with_state(state.clone(), web::security_headers))
        .with_state(state)
}

/// The control router, served only on the data directory's socket (mode 0600) and called
/// in-process by the command line when no server runs.
pub fn control_app(state: AppState) -> Router {
    Router::new()
        .merge(routes::sites::control_router())
        .merge(routes::stats::control_router())
        .merge(routes::goals::control_router())
        .merge(routes::mailings::control_router())
        .merge(routes::funnels::control_router())
        .merge(routes::edge::control_router())
        .merge(routes::people::control_router())
        .merge(routes::tokens::control_router())
        .merge(routes::shares::control_router())
        .merge(routes::audit::control_router())
        .merge(routes::backup::control_router())
        .merge(routes::export::control_router())
        .merge(routes::import::control_router())
        .fallback(|| async { AppError::not_found("no such control route") })
        .with_state(state)
}

/// The pinned tracker URLs (`/hk.<version>.js`) go to the collector like `/hk.js`; a browser
/// asking for a page gets the dashboard's "no such page" (`index.html`, 404); anything else
/// is a JSON 404.
async fn fallback(state: State<AppState>, peer: ConnectInfo<SocketAddr>, request: Request) -> Response {
    if routes::collect::is_pinned_script(request.uri().path()) {
        return routes::collect::event(state, peer, request).await;
    }
    if let Some(page) = routes::web::unknown_page(&request) {
        return page;
    }
    let mut response = AppError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response();
    // A browser asking for a page gets HTML here: the answer depends on `Accept`.
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    response
}
