//! The stats engine: a typed query (metrics, dimensions, filters, a time range, a time
//! zone) in, rows of numbers out, computed in DuckDB.
//!
//! Everything above the store (the dashboard's endpoints, the Plausible-compatible Stats
//! API, CSV, the command line) translates to and from [`Query`]; nothing else builds stats
//! SQL. The SQL is assembled in [`sql`] from fragments chosen by these enums, with every
//! value bound as a parameter. The metrics' definitions are in `docs/metrics.md`.
//!
//! Two tables serve the reads: `events` (one row per hit) for what happened on pages, and
//! `visits` (one live row per visit, see migration 4) for what visits did: where they came
//! from, how they entered and left, how long they lasted, whether they bounced. A query
//! takes each metric from the table that holds it and joins the two on the dimensions.

mod funnels;
mod goals;
mod imported;
mod places;
pub mod rollup;
mod sources;
pub(crate) mod sql;
#[cfg(test)]
mod tests;
mod zone;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono_tz::Tz;
use duckdb::types::Value;

pub use funnels::{FunnelReport, FunnelStep};
pub use imported::Imports;
pub use places::{country_name, region_name};
pub use rollup::{RollupBuilder, RollupReport, SETTLE_MS};
pub use sources::{MAX_PROPERTY_KEYS, PropertyKey};
pub use zone::{Interval, bucket_label, bucket_starts, local_to_utc_ms, offset_ms, utc_to_local};

use crate::{Error, Goal, Result, Store};

/// Most rows a query returns.
pub const MAX_LIMIT: usize = 10_000;
/// Most values in one filter, and most filters in one query.
pub const MAX_FILTER_VALUES: usize = 100;
/// Longest filter value (a regular expression, say).
pub const MAX_FILTER_VALUE_LEN: usize = 1000;
/// Deepest nesting of and/or/not.
pub const MAX_FILTER_DEPTH: usize = 8;

/// A number the stats engine computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Unique visitors (daily-salted hashes; see `docs/metrics.md`).
    Visitors,
    /// Visits (sessions).
    Visits,
    /// Pageviews.
    Pageviews,
    /// Pageviews per visit.
    ViewsPerVisit,
    /// Share of visits that bounced, in percent.
    BounceRate,
    /// Average visit duration, in seconds.
    VisitDuration,
    /// Events: pageviews and custom events (engagement reports are not events).
    Events,
    /// A row's visitors as a share of all visitors of the query, in percent.
    Percentage,
    /// Visitors who completed the goal (of the row, or of the goal filter) as a share of all
    /// visitors (with the same filters but the goal's), in percent.
    ConversionRate,
    /// Visitors who completed the goal (of the row, or of the goal filter) as a share of the
    /// row's visitors (with the same filters but the goal's), in percent: which source, page
    /// or country converts best.
    GroupConversionRate,
    /// By page: the engagement time reported on the page, summed, per visitor who reported
    /// any, in seconds.
    TimeOnPage,
    /// By page: the deepest scroll reported per visit on the page, averaged, in percent.
    ScrollDepth,
    /// The revenue of the goal's events (of the row, or of the goal filter), in the major
    /// unit of their currency ([`QueryResult::currency`]).
    TotalRevenue,
    /// The revenue per goal event that carried revenue.
    AverageRevenue,
}

impl Metric {
    /// True for metrics only `visits` has.
    pub fn is_visit_only(self) -> bool {
        matches!(self, Self::ViewsPerVisit | Self::BounceRate | Self::VisitDuration)
    }

    /// True for the revenue metrics.
    pub fn is_revenue(self) -> bool {
        matches!(self, Self::TotalRevenue | Self::AverageRevenue)
    }

    /// True for the metrics that need goals (a goal filter or the goal dimension).
    pub fn needs_goals(self) -> bool {
        matches!(self, Self::ConversionRate | Self::GroupConversionRate) || self.is_revenue()
    }

    /// True for the metrics computed as the row's visitors and divided afterwards.
    pub(crate) fn is_visitor_share(self) -> bool {
        matches!(self, Self::Visitors | Self::Percentage | Self::ConversionRate | Self::GroupConversionRate)
    }

