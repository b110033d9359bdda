//! End-to-end load benchmark of the edge host (`cargo bench -p hitkeep-edge --bench edge_load`).
//!
//! 1. In-process: one host with the embedded collector; sequential `EdgeHandle::handle` calls
//!    (body read, headers, Store + instantiate + run of the component, sink, batcher) and the
//!    component-only time recorded by the host (`hitkeep_edge_component_seconds`).
//! 2. Over HTTP with `wrk` (`apt-get install -y wrk`): the release `hitkeep-edge` binary with
//!    the embedded collector, answering once the hits are journaled on disk (the default),
//!    then with `--answer-before-disk`, then a trivial hyper handler (reads the body, answers
//!    202) in the same run, same connections and duration, for comparison. The embedded broker and a
//!    stand-in aggregator acking every batch run in this process.
//!
//! Environment: `BENCH_SECONDS` (default 10), `BENCH_CONNECTIONS` (default 64),
//! `BENCH_REUSE` (requests per instance, default 1: a fresh instance per request),
//! `BENCH_ONLY=in-process` (skip the HTTP part), `BENCH_FLOOR=1` (in-process, run the test
//! component, which only forwards a batch to the sink: the cost of the `wasi:http` path
//! itself).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use hitkeep_broker::{Broker, BrokerConfig};
use hitkeep_edge::{EdgeConfig, EdgeHost};
use hitkeep_protocol::{Ack, AckStatus, Batch, EDGE_CONFIG_SUBJECT, INGEST_SUBJECT};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const CONFIG: &str = r#"{"sites":[{"domain":"example.com"}],"salts":{"current":"1111111111111111111111111111111111111111111111111111111111111111","previous":"2222222222222222222222222222222222222222222222222222222222222222"}}"#;
const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

