//! A Plausible CSV export, built here following Plausible's documented layout (one
//! `imported_<table>_<first>_<last>.csv` per table, zipped), imported with `hitkeep import`
//! through a running `serve`, and read back through the Stats API with `include.imports`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::*;

const SITE: &str = "plausible-import.example";
const DAYS: u32 = 30;

/// One day of the fixture's visitors table.
#[derive(Debug, Clone, Copy)]
struct Day {
    visitors: u64,
    pageviews: u64,
    bounces: u64,
    visits: u64,
    visit_duration: u64,
}

fn day_of(index: u32) -> Day {
    let visitors = 100 + u64::from(index * 37 % 90);
    let visits = visitors + visitors / 4;
    Day { visitors, pageviews: visits * 3 - 7, bounces: visits * 2 / 5, visits, visit_duration: visits * 95 }
}

fn date(index: u32) -> String {
    format!("2026-01-{:02}", index + 1)
}

/// Writes the export's CSV files into `dir` and zips them; the zip's path.
fn build_export(dir: &Path) -> std::path::PathBuf {
    let files = dir.join("export");
    std::fs::create_dir_all(&files).unwrap();
    let range = format!("20260101_202601{DAYS:02}");
    let write = |table: &str, header: &str, rows: Vec<String>| {
        let mut file = std::fs::File::create(files.join(format!("imported_{table}_{range}.csv"))).unwrap();
        writeln!(file, "{header}").unwrap();
        for row in rows {
            writeln!(file, "{row}").unwrap();
        }
    };
    let all = || 0..DAYS;
    write(
        "visitors",
        "date,visitors,pageviews,bounces,visits,visit_duration",
        all()
            .map(|i| {
                let d = day_of(i);
                format!(
                    "{},{},{},{},{},{}",
                    date(i),
                    d.visitors,
                    d.pageviews,
                    d.bounces,
                    d.visits,
                    d.visit_duration
                )
            })
            .collect(),
    );
    // Each day's visits split between Google (60%) and direct (the rest), as Plausible's
    // sources table does (an empty source is a direct visit).
    write(
        "sources",
        "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces",
        all()
            .flat_map(|i| {
                let d = day_of(i);
                let google = Day {
                    visitors: d.visitors * 3 / 5,
                    visits: d.visits * 3 / 5,
                    pageviews: d.pageviews * 3 / 5,
                    bounces: d.bounces * 3 / 5,
                    visit_duration: d.visit_duration * 3 / 5,
                };
                let row = |source: &str, referrer: &str, s: Day| {
                    format!(
                        "{},{source},{referrer},,,,,,{},{},{},{},{}",
                        date(i),
                        s.pageviews,
                        s.visitors,
                        s.visits,
                        s.visit_duration,
                        s.bounces
                    )
                };
                let direct = Day {
                    visitors: d.visitors - google.visitors,
                    visits: d.visits - google.visits,
                    pageviews: d.pageviews - google.pageviews,
                    bounces: d.bounces - google.bounces,
                    visit_duration: d.visit_duration - google.visit_duration,
                };
                [row("Google", "google.com", google), row("", "", direct)]
            })
            .collect(),
    );
    write(
        "pages",
        "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors",
        all().map(|i| format!("{},{SITE},/pricing,{},{},{},,0", date(i), 20 + i, 18 + i, 31 + i)).collect(),
    );
    write(
        "devices",
        "date,device,visitors,visits,visit_duration,bounces,pageviews",
        all()
            .map(|i| {
                let d = day_of(i);
                format!(
                    "{},Desktop,{},{},{},{},{}",
                    date(i),
                    d.visitors,
                    d.visits,
                    d.visit_duration,
                    d.bounces,
                    d.pageviews
                )
            })
            .collect(),
    );
    write(
        "custom_events",
        "date,name,link_url,path,visitors,events",
        all().map(|i| format!("{},Signup,,,{},{}", date(i), 3 + i % 4, 4 + i % 4)).collect(),
    );
    let zip = dir.join("plausible-export.zip");
    let status = Command::new("python3")
        .args(["-c", "import sys, os, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    for name in sorted(os.listdir(sys.argv[2])):\n        z.write(os.path.join(sys.argv[2], name), name)\n"])
        .arg(&zip)
        .arg(&files)
        .status()
        .unwrap();
    assert!(status.success());
    zip
}

