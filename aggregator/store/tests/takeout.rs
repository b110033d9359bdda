//! The store's takeout, import and retention on a real DuckDB file: what goes out comes
//! back in once, visits fold as the original's, old days go and the file shrinks.

use hitkeep_store::stats::{Metric, Query};
use hitkeep_store::{ExportFormat, ExportSite, ImportTarget, ImportedEvent, Store};
use serde_json::Value;

const DAY_MS: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;

/// `days` days of traffic: per day 300 visits of a pageview, often a second page, sometimes
/// a custom event with properties and revenue, and an engagement report.
fn events(days: i64) -> Vec<ImportedEvent> {
    let mut out = Vec::new();
    for day in 0..days {
        for visit in 0..300u64 {
            let ts = (START_MS + day * DAY_MS + visit as i64 * 60_000) * 1000;
            let visitor = (day as u64) << 32 | visit;
            let session = day as u64 * 1000 + visit + 1;
            let base = ImportedEvent {
                ts_us: ts,
                kind: 0,
                name: "pageview".into(),
                hostname: "example.com".into(),
                path: "/".into(),
                referrer: (visit % 3 == 0).then(|| "google.com/".into()),
                source: (visit % 3 == 0).then(|| "Google".into()),
                channel: if visit % 3 == 0 { 1 } else { 0 },
                country: Some(["DE", "FR", "US"][visit as usize % 3].into()),
                browser: Some("Firefox".into()),
                device: 1 + (visit % 3) as u8,
                interactive: true,
                visitor_id: visitor,
                session_id: session,
                ..Default::default()
            };
            out.push(base.clone());
            if visit % 2 == 0 {
                out.push(ImportedEvent { ts_us: ts + 30_000_000, path: "/pricing".into(), ..base.clone() });
            }
            if visit % 5 == 0 {
                out.push(ImportedEvent {
                    ts_us: ts + 45_000_000,
                    kind: 1,
                    name: "Signup".into(),
                    props: vec![("plan".into(), "pro".into()), ("seats".into(), (visit % 7).to_string())],
                    revenue_micros: Some(12_500_000),
                    revenue_currency: Some("EUR".into()),
                    ..base.clone()
                });
            }
            out.push(ImportedEvent {
                ts_us: ts + 50_000_000,
                kind: 2,
                name: "engagement".into(),
                props: vec![("engagement_ms".into(), "20000".into()), ("scroll_depth".into(), "80".into())],
                ..base
            });
        }
    }
    out
}

fn ndjson(store: &Store, sites: &[ExportSite]) -> Vec<Value> {
    let mut out = Vec::new();
    let summary = store.export_events(sites, ExportFormat::Ndjson, &mut out, &mut |_| {}).unwrap();
    let rows: Vec<Value> =
        String::from_utf8(out).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(summary.rows as usize, rows.len());
    rows
}

fn whole(site: &hitkeep_store::Site) -> ExportSite {
    ExportSite { site: site.clone(), start_ms: None, end_ms: None, filter: None }
}

fn totals(store: &Store, site_id: u32, days: i64) -> Vec<f64> {
    let metrics = vec![
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::Events,
    ];
    let query = Query::new(site_id, START_MS, START_MS + days * DAY_MS, chrono_tz::Tz::UTC, metrics);
    let result = store.query_stats_raw(&query).unwrap();
    result.rows[0].metrics.iter().map(|value| value.unwrap_or(f64::NAN)).collect()
}

