//! Share links: a public, read-only view of one site's dashboard.
//!
//! A site's managers make them (`POST /api/sites/{domain}/shares`), each with a name,
//! optionally a password, an expiry and an embed mode; the answer holds the link's code
//! (`hkl_...`) this once, and the store keeps only its digest. Whoever has the link opens
//! `/share/{code}`; the page sends the code in `X-Hitkeep-Share` and so reaches, as
//! [`Principal::Share`], exactly the routes that take [`crate::auth::NeedsView`] on that one
//! site: the dashboard's stats, never settings, raw events, people or writes.
//!
//! A link with a password answers `401 share_password_required` until it is unlocked: `POST
//! /api/share/unlock` with the code and the password gives an unlocking (`hkv_...`, valid
//! [`UNLOCK_MS`] at most) that the page sends instead of the code. Wrong passwords count
//! against a backoff per link and per client address, as sign-ins do.
//!
//! Revoking a link ends it and every unlocking of it at once (nothing is cached).
//! Only embed links may be framed by other sites: their page answers `frame-ancestors *`,
//! every other page `frame-ancestors 'none'`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hitkeep_store::{AuditKind, NewShareLink, ShareLink, Site};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{ClientAddress, NeedsManage, Principal, SiteAccess, password, web};
use crate::error::AppError;
use crate::routes::account::MAX_AUTH_BODY;
use crate::state::AppState;

/// The longest an unlocking lasts (less when the link ends sooner).
pub const UNLOCK_MS: i64 = 24 * 3_600_000;

/// The longest lifetime a share link may be given, in days.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// The routes.
pub fn router(state: &AppState) -> Router<AppState> {
    let unlock = Router::new()
        .route("/api/share/unlock", post(unlock_api))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), web::auth_rate_limit));
    Router::new()
        .route("/api/sites/{domain}/shares", get(list).post(create))
        .route("/api/sites/{domain}/shares/{name}", delete(revoke))
        .route("/api/share", get(describe))
        .merge(unlock)
        .layer(DefaultBodyLimit::max(MAX_AUTH_BODY))
}

/// The operator's share link routes on the control socket (`hitkeep share`).
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/sites/{domain}/shares", get(control_list).post(control_create))
        .route("/control/sites/{domain}/shares/{name}", delete(control_revoke))
}

async fn control_list(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<Vec<ShareView>>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(list_links(&state, site).await?))
}

async fn control_create(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Json(new): Json<NewShare>,
) -> Result<(StatusCode, Json<ShareView>), AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok((StatusCode::CREATED, Json(create_link(&state, site, new, None).await?)))
}

async fn control_revoke(
    State(state): State<AppState>,
    Path((domain, name)): Path<(String, String)>,
) -> Result<Json<ShareView>, AppError> {
    let site = super::control_site(&state, domain).await?;
    Ok(Json(revoke_link(&state, site, name, None).await?))
}

/// A share link as its site's managers see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShareView {
    /// Its name, unique on its site.
    pub name: String,
    /// Whether opening it asks for a password.
    pub has_password: bool,
    /// Whether other sites may frame it.
    pub embed: bool,
    /// Who made it (`None`: the command line).
    pub created_by: Option<u32>,
    /// Made at, ms since the epoch.
    pub created_at_ms: i64,
    /// Ends at, ms since the epoch.
    pub expires_at_ms: Option<i64>,
    /// The link's code: only in the answer to its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The link's path (`/share/hkl_...`): only in the answer to its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The whole link, when the instance's public URL is configured: only in the answer to
    /// its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl From<ShareLink> for ShareView {
    fn from(link: ShareLink) -> Self {
        Self {
            name: link.name,
            has_password: link.password_hash.is_some(),
            embed: link.embed,
            created_by: link.created_by,
            created_at_ms: link.created_at_ms,
            expires_at_ms: link.expires_at_ms,
            code: None,
            path: None,
            url: None,
        }
    }
}

