//! The engine on a handful of hand-made visits, one definition of `docs/metrics.md` at a
//! time. The independent oracle on generated traffic is `aggregator/ingest/tests/stats_oracle.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono_tz::Tz;
use hitkeep_protocol::{Channel, Device, EventKind, Hit};

use super::*;
use crate::{BatchWrite, EventRowsBuilder, NewEvent, Store, VisitOrigin, VisitRow};

const MIN: i64 = 60_000;
/// 2026-01-05 00:00 UTC, a Monday.
const T0: i64 = 1_767_571_200_000;

/// (minutes after T0, kind, name, path, props).
type PlannedHit = (i64, EventKind, &'static str, &'static str, Vec<(&'static str, &'static str)>);

struct Visit {
    session: u64,
    visitor: u64,
    source: Option<&'static str>,
    channel: Channel,
    device: Device,
    hits: Vec<PlannedHit>,
}

fn pageview(
    minute: i64,
    path: &'static str,
) -> (i64, EventKind, &'static str, &'static str, Vec<(&'static str, &'static str)>) {
    (minute, EventKind::Pageview, "pageview", path, Vec::new())
}

/// Writes the visits as the pipeline would: their events, and each visit's final state
/// after a cancelled first state (so that every query must weigh rows by sign).
fn store_with(visits: &[Visit]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let mut writer = store.event_writer().unwrap();
    let mut rows = EventRowsBuilder::default();
    for visit in visits {
        let hits: Vec<Hit> = visit
            .hits
            .iter()
            .map(|(minute, kind, name, path, props)| Hit {
                kind: *kind,
                name: (*name).into(),
                source: visit.source.map(Into::into),
                channel: visit.channel,
                device: visit.device,
                country: Some("DE".into()),
                props: props.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
                // `("revenue", "49.90 EUR")` stands for the event's revenue.
                revenue: props.iter().find(|(key, _)| *key == "revenue").map(|(_, value)| {
                    let (amount, currency) = value.split_once(' ').unwrap();
                    hitkeep_protocol::Revenue {
                        amount_micros: (amount.parse::<f64>().unwrap() * 1e6).round() as i64,
                        currency: currency.into(),
                    }
                }),
                interactive: *kind == EventKind::Custom,
                ..Hit::pageview(T0 + minute * MIN, "example.com", path)
            })
            .collect();
        for hit in &hits {
            rows.push(&NewEvent {
                hit: hit.view(),
                site_id: 1,
                visitor_id: visit.visitor,
                session_id: visit.session,
            });
        }
        let pages: Vec<&Hit> = hits.iter().filter(|hit| hit.kind == EventKind::Pageview).collect();
        let interactive = hits.iter().any(|hit| hit.kind == EventKind::Custom);
        let first = &hits[0];
        let last = VisitRow {
            site_id: 1,
            session_id: visit.session,
            visitor_id: visit.visitor,
            version: 2,
            start_ms: first.ts,
            end_ms: hits.iter().map(|hit| hit.ts).max().unwrap(),
            pageviews: pages.len() as u32,
            events: hits.iter().filter(|hit| hit.kind == EventKind::Custom).count() as u32,
            bounce: pages.len() <= 1 && !interactive,
            hostname: Arc::from("example.com"),
            entry_page: Arc::from(pages[0].path.as_str()),
            exit_page: Arc::from(pages[pages.len() - 1].path.as_str()),
            origin: Arc::new(VisitOrigin::of(&first.view())),
        };
        // The state it had after its first hit, cancelled.
        let earlier = VisitRow {
            version: 1,
            end_ms: first.ts,
            pageviews: 1,
            events: 0,
            bounce: true,
            exit_page: Arc::from(pages[0].path.as_str()),
            ..last.clone()
        };
        rows.push_visit(&earlier, 1);
        rows.push_visit(&earlier, -1);
        rows.push_visit(&last, 1);
    }
    let batch = BatchWrite { id: "b", edge: "e", hits: 1, dead_letters: &[], stream_seq: None };
    writer.commit(&rows.finish().unwrap(), &[batch], T0).unwrap();
    (dir, store)
}