    /// True for the metrics that are sums, or ratios of sums, over visits and events: what
    /// per-day aggregates (the rollups, imported history) can answer by adding days up.
    pub(crate) fn adds_up(self) -> bool {
        matches!(
            self,
            Self::Visitors
                | Self::Visits
                | Self::Pageviews
                | Self::ViewsPerVisit
                | Self::BounceRate
                | Self::VisitDuration
                | Self::Events
                | Self::Percentage
        )
    }

    /// True for the engagement metrics (time on page, scroll depth).
    pub fn is_engagement(self) -> bool {
        matches!(self, Self::TimeOnPage | Self::ScrollDepth)
    }
}

/// The campaign parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UtmField {
    /// `utm_source`.
    Source,
    /// `utm_medium`.
    Medium,
    /// `utm_campaign`.
    Campaign,
    /// `utm_content`.
    Content,
    /// `utm_term`.
    Term,
}

/// What rows are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The page's path.
    Page,
    /// The page's hostname.
    Hostname,
    /// The first page of the visit.
    EntryPage,
    /// The last page of the visit.
    ExitPage,
    /// The referrer's source name (`Google`).
    Source,
    /// The referring page.
    Referrer,
    /// The acquisition channel.
    Channel,
    /// A campaign parameter of the visit's landing page.
    Utm(UtmField),
    /// Desktop, mobile, tablet.
    Device,
    /// Browser family.
    Browser,
    /// Browser version.
    BrowserVersion,
    /// Operating system.
    Os,
    /// Operating system version.
    OsVersion,
    /// Country (ISO 3166-1 alpha-2).
    Country,
    /// Country, by its English name (grouped by code).
    CountryName,
    /// Region (ISO 3166-2).
    Region,
    /// Region, by its name (grouped by code).
    RegionName,
    /// City.
    City,
    /// The event's name (`pageview` for pageviews).
    EventName,
    /// The site's goals, each a row of the visitors and events that completed it.
    Goal,
    /// A custom property of events.
    Prop(String),
    /// Time buckets in the site's zone.
    Time(Interval),
}

/// Where a dimension's values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// On each event (the page, the event's name, its properties).
    Event,
    /// On the visit (where it came from, how it entered and left).
    Visit,
    /// Time, on both.
    Time,
}

impl Dimension {
    pub(crate) fn level(&self) -> Level {
        match self {
            Self::Page | Self::Hostname | Self::EventName | Self::Goal | Self::Prop(_) => Level::Event,
            Self::Time(_) => Level::Time,
            _ => Level::Visit,
        }
    }
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Equal to one of the values.
    Is,
    /// Equal to none of the values.
    IsNot,
    /// Contains one of the values.
    Contains,
    /// Contains none of the values.
    ContainsNot,
    /// Matches one of the regular expressions (RE2 syntax).
    Matches,
    /// Matches none of the regular expressions.
    MatchesNot,
}

impl Operator {
    /// True for the negated operators.
    pub fn is_negated(self) -> bool {
        matches!(self, Self::IsNot | Self::ContainsNot | Self::MatchesNot)
    }
}

/// A filter: conditions on dimensions, combined.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// A condition on one dimension.
    Condition {
        /// The dimension compared (not a time dimension).
        dimension: Dimension,
        /// How.
        operator: Operator,
        /// With what: any one of them.
        values: Vec<String>,
        /// False to compare ignoring case.
        case_sensitive: bool,
    },
    /// All of them.
    And(Vec<Filter>),
    /// Any of them.
    Or(Vec<Filter>),
    /// Not this one.
    Not(Box<Filter>),
    /// Visits that had an event matching the filter (conditions on event dimensions only).
    HasDone(Box<Filter>),
    /// Visits that had no event matching the filter.
    HasNotDone(Box<Filter>),
}

impl Filter {
    /// `dimension is value`.
    pub fn is(dimension: Dimension, value: &str) -> Self {
        Self::Condition {
            dimension,
            operator: Operator::Is,
            values: vec![value.to_owned()],
            case_sensitive: true,
        }
    }

    /// True when a condition of the filter is on `dimension`.
    pub fn mentions(&self, dimension: &Dimension) -> bool {
        match self {
            Self::Condition { dimension: own, .. } => own == dimension,
            Self::And(filters) | Self::Or(filters) => filters.iter().any(|filter| filter.mentions(dimension)),
            Self::Not(inner) | Self::HasDone(inner) | Self::HasNotDone(inner) => inner.mentions(dimension),
        }
    }

