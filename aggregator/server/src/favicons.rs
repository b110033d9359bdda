//! Referrers' icons for the dashboard's sources panel, fetched by the server (so a visitor
//! of the dashboard never asks a third party) and kept on disk.
//!
//! The route (`routes::sites::favicons`) only asks for hosts that have been seen as a
//! referrer of the site, so this is no open proxy; this module makes the fetch itself safe:
//!
//! - `https://{host}/favicon.ico` first; when that is no icon, the home page
//!   `https://{host}/` (at most [`MAX_PAGE_BYTES`] of HTML read) for the icon it declares
//!   (`<link rel="icon" href=...>`, or `apple-touch-icon`), which is fetched the same way.
//!   Always HTTPS on port 443, to a DNS name (an IP literal is refused);
//! - the name is resolved here and every address that is not public (loopback, private,
//!   link-local, shared, multicast, unspecified, documentation, ...) is dropped before the
//!   client connects, and the client connects to the addresses checked (its resolver is
//!   this one, and it uses no proxy);
//! - at most [`MAX_REDIRECTS`] redirects, each checked the same way;
//! - the body at most [`MAX_ICON_BYTES`], the whole fetch at most [`FETCH_TIMEOUT`], at most
//!   [`MAX_CONCURRENT_FETCHES`] fetches at once;
//! - only raster images, recognized by their first bytes (ICO, PNG, GIF, JPEG, WebP, BMP),
//!   with a declared type of `image/*` (not SVG) or `application/octet-stream`; the answer
//!   carries the recognized type, never the declared one.
//!
//! Icons are cached in `favicons/<sha256 of host>` under the data directory for
//! [`FOUND_TTL_MS`]; a miss for [`MISSING_TTL_MS`]. With `favicons = false` nothing is
//! fetched (air-gapped installs). No host or URL is ever logged.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// The most of a home page read to find the icon it declares (its `<head>` comes first).
pub const MAX_PAGE_BYTES: usize = 256 * 1024;
/// Largest icon taken.
pub const MAX_ICON_BYTES: usize = 100 * 1024;
/// The whole fetch, redirects included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 3;
/// Fetches at once; more wait for a turn (within the fetch timeout).
pub const MAX_CONCURRENT_FETCHES: usize = 4;
/// How long a fetched icon is kept.
pub const FOUND_TTL_MS: i64 = 7 * 86_400_000;
/// How long a host without an icon is not asked again.
pub const MISSING_TTL_MS: i64 = 86_400_000;
/// Longest host name (DNS).
const MAX_HOST_LEN: usize = 253;
/// The cache's first line (its metadata) at most.
const MAX_META_LEN: usize = 256;

/// An icon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    /// Its type, recognized from its bytes.
    pub content_type: &'static str,
    /// The image.
    pub bytes: Bytes,
}

/// Where fetches may go: [`FetchPolicy::public`] always, except in this crate's tests.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    scheme: &'static str,
    /// Tests only: every name resolves to this (loopback) address, whose port is used.
    local: Option<SocketAddr>,
}

impl FetchPolicy {
    /// HTTPS on port 443 to public addresses only.
    pub fn public() -> Self {
        Self { scheme: "https", local: None }
    }

    /// Plain HTTP to a test server on `addr`, every name resolving to it.
    #[cfg(test)]
    pub(crate) fn local(addr: SocketAddr) -> Self {
        Self { scheme: "http", local: Some(addr) }
    }

    fn url(&self, host: &str, path: &str) -> String {
        match self.local {
            Some(addr) => format!("{}://{host}:{}{path}", self.scheme, addr.port()),
            None => format!("{}://{host}{path}", self.scheme),
        }
    }

    /// Whether a URL (the first, or a redirect's target) may be fetched.
    fn allows(&self, url: &reqwest::Url) -> Result<(), &'static str> {
        if url.scheme() != self.scheme {
            return Err("scheme");
        }
        if url.port() != self.local.map(|addr| addr.port()) {
            return Err("port");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials");
        }
        // An IP literal (`[::1]`, `169.254.169.254`, also in its odd spellings, which the URL
        // parser normalizes) is no valid host.
        match url.host_str() {
            Some(name) if valid_host(name) => Ok(()),
            _ => Err("host"),
        }
    }
}

