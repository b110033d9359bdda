//! The HTTP face of the aggregator for edges that cannot speak NATS (a collector on Spin):
//! `GET /api/edge/config` (the same snapshot as the `hitkeep.edge.config.v1` subject) and
//! `POST /api/edge/batch` (the same envelope, dedupe and ack as `hitkeep.ingest.v1`), both
//! behind an edge token; and the control routes that issue edge tokens.
//!
//! A token is `hke_` and 64 hex digits (256 random bits). It is shown once, when it is
//! made; the database keeps its SHA-256 digest only.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use hitkeep_protocol::AckStatus;
use hitkeep_store::{EdgeToken, Store};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest};
use crate::error::AppError;
use crate::state::AppState;

/// `/api/edge/config` and `/api/edge/batch`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/edge/config", get(config)).route(
        "/api/edge/batch",
        post(batch).layer(DefaultBodyLimit::max(hitkeep_protocol::limits::MAX_BATCH_BYTES)),
    )
}

/// The control routes of edge tokens (`hitkeep edge-token`).
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/edge-tokens", get(list_tokens).post(add_token))
        .route("/control/edge-tokens/{name}", delete(remove_token))
}

async fn list_tokens(State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, AppError> {
    let tokens = state.with_store(move |store| store.edge_tokens()).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

async fn add_token(
    State(state): State<AppState>,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<TokenView>), AppError> {
    let credentials = state.edge_credentials.clone();
    let token = state
        .with_store(move |store| {
            let token = create(store, &new.name)?;
            credentials.reload(store)?;
            Ok::<_, hitkeep_store::Error>(token)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

async fn remove_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TokenView>, AppError> {
    let credentials = state.edge_credentials.clone();
    let token = state
        .with_store(move |store| {
            let token = store.remove_edge_token(&name)?;
            credentials.reload(store)?;
            Ok::<_, hitkeep_store::Error>(token)
        })
        .await?;
    Ok(Json(token.into()))
}

/// The content types `POST /api/edge/batch` takes: the JSON envelope and the binary one.
const BATCH_MEDIA_TYPES: [&str; 2] = ["application/json", "application/octet-stream"];

/// The edge token a request presents in `Authorization: Bearer ...`.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<EdgeToken, AppError> {
    let unauthorized = || {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid edge token is required (Authorization: Bearer hke_...)",
        )
    };
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(unauthorized)?;
    state.edge_credentials.token(secret).ok_or_else(|| {
        metrics::counter!("hitkeep_edge_auth_failures_total").increment(1);
        unauthorized()
    })
}

/// `GET /api/edge/config`: the configuration snapshot, including the salts, so only for
/// token holders and never cached.
async fn config(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    authenticate(&state, &headers).await?;
    let source = state.edge_config.clone();
    let snapshot = tokio::task::spawn_blocking(move || source.snapshot()).await?.map_err(|error| {
        tracing::error!(%error, "cannot build the edge configuration");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error, see the server log")
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        snapshot,
    )
        .into_response())
}

/// `POST /api/edge/batch`: one batch envelope, JSON (version 1, `application/json`) or
/// binary (version 2, `application/octet-stream`); answers its ack once it is durable. `200`
/// for `stored` and `duplicate` (either way the edge may forget the batch), `422` for
/// `rejected` (dead-lettered: resending cannot help), `503` when the pipeline cannot take it
/// now (resend later), `415` for any other content type.
///
/// The content type only gates what is worth decoding; the envelope's own first byte says
/// which encoding it is, exactly as on NATS, so a mislabelled but valid envelope is stored
/// and a body that is neither is dead-lettered as `malformed`.
async fn batch(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    let token = authenticate(&state, &headers).await?;
    let envelope =
        headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
            value.split(';').next().is_some_and(|kind| {
                BATCH_MEDIA_TYPES.iter().any(|accepted| kind.trim().eq_ignore_ascii_case(accepted))
            })
        });
    if !envelope {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the batch envelope as application/json (version 1) or application/octet-stream (version 2)",
        ));
    }
    let Some(ingest) = &state.ingest else {
        return Err(unavailable());
    };
    metrics::counter!("hitkeep_edge_http_batches_total", "edge" => token.name).increment(1);
    let ack = ingest.submit(body).await.ok_or_else(unavailable)?;
    let status = match ack.status {
        AckStatus::Stored | AckStatus::Duplicate => StatusCode::OK,
        AckStatus::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], ack.encode())
        .into_response())
}

fn unavailable() -> AppError {
    AppError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the ingest pipeline is not accepting batches; retry later",
    )
}

/// A token as the API lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenView {
    /// Its name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// The secret: only in the answer to its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<EdgeToken> for TokenView {
    fn from(token: EdgeToken) -> Self {
        Self { name: token.name, created_at_ms: token.created_at_ms, secret: None }
    }
}

/// Body of a token creation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The name.
    pub name: String,
}

/// Makes a token; the answer holds the secret.
pub fn create(store: &Store, name: &str) -> hitkeep_store::Result<TokenView> {
    let secret = SecretKind::EdgeToken.generate();
    let token = store.add_edge_token(name, &digest(&secret))?;
    Ok(TokenView { secret: Some(secret), ..token.into() })
}
