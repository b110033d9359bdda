//! Stats end to end: events with their own time, IP address and user agent sent to the
//! backfill API of the real `hitkeep serve` (through its edge, spool, NATS and pipeline),
//! then the Stats API and `hitkeep stats` compared with numbers computed here from the
//! events sent; and neither an address nor a user agent anywhere in the data directory.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

const SITE: &str = "shop.example";
const MIN: i64 = 60_000;
/// 2026-03-09 00:00 in New York (EDT, UTC-4): the day after clocks went forward.
const DAY: i64 = 1_773_028_800_000;

fn call(addr: SocketAddr, method: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let (status, _, body) = http_request(addr, method, path, &headers, body.to_string().as_bytes());
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn cli(data_dir: &Path, args: &[&str]) -> String {
    let dir = data_dir.to_str().unwrap();
    let mut all = args.to_vec();
    all.extend(["--data-dir", dir]);
    let output = run_cli(&all);
    assert!(output.status.success(), "hitkeep {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn token_of(output: &str) -> String {
    let start = output.find("hkt_").expect("a token is printed");
    output[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

/// A visitor: an address and a browser.
struct Person {
    ip: &'static str,
    user_agent: &'static str,
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
const BOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

#[test]
fn backfilled_events_come_out_of_the_stats_api_as_computed_here() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    cli(data, &["site", "add", SITE, "--timezone", "America/New_York"]);
    let writer =
        token_of(&cli(data, &["token", "create", "--name", "import", "--site", SITE, "--scope", "write"]));
    let reader =
        token_of(&cli(data, &["token", "create", "--name", "report", "--site", SITE, "--scope", "read"]));
    // The rollup builder every second, so that the test sees it take over.
    let config = data.join("hitkeep.toml");
    std::fs::write(&config, "rollup_interval_secs = 1\n").unwrap();
    let server = Server::start(data, &["--config", config.to_str().unwrap()]);

    let people = [
        Person { ip: "203.0.113.7", user_agent: FIREFOX },
        Person { ip: "198.51.100.23", user_agent: SAFARI },
        Person { ip: "2001:db8::42", user_agent: CHROME },
        Person { ip: "192.0.2.99", user_agent: FIREFOX },
    ];
    // (person, minutes after DAY, path, referrer, name)
    let plan: Vec<(usize, i64, &str, Option<&str>, &str)> = vec![
        // Visit 1: from Google, three pages.
        (0, 9 * 60, "/", Some("https://www.google.com/"), "pageview"),
        (0, 9 * 60 + 2, "/pricing", None, "pageview"),
        (0, 9 * 60 + 5, "/checkout", None, "pageview"),
        // Visit 2: the same person two hours later, direct, one page: a bounce.
        (0, 11 * 60 + 30, "/blog/launch", None, "pageview"),
        // Visit 3: from Hacker News, a page and a signup.
        (1, 10 * 60, "/blog/launch", Some("https://news.ycombinator.com/item?id=1"), "pageview"),
        (1, 10 * 60 + 1, "/blog/launch", None, "Signup"),
        // Visit 4: late at night, across local midnight into the next day.
        (2, 23 * 60 + 50, "/", None, "pageview"),
        (2, 24 * 60 + 10, "/docs", None, "pageview"),
        // Visit 5: a bounce from Google.
        (3, 14 * 60, "/pricing", Some("https://www.google.com/"), "pageview"),
    ];
    let mut events: Vec<Value> = plan
        .iter()
        .map(|(person, minute, path, referrer, name)| {
            let mut event = json!({
                "timestamp": DAY + minute * MIN,
                "ip": people[*person].ip,
                "user_agent": people[*person].user_agent,
                "name": name,
                "url": format!("https://{SITE}{path}"),
            });
            if let Some(referrer) = referrer {
                event["referrer"] = json!(referrer);
            }
            event
        })
        .collect();
    // A bot's pageview, dropped at the edge.
    events.push(json!({"timestamp": DAY + 12 * 60 * MIN, "ip": "192.0.2.1", "user_agent": BOT, "url": format!("https://{SITE}/")}));

    // A read token may not send events; a bad event refuses the request whole.
    let path = format!("/api/sites/{SITE}/backfill");
    let (status, answer) = call(server.http, "POST", &path, &reader, &json!({"events": events}));
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("insufficient_scope")));
    let mut bad = events.clone();
    bad[3]["timestamp"] = json!("yesterday");
    let (status, answer) = call(server.http, "POST", &path, &writer, &json!({"events": bad}));
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_event")));
    let (status, answer) = call(server.http, "POST", &path, &writer, &json!({"events": events}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], plan.len());
    assert_eq!(answer["results"][plan.len()]["dropped"], "bot");

    // The oracle: visits are a person's runs of events at most 30 minutes apart.
    struct Visit {
        person: usize,
        start: i64,
        end: i64,
        pages: usize,
        signup: bool,
        source: Option<&'static str>,
        entry: &'static str,
    }
    let mut visits: Vec<Visit> = Vec::new();
    for (person, minute, path, referrer, name) in &plan {
        let ts = DAY + minute * MIN;
        let source = referrer.map(|r| if r.contains("google") { "Google" } else { "Hacker News" });
        match visits.iter_mut().rev().find(|visit| visit.person == *person && ts - visit.end <= 30 * MIN) {
            Some(visit) => {
                visit.end = ts;
                visit.pages += usize::from(*name == "pageview");
                visit.signup |= *name == "Signup";
            }
            None => visits.push(Visit {
                person: *person,
                start: ts,
                end: ts,
                pages: usize::from(*name == "pageview"),
                signup: *name == "Signup",
                source,
                entry: path,
            }),
        }
    }
    let day_end = DAY + 24 * 60 * MIN;
    let on_the_day: Vec<&Visit> = visits.iter().filter(|visit| visit.start < day_end).collect();
    let bounces = on_the_day.iter().filter(|visit| visit.pages <= 1 && !visit.signup).count();
    let duration: i64 = on_the_day.iter().map(|visit| visit.end - visit.start).sum();
    let people_on_the_day: HashSet<usize> = plan
        .iter()
        .filter(|(_, minute, ..)| DAY + minute * MIN < day_end)
        .map(|(person, ..)| *person)
        .collect();
    let pageviews_on_the_day = plan
        .iter()
        .filter(|(_, minute, _, _, name)| *name == "pageview" && DAY + minute * MIN < day_end)
        .count();
    let expected = json!([
        people_on_the_day.len(),
        on_the_day.len(),
        pageviews_on_the_day,
        (100.0 * bounces as f64 / on_the_day.len() as f64).round() as i64,
        (duration as f64 / 1000.0 / on_the_day.len() as f64).round() as i64,
    ]);

    // The events reach the database through the edge's spool and NATS: wait for them.
    let totals = json!({"site_id": SITE, "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
                        "date_range": ["2026-03-09", "2026-03-09"]});
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let (status, answer) = call(server.http, "POST", "/api/v2/query", &reader, &totals);
        assert_eq!(status, 200, "{answer}");
        if answer["results"][0]["metrics"][2] == expected[2] {
            break answer;
        }
        assert!(Instant::now() < deadline, "the events were not stored: {answer}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(answer["results"][0]["metrics"], expected, "{answer}");
    // The backfilled day has long settled: the server's builder rolls it up (the events
    // marked it dirty) and the numbers, now from the rollups, stay the same.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log().contains("rollups built") {
        assert!(Instant::now() < deadline, "no rollups built:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, again) = call(server.http, "POST", "/api/v2/query", &reader, &totals);
    assert_eq!(again["results"][0]["metrics"], expected, "{again}");
    assert_eq!(
        answer["query"]["date_range"],
        json!(["2026-03-09T00:00:00-04:00", "2026-03-09T23:59:59-04:00"])
    );

    // By source, as computed here.
    let mut by_source: HashMap<&str, usize> = HashMap::new();
    for visit in &on_the_day {
        *by_source.entry(visit.source.unwrap_or("Direct / None")).or_default() += 1;
    }
    let (_, answer) = call(
        server.http,
        "POST",
        "/api/v2/query",
        &reader,
        &json!({"site_id": SITE, "metrics": ["visits"], "date_range": ["2026-03-09", "2026-03-09"], "dimensions": ["visit:source"]}),
    );
    let rows: HashMap<String, u64> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["dimensions"][0].as_str().unwrap().to_owned(), row["metrics"][0].as_u64().unwrap()))
        .collect();
    let expected_rows: HashMap<String, u64> =
        by_source.iter().map(|(k, v)| ((*k).to_owned(), *v as u64)).collect();
    assert_eq!(rows, expected_rows);
    // Entry pages, and the visit across midnight counted on the day it started.
    let (_, answer) = call(
        server.http,
        "POST",
        "/api/v2/query",
        &reader,
        &json!({"site_id": SITE, "metrics": ["visits"], "date_range": ["2026-03-10", "2026-03-10"]}),
    );
    assert_eq!(answer["results"][0]["metrics"], json!([0]), "the night visit started on the 9th");
    let entries: HashSet<&str> = on_the_day.iter().map(|visit| visit.entry).collect();
    let (_, answer) = call(
        server.http,
        "POST",
        "/api/v2/query",
        &reader,
        &json!({"site_id": SITE, "metrics": ["visits"], "date_range": ["2026-03-09", "2026-03-09"], "dimensions": ["visit:entry_page"]}),
    );
    let pages: HashSet<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["dimensions"][0].as_str().unwrap())
        .collect();
    assert_eq!(pages, entries);

    // The command line, through the running server's control socket.
    let report = cli(
        data,
        &[
            "stats",
            "--site",
            SITE,
            "--range",
            "2026-03-09..2026-03-09",
            "--dimensions",
            "visit:source",
            "--metrics",
            "visits",
        ],
    );
    assert!(
        report.contains("visit:source") && report.contains("Google") && report.contains("Hacker News"),
        "{report}"
    );
    let json_report: Value = serde_json::from_str(&cli(
        data,
        &["stats", "--site", SITE, "--range", "2026-03-09..2026-03-09", "--json"],
    ))
    .unwrap();
    assert_eq!(json_report["results"][0]["metrics"][0], expected[0]);

    // Goals and funnels from the command line, through the running server.
    cli(data, &["goal", "add", SITE, "--event", "Signup"]);
    let goals = cli(
        data,
        &[
            "stats",
            "--site",
            SITE,
            "--range",
            "2026-03-09..2026-03-09",
            "--dimensions",
            "event:goal",
            "--metrics",
            "visitors,conversion_rate",
            "--json",
        ],
    );
    let goals: Value = serde_json::from_str(&goals).unwrap();
    let rate = (1000.0 / people_on_the_day.len() as f64).round() / 10.0;
    assert_eq!(goals["results"], json!([{"metrics": [1, rate], "dimensions": ["Signup"]}]));
    cli(
        data,
        &["funnel", "add", SITE, "--name", "Launch", "--step", "page:/blog/launch", "--step", "event:Signup"],
    );
    let report: Value = serde_json::from_str(&cli(
        data,
        &["funnel", "report", SITE, "Launch", "--range", "2026-03-09..2026-03-09", "--json"],
    ))
    .unwrap();
    let visitors: Vec<u64> =
        report["steps"].as_array().unwrap().iter().map(|step| step["visitors"].as_u64().unwrap()).collect();
    assert_eq!(visitors, [2, 1], "two read the launch post, one signed up after it");
    assert!(
        cli(data, &["funnel", "report", SITE, "Launch", "--range", "2026-03-09..2026-03-09"])
            .contains("event Signup")
    );

    let mut server = server;
    server.stop();
    // No address and no user agent reached the data directory (the database, its log, the
    // spool, the server's log).
    for secret in people.iter().map(|p| p.ip).chain([FIREFOX, SAFARI, CHROME, BOT, "192.0.2.1"]) {
        for entry in walk(data) {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|window| window == secret.as_bytes()),
                "{secret} found in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files.extend(walk(&entry.path()));
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files
}

/// Reads server-sent events from `stream` until one named `realtime` arrives; its data.
fn next_realtime(stream: &mut std::net::TcpStream, buffer: &mut String, timeout: Duration) -> Value {
    use std::io::Read;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(start) = buffer.find("event: realtime\n")
            && let Some(end) = buffer[start..].find("\n\n")
        {
            let block = buffer[start..start + end].to_owned();
            buffer.replace_range(..start + end + 2, "");
            let data = block.lines().find_map(|line| line.strip_prefix("data: ")).expect("data");
            return serde_json::from_str(data).unwrap();
        }
        assert!(Instant::now() < deadline, "no realtime event; got {buffer:?}");
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => panic!("the stream ended"),
            Ok(read) => buffer.push_str(&String::from_utf8_lossy(&chunk[..read])),
            Err(error)
                if error.kind() == std::io::ErrorKind::WouldBlock
                    || error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(error) => panic!("{error}"),
        }
    }
}

