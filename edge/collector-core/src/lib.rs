//! Hitkeep's edge ingest logic: one Events API request in, anonymized and classified hits out.
//!
//! This crate is the pure core of the edge collector. It is plain synchronous Rust with no
//! I/O, no clock, no threads and no start-up work, so the `wasm32-wasip2` component that
//! wraps it can be instantiated per request.
//!
//! ```
//! use hitkeep_collector_core::{Config, Geo, RequestInfo, Salts, SiteSettings, process};
//!
//! let salts = Salts { current: [1; 32], previous: [2; 32] };
//! let config = Config::new(vec![SiteSettings::new("example.com")], salts).unwrap();
//! let body = br#"{"n":"pageview","u":"https://example.com/blog?utm_source=hn","d":"example.com"}"#;
//! let request = RequestInfo {
//!     method: "POST",
//!     content_type: Some("text/plain"),
//!     body,
//!     user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
//!     dnt: false,
//!     gpc: false,
//!     client_ip: "192.0.2.1".parse().unwrap(),
//!     geo: Geo { country: Some("de"), ..Geo::default() },
//!     now_ms: 1_767_225_600_000,
//! };
//! let outcome = process(&config, &request).unwrap();
//! let hit = &outcome.hits[0];
//! assert_eq!((hit.path.as_str(), hit.source.as_deref()), ("/blog", Some("Hacker News")));
//! assert_eq!((hit.browser.as_deref(), hit.country.as_deref()), (Some("Firefox"), Some("DE")));
//! ```
//!
//! The steps, each in its own module:
//!
//! * [`parse_payload`]: the Plausible-compatible JSON body, with its limits;
//! * `url` and `campaign`: the page URL's host and path, UTM tags and ad click ids;
//! * [`Config`]: sites and their privacy rules (DNT, GPC, excluded IPs, paths, hostnames);
//! * [`is_bot`]: crawlers, headless browsers and HTTP libraries;
//! * [`classify_user_agent`]: browser, system and device;
//! * `referrer` and `channel`: source name and acquisition channel;
//! * [`visitor_hash`]: the daily-salted visitor id. The IP address and the user agent are
//!   used only inside [`process`] and appear in no output type.
#![deny(missing_docs)]

mod bot;
mod campaign;
mod channel;
mod config;
mod error;
pub mod limits;
mod matchers;
mod outcome;
mod payload;
mod process;
mod referrer;
#[rustfmt::skip]
mod referrer_data;
#[cfg(test)]
mod referrer_data_gen;
mod revenue;
mod url;
mod user_agent;
mod visitor;

pub use bot::is_bot;
pub use config::{Config, ConfigError, Salts, SiteSettings};
pub use error::RequestError;
pub use matchers::{HostPattern, IpRange, PathPattern};
pub use outcome::{DropReason, Dropped, Invalid, Outcome};
pub use payload::{Payload, parse_payload};
pub use process::{Geo, RequestInfo, opt_out_header, process};
pub use user_agent::{UserAgentInfo, classify_user_agent};
pub use visitor::visitor_hash;
