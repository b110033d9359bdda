//! One client connection: the INFO/TLS handshake, the read loop that parses ops and routes
//! messages, keepalive PINGs, and the orderly end of the connection with its writer task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};

use crate::auth;
use crate::encode::{self, ConnectOptions};
use crate::parser::{self, Op, ParseError, Parsed, Publish};
use crate::permissions::Permissions;
use crate::router::{Client, Fanout, MatchCache, SubscribeError};
use crate::server::{ServerState, until_set};
use crate::stats::Stats;
use crate::subject;

/// Read buffer size; a read parses every op it holds before the writers are woken.
const READ_BUFFER: usize = 64 * 1024;
/// Read buffers that grew past this for a large payload are replaced once empty.
const READ_BUFFER_RETAINED: usize = 1024 * 1024;
/// Longest a publisher waits, per read, for congested subscribers to drain.
const MAX_STALL: Duration = Duration::from_millis(20);

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    ClientClosed,
    ReadError,
    Shutdown,
    Aborted,
    Protocol(&'static str),
    AuthorizationViolation,
    AuthenticationTimeout,
    StaleConnection,
}

impl End {
    fn reason(self) -> &'static str {
        match self {
            End::ClientClosed => "client_closed",
            End::ReadError => "read_error",
            End::Shutdown => "server_shutdown",
            End::Aborted => "aborted",
            End::Protocol(reason) => reason,
            End::AuthorizationViolation => "authorization_violation",
            End::AuthenticationTimeout => "authentication_timeout",
            End::StaleConnection => "stale_connection",
        }
    }
}

/// Serves one accepted socket until it closes or the broker shuts down.
pub(crate) async fn serve(mut tcp: TcpStream, peer: SocketAddr, state: Arc<ServerState>, client_id: u64) {
    let config = &state.config;
    let _ = tcp.set_nodelay(true);
    // INFO goes out in clear text even with TLS: it is how the client learns it must upgrade.
    let info = state.info_line(client_id);
    if !matches!(tokio::time::timeout(config.write_deadline, tcp.write_all(&info)).await, Ok(Ok(()))) {
        tracing::debug!(client_id, "connection closed before info was sent");
        return;
    }
    match &state.tls {
        None => {
            let (reader, writer) = tcp.into_split();
            run(reader, writer, state.clone(), client_id, peer).await;
        }
        Some(acceptor) => match tokio::time::timeout(config.connect_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let (reader, writer) = tokio::io::split(stream);
                run(reader, writer, state.clone(), client_id, peer).await;
            }
            Ok(Err(error)) => tracing::debug!(client_id, %error, "tls handshake failed"),
            Err(_elapsed) => tracing::debug!(client_id, "tls handshake timed out"),
        },
    }
}

async fn run<R, W>(reader: R, writer: W, state: Arc<ServerState>, client_id: u64, peer: SocketAddr)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let client = Arc::new(Client::new(client_id, state.config.max_pending_bytes));
    let writer_task = tokio::spawn({
        let client = Arc::clone(&client);
        let state = Arc::clone(&state);
        async move { crate::writer::write_loop(writer, client, &state.stats, state.config.write_deadline).await }
    });
    tracing::debug!(client_id, %peer, "connection accepted");

    let mut session = Session::new(Arc::clone(&state), Arc::clone(&client));
    let end = session.read_loop(reader).await;
    session.finish_read();

    state.router.remove_all(&state.stats, &client);
    match end {
        End::Aborted | End::ReadError => {
            client.abort();
        }
        _ => client.out.close(),
    }
    if let Err(error) = writer_task.await {
        tracing::error!(client_id, %error, "writer task failed");
    }
    // Frees the queue's buffers even while stale match caches elsewhere still hold the client.
    client.abort();
    tracing::debug!(client_id, reason = end.reason(), "connection closed");
}

/// A slow consumer is cut off rather than allowed to hold memory or stall publishers.
pub(crate) fn disconnect_slow_consumer(client: &Client, stats: &Stats, pending: usize, reason: &'static str) {
    if client.abort() {
        stats.slow_consumer();
        tracing::warn!(client_id = client.id, pending_bytes = pending, reason, "slow consumer disconnected");
    }
}

/// What the read side knows about its connection.
struct Session {
    state: Arc<ServerState>,
    client: Arc<Client>,
    limits: parser::Limits,
    connected: bool,
    /// The CONNECT whose credentials the [`Authenticator`](crate::Authenticator) accepted,
    /// asked again when [`crate::BrokerHandle::reauthenticate`] is called.
    credentials: Option<ConnectOptions>,
    /// What the credentials of its CONNECT allow (everything without authentication).
    permissions: Permissions,
    verbose: bool,
    pedantic: bool,
    echo: bool,
    no_responders: bool,
    /// Data arrived since the last keepalive tick.
    active: bool,
    pings_out: u32,
    cache: MatchCache,
    fanout: Fanout,
}

