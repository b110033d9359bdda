//! `hitkeep events`: the newest stored events of a site, to check that tracking works (through
//! a running server's control socket when there is one, else on the database file).

use std::path::Path;

use axum::Json;
use axum::extract::{Query, State};
use hitkeep_store::{Store, StoredEvent};
use serde::Deserialize;

use crate::api_error::ApiError;
use crate::control::ControlClient;
use crate::http::AppState;

/// Query of `GET /control/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// The site's domain.
    pub site: String,
    /// How many, newest first.
    pub limit: u32,
}

/// `GET /control/events?site=...&limit=...`.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Vec<StoredEvent>>, ApiError> {
    let events = state.with_store(move |store| store.recent_events(&query.site, query.limit)).await?;
    Ok(Json(events))
}

/// Runs `hitkeep events`.
pub async fn run(data_dir: &Path, site: String, limit: u32, json: bool) -> anyhow::Result<()> {
    let events: Vec<serde_json::Value> = match ControlClient::connect(data_dir).await {
        Some(client) => {
            let site = hitkeep_store::normalize_domain(&site)?;
            let uri = format!("/control/events?site={site}&limit={limit}");
            client.call(hyper::Method::GET, &uri, None).await?
        }
        None => {
            let data_dir = data_dir.to_path_buf();
            let events =
                tokio::task::spawn_blocking(move || Store::open_dir(&data_dir)?.recent_events(&site, limit))
                    .await??;
            events.iter().map(serde_json::to_value).collect::<Result<_, _>>()?
        }
    };
    let mut out = String::new();
    for event in &events {
        if json {
            out.push_str(&serde_json::to_string(event)?);
        } else {
            let hit = &event["hit"];
            let text = |key: &str| hit[key].as_str().unwrap_or("-").to_string();
            out.push_str(&format!(
                "{}  {:8}  {:24}  {:32}  {:10}  {}",
                crate::http::format_utc(hit["ts"].as_i64().unwrap_or(0)),
                text("kind"),
                text("name"),
                text("path"),
                text("channel"),
                text("browser"),
            ));
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}
