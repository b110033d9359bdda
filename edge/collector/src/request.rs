//! What the component reads from a request before its body: the route, header values, the
//! client's address and location as the host resolved them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use hitkeep_collector_core::Geo;
use hitkeep_protocol::group::GROUP_PATH;

use crate::settings::Settings;

/// The client's IP address, set by our host (which strips any client-sent `x-hitkeep-*`).
pub const CLIENT_IP_HEADER: &str = "x-hitkeep-client-ip";
/// The client's country (ISO 3166-1 alpha-2), from the host's GeoIP lookup.
pub const GEO_COUNTRY_HEADER: &str = "x-hitkeep-geo-country";
/// The client's region, from the host's GeoIP lookup.
pub const GEO_REGION_HEADER: &str = "x-hitkeep-geo-region";
/// The client's city, from the host's GeoIP lookup.
pub const GEO_CITY_HEADER: &str = "x-hitkeep-geo-city";
/// When the event happened (ms since the epoch), set by our host for events a server sends
/// on a visitor's behalf (imports, server-side tracking); absent, the event happens now.
pub const EVENT_TIME_HEADER: &str = "x-hitkeep-event-time";
/// Spin's `host:port` of the client.
pub const SPIN_CLIENT_ADDR_HEADER: &str = "spin-client-addr";

/// A request's method, path and headers: everything but the body, which is read later and
/// only when needed.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Upper-case method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl RequestHead {
    /// A head from what `wasi:http` gives: header names are lower-cased here.
    pub fn new(method: &str, path_with_query: &str, headers: Vec<(String, Vec<u8>)>) -> Self {
        let path = path_with_query.split(['?', '#']).next().unwrap_or("");
        let path = if path.is_empty() { "/" } else { path };
        let headers = headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
        Self { method: method.to_ascii_uppercase(), path: path.to_owned(), headers }
    }

    /// The first value of a header (`name` lower-case), trimmed, when it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        debug_assert_eq!(name, name.to_ascii_lowercase(), "header names are looked up lower-case");
        let (_, value) = self.headers.iter().find(|(key, _)| key == name)?;
        std::str::from_utf8(value).ok().map(str::trim)
    }

    /// The last value of a header (`name` lower-case), trimmed, when it is UTF-8. A host that
    /// appends its own header after the client's (Spin's `spin-client-addr`) is read here.
    pub fn last_header(&self, name: &str) -> Option<&str> {
        debug_assert_eq!(name, name.to_ascii_lowercase(), "header names are looked up lower-case");
        let (_, value) = self.headers.iter().rev().find(|(key, _)| key == name)?;
        std::str::from_utf8(value).ok().map(str::trim)
    }

    /// The `content-length` the client declared, when it sent a valid one.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.parse().ok()
    }
}

