//! A small URL splitter and the normalization of hosts and paths.
//!
//! The `url` crate would pull in IDNA tables that weigh more than the rest of the collector,
//! and the URLs here come from `location.href` and `document.referrer`, which browsers have
//! already normalized (punycode hosts, percent-encoded paths). Splitting them is enough.

use std::borrow::Cow;

use crate::limits::MAX_DOMAIN_LEN;

/// The parts of an absolute URL, as slices of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts<'a> {
    /// The scheme, as written (compare it case-insensitively).
    pub scheme: &'a str,
    /// The host, without user info or port; IPv6 literals keep their brackets.
    pub host: &'a str,
    /// The path as written; may be empty.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The fragment, without `#`.
    pub fragment: Option<&'a str>,
}

/// Why a string is not a URL with a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlError {
    /// No scheme: not an absolute URL.
    NotAbsolute,
    /// An absolute URL without an authority (`about:blank`, `file:///x`, `mailto:...`).
    NoHost,
    /// The host has characters no host has, or is too long.
    BadHost,
}

/// Removes what browsers remove before parsing: surrounding spaces and controls, and tabs
/// and newlines anywhere.
pub(crate) fn clean(input: &str) -> Cow<'_, str> {
    let trimmed = input.trim_matches(|c: char| c <= ' ');
    if trimmed.contains(['\t', '\n', '\r']) {
        Cow::Owned(trimmed.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect())
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// Splits an absolute URL (already [`clean`]ed).
pub(crate) fn split(input: &str) -> Result<Parts<'_>, UrlError> {
    let colon = input.find(':').ok_or(UrlError::NotAbsolute)?;
    let scheme = &input[..colon];
    let mut scheme_bytes = scheme.bytes();
    if !scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(UrlError::NotAbsolute);
    }
    let rest = input[colon + 1..].strip_prefix("//").ok_or(UrlError::NoHost)?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if host_and_port.starts_with('[') {
        let end = host_and_port.find(']').ok_or(UrlError::BadHost)?;
        &host_and_port[..=end]
    } else {
        host_and_port.split_once(':').map_or(host_and_port, |(host, _)| host)
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    Ok(Parts { scheme, host, path, query, fragment })
}

/// Lower-cases a host and drops a trailing dot; `www.` is kept. Refuses hosts with
/// characters that cannot appear in one.
pub(crate) fn normalize_host(host: &str) -> Result<String, UrlError> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let valid = if let Some(literal) = host.strip_prefix('[') {
        literal.strip_suffix(']').is_some_and(|address| {
            !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        })
    } else {
        !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') || b >= 0x80)
    };
    if !valid || host.len() > MAX_DOMAIN_LEN {
        return Err(UrlError::BadHost);
    }
    Ok(if host.is_ascii() { host.to_ascii_lowercase() } else { host.to_lowercase() })
}

/// The host without a leading `www.`, for comparing sites and naming unknown referrers.
pub(crate) fn strip_www(host: &str) -> &str {
    host.strip_prefix("www.").filter(|rest| rest.contains('.')).unwrap_or(host)
}

/// Normalizes a path for reports: `/` when empty, percent-escapes decoded where that is safe.
///
/// An escape stays as sent when it encodes a control character, `/`, `?`, `#` or `%` (their
/// decoded form would change what the path means), or when the decoded path would not be
/// valid UTF-8. Everything else (`%20`, `%C3%A9`...) is decoded, so `/caf%C3%A9` and `/café`
/// are one page. Dot segments and trailing slashes are kept as sent.
pub(crate) fn normalize_path(raw: &str) -> String {
    if raw.is_empty() {
        return "/".to_owned();
    }
    let decoded = decode_path_component(raw);
    if decoded.starts_with('/') { decoded.into_owned() } else { format!("/{decoded}") }
}

/// Decodes the safe percent-escapes of a path or fragment (see [`normalize_path`]).
pub(crate) fn decode_path_component(raw: &str) -> Cow<'_, str> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(decoded) = hex_pair(bytes.get(index + 1..index + 3))
            && !(decoded < 0x20 || matches!(decoded, 0x7f | b'/' | b'?' | b'#' | b'%'))
        {
            out.push(decoded);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    match String::from_utf8(out) {
        Ok(decoded) => Cow::Owned(decoded),
        Err(_) => Cow::Borrowed(raw),
    }
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let [high, low] = pair? else { return None };
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(*high)? * 16 + digit(*low)?) as u8)
}

