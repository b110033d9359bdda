//! The stats engine against an independent oracle: generated traffic (and a few hand-made
//! visits at the edges of the definitions) goes through the real ingest path into a DuckDB
//! file, and every number the engine answers is compared with the same number computed
//! here, in plain Rust, from the generated hits, following `docs/metrics.md` (never with the
//! store's SQL).
//!
//! The site is in America/New_York and the span covers the change to daylight saving time
//! on 2026-03-08, visits across midnight (local and UTC) and across the end of the range,
//! bounces ended (or not) by interactive and non-interactive events, and filters combining
//! and/or/not with visit and event conditions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;
use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_protocol::{Batch, ENVELOPE_VERSION, EventKind, Hit};
use hitkeep_store::stats::{
    Dimension, DimensionValue, Filter, Interval, Metric, Operator, Query, QueryResult,
};
use hitkeep_store::{GoalKind, Store};
use hitkeep_traffic::{Attribution, Traffic, TrafficConfig};

const SITE: &str = "oracle.example";
const ZONE: &str = "America/New_York";
const TIMEOUT_MS: i64 = 30 * 60_000;
const MIN: i64 = 60_000;

fn zone() -> Tz {
    ZONE.parse().unwrap()
}

/// Local midnight of a date in New York, as UTC ms.
fn midnight(date: &str) -> i64 {
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    zone().from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().timestamp_millis()
}

/// A visitor on a day: what `visitors` counts (`docs/metrics.md`).
type VisitorDay = (u64, NaiveDate);

/// The local date of `ts` in New York: a visitor counts once per day (`docs/metrics.md`).
fn day(ts: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ts).unwrap().with_timezone(&zone()).date_naive()
}

fn utc(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
}

/// A visit as the oracle sees it.
#[derive(Debug, Default)]
struct Visit {
    visitor: u64,
    start: i64,
    end: i64,
    pageviews: u32,
    events: u32,
    interactive: u32,
    /// (ts, path, is a pageview) of the hit the entry page comes from.
    entry: Option<(i64, String, bool)>,
    exit: Option<(i64, String, bool)>,
    source: Option<String>,
    country: Option<String>,
    /// The non-engagement hits: (ts, path, name, country).
    hits: Vec<(i64, String, String, Option<String>)>,
}

impl Visit {
    fn bounced(&self) -> bool {
        self.pageviews <= 1 && self.interactive == 0
    }
    fn entry_page(&self) -> &str {
        &self.entry.as_ref().unwrap().1
    }
    fn exit_page(&self) -> &str {
        &self.exit.as_ref().unwrap().1
    }
}

/// The oracle's sessionization, from the definition: runs of a visitor's hits with gaps of
/// at most 30 minutes, found again under yesterday's hash after midnight.
fn sessionize(hits: &[Hit]) -> (Vec<Visit>, Vec<usize>) {
    let mut visits: Vec<Visit> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    let mut of_hit = Vec::with_capacity(hits.len());
    for hit in hits {
        let fits = |index: &usize, visits: &Vec<Visit>| hit.ts - visits[*index].end <= TIMEOUT_MS;
        let found = open
            .get(&hit.visitor)
            .filter(|index| fits(index, &visits))
            .or_else(|| open.get(&hit.visitor_prev).filter(|index| fits(index, &visits)))
            .copied();
        let index = found.unwrap_or_else(|| {
            visits.push(Visit {
                visitor: hit.visitor,
                start: hit.ts,
                source: hit.source.clone(),
                country: hit.country.clone(),
                ..Visit::default()
            });
            visits.len() - 1
        });
        open.insert(hit.visitor, index);
        let visit = &mut visits[index];
        visit.end = visit.end.max(hit.ts);
        let is_pageview = hit.kind == EventKind::Pageview;
        match hit.kind {
            EventKind::Pageview => visit.pageviews += 1,
            EventKind::Custom => {
                visit.events += 1;
                visit.interactive += u32::from(hit.interactive);
            }
            EventKind::Engagement => {}
        }
        if visit.entry.as_ref().is_none_or(|(_, _, was_pageview)| is_pageview && !was_pageview) {
            visit.entry = Some((hit.ts, hit.path.clone(), is_pageview));
        }
        if visit.exit.as_ref().is_none_or(|(_, _, was_pageview)| is_pageview || !was_pageview) {
            visit.exit = Some((hit.ts, hit.path.clone(), is_pageview));
        }
        if hit.kind != EventKind::Engagement {
            visit.hits.push((hit.ts, hit.path.clone(), hit.name.clone(), hit.country.clone()));
        }
        of_hit.push(index);
    }
    (visits, of_hit)
}

