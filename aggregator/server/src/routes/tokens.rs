//! API tokens: made by people for themselves (the account page) or by the operator on the
//! command line (`hitkeep token`), scoped to sites and to `read` or `write`, optionally
//! expiring, shown once, kept as a SHA-256 digest.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use hitkeep_store::{ApiToken, AuditKind, InstanceRole, Store, TokenScope, TokenSites};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{Access, SignedIn};
use crate::error::AppError;
use crate::state::AppState;

/// The longest lifetime a token may be given, in days.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// The token routes of the API (a person's own tokens).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list).post(create_api))
        .route("/api/tokens/{name}", delete(remove_api))
}

/// The operator's token routes on the control socket (`hitkeep token`).
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/tokens", get(control_list).post(control_create))
        .route("/control/tokens/{name}", delete(control_remove))
}

/// A token as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenView {
    /// Its name.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// The domains it reaches, or `None` for every site.
    pub sites: Option<Vec<String>>,
    /// The account it acts for (`None`: the operator's).
    pub user_id: Option<u32>,
    /// Made at, ms since the epoch.
    pub created_at_ms: i64,
    /// Refused from then on.
    pub expires_at_ms: Option<i64>,
    /// Last accepted request (recorded about once a minute).
    pub last_used_at_ms: Option<i64>,
    /// The secret: only in the answer to its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn view(store: &Store, token: ApiToken) -> hitkeep_store::Result<TokenView> {
    let sites = match &token.sites {
        TokenSites::All => None,
        TokenSites::Only(ids) => {
            let all = store.sites()?;
            Some(all.into_iter().filter(|site| ids.contains(&site.id)).map(|site| site.domain).collect())
        }
    };
    Ok(TokenView {
        name: token.name,
        scope: token.scope.as_str().to_owned(),
        sites,
        user_id: token.user_id,
        created_at_ms: token.created_at_ms,
        expires_at_ms: token.expires_at_ms,
        last_used_at_ms: token.last_used_at_ms,
        secret: None,
    })
}

/// Body of a token creation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// A unique name.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// Domains, or absent/`null` for every site (`all_sites` must then be true).
    #[serde(default)]
    pub sites: Option<Vec<String>>,
    /// Every site: must be said explicitly.
    #[serde(default)]
    pub all_sites: bool,
    /// Days until it expires (none: never).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// Creates a token for `owner` (`None`: the operator). A person's token reaches only sites
/// they may see.
async fn create(state: &AppState, new: NewToken, owner: Option<&SignedIn>) -> Result<TokenView, AppError> {
    let scope: TokenScope = new.scope.parse()?;
    hitkeep_store::validate_token_name(&new.name)?;
    if let Some(days) = new.expires_in_days
        && !(1..=MAX_EXPIRY_DAYS).contains(&days)
    {
        return Err(AppError::bad_request(
            "invalid_expiry",
            format!("expires_in_days is 1 to {MAX_EXPIRY_DAYS}"),
        ));
    }
    let person = owner.map(|owner| owner.person.clone());
    let sites = match (new.sites, new.all_sites) {
        (Some(_), true) => {
            return Err(AppError::bad_request("invalid_input", "give sites or all_sites, not both"));
        }
        (None, false) => {
            return Err(AppError::bad_request("invalid_input", "give sites, or all_sites: true"));
        }
        (Some(domains), false) if domains.is_empty() => {
            return Err(AppError::bad_request("invalid_input", "a token needs at least one site"));
        }
        (None, true) => None,
        (Some(domains), false) => Some(domains),
    };
    let now = state.now_ms();
    let expires = new.expires_in_days.map(|days| now + i64::from(days) * 86_400_000);
    let secret = SecretKind::ApiToken.generate();
    let key = digest(&secret);
    let name = new.name;
    let mut token = state
        .with_store(move |store| {
            let sites = match sites {
                None => TokenSites::All,
                Some(domains) => {
                    let mut ids = Vec::with_capacity(domains.len());
                    for domain in domains {
                        let site = store.site(&domain)?;
                        if person
                            .as_ref()
                            .is_some_and(|person| person.access(site.id).is_none_or(|a| a < Access::Read))
                        {
                            return Err(AppError::from(hitkeep_store::Error::SiteNotFound(site.domain)));
                        }
                        ids.push(site.id);
                    }
                    TokenSites::Only(ids)
                }
            };
            let user_id = person.as_ref().map(|person| person.user.id);
            let token = store.add_api_token(&name, &key, user_id, scope, &sites, now, expires)?;
            let detail = format!("token={} scope={}", token.name, scope.as_str());
            store.audit(AuditKind::TokenCreated, user_id, user_id, &detail, now)?;
            Ok(view(store, token)?)
        })
        .await?;
    state.auth.forget();
    token.secret = Some(secret);
    Ok(token)
}

/// Revokes a token; a person may revoke their own (an instance admin any).
async fn remove(state: &AppState, name: String, actor: Option<&SignedIn>) -> Result<TokenView, AppError> {
    let now = state.now_ms();
    let actor = actor.map(|actor| actor.user().clone());
    let token = state
        .with_store(move |store| {
            let not_found = || AppError::from(hitkeep_store::Error::TokenNotFound(name.clone()));
            let token =
                store.api_tokens(None)?.into_iter().find(|token| token.name == name).ok_or_else(not_found)?;
            if let Some(actor) = &actor
                && token.user_id != Some(actor.id)
                && actor.role < InstanceRole::Admin
            {
                return Err(not_found());
            }
            let token = store.remove_api_token(&name)?;
            let actor_id = actor.map(|actor| actor.id);
            store.audit(
                AuditKind::TokenRevoked,
                token.user_id,
                actor_id,
                &format!("token={}", token.name),
                now,
            )?;
            Ok(view(store, token)?)
        })
        .await?;
    state.auth.forget();
    Ok(token)
}

async fn list(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<Vec<TokenView>>, AppError> {
    let user_id = signed_in.user().id;
    let tokens = state
        .with_store(move |store| {
            store
                .api_tokens(Some(user_id))?
                .into_iter()
                .map(|token| view(store, token))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Json(tokens))
}

async fn create_api(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<TokenView>), AppError> {
    Ok((StatusCode::CREATED, Json(create(&state, new, Some(&signed_in)).await?)))
}

async fn remove_api(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(name): Path<String>,
) -> Result<Json<TokenView>, AppError> {
    Ok(Json(remove(&state, name, Some(&signed_in)).await?))
}

async fn control_list(State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, AppError> {
    let tokens = state
        .with_store(move |store| {
            store.api_tokens(None)?.into_iter().map(|token| view(store, token)).collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Json(tokens))
}

async fn control_create(
    State(state): State<AppState>,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<TokenView>), AppError> {
    Ok((StatusCode::CREATED, Json(create(&state, new, None).await?)))
}

async fn control_remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TokenView>, AppError> {
    Ok(Json(remove(&state, name, None).await?))
}
