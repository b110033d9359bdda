//! The HTTP routes, one module per area. Each module exposes `router()` (the public API, its
//! handlers taking the extractors of [`crate::auth`]) and, where the command line needs it,
//! `control_router()` (the operator's routes on the control socket).

pub mod account;
pub mod audit;
pub mod backfill;
pub mod collect;
pub mod edge;
pub mod factors;
pub mod funnels;
pub mod goals;
pub mod health;
pub mod openapi;
pub mod pages;
pub mod passkeys;
pub mod people;
pub mod realtime;
pub mod reset;
pub mod shares;
pub mod sites;
pub mod sso;
pub mod stats;
pub mod tokens;

#[cfg(test)]
mod tests;
