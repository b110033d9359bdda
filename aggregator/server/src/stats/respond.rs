//! Running a parsed query and shaping the answer as Plausible's Stats API v2 does:
//! `{"results": [{"metrics": [...], "dimensions": [...]}], "meta": {...}, "query": {...}}`,
//! or as CSV.

use std::collections::HashMap;

use chrono::DateTime;
use hitkeep_store::Store;
use hitkeep_store::stats::{Dimension, DimensionValue, Imports, Query, Row, bucket_label, bucket_starts};
use serde_json::{Map, Value, json};

use super::Request;

/// A query's answer: the JSON body, and the rows for CSV.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The response body.
    pub body: Value,
    /// Dimension values as shown, then metric values as shown, per row.
    pub table: Vec<Vec<Value>>,
}

/// Runs `request` on `store` (blocking: call it on a blocking thread).
pub fn answer(store: &Store, request: &Request) -> hitkeep_store::Result<Answer> {
    // With `include.imports`, imported history is added where it can be (and the answer says
    // whether it was, and why not).
    let run = |query: &Query| -> hitkeep_store::Result<(hitkeep_store::stats::QueryResult, Option<Imports>)> {
        if request.include.imports {
            let (result, imports) = store.query_stats_with_imports(query)?;
            Ok((result, Some(imports)))
        } else {
            Ok((store.query_stats(query)?, None))
        }
    };
    let (result, imports) = run(&request.query)?;
    let compared = match request.comparison {
        Some(range) => Some(
            run(&Query {
                start_ms: range.start_ms,
                end_ms: range.end_ms,
                offset: 0,
                limit: hitkeep_store::stats::MAX_LIMIT,
                ..request.query.clone()
            })?
            .0,
        ),
        None => None,
    };
    let time = request.query.dimensions.iter().position(|d| matches!(d, Dimension::Time(_)));
    let interval = time.map(|index| match request.query.dimensions[index] {
        Dimension::Time(interval) => interval,
        _ => unreachable!("a time dimension"),
    });
    // A comparison row is the one with the same dimensions, its time bucket moved by as many
    // buckets as the row's is from the start of its range.
    let comparison_rows: Option<HashMap<Vec<KeyPart>, &Row>> = compared.as_ref().map(|compared| {
        let buckets = interval.map(|interval| {
            let range = request.comparison.expect("compared");
            bucket_starts(request.query.timezone, range.start_ms, range.end_ms, interval)
        });
        compared.rows.iter().map(|row| (key(row, buckets.as_deref()), row)).collect()
    });
    let own_buckets = interval.map(|interval| {
        bucket_starts(request.query.timezone, request.query.start_ms, request.query.end_ms, interval)
    });

    let currency = result.currency.as_deref().or(compared.as_ref().and_then(|c| c.currency.as_deref()));
    let mut results = Vec::with_capacity(result.rows.len());
    let mut table = Vec::with_capacity(result.rows.len());
    for row in &result.rows {
        let dimensions: Vec<Value> = row
            .dimensions
            .iter()
            .zip(&request.query.dimensions)
            .map(|(value, dimension)| show_dimension(value, dimension))
            .collect();
        let metrics: Vec<Value> = row
            .metrics
            .iter()
            .zip(&request.metric_names)
            .map(|(value, name)| show_metric(*value, name, currency))
            .collect();
        let mut entry = Map::new();
        entry.insert("metrics".into(), Value::Array(metrics.clone()));
        entry.insert("dimensions".into(), Value::Array(dimensions.clone()));
        if let Some(rows) = &comparison_rows {
            let other = rows.get(&key(row, own_buckets.as_deref()));
            let other_metrics: Vec<Value> = request
                .metric_names
                .iter()
                .enumerate()
                .map(|(index, name)| show_metric(other.and_then(|o| o.metrics[index]), name, currency))
                .collect();
            let change: Vec<Value> = request
                .metric_names
                .iter()
                .enumerate()
                .map(|(index, name)| change(row.metrics[index], other.and_then(|o| o.metrics[index]), name))
                .collect();
            let other_dimensions: Vec<Value> = match other {
                Some(other) => other
                    .dimensions
                    .iter()
                    .zip(&request.query.dimensions)
                    .map(|(value, dimension)| show_dimension(value, dimension))
                    .collect(),
                None => dimensions.clone(),
            };
            entry.insert(
                "comparison".into(),
                json!({"dimensions": other_dimensions, "metrics": other_metrics, "change": change}),
            );
        }
        results.push(Value::Object(entry));
        table.push(dimensions.into_iter().chain(metrics).collect());
    }

    let mut meta = Map::new();
    match imports {
        Some(Imports::Included) => {
            meta.insert("imports_included".into(), Value::Bool(true));
        }
        Some(Imports::Skipped(reason)) => {
            meta.insert("imports_included".into(), Value::Bool(false));
            meta.insert("imports_skip_reason".into(), Value::String(reason.into()));
        }
        None => {}
    }
    if request.include.time_labels
        && let Some(interval) = interval
    {
        let labels =
            bucket_starts(request.query.timezone, request.query.start_ms, request.query.end_ms, interval);
        meta.insert(
            "time_labels".into(),
            labels.into_iter().map(|start| Value::String(bucket_label(interval, start))).collect(),
        );
    }
    if request.include.total_rows {
        meta.insert("total_rows".into(), json!(result.total_rows));
    }
    let body = json!({
        "results": results,
        "meta": meta,
        "query": echo(request),
    });
    Ok(Answer { body, table })
}

