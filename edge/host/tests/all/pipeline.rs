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

/// Events handed to the component in groups each get the answer they would have had alone,
/// and only their own; the group route cannot be reached from outside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_events_each_get_their_own_answer() -> AnyResult {
    const BOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let broker = broker().await?;
    let aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-groups", dir.path(), &broker.client_url(), collector());
    // One lane: while it is busy every other event waits, so groups form.
    config.runtime.event_lanes = 1;
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    // Kind of event by n % 4: counted, bot, malformed, unknown site.
    let expected = |n: usize| -> (u16, Option<&'static str>) {
        match n % 4 {
            0 => (202, None),
            1 => (202, Some("bot")),
            2 => (400, None),
            _ => (202, Some("unknown_site")),
        }
    };
    let mut tasks = Vec::new();
    for connection in 0..40 {
        let addr = host.addr;
        tasks.push(tokio::spawn(async move {
            let mut client = Connection::open(addr).await?;
            for round in 0..5 {
                let n = round * 40 + connection;
                let (user_agent, body) = match n % 4 {
                    0 => (FIREFOX, pageview(&format!("/grouped/{n}"))),
                    1 => (BOT, pageview(&format!("/bot/{n}"))),
                    2 => (FIREFOX, format!("{{\"name\":\"pageview\",\"url\":{n}")),
                    _ => (
                        FIREFOX,
                        r#"{"name":"pageview","url":"https://nobody.example/","domain":"nobody.example"}"#
                            .to_string(),
                    ),
                };
                let ip = format!("198.51.100.{}", n % 250);
                let headers = [
                    ("content-type", "text/plain"),
                    ("user-agent", user_agent),
                    ("x-forwarded-for", ip.as_str()),
                ];
                let reply = client.send("POST", "/api/event", &headers, body).await?;
                let dropped = reply.headers.get("x-hitkeep-dropped").and_then(|v| v.to_str().ok());
                let (status, drop_code) = expected(n);
                anyhow::ensure!(
                    reply.status == status && dropped == drop_code,
                    "event {n}: {} {dropped:?} {}",
                    reply.status,
                    reply.text()
                );
                anyhow::ensure!(reply.headers.get("access-control-allow-origin").is_some_and(|v| v == "*"));
                if status == 400 {
                    anyhow::ensure!(reply.text().contains("\"code\""), "event {n}: {}", reply.text());
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let counted: BTreeSet<String> =
        (0..200).filter(|n| n % 4 == 0).map(|n| format!("/grouped/{n}")).collect();
    let hits = aggregator.wait_for_hits(counted.len(), Duration::from_secs(20)).await?;
    let received: BTreeSet<String> = hits.iter().map(|hit| hit.path.clone()).collect();
    assert_eq!(received, counted, "exactly the counted events, once each");

    // From outside, the group route is an unknown path, with or without a key header.
    for headers in [vec![], vec![("x-hitkeep-group-key", "guess")]] {
        let reply = request(host.addr, "POST", "/.hitkeep/events", &headers, "HKQ1\0\0\0\0").await?;
        assert_eq!(reply.status, 404, "{}", reply.text());
    }

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

/// With more events waiting than the queue holds, the host refuses the rest at once with
/// `503 overloaded` and `Retry-After`; every event it took is stored, and once the queue has
/// drained it takes events again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_event_queue_refuses_with_retry_after_and_loses_nothing_it_took() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-overload", dir.path(), &broker.client_url(), collector());
    config.runtime.event_lanes = 1;
    config.runtime.event_queue_limit = 2;
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    let mut accepted = BTreeSet::new();
    let mut refused = 0;
    for round in 0..20 {
        let mut tasks = Vec::new();
        for connection in 0..64 {
            let addr = host.addr;
            tasks.push(tokio::spawn(async move {
                let path = format!("/burst/{round}/{connection}");
                let ip = format!("198.51.100.{connection}");
                let headers = [
                    ("content-type", "text/plain"),
                    ("user-agent", FIREFOX),
                    ("x-forwarded-for", ip.as_str()),
                ];
                let reply = request(addr, "POST", "/api/event", &headers, pageview(&path)).await?;
                anyhow::Ok((path, reply))
            }));
        }
        for task in tasks {
            let (path, reply) = task.await??;
            match reply.status {
                202 => {
                    accepted.insert(path);
                }
                503 => {
                    assert!(reply.text().contains("\"overloaded\""), "{}", reply.text());
                    assert_eq!(reply.headers.get("retry-after").map(|v| v.as_bytes()), Some(&b"1"[..]));
                    assert!(reply.headers.get("access-control-allow-origin").is_some_and(|v| v == "*"));
                    refused += 1;
                }
                other => panic!("{path}: {other} {}", reply.text()),
            }
        }
        if refused > 0 {
            break;
        }
    }
    assert!(refused > 0, "64 events at once overflow a queue of 2 behind one lane");
    assert!(!accepted.is_empty());

    let reply = host.post_event(&pageview("/after"), &[]).await?;
    assert_eq!(reply.status, 202, "a drained queue takes events again: {}", reply.text());
    accepted.insert("/after".to_owned());
    let hits = aggregator.wait_for_hits(accepted.len(), Duration::from_secs(20)).await?;
    let received: BTreeSet<String> = hits.iter().map(|hit| hit.path.clone()).collect();
    assert_eq!(received, accepted, "every event answered 202 is stored, once");

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

/// `HEAD /hk.js` answers with the headers of `GET /hk.js`, its length included, and no body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_of_the_tracker_declares_its_length() -> AnyResult {
    let broker = broker().await?;
    let dir = tempfile::tempdir()?;
    let host =
        TestHost::start(test_config("edge-head", dir.path(), &broker.client_url(), collector())).await?;
    let get = request(host.addr, "GET", "/hk.js", &[], "").await?;
    assert_eq!(get.status, 200);
    assert!(!get.body.is_empty());
    let head = request(host.addr, "HEAD", "/hk.js", &[], "").await?;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let length = |reply: &Reply| {
        reply.headers.get("content-length").and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    };
    assert_eq!(length(&head), Some(get.body.len()), "{:?}", head.headers);
    for name in ["etag", "content-type", "cache-control"] {
        assert_eq!(head.headers.get(name), get.headers.get(name), "{name}");
    }
    Ok(())
}