/// Body of a share link's creation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    /// A name, unique on the site.
    pub name: String,
    /// A password visitors must give (at least 10 characters).
    #[serde(default)]
    pub password: Option<String>,
    /// Days until it ends (none: never).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Let other sites frame it (an `<iframe>`).
    #[serde(default)]
    pub embed: bool,
}

/// Makes a share link of `site`, by `actor` (`None`: the command line).
pub async fn create_link(
    state: &AppState,
    site: Site,
    new: NewShare,
    actor: Option<u32>,
) -> Result<ShareView, AppError> {
    hitkeep_store::validate_share_name(&new.name)?;
    if let Some(days) = new.expires_in_days
        && !(1..=MAX_EXPIRY_DAYS).contains(&days)
    {
        return Err(AppError::bad_request(
            "invalid_expiry",
            format!("expires_in_days is 1 to {MAX_EXPIRY_DAYS}"),
        ));
    }
    let password_hash = match new.password {
        Some(given) => Some(crate::routes::account::new_password_hash(given, "").await?),
        None => None,
    };
    let now = state.now_ms();
    let code = SecretKind::ShareLink.generate();
    let key = digest(&code);
    let expires_at_ms = new.expires_in_days.map(|days| now + i64::from(days) * 86_400_000);
    let (name, embed) = (new.name, new.embed);
    let link = state
        .with_store(move |store| {
            let link = store.add_share_link(
                &NewShareLink {
                    site_id: site.id,
                    name: &name,
                    digest: &key,
                    password_hash: password_hash.as_deref(),
                    embed,
                    created_by: actor,
                    expires_at_ms,
                },
                now,
            )?;
            let detail = format!(
                "site={} share={} password={} embed={}",
                site.domain,
                link.name,
                link.password_hash.is_some(),
                link.embed
            );
            store.audit(AuditKind::ShareLinkCreated, None, actor, &detail, now)?;
            Ok::<_, hitkeep_store::Error>(link)
        })
        .await?;
    let path = format!("/share/{code}");
    let url = state.auth.settings.public_origin.as_ref().map(|origin| format!("{origin}{path}"));
    Ok(ShareView { code: Some(code), path: Some(path), url, ..link.into() })
}

/// Revokes a share link of `site` and every unlocking of it.
pub async fn revoke_link(
    state: &AppState,
    site: Site,
    name: String,
    actor: Option<u32>,
) -> Result<ShareView, AppError> {
    let now = state.now_ms();
    let link = state
        .with_store(move |store| {
            let link = store.remove_share_link(site.id, &name)?;
            let detail = format!("site={} share={}", site.domain, link.name);
            store.audit(AuditKind::ShareLinkRevoked, None, actor, &detail, now)?;
            Ok::<_, hitkeep_store::Error>(link)
        })
        .await?;
    Ok(link.into())
}

/// A site's share links.
pub async fn list_links(state: &AppState, site: Site) -> Result<Vec<ShareView>, AppError> {
    let links = state.with_store(move |store| store.share_links(site.id)).await?;
    Ok(links.into_iter().map(ShareView::from).collect())
}

async fn list(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
) -> Result<Json<Vec<ShareView>>, AppError> {
    Ok(Json(list_links(&state, access.site).await?))
}

async fn create(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Json(new): Json<NewShare>,
) -> Result<(StatusCode, Json<ShareView>), AppError> {
    let actor = access.principal.user_id();
    Ok((StatusCode::CREATED, Json(create_link(&state, access.site, new, actor).await?)))
}

async fn revoke(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
    Path((_domain, name)): Path<(String, String)>,
) -> Result<Json<ShareView>, AppError> {
    let actor = access.principal.user_id();
    Ok(Json(revoke_link(&state, access.site, name, actor).await?))
}

/// What a share link's visitor is shown of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShareInfo {
    /// The site's domain.
    pub domain: String,
    /// The site's time zone (the dashboard's buckets).
    pub timezone: String,
    /// The link's name.
    pub name: String,
    /// Whether other sites may frame it.
    pub embed: bool,
    /// Ends at, ms since the epoch.
    pub expires_at_ms: Option<i64>,
}

