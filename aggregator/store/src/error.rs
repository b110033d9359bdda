//! The store's error type.

use std::path::PathBuf;

/// A store result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the database file open for writing.
    #[error(
        "database {path} is in use by another process (is `hitkeep serve` running on this data directory?)"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The file system refused.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database file was written by a newer Hitkeep.
    #[error("database schema version {found} is newer than this build knows ({known}); upgrade hitkeep")]
    SchemaTooNew {
        /// The version in the file.
        found: u32,
        /// The newest version this build knows.
        known: u32,
    },
    /// A site with that domain exists already.
    #[error("site {0} already exists")]
    SiteExists(String),
    /// No site with that domain.
    #[error("site {0} does not exist")]
    SiteNotFound(String),
    /// An edge token with that name exists already.
    #[error("edge token {0} already exists")]
    TokenExists(String),
    /// No edge token with that name.
    #[error("edge token {0} does not exist")]
    TokenNotFound(String),
    /// Input that breaks a rule of the store.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which input.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// DuckDB reported an error.
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
}

impl Error {
    pub(crate) fn from_open(path: &std::path::Path, error: duckdb::Error) -> Self {
        let message = error.to_string();
        if message.contains("Could not set lock") || message.contains("Conflicting lock") {
            Self::Locked { path: path.to_path_buf() }
        } else {
            Self::Db(error)
        }
    }
}
