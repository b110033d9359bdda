//! Request/reply through async-nats, with headers, and the no-responders status.

use std::time::{Duration, Instant};

use async_nats::{HeaderMap, RequestErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::support::{client, start_default, sync};

#[tokio::test]
async fn request_reply_carries_headers_both_ways() {
    let broker = start_default().await;
    let (requester, responder) = (client(&broker).await, client(&broker).await);
    let mut service = responder.subscribe("svc.upper").await.unwrap();
    sync(&responder).await;
    let responder_task = tokio::spawn(async move {
        while let Some(request) = service.next().await {
            let batch_id =
                request.headers.as_ref().and_then(|headers| headers.get("Nats-Msg-Id")).unwrap().clone();
            let mut headers = HeaderMap::new();
            headers.insert("Ack-For", batch_id.as_str());
            let body = Bytes::from(std::str::from_utf8(&request.payload).unwrap().to_uppercase());
            responder.publish_with_headers(request.reply.unwrap(), headers, body).await.unwrap();
        }
    });

    for n in 0..20 {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("batch-{n}").as_str());
        let response = requester
            .request_with_headers("svc.upper", headers, Bytes::from(format!("hits {n}")))
            .await
            .unwrap();
        assert_eq!(response.payload, format!("HITS {n}"));
        assert_eq!(response.headers.unwrap().get("Ack-For").unwrap().as_str(), format!("batch-{n}"));
    }
    responder_task.abort();
}

#[tokio::test]
async fn request_without_responders_fails_at_once() {
    let broker = start_default().await;
    let requester = client(&broker).await;
    let started = Instant::now();
    let error = requester.request("nobody.listens", Bytes::from_static(b"?")).await.unwrap_err();
    assert_eq!(error.kind(), RequestErrorKind::NoResponders);
    assert!(started.elapsed() < Duration::from_millis(500), "took {:?}", started.elapsed());

    // Once someone listens, the same subject works.
    let responder = client(&broker).await;
    let mut service = responder.subscribe("nobody.listens").await.unwrap();
    sync(&responder).await;
    let reply = tokio::spawn(async move {
        let request = service.next().await.unwrap();
        responder.publish(request.reply.unwrap(), Bytes::from_static(b"here")).await.unwrap();
        responder.flush().await.unwrap();
    });
    assert_eq!(requester.request("nobody.listens", Bytes::new()).await.unwrap().payload, "here");
    reply.await.unwrap();
}
