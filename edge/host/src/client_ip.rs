//! Who the client is: the socket peer, or — only when the peer is a trusted proxy — the
//! right-most untrusted address of `X-Forwarded-For`.
//!
//! Walking `X-Forwarded-For` from the right and skipping trusted proxies gives the first
//! address that no trusted party vouched for; anything to its left was written by the client
//! itself and can be forged. An entry that does not parse stops the walk: the client is then
//! the last proxy that handed it on (the address right of the garbage), never a guess.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The client address of a request that came from `peer`.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    // Several X-Forwarded-For headers form one list, in order.
    let values: Vec<&str> =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    for entry in values.iter().rev().flat_map(|value| value.rsplit(',')) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some(address) = parse_entry(entry) else { break };
        client = address;
        if !is_trusted(address, trusted) {
            break;
        }
    }
    client
}

/// True when `peer` is one of the trusted proxies.
pub(crate) fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    let address = canonical(address);
    trusted.iter().any(|net| net.contains(&address))
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|bare| bare.parse().ok())
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &[]), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_peers_hand_on_the_rightmost_untrusted_address() {
        let trusted = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let peer = ip("10.0.0.2");
        // The client forged the left-most entry; the proxies appended the rest.
        let forged = headers(&["1.1.1.1, 198.51.100.7, 10.0.0.5"]);
        assert_eq!(client_ip(peer, &forged, &trusted), ip("198.51.100.7"));
        // Split over several headers.
        assert_eq!(
            client_ip(peer, &headers(&["1.1.1.1", "198.51.100.7,10.0.0.5"]), &trusted),
            ip("198.51.100.7")
        );
        // Ports and brackets.
        assert_eq!(client_ip(peer, &headers(&["198.51.100.7:5555"]), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(peer, &headers(&["[2a00::1]:443"]), &trusted), ip("2a00::1"));
        // No header: the proxy itself.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        // Only trusted hops: the left-most of them.
        assert_eq!(client_ip(peer, &headers(&["10.1.1.1, 10.0.0.5"]), &trusted), ip("10.1.1.1"));
        // Garbage stops the walk at the last hop that parsed.
        assert_eq!(client_ip(peer, &headers(&["198.51.100.7, unknown, 10.0.0.5"]), &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(peer, &headers(&["nonsense"]), &trusted), peer);
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = ip("::ffff:10.0.0.2");
        assert_eq!(client_ip(peer, &headers(&["::ffff:198.51.100.7"]), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("::ffff:203.0.113.1"), &HeaderMap::new(), &trusted), ip("203.0.113.1"));
    }
}
