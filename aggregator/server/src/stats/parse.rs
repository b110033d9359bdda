//! Reading a Stats API v2 query (`POST /api/v2/query`'s body) into the store's query.
//!
//! The error messages follow Plausible's (`#/metrics/1: Invalid metric "baa"`), so that a
//! client written for Plausible shows the same thing.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use hitkeep_store::stats::{
    Dimension, Filter, Interval, MAX_LIMIT, Metric, Operator, OrderKey, Query, UtmField, local_to_utc_ms,
    utc_to_local,
};
use serde_json::{Map, Value};

use super::QueryError;

/// What `include` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Include {
    /// Every time bucket's label in `meta.time_labels`.
    pub time_labels: bool,
    /// The number of rows before pagination in `meta.total_rows`.
    pub total_rows: bool,
    /// Imported history (`meta.imports_included` says whether it is in the answer).
    pub imports: bool,
}

/// The period a query is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// `[start, end)` in UTC ms.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
}

/// A parsed query, ready to run.
#[derive(Debug, Clone)]
pub struct Request {
    /// The store's query.
    pub query: Query,
    /// Names as the request gave them (with `time` resolved), for the echo.
    pub metric_names: Vec<String>,
    /// See `metric_names`.
    pub dimension_names: Vec<String>,
    /// The filters as sent.
    pub filters: Value,
    /// The order as applied, for the echo.
    pub order_by: Vec<(String, bool)>,
    /// What to include.
    pub include: Include,
    /// The comparison period, when asked for.
    pub comparison: Option<Comparison>,
    /// The site's domain.
    pub site: String,
}

const FIELDS: &[&str] = &[
    "site_id",
    "metrics",
    "date_range",
    "dimensions",
    "filters",
    "order_by",
    "include",
    "pagination",
    "date",
];

fn error(message: impl Into<String>) -> QueryError {
    QueryError(message.into())
}

