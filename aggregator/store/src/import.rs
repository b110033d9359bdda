//! Imports of raw events (a Hitkeep takeout) into a site, idempotently.
//!
//! An event is stored unless the site already has one with the same time, visitor, kind,
//! name and path, so importing a file twice, or two overlapping files, stores each event
//! once, and a takeout imported back into the instance it came from adds nothing.
//!
//! Visits are the exporting instance's, but their ids are not: session ids are a counter of
//! each instance, so an imported visit gets an id of its own, derived from the site, its
//! visitor and its original id (the same at every import) with the top bit set, a range the
//! ingest path's counter never reaches ([`IMPORTED_SESSIONS`]). Each visit an import adds
//! events to is folded again from all of its events, as the migration that created `visits`
//! does: a row cancelling its previous state, and its new state.

use duckdb::params;

use crate::stats::rollup::DIRTY_AGE_MS;
use crate::{Result, Store};

/// The first session id of imported visits: the top bit.
pub const IMPORTED_SESSIONS: u64 = 1 << 63;

/// Events per import transaction (a file is imported in steps this size, in time order).
pub const IMPORT_CHUNK: usize = 50_000;

/// An event read from a takeout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportedEvent {
    /// Microseconds since the epoch, UTC.
    pub ts_us: i64,
    /// `EventKind` code.
    pub kind: u8,
    /// Event name.
    pub name: String,
    /// Host name.
    pub hostname: String,
    /// Path.
    pub path: String,
    /// Referrer.
    pub referrer: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// `Channel` code.
    pub channel: u8,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `utm_content`, `utm_term`.
    pub utm: [Option<String>; 5],
    /// Country code.
    pub country: Option<String>,
    /// Region code.
    pub region: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Browser version.
    pub browser_version: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Its version.
    pub os_version: Option<String>,
    /// `Device` code.
    pub device: u8,
    /// Revenue in millionths.
    pub revenue_micros: Option<i64>,
    /// Its currency.
    pub revenue_currency: Option<String>,
    /// Whether it counts against a bounce.
    pub interactive: bool,
    /// Custom properties.
    pub props: Vec<(String, String)>,
    /// The visitor id of the exporting instance.
    pub visitor_id: u64,
    /// The visit id of the exporting instance.
    pub session_id: u64,
}

/// What an import step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Events read.
    pub read: u64,
    /// Events stored.
    pub stored: u64,
    /// Events the site had already.
    pub skipped: u64,
}

impl ImportReport {
    /// Adds another step's counts.
    pub fn add(&mut self, other: ImportReport) {
        self.read += other.read;
        self.stored += other.stored;
        self.skipped += other.skipped;
    }
}

/// The id an imported visit gets: the same for the same site, visitor and original id.
pub fn imported_session_id(site_id: u32, visitor_id: u64, session_id: u64) -> u64 {
    let mixed = mix(visitor_id ^ mix(session_id ^ mix(u64::from(site_id))));
    IMPORTED_SESSIONS | (mixed >> 1)
}

/// SplitMix64's finalizer: a bijection that spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const STAGE: &str = "
    CREATE OR REPLACE TEMP TABLE import_events (
        ts TIMESTAMP, visitor_id UBIGINT, session_id UBIGINT, kind UTINYINT, name VARCHAR,
        hostname VARCHAR, path VARCHAR, referrer VARCHAR, source VARCHAR, channel UTINYINT,
        utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, utm_content VARCHAR,
        utm_term VARCHAR, country VARCHAR, region VARCHAR, city VARCHAR, browser VARCHAR,
        browser_version VARCHAR, os VARCHAR, os_version VARCHAR, device UTINYINT,
        revenue_micros BIGINT, revenue_currency VARCHAR, interactive BOOLEAN);
    CREATE OR REPLACE TEMP TABLE import_props (
        ts TIMESTAMP, visitor_id UBIGINT, session_id UBIGINT, name VARCHAR, key VARCHAR, value VARCHAR);
";

