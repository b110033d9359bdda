//! The happy path with the real collector: HTTP in, batches out on NATS, every hit once.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use hitkeep_collector_core::visitor_hash;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_arrive_in_batches_each_once() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-pipeline", dir.path(), &broker.client_url(), collector());
    config.batch.max_hits = 50;
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    let sent: BTreeSet<String> = (0..300).map(|n| format!("/page/{n}")).collect();
    let mut tasks = Vec::new();
    for chunk in sent.iter().cloned().collect::<Vec<_>>().chunks(60) {
        let (addr, paths) = (host.addr, chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(addr).await?;
            for path in paths {
                let reply = connection
                    .send(
                        "POST",
                        "/api/event",
                        &[("content-type", "text/plain"), ("user-agent", FIREFOX)],
                        pageview(&path),
                    )
                    .await?;
                anyhow::ensure!(reply.status == 202, "status {} for {path}: {}", reply.status, reply.text());
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }

    let hits = aggregator.wait_for_hits(sent.len(), Duration::from_secs(20)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits_now = aggregator.hits();
    assert_eq!(hits_now.len(), sent.len(), "every hit exactly once");
    let received: BTreeSet<String> = hits.iter().map(|h| h.path.clone()).collect();
    assert_eq!(received, sent);
    let batches = aggregator.batches();
    assert!(batches.len() >= 6, "300 hits in batches of at most 50: {} batches", batches.len());
    assert!(
        batches
            .iter()
            .all(|b| b.hits.len() <= 50 && b.edge == "edge-pipeline" && b.id.starts_with("edge-pipeline-"))
    );
    assert_eq!(aggregator.header_mismatches(), 0, "Nats-Msg-Id is the batch id");
    eventually(Duration::from_secs(5), "an empty spool", || spooled_batches(dir.path()).is_empty()).await?;

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_instances_lose_nothing_and_follow_the_configuration() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-reuse", dir.path(), &broker.client_url(), collector());
    config.runtime.max_requests_per_instance = 25;
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    let sent: BTreeSet<String> = (0..200).map(|n| format!("/reuse/{n}")).collect();
    let mut tasks = Vec::new();
    for chunk in sent.iter().cloned().collect::<Vec<_>>().chunks(50) {
        let (addr, paths) = (host.addr, chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(addr).await?;
            for path in paths {
                let reply = connection
                    .send("POST", "/api/event", &[("user-agent", FIREFOX)], pageview(&path))
                    .await?;
                anyhow::ensure!(reply.status == 202, "status {}: {}", reply.status, reply.text());
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let hits = aggregator.wait_for_hits(sent.len(), Duration::from_secs(20)).await?;
    assert_eq!(hits.iter().map(|h| h.path.clone()).collect::<BTreeSet<_>>(), sent);
    // Every visitor hash is still the one of its own request's client.
    let localhost: IpAddr = "127.0.0.1".parse()?;
    assert!(hits.iter().all(|h| h.visitor == visitor_hash(&SALT_CURRENT, "example.com", localhost, FIREFOX)));

    // A new configuration is never served by an instance made for the old one.
    let new_site = r#"{"sites":[{"domain":"new.example"}],"salts":{"current":"3333333333333333333333333333333333333333333333333333333333333333","previous":"4444444444444444444444444444444444444444444444444444444444444444"}}"#;
    aggregator.serve_config(new_site.to_string()).await?;
    let client = async_nats::connect(broker.client_url()).await?;
    client.publish(hitkeep_protocol::EDGE_CONFIG_CHANGED_SUBJECT, "".into()).await?;
    client.flush().await?;
    let event = r#"{"name":"pageview","url":"https://new.example/","domain":"new.example"}"#;
    eventually(Duration::from_secs(10), "the new configuration", || host.handle.has_config()).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = host.post_event(event, &[]).await?;
        if reply.headers.get("x-hitkeep-dropped").is_none() {
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the new configuration was not used");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..30 {
        let reply = host.post_event(event, &[]).await?;
        assert!(
            reply.headers.get("x-hitkeep-dropped").is_none(),
            "an instance of the old configuration answered"
        );
    }

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_host_headers_are_stripped() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let host =
        TestHost::start(test_config("edge-spoof", dir.path(), &broker.client_url(), collector())).await?;
    host.wait_ready().await?;

    let spoofed = [
        ("x-hitkeep-client-ip", "198.51.100.99"),
        ("X-Hitkeep-Geo-Country", "ZZ"),
        ("x-hitkeep-geo-region", "ZZ-AA"),
        ("x-hitkeep-geo-city", "Atlantis"),
        ("x-forwarded-for", "198.51.100.99"),
    ];
    let reply = host.post_event(&pageview("/spoofed"), &spoofed).await?;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let hits = aggregator.wait_for_hits(1, Duration::from_secs(10)).await?;
    let hit = &hits[0];
    assert_eq!((hit.country.as_deref(), hit.region.as_deref(), hit.city.as_deref()), (None, None, None));
    let localhost: IpAddr = "127.0.0.1".parse()?;
    let spoofed_ip: IpAddr = "198.51.100.99".parse()?;
    assert_eq!(
        hit.visitor,
        visitor_hash(&SALT_CURRENT, "example.com", localhost, FIREFOX),
        "hashed with the socket peer"
    );
    assert_ne!(hit.visitor, visitor_hash(&SALT_CURRENT, "example.com", spoofed_ip, FIREFOX));
    assert_eq!(hit.visitor_prev, visitor_hash(&SALT_PREVIOUS, "example.com", localhost, FIREFOX));

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configuration_events_get_503() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::connect(&broker.client_url()).await?;
    aggregator.serve_ingest().await?;
    let dir = tempfile::tempdir()?;
    let host =
        TestHost::start(test_config("edge-noconfig", dir.path(), &broker.client_url(), collector())).await?;

    let reply = host.post_event(&pageview("/"), &[]).await?;
    assert_eq!(reply.status, 503);
    let body: serde_json::Value = serde_json::from_slice(&reply.body)?;
    assert_eq!(body["error"]["code"], "config_unavailable");
    assert_eq!(reply.headers.get("access-control-allow-origin").map(|v| v.as_bytes()), Some(&b"*"[..]));
    let ready = request(host.addr, "GET", "/readyz", &[], "").await?;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert_eq!(request(host.addr, "GET", "/healthz", &[], "").await?.status, 200);

    // Once the aggregator publishes a configuration, events go through.
    aggregator.serve_config(config_json()).await?;
    host.wait_ready().await?;
    let reply = host.post_event(&pageview("/after"), &[]).await?;
    assert_eq!(reply.status, 202, "{}", reply.text());
    aggregator.wait_for_hits(1, Duration::from_secs(10)).await?;
    assert_eq!(request(host.addr, "GET", "/readyz", &[], "").await?.status, 200);

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_configuration_is_picked_up() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let host =
        TestHost::start(test_config("edge-change", dir.path(), &broker.client_url(), collector())).await?;
    host.wait_ready().await?;

    let new_site = r#"{"sites":[{"domain":"new.example"}],"salts":{"current":"3333333333333333333333333333333333333333333333333333333333333333","previous":"4444444444444444444444444444444444444444444444444444444444444444"}}"#;
    let reply = host
        .post_event(r#"{"name":"pageview","url":"https://new.example/","domain":"new.example"}"#, &[])
        .await?;
    assert_eq!(reply.status, 202);
    assert_eq!(
        reply.headers.get("x-hitkeep-dropped").map(|v| v.to_str().unwrap_or("")),
        Some("unknown_site")
    );

    aggregator.serve_config(new_site.to_string()).await?;
    let client = async_nats::connect(broker.client_url()).await?;
    client.publish(hitkeep_protocol::EDGE_CONFIG_CHANGED_SUBJECT, "".into()).await?;
    client.flush().await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = host
            .post_event(r#"{"name":"pageview","url":"https://new.example/x","domain":"new.example"}"#, &[])
            .await?;
        if reply.headers.get("x-hitkeep-dropped").is_none() {
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the new configuration was not picked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = aggregator.wait_for_hits(1, Duration::from_secs(10)).await?;
    assert_eq!(hits[0].domain, "new.example");

    // An invalid configuration is ignored: the last good one stays.
    aggregator.serve_config("{\"sites\": 42}".into()).await?;
    client.publish(hitkeep_protocol::EDGE_CONFIG_CHANGED_SUBJECT, "".into()).await?;
    client.flush().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = host
        .post_event(r#"{"name":"pageview","url":"https://new.example/y","domain":"new.example"}"#, &[])
        .await?;
    assert_eq!(reply.status, 202);
    assert!(reply.headers.get("x-hitkeep-dropped").is_none());

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}
