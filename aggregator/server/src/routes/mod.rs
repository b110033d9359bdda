//! The HTTP routes, one module per area. Each module exposes `router()` (the public API, its
//! handlers taking the extractors of [`crate::auth`]) and, where the command line needs it,
//! `control_router()` (the operator's routes on the control socket).

pub mod account;
pub mod audit;
pub mod backfill;
pub mod backup;
pub mod cluster;
pub mod collect;
pub mod edge;
pub mod export;
pub mod factors;
pub mod funnels;
pub mod goals;
pub mod health;
pub mod import;
pub mod mailings;
pub mod openapi;
pub mod pages;
pub mod passkeys;
pub mod people;
pub mod plugins;
pub mod realtime;
pub mod reset;
pub mod shares;
pub mod sites;
pub mod sso;
pub mod stats;
pub mod tokens;
pub mod web;

#[cfg(test)]
mod tests;

/// The site of a control route's `{domain}` (the operator's routes need no access check).
pub(crate) async fn control_site(
    state: &crate::state::AppState,
    domain: String,
) -> Result<hitkeep_store::Site, crate::error::AppError> {
    state.with_store(move |store| store.site(&domain)).await
}

/// A response of one JSON object per line, each sent as it comes out of `lines` (a long
/// control task's progress, then its outcome).
pub(crate) fn ndjson_lines<T: serde::Serialize + Send + 'static>(
    mut lines: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = axum::body::Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        lines.poll_recv(cx).map(|line| {
            line.map(|line| {
                let mut text = serde_json::to_vec(&line).unwrap_or_default();
                text.push(b'\n');
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from(text))
            })
        })
    }));
    let mut response = body.into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}
