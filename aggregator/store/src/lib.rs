//! DuckDB storage for Hitkeep: the events, the control plane, and every line of SQL.
//!
//! One file, `hitkeep.db`, in the data directory holds everything. DuckDB lets one process
//! write a database file, so the process that owns a [`Store`] owns the data directory;
//! other processes (the `hitkeep site` CLI, say) go through that process's API.
//!
//! Rules kept throughout this crate: every value is a bound parameter; table and column
//! names are constants of this crate, never derived from input; schema changes are
//! numbered migrations, applied in order at open (see [`schema`]).

mod audit;
mod backup;
mod credentials;
mod edge_tokens;
mod error;
mod events;
mod export;
mod factors;
mod funnels;
mod goals;
mod import;
mod imported;
mod mailings;
mod passkeys;
mod password_resets;
mod recent;
mod retention;
pub mod schema;
mod share_links;
mod sites;
pub mod stats;
mod takeout;
mod users;
mod visits;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use duckdb::Connection;

pub use audit::{AuditEntry, AuditKind};
pub use backup::BackupCounts;
pub use credentials::{
    ApiToken, Invitation, MAX_TOKEN_NAME_LEN, SessionRecord, TokenScope, TokenSites, validate_token_name,
};
pub use edge_tokens::{EdgeToken, MAX_EDGE_TOKEN_NAME_LEN, validate_edge_token_name};
pub use error::{Error, Result};
pub use events::{
    BatchWrite, DeadLetter, EventRows, EventRowsBuilder, EventWriter, KnownBatches, NewEvent, RowRanges,
    StoreCounts,
};
pub use export::{
    ExportFormat, ExportProgress, ExportSite, ExportSummary, PARQUET_VERSION_KEY, SLICE_ROWS,
    TAKEOUT_COLUMNS, TAKEOUT_SCHEMA_VERSION, device_name, kind_label,
};
pub use factors::{REQUIRE_SECOND_FACTOR, SignInChallenge, TotpFactor};
pub use funnels::{Funnel, MAX_FUNNEL_STEPS, MAX_FUNNEL_WINDOW_MS, MIN_FUNNEL_STEPS};
pub use goals::{Goal, GoalKind, MAX_GOAL_NAME_LEN, MAX_GOALS};
pub use import::{IMPORT_CHUNK, IMPORTED_SESSIONS, ImportReport, ImportedEvent, imported_session_id};
pub use imported::{
    IMPORTED_TABLES, ImportedTable, MAX_IMPORTED_ROWS, PlausibleImport, SiteImport, parse_plausible_file_name,
};
pub use mailings::{
    Alert, AlertFiring, AlertKind, Frequency, MAIL_LANGUAGES, MAX_ALERT_THRESHOLD, MAX_ATTEMPTS,
    MAX_MAILINGS_PER_SITE, MailKind, MailStatus, NewAlert, OutboxMail, ReportSubscription, Unsubscribed,
    validate_language,
};
pub use passkeys::{MAX_PASSKEY_NAME_LEN, StoredPasskey, validate_passkey_name};
pub use password_resets::PasswordReset;
pub use recent::{MAX_RECENT_EVENTS, StoredEvent};
pub use retention::{FileSpace, MAX_RETENTION_DAYS, RetentionReport, validate_retention};
pub use share_links::{MAX_SHARE_NAME_LEN, NewShareLink, ShareLink, validate_share_name};
pub use sites::{Site, SiteRules, normalize_domain, validate_timezone};
pub use takeout::{ImportProgress, ImportTarget};
pub use users::{InstanceRole, MAX_EMAIL_LEN, MAX_NAME_LEN, Membership, SiteRole, User, normalize_email};
pub use visits::{VisitOrigin, VisitRow};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "hitkeep.db";

/// The write-ahead log's size at which the ingest path checkpoints (see
/// [`EventWriter::wal_bytes`]). Smaller checkpoints cost more in all (each recompresses the
/// table's open row group) and leave more small row groups behind; larger ones lengthen
/// crash recovery (replaying 256 MB of log, about 1.5 million hits, takes seconds).
pub const CHECKPOINT_WAL_BYTES: u64 = 256 << 20;

