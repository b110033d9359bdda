//! The local control socket: how the command line (`hitkeep site`, `user`, `token`,
//! `edge-token`, `audit`, `events`) reaches a running `hitkeep serve`.
//!
//! DuckDB lets one process write a database file. While `serve` runs, it owns `hitkeep.db`,
//! so other commands on the same data directory talk to it over a Unix socket in that
//! directory (`hitkeep.sock`, mode 0600: only the owner of the data may use it). When nobody
//! listens there, the command opens the database itself and calls the same control routes
//! in-process, so both ways run the same code.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::app::control_app;
use crate::error::ErrorBody;
use crate::state::AppState;

/// The socket's file name in the data directory.
pub const SOCKET_FILE: &str = "hitkeep.sock";

/// DuckDB's memory limit when a command opens the database itself: what a command needs
/// (an export streams; a report's hash tables spill to disk beyond it), so that a command
/// run beside other work stays small.
pub const IN_PROCESS_MEMORY_MIB: u32 = 192;

/// The socket path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// Binds a Unix socket at `path` that nobody but this user can connect to, ever: it is
/// bound inside a fresh directory of mode 0700, made 0600, and only then renamed into place
/// (binding at `path` directly would leave it open to the umask until the chmod).
fn bind_private(path: &Path) -> anyhow::Result<UnixListener> {
    let parent = path.parent().context("the socket path has a directory")?;
    let staging = parent.join(format!(".hitkeep-sock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .with_context(|| format!("creating {}", staging.display()))?;
    let staged = staging.join(SOCKET_FILE);
    let bound =
        UnixListener::bind(&staged).with_context(|| format!("binding control socket {}", staged.display()));
    let result = bound.and_then(|listener| {
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, path)
            .with_context(|| format!("moving the control socket to {}", path.display()))?;
        Ok(listener)
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Serves the control routes on the data directory's socket until `cancel` fires.
pub async fn serve(
    data_dir: &Path,
    state: AppState,
    cancel: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(data_dir);
    // We hold the database lock, so a socket file left here is from a process that died.
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let listener = bind_private(&path)?;
    let app = control_app(state);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await;
        if let Err(error) = served {
            tracing::error!(%error, "control socket failed");
        }
        let _ = std::fs::remove_file(&path);
    }))
}

/// How the command line reaches the control routes.
#[derive(Debug)]
pub enum ControlClient {
    /// A running server's socket.
    Socket(PathBuf),
    /// No server runs: the database opened by this process, the routes called in-process.
    InProcess(Router),
}

impl ControlClient {
    /// The running server's socket if one answers, else the database opened here.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let path = socket_path(data_dir);
        if UnixStream::connect(&path).await.is_ok() {
            return Ok(Self::Socket(path));
        }
        let dir = data_dir.to_path_buf();
        let store = tokio::task::spawn_blocking(move || -> anyhow::Result<hitkeep_store::Store> {
            let store = hitkeep_store::Store::open_dir(&dir)?;
            store.set_memory_limit(IN_PROCESS_MEMORY_MIB)?;
            Ok(store)
        })
        .await??;
        let state = AppState::offline_now(Arc::new(store), data_dir)?;
        Ok(Self::InProcess(control_app(state)))
    }

    /// Whether a running server answered.
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Socket(_))
    }

    /// Sends a request and decodes the JSON answer, turning error bodies into errors.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: hyper::Method,
        uri: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<T> {
        let (status, body) = self.send(method, uri, body).await?;
        let bytes = body.collect().await?.to_bytes();
        check_status(status, &bytes)?;
        serde_json::from_slice(&bytes).context("decoding the server's answer")
    }

    /// Sends a request whose answer is one JSON object per line, and hands each line to
    /// `line` as it arrives (a long task's progress).
    pub async fn call_lines<T: DeserializeOwned>(
        &self,
        method: hyper::Method,
        uri: &str,
        body: Option<serde_json::Value>,
        mut line: impl FnMut(T) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (status, mut body) = self.send(method, uri, body).await?;
        if !status.is_success() {
            let bytes = body.collect().await?.to_bytes();
            check_status(status, &bytes)?;
            bail!("server answered {status}");
        }
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else { continue };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let text: Vec<u8> = pending.drain(..=end).collect();
                line(serde_json::from_slice(&text).context("decoding the server's answer")?)?;
            }
        }
        Ok(())
    }

    async fn send(
        &self,
        method: hyper::Method,
        uri: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(hyper::StatusCode, AnyBody)> {
        let body = body.map(|json| json.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, "hitkeep")
            .header(hyper::header::CONTENT_TYPE, "application/json");
        Ok(match self {
            Self::Socket(path) => {
                let stream = UnixStream::connect(path).await.context("connecting to the control socket")?;
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                let response =
                    sender.send_request(request.body(Full::new(bytes::Bytes::from(body)))?).await?;
                let status = response.status();
                (status, response.into_body().map_err(anyhow::Error::from).boxed_unsync())
            }
            Self::InProcess(router) => {
                let response = router.clone().oneshot(request.body(axum::body::Body::from(body))?).await?;
                let status = response.status();
                (status, response.into_body().map_err(anyhow::Error::from).boxed_unsync())
            }
        })
    }
}

/// A response body from either side.
type AnyBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, anyhow::Error>;

/// An error answer as an error.
fn check_status(status: hyper::StatusCode, bytes: &[u8]) -> anyhow::Result<()> {
    if status.is_success() {
        return Ok(());
    }
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(error) => bail!("{} ({})", error.error.message, error.error.code),
        Err(_) => bail!("server answered {status}"),
    }
}

/// Domains and names are typed by people: keep a path segment intact.
pub fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
