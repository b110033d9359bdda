//! Who is asking, and what they may do: the one authorization check of the API.
//!
//! A request is made by a [`Principal`]: a person, known by the session cookie the server
//! set when they signed in; a program, known by the API token in `Authorization: Bearer`; or
//! a visitor of a share link, known by the link's code (or what unlocking it gave) in
//! `X-Hitkeep-Share`, who may only view that one site's dashboard.
//! Handlers never check either by hand. They take an extractor that has already checked:
//!
//! - [`AnyPerson`]: any person signed in (their account, sessions and second factors);
//! - [`SignedIn`]: a person who also meets the instance's second-factor policy (their
//!   tokens, and everything below);
//! - [`InstanceAdmin`]: a person with the instance's `admin` or `owner` role;
//! - [`SiteAccess<N>`]: anyone with at least the access `N` names on the site in the
//!   route's `{domain}` ([`NeedsView`] for the dashboard's stats, share links included,
//!   [`NeedsRead`] for settings and raw events, [`NeedsManage`] for changes,
//!   [`NeedsOwn`] for members and removal; [`NeedsWrite`] for sending events).
//!
//! So a route that reads site data cannot forget the check: it cannot get at the site
//! without one of them. When the instance requires a second factor, a person without one
//! (and their tokens) gets `403 second_factor_required` from all but [`AnyPerson`]'s routes,
//! which are what they need to enrol one.
//!
//! Sessions, tokens and people's roles are cached in memory ([`Auth`]): this process is the
//! only writer of its database (the command line goes through its control socket), so every
//! change passes through [`Auth::forget`] and the cache never serves stale access. A
//! request with a token therefore costs a hash and two map lookups, no database call.

pub mod passkeys;
pub mod password;
pub mod sealing;
pub mod secret;
pub mod throttle;
pub mod totp;
pub mod web;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use hitkeep_ingest::Clock;
use hitkeep_store::{
    ApiToken, InstanceRole, SessionRecord, ShareLink, Site, SiteRole, Store, TokenScope, TokenSites, User,
};

use crate::error::AppError;
use crate::state::AppState;
use sealing::SecretBox;
use secret::{SecretKind, digest};
use throttle::{Policy, RateLimit, SignInThrottle};

/// How sessions and cookies behave.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `Secure` cookies (named `__Host-hitkeep_session`) and HSTS: when the public URL is
    /// `https://`.
    pub secure: bool,
    /// The dashboard's origin (`https://stats.example.com`) when configured: cross-site
    /// checks compare against it, else against the request's `Host`.
    pub public_origin: Option<String>,
    /// A session unused this long ends.
    pub session_idle_ms: i64,
    /// A session ends this long after sign-in, used or not.
    pub session_max_ms: i64,
    /// Proxies whose `X-Forwarded-For` names the client (for throttling only).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The digest of `serve --demo`'s sign-in code, valid while the process runs.
    pub demo_code: Option<[u8; 32]>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            secure: false,
            public_origin: None,
            session_idle_ms: 7 * 86_400_000,
            session_max_ms: 30 * 86_400_000,
            trusted_proxies: Vec::new(),
            demo_code: None,
        }
    }
}

/// A session's last-seen time is written at most this often.
const SESSION_TOUCH_MS: i64 = 5 * 60_000;
/// A token's last-used time is written at most this often.
const TOKEN_TOUCH_MS: i64 = 60_000;

/// The header a share link's page sends its code (`hkl_`) or unlocking (`hkv_`) in.
pub const SHARE_HEADER: &str = "x-hitkeep-share";

/// Password reset requests per hour and client address.
pub const RESET_REQUESTS_PER_HOUR: u32 = 10;

/// Requests per minute and client to the auth routes (sign-in, setup, invitations).
pub const AUTH_REQUESTS_PER_MINUTE: u32 = 60;

