//! The matchers of a site's privacy rules: IP ranges, path patterns and hostname patterns.
//!
//! Each parses from and serializes to the string a person writes in the site settings, so
//! the aggregator can publish the settings as JSON and the collector checks them once, when
//! the configuration is loaded.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest path or hostname pattern.
const MAX_PATTERN_LEN: usize = 512;

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// True when the address is in the range. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`)
    /// are checked as the IPv4 addresses they are.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpRange {
    type Err = String;

    /// Host bits below the prefix are cleared: `10.1.2.3/8` is `10.0.0.0/8`.
    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid IP range {text:?}: expected an address or CIDR like 10.0.0.0/8");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) if prefix.bytes().all(|b| b.is_ascii_digit()) => {
                prefix.parse().map_err(|_| invalid())?
            }
            Some(_) => return Err(invalid()),
            None => max,
        };
        if prefix > max {
            return Err(invalid());
        }
        let network = match address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "{}/{}", self.network, self.prefix)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `*`: any run of characters; for paths, not crossing a `/`.
    Star,
    /// `**`: any run of characters, `/` included.
    DoubleStar,
}

/// A wildcard pattern, compiled once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    source: String,
    tokens: Vec<Token>,
    star_crosses_slash: bool,
}

impl Glob {
    fn new(source: &str, star_crosses_slash: bool) -> Result<Self, String> {
        if source.is_empty() || source.len() > MAX_PATTERN_LEN {
            return Err(format!("pattern must be 1 to {MAX_PATTERN_LEN} bytes long"));
        }
        let mut tokens = Vec::with_capacity(source.len());
        let bytes = source.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'*' {
                let double = bytes.get(index + 1) == Some(&b'*');
                let token = if double || star_crosses_slash { Token::DoubleStar } else { Token::Star };
                // Runs of stars mean the same as one.
                if !matches!(tokens.last(), Some(Token::Star | Token::DoubleStar)) {
                    tokens.push(token);
                } else if token == Token::DoubleStar {
                    *tokens.last_mut().expect("checked above") = Token::DoubleStar;
                }
                index += if double { 2 } else { 1 };
            } else {
                tokens.push(Token::Byte(bytes[index]));
                index += 1;
            }
        }
        Ok(Self { source: source.to_owned(), tokens, star_crosses_slash })
    }

    fn matches(&self, text: &str) -> bool {
        if !self.tokens.iter().any(|token| matches!(token, Token::Star | Token::DoubleStar)) {
            return self.source == text;
        }
        // reach[j]: the first j tokens match the text read so far.
        let count = self.tokens.len();
        let mut reach = vec![false; count + 1];
        let mut next = vec![false; count + 1];
        reach[0] = true;
        self.close(&mut reach);
        for &byte in text.as_bytes() {
            next.fill(false);
            for (j, token) in self.tokens.iter().enumerate() {
                next[j + 1] = match token {
                    Token::Byte(expected) => reach[j] && *expected == byte,
                    Token::Star => reach[j + 1] && byte != b'/',
                    Token::DoubleStar => reach[j + 1],
                };
            }
            self.close(&mut next);
            if !next.contains(&true) {
                return false;
            }
            std::mem::swap(&mut reach, &mut next);
        }
        reach[count]
    }

    /// A star may match nothing.
    fn close(&self, reach: &mut [bool]) {
        for (j, token) in self.tokens.iter().enumerate() {
            if reach[j] && matches!(token, Token::Star | Token::DoubleStar) {
                reach[j + 1] = true;
            }
        }
    }
}

/// A page path pattern: `*` matches within one path segment, `**` across segments.
/// `/admin/**` excludes everything under `/admin/`; `/blog/*/edit` one level; `/404` exactly.
/// Matched against the normalized path (decoded, without query string), case-sensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(Glob);

impl PathPattern {
    /// True when the path matches.
    pub fn matches(&self, path: &str) -> bool {
        self.0.matches(path)
    }
}

impl FromStr for PathPattern {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Glob::new(text.trim(), false)
            .map(Self)
            .map_err(|error| format!("invalid path pattern {text:?}: {error}"))
    }
}

/// A hostname pattern: `*` matches any characters, dots included, so `*.example.com` allows
/// every subdomain at any depth (but not `example.com` itself; list it too). Case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(Glob);