impl fmt::Debug for RequestHead {
    /// Header names only: values hold the client's address and user agent.
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        formatter
            .debug_struct("RequestHead")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &names)
            .finish()
    }
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/api/event` with any method but `OPTIONS` (only `POST` is accepted).
    Event,
    /// `OPTIONS /api/event`: the CORS preflight.
    Preflight,
    /// `GET` or `HEAD /healthz`.
    Health,
    /// `/healthz` with another method.
    HealthMethodNotAllowed,
    /// `GET` or `HEAD` of the tracker: `/hk.js` or `/hk.<version>.js`.
    Script,
    /// A tracker path with another method.
    ScriptMethodNotAllowed,
    /// `POST` [`GROUP_PATH`]: several events from our host (served only with the host's key).
    Group,
    /// Anything else.
    NotFound,
}

/// Routes a request by method and path.
pub fn route(method: &str, path: &str) -> Route {
    match (path, method) {
        ("/api/event", "OPTIONS") => Route::Preflight,
        ("/api/event", _) => Route::Event,
        (GROUP_PATH, "POST") => Route::Group,
        ("/healthz", "GET" | "HEAD") => Route::Health,
        ("/healthz", _) => Route::HealthMethodNotAllowed,
        (path, "GET" | "HEAD") if crate::script::is_script_path(path) => Route::Script,
        (path, _) if crate::script::is_script_path(path) => Route::ScriptMethodNotAllowed,
        _ => Route::NotFound,
    }
}

/// Why the client's address is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Neither header is there: the host is misconfigured.
    #[error("no client address: the host set neither {CLIENT_IP_HEADER} nor {SPIN_CLIENT_ADDR_HEADER}")]
    Missing,
    /// Our host's header is there but is not an address: the host is misconfigured.
    #[error("the {CLIENT_IP_HEADER} header is not an ip address")]
    InvalidHostHeader,
    /// The last `spin-client-addr` is not an address. Spin appends a valid one after any the
    /// client sent, so this one came from the client (under a host that sets none): a bad
    /// request, not a host fault.
    #[error("the {SPIN_CLIENT_ADDR_HEADER} header is not an address")]
    InvalidClientAddr,
}

/// The client's address: `x-hitkeep-client-ip` from our host (trusted hosts only), else the
/// **last** `spin-client-addr`.
///
/// Spin keeps the client's request headers and appends its own `spin-client-addr` after
/// them, so only the last value is the host's; a client-sent one comes first and must never
/// decide the address (it keys the visitor hash and the IP exclusions). A value that still
/// carries several comma-separated addresses is read from its last one for the same reason.
/// With `trust_host_headers` off (Spin, where nothing strips client-sent headers),
/// `x-hitkeep-client-ip` is ignored, since any client could set it.
pub fn client_address(head: &RequestHead, trust_host_headers: bool) -> Result<IpAddr, AddressError> {
    if trust_host_headers && let Some(value) = head.header(CLIENT_IP_HEADER) {
        return parse_ip(value).ok_or(AddressError::InvalidHostHeader);
    }
    let Some(value) = head.last_header(SPIN_CLIENT_ADDR_HEADER) else { return Err(AddressError::Missing) };
    let last = value.rsplit(',').next().unwrap_or(value).trim();
    last.parse::<SocketAddr>()
        .map(|address| address.ip())
        .ok()
        .or_else(|| parse_ip(last))
        .ok_or(AddressError::InvalidClientAddr)
}

fn parse_ip(value: &str) -> Option<IpAddr> {
    let bare = value.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(value);
    bare.parse().ok()
}

/// The earliest event time accepted (2000-01-01), as the aggregator's validation does.
pub const MIN_EVENT_TIME_MS: i64 = 946_684_800_000;
/// How far ahead of the clock an event time may be (clocks differ a little).
pub const MAX_EVENT_TIME_AHEAD_MS: i64 = 5 * 60_000;

/// When the event happened: the host's `x-hitkeep-event-time` (when trusted), else `now_ms`.
/// An unreadable value, or one before 2000 or more than five minutes ahead, is an error.
pub fn event_time(
    head: &RequestHead,
    trust_host_headers: bool,
    now_ms: i64,
) -> Result<i64, InvalidEventTime> {
    let Some(value) = head.header(EVENT_TIME_HEADER).filter(|_| trust_host_headers) else {
        return Ok(now_ms);
    };
    let ts: i64 = value.trim().parse().map_err(|_| InvalidEventTime)?;
    if ts < MIN_EVENT_TIME_MS || ts > now_ms + MAX_EVENT_TIME_AHEAD_MS {
        return Err(InvalidEventTime);
    }
    Ok(ts)
}

/// The host's event time is unreadable or out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event time is unreadable, before 2000 or more than five minutes ahead")]
pub struct InvalidEventTime;

/// The client's location: the host's `x-hitkeep-geo-*` headers (when trusted), else the
/// country from the CDN header named in the settings. Cloudflare's `XX` (unknown) is no
/// country; other values are checked by the collector core.
pub fn geo<'a>(head: &'a RequestHead, settings: &Settings) -> Geo<'a> {
    let host_header = |name| if settings.trust_host_headers { head.header(name) } else { None };
    let present = |value: Option<&'a str>| value.filter(|value| !value.is_empty());
    let cdn_country = || {
        let name = settings.geo_country_header.as_deref()?;
        present(head.header(name)).filter(|country| !country.eq_ignore_ascii_case("xx"))
    };
    Geo {
        country: present(host_header(GEO_COUNTRY_HEADER)).or_else(cdn_country),
        region: present(host_header(GEO_REGION_HEADER)),
        city: present(host_header(GEO_CITY_HEADER)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> RequestHead {
        let headers =
            headers.iter().map(|(name, value)| (name.to_string(), value.as_bytes().to_vec())).collect();
        RequestHead::new("post", "/api/event?x=1", headers)
    }

    fn settings(trust_host_headers: bool, geo_country_header: Option<&str>) -> Settings {
        let mut settings = Settings::from_env(|_| None).unwrap();
        settings.trust_host_headers = trust_host_headers;
        settings.geo_country_header = geo_country_header.map(str::to_owned);
        settings
    }

    #[test]
    fn head_normalizes_method_path_and_header_names() {
        let head = head(&[("User-Agent", " Mozilla/5.0 "), ("DNT", "1"), ("Content-Length", "12")]);
        assert_eq!((head.method.as_str(), head.path.as_str()), ("POST", "/api/event"));
        assert_eq!(head.header("user-agent"), Some("Mozilla/5.0"));
        assert_eq!(head.header("dnt"), Some("1"));
        assert_eq!(head.header("sec-gpc"), None);
        assert_eq!(head.content_length(), Some(12));
        assert_eq!(RequestHead::new("GET", "", Vec::new()).path, "/");
    }

    #[test]
    fn debug_leaves_header_values_out() {
        let head = head(&[(CLIENT_IP_HEADER, "203.0.113.9"), ("user-agent", "Mozilla/5.0 (X11)")]);
        let debug = format!("{head:?}");
        assert!(debug.contains(CLIENT_IP_HEADER), "{debug}");
        assert!(!debug.contains("203.0.113.9") && !debug.contains("Mozilla"), "{debug}");
    }

    #[test]
    fn routes() {
        assert_eq!(route("POST", "/api/event"), Route::Event);
        assert_eq!(route("GET", "/api/event"), Route::Event);
        assert_eq!(route("OPTIONS", "/api/event"), Route::Preflight);
        assert_eq!(route("GET", "/healthz"), Route::Health);
        assert_eq!(route("HEAD", "/healthz"), Route::Health);
        assert_eq!(route("POST", "/healthz"), Route::HealthMethodNotAllowed);
        assert_eq!(route("POST", "/api/event/"), Route::NotFound);
        assert_eq!(route("GET", "/"), Route::NotFound);
    }

    #[test]
    fn the_event_time_is_the_hosts_when_trusted() {
        const NOW: i64 = 1_767_225_600_000;
        let stamped = head(&[(EVENT_TIME_HEADER, "1700000000000")]);
        assert_eq!(event_time(&stamped, true, NOW), Ok(1_700_000_000_000));
        assert_eq!(event_time(&stamped, false, NOW), Ok(NOW), "a client cannot date its events");
        assert_eq!(event_time(&head(&[]), true, NOW), Ok(NOW));
        for bad in ["soon", "-1", "946684799999", "1767225900001"] {
            assert_eq!(
                event_time(&head(&[(EVENT_TIME_HEADER, bad)]), true, NOW),
                Err(InvalidEventTime),
                "{bad}"
            );
        }
        assert_eq!(event_time(&head(&[(EVENT_TIME_HEADER, "1767225900000")]), true, NOW), Ok(NOW + 300_000));
    }

    #[test]
    fn client_address_prefers_the_host_header() {
        let both = head(&[(CLIENT_IP_HEADER, "203.0.113.9"), (SPIN_CLIENT_ADDR_HEADER, "10.0.0.1:5000")]);
        assert_eq!(client_address(&both, true), Ok("203.0.113.9".parse().unwrap()));
        let v6 = head(&[(CLIENT_IP_HEADER, "[2001:db8::1]")]);
        assert_eq!(client_address(&v6, true), Ok("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn client_address_falls_back_to_spin() {
        let spin = head(&[(SPIN_CLIENT_ADDR_HEADER, "[2001:db8::2]:443")]);
        assert_eq!(client_address(&spin, true), Ok("2001:db8::2".parse().unwrap()));
        let spin_v4 = head(&[(SPIN_CLIENT_ADDR_HEADER, "198.51.100.4:61000")]);
        assert_eq!(client_address(&spin_v4, true), Ok("198.51.100.4".parse().unwrap()));
    }

    #[test]
    fn untrusted_host_headers_are_ignored() {
        let spoofed = head(&[(CLIENT_IP_HEADER, "203.0.113.9"), (SPIN_CLIENT_ADDR_HEADER, "10.0.0.1:5000")]);
        assert_eq!(client_address(&spoofed, false), Ok("10.0.0.1".parse().unwrap()));
        let only_spoofed = head(&[(CLIENT_IP_HEADER, "203.0.113.9")]);
        assert_eq!(client_address(&only_spoofed, false), Err(AddressError::Missing));
    }

    #[test]
    fn the_host_appended_spin_address_wins_over_client_sent_ones() {
        // Spin keeps the client's headers and appends its own after them.
        for trust in [false, true] {
            let spoofed = head(&[
                (SPIN_CLIENT_ADDR_HEADER, "203.0.113.5:1234"),
                (SPIN_CLIENT_ADDR_HEADER, "198.51.100.7:1"),
                (SPIN_CLIENT_ADDR_HEADER, "192.0.2.10:50000"),
            ]);
            assert_eq!(client_address(&spoofed, trust), Ok("192.0.2.10".parse().unwrap()));
            let garbage_first =
                head(&[(SPIN_CLIENT_ADDR_HEADER, "garbage"), (SPIN_CLIENT_ADDR_HEADER, "[2001:db8::9]:443")]);
            assert_eq!(client_address(&garbage_first, trust), Ok("2001:db8::9".parse().unwrap()));
            let joined = head(&[(SPIN_CLIENT_ADDR_HEADER, "203.0.113.5:1, 192.0.2.10:50000")]);
            assert_eq!(client_address(&joined, trust), Ok("192.0.2.10".parse().unwrap()));
        }
    }

    #[test]
    fn client_address_errors() {
        assert_eq!(client_address(&head(&[]), true), Err(AddressError::Missing));
        assert_eq!(
            client_address(&head(&[(CLIENT_IP_HEADER, "unknown")]), true),
            Err(AddressError::InvalidHostHeader)
        );
        assert_eq!(
            client_address(&head(&[(SPIN_CLIENT_ADDR_HEADER, "nope")]), true),
            Err(AddressError::InvalidClientAddr)
        );
        assert_eq!(
            client_address(
                &head(&[(SPIN_CLIENT_ADDR_HEADER, "1.2.3.4:1"), (SPIN_CLIENT_ADDR_HEADER, "x")]),
                false
            ),
            Err(AddressError::InvalidClientAddr)
        );
    }

    #[test]
    fn geo_from_host_headers_then_cdn() {
        let request = head(&[
            (GEO_COUNTRY_HEADER, "de"),
            (GEO_REGION_HEADER, "Berlin"),
            (GEO_CITY_HEADER, "Berlin"),
            ("cf-ipcountry", "FR"),
        ]);
        let host = geo(&request, &settings(true, Some("cf-ipcountry")));
        assert_eq!((host.country, host.region, host.city), (Some("de"), Some("Berlin"), Some("Berlin")));
        let untrusted = geo(&request, &settings(false, Some("cf-ipcountry")));
        assert_eq!((untrusted.country, untrusted.region, untrusted.city), (Some("FR"), None, None));
        let cdn_only = head(&[("cf-ipcountry", "NL"), (GEO_COUNTRY_HEADER, "")]);
        assert_eq!(geo(&cdn_only, &settings(true, Some("cf-ipcountry"))).country, Some("NL"));
        assert_eq!(geo(&cdn_only, &settings(true, None)).country, None);
        let unknown = head(&[("cf-ipcountry", "XX")]);
        assert_eq!(geo(&unknown, &settings(true, Some("cf-ipcountry"))).country, None);
    }
}
