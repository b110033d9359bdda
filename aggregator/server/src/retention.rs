//! Retention in `serve`: every hour, each site's events of the whole days (in its zone)
//! older than its retention are deleted, written first into Parquet files under `archive/`
//! when `retention_archive` is on (a day that could not be archived is not deleted); and the
//! compaction at start that gives the freed space back (see `hitkeep_store`'s retention).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use hitkeep_store::stats::{local_to_utc_ms, utc_to_local};
use hitkeep_store::{ExportFormat, ExportSite, RetentionReport, Site, Store};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How often the pass runs (it also runs a minute after start).
const EVERY: Duration = Duration::from_secs(3600);

/// The archive's directory in the data directory.
pub const ARCHIVE_DIR: &str = "archive";

/// Where a site's events stop being kept: the first instant of the local day `days` days
/// before today (today and the `days` days before it are kept), as UTC ms and as days since
/// 1970-01-01.
pub fn cutoff(zone: Tz, days: u32, now_ms: i64) -> (i64, i64) {
    let today = utc_to_local(zone, now_ms).date();
    let first_kept = today.checked_sub_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MIN);
    let ms = local_to_utc_ms(zone, first_kept.and_hms_opt(0, 0, 0).expect("midnight exists"));
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
    (ms, (first_kept - epoch).num_days())
}

/// What one pass did to one site.
#[derive(Debug, Clone)]
pub struct Pass {
    /// The site.
    pub domain: String,
    /// What was deleted.
    pub deleted: RetentionReport,
    /// The archive written first, if any.
    pub archive: Option<PathBuf>,
}

/// One pass over every site; `default_days` for sites without their own (0: for ever).
pub fn run_pass(
    store: &Store,
    data_dir: &Path,
    default_days: u32,
    archive: bool,
    now_ms: i64,
) -> anyhow::Result<Vec<Pass>> {
    let mut passes = Vec::new();
    for site in store.sites()? {
        let days = site.retention_days.unwrap_or(default_days);
        if days == 0 {
            continue;
        }
        let zone: Tz = site.timezone.parse().unwrap_or(Tz::UTC);
        let (cutoff_ms, cutoff_day) = cutoff(zone, days, now_ms);
        let Some(oldest) = store.oldest_event_ms(site.id)? else { continue };
        if oldest >= cutoff_ms {
            continue;
        }
        let archived = if archive {
            Some(write_archive(store, data_dir, &site, zone, cutoff_ms, now_ms)?)
        } else {
            None
        };
        let deleted = store.delete_before(site.id, cutoff_ms, cutoff_day)?;
        passes.push(Pass { domain: site.domain, deleted, archive: archived });
    }
    if !passes.is_empty() {
        store.checkpoint()?;
    }
    Ok(passes)
}

/// Writes a site's events before `cutoff_ms` into `archive/<domain>/`, named by the last
/// day it holds and when it was written; the file appears once complete.
fn write_archive(
    store: &Store,
    data_dir: &Path,
    site: &Site,
    zone: Tz,
    cutoff_ms: i64,
    now_ms: i64,
) -> anyhow::Result<PathBuf> {
    let dir = data_dir.join(ARCHIVE_DIR).join(&site.domain);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let last_day = utc_to_local(zone, cutoff_ms - 1).date();
    let written = utc_to_local(Tz::UTC, now_ms).format("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("{}-until-{last_day}-{written}.parquet", site.domain));
    let partial =
        dir.join(format!(".{}.partial", path.file_name().and_then(|n| n.to_str()).unwrap_or("archive")));
    let file = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let export = ExportSite { site: site.clone(), start_ms: None, end_ms: Some(cutoff_ms), filter: None };
    let result = store
        .export_events(&[export], ExportFormat::Parquet, std::io::BufWriter::new(file), &mut |_| {})
        .map_err(anyhow::Error::from)
        .and_then(|_| {
            std::fs::File::open(&partial)?.sync_all()?;
            std::fs::rename(&partial, &path)?;
            Ok(())
        });
    if let Err(error) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(error.context(format!("archiving {} before deleting its old events", site.domain)));
    }
    Ok(path)
}