/// Reads `body` for the site `site_id` (already resolved and authorized by the route) in
/// `timezone`, with "today" taken at `now_ms`. `dashboard` allows what Plausible keeps to
/// its own dashboard (`realtime`, `time:minute`, comparisons, `date`).
pub fn parse(
    body: &Value,
    site_id: u32,
    site: &str,
    timezone: Tz,
    now_ms: i64,
    dashboard: bool,
) -> Result<Request, QueryError> {
    let Some(object) = body.as_object() else {
        return Err(error("#: Type mismatch. Expected Object but got something else."));
    };
    for key in object.keys() {
        if !FIELDS.contains(&key.as_str()) || (key == "date" && !dashboard) {
            return Err(error(format!("#/{key}: Schema does not allow additional properties.")));
        }
    }
    let missing: Vec<&str> =
        ["site_id", "metrics", "date_range"].into_iter().filter(|key| !object.contains_key(*key)).collect();
    let missing: Vec<&str> = missing.into_iter().filter(|key| *key != "site_id" || !dashboard).collect();
    match missing.as_slice() {
        [] => {}
        [one] => return Err(error(format!("#: Required property {one} was not present."))),
        many => return Err(error(format!("#: Required properties {} were not present.", many.join(", ")))),
    }

    let (metrics, metric_names) = metrics(&object["metrics"])?;
    let today = match object.get("date") {
        Some(Value::String(date)) => NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| error(format!("#/date: Invalid date \"{date}\"")))?,
        Some(_) => return Err(error("#/date: Type mismatch. Expected String.")),
        None => utc_to_local(timezone, now_ms).date(),
    };
    let (start_ms, end_ms) = date_range(&object["date_range"], timezone, now_ms, today, dashboard)?;
    let (dimensions, dimension_names) =
        dimensions(object.get("dimensions").unwrap_or(&Value::Null), end_ms - start_ms, dashboard)?;
    let filters = object.get("filters").cloned().unwrap_or(Value::Array(Vec::new()));
    let filter = filters_of(&filters)?;
    let include = include(object.get("include"), dashboard)?;
    if include.time_labels && !dimensions.iter().any(|d| matches!(d, Dimension::Time(_))) {
        return Err(error("Invalid include.time_labels: requires a time dimension."));
    }
    let comparison = match object.get("include").and_then(|include| include.get("comparisons")) {
        Some(spec) if dashboard => Some(comparison(spec, start_ms, end_ms, timezone, now_ms, today)?),
        _ => None,
    };
    let (limit, offset) = pagination(object.get("pagination"))?;
    let (order_by, order_names) = order_by(object.get("order_by"), &metric_names, &dimension_names)?;

    for metric in &metrics {
        let event_page_filter = mentions(&filter, &Dimension::Page);
        if *metric == Metric::ViewsPerVisit {
            if !dimensions.iter().all(|d| matches!(d, Dimension::Time(_))) {
                return Err(error("Metric `views_per_visit` cannot be queried with `dimensions`."));
            }
            if event_page_filter {
                return Err(error(
                    "Metric `views_per_visit` cannot be queried with a filter on `event:page`.",
                ));
            }
        }
    }
    let visit_metrics: Vec<&str> = metrics
        .iter()
        .zip(&metric_names)
        .filter(|(metric, _)| metric.is_visit_only())
        .map(|(_, name)| name.as_str())
        .collect();
    let event_dimensions: Vec<&str> = dimensions
        .iter()
        .zip(&dimension_names)
        .filter(|(dimension, _)| {
            matches!(
                dimension,
                Dimension::Page
                    | Dimension::Hostname
                    | Dimension::EventName
                    | Dimension::Goal
                    | Dimension::Prop(_)
            )
        })
        .map(|(_, name)| name.as_str())
        .collect();
    if !visit_metrics.is_empty() && !event_dimensions.is_empty() && event_dimensions != ["event:page"] {
        return Err(error(format!(
            "Session metric(s) {} cannot be queried along with event dimension(s) {}",
            quoted(&visit_metrics),
            quoted(&event_dimensions)
        )));
    }
    let event_metrics: Vec<&str> = metrics
        .iter()
        .zip(&metric_names)
        .filter(|(metric, _)| matches!(metric, Metric::Pageviews | Metric::Events))
        .map(|(_, name)| name.as_str())
        .collect();
    let visit_only_dimensions: Vec<&str> = dimension_names
        .iter()
        .filter(|name| matches!(name.as_str(), "visit:entry_page" | "visit:exit_page"))
        .map(String::as_str)
        .collect();
    if !event_metrics.is_empty() && !visit_only_dimensions.is_empty() {
        return Err(error(format!(
            "Event metric(s) {} cannot be queried along with session dimension(s) {}",
            quoted(&event_metrics),
            quoted(&visit_only_dimensions)
        )));
    }

    let query = Query {
        site_id,
        start_ms,
        end_ms,
        timezone,
        metrics,
        dimensions,
        filter,
        order_by,
        limit,
        offset,
        goals: Vec::new(),
    };
    for (metric, name) in [(Metric::TimeOnPage, "time_on_page"), (Metric::ScrollDepth, "scroll_depth")] {
        let by_page = query.dimensions == [Dimension::Page];
        let page_filtered = mentions(&query.filter, &Dimension::Page)
            && query.dimensions.iter().all(|d| matches!(d, Dimension::Time(_)));
        if query.metrics.contains(&metric) && !by_page && !page_filtered {
            return Err(error(format!(
                "Metric `{name}` can only be queried with the event:page dimension, or with event:page filters \
                 (and at most a time dimension)."
            )));
        }
    }
    if query.metrics.contains(&Metric::GroupConversionRate) && query.dimensions.is_empty() {
        return Err(error(
            "Metric `group_conversion_rate` can only be queried with event:goal filters or dimensions, \
             and a dimension to group by.",
        ));
    }
    let goal_metrics = [
        (Metric::ConversionRate, "conversion_rate"),
        (Metric::GroupConversionRate, "group_conversion_rate"),
        (Metric::TotalRevenue, "total_revenue"),
        (Metric::AverageRevenue, "average_revenue"),
    ];
    for (metric, name) in goal_metrics {
        if query.metrics.contains(&metric)
            && !query.dimensions.contains(&Dimension::Goal)
            && !mentions(&query.filter, &Dimension::Goal)
        {
            return Err(error(format!(
                "Metric `{name}` can only be queried with event:goal filters or dimensions."
            )));
        }
    }
    query.validate().map_err(QueryError::from)?;
    Ok(Request {
        query,
        metric_names,
        dimension_names,
        filters,
        order_by: order_names,
        include,
        comparison,
        site: site.to_owned(),
    })
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

fn mentions(filter: &Option<Filter>, dimension: &Dimension) -> bool {
    filter.as_ref().is_some_and(|filter| filter.mentions(dimension))
}

