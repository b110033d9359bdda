//! Passkeys: registering them on the account page, signing in with one alone (a
//! discoverable credential names its account, so nobody types an address), and using one as
//! the second step of a password sign-in.
//!
//! Every ceremony is two calls (see [`crate::auth::passkeys`]): `.../options` answers
//! `{"ceremony", "options"}`, where `options` is what `navigator.credentials.create` or
//! `.get` takes as `publicKey` (binary fields in base64url), and the second call brings
//! `{"ceremony", "credential"}` with the authenticator's answer (base64url too). Passkeys
//! require user verification (PIN or biometrics), so a passkey alone is two factors.
//! Signature counters are checked and kept, so a cloned authenticator is noticed.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hitkeep_store::{AuditKind, StoredPasskey};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Uuid};

use crate::auth::passkeys::Ceremony;
use crate::auth::{AnyPerson, ClientAddress, web};
use crate::error::AppError;
use crate::routes::account::{self, MAX_AUTH_BODY};
use crate::routes::factors;
use crate::state::AppState;

/// The routes.
pub fn router(state: &AppState) -> Router<AppState> {
    let public = Router::new()
        .route("/api/auth/passkey/options", post(sign_in_options))
        .route("/api/auth/passkey", post(sign_in))
        .route("/api/auth/login/passkey/options", post(second_factor_options))
        .route("/api/auth/login/passkey", post(second_factor))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), web::auth_rate_limit));
    Router::new()
        .route("/api/account/passkeys", get(list).post(register))
        .route("/api/account/passkeys/options", post(register_options))
        .route("/api/account/passkeys/{id}", delete(remove))
        .merge(public)
        .layer(DefaultBodyLimit::max(MAX_AUTH_BODY))
}

/// A passkey as its person sees it.
#[derive(Debug, Serialize, Deserialize)]
pub struct PasskeyView {
    /// Its id (to remove it).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Registered at, ms since the epoch.
    pub created_at_ms: i64,
    /// Last signed in with.
    pub last_used_at_ms: Option<i64>,
}

impl From<StoredPasskey> for PasskeyView {
    fn from(passkey: StoredPasskey) -> Self {
        Self {
            id: passkey.id,
            name: passkey.name,
            created_at_ms: passkey.created_at_ms,
            last_used_at_ms: passkey.last_used_at_ms,
        }
    }
}

/// The first answer of a ceremony.
#[derive(Debug, Serialize, Deserialize)]
pub struct Options {
    /// What to send back with the authenticator's answer.
    pub ceremony: String,
    /// `publicKey` for `navigator.credentials.create` or `.get`.
    pub options: serde_json::Value,
}

fn invalid_passkey(detail: impl std::fmt::Display) -> AppError {
    tracing::debug!(%detail, "passkey refused");
    AppError::new(StatusCode::UNAUTHORIZED, "invalid_passkey", "that passkey is not valid here")
}

fn ceremony_expired() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "ceremony_expired",
        "this passkey request has ended or was used; start again",
    )
}

fn open(state: &AppState, ceremony: Ceremony, options: serde_json::Value) -> Result<Options, AppError> {
    let ceremony = state.passkeys.open(ceremony, state.now_ms()).ok_or_else(|| {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_ceremonies",
            "too many passkey requests at once",
        )
    })?;
    Ok(Options { ceremony, options })
}

/// The `publicKey` member of webauthn-rs's options, as JSON.
fn public_key(options: impl Serialize) -> Result<serde_json::Value, AppError> {
    let mut value = serde_json::to_value(options).map_err(AppError::internal)?;
    Ok(value.get_mut("publicKey").map(serde_json::Value::take).unwrap_or(value))
}

fn parse(stored: &StoredPasskey) -> Result<Passkey, AppError> {
    serde_json::from_str(&stored.passkey)
        .map_err(|error| AppError::internal(format!("stored passkey: {error}")))
}

fn serialize(passkey: &Passkey) -> Result<String, AppError> {
    serde_json::to_string(passkey).map_err(AppError::internal)
}

async fn list(State(state): State<AppState>, person: AnyPerson) -> Result<Json<Vec<PasskeyView>>, AppError> {
    let user_id = person.user().id;
    let passkeys = state.with_store(move |store| store.passkeys_of(user_id)).await?;
    Ok(Json(passkeys.into_iter().map(PasskeyView::from).collect()))
}

