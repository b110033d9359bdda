//! `include.imports`: a query's answer with the imported history (`crate::imported`) added,
//! as Plausible's Stats API does.
//!
//! Imported rows are per day and per one table's dimensions, so they answer a query with no
//! filter and at most one dimension that a table has (or time by day, week or month), over
//! whole local days, for the metrics that are sums or ratios of sums: visitors, visits,
//! pageviews, views per visit, bounce rate, visit duration, events and the percentage. The
//! native answer is computed with what the ratios need (visits), both are turned into sums,
//! added per row, and the ratios, order and pagination computed again. A query that cannot
//! include them is answered without, with the reason Plausible gives
//! (`imports_skip_reason`).

use std::collections::HashMap;

use chrono::{Days, NaiveDate, NaiveTime};
use duckdb::params;

use super::{
    Dimension, DimensionValue, Interval, MAX_LIMIT, Metric, OrderKey, Query, QueryResult, Row, UtmField,
};
use crate::imported::ImportedTable;
use crate::{Result, Store};

/// Whether imported history is in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imports {
    /// It is.
    Included,
    /// It is not, and why: `no_imported_data`, `out_of_range`, `unsupported_query`,
    /// `unsupported_interval` (Plausible's words).
    Skipped(&'static str),
}

/// Which imported rows answer a query's dimension.
struct Shape {
    table: ImportedTable,
    /// The column grouped by (`None`: totals, or time).
    column: Option<&'static str>,
    /// The time buckets.
    interval: Option<Interval>,
}

fn shape(query: &Query) -> std::result::Result<Shape, &'static str> {
    if query.filter.is_some() || query.dimensions.len() > 1 {
        return Err("unsupported_query");
    }
    let (table, column, interval) = match query.dimensions.first() {
        None => (ImportedTable::Visitors, None, None),
        Some(Dimension::Time(interval)) => match interval {
            Interval::Day | Interval::Week | Interval::Month => {
                (ImportedTable::Visitors, None, Some(*interval))
            }
            Interval::Hour | Interval::Minute => return Err("unsupported_interval"),
        },
        Some(Dimension::Source) => (ImportedTable::Sources, Some("source"), None),
        Some(Dimension::Referrer) => (ImportedTable::Sources, Some("referrer"), None),
        Some(Dimension::Utm(field)) => (
            ImportedTable::Sources,
            Some(match field {
                UtmField::Source => "utm_source",
                UtmField::Medium => "utm_medium",
                UtmField::Campaign => "utm_campaign",
                UtmField::Content => "utm_content",
                UtmField::Term => "utm_term",
            }),
            None,
        ),
        Some(Dimension::Page) => (ImportedTable::Pages, Some("page"), None),
        Some(Dimension::Hostname) => (ImportedTable::Pages, Some("hostname"), None),
        Some(Dimension::EntryPage) => (ImportedTable::EntryPages, Some("entry_page"), None),
        Some(Dimension::ExitPage) => (ImportedTable::ExitPages, Some("exit_page"), None),
        Some(Dimension::Country) => (ImportedTable::Locations, Some("country"), None),
        Some(Dimension::Region) => (ImportedTable::Locations, Some("region"), None),
        Some(Dimension::Device) => (ImportedTable::Devices, Some("device"), None),
        Some(Dimension::Browser) => (ImportedTable::Browsers, Some("browser"), None),
        Some(Dimension::BrowserVersion) => (ImportedTable::Browsers, Some("browser_version"), None),
        Some(Dimension::Os) => (ImportedTable::OperatingSystems, Some("os"), None),
        Some(Dimension::OsVersion) => (ImportedTable::OperatingSystems, Some("os_version"), None),
        Some(Dimension::EventName) => (ImportedTable::CustomEvents, Some("name"), None),
        Some(_) => return Err("unsupported_query"),
    };
    // Per table, what its numbers hold: pages have no bounces or durations, custom events
    // only visitors and events, the visitors table everything; the others all but events.
    let supported = |metric: &Metric| match table {
        ImportedTable::Pages => {
            matches!(metric, Metric::Visitors | Metric::Visits | Metric::Pageviews | Metric::Percentage)
        }
        ImportedTable::CustomEvents => {
            matches!(metric, Metric::Visitors | Metric::Events | Metric::Percentage)
        }
        ImportedTable::Visitors => metric.adds_up(),
        _ => metric.adds_up() && *metric != Metric::Events,
    };
    if !query.metrics.iter().all(supported) {
        return Err("unsupported_query");
    }
    Ok(Shape { table, column, interval })
}

/// Sums a row's numbers are made of.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    visitors: f64,
    visits: f64,
    pageviews: f64,
    bounces: f64,
    duration: f64,
    events: f64,
}