/// The shared authentication state: settings, clock, throttles, and the access cache.
#[derive(Debug)]
pub struct Auth {
    /// How sessions and cookies behave.
    pub settings: AuthSettings,
    clock: Arc<dyn Clock>,
    /// Sign-in failures per account and client.
    pub throttle: SignInThrottle,
    /// The request budget of the auth routes.
    pub auth_limit: RateLimit,
    /// Password reset requests per client address.
    pub reset_limit: RateLimit,
    /// Seals the secrets that must be read back (TOTP seeds).
    pub sealer: SecretBox,
    require_second_factor: AtomicBool,
    cache: RwLock<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    sessions: HashMap<[u8; 32], SessionRecord>,
    tokens: HashMap<[u8; 32], ApiToken>,
    people: HashMap<u32, Arc<PersonAccess>>,
    sites: HashMap<String, Site>,
}

/// Bounds the cache: beyond this many entries of a kind it starts over.
const CACHE_LIMIT: usize = 50_000;

impl Auth {
    /// Authentication with these settings on this clock, sealing with `sealer`.
    pub fn new(settings: AuthSettings, clock: Arc<dyn Clock>, sealer: SecretBox) -> Self {
        Self {
            settings,
            clock,
            throttle: SignInThrottle::new(Policy::default()),
            auth_limit: RateLimit::new(AUTH_REQUESTS_PER_MINUTE, 60_000),
            reset_limit: RateLimit::new(RESET_REQUESTS_PER_HOUR, 3_600_000),
            sealer,
            require_second_factor: AtomicBool::new(false),
            cache: RwLock::new(Cache::default()),
        }
    }

    /// Reads the instance's policy from the store (at start).
    pub fn load_policy(&self, store: &Store) -> hitkeep_store::Result<()> {
        let required = store.setting(hitkeep_store::REQUIRE_SECOND_FACTOR)?.as_deref() == Some("true");
        self.set_require_second_factor(required);
        Ok(())
    }

    /// Whether everyone must have a second factor.
    pub fn require_second_factor(&self) -> bool {
        self.require_second_factor.load(Ordering::Relaxed)
    }

    /// Changes the policy (the store's setting is the caller's to write).
    pub fn set_require_second_factor(&self, required: bool) {
        self.require_second_factor.store(required, Ordering::Relaxed);
    }

    /// `403 second_factor_required` when the policy applies to `person` and they have none.
    pub fn check_policy(&self, person: &PersonAccess) -> Result<(), AppError> {
        if self.require_second_factor() && !person.has_second_factor {
            return Err(AppError::forbidden(
                "second_factor_required",
                "this instance requires a second factor: set one up under your account first",
            ));
        }
        Ok(())
    }

    /// Now, ms since the epoch, on the server's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Drops everything cached: call after any change to accounts, roles, sessions, tokens
    /// or sites.
    pub fn forget(&self) {
        *self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Cache::default();
    }

