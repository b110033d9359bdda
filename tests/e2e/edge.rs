//! Events through the collector component: `hitkeep serve` alone (the embedded edge), and
//! `hitkeep serve` with a separate `hitkeep-edge` through the embedded broker and through
//! Debian's `nats-server`; an aggregator outage under load; `kill -9` of the edge; the HTTP
//! batch endpoint with edge tokens; and no IP address or user agent anywhere in what is kept.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::harness::*;

pub(crate) const SITE: &str = "edge-e2e.example";
/// A real browser's user agent with a marker that must never be stored or logged.
const MARKER: &str = "hkmarker";

pub(crate) fn user_agent(i: u64) -> String {
    format!(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
         Chrome/131.0.0.0 Safari/537.36 {MARKER}{i:06}"
    )
}

/// A documentation-range address (RFC 5737) per visitor.
pub(crate) fn ip(i: u64) -> String {
    format!("198.51.100.{}", 1 + i % 250)
}

pub(crate) fn add_site(data_dir: &Path) {
    let out = run_cli(&["site", "--data-dir", data_dir.to_str().unwrap(), "add", SITE]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A config file that trusts the loopback proxy (the test) for `X-Forwarded-For`.
fn trusting_config(data_dir: &Path) -> String {
    let path = data_dir.join("hitkeep.toml");
    std::fs::write(&path, "trusted_proxies = [\"127.0.0.1/32\"]\n").unwrap();
    path.to_str().unwrap().to_string()
}

/// Posts pageview `i` to `/api/event`; returns status and the drop reason header.
fn send_event(addr: std::net::SocketAddr, i: u64) -> (u16, Option<String>) {
    let body = format!(
        r#"{{"n":"pageview","u":"https://{SITE}/docs/page-{}?utm_source=e2e","d":"{SITE}","r":"https://www.google.com/"}}"#,
        i % 40
    );
    let (ua, ip) = (user_agent(i), ip(i));
    let headers =
        [("Content-Type", "text/plain"), ("User-Agent", ua.as_str()), ("X-Forwarded-For", ip.as_str())];
    let (status, headers, _) = http_request(addr, "POST", "/api/event", &headers, body.as_bytes());
    (status, header(&headers, "x-hitkeep-dropped").map(str::to_string))
}

/// Sends `n` events and asserts each was accepted (202, not dropped).
fn send_events(addr: std::net::SocketAddr, range: std::ops::Range<u64>) {
    for i in range {
        let (status, dropped) = send_event(addr, i);
        assert_eq!((status, dropped), (202, None), "event {i}");
    }
}

/// Every stored row and every log, searched for what must never be kept.
fn assert_no_personal_data(data_dir: &Path, logs: &[String]) {
    let needles: Vec<String> =
        vec![MARKER.to_string(), "198.51.100.".to_string(), "Chrome/131.0.0.0".to_string()];
    // The raw bytes of every file the process wrote (database, WAL, spools, logs)...
    for entry in walk(data_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|window| window == needle.as_bytes()),
                "{} holds {needle:?}",
                entry.display()
            );
        }
    }
    for log in logs {
        for needle in &needles {
            assert!(!log.contains(needle.as_str()), "a log holds {needle:?}:\n{log}");
        }
    }
    // ...and, since DuckDB compresses strings, every row of every table as text.
    let db = duckdb::Connection::open(data_dir.join("hitkeep.db")).unwrap();
    for table in ["events", "event_props", "dead_letters", "ingested_batches"] {
        for needle in &needles {
            let found: u64 = db
                .query_row(
                    &format!("SELECT count(*) FROM {table} t WHERE t::VARCHAR LIKE '%' || ? || '%'"),
                    [needle],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(found, 0, "{table} holds {needle:?}");
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_none_or(|ext| ext != "toml") {
            files.push(path);
        }
    }
    files
}

fn stored_events(data_dir: &Path) -> u64 {
    open_store(data_dir).counts().unwrap().events
}

#[test]
fn serve_alone_collects_events_and_keeps_no_ip_or_user_agent() {
    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let config = trusting_config(dir.path());
    let mut server = Server::start(dir.path(), &["--config", &config]);

    send_events(server.http, 0..300);
    // Dropped hits still answer 202, with the reason in a header.
    let bot =
        [("Content-Type", "text/plain"), ("User-Agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")];
    let body = format!(r#"{{"n":"pageview","u":"https://{SITE}/","d":"{SITE}"}}"#);
    let (status, headers, _) = http_request(server.http, "POST", "/api/event", &bot, body.as_bytes());
    assert_eq!((status, header(&headers, "x-hitkeep-dropped")), (202, Some("bot")));
    let ua = user_agent(0);
    let browser = [("Content-Type", "text/plain"), ("User-Agent", ua.as_str())];
    let unknown = r#"{"n":"pageview","u":"https://unknown.example/","d":"unknown.example"}"#;
    let (status, headers, _) = http_request(server.http, "POST", "/api/event", &browser, unknown.as_bytes());
    assert_eq!((status, header(&headers, "x-hitkeep-dropped")), (202, Some("unknown_site")));
    // Bad input: a clear error.
    let (status, _, body) = http_request(server.http, "POST", "/api/event", &browser, b"{not json");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid"), "{body}");
    // CORS preflight.
    let (status, headers, _) = http_request(
        server.http,
        "OPTIONS",
        "/api/event",
        &[("Origin", "https://edge-e2e.example"), ("Access-Control-Request-Method", "POST")],
        b"",
    );
    assert!(status == 204 || status == 200, "{status}");
    assert!(header(&headers, "access-control-allow-origin").is_some(), "{headers:?}");

    server.stop();
    assert_eq!(stored_events(dir.path()), 300);
    assert_no_personal_data(dir.path(), &[server.log()]);
}

#[test]
fn edge_tokens_guard_the_http_batch_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let data_dir = dir.path().to_str().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let out = run_cli(&["edge-token", "--data-dir", data_dir, "add", "spin-eu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret =
        stdout.lines().find(|line| line.starts_with("hke_")).expect("the secret is printed").to_string();
    let bearer = format!("Bearer {secret}");
    let auth = [("Content-Type", "application/json"), ("Authorization", bearer.as_str())];

    let batches = traffic_batches(SITE, 3, 600, 200, "spin-eu");
    let payload = batches[0].encode();
    let (status, _, body) = http_request(
        server.http,
        "POST",
        "/api/edge/batch",
        &[("Content-Type", "application/json")],
        &payload,
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("unauthorized"));
    let wrong = [("Content-Type", "application/json"), ("Authorization", "Bearer hke_0000")];
    assert_eq!(http_request(server.http, "POST", "/api/edge/batch", &wrong, &payload).0, 401);
    let text = [("Content-Type", "text/plain"), ("Authorization", bearer.as_str())];
    assert_eq!(http_request(server.http, "POST", "/api/edge/batch", &text, &payload).0, 415);

    // Spin collectors post the JSON envelope; the binary one that edges publish over NATS is
    // taken as well.
    let binary = [("Content-Type", "application/octet-stream"), ("Authorization", bearer.as_str())];
    for (index, batch) in batches.iter().enumerate() {
        let (headers, envelope) =
            if index % 2 == 0 { (&auth, batch.encode()) } else { (&binary, batch.encode_binary()) };
        let (status, _, body) = http_request(server.http, "POST", "/api/edge/batch", headers, &envelope);
        assert_eq!(status, 200, "{body}");
        let ack = hitkeep_protocol::Ack::decode(body.as_bytes()).unwrap();
        assert_eq!(ack.status, hitkeep_protocol::AckStatus::Stored);
        assert_eq!(ack.stored as usize, batch.hits.len());
    }
    // Resent: acked as a duplicate, stored once.
    let (status, _, body) = http_request(server.http, "POST", "/api/edge/batch", &auth, &payload);
    assert_eq!(status, 200);
    assert!(body.contains("duplicate"), "{body}");
    // Garbage: dead-lettered, 422 with a machine-readable reason.
    let (status, _, body) = http_request(server.http, "POST", "/api/edge/batch", &auth, b"{\"v\":9}");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("rejected"), "{body}");
    // Too large: refused before it is read.
    let huge = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(http_request(server.http, "POST", "/api/edge/batch", &auth, &huge).0, 413);

    // The configuration (sites and salts) for Spin edges.
    let (status, headers, body) = http_request(server.http, "GET", "/api/edge/config", &auth, b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert!(body.contains(SITE) && body.contains("salts"), "{body}");
    assert_eq!(http_request(server.http, "GET", "/api/edge/config", &[], b"").0, 401);

    // Revoked: refused from then on. The token list never shows a secret.
    let out = run_cli(&["edge-token", "--data-dir", data_dir, "list", "--json"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("spin-eu") && !listed.contains("hke_"), "{listed}");
    let out = run_cli(&["edge-token", "--data-dir", data_dir, "remove", "spin-eu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(http_request(server.http, "GET", "/api/edge/config", &auth, b"").0, 401);

    server.stop();
    assert!(!server.log().contains(&secret), "the token reached the log");
    let counts = open_store(dir.path()).counts().unwrap();
    assert_eq!(counts.events, hits_in(&batches));
    assert_eq!(counts.dead_letters, 1);
}

fn separate_edge_stores_exactly_once(server_args: &[&str], nats_override: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (agg_dir, edge_dir) = (dir.path().join("aggregator"), dir.path().join("edge"));
    std::fs::create_dir_all(&agg_dir).unwrap();
    add_site(&agg_dir);
    let mut server = Server::start(&agg_dir, server_args);
    let nats_url = nats_override.map_or(server.nats_url.clone(), str::to_string);
    let mut edge = Edge::start(&edge_dir, &nats_url, &["--trusted-proxy", "127.0.0.1/32"]);
    wait_until(Duration::from_secs(30), || http_get(edge.http, "/readyz").0 == 200, "the edge is ready");
    send_events(edge.http, 0..500);
    edge.wait_drained(Duration::from_secs(60));
    edge.stop();
    server.stop();
    assert_eq!(stored_events(&agg_dir), 500);
    assert_no_personal_data(&agg_dir, &[server.log(), edge.log()]);
    let edge_files: Vec<_> = walk(&edge_dir.join("spool"));
    assert!(edge_files.is_empty(), "the spool kept {edge_files:?}");
}

#[test]
fn a_separate_edge_through_the_embedded_broker() {
    separate_edge_stores_exactly_once(&[], None);
}

#[test]
fn a_separate_edge_through_debian_nats_server() {
    let port = free_port();
    let mut nats_server = NatsServer::start(port);
    let url = format!("nats://127.0.0.1:{port}");
    separate_edge_stores_exactly_once(&["--nats-url", &url], Some(&url));
    nats_server.stop();
}

/// Debian's `nats-server` on a port.
struct NatsServer(Child);

impl NatsServer {
    fn start(port: u16) -> Self {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is not installed: apt-get install nats-server (scripts/test.sh does)");
        wait_until(
            Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "nats-server listens",
        );
        Self(child)
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_aggregator_down_for_60_seconds_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (agg_dir, edge_dir) = (dir.path().join("aggregator"), dir.path().join("edge"));
    std::fs::create_dir_all(&agg_dir).unwrap();
    add_site(&agg_dir);
    // A fixed broker port, so that the edge finds the restarted aggregator where it was.
    let nats_listen = format!("127.0.0.1:{}", free_port());
    let mut server = Server::start(&agg_dir, &["--nats-listen", &nats_listen]);
    let edge = Edge::start(&edge_dir, &format!("nats://{nats_listen}"), &["--trusted-proxy", "127.0.0.1/32"]);
    wait_until(Duration::from_secs(30), || http_get(edge.http, "/readyz").0 == 200, "the edge is ready");

    // Steady load from another thread: ~100 events/s, every one answered 202.
    let (running, sent) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (running, sent, addr) = (running.clone(), sent.clone(), edge.http);
        std::thread::spawn(move || {
            let mut i = 0;
            while running.load(Ordering::SeqCst) {
                let (status, dropped) = send_event(addr, i);
                assert_eq!((status, dropped), (202, None), "event {i} during the outage");
                i += 1;
                sent.store(i, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    server.stop();
    let before_outage = sent.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(60));
    let during_outage = sent.load(Ordering::SeqCst) - before_outage;
    assert!(during_outage > 1_000, "the edge kept accepting during the outage ({during_outage})");
    assert!(edge.metric("hitkeep_edge_spool_files") > 0.0, "the outage's hits wait in the spool");
    let mut server = Server::start(&agg_dir, &["--nats-listen", &nats_listen]);
    std::thread::sleep(Duration::from_secs(3));
    running.store(false, Ordering::SeqCst);
    load.join().unwrap();
    let total = sent.load(Ordering::SeqCst);
    edge.wait_drained(Duration::from_secs(120));
    server.stop();
    assert_eq!(stored_events(&agg_dir), total, "every accepted hit stored exactly once");
}

#[test]
fn an_edge_killed_with_kill_9_replays_its_spool() {
    let dir = tempfile::tempdir().unwrap();
    let (agg_dir, edge_dir) = (dir.path().join("aggregator"), dir.path().join("edge"));
    std::fs::create_dir_all(&agg_dir).unwrap();
    add_site(&agg_dir);
    let nats_listen = format!("127.0.0.1:{}", free_port());
    let nats_url = format!("nats://{nats_listen}");
    let mut server = Server::start(&agg_dir, &["--nats-listen", &nats_listen]);
    let mut edge = Edge::start(&edge_dir, &nats_url, &["--trusted-proxy", "127.0.0.1/32"]);
    wait_until(Duration::from_secs(30), || http_get(edge.http, "/readyz").0 == 200, "the edge is ready");
    send_events(edge.http, 0..200);
    edge.wait_drained(Duration::from_secs(60));

    // With the aggregator away, what the edge accepts waits in its spool; then kill -9.
    server.stop();
    send_events(edge.http, 200..600);
    edge.wait_spooled(Duration::from_secs(30));
    assert!(edge.metric("hitkeep_edge_spool_files") > 0.0);
    edge.kill9();

    let mut server = Server::start(&agg_dir, &["--nats-listen", &nats_listen]);
    let mut edge = Edge::start(&edge_dir, &nats_url, &["--trusted-proxy", "127.0.0.1/32"]);
    assert!(edge.log().contains("replaying the spool"), "{}", edge.log());
    wait_until(
        Duration::from_secs(30),
        || http_get(edge.http, "/readyz").0 == 200,
        "the edge is ready again",
    );
    send_events(edge.http, 600..700);
    edge.wait_drained(Duration::from_secs(60));
    edge.stop();
    server.stop();
    assert_eq!(stored_events(&agg_dir), 700, "nothing lost, nothing doubled");
}

#[test]
fn site_rules_change_what_the_running_edge_counts() {
    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let data_dir = dir.path().to_str().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let ua = user_agent(1);
    let body = format!(r#"{{"n":"pageview","u":"https://{SITE}/admin/users","d":"{SITE}"}}"#);
    let dnt = [("Content-Type", "text/plain"), ("User-Agent", ua.as_str()), ("DNT", "1")];
    let post = || {
        let (status, headers, _) = http_request(server.http, "POST", "/api/event", &dnt, body.as_bytes());
        assert_eq!(status, 202);
        header(&headers, "x-hitkeep-dropped").map(str::to_string)
    };
    assert_eq!(post().as_deref(), Some("dnt"), "sites honour Do-Not-Track by default");

    let rules = |args: &[&str]| {
        let mut all = vec!["site", "--data-dir", data_dir, "rules", SITE];
        all.extend_from_slice(args);
        let out = run_cli(&all);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = rules(&["--honor-dnt", "false"]);
    assert!(ok, "{out}");
    assert!(out.contains("honor DNT         false"), "{out}");
    // The change reaches the embedded edge through the configuration notice.
    wait_until(Duration::from_secs(10), || post().is_none(), "the edge stops dropping DNT hits");

    let (ok, out) = rules(&["--exclude-path", "/admin/**"]);
    assert!(ok, "{out}");
    wait_until(
        Duration::from_secs(10),
        || post().as_deref() == Some("excluded_path"),
        "the edge drops the excluded path",
    );
    let (ok, out) = rules(&["--exclude-ip", "not-an-ip"]);
    assert!(!ok && out.contains("invalid_rule"), "{out}");
    let (ok, out) = rules(&["--json"]);
    assert!(ok, "{out}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["honor_dnt"], false);
    assert_eq!(shown["excluded_paths"][0], "/admin/**");
    assert_eq!(shown["excluded_ip_ranges"].as_array().unwrap().len(), 0, "a refused rule changes nothing");
    server.stop();
}

/// Spin's way, on the unmodified component under `wasmtime serve -Scli -Sconfig`: the
/// settings in `wasi:config/store` as spin.toml maps them, the configuration fetched from
/// the aggregator's `/api/edge/config` and every batch posted to `/api/edge/batch`, both
/// with a real edge token, the client address from `spin-client-addr`.
#[test]
fn a_collector_on_a_generic_wasi_http_host_posts_to_the_batch_endpoint() {
    use crate::collector_support::{Serve, component};

    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let data_dir = dir.path().to_str().unwrap();
    let out = run_cli(&["edge-token", "--data-dir", data_dir, "add", "spin-e2e"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let secret =
        String::from_utf8_lossy(&out.stdout).lines().find(|l| l.starts_with("hke_")).unwrap().to_string();
    let mut server = Server::start(dir.path(), &[]);
    let base = format!("http://{}", server.http);
    let collector = Serve::start_configured(
        component(),
        &[],
        &[
            ("config_url", format!("{base}/api/edge/config")),
            ("sink_url", format!("{base}/api/edge/batch")),
            ("edge_token", secret.clone()),
            ("trust_host_headers", "false".to_owned()),
            ("edge_name", "spin-e2e".to_owned()),
        ],
    );
    for i in 0..50 {
        let body = format!(r#"{{"n":"pageview","u":"https://{SITE}/spin/{i}","d":"{SITE}"}}"#);
        let (ua, addr) = (user_agent(i), format!("{}:40000", ip(i)));
        let headers = [
            ("Content-Type", "text/plain"),
            ("User-Agent", ua.as_str()),
            ("spin-client-addr", addr.as_str()),
        ];
        let (status, headers, body) =
            http_request(collector.address, "POST", "/api/event", &headers, body.as_bytes());
        assert_eq!(
            (status, header(&headers, "x-hitkeep-dropped")),
            (202, None),
            "{body}\n{}",
            collector.logs()
        );
    }
    // The component serves the tracker too.
    let (status, _, script) = http_request(collector.address, "GET", "/hk.js", &[], b"");
    assert_eq!(status, 200);
    assert!(script.contains("sendBeacon"));
    server.stop();
    assert_eq!(stored_events(dir.path()), 50, "each event posted as its own batch, stored once");
    assert_no_personal_data(dir.path(), &[server.log()]);
    assert!(!collector.logs().contains(&secret), "the token reached the component's log");
}

/// Enrichment plugins in `hitkeep serve`: the example URL normalizer from `--plugins-dir`
/// collapses ids in stored paths, a prop scrubber configured in the TOML file removes an
/// e-mail address from a property; and `hitkeep plugin check` reports on a plugin file.
#[test]
fn serve_runs_enrichment_plugins_on_collected_events() {
    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(hitkeep_plugins::fixtures::URL_NORMALIZER, plugins.join("url-normalizer.wasm")).unwrap();
    let config = dir.path().join("hitkeep.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\n[[plugins.plugins]]\nname = \"scrubber\"\npath = {:?}\n",
            hitkeep_plugins::fixtures::PROP_SCRUBBER
        ),
    )
    .unwrap();
    let mut server = Server::start(
        dir.path(),
        &["--config", config.to_str().unwrap(), "--plugins-dir", plugins.to_str().unwrap()],
    );
    assert!(server.log().contains("enrichment plugins loaded"), "{}", server.log());
    let ua = user_agent(3);
    let headers = [("Content-Type", "text/plain"), ("User-Agent", ua.as_str())];
    let body = format!(
        r#"{{"n":"Signup","u":"https://{SITE}/users/4711/orders/9f86d081884c7d659a2feaa0c55ad015","d":"{SITE}",
            "p":{{"contact":"jane.doe@example.org","plan":"pro"}}}}"#
    );
    let (status, _, answer) = http_request(server.http, "POST", "/api/event", &headers, body.as_bytes());
    assert_eq!(status, 202, "{answer}");
    server.stop();
    let events = open_store(dir.path()).recent_events(SITE, 10).unwrap();
    assert_eq!(events.len(), 1);
    let hit = &events[0].hit;
    assert_eq!(hit.path, "/users/:id/orders/:hash");
    assert!(!format!("{:?}", hit.props).contains("jane.doe@example.org"), "{:?}", hit.props);
    assert!(hit.props.contains(&("plan".to_string(), "pro".to_string())), "{:?}", hit.props);

    let out = run_cli(&["plugin", "check", hitkeep_plugins::fixtures::URL_NORMALIZER]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("hitkeep:plugin/enricher@0.1.0: ok") && report.contains("changed"), "{report}");
    // A plugin that traps on a sample fails its check; samples can come from a file.
    let mut boom = hitkeep_plugins::sample_hits().remove(0);
    boom.path = "/boom".into();
    let samples = dir.path().join("samples.jsonl");
    std::fs::write(&samples, serde_json::to_string(&boom).unwrap() + "\n").unwrap();
    let out = run_cli(&[
        "plugin",
        "check",
        hitkeep_plugins::fixtures::PANICKER,
        "--samples",
        samples.to_str().unwrap(),
    ]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("FAILED (trap)") || report.contains("FAILED"), "{report}");
}

/// Posts unique pageviews (`/k/{i}`) from two threads until `stop`; the ones answered `202`
/// without a drop header.
pub(crate) fn post_until(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> Vec<u64> {
    let next = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (stop, next) = (stop.clone(), next.clone());
            std::thread::spawn(move || {
                let mut accepted = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let body = format!(r#"{{"n":"pageview","u":"https://{SITE}/k/{i}","d":"{SITE}"}}"#);
                    let (ua, ip) = (user_agent(i), ip(i));
                    let headers = [
                        ("Content-Type", "text/plain"),
                        ("User-Agent", ua.as_str()),
                        ("X-Forwarded-For", ip.as_str()),
                    ];
                    // A connection cut by the kill is an answer nobody got.
                    let answer = std::panic::catch_unwind(|| {
                        http_request(addr, "POST", "/api/event", &headers, body.as_bytes())
                    });
                    match answer {
                        Ok((202, headers, _)) if header(&headers, "x-hitkeep-dropped").is_none() => {
                            accepted.push(i)
                        }
                        Ok(_) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
                accepted
            })
        })
        .collect();
    threads.into_iter().flat_map(|thread| thread.join().unwrap()).collect()
}

/// Posts for 3 s, calls `kill`, and answers the events answered `202` until then.
fn post_then_kill(addr: std::net::SocketAddr, kill: impl FnOnce()) -> Vec<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || post_until(addr, stop))
    };
    std::thread::sleep(Duration::from_secs(3));
    kill();
    stop.store(true, Ordering::SeqCst);
    let accepted = load.join().unwrap();
    assert!(accepted.len() > 100, "only {} accepted before the kill", accepted.len());
    accepted
}

/// How many times each `/k/{i}` page is stored.
pub(crate) fn stored_pages(data_dir: &Path) -> std::collections::HashMap<u64, u64> {
    let db = duckdb::Connection::open(data_dir.join("hitkeep.db")).unwrap();
    let mut statement =
        db.prepare("SELECT path, count(*) FROM events WHERE path LIKE '/k/%' GROUP BY path").unwrap();
    statement
        .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, u64>(1)?)))
        .unwrap()
        .map(|row| {
            let (path, count) = row.unwrap();
            (path["/k/".len()..].parse().unwrap(), count)
        })
        .collect()
}

pub(crate) fn assert_accepted_stored_once(data_dir: &Path, accepted: &[u64]) {
    let stored = stored_pages(data_dir);
    let lost: Vec<&u64> = accepted.iter().filter(|i| !stored.contains_key(i)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered 202 were lost: {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(10)]
    );
    let doubled: Vec<(&u64, &u64)> = stored.iter().filter(|(_, count)| **count > 1).collect();
    assert!(doubled.is_empty(), "stored twice: {doubled:?}");
}

/// `202` means stored: `hitkeep serve` (its embedded edge), then a separate `hitkeep-edge`,
/// each killed with `kill -9` under load; after a restart every event answered `202` is
/// stored once.
#[test]
fn events_answered_202_survive_kill_9_of_serve_and_of_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("single");
    std::fs::create_dir_all(&data).unwrap();
    add_site(&data);
    let config = trusting_config(&data);
    let mut server = Server::start(&data, &["--config", &config]);
    let accepted = post_then_kill(server.http, || server.kill9());
    let mut server = Server::start(&data, &["--config", &config]);
    std::thread::sleep(Duration::from_secs(3));
    server.stop();
    assert_accepted_stored_once(&data, &accepted);

    // A separate edge, killed while the aggregator is up.
    let (agg_dir, edge_dir) = (dir.path().join("aggregator"), dir.path().join("edge"));
    std::fs::create_dir_all(&agg_dir).unwrap();
    add_site(&agg_dir);
    let nats_listen = format!("127.0.0.1:{}", free_port());
    let nats_url = format!("nats://{nats_listen}");
    let mut server = Server::start(&agg_dir, &["--nats-listen", &nats_listen]);
    let mut edge = Edge::start(&edge_dir, &nats_url, &["--trusted-proxy", "127.0.0.1/32"]);
    wait_until(Duration::from_secs(30), || http_get(edge.http, "/readyz").0 == 200, "the edge is ready");
    let accepted = post_then_kill(edge.http, || edge.kill9());
    let mut edge = Edge::start(&edge_dir, &nats_url, &["--trusted-proxy", "127.0.0.1/32"]);
    edge.wait_drained(Duration::from_secs(60));
    edge.stop();
    server.stop();
    assert_accepted_stored_once(&agg_dir, &accepted);
}