#[test]
fn the_live_stream_pushes_a_new_visitor() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    cli(data, &["site", "add", SITE]);
    let writer =
        token_of(&cli(data, &["token", "create", "--name", "live", "--site", SITE, "--scope", "write"]));
    let server = Server::start(data, &[]);

    let mut stream = std::net::TcpStream::connect(server.http).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    write!(
        stream,
        "GET /api/sites/{SITE}/realtime/stream HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nAuthorization: Bearer {writer}\r\n\r\n"
    )
    .unwrap();
    let mut buffer = String::new();
    let first = next_realtime(&mut stream, &mut buffer, Duration::from_secs(30));
    assert_eq!(first["visitors"], 0);

    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = json!({"events": [{"timestamp": now_ms, "ip": "203.0.113.50", "user_agent": FIREFOX, "url": format!("https://{SITE}/live")}]});
    let sent = Instant::now();
    let (status, answer) = call(server.http, "POST", &format!("/api/sites/{SITE}/backfill"), &writer, &event);
    assert_eq!(status, 200, "{answer}");
    let update = next_realtime(&mut stream, &mut buffer, Duration::from_secs(30));
    eprintln!("live update {} ms after the event was sent", sent.elapsed().as_millis());
    assert_eq!(update["visitors"], 1);
    assert_eq!(update["pages"], json!([["/live", 1]]));
}
