//! End-to-end tests: the real `hitkeep` binary on port 0, real NATS clients, and the real
//! DuckDB file inspected after the process stopped.
//!
//! The binary is the one cargo built for this workspace (`cargo test --workspace` builds it,
//! since the `hitkeep` package has integration tests of its own).

mod edge;
mod harness;
mod ingest;
mod serve;
