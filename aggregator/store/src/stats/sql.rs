//! A [`Query`] as SQL: fragments chosen by its enums, values bound as parameters.
//!
//! A query reads at most two sources, each grouped by the query's dimensions:
//!
//! - `ev`: the events in the range (or their properties, for a property dimension), for
//!   what happened on pages: visitors, pageviews, events, and visits as distinct sessions;
//! - `vi`: the visits that started in the range, for what visits did: visits, bounces,
//!   duration, where they came from. `visits` holds each change of a visit as a cancelling
//!   row (`sign = -1`) and a new one (`sign = 1`), so every sum is weighted by `sign`, and
//!   a visitor counts in a group when their rows there sum to a live visit.
//!
//! When both are read they are joined on the dimensions (a page's bounce rate is that of
//! the visits that entered on it, as in Plausible).

use std::fmt::Write as _;

use chrono_tz::Tz;
use duckdb::types::{TimeUnit, ToSqlOutput, Value};
use duckdb::{Connection, ToSql};
use hitkeep_protocol::{Channel, Device, EventKind};

use super::rollup::{Days, Side};
use super::zone::offsets;
use super::{
    Dimension, DimensionValue, Filter, Level, Metric, Operator, OrderKey, Query, QueryResult, Row, UtmField,
    compile_regex, invalid, value_text,
};
use crate::Result;

/// Events of a visit are looked for up to this long after the range ends (a visit that
/// started in the range goes on after it).
pub(super) const VISIT_SPAN_MS: i64 = 24 * 3_600_000;

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    /// A timestamp, ms since the epoch.
    Time(i64),
}

impl ToSql for Param {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Self::Int(value) => ToSqlOutput::Owned(Value::BigInt(*value)),
            Self::Text(value) => ToSqlOutput::Owned(Value::Text(value.clone())),
            Self::Time(ms) => ToSqlOutput::Owned(Value::Timestamp(TimeUnit::Millisecond, *ms)),
        })
    }
}

/// SQL text and its parameters, in the order of their placeholders.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) params: Vec<Param>,
}

impl Sql {
    pub(crate) fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    pub(crate) fn bind(&mut self, param: Param) -> &mut Self {
        self.text.push('?');
        self.params.push(param);
        self
    }

    pub(crate) fn append(&mut self, other: Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
        self
    }
}

/// The tables a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `events e`.
    Events,
    /// `event_props p` (a property dimension).
    Props,
    /// `visits v`.
    Visits,
}

impl Source {
    fn alias(self) -> &'static str {
        match self {
            Self::Events => "e",
            Self::Props => "p",
            Self::Visits => "v",
        }
    }

    fn time_column(self) -> &'static str {
        match self {
            Self::Events => "e.ts",
            Self::Props => "p.ts",
            Self::Visits => "v.start_ts",
        }
    }
}

/// How a dimension's column is decoded.
#[derive(Debug, Clone, Copy)]
enum Decode {
    Text,
    CountryName,
    RegionName,
    Channel,
    Device,
    Time,
}

fn decode_of(dimension: &Dimension) -> Decode {
    match dimension {
        Dimension::Channel => Decode::Channel,
        Dimension::Device => Decode::Device,
        Dimension::CountryName => Decode::CountryName,
        Dimension::RegionName => Decode::RegionName,
        Dimension::Time(_) => Decode::Time,
        _ => Decode::Text,
    }
}

/// The column holding `dimension` in `source`, when it has one. Time and properties are
/// not columns (see [`dimension_sql`]).
fn column(dimension: &Dimension, source: Source) -> Option<&'static str> {
    use Dimension as D;
    let column = match (source, dimension) {
        (Source::Events, D::Page) => "e.path",
        (Source::Events, D::Hostname) => "e.hostname",
        (Source::Events, D::EventName) => "e.name",
        (Source::Events, D::Device) => "e.device",
        (Source::Events, D::Browser) => "e.browser",
        (Source::Events, D::BrowserVersion) => "e.browser_version",
        (Source::Events, D::Os) => "e.os",
        (Source::Events, D::OsVersion) => "e.os_version",
        (Source::Events, D::Country | D::CountryName) => "e.country",
        (Source::Events, D::Region | D::RegionName) => "e.region",
        (Source::Events, D::City) => "e.city",
        (Source::Props, D::EventName) => "p.name",
        // A page's visit metrics are those of the visits that entered on it.
        (Source::Visits, D::Page | D::EntryPage) => "v.entry_page",
        (Source::Visits, D::ExitPage) => "v.exit_page",
        (Source::Visits, D::Hostname) => "v.hostname",
        (Source::Visits, D::Source) => "v.source",
        (Source::Visits, D::Referrer) => "v.referrer",
        (Source::Visits, D::Channel) => "v.channel",
        (Source::Visits, D::Utm(UtmField::Source)) => "v.utm_source",
        (Source::Visits, D::Utm(UtmField::Medium)) => "v.utm_medium",
        (Source::Visits, D::Utm(UtmField::Campaign)) => "v.utm_campaign",
        (Source::Visits, D::Utm(UtmField::Content)) => "v.utm_content",
        (Source::Visits, D::Utm(UtmField::Term)) => "v.utm_term",
        (Source::Visits, D::Device) => "v.device",
        (Source::Visits, D::Browser) => "v.browser",
        (Source::Visits, D::BrowserVersion) => "v.browser_version",
        (Source::Visits, D::Os) => "v.os",
        (Source::Visits, D::OsVersion) => "v.os_version",
        (Source::Visits, D::Country | D::CountryName) => "v.country",
        (Source::Visits, D::Region | D::RegionName) => "v.region",
        (Source::Visits, D::City) => "v.city",
        _ => return None,
    };
    Some(column)
}