impl Sums {
    fn add(&mut self, other: Sums) {
        self.visitors += other.visitors;
        self.visits += other.visits;
        self.pageviews += other.pageviews;
        self.bounces += other.bounces;
        self.duration += other.duration;
        self.events += other.events;
    }

    fn metric(&self, metric: Metric, all_visitors: f64) -> Option<f64> {
        let per_visit = |sum: f64| (self.visits > 0.0).then(|| sum / self.visits);
        match metric {
            Metric::Visitors => Some(self.visitors),
            Metric::Visits => Some(self.visits),
            Metric::Pageviews => Some(self.pageviews),
            Metric::Events => Some(self.events),
            Metric::ViewsPerVisit => per_visit(self.pageviews),
            Metric::BounceRate => per_visit(self.bounces).map(|v| v * 100.0),
            Metric::VisitDuration => per_visit(self.duration),
            Metric::Percentage => (all_visitors > 0.0).then(|| self.visitors / all_visitors * 100.0),
            _ => None,
        }
    }
}

/// The whole local days of a query's range: `[first, last]`, if any.
fn whole_days(query: &Query) -> Option<(NaiveDate, NaiveDate)> {
    let zone = query.timezone;
    let start = super::utc_to_local(zone, query.start_ms);
    let first = if start.time() == NaiveTime::MIN { start.date() } else { start.date() + Days::new(1) };
    let end = super::utc_to_local(zone, query.end_ms);
    let last = end.date() - Days::new(1);
    (first <= last).then_some((first, last))
}

impl Store {
    /// [`Store::query_stats`] with the site's imported history added where it can be.
    pub fn query_stats_with_imports(&self, query: &Query) -> Result<(QueryResult, Imports)> {
        let has_imports: bool = self.reader()?.query_row(
            "SELECT count(*) > 0 FROM site_imports WHERE site_id = ?",
            [query.site_id],
            |row| row.get(0),
        )?;
        if !has_imports {
            return Ok((self.query_stats(query)?, Imports::Skipped("no_imported_data")));
        }
        let shape = match shape(query) {
            Ok(shape) => shape,
            Err(reason) => return Ok((self.query_stats(query)?, Imports::Skipped(reason))),
        };
        query.validate()?;
        let imported = match whole_days(query) {
            Some(days) => self.imported_rows(query, &shape, days)?,
            None => HashMap::new(),
        };
        if imported.is_empty() {
            return Ok((self.query_stats(query)?, Imports::Skipped("out_of_range")));
        }
        let mut rows = self.native_sums(query)?;
        for (key, sums) in imported {
            rows.entry(key).or_default().add(sums);
        }
        let all_visitors = if query.metrics.contains(&Metric::Percentage) {
            let totals = Query { dimensions: Vec::new(), metrics: vec![Metric::Visitors], ..query.clone() };
            self.query_stats_with_imports(&totals)?
                .0
                .rows
                .first()
                .and_then(|row| row.metrics[0])
                .unwrap_or(0.0)
        } else {
            0.0
        };
        let mut rows: Vec<Row> = rows
            .into_iter()
            .map(|(dimensions, sums)| Row {
                dimensions,
                metrics: query.metrics.iter().map(|metric| sums.metric(*metric, all_visitors)).collect(),
            })
            .collect();
        sort(query, &mut rows);
        let total_rows = rows.len() as u64;
        let rows = rows.into_iter().skip(query.offset).take(query.limit).collect();
        Ok((QueryResult { rows, total_rows, currency: None }, Imports::Included))
    }

    /// The native answer of `query`'s groups, as sums.
    fn native_sums(&self, query: &Query) -> Result<HashMap<Vec<DimensionValue>, Sums>> {
        let ratios = query
            .metrics
            .iter()
            .any(|m| matches!(m, Metric::ViewsPerVisit | Metric::BounceRate | Metric::VisitDuration));
        let mut metrics: Vec<Metric> = query
            .metrics
            .iter()
            .map(|m| if *m == Metric::Percentage { Metric::Visitors } else { *m })
            .collect();
        if ratios {
            metrics.push(Metric::Visits);
        }
        metrics.sort();
        metrics.dedup();
        let native = Query {
            metrics: metrics.clone(),
            order_by: Vec::new(),
            limit: MAX_LIMIT,
            offset: 0,
            ..query.clone()
        };
        let result = self.query_stats(&native)?;
        let at = |metric: Metric| metrics.iter().position(|m| *m == metric);
        Ok(result
            .rows
            .into_iter()
            .map(|row| {
                let get = |metric: Metric| at(metric).and_then(|i| row.metrics[i]).unwrap_or(0.0);
                let visits = get(Metric::Visits);
                let sums = Sums {
                    visitors: get(Metric::Visitors),
                    visits,
                    pageviews: if at(Metric::Pageviews).is_some() {
                        get(Metric::Pageviews)
                    } else {
                        get(Metric::ViewsPerVisit) * visits
                    },
                    bounces: get(Metric::BounceRate) / 100.0 * visits,
                    duration: get(Metric::VisitDuration) * visits,
                    events: get(Metric::Events),
                };
                (row.dimensions, sums)
            })
            .collect())
    }