impl HostPattern {
    /// True when the (lower-case) hostname matches.
    pub fn matches(&self, hostname: &str) -> bool {
        self.0.matches(hostname)
    }
}

impl FromStr for HostPattern {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let lower = text.trim().trim_end_matches('.').to_lowercase();
        Glob::new(&lower, true)
            .map(Self)
            .map_err(|error| format!("invalid hostname pattern {text:?}: {error}"))
    }
}

macro_rules! string_serde {
    ($type:ty, $display:expr) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let display: fn(&$type) -> String = $display;
                serializer.serialize_str(&display(self))
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(IpRange, |range| range.to_string());
string_serde!(PathPattern, |pattern| pattern.0.source.clone());
string_serde!(HostPattern, |pattern| pattern.0.source.clone());

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> IpRange {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ip_ranges() {
        assert!(range("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!range("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(range("10.0.0.0/8").contains(ip("::ffff:10.0.0.1")), "mapped IPv4");
        assert!(range("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!range("192.0.2.7").contains(ip("192.0.2.8")));
        assert!(range("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!range("0.0.0.0/0").contains(ip("2001:db8::1")), "families do not mix");
        assert!(range("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!range("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(range("::/0").contains(ip("2001:db8::1")));
        assert_eq!(range("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(range(" 2001:db8::1 ").to_string(), "2001:db8::1/128");
        for bad in ["", "10.0.0.0/33", "10.0.0/8", "::/129", "10.0.0.0/-1", "10.0.0.0/+8", "x", "10.0.0.0/"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    fn path(text: &str) -> PathPattern {
        text.parse().unwrap()
    }

    #[test]
    fn path_patterns() {
        assert!(path("/admin").matches("/admin"));
        assert!(!path("/admin").matches("/admin/"));
        assert!(path("/admin/*").matches("/admin/users"));
        assert!(!path("/admin/*").matches("/admin/users/1"), "one segment");
        assert!(path("/admin/*").matches("/admin/"));
        assert!(path("/admin/**").matches("/admin/users/1"));
        assert!(path("/admin**").matches("/admin"));
        assert!(path("/blog/*/edit").matches("/blog/post-1/edit"));
        assert!(!path("/blog/*/edit").matches("/blog/a/b/edit"));
        assert!(path("/**/edit").matches("/blog/a/b/edit"));
        assert!(path("*.pdf").matches("report.pdf") && !path("*.pdf").matches("/files/report.pdf"));
        assert!(path("**.pdf").matches("/files/report.pdf"));
        assert!(!path("/Admin/**").matches("/admin/x"), "case-sensitive");
        assert!(path("/a***b").matches("/a/x/b"), "runs of stars are one double star");
        assert!(path("/café/*").matches("/café/menu"));
        assert!(path("*").matches("") && path("**").matches("/anything/at/all"));
        assert!("".parse::<PathPattern>().is_err());
        assert!("/x".repeat(MAX_PATTERN_LEN).parse::<PathPattern>().is_err());
    }

    #[test]
    fn pathological_patterns_stay_linear() {
        let pattern = path(&"*a".repeat(50));
        let text = format!("/{}", "a".repeat(2000));
        assert!(!pattern.matches(&format!("{text}b")));
    }

    #[test]
    fn host_patterns() {
        let host = |text: &str| text.parse::<HostPattern>().unwrap();
        assert!(host("*.example.com").matches("www.example.com"));
        assert!(host("*.example.com").matches("a.b.example.com"));
        assert!(!host("*.example.com").matches("example.com"));
        assert!(!host("*.example.com").matches("badexample.com"));
        assert!(host("Example.COM.").matches("example.com"));
        assert!(host("staging-*.example.com").matches("staging-42.example.com"));
    }

    #[test]
    fn serde_round_trips() {
        let range: IpRange = serde_json::from_str("\"10.0.0.0/8\"").unwrap();
        assert_eq!(serde_json::to_string(&range).unwrap(), "\"10.0.0.0/8\"");
        let pattern: PathPattern = serde_json::from_str("\"/admin/**\"").unwrap();
        assert_eq!(serde_json::to_string(&pattern).unwrap(), "\"/admin/**\"");
        let error = serde_json::from_str::<IpRange>("\"nope\"").unwrap_err().to_string();
        assert!(error.contains("invalid IP range"), "{error}");
    }
}
