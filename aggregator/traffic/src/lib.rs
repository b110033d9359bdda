//! Seeded, streaming synthetic web traffic: realistic [`Hit`]s for benchmarks, tests and
//! the demo dashboard.
//!
//! ```
//! use hitkeep_traffic::{Traffic, TrafficConfig};
//!
//! let config = TrafficConfig { seed: 7, hits: 1_000, days: 7, ..TrafficConfig::default() };
//! let hits: Vec<_> = Traffic::new(config.clone()).collect();
//! assert_eq!(hits.len(), 1_000);
//! assert!(hits.windows(2).all(|pair| pair[0].ts <= pair[1].ts));
//! assert!(hits.iter().all(|hit| hit.validate().is_ok()));
//! assert_eq!(hits, Traffic::new(config).collect::<Vec<_>>());
//! ```
//!
//! # What the traffic looks like
//!
//! Each site gets a profile (a SaaS product, a shop, a documentation site or a blog): a
//! site map whose pages are Zipf-distributed (the home page and a few others take most
//! views), a time zone, a weekly rhythm and a growth trend. Visits start at a rate shaped by
//! the local hour (night trough, afternoon peak), the weekday, day-to-day noise and
//! occasional Hacker News spikes, and scaled so that exactly the configured number of hits
//! comes out.
//!
//! A visit is made by a visitor with a fixed country (and often region and city), device,
//! system and browser; some visits are returns by someone seen in the last day. The visit
//! has one acquisition (direct, organic search, social, referral, newsletter,
//! paid campaigns with UTM tags) and one or more pageviews (40-60% of visits bounce after
//! one), seconds to minutes apart, some followed by a custom event: `Signup`,
//! `Outbound Link: Click` and `File Download` (with a `url` prop), `404` (with a `path`
//! prop, on a missing page) and `Purchase` (with revenue in EUR or USD).
//!
//! Visitor hashes change at UTC midnight as salted edge hashes do; `visitor_prev` is the
//! same person's hash of the day before, so a visit across midnight can be stitched.
//!
//! The tables behind these choices are data, in `tables.rs` and `site.rs`.
//!
//! # Speed
//!
//! Each [`Hit`] owns about a dozen strings, so the iterator spends about half its time in the
//! allocator. [`Traffic::next_into`] writes over one reused hit instead, for benchmarks that
//! consume each hit before asking for the next.

mod batch;
mod config;
mod random;
mod session;
mod site;
mod tables;
mod traffic;
mod visit;

pub use batch::{Batches, batches};
pub use config::{Attribution, ConfigError, DEFAULT_END_MS, TrafficConfig};
pub use hitkeep_protocol::Hit;
pub use site::Site;
pub use traffic::Traffic;

#[cfg(test)]
mod tests;
