//! The HTTP router: health, readiness, metrics; and the control routes that the local
//! control socket serves (see [`crate::control`]).

use std::sync::{Arc, OnceLock};

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hitkeep_edge::EdgeHandle;
use hitkeep_ingest::{SiteDirectory, Submitter};
use hitkeep_store::{Site, SiteRules, Store};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};

use crate::api_error::ApiError;
use crate::edge_api::{NewToken, TokenView};

/// What handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Arc<Store>,
    /// The pipeline's site directory, refreshed when sites change.
    pub sites: SiteDirectory,
    /// Reports whether the process can take traffic.
    pub readiness: Arc<dyn Readiness>,
    /// The edges' configuration, announced again when sites change.
    pub edge_config: Arc<crate::edge::EdgeConfigSource>,
    /// The ingest pipeline, for batches posted over HTTP.
    pub ingest: Option<Submitter>,
    /// The embedded edge host that serves `/api/event`, when it runs in this process.
    pub edge: Option<EdgeHandle>,
}

impl AppState {
    /// Runs `work` on the store on the blocking pool (DuckDB calls block), with the store's
    /// and the task's errors as API errors.
    pub async fn with_store<T, E>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&store)).await?.map_err(Into::into)
    }

    fn sites_changed(&self, all: &[Site]) {
        self.sites.replace(all);
        self.edge_config.notify_changed();
    }
}

/// Something that knows whether the process is ready (NATS connected, pipeline running).
pub trait Readiness: Send + Sync + std::fmt::Debug {
    /// `Err(reason)` when not ready.
    fn check(&self) -> Result<(), String>;
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics will be empty");
        }
        handle
    })
}

/// The public router, served on `--listen`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/event", post(event).options(event))
        .route("/hk.js", get(event).head(event))
        .route("/api/edge/config", get(crate::edge_api::config))
        .route(
            "/api/edge/batch",
            post(crate::edge_api::batch)
                .layer(DefaultBodyLimit::max(hitkeep_protocol::limits::MAX_BATCH_BYTES)),
        )
        .fallback(fallback)
        .with_state(state)
}

/// The pinned tracker URLs (`/hk.<version>.js`) go to the collector like `/hk.js`; anything
/// else is a JSON 404.
async fn fallback(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/hk.") && path.ends_with(".js") {
        return event(state, peer, request).await;
    }
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response()
}

/// The control router, served only on the data directory's socket.
pub fn control_app(state: AppState) -> Router {
    Router::new()
        .route("/control/sites", get(list_sites).post(add_site))
        .route("/control/sites/{domain}", axum::routing::delete(remove_site))
        .route("/control/sites/{domain}/rules", axum::routing::put(put_rules))
        .route("/control/events", get(crate::events::list))
        .route("/control/edge-tokens", get(list_tokens).post(add_token))
        .route("/control/edge-tokens/{name}", axum::routing::delete(remove_token))
        .with_state(state)
}

/// `POST|OPTIONS /api/event` and `GET /hk.js`: handed to the embedded edge host (the
/// collector component), which applies its own body and header limits.
async fn event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    match &state.edge {
        Some(edge) => edge.handle(request, peer).await.map(Body::new),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this aggregator does not collect events itself; send them to an edge",
        )
        .into_response(),
    }
}

async fn list_tokens(State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = state.with_store(move |store| store.edge_tokens()).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

async fn add_token(
    State(state): State<AppState>,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let token = state.with_store(move |store| crate::edge_api::create(store, &new.name)).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

async fn remove_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let token = state.with_store(move |store| store.remove_edge_token(&name)).await?;
    Ok(Json(token.into()))
}

/// `YYYY-MM-DD HH:MM` in UTC for a time in ms since the epoch.
pub fn format_utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let minutes = ms_of_day / 60_000;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.readiness.check() {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({ "status": "ready" }))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "not_ready", "reason": reason })),
        ),
    }
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics_handle().render())
}

