//! Daily rollups: each settled day of a site, summed once per dimension value, so that a
//! query over whole days reads a row per day and value instead of every event.
//!
//! # What is kept
//!
//! `rollups` holds, per site, local day (in the site's zone) and [`Rolled`] dimension, the
//! day's numbers by the dimension's value: visitors, visits, pageviews, events, bounces and
//! the visits' summed duration. Event dimensions (page, hostname, event name) are counted
//! from `events`; visit dimensions (entry and exit page, source, device, country...) from the
//! visits that started on the day, weighted by `sign` as every read of `visits` is.
//!
//! Visitors add up over days because a visitor is counted once **per day** everywhere in
//! the engine (`docs/metrics.md`, "Visitors across days"): the hashes are salted daily, so a
//! day's visitors are the most a query can tell apart, and a range's visitors are the sum of
//! its days'. That is what makes the rollups exact, not an approximation of the raw counts:
//! a query gives the same numbers from either (tested).
//!
//! # When a day is read from them
//!
//! A day is built once it has **settled**: it ended [`SETTLE_MS`] ago in the site's zone, so
//! that the visits that started on it have ended (a visit ends 30 minutes after its last
//! hit). `rollup_days` records each built day with the zone it was cut in.
//!
//! Events can still arrive for a built day: a backfill, an import, an edge that spooled
//! while the aggregator was away. The ingest path marks the UTC date of any event or visit
//! row older than [`SETTLE_MS`] in `rollup_dirty`, **in the transaction that writes it**, so
//! no reader ever sees the new events without the mark. A day is read from the rollups only
//! when it is built, in the query's zone, and no dirty date touches it (a local day overlaps
//! at most the UTC dates one before and after its own); otherwise it is read from the events,
//! which are always right. The builder rebuilds marked days and deletes exactly the marks
//! it saw, in the transaction that writes the new rollups: a mark added meanwhile stays, and
//! the day waits for the next pass.
//!
//! A query uses the rollups when it has no filter, at most one dimension that is rolled
//! (or a day, week or month bucket), metrics that add up, and a range of whole local days
//! that are all built; anything else reads the events and visits as before.

use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use duckdb::{Connection, ToSql, params};
use hitkeep_protocol::EventKind;

use super::sql::{Param, Sql, local_day_sql};
use super::zone::{local_to_utc_ms, utc_to_local};
use super::{Dimension, Interval, Metric, Query, UtmField};
use crate::{Result, Store};

/// How long after a day ends (in the site's zone) it is rolled up.
pub const SETTLE_MS: i64 = 2 * 3_600_000;

/// Rows older than this when they are written mark their day dirty: less than
/// [`SETTLE_MS`], so that a batch that took a while from its receipt to its commit still
/// marks a day the builder built meanwhile.
pub(crate) const DIRTY_AGE_MS: i64 = SETTLE_MS / 2;

/// Most days built in one transaction: a long history is built in steps, so that the
/// builder never holds a transaction for long.
const DAYS_PER_STEP: i64 = 31;

/// A dimension kept in `rollups`, with its code in the `dim` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rolled {
    /// The day's events, not broken down (`value` is NULL).
    EventTotals,
    /// Events by page.
    Page,
    /// Events by hostname.
    Hostname,
    /// Events by name.
    EventName,
    /// The day's visits, not broken down.
    VisitTotals,
    /// Visits by a column of `visits`.
    Visit(&'static str),
}

/// Every visit column that is rolled up, in code order (codes from 10).
const VISIT_COLUMNS: [&str; 19] = [
    "entry_page",
    "exit_page",
    "hostname",
    "source",
    "referrer",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "device",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "country",
    "region",
    "city",
];

impl Rolled {
    fn all() -> impl Iterator<Item = Self> {
        [Self::EventTotals, Self::Page, Self::Hostname, Self::EventName, Self::VisitTotals]
            .into_iter()
            .chain(VISIT_COLUMNS.iter().map(|column| Self::Visit(column)))
    }

    fn code(self) -> i64 {
        match self {
            Self::EventTotals => 0,
            Self::Page => 1,
            Self::Hostname => 2,
            Self::EventName => 3,
            Self::VisitTotals => 9,
            Self::Visit(column) => {
                10 + VISIT_COLUMNS.iter().position(|known| *known == column).expect("a rolled column") as i64
            }
        }
    }

    fn is_of_events(self) -> bool {
        matches!(self, Self::EventTotals | Self::Page | Self::Hostname | Self::EventName)
    }

