//! Realtime: who is on a site now, once (`GET /api/sites/{domain}/realtime`) or as a stream
//! of server-sent events that pushes each change to open dashboards
//! (`GET /api/sites/{domain}/realtime/stream`).
//!
//! "Now" is Plausible's: visitors in the last five minutes; pages and sources over the last
//! thirty. The stream wakes when the ingest pipeline commits (any site), at most once a
//! second, and sends an update only when the numbers changed, so a dashboard sees a hit
//! within about a second of its commit.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use chrono_tz::Tz;
use futures_util::Stream;
use hitkeep_store::stats::{Dimension, DimensionValue, Metric, Query};
use hitkeep_store::{Site, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::auth::{NeedsView, SiteAccess};
use crate::error::AppError;
use crate::state::AppState;

/// The window of "visitors now".
pub const NOW_MS: i64 = 5 * 60_000;
/// The window of the top pages and sources.
pub const RECENT_MS: i64 = 30 * 60_000;
/// Rows of each top list.
const TOP: usize = 10;
/// Streams open at once, over all sites; more are refused with `503`.
pub const MAX_STREAMS: usize = 1_024;
/// A stream ends after this long (the browser's `EventSource` reconnects on its own), so that
/// a revoked session or share link stops seeing data.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Updates are at most this frequent.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

static STREAMS: Semaphore = Semaphore::const_new(MAX_STREAMS);

/// The realtime routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sites/{domain}/realtime", get(now))
        .route("/api/sites/{domain}/realtime/stream", get(stream))
}

/// Who is on the site now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Realtime {
    /// Visitors in the last five minutes.
    pub visitors: u64,
    /// Pageviews in the last thirty minutes.
    pub pageviews: u64,
    /// Pages by visitors, last thirty minutes: `[page, visitors]`.
    pub pages: Vec<(String, u64)>,
    /// Sources by visitors, last thirty minutes (`Direct / None` for none).
    pub sources: Vec<(String, u64)>,
    /// When this was computed, ms since the epoch.
    pub at_ms: i64,
}

/// Computes [`Realtime`] for `site` at `now_ms`.
pub fn realtime(store: &Store, site: &Site, now_ms: i64) -> hitkeep_store::Result<Realtime> {
    let zone: Tz = site.timezone.parse().unwrap_or(Tz::UTC);
    let end = now_ms + 1;
    let count = |start: i64, metric: Metric| -> hitkeep_store::Result<u64> {
        let result = store.query_stats(&Query::new(site.id, start, end, zone, vec![metric]))?;
        Ok(result.rows.first().and_then(|row| row.metrics[0]).unwrap_or(0.0) as u64)
    };
    let top = |dimension: Dimension, missing: &str| -> hitkeep_store::Result<Vec<(String, u64)>> {
        let mut query = Query::new(site.id, now_ms - RECENT_MS, end, zone, vec![Metric::Visitors]);
        query.dimensions = vec![dimension];
        query.limit = TOP;
        let result = store.query_stats(&query)?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| {
                let name = match &row.dimensions[0] {
                    DimensionValue::Text(Some(text)) => text.clone(),
                    _ => missing.to_owned(),
                };
                (name, row.metrics[0].unwrap_or(0.0) as u64)
            })
            .collect())
    };
    Ok(Realtime {
        visitors: count(now_ms - NOW_MS, Metric::Visitors)?,
        pageviews: count(now_ms - RECENT_MS, Metric::Pageviews)?,
        pages: top(Dimension::Page, "(not set)")?,
        sources: top(Dimension::Source, "Direct / None")?,
        at_ms: now_ms,
    })
}

async fn compute(state: &AppState, site: &Site) -> Result<Realtime, AppError> {
    let store = state.store.clone();
    let site = site.clone();
    let now_ms = state.auth.now_ms();
    Ok(tokio::task::spawn_blocking(move || realtime(&store, &site, now_ms)).await??)
}

/// `GET /api/sites/{domain}/realtime`.
async fn now(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
) -> Result<Json<Realtime>, AppError> {
    Ok(Json(compute(&state, &access.site).await?))
}

/// `GET /api/sites/{domain}/realtime/stream`: `event: realtime` with a [`Realtime`] as its
/// data, first at once, then whenever it changes.
async fn stream(
    State(state): State<AppState>,
    access: SiteAccess<NeedsView>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let permit = STREAMS.try_acquire().map_err(|_| {
        AppError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            "too many live dashboards are open; try again later",
        )
    })?;
    let site = Arc::new(access.site);
    let mut commits = state.commits.subscribe();
    let stream = async_stream(move |sender| async move {
        let _permit = permit;
        let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
        let mut last: Option<Realtime> = None;
        loop {
            match compute(&state, &site).await {
                Ok(current) => {
                    let changed = last.as_ref().is_none_or(|last| {
                        (last.visitors, last.pageviews, &last.pages, &last.sources)
                            != (current.visitors, current.pageviews, &current.pages, &current.sources)
                    });
                    if changed {
                        let data = serde_json::to_string(&current).unwrap_or_default();
                        if sender.send(Event::default().event("realtime").data(data)).await.is_err() {
                            return;
                        }
                        last = Some(current);
                    }
                }
                Err(error) => {
                    tracing::warn!(code = error.code(), "realtime update failed");
                }
            }
            // Wait for a commit (or a minute, as visitors leave the window without one), at
            // most until the stream's end, and no sooner than a second after the last update.
            tokio::time::sleep(MIN_INTERVAL).await;
            let wake = tokio::time::timeout(Duration::from_secs(60), commits.changed());
            match tokio::time::timeout_at(deadline, wake).await {
                Err(_) => return,
                Ok(Ok(Err(_))) => return,
                Ok(_) => {}
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task through a small channel; the task ends when the client leaves.
fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::spawn(produce(sender));
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    })
}