/// A site as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SiteView {
    /// The domain.
    pub domain: String,
    /// IANA time zone.
    pub timezone: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Its privacy rules.
    pub rules: RulesView,
}

impl From<Site> for SiteView {
    fn from(site: Site) -> Self {
        Self {
            domain: site.domain,
            timezone: site.timezone,
            created_at_ms: site.created_at_ms,
            rules: site.rules.into(),
        }
    }
}

/// A site's privacy rules as the API shows and takes them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RulesView {
    /// Drop hits from browsers sending `DNT: 1`.
    pub honor_dnt: bool,
    /// Drop hits from browsers sending `Sec-GPC: 1`.
    pub honor_gpc: bool,
    /// Addresses or CIDR ranges whose hits are dropped.
    pub excluded_ip_ranges: Vec<String>,
    /// Path patterns whose hits are dropped (`/admin/**`).
    pub excluded_paths: Vec<String>,
    /// Host name patterns that count (`*.example.com`); empty: any.
    pub allowed_hostnames: Vec<String>,
}

impl From<SiteRules> for RulesView {
    fn from(rules: SiteRules) -> Self {
        Self {
            honor_dnt: rules.honor_dnt,
            honor_gpc: rules.honor_gpc,
            excluded_ip_ranges: rules.excluded_ip_ranges,
            excluded_paths: rules.excluded_paths,
            allowed_hostnames: rules.allowed_hostnames,
        }
    }
}

impl From<RulesView> for SiteRules {
    fn from(rules: RulesView) -> Self {
        Self {
            honor_dnt: rules.honor_dnt,
            honor_gpc: rules.honor_gpc,
            excluded_ip_ranges: rules.excluded_ip_ranges,
            excluded_paths: rules.excluded_paths,
            allowed_hostnames: rules.allowed_hostnames,
        }
    }
}

/// Checks rules with the edge's own parsers and stores them.
pub fn set_rules(store: &Store, domain: &str, rules: RulesView) -> Result<Site, ApiError> {
    let mut site = store.site(domain)?;
    site.rules = rules.into();
    crate::edge::site_settings(&site)
        .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, "invalid_rule", error.to_string()))?;
    Ok(store.set_site_rules(&site.domain, &site.rules)?)
}

async fn put_rules(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Json(rules): Json<RulesView>,
) -> Result<Json<SiteView>, ApiError> {
    let (site, all) = state
        .with_store(move |store| {
            let site = set_rules(store, &domain, rules)?;
            Ok::<_, ApiError>((site, store.sites()?))
        })
        .await?;
    state.sites_changed(&all);
    Ok(Json(site.into()))
}

/// Body of a site creation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// The domain.
    pub domain: String,
    /// IANA time zone; UTC when absent.
    #[serde(default = "utc")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".into()
}

async fn list_sites(State(state): State<AppState>) -> Result<Json<Vec<SiteView>>, ApiError> {
    let sites = state.with_store(move |store| store.sites()).await?;
    Ok(Json(sites.into_iter().map(SiteView::from).collect()))
}

async fn add_site(
    State(state): State<AppState>,
    Json(new): Json<NewSite>,
) -> Result<(StatusCode, Json<SiteView>), ApiError> {
    let (site, all) = state
        .with_store(move |store| {
            let site = store.add_site(&new.domain, &new.timezone)?;
            Ok::<_, hitkeep_store::Error>((site, store.sites()?))
        })
        .await?;
    state.sites_changed(&all);
    Ok((StatusCode::CREATED, Json(site.into())))
}

async fn remove_site(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<SiteView>, ApiError> {
    let (site, all) = state
        .with_store(move |store| {
            let site = store.remove_site(&domain)?;
            Ok::<_, hitkeep_store::Error>((site, store.sites()?))
        })
        .await?;
    state.sites_changed(&all);
    Ok(Json(site.into()))
}