/// The query as run, as Plausible echoes it.
fn echo(request: &Request) -> Value {
    let zone = request.query.timezone;
    let local = |utc_ms: i64| {
        DateTime::from_timestamp_millis(utc_ms)
            .unwrap_or_default()
            .with_timezone(&zone)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    let mut include = Map::new();
    for (name, set) in [
        ("imports", request.include.imports),
        ("time_labels", request.include.time_labels),
        ("total_rows", request.include.total_rows),
    ] {
        if set {
            include.insert(name.into(), Value::Bool(true));
        }
    }
    json!({
        "site_id": request.site,
        "metrics": request.metric_names,
        "date_range": [local(request.query.start_ms), local(request.query.end_ms - 1000)],
        "filters": request.filters,
        "dimensions": request.dimension_names,
        "order_by": request.order_by.iter().map(|(name, descending)| json!([name, if *descending { "desc" } else { "asc" }])).collect::<Vec<_>>(),
        "include": include,
        "pagination": {"offset": request.query.offset, "limit": request.query.limit},
    })
}

/// A dimension value for matching rows across periods.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyPart {
    Text(Option<String>),
    Bucket(usize),
}

fn key(row: &Row, buckets: Option<&[i64]>) -> Vec<KeyPart> {
    row.dimensions
        .iter()
        .map(|value| match value {
            DimensionValue::Text(text) => KeyPart::Text(text.clone()),
            DimensionValue::Time(start) => {
                KeyPart::Bucket(buckets.and_then(|b| b.iter().position(|s| s == start)).unwrap_or(usize::MAX))
            }
        })
        .collect()
}