/// The hourly pass, until `cancel` fires.
pub async fn run(
    state: AppState,
    data_dir: PathBuf,
    policy: (u32, bool),
    leadership: crate::leader::Leadership,
    cancel: CancellationToken,
) {
    let (default_days, archive) = policy;
    // Not at once: start-up has enough to do.
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(60)) => {}
        () = cancel.cancelled() => return,
    }
    let mut interval = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = cancel.cancelled() => return,
        }
        // A singleton job: on the leader only, once there are several nodes.
        if !leadership.is_leader() {
            continue;
        }
        let (store, dir, now_ms) = (state.store.clone(), data_dir.clone(), state.now_ms());
        let pass =
            tokio::task::spawn_blocking(move || run_pass(&store, &dir, default_days, archive, now_ms)).await;
        match pass {
            Ok(Ok(passes)) => {
                for pass in passes {
                    tracing::info!(
                        site = %pass.domain,
                        events = pass.deleted.events,
                        visits = pass.deleted.visits,
                        archive = pass.archive.as_ref().map(|p| p.display().to_string()),
                        "retention: old events deleted"
                    );
                }
            }
            Ok(Err(error)) => tracing::warn!(error = format!("{error:#}"), "retention pass failed"),
            Err(_) => return,
        }
    }
}

/// Rewrites the database before `serve` opens it when deletions left enough of it free.
pub fn compact_if_worth_it(data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(hitkeep_store::DB_FILE);
    if !path.exists() {
        return Ok(());
    }
    let space = Store::open(&path)?.file_space()?;
    if !space.worth_compacting() {
        return Ok(());
    }
    tracing::info!(total = space.total_bytes, free = space.free_bytes, "compacting the database");
    let (before, after) = Store::compact_file(&path)?;
    tracing::info!(before, after, "database compacted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitkeep_store::{ImportTarget, ImportedEvent};

    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn a_pass_archives_then_deletes_the_days_past_each_sites_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let kept_for_ever = store.add_site("forever.example", "UTC").unwrap();
        let limited = store.add_site("limited.example", "Europe/Berlin").unwrap();
        store.set_site_retention("limited.example", Some(30)).unwrap();
        // 2026-03-01T12:00Z, and one pageview a day for the 60 days before.
        let now = 1_772_366_400_000;
        let events: Vec<ImportedEvent> = (1..=60)
            .map(|day| ImportedEvent {
                ts_us: (now - day * DAY_MS) * 1000,
                name: "pageview".into(),
                hostname: "x".into(),
                path: format!("/{day}"),
                interactive: true,
                visitor_id: day as u64,
                session_id: day as u64,
                ..Default::default()
            })
            .collect();
        for site in [&kept_for_ever, &limited] {
            store.import_events(site.id, &events, now).unwrap();
        }
        let passes = run_pass(&store, dir.path(), 0, true, now).unwrap();
        assert_eq!(passes.len(), 1, "only the site with a retention");
        assert_eq!(passes[0].domain, "limited.example");
        // Kept: today and the 30 days before it, from Berlin's midnight of the 30th day before.
        let (cutoff_ms, _) = cutoff(chrono_tz::Europe::Berlin, 30, now);
        let old = events.iter().filter(|e| e.ts_us / 1000 < cutoff_ms).count() as u64;
        assert_eq!(passes[0].deleted.events, old);
        assert!(old > 0 && old < 60);
        assert_eq!(store.counts().unwrap().events, 120 - old);
        // The archive holds what was deleted, and imports back as such.
        let archive = passes[0].archive.clone().unwrap();
        assert!(archive.starts_with(dir.path().join(ARCHIVE_DIR).join("limited.example")));
        let restored = store.add_site("restored.example", "UTC").unwrap();
        let report = store
            .import_takeout(
                &archive,
                ExportFormat::Parquet,
                &ImportTarget::Site(restored.id),
                now,
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(report.stored, old);
        // Nothing more to do in the same hour; a default for the others applies to them.
        assert!(
            run_pass(&store, dir.path(), 0, true, now).unwrap().iter().all(|p| p.domain != "limited.example")
        );
        let passes = run_pass(&store, dir.path(), 7, false, now).unwrap();
        let domains: Vec<&str> = passes.iter().map(|p| p.domain.as_str()).collect();
        assert_eq!(domains, ["forever.example", "restored.example"]);
        assert!(passes.iter().all(|p| p.archive.is_none()));
    }

    #[test]
    fn the_cut_keeps_whole_days_in_the_sites_zone() {
        // 2026-03-10 15:00 UTC; Berlin is UTC+1 then.
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-10T15:00:00Z").unwrap().timestamp_millis();
        let (ms, day) = cutoff(chrono_tz::Europe::Berlin, 30, now);
        // Kept: 2026-02-08 (30 days before the 10th of March) and after, from Berlin's midnight.
        assert_eq!(
            ms,
            chrono::DateTime::parse_from_rfc3339("2026-02-07T23:00:00Z").unwrap().timestamp_millis()
        );
        assert_eq!(
            day,
            (NaiveDate::from_ymd_opt(2026, 2, 8).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days()
        );
        let (utc, _) = cutoff(Tz::UTC, 1, now);
        assert_eq!(
            utc,
            chrono::DateTime::parse_from_rfc3339("2026-03-09T00:00:00Z").unwrap().timestamp_millis()
        );
    }
}
