//! What became of an accepted request: the hits to forward, and the sites that did not count
//! it, with the reason.

use std::fmt;

use hitkeep_protocol::Hit;

/// Why an event that reached the collector intact is not recorded for a site.
///
/// The HTTP layer still answers 202 (so a tracker never retries, and a bot learns nothing)
/// and reports [`DropReason::code`] in a response header for people debugging their setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The domain is not a site of this Hitkeep.
    UnknownSite,
    /// The user agent is a bot, a crawler, a headless browser or an HTTP library.
    Bot,
    /// The browser sent `DNT: 1` and the site honours it.
    Dnt,
    /// The browser sent `Sec-GPC: 1` and the site honours it.
    Gpc,
    /// The client address is in one of the site's excluded IP ranges.
    ExcludedIp,
    /// The page matches one of the site's excluded path patterns.
    ExcludedPath,
    /// The page's hostname is not one of the site's allowed hostnames.
    ExcludedHostname,
    /// The event cannot make a valid hit.
    Invalid(Invalid),
}

/// The detail of [`DropReason::Invalid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// The page URL has no host (`about:blank`, `file:///...`): nothing to attribute it to.
    UrlWithoutHost,
    /// A field of the hit breaks the wire format's rules (named here; `ts` when the host's
    /// clock is outside 2000..2200). A safety net: the collector's own checks come first.
    Field(&'static str),
}

impl DropReason {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownSite => "unknown_site",
            Self::Bot => "bot",
            Self::Dnt => "dnt",
            Self::Gpc => "gpc",
            Self::ExcludedIp => "excluded_ip",
            Self::ExcludedPath => "excluded_path",
            Self::ExcludedHostname => "excluded_hostname",
            Self::Invalid(_) => "invalid",
        }
    }

    /// For `invalid`, what is wrong: `url_without_host`, or the name of the offending field.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            Self::Invalid(Invalid::UrlWithoutHost) => Some("url_without_host"),
            Self::Invalid(Invalid::Field(field)) => Some(field),
            _ => None,
        }
    }
}

impl fmt::Display for DropReason {
    /// The code, with the detail in parentheses: `bot`, `invalid (url_without_host)`.
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match self.detail() {
            Some(detail) => write!(formatter, "{} ({detail})", self.code()),
            None => formatter.write_str(self.code()),
        }
    }
}

/// A site named by the event that does not count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The domain as named in the event (lower-cased).
    pub domain: String,
    /// Why.
    pub reason: DropReason,
}

/// The result of a well-formed request: every domain the event named ends up exactly once,
/// either as a hit or as a drop, in the order named.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// One valid hit per site that counts the event.
    pub hits: Vec<Hit>,
    /// The sites that do not, and why.
    pub dropped: Vec<Dropped>,
}

impl Outcome {
    pub(crate) fn drop_all(domains: Vec<String>, reason: DropReason) -> Self {
        Self {
            hits: Vec::new(),
            dropped: domains.into_iter().map(|domain| Dropped { domain, reason }).collect(),
        }
    }

    /// True when at least one site records the event.
    pub fn is_accepted(&self) -> bool {
        !self.hits.is_empty()
    }

    /// The distinct drop codes in order, for a response header (`bot`, `dnt,unknown_site`).
    pub fn drop_codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = Vec::new();
        for dropped in &self.dropped {
            if !codes.contains(&dropped.reason.code()) {
                codes.push(dropped.reason.code());
            }
        }
        codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_details() {
        assert_eq!(DropReason::Bot.to_string(), "bot");
        assert_eq!(DropReason::Invalid(Invalid::UrlWithoutHost).to_string(), "invalid (url_without_host)");
        assert_eq!(DropReason::Invalid(Invalid::Field("ts")).detail(), Some("ts"));
        let outcome = Outcome {
            hits: Vec::new(),
            dropped: vec![
                Dropped { domain: "a.com".into(), reason: DropReason::Dnt },
                Dropped { domain: "b.com".into(), reason: DropReason::UnknownSite },
                Dropped { domain: "c.com".into(), reason: DropReason::Dnt },
            ],
        };
        assert_eq!(outcome.drop_codes(), ["dnt", "unknown_site"]);
        assert!(!outcome.is_accepted());
    }
}
