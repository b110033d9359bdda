//! The stats API's language: queries in the JSON of Plausible's Stats API v2 (which the
//! dashboard's own endpoint speaks too), translated to the store's typed
//! [`hitkeep_store::stats::Query`], and results back to JSON or CSV.
//!
//! [`parse`] reads a request into a [`Request`] (the store's query plus what only the HTTP
//! layer needs: the echo, `include`, comparisons); [`answer`] runs it and shapes the
//! response. Errors are [`QueryError`]s with a message naming the problem, which each route
//! wraps in its own error shape (Plausible's `{"error": "..."}`, or ours).

mod parse;
mod respond;

pub use parse::{Comparison, Include, Request, parse};
pub use respond::{Answer, answer, to_csv};

/// A query the engine cannot answer, with a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<hitkeep_store::Error> for QueryError {
    fn from(error: hitkeep_store::Error) -> Self {
        match error {
            hitkeep_store::Error::Invalid { field, reason } => Self(format!("#/{field}: {reason}")),
            other => Self(other.to_string()),
        }
    }
}