/// True for an address on the public internet: not loopback, private, link-local, shared
/// (CGNAT), multicast, broadcast, unspecified, documentation, benchmarking or reserved, in
/// IPv4 or IPv6 (mapped and translated IPv4 addresses are judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || (segments[0] == 0x2001 && segments[1] < 0x0200) // IETF protocol assignments, Teredo
                || segments[0] == 0x2002 // 6to4
                || segments[0] == 0x0100 // discard-only
                || segments[..5] == [0, 0, 0, 0, 0]) // IPv4-compatible and other reserved
        }
    }
}

/// True for a DNS host name as referrers carry them: lower-case letters, digits, `-` and
/// dots, at least one dot, labels of 1 to 63 characters not starting or ending with `-`,
/// not all digits (no IP literal).
pub fn valid_host(host: &str) -> bool {
    if host.is_empty() || host.len() > MAX_HOST_LEN || !host.contains('.') || host.parse::<IpAddr>().is_ok() {
        return false;
    }
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let top = host.rsplit('.').next().unwrap_or_default();
    labels_ok && !top.bytes().all(|b| b.is_ascii_digit())
}

/// Resolves names for the client and keeps only public addresses (or, in tests, answers
/// the local server's address).
#[derive(Debug)]
struct CheckedResolver {
    local: Option<SocketAddr>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let local = self.local;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if let Some(addr) = local {
                let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(addr));
                return Ok(addrs);
            }
            let resolved = tokio::net::lookup_host((host.as_str(), 443)).await?;
            let public: Vec<SocketAddr> = resolved.filter(|addr| is_public(addr.ip())).collect();
            if public.is_empty() {
                return Err("the host has no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// Why no icon was fetched (for metrics and debug logs, never with the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Refused before any request: not a host that may be asked.
    Refused,
    /// The server answered no icon (status, type, size, redirects, address, timeout).
    NotAnIcon(&'static str),
    /// Too many fetches waiting.
    Busy,
}

/// The fetcher and its disk cache.
#[derive(Debug)]
pub struct Favicons {
    enabled: bool,
    dir: PathBuf,
    policy: FetchPolicy,
    client: reqwest::Client,
    turns: Semaphore,
    fetches: std::sync::atomic::AtomicU64,
}

impl Favicons {
    /// Icons cached under `data_dir/favicons`, fetched with `policy` when `enabled`.
    pub fn new(data_dir: &Path, enabled: bool, policy: FetchPolicy) -> anyhow::Result<Self> {
        let redirect_policy = policy.clone();
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver { local: policy.local }))
            .no_proxy()
            .https_only(policy.scheme == "https")
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent(concat!("Hitkeep/", env!("CARGO_PKG_VERSION"), " (favicon fetcher)"))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match redirect_policy.allows(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(reason) => attempt.error(reason),
                }
            }))
            .build()?;
        Ok(Self {
            enabled,
            dir: data_dir.join("favicons"),
            policy,
            client,
            turns: Semaphore::new(MAX_CONCURRENT_FETCHES),
            fetches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// False with `favicons = false`: nothing is fetched.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Requests sent so far (first requests, not redirects).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The icon of `host` at `now_ms`: from the cache when fresh, else fetched (and cached,
    /// as an icon or as a miss).
    pub async fn icon(&self, host: &str, now_ms: i64) -> Result<Icon, Miss> {
        if !self.enabled || !valid_host(host) {
            return Err(Miss::Refused);
        }
        let path = self.dir.join(hex(&Sha256::digest(host.as_bytes())));
        if let Some(cached) = read_cached(&path, now_ms).await {
            return cached.ok_or(Miss::NotAnIcon("cached miss"));
        }
        let fetched = {
            let Ok(_turn) = tokio::time::timeout(FETCH_TIMEOUT, self.turns.acquire()).await else {
                return Err(Miss::Busy);
            };
            self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.fetch(host).await
        };
        let outcome = match &fetched {
            Ok(_) => "found",
            Err(Miss::NotAnIcon(reason)) => *reason,
            Err(_) => "refused",
        };
        metrics::counter!("hitkeep_favicon_fetches_total", "outcome" => outcome).increment(1);
        tracing::debug!(outcome, "favicon fetched");
        if let Err(error) = write_cached(&self.dir, &path, now_ms, fetched.as_ref().ok()).await {
            tracing::warn!(%error, "favicon not cached");
        }
        fetched
    }

    /// `/favicon.ico`, or else the icon the home page declares.
    async fn fetch(&self, host: &str) -> Result<Icon, Miss> {
        let url = reqwest::Url::parse(&self.policy.url(host, "/favicon.ico")).map_err(|_| Miss::Refused)?;
        self.policy.allows(&url).map_err(|_| Miss::Refused)?;
        match self.fetch_icon(url).await {
            // The host answered, with no icon there: many sites declare theirs in the page.
            Err(Miss::NotAnIcon(reason @ ("status" | "content_type" | "not_an_image"))) => {
                match self.declared_icon(host).await {
                    Some(url) => self.fetch_icon(url).await,
                    None => Err(Miss::NotAnIcon(reason)),
                }
            }
            fetched => fetched,
        }
    }

    /// An image at `url`, with every check of the module.
    async fn fetch_icon(&self, url: reqwest::Url) -> Result<Icon, Miss> {
        let fetch = async {
            let mut response = self.client.get(url).send().await.map_err(unreachable)?;
            if !response.status().is_success() {
                return Err(Miss::NotAnIcon("status"));
            }
            let declared = declared_type(&response);
            let acceptable = (declared.starts_with("image/") && !declared.contains("svg"))
                || declared == "application/octet-stream";
            if !acceptable {
                return Err(Miss::NotAnIcon("content_type"));
            }
            if response.content_length().is_some_and(|length| length > MAX_ICON_BYTES as u64) {
                return Err(Miss::NotAnIcon("too_large"));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|_| Miss::NotAnIcon("unreachable"))? {
                if body.len() + chunk.len() > MAX_ICON_BYTES {
                    return Err(Miss::NotAnIcon("too_large"));
                }
                body.extend_from_slice(&chunk);
            }
            let content_type = sniff(&body).ok_or(Miss::NotAnIcon("not_an_image"))?;
            Ok(Icon { content_type, bytes: Bytes::from(body) })
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch).await.unwrap_or(Err(Miss::NotAnIcon("timeout")))
    }

    /// The URL of the icon `host`'s home page declares, when it declares a raster one that
    /// may be fetched.
    async fn declared_icon(&self, host: &str) -> Option<reqwest::Url> {
        let page = reqwest::Url::parse(&self.policy.url(host, "/")).ok()?;
        self.policy.allows(&page).ok()?;
        let read = async {
            let mut response = self.client.get(page).send().await.ok()?;
            if !response.status().is_success() || declared_type(&response) != "text/html" {
                return None;
            }
            // Links are resolved against where the page ended up (after redirects).
            let base = response.url().clone();
            let mut html = Vec::new();
            while html.len() < MAX_PAGE_BYTES {
                let Ok(Some(chunk)) = response.chunk().await else { break };
                html.extend_from_slice(&chunk);
            }
            html.truncate(MAX_PAGE_BYTES);
            Some((base, html))
        };
        let (base, html) = tokio::time::timeout(FETCH_TIMEOUT, read).await.ok()??;
        declared_icons(&String::from_utf8_lossy(&html))
            .into_iter()
            .filter_map(|href| base.join(&href).ok())
            .find(|url| self.policy.allows(url).is_ok())
    }
}

fn unreachable(error: reqwest::Error) -> Miss {
    Miss::NotAnIcon(if error.is_timeout() {
        "timeout"
    } else if error.is_redirect() {
        "redirect"
    } else {
        "unreachable"
    })
}

/// A response's declared media type, lower case, without parameters.
fn declared_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The icons an HTML page declares in its `<link>` tags, best first: `rel="icon"` (also
/// `shortcut icon`) before `apple-touch-icon`, small sizes before large ones, SVG left out
/// (only raster images are served). The hrefs as written (entities `&amp;` undone).
pub fn declared_icons(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let end = lower.find("</head").unwrap_or(lower.len());
    let mut found: Vec<(u8, u32, usize, String)> = Vec::new();
    let mut at = 0;
    while let Some(offset) = lower[at..end].find("<link") {
        let start = at + offset + "<link".len();
        let Some(close) = lower[start..].find('>') else { break };
        let attributes = attributes(&html[start..start + close]);
        at = start + close;
        let get =
            |name: &str| attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let rel = get("rel").unwrap_or("").to_ascii_lowercase();
        let Some(href) = get("href").filter(|href| !href.trim().is_empty()) else { continue };
        let kind = get("type").unwrap_or("").to_ascii_lowercase();
        let path = href.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
        if kind.contains("svg") || path.ends_with(".svg") || href.trim_start().starts_with("data:") {
            continue;
        }
        let rank = if rel.split_ascii_whitespace().any(|token| token == "icon") {
            0
        } else if rel.split_ascii_whitespace().any(|token| token.starts_with("apple-touch-icon")) {
            1
        } else {
            continue;
        };
        // The largest side the `sizes` attribute names; none (or `any`) ranks as 32.
        let size = get("sizes")
            .unwrap_or("")
            .split_ascii_whitespace()
            .filter_map(|size| size.to_ascii_lowercase().split('x').next()?.parse::<u32>().ok())
            .max()
            .unwrap_or(32);
        // Closest to a 32-pixel icon first.
        found.push((rank, size.abs_diff(32), found.len(), href.trim().replace("&amp;", "&")));
    }
    found.sort();
    found.into_iter().map(|(.., href)| href).collect()
}

/// The attributes of a tag's inside (`name="value"`, `name='value'`, `name=value`, `name`),
/// names in lower case.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let bytes = tag.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'/') {
            i += 1;
        }
        if name_start == i {
            i += 1;
            continue;
        }
        let name = tag[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            out.push((name, String::new()));
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let start = i + 1;
                let stop = tag[start..].find(quote as char).map_or(tag.len(), |offset| start + offset);
                i = stop + 1;
                &tag[start..stop]
            }
            _ => {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[start..i]
            }
        };
        out.push((name, value.to_owned()));
    }
    out
}

