//! `hitkeep-edge`: the native host of Hitkeep's collector component.
//!
//! It serves HTTP, runs the collector (`edge/collector`, a `wasi:http` component) with
//! wasmtime, a fresh instance per call (events go in groups: see `group`), takes the batches the component posts to
//! `http://hitkeep-sink.internal/batch` (intercepted in-process), cuts them into batches of
//! its own, writes each to a disk spool and publishes it over NATS until the aggregator
//! acknowledges it.
//!
//! ```text
//! HTTP ─► handler ─► group ─► runtime (Store per call) ─► sink ─► ingest ─► batcher ─► spool ─► publisher ─► NATS
//!          │  limits, x-hitkeep-* headers,              intercepted            (fsync)   (ack → delete)
//!          │  client ip, geo                            outgoing request
//!          └─ /healthz /readyz /metrics                 config_sync ◄── NATS (sites + salts, memory only)
//! ```
//!
//! Standalone, the `hitkeep-edge` binary runs it; embedded (`hitkeep serve`), the aggregator
//! starts it with [`EdgeHost::start`] and routes `/api/event` to [`EdgeHandle::handle`].

mod batcher;
mod client_ip;
mod config;
mod config_sync;
mod geo;
mod group;
mod handler;
mod host;
mod ingest;
mod journal;
pub mod metrics;
mod publisher;
mod runtime;
mod server;
mod sink;
mod spool;

pub use config::{
    BatchConfig, ComponentSource, EdgeConfig, HttpLimits, MAX_EDGE_NAME_LEN, NatsAuth, NatsConfig,
    SINK_AUTHORITY, SINK_URL, edge_name_from_hostname, validate_edge_name,
};
pub use geo::Place;
pub use handler::{
    CLIENT_IP_HEADER, EVENT_TIME_HEADER, EdgeBody, GEO_CITY_HEADER, GEO_COUNTRY_HEADER, GEO_REGION_HEADER,
};
pub use host::{EdgeHandle, EdgeHost};
pub use runtime::{CallError, ComponentRuntime, RuntimeLimits, default_event_lanes};
pub use sink::MAX_SINK_BODY_BYTES;

/// The collector component (`edge/collector` built for `wasm32-wasip2`), embedded at build
/// time by `build.rs`.
pub const EMBEDDED_COLLECTOR: &[u8] = include_bytes!(env!("HITKEEP_EDGE_COLLECTOR_WASM_PATH"));

/// Why an edge host could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The component could not be read or compiled.
    #[error("collector component: {0}")]
    Component(String),
    /// The spool directory could not be opened.
    #[error("spool {path}: {source}")]
    Spool {
        /// The spool directory.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The GeoIP database could not be opened.
    #[error("geoip database {0}")]
    GeoIp(String),
    /// The NATS client could not be set up.
    #[error("nats: {0}")]
    Nats(String),
}
