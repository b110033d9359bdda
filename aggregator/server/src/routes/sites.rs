//! Sites: listing, adding, removing, changing their time zone, their privacy rules, newest
//! events, and their sources' icons ([`favicons`]).
//!
//! The API routes go through the one authorization check ([`SiteAccess`]); the control
//! routes (the data directory's socket, `hitkeep site`) are the operator's and have none.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use hitkeep_store::{Site, SiteRole, SiteRules, Store, StoredEvent};
use serde::{Deserialize, Serialize};

use crate::auth::{Access, InstanceAdmin, NeedsManage, NeedsOwn, NeedsRead, Principal, SiteAccess};
use crate::error::AppError;
use crate::replicated::{Command, Retention, execute_on_site as execute};
use crate::state::AppState;

mod favicons;

/// The dashboard's and programs' site routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sites", get(visible_sites).post(add_site_api))
        .route("/api/sites/{domain}", get(site).put(update_site_api).delete(remove_site_api))
        .route("/api/sites/{domain}/rules", put(put_rules_api))
        .route("/api/sites/{domain}/events", get(events_api))
        .route("/api/sites/{domain}/favicons/{source}", get(favicons::favicon))
}

/// The operator's site routes on the control socket.
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/sites", get(list_sites).post(add_site))
        .route("/control/sites/{domain}", axum::routing::delete(remove_site).put(update_site))
        .route("/control/sites/{domain}/rules", put(put_rules))
        .route("/control/events", get(events))
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
    /// Days its events are kept (0: for ever); null: the instance's default.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// What the asker may do there (absent on the control socket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
}

impl From<Site> for SiteView {
    fn from(site: Site) -> Self {
        Self {
            domain: site.domain,
            timezone: site.timezone,
            created_at_ms: site.created_at_ms,
            rules: site.rules.into(),
            retention_days: site.retention_days,
            access: None,
        }
    }
}

fn with_access(site: Site, access: Access) -> SiteView {
    let name = match access {
        Access::View => "view",
        Access::Read => "read",
        Access::Write => "write",
        Access::Manage => "manage",
        Access::Own => "own",
    };
    SiteView { access: Some(name.to_owned()), ..site.into() }
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
pub fn set_rules(store: &Store, domain: &str, rules: RulesView) -> Result<Site, AppError> {
    let mut site = store.site(domain)?;
    site.rules = rules.into();
    crate::edge::site_settings(&site)
        .map_err(|error| AppError::bad_request("invalid_rule", error.to_string()))?;
    Ok(store.set_site_rules(&site.domain, &site.rules)?)
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

/// Body of a site's change (`PUT /api/sites/{domain}`): the fields to change.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteUpdate {
    /// A new IANA time zone for its reports.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Days its events are kept (0: for ever), or null for the instance's default; absent:
    /// unchanged.
    #[serde(default, deserialize_with = "present")]
    pub retention_days: Option<Option<u32>>,
}

/// A field that may be null: `Some(None)` when null, `None` (by default) when absent.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(deserializer).map(Some)
}

/// Query of the events routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// The site's domain (control route only; the API takes it from the path).
    #[serde(default)]
    pub site: Option<String>,
    /// How many, newest first.
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    20
}

/// Adds a site (on every node of a cluster: `crate::replicated`), then tells the pipeline,
/// the edges and the access cache; with a creator who is not an instance admin, makes them
/// its owner (on this node: accounts are each node's own).
async fn create_site(state: &AppState, new: NewSite, owner: Option<u32>) -> Result<Site, AppError> {
    let site = execute(state, Command::AddSite { domain: new.domain, timezone: new.timezone }).await?;
    if let Some(user_id) = owner {
        let (now, site_id) = (state.now_ms(), site.id);
        state.with_store(move |store| store.set_site_member(site_id, user_id, SiteRole::Owner, now)).await?;
        state.auth.forget();
    }
    Ok(site)
}

async fn delete_site(state: &AppState, domain: String) -> Result<Site, AppError> {
    execute(state, Command::RemoveSite { domain }).await
}

async fn replace_rules(state: &AppState, domain: String, rules: RulesView) -> Result<Site, AppError> {
    // Checked here first, so that a bad rule is refused before it reaches the cluster.
    let mut site = state
        .with_store({
            let domain = domain.clone();
            move |store| store.site(&domain)
        })
        .await?;
    site.rules = rules.clone().into();
    crate::edge::site_settings(&site)
        .map_err(|error| AppError::bad_request("invalid_rule", error.to_string()))?;
    execute(state, Command::SetSiteRules { domain, rules }).await
}

