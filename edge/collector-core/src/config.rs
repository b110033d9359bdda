//! The configuration snapshot the collector works from: sites, their privacy rules, and the
//! daily salts. The aggregator publishes it as JSON; see the README for the format.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::MAX_DOMAIN_LEN;
use crate::matchers::{HostPattern, IpRange, PathPattern};

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The JSON does not have the configuration's shape, or a rule does not parse.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// A site's domain is empty or too long.
    #[error("invalid site domain {0:?}")]
    InvalidDomain(String),
    /// Two sites have the same domain.
    #[error("site {0:?} is listed twice")]
    DuplicateSite(String),
}

/// The two salts in use: today's and yesterday's (UTC days).
///
/// Secret: `Debug` does not show them. In JSON each is 64 hexadecimal digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Salts {
    /// Today's salt, for [`hitkeep_protocol::Hit::visitor`].
    #[serde(serialize_with = "hex_serialize", deserialize_with = "hex_deserialize")]
    pub current: [u8; 32],
    /// Yesterday's salt, for [`hitkeep_protocol::Hit::visitor_prev`].
    #[serde(serialize_with = "hex_serialize", deserialize_with = "hex_deserialize")]
    pub previous: [u8; 32],
}

impl fmt::Debug for Salts {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("Salts { .. }")
    }
}

fn hex_serialize<S: Serializer>(salt: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    let text: String = salt.iter().map(|byte| format!("{byte:02x}")).collect();
    serializer.serialize_str(&text)
}

fn hex_deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
    let text = String::deserialize(deserializer)?;
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(serde::de::Error::custom("a salt is 64 hexadecimal digits"));
    }
    let mut salt = [0u8; 32];
    for (index, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(high), Some(low)) => salt[index] = (high * 16 + low) as u8,
            _ => return Err(serde::de::Error::custom("a salt is 64 hexadecimal digits")),
        }
    }
    Ok(salt)
}

fn yes() -> bool {
    true
}

fn is_true(flag: &bool) -> bool {
    *flag
}

/// One site and its privacy rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSettings {
    /// The site's domain as registered (`example.com`), matched against the event's
    /// `domain` case-insensitively.
    pub domain: String,
    /// Drop events from browsers that send `DNT: 1`. Default `true`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub honor_dnt: bool,
    /// Drop events from browsers that send `Sec-GPC: 1`. Default `true`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub honor_gpc: bool,
    /// Drop events from these client addresses (the office, the developers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_ip_ranges: Vec<IpRange>,
    /// Drop events on these pages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_paths: Vec<PathPattern>,
    /// Count only pages on these hostnames; empty means any hostname.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hostnames: Vec<HostPattern>,
}

impl SiteSettings {
    /// A site with the default rules: DNT and GPC honoured, nothing excluded.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            honor_dnt: true,
            honor_gpc: true,
            excluded_ip_ranges: Vec::new(),
            excluded_paths: Vec::new(),
            allowed_hostnames: Vec::new(),
        }
    }
}

/// Everything [`crate::process`] needs besides the request. Sites are kept sorted by domain
/// for lookup.
///
/// Unknown JSON fields are ignored, so an aggregator can add settings before every edge
/// knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConfigDocument")]
pub struct Config {
    sites: Vec<SiteSettings>,
    salts: Salts,
}

#[derive(Deserialize)]
struct ConfigDocument {
    #[serde(default)]
    sites: Vec<SiteSettings>,
    salts: Salts,
}

impl TryFrom<ConfigDocument> for Config {
    type Error = ConfigError;
    fn try_from(document: ConfigDocument) -> Result<Self, ConfigError> {
        Self::new(document.sites, document.salts)
    }
}