    /// The column broken down by, `None` for totals.
    fn column(self) -> Option<&'static str> {
        match self {
            Self::EventTotals | Self::VisitTotals => None,
            Self::Page => Some("path"),
            Self::Hostname => Some("hostname"),
            Self::EventName => Some("name"),
            Self::Visit(column) => Some(column),
        }
    }

    /// True when the stored text is a code (channel, device) the engine reads as a number.
    fn coded(self) -> bool {
        matches!(self, Self::Visit("channel" | "device"))
    }

    /// Where the events side (`ev`) of a query with `dimension` is read from.
    fn for_events(dimension: Option<&Dimension>) -> Option<Self> {
        match dimension {
            None | Some(Dimension::Time(_)) => Some(Self::EventTotals),
            Some(Dimension::Page) => Some(Self::Page),
            Some(Dimension::Hostname) => Some(Self::Hostname),
            Some(Dimension::EventName) => Some(Self::EventName),
            // Visit dimensions read everything from the visits.
            Some(_) => None,
        }
    }

    /// Where the visits side (`vi`) of a query with `dimension` is read from.
    fn for_visits(dimension: Option<&Dimension>) -> Option<Self> {
        use Dimension as D;
        let column = match dimension {
            None | Some(D::Time(_)) => return Some(Self::VisitTotals),
            // A page's visit numbers are those of the visits that entered on it.
            Some(D::Page | D::EntryPage) => "entry_page",
            Some(D::ExitPage) => "exit_page",
            Some(D::Hostname) => "hostname",
            Some(D::Source) => "source",
            Some(D::Referrer) => "referrer",
            Some(D::Channel) => "channel",
            Some(D::Utm(UtmField::Source)) => "utm_source",
            Some(D::Utm(UtmField::Medium)) => "utm_medium",
            Some(D::Utm(UtmField::Campaign)) => "utm_campaign",
            Some(D::Utm(UtmField::Content)) => "utm_content",
            Some(D::Utm(UtmField::Term)) => "utm_term",
            Some(D::Device) => "device",
            Some(D::Browser) => "browser",
            Some(D::BrowserVersion) => "browser_version",
            Some(D::Os) => "os",
            Some(D::OsVersion) => "os_version",
            Some(D::Country | D::CountryName) => "country",
            Some(D::Region | D::RegionName) => "region",
            Some(D::City) => "city",
            Some(D::EventName | D::Goal | D::Prop(_)) => return None,
        };
        Some(Self::Visit(column))
    }
}

/// The local days `[start, end)` of a query read from the rollups, as days since
/// 1970-01-01, and where they stop (UTC ms): what follows, up to the query's end, is read
/// from the events and visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Days {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) split_ms: i64,
}

/// The local day (days since 1970-01-01) of a local midnight at `utc_ms`, when it is one.
fn midnight_day(zone: Tz, utc_ms: i64) -> Option<i64> {
    let local = utc_to_local(zone, utc_ms);
    if local.time() != NaiveTime::MIN || local_to_utc_ms(zone, local) != utc_ms {
        return None;
    }
    Some(local.date().signed_duration_since(NaiveDate::default()).num_days())
}

/// True when the query's shape can be answered from rollups (its days aside).
fn shape_fits(query: &Query) -> bool {
    if query.filter.is_some() || query.needs_goals() || query.dimensions.len() > 1 {
        return false;
    }
    let dimension = query.dimensions.first();
    let metrics_add_up = query.metrics.iter().all(|metric| metric.adds_up());
    let dimension_fits = match dimension {
        None => true,
        Some(Dimension::Time(interval)) => {
            matches!(interval, Interval::Day | Interval::Week | Interval::Month)
        }
        // By an event dimension, visits are distinct visits over the range: a visit across
        // midnight is one visit, which daily sums would count twice.
        Some(Dimension::Page | Dimension::Hostname | Dimension::EventName) => {
            !query.metrics.contains(&Metric::Visits)
        }
        Some(dimension) => Rolled::for_visits(Some(dimension)).is_some(),
    };
    metrics_add_up && dimension_fits
}