/// The expression of `dimension` in `source`'s select list.
fn dimension_sql(dimension: &Dimension, source: Source, query: &Query) -> Result<Sql> {
    let mut sql = Sql::default();
    match dimension {
        Dimension::Time(interval) => {
            // The local time of the row (ms), shifted by the offsets that apply in the range
            // (computed in Rust with chrono-tz and bound), then truncated to its bucket with
            // integer arithmetic (months with date_trunc): labels are local times as ms.
            let ts = source.time_column();
            let local = || local_ms_sql(ts, query.timezone, query.start_ms, query.end_ms + VISIT_SPAN_MS);
            match interval.width_ms() {
                Some(width) => {
                    sql.push("(").append(local());
                    let _ = write!(sql.text, " // {width}) * {width}");
                }
                None if *interval == super::Interval::Week => {
                    // Days since 1970-01-01 (a Thursday), back to their Monday.
                    sql.push("((").append(local()).push(" // 86400000) - ((");
                    sql.append(local()).push(" // 86400000 + 3) % 7)) * 86400000");
                }
                None => {
                    sql.push("epoch_ms(date_trunc('month', make_timestamp(");
                    sql.append(local());
                    sql.push(" * 1000)))");
                }
            }
        }
        Dimension::Prop(_) if source == Source::Props => {
            sql.push("p.value");
        }
        other if source != Source::Visits && other.level() == Level::Visit => {
            // The value of the event's visit (see [`origin_join`]).
            let column = column(other, Source::Visits).expect("visit dimensions are columns of visits");
            let _ = write!(sql.text, "o.{}", &column[2..]);
        }
        other => {
            let Some(column) = column(other, source) else {
                return Err(invalid("dimensions", format!("{other:?} cannot be grouped here")));
            };
            sql.push(column);
        }
    }
    Ok(sql)
}

/// The local time of `ts` in `zone` as ms since the epoch of that local time: `ts` shifted
/// by the offsets that apply over `[start_ms, end_ms)` (computed in Rust with chrono-tz and
/// bound).
pub(super) fn local_ms_sql(ts: &str, zone: Tz, start_ms: i64, end_ms: i64) -> Sql {
    let pieces = offsets(zone, start_ms, end_ms);
    let mut local = Sql::default();
    let _ = write!(local.text, "(epoch_ms({ts}) + ");
    if let [(_, offset)] = pieces.as_slice() {
        local.bind(Param::Int(*offset));
    } else {
        local.push("CASE");
        for (until_ms, offset) in &pieces[..pieces.len() - 1] {
            let _ = write!(local.text, " WHEN {ts} < ");
            local.bind(Param::Time(*until_ms)).push(" THEN ").bind(Param::Int(*offset));
        }
        local.push(" ELSE ").bind(Param::Int(pieces[pieces.len() - 1].1)).push(" END");
    }
    local.push(")");
    local
}

/// The local day of `ts` in `zone` (days since 1970-01-01), for rows in `[start_ms, end_ms)`.
pub(crate) fn local_day_sql(ts: &str, zone: Tz, start_ms: i64, end_ms: i64) -> Sql {
    let mut sql = Sql::default();
    sql.push("(").append(local_ms_sql(ts, zone, start_ms, end_ms)).push(" // 86400000)");
    sql
}

/// True when a group of the query can hold more than one local day, so that a visitor has
/// to be counted once per day of it (see `docs/metrics.md`, "Visitors across days").
fn spans_days(query: &Query) -> bool {
    let within_a_day = query
        .dimensions
        .iter()
        .any(|d| matches!(d, Dimension::Time(interval) if interval.width_ms().is_some()));
    if within_a_day {
        return false;
    }
    let day = |ms: i64| super::zone::utc_to_local(query.timezone, ms).date();
    day(query.start_ms) != day(query.end_ms - 1)
}

/// What a visitor is counted by: the hash, and when the query's groups span days, the local
/// day of `ts` too (a visitor counts once per day).
pub(super) fn visitor_key(alias: &str, ts: &str, query: &Query) -> Sql {
    let mut sql = Sql::default();
    if !spans_days(query) {
        let _ = write!(sql.text, "{alias}.visitor_id");
        return sql;
    }
    let _ = write!(sql.text, "(CAST({alias}.visitor_id AS UHUGEINT) * 4294967296 + CAST(");
    sql.append(local_day_sql(ts, query.timezone, query.start_ms, query.end_ms + VISIT_SPAN_MS));
    sql.push(" AS UHUGEINT))");
    sql
}

/// Which source answers a metric, and under which column of its CTE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    Ev,
    Vi,
    /// Engagement reports (time on page, scroll depth), by page.
    En,
}

/// True when one of `metrics` of the query comes from `from`.
fn needs(query: &Query, from: From, metrics: &[Metric]) -> bool {
    let sources = sources(query);
    query.metrics.iter().zip(&sources).any(|(metric, source)| *source == from && metrics.contains(metric))
}

