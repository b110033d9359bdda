//! Second factors: TOTP enrolment and removal, recovery codes, the second step of a
//! sign-in, and the instance's policy that everyone must have one.
//!
//! Enrolment is two calls: `POST /api/account/totp` (with the password) makes a secret and
//! answers it with its `otpauth://` URL and a QR code drawn here, as SVG (no third party
//! ever sees the secret); `POST /api/account/totp/confirm` with a first code turns it on and
//! answers the ten recovery codes, shown this once.
//!
//! A sign-in with a password then stops at `202` with a challenge (see
//! [`crate::routes::account::SignInStep`]); `POST /api/auth/login/second-factor` with the
//! challenge and a code finishes it. Each code is accepted once (`code_already_used`), each
//! challenge takes [`CHALLENGE_ATTEMPTS`] wrong codes, and wrong codes count against the
//! account's sign-in backoff like wrong passwords.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use hitkeep_store::{AuditKind, REQUIRE_SECOND_FACTOR, TotpFactor, User};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{AnyPerson, ClientAddress, InstanceAdmin, totp, web};
use crate::error::AppError;
use crate::routes::account::{self, MAX_AUTH_BODY};
use crate::state::AppState;

/// Wrong codes a sign-in challenge takes before it ends.
pub const CHALLENGE_ATTEMPTS: u32 = 5;

/// The name authenticator apps show for this instance's codes.
const ISSUER: &str = "Hitkeep";

/// The routes.
pub fn router(state: &AppState) -> Router<AppState> {
    let second_step = Router::new()
        .route("/api/auth/login/second-factor", post(second_factor))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), web::auth_rate_limit));
    Router::new()
        .route("/api/account/factors", get(factors))
        .route("/api/account/totp", post(begin_totp).delete(remove_totp))
        .route("/api/account/totp/confirm", post(confirm_totp))
        .route("/api/account/recovery-codes", post(replace_recovery_codes))
        .route("/api/instance/settings", get(instance_settings).put(change_instance_settings))
        .merge(second_step)
        .layer(DefaultBodyLimit::max(MAX_AUTH_BODY))
}

/// A person's second factors, as the account page shows them.
#[derive(Debug, Serialize, Deserialize)]
pub struct FactorsView {
    /// The authenticator app, when one is set up or being set up.
    pub totp: Option<TotpView>,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// Whether the instance requires a second factor.
    pub required: bool,
}

/// A TOTP factor.
#[derive(Debug, Serialize, Deserialize)]
pub struct TotpView {
    /// Confirmed with a first code (else enrolment is under way).
    pub confirmed: bool,
    /// Enrolment began at, ms since the epoch.
    pub created_at_ms: i64,
}

async fn factors(State(state): State<AppState>, person: AnyPerson) -> Result<Json<FactorsView>, AppError> {
    let user_id = person.user().id;
    let (factor, left) = state
        .with_store(move |store| {
            Ok::<_, hitkeep_store::Error>((store.totp_factor(user_id)?, store.recovery_codes_left(user_id)?))
        })
        .await?;
    Ok(Json(FactorsView {
        totp: factor
            .map(|factor| TotpView { confirmed: factor.confirmed, created_at_ms: factor.created_at_ms }),
        recovery_codes_left: left,
        required: state.auth.require_second_factor(),
    }))
}

/// Body of the routes that re-check the password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    /// The current password (accounts without one send none).
    #[serde(default)]
    password: Option<String>,
}

/// What enrolment shows: the secret three ways.
#[derive(Debug, Serialize, Deserialize)]
pub struct Enrolment {
    /// The secret in base32, to type in.
    pub secret: String,
    /// The `otpauth://` URL (what the QR code holds).
    pub otpauth_url: String,
    /// The QR code, as an SVG document drawn by this server.
    pub qr_svg: String,
}

fn factor_exists() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "factor_exists",
        "an authenticator app is set up already; remove it first to set up another",
    )
}

/// The purpose a TOTP secret is sealed for: bound to the account, so it opens for no other.
fn totp_purpose(user_id: u32) -> String {
    format!("totp:{user_id}")
}

/// `POST /api/account/totp`: starts (or restarts) enrolment.
async fn begin_totp(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    person: AnyPerson,
    Json(body): Json<PasswordBody>,
) -> Result<(StatusCode, Json<Enrolment>), AppError> {
    Ok((StatusCode::CREATED, Json(begin_enrolment(&state, client, person.user(), body.password).await?)))
}