/// The days of `query` the rollups answer: when its shape fits and its range starts at a
/// local midnight, the built and clean days from its start on, as far as they go without a
/// gap. The rest of the range (today, say) is read from the raw tables and added: every
/// number the rollups hold adds up over days.
pub(crate) fn covering(query: &Query, conn: &Connection) -> Result<Option<Days>> {
    if !shape_fits(query) {
        return Ok(None);
    }
    let Some(start) = midnight_day(query.timezone, query.start_ms) else { return Ok(None) };
    // The days that end within the range.
    let end = midnight_day(query.timezone, query.end_ms).unwrap_or_else(|| {
        utc_to_local(query.timezone, query.end_ms)
            .date()
            .signed_duration_since(NaiveDate::default())
            .num_days()
    });
    if end <= start {
        return Ok(None);
    }
    let built: Vec<i64> = conn
        .prepare_cached(
            "SELECT r.day - DATE '1970-01-01' FROM rollup_days r WHERE r.site_id = ? AND r.timezone = ? \
             AND r.day >= DATE '1970-01-01' + CAST(? AS INTEGER) AND r.day < DATE '1970-01-01' + CAST(? AS INTEGER) \
             AND NOT EXISTS (SELECT 1 FROM rollup_dirty x WHERE x.site_id = r.site_id \
                             AND x.utc_day BETWEEN r.day - 1 AND r.day + 1) ORDER BY r.day",
        )?
        .query_map(params![query.site_id, query.timezone.name(), start, end], |row| row.get(0))?
        .collect::<duckdb::Result<_>>()?;
    let run = built.iter().zip(start..).take_while(|(day, expected)| **day == *expected).count() as i64;
    if run == 0 {
        return Ok(None);
    }
    let split_ms = local_to_utc_ms(query.timezone, day_start(start + run)).min(query.end_ms);
    Ok(Some(Days { start, end: start + run, split_ms }))
}

/// The rollups' rows for one side of a query, where the day and the dimension are.
fn rollup_rows(sql: &mut Sql, query: &Query, rolled: Rolled, days: Days) {
    sql.push(" FROM rollups r WHERE r.site_id = ").bind(Param::Int(i64::from(query.site_id)));
    let _ = write!(sql.text, " AND r.dim = {}", rolled.code());
    sql.push(" AND r.day >= DATE '1970-01-01' + CAST(").bind(Param::Int(days.start)).push(" AS INTEGER)");
    sql.push(" AND r.day < DATE '1970-01-01' + CAST(").bind(Param::Int(days.end)).push(" AS INTEGER)");
}

/// The select list's dimension, from a rollup row: its value, or its day's bucket (local
/// midnights as ms, as the events' buckets are labelled).
fn dimension(sql: &mut Sql, query: &Query, rolled: Rolled) {
    let day = "epoch_ms(CAST(r.day AS TIMESTAMP))";
    match query.dimensions.first() {
        None => {}
        Some(Dimension::Time(Interval::Week)) => {
            let _ =
                write!(sql.text, "(({day} // 86400000) - (({day} // 86400000 + 3) % 7)) * 86400000 AS d0, ");
        }
        Some(Dimension::Time(Interval::Month)) => {
            sql.push("epoch_ms(CAST(date_trunc('month', r.day) AS TIMESTAMP)) AS d0, ");
        }
        Some(Dimension::Time(_)) => {
            let _ = write!(sql.text, "{day} AS d0, ");
        }
        Some(_) if rolled.coded() => {
            sql.push("CAST(r.value AS UTINYINT) AS d0, ");
        }
        Some(_) => {
            sql.push("r.value AS d0, ");
        }
    }
}

fn group(sql: &mut Sql, query: &Query) {
    if !query.dimensions.is_empty() {
        sql.push(" GROUP BY ALL");
    }
}

/// The rest of `query` after the rolled days: `None` when the rollups hold all of it.
pub(super) fn rest(query: &Query, days: Days) -> Option<Query> {
    (days.split_ms < query.end_ms).then(|| Query { start_ms: days.split_ms, ..query.clone() })
}

/// A side of [`super::sql::Plan`] read from the rollups: the events (`ev`) or the visits
/// (`vi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Events,
    Visits,
}

impl Side {
    /// The side's columns, as the raw CTEs name them, and the rollup column each sums.
    fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Events => &[
                ("e_visitors", "visitors"),
                ("e_visits", "visits"),
                ("e_pageviews", "pageviews"),
                ("e_events", "events"),
            ],
            Self::Visits => &[
                ("v_visitors", "visitors"),
                ("v_visits", "visits"),
                ("v_pageviews", "pageviews"),
                ("v_events", "events"),
                ("v_bounces", "bounces"),
                ("v_duration", "duration_ms"),
            ],
        }
    }
}