    /// The filter without its top-level goal conditions (`None` when nothing is left): the
    /// population a conversion rate divides by.
    pub fn without_goals(&self) -> Option<Filter> {
        match self {
            Self::Condition { dimension: Dimension::Goal, .. } => None,
            Self::And(filters) => {
                let rest: Vec<Filter> = filters.iter().filter_map(Filter::without_goals).collect();
                match rest.len() {
                    0 => None,
                    1 => rest.into_iter().next(),
                    _ => Some(Self::And(rest)),
                }
            }
            other => Some(other.clone()),
        }
    }

    /// Checks the limits and the rules of nesting.
    pub fn validate(&self) -> Result<()> {
        self.check(0, false)
    }

    fn check(&self, depth: usize, behavioral: bool) -> Result<()> {
        if depth > MAX_FILTER_DEPTH {
            return Err(invalid(
                "filters",
                format!("filters are nested deeper than {MAX_FILTER_DEPTH} levels"),
            ));
        }
        match self {
            Self::Condition { dimension, operator, values, .. } => {
                if matches!(dimension, Dimension::Time(_)) {
                    return Err(invalid("filters", "time dimensions cannot be filtered".into()));
                }
                if behavioral && dimension.level() != Level::Event {
                    return Err(invalid(
                        "filters",
                        "behavioral filters (has_done, has_not_done) can only be used with event dimension filters"
                            .into(),
                    ));
                }
                if values.is_empty() || values.len() > MAX_FILTER_VALUES {
                    return Err(invalid(
                        "filters",
                        format!("a filter takes 1 to {MAX_FILTER_VALUES} values"),
                    ));
                }
                if let Some(value) = values.iter().find(|value| value.len() > MAX_FILTER_VALUE_LEN) {
                    return Err(invalid(
                        "filters",
                        format!(
                            "a filter value is {} bytes long, more than {MAX_FILTER_VALUE_LEN}",
                            value.len()
                        ),
                    ));
                }
                if matches!(operator, Operator::Matches | Operator::MatchesNot) {
                    for value in values {
                        compile_regex(value, true)?;
                    }
                }
                Ok(())
            }
            Self::And(filters) | Self::Or(filters) => {
                if filters.is_empty() || filters.len() > MAX_FILTER_VALUES {
                    return Err(invalid("filters", format!("and/or take 1 to {MAX_FILTER_VALUES} filters")));
                }
                filters.iter().try_for_each(|filter| filter.check(depth + 1, behavioral))
            }
            Self::Not(filter) => filter.check(depth + 1, behavioral),
            Self::HasDone(filter) | Self::HasNotDone(filter) => {
                if behavioral {
                    return Err(invalid(
                        "filters",
                        "behavioral filters (has_done, has_not_done) cannot be nested".into(),
                    ));
                }
                filter.check(depth + 1, true)
            }
        }
    }
}

/// What a result is sorted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKey {
    /// The query's metric at this index.
    Metric(usize),
    /// The query's dimension at this index.
    Dimension(usize),
}

/// A stats query on one site.
#[derive(Debug, Clone)]
pub struct Query {
    /// The site.
    pub site_id: u32,
    /// The time range, ms since the epoch, UTC: `[start_ms, end_ms)`.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
    /// The site's zone, for time buckets.
    pub timezone: Tz,
    /// What to compute, in this order.
    pub metrics: Vec<Metric>,
    /// What to group by, in this order (none: one row of totals).
    pub dimensions: Vec<Dimension>,
    /// Which events and visits count.
    pub filter: Option<Filter>,
    /// Sort order (descending when true); by the first metric, descending, when empty (by
    /// time first when there is a time dimension).
    pub order_by: Vec<(OrderKey, bool)>,
    /// Rows to return, at most [`MAX_LIMIT`].
    pub limit: usize,
    /// Rows to skip.
    pub offset: usize,
    /// The site's goals, for goal dimensions, filters and conversion rates: the engine reads
    /// them itself when the query needs them and this is empty.
    pub goals: Vec<Goal>,
}

impl Query {
    /// A query of `metrics` over `[start_ms, end_ms)`, no dimensions, no filter.
    pub fn new(site_id: u32, start_ms: i64, end_ms: i64, timezone: Tz, metrics: Vec<Metric>) -> Self {
        Self {
            site_id,
            start_ms,
            end_ms,
            timezone,
            metrics,
            dimensions: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            limit: MAX_LIMIT,
            offset: 0,
            goals: Vec::new(),
        }
    }