    fn cached<T>(&self, read: impl FnOnce(&Cache) -> Option<T>) -> Option<T> {
        read(&self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn remember(&self, write: impl FnOnce(&mut Cache)) {
        let mut cache = self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let full =
            cache.sessions.len().max(cache.tokens.len()).max(cache.people.len()).max(cache.sites.len());
        if full >= CACHE_LIMIT {
            *cache = Cache::default();
        }
        write(&mut cache);
    }

    /// The session of a cookie value, if it is valid now.
    async fn session(&self, store: &Arc<Store>, secret: &str) -> Result<Option<SessionRecord>, AppError> {
        if !SecretKind::Session.matches(secret) {
            return Ok(None);
        }
        let key = digest(secret);
        let session = match self.cached(|cache| cache.sessions.get(&key).cloned()) {
            Some(session) => Some(session),
            None => {
                let found = blocking(store, move |store| store.session_by_digest(&key)).await?;
                if let Some(session) = &found {
                    self.remember(|cache| {
                        cache.sessions.insert(key, session.clone());
                    });
                }
                found
            }
        };
        let now = self.now_ms();
        let Some(session) = session else { return Ok(None) };
        if session.expires_at_ms <= now || now - session.last_seen_at_ms > self.settings.session_idle_ms {
            return Ok(None);
        }
        if now - session.last_seen_at_ms > SESSION_TOUCH_MS {
            let id = session.id;
            self.remember(|cache| {
                if let Some(cached) = cache.sessions.get_mut(&key) {
                    cached.last_seen_at_ms = now;
                }
            });
            blocking(store, move |store| store.touch_session(id, now)).await?;
        }
        Ok(Some(session))
    }

    /// The token of a bearer secret, if it is known (expiry is the caller's to check).
    async fn token(&self, store: &Arc<Store>, secret: &str) -> Result<Option<ApiToken>, AppError> {
        if !SecretKind::ApiToken.matches(secret) {
            return Ok(None);
        }
        let key = digest(secret);
        if let Some(token) = self.cached(|cache| cache.tokens.get(&key).cloned()) {
            return Ok(Some(token));
        }
        let found = blocking(store, move |store| store.api_token_by_digest(&key)).await?;
        if let Some(token) = &found {
            self.remember(|cache| {
                cache.tokens.insert(key, token.clone());
            });
        }
        Ok(found)
    }

    /// Records a token's use about once a minute.
    async fn token_used(&self, store: &Arc<Store>, secret: &str, token: &ApiToken) -> Result<(), AppError> {
        let now = self.now_ms();
        if token.last_used_at_ms.is_some_and(|at| now - at < TOKEN_TOUCH_MS) {
            return Ok(());
        }
        let key = digest(secret);
        self.remember(|cache| {
            if let Some(cached) = cache.tokens.get_mut(&key) {
                cached.last_used_at_ms = Some(now);
            }
        });
        let id = token.id;
        blocking(store, move |store| store.touch_api_tokens(&[(id, now)])).await
    }

    /// A person and their site roles.
    pub async fn person(
        &self,
        store: &Arc<Store>,
        user_id: u32,
    ) -> Result<Option<Arc<PersonAccess>>, AppError> {
        if let Some(person) = self.cached(|cache| cache.people.get(&user_id).cloned()) {
            return Ok(Some(person));
        }
        let found = blocking(store, move |store| match store.user(user_id) {
            Ok(user) => {
                let site_roles =
                    store.memberships_of(user_id)?.into_iter().map(|m| (m.site_id, m.role)).collect();
                let has_second_factor = !store.second_factor_methods(user_id)?.is_empty();
                Ok(Some(PersonAccess { user, site_roles, has_second_factor }))
            }
            Err(hitkeep_store::Error::UserNotFound) => Ok(None),
            Err(error) => Err(error),
        })
        .await?;
        let found = found.map(Arc::new);
        if let Some(person) = &found {
            self.remember(|cache| {
                cache.people.insert(user_id, person.clone());
            });
        }
        Ok(found)
    }

    /// A site by domain.
    async fn site(&self, store: &Arc<Store>, domain: &str) -> Result<Option<Site>, AppError> {
        let Ok(domain) = hitkeep_store::normalize_domain(domain) else { return Ok(None) };
        if let Some(site) = self.cached(|cache| cache.sites.get(&domain).cloned()) {
            return Ok(Some(site));
        }
        let lookup = domain.clone();
        let found = blocking(store, move |store| match store.site(&lookup) {
            Ok(site) => Ok(Some(site)),
            Err(hitkeep_store::Error::SiteNotFound(_)) => Ok(None),
            Err(error) => Err(error),
        })
        .await?;
        if let Some(site) = &found {
            self.remember(|cache| {
                cache.sites.insert(domain, site.clone());
            });
        }
        Ok(found)
    }

    /// Who made the request: `Ok(None)` when it carries neither a session cookie nor a
    /// token; an error when it carries one that is not valid.
    pub async fn principal(&self, store: &Arc<Store>, parts: &Parts) -> Result<Option<Principal>, AppError> {
        if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let secret = value
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| invalid_token("send the token as `Authorization: Bearer hkt_...`"))?;
            let token =
                self.token(store, secret).await?.ok_or_else(|| invalid_token("unknown or revoked token"))?;
            if token.expires_at_ms.is_some_and(|at| at <= self.now_ms()) {
                return Err(AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "token_expired",
                    "this API token has expired",
                ));
            }
            let person = match token.user_id {
                Some(user_id) => Some(
                    self.person(store, user_id)
                        .await?
                        .ok_or_else(|| invalid_token("unknown or revoked token"))?,
                ),
                None => None,
            };
            self.token_used(store, secret, &token).await?;
            return Ok(Some(Principal::Token { token, person }));
        }
        if let Some(value) = parts.headers.get(SHARE_HEADER) {
            let code = value.to_str().map(str::trim).unwrap_or_default();
            let link = self.share_link(store, code).await?;
            return Ok(Some(Principal::Share { link: Arc::new(link) }));
        }
        let Some(secret) = web::session_cookie(&parts.headers) else { return Ok(None) };
        let session = self.session(store, secret).await?.ok_or_else(session_expired)?;
        let person = self.person(store, session.user_id).await?.ok_or_else(session_expired)?;
        Ok(Some(Principal::Person { person, session_id: session.id }))
    }

    /// The share link a code (`hkl_`) or an unlocking (`hkv_`) opens now. Share links are
    /// not cached: revoking one ends every view of it at once.
    pub async fn share_link(&self, store: &Arc<Store>, code: &str) -> Result<ShareLink, AppError> {
        let now = self.now_ms();
        let key = digest(code);
        let link = if SecretKind::ShareLink.matches(code) {
            let link = self.open_share_link(store, code).await?;
            if link.password_hash.is_some() {
                return Err(AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "share_password_required",
                    "this share link has a password: unlock it first",
                ));
            }
            link
        } else if SecretKind::ShareUnlock.matches(code) {
            let (link, until) = blocking(store, move |store| store.share_session(&key))
                .await?
                .ok_or_else(share_unlock_expired)?;
            if until <= now {
                return Err(share_unlock_expired());
            }
            link
        } else {
            return Err(invalid_share_link());
        };
        if link.expires_at_ms.is_some_and(|at| at <= now) {
            return Err(share_link_expired());
        }
        Ok(link)
    }

    /// The share link of a code (`hkl_`), whatever its password: `404 invalid_share_link`
    /// when it is unknown or revoked, `410 share_link_expired` past its expiry.
    pub async fn open_share_link(&self, store: &Arc<Store>, code: &str) -> Result<ShareLink, AppError> {
        if !SecretKind::ShareLink.matches(code) {
            return Err(invalid_share_link());
        }
        let key = digest(code);
        let link = blocking(store, move |store| store.share_link_by_digest(&key))
            .await?
            .ok_or_else(invalid_share_link)?;
        if link.expires_at_ms.is_some_and(|at| at <= self.now_ms()) {
            return Err(share_link_expired());
        }
        Ok(link)
    }

    /// The client's address for throttling: the peer, or what a trusted proxy says.
    pub fn client_address(&self, parts: &Parts) -> IpAddr {
        web::client_address(parts, &self.settings.trusted_proxies)
    }
}

