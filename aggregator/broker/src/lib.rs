//! Hitkeep's embedded NATS broker: a single-node server of the NATS client protocol, so that
//! unmodified NATS clients (async-nats, nats-py, nats.js, ...) work against the `hitkeep`
//! binary without a separate nats-server.
//!
//! ```no_run
//! # async fn run() -> Result<(), hitkeep_broker::Error> {
//! use hitkeep_broker::{Auth, Broker, BrokerConfig};
//!
//! let config = BrokerConfig { auth: Auth::Token("change-me".into()), ..BrokerConfig::default() };
//! let broker = Broker::start(config).await?;
//! println!("clients connect to {}", broker.client_url());
//! broker.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Only this crate speaks the NATS wire protocol on the server side. The modules, in the order
//! a message flows through them: `server` accepts, `connection` reads and parses (`parser`),
//! `router` matches subjects (`subject`, `index`) and queues frames (`encode`, `outbound`) that
//! each connection's `writer` flushes. See `README.md` beside this crate for what is supported.

#![deny(missing_docs)]

mod auth;
mod config;
mod connection;
mod encode;
mod error;
mod index;
mod outbound;
mod parser;
mod permissions;
mod router;
mod server;
mod stats;
mod subject;
mod tls;
mod writer;

pub use config::{Auth, Authenticator, BrokerConfig, Credentials, TlsConfig, UserPass};
pub use error::{Error, Result};
pub use permissions::Permissions;
pub use server::{Broker, BrokerHandle, Reauthenticator};
pub use stats::BrokerStats;

/// The rustls version the broker uses, for building a [`TlsConfig::Rustls`].
pub use rustls;