/// Each metric's source: visit breakdowns read everything from `visits`; otherwise what
/// happened on pages comes from `events` (grouped by their visit's values for visit
/// dimensions, see [`origin_join`]), what visits did from `visits`.
fn sources(query: &Query) -> Vec<From> {
    let has_event_dimension = query.dimensions.iter().any(|d| d.level() == Level::Event);
    let has_visit_dimension = query.dimensions.iter().any(|d| d.level() == Level::Visit);
    query
        .metrics
        .iter()
        .map(|metric| match metric {
            Metric::TimeOnPage | Metric::ScrollDepth => From::En,
            Metric::TotalRevenue | Metric::AverageRevenue => From::Ev,
            _ if has_visit_dimension && !has_event_dimension => From::Vi,
            Metric::Visitors
            | Metric::Percentage
            | Metric::ConversionRate
            | Metric::GroupConversionRate
            | Metric::Pageviews
            | Metric::Events => From::Ev,
            Metric::Visits if has_event_dimension => From::Ev,
            Metric::Visits | Metric::ViewsPerVisit | Metric::BounceRate | Metric::VisitDuration => From::Vi,
        })
        .collect()
}

/// What a query reads and how.
#[derive(Debug)]
pub(crate) struct Plan {
    sql: Sql,
    decode: Vec<Decode>,
    metrics: usize,
}

impl Plan {
    /// The plan of `query`, reading the rollups of `days` instead of the events and visits
    /// when given (see [`super::rollup::covering`]).
    pub(crate) fn build(query: &Query, days: Option<Days>) -> Result<Self> {
        let has_event_dimension = query.dimensions.iter().any(|d| d.level() == Level::Event);
        let event_source = if query.dimensions.iter().any(|d| matches!(d, Dimension::Prop(_))) {
            Source::Props
        } else {
            Source::Events
        };
        // Each metric's source.
        let sources = sources(query);
        let uses_en = sources.contains(&From::En);
        // The pages come from the events, also when only their engagement is asked for.
        let uses_ev = sources.contains(&From::Ev) || uses_en;
        let uses_vi = sources.contains(&From::Vi);
        let vi_visitors = query
            .metrics
            .iter()
            .zip(&sources)
            .any(|(metric, from)| *from == From::Vi && metric.is_visitor_share());
        let dimensions = query.dimensions.len();

        let mut sql = Sql::default();
        sql.push("WITH ");
        if uses_ev {
            let cte = match days {
                Some(days) => {
                    let raw = super::rollup::rest(query, days).map(|rest| events_cte(&rest, event_source));
                    super::rollup::cte(query, days, Side::Events, raw.transpose()?)
                }
                None => events_cte(query, event_source)?,
            };
            sql.push("ev AS (").append(cte).push(")");
        }
        if uses_vi {
            if uses_ev {
                sql.push(", ");
            }
            let cte = match days {
                Some(days) => {
                    let raw = super::rollup::rest(query, days).map(|rest| visits_cte(&rest, vi_visitors));
                    super::rollup::cte(query, days, Side::Visits, raw.transpose()?)
                }
                None => visits_cte(query, vi_visitors)?,
            };
            sql.push("vi AS (").append(cte).push(")");
        }
        if uses_en {
            sql.push(", en AS (").append(engagement_cte(query)?).push(")");
        }
        sql.push(" SELECT ");
        let first = if uses_ev { "ev" } else { "vi" };
        for index in 0..dimensions {
            if uses_ev && uses_vi && !has_event_dimension {
                let _ = write!(sql.text, "coalesce(ev.d{index}, vi.d{index}) AS d{index}, ");
            } else {
                let _ = write!(sql.text, "{first}.d{index} AS d{index}, ");
            }
        }
        for (index, (metric, from)) in query.metrics.iter().zip(&sources).enumerate() {
            let expression = match (metric, from) {
                (
                    Metric::Visitors
                    | Metric::Percentage
                    | Metric::ConversionRate
                    | Metric::GroupConversionRate,
                    From::Ev,
                ) => "coalesce(ev.e_visitors, 0)",
                (
                    Metric::Visitors
                    | Metric::Percentage
                    | Metric::ConversionRate
                    | Metric::GroupConversionRate,
                    _,
                ) => "coalesce(vi.v_visitors, 0)",
                (Metric::Visits, From::Ev) => "coalesce(ev.e_visits, 0)",
                (Metric::Visits, _) => "coalesce(vi.v_visits, 0)",
                (Metric::Pageviews, From::Ev) => "coalesce(ev.e_pageviews, 0)",
                (Metric::Pageviews, _) => "coalesce(vi.v_pageviews, 0)",
                (Metric::Events, From::Ev) => "coalesce(ev.e_events, 0)",
                (Metric::Events, _) => "coalesce(vi.v_events, 0)",
                (Metric::ViewsPerVisit, _) => "vi.v_pageviews / nullif(vi.v_visits, 0)",
                (Metric::BounceRate, _) => "100.0 * vi.v_bounces / nullif(vi.v_visits, 0)",
                (Metric::TimeOnPage, _) => "en.n_ms / 1000.0 / nullif(en.n_visitors, 0)",
                (Metric::ScrollDepth, _) => "en.n_scroll",
                (Metric::VisitDuration, _) => "vi.v_duration / 1000.0 / nullif(vi.v_visits, 0)",
                (Metric::TotalRevenue, _) => "ev.e_revenue / 1000000.0",
                (Metric::AverageRevenue, _) => "ev.e_average_revenue / 1000000.0",
            };
            let _ = write!(sql.text, "CAST({expression} AS DOUBLE) AS m{index}, ");
        }
        sql.push("count(*) OVER () AS total_rows FROM ");
        match (uses_ev, uses_vi) {
            // A page's breakdown lists the pages viewed; the visits' side only adds the
            // bounce rate and duration of those that entered on them.
            (true, true) if has_event_dimension => join(&mut sql, "ev", "LEFT", "vi", dimensions),
            (true, true) => join(&mut sql, "ev", "FULL", "vi", dimensions),
            (true, false) => {
                sql.push("ev");
            }
            (false, _) => {
                sql.push("vi");
            }
        }
        if uses_en {
            join(&mut sql, "", "LEFT", "en", dimensions);
        }
        order_by(&mut sql, query);
        sql.push(" LIMIT ").bind(Param::Int(query.limit as i64));
        sql.push(" OFFSET ").bind(Param::Int(query.offset as i64));
        Ok(Self {
            sql,
            decode: query.dimensions.iter().map(decode_of).collect(),
            metrics: query.metrics.len(),
        })
    }