fn visits() -> Vec<Visit> {
    vec![
        Visit {
            session: 1,
            visitor: 10,
            source: Some("Google"),
            channel: Channel::OrganicSearch,
            device: Device::Desktop,
            hits: vec![pageview(0, "/"), pageview(2, "/pricing"), pageview(5, "/Blog/Rust")],
        },
        Visit {
            session: 2,
            visitor: 10,
            source: None,
            channel: Channel::Direct,
            device: Device::Desktop,
            hits: vec![pageview(60, "/pricing")],
        },
        Visit {
            session: 3,
            visitor: 20,
            source: Some("Hacker News"),
            channel: Channel::Referral,
            device: Device::Mobile,
            hits: vec![
                pageview(10, "/blog/duckdb"),
                (
                    11,
                    EventKind::Custom,
                    "Signup",
                    "/blog/duckdb",
                    vec![("plan", "pro"), ("revenue", "49.90 EUR")],
                ),
            ],
        },
        Visit {
            session: 4,
            visitor: 30,
            source: None,
            channel: Channel::Direct,
            device: Device::Unknown,
            hits: vec![
                pageview(24 * 60 + 5, "/"),
                (
                    24 * 60 + 6,
                    EventKind::Custom,
                    "Signup",
                    "/",
                    vec![("plan", "free"), ("revenue", "10 EUR")],
                ),
            ],
        },
    ]
}

fn utc() -> Tz {
    Tz::UTC
}

fn day_query(metrics: Vec<Metric>) -> Query {
    Query::new(1, T0, T0 + 2 * 24 * 60 * MIN, utc(), metrics)
}

fn values(result: &QueryResult) -> Vec<(Vec<DimensionValue>, Vec<Option<f64>>)> {
    result.rows.iter().map(|row| (row.dimensions.clone(), row.metrics.clone())).collect()
}

fn text(value: &str) -> DimensionValue {
    DimensionValue::Text(Some(value.into()))
}

#[test]
fn totals_weigh_visit_rows_by_sign() {
    let (_dir, store) = store_with(&visits());
    let result = store
        .query_stats(&day_query(vec![
            Metric::Visitors,
            Metric::Visits,
            Metric::Pageviews,
            Metric::Events,
            Metric::BounceRate,
            Metric::VisitDuration,
            Metric::ViewsPerVisit,
        ]))
        .unwrap();
    // Four visits: one of three pages (5 minutes), one bounce, two with a signup.
    assert_eq!(
        values(&result),
        [(vec![], vec![Some(3.0), Some(4.0), Some(6.0), Some(8.0), Some(25.0), Some(105.0), Some(1.5)])]
    );
}

#[test]
fn visit_dimensions_label_codes_and_keep_missing_values() {
    let (_dir, store) = store_with(&visits());
    let mut query = day_query(vec![Metric::Visits, Metric::Visitors]);
    query.dimensions = vec![Dimension::Channel];
    let result = store.query_stats(&query).unwrap();
    assert_eq!(
        values(&result),
        [
            (vec![text("Direct")], vec![Some(2.0), Some(2.0)]),
            (vec![text("Organic Search")], vec![Some(1.0), Some(1.0)]),
            (vec![text("Referral")], vec![Some(1.0), Some(1.0)]),
        ]
    );
    query.dimensions = vec![Dimension::Device];
    let result = store.query_stats(&query).unwrap();
    assert_eq!(result.rows[0].dimensions, [text("Desktop")]);
    assert!(result.rows.iter().any(|row| row.dimensions == [DimensionValue::Text(None)]));
    // The exit page: the cancelled first state (exit on the landing page) is gone.
    query.dimensions = vec![Dimension::ExitPage];
    let result = store.query_stats(&query).unwrap();
    let pages: Vec<DimensionValue> = result.rows.iter().map(|row| row.dimensions[0].clone()).collect();
    assert_eq!(pages, [text("/"), text("/Blog/Rust"), text("/blog/duckdb"), text("/pricing")]);
}

