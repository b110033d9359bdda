//! Goals in queries: the condition "this event completed one of these goals", the goal
//! breakdown (one scan of the range's events, one pair of counts per goal), and the
//! population a conversion rate divides by.

use std::collections::HashMap;
use std::fmt::Write as _;

use duckdb::types::Value;
use duckdb::{Connection, ToSql};
use hitkeep_protocol::EventKind;

use super::sql::{Param, Source, Sql, filter_sql, range};
use super::{
    Dimension, DimensionValue, Filter, Metric, Operator, OrderKey, Query, QueryResult, Row, compile_regex,
    invalid,
};
use crate::{Goal, GoalKind, Result};

/// The events (alias `e`) that complete `goal`.
pub(super) fn completes(goal: &Goal) -> Sql {
    let mut sql = Sql::default();
    match &goal.kind {
        GoalKind::Page { pattern } => {
            let _ = write!(sql.text, "(e.kind = {} AND regexp_matches(e.path, ", EventKind::Pageview.code());
            sql.bind(Param::Text(GoalKind::page_regex(pattern))).push("))");
        }
        GoalKind::Event { name, props } => {
            let _ = write!(sql.text, "(e.kind = {} AND e.name = ", EventKind::Custom.code());
            sql.bind(Param::Text(name.clone()));
            for (key, value) in props {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM event_props q WHERE q.site_id = e.site_id AND q.session_id = e.session_id \
                     AND q.ts = e.ts AND q.name = e.name AND q.key = ",
                );
                sql.bind(Param::Text(key.clone()))
                    .push(" AND q.value = ")
                    .bind(Param::Text(value.clone()))
                    .push(")");
            }
            sql.push(")");
        }
    }
    sql
}

/// A condition on the goal dimension, on events (alias `e`): the event completed one of the
/// goals whose names match. `is` names goals that must exist.
pub(super) fn condition(
    operator: Operator,
    values: &[String],
    case_sensitive: bool,
    query: &Query,
) -> Result<Sql> {
    let positive = match operator {
        Operator::IsNot => Operator::Is,
        Operator::ContainsNot => Operator::Contains,
        Operator::MatchesNot => Operator::Matches,
        other => other,
    };
    if positive == Operator::Is {
        for value in values {
            let known = query.goals.iter().any(|goal| {
                if case_sensitive { goal.name == *value } else { goal.name.eq_ignore_ascii_case(value) }
            });
            if !known {
                return Err(invalid(
                    "filters",
                    format!("the goal `{value}` is not configured for this site"),
                ));
            }
        }
    }
    let mut chosen = Vec::new();
    for goal in &query.goals {
        let mut matched = false;
        for value in values {
            matched |= match positive {
                Operator::Is if case_sensitive => goal.name == *value,
                Operator::Is => goal.name.eq_ignore_ascii_case(value),
                Operator::Contains if case_sensitive => goal.name.contains(value.as_str()),
                Operator::Contains => goal.name.to_lowercase().contains(&value.to_lowercase()),
                _ => compile_regex(value, case_sensitive)?.is_match(&goal.name),
            };
        }
        if matched {
            chosen.push(goal);
        }
    }
    let mut sql = Sql::default();
    if operator != positive {
        sql.push("NOT ");
    }
    sql.push("(");
    if chosen.is_empty() {
        sql.push("false");
    }
    for (index, goal) in chosen.into_iter().enumerate() {
        if index > 0 {
            sql.push(" OR ");
        }
        sql.append(completes(goal));
    }
    sql.push(")");
    Ok(sql)
}

/// Visitors of the query without its dimensions and goal conditions: what a conversion rate
/// divides by.
pub(super) fn population(query: &Query, conn: &Connection, tables: super::Tables) -> Result<f64> {
    let total = Query {
        dimensions: Vec::new(),
        metrics: vec![Metric::Visitors],
        filter: query.filter.as_ref().and_then(super::Filter::without_goals),
        order_by: Vec::new(),
        limit: 1,
        offset: 0,
        ..query.clone()
    };
    let result = super::plan(&total, conn, tables)?.run(conn)?;
    Ok(result.rows.first().and_then(|row| row.metrics[0]).unwrap_or(0.0))
}