/// Body of a registration's start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterStart {
    /// A name for it ("laptop").
    name: String,
    /// The current password (accounts without one send none).
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/account/passkeys/options`: starts registering a passkey (with the password).
async fn register_options(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    person: AnyPerson,
    Json(body): Json<RegisterStart>,
) -> Result<Json<Options>, AppError> {
    hitkeep_store::validate_passkey_name(body.name.trim())?;
    let user = person.user().clone();
    account::confirm_password(&state, client, &user, body.password).await?;
    let user_id = user.id;
    let mut candidate = [0u8; 16];
    getrandom::fill(&mut candidate).expect("the operating system provides randomness");
    let (handle, existing) = state
        .with_store(move |store| {
            Ok::<_, hitkeep_store::Error>((
                store.webauthn_handle(user_id, &candidate)?,
                store.passkeys_of(user_id)?,
            ))
        })
        .await?;
    let handle = Uuid::from_slice(&handle).map_err(AppError::internal)?;
    let exclude = existing
        .iter()
        .map(|stored| parse(stored).map(|key| key.cred_id().clone()))
        .collect::<Result<_, _>>()?;
    let display = if user.name.is_empty() { user.email.clone() } else { user.name.clone() };
    let (challenge, registration) = state
        .passkeys
        .webauthn
        .start_passkey_registration(handle, &user.email, &display, Some(exclude))
        .map_err(AppError::internal)?;
    let mut options = public_key(challenge)?;
    // Ask for a discoverable credential where the authenticator can keep one, so that the
    // passkey also signs in without an address (webauthn-rs asks for none).
    if let Some(selection) =
        options.get_mut("authenticatorSelection").and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "preferred".into());
    }
    let ceremony = Ceremony::Register { user_id, name: body.name.trim().to_owned(), state: registration };
    Ok(Json(open(&state, ceremony, options)?))
}

/// Body of a registration's end.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFinish {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /api/account/passkeys`: the authenticator's answer registers the passkey.
async fn register(
    State(state): State<AppState>,
    person: AnyPerson,
    Json(body): Json<RegisterFinish>,
) -> Result<(StatusCode, Json<PasskeyView>), AppError> {
    let now = state.now_ms();
    let user_id = person.user().id;
    let Some(Ceremony::Register { user_id: owner, name, state: registration }) =
        state.passkeys.take(&body.ceremony, now)
    else {
        return Err(ceremony_expired());
    };
    if owner != user_id {
        return Err(ceremony_expired());
    }
    let passkey =
        state.passkeys.webauthn.finish_passkey_registration(&body.credential, &registration).map_err(
            |error| {
                AppError::bad_request(
                    "invalid_passkey",
                    format!("the authenticator's answer is not valid: {error}"),
                )
            },
        )?;
    let json = serialize(&passkey)?;
    let credential_id = passkey.cred_id().to_vec();
    let stored = state
        .with_store(move |store| {
            let stored = store.add_passkey(user_id, &name, &credential_id, &json, now)?;
            store.audit(AuditKind::FactorAdded, Some(user_id), Some(user_id), "factor=passkey", now)?;
            Ok::<_, hitkeep_store::Error>(stored)
        })
        .await?;
    state.auth.forget();
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// Body of a passkey's removal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveBody {
    #[serde(default)]
    password: Option<String>,
}

/// `DELETE /api/account/passkeys/{id}` (with the password).
async fn remove(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    person: AnyPerson,
    Path(id): Path<u32>,
    Json(body): Json<RemoveBody>,
) -> Result<StatusCode, AppError> {
    let user = person.user().clone();
    account::confirm_password(&state, client, &user, body.password).await?;
    let (user_id, now) = (user.id, state.now_ms());
    state
        .with_store(move |store| {
            let removed = store.remove_passkey(user_id, id)?;
            let detail = format!("factor=passkey name={}", removed.name);
            store.audit(AuditKind::FactorRemoved, Some(user_id), Some(user_id), &detail, now)
        })
        .await?;
    state.auth.forget();
    Ok(StatusCode::NO_CONTENT)
}

/// Query-less body of the passwordless start: `{"conditional": true}` keeps the browser's
/// conditional mediation (passkeys offered in the address field's autofill).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInStart {
    #[serde(default)]
    conditional: bool,
}

/// `POST /api/auth/passkey/options`: starts a sign-in with a passkey alone.
async fn sign_in_options(
    State(state): State<AppState>,
    body: Option<Json<SignInStart>>,
) -> Result<Json<Options>, AppError> {
    let conditional = body.is_some_and(|Json(body)| body.conditional);
    let (request, authentication) =
        state.passkeys.webauthn.start_discoverable_authentication().map_err(AppError::internal)?;
    let mut whole = serde_json::to_value(request).map_err(AppError::internal)?;
    let mediation = whole.get("mediation").cloned();
    let options = whole.get_mut("publicKey").map(serde_json::Value::take).unwrap_or_default();
    let mut answer = open(&state, Ceremony::SignIn { state: authentication }, options)?;
    if conditional && let Some(mediation) = mediation {
        answer.options["mediation"] = mediation;
    }
    Ok(Json(answer))
}

/// Body of a passkey's answer at sign-in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInFinish {
    ceremony: String,
    credential: PublicKeyCredential,
}