fn query(server: &Server, token: &str, body: Value) -> Value {
    let (status, _, text) = http_request(
        server.http,
        "POST",
        "/api/v2/query",
        &[("Authorization", &format!("Bearer {token}")), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_plausible_export_imports_as_history_and_the_stats_api_shows_its_days() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data.to_str().unwrap()]);
        let output = run_cli(&all);
        assert!(output.status.success(), "hitkeep {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    cli(&["site", "add", SITE, "--timezone", "Europe/Berlin"]);
    let line = cli(&["token", "create", "--name", "plausible", "--site", SITE, "--scope", "read"]);
    let token: String = line[line.find("hkt_").unwrap()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let zip = build_export(dir.path());
    let mut server = Server::start(&data, &[]);
    let out = cli(&["import", zip.to_str().unwrap(), "--site", SITE, "--quiet"]);
    assert!(out.contains("imported the Plausible export"), "{out}");
    assert!(
        out.contains(&format!("imported_visitors {DAYS}")) && out.contains("imported_sources 60"),
        "{out}"
    );

    let per_day = |include: bool| {
        let mut body = json!({
            "site_id": SITE,
            "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
            "date_range": ["2026-01-01", format!("2026-01-{DAYS:02}")],
            "dimensions": ["time:day"],
        });
        if include {
            body["include"] = json!({"imports": true});
        }
        query(&server, &token, body)
    };
    let answer = per_day(true);
    assert_eq!(answer["meta"]["imports_included"], true, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), DAYS as usize);
    for (i, row) in results.iter().enumerate() {
        let d = day_of(i as u32);
        assert_eq!(row["dimensions"], json!([date(i as u32)]));
        let m = &row["metrics"];
        assert_eq!(
            (m[0].as_u64(), m[1].as_u64(), m[2].as_u64()),
            (Some(d.visitors), Some(d.visits), Some(d.pageviews))
        );
        let bounce = d.bounces as f64 / d.visits as f64 * 100.0;
        assert!((m[3].as_f64().unwrap() - bounce).abs() <= 0.5, "{row}: bounce {bounce}");
        let duration = d.visit_duration as f64 / d.visits as f64;
        assert!((m[4].as_f64().unwrap() - duration).abs() <= 0.5, "{row}: duration {duration}");
    }
    // Without `include.imports` the site has nothing; the answer does not say imports.
    let native = per_day(false);
    assert_eq!(native["results"], json!([]), "{native}");
    assert!(native["meta"].get("imports_included").is_none());

    // Breakdowns come from their tables.
    let breakdown = |dimension: &str, metric: &str| -> BTreeMap<String, u64> {
        let answer = query(
            &server,
            &token,
            json!({"site_id": SITE, "metrics": [metric], "date_range": "all", "dimensions": [dimension],
                   "include": {"imports": true}}),
        );
        assert_eq!(answer["meta"]["imports_included"], true, "{answer}");
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["dimensions"][0].as_str().unwrap_or("(none)").to_owned(),
                    row["metrics"][0].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let total = |f: fn(Day) -> u64| (0..DAYS).map(|i| f(day_of(i))).sum::<u64>();
    let sources = breakdown("visit:source", "visitors");
    let google: u64 = (0..DAYS).map(|i| day_of(i).visitors * 3 / 5).sum();
    assert_eq!(sources.get("Google"), Some(&google), "{sources:?}");
    assert_eq!(sources.values().sum::<u64>(), total(|d| d.visitors));
    assert_eq!(breakdown("visit:device", "visits").get("Desktop"), Some(&total(|d| d.visits)));
    let pricing: u64 = (0..DAYS).map(|i| u64::from(31 + i)).sum();
    assert_eq!(breakdown("event:page", "pageviews").get("/pricing"), Some(&pricing));
    let signups: u64 = (0..DAYS).map(|i| u64::from(4 + i % 4)).sum();
    assert_eq!(breakdown("event:name", "events").get("Signup"), Some(&signups));

    // What imports cannot answer is answered without them, saying why.
    let filtered = query(
        &server,
        &token,
        json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "all", "filters": [["is", "visit:source", ["Google"]]],
               "include": {"imports": true}}),
    );
    assert_eq!(filtered["meta"]["imports_included"], false);
    assert_eq!(filtered["meta"]["imports_skip_reason"], "unsupported_query");

    // Importing again stores it once.
    cli(&["import", zip.to_str().unwrap(), "--site", SITE, "--quiet"]);
    let again = per_day(true);
    assert_eq!(again["results"], answer["results"]);
    server.stop();
}