/// The raster image type of `bytes`, by their signature.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |prefix: &[u8]| bytes.starts_with(prefix);
    if starts(&[0, 0, 1, 0]) && bytes.len() > 6 {
        Some("image/x-icon")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if starts(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if starts(b"BM") && bytes.len() > 26 {
        Some("image/bmp")
    } else {
        None
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The cache file: one line `<fetched at ms> <content type or "-">`, then the image.
async fn read_cached(path: &Path, now_ms: i64) -> Option<Option<Icon>> {
    let bytes = tokio::fs::read(path).await.ok()?;
    let newline = bytes.iter().take(MAX_META_LEN).position(|byte| *byte == b'\n')?;
    let meta = std::str::from_utf8(&bytes[..newline]).ok()?;
    let (at, kind) = meta.split_once(' ')?;
    let at: i64 = at.parse().ok()?;
    let body = &bytes[newline + 1..];
    if kind == "-" {
        return (now_ms - at < MISSING_TTL_MS && now_ms >= at).then_some(None);
    }
    if now_ms - at >= FOUND_TTL_MS || now_ms < at {
        return None;
    }
    // Only what this module wrote, and only types it recognizes again.
    let content_type = sniff(body)?;
    (content_type == kind).then(|| Some(Icon { content_type, bytes: Bytes::copy_from_slice(body) }))
}

async fn write_cached(dir: &Path, path: &Path, now_ms: i64, icon: Option<&Icon>) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let mut contents = format!("{now_ms} {}\n", icon.map_or("-", |icon| icon.content_type)).into_bytes();
    if let Some(icon) = icon {
        contents.extend_from_slice(&icon.bytes);
    }
    let temporary = path.with_extension("tmp");
    tokio::fs::write(&temporary, contents).await?;
    tokio::fs::rename(&temporary, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "::ffff:1.1.1.1", "2a00:1450::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn hosts_are_dns_names_only() {
        for good in ["news.example.org", "www.google.com", "a-b.co.uk", "xn--bcher-kva.example"] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            "localhost",
            "127.0.0.1",
            "[::1]",
            "example.com:8080",
            "Example.com",
            "-bad.example",
            "a..b",
            "exa mple.com",
            "example.com/path",
            "user@example.com",
            "1.2.3.4.5",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn redirects_must_stay_https_on_443_to_a_name() {
        let policy = FetchPolicy::public();
        let allows = |url: &str| policy.allows(&reqwest::Url::parse(url).unwrap());
        assert_eq!(allows("https://cdn.example.org/icon.png"), Ok(()));
        assert_eq!(allows("http://cdn.example.org/icon.png"), Err("scheme"));
        assert_eq!(allows("https://cdn.example.org:8443/icon.png"), Err("port"));
        assert_eq!(allows("https://169.254.169.254/latest"), Err("host"));
        assert_eq!(allows("https://[::1]/"), Err("host"));
        assert_eq!(allows("https://user:pw@cdn.example.org/"), Err("credentials"));
        assert_eq!(allows("file:///etc/passwd"), Err("scheme"));
    }

    #[test]
    fn a_page_declares_its_icons_best_first() {
        let html = r#"<!doctype html><html><head>
            <meta charset="utf-8"><title>News</title>
            <link rel="stylesheet" href="/main.css">
            <LINK REL="apple-touch-icon" sizes="180x180" href="/apple.png">
            <link rel=mask-icon href=/mask.svg color=#000>
            <link rel="icon" type="image/svg+xml" href="/icon.svg">
            <link rel='icon' sizes='192x192' href='/android.png'>
            <link href="/i.ico?v=2&amp;x=1" rel="shortcut icon">
            <link rel="icon" href="data:image/png;base64,AAAA">
            </head><body><link rel="icon" href="/body.png"></body></html>"#;
        assert_eq!(declared_icons(html), ["/i.ico?v=2&x=1", "/android.png", "/apple.png"]);
        assert!(declared_icons("<html><head><title>x</title></head></html>").is_empty());
        assert!(declared_icons("<link rel=\"icon\" href=\"/unclosed.png\"").is_empty());
        assert_eq!(declared_icons("<link rel=icon href=/a.png/>"), ["/a.png/"]);
    }

    #[test]
    fn images_are_recognized_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(&[0, 0, 1, 0, 1, 0, 16, 16]), Some("image/x-icon"));
        assert_eq!(sniff(b"GIF89a...."), Some("image/gif"));
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"<html>"), None);
    }

    #[tokio::test]
    async fn names_of_private_addresses_do_not_resolve() {
        use reqwest::dns::Resolve;
        let resolver = CheckedResolver { local: None };
        let resolved = resolver.resolve("localhost".parse().unwrap()).await;
        assert!(resolved.is_err(), "localhost is loopback only");
    }

    #[tokio::test]
    async fn a_refused_host_sends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let favicons = Favicons::new(dir.path(), true, FetchPolicy::public()).unwrap();
        assert_eq!(favicons.icon("localhost", 0).await, Err(Miss::Refused));
        assert_eq!(favicons.icon("10.0.0.1", 0).await, Err(Miss::Refused));
        assert_eq!(favicons.fetches(), 0);
        let disabled = Favicons::new(dir.path(), false, FetchPolicy::public()).unwrap();
        assert_eq!(disabled.icon("www.google.com", 0).await, Err(Miss::Refused));
        assert_eq!(disabled.fetches(), 0);
    }
}
