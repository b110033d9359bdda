//! Server-side tracking and imports: `POST /api/sites/{domain}/backfill`, for API tokens with
//! write scope, takes events with their time, the visitor's IP address and user agent, and
//! sends each through the embedded edge's collector component exactly as a browser's event
//! goes (validation, bot filter, privacy rules, the visitor hash, the spool, NATS, the
//! pipeline): the address and the user agent stop in the component, as always.
//!
//! Visitor hashes use the salts of today, not of the event's day (those are deleted after 48
//! hours, by design), so an import's visitor keeps one hash across the days it spans.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use chrono::DateTime;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::{NeedsWrite, SiteAccess};
use crate::error::AppError;
use crate::state::AppState;

/// Most events in one request.
pub const MAX_BACKFILL_EVENTS: usize = 1_000;
/// Largest request body.
pub const MAX_BACKFILL_BYTES: usize = 2 * 1024 * 1024;
/// Longest user agent taken (longer ones are cut, as browsers' never are).
const MAX_USER_AGENT_LEN: usize = 1_024;
/// The collector's header naming why it dropped an event.
const DROPPED_HEADER: &str = "x-hitkeep-dropped";
/// Events sent to the edge at once.
const CONCURRENCY: usize = 32;

/// The backfill route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sites/{domain}/backfill", post(backfill))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BACKFILL_BYTES))
}

/// One event sent on a visitor's behalf.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillEvent {
    /// When it happened: ms since the epoch, or an RFC 3339 time.
    pub timestamp: Value,
    /// The visitor's IP address.
    pub ip: String,
    /// The visitor's user agent.
    pub user_agent: String,
    /// `pageview` or the custom event's name.
    #[serde(default = "pageview")]
    pub name: String,
    /// The page's URL.
    pub url: String,
    /// The referring URL.
    #[serde(default)]
    pub referrer: Option<String>,
    /// Custom properties.
    #[serde(default)]
    pub props: Option<Map<String, Value>>,
    /// Revenue, as Plausible's Events API takes it (`{"currency": "EUR", "amount": 49}`).
    #[serde(default)]
    pub revenue: Option<Value>,
    /// False for events that do not end a bounce.
    #[serde(default)]
    pub interactive: Option<bool>,
}

fn pageview() -> String {
    "pageview".into()
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// The events, at most [`MAX_BACKFILL_EVENTS`].
    pub events: Vec<BackfillEvent>,
}

/// What became of one event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackfillResult {
    /// The collector's status: 202 when it took the event (stored, or dropped by a rule, see
    /// `dropped`), 4xx when the event is invalid.
    pub status: u16,
    /// Why the collector dropped it (`bot`, `excluded_ip`...), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
    /// The error code of a refused event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer: one result per event, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackfillAnswer {
    /// Events the collector took.
    pub accepted: usize,
    /// Per event.
    pub results: Vec<BackfillResult>,
}

fn timestamp_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => DateTime::parse_from_rfc3339(text).ok().map(|time| time.timestamp_millis()),
        _ => None,
    }
}

/// `POST /api/sites/{domain}/backfill`.
async fn backfill(
    State(state): State<AppState>,
    access: SiteAccess<NeedsWrite>,
    body: Result<Json<BackfillRequest>, JsonRejection>,
) -> Result<Json<BackfillAnswer>, AppError> {
    let Json(request) = body.map_err(|rejection| {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "invalid_json"
        };
        AppError::new(rejection.status(), code, rejection.body_text())
    })?;
    if request.events.is_empty() || request.events.len() > MAX_BACKFILL_EVENTS {
        return Err(AppError::bad_request(
            "invalid_events",
            format!("send 1 to {MAX_BACKFILL_EVENTS} events per request"),
        ));
    }
    let Some(edge) = state.edge.clone() else {
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_edge",
            "this aggregator runs no edge to collect events with; send them to an edge",
        ));
    };
    // Every event is checked before any is sent, so that a bad one refuses the request
    // whole and a corrected request can be sent again as it is.
    let mut prepared = Vec::with_capacity(request.events.len());
    for (index, event) in request.events.into_iter().enumerate() {
        let invalid = |what: &str| AppError::bad_request("invalid_event", format!("events[{index}]: {what}"));
        let ts = timestamp_ms(&event.timestamp)
            .ok_or_else(|| invalid("timestamp must be ms since the epoch or an RFC 3339 time"))?;
        let ip: IpAddr = event.ip.trim().parse().map_err(|_| invalid("ip is not an IP address"))?;
        let user_agent: String = event.user_agent.chars().take(MAX_USER_AGENT_LEN).collect();
        let mut payload = json!({
            "name": event.name,
            "url": event.url,
            "domain": access.site.domain,
        });
        if let Some(referrer) = event.referrer {
            payload["referrer"] = Value::String(referrer);
        }
        if let Some(props) = event.props {
            payload["props"] = Value::Object(props);
        }
        if let Some(revenue) = event.revenue {
            payload["revenue"] = revenue;
        }
        if let Some(interactive) = event.interactive {
            payload["interactive"] = Value::Bool(interactive);
        }
        let request = Request::post("/api/event")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, user_agent)
            .body(Body::from(payload.to_string()))
            .map_err(|_| invalid("user_agent is not a header value"))?;
        prepared.push((request, ip, ts));
    }
    let results: Vec<BackfillResult> = futures_util::stream::iter(prepared)
        .map(|(request, ip, ts)| {
            let edge = edge.clone();
            async move {
                let response = edge.handle_on_behalf(request, ip, Some(ts)).await;
                let status = response.status().as_u16();
                let dropped = response
                    .headers()
                    .get(DROPPED_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                let error = if status >= 400 {
                    let bytes =
                        response.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
                    serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|body| body["error"]["code"].as_str().map(str::to_owned))
                        .or(Some("refused".into()))
                } else {
                    None
                };
                BackfillResult { status, dropped, error }
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let accepted = results.iter().filter(|result| result.status == 202 && result.dropped.is_none()).count();
    metrics::counter!("hitkeep_backfill_events_total").increment(results.len() as u64);
    Ok(Json(BackfillAnswer { accepted, results }))
}