#[test]
fn filters_compare_as_documented() {
    let (_dir, store) = store_with(&visits());
    let visitors = |filter: Filter| {
        let mut query = day_query(vec![Metric::Visitors, Metric::Visits]);
        query.filter = Some(filter);
        store.query_stats(&query).unwrap().rows[0].metrics.clone()
    };
    let condition = |dimension, operator, value: &str, case_sensitive| Filter::Condition {
        dimension,
        operator,
        values: vec![value.into()],
        case_sensitive,
    };
    // Contains, with and without case.
    assert_eq!(
        visitors(condition(Dimension::Page, Operator::Contains, "/blog", true)),
        [Some(1.0), Some(1.0)]
    );
    assert_eq!(
        visitors(condition(Dimension::Page, Operator::Contains, "/blog", false)),
        [Some(2.0), Some(2.0)]
    );
    // A regular expression.
    assert_eq!(
        visitors(condition(Dimension::Page, Operator::Matches, "^/(pricing|blog/duckdb)$", true)),
        [Some(2.0), Some(3.0)]
    );
    // A missing source is the empty string: is_not Google keeps direct visits.
    assert_eq!(
        visitors(condition(Dimension::Source, Operator::IsNot, "Google", true)),
        [Some(3.0), Some(3.0)]
    );
    assert_eq!(visitors(condition(Dimension::Source, Operator::Is, "", true)), [Some(2.0), Some(2.0)]);
    // Channels and devices by their labels.
    assert_eq!(
        visitors(condition(Dimension::Channel, Operator::Contains, "search", false)),
        [Some(1.0), Some(1.0)]
    );
    assert_eq!(visitors(condition(Dimension::Device, Operator::Is, "Mobile", true)), [Some(1.0), Some(1.0)]);
    // Properties.
    assert_eq!(visitors(Filter::is(Dimension::Prop("plan".into()), "pro")), [Some(1.0), Some(1.0)]);
    // Not and or.
    let not_google = Filter::Not(Box::new(Filter::is(Dimension::Source, "Google")));
    let pricing = Filter::is(Dimension::Page, "/pricing");
    assert_eq!(visitors(Filter::And(vec![not_google.clone(), pricing.clone()])), [Some(1.0), Some(1.0)]);
    assert_eq!(visitors(Filter::Or(vec![not_google, pricing])), [Some(3.0), Some(4.0)]);
}

#[test]
fn properties_break_down_their_events() {
    let (_dir, store) = store_with(&visits());
    let mut query = day_query(vec![Metric::Visitors, Metric::Events]);
    query.dimensions = vec![Dimension::Prop("plan".into())];
    let result = store.query_stats(&query).unwrap();
    assert_eq!(
        values(&result),
        [(vec![text("free")], vec![Some(1.0), Some(1.0)]), (vec![text("pro")], vec![Some(1.0), Some(1.0)])]
    );
    query.dimensions = vec![Dimension::EventName];
    query.filter = Some(Filter::Condition {
        dimension: Dimension::EventName,
        operator: Operator::IsNot,
        values: vec!["pageview".into()],
        case_sensitive: true,
    });
    let result = store.query_stats(&query).unwrap();
    assert_eq!(values(&result), [(vec![text("Signup")], vec![Some(2.0), Some(2.0)])]);
}

#[test]
fn time_buckets_and_pagination() {
    let (_dir, store) = store_with(&visits());
    let mut query = day_query(vec![Metric::Pageviews, Metric::Visits]);
    query.dimensions = vec![Dimension::Time(Interval::Day)];
    let result = store.query_stats(&query).unwrap();
    let days: Vec<String> = result
        .rows
        .iter()
        .map(|row| match row.dimensions[0] {
            DimensionValue::Time(local) => bucket_label(Interval::Day, local),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(days, ["2026-01-05", "2026-01-06"]);
    assert_eq!(result.rows[0].metrics, [Some(5.0), Some(3.0)]);
    // Berlin is an hour ahead: the visit at 00:05 UTC on the 6th is on the 6th there too,
    // and the ones of the 5th stay there.
    query.timezone = "Europe/Berlin".parse().unwrap();
    assert_eq!(store.query_stats(&query).unwrap().rows.len(), 2);

    let mut query = day_query(vec![Metric::Visitors]);
    query.dimensions = vec![Dimension::Page];
    query.limit = 2;
    query.offset = 1;
    let result = store.query_stats(&query).unwrap();
    assert_eq!(result.total_rows, 4);
    assert_eq!(result.rows.len(), 2);
}

#[test]
fn bad_queries_are_refused_with_the_reason() {
    let (_dir, store) = store_with(&visits());
    let mut query = day_query(vec![Metric::BounceRate]);
    query.dimensions = vec![Dimension::EventName];
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "metrics", .. })));
    let mut query = day_query(vec![Metric::Visitors]);
    query.filter = Some(Filter::HasDone(Box::new(Filter::is(Dimension::Source, "Google"))));
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "filters", .. })));
    query.filter = Some(Filter::Condition {
        dimension: Dimension::Page,
        operator: Operator::Matches,
        values: vec!["(".into()],
        case_sensitive: true,
    });
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "filters", .. })));
    let mut query = day_query(vec![Metric::Visitors]);
    query.end_ms = query.start_ms;
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "date_range", .. })));
}

