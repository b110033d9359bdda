//! Broker configuration: listen address, limits, authentication and TLS settings, with defaults.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::permissions::Permissions;

/// Settings of an embedded broker. `BrokerConfig::default()` is a loopback-only broker on
/// port 4222 without authentication, with nats-server's default limits.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to listen on; port 0 picks a free port (see [`BrokerHandle::local_addr`]).
    ///
    /// [`BrokerHandle::local_addr`]: crate::BrokerHandle::local_addr
    pub listen: SocketAddr,
    /// Largest message (headers plus payload) a client may publish; announced in INFO.
    pub max_payload: usize,
    /// How clients authenticate in CONNECT.
    pub auth: Auth,
    /// When set, every connection is upgraded to TLS right after INFO.
    pub tls: Option<TlsConfig>,
    /// Bound on the bytes queued for one connection; a client that falls further behind is a
    /// slow consumer and is disconnected.
    pub max_pending_bytes: usize,
    /// How long a connection may be silent before the server sends it a PING.
    pub ping_interval: Duration,
    /// Unanswered server PINGs after which the connection is closed as stale.
    pub max_pings_out: u32,
    /// Connections accepted at once; further ones get `-ERR` and are closed.
    pub max_connections: usize,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Longest protocol control line (everything but a payload) accepted.
    pub max_control_line: usize,
    /// Name announced in INFO.
    pub server_name: String,
    /// Longest a single flush to one client may take before it is treated as a slow consumer.
    pub write_deadline: Duration,
    /// Time a new connection has to finish the TLS handshake and, when authentication is
    /// required, to send CONNECT.
    pub connect_timeout: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 4222)),
            max_payload: 1024 * 1024,
            auth: Auth::None,
            tls: None,
            max_pending_bytes: 64 * 1024 * 1024,
            ping_interval: Duration::from_secs(120),
            max_pings_out: 2,
            max_connections: 64 * 1024,
            max_subscriptions: 64 * 1024,
            max_control_line: 4096,
            server_name: "hitkeep".to_owned(),
            write_deadline: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

impl BrokerConfig {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: &str| Err(Error::InvalidConfig(reason.to_owned()));
        if self.max_payload == 0 || self.max_payload > i32::MAX as usize {
            return invalid("max_payload must be between 1 and 2^31-1 bytes");
        }
        if self.max_pending_bytes < self.max_payload {
            return invalid("max_pending_bytes must be at least max_payload");
        }
        if self.max_connections == 0 {
            return invalid("max_connections must be at least 1");
        }
        if self.max_control_line < 256 {
            return invalid("max_control_line must be at least 256 bytes");
        }
        if self.ping_interval.is_zero() || self.write_deadline.is_zero() || self.connect_timeout.is_zero() {
            return invalid("ping_interval, write_deadline and connect_timeout must be non-zero");
        }
        if let Auth::Token(token) = &self.auth
            && token.is_empty()
        {
            return invalid("auth token must not be empty");
        }
        if let Auth::Users(users) = &self.auth
            && users.is_empty()
        {
            return invalid("auth users must not be empty");
        }
        Ok(())
    }
}

/// How clients authenticate. Secrets are compared in constant time and never logged; their
/// `Debug` output is redacted.
#[derive(Clone, Default)]
pub enum Auth {
    /// Anyone who can reach the port may connect.
    #[default]
    None,
    /// Clients must send this token (`auth_token` in CONNECT, `nats://TOKEN@host` in URLs).
    Token(String),
    /// Clients must send one of these user/password pairs.
    Users(Vec<UserPass>),
    /// The embedding application decides, credential by credential, and gives each client
    /// its [`Permissions`] (as nats-server's per-user `permissions`).
    Custom(Arc<dyn Authenticator>),
}

/// The credentials a client sent in CONNECT.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// `auth_token`.
    pub token: Option<&'a str>,
    /// `user`.
    pub user: Option<&'a str>,
    /// `pass`.
    pub password: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).finish_non_exhaustive()
    }
}

/// Decides who may connect, and what they may do then. Called once per CONNECT, on the
/// connection's task: it must answer quickly (from memory) and compare secrets in constant
/// time.
pub trait Authenticator: Send + Sync + 'static {
    /// The client's permissions, or `None` to refuse it (`-ERR 'Authorization Violation'`).
    fn authenticate(&self, credentials: &Credentials<'_>) -> Option<Permissions>;
}

impl Auth {
    pub(crate) fn is_required(&self) -> bool {
        !matches!(self, Auth::None)
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
            Auth::Users(users) => f.debug_tuple("Users").field(users).finish(),
            Auth::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// One user allowed to connect with a password.
#[derive(Clone)]
pub struct UserPass {
    /// User name (`user` in CONNECT).
    pub user: String,
    /// Plain-text password (`pass` in CONNECT).
    pub password: String,
}

impl UserPass {
    /// A user/password pair.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self { user: user.into(), password: password.into() }
    }
}

impl fmt::Debug for UserPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPass").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

/// Where the broker's TLS identity comes from.
#[derive(Clone)]
pub enum TlsConfig {
    /// A PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    PemFiles {
        /// Certificate chain file.
        cert_chain_pem: PathBuf,
        /// Private key file.
        key_pem: PathBuf,
    },
    /// A ready rustls server configuration (for client certificates, custom providers, ...).
    Rustls(Arc<rustls::ServerConfig>),
}

impl TlsConfig {
    /// TLS from a PEM certificate chain file and a PEM private key file.
    pub fn pem_files(cert_chain_pem: impl Into<PathBuf>, key_pem: impl Into<PathBuf>) -> Self {
        TlsConfig::PemFiles { cert_chain_pem: cert_chain_pem.into(), key_pem: key_pem.into() }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsConfig::PemFiles { cert_chain_pem, key_pem } => f
                .debug_struct("PemFiles")
                .field("cert_chain_pem", cert_chain_pem)
                .field("key_pem", key_pem)
                .finish(),
            TlsConfig::Rustls(_) => f.write_str("Rustls(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        BrokerConfig::default().validate().unwrap();
    }

    #[test]
    fn pending_bound_must_hold_one_message() {
        let config = BrokerConfig { max_pending_bytes: 10, ..BrokerConfig::default() };
        assert!(config.validate().is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let token = format!("{:?}", Auth::Token("s3cret".into()));
        let users = format!("{:?}", Auth::Users(vec![UserPass::new("alice", "s3cret")]));
        assert!(!token.contains("s3cret") && !users.contains("s3cret"), "{token} {users}");
        assert!(users.contains("alice"));
    }
}
