//! Limits the collector enforces on what browsers send, on top of [`hitkeep_protocol::limits`].

pub use hitkeep_protocol::limits::{
    MAX_DOMAIN_LEN, MAX_EVENT_NAME_LEN, MAX_PATH_LEN, MAX_PROP_KEY_LEN, MAX_PROP_VALUE_LEN, MAX_PROPS,
    MAX_REFERRER_LEN, MAX_SHORT_FIELD_LEN,
};

/// Largest request body. The HTTP layer should stop reading after this many bytes (plus one,
/// to tell "exactly at the limit" from "over it").
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// Longest `url` as sent, query string and fragment included. (Referrers have no such
/// limit: the client does not choose its referrer, so the stored `host/path` is cut to
/// [`MAX_REFERRER_LEN`] instead.)
pub const MAX_URL_LEN: usize = 2 * 1024;
/// Most sites one event may name in a comma-separated `domain`.
pub const MAX_DOMAINS_PER_EVENT: usize = 16;
/// User agents longer than this are taken for bots: real browsers send a few hundred bytes.
pub const MAX_USER_AGENT_LEN: usize = 1024;