#[test]
fn goals_count_conversions_and_rates() {
    use std::collections::BTreeMap;

    use crate::GoalKind;
    let (_dir, store) = store_with(&visits());
    store.add_site("example.com", "UTC").unwrap();
    let pricing = store.add_goal(1, None, &GoalKind::Page { pattern: "/pric*".into() }, T0).unwrap();
    let blog =
        store.add_goal(1, Some("Read the blog"), &GoalKind::Page { pattern: "/blog/**".into() }, T0).unwrap();
    let pro =
        GoalKind::Event { name: "Signup".into(), props: BTreeMap::from([("plan".into(), "pro".into())]) };
    store.add_goal(1, Some("Pro signup"), &pro, T0).unwrap();
    store
        .add_goal(1, Some("Signup"), &GoalKind::Event { name: "Signup".into(), props: BTreeMap::new() }, T0)
        .unwrap();
    store.add_goal(1, Some("Never"), &GoalKind::Page { pattern: "/nowhere".into() }, T0).unwrap();
    assert_eq!(pricing.name, "Visit /pric*");

    let mut query = day_query(vec![Metric::Visitors, Metric::Events, Metric::ConversionRate]);
    query.dimensions = vec![Dimension::Goal];
    let result = store.query_stats(&query).unwrap();
    // Three visitors in all: 10 saw /pricing twice (two visits), 20 read /blog/duckdb (the
    // pattern is case-sensitive: /Blog/Rust is not it) and signed up on pro, 30 on free.
    assert_eq!(
        values(&result),
        [
            (vec![text("Signup")], vec![Some(2.0), Some(2.0), Some(200.0 / 3.0)]),
            (vec![text("Pro signup")], vec![Some(1.0), Some(1.0), Some(100.0 / 3.0)]),
            (vec![text(&blog.name)], vec![Some(1.0), Some(1.0), Some(100.0 / 3.0)]),
            (vec![text("Visit /pric*")], vec![Some(1.0), Some(2.0), Some(100.0 / 3.0)]),
        ]
    );
    assert_eq!(result.total_rows, 4, "a goal nobody completed is not listed");

    // A goal filter: the visitors who converted, their rate, and visits that converted.
    let mut query = day_query(vec![Metric::Visitors, Metric::ConversionRate, Metric::Visits]);
    query.filter = Some(Filter::is(Dimension::Goal, "Signup"));
    let result = store.query_stats(&query).unwrap();
    assert_eq!(result.rows[0].metrics, [Some(2.0), Some(200.0 / 3.0), Some(2.0)]);
    // By source, with a goal filter: each source's converted visitors over all visitors.
    query.dimensions = vec![Dimension::Source];
    query.metrics = vec![Metric::Visitors];
    let result = store.query_stats(&query).unwrap();
    assert_eq!(
        values(&result),
        [(vec![DimensionValue::Text(None)], vec![Some(1.0)]), (vec![text("Hacker News")], vec![Some(1.0)])]
    );
    // An unknown goal is named.
    query.filter = Some(Filter::is(Dimension::Goal, "Nope"));
    let Err(Error::Invalid { reason, .. }) = store.query_stats(&query) else { panic!("an unknown goal") };
    assert_eq!(reason, "the goal `Nope` is not configured for this site");
    // The conversion rate needs goals.
    let query = day_query(vec![Metric::ConversionRate]);
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "metrics", .. })));

    // Revenue: of the goals' events, in their currency; none for goals without revenue.
    let mut query = day_query(vec![Metric::TotalRevenue, Metric::AverageRevenue]);
    query.dimensions = vec![Dimension::Goal];
    query.order_by = vec![(OrderKey::Metric(0), true)];
    let result = store.query_stats(&query).unwrap();
    assert_eq!(result.currency.as_deref(), Some("EUR"));
    assert_eq!(
        values(&result)[..2],
        [
            (vec![text("Signup")], vec![Some(59.9), Some(29.95)]),
            (vec![text("Pro signup")], vec![Some(49.9), Some(49.9)]),
        ]
    );
    assert_eq!(values(&result)[2].1, [None, None], "a page goal has no revenue");
    let mut query = day_query(vec![Metric::TotalRevenue, Metric::Visitors]);
    query.filter = Some(Filter::is(Dimension::Goal, "Pro signup"));
    let result = store.query_stats(&query).unwrap();
    assert_eq!(
        (result.rows[0].metrics.clone(), result.currency),
        (vec![Some(49.9), Some(1.0)], Some("EUR".into()))
    );
    // By day, with a goal filter; never by a visit property; never without goals.
    query.filter = Some(Filter::is(Dimension::Goal, "Signup"));
    query.dimensions = vec![Dimension::Time(Interval::Day)];
    let days: Vec<Option<f64>> =
        store.query_stats(&query).unwrap().rows.iter().map(|row| row.metrics[0]).collect();
    assert_eq!(days, [Some(49.9), Some(10.0)]);
    query.dimensions = vec![Dimension::Source];
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "metrics", .. })));
    let query = day_query(vec![Metric::TotalRevenue]);
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "metrics", .. })));
}

