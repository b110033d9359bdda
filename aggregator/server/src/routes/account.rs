//! Signing in and the account of the person signed in: first-run setup, password sign-in,
//! the demo link, invitations, sign-out, password changes, sessions.
//!
//! Every failure answers a stable code (`invalid_credentials`, `too_many_attempts`,
//! `invalid_setup_code`...), and a sign-in for an unknown address answers exactly like a wrong
//! password, after the same argon2 work, so accounts cannot be enumerated.

use std::net::IpAddr;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use hitkeep_store::{AuditKind, InstanceRole, SessionRecord, Store, User};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest, same_bytes};
use crate::auth::{AnyPerson, ClientAddress, password, web};
use crate::error::AppError;
use crate::state::AppState;

/// Largest body of an auth request.
pub const MAX_AUTH_BODY: usize = 16 * 1024;

/// The demo account `serve --demo` signs in as.
pub const DEMO_EMAIL: &str = "demo@localhost";

/// The sign-in routes (with a request budget per client) and the account routes.
pub fn router(state: &AppState) -> Router<AppState> {
    let sign_in = Router::new()
        .route("/api/auth/status", get(status))
        .route("/api/auth/setup", post(setup))
        .route("/api/auth/login", post(login))
        .route("/api/auth/invitations/{code}", get(invitation))
        .route("/api/auth/invitations/accept", post(accept_invitation))
        .route("/login/demo", get(demo));
    let account = Router::new()
        .route("/api/auth/logout", post(logout))
        .route("/api/account", get(me).patch(change_profile))
        .route("/api/account/password", put(change_password))
        .route("/api/account/sessions", get(sessions).delete(end_all_sessions))
        .route("/api/account/sessions/others", delete(end_other_sessions))
        .route("/api/account/sessions/{id}", delete(end_session));
    sign_in
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), web::auth_rate_limit))
        .merge(account)
        .layer(DefaultBodyLimit::max(MAX_AUTH_BODY))
}

/// The person signed in, as `/api/account` shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Me {
    /// Account id.
    pub id: u32,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Instance role.
    pub role: String,
    /// Whether the account has a password.
    pub has_password: bool,
    /// Whether they have a confirmed second factor.
    pub has_second_factor: bool,
    /// Whether the instance requires one (and they cannot use the dashboard until they
    /// have one).
    pub second_factor_required: bool,
    /// Their site roles.
    pub sites: Vec<MySite>,
}

/// A site role of the person signed in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MySite {
    /// The site.
    pub domain: String,
    /// Their role there.
    pub role: String,
}

fn me_of(store: &Store, user: &User, second_factor_required: bool) -> hitkeep_store::Result<Me> {
    let sites = store
        .memberships_of(user.id)?
        .into_iter()
        .map(|membership| MySite { domain: membership.domain, role: membership.role.as_str().to_owned() })
        .collect();
    Ok(Me {
        id: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role.as_str().to_owned(),
        has_password: user.has_password,
        has_second_factor: !store.second_factor_methods(user.id)?.is_empty(),
        second_factor_required,
        sites,
    })
}

