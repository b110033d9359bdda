//! The wire protocol byte for byte: INFO, verbose +OK, MSG/HMSG framing, pedantic errors,
//! no-responders, echo, auto-unsubscribe and fatal protocol violations.

use crate::support::{Raw, start_default};

#[tokio::test]
async fn info_announces_what_clients_need() {
    let broker = start_default().await;
    let raw = Raw::connect(broker.local_addr()).await;
    let info = &raw.info;
    assert_eq!(info["headers"], true, "{info}");
    assert_eq!(info["max_payload"], 1024 * 1024);
    assert_eq!(info["proto"], 1);
    assert_eq!(info["port"], broker.local_addr().port());
    assert!(info["server_id"].as_str().unwrap().starts_with('N'));
    assert!(info.get("auth_required").is_none() && info.get("tls_required").is_none(), "{info}");
}

#[tokio::test]
async fn verbose_pedantic_session() {
    let broker = start_default().await;
    let mut raw = Raw::connected(
        broker.local_addr(),
        r#"{"verbose":true,"pedantic":true,"headers":true,"no_responders":true}"#,
    )
    .await;
    raw.expect("+OK").await;

    raw.send("SUB foo.* 1\r\n").await;
    raw.expect("+OK").await;
    raw.send("PUB foo.bar 5\r\nhello\r\n").await;
    raw.expect_lines(&["MSG foo.bar 1 5", "hello", "+OK"]).await;
    raw.send("pub foo.bar reply.to 0\r\n\r\n").await;
    raw.expect_lines(&["MSG foo.bar 1 reply.to 0", "", "+OK"]).await;
    raw.send("HPUB foo.baz 21 23\r\nNATS/1.0\r\nX-Id: 7\r\n\r\nhi\r\n").await;
    raw.expect_lines(&["HMSG foo.baz 1 21 23", "NATS/1.0", "X-Id: 7", "", "hi", "+OK"]).await;

    // Pedantic errors are reported and the connection stays usable.
    raw.send("SUB foo..bar 2\r\n").await;
    raw.expect("-ERR 'Invalid Subject'").await;
    raw.send("SUB foo.>.bar 2\r\n").await;
    raw.expect("-ERR 'Invalid Subject'").await;
    raw.send("PUB foo.* 1\r\nx\r\n").await;
    raw.expect("-ERR 'Invalid Publish Subject'").await;
    raw.send("UNSUB 1\r\n").await;
    raw.expect("+OK").await;
    raw.send("PUB foo.bar 1\r\nx\r\n").await;
    raw.expect("+OK").await;
    raw.sync().await;
}

#[tokio::test]
async fn no_responders_status_goes_to_the_requesters_inbox() {
    let broker = start_default().await;
    let mut raw = Raw::connected(broker.local_addr(), r#"{"headers":true,"no_responders":true}"#).await;
    raw.send("SUB _INBOX.abc.* 9\r\nPUB nobody.home _INBOX.abc.1 3\r\nreq\r\n").await;
    raw.expect_lines(&["HMSG _INBOX.abc.1 9 16 16", "NATS/1.0 503", "", ""]).await;
    raw.sync().await;

    // Without no_responders the request is just dropped.
    let mut plain = Raw::connected(broker.local_addr(), r#"{"headers":true}"#).await;
    plain.send("SUB _INBOX.x.* 1\r\nPUB nobody.home _INBOX.x.1 0\r\n\r\n").await;
    plain.sync().await;
}

#[tokio::test]
async fn clients_without_headers_get_msg_with_headers_stripped() {
    let broker = start_default().await;
    let mut old = Raw::connected(broker.local_addr(), "{}").await;
    old.send("SUB h 1\r\n").await;
    old.sync().await;
    let mut publisher = Raw::connected(broker.local_addr(), r#"{"headers":true}"#).await;
    publisher.send("HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").await;
    publisher.sync().await;
    old.expect_lines(&["MSG h 1 2", "hi"]).await;
}

#[tokio::test]
async fn echo_off_and_auto_unsubscribe() {
    let broker = start_default().await;
    let mut raw = Raw::connected(broker.local_addr(), r#"{"echo":false}"#).await;
    raw.send("SUB self 1\r\nPUB self 1\r\nx\r\n").await;
    raw.sync().await;

    let mut raw = Raw::connected(broker.local_addr(), "{}").await;
    raw.send("SUB twice 5\r\nUNSUB 5 2\r\n").await;
    for n in 0..4 {
        raw.send(&format!("PUB twice 1\r\n{n}\r\n")).await;
    }
    raw.expect_lines(&["MSG twice 5 1", "0", "MSG twice 5 1", "1"]).await;
    raw.sync().await;
    assert_eq!(broker.stats().subscriptions, 1, "only the echo test's subscription is left");
}

#[tokio::test]
async fn ops_may_span_reads_and_share_them() {
    let broker = start_default().await;
    let mut raw = Raw::connected(broker.local_addr(), "{}").await;
    raw.send("SUB split 1\r\nPU").await;
    raw.send("B split 1").await;
    raw.send("1\r\nhello").await;
    raw.send(" world\r\nPING\r\nPUB split 2\r\nok\r\n").await;
    raw.expect_lines(&["MSG split 1 11", "hello world", "PONG", "MSG split 1 2", "ok"]).await;
}

#[tokio::test]
async fn fatal_protocol_violations_close_the_connection() {
    let broker = start_default().await;
    let cases: [(&[u8], &str); 4] = [
        (b"FOO bar\r\n", "-ERR 'Unknown Protocol Operation'"),
        (b"PUB x\r\n", "-ERR 'Parser Error'"),
        (b"PUB x 2\r\nabcd\r\n", "-ERR 'Parser Error'"),
        (&[b'a'; 5000], "-ERR 'Maximum Control Line Exceeded'"),
    ];
    for (input, expected) in cases {
        let mut raw = Raw::connected(broker.local_addr(), "{}").await;
        raw.send_bytes(input).await;
        raw.expect(expected).await;
        raw.expect_closed().await;
    }
}
