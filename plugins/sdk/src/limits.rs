//! The contract's limits on a changed event (the same as the aggregator's, in
//! `hitkeep_protocol::limits`). An event that breaks one is bad output.

/// Longest event name.
pub const MAX_EVENT_NAME_LEN: usize = 120;
/// Longest hostname.
pub const MAX_HOSTNAME_LEN: usize = 253;
/// Longest path.
pub const MAX_PATH_LEN: usize = 2_048;
/// Longest referrer.
pub const MAX_REFERRER_LEN: usize = 2_048;
/// Longest value of a short field: source, UTM values, region, city, browser and OS names
/// and versions.
pub const MAX_SHORT_FIELD_LEN: usize = 256;
/// Most custom properties on one event.
pub const MAX_PROPS: usize = 30;
/// Longest custom property key (keys must not be empty).
pub const MAX_PROP_KEY_LEN: usize = 300;
/// Longest custom property value.
pub const MAX_PROP_VALUE_LEN: usize = 2_000;
