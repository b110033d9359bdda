//! Takeout and import: `hitkeep export` (through a running `serve`, and in-process) and the
//! API's export, read back with tools independent of Hitkeep (DuckDB's Python package for
//! Parquet, Python's `csv` and `json`) and compared row by row with the events sent; then
//! `hitkeep import` into another instance, twice, storing each event once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use hitkeep_protocol::{AckStatus, Hit};
use serde_json::{Value, json};

use crate::harness::*;

/// A shop (the traffic generator gives it purchases with revenue).
const SITE: &str = "takeout-shop.example";

fn cli(data_dir: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--data-dir", data_dir.to_str().unwrap()]);
    let output = run_cli(&all);
    assert!(output.status.success(), "hitkeep {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The rows of a takeout as `takeout_read.py` prints them (each a canonical object).
fn read_back(format: &str, source: &[&str]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/takeout_read.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(format)
        .args(source)
        .output()
        .expect("python3 runs (scripts/test.sh installs duckdb)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A sent hit as a takeout row reads back (visitor and visit ids are the server's own).
fn expected(hit: &Hit) -> Value {
    let props: BTreeMap<&str, &str> = hit.props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    json!({
        "site": SITE,
        "time": hit.ts * 1000,
        "kind": hitkeep_store::kind_label(hit.kind),
        "name": hit.name,
        "hostname": hit.hostname,
        "path": hit.path,
        "referrer": hit.referrer,
        "source": hit.source,
        "channel": hit.channel.label(),
        "utm_source": hit.utm.source,
        "utm_medium": hit.utm.medium,
        "utm_campaign": hit.utm.campaign,
        "utm_content": hit.utm.content,
        "utm_term": hit.utm.term,
        "country": hit.country,
        "region": hit.region,
        "city": hit.city,
        "browser": hit.browser,
        "browser_version": hit.browser_version,
        "os": hit.os,
        "os_version": hit.os_version,
        "device": hitkeep_store::device_name(hit.device),
        "revenue": hit.revenue.as_ref().map(|r| r.amount_micros),
        "revenue_currency": hit.revenue.as_ref().map(|r| r.currency.clone()),
        "interactive": hit.interactive,
        "props": props,
        "schema_version": hitkeep_store::TAKEOUT_SCHEMA_VERSION,
    })
}

/// Rows without their ids (checked apart), sorted, as text: a multiset to compare.
fn comparable(rows: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            let object = row.as_object_mut().unwrap();
            for id in ["visitor_id", "session_id"] {
                if let Some(value) = object.remove(id) {
                    let text = value.as_str().unwrap();
                    assert!(text.len() == 16 && u64::from_str_radix(text, 16).is_ok(), "{id} {text}");
                }
            }
            serde_json::to_string(&row).unwrap()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_takeout_reads_back_row_by_row_in_every_format_and_imports_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    cli(&data, &["site", "add", SITE]);
    let token_line = cli(&data, &["token", "create", "--name", "takeout", "--site", SITE, "--scope", "read"]);
    let token: String = token_line[token_line.find("hkt_").unwrap()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let mut server = Server::start(&data, &[]);
    let batches = traffic_batches(SITE, 11, 6_000, 250, "edge-takeout");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let client = nats(&server.nats_url).await;
        for batch in &batches {
            let ack = send_batch(&client, batch).await.unwrap();
            assert_eq!(ack.status, AckStatus::Stored, "{ack:?}");
        }
    });
    let hits: Vec<&Hit> = batches.iter().flat_map(|batch| batch.hits.iter()).collect();
    let sent: Vec<Value> = hits.iter().map(|hit| expected(hit)).collect();
    let sent = comparable(&sent);
    assert!(sent.iter().any(|row| row.contains("\"revenue\":") && !row.contains("\"revenue\":null")));
    assert!(sent.iter().any(|row| !row.contains("\"props\":{}")));

    // Every format through the running server's socket, read back independently.
    for format in ["parquet", "csv", "json", "ndjson"] {
        let file = dir.path().join(format!("events.{format}"));
        let out = cli(&data, &["export", "--site", SITE, "--output", file.to_str().unwrap(), "--quiet"]);
        assert!(out.starts_with(&format!("exported {} events", hits.len())), "{out}");
        let rows = read_back(format, &[file.to_str().unwrap()]);
        assert_eq!(rows.len(), hits.len(), "{format}");
        assert_eq!(comparable(&rows), sent, "{format}: the rows differ from the events sent");
    }

    // The API, with a read token: a day of the range and a filter, as NDJSON.
    let day = hits.iter().map(|hit| hit.ts).min().unwrap();
    let date = chrono::DateTime::from_timestamp_millis(day).unwrap().format("%Y-%m-%d").to_string();
    let filters = r#"[["is","visit:device",["Mobile"]]]"#;
    let url = format!(
        "http://{}/api/sites/{SITE}/export?format=ndjson&date_range={date},{date}&filters={}",
        server.http,
        filters.replace('"', "%22").replace('[', "%5B").replace(']', "%5D").replace(',', "%2C")
    );
    let mut rows = read_back("ndjson", &[&url, &token]);
    let header = rows.remove(0);
    let start = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap();
    let start_ms = start.and_utc().timestamp_millis();
    // Whole visits on a mobile device: the visit's first hit says (the sent hits carry it).
    let mobile_sessions: std::collections::HashSet<String> =
        rows.iter().map(|row| row["session_id"].as_str().unwrap().to_owned()).collect();
    let in_day = hits.iter().filter(|hit| hit.ts >= start_ms && hit.ts < start_ms + 86_400_000);
    let mobile_in_day = in_day.filter(|hit| hit.device == hitkeep_protocol::Device::Mobile).count();
    assert!(!rows.is_empty() && !mobile_sessions.is_empty());
    assert!(rows.len() >= mobile_in_day, "{} rows, {mobile_in_day} mobile hits that day", rows.len());
    assert_eq!(header["rows_header"], json!(rows.len().to_string()));
    for row in &rows {
        let time = row["time"].as_i64().unwrap() / 1000;
        assert!((start_ms..start_ms + 86_400_000).contains(&time), "{row}");
    }
    // Parquet over the API too, in full.
    let url = format!("http://{}/api/sites/{SITE}/export?format=parquet", server.http);
    let mut rows = read_back("parquet", &[&url, &token]);
    rows.remove(0);
    assert_eq!(comparable(&rows), sent);
    // Refusals: a bad format, a bad filter; no token.
    let (status, _, body) = http_request(
        server.http,
        "GET",
        &format!("/api/sites/{SITE}/export?format=xlsx"),
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid_export"), "{body}");
    let (status, _, _) = http_request(server.http, "GET", &format!("/api/sites/{SITE}/export"), &[], b"");
    assert_eq!(status, 401);
    server.stop();

    // In-process (no server), the same rows.
    let file = dir.path().join("offline.ndjson");
    cli(&data, &["export", "--site", SITE, "--output", file.to_str().unwrap(), "--quiet"]);
    assert_eq!(comparable(&read_back("ndjson", &[file.to_str().unwrap()])), sent);

    // Into another instance: each format once, the Parquet file again; every event stored once.
    let other = dir.path().join("other");
    cli(&other, &["site", "add", "copy.example"]);
    let parquet = dir.path().join("events.parquet");
    let out = cli(&other, &["import", parquet.to_str().unwrap(), "--site", "copy.example", "--quiet"]);
    assert!(out.contains(&format!("{} stored, 0 already there", hits.len())), "{out}");
    for format in ["csv", "json", "ndjson", "parquet"] {
        let file = dir.path().join(format!("events.{format}"));
        let out = cli(&other, &["import", file.to_str().unwrap(), "--site", "copy.example", "--quiet"]);
        assert!(out.contains(&format!("0 stored, {} already there", hits.len())), "{format}: {out}");
    }
    // The copy exports what the original did, and its numbers are the original's.
    let copy = dir.path().join("copy.ndjson");
    cli(&other, &["export", "--site", "copy.example", "--output", copy.to_str().unwrap(), "--quiet"]);
    let copied: Vec<Value> = read_back("ndjson", &[copy.to_str().unwrap()])
        .into_iter()
        .map(|mut row| {
            row["site"] = json!(SITE);
            row
        })
        .collect();
    assert_eq!(comparable(&copied), sent);
    let totals = |data: &Path, site: &str| -> Value {
        let out = cli(
            data,
            &[
                "stats",
                "--site",
                site,
                "--range",
                "all",
                "--metrics",
                "visitors,visits,pageviews,bounce_rate",
                "--json",
            ],
        );
        serde_json::from_str::<Value>(&out).unwrap()["results"][0]["metrics"].clone()
    };
    assert_eq!(totals(&other, "copy.example"), totals(&data, SITE));
    // Retention on the command line: days, for ever, the instance's default; bad input refused.
    let set = |days: &str| cli(&other, &["site", "set-retention", "copy.example", days]);
    assert_eq!(set("400"), "copy.example keeps its events for 400 days\n");
    assert_eq!(set("0"), "copy.example keeps its events for ever\n");
    assert!(set("default").contains("instance's default"));
    let refused =
        run_cli(&["site", "set-retention", "copy.example", "99999", "--data-dir", other.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid_retention"));
    // A site the takeout names that the instance lacks is refused, with nothing stored.
    let third = dir.path().join("third");
    cli(&third, &["site", "add", "unrelated.example"]);
    let output =
        run_cli(&["import", parquet.to_str().unwrap(), "--data-dir", third.to_str().unwrap(), "--quiet"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist here"));
    // Compacting keeps every event.
    let out = cli(&other, &["compact"]);
    assert!(out.starts_with("compacted "), "{out}");
    assert_eq!(open_store(&other).counts().unwrap().events, hits.len() as u64);
}
