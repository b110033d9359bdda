//! Shared test helpers: brokers on port 0, async-nats clients, and a raw protocol client.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::{Message, Subscriber};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use hitkeep_broker::{Broker, BrokerConfig, BrokerHandle};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Upper bound for anything a test waits on; a healthy run takes milliseconds.
pub const WAIT: Duration = Duration::from_secs(5);

/// A loopback config on a free port.
pub fn config() -> BrokerConfig {
    BrokerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..BrokerConfig::default() }
}

pub async fn start(config: BrokerConfig) -> BrokerHandle {
    // `HITKEEP_TEST_LOG=1 cargo test ...` shows the broker's debug logs.
    if std::env::var_os("HITKEEP_TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_test_writer().try_init();
    }
    Broker::start(config).await.expect("broker starts")
}

pub async fn start_default() -> BrokerHandle {
    start(config()).await
}

/// Client options for tests that burst: async-nats drops messages beyond the subscription
/// capacity (64 by default).
pub fn options() -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new().subscription_capacity(100_000)
}

pub async fn client(broker: &BrokerHandle) -> async_nats::Client {
    options().connect(broker.client_url()).await.expect("client connects")
}

/// The next message, failing the test if none arrives in time.
pub async fn next(subscriber: &mut Subscriber) -> Message {
    tokio::time::timeout(WAIT, subscriber.next()).await.expect("message in time").expect("subscription open")
}

/// Waits until the broker has processed everything `client` sent before. async-nats's
/// `flush()` only flushes the socket, so this round-trips a message through the broker: it
/// handles a connection's ops in order, and answers on the same queue as earlier messages.
pub async fn sync(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.unwrap();
    // Ended by the broker on delivery, so it never shows in subscription counts afterwards.
    echo.unsubscribe_after(1).await.unwrap();
    client.publish(inbox, Bytes::new()).await.unwrap();
    next(&mut echo).await;
}

/// Asserts that nothing more is on its way to `subscriber`: once both clients synced, anything
/// the publisher sent earlier has already been handed to the subscription.
pub async fn assert_no_more(
    subscriber: &mut Subscriber,
    publisher: &async_nats::Client,
    subscriber_client: &async_nats::Client,
) {
    sync(publisher).await;
    sync(subscriber_client).await;
    let extra = subscriber.next().now_or_never();
    assert!(extra.is_none(), "unexpected message: {extra:?}");
}

/// A raw NATS protocol client for asserting exact server lines.
pub struct Raw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    pub info: serde_json::Value,
}

impl Raw {
    /// Connects and reads INFO.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::from_stream(TcpStream::connect(addr).await.unwrap()).await
    }

    pub async fn from_stream(stream: TcpStream) -> Self {
        let (reader, writer) = stream.into_split();
        let mut raw = Self { reader: BufReader::new(reader), writer, info: serde_json::Value::Null };
        let line = raw.line().await;
        let json = line.strip_prefix("INFO ").and_then(|rest| rest.strip_suffix("\r\n")).expect("INFO first");
        raw.info = serde_json::from_str(json).unwrap();
        raw
    }

    /// Connects and sends CONNECT with the given JSON options.
    pub async fn connected(addr: SocketAddr, options: &str) -> Self {
        let mut raw = Self::connect(addr).await;
        raw.send(&format!("CONNECT {options}\r\n")).await;
        raw
    }

    pub async fn send(&mut self, bytes: &str) {
        self.send_bytes(bytes.as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// One line, with its "\r\n".
    pub async fn line(&mut self) -> String {
        let mut line = Vec::new();
        tokio::time::timeout(WAIT, self.reader.read_until(b'\n', &mut line))
            .await
            .expect("line in time")
            .unwrap();
        String::from_utf8(line).unwrap()
    }

    /// Asserts the next line (given without "\r\n").
    pub async fn expect(&mut self, expected: &str) {
        assert_eq!(self.line().await, format!("{expected}\r\n"));
    }

    /// Asserts the next lines.
    pub async fn expect_lines(&mut self, expected: &[&str]) {
        for line in expected {
            self.expect(line).await;
        }
    }

    /// Round-trips a PING, asserting nothing else arrives first.
    pub async fn sync(&mut self) {
        self.send("PING\r\n").await;
        self.expect("PONG").await;
    }

    /// Reads until the server closes the connection; returns what was read.
    pub async fn expect_closed(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        match tokio::time::timeout(WAIT, self.reader.read_to_end(&mut rest)).await.expect("closed in time") {
            Ok(_) => {}
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}"),
        }
        rest
    }
}
