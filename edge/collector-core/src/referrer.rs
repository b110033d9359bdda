//! Referrers: normalizing `document.referrer` and naming the site it points to.
//!
//! Known sources come from a table generated from public referrer data (see
//! [`crate::referrer_data`] and `data/README.md`); Google's ~200 country domains are matched
//! by a rule instead of being listed.

use crate::limits::MAX_REFERRER_LEN;
use crate::referrer_data::{HOSTS, NAMES, SOURCES};
use crate::url::{self, truncate};

/// What kind of site a known source is; it decides the channel together with UTM tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Medium {
    /// A search engine.
    Search,
    /// A social network or community.
    Social,
    /// A video platform.
    Video,
    /// A shopping site.
    Shopping,
    /// Webmail.
    Email,
    /// An ad network.
    Paid,
    /// Known by name, but an ordinary referral (Wikipedia, an AI assistant, Google Maps...).
    Referral,
}

/// A source found in the referrer table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KnownSource {
    /// Display name (`Google`, `Hacker News`).
    pub name: &'static str,
    /// Its medium.
    pub medium: Medium,
}

fn source(id: u16) -> KnownSource {
    let (name, medium) = SOURCES[usize::from(id)];
    KnownSource { name, medium }
}

fn find(table: &[(&'static str, u16)], key: &str) -> Option<KnownSource> {
    table.binary_search_by(|(entry, _)| (*entry).cmp(key)).ok().map(|index| source(table[index].1))
}

/// Names the source of a (normalized, lower-case) host: the host itself without `www.`, then
/// Google's country domains, then each parent domain (`m.facebook.com` is Facebook).
pub(crate) fn lookup_host(host: &str) -> Option<KnownSource> {
    let host = url::strip_www(host);
    if let Some(known) = find(HOSTS, host) {
        return Some(known);
    }
    if let Some(known) = google(host) {
        return Some(known);
    }
    let mut parent = host;
    while let Some((_, rest)) = parent.split_once('.') {
        if !rest.contains('.') {
            break;
        }
        if let Some(known) = find(HOSTS, rest) {
            return Some(known);
        }
        parent = rest;
    }
    None
}

/// Names the source a `utm_source` value refers to, if it is a known name, alias or host
/// (compared case-insensitively: `google`, `fb`, `news.ycombinator.com`).
pub(crate) fn lookup_name(value: &str) -> Option<KnownSource> {
    let lower = value.trim().to_lowercase();
    if let Some(known) = find(NAMES, &lower) {
        return Some(known);
    }
    if lower.contains('.') && !lower.contains([' ', '/']) {
        return lookup_host(&lower);
    }
    None
}

/// Google search on any of its country domains: `google.de`, `www.google.co.uk`,
/// `news.google.com.au`.
pub(crate) fn google(host: &str) -> Option<KnownSource> {
    let (subdomain, suffix) = match host.strip_prefix("google.") {
        Some(suffix) => ("", suffix),
        None => {
            let at = host.find(".google.")?;
            (&host[..at], &host[at + ".google.".len()..])
        }
    };
    let mut labels = suffix.split('.');
    let country_code =
        |label: &str| (2..=3).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_lowercase());
    let valid_suffix = match (labels.next(), labels.next(), labels.next()) {
        (Some(tld), None, None) => country_code(tld),
        (Some(second), Some(tld), None) => country_code(second) && tld.len() == 2 && country_code(tld),
        _ => false,
    };
    if !valid_suffix {
        return None;
    }
    let name = match subdomain {
        "" | "www" | "m" | "blogsearch" => "Google",
        "news" => "Google News",
        "images" => "Google Images",
        _ => return None,
    };
    Some(KnownSource { name, medium: Medium::Search })
}

/// A usable referrer: not empty, not malformed, not the site itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Referrer {
    /// Normalized host (lower case, `www.` kept).
    pub host: String,
    /// `host/path` as stored, cut to [`MAX_REFERRER_LEN`] bytes.
    pub stored: String,
}