/// A side of `query` from the rollups of `days` and, when the range goes on past them, the
/// raw rows of the rest (`raw`: the raw CTE of [`rest`]), summed by the dimension.
pub(super) fn cte(query: &Query, days: Days, side: Side, raw: Option<Sql>) -> Sql {
    let dimension = query.dimensions.first();
    let rolled = match side {
        Side::Events => Rolled::for_events(dimension),
        Side::Visits => Rolled::for_visits(dimension),
    }
    .expect("checked by covering");
    let mut sql = Sql::default();
    sql.push("SELECT ");
    self::dimension(&mut sql, query, rolled);
    let sums: Vec<String> =
        side.columns().iter().map(|(name, column)| format!("sum(r.{column}) AS {name}")).collect();
    sql.push(&sums.join(", "));
    rollup_rows(&mut sql, query, rolled, days);
    group(&mut sql, query);
    let Some(raw) = raw else { return sql };
    let mut both = Sql::default();
    both.push("SELECT ");
    if dimension.is_some() {
        both.push("d0, ");
    }
    let sums: Vec<String> = side.columns().iter().map(|(name, _)| format!("sum({name}) AS {name}")).collect();
    both.push(&sums.join(", "));
    // By name: the raw side computes only the columns its query shows; the others are NULL,
    // which sums skip.
    both.push(" FROM (").append(sql).push(" UNION ALL BY NAME ").append(raw).push(")");
    group(&mut both, query);
    both
}

/// What a pass of the builder did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupReport {
    /// Days built (or rebuilt) in the pass.
    pub days_built: u64,
    /// Dirty marks cleared.
    pub marks_cleared: u64,
}

/// Builds the rollups of settled days, on a connection of its own (see the module's docs).
pub struct RollupBuilder {
    conn: Connection,
}

impl std::fmt::Debug for RollupBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollupBuilder").finish_non_exhaustive()
    }
}

impl Store {
    /// A rollup builder, on its own connection.
    pub fn rollup_builder(&self) -> Result<RollupBuilder> {
        Ok(RollupBuilder { conn: self.conn().try_clone()? })
    }
}

impl RollupBuilder {
    /// One pass: rebuilds the days that dirty marks touch, then builds every settled day
    /// not built yet, for every site; `now_ms` is the clock. `stop` is asked between
    /// transactions: when it says so, the pass ends there (what it built is kept).
    pub fn run(&mut self, now_ms: i64, stop: &dyn Fn() -> bool) -> Result<RollupReport> {
        let mut report = RollupReport::default();
        for site in self.sites()? {
            if stop() {
                break;
            }
            let last = last_settled_day(site.zone, now_ms);
            // Marks first: the settled days each touches, in runs that hold every mark's days
            // whole, so that each mark is cleared in the transaction that rebuilt them all.
            let marks = self.marks(site.id)?;
            let mut touched: Vec<i64> = marks
                .iter()
                .flat_map(|(_, utc_day)| utc_day - 1..=utc_day + 1)
                .filter(|day| *day <= last)
                .collect();
            touched.sort_unstable();
            touched.dedup();
            // Marks none of whose days has settled are cleared without building: those days
            // are built later, from the events as they are then.
            let (waiting, settled): (Vec<Mark>, Vec<Mark>) =
                marks.iter().partition(|(_, utc_day)| utc_day - 1 > last);
            for run in runs(&touched, i64::MAX) {
                if stop() {
                    return Ok(report);
                }
                let inside: Vec<i64> = settled
                    .iter()
                    .filter(|(_, utc_day)| run.contains(&(utc_day - 1)))
                    .map(|(id, _)| *id)
                    .collect();
                report.days_built += self.build(&site, run, &inside)?;
                report.marks_cleared += inside.len() as u64;
            }
            if !waiting.is_empty() {
                let rowids: Vec<i64> = waiting.iter().map(|(id, _)| *id).collect();
                self.build(&site, &[], &rowids)?;
                report.marks_cleared += rowids.len() as u64;
            }
            for run in runs(&self.unbuilt(&site, last)?, DAYS_PER_STEP) {
                if stop() {
                    return Ok(report);
                }
                report.days_built += self.build(&site, run, &[])?;
            }
        }
        Ok(report)
    }

    fn sites(&self) -> Result<Vec<RollupSite>> {
        let sites: Vec<(u32, String)> = self
            .conn
            .prepare("SELECT id, timezone FROM sites ORDER BY id")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<duckdb::Result<_>>()?;
        Ok(sites
            .into_iter()
            .filter_map(|(id, timezone)| Some(RollupSite { id, zone: timezone.parse().ok()? }))
            .collect())
    }

