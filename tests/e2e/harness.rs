//! Starting and stopping real processes, and small clients for them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hitkeep_protocol::{Ack, Batch, INGEST_SUBJECT, MSG_ID_HEADER};

/// The `hitkeep` binary built for this workspace.
pub fn hitkeep_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/hitkeep
    let profile_dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let bin = profile_dir.join("hitkeep");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p hitkeep` (or cargo test --workspace)",
        bin.display()
    );
    bin
}

/// Runs `hitkeep ARGS` to completion.
pub fn run_cli(args: &[&str]) -> Output {
    Command::new(hitkeep_bin()).args(args).output().expect("running hitkeep")
}

/// A running `hitkeep serve`.
pub struct Server {
    child: Option<Child>,
    pub http: SocketAddr,
    pub nats_url: String,
    log: PathBuf,
    stdout: PathBuf,
}

impl Server {
    /// Starts `hitkeep serve` on `data_dir` with ephemeral ports and waits until it is up.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// [`Server::start`] with environment variables.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let runtime = data_dir.join("hitkeep.runtime.json");
        let _ = std::fs::remove_file(&runtime);
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.join(format!(
            "serve-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let log_file = std::fs::File::create(&log).unwrap();
        let stdout = log.with_extension("stdout");
        let stdout_file = std::fs::File::create(&stdout).unwrap();
        let mut command = Command::new(hitkeep_bin());
        command
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("HITKEEP_LOG_LEVEL", "info")
            .envs(env.iter().copied())
            .stdout(stdout_file)
            .stderr(log_file);
        if !extra.contains(&"--nats-url") {
            command.env("HITKEEP_NATS_LISTEN", "127.0.0.1:0");
        }
        let mut child = command.spawn().expect("spawning hitkeep serve");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "hitkeep serve exited with {status}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if let Ok(bytes) = std::fs::read(&runtime) {
                let info: serde_json::Value = serde_json::from_slice(&bytes).expect("runtime file is json");
                if info["pid"].as_u64() == Some(u64::from(child.id())) {
                    return Self {
                        child: Some(child),
                        http: info["http"].as_str().unwrap().parse().unwrap(),
                        nats_url: info["nats"].as_str().unwrap().to_string(),
                        log,
                        stdout,
                    };
                }
            }
            assert!(Instant::now() < deadline, "hitkeep serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server printed on standard output so far (the setup or demo link).
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "hitkeep serve exited with {status}:\n{}", self.log());
                return;
            }
            assert!(Instant::now() < deadline, "hitkeep serve did not stop:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal HTTP/1.1 GET, returning status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

/// Connects an async-nats client with a capacity that holds bursts.
pub async fn nats(url: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .subscription_capacity(65_536)
        .connect(url)
        .await
        .expect("connecting to nats")
}

/// Sends a batch as an edge does and returns the ack.
pub async fn send_batch(client: &async_nats::Client, batch: &Batch) -> Result<Ack, String> {
    send_raw(client, &batch.id, batch.encode_binary()).await
}

/// Sends raw bytes as a batch request with a message id.
pub async fn send_raw(client: &async_nats::Client, id: &str, payload: Vec<u8>) -> Result<Ack, String> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MSG_ID_HEADER, id);
    let request = async_nats::Request::new()
        .payload(payload.into())
        .headers(headers)
        .timeout(Some(Duration::from_secs(10)));
    let reply = client.send_request(INGEST_SUBJECT, request).await.map_err(|e| e.to_string())?;
    Ack::decode(&reply.payload).map_err(|e| e.to_string())
}

/// Deterministic traffic for `domain`, cut into batches.
pub fn traffic_batches(domain: &str, seed: u64, hits: u64, per_batch: usize, edge: &str) -> Vec<Batch> {
    let config = hitkeep_traffic::TrafficConfig {
        seed,
        sites: vec![domain.to_string()],
        hits,
        days: 2,
        end_ms: 1_767_225_600_000,
    };
    hitkeep_traffic::batches(hitkeep_traffic::Traffic::new(config), edge, per_batch).collect()
}

/// Total hits in batches.
pub fn hits_in(batches: &[Batch]) -> u64 {
    batches.iter().map(|batch| batch.hits.len() as u64).sum()
}

/// Opens the stopped server's database.
pub fn open_store(data_dir: &Path) -> hitkeep_store::Store {
    hitkeep_store::Store::open_dir(data_dir).expect("opening the database after the server stopped")
}

/// A minimal HTTP/1.1 request: status, response headers (lower-case names) and body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// The value of a response header.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `hitkeep-edge` binary built for this workspace.
pub fn edge_bin() -> PathBuf {
    let bin = hitkeep_bin().with_file_name("hitkeep-edge");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p hitkeep-edge` (or cargo test --workspace)",
        bin.display()
    );
    bin
}

