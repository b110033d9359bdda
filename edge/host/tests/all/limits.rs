//! Limits: body size before the component, runaway guests, memory, no network, spool full.

use std::time::{Duration, Instant};

use hitkeep_protocol::Batch;

use crate::support::*;

async fn test_component_host(name: &str, dir: &std::path::Path, nats_url: &str) -> AnyResult<TestHost> {
    let host = TestHost::start(test_config(name, dir, nats_url, test_component())).await?;
    host.wait_ready().await?;
    Ok(host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_never_reach_the_component() -> AnyResult {
    let broker = broker().await?;
    let _aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let host = test_component_host("edge-413", dir.path(), &broker.client_url()).await?;

    // `/loop` would spin until its deadline (a 500) if the component ran.
    let big = vec![b'x'; 17 * 1024];
    let started = Instant::now();
    let reply = request(host.addr, "POST", "/loop", &[], big.clone()).await?;
    assert_eq!(reply.status, 413, "{}", reply.text());
    let reply = request(host.addr, "POST", "/api/event", &[], big).await?;
    assert_eq!(reply.status, 413);
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body)?["error"]["code"] == "body_too_large");
    assert!(
        started.elapsed() < Duration::from_millis(45),
        "answered before any deadline: {:?}",
        started.elapsed()
    );

    // A chunked body (no Content-Length) is cut off the same way.
    let mut stream = tokio::net::TcpStream::connect(host.addr).await?;
    let chunk = "x".repeat(4096);
    let mut raw = String::from("POST /loop HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n");
    for _ in 0..5 {
        raw.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    raw.push_str("0\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, raw.as_bytes()).await?;
    let mut response = vec![0u8; 1024];
    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut response).await?;
    let head = String::from_utf8_lossy(&response[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");

    // Too many headers.
    let many: Vec<(String, String)> = (0..80).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = request(host.addr, "GET", "/echo", &many, "").await?;
    assert_eq!(reply.status, 431);

    host.shutdown(Duration::from_secs(1)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_or_hungry_guest_is_stopped_and_the_host_keeps_serving() -> AnyResult {
    runaway_guests(1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapped_instance_is_never_reused() -> AnyResult {
    runaway_guests(20).await
}

async fn runaway_guests(max_requests_per_instance: u32) -> AnyResult {
    let broker = broker().await?;
    let _aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-loop", dir.path(), &broker.client_url(), test_component());
    config.runtime.max_requests_per_instance = max_requests_per_instance;
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    let started = Instant::now();
    let (spin_a, spin_b, echo) = tokio::join!(
        request(host.addr, "GET", "/loop", &[], ""),
        request(host.addr, "GET", "/loop", &[], ""),
        async {
            // While two guests spin, others are served (the spinning ones yield every tick).
            tokio::time::sleep(Duration::from_millis(10)).await;
            let begun = Instant::now();
            let reply = request(host.addr, "GET", "/echo", &[], "").await;
            (reply, begun.elapsed())
        }
    );
    assert_eq!(spin_a?.status, 500);
    assert_eq!(spin_b?.status, 500);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "interrupted at the 50 ms deadline, took {elapsed:?}");
    let (echo, echo_time) = echo;
    assert_eq!(echo?.status, 200);
    assert!(echo_time < Duration::from_millis(200), "served beside the spinning guests in {echo_time:?}");

    let reply = request(host.addr, "GET", "/oom", &[], "").await?;
    assert_eq!(reply.status, 500, "out of its 32 MiB");
    for _ in 0..30 {
        assert_eq!(request(host.addr, "GET", "/echo", &[], "").await?.status, 200, "the host keeps serving");
    }
    let metrics = request(host.addr, "GET", "/metrics", &[], "").await?.text();
    assert!(metrics.contains("hitkeep_edge_component_errors_total{reason=\"deadline\"}"), "{metrics}");

    host.shutdown(Duration::from_secs(1)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_component_has_no_network() -> AnyResult {
    let broker = broker().await?;
    let _aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let host = test_component_host("edge-nonet", dir.path(), &broker.client_url()).await?;
    // A listener the component would reach if it had network.
    let bait = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bait_url = format!("http://{}/", bait.local_addr()?);

    for url in [bait_url.as_str(), "http://example.com/", "https://hitkeep-sink.internal/batch"] {
        let reply = request(host.addr, "GET", &format!("/outbound?url={url}"), &[], "").await?;
        assert_eq!(reply.status, 200);
        assert!(reply.text().contains("HttpRequestDenied"), "{url}: {}", reply.text());
    }
    let reply =
        request(host.addr, "GET", "/outbound?url=http://hitkeep-sink.internal/elsewhere", &[], "").await?;
    assert_eq!(reply.text(), "status 404");
    assert!(
        tokio::time::timeout(Duration::from_millis(100), bait.accept()).await.is_err(),
        "nothing connected"
    );

    host.shutdown(Duration::from_secs(1)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_refuses_new_hits_with_503() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::connect(&broker.client_url()).await?;
    aggregator.serve_config(config_json()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-full", dir.path(), &broker.client_url(), test_component());
    config.spool_max_bytes = 8 * 1024;
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    let metric = |text: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with("hitkeep_edge_spool_full_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let before = metric(&request(host.addr, "GET", "/metrics", &[], "").await?.text());
    let mut accepted = Vec::new();
    let mut refused = 0;
    for n in 0..100 {
        let batch = Batch::new("ignored", "component", vec![hit(&format!("/full/{n}/{}", "x".repeat(200)))]);
        let reply = request(host.addr, "POST", "/api/event", &[], batch.encode()).await?;
        match reply.status {
            202 => accepted.push(n),
            503 => refused += 1,
            other => anyhow::bail!("unexpected status {other}: {}", reply.text()),
        }
    }
    assert!(!accepted.is_empty() && refused > 0, "accepted {} then refused {refused}", accepted.len());
    assert!(accepted.len() < 100);
    let after = metric(&request(host.addr, "GET", "/metrics", &[], "").await?.text());
    assert!(after - before >= f64::from(refused), "spool_full counted: {before} -> {after}");
    assert!(host.handle.spool_bytes() <= 8 * 1024 + 1024, "bounded: {}", host.handle.spool_bytes());

    // Once the aggregator drains the spool, hits are taken again; none accepted was lost.
    aggregator.serve_ingest().await?;
    let hits = aggregator.wait_for_hits(accepted.len(), Duration::from_secs(20)).await?;
    assert_eq!(hits.len(), accepted.len());
    eventually(Duration::from_secs(10), "an empty spool", || host.handle.spool_bytes() == 0).await?;
    let batch = Batch::new("ignored", "component", vec![hit("/after-drain")]);
    assert_eq!(request(host.addr, "POST", "/api/event", &[], batch.encode()).await?.status, 202);

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}
