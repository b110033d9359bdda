//! Lifecycle: graceful shutdown flushes queued messages, clients reconnect after a restart on
//! the same port, and silent connections are closed by keepalive PINGs.

use std::time::Duration;

use bytes::Bytes;
use hitkeep_broker::BrokerConfig;

use crate::support::{Raw, WAIT, client, config, next, options, start, start_default, sync};

#[tokio::test]
async fn shutdown_flushes_queued_messages_then_closes() {
    let broker = start_default().await;
    let mut raw = Raw::connected(broker.local_addr(), "{}").await;
    raw.send("SUB drain 1\r\n").await;
    raw.sync().await;
    let publisher = client(&broker).await;
    for n in 0..1000 {
        publisher.publish("drain", Bytes::from(format!("{n:04}"))).await.unwrap();
    }
    sync(&publisher).await;

    broker.shutdown().await;
    let rest = raw.expect_closed().await;
    let expected: String = (0..1000).map(|n| format!("MSG drain 1 4\r\n{n:04}\r\n")).collect();
    let rest = String::from_utf8(rest).unwrap();
    assert!(
        rest == expected,
        "got {} bytes, expected {}; ends with {:?}",
        rest.len(),
        expected.len(),
        &rest[rest.len().saturating_sub(60)..]
    );
}

#[tokio::test]
async fn clients_reconnect_after_a_restart_on_the_same_port() {
    let broker = start_default().await;
    let addr = broker.local_addr();
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let client = options()
        .reconnect_delay_callback(|_| Duration::from_millis(20))
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event);
            }
        })
        .connect(broker.client_url())
        .await
        .unwrap();
    let mut subscriber = client.subscribe("alive").await.unwrap();
    client.publish("alive", Bytes::from_static(b"before")).await.unwrap();
    assert_eq!(next(&mut subscriber).await.payload, "before");

    broker.shutdown().await;
    let mut wait_for = async |wanted: async_nats::Event| {
        loop {
            let event = tokio::time::timeout(WAIT, events.recv()).await.expect("event in time").unwrap();
            if event.to_string() == wanted.to_string() {
                return;
            }
        }
    };
    wait_for(async_nats::Event::Disconnected).await;
    let broker = start(BrokerConfig { listen: addr, ..config() }).await;
    wait_for(async_nats::Event::Connected).await;

    // The client resubscribed on its own.
    client.publish("alive", Bytes::from_static(b"after")).await.unwrap();
    assert_eq!(next(&mut subscriber).await.payload, "after");
    assert_eq!(broker.stats().subscriptions, 1);
}

#[tokio::test]
async fn silent_connections_get_pinged_then_closed() {
    let broker =
        start(BrokerConfig { ping_interval: Duration::from_millis(50), max_pings_out: 2, ..config() }).await;
    let mut raw = Raw::connected(broker.local_addr(), "{}").await;
    raw.expect_lines(&["PING", "PING", "-ERR 'Stale Connection'"]).await;
    raw.expect_closed().await;

    // A client that answers stays.
    let mut answering = Raw::connected(broker.local_addr(), "{}").await;
    for _ in 0..3 {
        answering.expect("PING").await;
        answering.send("PONG\r\n").await;
    }
    answering.sync().await;
}