    /// A site's dirty marks.
    fn marks(&self, site_id: u32) -> Result<Vec<Mark>> {
        Ok(self
            .conn
            .prepare("SELECT rowid, utc_day - DATE '1970-01-01' FROM rollup_dirty WHERE site_id = ?")?
            .query_map([site_id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<duckdb::Result<_>>()?)
    }

    /// The settled local days (up to `last`) from the site's first event on that are not
    /// built in its zone (days without traffic too: a range across a quiet day is still
    /// read from the rollups).
    fn unbuilt(&self, site: &RollupSite, last: i64) -> Result<Vec<i64>> {
        let id = i64::from(site.id);
        let first: Option<i64> =
            self.conn.query_row("SELECT epoch_ms(min(ts)) FROM events WHERE site_id = ?", [id], |row| {
                row.get(0)
            })?;
        let Some(first) = first else { return Ok(Vec::new()) };
        let first =
            utc_to_local(site.zone, first).date().signed_duration_since(NaiveDate::default()).num_days();
        if first > last {
            return Ok(Vec::new());
        }
        let built: std::collections::HashSet<i64> = self
            .conn
            .prepare(
                "SELECT day - DATE '1970-01-01' FROM rollup_days WHERE site_id = ? AND timezone = ? \
                 AND day >= DATE '1970-01-01' + CAST(? AS INTEGER)",
            )?
            .query_map(params![id, site.zone.name(), first], |row| row.get(0))?
            .collect::<duckdb::Result<_>>()?;
        Ok((first..=last).filter(|day| !built.contains(day)).collect())
    }

    /// Builds `days` (consecutive, maybe none) of a site and deletes the dirty marks
    /// `clear` (rowids), in one transaction; the days built.
    fn build(&mut self, site: &RollupSite, days: &[i64], clear: &[i64]) -> Result<u64> {
        let id = i64::from(site.id);
        let zone = site.zone;
        crate::in_transaction(&self.conn, |conn| {
            if let (Some(first), Some(last)) = (days.first(), days.last()) {
                let start_ms = local_to_utc_ms(zone, day_start(*first));
                let end_ms = local_to_utc_ms(zone, day_start(last + 1));
                let between = "day >= DATE '1970-01-01' + CAST(? AS INTEGER) AND day <= DATE '1970-01-01' + CAST(? AS INTEGER)";
                conn.execute(
                    &format!("DELETE FROM rollups WHERE site_id = ? AND {between}"),
                    params![id, first, last],
                )?;
                conn.execute(
                    &format!("DELETE FROM rollup_days WHERE site_id = ? AND {between}"),
                    params![id, first, last],
                )?;
                for rolled in Rolled::all() {
                    let sql = build_sql(rolled, id, zone, start_ms, end_ms);
                    conn.prepare(&sql.text)?.execute(params_of(&sql).as_slice())?;
                }
                conn.execute(
                    "INSERT INTO rollup_days SELECT ?, DATE '1970-01-01' + CAST(d AS INTEGER), ?, \
                     current_timestamp::TIMESTAMP FROM range(?, ?) t(d)",
                    params![id, zone.name(), first, last + 1],
                )?;
            }
            let mut statement = conn.prepare_cached("DELETE FROM rollup_dirty WHERE rowid = ?")?;
            for rowid in clear {
                statement.execute([rowid])?;
            }
            Ok(days.len() as u64)
        })
    }
}

/// A dirty mark: its rowid and its UTC day (days since 1970-01-01).
type Mark = (i64, i64);

/// A site, as the builder sees it.
struct RollupSite {
    id: u32,
    zone: Tz,
}

/// The last local day of `zone` that has settled at `now_ms`.
fn last_settled_day(zone: Tz, now_ms: i64) -> i64 {
    // The day before the local day of `now - SETTLE` (which has not ended that long ago).
    utc_to_local(zone, now_ms - SETTLE_MS).date().signed_duration_since(NaiveDate::default()).num_days() - 1
}

/// The bound parameters of `sql`, as DuckDB takes them.
fn params_of(sql: &Sql) -> Vec<&dyn ToSql> {
    sql.params.iter().map(|param| param as &dyn ToSql).collect()
}

fn day_start(day: i64) -> chrono::NaiveDateTime {
    (NaiveDate::default() + chrono::Duration::days(day)).and_time(NaiveTime::MIN)
}

/// `days` (ascending) cut into runs of consecutive days, at most `longest` long.
fn runs(days: &[i64], longest: i64) -> Vec<&[i64]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for index in 1..=days.len() {
        let ends =
            index == days.len() || days[index] != days[index - 1] + 1 || (index - start) as i64 >= longest;
        if ends {
            runs.push(&days[start..index]);
            start = index;
        }
    }
    runs
}

/// The `INSERT` of one rolled dimension's rows for the local days in `[start_ms, end_ms)`.
fn build_sql(rolled: Rolled, site: i64, zone: Tz, start_ms: i64, end_ms: i64) -> Sql {
    let value = match rolled.column() {
        Some(column) if rolled.coded() => format!("CAST({column} AS VARCHAR)"),
        Some(column) => column.to_owned(),
        None => "CAST(NULL AS VARCHAR)".to_owned(),
    };
    let mut sql = Sql::default();
    sql.push("INSERT INTO rollups SELECT ").bind(Param::Int(site));
    let _ = write!(sql.text, ", DATE '1970-01-01' + CAST(day AS INTEGER), {}, value, ", rolled.code());
    if rolled.is_of_events() {
        let _ = write!(
            sql.text,
            "count(DISTINCT visitor_id), count(DISTINCT session_id), count(*) FILTER (WHERE kind = {}), \
             count(*), 0, 0 FROM (SELECT ",
            EventKind::Pageview.code()
        );
        sql.append(local_day_sql("ts", zone, start_ms, end_ms));
        let _ = write!(
            sql.text,
            " AS day, {value} AS value, visitor_id, session_id, kind FROM events WHERE site_id = "
        );
        sql.bind(Param::Int(site)).push(" AND ");
        super::sql::range(&mut sql, "ts", start_ms, end_ms);
        let _ = write!(sql.text, " AND kind <> {}) GROUP BY day, value", EventKind::Engagement.code());
    } else {
        // By visitor first: a visitor counts under a value where their visits are live (an
        // exit page a visit moved on from cancels out).
        sql.push(
            "count(*) FILTER (WHERE n > 0), sum(n), sum(pv), sum(ev), sum(b), sum(d) FROM (SELECT day, value, \
             visitor_id, sum(sign) AS n, sum(sign * pageviews) AS pv, sum(sign * (pageviews + events)) AS ev, \
             sum(sign * bounce) AS b, sum(sign * duration_ms) AS d FROM (SELECT ",
        );
        sql.append(local_day_sql("start_ts", zone, start_ms, end_ms));
        let _ = write!(
            sql.text,
            " AS day, {value} AS value, visitor_id, sign, pageviews, events, bounce, duration_ms FROM visits WHERE site_id = "
        );
        sql.bind(Param::Int(site)).push(" AND ");
        super::sql::range(&mut sql, "start_ts", start_ms, end_ms);
        sql.push(") GROUP BY day, value, visitor_id) GROUP BY day, value HAVING sum(n) > 0");
    }
    sql
}

/// The ingest path's half: the UTC dates of rows older than [`SETTLE_MS`] in a batch being
/// written, marked in the same transaction (see the module's docs).
pub(crate) fn mark_dirty(conn: &Connection, late: &[(u32, i64)]) -> duckdb::Result<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO rollup_dirty VALUES (?, DATE '1970-01-01' + CAST(? AS INTEGER), current_timestamp::TIMESTAMP)",
    )?;
    for (site_id, utc_day) in late {
        statement.execute(params![site_id, utc_day])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_consecutive_and_bounded() {
        let days: Vec<i64> = (0..40).chain([50, 51, 53]).collect();
        let lengths: Vec<usize> = runs(&days, DAYS_PER_STEP).iter().map(|run| run.len()).collect();
        assert_eq!(lengths, [31, 9, 2, 1]);
        assert_eq!(runs(&days, i64::MAX).len(), 3);
        assert!(runs(&[], 1).is_empty());
    }

    #[test]
    fn midnights_are_told_in_the_zone() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08 00:00 EST = 05:00 UTC; the day after (clocks forward) starts at 04:00 UTC.
        let day = NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .signed_duration_since(NaiveDate::default())
            .num_days();
        assert_eq!(midnight_day(zone, 1_772_946_000_000), Some(day));
        assert_eq!(midnight_day(zone, 1_773_028_800_000), Some(day + 1));
        assert_eq!(midnight_day(zone, 1_772_946_000_000 + 3_600_000), None);
    }
}
