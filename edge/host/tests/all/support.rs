//! Shared test machinery: compiled components, a broker, an aggregator stand-in answering on
//! NATS, an HTTP client, hosts on port 0, captured logs.

use std::collections::HashSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use hitkeep_broker::{Broker, BrokerConfig, BrokerHandle};
use hitkeep_edge::{ComponentRuntime, ComponentSource, EdgeConfig, EdgeHandle, EdgeHost, RuntimeLimits};
use hitkeep_protocol::{Ack, AckStatus, Batch, EDGE_CONFIG_SUBJECT, Hit, INGEST_SUBJECT, MSG_ID_HEADER};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const SALT_CURRENT: [u8; 32] = [0x11; 32];
pub const SALT_PREVIOUS: [u8; 32] = [0x22; 32];

/// A browser user agent (bots are dropped by the collector).
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";

pub type AnyResult<T = ()> = anyhow::Result<T>;

/// The edge configuration the aggregator stand-in serves: one site, fixed salts.
pub fn config_json() -> String {
    let hex = |salt: &[u8; 32]| salt.iter().map(|b| format!("{b:02x}")).collect::<String>();
    format!(
        r#"{{"sites":[{{"domain":"example.com"}},{{"domain":"other.org"}}],"salts":{{"current":"{}","previous":"{}"}}}}"#,
        hex(&SALT_CURRENT),
        hex(&SALT_PREVIOUS)
    )
}

/// A Plausible-style pageview for `https://example.com{path}`.
pub fn pageview(path: &str) -> String {
    format!(r#"{{"name":"pageview","url":"https://example.com{path}","domain":"example.com"}}"#)
}

/// A valid hit for the test component (which forwards batches as they are).
pub fn hit(path: &str) -> Hit {
    Hit::pageview(1_767_225_600_000, "example.com", path)
}

// ---------------------------------------------------------------------------------------
// Components and logs, once per test binary.

/// The real collector, compiled once (compiling takes seconds in a debug build).
pub fn collector() -> Arc<ComponentRuntime> {
    static RUNTIME: OnceLock<Arc<ComponentRuntime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            init_logs();
            Arc::new(
                ComponentRuntime::new(hitkeep_edge::EMBEDDED_COLLECTOR, RuntimeLimits::default())
                    .expect("the collector compiles"),
            )
        })
        .clone()
}

/// The test component (`tests/components/test-component`).
pub fn test_component() -> Arc<ComponentRuntime> {
    static RUNTIME: OnceLock<Arc<ComponentRuntime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            init_logs();
            let wasm =
                std::fs::read(env!("HITKEEP_EDGE_TEST_COMPONENT")).expect("the test component was built");
            Arc::new(
                ComponentRuntime::new(&wasm, RuntimeLimits::default()).expect("the test component compiles"),
            )
        })
        .clone()
}

/// Everything the hosts of this test binary logged (at debug and above).
pub fn captured_logs() -> String {
    init_logs();
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("HITKEEP_TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::new(
            "hitkeep_edge=trace,wasmtime_wasi_http=debug,async_nats=info,warn",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

/// The Prometheus handle shared by every host of this binary (the recorder is global).
pub fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().expect("one recorder")
        })
        .clone()
}

// ---------------------------------------------------------------------------------------
// NATS: the embedded broker and an aggregator stand-in.

pub async fn broker() -> AnyResult<BrokerHandle> {
    Ok(Broker::start(BrokerConfig { listen: "127.0.0.1:0".parse()?, ..Default::default() }).await?)
}

#[derive(Debug, Default)]
struct Received {
    batches: Vec<Batch>,
    seen_ids: HashSet<String>,
    duplicates: usize,
    header_mismatches: usize,
}

/// Plays the aggregator on NATS: answers configuration requests, acks ingest requests and
/// records every batch.
#[derive(Debug)]
pub struct Aggregator {
    client: async_nats::Client,
    received: Arc<Mutex<Received>>,
    ingest: Mutex<Option<JoinHandle<()>>>,
    config: Mutex<Option<JoinHandle<()>>>,
}

impl Aggregator {
    /// Connected to `url`, serving nothing yet.
    pub async fn connect(url: &str) -> AnyResult<Self> {
        let client = async_nats::connect(url).await?;
        Ok(Self { client, received: Arc::default(), ingest: Mutex::new(None), config: Mutex::new(None) })
    }

    /// Connected and serving both the configuration and ingest.
    pub async fn start(url: &str) -> AnyResult<Self> {
        let aggregator = Self::connect(url).await?;
        aggregator.serve_config(config_json()).await?;
        aggregator.serve_ingest().await?;
        Ok(aggregator)
    }