/// Reads `document.referrer`. Returns `None` for values that are not URLs with a host and
/// for self-referrals (same host as the page, ignoring `www.`), which are internal
/// navigation, not acquisition.
pub(crate) fn parse_referrer(raw: &str, page_host: &str) -> Option<Referrer> {
    let cleaned = url::clean(raw);
    let parts = url::split(&cleaned).ok()?;
    let host = url::normalize_host(parts.host).ok()?;
    if url::strip_www(&host) == url::strip_www(page_host) {
        return None;
    }
    let mut stored = host.clone();
    stored.push_str(&url::normalize_path(parts.path));
    truncate(&mut stored, MAX_REFERRER_LEN);
    Some(Referrer { host, stored })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(host: &str) -> Option<(&'static str, Medium)> {
        lookup_host(host).map(|known| (known.name, known.medium))
    }

    #[test]
    fn tables_are_sorted_and_consistent() {
        for table in [HOSTS, NAMES] {
            assert!(table.windows(2).all(|pair| pair[0].0 < pair[1].0), "sorted, no duplicates");
            assert!(table.iter().all(|(_, id)| usize::from(*id) < SOURCES.len()));
        }
        assert!(HOSTS.iter().all(|(host, _)| !host.starts_with("www.") || !host[4..].contains('.')));
        assert!(NAMES.iter().all(|(name, _)| *name == name.to_lowercase()));
    }

    #[test]
    fn known_hosts() {
        assert_eq!(name_of("www.google.com"), Some(("Google", Medium::Search)));
        assert_eq!(name_of("google.de"), Some(("Google", Medium::Search)));
        assert_eq!(name_of("www.google.co.uk"), Some(("Google", Medium::Search)));
        assert_eq!(name_of("google.com.au"), Some(("Google", Medium::Search)));
        assert_eq!(name_of("news.google.com"), Some(("Google News", Medium::Search)));
        assert_eq!(name_of("mail.google.com"), Some(("Gmail", Medium::Email)));
        assert_eq!(name_of("maps.google.com"), Some(("Google", Medium::Referral)));
        assert_eq!(name_of("gemini.google.com"), Some(("Gemini", Medium::Referral)));
        assert_eq!(name_of("www.bing.com"), Some(("Bing", Medium::Search)));
        assert_eq!(name_of("duckduckgo.com"), Some(("DuckDuckGo", Medium::Search)));
        assert_eq!(name_of("news.ycombinator.com"), Some(("Hacker News", Medium::Social)));
        assert_eq!(name_of("t.co"), Some(("Twitter", Medium::Social)));
        assert_eq!(name_of("x.com"), Some(("Twitter", Medium::Social)));
        assert_eq!(name_of("l.facebook.com"), Some(("Facebook", Medium::Social)));
        assert_eq!(name_of("m.facebook.com"), Some(("Facebook", Medium::Social)));
        assert_eq!(name_of("old.reddit.com"), Some(("Reddit", Medium::Social)));
        assert_eq!(name_of("www.youtube.com"), Some(("YouTube", Medium::Video)));
        assert_eq!(name_of("m.youtube.com"), Some(("YouTube", Medium::Video)));
        assert_eq!(name_of("chatgpt.com"), Some(("ChatGPT", Medium::Referral)));
        assert_eq!(name_of("com.google.android.gm"), Some(("Gmail", Medium::Email)));
        assert_eq!(name_of("en.wikipedia.org"), Some(("Wikipedia", Medium::Referral)));
        assert_eq!(name_of("de.wikipedia.org"), Some(("Wikipedia", Medium::Referral)));
        assert_eq!(name_of("www.amazon.com"), Some(("Amazon", Medium::Shopping)));
        assert_eq!(name_of("example.com"), None);
        assert_eq!(name_of("docs.google.com"), None, "not search: a link in a document");
        assert_eq!(name_of("google.example.com"), None);
        assert_eq!(name_of("com"), None);
    }

    #[test]
    fn utm_source_names() {
        let name = |value: &str| lookup_name(value).map(|known| known.name);
        assert_eq!(name("google"), Some("Google"));
        assert_eq!(name("Google"), Some("Google"));
        assert_eq!(name("fb"), Some("Facebook"));
        assert_eq!(name("Hacker News"), Some("Hacker News"));
        assert_eq!(name("news.ycombinator.com"), Some("Hacker News"));
        assert_eq!(name("duckduckgo"), Some("DuckDuckGo"));
        assert_eq!(name("newsletter"), None);
        assert_eq!(name("some.thing/else"), None);
    }

    #[test]
    fn referrers_are_stored_as_host_and_path() {
        let referrer = parse_referrer("https://News.YCombinator.com/item?id=1#c", "example.com").unwrap();
        assert_eq!(referrer.host, "news.ycombinator.com");
        assert_eq!(referrer.stored, "news.ycombinator.com/item");
        assert_eq!(
            parse_referrer("https://www.google.com", "example.com").unwrap().stored,
            "www.google.com/"
        );
        let app = parse_referrer("android-app://com.google.android.gm/", "example.com").unwrap();
        assert_eq!(app.stored, "com.google.android.gm/");
    }

    #[test]
    fn unusable_and_self_referrers() {
        assert_eq!(parse_referrer("not a url", "example.com"), None);
        assert_eq!(parse_referrer("about:blank", "example.com"), None);
        assert_eq!(parse_referrer("https://example.com/a", "example.com"), None);
        assert_eq!(parse_referrer("https://www.example.com/a", "example.com"), None);
        assert_eq!(parse_referrer("https://EXAMPLE.com/a", "www.example.com"), None);
        assert!(parse_referrer("https://blog.example.com/a", "example.com").is_some());
    }

    #[test]
    fn long_referrers_are_cut() {
        let raw = format!("https://a.com/{}", "é".repeat(MAX_REFERRER_LEN));
        let referrer = parse_referrer(&raw, "example.com").unwrap();
        assert!(referrer.stored.len() <= MAX_REFERRER_LEN && referrer.stored.len() > MAX_REFERRER_LEN - 2);
    }
}