    pub(crate) fn run(&self, conn: &Connection) -> Result<QueryResult> {
        tracing::trace!(sql = %self.sql.text, "stats query");
        let mut statement = conn.prepare(&self.sql.text)?;
        let params: Vec<&dyn ToSql> = self.sql.params.iter().map(|param| param as &dyn ToSql).collect();
        let mut rows = statement.query(params.as_slice())?;
        let mut result = QueryResult::default();
        while let Some(row) = rows.next()? {
            let mut dimensions = Vec::with_capacity(self.decode.len());
            for (index, decode) in self.decode.iter().enumerate() {
                let value: Value = row.get(index)?;
                dimensions.push(match decode {
                    Decode::Text => DimensionValue::Text(value_text(value)),
                    Decode::CountryName => DimensionValue::Text(
                        value_text(value).map(|code| super::country_name(&code).map_or(code, str::to_owned)),
                    ),
                    Decode::RegionName => DimensionValue::Text(
                        value_text(value).map(|code| super::region_name(&code).map_or(code, str::to_owned)),
                    ),
                    Decode::Channel => DimensionValue::Text(Some(
                        code(&value).and_then(Channel::from_code).unwrap_or_default().label().to_owned(),
                    )),
                    Decode::Device => {
                        DimensionValue::Text(code(&value).and_then(Device::from_code).and_then(device_label))
                    }
                    Decode::Time => DimensionValue::Time(match value {
                        Value::BigInt(ms) => ms,
                        _ => 0,
                    }),
                });
            }
            let mut metrics = Vec::with_capacity(self.metrics);
            for index in 0..self.metrics {
                metrics.push(row.get::<_, Option<f64>>(self.decode.len() + index)?);
            }
            result.total_rows = row.get::<_, i64>(self.decode.len() + self.metrics)? as u64;
            result.rows.push(Row { dimensions, metrics });
        }
        Ok(result)
    }
}

fn code(value: &Value) -> Option<u8> {
    match value {
        Value::UTinyInt(code) => Some(*code),
        _ => None,
    }
}

/// The label of a device class; `None` when it could not be told.
pub fn device_label(device: Device) -> Option<String> {
    match device {
        Device::Unknown => None,
        Device::Desktop => Some("Desktop".into()),
        Device::Mobile => Some("Mobile".into()),
        Device::Tablet => Some("Tablet".into()),
    }
}

fn order_by(sql: &mut Sql, query: &Query) {
    let mut keys: Vec<(String, bool)> = Vec::new();
    if query.order_by.is_empty() {
        for (index, dimension) in query.dimensions.iter().enumerate() {
            if dimension.level() == Level::Time {
                keys.push((format!("d{index}"), false));
            }
        }
        keys.push(("m0".into(), true));
    } else {
        for (key, descending) in &query.order_by {
            let column = match key {
                OrderKey::Metric(index) => format!("m{index}"),
                OrderKey::Dimension(index) => format!("d{index}"),
            };
            keys.push((column, *descending));
        }
    }
    // Ties are broken by the dimensions, so that pages of results are stable.
    for index in 0..query.dimensions.len() {
        let column = format!("d{index}");
        if !keys.iter().any(|(key, _)| *key == column) {
            keys.push((column, false));
        }
    }
    sql.push(" ORDER BY ");
    for (index, (column, descending)) in keys.iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        let _ =
            write!(sql.text, "{column} {}", if *descending { "DESC NULLS LAST" } else { "ASC NULLS FIRST" });
    }
}

/// `[{left} ]{kind} JOIN {right}` on every dimension column (a cross join without any).
fn join(sql: &mut Sql, left: &str, kind: &str, right: &str, dimensions: usize) {
    if dimensions == 0 {
        let _ = write!(sql.text, "{left} CROSS JOIN {right}");
        return;
    }
    let _ = write!(sql.text, "{left} {kind} JOIN {right} ON ");
    for index in 0..dimensions {
        if index > 0 {
            sql.push(" AND ");
        }
        let _ = write!(sql.text, "ev.d{index} IS NOT DISTINCT FROM {right}.d{index}");
    }
}

/// The time range on `ts` (`[start, end)`), bound.
pub(crate) fn range(sql: &mut Sql, ts: &str, start_ms: i64, end_ms: i64) {
    let _ = write!(sql.text, "{ts} >= ");
    sql.bind(Param::Time(start_ms));
    let _ = write!(sql.text, " AND {ts} < ");
    sql.bind(Param::Time(end_ms));
}

