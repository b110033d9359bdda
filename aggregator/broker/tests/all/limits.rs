//! Limits: max payload, slow consumers, subscriptions and connections per broker.

use std::time::Duration;

use async_nats::client::PublishErrorKind;
use bytes::Bytes;
use futures_util::StreamExt;
use hitkeep_broker::BrokerConfig;
use tokio::net::TcpSocket;

use crate::support::{Raw, WAIT, client, config, start, sync};

#[tokio::test]
async fn oversized_payloads_are_refused() {
    let broker = start(BrokerConfig { max_payload: 1024, ..config() }).await;

    // async-nats reads max_payload from INFO and refuses before sending.
    let nats = client(&broker).await;
    assert_eq!(nats.server_info().max_payload, 1024);
    nats.publish("big", Bytes::from(vec![0; 1024])).await.unwrap();
    let error = nats.publish("big", Bytes::from(vec![0; 1025])).await.unwrap_err();
    assert_eq!(error.kind(), PublishErrorKind::MaxPayloadExceeded);

    // A client that sends one anyway is refused and disconnected before the payload is read.
    let mut raw = Raw::connected(broker.local_addr(), "{}").await;
    raw.send("PUB big 1025\r\n").await;
    raw.expect("-ERR 'Maximum Payload Violation'").await;
    raw.expect_closed().await;
}

#[tokio::test]
async fn slow_consumer_is_disconnected_while_others_keep_flowing() {
    const MESSAGES: usize = 1500;
    const SIZE: usize = 16 * 1024;
    let broker = start(BrokerConfig {
        max_payload: 64 * 1024,
        max_pending_bytes: 256 * 1024,
        write_deadline: Duration::from_secs(2),
        ..config()
    })
    .await;

    // A raw subscriber with a tiny receive window that stops reading after subscribing.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = Raw::from_stream(socket.connect(broker.local_addr()).await.unwrap()).await;
    stuck.send("CONNECT {}\r\nSUB flood 1\r\n").await;
    stuck.sync().await;

    let (publisher, healthy_client) = (client(&broker).await, client(&broker).await);
    let mut healthy = healthy_client.subscribe("flood").await.unwrap();
    sync(&healthy_client).await;

    let payload = Bytes::from(vec![b'x'; SIZE]);
    for _ in 0..MESSAGES {
        publisher.publish("flood", payload.clone()).await.unwrap();
    }
    sync(&publisher).await;
    for received in 0..MESSAGES {
        let message =
            tokio::time::timeout(WAIT, healthy.next()).await.expect("healthy subscriber keeps receiving");
        assert_eq!(message.unwrap().payload.len(), SIZE, "message {received}");
    }

    let backlog = stuck.expect_closed().await;
    assert!(
        backlog.len() < MESSAGES * SIZE / 2,
        "the stuck client was cut off early ({} bytes)",
        backlog.len()
    );
    assert_eq!(broker.stats().slow_consumers, 1);
    assert_eq!(broker.stats().connections, 2);
}

#[tokio::test]
async fn subscription_and_connection_limits() {
    let broker = start(BrokerConfig { max_subscriptions: 2, max_connections: 2, ..config() }).await;
    let mut raw = Raw::connected(broker.local_addr(), "{}").await;
    raw.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n").await;
    raw.expect("-ERR 'Maximum Subscriptions Exceeded'").await;
    raw.send("UNSUB 1\r\nSUB c 3\r\n").await;
    raw.sync().await;

    let _second = Raw::connected(broker.local_addr(), "{}").await;
    let mut third = tokio::net::TcpStream::connect(broker.local_addr()).await.unwrap();
    let mut refusal = String::new();
    tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read_to_string(&mut third, &mut refusal))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refusal, "-ERR 'maximum connections exceeded'\r\n");
    assert_eq!(broker.stats().rejected_connections, 1);
}
