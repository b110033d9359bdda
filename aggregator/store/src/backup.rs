//! A consistent copy of the database while it is in use.
//!
//! DuckDB isolates transactions by snapshot (MVCC): one transaction that reads every table
//! sees the database as it was when the transaction began, whatever commits meanwhile. A
//! backup is such a transaction writing each table into a new database file attached beside
//! (`COPY FROM DATABASE`), so it holds every batch committed before it began and nothing
//! half-written, while ingest goes on.

use std::path::Path;

use crate::{Error, Result, Store};

/// What a backup holds, counted in its own snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupCounts {
    /// Events (hits) stored.
    pub events: u64,
    /// Batches recorded as ingested (each of their hits is in `events`).
    pub batches: u64,
    /// The schema version.
    pub schema_version: u32,
}

/// The catalog name the target is attached under while it is written.
const TARGET: &str = "hitkeep_backup_target";

impl Store {
    /// Writes a copy of the database, as of one moment, into a new file at `target` (which
    /// must not exist), while ingest and queries go on; returns what it holds.
    pub fn backup_into(&self, target: &Path) -> Result<BackupCounts> {
        if target.exists() {
            return Err(Error::Invalid {
                field: "backup",
                reason: format!("{} exists already: a backup goes into a new file", target.display()),
            });
        }
        let path = target.to_str().ok_or_else(|| Error::Invalid {
            field: "backup",
            reason: format!("{} is not a UTF-8 path", target.display()),
        })?;
        let conn = self.conn().try_clone()?;
        let source: String = conn.query_row("SELECT current_database()", [], |row| row.get(0))?;
        conn.execute_batch(&format!("ATTACH {} AS {TARGET}", quote_literal(path)))?;
        let copied = (|| -> Result<BackupCounts> {
            conn.execute_batch("BEGIN TRANSACTION")?;
            let copied = (|| -> Result<BackupCounts> {
                conn.execute_batch(&format!("COPY FROM DATABASE {} TO {TARGET}", quote_identifier(&source)))?;
                // Counted in the transaction that copied: the same snapshot.
                let events: i64 = conn.query_row("SELECT count(*) FROM main.events", [], |row| row.get(0))?;
                let batches: i64 =
                    conn.query_row("SELECT count(*) FROM main.ingested_batches", [], |row| row.get(0))?;
                let schema_version: Option<u32> =
                    conn.query_row("SELECT max(version) FROM main.schema_migrations", [], |row| row.get(0))?;
                let schema_version = schema_version.unwrap_or(0);
                Ok(BackupCounts { events: events as u64, batches: batches as u64, schema_version })
            })();
            match copied {
                Ok(counts) => {
                    conn.execute_batch("COMMIT")?;
                    Ok(counts)
                }
                Err(error) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(error)
                }
            }
        })();
        let detached = conn
            .execute_batch(&format!("CHECKPOINT {TARGET}"))
            .and_then(|()| conn.execute_batch(&format!("DETACH {TARGET}")));
        match (copied, detached) {
            (Ok(counts), Ok(())) => Ok(counts),
            (Err(error), _) => {
                let _ = conn.execute_batch(&format!("DETACH DATABASE IF EXISTS {TARGET}"));
                remove_partial(target);
                Err(error)
            }
            (Ok(_), Err(error)) => {
                remove_partial(target);
                Err(error.into())
            }
        }
    }
}

/// Removes what a failed backup left: the file and its log.
fn remove_partial(target: &Path) {
    let _ = std::fs::remove_file(target);
    let mut wal = target.as_os_str().to_owned();
    wal.push(".wal");
    let _ = std::fs::remove_file(wal);
}

/// A SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A SQL identifier.
fn quote_identifier(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}