fn select_dimensions(sql: &mut Sql, query: &Query, source: Source) -> Result<()> {
    for (index, dimension) in query.dimensions.iter().enumerate() {
        sql.append(dimension_sql(dimension, source, query)?);
        let _ = write!(sql.text, " AS d{index}, ");
    }
    Ok(())
}

/// `ev`: the events (or properties) in the range, grouped by the dimensions.
fn events_cte(query: &Query, source: Source) -> Result<Sql> {
    let mut sql = Sql::default();
    sql.push("SELECT ");
    select_dimensions(&mut sql, query, source)?;
    let alias = source.alias();
    // Only the aggregates the query shows: a distinct count costs a hash table per group.
    let (visitors, visits, pageviews) = (
        needs(
            query,
            From::Ev,
            &[Metric::Visitors, Metric::Percentage, Metric::ConversionRate, Metric::GroupConversionRate],
        ),
        needs(query, From::Ev, &[Metric::Visits]),
        needs(query, From::Ev, &[Metric::Pageviews]),
    );
    if visitors {
        sql.push("count(DISTINCT ").append(visitor_key(alias, source.time_column(), query));
        sql.push(") AS e_visitors, ");
    }
    if visits {
        let _ = write!(sql.text, "count(DISTINCT {alias}.session_id) AS e_visits, ");
    }
    if needs(query, From::Ev, &[Metric::TotalRevenue, Metric::AverageRevenue]) {
        // Revenue is on events (a property breakdown has none: refused by validation).
        sql.push("sum(e.revenue_micros) AS e_revenue, avg(e.revenue_micros) AS e_average_revenue, ");
    }
    match source {
        Source::Props => {
            if pageviews {
                sql.push("count(*) FILTER (WHERE p.name = ").bind(Param::Text("pageview".into()));
                sql.push(") AS e_pageviews, ");
            }
            sql.push("count(*) AS e_events FROM event_props p");
        }
        _ => {
            if pageviews {
                let _ = write!(
                    sql.text,
                    "count(*) FILTER (WHERE e.kind = {}) AS e_pageviews, ",
                    EventKind::Pageview.code()
                );
            }
            sql.push("count(*) AS e_events FROM events e");
        }
    }
    sql.append(origin_join(query, source));
    let _ = write!(sql.text, " WHERE {alias}.site_id = ");
    sql.bind(Param::Int(i64::from(query.site_id))).push(" AND ");
    range(&mut sql, source.time_column(), query.start_ms, query.end_ms);
    match source {
        Source::Props => {
            let Some(Dimension::Prop(key)) =
                query.dimensions.iter().find(|d| matches!(d, Dimension::Prop(_)))
            else {
                unreachable!("a property source has a property dimension");
            };
            sql.push(" AND p.key = ").bind(Param::Text(key.clone()));
            sql.push(" AND p.name <> ").bind(Param::Text("engagement".into()));
        }
        _ => {
            let _ = write!(sql.text, " AND e.kind <> {}", EventKind::Engagement.code());
        }
    }
    if let Some(filter) = &query.filter {
        sql.push(" AND ").append(filter_sql(filter, source, query)?);
    }
    if !query.dimensions.is_empty() {
        sql.push(" GROUP BY ALL");
    }
    Ok(sql)
}

/// For a breakdown by event and visit dimensions together (pages by source, say): the join
/// of each event (alias `e`, or property `p`) with the values of its visit (alias `o`), the
/// live row of each visit with hits in the range. Empty for other queries.
fn origin_join(query: &Query, source: Source) -> Sql {
    let mut sql = Sql::default();
    let columns: Vec<&str> = query
        .dimensions
        .iter()
        .filter(|dimension| dimension.level() == Level::Visit)
        .filter_map(|dimension| column(dimension, Source::Visits))
        .collect();
    let has_event_dimension = query.dimensions.iter().any(|d| d.level() == Level::Event);
    if columns.is_empty() || !has_event_dimension {
        return sql;
    }
    sql.push(" JOIN (SELECT v.session_id");
    for column in columns {
        // A visit's rows cancel in pairs (`sign`); the live one has the highest version.
        let name = &column[2..];
        let _ = write!(sql.text, ", arg_max_null({column}, v.version) AS {name}");
    }
    sql.push(" FROM visits v WHERE v.site_id = ").bind(Param::Int(i64::from(query.site_id)));
    // Visits that started before the range but had hits in it count too.
    sql.push(" AND v.end_ts >= ").bind(Param::Time(query.start_ms));
    sql.push(" AND v.start_ts < ").bind(Param::Time(query.end_ms));
    let _ = write!(
        sql.text,
        " GROUP BY v.session_id HAVING sum(v.sign) > 0) o ON o.session_id = {}.session_id",
        source.alias()
    );
    sql
}

