//! The broker's startup error type.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a broker could not start. Errors on individual connections are not surfaced here:
/// they are answered with `-ERR` on the wire and logged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range.
    #[error("invalid broker configuration: {0}")]
    InvalidConfig(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// A TLS certificate or key file could not be read or contains no usable item.
    #[error("cannot load tls {what} from {path}")]
    TlsPem {
        /// `"certificate chain"` or `"private key"`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The PEM error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the certificate and key.
    #[error("invalid tls configuration")]
    Tls(#[from] rustls::Error),
}

/// Result with the broker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