/// A running `hitkeep-edge`.
pub struct Edge {
    child: Option<Child>,
    pub http: SocketAddr,
    log: PathBuf,
}

impl Edge {
    /// Starts `hitkeep-edge` on `data_dir` (port 0), publishing to `nats_url`.
    pub fn start(data_dir: &Path, nats_url: &str, extra: &[&str]) -> Self {
        use std::io::BufRead;
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.join(format!(
            "edge-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let mut child = Command::new(edge_bin())
            .args(["--listen", "127.0.0.1:0", "--nats-url", nats_url, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawning hitkeep-edge");
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(addr) = line.trim().strip_prefix("hitkeep-edge listening on http://") else {
            let _ = child.kill();
            panic!(
                "hitkeep-edge did not start ({line:?}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Self { http: addr.parse().unwrap(), child: Some(child), log }
    }

    /// The edge's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A metric's value from `/metrics` (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        let (_, body) = http_get(self.http, "/metrics");
        body.lines()
            .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Waits until every hit this process accepted is in the spool (the batcher holds hits
    /// for up to 500 ms).
    pub fn wait_spooled(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.metric("hitkeep_edge_hits_spooled_total") < self.metric("hitkeep_edge_hits_accepted_total")
        {
            assert!(Instant::now() < deadline, "the edge did not spool what it accepted:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every hit this process accepted is spooled and the spool (replayed
    /// batches of an earlier process included) is empty: every batch acked.
    pub fn wait_drained(&self, timeout: Duration) {
        self.wait_spooled(timeout);
        let deadline = Instant::now() + timeout;
        while self.metric("hitkeep_edge_spool_files") > 0.0 {
            assert!(Instant::now() < deadline, "the edge did not drain its spool:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let status = child.wait().unwrap();
        assert!(status.success(), "hitkeep-edge exited with {status}:\n{}", self.log());
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `aiosmtpd` on a free port, keeping what it receives in a Maildir.
pub struct Smtp {
    child: std::process::Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where it keeps messages (`new/` holds them).
    pub maildir: std::path::PathBuf,
}

impl Smtp {
    /// Starts it with its Maildir under `dir`.
    pub fn start(dir: &Path) -> Self {
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .spawn()
            .expect("python3 runs (scripts/test.sh installs aiosmtpd)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port, maildir }
    }

    /// The first message, its quoted-printable soft breaks undone.
    pub fn wait_for_message(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut entries) = std::fs::read_dir(self.maildir.join("new"))
                && let Some(Ok(entry)) = entries.next()
            {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                return text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
            }
            assert!(Instant::now() < deadline, "no mail arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Smtp {
    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<PathBuf> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.maildir.join("new"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| (entry.metadata().and_then(|m| m.modified()).unwrap(), entry.path()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, path)| path).collect()
    }

    /// Waits until `count` messages are in.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<PathBuf> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(Instant::now() < deadline, "{} of {count} messages arrived", messages.len());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