/// Starts (or restarts) setting up an authenticator app, with the person's password.
pub async fn begin_enrolment(
    state: &AppState,
    client: std::net::IpAddr,
    user: &User,
    password: Option<String>,
) -> Result<Enrolment, AppError> {
    let user = user.clone();
    account::confirm_password(state, client, &user, password).await?;
    let secret = totp::new_secret();
    let sealed = state.auth.sealer.seal(&totp_purpose(user.id), &secret);
    let (user_id, now) = (user.id, state.now_ms());
    let began = state.with_store(move |store| store.begin_totp(user_id, &sealed, now)).await?;
    if !began {
        return Err(factor_exists());
    }
    let otpauth_url = totp::otpauth_url(&secret, ISSUER, &user.email);
    let qr_svg = totp::qr_svg(&otpauth_url);
    Ok(Enrolment { secret: totp::base32(&secret), otpauth_url, qr_svg })
}

/// Body of the routes that take a code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

/// New recovery codes, shown once.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecoveryCodes {
    /// Ten codes of the form `xxxx-xxxx-xxxx-xxxx`, each usable once.
    pub recovery_codes: Vec<String>,
}

fn invalid_code(status: StatusCode) -> AppError {
    AppError::new(status, "invalid_code", "that code is not right")
}

fn code_already_used(status: StatusCode) -> AppError {
    AppError::new(
        status,
        "code_already_used",
        "that code was used already; wait for the next one in your authenticator app",
    )
}

fn no_authenticator() -> AppError {
    AppError::new(StatusCode::CONFLICT, "no_authenticator", "no authenticator app is set up")
}

/// The secret of a factor, unsealed.
fn open_secret(state: &AppState, factor: &TotpFactor) -> Result<Vec<u8>, AppError> {
    state.auth.sealer.open(&totp_purpose(factor.user_id), &factor.secret_sealed).ok_or_else(|| {
        AppError::internal(
            "the TOTP secret does not open with this data directory's secret.key (was the key file replaced?)",
        )
    })
}

/// Checks a TOTP code against the person's factor and accepts its step once, on the store's
/// clock of steps; with `confirm`, also confirms an enrolment with these recovery codes.
async fn accept_code(
    state: &AppState,
    client: std::net::IpAddr,
    user: &User,
    factor: &TotpFactor,
    code: &str,
    confirm: Option<Vec<[u8; 32]>>,
    status: StatusCode,
) -> Result<(), AppError> {
    let now = state.now_ms();
    let secret = open_secret(state, factor)?;
    let Some(step) = totp::check(&secret, code, now) else {
        state.auth.throttle.failed(&user.email, client, now);
        return Err(invalid_code(status));
    };
    let user_id = user.id;
    let accepted =
        state.with_store(move |store| store.accept_totp_step(user_id, step, confirm.as_deref())).await?;
    if !accepted {
        return Err(code_already_used(status));
    }
    Ok(())
}

/// `POST /api/account/totp/confirm`: the first code turns the authenticator on; answers the
/// recovery codes.
async fn confirm_totp(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    person: AnyPerson,
    Json(body): Json<CodeBody>,
) -> Result<Json<RecoveryCodes>, AppError> {
    Ok(Json(confirm_enrolment(&state, client, person.user(), &body.code).await?))
}