/// Visitors of each of `rows`' groups (the query's dimensions) without the query's goal
/// conditions: what a group conversion rate divides by. The query is narrowed to the rows'
/// values where that is a plain condition, so that a page of a long breakdown costs what
/// its rows do.
pub(super) fn group_population(
    query: &Query,
    rows: &[Row],
    conn: &Connection,
    tables: super::Tables,
) -> Result<HashMap<Vec<DimensionValue>, f64>> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let mut conditions: Vec<Filter> =
        query.filter.as_ref().and_then(Filter::without_goals).into_iter().collect();
    for (index, dimension) in query.dimensions.iter().enumerate() {
        let mut values: Vec<String> = Vec::new();
        let mut plain = !matches!(dimension, Dimension::Time(_));
        for row in rows {
            match &row.dimensions[index] {
                DimensionValue::Text(Some(value)) if !value.is_empty() => {
                    if !values.contains(value) {
                        values.push(value.clone());
                    }
                }
                _ => plain = false,
            }
        }
        if plain && values.len() <= super::MAX_FILTER_VALUES {
            conditions.push(Filter::Condition {
                dimension: dimension.clone(),
                operator: Operator::Is,
                values,
                case_sensitive: true,
            });
        }
    }
    let total = Query {
        metrics: vec![Metric::Visitors],
        filter: match conditions.len() {
            0 => None,
            1 => conditions.pop(),
            _ => Some(Filter::And(conditions)),
        },
        order_by: Vec::new(),
        limit: super::MAX_LIMIT,
        offset: 0,
        ..query.clone()
    };
    let result = super::plan(&total, conn, tables)?.run(conn)?;
    Ok(result.rows.into_iter().map(|row| (row.dimensions, row.metrics[0].unwrap_or(0.0))).collect())
}

/// The goal breakdown: a row per goal completed in the range, with its visitors, events,
/// visits and conversion rate, in one scan of the range's events.
pub(super) fn breakdown(query: &Query, conn: &Connection) -> Result<QueryResult> {
    for metric in &query.metrics {
        if !matches!(
            metric,
            Metric::Visitors
                | Metric::Events
                | Metric::Visits
                | Metric::ConversionRate
                | Metric::GroupConversionRate
                | Metric::Percentage
                | Metric::TotalRevenue
                | Metric::AverageRevenue
        ) {
            return Err(invalid("metrics", format!("{metric:?} cannot be broken down by goal")));
        }
    }
    if query.goals.is_empty() {
        return Ok(QueryResult::default());
    }
    // Each goal's condition is tested once per event, into the list of the goals it
    // completes (an event may complete several: `/docs/**` and `/docs/api`), unnested to a
    // row per completion, then counted in one grouping. (Aggregates with a FILTER per goal
    // tested every condition five times and kept five distinct-sets per goal: 2 s on the
    // 10 M demo site's 30 days, against 0.3 s this way.)
    let mut sql = Sql::default();
    let revenue = query.metrics.iter().any(|m| m.is_revenue());
    sql.push("SELECT m.goal, count(DISTINCT ")
        .append(super::sql::visitor_key("m", "m.ts", query))
        .push("), count(*), count(DISTINCT m.session_id), sum(m.revenue_micros), avg(m.revenue_micros), ")
        // The currencies only when revenue is shown (the lowest and highest of each goal).
        .push(if revenue {
            "min(m.revenue_currency) FILTER (WHERE m.revenue_micros IS NOT NULL), \
             max(m.revenue_currency) FILTER (WHERE m.revenue_micros IS NOT NULL) FROM ("
        } else {
            "CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR) FROM ("
        })
        .push("SELECT e.visitor_id, e.ts, e.session_id, e.revenue_micros, e.revenue_currency, unnest(list_filter([");
    for (index, goal) in query.goals.iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        sql.push("CASE WHEN ").append(completes(goal));
        let _ = write!(sql.text, " THEN {index} END");
    }
    sql.push("], lambda g: g IS NOT NULL)) AS goal FROM events e WHERE e.site_id = ")
        .bind(Param::Int(i64::from(query.site_id)))
        .push(" AND ");
    range(&mut sql, "e.ts", query.start_ms, query.end_ms);
    let _ = write!(sql.text, " AND e.kind <> {}", EventKind::Engagement.code());
    if let Some(filter) = &query.filter {
        sql.push(" AND ").append(filter_sql(filter, Source::Events, query)?);
    }
    sql.push(") m GROUP BY m.goal");
    let mut statement = conn.prepare(&sql.text)?;
    let params: Vec<&dyn ToSql> = sql.params.iter().map(|param| param as &dyn ToSql).collect();
    // Per goal: visitors, events, visits, revenue and average revenue (micros); goals no
    // event completed have no row and stay `None`.
    let mut numbers: Vec<Option<f64>> = vec![None; query.goals.len() * PER_GOAL];
    // The currencies of the revenue counted, found in the same scan.
    let mut currencies: Vec<String> = Vec::new();
    let mut answers = statement.query(params.as_slice())?;
    while let Some(row) = answers.next()? {
        let goal = usize::try_from(row.get::<_, i64>(0)?).unwrap_or(usize::MAX);
        if goal >= query.goals.len() {
            continue;
        }
        for offset in 0..PER_GOAL {
            numbers[goal * PER_GOAL + offset] = number(row.get::<_, Value>(offset + 1)?);
        }
        for offset in [PER_GOAL + 1, PER_GOAL + 2] {
            if let Some(currency) = row.get::<_, Option<String>>(offset)?
                && !currencies.contains(&currency)
            {
                currencies.push(currency);
            }
        }
    }
    currencies.sort();
    let currency = if revenue { one_currency(currencies)? } else { None };
    let needs_population =
        query.metrics.iter().any(|m| *m == Metric::Percentage || (m.needs_goals() && !m.is_revenue()));
    let all = if needs_population { population(query, conn, super::Tables::Any)? } else { 0.0 };
    let share = |visitors: f64| if all > 0.0 { 100.0 * visitors / all } else { 0.0 };
    let mut rows: Vec<Row> = query
        .goals
        .iter()
        .enumerate()
        .filter(|(index, _)| numbers[index * PER_GOAL].unwrap_or(0.0) > 0.0)
        .map(|(index, goal)| {
            let of = |offset: usize| numbers[index * PER_GOAL + offset];
            let visitors = of(0).unwrap_or(0.0);
            let metrics = query
                .metrics
                .iter()
                .map(|metric| match metric {
                    Metric::Visitors => Some(visitors),
                    Metric::Events => of(1),
                    Metric::Visits => of(2),
                    Metric::TotalRevenue => of(3).map(|micros| micros / 1e6),
                    Metric::AverageRevenue => of(4).map(|micros| micros / 1e6),
                    _ => Some(share(visitors)),
                })
                .collect();
            Row { dimensions: vec![DimensionValue::Text(Some(goal.name.clone()))], metrics }
        })
        .collect();
    let keys: Vec<(OrderKey, bool)> =
        if query.order_by.is_empty() { vec![(OrderKey::Metric(0), true)] } else { query.order_by.clone() };
    rows.sort_by(|a, b| {
        for (key, descending) in &keys {
            let ordering = match key {
                OrderKey::Metric(index) => {
                    a.metrics[*index].partial_cmp(&b.metrics[*index]).unwrap_or(std::cmp::Ordering::Equal)
                }
                OrderKey::Dimension(_) => {
                    format!("{:?}", a.dimensions[0]).cmp(&format!("{:?}", b.dimensions[0]))
                }
            };
            let ordering = if *descending { ordering.reverse() } else { ordering };
            if ordering.is_ne() {
                return ordering;
            }
        }
        format!("{:?}", a.dimensions[0]).cmp(&format!("{:?}", b.dimensions[0]))
    });
    let total_rows = rows.len() as u64;
    let rows = rows.into_iter().skip(query.offset).take(query.limit).collect();
    Ok(QueryResult { rows, total_rows, currency })
}

