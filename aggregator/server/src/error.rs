//! The one error type of the HTTP API, [`AppError`]: a status code and a stable
//! machine-readable code for clients, the detail in the log.
//!
//! Every error answer is `{"error": {"code": "...", "message": "..."}}`; the codes are part of
//! the API (documented in `docs/api-errors.md`), the messages are for people.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
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
    /// Stable, machine-readable code (`site_exists`, `invalid_credentials`...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An error a handler returns.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
    clear_session: bool,
}

impl AppError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_secs: None, clear_session: false }
    }

    /// The message alone, for routes that answer in another error shape.
    pub fn detail(&self) -> &str {
        &self.message
    }

    /// `400` with this code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// `401 unauthenticated`: nobody is signed in.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first, or send an API token")
    }

    /// `403` with this code.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `500 internal`, with the detail in the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error, see the server log")
    }

    /// `429 too_many_attempts` with a `Retry-After`.
    pub fn too_many(wait_ms: i64) -> Self {
        let secs = u64::try_from(wait_ms.max(0)).unwrap_or(0).div_ceil(1_000).max(1);
        Self {
            retry_after_secs: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many attempts; try again in {secs} s"),
            )
        }
    }

    /// Also tells the browser to forget its session cookie.
    pub fn clearing_session(mut self) -> Self {
        self.clear_session = true;
        self
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message, with its code: `message (code)`.
    pub fn message(&self) -> String {
        format!("{} ({})", self.message, self.code)
    }
}

impl From<hitkeep_store::Error> for AppError {
    fn from(error: hitkeep_store::Error) -> Self {
        use hitkeep_store::Error as E;
        let (status, code) = match &error {
            E::SiteExists(_) => (StatusCode::CONFLICT, "site_exists"),
            E::SiteNotFound(_) => (StatusCode::NOT_FOUND, "site_not_found"),
            E::GoalExists(_) => (StatusCode::CONFLICT, "goal_exists"),
            E::GoalNotFound(_) => (StatusCode::NOT_FOUND, "goal_not_found"),
            E::Invalid { field: "goal", .. } => (StatusCode::BAD_REQUEST, "invalid_goal"),
            E::FunnelExists(_) => (StatusCode::CONFLICT, "funnel_exists"),
            E::FunnelNotFound(_) => (StatusCode::NOT_FOUND, "funnel_not_found"),
            E::Invalid { field: "funnel", .. } => (StatusCode::BAD_REQUEST, "invalid_funnel"),
            E::Invalid { field: "domain", .. } => (StatusCode::BAD_REQUEST, "invalid_domain"),
            E::Invalid { field: "timezone", .. } => (StatusCode::BAD_REQUEST, "invalid_timezone"),
            E::Invalid { field: "retention_days", .. } => (StatusCode::BAD_REQUEST, "invalid_retention"),
            E::Invalid { field: "takeout", .. } => (StatusCode::BAD_REQUEST, "invalid_takeout"),
            E::Invalid { field: "report", .. } => (StatusCode::BAD_REQUEST, "invalid_report"),
            E::Invalid { field: "import", .. } => (StatusCode::NOT_FOUND, "import_not_found"),
            E::Invalid { field: "alert", .. } => (StatusCode::BAD_REQUEST, "invalid_alert"),
            E::Invalid { field: "language", .. } => (StatusCode::BAD_REQUEST, "invalid_language"),
            E::Invalid { field: "email", .. } => (StatusCode::BAD_REQUEST, "invalid_email"),
            E::Invalid { field: "name", .. } => (StatusCode::BAD_REQUEST, "invalid_name"),
            E::Invalid { field: "token_name", .. } => (StatusCode::BAD_REQUEST, "invalid_token_name"),
            E::Invalid { field: "role" | "site_role", .. } => (StatusCode::BAD_REQUEST, "invalid_role"),
            E::Invalid { field: "scope", .. } => (StatusCode::BAD_REQUEST, "invalid_scope"),
            E::Invalid { field: "share_name", .. } => (StatusCode::BAD_REQUEST, "invalid_share_name"),
            E::Invalid { field: "passkey_name", .. } => (StatusCode::BAD_REQUEST, "invalid_passkey_name"),
            E::Invalid {
                field: "metrics" | "dimensions" | "filters" | "date_range" | "pagination" | "order_by",
                ..
            } => (StatusCode::BAD_REQUEST, "invalid_query"),
            E::Invalid { field: "currency", .. } => (StatusCode::BAD_REQUEST, "mixed_currencies"),
            E::QueryTimeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "query_timeout"),
            E::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_input"),
            E::TokenExists(_) => (StatusCode::CONFLICT, "token_exists"),
            E::TokenNotFound(_) => (StatusCode::NOT_FOUND, "token_not_found"),
            E::ShareLinkExists(_) => (StatusCode::CONFLICT, "share_link_exists"),
            E::ShareLinkNotFound(_) => (StatusCode::NOT_FOUND, "share_link_not_found"),
            E::MailingExists => (StatusCode::CONFLICT, "mailing_exists"),
            E::MailingNotFound => (StatusCode::NOT_FOUND, "mailing_not_found"),
            E::UserExists => (StatusCode::CONFLICT, "user_exists"),
            E::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found"),
            E::LastOwner => (StatusCode::CONFLICT, "last_owner"),
            E::NotAMember => (StatusCode::NOT_FOUND, "not_a_member"),
            E::SetupCodeInvalid => (StatusCode::FORBIDDEN, "invalid_setup_code"),
            E::InvitationInvalid => (StatusCode::FORBIDDEN, "invalid_invitation"),
            E::PasskeyExists => (StatusCode::CONFLICT, "passkey_exists"),
            E::PasskeyNotFound => (StatusCode::NOT_FOUND, "passkey_not_found"),
            E::ResetCodeInvalid => (StatusCode::FORBIDDEN, "invalid_reset_code"),
            _ => return Self::internal(format!("store: {error}")),
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::internal(format!("blocking task failed: {error}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.clear_session {
            for cookie in crate::auth::web::expired_session_cookies() {
                headers.append(header::SET_COOKIE, cookie);
            }
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
