//! The IP address and the user agent never reach the disk or the logs.

use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ip_or_user_agent_in_the_spool_or_the_logs() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::connect(&broker.client_url()).await?;
    aggregator.serve_config(config_json()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-privacy", dir.path(), &broker.client_url(), collector());
    config.trusted_proxies = vec!["127.0.0.1/32".parse()?];
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    let ip = "198.51.100.213";
    let agent =
        "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0 SecretAgentMarker/4.2";
    let headers = [("user-agent", agent), ("x-forwarded-for", ip), ("content-type", "application/json")];
    for n in 0..5 {
        let reply =
            request(host.addr, "POST", "/api/event", &headers, pageview(&format!("/private/{n}"))).await?;
        assert_eq!(reply.status, 202, "{}", reply.text());
    }
    // A bad request and a bot are logged about too, if anything is.
    request(host.addr, "POST", "/api/event", &headers, "{not json").await?;
    let bot = [("user-agent", "curl/8.5.0 SecretAgentMarker"), ("x-forwarded-for", ip)];
    request(host.addr, "POST", "/api/event", &bot, pageview("/bot")).await?;
    eventually(Duration::from_secs(10), "the hits spooled", || {
        spooled_batches(dir.path()).iter().map(|(_, b)| b.hits.len()).sum::<usize>() == 5
    })
    .await?;

    let disk = all_file_bytes(dir.path());
    assert!(contains(&disk, "/private/0"), "the spool holds the hits");
    for secret in [ip, "SecretAgentMarker", "Gecko/20100101"] {
        assert!(!contains(&disk, secret), "{secret:?} is in the data directory");
    }
    let hits: Vec<_> = spooled_batches(dir.path()).into_iter().flat_map(|(_, b)| b.hits).collect();
    assert!(hits.iter().all(|h| h.browser.as_deref() == Some("Firefox")), "classified, not kept");

    aggregator.serve_ingest().await?;
    aggregator.wait_for_hits(5, Duration::from_secs(10)).await?;
    host.shutdown(Duration::from_secs(2)).await;
    let logs = captured_logs();
    assert!(!logs.is_empty(), "logs are captured");
    for secret in [ip, "SecretAgentMarker"] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs");
    }
    broker.shutdown().await;
    Ok(())
}