/// DuckDB's own automatic checkpoint, on the committing connection, is only a backstop, at
/// four times [`CHECKPOINT_WAL_BYTES`]: the ingest path checkpoints on a thread of its own
/// while commits go on, which DuckDB's automatic checkpoint cannot do (it runs inside the
/// commit that passed the threshold, and every commit behind it waits).
const CHECKPOINT_THRESHOLD: &str = "SET checkpoint_threshold = '1GiB'";

/// An open Hitkeep database.
///
/// Control-plane calls go through one shared connection behind a mutex; the ingest path gets
/// its own connection through [`Store::event_writer`], so the two never wait on each other
/// in Rust (DuckDB serializes what it must).
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Connections for stats queries, so that reads neither wait for the control plane's
    /// connection nor hold it; taken and put back, at most [`MAX_IDLE_READERS`] kept.
    readers: Mutex<Vec<Connection>>,
}

/// Idle reading connections kept for the next query.
const MAX_IDLE_READERS: usize = 8;

/// A reading connection, put back into the [`Store`]'s pool when dropped.
pub(crate) struct Reader<'a> {
    store: &'a Store,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.store.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) `hitkeep.db` in `data_dir` and migrates it to the current
    /// schema.
    pub fn open_dir(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| Error::Io { path: data_dir.to_path_buf(), source })?;
        Self::open(&data_dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the database file at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| Error::from_open(path, e))?;
        schema::migrate(&conn)?;
        // DuckDB's default (checkpoint at 16 MB of log, on the committing connection)
        // recompresses the open row groups every few thousand batches and stalls every
        // commit meanwhile: 130k instead of 168k hits/s, 39 instead of 29 bytes/hit.
        conn.execute_batch(CHECKPOINT_THRESHOLD)?;
        Ok(Self { path: path.to_path_buf(), conn: Mutex::new(conn), readers: Mutex::new(Vec::new()) })
    }

    /// Caps what DuckDB holds in memory (buffers, hash tables of queries) at `mib`; beyond
    /// it, queries spill to a temporary file beside the database. For every connection.
    pub fn set_memory_limit(&self, mib: u32) -> Result<()> {
        self.conn().execute_batch(&format!("SET memory_limit = '{mib}MiB'"))?;
        Ok(())
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-applied state behind: DuckDB rolls
        // back the open transaction, so the connection is still usable.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection for a stats query.
    pub(crate) fn reader(&self) -> Result<Reader<'_>> {
        let idle = self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.conn().try_clone()?,
        };
        Ok(Reader { store: self, conn: Some(conn) })
    }

    /// A writer for the ingest path, on its own connection.
    pub fn event_writer(&self) -> Result<EventWriter> {
        let conn = self.conn().try_clone()?;
        let mut wal = self.path.clone().into_os_string();
        wal.push(".wal");
        EventWriter::new(conn, PathBuf::from(wal))
    }

    /// The batch ids committed in the dedupe window, on their own connection.
    pub fn known_batches(&self) -> Result<KnownBatches> {
        let conn = self.conn().try_clone()?;
        KnownBatches::new(conn)
    }

    /// Writes the write-ahead log into the database file.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn().execute_batch("CHECKPOINT")?;
        Ok(())
    }

    /// Row counts, for health reporting and tests.
    pub fn counts(&self) -> Result<StoreCounts> {
        events::counts(&self.conn())
    }

    /// The last position in the cluster's ingest stream this database holds a batch of
    /// (`None`: none came from a stream).
    pub fn stream_position(&self) -> Result<Option<u64>> {
        Ok(self.conn().query_row("SELECT max(stream_seq) FROM ingested_batches", [], |row| row.get(0))?)
    }

    /// The current schema version.
    pub fn schema_version(&self) -> Result<u32> {
        schema::current_version(&self.conn())
    }
}

/// Runs `work` in one transaction on `conn`: committed when it returns `Ok`, rolled back
/// otherwise.
pub(crate) fn in_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> duckdb::Result<T>,
) -> Result<T> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    match work(conn) {
        Ok(value) => {
            conn.execute_batch("COMMIT")?;
            Ok(value)
        }
        Err(error) => {
            conn.execute_batch("ROLLBACK")?;
            Err(error.into())
        }
    }
}