/// `en`: the engagement reports of the range by the query's dimensions (the page, or a time
/// bucket of pages chosen by a filter): per visit and group, the engagement time summed and
/// the deepest scroll, then per group the time over the visitors who reported any and the
/// average deepest scroll.
fn engagement_cte(query: &Query) -> Result<Sql> {
    let mut inner = Sql::default();
    inner.push("SELECT ");
    select_dimensions(&mut inner, query, Source::Events)?;
    inner.push("e.session_id, e.visitor_id, sum(CASE WHEN q.key = ");
    inner.bind(Param::Text("engagement_ms".into()));
    inner.push(" THEN TRY_CAST(q.value AS BIGINT) END) AS ms, max(CASE WHEN q.key = ");
    inner.bind(Param::Text("scroll_depth".into()));
    inner.push(
        " THEN least(greatest(TRY_CAST(q.value AS DOUBLE), 0), 100) END) AS scroll \
         FROM events e JOIN event_props q ON q.site_id = e.site_id AND q.session_id = e.session_id \
         AND q.ts = e.ts AND q.name = e.name WHERE e.site_id = ",
    );
    inner.bind(Param::Int(i64::from(query.site_id))).push(" AND ");
    range(&mut inner, "e.ts", query.start_ms, query.end_ms);
    let _ = write!(inner.text, " AND e.kind = {}", EventKind::Engagement.code());
    if let Some(filter) = &query.filter {
        inner.push(" AND ").append(filter_sql(filter, Source::Events, query)?);
    }
    inner.push(" GROUP BY ALL");
    let mut sql = Sql::default();
    sql.push("SELECT ");
    for index in 0..query.dimensions.len() {
        let _ = write!(sql.text, "d{index}, ");
    }
    sql.push(
        "sum(ms) AS n_ms, count(DISTINCT visitor_id) FILTER (WHERE ms IS NOT NULL) AS n_visitors, \
         avg(scroll) AS n_scroll FROM (",
    );
    sql.append(inner).push(")");
    if !query.dimensions.is_empty() {
        sql.push(" GROUP BY ALL");
    }
    Ok(sql)
}

/// `vi`: the visits that started in the range, grouped by the dimensions; with
/// `visitors`, grouped by visitor first, so that a visitor counts where their visits are
/// live.
fn visits_cte(query: &Query, visitors: bool) -> Result<Sql> {
    // Only the sums the query shows: (sum over visit rows, the CTE's column).
    let wanted = [
        (true, "sum(v.sign)", "v_visits"),
        (
            needs(query, From::Vi, &[Metric::Pageviews, Metric::ViewsPerVisit]),
            "sum(v.sign * v.pageviews)",
            "v_pageviews",
        ),
        (needs(query, From::Vi, &[Metric::Events]), "sum(v.sign * (v.pageviews + v.events))", "v_events"),
        (needs(query, From::Vi, &[Metric::BounceRate]), "sum(v.sign * v.bounce)", "v_bounces"),
        (needs(query, From::Vi, &[Metric::VisitDuration]), "sum(v.sign * v.duration_ms)", "v_duration"),
    ];
    let sums: Vec<(&str, &str)> =
        wanted.iter().filter(|(set, ..)| *set).map(|(_, sum, name)| (*sum, *name)).collect();
    let mut inner = Sql::default();
    inner.push("SELECT ");
    select_dimensions(&mut inner, query, Source::Visits)?;
    if visitors {
        // A visitor counts once per day of the group (by the day their visit started).
        inner.append(visitor_key("v", "v.start_ts", query)).push(" AS visitor, ");
    }
    let list: Vec<String> = sums.iter().map(|(sum, name)| format!("{sum} AS {name}")).collect();
    inner.push(&list.join(", "));
    inner.push(" FROM visits v WHERE v.site_id = ").bind(Param::Int(i64::from(query.site_id))).push(" AND ");
    range(&mut inner, "v.start_ts", query.start_ms, query.end_ms);
    if let Some(filter) = &query.filter {
        inner.push(" AND ").append(filter_sql(filter, Source::Visits, query)?);
    }
    if !visitors {
        if !query.dimensions.is_empty() {
            // Groups whose rows all cancelled (an exit page the visit moved on from) are gone.
            inner.push(" GROUP BY ALL HAVING sum(v.sign) > 0");
        }
        return Ok(inner);
    }
    inner.push(" GROUP BY ALL");
    // Grouped by visitor first: a visitor counts in a group where their rows there sum to a
    // live visit.
    let mut sql = Sql::default();
    sql.push("SELECT ");
    for index in 0..query.dimensions.len() {
        let _ = write!(sql.text, "d{index}, ");
    }
    sql.push("count(*) FILTER (WHERE v_visits > 0) AS v_visitors");
    for (_, name) in &sums {
        let _ = write!(sql.text, ", sum({name}) AS {name}");
    }
    sql.push(" FROM (").append(inner).push(")");
    if !query.dimensions.is_empty() {
        sql.push(" GROUP BY ALL HAVING sum(v_visits) > 0");
    }
    Ok(sql)
}

/// A filter as a condition on `source`'s rows.
pub(crate) fn filter_sql(filter: &Filter, source: Source, query: &Query) -> Result<Sql> {
    let mut sql = Sql::default();
    match filter {
        Filter::And(filters) | Filter::Or(filters) => {
            let joiner = if matches!(filter, Filter::And(_)) { " AND " } else { " OR " };
            sql.push("(");
            for (index, filter) in filters.iter().enumerate() {
                if index > 0 {
                    sql.push(joiner);
                }
                sql.append(filter_sql(filter, source, query)?);
            }
            sql.push(")");
        }
        Filter::Not(filter) => {
            sql.push("NOT (").append(filter_sql(filter, source, query)?).push(")");
        }
        Filter::HasDone(inner) | Filter::HasNotDone(inner) => {
            let not = if matches!(filter, Filter::HasNotDone(_)) { "NOT " } else { "" };
            let _ = write!(sql.text, "{}.session_id {not}IN (", source.alias());
            sql.append(sessions_with_events(inner, query)?).push(")");
        }
        Filter::Condition { dimension, operator, values, case_sensitive } => {
            sql.append(condition_sql(dimension, *operator, values, *case_sensitive, source, query)?);
        }
    }
    Ok(sql)
}