    /// True when the query needs the site's goals.
    pub fn needs_goals(&self) -> bool {
        self.dimensions.contains(&Dimension::Goal)
            || self.metrics.iter().any(|m| m.needs_goals())
            || self.filter.as_ref().is_some_and(|filter| filter.mentions(&Dimension::Goal))
    }

    /// Checks what the engine cannot answer, with a message naming the problem.
    pub fn validate(&self) -> Result<()> {
        if self.metrics.is_empty() {
            return Err(invalid("metrics", "at least one metric is needed".into()));
        }
        if self.end_ms <= self.start_ms {
            return Err(invalid("date_range", "the range ends before it starts".into()));
        }
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(invalid("pagination", format!("the limit must be 1 to {MAX_LIMIT}")));
        }
        if let Some(filter) = &self.filter {
            filter.validate()?;
        }
        let times = self.dimensions.iter().filter(|dimension| dimension.level() == Level::Time).count();
        if times > 1 {
            return Err(invalid("dimensions", "at most one time dimension".into()));
        }
        for (index, dimension) in self.dimensions.iter().enumerate() {
            if self.dimensions[..index].contains(dimension) {
                return Err(invalid("dimensions", "a dimension is listed twice".into()));
            }
        }
        if self.dimensions.contains(&Dimension::Goal) && self.dimensions.len() > 1 {
            return Err(invalid("dimensions", "goals are broken down alone".into()));
        }
        let has_goals = self.dimensions.contains(&Dimension::Goal)
            || self.filter.as_ref().is_some_and(|filter| filter.mentions(&Dimension::Goal));
        if let Some(metric) = self.metrics.iter().find(|m| m.needs_goals())
            && !has_goals
        {
            let what = if metric.is_revenue() { "revenue metrics need" } else { "the conversion rate needs" };
            return Err(invalid("metrics", format!("{what} goals: a goal filter or the goal dimension")));
        }
        if self.metrics.contains(&Metric::GroupConversionRate) && self.dimensions.is_empty() {
            return Err(invalid(
                "metrics",
                "the group conversion rate is of each row: it needs dimensions".into(),
            ));
        }
        if self.metrics.iter().any(|m| m.is_revenue())
            && self.dimensions.iter().any(|d| d.level() == Level::Visit || matches!(d, Dimension::Prop(_)))
        {
            return Err(invalid(
                "metrics",
                "revenue metrics are broken down by goal, time, page, hostname or event name only".into(),
            ));
        }
        let engagement = self.metrics.iter().any(|m| m.is_engagement());
        let by_page = self.dimensions == [Dimension::Page];
        let page_filtered = self.dimensions.iter().all(|d| d.level() == Level::Time)
            && self.filter.as_ref().is_some_and(|filter| filter.mentions(&Dimension::Page));
        if engagement && !by_page && !page_filtered {
            return Err(invalid(
                "metrics",
                "time on page and scroll depth are of pages: broken down by page (the event:page dimension alone), \
                 or with a filter on the page (and at most a time dimension)"
                    .into(),
            ));
        }
        let events = self.event_dimensions();
        let visit_metrics: Vec<Metric> = self.metrics.iter().copied().filter(|m| m.is_visit_only()).collect();
        if !visit_metrics.is_empty() && !events.is_empty() && events != [&Dimension::Page] {
            return Err(invalid(
                "metrics",
                format!(
                    "visit metric(s) {} cannot be broken down by event dimension(s) {}",
                    names(visit_metrics.iter().map(|m| format!("{m:?}"))),
                    names(events.iter().map(|d| format!("{d:?}"))),
                ),
            ));
        }
        if self.metrics.contains(&Metric::ViewsPerVisit)
            && self.dimensions.iter().any(|dimension| dimension.level() == Level::Event)
        {
            return Err(invalid(
                "metrics",
                "views per visit cannot be broken down by event dimensions".into(),
            ));
        }
        // A page's visit metrics are those of the visits that entered on it: a page by entry
        // or exit page has none of its own.
        let entry_or_exit =
            self.dimensions.iter().any(|d| matches!(d, Dimension::EntryPage | Dimension::ExitPage));
        if !visit_metrics.is_empty() && !events.is_empty() && entry_or_exit {
            return Err(invalid(
                "dimensions",
                "visit metrics of pages cannot also be broken down by the entry or exit page".into(),
            ));
        }
        for (key, _) in &self.order_by {
            let fits = match key {
                OrderKey::Metric(index) => *index < self.metrics.len(),
                OrderKey::Dimension(index) => *index < self.dimensions.len(),
            };
            if !fits {
                return Err(invalid(
                    "order_by",
                    "an order_by entry is not a queried metric or dimension".into(),
                ));
            }
        }
        Ok(())
    }

    fn event_dimensions(&self) -> Vec<&Dimension> {
        self.dimensions.iter().filter(|dimension| dimension.level() == Level::Event).collect()
    }
}

