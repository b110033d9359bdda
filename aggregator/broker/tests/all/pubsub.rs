//! Publish/subscribe through async-nats: delivery, wildcards, queue groups, auto-unsubscribe.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use crate::support::{WAIT, assert_no_more, client, next, start_default, sync};

#[tokio::test]
async fn publish_reaches_subscriber_on_another_connection() {
    let broker = start_default().await;
    let (publisher, subscriber_client) = (client(&broker).await, client(&broker).await);
    let mut subscriber = subscriber_client.subscribe("greet.joe").await.unwrap();
    sync(&subscriber_client).await;

    let before = broker.stats();
    publisher.publish("greet.joe", Bytes::from_static(b"hello")).await.unwrap();
    let message = next(&mut subscriber).await;
    assert_eq!(message.subject.as_str(), "greet.joe");
    assert_eq!(message.payload, "hello");
    let after = broker.stats();
    assert_eq!((after.messages_in - before.messages_in, after.messages_out - before.messages_out), (1, 1));
    assert_eq!(after.bytes_in - before.bytes_in, 5);
    assert_no_more(&mut subscriber, &publisher, &subscriber_client).await;
}

#[tokio::test]
async fn wildcards_match_whole_tokens() {
    let broker = start_default().await;
    let (publisher, subscriber_client) = (client(&broker).await, client(&broker).await);
    let mut one = subscriber_client.subscribe("orders.*").await.unwrap();
    let mut tail = subscriber_client.subscribe("orders.>").await.unwrap();
    let mut middle = subscriber_client.subscribe("orders.*.new").await.unwrap();
    sync(&subscriber_client).await;

    for subject in ["orders", "orders.eu", "orders.eu.new", "orders.eu.old", "other.eu"] {
        publisher.publish(subject, Bytes::from(subject)).await.unwrap();
    }
    assert_eq!(next(&mut one).await.subject.as_str(), "orders.eu");
    assert_eq!(next(&mut tail).await.subject.as_str(), "orders.eu");
    assert_eq!(next(&mut tail).await.subject.as_str(), "orders.eu.new");
    assert_eq!(next(&mut tail).await.subject.as_str(), "orders.eu.old");
    assert_eq!(next(&mut middle).await.subject.as_str(), "orders.eu.new");
    for subscriber in [&mut one, &mut tail, &mut middle] {
        assert_no_more(subscriber, &publisher, &subscriber_client).await;
    }
}

#[tokio::test]
async fn queue_group_members_share_messages_and_plain_subscribers_get_all() {
    const COUNT: usize = 300;
    let broker = start_default().await;
    let publisher = client(&broker).await;
    let member_clients = [client(&broker).await, client(&broker).await, client(&broker).await];
    let mut members = Vec::new();
    for member_client in &member_clients {
        members.push(member_client.queue_subscribe("jobs", "workers".into()).await.unwrap());
        sync(member_client).await;
    }
    let mut plain = publisher.subscribe("jobs").await.unwrap();
    sync(&publisher).await;

    for id in 0..COUNT {
        publisher.publish("jobs", Bytes::from(id.to_string())).await.unwrap();
    }
    for id in 0..COUNT {
        assert_eq!(next(&mut plain).await.payload, id.to_string());
    }

    // Every job reaches exactly one member, and the work is spread over all of them.
    let mut seen_by: BTreeMap<usize, usize> = BTreeMap::new();
    let mut merged = futures_util::stream::select_all(
        members
            .into_iter()
            .enumerate()
            .map(|(member, subscriber)| subscriber.map(move |message| (member, message))),
    );
    for _ in 0..COUNT {
        let (member, message) = tokio::time::timeout(WAIT, merged.next()).await.unwrap().unwrap();
        let id: usize = std::str::from_utf8(&message.payload).unwrap().parse().unwrap();
        assert!(seen_by.insert(id, member).is_none(), "job {id} delivered twice");
    }
    assert_eq!(seen_by.len(), COUNT);
    let mut per_member = [0; 3];
    seen_by.values().for_each(|&member| per_member[member] += 1);
    assert!(per_member.iter().all(|&count| count > 0), "{per_member:?}");

    sync(&publisher).await;
    for member_client in &member_clients {
        sync(member_client).await;
    }
    let extra = merged.next().now_or_never();
    assert!(extra.is_none(), "a job was delivered twice: {extra:?}");
}

#[tokio::test]
async fn unsubscribe_after_max_messages() {
    let broker = start_default().await;
    let (publisher, subscriber_client) = (client(&broker).await, client(&broker).await);
    let mut subscriber = subscriber_client.subscribe("limited").await.unwrap();
    subscriber.unsubscribe_after(2).await.unwrap();
    sync(&subscriber_client).await;

    for n in 0..5 {
        publisher.publish("limited", Bytes::from(format!("{n}"))).await.unwrap();
    }
    sync(&publisher).await;
    assert_eq!(next(&mut subscriber).await.payload, "0");
    assert_eq!(next(&mut subscriber).await.payload, "1");
    assert!(tokio::time::timeout(WAIT, subscriber.next()).await.unwrap().is_none(), "subscription ended");
    sync(&subscriber_client).await;
    assert_eq!(broker.stats().subscriptions, 0, "the broker dropped the subscription too");
}