fn invalid_token(message: &'static str) -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
}

/// `404 invalid_share_link`: an unknown or revoked share link.
pub fn invalid_share_link() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "invalid_share_link", "no such share link; it may have been revoked")
}

fn share_link_expired() -> AppError {
    AppError::new(StatusCode::GONE, "share_link_expired", "this share link has expired")
}

fn share_unlock_expired() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "share_unlock_expired",
        "this share link's unlocking has ended; enter its password again",
    )
}

fn session_expired() -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "session_expired", "the session has ended; sign in again")
        .clearing_session()
}

/// Runs store work on the blocking pool.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    work: impl FnOnce(&Store) -> hitkeep_store::Result<T> + Send + 'static,
) -> Result<T, AppError> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
}

/// A person and their roles, as cached.
#[derive(Debug, Clone)]
pub struct PersonAccess {
    /// The account.
    pub user: User,
    /// Their roles by site id.
    pub site_roles: HashMap<u32, SiteRole>,
    /// Whether they have a confirmed second factor.
    pub has_second_factor: bool,
}

impl PersonAccess {
    /// What the person may do on a site.
    pub fn access(&self, site_id: u32) -> Option<Access> {
        if self.user.role >= InstanceRole::Admin {
            return Some(Access::Own);
        }
        self.site_roles.get(&site_id).map(|role| match role {
            SiteRole::Viewer => Access::Read,
            SiteRole::Admin => Access::Manage,
            SiteRole::Owner => Access::Own,
        })
    }
}