/// The visit columns after `sign` and `version`, as the fold computes them.
const FOLD: &str = "
    min(ts), max(ts), epoch_ms(max(ts)) - epoch_ms(min(ts)),
    count(*) FILTER (WHERE kind = 0), count(*) FILTER (WHERE kind = 1),
    CASE WHEN count(*) FILTER (WHERE kind = 0) <= 1
          AND count(*) FILTER (WHERE kind = 1 AND interactive) = 0 THEN 1 ELSE 0 END,
    arg_min(hostname, ts),
    coalesce(arg_min(path, ts) FILTER (WHERE kind = 0), arg_min(path, ts)),
    coalesce(arg_max(path, ts) FILTER (WHERE kind = 0), arg_max(path, ts)),
    first.referrer, first.source, first.channel, first.utm_source, first.utm_medium,
    first.utm_campaign, first.utm_content, first.utm_term, first.country, first.region,
    first.city, first.browser, first.browser_version, first.os, first.os_version, first.device";

/// The first hit's values of each visit, for [`FOLD`].
const FIRST: &str = "arg_min({'referrer': referrer, 'source': source, 'channel': channel,
    'utm_source': utm_source, 'utm_medium': utm_medium, 'utm_campaign': utm_campaign,
    'utm_content': utm_content, 'utm_term': utm_term, 'country': country, 'region': region,
    'city': city, 'browser': browser, 'browser_version': browser_version, 'os': os,
    'os_version': os_version, 'device': device}, ts) OVER (PARTITION BY session_id) AS first";