/// Opens a session for `user` and answers `status` with the account and the cookie.
pub async fn sign_in(
    state: &AppState,
    user: User,
    method: &str,
    headers: &HeaderMap,
    status: StatusCode,
) -> Result<Response, AppError> {
    let method = method.to_owned();
    let secret = SecretKind::Session.generate();
    let key = digest(&secret);
    let client = web::client_label(headers);
    let now = state.now_ms();
    let max_ms = state.auth.settings.session_max_ms;
    let required = state.auth.require_second_factor();
    let me = state
        .with_store(move |store| {
            store.add_session(&key, user.id, &method, &client, now, now + max_ms)?;
            store.audit(AuditKind::SignIn, Some(user.id), Some(user.id), &format!("method={method}"), now)?;
            me_of(store, &user, required)
        })
        .await?;
    let cookie = web::session_cookie_header(&secret, max_ms / 1000, state.auth.settings.secure);
    let mut response = (status, Json(me)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// What `/api/auth/status` says before anyone signs in.
#[derive(Debug, Serialize)]
struct Status {
    /// No account exists yet: the setup link creates the first owner.
    setup_required: bool,
    /// This instance sends e-mail: "forgot your password?" works.
    email_enabled: bool,
    /// The single sign-on provider's name, when there is one (`/login/oidc` signs in).
    oidc: Option<String>,
    /// Whether password sign-in works (not with single sign-on only).
    password_sign_in: bool,
}

async fn status(State(state): State<AppState>) -> Result<Json<Status>, AppError> {
    let owners = state.with_store(|store| store.owner_count()).await?;
    Ok(Json(Status {
        setup_required: owners == 0,
        email_enabled: state.mailer.is_some(),
        oidc: state.oidc.as_ref().map(|oidc| oidc.settings.name.clone()),
        password_sign_in: !crate::routes::sso::sso_only(&state),
    }))
}

/// Body of the first-run setup.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    /// The code of the printed setup link.
    pub code: String,
    /// The owner's e-mail address.
    pub email: String,
    /// Their password.
    pub password: String,
    /// Their name.
    #[serde(default)]
    pub name: String,
}

/// Creates the first owner with the setup code (used up) and signs them in.
pub async fn complete_setup(
    state: &AppState,
    body: SetupBody,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    if !SecretKind::Setup.matches(body.code.trim()) {
        return Err(hitkeep_store::Error::SetupCodeInvalid.into());
    }
    let email = hitkeep_store::normalize_email(&body.email)?;
    let key = digest(body.code.trim());
    let hash = new_password_hash(body.password, &email).await?;
    let now = state.now_ms();
    let name = body.name;
    let user = state
        .with_store(move |store| {
            let user = store.complete_setup(&key, &email, &name, &hash, now)?;
            store.audit(AuditKind::SetupCompleted, Some(user.id), Some(user.id), "", now)?;
            Ok::<_, hitkeep_store::Error>(user)
        })
        .await?;
    state.auth.forget();
    sign_in(state, user, "setup", headers, StatusCode::CREATED).await
}

async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SetupBody>,
) -> Result<Response, AppError> {
    complete_setup(&state, body, &headers).await
}

/// Body of a password sign-in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

fn invalid_credentials() -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong e-mail address or password")
}

/// Where a sign-in stands after its first step.
#[derive(Debug)]
pub enum SignInStep {
    /// Signed in: the answer with the account and the session cookie.
    Done(Response),
    /// The password was right and the account has a second factor: the code comes next.
    SecondFactor(Challenge),
}

/// The second step a sign-in waits for (`202` from `/api/auth/login`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    /// Always `true`: tells a client that the code comes next.
    pub second_factor_required: bool,
    /// What to send back with the code (`hkc_...`, valid a few minutes, for a few tries).
    pub challenge: String,
    /// What may be sent: `totp` and `recovery_code` (to `/api/auth/login/second-factor`),
    /// `passkey` (to `/api/auth/login/passkey/options`, then `/api/auth/login/passkey`).
    pub methods: Vec<String>,
    /// It ends at, ms since the epoch.
    pub expires_at_ms: i64,
}

/// How long the second step of a sign-in waits.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60_000;

/// Checks a password sign-in, with throttling and without revealing which accounts exist.
pub async fn password_sign_in(
    state: &AppState,
    client: IpAddr,
    body: LoginBody,
    headers: &HeaderMap,
) -> Result<SignInStep, AppError> {
    if crate::routes::sso::sso_only(state) {
        return Err(AppError::forbidden("sso_only", "this instance signs in with single sign-on only"));
    }
    let account = body.email.trim().to_lowercase();
    let now = state.now_ms();
    state.auth.throttle.check(&account, client, now).map_err(AppError::too_many)?;
    let lookup = account.clone();
    let found = state.with_store(move |store| store.user_for_sign_in(&lookup)).await?;
    // No account, or one without a password: the same argon2 work as a wrong password.
    let (user, stored, real) = match found {
        Some((user, Some(stored))) => (Some(user), stored, true),
        Some((user, None)) => (Some(user), password::decoy_hash().to_owned(), false),
        None => (None, password::decoy_hash().to_owned(), false),
    };
    let password = body.password;
    let (checked, check) = (password.clone(), stored.clone());
    let matched = password::off_thread(move || password::verify(&checked, &check)).await? && real;
    let (Some(user), true) = (user.clone(), matched) else {
        let throttled = state.auth.throttle.failed(&account, client, now);
        let user_id = user.map(|user| user.id);
        let reason = if user_id.is_some() { "reason=wrong_password" } else { "reason=unknown_account" };
        state
            .with_store(move |store| {
                store.audit(AuditKind::SignInFailed, user_id, None, reason, now)?;
                if throttled {
                    store.audit(AuditKind::SignInThrottled, user_id, None, "", now)?;
                }
                Ok::<_, hitkeep_store::Error>(())
            })
            .await?;
        return Err(invalid_credentials());
    };
    if password::needs_rehash(&stored) {
        let user_id = user.id;
        let hash = password::off_thread(move || password::hash(&password)).await?;
        state.with_store(move |store| store.set_password_hash(user_id, &hash)).await?;
    }
    let user_id = user.id;
    let methods = state.with_store(move |store| store.second_factor_methods(user_id)).await?;
    if methods.is_empty() {
        state.auth.throttle.succeeded(&account);
        return Ok(SignInStep::Done(sign_in(state, user, "password", headers, StatusCode::OK).await?));
    }
    // The account's failures stay counted until the code is right too: wrong codes add to
    // them, so guessing codes meets the same backoff as guessing passwords.
    let challenge = SecretKind::Challenge.generate();
    let key = digest(&challenge);
    let expires_at_ms = now + CHALLENGE_TTL_MS;
    state
        .with_store(move |store| store.add_sign_in_challenge(&key, user_id, "password", expires_at_ms))
        .await?;
    Ok(SignInStep::SecondFactor(Challenge {
        second_factor_required: true,
        challenge,
        methods: methods.into_iter().map(str::to_owned).collect(),
        expires_at_ms,
    }))
}