/// A filter's regular expression, as the engine checks it (DuckDB matches with RE2, whose
/// syntax the `regex` crate shares: no look-around, no backreferences).
pub(crate) fn compile_regex(pattern: &str, case_sensitive: bool) -> Result<regex::Regex> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|error| invalid("filters", format!("invalid regular expression {pattern:?}: {error}")))
}

fn names(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn invalid(field: &'static str, reason: String) -> Error {
    Error::Invalid { field, reason }
}

/// A dimension's value in a result row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DimensionValue {
    /// Text (a page, a source...); `None` when the events had none (a direct visit's
    /// source, say).
    Text(Option<String>),
    /// A time bucket's start, in the site's zone, as ms since the epoch of that local time
    /// (format it with [`bucket_label`]).
    Time(i64),
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The dimensions' values, in the query's order.
    pub dimensions: Vec<DimensionValue>,
    /// The metrics' values, in the query's order; `None` when undefined (the bounce rate of
    /// no visits).
    pub metrics: Vec<Option<f64>>,
}

/// A query's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// The rows, sorted and paginated.
    pub rows: Vec<Row>,
    /// Rows there are before pagination.
    pub total_rows: u64,
    /// The currency of the revenue metrics (ISO 4217), when the query has revenue in one;
    /// revenue in several currencies is refused, since sums of them would mean nothing.
    pub currency: Option<String>,
}

impl Store {
    /// Runs a stats query, stopping it after [`QUERY_TIMEOUT`].
    pub fn query_stats(&self, query: &Query) -> Result<QueryResult> {
        self.query_stats_from(query, Tables::Any)
    }

    /// [`Store::query_stats`], reading the events and visits even where rollups could answer
    /// (what the rollups are checked against).
    pub fn query_stats_raw(&self, query: &Query) -> Result<QueryResult> {
        self.query_stats_from(query, Tables::Raw)
    }

    /// True when [`Store::query_stats`] reads `query` from the daily rollups (every day of
    /// its range built and clean, and a shape they hold).
    pub fn answered_from_rollups(&self, query: &Query) -> Result<bool> {
        query.validate()?;
        let conn = self.reader()?;
        Ok(rollup::covering(query, &conn)?.is_some())
    }

    fn query_stats_from(&self, query: &Query, tables: Tables) -> Result<QueryResult> {
        query.validate()?;
        let query = self.with_goals(query)?;
        let query = query.as_ref();
        let conn = self.reader()?;
        let deadline = Deadline::start(&conn, QUERY_TIMEOUT);
        let outcome = if query.dimensions.contains(&Dimension::Goal) {
            goals::breakdown(query, &conn)
        } else {
            plan(query, &conn, tables).and_then(|plan| self.run_plans(query, &plan, &conn, tables))
        };
        let outcome = match outcome {
            // The goal breakdown finds its currency in its own scan.
            Ok(result) if query.dimensions.contains(&Dimension::Goal) => Ok(result),
            Ok(mut result) if query.metrics.iter().any(|m| m.is_revenue()) => goals::currency(query, &conn)
                .map(|currency| {
                    result.currency = currency;
                    result
                }),
            other => other,
        };
        if deadline.finish() {
            return Err(Error::QueryTimeout(QUERY_TIMEOUT.as_secs()));
        }
        outcome
    }