impl Session {
    fn new(state: Arc<ServerState>, client: Arc<Client>) -> Self {
        let limits = parser::Limits {
            max_control_line: state.config.max_control_line,
            max_payload: state.config.max_payload,
        };
        let seed = client.id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Self {
            state,
            client,
            limits,
            connected: false,
            credentials: None,
            permissions: Permissions::all(),
            verbose: false,
            pedantic: false,
            echo: true,
            no_responders: false,
            active: false,
            pings_out: 0,
            cache: MatchCache::default(),
            fanout: Fanout::new(seed),
        }
    }

    async fn read_loop<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> End {
        let config = &self.state.config;
        let mut buf = BytesMut::with_capacity(READ_BUFFER);
        let mut aborted = self.client.abort.subscribe();
        let mut shutdown = self.state.shutdown.clone();
        let mut reauthenticate = self.state.reauthenticate.subscribe();
        let mut keepalive =
            tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let connect_deadline = tokio::time::sleep(config.connect_timeout);
        tokio::pin!(connect_deadline);
        let auth_required = config.auth.is_required();

        loop {
            if buf.capacity() - buf.len() < READ_BUFFER / 8 {
                buf.reserve(READ_BUFFER);
            }
            let read = tokio::select! {
                biased;
                () = until_set(&mut aborted) => return End::Aborted,
                () = until_set(&mut shutdown) => return End::Shutdown,
                Ok(()) = reauthenticate.changed(), if self.connected => {
                    match self.reauthenticate() {
                        Ok(()) => continue,
                        Err(end) => return end,
                    }
                }
                () = &mut connect_deadline, if auth_required && !self.connected => {
                    self.send_err("Authentication Timeout");
                    return End::AuthenticationTimeout;
                }
                _ = keepalive.tick() => {
                    let result = self.keepalive();
                    self.fanout.signal_writers();
                    match result {
                        Ok(()) => continue,
                        Err(end) => return end,
                    }
                }
                read = reader.read_buf(&mut buf) => read,
            };
            match read {
                Ok(0) => return End::ClientClosed,
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(client_id = self.client.id, %error, "read failed");
                    return End::ReadError;
                }
            }
            self.active = true;
            let processed = self.process(&mut buf);
            self.finish_read();
            if let Err(end) = processed {
                return end;
            }
            self.stall().await;
            if buf.is_empty() && buf.capacity() > READ_BUFFER_RETAINED {
                buf = BytesMut::with_capacity(READ_BUFFER);
            }
        }
    }

    /// Handles every complete op in `buf`.
    fn process(&mut self, buf: &mut BytesMut) -> Result<(), End> {
        loop {
            match parser::parse(buf, &self.limits) {
                Ok(Parsed::Op { op, consumed }) => {
                    self.handle(op)?;
                    buf.advance(consumed);
                }
                Ok(Parsed::Incomplete { needed }) => {
                    if needed > buf.capacity() {
                        buf.reserve(needed - buf.len());
                    }
                    return Ok(());
                }
                Err(error) => return Err(self.protocol_error(error)),
            }
        }
    }

    fn protocol_error(&mut self, error: ParseError) -> End {
        self.state.stats.protocol_error(error.reason());
        tracing::debug!(client_id = self.client.id, reason = error.reason(), "protocol violation");
        self.send_err(error.message());
        End::Protocol(error.reason())
    }

    fn handle(&mut self, op: Op<'_>) -> Result<(), End> {
        if !self.connected && self.state.config.auth.is_required() && !matches!(op, Op::Connect(_)) {
            return Err(self.authorization_violation());
        }
        match op {
            Op::Connect(json) => self.connect(json),
            Op::Pub(publish) => {
                self.publish(&publish);
                Ok(())
            }
            Op::Sub { subject, queue, sid } => {
                self.subscribe(subject, queue, sid);
                Ok(())
            }
            Op::Unsub { sid, max } => {
                self.state.router.unsubscribe(&self.state.stats, &self.client, sid, max);
                self.ok();
                Ok(())
            }
            Op::Ping => {
                self.send(encode::PONG);
                Ok(())
            }
            Op::Pong => {
                self.pings_out = 0;
                Ok(())
            }
            Op::Ignored => Ok(()),
        }
    }

    fn connect(&mut self, json: &[u8]) -> Result<(), End> {
        let Ok(options) = serde_json::from_slice::<ConnectOptions>(json) else {
            return Err(self.protocol_error(ParseError::InvalidArguments));
        };
        if !self.connected {
            let Some(permissions) = auth::authenticate(&self.state.config.auth, &options) else {
                return Err(self.authorization_violation());
            };
            self.permissions = permissions;
            if matches!(self.state.config.auth, crate::config::Auth::Custom(_)) {
                self.credentials = Some(options.clone());
            }
            self.connected = true;
            tracing::debug!(
                client_id = self.client.id,
                name = options.name.as_deref().unwrap_or(""),
                lang = options.lang.as_deref().unwrap_or(""),
                version = options.version.as_deref().unwrap_or(""),
                "client connected"
            );
        }
        self.verbose = options.verbose;
        self.pedantic = options.pedantic;
        self.echo = options.echo;
        self.no_responders = options.no_responders && options.headers;
        self.client.headers.store(options.headers, std::sync::atomic::Ordering::Relaxed);
        self.ok();
        Ok(())
    }

    /// Asks the authenticator again about this connection's credentials: a revoked one ends
    /// the connection, changed permissions apply from the next operation.
    fn reauthenticate(&mut self) -> Result<(), End> {
        let Some(options) = &self.credentials else { return Ok(()) };
        match auth::authenticate(&self.state.config.auth, options) {
            Some(permissions) => {
                self.permissions = permissions;
                Ok(())
            }
            None => {
                let end = self.authorization_violation();
                self.fanout.signal_writers();
                Err(end)
            }
        }
    }

    fn authorization_violation(&mut self) -> End {
        self.state.stats.auth_failure();
        tracing::warn!(client_id = self.client.id, "authorization violation");
        self.send_err("Authorization Violation");
        End::AuthorizationViolation
    }

    /// Refuses one operation as nats-server does; the connection stays open.
    fn permissions_violation(&mut self, what: &str, subject: &[u8]) {
        self.state.stats.permission_violation();
        let subject = String::from_utf8_lossy(subject);
        tracing::debug!(client_id = self.client.id, %subject, "permissions violation for {what}");
        self.send_err(&format!("Permissions Violation for {what} \"{subject}\""));
    }

    fn publish(&mut self, publish: &Publish<'_>) {
        if self.pedantic
            && (!subject::is_valid_literal(publish.subject)
                || publish.reply.is_some_and(|reply| !subject::is_valid_literal(reply)))
        {
            self.send_err("Invalid Publish Subject");
            return;
        }
        if !self.permissions.may_publish(publish.subject) {
            self.permissions_violation("Publish to", publish.subject);
            return;
        }
        let state = &*self.state;
        // Invalid subjects reach nobody; only pedantic clients are told.
        if let Some(matches) = self.cache.lookup(&state.router, publish.subject) {
            let delivered =
                self.fanout.publish(&state.router, &state.stats, &self.client, self.echo, publish, &matches);
            if delivered == 0
                && self.no_responders
                && let Some(reply) = publish.reply
                && self.fanout.no_responders(&state.router, &self.client, reply)
            {
                state.stats.no_responders();
            }
        }
        self.ok();
    }

    fn subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        if !subject::is_valid_filter(subject) || queue.is_some_and(|queue| !subject::is_valid_literal(queue))
        {
            self.send_err("Invalid Subject");
            return;
        }
        if !self.permissions.may_subscribe(subject) {
            self.permissions_violation("Subscription to", subject);
            return;
        }
        let state = &*self.state;
        let max = state.config.max_subscriptions;
        match state.router.subscribe(&state.stats, &self.client, subject, queue, sid, max) {
            Ok(()) => self.ok(),
            Err(SubscribeError::TooMany) => self.send_err("Maximum Subscriptions Exceeded"),
        }
    }

    /// Runs on each keepalive tick: a connection that sent nothing for a whole interval gets a
    /// PING, and one that left `max_pings_out` of them unanswered is closed.
    fn keepalive(&mut self) -> Result<(), End> {
        if std::mem::take(&mut self.active) {
            self.pings_out = 0;
            return Ok(());
        }
        if self.pings_out >= self.state.config.max_pings_out {
            tracing::debug!(client_id = self.client.id, pings_out = self.pings_out, "stale connection");
            self.send_err("Stale Connection");
            return Err(End::StaleConnection);
        }
        self.pings_out += 1;
        self.send(encode::PING);
        Ok(())
    }

    fn ok(&mut self) {
        if self.verbose {
            self.send(encode::OK);
        }
    }

    fn send(&mut self, line: &'static [u8]) {
        self.fanout.send_own(&self.client, |frame| frame.put(line));
    }

    fn send_err(&mut self, message: &str) {
        self.fanout.send_own(&self.client, |frame| encode::err(frame, message));
    }

    /// Wakes writers, publishes counters and cuts off slow consumers after a read.
    fn finish_read(&mut self) {
        // Counted before anyone can see the messages, so stats never lag what clients received.
        self.state.stats.add_traffic(&mut self.fanout.traffic);
        self.fanout.signal_writers();
        let stats = &self.state.stats;
        for (client, pending) in self.fanout.take_slow() {
            disconnect_slow_consumer(&client, stats, pending, "max_pending_bytes");
        }
    }

    /// Gives congested subscribers a moment to drain before reading more from this publisher.
    async fn stall(&mut self) {
        let congested = self.fanout.take_congested();
        if congested.is_empty() {
            return;
        }
        let deadline = Instant::now() + MAX_STALL;
        for client in congested {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            client.out.wait_drained(remaining).await;
        }
    }
}