fn metric(name: &str) -> Option<Metric> {
    Some(match name {
        "visitors" => Metric::Visitors,
        "visits" => Metric::Visits,
        "pageviews" => Metric::Pageviews,
        "views_per_visit" => Metric::ViewsPerVisit,
        "bounce_rate" => Metric::BounceRate,
        "visit_duration" => Metric::VisitDuration,
        "events" => Metric::Events,
        "percentage" => Metric::Percentage,
        "conversion_rate" => Metric::ConversionRate,
        "group_conversion_rate" => Metric::GroupConversionRate,
        "time_on_page" => Metric::TimeOnPage,
        "scroll_depth" => Metric::ScrollDepth,
        "total_revenue" => Metric::TotalRevenue,
        "average_revenue" => Metric::AverageRevenue,
        _ => return None,
    })
}

fn metrics(value: &Value) -> Result<(Vec<Metric>, Vec<String>), QueryError> {
    let Some(items) = value.as_array() else {
        return Err(error("#/metrics: Type mismatch. Expected Array but got something else."));
    };
    if items.is_empty() {
        return Err(error("#/metrics: Expected a minimum of 1 items but got 0."));
    }
    let mut metrics = Vec::new();
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item.as_str().and_then(|name| metric(name).map(|m| (m, name))) {
            Some((metric, name)) => {
                if names.iter().any(|seen| seen == name) {
                    return Err(error("#/metrics: Expected items to be unique but they were not."));
                }
                metrics.push(metric);
                names.push(name.to_owned());
            }
            None => problems.push(format!("#/metrics/{index}: Invalid metric {item}")),
        }
    }
    if !problems.is_empty() {
        return Err(error(problems.join("\n")));
    }
    Ok((metrics, names))
}

/// A dimension by its Plausible name (filters use the same names).
pub(crate) fn dimension(name: &str) -> Option<Dimension> {
    if let Some(key) = name.strip_prefix("event:props:") {
        return (!key.is_empty() && key.len() <= 300).then(|| Dimension::Prop(key.to_owned()));
    }
    Some(match name {
        "event:page" => Dimension::Page,
        "event:hostname" => Dimension::Hostname,
        "event:name" => Dimension::EventName,
        "event:goal" => Dimension::Goal,
        "visit:entry_page" => Dimension::EntryPage,
        "visit:exit_page" => Dimension::ExitPage,
        "visit:source" => Dimension::Source,
        "visit:referrer" => Dimension::Referrer,
        "visit:channel" => Dimension::Channel,
        "visit:utm_source" => Dimension::Utm(UtmField::Source),
        "visit:utm_medium" => Dimension::Utm(UtmField::Medium),
        "visit:utm_campaign" => Dimension::Utm(UtmField::Campaign),
        "visit:utm_content" => Dimension::Utm(UtmField::Content),
        "visit:utm_term" => Dimension::Utm(UtmField::Term),
        "visit:device" => Dimension::Device,
        "visit:browser" => Dimension::Browser,
        "visit:browser_version" => Dimension::BrowserVersion,
        "visit:os" => Dimension::Os,
        "visit:os_version" => Dimension::OsVersion,
        "visit:country" => Dimension::Country,
        "visit:country_name" => Dimension::CountryName,
        "visit:region" => Dimension::Region,
        "visit:region_name" => Dimension::RegionName,
        "visit:city" | "visit:city_name" => Dimension::City,
        _ => return None,
    })
}

