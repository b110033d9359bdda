//! `GET /api/plugins`: the enrichment plugins this aggregator runs, for the instance's admins
//! (the settings page): each plugin's sites and failure policy, when its current version was
//! loaded, its calls and failures since, and its last failure as a kind and a fixed sentence
//! (never a plugin's output or event data).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::InstanceAdmin;
use crate::state::AppState;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/plugins", get(plugins))
}

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginsView {
    /// True when plugins are configured (`plugins_dir` or `[plugins]`).
    pub enabled: bool,
    /// The running plugins, in the order they run.
    pub plugins: Vec<PluginView>,
}

/// One plugin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginView {
    /// Its name.
    pub name: String,
    /// The sites it runs on; `null`: every site.
    pub sites: Option<Vec<String>>,
    /// `pass` or `dead_letter`.
    pub on_failure: String,
    /// When its current version was loaded (a hot reload starts the counters afresh), ms
    /// since the epoch.
    pub loaded_at_ms: i64,
    /// `enrich` calls since then.
    pub calls: u64,
    /// Failed calls, and events answered against the contract, since then.
    pub failures: u64,
    /// When it last failed, ms since the epoch.
    pub last_error_at_ms: Option<i64>,
    /// How: `trap`, `timeout`, `memory` or `bad_output`.
    pub last_error_kind: Option<String>,
    /// That, in a sentence.
    pub last_error: Option<String>,
}

async fn plugins(State(state): State<AppState>, _admin: InstanceAdmin) -> Json<PluginsView> {
    let Some(loaded) = &state.plugins else {
        return Json(PluginsView { enabled: false, plugins: Vec::new() });
    };
    let plugins = loaded
        .status()
        .into_iter()
        .map(|status| PluginView {
            name: status.name,
            sites: status.sites,
            on_failure: status.on_failure.as_str().to_owned(),
            loaded_at_ms: status.loaded_at_ms,
            calls: status.calls,
            failures: status.failures,
            last_error_at_ms: status.last_failure.map(|(at_ms, _)| at_ms),
            last_error_kind: status.last_failure.map(|(_, kind)| kind.as_str().to_owned()),
            last_error: status.last_failure.map(|(_, kind)| kind.describe().to_owned()),
        })
        .collect();
    Json(PluginsView { enabled: true, plugins })
}