const WRK_SCRIPT: &str = r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/api/event", nil, '{"name":"pageview","url":"https://example.com/bench/' .. counter .. '?utm_source=newsletter","domain":"example.com","referrer":"https://www.google.com/"}')
end
"#;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Serves the configuration and acks every batch, counting hits.
async fn aggregator(url: &str, hits: Arc<AtomicUsize>) -> anyhow::Result<()> {
    let client = async_nats::connect(url).await?;
    let mut config = client.subscribe(EDGE_CONFIG_SUBJECT).await?;
    let mut ingest = client.subscribe(INGEST_SUBJECT).await?;
    client.flush().await?;
    tokio::spawn({
        let client = client.clone();
        async move {
            while let Some(message) = config.next().await {
                if let Some(reply) = message.reply {
                    let _ = client.publish(reply, Bytes::from_static(CONFIG.as_bytes())).await;
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(message) = ingest.next().await {
            let batch = Batch::decode(&message.payload).expect("valid batch");
            hits.fetch_add(batch.hits.len(), Ordering::Relaxed);
            let ack = Ack { id: batch.id, status: AckStatus::Stored, stored: 0, dropped: 0, error: None };
            if let Some(reply) = message.reply {
                let _ = client.publish(reply, Bytes::from(ack.encode())).await;
            }
        }
    });
    Ok(())
}

fn event_request(n: usize) -> anyhow::Result<http::Request<Full<Bytes>>> {
    if std::env::var_os("BENCH_FLOOR").is_some() {
        let body = format!(
            r#"{{"v":1,"id":"c-{n}","edge":"c","hits":[{{"ts":1767225600000,"domain":"example.com","kind":"pageview","name":"pageview","visitor":1,"visitor_prev":2,"hostname":"example.com","path":"/x/{n}"}}]}}"#
        );
        return Ok(http::Request::post("/api/event")
            .header("host", "bench")
            .body(Full::new(Bytes::from(body)))?);
    }
    let body = format!(
        r#"{{"name":"pageview","url":"https://example.com/inproc/{n}?utm_source=newsletter","domain":"example.com","referrer":"https://www.google.com/"}}"#
    );
    Ok(http::Request::post("/api/event")
        .header("host", "bench")
        .header("user-agent", UA)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body)))?)
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat`.
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn in_process(nats_url: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = EdgeConfig::new("bench-inproc", dir.path());
    config.runtime.max_requests_per_instance = env_number("BENCH_REUSE", 1) as u32;
    if std::env::var_os("BENCH_FLOOR").is_some() {
        config.component = hitkeep_edge::ComponentSource::Path(env!("HITKEEP_EDGE_TEST_COMPONENT").into());
    }
    config.nats.url = nats_url.to_string();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    config.metrics = Some(metrics.clone());
    let started = Instant::now();
    let handle = EdgeHost::start(config).await?;
    println!("in-process: component compiled and host started in {:?}", started.elapsed());
    while !handle.is_ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let peer: SocketAddr = "203.0.113.9:40000".parse()?;
    let mut times = Vec::new();
    for n in 0..12_000 {
        let begun = Instant::now();
        let response = handle.handle(event_request(n)?, peer).await;
        let elapsed = begun.elapsed();
        assert_eq!(response.status(), 202);
        if n >= 2_000 {
            times.push(elapsed);
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "in-process handle(), sequential, {} requests: mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        times.len(),
        mean,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );

    metrics.run_upkeep();
    println!("  component call (instantiate + run + response), sequential:");
    for line in metrics.render().lines().filter(|l| l.starts_with("hitkeep_edge_component_seconds{")) {
        println!("  {line}");
    }

    // Concurrent: throughput and CPU time per request (the whole process: the broker and the
    // aggregator stand-in are in it too, at a few hundred ns per hit).
    let (tasks, per_task) = (32, 1_000);
    let cpu_before = process_cpu_time();
    let begun = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let handle = handle.clone();
        set.spawn(async move {
            for n in 0..per_task {
                let response =
                    handle.handle(event_request(100_000 + task * per_task + n).expect("request"), peer).await;
                assert_eq!(response.status(), 202);
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done?;
    }
    let wall = begun.elapsed();
    let cpu = process_cpu_time() - cpu_before;
    let count = (tasks * per_task) as u32;
    println!(
        "in-process handle(), {tasks} concurrent, {count} requests: {:.0} req/s, {:?} CPU per request",
        f64::from(count) / wall.as_secs_f64(),
        cpu / count
    );
    metrics.run_upkeep();
    print_group_sizes(&metrics.render());
    handle.shutdown(Duration::from_secs(2)).await;
    Ok(())
}

/// The mean number of events per component call on `/api/event`, from the host's metrics.
fn print_group_sizes(metrics: &str) {
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    };
    let (sum, count) =
        (value("hitkeep_edge_event_group_size_sum"), value("hitkeep_edge_event_group_size_count"));
    if count > 0.0 {
        println!("  events per component call (group size): mean {:.1} over {count} calls", sum / count);
    }
}

#[derive(Debug, Default)]
struct WrkResult {
    requests_per_sec: f64,
    latency: Vec<(String, String)>,
    non_2xx: u64,
    total: u64,
}

fn wrk(
    addr: SocketAddr,
    script: &std::path::Path,
    seconds: u64,
    connections: u64,
) -> anyhow::Result<WrkResult> {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(format!("http://{addr}"))
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run wrk ({e}): apt-get install -y wrk"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut result = WrkResult::default();
    let mut in_distribution = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            let mut parts = trimmed.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(p), Some(v)) if p.ends_with('%') => result.latency.push((p.to_string(), v.to_string())),
                _ => in_distribution = false,
            }
        }
        if let Some(rest) = trimmed.strip_prefix("Requests/sec:") {
            result.requests_per_sec = rest.trim().parse().unwrap_or(0.0);
        }
        if let Some(rest) = trimmed.strip_prefix("Non-2xx or 3xx responses:") {
            result.non_2xx = rest.trim().parse().unwrap_or(0);
        }
        if trimmed.contains("requests in") {
            result.total = trimmed.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        }
    }
    anyhow::ensure!(result.requests_per_sec > 0.0, "wrk output not understood:\n{text}");
    Ok(result)
}

fn print_wrk(name: &str, result: &WrkResult) {
    let latency: Vec<String> =
        result.latency.iter().map(|(p, v)| format!("p{} {v}", p.trim_end_matches('%'))).collect();
    println!(
        "{name:<28} {:>9.0} req/s   {}   ({} requests, {} non-2xx)",
        result.requests_per_sec,
        latency.join(", "),
        result.total,
        result.non_2xx
    );
}

/// A hyper server that reads the body and answers 202: the floor for any handler.
fn trivial_server() -> anyhow::Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        let mut response = hyper::Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = hyper::StatusCode::ACCEPTED;
                        Ok::<_, Infallible>(response)
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
    });
    Ok((addr, thread))
}

fn main() -> anyhow::Result<()> {
    let seconds = env_number("BENCH_SECONDS", 10);
    let connections = env_number("BENCH_CONNECTIONS", 64);
    // The broker, the aggregator stand-in and the in-process host share this runtime; the edge
    // binary has its own (2 workers) in its own process, like in production.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let broker =
            Broker::start(BrokerConfig { listen: "127.0.0.1:0".parse()?, ..Default::default() }).await?;
        let url = broker.client_url();
        let hits = Arc::new(AtomicUsize::new(0));
        aggregator(&url, hits.clone()).await?;

        in_process(&url).await?;
        if std::env::var("BENCH_ONLY").as_deref() == Ok("in-process") {
            return anyhow::Ok(());
        }

        let dir = tempfile::tempdir()?;
        let script = dir.path().join("event.lua");
        std::fs::write(&script, WRK_SCRIPT)?;
        let (trivial_addr, _trivial) = trivial_server()?;
        println!("wrk -t1 -c{connections} -d{seconds}s, POST /api/event (pageview with UTM and referrer):");
        // The default (202 once the hits are journaled on disk), the same without waiting for
        // the disk, and a trivial handler: same run, same connections and duration.
        for (name, extra) in [
            ("hitkeep-edge (202 on disk)", None),
            ("hitkeep-edge (202 in memory)", Some("--answer-before-disk")),
        ] {
            let started = Instant::now();
            let mut child = Command::new(env!("CARGO_BIN_EXE_hitkeep-edge"))
                .args([
                    "--listen",
                    "127.0.0.1:0",
                    "--nats-url",
                    &url,
                    "--edge-name",
                    "bench",
                    "--log-level",
                    "warn",
                ])
                .args(["--max-requests-per-instance", &env_number("BENCH_REUSE", 1).to_string()])
                .args(extra)
                .arg("--data-dir")
                .arg(dir.path().join(name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")))
                .stdout(Stdio::piped())
                .spawn()?;
            let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line)?;
            let edge_addr: SocketAddr = line.trim().rsplit("http://").next().unwrap_or_default().parse()?;
            loop {
                let ready = tokio::net::TcpStream::connect(edge_addr).await.is_ok()
                    && reqwest_like_get(edge_addr, "/readyz").await.unwrap_or(0) == 200;
                if ready {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!("{name} (release) ready in {:?} (component compiled at start)", started.elapsed());
            let before = hits.load(Ordering::Relaxed);
            let script = script.clone();
            let edge =
                tokio::task::spawn_blocking(move || wrk(edge_addr, &script, seconds, connections)).await??;
            print_wrk(name, &edge);
            // Let the last batch (500 ms) reach the aggregator.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let delivered = hits.load(Ordering::Relaxed) - before;
            println!(
                "{:<28} {delivered} hits acked by the aggregator ({} 2xx answers)",
                "",
                edge.total - edge.non_2xx
            );
            let metrics = reqwest_like_body(edge_addr, "/metrics").await?;
            print_group_sizes(&metrics);
            for line in metrics.lines().filter(|l| {
                l.starts_with("hitkeep_edge_component_seconds")
                    || l.starts_with("hitkeep_edge_journal_sync_seconds")
            }) {
                println!("  {line}");
            }
            Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
            child.wait()?;
        }
        let script = dir.path().join("event.lua");
        let trivial =
            tokio::task::spawn_blocking(move || wrk(trivial_addr, &script, seconds, connections)).await??;
        print_wrk("trivial hyper handler", &trivial);
        broker.shutdown().await;
        anyhow::Ok(())
    })
}

async fn reqwest_like_body(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = http::Request::get(path).header("host", "bench").body(Full::new(Bytes::new()))?;
    let response = sender.send_request(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

async fn reqwest_like_get(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = http::Request::get(path).header("host", "bench").body(Full::new(Bytes::new()))?;
    Ok(sender.send_request(request).await?.status().as_u16())
}
