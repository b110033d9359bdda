//! The local control socket: how `hitkeep site ...` reaches a running `hitkeep serve`.
//!
//! DuckDB lets one process write a database file. While `serve` runs, it owns `hitkeep.db`,
//! so other commands on the same data directory talk to it over a Unix socket in that
//! directory (`hitkeep.sock`, mode 0600: only the owner of the data may use it). When nobody
//! listens there, they open the database themselves.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::api_error::ErrorBody;
use crate::http::{AppState, control_app};

/// The socket's file name in the data directory.
pub const SOCKET_FILE: &str = "hitkeep.sock";

/// The socket path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
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
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding control socket {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let app = control_app(state);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await;
        if let Err(error) = served {
            tracing::error!(%error, "control socket failed");
        }
        let _ = std::fs::remove_file(&path);
    }))
}

/// A client of a running server's control socket.
#[derive(Debug)]
pub struct ControlClient {
    path: PathBuf,
}

impl ControlClient {
    /// A client if a server answers on the data directory's socket, else `None`.
    pub async fn connect(data_dir: &Path) -> Option<Self> {
        let path = socket_path(data_dir);
        UnixStream::connect(&path).await.ok()?;
        Some(Self { path })
    }

    /// Sends a request and decodes the JSON answer, turning error bodies into errors.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: hyper::Method,
        uri: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<T> {
        let stream = UnixStream::connect(&self.path).await.context("connecting to the control socket")?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let body = body.map(|json| json.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, "hitkeep")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes::Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(error) => bail!("{} ({})", error.error.message, error.error.code),
                Err(_) => bail!("server answered {status}"),
            }
        }
        serde_json::from_slice(&bytes).context("decoding the server's answer")
    }
}