    /// The imported sums of `query`'s groups over `days`.
    fn imported_rows(
        &self,
        query: &Query,
        shape: &Shape,
        (first, last): (NaiveDate, NaiveDate),
    ) -> Result<HashMap<Vec<DimensionValue>, Sums>> {
        let group = match (shape.column, shape.interval) {
            (Some(column), _) => column.to_owned(),
            (None, Some(_)) => "day::VARCHAR".to_owned(),
            (None, None) => "NULL::VARCHAR".to_owned(),
        };
        let sql = format!(
            "SELECT {group}, sum(visitors)::DOUBLE, sum(visits)::DOUBLE, sum(pageviews)::DOUBLE,
                    sum(bounces)::DOUBLE, sum(visit_duration)::DOUBLE, sum(events)::DOUBLE
             FROM imported_stats
             WHERE site_id = ? AND kind = ? AND day BETWEEN ?::DATE AND ?::DATE
             GROUP BY 1"
        );
        let conn = self.reader()?;
        let mut statement = conn.prepare(&sql)?;
        let found = statement.query_map(
            params![query.site_id, shape.table.code(), first.to_string(), last.to_string()],
            |row| {
                let key: Option<String> = row.get(0)?;
                let sums = Sums {
                    visitors: row.get(1)?,
                    visits: row.get(2)?,
                    pageviews: row.get(3)?,
                    bounces: row.get(4)?,
                    duration: row.get(5)?,
                    // Plausible counts an imported day's pageviews as its events.
                    events: if shape.table == ImportedTable::Visitors { row.get(3)? } else { row.get(6)? },
                };
                Ok((key, sums))
            },
        )?;
        let mut rows: HashMap<Vec<DimensionValue>, Sums> = HashMap::new();
        for found in found {
            let (key, sums) = found?;
            let dimensions = match (shape.interval, key) {
                (Some(interval), Some(day)) => {
                    let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { continue };
                    let bucket = interval.truncate(day.and_time(NaiveTime::MIN));
                    vec![DimensionValue::Time(bucket.and_utc().timestamp_millis())]
                }
                (None, _) if shape.column.is_none() => Vec::new(),
                (_, key) => vec![DimensionValue::Text(key)],
            };
            rows.entry(dimensions).or_default().add(sums);
        }
        Ok(rows)
    }
}

fn compare_values(a: &DimensionValue, b: &DimensionValue) -> std::cmp::Ordering {
    match (a, b) {
        (DimensionValue::Time(a), DimensionValue::Time(b)) => a.cmp(b),
        (DimensionValue::Text(a), DimensionValue::Text(b)) => a.cmp(b),
        (DimensionValue::Time(_), DimensionValue::Text(_)) => std::cmp::Ordering::Less,
        (DimensionValue::Text(_), DimensionValue::Time(_)) => std::cmp::Ordering::Greater,
    }
}

/// Orders rows as the engine does: by `order_by`, else by time, else by the first metric
/// descending; ties by the dimensions.
fn sort(query: &Query, rows: &mut [Row]) {
    let mut keys = query.order_by.clone();
    if keys.is_empty() {
        match query.dimensions.iter().position(|d| matches!(d, Dimension::Time(_))) {
            Some(index) => keys.push((OrderKey::Dimension(index), false)),
            None => keys.push((OrderKey::Metric(0), true)),
        }
    }
    rows.sort_by(|a, b| {
        for (key, descending) in &keys {
            let order = match key {
                OrderKey::Metric(i) => {
                    let (x, y) = (
                        a.metrics[*i].unwrap_or(f64::NEG_INFINITY),
                        b.metrics[*i].unwrap_or(f64::NEG_INFINITY),
                    );
                    x.total_cmp(&y)
                }
                OrderKey::Dimension(i) => compare_values(&a.dimensions[*i], &b.dimensions[*i]),
            };
            let order = if *descending { order.reverse() } else { order };
            if order.is_ne() {
                return order;
            }
        }
        a.dimensions
            .iter()
            .zip(&b.dimensions)
            .map(|(x, y)| compare_values(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}