/// Aggregates per goal in [`breakdown`].
const PER_GOAL: usize = 5;

/// A number DuckDB answered (a count, a sum, an average); `None` for NULL.
fn number(value: Value) -> Option<f64> {
    match value {
        Value::BigInt(n) => Some(n as f64),
        Value::HugeInt(n) => Some(n as f64),
        Value::Double(n) => Some(n),
        Value::Int(n) => Some(f64::from(n)),
        _ => None,
    }
}

/// The currency of the revenue a query counts: of the events with revenue that complete its
/// goal filter's goals in its range and filter (the goal breakdown finds its own).
/// `None` when there is none; an error naming them when there are several.
pub(super) fn currency(query: &Query, conn: &Connection) -> Result<Option<String>> {
    let mut sql = Sql::default();
    sql.push("SELECT DISTINCT e.revenue_currency FROM events e WHERE e.site_id = ");
    sql.bind(Param::Int(i64::from(query.site_id))).push(" AND ");
    range(&mut sql, "e.ts", query.start_ms, query.end_ms);
    sql.push(" AND e.revenue_micros IS NOT NULL AND e.revenue_currency IS NOT NULL");
    if let Some(filter) = &query.filter {
        sql.push(" AND ").append(filter_sql(filter, Source::Events, query)?);
    }
    sql.push(" ORDER BY 1 LIMIT 10");
    let mut statement = conn.prepare(&sql.text)?;
    let params: Vec<&dyn ToSql> = sql.params.iter().map(|param| param as &dyn ToSql).collect();
    let currencies: Vec<String> =
        statement.query_map(params.as_slice(), |row| row.get(0))?.collect::<duckdb::Result<_>>()?;
    one_currency(currencies)
}

/// The one currency of the revenue a query counts (`None` when it counts none); an error
/// naming them when there are several.
fn one_currency(currencies: Vec<String>) -> Result<Option<String>> {
    match currencies.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        several => Err(invalid(
            "currency",
            format!(
                "the goals' revenue is in several currencies ({}): filter by a goal whose events share one",
                several.join(", ")
            ),
        )),
    }
}