/// The sessions with an event matching `filter` (whose conditions are on event dimensions).
fn sessions_with_events(filter: &Filter, query: &Query) -> Result<Sql> {
    let mut sql = Sql::default();
    sql.push("SELECT e.session_id FROM events e WHERE e.site_id = ")
        .bind(Param::Int(i64::from(query.site_id)));
    sql.push(" AND ");
    range(&mut sql, "e.ts", query.start_ms, query.end_ms + VISIT_SPAN_MS);
    let _ = write!(sql.text, " AND e.kind <> {} AND ", EventKind::Engagement.code());
    sql.append(filter_sql(filter, Source::Events, query)?);
    Ok(sql)
}

/// The sessions of the visits (of the range) matching a condition on a visit dimension.
/// A visit's rows are summed by sign, so a state it has left (an earlier exit page) does not
/// match.
fn sessions_of_visits(condition: Sql, query: &Query) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT v.session_id FROM visits v WHERE v.site_id = ")
        .bind(Param::Int(i64::from(query.site_id)));
    // Visits that started before the range but had hits in it count too.
    sql.push(" AND v.end_ts >= ").bind(Param::Time(query.start_ms));
    sql.push(" AND v.start_ts < ").bind(Param::Time(query.end_ms));
    sql.push(" AND ").append(condition).push(" GROUP BY v.session_id HAVING sum(v.sign) > 0");
    sql
}

/// A condition on one dimension, as `source` can check it: on its own column, or through
/// the sessions that match it in the other table.
fn condition_sql(
    dimension: &Dimension,
    operator: Operator,
    values: &[String],
    case_sensitive: bool,
    source: Source,
    query: &Query,
) -> Result<Sql> {
    let mut sql = Sql::default();
    if *dimension == Dimension::Goal {
        let completed = super::goals::condition(operator, values, case_sensitive, query)?;
        match source {
            Source::Events => return Ok(completed),
            Source::Visits => {
                let mut events = Sql::default();
                events
                    .push("SELECT e.session_id FROM events e WHERE e.site_id = ")
                    .bind(Param::Int(i64::from(query.site_id)));
                events.push(" AND ");
                range(&mut events, "e.ts", query.start_ms, query.end_ms + VISIT_SPAN_MS);
                events.push(" AND ").append(completed);
                sql.push("v.session_id IN (").append(events).push(")");
            }
            Source::Props => {
                sql.push("EXISTS (SELECT 1 FROM events e WHERE e.site_id = p.site_id AND e.session_id = p.session_id AND e.ts = p.ts AND e.name = p.name AND ");
                sql.append(completed).push(")");
            }
        }
        return Ok(sql);
    }
    if let Dimension::Prop(key) = dimension {
        // The event has the property with a matching value.
        let not = if operator.is_negated() { "NOT " } else { "" };
        let (alias, table) = match source {
            Source::Visits => {
                let mut events = Sql::default();
                let _ = write!(
                    events.text,
                    "{not}EXISTS (SELECT 1 FROM event_props q WHERE q.site_id = e.site_id AND q.session_id = e.session_id AND q.ts = e.ts AND q.name = e.name AND q.key = "
                );
                events.bind(Param::Text(key.clone())).push(" AND ");
                events.append(compare("q.value", positive(operator), values, case_sensitive)?).push(")");
                let mut sessions = Sql::default();
                sessions
                    .push("SELECT e.session_id FROM events e WHERE e.site_id = ")
                    .bind(Param::Int(i64::from(query.site_id)));
                sessions.push(" AND ");
                range(&mut sessions, "e.ts", query.start_ms, query.end_ms + VISIT_SPAN_MS);
                sessions.push(" AND ").append(events);
                sql.push("v.session_id IN (").append(sessions).push(")");
                return Ok(sql);
            }
            Source::Events => ("e", "e"),
            Source::Props => ("p", "p"),
        };
        let _ = write!(
            sql.text,
            "{not}EXISTS (SELECT 1 FROM event_props q WHERE q.site_id = {alias}.site_id AND q.session_id = {table}.session_id AND q.ts = {table}.ts AND q.name = {table}.name AND q.key = "
        );
        sql.bind(Param::Text(key.clone())).push(" AND ");
        sql.append(compare("q.value", positive(operator), values, case_sensitive)?).push(")");
        return Ok(sql);
    }
    let own = match (source, dimension.level()) {
        // Visits are grouped by the page they entered on, but a condition on the page is on
        // any of their events.
        (Source::Visits, Level::Event) => None,
        _ => column(dimension, source),
    };
    if let Some(column) = own {
        return coded_or_text(column, dimension, operator, values, case_sensitive);
    }
    match (source, dimension.level()) {
        (Source::Visits, _) => {
            // An event condition on visits: the visit had such an event.
            let mut events = Sql::default();
            events
                .push("SELECT e.session_id FROM events e WHERE e.site_id = ")
                .bind(Param::Int(i64::from(query.site_id)));
            events.push(" AND ");
            range(&mut events, "e.ts", query.start_ms, query.end_ms + VISIT_SPAN_MS);
            let _ = write!(events.text, " AND e.kind <> {} AND ", EventKind::Engagement.code());
            let column = column(dimension, Source::Events).expect("event dimensions are columns of events");
            events.append(coded_or_text(column, dimension, operator, values, case_sensitive)?);
            sql.push("v.session_id IN (").append(events).push(")");
        }
        (Source::Props, Level::Event) => {
            let column = column(dimension, Source::Events).expect("event dimensions are columns of events");
            sql.push("EXISTS (SELECT 1 FROM events e WHERE e.site_id = p.site_id AND e.session_id = p.session_id AND e.ts = p.ts AND e.name = p.name AND ");
            sql.append(coded_or_text(column, dimension, operator, values, case_sensitive)?).push(")");
        }
        (_, _) => {
            // A visit condition on events: the event's visit matches.
            let column = column(dimension, Source::Visits).expect("visit dimensions are columns of visits");
            let condition = coded_or_text(column, dimension, operator, values, case_sensitive)?;
            let _ = write!(sql.text, "{}.session_id IN (", source.alias());
            sql.append(sessions_of_visits(condition, query)).push(")");
        }
    }
    Ok(sql)
}

