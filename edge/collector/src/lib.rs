//! Hitkeep's edge collector: the Plausible-compatible Events API (`POST /api/event`) as a
//! `wasi:http` component for `wasm32-wasip2`.
//!
//! The same `.wasm` runs under `hitkeep-edge` (our wasmtime host), `wasmtime serve -Scli` and
//! Spin: it exports `wasi:http/incoming-handler@0.2.0` and imports only standard WASI
//! interfaces (`wasi:http`, `wasi:cli/environment`, `wasi:random`, `wasi:clocks`, `wasi:io`).
//!
//! The crate is split along the WASI boundary:
//!
//! - [`handle`] maps one request to one [`Reply`]: routing, CORS, the client address, the
//!   configuration, [`hitkeep_collector_core::process`], the batch and every error. It is
//!   plain Rust over the [`Host`] trait, so it builds and is tested natively.
//! - `component` (only on `wasm32`) is the glue: the export, and [`Host`] implemented with
//!   WASI calls (environment, clocks, random, bounded body reads, outgoing HTTP with
//!   timeouts).
//!
//! The contract with hosts (routes, headers, environment variables, the sink request) and
//! the choice of WASI Preview 2 are in `edge/README.md`.

mod handler;
mod reply;
mod request;
pub mod script;
mod settings;

#[cfg(target_arch = "wasm32")]
mod component;

pub use handler::{
    CONFIG_RESPONSE_LIMIT, GROUP_CONTENT_TYPE, Host, Inbound, Outbound, SINK_RESPONSE_LIMIT, batch_id, handle,
};
pub use reply::{DROPPED_HEADER, Reply};
pub use request::{
    AddressError, CLIENT_IP_HEADER, EVENT_TIME_HEADER, GEO_CITY_HEADER, GEO_COUNTRY_HEADER,
    GEO_REGION_HEADER, InvalidEventTime, RequestHead, Route, SPIN_CLIENT_ADDR_HEADER, client_address,
    event_time, geo, route,
};
pub use settings::{
    DEFAULT_EDGE_NAME, DEFAULT_SINK_URL, Endpoint, Settings, SettingsError, Token, config_key, env,
};