impl Config {
    /// Builds a configuration: domains are lower-cased; empty, over-long and repeated
    /// domains are refused.
    pub fn new(mut sites: Vec<SiteSettings>, salts: Salts) -> Result<Self, ConfigError> {
        for site in &mut sites {
            let domain = site.domain.trim().trim_end_matches('.').to_lowercase();
            if domain.is_empty() || domain.len() > MAX_DOMAIN_LEN || domain.contains([',', ' ', '/']) {
                return Err(ConfigError::InvalidDomain(site.domain.clone()));
            }
            site.domain = domain;
        }
        sites.sort_by(|a, b| a.domain.cmp(&b.domain));
        if let Some(pair) = sites.windows(2).find(|pair| pair[0].domain == pair[1].domain) {
            return Err(ConfigError::DuplicateSite(pair[0].domain.clone()));
        }
        Ok(Self { sites, salts })
    }

    /// Reads the JSON the aggregator publishes.
    pub fn from_json(json: &[u8]) -> Result<Self, ConfigError> {
        serde_json::from_slice(json).map_err(|error| ConfigError::Invalid(error.to_string()))
    }

    /// The site registered for a (lower-case) domain.
    pub fn site(&self, domain: &str) -> Option<&SiteSettings> {
        self.sites
            .binary_search_by(|site| site.domain.as_str().cmp(domain))
            .ok()
            .map(|index| &self.sites[index])
    }

    /// All sites, sorted by domain.
    pub fn sites(&self) -> &[SiteSettings] {
        &self.sites
    }

    /// The salts.
    pub fn salts(&self) -> &Salts {
        &self.salts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALTS: &str = r#""salts": {
        "current": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "previous": "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    }"#;

    #[test]
    fn reads_the_published_json() {
        let json = format!(
            r#"{{"sites": [
                {{"domain": "Example.com", "honor_dnt": false,
                  "excluded_ip_ranges": ["10.0.0.0/8", "2001:db8::/32"],
                  "excluded_paths": ["/admin/**"], "allowed_hostnames": ["*.example.com", "example.com"],
                  "future_setting": 1}},
                {{"domain": "blog.example.org"}}
            ], {SALTS}, "version": 7}}"#
        );
        let config = Config::from_json(json.as_bytes()).unwrap();
        assert_eq!(config.sites().len(), 2);
        let site = config.site("example.com").unwrap();
        assert!(!site.honor_dnt && site.honor_gpc);
        assert_eq!(site.excluded_ip_ranges.len(), 2);
        let defaults = config.site("blog.example.org").unwrap();
        assert!(defaults.honor_dnt && defaults.honor_gpc && defaults.allowed_hostnames.is_empty());
        assert!(config.site("other.com").is_none());
        assert_eq!(config.salts().current[31], 0x1f);
        assert_eq!(config.salts().previous, [0xff; 32]);
        assert_eq!(format!("{:?}", config.salts()), "Salts { .. }");
        let round_trip = Config::from_json(&serde_json::to_vec(&config).unwrap()).unwrap();
        assert_eq!(round_trip, config);
    }

    #[test]
    fn refuses_bad_configurations() {
        let with_sites =
            |sites: &str| Config::from_json(format!(r#"{{"sites": {sites}, {SALTS}}}"#).as_bytes());
        assert!(matches!(
            with_sites(r#"[{"domain": "a.com"}, {"domain": "A.com"}]"#),
            Err(ConfigError::Invalid(_))
        ));
        assert!(with_sites(r#"[{"domain": ""}]"#).is_err());
        assert!(with_sites(r#"[{"domain": "a.com", "excluded_ip_ranges": ["10.0.0.0/40"]}]"#).is_err());
        assert!(with_sites(r#"[{"domain": "a.com", "excluded_paths": [""]}]"#).is_err());
        assert!(Config::from_json(br#"{"sites": []}"#).is_err(), "salts are required");
        assert!(Config::from_json(br#"{"salts": {"current": "00", "previous": "00"}}"#).is_err());
        let salts = Salts { current: [0; 32], previous: [0; 32] };
        let twice = Config::new(vec![SiteSettings::new("a.com"), SiteSettings::new("A.COM.")], salts);
        assert_eq!(twice, Err(ConfigError::DuplicateSite("a.com".into())));
    }
}
