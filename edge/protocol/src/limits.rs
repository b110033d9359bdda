//! Size limits on every field of the wire format.
//!
//! The edge enforces them on what browsers send; the aggregator enforces them again on what
//! edges send, so a faulty or hostile edge cannot write unbounded data.

/// Largest encoded batch, in bytes. Equal to the default NATS `max_payload`.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Most hits in one batch.
pub const MAX_BATCH_HITS: usize = 5_000;
/// Longest batch id and edge name.
pub const MAX_ID_LEN: usize = 64;
/// Longest domain (site) name.
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest hostname.
pub const MAX_HOSTNAME_LEN: usize = 253;
/// Longest path (without query string).
pub const MAX_PATH_LEN: usize = 2_048;
/// Longest referrer (host and path).
pub const MAX_REFERRER_LEN: usize = 2_048;
/// Longest event name.
pub const MAX_EVENT_NAME_LEN: usize = 120;
/// Longest value of a short classification field (source, UTM values, browser, OS, geo).
pub const MAX_SHORT_FIELD_LEN: usize = 256;
/// Most custom properties on one event.
pub const MAX_PROPS: usize = 30;
/// Longest custom property key.
pub const MAX_PROP_KEY_LEN: usize = 300;
/// Longest custom property value.
pub const MAX_PROP_VALUE_LEN: usize = 2_000;
/// Longest ISO 4217 currency code.
pub const MAX_CURRENCY_LEN: usize = 3;