#[test]
fn revenue_in_several_currencies_is_refused() {
    use std::collections::BTreeMap;

    use crate::GoalKind;
    let tip = |minute, revenue| (minute, EventKind::Custom, "Tip", "/", vec![("revenue", revenue)]);
    let (_dir, store) = store_with(&[Visit {
        session: 1,
        visitor: 1,
        source: None,
        channel: Channel::Direct,
        device: Device::Desktop,
        hits: vec![pageview(0, "/"), tip(1, "5 EUR"), tip(2, "7 USD")],
    }]);
    store.add_goal(1, None, &GoalKind::Event { name: "Tip".into(), props: BTreeMap::new() }, T0).unwrap();
    let mut query = day_query(vec![Metric::TotalRevenue]);
    query.filter = Some(Filter::is(Dimension::Goal, "Tip"));
    let Err(Error::Invalid { field: "currency", reason }) = store.query_stats(&query) else {
        panic!("mixed currencies")
    };
    assert!(reason.contains("EUR, USD"), "{reason}");
    // By goal, found in the breakdown's own scan: the same refusal, and without revenue
    // metrics no check at all.
    query.filter = None;
    query.dimensions = vec![Dimension::Goal];
    let Err(Error::Invalid { field: "currency", reason }) = store.query_stats(&query) else {
        panic!("mixed currencies by goal")
    };
    assert!(reason.contains("EUR, USD"), "{reason}");
    query.metrics = vec![Metric::Events];
    assert_eq!(store.query_stats(&query).unwrap().rows[0].metrics, [Some(2.0)]);
}