fn positive(operator: Operator) -> Operator {
    match operator {
        Operator::IsNot => Operator::Is,
        Operator::ContainsNot => Operator::Contains,
        Operator::MatchesNot => Operator::Matches,
        other => other,
    }
}

/// A condition on a column: coded columns (channel, device) are compared by their labels
/// in Rust, which gives the codes to look for.
fn coded_or_text(
    column: &str,
    dimension: &Dimension,
    operator: Operator,
    values: &[String],
    case_sensitive: bool,
) -> Result<Sql> {
    let labels: Option<Vec<(Param, String)>> = match dimension {
        Dimension::Channel => Some(
            Channel::ALL.iter().map(|c| (Param::Int(i64::from(c.code())), c.label().to_owned())).collect(),
        ),
        Dimension::Device => Some(
            [Device::Unknown, Device::Desktop, Device::Mobile, Device::Tablet]
                .iter()
                .map(|d| (Param::Int(i64::from(d.code())), device_label(*d).unwrap_or_default()))
                .collect(),
        ),
        Dimension::CountryName => Some(
            super::places::countries()
                .iter()
                .map(|(code, name)| (Param::Text((*code).into()), (*name).into()))
                .collect(),
        ),
        Dimension::RegionName => Some(
            super::places::regions()
                .iter()
                .map(|(code, name)| (Param::Text((*code).into()), (*name).into()))
                .collect(),
        ),
        _ => None,
    };
    let Some(labels) = labels else {
        return compare(column, operator, values, case_sensitive);
    };
    let mut codes = Vec::new();
    for (code, label) in labels {
        let mut matched = false;
        for value in values {
            matched |= match positive(operator) {
                Operator::Is if case_sensitive => label == *value,
                Operator::Is => label.eq_ignore_ascii_case(value),
                Operator::Contains if case_sensitive => label.contains(value.as_str()),
                Operator::Contains => label.to_lowercase().contains(&value.to_lowercase()),
                _ => compile_regex(value, case_sensitive)?.is_match(&label),
            };
        }
        if matched {
            codes.push(code);
        }
    }
    let mut sql = Sql::default();
    let not = if operator.is_negated() { "NOT " } else { "" };
    if codes.is_empty() {
        sql.push(if operator.is_negated() { "true" } else { "false" });
        return Ok(sql);
    }
    let _ = write!(sql.text, "{column} {not}IN (");
    for (index, code) in codes.into_iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        sql.bind(code);
    }
    sql.push(")");
    Ok(sql)
}

/// A condition on a text column; a missing value compares as the empty string.
fn compare(column: &str, operator: Operator, values: &[String], case_sensitive: bool) -> Result<Sql> {
    let mut sql = Sql::default();
    let subject = if case_sensitive {
        format!("coalesce({column}, '')")
    } else {
        format!("lower(coalesce({column}, ''))")
    };
    let value = |sql: &mut Sql, value: &str| {
        if case_sensitive {
            sql.bind(Param::Text(value.to_owned()));
        } else {
            sql.push("lower(").bind(Param::Text(value.to_owned())).push(")");
        }
    };
    if operator.is_negated() {
        sql.push("NOT ");
    }
    sql.push("(");
    match positive(operator) {
        Operator::Is => {
            let _ = write!(sql.text, "{subject} IN (");
            for (index, text) in values.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                value(&mut sql, text);
            }
            sql.push(")");
        }
        Operator::Contains => {
            for (index, text) in values.iter().enumerate() {
                if index > 0 {
                    sql.push(" OR ");
                }
                let _ = write!(sql.text, "contains({subject}, ");
                value(&mut sql, text);
                sql.push(")");
            }
        }
        _ => {
            for (index, text) in values.iter().enumerate() {
                compile_regex(text, case_sensitive)?;
                if index > 0 {
                    sql.push(" OR ");
                }
                let _ = write!(sql.text, "regexp_matches(coalesce({column}, ''), ");
                sql.bind(Param::Text(text.clone()));
                sql.push(if case_sensitive { ")" } else { ", 'i')" });
            }
        }
    }
    sql.push(")");
    Ok(sql)
}
