//! E-mail reports and alerts, through a real SMTP server (`aiosmtpd`) and the real binary
//! whose clock is moved (`HITKEEP_TEST_CLOCK`) to around the hour a report falls due; the
//! messages are read with Python's own MIME parser.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use hitkeep_protocol::{AckStatus, Batch, EventKind, Hit};
use serde_json::{Value, json};

use crate::harness::*;

const SITE: &str = "reports.example";

fn cli(data_dir: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--data-dir", data_dir.to_str().unwrap()]);
    let output = run_cli(&all);
    assert!(output.status.success(), "hitkeep {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn token(data_dir: &Path) -> String {
    let line = cli(data_dir, &["token", "create", "--name", "reports", "--site", SITE, "--scope", "write"]);
    line[line.find("hkt_").unwrap()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn config(dir: &Path, smtp: &Smtp) -> PathBuf {
    let path = dir.join("hitkeep.toml");
    std::fs::write(
        &path,
        format!(
            "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nsmtp_from = \"Hitkeep <hitkeep@localhost>\"\nreport_hour = 7\n",
            smtp.port
        ),
    )
    .unwrap();
    path
}

fn api(server: &Server, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let auth = format!("Bearer {token}");
    let (status, _, text) = http_request(
        server.http,
        method,
        path,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body,
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The messages as `mail_read.py` reads them.
fn read_mail(files: &[PathBuf]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/mail_read.py");
    let output = Command::new("python3").arg(script).args(files).output().expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn part<'m>(message: &'m Value, content_type: &str) -> &'m str {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part["type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {message}"))["text"]
        .as_str()
        .unwrap()
}

/// A whole number with a thousands separator.
fn grouped(n: f64, separator: char) -> String {
    let digits = (n as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn send(server: &Server, batches: &[Batch]) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = nats(&server.nats_url).await;
        for batch in batches {
            let ack = send_batch(&client, batch).await.unwrap();
            assert_eq!(ack.status, AckStatus::Stored, "{ack:?}");
        }
    });
}

fn stop_quietly_before(server: &mut Server, smtp: &Smtp) {
    server.stop();
    assert!(smtp.messages().is_empty(), "nothing is sent before the hour");
}

/// A German weekly report across New York's spring change and an English daily one: none
/// before 07:00 local time, each once after it although the server restarts around the
/// hour, the numbers the site has, and the day missed while the server was down sent when
/// it comes back. Then the unsubscribe link.
#[test]
fn reports_go_out_once_at_their_hour_in_the_sites_zone_and_a_missed_one_is_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path());
    let config = config(dir.path(), &smtp);
    let config = config.to_str().unwrap();
    let data = dir.path().join("data");
    cli(&data, &["site", "add", SITE, "--timezone", "America/New_York"]);
    let token = token(&data);
    // Monday 9 March 2026, the day after clocks went forward: 07:00 EDT.
    let due = at("2026-03-09T07:00:00-04:00");
    let clock = |offset_secs: i64| (due + chrono::Duration::seconds(offset_secs)).to_rfc3339();

    let mut server =
        Server::start_with_env(&data, &["--config", config], &[("HITKEEP_TEST_CLOCK", &clock(-40))]);
    // Sixteen days of traffic up to Tuesday 10 March, 00:00 in New York.
    let traffic = hitkeep_traffic::TrafficConfig {
        seed: 5,
        sites: vec![SITE.to_string()],
        hits: 4_000,
        days: 16,
        end_ms: at("2026-03-10T00:00:00-04:00").timestamp_millis(),
    };
    let batches: Vec<Batch> =
        hitkeep_traffic::batches(hitkeep_traffic::Traffic::new(traffic), "edge-reports", 200).collect();
    send(&server, &batches);
    let hits: Vec<&Hit> = batches.iter().flat_map(|batch| &batch.hits).collect();
    let pageviews_between = |from: &str, to: &str| {
        let (from, to) = (at(from).timestamp_millis(), at(to).timestamp_millis());
        hits.iter().filter(|hit| hit.kind == EventKind::Pageview && (from..to).contains(&hit.ts)).count()
            as f64
    };

    let reports = format!("/api/sites/{SITE}/reports");
    let (status, weekly) = api(
        &server,
        &token,
        "POST",
        &reports,
        json!({"email": "ada@example.com", "frequency": "weekly", "language": "de"}),
    );
    assert_eq!(status, 201, "{weekly}");
    let (status, daily) =
        api(&server, &token, "POST", &reports, json!({"email": "bob@example.com", "frequency": "daily"}));
    assert_eq!(status, 201, "{daily}");
    let (status, error) =
        api(&server, &token, "POST", &reports, json!({"email": "bob@example.com", "frequency": "daily"}));
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("mailing_exists")), "{error}");
    let (status, error) = api(
        &server,
        &token,
        "POST",
        &reports,
        json!({"email": "eve@example.com", "frequency": "weekly", "language": "xx"}),
    );
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_language")), "{error}");
    assert_eq!(http_request(server.http, "GET", &reports, &[], b"").0, 401);
    let (_, listed) = api(&server, &token, "GET", &reports, Value::Null);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // The numbers the site has for the week, to compare with the mail's.
    let (status, week) = api(
        &server,
        &token,
        "POST",
        "/api/v2/query",
        json!({"site_id": SITE, "metrics": ["visitors", "visits", "pageviews"], "date_range": ["2026-03-02", "2026-03-08"]}),
    );
    assert_eq!(status, 200, "{week}");
    let week = &week["results"][0]["metrics"];
    let pageviews = pageviews_between("2026-03-02T00:00:00-05:00", "2026-03-09T00:00:00-04:00");
    assert_eq!(week[2].as_f64(), Some(pageviews), "the engine counts what was sent");
    // Stopped at 06:59:40 or so, before the hour.
    stop_quietly_before(&mut server, &smtp);

    // Back at 07:00:05: both reports, once, at once.
    let mut server =
        Server::start_with_env(&data, &["--config", config], &[("HITKEEP_TEST_CLOCK", &clock(5))]);
    let files = smtp.wait_for_messages(2, Duration::from_secs(30));
    server.stop();
    // And again at 07:01: nothing new.
    let mut server =
        Server::start_with_env(&data, &["--config", config], &[("HITKEEP_TEST_CLOCK", &clock(60))]);
    std::thread::sleep(Duration::from_secs(3));
    server.stop();
    assert_eq!(smtp.messages(), files, "each report once, across restarts");

    let messages = read_mail(&files);
    let weekly_mail = messages.iter().find(|m| m["to"] == "ada@example.com").expect("the weekly report");
    let daily_mail = messages.iter().find(|m| m["to"] == "bob@example.com").expect("the daily report");
    for message in &messages {
        assert_eq!(message["content_type"], "multipart/alternative", "{message}");
        assert_eq!(message["defects"], json!([]), "{message}");
        assert_eq!(message["parts"][0]["type"], "text/plain");
        assert_eq!(message["parts"][1]["type"], "text/html");
        assert_eq!(message["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
        assert!(!part(message, "text/html").contains("<img"), "readable without images");
    }
    let de = |n: f64| grouped(n, '.');
    let visitors = week[0].as_f64().unwrap();
    assert_eq!(weekly_mail["subject"], format!("Wochenbericht für {SITE}: {} Besucher", de(visitors)));
    let text = part(weekly_mail, "text/plain");
    assert!(text.contains("2. März 2026 \u{2013} 8. März 2026"), "{text}");
    assert!(text.contains(&format!("Besucher: {}", de(visitors))), "{text}");
    assert!(text.contains(&format!("Besuche: {}", de(week[1].as_f64().unwrap()))), "{text}");
    assert!(text.contains(&format!("Seitenaufrufe: {}", de(pageviews))), "{text}");
    assert!(text.contains("Top-Seiten") && text.contains("Abbestellen"), "{text}");
    let html = part(weekly_mail, "text/html");
    assert!(html.contains("lang=\"de\"") && html.contains(&de(pageviews)), "{html}");
    assert!(
        html.contains(&format!("/sites/{SITE}?period=custom&amp;from=2026-03-02&amp;to=2026-03-08")),
        "{html}"
    );
    // The daily report is Sunday's, in English.
    let sunday = pageviews_between("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00");
    assert!(daily_mail["subject"].as_str().unwrap().starts_with(&format!("Daily report for {SITE}: ")));
    let text = part(daily_mail, "text/plain");
    assert!(text.contains("\n8 March 2026\n"), "{text}");
    assert!(text.contains(&format!("Pageviews: {}", grouped(sunday, ','))), "{text}");

    // Down all Monday; back on Tuesday at noon: Monday's daily report is caught up.
    let mut server = Server::start_with_env(
        &data,
        &["--config", config],
        &[("HITKEEP_TEST_CLOCK", "2026-03-10T12:00:00-04:00")],
    );
    let files = smtp.wait_for_messages(3, Duration::from_secs(30));
    assert_eq!(files.len(), 3);
    let caught_up = &read_mail(&files[2..])[0];
    assert_eq!(caught_up["to"], "bob@example.com");
    let text = part(caught_up, "text/plain");
    assert!(text.contains("\n9 March 2026\n"), "{text}");
    let monday = pageviews_between("2026-03-09T00:00:00-04:00", "2026-03-10T00:00:00-04:00");
    assert!(text.contains(&format!("Pageviews: {}", grouped(monday, ','))), "{text}");

    // Its unsubscribe link: the page asks, the button (or a one-click POST) does it.
    let link = caught_up["list_unsubscribe"].as_str().unwrap().trim_matches(['<', '>']).to_owned();
    let path = &link[link.find("/unsubscribe/").unwrap()..];
    let (status, headers, page) = http_request(server.http, "GET", path, &[], b"");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form method=\"post\">"), "{page}");
    assert!(header(&headers, "content-security-policy").unwrap().contains("script-src 'self'"));
    assert!(page.contains("lang=\"en\"") && !page.contains("<script"), "{page}");
    let (_, listed) = api(&server, &token, "GET", &reports, Value::Null);
    assert_eq!(listed.as_array().unwrap().len(), 2, "opening the link changes nothing");
    let (status, _, page) = http_request(
        server.http,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"List-Unsubscribe=One-Click",
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("role=\"status\""), "{page}");
    let (_, listed) = api(&server, &token, "GET", &reports, Value::Null);
    assert_eq!(
        listed.as_array().unwrap().iter().map(|s| s["email"].clone()).collect::<Vec<_>>(),
        [json!("ada@example.com")]
    );
    let (status, _, _) = http_request(server.http, "GET", "/unsubscribe/hkx_nothing", &[], b"");
    assert_eq!(status, 404);
    let log = server.log();
    server.stop();
    assert!(!log.contains("@example.com"), "no address in the log:\n{log}");
    assert!(!log.contains(&path["/unsubscribe/".len()..]), "no unsubscribe secret in the log");
    // The database holds the digest of the link's secret, not the secret.
    let dump = std::fs::read(data.join("hitkeep.db")).unwrap();
    let secret = &path["/unsubscribe/".len()..];
    assert!(!dump.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

/// An alert on current visitors fires once for an episode, in French.
#[test]
fn an_alert_on_current_visitors_fires_once_per_episode() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path());
    let config = config(dir.path(), &smtp);
    let data = dir.path().join("data");
    cli(&data, &["site", "add", SITE, "--timezone", "Europe/Paris"]);
    let token = token(&data);
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let alerts = format!("/api/sites/{SITE}/alerts");
    let (status, alert) = api(
        &server,
        &token,
        "POST",
        &alerts,
        json!({"email": "ops@example.com", "kind": "visitors_above", "threshold": 3, "language": "fr"}),
    );
    assert_eq!(status, 201, "{alert}");
    let (status, error) = api(
        &server,
        &token,
        "POST",
        &alerts,
        json!({"email": "ops@example.com", "kind": "traffic_drop", "threshold": 150}),
    );
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_alert")), "{error}");

    // Five visitors a minute ago.
    let template = hitkeep_traffic::batches(
        hitkeep_traffic::Traffic::new(hitkeep_traffic::TrafficConfig {
            seed: 1,
            sites: vec![SITE.to_string()],
            hits: 50,
            days: 1,
            end_ms: 1_767_225_600_000,
        }),
        "edge-alerts",
        50,
    )
    .flat_map(|batch| batch.hits)
    .find(|hit| hit.kind == EventKind::Pageview)
    .unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let visitors = |ids: std::ops::Range<u64>, batch: &str| Batch {
        v: hitkeep_protocol::ENVELOPE_VERSION,
        id: batch.into(),
        edge: "edge-alerts".into(),
        hits: ids
            .map(|id| Hit { ts: now_ms - 60_000, visitor: 1_000 + id, visitor_prev: 0, ..template.clone() })
            .collect(),
    };
    send(&server, &[visitors(0..5, "alert-1")]);
    let files = smtp.wait_for_messages(1, Duration::from_secs(40));
    let message = &read_mail(&files)[0];
    assert_eq!(message["to"], "ops@example.com");
    assert_eq!(message["subject"], format!("{SITE} : 5 visiteurs en ce moment"));
    assert!(part(message, "text/plain").contains("au-dessus du seuil de votre alerte, 3"));
    // More visitors in the same episode: no second message (a tick is 15 s).
    send(&server, &[visitors(5..9, "alert-2")]);
    std::thread::sleep(Duration::from_secs(20));
    assert_eq!(smtp.messages().len(), 1, "one message per episode");
    let (_, listed) = api(&server, &token, "GET", &alerts, Value::Null);
    assert!(listed[0]["episode_start_ms"].is_i64(), "{listed}");
    let (status, _) = api(&server, &token, "DELETE", &format!("{alerts}/{}", alert["id"]), Value::Null);
    assert_eq!(status, 204);
}
