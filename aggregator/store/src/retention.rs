//! Retention: how long a site's events are kept, the deletion of older ones, and giving the
//! space back.
//!
//! A day's events go once the whole day (in the site's zone) is older than the limit. Their
//! properties go with them, and the visits that ended before the cut: a visit's rows all
//! carry the same end as the row they cancel (see migration 4), so every version of a visit
//! goes or stays together and the sums over signs stay right. The rollups of those days go
//! too.
//!
//! DuckDB reuses the blocks a deletion frees, so the file stops growing, but it does not
//! shrink it: [`Store::compact_file`] rewrites a database into a new file (the backup's copy,
//! in one transaction) and puts it in place, which `hitkeep serve` does at start when a
//! quarter of the file is free, and `hitkeep compact` on demand.

use std::path::Path;

use duckdb::params;

use crate::{Error, Result, Site, Store};

/// The most days a retention may be (about 100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// What a retention pass deleted from one site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetentionReport {
    /// Events deleted.
    pub events: u64,
    /// Their properties.
    pub props: u64,
    /// Visit rows deleted.
    pub visits: u64,
}

/// The database file's size and what of it is free (blocks a deletion gave back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSpace {
    /// Bytes in blocks, used or free.
    pub total_bytes: u64,
    /// Bytes in free blocks.
    pub free_bytes: u64,
}

impl FileSpace {
    /// Whether compacting is worth it: a quarter of the file free, and at least 64 MiB.
    pub fn worth_compacting(&self) -> bool {
        self.free_bytes >= 64 << 20 && self.free_bytes * 4 >= self.total_bytes
    }
}

/// Checks a retention in days.
pub fn validate_retention(days: u32) -> Result<()> {
    if days > MAX_RETENTION_DAYS {
        return Err(Error::Invalid {
            field: "retention_days",
            reason: format!("at most {MAX_RETENTION_DAYS} days (0 keeps events for ever)"),
        });
    }
    Ok(())
}

impl Store {
    /// Sets the days a site's events are kept (0: for ever), or `None` for the instance's
    /// default.
    pub fn set_site_retention(&self, domain: &str, days: Option<u32>) -> Result<Site> {
        let site = self.site(domain)?;
        if let Some(days) = days {
            validate_retention(days)?;
        }
        crate::in_transaction(&self.conn(), |conn| {
            conn.execute("DELETE FROM site_retention WHERE site_id = ?", [site.id])?;
            if let Some(days) = days {
                conn.execute("INSERT INTO site_retention VALUES (?, ?)", params![site.id, days])?;
            }
            Ok(())
        })?;
        tracing::info!(site_id = site.id, ?days, "site retention changed");
        self.site(&site.domain)
    }

    /// The time of a site's oldest event, ms since the epoch.
    pub fn oldest_event_ms(&self, site_id: u32) -> Result<Option<i64>> {
        let reader = self.reader()?;
        Ok(reader.query_row("SELECT epoch_ms(min(ts)) FROM events WHERE site_id = ?", [site_id], |row| {
            row.get(0)
        })?)
    }

    /// Deletes what a site recorded before `cutoff_ms` (events, their properties, the visits
    /// that ended before it, the rollups of the local days before `cutoff_day`, days since
    /// 1970-01-01), in one transaction.
    pub fn delete_before(&self, site_id: u32, cutoff_ms: i64, cutoff_day: i64) -> Result<RetentionReport> {
        let cutoff = duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Millisecond, cutoff_ms);
        let conn = self.conn().try_clone()?;
        let report = crate::in_transaction(&conn, |conn| {
            let props = conn.execute(
                "DELETE FROM event_props WHERE site_id = ? AND ts < ?",
                params![site_id, cutoff.clone()],
            )?;
            let events = conn.execute(
                "DELETE FROM events WHERE site_id = ? AND ts < ?",
                params![site_id, cutoff.clone()],
            )?;
            let visits = conn
                .execute("DELETE FROM visits WHERE site_id = ? AND end_ts < ?", params![site_id, cutoff])?;
            let day = "DATE '1970-01-01' + CAST(? AS INTEGER)";
            conn.execute(
                &format!("DELETE FROM rollups WHERE site_id = ? AND day < {day}"),
                params![site_id, cutoff_day],
            )?;
            conn.execute(
                &format!("DELETE FROM rollup_days WHERE site_id = ? AND day < {day}"),
                params![site_id, cutoff_day],
            )?;
            conn.execute(
                &format!("DELETE FROM rollup_dirty WHERE site_id = ? AND utc_day < {day} - 1"),
                params![site_id, cutoff_day],
            )?;
            Ok(RetentionReport { events: events as u64, props: props as u64, visits: visits as u64 })
        })?;
        if report.events > 0 {
            tracing::info!(site_id, events = report.events, visits = report.visits, "old events deleted");
        }
        Ok(report)
    }

    /// The file's size and free space, from DuckDB's own count of its blocks.
    pub fn file_space(&self) -> Result<FileSpace> {
        let conn = self.conn();
        let (block_size, total, free): (i64, i64, i64) = conn.query_row(
            "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() WHERE database_name = current_database()",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        Ok(FileSpace { total_bytes: (block_size * total) as u64, free_bytes: (block_size * free) as u64 })
    }

    /// Rewrites the database file at `path` (which no process may have open) without its
    /// free blocks: a copy in one transaction, checked by its counts, then put in place of
    /// the original. Returns the file's size before and after.
    pub fn compact_file(path: &Path) -> Result<(u64, u64)> {
        let io = |source| Error::Io { path: path.to_path_buf(), source };
        let before = std::fs::metadata(path).map_err(io)?.len();
        let mut copy = path.as_os_str().to_owned();
        copy.push(".compact");
        let copy = std::path::PathBuf::from(copy);
        let _ = std::fs::remove_file(&copy);
        let counts = {
            let store = Store::open(path)?;
            // The log goes into the file first, so that the copy is all of it.
            store.checkpoint()?;
            store.backup_into(&copy)?
        };
        let copied = Store::open(&copy)?;
        let check = copied.counts()?;
        drop(copied);
        if check.events != counts.events {
            let _ = std::fs::remove_file(&copy);
            return Err(Error::Invalid {
                field: "compact",
                reason: format!("the copy holds {} events, the original {}", check.events, counts.events),
            });
        }
        std::fs::File::open(&copy).and_then(|file| file.sync_all()).map_err(io)?;
        std::fs::rename(&copy, path).map_err(io)?;
        let mut wal = path.as_os_str().to_owned();
        wal.push(".wal");
        let _ = std::fs::remove_file(std::path::PathBuf::from(wal));
        if let Some(dir) = path.parent() {
            let _ = std::fs::File::open(dir).and_then(|dir| dir.sync_all());
        }
        let after = std::fs::metadata(path).map_err(io)?.len();
        tracing::info!(before, after, "database compacted");
        Ok((before, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_is_worth_it_from_a_quarter_and_64_mib_free() {
        let mib = 1u64 << 20;
        assert!(FileSpace { total_bytes: 256 * mib, free_bytes: 64 * mib }.worth_compacting());
        assert!(!FileSpace { total_bytes: 257 * mib, free_bytes: 63 * mib }.worth_compacting());
        assert!(!FileSpace { total_bytes: 1024 * mib, free_bytes: 200 * mib }.worth_compacting());
        assert!(!FileSpace { total_bytes: 100 * mib, free_bytes: 60 * mib }.worth_compacting());
    }
}