/// What may be done on a site, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// View its dashboard's stats (what a share link shows).
    View,
    /// Also read its settings and raw events.
    Read,
    /// Also send events to it (server-side tracking, imports).
    Write,
    /// Also change its settings.
    Manage,
    /// Also manage its members and remove it.
    Own,
}

/// Who made a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person, by their session.
    Person {
        /// The person.
        person: Arc<PersonAccess>,
        /// The session's id.
        session_id: u64,
    },
    /// A program, by its API token.
    Token {
        /// The token.
        token: ApiToken,
        /// The person it acts for (`None`: the operator's token).
        person: Option<Arc<PersonAccess>>,
    },
    /// A visitor of a share link: views that one site's dashboard.
    Share {
        /// The link.
        link: Arc<ShareLink>,
    },
}

impl Principal {
    /// What this principal may do on a site (`None`: nothing, not even see it).
    pub fn access(&self, site_id: u32) -> Option<Access> {
        match self {
            Self::Person { person, .. } => person.access(site_id),
            Self::Token { token, person } => {
                let listed = match &token.sites {
                    TokenSites::All => true,
                    TokenSites::Only(ids) => ids.contains(&site_id),
                };
                if !listed {
                    return None;
                }
                // A token never manages people; a person's token never exceeds the person.
                let scope = match token.scope {
                    TokenScope::Read => Access::Read,
                    TokenScope::Write => Access::Manage,
                };
                match person {
                    Some(person) => person.access(site_id).map(|access| access.min(scope)),
                    None => Some(scope),
                }
            }
            Self::Share { link } => (link.site_id == site_id).then_some(Access::View),
        }
    }

    /// The account acting, if any (an operator's token has none).
    pub fn user_id(&self) -> Option<u32> {
        match self {
            Self::Person { person, .. } => Some(person.user.id),
            Self::Token { person, .. } => person.as_ref().map(|person| person.user.id),
            Self::Share { .. } => None,
        }
    }

    /// Whether this principal sees every site (instance admins, operator tokens for all).
    pub fn sees_all_sites(&self) -> bool {
        match self {
            Self::Person { person, .. } => person.user.role >= InstanceRole::Admin,
            Self::Token { token, person } => {
                token.sites == TokenSites::All
                    && person.as_ref().is_none_or(|person| person.user.role >= InstanceRole::Admin)
            }
            Self::Share { .. } => false,
        }
    }
}

/// Who asks, whether or not they meet the second-factor policy (for [`AnyPerson`]).
async fn any_principal(parts: &mut Parts, state: &AppState) -> Result<Principal, AppError> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(principal.clone());
    }
    let principal = state.auth.principal(&state.store, parts).await?.ok_or_else(AppError::unauthenticated)?;
    parts.extensions.insert(principal.clone());
    Ok(principal)
}

/// Who asks, meeting the second-factor policy: a person without a second factor, or their
/// token, is refused while the instance requires one.
impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let principal = any_principal(parts, state).await?;
        if let Principal::Person { person, .. } | Principal::Token { person: Some(person), .. } = &principal {
            state.auth.check_policy(person)?;
        }
        Ok(principal)
    }
}

/// A signed-in person (not a token), whether or not they meet the second-factor policy:
/// the routes they need to meet it (their account, sessions, factors, signing out).
#[derive(Debug, Clone)]
pub struct AnyPerson {
    /// The person.
    pub person: Arc<PersonAccess>,
    /// Their current session.
    pub session_id: u64,
}

impl AnyPerson {
    /// The account.
    pub fn user(&self) -> &User {
        &self.person.user
    }
}

impl FromRequestParts<AppState> for AnyPerson {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match any_principal(parts, state).await? {
            Principal::Person { person, session_id } => Ok(Self { person, session_id }),
            Principal::Token { .. } | Principal::Share { .. } => Err(AppError::forbidden(
                "person_required",
                "this route is for people signed in, not API tokens or share links",
            )),
        }
    }
}

