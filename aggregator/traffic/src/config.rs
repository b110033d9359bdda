//! What traffic to generate, and the checks that keep every generated hit valid.

use hitkeep_protocol::limits::MAX_DOMAIN_LEN;

use crate::site::{DAY_MS, default_domains};

/// 2026-01-01T00:00:00Z, the default end of the generated time span.
pub const DEFAULT_END_MS: i64 = 1_767_225_600_000;
/// Earliest timestamp a hit may carry (2000-01-01T00:00:00Z), as `Hit::validate` checks.
const MIN_TS_MS: i64 = 946_684_800_000;
/// Latest timestamp a hit may carry, exclusive (2200-01-01T00:00:00Z).
const MAX_TS_MS: i64 = 7_258_118_400_000;

/// Which hits of a visit carry its referrer, source, channel and UTM tags; set with
/// [`Traffic::with_attribution`](crate::Traffic::with_attribution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attribution {
    /// Every hit of a visit carries the visit's acquisition, so per-hit breakdowns by source
    /// match per-visit ones.
    #[default]
    Session,
    /// Only the landing pageview does, as a real edge reports it: later pages have an
    /// internal referrer (dropped) and no UTM tags, so they are `Direct`. Use this to test
    /// that sessionization carries the landing page's acquisition over to the whole visit.
    Landing,
}

/// What traffic to generate. Everything generated is a function of this value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficConfig {
    /// Seeds every random choice: the same config gives the same hits, byte for byte.
    pub seed: u64,
    /// The sites' domains. The defaults (`demo.hitkeep.dev`, `shop.example`, `docs.example`)
    /// have hand-made profiles; any other domain gets one derived from its name.
    pub sites: Vec<String>,
    /// How many hits in total, over all sites.
    pub hits: u64,
    /// The length of the time span, in days.
    pub days: u32,
    /// The end of the time span, in milliseconds since the Unix epoch, exclusive: hits fall
    /// in `[end_ms - days, end_ms)`. Not "now", so that a config always means the same traffic.
    pub end_ms: i64,
}

impl Default for TrafficConfig {
    /// 100,000 hits over the 30 days before 2026-01-01 on the three demo sites.
    fn default() -> Self {
        Self { seed: 42, sites: default_domains(), hits: 100_000, days: 30, end_ms: DEFAULT_END_MS }
    }
}

/// Why a [`TrafficConfig`] cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `sites` is empty.
    #[error("no sites to generate traffic for")]
    NoSites,
    /// A domain is empty, too long, or not lower-case `[a-z0-9.-]`.
    #[error("invalid site domain {0:?}: must be 1 to {MAX_DOMAIN_LEN} characters of [a-z0-9.-]")]
    InvalidDomain(String),
    /// A domain is listed twice.
    #[error("site {0:?} is listed twice")]
    DuplicateSite(String),
    /// `days` is zero.
    #[error("the time span must be at least one day")]
    NoDays,
    /// The time span reaches outside the years 2000 to 2200, which hits may not.
    #[error("the time span must lie between 2000-01-01 and 2200-01-01")]
    OutOfRange,
}

impl TrafficConfig {
    /// Checks the config; returns the time span `(start_ms, end_ms)`.
    pub(crate) fn span(&self) -> Result<(i64, i64), ConfigError> {
        if self.sites.is_empty() {
            return Err(ConfigError::NoSites);
        }
        for (index, domain) in self.sites.iter().enumerate() {
            let well_formed = !domain.is_empty()
                && domain.len() <= MAX_DOMAIN_LEN
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
            if !well_formed {
                return Err(ConfigError::InvalidDomain(domain.clone()));
            }
            if self.sites[..index].contains(domain) {
                return Err(ConfigError::DuplicateSite(domain.clone()));
            }
        }
        if self.days == 0 {
            return Err(ConfigError::NoDays);
        }
        let start_ms = self.end_ms - i64::from(self.days) * DAY_MS;
        if start_ms < MIN_TS_MS || self.end_ms > MAX_TS_MS {
            return Err(ConfigError::OutOfRange);
        }
        Ok((start_ms, self.end_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_configs_that_would_make_invalid_hits() {
        let with = |change: fn(&mut TrafficConfig)| {
            let mut config = TrafficConfig::default();
            change(&mut config);
            config.span()
        };
        assert!(with(|_| {}).is_ok());
        assert_eq!(with(|c| c.sites.clear()), Err(ConfigError::NoSites));
        assert!(matches!(with(|c| c.sites.push("Bad Domain".into())), Err(ConfigError::InvalidDomain(_))));
        assert!(matches!(with(|c| c.sites.push(String::new())), Err(ConfigError::InvalidDomain(_))));
        assert!(matches!(with(|c| c.sites.push("shop.example".into())), Err(ConfigError::DuplicateSite(_))));
        assert_eq!(with(|c| c.days = 0), Err(ConfigError::NoDays));
        assert_eq!(with(|c| c.days = 10_000), Err(ConfigError::OutOfRange));
        assert_eq!(with(|c| c.end_ms = MAX_TS_MS + 1), Err(ConfigError::OutOfRange));
    }
}