#[test]
fn a_takeout_imports_once_with_its_visits_and_retention_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let original = store.add_site("example.com", "UTC").unwrap();
    let sent = events(40);
    let first = store.import_events(original.id, &sent, START_MS + 60 * DAY_MS).unwrap();
    assert_eq!((first.read, first.stored, first.skipped), (sent.len() as u64, sent.len() as u64, 0));

    // Out, as every format, and back into another site: once, however often.
    let rows = ndjson(&store, &[whole(&original)]);
    assert_eq!(rows.len(), sent.len());
    let signup = rows.iter().find(|row| row["name"] == "Signup").unwrap();
    assert_eq!(signup["revenue"], serde_json::json!(12.5));
    assert_eq!(signup["props"]["plan"], "pro");
    let copy = store.add_site("copy.example", "UTC").unwrap();
    let target = ImportTarget::Site(copy.id);
    for format in ExportFormat::ALL {
        let file = dir.path().join(format!("takeout.{}", format.name()));
        let out = std::fs::File::create(&file).unwrap();
        store.export_events(&[whole(&original)], format, out, &mut |_| {}).unwrap();
        let report =
            store.import_takeout(&file, format, &target, START_MS + 60 * DAY_MS, &mut |_| {}).unwrap();
        assert_eq!(report.read, sent.len() as u64, "{format:?}");
        let expected_stored = if format == ExportFormat::Parquet { sent.len() as u64 } else { 0 };
        assert_eq!(
            report.stored, expected_stored,
            "{format:?}: the first import stores all, the others none"
        );
    }
    // The copy's visits and numbers are the original's.
    assert_eq!(totals(&store, copy.id, 40), totals(&store, original.id, 40));
    let mut copied: Vec<String> = ndjson(&store, &[whole(&copy)])
        .into_iter()
        .map(|mut row| {
            let object = row.as_object_mut().unwrap();
            object.remove("site");
            object.remove("session_id");
            row.to_string()
        })
        .collect();
    let mut originals: Vec<String> = rows
        .into_iter()
        .map(|mut row| {
            let object = row.as_object_mut().unwrap();
            object.remove("site");
            object.remove("session_id");
            row.to_string()
        })
        .collect();
    copied.sort();
    originals.sort();
    assert_eq!(copied, originals);

    // A file with a row the importer cannot read names the row; what came before stays.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, "{\"site\":\"x\"}\n").unwrap();
    let error = store.import_takeout(&bad, ExportFormat::Ndjson, &target, START_MS, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("row 1"), "{error}");

    // Retention: the first 30 days of the original go, from queries and exports.
    store.remove_site("copy.example").unwrap();
    store.checkpoint().unwrap();
    let report = store.delete_before(original.id, START_MS + 30 * DAY_MS, 20_454 + 30).unwrap();
    assert!(report.events > 0 && report.visits > 0);
    let left = ndjson(&store, &[whole(&original)]);
    assert_eq!(left.len(), sent.iter().filter(|e| e.ts_us >= (START_MS + 30 * DAY_MS) * 1000).count());
    assert_eq!(totals(&store, original.id, 30)[1], 0.0, "no visits before the cut");
    let kept: Vec<ImportedEvent> =
        sent.iter().filter(|e| e.ts_us >= (START_MS + 30 * DAY_MS) * 1000).cloned().collect();
    let fresh = Store::open_dir(&dir.path().join("fresh")).unwrap();
    let site = fresh.add_site("example.com", "UTC").unwrap();
    fresh.import_events(site.id, &kept, START_MS + 60 * DAY_MS).unwrap();
    assert_eq!(totals(&store, original.id, 40), totals(&fresh, site.id, 40), "as if the old days never were");
    // Whole row groups deleted would show as free blocks; here the deleted rows share their
    // row groups with kept ones, and only a rewrite drops them.
    store.checkpoint().unwrap();
    let space = store.file_space().unwrap();
    assert!(space.total_bytes > 0 && space.free_bytes <= space.total_bytes, "{space:?}");
    let path = store.path().to_path_buf();
    drop(store);
    let (before, after) = Store::compact_file(&path).unwrap();
    assert!(after < before, "compacting shrinks the file: {before} -> {after}");
    let store = Store::open(&path).unwrap();
    assert_eq!(ndjson(&store, &[whole(&store.site("example.com").unwrap())]).len(), left.len());
}