async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Result<Response, AppError> {
    Ok(match password_sign_in(&state, client, body, &headers).await? {
        SignInStep::Done(response) => response,
        SignInStep::SecondFactor(challenge) => {
            let mut response = (StatusCode::ACCEPTED, Json(challenge)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    })
}

/// Query of the demo sign-in link.
#[derive(Debug, Deserialize)]
struct DemoQuery {
    code: String,
}

/// `GET /login/demo?code=...`: the link `serve --demo` prints; signs in as the demo owner
/// and opens the dashboard.
async fn demo(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<DemoQuery>,
) -> Result<Response, AppError> {
    let valid = state.auth.settings.demo_code.is_some_and(|expected| {
        SecretKind::Demo.matches(&query.code) && same_bytes(&expected, &digest(&query.code))
    });
    if !valid {
        return Err(AppError::forbidden(
            "invalid_demo_code",
            "this demo link is not valid (it lasts as long as the server runs)",
        ));
    }
    let user = state.with_store(|store| store.user_by_email(DEMO_EMAIL)).await?;
    let mut response = sign_in(&state, user, "demo", &headers, StatusCode::SEE_OTHER).await?;
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/"));
    Ok(response)
}

/// What an invitation offers, for the page that accepts it.
#[derive(Debug, Serialize)]
struct InvitationView {
    email: String,
    role: String,
    site: Option<String>,
    site_role: Option<String>,
    expires_at_ms: i64,
}

async fn valid_invitation(state: &AppState, code: &str) -> Result<hitkeep_store::Invitation, AppError> {
    let invalid = || AppError::from(hitkeep_store::Error::InvitationInvalid);
    if !SecretKind::Invitation.matches(code) {
        return Err(invalid());
    }
    let key = digest(code);
    let invitation =
        state.with_store(move |store| store.invitation_by_digest(&key)).await?.ok_or_else(invalid)?;
    if invitation.expires_at_ms <= state.now_ms() {
        return Err(AppError::forbidden(
            "invitation_expired",
            "this invitation has expired; ask for a new one",
        ));
    }
    Ok(invitation)
}

async fn invitation(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<InvitationView>, AppError> {
    let invitation = valid_invitation(&state, &code).await?;
    let site = match invitation.site {
        Some((site_id, role)) => {
            let domain = state
                .with_store(move |store| {
                    Ok::<_, hitkeep_store::Error>(store.sites()?.into_iter().find(|s| s.id == site_id))
                })
                .await?
                .map(|site| site.domain);
            domain.map(|domain| (domain, role.as_str().to_owned()))
        }
        None => None,
    };
    Ok(Json(InvitationView {
        email: invitation.email,
        role: invitation.role.as_str().to_owned(),
        site: site.as_ref().map(|(domain, _)| domain.clone()),
        site_role: site.map(|(_, role)| role),
        expires_at_ms: invitation.expires_at_ms,
    }))
}

/// Body of an invitation's acceptance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    code: String,
    password: String,
    #[serde(default)]
    name: String,
}

async fn accept_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<AcceptBody>,
) -> Result<Response, AppError> {
    accept(&state, body.code, body.name, body.password, &headers).await
}

/// The address an invitation is for, if the code is valid now.
pub async fn invitation_email(state: &AppState, code: &str) -> Result<String, AppError> {
    Ok(valid_invitation(state, code.trim()).await?.email)
}

/// Accepts an invitation: creates the account with its roles and signs it in.
pub async fn accept(
    state: &AppState,
    code: String,
    name: String,
    new_password: String,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let invitation = valid_invitation(state, code.trim()).await?;
    let hash = new_password_hash(new_password, &invitation.email).await?;
    let now = state.now_ms();
    let user = state
        .with_store(move |store| {
            let user = store.accept_invitation(&invitation, &name, &hash, now)?;
            store.audit(AuditKind::InvitationAccepted, Some(user.id), invitation.invited_by, "", now)?;
            Ok::<_, hitkeep_store::Error>(user)
        })
        .await?;
    state.auth.forget();
    sign_in(state, user, "invitation", headers, StatusCode::CREATED).await
}

/// Ends the current session and tells the browser to forget it.
pub async fn end_current_session(state: &AppState, signed_in: &AnyPerson) -> Result<(), AppError> {
    let (user_id, session_id, now) = (signed_in.user().id, signed_in.session_id, state.now_ms());
    state
        .with_store(move |store| {
            store.remove_session(user_id, session_id)?;
            store.audit(AuditKind::SignOut, Some(user_id), Some(user_id), "", now)
        })
        .await?;
    state.auth.forget();
    Ok(())
}

fn signed_out() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in web::expired_session_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn logout(State(state): State<AppState>, signed_in: AnyPerson) -> Result<Response, AppError> {
    end_current_session(&state, &signed_in).await?;
    Ok(signed_out())
}

async fn me(State(state): State<AppState>, signed_in: AnyPerson) -> Result<Json<Me>, AppError> {
    let user = signed_in.user().clone();
    let required = state.auth.require_second_factor();
    Ok(Json(state.with_store(move |store| me_of(store, &user, required)).await?))
}

/// Body of `PATCH /api/account`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    /// The name to be shown by (empty: none).
    name: String,
}