/// A dimension's value as shown: Plausible's placeholders for missing values.
fn show_dimension(value: &DimensionValue, dimension: &Dimension) -> Value {
    match value {
        DimensionValue::Time(start) => {
            let Dimension::Time(interval) = dimension else {
                unreachable!("time values are of time dimensions")
            };
            Value::String(bucket_label(*interval, *start))
        }
        DimensionValue::Text(Some(text)) => Value::String(text.clone()),
        DimensionValue::Text(None) => Value::String(
            match dimension {
                Dimension::Source | Dimension::Referrer => "Direct / None",
                Dimension::Prop(_) => "(none)",
                _ => "(not set)",
            }
            .into(),
        ),
    }
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// A metric's value as shown: counts, rates and durations as integers, views per visit to
/// two places, shares to one; revenue as Plausible shows money (`{"value", "currency",
/// "short", "long"}`), `null` without any.
fn show_metric(value: Option<f64>, name: &str, currency: Option<&str>) -> Value {
    match (name, value) {
        ("total_revenue" | "average_revenue", Some(value)) => {
            let value = round(value, 2);
            let currency = currency.unwrap_or_default();
            json!({
                "value": value,
                "currency": currency,
                "short": format!("{} {currency}", short_number(value)),
                "long": format!("{} {currency}", grouped(value)),
            })
        }
        ("total_revenue" | "average_revenue", None) => Value::Null,
        ("visit_duration" | "time_on_page" | "scroll_depth", None) => Value::Null,
        ("views_per_visit", value) => json!(round(value.unwrap_or(0.0), 2)),
        ("percentage" | "conversion_rate" | "group_conversion_rate", value) => {
            json!(round(value.unwrap_or(0.0), 1))
        }
        (_, value) => json!(value.unwrap_or(0.0).round() as i64),
    }
}

/// `1234.5` as `1.2K`, `2500000` as `2.5M`; below a thousand with two decimals.
fn short_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{:.1}B", value / 1e9)
    } else if magnitude >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if magnitude >= 1e3 {
        format!("{:.1}K", value / 1e3)
    } else {
        format!("{value:.2}")
    }
}

/// `1234.5` as `1,234.50`.
fn grouped(value: f64) -> String {
    let fixed = format!("{:.2}", value.abs());
    let (whole, fraction) = fixed.split_once('.').unwrap_or((&fixed, "00"));
    let mut digits = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            digits.push(',');
        }
        digits.push(digit);
    }
    let sign = if value < 0.0 { "-" } else { "" };
    format!("{sign}{digits}.{fraction}")
}

/// The change from `before` to `now`: percentage points for rates, else percent.
fn change(now: Option<f64>, before: Option<f64>, name: &str) -> Value {
    let (Some(now), Some(before)) = (now, before) else {
        return Value::Null;
    };
    if name == "bounce_rate" {
        return json!((now - before).round() as i64);
    }
    if before == 0.0 {
        return if now == 0.0 { json!(0) } else { json!(100) };
    }
    json!(round(100.0 * (now - before) / before, 1))
}

/// The rows of an answer as CSV, with a header of the dimensions' and metrics' names.
pub fn to_csv(request: &Request, answer: &Answer) -> String {
    let mut csv = String::new();
    let header: Vec<String> =
        request.dimension_names.iter().chain(&request.metric_names).map(|name| csv_field(name)).collect();
    csv.push_str(&header.join(","));
    csv.push_str("\r\n");
    for row in &answer.table {
        let fields: Vec<String> = row
            .iter()
            .map(|value| match value {
                Value::String(text) => csv_field(text),
                Value::Null => String::new(),
                // Money: its amount (the header names the metric; the currency is the query's).
                Value::Object(money) => money.get("value").map(Value::to_string).unwrap_or_default(),
                other => other.to_string(),
            })
            .collect();
        csv.push_str(&fields.join(","));
        csv.push_str("\r\n");
    }
    csv
}

/// A CSV field, quoted when needed; a leading `=`, `+`, `-` or `@` is escaped so that a
/// spreadsheet does not run a page path as a formula.
fn csv_field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_short_and_long() {
        assert_eq!(grouped(1234.5), "1,234.50");
        assert_eq!(grouped(-1234567.891), "-1,234,567.89");
        assert_eq!(grouped(12.0), "12.00");
        assert_eq!(short_number(1234.5), "1.2K");
        assert_eq!(short_number(2_500_000.0), "2.5M");
        assert_eq!(short_number(49.9), "49.90");
        assert_eq!(
            show_metric(Some(59.9), "total_revenue", Some("EUR")),
            json!({"value": 59.9, "currency": "EUR", "short": "59.90 EUR", "long": "59.90 EUR"})
        );
        assert_eq!(show_metric(None, "average_revenue", Some("EUR")), Value::Null);
    }
}