/// Turns the authenticator app on with its first code; the recovery codes, shown once.
pub async fn confirm_enrolment(
    state: &AppState,
    client: std::net::IpAddr,
    user: &User,
    code: &str,
) -> Result<RecoveryCodes, AppError> {
    let user = user.clone();
    let now = state.now_ms();
    state.auth.throttle.check(&user.email, client, now).map_err(AppError::too_many)?;
    let user_id = user.id;
    let factor = state.with_store(move |store| store.totp_factor(user_id)).await?.ok_or_else(|| {
        AppError::new(StatusCode::CONFLICT, "no_enrolment", "start setting up an authenticator app first")
    })?;
    if factor.confirmed {
        return Err(factor_exists());
    }
    let (codes, digests) = totp::new_recovery_codes();
    accept_code(state, client, &user, &factor, code, Some(digests), StatusCode::BAD_REQUEST).await?;
    state
        .with_store(move |store| {
            store.audit(AuditKind::FactorAdded, Some(user_id), Some(user_id), "factor=totp", now)
        })
        .await?;
    state.auth.forget();
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// Body of the authenticator's removal: the password, or for an account without one a
/// current code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveBody {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// `DELETE /api/account/totp`: removes the authenticator and the recovery codes.
async fn remove_totp(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    person: AnyPerson,
    Json(body): Json<RemoveBody>,
) -> Result<StatusCode, AppError> {
    let user = person.user().clone();
    let user_id = user.id;
    let factor =
        state.with_store(move |store| store.totp_factor(user_id)).await?.ok_or_else(no_authenticator)?;
    let checked_password = account::confirm_password(&state, client, &user, body.password).await?;
    if !checked_password && factor.confirmed {
        let code = body.code.unwrap_or_default();
        accept_code(&state, client, &user, &factor, &code, None, StatusCode::BAD_REQUEST).await?;
    }
    let now = state.now_ms();
    state
        .with_store(move |store| {
            store.remove_totp(user_id)?;
            store.audit(AuditKind::FactorRemoved, Some(user_id), Some(user_id), "factor=totp", now)
        })
        .await?;
    state.auth.forget();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/recovery-codes`: a new set (with a current code), the old ones void.
async fn replace_recovery_codes(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    person: AnyPerson,
    Json(body): Json<CodeBody>,
) -> Result<Json<RecoveryCodes>, AppError> {
    let user = person.user().clone();
    let now = state.now_ms();
    state.auth.throttle.check(&user.email, client, now).map_err(AppError::too_many)?;
    let user_id = user.id;
    let factor = state
        .with_store(move |store| store.totp_factor(user_id))
        .await?
        .filter(|factor| factor.confirmed)
        .ok_or_else(no_authenticator)?;
    accept_code(&state, client, &user, &factor, &body.code, None, StatusCode::BAD_REQUEST).await?;
    let (codes, digests) = totp::new_recovery_codes();
    state
        .with_store(move |store| {
            store.set_recovery_codes(user_id, &digests)?;
            store.audit(AuditKind::RecoveryCodesReplaced, Some(user_id), Some(user_id), "", now)
        })
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes: codes }))
}

/// Body of a sign-in's second step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorBody {
    /// The challenge the password step answered.
    pub challenge: String,
    /// Six digits from the authenticator app, or a recovery code.
    pub code: String,
}

fn challenge_expired() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "challenge_expired",
        "this sign-in has expired or had too many wrong codes; sign in again",
    )
}

/// Whether what was typed is an authenticator code (six digits) rather than a recovery code.
fn is_totp_code(code: &str) -> bool {
    let digits: Vec<u8> = code.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.len() == 6 && digits.iter().all(u8::is_ascii_digit)
}

/// The sign-in challenge `challenge` names, if it is still open: its digest and record.
pub async fn open_challenge(
    state: &AppState,
    challenge: &str,
) -> Result<([u8; 32], hitkeep_store::SignInChallenge), AppError> {
    let challenge = challenge.trim();
    if !SecretKind::Challenge.matches(challenge) {
        return Err(challenge_expired());
    }
    let key = digest(challenge);
    let now = state.now_ms();
    let found = state.with_store(move |store| store.sign_in_challenge(&key)).await?;
    let found = found.filter(|found| found.expires_at_ms > now).ok_or_else(challenge_expired)?;
    Ok((key, found))
}

/// Counts a wrong second factor against the challenge (ending it after
/// [`CHALLENGE_ATTEMPTS`]) and, with `backoff`, the account's sign-in backoff, and records
/// it; answers `error`.
pub async fn fail_challenge(
    state: &AppState,
    client: std::net::IpAddr,
    key: [u8; 32],
    user: &User,
    error: AppError,
    backoff: bool,
) -> AppError {
    let now = state.now_ms();
    if backoff {
        state.auth.throttle.failed(&user.email, client, now);
    }
    let (user_id, reason) = (user.id, format!("reason={}", error.code()));
    let recorded = state
        .with_store(move |store| {
            store.fail_sign_in_challenge(&key, CHALLENGE_ATTEMPTS)?;
            store.audit(AuditKind::SignInFailed, Some(user_id), None, &reason, now)
        })
        .await;
    match recorded {
        Ok(()) => error,
        Err(internal) => internal,
    }
}

/// Ends a challenge whose second factor was right and opens the session, its method the
/// first step's and the second's (`password+totp`).
pub async fn finish_challenge(
    state: &AppState,
    key: [u8; 32],
    challenge: &hitkeep_store::SignInChallenge,
    user: User,
    second: &str,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    state.auth.throttle.succeeded(&user.email);
    state.with_store(move |store| store.remove_sign_in_challenge(&key)).await?;
    let method = format!("{}+{second}", challenge.method);
    account::sign_in(state, user, &method, headers, StatusCode::OK).await
}

/// Finishes a sign-in with its authenticator app or a recovery code.
pub async fn second_factor_sign_in(
    state: &AppState,
    client: std::net::IpAddr,
    body: SecondFactorBody,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let (key, challenge) = open_challenge(state, &body.challenge).await?;
    let now = state.now_ms();
    let user_id = challenge.user_id;
    let (user, factor) = state
        .with_store(move |store| {
            Ok::<_, hitkeep_store::Error>((store.user(user_id)?, store.totp_factor(user_id)?))
        })
        .await?;
    state.auth.throttle.check(&user.email, client, now).map_err(AppError::too_many)?;
    let factor = factor.filter(|factor| factor.confirmed).ok_or_else(challenge_expired)?;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let outcome = if is_totp_code(&body.code) {
        accept_code(state, client, &user, &factor, &body.code, None, unauthorized).await.map(|()| "totp")
    } else {
        match totp::recovery_digest(&body.code) {
            Some(code) => {
                let used =
                    state.with_store(move |store| store.use_recovery_code(user_id, &code, now)).await?;
                if used { Ok("recovery_code") } else { Err(invalid_code(unauthorized)) }
            }
            None => Err(invalid_code(unauthorized)),
        }
    };
    let second = match outcome {
        Ok(second) => second,
        // `accept_code` counted a wrong authenticator code against the backoff already.
        Err(error) => {
            let counted = is_totp_code(&body.code);
            return Err(fail_challenge(state, client, key, &user, error, !counted).await);
        }
    };
    if second == "recovery_code" {
        state
            .with_store(move |store| {
                let left = store.recovery_codes_left(user_id)?;
                store.audit(
                    AuditKind::RecoveryCodeUsed,
                    Some(user_id),
                    Some(user_id),
                    &format!("left={left}"),
                    now,
                )
            })
            .await?;
    }
    finish_challenge(state, key, &challenge, user, second, headers).await
}

async fn second_factor(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Json(body): Json<SecondFactorBody>,
) -> Result<Response, AppError> {
    second_factor_sign_in(&state, client, body, &headers).await
}

/// The instance's security settings.
#[derive(Debug, Serialize, Deserialize)]
pub struct InstanceSettings {
    /// Everyone must have a second factor to use the dashboard and the API.
    pub require_second_factor: bool,
}

/// What the settings page shows beside them.
#[derive(Debug, Serialize, Deserialize)]
pub struct InstanceSettingsView {
    /// The settings.
    #[serde(flatten)]
    pub settings: InstanceSettings,
    /// Accounts without a second factor (who are locked out of all but their account page
    /// while it is required).
    pub people_without_second_factor: u32,
}

async fn settings_view(state: &AppState) -> Result<InstanceSettingsView, AppError> {
    let (users, with_factor) = state
        .with_store(|store| {
            Ok::<_, hitkeep_store::Error>((store.users()?, store.users_with_second_factor()?))
        })
        .await?;
    let without = users.iter().filter(|user| !with_factor.contains(&user.id)).count();
    Ok(InstanceSettingsView {
        settings: InstanceSettings { require_second_factor: state.auth.require_second_factor() },
        people_without_second_factor: u32::try_from(without).unwrap_or(u32::MAX),
    })
}

async fn instance_settings(
    State(state): State<AppState>,
    _admin: InstanceAdmin,
) -> Result<Json<InstanceSettingsView>, AppError> {
    Ok(Json(settings_view(&state).await?))
}

/// `PUT /api/instance/settings`. Requiring a second factor needs one of your own first, so
/// that an admin cannot lock themselves out.
async fn change_instance_settings(
    State(state): State<AppState>,
    InstanceAdmin(admin): InstanceAdmin,
    Json(body): Json<InstanceSettings>,
) -> Result<Json<InstanceSettingsView>, AppError> {
    let required = body.require_second_factor;
    if required && !admin.person.has_second_factor {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "enroll_first",
            "set up a second factor for your own account before requiring one of everyone",
        ));
    }
    if required != state.auth.require_second_factor() {
        let (user_id, now) = (admin.user().id, state.now_ms());
        state
            .with_store(move |store| {
                store.set_setting(REQUIRE_SECOND_FACTOR, if required { "true" } else { "false" })?;
                let detail = format!("{REQUIRE_SECOND_FACTOR}={required}");
                store.audit(AuditKind::SettingChanged, None, Some(user_id), &detail, now)
            })
            .await?;
        state.auth.set_require_second_factor(required);
    }
    Ok(Json(settings_view(&state).await?))
}

/// The operator's reset of a person's factors (`hitkeep user reset-factors EMAIL`): for the
/// one who lost both their phone and their recovery codes.
pub async fn reset_factors(state: &AppState, email: String) -> Result<User, AppError> {
    let now = state.now_ms();
    let user = state
        .with_store(move |store| {
            let user = store.user_by_email(&email)?;
            if store.remove_totp(user.id)? {
                store.audit(AuditKind::FactorRemoved, Some(user.id), None, "factor=totp by=operator", now)?;
            }
            Ok::<_, hitkeep_store::Error>(user)
        })
        .await?;
    state.auth.forget();
    Ok(user)
}