/// Decodes a query-string key or value: `+` is a space, every escape is decoded, invalid
/// UTF-8 is replaced.
pub(crate) fn decode_query_component(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['%', '+']) {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => match hex_pair(bytes.get(index + 1..index + 3)) {
                Some(decoded) => {
                    out.push(decoded);
                    index += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            other => out.push(other),
        }
        index += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The `key=value` pairs of a query string, still encoded. A key without `=` has an empty
/// value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Cuts a string to at most `max` bytes without splitting a character.
pub(crate) fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(input: &str) -> Parts<'_> {
        split(input).unwrap()
    }

    #[test]
    fn splits_urls() {
        let url = parts("https://user:pw@Example.COM:8443/a/b?x=1&y=2#frag");
        assert_eq!(url.scheme, "https");
        assert_eq!(url.host, "Example.COM");
        assert_eq!(url.path, "/a/b");
        assert_eq!(url.query, Some("x=1&y=2"));
        assert_eq!(url.fragment, Some("frag"));
        let bare = parts("http://example.com");
        assert_eq!((bare.path, bare.query, bare.fragment), ("", None, None));
        let query_only = parts("http://example.com?utm_source=x");
        assert_eq!((query_only.path, query_only.query), ("", Some("utm_source=x")));
        let hash_with_query = parts("http://a.com/#/route?tab=2");
        assert_eq!((hash_with_query.path, hash_with_query.query), ("/", None));
        assert_eq!(hash_with_query.fragment, Some("/route?tab=2"));
        assert_eq!(parts("http://[::1]:8080/x").host, "[::1]");
        assert_eq!(parts("android-app://com.google.android.gm/").host, "com.google.android.gm");
    }

    #[test]
    fn refuses_what_is_not_a_url_with_a_host() {
        assert_eq!(split("example.com/path"), Err(UrlError::NotAbsolute));
        assert_eq!(split("/relative"), Err(UrlError::NotAbsolute));
        assert_eq!(split("1http://x"), Err(UrlError::NotAbsolute));
        assert_eq!(split(""), Err(UrlError::NotAbsolute));
        assert_eq!(split("about:blank"), Err(UrlError::NoHost));
        assert_eq!(split("file:///home/me/index.html"), Err(UrlError::NoHost));
        assert_eq!(split("https://:443/x"), Err(UrlError::NoHost));
        assert_eq!(split("http://[::1/x"), Err(UrlError::BadHost));
    }

    #[test]
    fn cleans_like_browsers() {
        assert_eq!(clean("  https://a.com/x\n "), "https://a.com/x");
        assert_eq!(clean("https://a.\tcom/x\ny"), "https://a.com/xy");
    }

    #[test]
    fn normalizes_hosts() {
        assert_eq!(normalize_host("WWW.Example.com."), Ok("www.example.com".into()));
        assert_eq!(normalize_host("[2001:DB8::1]"), Ok("[2001:db8::1]".into()));
        assert_eq!(normalize_host("Bücher.DE"), Ok("bücher.de".into()));
        for bad in ["a b.com", "a<b", "[]", "[zz]", "a%20b.com", "."] {
            assert_eq!(normalize_host(bad), Err(UrlError::BadHost), "{bad}");
        }
        assert!(normalize_host(&"a".repeat(MAX_DOMAIN_LEN + 1)).is_err());
        assert_eq!(strip_www("www.example.com"), "example.com");
        assert_eq!(strip_www("www.com"), "www.com");
        assert_eq!(strip_www("wwwexample.com"), "wwwexample.com");
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/blog/"), "/blog/", "trailing slash kept");
        assert_eq!(normalize_path("/caf%C3%A9"), "/café");
        assert_eq!(normalize_path("/caf%c3%a9"), "/café");
        assert_eq!(normalize_path("/my%20page"), "/my page");
        assert_eq!(normalize_path("/a%2Fb"), "/a%2Fb", "an encoded slash stays encoded");
        assert_eq!(normalize_path("/a%3Fb%23c%25d"), "/a%3Fb%23c%25d");
        assert_eq!(normalize_path("/nul%00x%0A"), "/nul%00x%0A");
        assert_eq!(normalize_path("/bad%FFutf8"), "/bad%FFutf8", "invalid UTF-8: left encoded");
        assert_eq!(normalize_path("/trunc%E"), "/trunc%E");
        assert_eq!(normalize_path("/pct%zz"), "/pct%zz");
        assert_eq!(normalize_path("/./a/../b"), "/./a/../b");
        assert_eq!(normalize_path("/raw/é"), "/raw/é");
    }

    #[test]
    fn decodes_query_components() {
        assert_eq!(decode_query_component("spring+sale%21"), "spring sale!");
        assert_eq!(decode_query_component("caf%C3%A9"), "café");
        assert_eq!(decode_query_component("%FF"), "\u{fffd}");
        assert_eq!(decode_query_component("100%"), "100%");
        let pairs: Vec<_> = query_pairs("a=1&&b&c=x=y").collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", "x=y")]);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        let mut text = "aé".to_string();
        truncate(&mut text, 2);
        assert_eq!(text, "a");
        let mut short = "abc".to_string();
        truncate(&mut short, 10);
        assert_eq!(short, "abc");
    }
}