    pub async fn serve_config(&self, json: String) -> AnyResult {
        let mut subscriber = self.client.subscribe(EDGE_CONFIG_SUBJECT).await?;
        self.client.flush().await?;
        let client = self.client.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                if let Some(reply) = message.reply {
                    let _ = client.publish(reply, Bytes::from(json.clone())).await;
                }
            }
        });
        if let Some(old) = self.config.lock().unwrap().replace(task) {
            old.abort();
        }
        Ok(())
    }

    pub async fn serve_ingest(&self) -> AnyResult {
        let mut subscriber = self.client.subscribe(INGEST_SUBJECT).await?;
        self.client.flush().await?;
        let (client, received) = (self.client.clone(), self.received.clone());
        let task = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                let batch = Batch::decode(&message.payload).expect("the edge sends valid batches");
                let header = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(MSG_ID_HEADER))
                    .map(|v| v.as_str().to_string());
                let status = {
                    let mut received = received.lock().unwrap();
                    if header.as_deref() != Some(batch.id.as_str()) {
                        received.header_mismatches += 1;
                    }
                    if received.seen_ids.insert(batch.id.clone()) {
                        let status = AckStatus::Stored;
                        received.batches.push(batch.clone());
                        status
                    } else {
                        received.duplicates += 1;
                        AckStatus::Duplicate
                    }
                };
                let ack = Ack { id: batch.id, status, stored: 0, dropped: 0, error: None };
                if let Some(reply) = message.reply {
                    let _ = client.publish(reply, Bytes::from(ack.encode())).await;
                }
            }
        });
        if let Some(old) = self.ingest.lock().unwrap().replace(task) {
            old.abort();
        }
        Ok(())
    }

    /// Stops acking (the subscription goes away: publishers get "no responders").
    pub async fn stop_ingest(&self) {
        let task = self.ingest.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        let _ = self.client.flush().await;
    }

    /// Every hit of every distinct batch received.
    pub fn hits(&self) -> Vec<Hit> {
        self.received.lock().unwrap().batches.iter().flat_map(|b| b.hits.clone()).collect()
    }

    pub fn batches(&self) -> Vec<Batch> {
        self.received.lock().unwrap().batches.clone()
    }

    pub fn header_mismatches(&self) -> usize {
        self.received.lock().unwrap().header_mismatches
    }

    /// Waits until at least `count` hits have arrived.
    pub async fn wait_for_hits(&self, count: usize, timeout: Duration) -> AnyResult<Vec<Hit>> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits();
            if hits.len() >= count {
                return Ok(hits);
            }
            if Instant::now() > deadline {
                anyhow::bail!("{} hits arrived within {timeout:?}, expected {count}", hits.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hosts.

/// An edge host serving on `127.0.0.1:0`.
#[derive(Debug)]
pub struct TestHost {
    pub handle: EdgeHandle,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Test settings: fast batches and retries.
pub fn test_config(
    name: &str,
    data_dir: &Path,
    nats_url: &str,
    runtime: Arc<ComponentRuntime>,
) -> EdgeConfig {
    let mut config = EdgeConfig::new(name, data_dir);
    config.component = ComponentSource::Runtime(runtime);
    config.nats.url = nats_url.to_string();
    config.nats.request_timeout = Duration::from_secs(2);
    config.nats.min_backoff = Duration::from_millis(50);
    config.nats.max_backoff = Duration::from_millis(500);
    config.batch.max_age = Duration::from_millis(100);
    config.metrics = Some(metrics_handle());
    config
}

impl TestHost {
    pub async fn start(config: EdgeConfig) -> AnyResult<Self> {
        let handle = EdgeHost::start(config).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_handle = handle.clone();
        let server = tokio::spawn(async move {
            server_handle
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { handle, addr, stop: Some(stop), server: Some(server) })
    }

    /// Waits until the host has a configuration and a NATS connection.
    pub async fn wait_ready(&self) -> AnyResult {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.handle.is_ready() {
            anyhow::ensure!(Instant::now() < deadline, "the host did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Stops serving and shuts the host down gracefully.
    pub async fn shutdown(mut self, grace: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.handle.shutdown(grace).await;
    }

    /// Stops at once, as a crash would: nothing is flushed.
    pub async fn crash(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
        drop(self);
    }

    pub async fn post_event(&self, body: &str, headers: &[(&str, &str)]) -> AnyResult<Reply> {
        let mut all = vec![("content-type", "application/json"), ("user-agent", FIREFOX)];
        all.extend_from_slice(headers);
        request(self.addr, "POST", "/api/event", &all, body.to_string()).await
    }
}

// ---------------------------------------------------------------------------------------
// HTTP.

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> AnyResult<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Self { sender, addr })
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> AnyResult<Reply> {
        let mut builder =
            http::Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.sender.ready().await?;
        let response = self.sender.send_request(builder.body(Full::new(body.into()))?).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply { status: parts.status.as_u16(), headers: parts.headers, body })
    }
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> AnyResult<Reply> {
    Connection::open(addr).await?.send(method, path, headers, body).await
}

// ---------------------------------------------------------------------------------------
// Spool files.

/// The batches in a data directory's spool.
pub fn spooled_batches(data_dir: &Path) -> Vec<(PathBuf, Batch)> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("spool")) else { return Vec::new() };
    let mut out: Vec<(PathBuf, Batch)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "batch"))
        .filter_map(|p| std::fs::read(&p).ok().and_then(|bytes| Batch::decode(&bytes).ok()).map(|b| (p, b)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every byte of every file under `dir`.
pub fn all_file_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.extend_from_slice(&bytes);
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) -> AnyResult {
    let deadline = Instant::now() + timeout;
    while !condition() {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Writes to stderr when `HITKEEP_TEST_LOG` is set.
pub fn note(message: &str) {
    if std::env::var_os("HITKEEP_TEST_LOG").is_some() {
        let _ = writeln!(std::io::stderr(), "{message}");
    }
}