fn dimensions(
    value: &Value,
    span_ms: i64,
    dashboard: bool,
) -> Result<(Vec<Dimension>, Vec<String>), QueryError> {
    let items = match value {
        Value::Null => return Ok((Vec::new(), Vec::new())),
        Value::Array(items) => items,
        _ => return Err(error("#/dimensions: Type mismatch. Expected Array but got something else.")),
    };
    let mut dimensions = Vec::new();
    let mut names = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let invalid = || error(format!("#/dimensions/{index}: Invalid dimension {item}"));
        let name = item.as_str().ok_or_else(invalid)?;
        let (dimension, name) = match name {
            "time" => {
                // As Plausible resolves it: hours up to two days, days up to 40, weeks up
                // to a year, months beyond.
                const DAY_MS: i64 = 86_400_000;
                let (interval, name) = if span_ms <= 2 * DAY_MS {
                    (Interval::Hour, "time:hour")
                } else if span_ms <= 40 * DAY_MS {
                    (Interval::Day, "time:day")
                } else if span_ms <= 52 * 7 * DAY_MS {
                    (Interval::Week, "time:week")
                } else {
                    (Interval::Month, "time:month")
                };
                (Dimension::Time(interval), name.to_owned())
            }
            "time:minute" if dashboard => (Dimension::Time(Interval::Minute), name.to_owned()),
            "time:hour" => (Dimension::Time(Interval::Hour), name.to_owned()),
            "time:day" => (Dimension::Time(Interval::Day), name.to_owned()),
            "time:week" => (Dimension::Time(Interval::Week), name.to_owned()),
            "time:month" => (Dimension::Time(Interval::Month), name.to_owned()),
            other => (dimension(other).ok_or_else(invalid)?, other.to_owned()),
        };
        if names.contains(&name) {
            return Err(error("#/dimensions: Expected items to be unique but they were not."));
        }
        dimensions.push(dimension);
        names.push(name);
    }
    Ok((dimensions, names))
}

fn filters_of(value: &Value) -> Result<Option<Filter>, QueryError> {
    let Value::Array(items) = value else {
        return Err(error("#/filters: Type mismatch. Expected Array but got String."));
    };
    let mut filters = Vec::new();
    for (index, item) in items.iter().enumerate() {
        filters.push(filter(item, &format!("#/filters/{index}"))?);
    }
    Ok(match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Filter::And(filters)),
    })
}