/// `PATCH /api/account`: the person's own name (the e-mail address they sign in with stays;
/// roles are an administrator's to change).
async fn change_profile(
    State(state): State<AppState>,
    signed_in: crate::auth::SignedIn,
    Json(body): Json<ProfileBody>,
) -> Result<Json<Me>, AppError> {
    let user_id = signed_in.user().id;
    let required = state.auth.require_second_factor();
    let me = state
        .with_store(move |store| {
            let user = store.set_user_name(user_id, &body.name)?;
            me_of(store, &user, required)
        })
        .await?;
    // The cached account carries the name.
    state.auth.forget();
    Ok(Json(me))
}

/// Body of a password change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    /// The current password (not needed for an account that has none).
    #[serde(default)]
    current_password: Option<String>,
    new_password: String,
}

/// `PUT /api/account/password`: checks the current password, stores the new one and ends
/// every other session (whoever knew the old password is signed out).
async fn change_password(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    signed_in: AnyPerson,
    Json(body): Json<PasswordBody>,
) -> Result<StatusCode, AppError> {
    let user = signed_in.user().clone();
    let now = state.now_ms();
    password::check_new(&body.new_password, &user.email)
        .map_err(|weak| AppError::bad_request("weak_password", weak.to_string()))?;
    let user_id = user.id;
    confirm_password(&state, client, &user, body.current_password).await?;
    let hash = new_password_hash(body.new_password, &user.email).await?;
    let keep = signed_in.session_id;
    state
        .with_store(move |store| {
            store.set_password_hash(user_id, &hash)?;
            store.remove_sessions_of(user_id, Some(keep))?;
            store.audit(AuditKind::PasswordChanged, Some(user_id), Some(user_id), "", now)
        })
        .await?;
    state.auth.forget();
    Ok(StatusCode::NO_CONTENT)
}

/// Checks a new password against the rules (`400 weak_password`) and hashes it, off the
/// async threads. `email` is the account's ("" for a share link's password).
pub async fn new_password_hash(new_password: String, email: &str) -> Result<String, AppError> {
    password::check_new(&new_password, email)
        .map_err(|weak| AppError::bad_request("weak_password", weak.to_string()))?;
    Ok(password::off_thread(move || password::hash(&new_password)).await?)
}