/// Changes a site (its time zone: the store drops the rollups cut in the old one), then tells
/// the pipeline, the edges and the access cache.
async fn change_site(state: &AppState, domain: String, update: SiteUpdate) -> Result<Site, AppError> {
    if update.timezone.is_none() && update.retention_days.is_none() {
        return Err(AppError::bad_request(
            "invalid_input",
            "nothing to change: send {\"timezone\": \"Europe/Berlin\"} or {\"retention_days\": 400}",
        ));
    }
    let retention = update.retention_days.map(Retention::from_days);
    execute(state, Command::ChangeSite { domain, timezone: update.timezone, retention }).await
}

/// A JSON body, or why not: `400 invalid_json` (not JSON, or not the fields the route takes),
/// `413 body_too_large`, `415` without a JSON content type.
fn json_body<T>(body: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, AppError> {
    body.map(|Json(value)| value).map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", rejection.body_text())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            AppError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_json", rejection.body_text())
        }
        _ => AppError::bad_request("invalid_json", rejection.body_text()),
    })
}

async fn recent_events(state: &AppState, domain: String, limit: u32) -> Result<Vec<StoredEvent>, AppError> {
    state.with_store(move |store| store.recent_events(&domain, limit)).await
}

// The API.

/// `GET /api/sites`: the sites the asker may see, with what they may do there (a share
/// link's visitor sees none here: `GET /api/share` describes its site).
async fn visible_sites(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<SiteView>>, AppError> {
    let sites = state.with_store(move |store| store.sites()).await?;
    let visible = sites
        .into_iter()
        .filter_map(|site| {
            let access = principal.access(site.id).filter(|access| *access >= Access::Read)?;
            Some(with_access(site, access))
        })
        .collect();
    Ok(Json(visible))
}

/// `POST /api/sites`: instance admins add sites.
async fn add_site_api(
    State(state): State<AppState>,
    InstanceAdmin(_admin): InstanceAdmin,
    Json(new): Json<NewSite>,
) -> Result<(StatusCode, Json<SiteView>), AppError> {
    let site = create_site(&state, new, None).await?;
    Ok((StatusCode::CREATED, Json(with_access(site, Access::Own))))
}

async fn site(access: SiteAccess<NeedsRead>) -> Json<SiteView> {
    Json(with_access(access.site, access.access))
}

async fn remove_site_api(
    State(state): State<AppState>,
    access: SiteAccess<NeedsOwn>,
) -> Result<Json<SiteView>, AppError> {
    Ok(Json(delete_site(&state, access.site.domain).await?.into()))
}

/// `PUT /api/sites/{domain}`: site managers change its time zone.
async fn update_site_api(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    body: Result<Json<SiteUpdate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<SiteView>, AppError> {
    let site = change_site(&state, access.site.domain, json_body(body)?).await?;
    Ok(Json(with_access(site, access.access)))
}

async fn put_rules_api(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Json(rules): Json<RulesView>,
) -> Result<Json<SiteView>, AppError> {
    let site = replace_rules(&state, access.site.domain, rules).await?;
    Ok(Json(with_access(site, access.access)))
}

async fn events_api(
    State(state): State<AppState>,
    access: SiteAccess<NeedsRead>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Vec<StoredEvent>>, AppError> {
    Ok(Json(recent_events(&state, access.site.domain, query.limit).await?))
}

// The control socket.

async fn list_sites(State(state): State<AppState>) -> Result<Json<Vec<SiteView>>, AppError> {
    let sites = state.with_store(move |store| store.sites()).await?;
    Ok(Json(sites.into_iter().map(SiteView::from).collect()))
}

async fn add_site(
    State(state): State<AppState>,
    Json(new): Json<NewSite>,
) -> Result<(StatusCode, Json<SiteView>), AppError> {
    Ok((StatusCode::CREATED, Json(create_site(&state, new, None).await?.into())))
}

async fn remove_site(
    State(state): State<AppState>,
    axum::extract::Path(domain): axum::extract::Path<String>,
) -> Result<Json<SiteView>, AppError> {
    Ok(Json(delete_site(&state, domain).await?.into()))
}

async fn update_site(
    State(state): State<AppState>,
    axum::extract::Path(domain): axum::extract::Path<String>,
    body: Result<Json<SiteUpdate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<SiteView>, AppError> {
    Ok(Json(change_site(&state, domain, json_body(body)?).await?.into()))
}

async fn put_rules(
    State(state): State<AppState>,
    axum::extract::Path(domain): axum::extract::Path<String>,
    Json(rules): Json<RulesView>,
) -> Result<Json<SiteView>, AppError> {
    Ok(Json(replace_rules(&state, domain, rules).await?.into()))
}

async fn events(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Vec<StoredEvent>>, AppError> {
    let domain = query.site.ok_or_else(|| AppError::bad_request("invalid_input", "site= is required"))?;
    Ok(Json(recent_events(&state, domain, query.limit).await?))
}