fn filter(value: &Value, path: &str) -> Result<Filter, QueryError> {
    let invalid = || error(format!("{path}: Invalid filter {value}"));
    let items = value.as_array().ok_or_else(invalid)?;
    let operator = items.first().and_then(Value::as_str).ok_or_else(invalid)?;
    let nested = |index: usize| -> Result<Filter, QueryError> {
        filter(items.get(index).ok_or_else(invalid)?, &format!("{path}/{index}"))
    };
    match operator {
        "and" | "or" => {
            let children =
                items.get(1).and_then(Value::as_array).filter(|c| !c.is_empty()).ok_or_else(invalid)?;
            if items.len() != 2 {
                return Err(invalid());
            }
            let children = children
                .iter()
                .enumerate()
                .map(|(index, child)| filter(child, &format!("{path}/1/{index}")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if operator == "and" { Filter::And(children) } else { Filter::Or(children) })
        }
        "not" if items.len() == 2 => Ok(Filter::Not(Box::new(nested(1)?))),
        "has_done" if items.len() == 2 => Ok(Filter::HasDone(Box::new(nested(1)?))),
        "has_not_done" if items.len() == 2 => Ok(Filter::HasNotDone(Box::new(nested(1)?))),
        _ => {
            let operator = match operator {
                "is" => Operator::Is,
                "is_not" => Operator::IsNot,
                "contains" => Operator::Contains,
                "contains_not" => Operator::ContainsNot,
                "matches" => Operator::Matches,
                "matches_not" => Operator::MatchesNot,
                _ => return Err(invalid()),
            };
            if !(3..=4).contains(&items.len()) {
                return Err(invalid());
            }
            let dimension = items[1].as_str().and_then(dimension).ok_or_else(invalid)?;
            let values = items[2]
                .as_array()
                .ok_or_else(invalid)?
                .iter()
                .map(|value| value.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| error(format!("Invalid filter '{value}'.")))?;
            let case_sensitive = match items.get(3) {
                None => true,
                Some(Value::Object(modifiers))
                    if !matches!(operator, Operator::Matches | Operator::MatchesNot) =>
                {
                    match modifiers.get("case_sensitive") {
                        Some(Value::Bool(sensitive)) if modifiers.len() == 1 => *sensitive,
                        _ => return Err(invalid()),
                    }
                }
                Some(_) => return Err(invalid()),
            };
            if dimension == Dimension::Country
                && matches!(operator, Operator::Is | Operator::IsNot)
                && values.iter().any(|code| code.len() != 2)
            {
                return Err(error(
                    "Invalid visit:country filter, visit:country needs to be a valid 2-letter country code.",
                ));
            }
            Ok(Filter::Condition { dimension, operator, values, case_sensitive })
        }
    }
}

fn include(value: Option<&Value>, dashboard: bool) -> Result<Include, QueryError> {
    let Some(value) = value else {
        return Ok(Include::default());
    };
    let Some(object) = value.as_object() else {
        return Err(error("#/include: Type mismatch. Expected Object but got String."));
    };
    let mut include = Include::default();
    for (key, flag) in object {
        let set = match key.as_str() {
            "time_labels" => &mut include.time_labels,
            "total_rows" => &mut include.total_rows,
            "imports" => &mut include.imports,
            "comparisons" if dashboard => continue,
            _ => return Err(error(format!("#/include/{key}: Schema does not allow additional properties."))),
        };
        *set = flag
            .as_bool()
            .ok_or_else(|| error(format!("#/include/{key}: Type mismatch. Expected Boolean.")))?;
    }
    Ok(include)
}

fn pagination(value: Option<&Value>) -> Result<(usize, usize), QueryError> {
    let Some(value) = value else {
        return Ok((MAX_LIMIT, 0));
    };
    let object: &Map<String, Value> =
        value.as_object().ok_or_else(|| error("#/pagination: Type mismatch. Expected Object."))?;
    let mut limit = MAX_LIMIT as i64;
    let mut offset = 0;
    for (key, number) in object {
        let number = number
            .as_i64()
            .ok_or_else(|| error(format!("#/pagination/{key}: Type mismatch. Expected Integer.")))?;
        match key.as_str() {
            "limit" => limit = number,
            "offset" => offset = number,
            _ => {
                return Err(error(format!(
                    "#/pagination/{key}: Schema does not allow additional properties."
                )));
            }
        }
    }
    if limit > MAX_LIMIT as i64 {
        return Err(error(format!("#/pagination/limit: Expected the value to be <= {MAX_LIMIT}")));
    }
    if limit < 1 {
        return Err(error("#/pagination/limit: Expected the value to be >= 1"));
    }
    if offset < 0 {
        return Err(error("#/pagination/offset: Expected the value to be >= 0"));
    }
    Ok((limit as usize, offset.min(1 << 40) as usize))
}

fn order_by(
    value: Option<&Value>,
    metrics: &[String],
    dimensions: &[String],
) -> Result<(Vec<(OrderKey, bool)>, NamedOrder), QueryError> {
    let Some(value) = value else {
        // The default, as Plausible fills it in: time first, then the first metric.
        let mut names = Vec::new();
        if let Some(time) = dimensions.iter().find(|name| name.starts_with("time")) {
            names.push((time.clone(), false));
        }
        names.push((metrics[0].clone(), true));
        return Ok((Vec::new(), names));
    };
    let items = value.as_array().ok_or_else(|| error("#/order_by: Type mismatch. Expected Array."))?;
    let mut keys = Vec::new();
    let mut names = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let pair = item.as_array().filter(|pair| pair.len() == 2);
        let (Some(name), Some(direction)) =
            (pair.and_then(|p| p[0].as_str()), pair.and_then(|p| p[1].as_str()))
        else {
            return Err(error(format!("#/order_by/{index}: Invalid value in order_by {item}")));
        };
        let descending = match direction {
            "desc" => true,
            "asc" => false,
            _ => {
                return Err(error(format!(
                    "#/order_by/{index}/1: Invalid value in order_by \"{direction}\""
                )));
            }
        };
        let key = if let Some(position) = metrics.iter().position(|m| m == name) {
            OrderKey::Metric(position)
        } else if let Some(position) = dimensions.iter().position(|d| d == name) {
            OrderKey::Dimension(position)
        } else if metric(name).is_some() || dimension(name).is_some() || name.starts_with("time") {
            return Err(error(format!(
                "Invalid order_by entry '{{:{name}, :{direction}}}'. Entry is not a queried metric or dimension."
            )));
        } else {
            return Err(error(format!("#/order_by/{index}/0: Invalid value in order_by \"{name}\"")));
        };
        keys.push((key, descending));
        names.push((name.to_owned(), descending));
    }
    Ok((keys, names))
}

/// The order by names, descending when true, for the echo.
type NamedOrder = Vec<(String, bool)>;

fn midnight(zone: Tz, date: NaiveDate) -> i64 {
    local_to_utc_ms(zone, date.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).expect("the first exists")
}