/// Checks an assertion against the passkey it names and keeps its new counter.
async fn verify(
    state: &AppState,
    stored: StoredPasskey,
    check: impl FnOnce(
        &Passkey,
    )
        -> Result<webauthn_rs::prelude::AuthenticationResult, webauthn_rs::prelude::WebauthnError>,
) -> Result<u32, AppError> {
    let mut passkey = parse(&stored)?;
    let result = check(&passkey).map_err(invalid_passkey)?;
    passkey.update_credential(&result);
    let (json, id, now) = (serialize(&passkey)?, stored.id, state.now_ms());
    state.with_store(move |store| store.passkey_used(id, &json, now)).await?;
    Ok(stored.user_id)
}

/// `POST /api/auth/passkey`: signs in with the passkey the authenticator chose.
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignInFinish>,
) -> Result<Response, AppError> {
    let now = state.now_ms();
    let Some(Ceremony::SignIn { state: authentication }) = state.passkeys.take(&body.ceremony, now) else {
        return Err(ceremony_expired());
    };
    let (handle, credential_id) = state
        .passkeys
        .webauthn
        .identify_discoverable_authentication(&body.credential)
        .map_err(invalid_passkey)?;
    let (handle, credential_id) = (handle.as_bytes().to_vec(), credential_id.to_vec());
    let (stored, owner) = state
        .with_store(move |store| {
            Ok::<_, hitkeep_store::Error>((
                store.passkey_by_credential(&credential_id)?,
                store.user_of_webauthn_handle(&handle)?,
            ))
        })
        .await?;
    let stored = stored.ok_or_else(|| invalid_passkey("unknown credential"))?;
    if owner != Some(stored.user_id) {
        return Err(invalid_passkey("the user handle is not the credential's account"));
    }
    let credential = body.credential;
    let webauthn = &state.passkeys.webauthn;
    let user_id = verify(&state, stored, |passkey| {
        webauthn.finish_discoverable_authentication_v2(&credential, authentication, passkey)
    })
    .await?;
    let user = state.with_store(move |store| store.user(user_id)).await?;
    account::sign_in(&state, user, "passkey", &headers, StatusCode::OK).await
}

/// Body of the second step's start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecondFactorStart {
    challenge: String,
}

/// `POST /api/auth/login/passkey/options`: the second step of a password sign-in, with one
/// of the account's passkeys.
async fn second_factor_options(
    State(state): State<AppState>,
    Json(body): Json<SecondFactorStart>,
) -> Result<Json<Options>, AppError> {
    let (key, challenge) = factors::open_challenge(&state, &body.challenge).await?;
    let user_id = challenge.user_id;
    let stored = state.with_store(move |store| store.passkeys_of(user_id)).await?;
    if stored.is_empty() {
        return Err(AppError::new(StatusCode::CONFLICT, "no_passkey", "this account has no passkey"));
    }
    let passkeys = stored.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    let (request, authentication) =
        state.passkeys.webauthn.start_passkey_authentication(&passkeys).map_err(AppError::internal)?;
    let ceremony = Ceremony::SecondFactor { user_id, challenge: key, state: authentication };
    Ok(Json(open(&state, ceremony, public_key(request)?)?))
}

/// Body of the second step's end.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecondFactorFinish {
    challenge: String,
    ceremony: String,
    credential: PublicKeyCredential,
}

/// `POST /api/auth/login/passkey`: the passkey finishes the password sign-in.
async fn second_factor(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Json(body): Json<SecondFactorFinish>,
) -> Result<Response, AppError> {
    let (key, challenge) = factors::open_challenge(&state, &body.challenge).await?;
    let now = state.now_ms();
    let user_id = challenge.user_id;
    let user = state.with_store(move |store| store.user(user_id)).await?;
    state.auth.throttle.check(&user.email, client, now).map_err(AppError::too_many)?;
    let authentication = match state.passkeys.take(&body.ceremony, now) {
        Some(Ceremony::SecondFactor { user_id: owner, challenge: of, state })
            if owner == user_id && of == key =>
        {
            state
        }
        _ => return Err(ceremony_expired()),
    };
    let credential_id = body.credential.get_credential_id().to_vec();
    let stored = state
        .with_store(move |store| store.passkey_by_credential(&credential_id))
        .await?
        .filter(|stored| stored.user_id == user_id);
    let Some(stored) = stored else {
        let error = invalid_passkey("not one of the account's passkeys");
        return Err(factors::fail_challenge(&state, client, key, &user, error, true).await);
    };
    let credential = body.credential;
    let webauthn = &state.passkeys.webauthn;
    let verified =
        verify(&state, stored, |_| webauthn.finish_passkey_authentication(&credential, &authentication))
            .await;
    if let Err(error) = verified {
        return Err(factors::fail_challenge(&state, client, key, &user, error, true).await);
    }
    factors::finish_challenge(&state, key, &challenge, user, "passkey", &headers).await
}
