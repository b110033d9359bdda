//! The funnel report: for each step, the visitors who did it after every step before it, in
//! order, and the median time from the step before.
//!
//! A step is matched greedily: the earliest event of the step after the match of the step
//! before (which finds an ordered match whenever there is one). Within a visit, the steps
//! are looked for among the events of each visit that did the first step in the range; with
//! a window, among the visitor's events up to the window's end after their first step.

use std::fmt::Write as _;

use duckdb::ToSql;
use duckdb::types::Value;
use hitkeep_protocol::EventKind;
use serde::{Deserialize, Serialize};

use super::sql::{Param, Source, Sql, VISIT_SPAN_MS, filter_sql, range};
use super::{Query, invalid};
use crate::{Funnel, Result, Store};

/// One step of a funnel's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// Visitors who did this step after all the steps before it.
    pub visitors: u64,
    /// Those of the step before who did not do this one (0 for the first step).
    pub dropped: u64,
    /// `visitors` as a share of the first step's, in percent.
    pub conversion_rate: f64,
    /// The median time from the step before, in seconds (`None` for the first step, or when
    /// nobody got here).
    pub median_seconds_from_previous: Option<f64>,
}

/// A funnel's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelReport {
    /// The funnel.
    pub funnel: Funnel,
    /// Its steps, in order.
    pub steps: Vec<FunnelStep>,
}

impl Store {
    /// The report of `funnel` over `query`'s range and filter (its metrics and dimensions are
    /// not used). The filter selects the events the first step may be.
    pub fn funnel_report(&self, funnel: &Funnel, query: &Query) -> Result<FunnelReport> {
        if query.end_ms <= query.start_ms {
            return Err(invalid("date_range", "the range ends before it starts".into()));
        }
        if let Some(filter) = &query.filter {
            filter.validate()?;
        }
        let query = self.with_goals(query)?;
        let query = query.as_ref();
        let sql = report_sql(funnel, query)?;
        let conn = self.reader()?;
        let mut statement = conn.prepare(&sql.text)?;
        let params: Vec<&dyn ToSql> = sql.params.iter().map(|param| param as &dyn ToSql).collect();
        let steps = funnel.steps.len();
        let values: Vec<(u64, Option<f64>)> = statement.query_row(params.as_slice(), |row| {
            (0..steps)
                .map(|index| {
                    let visitors = match row.get::<_, Value>(2 * index)? {
                        Value::BigInt(count) => count.max(0) as u64,
                        _ => 0,
                    };
                    let median = row.get::<_, Option<f64>>(2 * index + 1)?;
                    Ok((visitors, median))
                })
                .collect()
        })?;
        let first = values.first().map_or(0, |(visitors, _)| *visitors);
        let mut report = Vec::with_capacity(steps);
        for (index, (visitors, median_ms)) in values.iter().enumerate() {
            let before = if index == 0 { *visitors } else { values[index - 1].0 };
            report.push(FunnelStep {
                visitors: *visitors,
                dropped: before.saturating_sub(*visitors),
                conversion_rate: if first == 0 { 0.0 } else { 100.0 * *visitors as f64 / first as f64 },
                median_seconds_from_previous: if index == 0 { None } else { median_ms.map(|ms| ms / 1000.0) },
            });
        }
        Ok(FunnelReport { funnel: funnel.clone(), steps: report })
    }
}

/// The events (alias `e`) of a step: a goal's definition.
fn step_sql(step: &crate::GoalKind) -> Sql {
    let goal = crate::Goal { id: 0, site_id: 0, name: String::new(), kind: step.clone(), created_at_ms: 0 };
    super::goals::completes(&goal)
}

fn report_sql(funnel: &Funnel, query: &Query) -> Result<Sql> {
    // Steps are matched per visit, or per visitor within a window.
    let key = if funnel.window_ms.is_some() { "visitor_id" } else { "session_id" };
    let mut sql = Sql::default();
    sql.push("WITH s0 AS (SELECT e.").push(key).push(" AS k, any_value(e.visitor_id) AS visitor, min(e.ts) AS t, min(e.ts) AS first FROM events e WHERE e.site_id = ");
    sql.bind(Param::Int(i64::from(query.site_id))).push(" AND ");
    range(&mut sql, "e.ts", query.start_ms, query.end_ms);
    let _ = write!(sql.text, " AND e.kind <> {} AND ", EventKind::Engagement.code());
    sql.append(step_sql(&funnel.steps[0]));
    if let Some(filter) = &query.filter {
        sql.push(" AND ").append(filter_sql(filter, Source::Events, query)?);
    }
    sql.push(" GROUP BY ALL)");
    for (index, step) in funnel.steps.iter().enumerate().skip(1) {
        let previous = index - 1;
        let _ = write!(
            sql.text,
            ", s{index} AS (SELECT p.k, p.visitor, min(e.ts) AS t, p.first, \
             min(epoch_ms(e.ts)) - epoch_ms(p.t) AS gap FROM s{previous} p JOIN events e ON e.{key} = p.k \
             AND e.ts > p.t AND e.site_id = "
        );
        sql.bind(Param::Int(i64::from(query.site_id)));
        match funnel.window_ms {
            Some(window) => {
                sql.push(" AND e.ts <= p.first + to_milliseconds(").bind(Param::Int(window)).push(")");
            }
            None => {
                sql.push(" AND e.ts < ").bind(Param::Time(query.end_ms + VISIT_SPAN_MS));
            }
        }
        let _ = write!(sql.text, " AND e.kind <> {} WHERE ", EventKind::Engagement.code());
        sql.append(step_sql(step));
        sql.push(" GROUP BY p.k, p.visitor, p.t, p.first)");
    }
    sql.push(" SELECT ");
    for index in 0..funnel.steps.len() {
        if index > 0 {
            sql.push(", ");
        }
        let _ = write!(sql.text, "(SELECT count(DISTINCT visitor) FROM s{index}), ");
        if index == 0 {
            sql.push("NULL::DOUBLE");
        } else {
            let _ = write!(sql.text, "(SELECT median(gap)::DOUBLE FROM s{index})");
        }
    }
    Ok(sql)
}