/// Hand-made visits at the edges of the definitions.
fn edge_cases() -> Vec<Hit> {
    let base = |visitor: u64, prev: u64, ts: i64, path: &str| Hit {
        visitor,
        visitor_prev: prev,
        country: Some("DE".into()),
        ..Hit::pageview(ts, SITE, path)
    };
    let event = |visitor: u64, ts: i64, name: &str, interactive: bool| Hit {
        kind: EventKind::Custom,
        name: name.into(),
        interactive,
        ..base(visitor, visitor + 1, ts, "/pricing")
    };
    let local_midnight = midnight("2026-03-07");
    vec![
        // Across local midnight: starts 23:50 on 6 March, two pages after midnight.
        base(9_000_001, 9_000_002, local_midnight - 10 * MIN, "/late"),
        base(9_000_001, 9_000_002, local_midnight + 5 * MIN, "/later"),
        base(9_000_001, 9_000_002, local_midnight + 15 * MIN, "/blog/night"),
        // Across UTC midnight, where the salt changes: today's hash is new, yesterday's is the
        // one the visit started with.
        base(9_000_010, 9_000_011, utc("2026-03-10T23:55:00Z"), "/pricing"),
        base(9_000_012, 9_000_010, utc("2026-03-11T00:10:00Z"), "/signup"),
        // A bounce a non-interactive event does not end, and one an interactive event does.
        base(9_000_020, 9_000_021, utc("2026-03-09T15:00:00Z"), "/pricing"),
        event(9_000_020, utc("2026-03-09T15:01:00Z"), "Video Played", false),
        base(9_000_030, 9_000_031, utc("2026-03-09T16:00:00Z"), "/pricing"),
        event(9_000_030, utc("2026-03-09T16:02:00Z"), "Signup", true),
        // An engagement report only lengthens its visit.
        Hit {
            kind: EventKind::Engagement,
            name: "engagement".into(),
            ..base(9_000_030, 9_000_031, utc("2026-03-09T16:05:00Z"), "/pricing")
        },
        // Across the end of the range (midnight 14 March): all of it counts where it started.
        base(9_000_040, 9_000_041, midnight("2026-03-14") - 10 * MIN, "/end"),
        base(9_000_040, 9_000_041, midnight("2026-03-14") + 10 * MIN, "/after-end"),
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    site_id: u32,
    hits: Vec<Hit>,
    visits: Vec<Visit>,
    visit_of_hit: Vec<usize>,
}

fn fixture() -> Fixture {
    let config = TrafficConfig {
        seed: 11,
        sites: vec![SITE.into()],
        hits: 30_000,
        days: 16,
        end_ms: midnight("2026-03-16"),
    };
    let mut hits: Vec<Hit> = Traffic::new(config).with_attribution(Attribution::Landing).collect();
    hits.extend(edge_cases());
    hits.sort_by_key(|hit| hit.ts);
    let (visits, visit_of_hit) = sessionize(&hits);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let site_id = store.add_site(SITE, ZONE).unwrap().id;
    let sites = SiteDirectory::new(&store.sites().unwrap());
    let clock = Arc::new(ManualClock::new(midnight("2026-03-16")));
    let mut ingestor = Ingestor::open(&store, sites, clock, TIMEOUT_MS).unwrap();
    // Small batches in groups of a few: visits change across batches and groups, so their
    // rows are cancelled and written again many times.
    for (group_index, group) in hits.chunks(2_000).enumerate() {
        let batches = group
            .chunks(250)
            .enumerate()
            .map(|(index, hits)| {
                let batch = Batch {
                    v: ENVELOPE_VERSION,
                    id: format!("oracle-{group_index}-{index}"),
                    edge: "oracle".into(),
                    hits: hits.to_vec(),
                };
                Incoming::decoded(batch, ReplyTo::Nobody)
            })
            .collect();
        ingestor.ingest(batches);
    }
    let signup = GoalKind::Event { name: "Signup".into(), props: BTreeMap::new() };
    store.add_goal(site_id, None, &signup, midnight("2026-03-01")).unwrap();
    Fixture { _dir: dir, store, site_id, hits, visits, visit_of_hit }
}

fn run(fixture: &Fixture, query: &Query) -> QueryResult {
    fixture.store.query_stats(query).unwrap_or_else(|error| panic!("{query:?}: {error}"))
}

fn query(fixture: &Fixture, start: i64, end: i64, metrics: Vec<Metric>) -> Query {
    Query::new(fixture.site_id, start, end, zone(), metrics)
}

fn text(value: &DimensionValue) -> Option<String> {
    match value {
        DimensionValue::Text(text) => text.clone(),
        DimensionValue::Time(_) => panic!("not a text dimension"),
    }
}

fn close(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: no value"));
    assert!((actual - expected).abs() < 1e-6, "{what}: engine {actual}, oracle {expected}");
}

/// What the oracle expects over `[start, end)` of the totals.
struct Totals {
    visitors: usize,
    pageviews: usize,
    events: usize,
    visits: usize,
    bounce_rate: f64,
    visit_duration: f64,
    views_per_visit: f64,
}

fn totals(fixture: &Fixture, start: i64, end: i64) -> Totals {
    let in_range: Vec<(usize, &Hit)> = fixture
        .hits
        .iter()
        .enumerate()
        .filter(|(_, hit)| hit.ts >= start && hit.ts < end && hit.kind != EventKind::Engagement)
        .collect();
    let visitors: HashSet<VisitorDay> = in_range
        .iter()
        .map(|(index, hit)| (fixture.visits[fixture.visit_of_hit[*index]].visitor, day(hit.ts)))
        .collect();
    let started: Vec<&Visit> =
        fixture.visits.iter().filter(|visit| visit.start >= start && visit.start < end).collect();
    let visits = started.len();
    let bounces = started.iter().filter(|visit| visit.bounced()).count();
    let duration: i64 = started.iter().map(|visit| visit.end - visit.start).sum();
    let pageviews_of_visits: u32 = started.iter().map(|visit| visit.pageviews).sum();
    Totals {
        visitors: visitors.len(),
        pageviews: in_range.iter().filter(|(_, hit)| hit.kind == EventKind::Pageview).count(),
        events: in_range.len(),
        visits,
        bounce_rate: 100.0 * bounces as f64 / visits as f64,
        visit_duration: duration as f64 / 1000.0 / visits as f64,
        views_per_visit: f64::from(pageviews_of_visits) / visits as f64,
    }
}

#[test]
fn the_engine_agrees_with_the_oracle() {
    let fixture = fixture();
    assert!(fixture.visits.len() > 3_000, "enough visits to mean something: {}", fixture.visits.len());
    let (start, end) = (midnight("2026-03-02"), midnight("2026-03-14"));
    let totals = query(&fixture, start, end, vec![Metric::Visitors]);

    // From the events and visits, then from the daily rollups: the same numbers.
    assert!(!fixture.store.answered_from_rollups(&totals).unwrap());
    agrees(&fixture, start, end);
    let report = fixture.store.rollup_builder().unwrap().run(midnight("2026-03-20"), &|| false).unwrap();
    assert!(report.days_built >= 16, "{report:?}");
    assert!(fixture.store.answered_from_rollups(&totals).unwrap());
    agrees(&fixture, start, end);
}

fn agrees(fixture: &Fixture, start: i64, end: i64) {
    // Totals.
    let all = vec![
        Metric::Visitors,
        Metric::Pageviews,
        Metric::Events,
        Metric::Visits,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::ViewsPerVisit,
    ];
    let result = run(fixture, &query(fixture, start, end, all));
    let expected = totals(fixture, start, end);
    let row = &result.rows[0];
    close(row.metrics[0], expected.visitors as f64, "visitors");
    close(row.metrics[1], expected.pageviews as f64, "pageviews");
    close(row.metrics[2], expected.events as f64, "events");
    close(row.metrics[3], expected.visits as f64, "visits");
    close(row.metrics[4], expected.bounce_rate, "bounce rate");
    close(row.metrics[5], expected.visit_duration, "visit duration");
    close(row.metrics[6], expected.views_per_visit, "views per visit");

    // The visit across the end of the range counts with all of its duration.
    let crossing = fixture.visits.iter().find(|visit| visit.visitor == 9_000_040).unwrap();
    assert_eq!(crossing.end - crossing.start, 20 * MIN);
    assert!(crossing.start < end && crossing.end > end);
    // The visit across local midnight counts once, on the day it started.
    let night = fixture.visits.iter().find(|visit| visit.visitor == 9_000_001).unwrap();
    assert_eq!(night.pageviews, 3);
    // The one across UTC midnight is one visit of the visitor it started with.
    let salted = fixture.visits.iter().find(|visit| visit.visitor == 9_000_010).unwrap();
    assert_eq!((salted.pageviews, salted.entry_page(), salted.exit_page()), (2, "/pricing", "/signup"));
    assert!(fixture.visits.iter().find(|visit| visit.visitor == 9_000_020).unwrap().bounced());
    assert!(!fixture.visits.iter().find(|visit| visit.visitor == 9_000_030).unwrap().bounced());

    by_source(fixture, start, end);
    by_page(fixture, start, end);
    by_exit_page(fixture, start, end);
    by_local_day(fixture);
    filtered(fixture, start, end);
    percentages_and_pages(fixture, start, end);
    by_page_and_source(fixture, start, end);
    by_event_name_and_country(fixture, start, end);
    group_conversion_rates(fixture, start, end);
}

/// Pages by the source of their visit: each event counts under its visit's source (this
/// traffic's later pages have no referrer of their own), and a row's bounce rate is that of
/// the visits that entered on the page from that source.
fn by_page_and_source(fixture: &Fixture, start: i64, end: i64) {
    type Key = (String, Option<String>);
    let mut expected: HashMap<Key, (HashSet<VisitorDay>, usize)> = HashMap::new();
    for (index, hit) in fixture.hits.iter().enumerate() {
        if hit.ts >= start && hit.ts < end && hit.kind != EventKind::Engagement {
            let visit = &fixture.visits[fixture.visit_of_hit[index]];
            let entry = expected.entry((hit.path.clone(), visit.source.clone())).or_default();
            entry.0.insert((visit.visitor, day(hit.ts)));
            entry.1 += usize::from(hit.kind == EventKind::Pageview);
        }
    }
    let mut entries: HashMap<Key, (usize, usize)> = HashMap::new();
    for visit in started_in(fixture, start, end) {
        let entry = entries.entry((visit.entry_page().to_owned(), visit.source.clone())).or_default();
        entry.0 += 1;
        entry.1 += usize::from(visit.bounced());
    }
    let mut q = query(fixture, start, end, vec![Metric::Visitors, Metric::Pageviews, Metric::BounceRate]);
    q.dimensions = vec![Dimension::Page, Dimension::Source];
    let result = run(fixture, &q);
    assert_eq!(result.rows.len(), expected.len(), "a row per page and source");
    assert!(expected.len() > 20, "{}", expected.len());
    let mut with_bounces = 0;
    for row in &result.rows {
        let key = (text(&row.dimensions[0]).unwrap(), text(&row.dimensions[1]));
        let (visitors, pageviews) = &expected[&key];
        close(row.metrics[0], visitors.len() as f64, &format!("visitors of {key:?}"));
        close(row.metrics[1], *pageviews as f64, &format!("pageviews of {key:?}"));
        match entries.get(&key) {
            Some((visits, bounces)) => {
                with_bounces += 1;
                close(
                    row.metrics[2],
                    100.0 * *bounces as f64 / *visits as f64,
                    &format!("bounce rate of {key:?}"),
                );
            }
            None => assert_eq!(row.metrics[2], None, "no visit entered on {key:?}"),
        }
    }
    assert!(with_bounces > 10, "{with_bounces}");
}

/// Event names by the country of their visit: the visits that had such an event, and the
/// events.
fn by_event_name_and_country(fixture: &Fixture, start: i64, end: i64) {
    type Key = (String, Option<String>);
    let mut expected: HashMap<Key, (HashSet<usize>, usize)> = HashMap::new();
    for (index, hit) in fixture.hits.iter().enumerate() {
        if hit.ts >= start && hit.ts < end && hit.kind != EventKind::Engagement {
            let visit = fixture.visit_of_hit[index];
            let entry =
                expected.entry((hit.name.clone(), fixture.visits[visit].country.clone())).or_default();
            entry.0.insert(visit);
            entry.1 += 1;
        }
    }
    let mut q = query(fixture, start, end, vec![Metric::Visits, Metric::Events]);
    q.dimensions = vec![Dimension::EventName, Dimension::Country];
    let result = run(fixture, &q);
    assert_eq!(result.total_rows, expected.len() as u64);
    for row in &result.rows {
        let key = (text(&row.dimensions[0]).unwrap(), text(&row.dimensions[1]));
        let (visits, events) = &expected[&key];
        close(row.metrics[0], visits.len() as f64, &format!("visits of {key:?}"));
        close(row.metrics[1], *events as f64, &format!("events of {key:?}"));
    }
}

/// By source with a goal filter: the conversion rate of each source's own visitors (the
/// group conversion rate) beside the share of all visitors (the conversion rate).
fn group_conversion_rates(fixture: &Fixture, start: i64, end: i64) {
    let window_end = end + 24 * 60 * MIN;
    let signed_up = |visit: &Visit| {
        visit.hits.iter().any(|(ts, _, name, _)| *ts >= start && *ts < window_end && name == "Signup")
    };
    let mut groups: HashMap<Option<String>, (HashSet<VisitorDay>, HashSet<VisitorDay>)> = HashMap::new();
    for visit in started_in(fixture, start, end) {
        let group = groups.entry(visit.source.clone()).or_default();
        group.0.insert((visit.visitor, day(visit.start)));
        if signed_up(visit) {
            group.1.insert((visit.visitor, day(visit.start)));
        }
    }
    groups.retain(|_, (_, converted)| !converted.is_empty());
    assert!(groups.len() > 2, "sources with signups: {}", groups.len());
    let everyone = totals(fixture, start, end).visitors as f64;
    let mut q = query(
        fixture,
        start,
        end,
        vec![Metric::Visitors, Metric::GroupConversionRate, Metric::ConversionRate],
    );
    q.dimensions = vec![Dimension::Source];
    q.filter = Some(Filter::is(Dimension::Goal, "Signup"));
    let result = run(fixture, &q);
    assert_eq!(result.rows.len(), groups.len());
    for row in &result.rows {
        let source = text(&row.dimensions[0]);
        let (all, converted) = &groups[&source];
        let converted = converted.len() as f64;
        close(row.metrics[0], converted, &format!("visitors from {source:?} who signed up"));
        close(
            row.metrics[1],
            100.0 * converted / all.len() as f64,
            &format!("group conversion of {source:?}"),
        );
        close(row.metrics[2], 100.0 * converted / everyone, &format!("conversion of {source:?}"));
    }
}

fn started_in(fixture: &Fixture, start: i64, end: i64) -> impl Iterator<Item = &Visit> {
    fixture.visits.iter().filter(move |visit| visit.start >= start && visit.start < end)
}

/// Visits, visitors and bounce rate by the visit's source (that of its landing page: later
/// pages of a visit have none in this traffic).
fn by_source(fixture: &Fixture, start: i64, end: i64) {
    let mut expected: BTreeMap<Option<String>, (usize, HashSet<VisitorDay>, usize)> = BTreeMap::new();
    for visit in started_in(fixture, start, end) {
        let entry = expected.entry(visit.source.clone()).or_default();
        entry.0 += 1;
        entry.1.insert((visit.visitor, day(visit.start)));
        entry.2 += usize::from(visit.bounced());
    }
    let mut q = query(fixture, start, end, vec![Metric::Visits, Metric::Visitors, Metric::BounceRate]);
    q.dimensions = vec![Dimension::Source];
    let result = run(fixture, &q);
    assert_eq!(result.rows.len(), expected.len(), "one row per source");
    assert!(expected.len() > 3);
    for row in &result.rows {
        let source = text(&row.dimensions[0]);
        let (visits, visitors, bounces) = &expected[&source];
        close(row.metrics[0], *visits as f64, &format!("visits from {source:?}"));
        close(row.metrics[1], visitors.len() as f64, &format!("visitors from {source:?}"));
        close(
            row.metrics[2],
            100.0 * *bounces as f64 / *visits as f64,
            &format!("bounce rate from {source:?}"),
        );
    }
    // Sorted by visits, most first.
    assert!(result.rows.windows(2).all(|pair| pair[0].metrics[0] >= pair[1].metrics[0]));
}

/// Visitors and pageviews by page (events in the range), and the bounce rate of the visits
/// that entered on it.
fn by_page(fixture: &Fixture, start: i64, end: i64) {
    let mut visitors: HashMap<String, HashSet<VisitorDay>> = HashMap::new();
    let mut pageviews: HashMap<String, usize> = HashMap::new();
    for (index, hit) in fixture.hits.iter().enumerate() {
        if hit.ts >= start && hit.ts < end && hit.kind != EventKind::Engagement {
            visitors
                .entry(hit.path.clone())
                .or_default()
                .insert((fixture.visits[fixture.visit_of_hit[index]].visitor, day(hit.ts)));
            if hit.kind == EventKind::Pageview {
                *pageviews.entry(hit.path.clone()).or_default() += 1;
            }
        }
    }
    let mut entries: HashMap<String, (usize, usize)> = HashMap::new();
    for visit in started_in(fixture, start, end) {
        let entry = entries.entry(visit.entry_page().to_owned()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(visit.bounced());
    }
    let mut q = query(fixture, start, end, vec![Metric::Visitors, Metric::Pageviews, Metric::BounceRate]);
    q.dimensions = vec![Dimension::Page];
    let result = run(fixture, &q);
    assert_eq!(result.rows.len(), visitors.len());
    for row in &result.rows {
        let page = text(&row.dimensions[0]).unwrap();
        close(row.metrics[0], visitors[&page].len() as f64, &format!("visitors of {page}"));
        close(
            row.metrics[1],
            pageviews.get(&page).copied().unwrap_or(0) as f64,
            &format!("pageviews of {page}"),
        );
        match entries.get(&page) {
            Some((visits, bounces)) => close(
                row.metrics[2],
                100.0 * *bounces as f64 / *visits as f64,
                &format!("bounce rate of {page}"),
            ),
            None => assert_eq!(row.metrics[2], None, "no visit entered on {page}"),
        }
    }
}

/// Visits by exit page: a visit's exit page changes as it goes on, and only its last counts.
fn by_exit_page(fixture: &Fixture, start: i64, end: i64) {
    let mut expected: HashMap<String, (usize, HashSet<VisitorDay>)> = HashMap::new();
    for visit in started_in(fixture, start, end) {
        let entry = expected.entry(visit.exit_page().to_owned()).or_default();
        entry.0 += 1;
        entry.1.insert((visit.visitor, day(visit.start)));
    }
    let mut q = query(fixture, start, end, vec![Metric::Visits, Metric::Visitors]);
    q.dimensions = vec![Dimension::ExitPage];
    let result = run(fixture, &q);
    assert_eq!(result.rows.len(), expected.len());
    for row in &result.rows {
        let page = text(&row.dimensions[0]).unwrap();
        close(row.metrics[0], expected[&page].0 as f64, &format!("visits leaving on {page}"));
        close(row.metrics[1], expected[&page].1.len() as f64, &format!("visitors leaving on {page}"));
    }
}

/// Days in New York across the change to daylight saving time (8 March has 23 hours).
fn by_local_day(fixture: &Fixture) {
    let (start, end) = (midnight("2026-03-05"), midnight("2026-03-12"));
    let local_day = |ts: i64| {
        DateTime::from_timestamp_millis(ts)
            .unwrap()
            .with_timezone(&zone())
            .date_naive()
            .format("%Y-%m-%d")
            .to_string()
    };
    let mut pageviews: BTreeMap<String, usize> = BTreeMap::new();
    for hit in &fixture.hits {
        if hit.ts >= start && hit.ts < end && hit.kind == EventKind::Pageview {
            *pageviews.entry(local_day(hit.ts)).or_default() += 1;
        }
    }
    let mut visits: BTreeMap<String, usize> = BTreeMap::new();
    for visit in started_in(fixture, start, end) {
        *visits.entry(local_day(visit.start)).or_default() += 1;
    }
    let mut q = query(fixture, start, end, vec![Metric::Pageviews, Metric::Visits]);
    q.dimensions = vec![Dimension::Time(Interval::Day)];
    let result = run(fixture, &q);
    let labels: Vec<String> = result
        .rows
        .iter()
        .map(|row| match row.dimensions[0] {
            DimensionValue::Time(local) => hitkeep_store::stats::bucket_label(Interval::Day, local),
            _ => panic!("a time bucket"),
        })
        .collect();
    assert_eq!(labels, pageviews.keys().cloned().collect::<Vec<_>>(), "days in order");
    assert!(labels.contains(&"2026-03-08".to_owned()));
    for (row, label) in result.rows.iter().zip(&labels) {
        close(row.metrics[0], pageviews[label] as f64, &format!("pageviews on {label}"));
        close(row.metrics[1], visits.get(label).copied().unwrap_or(0) as f64, &format!("visits on {label}"));
    }
    // Hours: on 8 March the local hour 02:00 does not exist.
    let mut q = query(fixture, midnight("2026-03-08"), midnight("2026-03-09"), vec![Metric::Pageviews]);
    q.dimensions = vec![Dimension::Time(Interval::Hour)];
    let result = run(fixture, &q);
    let hours: Vec<String> = result
        .rows
        .iter()
        .map(|row| match row.dimensions[0] {
            DimensionValue::Time(local) => hitkeep_store::stats::bucket_label(Interval::Hour, local),
            _ => panic!("a time bucket"),
        })
        .collect();
    assert!(!hours.contains(&"2026-03-08 02:00:00".to_owned()), "{hours:?}");
    let total: f64 = result.rows.iter().map(|row| row.metrics[0].unwrap()).sum();
    close(Some(total), pageviews["2026-03-08"] as f64, "the hours of 8 March add up to the day");
}

/// `(country is DE or not (page contains "pricing", any case)) and not (source is Google)`,
/// and `has_done(name is Signup)`.
fn filtered(fixture: &Fixture, start: i64, end: i64) {
    let filter = Filter::And(vec![
        Filter::Or(vec![
            Filter::is(Dimension::Country, "DE"),
            Filter::Not(Box::new(Filter::Condition {
                dimension: Dimension::Page,
                operator: Operator::Contains,
                values: vec!["PRICING".into()],
                case_sensitive: false,
            })),
        ]),
        Filter::Not(Box::new(Filter::is(Dimension::Source, "Google"))),
    ]);
    let window_end = end + 24 * 60 * MIN;
    // Events: the event's own page and country, its visit's source.
    let mut visitors = HashSet::new();
    let mut pageviews = 0;
    for (index, hit) in fixture.hits.iter().enumerate() {
        let visit = &fixture.visits[fixture.visit_of_hit[index]];
        let matches = (hit.country.as_deref() == Some("DE") || !hit.path.to_lowercase().contains("pricing"))
            && visit.source.as_deref() != Some("Google");
        if hit.ts >= start && hit.ts < end && hit.kind != EventKind::Engagement && matches {
            visitors.insert((visit.visitor, day(hit.ts)));
            pageviews += usize::from(hit.kind == EventKind::Pageview);
        }
    }
    // Visits: the visit's country and source, and "had no event on a pricing page".
    let visit_matches = |visit: &Visit| {
        let pricing = visit.hits.iter().any(|(ts, path, _, _)| {
            *ts >= start && *ts < window_end && path.to_lowercase().contains("pricing")
        });
        (visit.country.as_deref() == Some("DE") || !pricing) && visit.source.as_deref() != Some("Google")
    };
    let matching: Vec<&Visit> =
        started_in(fixture, start, end).filter(|visit| visit_matches(visit)).collect();
    let bounces = matching.iter().filter(|visit| visit.bounced()).count();
    let mut q = query(
        fixture,
        start,
        end,
        vec![Metric::Visitors, Metric::Pageviews, Metric::Visits, Metric::BounceRate],
    );
    q.filter = Some(filter);
    let row = &run(fixture, &q).rows[0];
    assert!(visitors.len() > 100 && matching.len() > 100);
    close(row.metrics[0], visitors.len() as f64, "filtered visitors");
    close(row.metrics[1], pageviews as f64, "filtered pageviews");
    close(row.metrics[2], matching.len() as f64, "filtered visits");
    close(row.metrics[3], 100.0 * bounces as f64 / matching.len() as f64, "filtered bounce rate");

    // Visits that signed up, and their visitors' events.
    let signed_up = |visit: &Visit| {
        visit.hits.iter().any(|(ts, _, name, _)| *ts >= start && *ts < window_end && name == "Signup")
    };
    let expected_visits = started_in(fixture, start, end).filter(|visit| signed_up(visit)).count();
    let mut expected_events = 0;
    for (index, hit) in fixture.hits.iter().enumerate() {
        if hit.ts >= start
            && hit.ts < end
            && hit.kind != EventKind::Engagement
            && signed_up(&fixture.visits[fixture.visit_of_hit[index]])
        {
            expected_events += 1;
        }
    }
    let mut q = query(fixture, start, end, vec![Metric::Visits, Metric::Events]);
    q.filter = Some(Filter::HasDone(Box::new(Filter::is(Dimension::EventName, "Signup"))));
    let row = &run(fixture, &q).rows[0];
    assert!(expected_visits > 10);
    close(row.metrics[0], expected_visits as f64, "visits that signed up");
    close(row.metrics[1], expected_events as f64, "events of visits that signed up");
    q.filter = Some(Filter::HasNotDone(Box::new(Filter::is(Dimension::EventName, "Signup"))));
    let row = &run(fixture, &q).rows[0];
    let others = started_in(fixture, start, end).count() - expected_visits;
    close(row.metrics[0], others as f64, "visits that did not sign up");
}

/// Shares of visitors by country, and pagination with the total row count.
fn percentages_and_pages(fixture: &Fixture, start: i64, end: i64) {
    let mut by_country: HashMap<Option<String>, HashSet<VisitorDay>> = HashMap::new();
    let mut everyone = HashSet::new();
    for visit in started_in(fixture, start, end) {
        by_country.entry(visit.country.clone()).or_default().insert((visit.visitor, day(visit.start)));
    }
    for (index, hit) in fixture.hits.iter().enumerate() {
        if hit.ts >= start && hit.ts < end && hit.kind != EventKind::Engagement {
            everyone.insert((fixture.visits[fixture.visit_of_hit[index]].visitor, day(hit.ts)));
        }
    }
    let mut q = query(fixture, start, end, vec![Metric::Visitors, Metric::Percentage]);
    q.dimensions = vec![Dimension::Country];
    q.limit = 3;
    q.offset = 1;
    let result = run(fixture, &q);
    assert_eq!(result.total_rows, by_country.len() as u64);
    assert_eq!(result.rows.len(), 3);
    let mut counts: Vec<usize> = by_country.values().map(HashSet::len).collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    for (row, expected) in result.rows.iter().zip(&counts[1..]) {
        close(row.metrics[0], *expected as f64, "visitors of a country");
        close(row.metrics[1], 100.0 * *expected as f64 / everyone.len() as f64, "share of a country");
    }
}

/// Every shape the daily rollups answer gives, from them, exactly what the events and
/// visits give; and a hit that arrives for a day already rolled up is counted at once (the
/// day is read from the events until it is built again).
#[test]
fn rollups_answer_as_the_events_do_and_late_hits_count_at_once() {
    let fixture = fixture();
    let store = &fixture.store;
    // Built up to 8 March first: ranges past it add the raw rows of the days after; then
    // every day.
    for now in [midnight("2026-03-10"), midnight("2026-03-20")] {
        store.rollup_builder().unwrap().run(now, &|| false).unwrap();
        same_from_rollups_and_raw(&fixture);
    }

    // A late pageview for 9 March, a day rolled up, from a new visitor.
    let (start, end) = (midnight("2026-03-02"), midnight("2026-03-14"));
    let q = query(&fixture, start, end, vec![Metric::Visitors, Metric::Pageviews, Metric::Visits]);
    let from_the_ninth = query(&fixture, midnight("2026-03-09"), end, vec![Metric::Visitors]);
    assert!(store.answered_from_rollups(&from_the_ninth).unwrap());
    let before = run(&fixture, &q).rows[0].metrics.clone();
    let late = Hit {
        visitor: 77_000_001,
        visitor_prev: 77_000_002,
        ..Hit::pageview(utc("2026-03-09T12:00:00Z"), SITE, "/late")
    };
    let sites = SiteDirectory::new(&store.sites().unwrap());
    let clock = Arc::new(ManualClock::new(midnight("2026-03-20")));
    let mut ingestor = Ingestor::open(store, sites, clock, TIMEOUT_MS).unwrap();
    let batch = Batch { v: ENVELOPE_VERSION, id: "late-1".into(), edge: "oracle".into(), hits: vec![late] };
    ingestor.ingest(vec![Incoming::decoded(batch, ReplyTo::Nobody)]);
    // The days around it are read from the events now.
    assert!(!store.answered_from_rollups(&from_the_ninth).unwrap(), "a dirty day is read from the events");
    let plus_one: Vec<Option<f64>> = before.iter().map(|value| value.map(|v| v + 1.0)).collect();
    assert_eq!(run(&fixture, &q).rows[0].metrics, plus_one);
    // Built again: from the rollups, with the late hit.
    let report = store.rollup_builder().unwrap().run(midnight("2026-03-20"), &|| false).unwrap();
    assert_eq!((report.marks_cleared, report.days_built), (1, 3), "the dates around it");
    assert!(store.answered_from_rollups(&from_the_ninth).unwrap());
    assert_eq!(run(&fixture, &q).rows[0].metrics, plus_one);
    // Nothing left to do.
    let report = store.rollup_builder().unwrap().run(midnight("2026-03-20"), &|| false).unwrap();
    assert_eq!((report.marks_cleared, report.days_built), (0, 0));
}

/// Every rolled shape, over ranges inside and across the built days, from both paths.
fn same_from_rollups_and_raw(fixture: &Fixture) {
    let store = &fixture.store;
    let metrics = vec![
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::Events,
        Metric::Percentage,
    ];
    let mut dimensions = vec![
        None,
        Some(Dimension::Time(Interval::Day)),
        Some(Dimension::Time(Interval::Week)),
        Some(Dimension::Time(Interval::Month)),
        Some(Dimension::Page),
        Some(Dimension::Hostname),
        Some(Dimension::EventName),
    ];
    dimensions.extend(
        [
            Dimension::EntryPage,
            Dimension::ExitPage,
            Dimension::Source,
            Dimension::Referrer,
            Dimension::Channel,
            Dimension::Utm(hitkeep_store::stats::UtmField::Source),
            Dimension::Utm(hitkeep_store::stats::UtmField::Campaign),
            Dimension::Device,
            Dimension::Browser,
            Dimension::BrowserVersion,
            Dimension::Os,
            Dimension::OsVersion,
            Dimension::Country,
            Dimension::CountryName,
            Dimension::Region,
            Dimension::City,
        ]
        .map(Some),
    );
    let ranges = [
        (midnight("2026-03-02"), midnight("2026-03-14")),
        (midnight("2026-03-08"), midnight("2026-03-09")),
        (midnight("2026-02-28"), midnight("2026-03-16")),
        // Ending within a day: the last part from the events.
        (midnight("2026-03-05"), utc("2026-03-15T12:00:00Z")),
    ];
    for (start, end) in ranges {
        for dimension in &dimensions {
            let mut q = query(fixture, start, end, metrics.clone());
            if let Some(dimension) = dimension {
                q.dimensions = vec![dimension.clone()];
                // By an event dimension, visits are distinct over the range: not rolled up.
                if matches!(dimension, Dimension::Page | Dimension::Hostname | Dimension::EventName) {
                    q.metrics.retain(|m| !matches!(m, Metric::Visits | Metric::ViewsPerVisit));
                }
                if matches!(dimension, Dimension::Hostname | Dimension::EventName) {
                    q.metrics.retain(|m| !m.is_visit_only());
                }
            }
            assert!(store.answered_from_rollups(&q).unwrap(), "{q:?}");
            let (rolled, raw) = (store.query_stats(&q).unwrap(), store.query_stats_raw(&q).unwrap());
            assert_eq!(rolled, raw, "{dimension:?} over {start}..{end}");
            assert!(!raw.rows.is_empty());
        }
    }
}

/// A site's zone changes: the days rolled up in the old zone are not read for the new one;
/// the numbers by day are the new zone's at once (from the events), and again once the
/// builder has cut the days in the new zone.
#[test]
fn a_new_time_zone_gets_its_own_days() {
    let fixture = fixture();
    let store = &fixture.store;
    store.rollup_builder().unwrap().run(midnight("2026-03-20"), &|| false).unwrap();
    let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
    let tokyo_midnight = |date: &str| {
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        tokyo.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap()).unwrap().timestamp_millis()
    };
    let (start, end) = (tokyo_midnight("2026-03-03"), tokyo_midnight("2026-03-13"));
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for hit in &fixture.hits {
        if hit.ts >= start && hit.ts < end && hit.kind == EventKind::Pageview {
            let local = DateTime::from_timestamp_millis(hit.ts).unwrap().with_timezone(&tokyo);
            *expected.entry(local.format("%Y-%m-%d").to_string()).or_default() += 1;
        }
    }
    let by_day = |zone: Tz| {
        let mut q = Query::new(fixture.site_id, start, end, zone, vec![Metric::Pageviews, Metric::Visitors]);
        q.dimensions = vec![Dimension::Time(Interval::Day)];
        q
    };
    let pageviews_by_day = |result: &QueryResult| -> BTreeMap<String, usize> {
        result
            .rows
            .iter()
            .map(|row| match row.dimensions[0] {
                DimensionValue::Time(local) => (
                    hitkeep_store::stats::bucket_label(Interval::Day, local),
                    row.metrics[0].unwrap() as usize,
                ),
                _ => panic!("a time bucket"),
            })
            .collect()
    };

    let site = store.set_site_timezone(SITE, "Asia/Tokyo").unwrap();
    assert_eq!(site.timezone, "Asia/Tokyo");
    assert!(!store.answered_from_rollups(&by_day(tokyo)).unwrap(), "no day is built in Tokyo's zone yet");
    let from_events = store.query_stats(&by_day(tokyo)).unwrap();
    assert_eq!(pageviews_by_day(&from_events), expected);

    let report = store.rollup_builder().unwrap().run(midnight("2026-03-20"), &|| false).unwrap();
    assert!(report.days_built >= 16, "every day again, in the new zone: {report:?}");
    assert!(store.answered_from_rollups(&by_day(tokyo)).unwrap());
    let from_rollups = store.query_stats(&by_day(tokyo)).unwrap();
    assert_eq!(from_rollups, store.query_stats_raw(&by_day(tokyo)).unwrap());
    assert_eq!(pageviews_by_day(&from_rollups), expected);
    // The old zone's days are gone, so a query in it reads the events.
    assert!(!store.answered_from_rollups(&by_day(zone())).unwrap());
    // Bad zones are refused; the same zone changes nothing.
    assert!(store.set_site_timezone(SITE, "Mars/Olympus").is_err());
    store.set_site_timezone(SITE, "Asia/Tokyo").unwrap();
    assert!(store.answered_from_rollups(&by_day(tokyo)).unwrap());
}

/// Property keys: the keys of the range's events, most frequent first, counted as the
/// oracle counts them, and narrowed by filters.
#[test]
fn property_keys_are_counted_per_event() {
    let fixture = fixture();
    let (start, end) = (midnight("2026-03-02"), midnight("2026-03-14"));
    let mut expected: HashMap<String, u64> = HashMap::new();
    let mut signups: HashMap<String, u64> = HashMap::new();
    for hit in &fixture.hits {
        if hit.ts >= start && hit.ts < end && hit.kind != EventKind::Engagement {
            for (key, _) in &hit.props {
                *expected.entry(key.clone()).or_default() += 1;
                if hit.name == "Signup" {
                    *signups.entry(key.clone()).or_default() += 1;
                }
            }
        }
    }
    assert!(!expected.is_empty(), "the generated traffic has properties");
    let keys = fixture.store.property_keys(&query(&fixture, start, end, vec![Metric::Events]), 100).unwrap();
    let got: HashMap<String, u64> = keys.iter().map(|key| (key.key.clone(), key.events)).collect();
    assert_eq!(got, expected);
    assert!(keys.windows(2).all(|pair| pair[0].events >= pair[1].events), "most frequent first");
    let one = fixture.store.property_keys(&query(&fixture, start, end, vec![Metric::Events]), 1).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0], keys[0]);

    let mut q = query(&fixture, start, end, vec![Metric::Events]);
    q.filter = Some(Filter::Condition {
        dimension: Dimension::EventName,
        operator: Operator::Is,
        values: vec!["Signup".into()],
        case_sensitive: true,
    });
    let got: HashMap<String, u64> =
        fixture.store.property_keys(&q, 100).unwrap().into_iter().map(|key| (key.key, key.events)).collect();
    assert_eq!(got, signups);
}