/// A signed-in person (not a token) who meets the second-factor policy: their tokens, and
/// the extractors below.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The person.
    pub person: Arc<PersonAccess>,
    /// Their current session.
    pub session_id: u64,
}

impl SignedIn {
    /// The account.
    pub fn user(&self) -> &User {
        &self.person.user
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let AnyPerson { person, session_id } = AnyPerson::from_request_parts(parts, state).await?;
        state.auth.check_policy(&person)?;
        Ok(Self { person, session_id })
    }
}

/// A signed-in instance admin or owner: people and instance settings.
#[derive(Debug, Clone)]
pub struct InstanceAdmin(pub SignedIn);

impl FromRequestParts<AppState> for InstanceAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.user().role < InstanceRole::Admin {
            return Err(AppError::forbidden(
                "insufficient_role",
                "only the instance's admins and owners may do this",
            ));
        }
        Ok(Self(signed_in))
    }
}

/// The access a [`SiteAccess`] needs.
pub trait Needs: Send + Sync + 'static {
    /// The least access.
    const ACCESS: Access;
}

/// Viewing a site's dashboard (share links too).
#[derive(Debug)]
pub struct NeedsView;
/// Reading a site's settings and raw events.
#[derive(Debug)]
pub struct NeedsRead;
/// Sending events to a site.
#[derive(Debug)]
pub struct NeedsWrite;
/// Changing a site's settings.
#[derive(Debug)]
pub struct NeedsManage;
/// Managing a site's members, removing it.
#[derive(Debug)]
pub struct NeedsOwn;

impl Needs for NeedsView {
    const ACCESS: Access = Access::View;
}
impl Needs for NeedsRead {
    const ACCESS: Access = Access::Read;
}
impl Needs for NeedsWrite {
    const ACCESS: Access = Access::Write;
}
impl Needs for NeedsManage {
    const ACCESS: Access = Access::Manage;
}
impl Needs for NeedsOwn {
    const ACCESS: Access = Access::Own;
}

/// The site of the route's `{domain}`, which the principal may act on with `N`'s access.
///
/// A site the principal may not see at all answers `404 site_not_found`, exactly as a site
/// that does not exist, so that domains cannot be probed; too little access answers `403
/// insufficient_role` (people) or `insufficient_scope` (tokens).
#[derive(Debug)]
pub struct SiteAccess<N: Needs> {
    /// The site.
    pub site: Site,
    /// Who asks.
    pub principal: Principal,
    /// What they may do there (at least `N::ACCESS`).
    pub access: Access,
    needs: PhantomData<N>,
}

impl<N: Needs> FromRequestParts<AppState> for SiteAccess<N> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::internal("a site route without a {domain} parameter"))?;
        let domain = params
            .iter()
            .find(|(name, _)| *name == "domain")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| AppError::internal("a site route without a {domain} parameter"))?;
        let (site, access) = authorize_site(state, &principal, &domain, N::ACCESS).await?;
        Ok(Self { site, principal, access, needs: PhantomData })
    }
}

/// The one check of site access, for [`SiteAccess`] and for the routes that name their site
/// in the body (the Stats API): the site `domain`, if `principal` may act on it with
/// `needed` access. A site the principal may not see answers `404 site_not_found`, exactly
/// as a site that does not exist.
pub async fn authorize_site(
    state: &AppState,
    principal: &Principal,
    domain: &str,
    needed: Access,
) -> Result<(Site, Access), AppError> {
    let not_found = || {
        AppError::new(StatusCode::NOT_FOUND, "site_not_found", format!("no site {domain} that you may see"))
    };
    let site = state.auth.site(&state.store, domain).await?.ok_or_else(not_found)?;
    let access = principal.access(site.id).ok_or_else(not_found)?;
    if access < needed {
        let code = match principal {
            Principal::Person { .. } => "insufficient_role",
            Principal::Token { .. } | Principal::Share { .. } => "insufficient_scope",
        };
        return Err(AppError::forbidden(code, format!("this needs {needed:?} access to {}", site.domain)));
    }
    Ok((site, access))
}

/// The client's address (the peer, or what a trusted proxy says), for throttling.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(state.auth.client_address(parts)))
    }
}