#[test]
fn funnels_count_steps_done_in_order() {
    use std::collections::BTreeMap;

    use crate::GoalKind;
    let (_dir, store) = store_with(&visits());
    let page = |pattern: &str| GoalKind::Page { pattern: pattern.into() };
    let signup = GoalKind::Event { name: "Signup".into(), props: BTreeMap::new() };
    // Home, then pricing: visit 1 did both in order (minutes 0 and 2); visit 2 saw pricing
    // only; visit 4 saw home only.
    let ordered = store.add_funnel(1, "Home to pricing", &[page("/"), page("/pricing")], None, T0).unwrap();
    let report = store.funnel_report(&ordered, &day_query(vec![Metric::Visitors])).unwrap();
    let visitors: Vec<u64> = report.steps.iter().map(|step| step.visitors).collect();
    assert_eq!(visitors, [2, 1]);
    assert_eq!(report.steps[1].dropped, 1);
    assert_eq!(report.steps[1].conversion_rate, 50.0);
    assert_eq!(report.steps[1].median_seconds_from_previous, Some(120.0));
    // The other way round: pricing, then home, nobody did in one visit.
    let reversed = store.add_funnel(1, "Pricing to home", &[page("/pricing"), page("/")], None, T0).unwrap();
    let report = store.funnel_report(&reversed, &day_query(vec![Metric::Visitors])).unwrap();
    let visitors: Vec<u64> = report.steps.iter().map(|step| step.visitors).collect();
    assert_eq!(visitors, [1, 0]);
    assert_eq!(report.steps[1].median_seconds_from_previous, None);
    // Three steps, one a custom event; the blog then a signup.
    let blog = store
        .add_funnel(1, "Blog to signup", &[page("/blog/**"), signup.clone(), page("/")], None, T0)
        .unwrap();
    let report = store.funnel_report(&blog, &day_query(vec![Metric::Visitors])).unwrap();
    let visitors: Vec<u64> = report.steps.iter().map(|step| step.visitors).collect();
    assert_eq!(visitors, [1, 1, 0]);
    // Across visits within a window: visitor 10 saw pricing in visit 1 (minute 2) and again
    // in visit 2 (minute 60); home, then pricing an hour later counts with a window of two
    // hours, not with one of thirty minutes... and within one visit it counted already.
    let window = store
        .add_funnel(1, "Rust then pricing", &[page("/Blog/Rust"), page("/pricing")], Some(2 * 60 * MIN), T0)
        .unwrap();
    let report = store.funnel_report(&window, &day_query(vec![Metric::Visitors])).unwrap();
    assert_eq!(report.steps[1].visitors, 1, "pricing at minute 60 after the blog at minute 5");
    let short = store
        .add_funnel(1, "Rust then pricing soon", &[page("/Blog/Rust"), page("/pricing")], Some(30 * MIN), T0)
        .unwrap();
    let report = store.funnel_report(&short, &day_query(vec![Metric::Visitors])).unwrap();
    assert_eq!(report.steps[1].visitors, 0);
    // Limits.
    assert!(matches!(
        store.add_funnel(1, "One step", &[page("/")], None, T0),
        Err(Error::Invalid { field: "funnel", .. })
    ));
    assert!(matches!(
        store.add_funnel(1, "Home to pricing", &[page("/"), page("/x")], None, T0),
        Err(Error::FunnelExists(_))
    ));
}

#[test]
fn time_on_page_and_scroll_depth_come_from_engagement_reports() {
    let engagement =
        |minute: i64, path: &'static str, ms: &'static str, scroll: &'static str| -> PlannedHit {
            (
                minute,
                EventKind::Engagement,
                "engagement",
                path,
                vec![("engagement_ms", ms), ("scroll_depth", scroll)],
            )
        };
    let mut visits = visits();
    // Visit 1 (visitor 10): 30 s on /, then 50 s and 20 s on /pricing (scrolled 40 then 90).
    visits[0].hits.insert(1, engagement(1, "/", "30000", "100"));
    visits[0].hits.insert(3, engagement(3, "/pricing", "50000", "40"));
    visits[0].hits.push(engagement(6, "/pricing", "20000", "90"));
    // Visit 2 (visitor 10 again): 10 s on /pricing, scrolled 10.
    visits[1].hits.push(engagement(61, "/pricing", "10000", "10"));
    // Visit 3 (visitor 20): on /blog/duckdb, an unreadable time and an impossible scroll.
    visits[2].hits.push(engagement(12, "/blog/duckdb", "soon", "250"));
    let (_dir, store) = store_with(&visits);
    let mut query = day_query(vec![Metric::Visitors, Metric::TimeOnPage, Metric::ScrollDepth]);
    query.dimensions = vec![Dimension::Page];
    let result = store.query_stats(&query).unwrap();
    let row =
        |page: &str| result.rows.iter().find(|row| row.dimensions == [text(page)]).unwrap().metrics.clone();
    // /pricing: 80 s by visitor 10 over two visits, one visitor: 80 s; deepest scrolls 90
    // (visit 1) and 10 (visit 2): 50.
    assert_eq!(row("/pricing"), [Some(1.0), Some(80.0), Some(50.0)]);
    // /: two visitors viewed it, one reported 30 s.
    assert_eq!(row("/"), [Some(2.0), Some(30.0), Some(100.0)]);
    // A report that does not read as a number is no time; a scroll past 100 is 100.
    assert_eq!(row("/blog/duckdb"), [Some(1.0), None, Some(100.0)]);
    // A page with no report has neither.
    assert_eq!(row("/Blog/Rust"), [Some(1.0), None, None]);
    // Over the pages a filter chooses: /pricing's 80 s over its one visitor and /'s 30 s
    // over its one: 110 s over the one visitor (10) who reported on either.
    let mut query = day_query(vec![Metric::Visitors, Metric::TimeOnPage, Metric::ScrollDepth]);
    query.filter = Some(Filter::is(Dimension::Page, "/pricing"));
    assert_eq!(
        values(&store.query_stats(&query).unwrap()),
        [(vec![], vec![Some(1.0), Some(80.0), Some(50.0)])]
    );
    query.filter = Some(Filter::Condition {
        dimension: Dimension::Page,
        operator: Operator::Is,
        values: vec!["/pricing".into(), "/".into()],
        case_sensitive: true,
    });
    let totals = store.query_stats(&query).unwrap();
    assert_eq!(totals.rows[0].metrics[1], Some(110.0));
    // Per hour: every report of the page is in the first hour but visit 2's.
    query.filter = Some(Filter::is(Dimension::Page, "/pricing"));
    query.dimensions = vec![Dimension::Time(super::Interval::Hour)];
    let hours: Vec<Vec<Option<f64>>> =
        store.query_stats(&query).unwrap().rows.into_iter().map(|row| row.metrics).collect();
    assert_eq!(hours, [vec![Some(1.0), Some(70.0), Some(90.0)], vec![Some(1.0), Some(10.0), Some(10.0)]]);
    // Only of pages: by page, or with a page filter.
    let query = day_query(vec![Metric::TimeOnPage]);
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "metrics", .. })));
    let mut query = day_query(vec![Metric::TimeOnPage]);
    query.dimensions = vec![Dimension::Source];
    query.filter = Some(Filter::is(Dimension::Page, "/pricing"));
    assert!(matches!(store.query_stats(&query), Err(Error::Invalid { field: "metrics", .. })));
}

