//! Password reset by e-mail, when SMTP is configured (`smtp_host`, see the README).
//!
//! `POST /api/auth/password-reset` with `{"email"}` always answers `202` at once, whether an
//! account has that address or not; only afterwards, for an existing account, a link
//! (`/reset?code=hkr_...`, valid [`RESET_TTL_MS`], once) is mailed, at most once per
//! [`RESET_SPACING_MS`]. `POST /api/auth/password-reset/complete` with `{"code",
//! "password"}` sets the new password and ends every session of the account; a second factor
//! stays, and is still asked for at the next sign-in, so a stolen mailbox alone does not
//! open an account that has one.
//!
//! Without SMTP the request answers `409 email_not_configured`, and the operator sets a
//! password from the shell: `hitkeep user set-password EMAIL`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use hitkeep_store::{AuditKind, User};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{ClientAddress, web};
use crate::error::AppError;
use crate::routes::account::{self, MAX_AUTH_BODY};
use crate::state::AppState;

/// How long a reset link works.
pub const RESET_TTL_MS: i64 = 3_600_000;
/// The least time between two reset mails to one account.
pub const RESET_SPACING_MS: i64 = 60_000;

/// The routes.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/auth/password-reset", post(request_api))
        .route("/api/auth/password-reset/complete", post(complete_api))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), web::auth_rate_limit))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_AUTH_BODY))
}

/// Body of a reset request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's e-mail address.
    pub email: String,
}

/// The answer to a reset request: the same for every address.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResetRequested {
    /// What happens now, for people.
    pub message: String,
}

fn email_not_configured() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "email_not_configured",
        "this instance sends no e-mail; an administrator can set a new password with `hitkeep user set-password`",
    )
}

/// Takes a reset request. The lookup, the link and the mail happen after the answer, so
/// that neither the answer nor its timing tells whether an account has the address.
pub async fn request(
    state: &AppState,
    client: std::net::IpAddr,
    email: &str,
) -> Result<ResetRequested, AppError> {
    let mailer = state.mailer.clone().ok_or_else(email_not_configured)?;
    let email = hitkeep_store::normalize_email(email)?;
    let now = state.now_ms();
    state.auth.reset_limit.take(client, now).map_err(AppError::too_many)?;
    let state = state.clone();
    tokio::spawn(async move {
        let lookup = email.clone();
        let found = state
            .with_store(move |store| {
                let user = match store.user_by_email(&lookup) {
                    Ok(user) => user,
                    Err(hitkeep_store::Error::UserNotFound) => return Ok(None),
                    Err(error) => return Err(error),
                };
                let recent = store
                    .latest_password_reset(user.id)?
                    .is_some_and(|reset| now - reset.created_at_ms < RESET_SPACING_MS);
                if recent {
                    return Ok(None);
                }
                let code = SecretKind::PasswordReset.generate();
                store.add_password_reset(&digest(&code), user.id, now, now + RESET_TTL_MS)?;
                store.audit(AuditKind::PasswordResetRequested, Some(user.id), None, "", now)?;
                Ok::<_, hitkeep_store::Error>(Some(code))
            })
            .await;
        match found {
            Ok(Some(code)) => {
                let link = format!("{}/reset?code={code}", mailer.base_url());
                let body = format!(
                    "Someone asked to reset the password of the Hitkeep account {email} at {}.\n\n\
                     To choose a new password, open this link within the hour (it works once):\n\n{link}\n\n\
                     If it was not you, ignore this message: the password stays as it is.\n",
                    mailer.base_url()
                );
                if let Err(error) = mailer.send(&email, "Reset your Hitkeep password", body).await {
                    tracing::warn!(%error, "password reset mail not sent");
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %error.message(), "password reset not recorded"),
        }
    });
    Ok(ResetRequested {
        message:
            "if an account has this address, a link to reset its password is on its way; it works for an hour"
                .into(),
    })
}

async fn request_api(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Json(body): Json<ResetRequest>,
) -> Result<(StatusCode, Json<ResetRequested>), AppError> {
    Ok((StatusCode::ACCEPTED, Json(request(&state, client, &body.email).await?)))
}

/// Body of a reset.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The code of the mailed link.
    pub code: String,
    /// The new password.
    pub password: String,
}

/// The account a reset code is for, if it still works.
pub async fn account_of(state: &AppState, code: &str) -> Result<User, AppError> {
    if !SecretKind::PasswordReset.matches(code) {
        return Err(hitkeep_store::Error::ResetCodeInvalid.into());
    }
    let (key, now) = (digest(code), state.now_ms());
    state
        .with_store(move |store| store.password_reset(&key, now))
        .await?
        .ok_or_else(|| hitkeep_store::Error::ResetCodeInvalid.into())
}

/// Sets the new password with a reset code, ending the account's sessions.
pub async fn complete(state: &AppState, body: ResetBody) -> Result<User, AppError> {
    let code = body.code.trim().to_owned();
    let user = account_of(state, &code).await?;
    let hash = account::new_password_hash(body.password, &user.email).await?;
    let (key, now) = (digest(&code), state.now_ms());
    let user = state
        .with_store(move |store| {
            let user = store.complete_password_reset(&key, &hash, now)?;
            store.audit(AuditKind::PasswordReset, Some(user.id), Some(user.id), "", now)?;
            Ok::<_, hitkeep_store::Error>(user)
        })
        .await?;
    state.auth.forget();
    state.auth.throttle.succeeded(&user.email);
    Ok(user)
}

/// The answer to a reset.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResetDone {
    /// The account, to sign in with.
    pub email: String,
}

async fn complete_api(
    State(state): State<AppState>,
    Json(body): Json<ResetBody>,
) -> Result<Json<ResetDone>, AppError> {
    let user = complete(&state, body).await?;
    Ok(Json(ResetDone { email: user.email }))
}