impl Store {
    /// Stores the events of one step of an import into the site `site_id` (in one
    /// transaction), skipping those it has; `now_ms` decides which days are marked for the
    /// rollups to be rebuilt.
    pub fn import_events(&self, site_id: u32, events: &[ImportedEvent], now_ms: i64) -> Result<ImportReport> {
        let read = events.len() as u64;
        let (Some(first), Some(last)) =
            (events.iter().map(|e| e.ts_us).min(), events.iter().map(|e| e.ts_us).max())
        else {
            return Ok(ImportReport::default());
        };
        let conn = self.conn().try_clone()?;
        conn.execute_batch(STAGE)?;
        {
            let mut staged = conn.appender("import_events")?;
            let mut props = conn.appender("import_props")?;
            for event in events {
                let session = imported_session_id(site_id, event.visitor_id, event.session_id);
                let ts = duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, event.ts_us);
                let [utm_source, utm_medium, utm_campaign, utm_content, utm_term] = &event.utm;
                staged.append_row(params![
                    ts.clone(),
                    event.visitor_id,
                    session,
                    event.kind,
                    event.name,
                    event.hostname,
                    event.path,
                    event.referrer,
                    event.source,
                    event.channel,
                    utm_source,
                    utm_medium,
                    utm_campaign,
                    utm_content,
                    utm_term,
                    event.country,
                    event.region,
                    event.city,
                    event.browser,
                    event.browser_version,
                    event.os,
                    event.os_version,
                    event.device,
                    event.revenue_micros,
                    event.revenue_currency,
                    event.interactive,
                ])?;
                for (key, value) in &event.props {
                    props.append_row(params![
                        ts.clone(),
                        event.visitor_id,
                        session,
                        event.name,
                        key,
                        value
                    ])?;
                }
            }
            staged.flush()?;
            props.flush()?;
        }
        let first = duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, first);
        let last = duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, last);
        let stored = crate::in_transaction(&conn, |conn| {
            // The events the site lacks (each a key of the site's events in the step's span).
            conn.execute(
                "CREATE OR REPLACE TEMP TABLE import_new AS
                 SELECT i.* FROM import_events i WHERE NOT EXISTS (
                     SELECT 1 FROM events e WHERE e.site_id = ? AND e.ts BETWEEN ? AND ?
                       AND e.ts = i.ts AND e.visitor_id = i.visitor_id AND e.kind = i.kind
                       AND e.name = i.name AND e.path = i.path)",
                params![site_id, first, last],
            )?;
            let stored = conn.execute(
                "INSERT INTO events SELECT ?, ts, visitor_id, session_id, kind, name, hostname, path,
                     referrer, source, channel, utm_source, utm_medium, utm_campaign, utm_content,
                     utm_term, country, region, city, browser, browser_version, os, os_version, device,
                     revenue_micros, revenue_currency, interactive
                 FROM import_new ORDER BY ts",
                [site_id],
            )?;
            if stored == 0 {
                return Ok(0);
            }
            conn.execute(
                "INSERT INTO event_props SELECT ?, p.ts, p.visitor_id, p.session_id, p.name, p.key, p.value
                 FROM import_props p
                 WHERE EXISTS (SELECT 1 FROM import_new n
                               WHERE n.ts = p.ts AND n.session_id = p.session_id AND n.name = p.name)",
                [site_id],
            )?;
            // The visits the new events belong to, as they were (their live row, if any).
            conn.execute(
                "CREATE OR REPLACE TEMP TABLE import_visits AS
                 SELECT * FROM (
                     SELECT v.*, sum(sign) OVER w AS live, max(version) OVER w AS top
                     FROM visits v WHERE v.site_id = ?
                       AND v.session_id IN (SELECT DISTINCT session_id FROM import_new)
                     WINDOW w AS (PARTITION BY session_id))
                 WHERE sign = 1 AND version = top AND live > 0",
                [site_id],
            )?;
            conn.execute(
                "INSERT INTO visits SELECT site_id, session_id, visitor_id, -1, version, start_ts, end_ts,
                     duration_ms, pageviews, events, bounce, hostname, entry_page, exit_page, referrer,
                     source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
                     country, region, city, browser, browser_version, os, os_version, device
                 FROM import_visits",
                [],
            )?;
            // Each folded again from all of its events: a visit spans at most a day.
            let span_us = 24 * 3_600_000_000i64;
            let from = duckdb::types::Value::Timestamp(
                duckdb::types::TimeUnit::Microsecond,
                events.iter().map(|e| e.ts_us).min().unwrap_or_default() - span_us,
            );
            let to = duckdb::types::Value::Timestamp(
                duckdb::types::TimeUnit::Microsecond,
                events.iter().map(|e| e.ts_us).max().unwrap_or_default() + span_us,
            );
            conn.execute(
                &format!(
                    "INSERT INTO visits
                     SELECT ?, session_id, arg_min(visitor_id, ts), 1,
                            coalesce(any_value(prior.top), 0) + 1, {FOLD}
                     FROM (SELECT *, {FIRST} FROM events
                           WHERE site_id = ? AND ts BETWEEN ? AND ?
                             AND session_id IN (SELECT DISTINCT session_id FROM import_new)) s
                     LEFT JOIN (SELECT session_id AS prior_session, top FROM import_visits) prior
                            ON prior.prior_session = s.session_id
                     GROUP BY session_id, first"
                ),
                params![site_id, site_id, from, to],
            )?;
            // Days the rollups may have built already are read from the events again until
            // they are rebuilt (see `stats::rollup`).
            let settled =
                duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Millisecond, now_ms - DIRTY_AGE_MS);
            conn.execute(
                "INSERT INTO rollup_dirty
                 SELECT DISTINCT ?, day, current_timestamp::TIMESTAMP FROM (
                     SELECT ts::DATE AS day FROM import_new WHERE ts < ?
                     UNION SELECT start_ts::DATE FROM import_visits WHERE start_ts < ?)",
                params![site_id, settled.clone(), settled],
            )?;
            Ok(stored)
        })?;
        let _ = conn.execute_batch(
            "DROP TABLE IF EXISTS import_events; DROP TABLE IF EXISTS import_props;
             DROP TABLE IF EXISTS import_new; DROP TABLE IF EXISTS import_visits;",
        );
        let stored = stored as u64;
        Ok(ImportReport { read, stored, skipped: read - stored })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_visit_ids_are_stable_apart_and_out_of_the_counters_range() {
        let a = imported_session_id(1, 42, 7);
        assert_eq!(a, imported_session_id(1, 42, 7));
        assert!(a >= IMPORTED_SESSIONS);
        assert_ne!(a, imported_session_id(2, 42, 7));
        assert_ne!(a, imported_session_id(1, 43, 7));
        assert_ne!(a, imported_session_id(1, 42, 8));
    }
}
