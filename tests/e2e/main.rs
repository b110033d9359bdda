//! End-to-end tests: the real `hitkeep` binary on port 0, real NATS clients, and the real
//! DuckDB file inspected after the process stopped.
//!
//! The binary is the one cargo built for this workspace (`cargo test --workspace` builds it,
//! since the `hitkeep` package has integration tests of its own).

mod accounts;
mod backup;
mod cluster;
/// The collector's own test support: building the component, finding the `wasmtime` CLI,
/// `wasmtime serve`.
#[path = "../../edge/collector/tests/support/mod.rs"]
mod collector_support;
mod edge;
mod harness;
mod ingest;
mod plausible;
mod reports;
mod serve;
mod stats;
mod takeout;