/// A Plausible export's rows as `import_plausible` takes them.
fn plausible_files(files: &[(&str, &str)]) -> Vec<(String, Box<dyn std::io::Read + Send>)> {
    files
        .iter()
        .map(|(name, text)| {
            let reader: Box<dyn std::io::Read + Send> =
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
            ((*name).to_owned(), reader)
        })
        .collect()
}

#[test]
fn imported_history_adds_to_the_native_numbers_on_its_own_days_once() {
    let (_dir, store) = store_with(&visits());
    let site = store.add_site("example.com", "UTC").unwrap();
    assert_eq!(site.id, 1);
    let files = || {
        plausible_files(&[
            (
                "imported_visitors_20260101_20260105.csv",
                "date,visitors,pageviews,bounces,visits,visit_duration\n\
                 2026-01-01,10,30,4,12,600\n2026-01-02,20,50,10,25,1000\n2026-01-05,99,99,9,99,99\n",
            ),
            (
                "imported_sources_20260101_20260105.csv",
                "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces\n\
                 2026-01-01,Google,,,,,,,20,7,8,400,2\n2026-01-02,,,,,,,,50,20,25,1000,10\n",
            ),
        ])
    };
    let report = store.import_plausible(1, files(), T0).unwrap();
    assert_eq!(report.skipped_native_days, 1, "5 January has events of the site's own");
    assert_eq!(report.rows["imported_visitors"], 2);
    // Again: the same rows replace the first import's, which goes.
    store.import_plausible(1, files(), T0).unwrap();
    assert_eq!(store.site_imports(1).unwrap().len(), 1);

    let utc = Tz::UTC;
    let jan = |day: i64| T0 + (day - 5) * 86_400_000;
    let metrics = vec![Metric::Visitors, Metric::Pageviews, Metric::BounceRate, Metric::VisitDuration];
    let mut by_day = Query::new(1, jan(1), jan(6), utc, metrics.clone());
    by_day.dimensions = vec![Dimension::Time(Interval::Day)];
    let native = store.query_stats(&by_day).unwrap();
    let (merged, imports) = store.query_stats_with_imports(&by_day).unwrap();
    assert_eq!(imports, Imports::Included);
    let day_ms = |day: i64| DimensionValue::Time(jan(day));
    let rows: Vec<(DimensionValue, Vec<Option<f64>>)> =
        merged.rows.iter().map(|row| (row.dimensions[0].clone(), row.metrics.clone())).collect();
    let close = |a: &[Option<f64>], b: &[Option<f64>]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x.unwrap() - y.unwrap()).abs() < 1e-9)
    };
    assert_eq!((&rows[0].0, &rows[1].0), (&day_ms(1), &day_ms(2)));
    assert!(close(&rows[0].1, &[Some(10.0), Some(30.0), Some(400.0 / 12.0), Some(50.0)]), "{rows:?}");
    assert!(close(&rows[1].1, &[Some(20.0), Some(50.0), Some(40.0), Some(40.0)]), "{rows:?}");
    assert!(close(&rows[2].1, &native.rows[0].metrics), "a day of the site's own is as it was");
    assert_eq!(rows.len(), 3);

    // Totals: sums, and the bounce rate of all visits.
    let totals =
        Query::new(1, jan(1), jan(6), utc, vec![Metric::Visitors, Metric::Visits, Metric::BounceRate]);
    let own = store.query_stats(&totals).unwrap().rows[0].metrics.clone();
    let (all, _) = store.query_stats_with_imports(&totals).unwrap();
    let (visitors, visits, bounce) = (own[0].unwrap(), own[1].unwrap(), own[2].unwrap());
    assert_eq!(all.rows[0].metrics[0], Some(visitors + 30.0));
    assert_eq!(all.rows[0].metrics[1], Some(visits + 37.0));
    let bounces = bounce / 100.0 * visits + 14.0;
    assert!((all.rows[0].metrics[2].unwrap() - bounces / (visits + 37.0) * 100.0).abs() < 1e-9);

    // Sources: Google adds up; Plausible's empty source is direct, as ours.
    let mut sources = Query::new(1, jan(1), jan(6), utc, vec![Metric::Visitors, Metric::Percentage]);
    sources.dimensions = vec![Dimension::Source];
    let own: HashMap<DimensionValue, f64> = store
        .query_stats(&Query { metrics: vec![Metric::Visitors], ..sources.clone() })
        .unwrap()
        .rows
        .into_iter()
        .map(|row| (row.dimensions[0].clone(), row.metrics[0].unwrap()))
        .collect();
    let (merged, _) = store.query_stats_with_imports(&sources).unwrap();
    let google = DimensionValue::Text(Some("Google".into()));
    let direct = DimensionValue::Text(None);
    let find = |key: &DimensionValue| {
        merged.rows.iter().find(|row| &row.dimensions[0] == key).unwrap().metrics.clone()
    };
    assert_eq!(find(&google)[0], Some(own.get(&google).copied().unwrap_or(0.0) + 7.0));
    assert_eq!(find(&direct)[0], Some(own.get(&direct).copied().unwrap_or(0.0) + 20.0));
    assert_eq!(merged.rows[0].dimensions[0], direct, "most visitors first");
    let share = find(&google)[0].unwrap() / (visitors + 30.0) * 100.0;
    assert!((find(&google)[1].unwrap() - share).abs() < 1e-9, "a share of all visitors, imported ones too");

    // What imports cannot answer says why, and answers without them.
    let filtered = Query { filter: Some(Filter::is(Dimension::Source, "Google")), ..totals.clone() };
    assert_eq!(store.query_stats_with_imports(&filtered).unwrap().1, Imports::Skipped("unsupported_query"));
    let mut hourly = by_day.clone();
    hourly.dimensions = vec![Dimension::Time(Interval::Hour)];
    assert_eq!(store.query_stats_with_imports(&hourly).unwrap().1, Imports::Skipped("unsupported_interval"));
    let later = Query::new(1, jan(5), jan(6), utc, vec![Metric::Visitors]);
    let (answer, imports) = store.query_stats_with_imports(&later).unwrap();
    assert_eq!(imports, Imports::Skipped("out_of_range"));
    assert_eq!(answer, store.query_stats(&later).unwrap());

    // A bad file names its row; nothing of the import stays.
    let bad = plausible_files(&[(
        "imported_devices_20251201_20251231.csv",
        "date,device,visitors,visits,visit_duration,bounces,pageviews\n2025-12-01,Desktop,3,3,10,1,4\n2025-12-02,Mobile,x,1,1,1,1\n",
    )]);
    let error = store.import_plausible(1, bad, T0).unwrap_err().to_string();
    assert!(error.contains("row 3") && error.contains("visitors"), "{error}");
    assert_eq!(store.site_imports(1).unwrap().len(), 1);
    store.remove_site_import(1, store.site_imports(1).unwrap()[0].id).unwrap();
    assert_eq!(store.query_stats_with_imports(&totals).unwrap().1, Imports::Skipped("no_imported_data"));
}