/// What a share link's visitor is shown of it and its site.
pub async fn info(state: &AppState, link: Arc<ShareLink>) -> Result<ShareInfo, AppError> {
    let site_id = link.site_id;
    let site = state
        .with_store(move |store| {
            Ok::<_, hitkeep_store::Error>(store.sites()?.into_iter().find(|site| site.id == site_id))
        })
        .await?
        .ok_or_else(|| AppError::not_found("the site of this share link is gone"))?;
    Ok(ShareInfo {
        domain: site.domain,
        timezone: site.timezone,
        name: link.name.clone(),
        embed: link.embed,
        expires_at_ms: link.expires_at_ms,
    })
}

/// `GET /api/share`: the link in `X-Hitkeep-Share`, and its site.
async fn describe(State(state): State<AppState>, principal: Principal) -> Result<Json<ShareInfo>, AppError> {
    let Principal::Share { link } = principal else {
        return Err(AppError::bad_request(
            "share_link_required",
            "send a share link's code in X-Hitkeep-Share",
        ));
    };
    Ok(Json(info(&state, link).await?))
}

/// Body of an unlocking.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockBody {
    /// The link's code (`hkl_...`).
    pub code: String,
    /// Its password.
    pub password: String,
}

/// An unlocking, for `X-Hitkeep-Share`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Unlocked {
    /// The unlocking (`hkv_...`).
    pub unlock: String,
    /// It ends at, ms since the epoch.
    pub expires_at_ms: i64,
    /// The link and its site.
    pub share: ShareInfo,
}

/// Checks a share link's password and records an unlocking. Unknown links and wrong
/// passwords cost the same argon2 work, and both count against the client's backoff.
pub async fn unlock(state: &AppState, client: IpAddr, body: UnlockBody) -> Result<Unlocked, AppError> {
    let now = state.now_ms();
    let link = match state.auth.open_share_link(&state.store, &body.code).await {
        Ok(link) => Some(link),
        // An unknown code costs the same work as a wrong password below.
        Err(error) if error.code() == "invalid_share_link" => None,
        Err(error) => return Err(error),
    };
    let account = format!("share:{}", link.as_ref().map_or(0, |link| link.id));
    state.auth.throttle.check(&account, client, now).map_err(AppError::too_many)?;
    let stored = link.as_ref().and_then(|link| link.password_hash.clone());
    let given = body.password;
    let matched = password::off_thread(move || match stored {
        Some(stored) => password::verify(&given, &stored),
        None => {
            password::verify(&given, password::decoy_hash());
            false
        }
    })
    .await?;
    let link = match link {
        Some(link) if matched => link,
        Some(link) if link.password_hash.is_none() => {
            return Err(AppError::bad_request(
                "no_share_password",
                "this share link has no password: send its code as it is",
            ));
        }
        found => {
            state.auth.throttle.failed(&account, client, now);
            return Err(match found {
                Some(_) => {
                    AppError::new(StatusCode::UNAUTHORIZED, "invalid_share_password", "the password is wrong")
                }
                None => crate::auth::invalid_share_link(),
            });
        }
    };
    state.auth.throttle.succeeded(&account);
    let expires_at_ms = link.expires_at_ms.map_or(now + UNLOCK_MS, |at| at.min(now + UNLOCK_MS));
    let unlock = SecretKind::ShareUnlock.generate();
    let unlock_key = digest(&unlock);
    let link_id = link.id;
    state.with_store(move |store| store.add_share_session(&unlock_key, link_id, expires_at_ms)).await?;
    let share = info(state, Arc::new(link)).await?;
    Ok(Unlocked { unlock, expires_at_ms, share })
}

async fn unlock_api(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Json(body): Json<UnlockBody>,
) -> Result<Json<Unlocked>, AppError> {
    Ok(Json(unlock(&state, client, body).await?))
}
