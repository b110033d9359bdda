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
    #[error("token {0} already exists")]
    TokenExists(String),
    /// No edge token with that name.
    #[error("token {0} does not exist")]
    TokenNotFound(String),
    /// An account with that e-mail address exists already.
    #[error("an account with that e-mail address exists already")]
    UserExists,
    /// No such account.
    #[error("no such account")]
    UserNotFound,
    /// The change would leave the instance without an owner.
    #[error("the last owner cannot be removed or demoted")]
    LastOwner,
    /// The person has no role on that site.
    #[error("that person is not a member of the site")]
    NotAMember,
    /// The setup code is wrong, used, or the instance has an owner already.
    #[error("the setup link is invalid or was used already")]
    SetupCodeInvalid,
    /// The invitation is unknown or was used.
    #[error("the invitation is invalid or was used already")]
    InvitationInvalid,
    /// That authenticator's credential is registered already.
    #[error("that passkey is registered already")]
    PasskeyExists,
    /// No such passkey of the account.
    #[error("no such passkey")]
    PasskeyNotFound,
    /// The password reset link is unknown, used, or expired.
    #[error("the password reset link is invalid, used or expired; ask for a new one")]
    ResetCodeInvalid,
    /// A goal with that name exists already on the site.
    #[error("goal {0} already exists")]
    GoalExists(String),
    /// No goal with that name on the site.
    #[error("goal {0} does not exist")]
    GoalNotFound(String),
    /// A funnel with that name exists already on the site.
    #[error("funnel {0} already exists")]
    FunnelExists(String),
    /// No funnel with that name on the site.
    #[error("funnel {0} does not exist")]
    FunnelNotFound(String),
    /// A stats query ran longer than its time limit and was stopped.
    #[error("the query ran longer than {0} seconds and was stopped; narrow its range or filters")]
    QueryTimeout(u64),
    /// A share link with that name exists already on the site.
    #[error("share link {0} already exists")]
    ShareLinkExists(String),
    /// No share link with that name on the site.
    #[error("share link {0} does not exist")]
    ShareLinkNotFound(String),
    /// That recipient has that report or alert on the site already.
    #[error("that recipient has this report or alert already")]
    MailingExists,
    /// No such report recipient or alert on the site.
    #[error("no such report recipient or alert")]
    MailingNotFound,
    /// Input that breaks a rule of the store.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which input.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing an export's output failed (the disk, or a client that went away).
    #[error("writing the export failed: {0}")]
    Output(#[source] std::io::Error),
    /// Encoding an export's rows failed.
    #[error("encoding the export failed: {0}")]
    Encode(String),
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
