//! The HTTP face of the aggregator for edges that cannot speak NATS (a collector on Spin):
//! `GET /api/edge/config` (the same snapshot as the `hitkeep.edge.config.v1` subject) and
//! `POST /api/edge/batch` (the same envelope, dedupe and ack as `hitkeep.ingest.v1`), both
//! behind an edge token; and the `hitkeep edge-token` commands that issue them.
//!
//! A token is `hke_` and 64 hex digits (256 random bits). It is shown once, when it is
//! made; the database keeps its SHA-256 digest only.

use std::path::Path;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hitkeep_protocol::AckStatus;
use hitkeep_store::{EdgeToken, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api_error::ApiError;
use crate::cli::EdgeTokenCommand;
use crate::control::ControlClient;
use crate::http::AppState;

/// What every edge token starts with, so that scanners and people recognize one.
pub const TOKEN_PREFIX: &str = "hke_";

/// A new random token secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    let mut secret = String::with_capacity(TOKEN_PREFIX.len() + 64);
    secret.push_str(TOKEN_PREFIX);
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    secret
}

/// The content types `POST /api/edge/batch` takes: the JSON envelope and the binary one.
const BATCH_MEDIA_TYPES: [&str; 2] = ["application/json", "application/octet-stream"];

/// The digest the store keeps of a secret.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The edge token a request presents in `Authorization: Bearer ...`.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<EdgeToken, ApiError> {
    let unauthorized = || {
        ApiError::new(
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
        .filter(|secret| secret.starts_with(TOKEN_PREFIX) && secret.len() <= 128)
        .ok_or_else(unauthorized)?;
    let digest = digest(secret);
    let token = state.with_store(move |store| store.edge_token_by_digest(&digest)).await?;
    token.ok_or_else(|| {
        metrics::counter!("hitkeep_edge_auth_failures_total").increment(1);
        unauthorized()
    })
}

/// `GET /api/edge/config`: the configuration snapshot, including the salts, so only for
/// token holders and never cached.
pub async fn config(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authenticate(&state, &headers).await?;
    let source = state.edge_config.clone();
    let snapshot = tokio::task::spawn_blocking(move || source.snapshot()).await?.map_err(|error| {
        tracing::error!(%error, "cannot build the edge configuration");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error, see the server log")
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
pub async fn batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = authenticate(&state, &headers).await?;
    let envelope =
        headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
            value.split(';').next().is_some_and(|kind| {
                BATCH_MEDIA_TYPES.iter().any(|accepted| kind.trim().eq_ignore_ascii_case(accepted))
            })
        });
    if !envelope {
        return Err(ApiError::new(
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

fn unavailable() -> ApiError {
    ApiError::new(
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
    let secret = new_secret();
    let token = store.add_edge_token(name, &digest(&secret))?;
    Ok(TokenView { secret: Some(secret), ..token.into() })
}

/// `hitkeep edge-token add|list|remove`: through a running server's control socket when
/// there is one, else directly on the database file.
pub async fn run_cli(data_dir: &Path, command: EdgeTokenCommand) -> anyhow::Result<()> {
    let output = match ControlClient::connect(data_dir).await {
        Some(client) => match command {
            EdgeTokenCommand::Add { name } => {
                let body = serde_json::json!({ "name": name });
                added(&client.call(hyper::Method::POST, "/control/edge-tokens", Some(body)).await?)
            }
            EdgeTokenCommand::List { json } => listing(
                &client.call::<Vec<TokenView>>(hyper::Method::GET, "/control/edge-tokens", None).await?,
                json,
            )?,
            EdgeTokenCommand::Remove { name } => {
                hitkeep_store::validate_edge_token_name(&name)?;
                let uri = format!("/control/edge-tokens/{name}");
                removed(&client.call(hyper::Method::DELETE, &uri, None).await?)
            }
        },
        None => {
            let data_dir = data_dir.to_path_buf();
            tokio::task::spawn_blocking(move || {
                let store = Store::open_dir(&data_dir)?;
                Ok::<_, anyhow::Error>(match command {
                    EdgeTokenCommand::Add { name } => added(&create(&store, &name)?),
                    EdgeTokenCommand::List { json } => {
                        let tokens: Vec<TokenView> =
                            store.edge_tokens()?.into_iter().map(TokenView::from).collect();
                        listing(&tokens, json)?
                    }
                    EdgeTokenCommand::Remove { name } => removed(&store.remove_edge_token(&name)?.into()),
                })
            })
            .await??
        }
    };
    print!("{output}");
    Ok(())
}

fn added(token: &TokenView) -> String {
    format!(
        "added edge token {}\n{}\nKeep it now: it is not shown again (Hitkeep stores only its SHA-256 digest).\n",
        token.name,
        token.secret.as_deref().unwrap_or("(no secret in the answer)")
    )
}

fn removed(token: &TokenView) -> String {
    format!("removed edge token {}\n", token.name)
}

fn listing(tokens: &[TokenView], json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(tokens)? + "\n");
    }
    let width = tokens.iter().map(|token| token.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:width$}  CREATED (UTC)\n", "NAME");
    for token in tokens {
        out.push_str(&format!("{:width$}  {}\n", token.name, crate::http::format_utc(token.created_at_ms)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert!(a[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), digest(&b));
    }
}
