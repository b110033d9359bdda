//! The one error type of the HTTP API: a status code and a stable machine-readable code for
//! clients, the detail in the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The JSON body of every error response: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error response.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable code (`site_exists`, `invalid_domain`...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// The message, with its code: `message (code)`.
    pub fn message(&self) -> String {
        format!("{} ({})", self.message, self.code)
    }

    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl From<hitkeep_store::Error> for ApiError {
    fn from(error: hitkeep_store::Error) -> Self {
        use hitkeep_store::Error as E;
        match &error {
            E::SiteExists(_) => Self::new(StatusCode::CONFLICT, "site_exists", error.to_string()),
            E::SiteNotFound(_) => Self::new(StatusCode::NOT_FOUND, "site_not_found", error.to_string()),
            E::Invalid { field: "domain", .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_domain", error.to_string())
            }
            E::Invalid { field: "timezone", .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_timezone", error.to_string())
            }
            E::TokenExists(_) => Self::new(StatusCode::CONFLICT, "token_exists", error.to_string()),
            E::TokenNotFound(_) => Self::new(StatusCode::NOT_FOUND, "token_not_found", error.to_string()),
            E::Invalid { field: "token_name", .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_token_name", error.to_string())
            }
            E::Invalid { .. } => Self::new(StatusCode::BAD_REQUEST, "invalid_input", error.to_string()),
            _ => {
                tracing::error!(%error, "store error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error, see the server log")
            }
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        tracing::error!(%error, "blocking task failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error, see the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}
