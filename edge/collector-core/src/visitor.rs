//! The cookieless visitor hash: `keyed_hash(daily_salt, site, ip, user_agent)`.
//!
//! BLAKE3 in keyed mode is a pseudo-random function keyed by the whole 32-byte salt, so
//! without the salt the hash says nothing about the IP address or user agent, and once the
//! salt is deleted (after 48 hours) nobody can recompute it, not even the operator. It runs
//! as portable Rust on WASM and needs no key expansion. SipHash-2-4 would be as fast but
//! takes a 128-bit key, so half of the salt would go unused.

use std::net::IpAddr;

/// Versions the input layout, so a future change cannot collide with today's hashes.
const CONTEXT: &[u8] = b"hitkeep visitor v1\0";

/// The 64-bit visitor id of one visitor on one site under one salt.
///
/// The site is length-prefixed so no (site, user agent) pair can be shifted into another.
/// IPv4 addresses and their IPv4-mapped IPv6 form (`::ffff:192.0.2.1`, as dual-stack
/// proxies report them) hash alike; other IPv6 addresses are hashed in full.
pub fn visitor_hash(salt: &[u8; 32], site: &str, client_ip: IpAddr, user_agent: &str) -> u64 {
    let ip = match client_ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    let mut hasher = blake3::Hasher::new_keyed(salt);
    hasher.update(CONTEXT);
    hasher.update(&(site.len() as u64).to_le_bytes());
    hasher.update(site.as_bytes());
    hasher.update(&ip.octets());
    hasher.update(user_agent.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn stable_for_the_same_input() {
        let salt = [7u8; 32];
        let first = visitor_hash(&salt, "example.com", ip("192.0.2.1"), UA);
        assert_eq!(first, visitor_hash(&salt, "example.com", ip("192.0.2.1"), UA));
        // Pinned: a change here changes every visitor id of the day it is deployed.
        assert_eq!(first, 0xf907_0774_6aef_88c4, "{first:#x}");
    }

    #[test]
    fn changes_with_each_input() {
        let salt = [7u8; 32];
        let base = visitor_hash(&salt, "example.com", ip("192.0.2.1"), UA);
        assert_ne!(base, visitor_hash(&[8u8; 32], "example.com", ip("192.0.2.1"), UA), "salt");
        assert_ne!(base, visitor_hash(&salt, "example.org", ip("192.0.2.1"), UA), "site");
        assert_ne!(base, visitor_hash(&salt, "example.com", ip("192.0.2.2"), UA), "ip");
        assert_ne!(base, visitor_hash(&salt, "example.com", ip("192.0.2.1"), "other"), "user agent");
        assert_ne!(
            visitor_hash(&salt, "a.com", ip("2001:db8::1"), UA),
            visitor_hash(&salt, "a.com", ip("2001:db8::2"), UA),
            "IPv6 is hashed by full address"
        );
    }

    #[test]
    fn ipv4_mapped_addresses_hash_as_ipv4() {
        let salt = [1u8; 32];
        assert_eq!(
            visitor_hash(&salt, "a.com", ip("192.0.2.1"), UA),
            visitor_hash(&salt, "a.com", ip("::ffff:192.0.2.1"), UA)
        );
    }

    #[test]
    fn site_and_user_agent_cannot_be_shifted() {
        let salt = [1u8; 32];
        assert_ne!(
            visitor_hash(&salt, "a.com", ip("192.0.2.1"), "xMozilla"),
            visitor_hash(&salt, "a.comx", ip("192.0.2.1"), "Mozilla")
        );
    }
}
