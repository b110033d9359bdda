//! `GET /api/sites/{domain}/favicons/{source}`: the icon of a source of the site's visits, for
//! the dashboard's sources panel.
//!
//! `{source}` is a source as the stats show it (`visit:source`: `Google`, or the host of an
//! unknown referrer) or a referrer host. Only a host that has been seen as a referrer of the
//! site is fetched (the store maps a source name to its most frequent referrer host), so the
//! route cannot be used to make the server ask arbitrary hosts; the fetch's own safeguards
//! are in [`crate::favicons`]. No icon: `204 No Content` (not an error: an `<img>` fails
//! quietly on it, where a 404 is a console error on every dashboard), and the page shows a
//! neutral one.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{NeedsView, SiteAccess};
use crate::error::AppError;
use crate::state::AppState;

/// Longest `{source}` taken (a host name at most).
const MAX_SOURCE_LEN: usize = 253;

/// The answer when there is no icon: empty, remembered by the browser for an hour.
fn no_icon() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    response
}

/// The handler.
pub(super) async fn favicon(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
    Path((_, source)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if !state.favicons.enabled() {
        return Ok(no_icon());
    }
    if source.is_empty() || source.len() > MAX_SOURCE_LEN || source.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "invalid_source",
            "a source name or a host of at most 253 characters",
        ));
    }
    let site_id = access.site.id;
    let Some(host) = state.with_store(move |store| store.referrer_host(site_id, &source)).await? else {
        return Ok(no_icon());
    };
    let Ok(icon) = state.favicons.icon(&host, state.now_ms()).await else {
        return Ok(no_icon());
    };
    let mut response = (StatusCode::OK, icon.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(icon.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
