//! The aggregator goes away under load and comes back: nothing is lost.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_while_the_aggregator_is_down() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-outage", dir.path(), &broker.client_url(), collector());
    config.batch.max_hits = 40;
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    // Load from a few connections while the aggregator stops and later comes back.
    let total = 600;
    let mut senders = Vec::new();
    for worker in 0..4 {
        let addr = host.addr;
        senders.push(tokio::spawn(async move {
            let mut connection = Connection::open(addr).await?;
            let mut sent = Vec::new();
            for n in (worker..total).step_by(4) {
                let path = format!("/load/{n}");
                let reply = connection
                    .send(
                        "POST",
                        "/api/event",
                        &[("content-type", "application/json"), ("user-agent", FIREFOX)],
                        pageview(&path),
                    )
                    .await?;
                anyhow::ensure!(reply.status == 202, "status {}: {}", reply.status, reply.text());
                sent.push(path);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            anyhow::Ok(sent)
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    aggregator.stop_ingest().await;
    note("aggregator down");
    // Long enough for batches to pile up in the spool and be retried.
    eventually(Duration::from_secs(10), "batches waiting in the spool", || {
        spooled_batches(dir.path()).len() >= 3
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let during_outage = aggregator.hits().len();
    aggregator.serve_ingest().await?;
    note("aggregator back");

    let mut sent = BTreeSet::new();
    for sender in senders {
        sent.extend(sender.await??);
    }
    assert_eq!(sent.len(), total);
    let hits = aggregator.wait_for_hits(total, Duration::from_secs(30)).await?;
    assert!(during_outage < total, "some hits had to wait for the aggregator");
    let received: BTreeSet<String> = hits.iter().map(|h| h.path.clone()).collect();
    assert_eq!(received, sent, "the set of hits received is the set sent");
    assert_eq!(hits.len(), total, "each hit once (the stand-in dedupes batch ids, as the aggregator does)");
    eventually(Duration::from_secs(10), "an empty spool", || spooled_batches(dir.path()).is_empty()).await?;
    let metrics = request(host.addr, "GET", "/metrics", &[], "").await?.text();
    assert!(metrics.contains("hitkeep_edge_batches_retried_total"), "retries are counted");

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_restarting_loses_nothing() -> AnyResult {
    // The broker itself goes away (the edge's connection drops) and comes back on the same port.
    let broker = broker().await?;
    let url = broker.client_url();
    let listen = broker.local_addr();
    let aggregator = Aggregator::start(&url).await?;
    let dir = tempfile::tempdir()?;
    let host = TestHost::start(test_config("edge-reconnect", dir.path(), &url, collector())).await?;
    host.wait_ready().await?;

    for n in 0..20 {
        assert_eq!(host.post_event(&pageview(&format!("/before/{n}")), &[]).await?.status, 202);
    }
    aggregator.wait_for_hits(20, Duration::from_secs(10)).await?;
    broker.shutdown().await;
    for n in 0..20 {
        assert_eq!(host.post_event(&pageview(&format!("/between/{n}")), &[]).await?.status, 202);
    }
    eventually(Duration::from_secs(10), "spooled batches", || !spooled_batches(dir.path()).is_empty())
        .await?;
    let broker =
        hitkeep_broker::Broker::start(hitkeep_broker::BrokerConfig { listen, ..Default::default() }).await?;
    let hits = aggregator.wait_for_hits(40, Duration::from_secs(30)).await?;
    let paths: BTreeSet<String> = hits.iter().map(|h| h.path.clone()).collect();
    assert_eq!(paths.len(), 40);
    assert_eq!(hits.len(), 40);

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}
