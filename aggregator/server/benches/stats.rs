//! The dashboard's first view through the stats engine: top stats with the previous period,
//! the main graph and eight breakdowns (eleven queries), and single Stats API queries, on the
//! largest site of `hitkeep demo` traffic, over its last 30 days.
//!
//! ```sh
//! hitkeep demo --data-dir /tmp/hk10m --hits 10000000 --days 90 --seed 1
//! HITKEEP_BENCH_DATA=/tmp/hk10m cargo bench -p hitkeep --bench stats
//! ```
//!
//! Without `HITKEEP_BENCH_DATA` it loads 1,000,000 hits over 90 days into a temporary
//! directory first. `benches/chdb_first_view.py` runs the same view in chDB (ClickHouse, what
//! Plausible runs on) side by side with Hitkeep's HTTP API.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use chrono_tz::Tz;
use criterion::{Criterion, criterion_group, criterion_main};
use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_store::Store;
use hitkeep_store::stats::{Dimension, Interval, Metric, Query, local_to_utc_ms, utc_to_local};
use hitkeep_traffic::{Traffic, TrafficConfig, batches};

/// The data directory, and the largest site's id, zone and last event.
fn data() -> (Option<tempfile::TempDir>, Store, u32, Tz, i64) {
    let (dir, path) = match std::env::var_os("HITKEEP_BENCH_DATA") {
        Some(path) => (None, PathBuf::from(path)),
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().to_path_buf();
            let store = Store::open_dir(&path).unwrap();
            let config = TrafficConfig { hits: 1_000_000, days: 90, seed: 1, ..TrafficConfig::default() };
            let traffic = Traffic::new(config);
            for site in traffic.sites() {
                store.add_site(site.domain(), site.timezone()).unwrap();
            }
            let sites = SiteDirectory::new(&store.sites().unwrap());
            let clock = Arc::new(ManualClock::new(hitkeep_traffic::DEFAULT_END_MS));
            let mut ingestor = Ingestor::open(&store, sites, clock, 30 * 60_000).unwrap();
            let mut group = Vec::new();
            for batch in batches(traffic, "bench", 1_000) {
                group.push(Incoming::decoded(batch, ReplyTo::Nobody));
                if group.len() == 50 {
                    ingestor.ingest(std::mem::take(&mut group));
                }
            }
            ingestor.ingest(group);
            ingestor.checkpoint().unwrap();
            store.rollup_builder().unwrap().run(hitkeep_traffic::DEFAULT_END_MS, &|| false).unwrap();
            (Some(dir), path)
        }
    };
    let store = Store::open_dir(&path).unwrap();
    let (site_id, last_ms) = store.largest_site().unwrap().expect("the data directory has events");
    let site = store.sites().unwrap().into_iter().find(|site| site.id == site_id).unwrap();
    (dir, store, site_id, site.timezone.parse().unwrap(), last_ms)
}

/// The eleven queries of the dashboard's first view over `[start, end)`.
fn first_view(site_id: u32, zone: Tz, previous: i64, start: i64, end: i64) -> Vec<Query> {
    let top = vec![
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
    ];
    let mut queries = vec![
        Query::new(site_id, start, end, zone, top.clone()),
        Query::new(site_id, previous, start, zone, top),
    ];
    let mut graph = Query::new(site_id, start, end, zone, vec![Metric::Visitors]);
    graph.dimensions = vec![Dimension::Time(Interval::Day)];
    queries.push(graph);
    let breakdowns = [
        (Dimension::Source, vec![Metric::Visitors]),
        (Dimension::Page, vec![Metric::Visitors, Metric::Pageviews, Metric::BounceRate]),
        (Dimension::EntryPage, vec![Metric::Visitors, Metric::Visits]),
        (Dimension::ExitPage, vec![Metric::Visitors, Metric::Visits]),
        (Dimension::Country, vec![Metric::Visitors]),
        (Dimension::Device, vec![Metric::Visitors]),
        (Dimension::Browser, vec![Metric::Visitors]),
        (Dimension::Os, vec![Metric::Visitors]),
    ];
    for (dimension, metrics) in breakdowns {
        let mut query = Query::new(site_id, start, end, zone, metrics);
        query.dimensions = vec![dimension];
        query.limit = 9;
        queries.push(query);
    }
    queries
}

fn bench(c: &mut Criterion) {
    let (_dir, store, site_id, zone, last_ms) = data();
    // The last 30 days of the site's calendar, today included, and the 30 before.
    let today = utc_to_local(zone, last_ms).date();
    let midnight = |days_after_today: i64| {
        local_to_utc_ms(
            zone,
            (today + chrono::Duration::days(days_after_today)).and_time(chrono::NaiveTime::MIN),
        )
    };
    let queries = first_view(site_id, zone, midnight(-59), midnight(-29), midnight(1));
    let mut group = c.benchmark_group("stats");
    group.sample_size(20);
    group.bench_function("first_view_11_queries", |b| {
        b.iter(|| {
            for query in &queries {
                black_box(store.query_stats(query).unwrap());
            }
        })
    });
    let names = ["top_stats", "top_stats_previous", "graph_days"];
    for (index, query) in queries.iter().enumerate() {
        let name = names
            .get(index)
            .map_or_else(|| format!("breakdown_{:?}", query.dimensions[0]), |n| (*n).to_owned());
        group
            .bench_function(name.to_lowercase(), |b| b.iter(|| black_box(store.query_stats(query).unwrap())));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
