//! hitkeep-plugins' integration tests: the example and test plugins, built from source by
//! `build.rs`, run through the real host.

mod chain;
mod check;
mod examples;
mod failures;
mod limits;
mod metrics;
mod reload;
mod sandbox;
mod support;
