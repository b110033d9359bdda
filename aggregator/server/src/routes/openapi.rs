//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the API (`src/openapi.json`), which a
//! test holds to the routes the router really has, in both directions.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

/// The document.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

/// `GET /api/openapi.json`: the API's OpenAPI 3.1 document.
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=3600")], OPENAPI)
}