/// Checks the password of the person signed in before a sensitive change (throttled like a
/// sign-in); `Ok(false)` when the account has no password to check (demo, invited by SSO).
pub async fn confirm_password(
    state: &AppState,
    client: IpAddr,
    user: &User,
    given: Option<String>,
) -> Result<bool, AppError> {
    let now = state.now_ms();
    state.auth.throttle.check(&user.email, client, now).map_err(AppError::too_many)?;
    let user_id = user.id;
    let Some(stored) = state.with_store(move |store| store.password_hash(user_id)).await? else {
        return Ok(false);
    };
    let given = given.unwrap_or_default();
    let matched = password::off_thread(move || password::verify(&given, &stored)).await?;
    if !matched {
        state.auth.throttle.failed(&user.email, client, now);
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the current password is wrong",
        ));
    }
    Ok(true)
}

/// A session as the account page lists it.
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionView {
    /// Its id (to end it).
    pub id: u64,
    /// How it was opened.
    pub method: String,
    /// The browser, coarsely.
    pub client: String,
    /// Opened at, ms since the epoch.
    pub created_at_ms: i64,
    /// Last used, ms since the epoch.
    pub last_seen_at_ms: i64,
    /// Ends at the latest, ms since the epoch.
    pub expires_at_ms: i64,
    /// The session of this request.
    pub current: bool,
}

fn session_view(session: SessionRecord, current: u64) -> SessionView {
    SessionView {
        id: session.id,
        method: session.method,
        client: session.client,
        created_at_ms: session.created_at_ms,
        last_seen_at_ms: session.last_seen_at_ms,
        expires_at_ms: session.expires_at_ms,
        current: session.id == current,
    }
}

async fn sessions(
    State(state): State<AppState>,
    signed_in: AnyPerson,
) -> Result<Json<Vec<SessionView>>, AppError> {
    let user_id = signed_in.user().id;
    let (now, idle) = (state.now_ms(), state.auth.settings.session_idle_ms);
    let sessions = state.with_store(move |store| store.sessions_of(user_id)).await?;
    Ok(Json(
        sessions
            .into_iter()
            .filter(|session| session.expires_at_ms > now && now - session.last_seen_at_ms <= idle)
            .map(|session| session_view(session, signed_in.session_id))
            .collect(),
    ))
}

async fn end_session(
    State(state): State<AppState>,
    signed_in: AnyPerson,
    Path(id): Path<u64>,
) -> Result<Response, AppError> {
    if id == signed_in.session_id {
        end_current_session(&state, &signed_in).await?;
        return Ok(signed_out());
    }
    let (user_id, now) = (signed_in.user().id, state.now_ms());
    let removed = state
        .with_store(move |store| {
            let removed = store.remove_session(user_id, id)?;
            if removed {
                store.audit(
                    AuditKind::SessionRevoked,
                    Some(user_id),
                    Some(user_id),
                    &format!("session={id}"),
                    now,
                )?;
            }
            Ok::<_, hitkeep_store::Error>(removed)
        })
        .await?;
    if !removed {
        return Err(AppError::new(StatusCode::NOT_FOUND, "session_not_found", "no such session of yours"));
    }
    state.auth.forget();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn end_sessions(state: &AppState, signed_in: &AnyPerson, keep: Option<u64>) -> Result<(), AppError> {
    let (user_id, now) = (signed_in.user().id, state.now_ms());
    state
        .with_store(move |store| {
            let ended = store.remove_sessions_of(user_id, keep)?;
            store.audit(
                AuditKind::SessionRevoked,
                Some(user_id),
                Some(user_id),
                &format!("sessions={ended}"),
                now,
            )
        })
        .await?;
    state.auth.forget();
    Ok(())
}

/// `DELETE /api/account/sessions/others`: sign out everywhere else.
async fn end_other_sessions(
    State(state): State<AppState>,
    signed_in: AnyPerson,
) -> Result<StatusCode, AppError> {
    end_sessions(&state, &signed_in, Some(signed_in.session_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/account/sessions`: sign out everywhere, here too.
async fn end_all_sessions(State(state): State<AppState>, signed_in: AnyPerson) -> Result<Response, AppError> {
    end_sessions(&state, &signed_in, None).await?;
    Ok(signed_out())
}

/// Creates the demo owner when missing (for `serve --demo`).
pub fn ensure_demo_user(store: &Store, now_ms: i64) -> hitkeep_store::Result<User> {
    match store.user_by_email(DEMO_EMAIL) {
        Ok(user) => Ok(user),
        Err(hitkeep_store::Error::UserNotFound) => {
            store.add_user(DEMO_EMAIL, "Demo", None, InstanceRole::Owner, now_ms)
        }
        Err(error) => Err(error),
    }
}
