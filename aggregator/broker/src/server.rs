//! The broker's lifecycle: binding, the accept loop with its connection limit, and graceful
//! shutdown (stop accepting, let every connection flush, then return).

use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::config::BrokerConfig;
use crate::encode::{PROTOCOL_SERVER_VERSION, ServerInfo};
use crate::error::{Error, Result};
use crate::router::Router;
use crate::stats::{BrokerStats, Stats};

/// Entry point of the embedded broker.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// Binds `config.listen` and starts serving NATS clients on the current tokio runtime.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle> {
        config.validate()?;
        let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind { addr: config.listen, source })?;
        let local_addr =
            listener.local_addr().map_err(|source| Error::Bind { addr: config.listen, source })?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        tracing::info!(
            addr = %local_addr,
            tls = tls.is_some(),
            auth = config.auth.is_required(),
            max_payload = config.max_payload,
            "nats broker listening"
        );
        let state = Arc::new(ServerState {
            server_id: server_id(local_addr),
            config,
            local_addr,
            tls,
            router: Router::default(),
            stats: Stats::default(),
            shutdown: shutdown_rx,
            reauthenticate: Arc::new(watch::Sender::new(())),
            next_client_id: AtomicU64::new(1),
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(BrokerHandle { state, shutdown: shutdown_tx, accept_task: Some(accept_task) })
    }
}

/// A running broker. Dropping it stops the broker without waiting; [`BrokerHandle::shutdown`]
/// waits until every connection has flushed and closed.
#[derive(Debug)]
pub struct BrokerHandle {
    state: Arc<ServerState>,
    shutdown: watch::Sender<bool>,
    accept_task: Option<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The bound address (with the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// A URL clients can connect to: `nats://` or `tls://`, with a loopback address in place
    /// of an unspecified one.
    pub fn client_url(&self) -> String {
        let addr = self.state.local_addr;
        let scheme = if self.state.tls.is_some() { "tls" } else { "nats" };
        let host = match addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        };
        format!("{scheme}://{host}:{}", addr.port())
    }

    /// Has every connection accepted by an [`Auth::Custom`] authenticator ask it again, and
    /// closes those it now refuses (`-ERR 'Authorization Violation'`): call it after revoking
    /// a credential, so a client connected with it is cut off at once.
    ///
    /// [`Auth::Custom`]: crate::Auth::Custom
    pub fn reauthenticate(&self) {
        self.state.reauthenticate.send_replace(());
    }

    /// A handle that calls [`BrokerHandle::reauthenticate`] and outlives no broker: for the
    /// code that revokes credentials, which the broker's owner does not hold.
    pub fn reauthenticator(&self) -> Reauthenticator {
        Reauthenticator(Arc::downgrade(&self.state.reauthenticate))
    }

    /// Current counters.
    pub fn stats(&self) -> BrokerStats {
        self.state.stats.snapshot()
    }

    /// Stops accepting, lets every connection flush what is queued for it (within the write
    /// deadline), closes them and releases the port.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(accept_task) = self.accept_task.take()
            && let Err(error) = accept_task.await
        {
            tracing::error!(%error, "broker accept task failed");
        }
        tracing::info!(addr = %self.state.local_addr, "nats broker stopped");
    }
}

/// Asks a broker's connections to authenticate again (see [`BrokerHandle::reauthenticate`]);
/// does nothing once the broker is gone.
#[derive(Debug, Clone)]
pub struct Reauthenticator(std::sync::Weak<watch::Sender<()>>);

impl Reauthenticator {
    /// See [`BrokerHandle::reauthenticate`].
    pub fn reauthenticate(&self) {
        if let Some(sender) = self.0.upgrade() {
            sender.send_replace(());
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// What every connection task shares.
pub(crate) struct ServerState {
    pub(crate) config: BrokerConfig,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) router: Router,
    pub(crate) stats: Stats,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Bumped by [`BrokerHandle::reauthenticate`].
    pub(crate) reauthenticate: Arc<watch::Sender<()>>,
    server_id: String,
    local_addr: SocketAddr,
    next_client_id: AtomicU64,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("server_id", &self.server_id)
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Resolves once the flag is set, or its sender is gone.
pub(crate) async fn until_set(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

impl ServerState {
    pub(crate) fn info_line(&self, client_id: u64) -> Vec<u8> {
        ServerInfo {
            server_id: &self.server_id,
            server_name: &self.config.server_name,
            version: PROTOCOL_SERVER_VERSION,
            go: concat!("hitkeep-broker ", env!("CARGO_PKG_VERSION")),
            host: self.local_addr.ip().to_string(),
            port: self.local_addr.port(),
            proto: 1,
            headers: true,
            max_payload: self.config.max_payload,
            client_id,
            auth_required: self.config.auth.is_required(),
            tls_required: self.tls.is_some(),
        }
        .line()
    }
}

/// A server id in nats-server's style ("N" and upper-case alphanumerics), unique per start.
fn server_id(local_addr: SocketAddr) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let hasher = std::hash::RandomState::new();
    let mut id = String::from("NHK");
    let mut value = hasher.hash_one((seed, local_addr, std::process::id()));
    for round in 0..24u64 {
        if round % 12 == 0 {
            value = hasher.hash_one((value, round));
        }
        id.push(char::from(ALPHABET[(value % ALPHABET.len() as u64) as usize]));
        value /= ALPHABET.len() as u64;
    }
    id
}

async fn accept_loop(listener: TcpListener, state: Arc<ServerState>) {
    let mut shutdown = state.shutdown.clone();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = until_set(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    if state.stats.connections() >= state.config.max_connections as u64 {
                        state.stats.connection_rejected();
                        tracing::warn!(max_connections = state.config.max_connections, "connection refused: limit reached");
                        connections.spawn(reject(tcp, state.config.write_deadline));
                        continue;
                    }
                    let client_id = state.next_client_id.fetch_add(1, Relaxed);
                    let guard = ConnectionGuard::new(Arc::clone(&state));
                    connections.spawn(async move {
                        crate::connection::serve(tcp, peer, Arc::clone(&guard.state), client_id).await;
                        drop(guard);
                    });
                }
                Err(error) => {
                    // Usually out of file descriptors; back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let open = connections.len();
    if open > 0 {
        tracing::info!(connections = open, "nats broker draining connections");
    }
    while let Some(result) = connections.join_next().await {
        if let Err(error) = result
            && error.is_panic()
        {
            tracing::error!(%error, "connection task panicked");
        }
    }
}

async fn reject(mut tcp: TcpStream, write_deadline: Duration) {
    let _ =
        tokio::time::timeout(write_deadline, tcp.write_all(b"-ERR 'maximum connections exceeded'\r\n")).await;
}

/// Counts a connection as open from accept until its task ends, even by panic.
struct ConnectionGuard {
    state: Arc<ServerState>,
}

impl ConnectionGuard {
    fn new(state: Arc<ServerState>) -> Self {
        state.stats.connection_opened();
        Self { state }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.state.stats.connection_closed();
    }
}