    /// `query` with its site's goals when it needs them and has none.
    pub(crate) fn with_goals<'q>(&self, query: &'q Query) -> Result<std::borrow::Cow<'q, Query>> {
        if !query.goals.is_empty() || !query.needs_goals() {
            return Ok(std::borrow::Cow::Borrowed(query));
        }
        let mut with_goals = query.clone();
        with_goals.goals = self.goals(query.site_id)?;
        Ok(std::borrow::Cow::Owned(with_goals))
    }

    /// The site with the most events, and the time of its last one: what benchmarks and the
    /// demo look at.
    pub fn largest_site(&self) -> Result<Option<(u32, i64)>> {
        let conn = self.reader()?;
        let found = conn
            .query_row(
                "SELECT site_id, epoch_ms(max(ts)) FROM events GROUP BY site_id ORDER BY count(*) DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map(Some)
            .or_else(|error| match error {
                duckdb::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        Ok(found)
    }

    fn run_plans(
        &self,
        query: &Query,
        plan: &sql::Plan,
        conn: &duckdb::Connection,
        tables: Tables,
    ) -> Result<QueryResult> {
        let mut result = plan.run(conn)?;
        if let Some(index) = query.metrics.iter().position(|metric| *metric == Metric::ConversionRate) {
            // Computed as the row's visitors; divided by those of the query without its goals.
            let all = goals::population(query, conn, tables)?;
            for row in &mut result.rows {
                let visitors = row.metrics[index];
                row.metrics[index] =
                    Some(visitors.filter(|_| all > 0.0).map_or(0.0, |visitors| 100.0 * visitors / all));
            }
        }
        if let Some(index) = query.metrics.iter().position(|metric| *metric == Metric::GroupConversionRate) {
            // Computed as the row's visitors; divided by those of the same row without the
            // query's goals.
            let groups = goals::group_population(query, &result.rows, conn, tables)?;
            for row in &mut result.rows {
                let all = groups.get(&row.dimensions).copied().unwrap_or(0.0);
                let visitors = row.metrics[index];
                row.metrics[index] =
                    Some(visitors.filter(|_| all > 0.0).map_or(0.0, |visitors| 100.0 * visitors / all));
            }
        }
        if let Some(index) = query.metrics.iter().position(|metric| *metric == Metric::Percentage) {
            // The plan computes the row's visitors; the share is of the same query's visitors
            // without dimensions.
            let total = Query {
                dimensions: Vec::new(),
                metrics: vec![Metric::Visitors],
                order_by: Vec::new(),
                limit: 1,
                offset: 0,
                ..query.clone()
            };
            let totals = self::plan(&total, conn, tables)?.run(conn)?;
            let all = totals.rows.first().and_then(|row| row.metrics[0]).unwrap_or(0.0);
            for row in &mut result.rows {
                let visitors = row.metrics[index];
                row.metrics[index] = visitors.filter(|_| all > 0.0).map(|visitors| 100.0 * visitors / all);
            }
        }
        Ok(result)
    }
}

/// Which tables a query may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tables {
    /// The rollups where they answer, else the events and visits.
    Any,
    /// The events and visits only.
    Raw,
}

/// How `query` is read: from the rollups when they hold all of its days, else from the
/// events and visits.
pub(crate) fn plan(query: &Query, conn: &duckdb::Connection, tables: Tables) -> Result<sql::Plan> {
    let days = match tables {
        Tables::Any => rollup::covering(query, conn)?,
        Tables::Raw => None,
    };
    sql::Plan::build(query, days)
}

/// The longest a stats query may run.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Interrupts a connection's query when it runs past its time; [`Deadline::finish`] says
/// whether it did.
struct Deadline {
    done: Arc<(Mutex<bool>, Condvar)>,
    fired: Arc<AtomicBool>,
    watcher: Option<std::thread::JoinHandle<()>>,
}

impl Deadline {
    fn start(conn: &duckdb::Connection, limit: Duration) -> Self {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let fired = Arc::new(AtomicBool::new(false));
        let handle = conn.interrupt_handle();
        let (watch_done, watch_fired) = (done.clone(), fired.clone());
        let watcher = std::thread::Builder::new()
            .name("hitkeep-query-deadline".into())
            .spawn(move || {
                let (lock, wake) = &*watch_done;
                let guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let (finished, _) = wake
                    .wait_timeout_while(guard, limit, |finished| !*finished)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if !*finished {
                    watch_fired.store(true, Ordering::SeqCst);
                    handle.interrupt();
                }
            })
            .ok();
        Self { done, fired, watcher }
    }

    /// Stops watching; true when the query was interrupted.
    fn finish(mut self) -> bool {
        let (lock, wake) = &*self.done;
        *lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        wake.notify_one();
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        self.fired.load(Ordering::SeqCst)
    }
}

pub(crate) fn value_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Text(text) => Some(text),
        other => Some(format!("{other:?}")),
    }
}
