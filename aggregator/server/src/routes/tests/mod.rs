//! Handler tests through the router (`oneshot`), each on its own data directory: every
//! authorization rule, and the error code of every refusal.

mod account;
mod factors;
mod favicons;
mod hardening;
mod imports;
mod mailings;
mod openapi;
mod passkeys;
mod people;
mod reset;
mod shares;
mod site_features;
mod sso;
mod stats;
mod tokens;
mod web;