/// `[start, end)` in UTC ms for a `date_range`.
fn date_range(
    value: &Value,
    zone: Tz,
    now_ms: i64,
    today: NaiveDate,
    dashboard: bool,
) -> Result<(i64, i64), QueryError> {
    let invalid = || error(format!("#/date_range: Invalid date range {value}"));
    let tomorrow = today + Duration::days(1);
    match value {
        Value::String(name) => {
            let name = name.as_str();
            Ok(match name {
                "day" => (midnight(zone, today), midnight(zone, tomorrow)),
                "month" => {
                    let first = first_of_month(today);
                    (midnight(zone, first), midnight(zone, first + Months::new(1)))
                }
                "year" => {
                    let first = NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("valid");
                    (midnight(zone, first), midnight(zone, first + Months::new(12)))
                }
                "all" => (
                    midnight(zone, NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid")),
                    midnight(zone, tomorrow),
                ),
                "24h" => (now_ms - 86_400_000, now_ms + 1),
                "realtime" if dashboard => (now_ms - 5 * 60_000, now_ms + 1),
                "30m" if dashboard => (now_ms - 30 * 60_000, now_ms + 1),
                _ => {
                    if let Some(days) = name.strip_suffix('d').and_then(|n| n.parse::<i64>().ok()) {
                        if !(1..=5000).contains(&days) {
                            return Err(error(format!("Invalid date_range \"{name}\"")));
                        }
                        (midnight(zone, today - Duration::days(days)), midnight(zone, today))
                    } else if let Some(months) = name.strip_suffix("mo").and_then(|n| n.parse::<u32>().ok()) {
                        if !(1..=100).contains(&months) {
                            return Err(error(format!("Invalid date_range \"{name}\"")));
                        }
                        let this_month = first_of_month(today);
                        (midnight(zone, this_month - Months::new(months)), midnight(zone, this_month))
                    } else {
                        return Err(invalid());
                    }
                }
            })
        }
        Value::Array(pair) if pair.len() == 2 => {
            let (Some(first), Some(last)) = (pair[0].as_str(), pair[1].as_str()) else {
                return Err(invalid());
            };
            let dates =
                (NaiveDate::parse_from_str(first, "%Y-%m-%d"), NaiveDate::parse_from_str(last, "%Y-%m-%d"));
            if let (Ok(first), Ok(last)) = dates {
                if last < first {
                    return Err(error(format!("Invalid date_range '{value}'.")));
                }
                return Ok((midnight(zone, first), midnight(zone, last + Duration::days(1))));
            }
            let times = (DateTime::parse_from_rfc3339(first), DateTime::parse_from_rfc3339(last));
            if let (Ok(first), Ok(last)) = times {
                // The end is inclusive, to the second.
                let (start, end) = (first.timestamp_millis(), last.timestamp_millis() + 1000);
                if end <= start {
                    return Err(error(format!("Invalid date_range '{value}'.")));
                }
                return Ok((start, end));
            }
            let naive = |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok();
            if naive(first) && naive(last) {
                return Err(error(format!("Invalid date_range '{value}'.")));
            }
            Err(invalid())
        }
        _ => Err(invalid()),
    }
}

fn comparison(
    spec: &Value,
    start_ms: i64,
    end_ms: i64,
    zone: Tz,
    now_ms: i64,
    today: NaiveDate,
) -> Result<Comparison, QueryError> {
    let invalid = || error(format!("#/include/comparisons: Invalid comparison {spec}"));
    let mode = spec.get("mode").and_then(Value::as_str).ok_or_else(invalid)?;
    Ok(match mode {
        "previous_period" => Comparison { start_ms: start_ms - (end_ms - start_ms), end_ms: start_ms },
        "year_over_year" => {
            let shift = |utc_ms: i64| {
                let local = utc_to_local(zone, utc_ms);
                local_to_utc_ms(zone, local.checked_sub_months(Months::new(12)).unwrap_or(local))
            };
            Comparison { start_ms: shift(start_ms), end_ms: shift(end_ms) }
        }
        "custom" => {
            let range = spec.get("date_range").ok_or_else(invalid)?;
            let (start_ms, end_ms) = date_range(range, zone, now_ms, today, true)?;
            Comparison { start_ms, end_ms }
        }
        _ => return Err(invalid()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // 2026-03-10 15:00 UTC, 11:00 in New York.
    const NOW: i64 = 1_773_154_800_000;

    fn parsed(body: Value) -> Result<Request, QueryError> {
        parse(&body, 1, "example.com", "America/New_York".parse().unwrap(), NOW, false)
    }

    fn message(body: Value) -> String {
        parsed(body).unwrap_err().0
    }

    #[test]
    fn relative_ranges_are_local_days_before_today() {
        let request =
            parsed(json!({"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d"})).unwrap();
        // 2026-03-03 00:00 EST .. 2026-03-10 00:00 EDT (clocks went forward on the 8th).
        assert_eq!(request.query.start_ms, 1_772_514_000_000);
        assert_eq!(request.query.end_ms, 1_773_115_200_000);
        assert_eq!(request.query.end_ms - request.query.start_ms, 7 * 86_400_000 - 3_600_000);
        let day = parsed(
            json!({"site_id": "x", "metrics": ["visitors"], "date_range": ["2026-03-08", "2026-03-08"]}),
        )
        .unwrap();
        assert_eq!(day.query.end_ms - day.query.start_ms, 23 * 3_600_000);
        let times = parsed(json!({"site_id": "x", "metrics": ["visitors"],
            "date_range": ["2026-03-01T12:00:00+02:00", "2026-03-01T15:59:59+02:00"]}))
        .unwrap();
        assert_eq!(times.query.end_ms - times.query.start_ms, 4 * 3_600_000);
    }

    #[test]
    fn errors_name_the_problem_as_plausible_does() {
        assert_eq!(
            message(json!({"metrics": ["visitors"]})),
            "#: Required properties site_id, date_range were not present."
        );
        assert_eq!(
            message(json!({"site_id": "x", "metrics": ["visitors", "baa"], "date_range": "7d"})),
            "#/metrics/1: Invalid metric \"baa\""
        );
        assert_eq!(
            message(json!({"site_id": "x", "metrics": ["visitors"], "date_range": "bad_period"})),
            "#/date_range: Invalid date range \"bad_period\""
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["badproperty"]})
            ),
            "#/dimensions/0: Invalid dimension \"badproperty\""
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:device", ["foo"]]]})
            ),
            "#/filters/0: Invalid filter [\"is\",\"event:device\",[\"foo\"]]"
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["bounce_rate"], "date_range": "7d", "dimensions": ["event:name"]})
            ),
            "Session metric(s) `bounce_rate` cannot be queried along with event dimension(s) `event:name`"
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["events"], "date_range": "7d", "dimensions": ["visit:exit_page"]})
            ),
            "Event metric(s) `events` cannot be queried along with session dimension(s) `visit:exit_page`"
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["views_per_visit"], "date_range": "7d", "dimensions": ["visit:source"]})
            ),
            "Metric `views_per_visit` cannot be queried with `dimensions`."
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": 10001}})
            ),
            "#/pagination/limit: Expected the value to be <= 10000"
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["visitors"], "date_range": "7d", "order_by": [["events", "desc"]]})
            ),
            "Invalid order_by entry '{:events, :desc}'. Entry is not a queried metric or dimension."
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["visitors"], "date_range": "7d", "include": {"time_labels": true}})
            ),
            "Invalid include.time_labels: requires a time dimension."
        );
        assert_eq!(
            message(
                json!({"site_id": "x", "metrics": ["visitors"], "date_range": "7d", "filters": [["matches", "event:page", ["(unclosed"]]]})
            ),
            "#/filters: invalid regular expression \"(unclosed\": regex parse error:\n    (unclosed\n    ^\nerror: unclosed group"
        );
        assert!(
            message(json!({"site_id": "x", "metrics": ["visitors"], "date_range": "realtime"}))
                .contains("Invalid date range")
        );
    }

    #[test]
    fn filters_nest_and_time_resolves_by_span() {
        let request = parsed(json!({
            "site_id": "x", "metrics": ["visitors"], "date_range": "28d", "dimensions": ["time"],
            "filters": [["or", [["is", "visit:country", ["DE"]], ["not", ["contains", "event:page", ["blog"], {"case_sensitive": false}]]]],
                        ["has_done", ["is", "event:name", ["Signup"]]]]
        }))
        .unwrap();
        assert_eq!(request.dimension_names, ["time:day"]);
        let Some(Filter::And(parts)) = &request.query.filter else { panic!("two filters are an and") };
        assert!(matches!(&parts[0], Filter::Or(inner) if matches!(&inner[1], Filter::Not(_))));
        assert!(matches!(&parts[1], Filter::HasDone(_)));
        assert_eq!(request.order_by, [("time:day".to_owned(), false), ("visitors".to_owned(), true)]);
    }
}
