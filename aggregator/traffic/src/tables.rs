//! The weighted tables the generator draws from: geography, platforms, traffic sources,
//! daily rhythm and custom events.
//!
//! Weights are relative (per mille where that reads naturally). They aim for the mix a
//! European privacy-minded product sees, not for any real site's numbers.

use hitkeep_protocol::{Channel, Device};

/// A subdivision (ISO 3166-2) and the city most of its visitors come from.
#[derive(Debug)]
pub(crate) struct Region {
    pub code: &'static str,
    pub city: &'static str,
    pub weight: u32,
}

/// A country and how its visitors spread over its regions.
#[derive(Debug)]
pub(crate) struct Country {
    /// ISO 3166-1 alpha-2.
    pub code: &'static str,
    pub weight: u32,
    /// Percentage of visitors whose region and city are known.
    pub located_percent: u32,
    pub regions: &'static [Region],
}

const fn region(code: &'static str, city: &'static str, weight: u32) -> Region {
    Region { code, city, weight }
}

const fn country(
    code: &'static str,
    weight: u32,
    located_percent: u32,
    regions: &'static [Region],
) -> Country {
    Country { code, weight, located_percent, regions }
}

/// Visitor countries, per mille.
pub(crate) const COUNTRIES: &[Country] = &[
    country(
        "DE",
        180,
        85,
        &[
            region("DE-BE", "Berlin", 30),
            region("DE-BY", "Munich", 22),
            region("DE-HH", "Hamburg", 14),
            region("DE-NW", "Cologne", 18),
            region("DE-HE", "Frankfurt am Main", 10),
            region("DE-BW", "Stuttgart", 10),
            region("DE-SN", "Leipzig", 6),
        ],
    ),
    country(
        "US",
        170,
        80,
        &[
            region("US-CA", "San Francisco", 22),
            region("US-CA", "Los Angeles", 12),
            region("US-NY", "New York", 25),
            region("US-WA", "Seattle", 10),
            region("US-TX", "Austin", 10),
            region("US-IL", "Chicago", 8),
            region("US-MA", "Boston", 7),
            region("US-CO", "Denver", 5),
        ],
    ),
    country(
        "FR",
        70,
        80,
        &[
            region("FR-IDF", "Paris", 50),
            region("FR-ARA", "Lyon", 15),
            region("FR-OCC", "Toulouse", 10),
            region("FR-PAC", "Marseille", 8),
        ],
    ),
    country(
        "GB",
        70,
        80,
        &[
            region("GB-LND", "London", 50),
            region("GB-MAN", "Manchester", 12),
            region("GB-EDH", "Edinburgh", 8),
            region("GB-BST", "Bristol", 6),
        ],
    ),
    country("NL", 50, 80, &[region("NL-NH", "Amsterdam", 45), region("NL-ZH", "Rotterdam", 20)]),
    country("IT", 40, 75, &[region("IT-25", "Milan", 40), region("IT-62", "Rome", 30)]),
    country("ES", 40, 75, &[region("ES-MD", "Madrid", 40), region("ES-CT", "Barcelona", 35)]),
    country(
        "CH",
        30,
        85,
        &[region("CH-ZH", "Zurich", 40), region("CH-GE", "Geneva", 15), region("CH-BE", "Bern", 12)],
    ),
    country("AT", 30, 85, &[region("AT-9", "Vienna", 55), region("AT-6", "Graz", 12)]),
    country("PL", 30, 75, &[region("PL-14", "Warsaw", 40), region("PL-12", "Krakow", 20)]),
    country("IN", 40, 70, &[region("IN-KA", "Bengaluru", 35), region("IN-MH", "Mumbai", 25)]),
    country("BR", 25, 70, &[region("BR-SP", "São Paulo", 45), region("BR-RJ", "Rio de Janeiro", 20)]),
    country("JP", 20, 75, &[region("JP-13", "Tokyo", 55), region("JP-27", "Osaka", 20)]),
    country(
        "CA",
        30,
        80,
        &[region("CA-ON", "Toronto", 40), region("CA-BC", "Vancouver", 25), region("CA-QC", "Montreal", 20)],
    ),
    country("SE", 25, 80, &[region("SE-AB", "Stockholm", 50), region("SE-O", "Gothenburg", 15)]),
    country("BE", 15, 75, &[region("BE-BRU", "Brussels", 40)]),
    country("DK", 12, 80, &[region("DK-84", "Copenhagen", 50)]),
    country("NO", 12, 80, &[region("NO-03", "Oslo", 50)]),
    country("FI", 10, 80, &[region("FI-18", "Helsinki", 50)]),
    country("CZ", 10, 75, &[region("CZ-10", "Prague", 50)]),
    country("PT", 10, 75, &[region("PT-11", "Lisbon", 50)]),
    country("IE", 10, 80, &[region("IE-D", "Dublin", 60)]),
    country("AU", 20, 80, &[region("AU-NSW", "Sydney", 40), region("AU-VIC", "Melbourne", 35)]),
    country("MX", 8, 65, &[region("MX-CMX", "Mexico City", 50)]),
    country("KR", 8, 70, &[region("KR-11", "Seoul", 60)]),
    country("TR", 8, 65, &[region("TR-34", "Istanbul", 55)]),
    country("UA", 8, 65, &[region("UA-30", "Kyiv", 50)]),
    country("SG", 6, 90, &[region("SG-01", "Singapore", 50)]),
    country("ZA", 5, 70, &[region("ZA-GP", "Johannesburg", 40), region("ZA-WC", "Cape Town", 30)]),
    country("AR", 5, 70, &[region("AR-C", "Buenos Aires", 50)]),
];

/// A version string and how common it is among the users of its browser or system.
pub(crate) type Version = (&'static str, u32);

const CHROME: &[Version] = &[("133", 40), ("132", 30), ("131", 15), ("130", 6), ("109", 3)];
const CHROME_IOS: &[Version] = &[("133", 50), ("132", 30), ("131", 20)];
const EDGE: &[Version] = &[("133", 45), ("132", 35), ("131", 20)];
const FIREFOX: &[Version] = &[("135", 40), ("134", 30), ("128", 15), ("115", 5)];
const SAFARI: &[Version] = &[("18", 70), ("17", 25), ("16", 5)];
const SAMSUNG: &[Version] = &[("27", 60), ("26", 30), ("25", 10)];
const OPERA: &[Version] = &[("117", 50), ("116", 35), ("115", 15)];
const WINDOWS: &[Version] = &[("10", 55), ("11", 45)];
const MACOS: &[Version] = &[("15", 50), ("14", 30), ("13", 12), ("10.15", 8)];
const IOS: &[Version] = &[("18", 75), ("17", 20), ("16", 5)];
const ANDROID: &[Version] = &[("15", 30), ("14", 35), ("13", 20), ("12", 10), ("10", 5)];
const UNVERSIONED: &[Version] = &[];

/// A device, operating system and browser seen together.
#[derive(Debug)]
pub(crate) struct Platform {
    pub device: Device,
    pub os: &'static str,
    /// Empty when the system reports no version.
    pub os_versions: &'static [Version],
    pub browser: &'static str,
    pub browser_versions: &'static [Version],
    pub weight: u32,
}

const fn platform(
    device: Device,
    os: &'static str,
    os_versions: &'static [Version],
    browser: &'static str,
    browser_versions: &'static [Version],
    weight: u32,
) -> Platform {
    Platform { device, os, os_versions, browser, browser_versions, weight }
}

/// Device, system and browser combinations, per mille. Tying them together keeps Safari on
/// Apple systems and Samsung Internet on Android phones.
pub(crate) const PLATFORMS: &[Platform] = &[
    platform(Device::Desktop, "Windows", WINDOWS, "Chrome", CHROME, 220),
    platform(Device::Desktop, "Windows", WINDOWS, "Edge", EDGE, 70),
    platform(Device::Desktop, "Windows", WINDOWS, "Firefox", FIREFOX, 45),
    platform(Device::Desktop, "Windows", WINDOWS, "Opera", OPERA, 10),
    platform(Device::Desktop, "macOS", MACOS, "Safari", SAFARI, 55),
    platform(Device::Desktop, "macOS", MACOS, "Chrome", CHROME, 70),
    platform(Device::Desktop, "macOS", MACOS, "Firefox", FIREFOX, 20),
    platform(Device::Desktop, "macOS", MACOS, "Edge", EDGE, 5),
    platform(Device::Desktop, "Linux", UNVERSIONED, "Firefox", FIREFOX, 25),
    platform(Device::Desktop, "Linux", UNVERSIONED, "Chrome", CHROME, 15),
    platform(Device::Desktop, "ChromeOS", UNVERSIONED, "Chrome", CHROME, 8),
    platform(Device::Mobile, "iOS", IOS, "Safari", SAFARI, 150),
    platform(Device::Mobile, "iOS", IOS, "Chrome", CHROME_IOS, 25),
    platform(Device::Mobile, "Android", ANDROID, "Chrome", CHROME, 150),
    platform(Device::Mobile, "Android", ANDROID, "Samsung Internet", SAMSUNG, 30),
    platform(Device::Mobile, "Android", ANDROID, "Firefox", FIREFOX, 5),
    platform(Device::Mobile, "Android", ANDROID, "Opera", OPERA, 5),
    platform(Device::Tablet, "iOS", IOS, "Safari", SAFARI, 25),
    platform(Device::Tablet, "Android", ANDROID, "Chrome", CHROME, 12),
];

/// UTM tags a source puts on its links; one campaign, content and term are drawn per visit.
#[derive(Debug)]
pub(crate) struct Campaign {
    pub source: &'static str,
    pub medium: &'static str,
    pub campaigns: &'static [&'static str],
    /// May be empty: no `utm_content`.
    pub contents: &'static [&'static str],
    /// May be empty: no `utm_term`.
    pub terms: &'static [&'static str],
}

/// Where visits come from, as the edge would classify them.
#[derive(Debug)]
pub(crate) struct Source {
    pub channel: Channel,
    /// The source name; `None` for direct visits.
    pub name: Option<&'static str>,
    /// Referring pages as `host/path`; empty when the browser sends no referrer.
    pub referrers: &'static [&'static str],
    pub campaign: Option<&'static Campaign>,
    pub weight: u32,
}

const fn source(
    channel: Channel,
    name: &'static str,
    referrers: &'static [&'static str],
    campaign: Option<&'static Campaign>,
    weight: u32,
) -> Source {
    Source { channel, name: Some(name), referrers, campaign, weight }
}

const NEWSLETTER: Campaign = Campaign {
    source: "newsletter",
    medium: "email",
    campaigns: &["2025-05-release-notes", "2025-06-privacy-digest", "onboarding-day-3", "winter-sale"],
    contents: &["header", "cta-button", "footer"],
    terms: &[],
};
const GOOGLE_ADS: Campaign = Campaign {
    source: "google",
    medium: "cpc",
    campaigns: &["brand-eu", "privacy-analytics-generic", "competitor-ga4"],
    contents: &["ad-a", "ad-b"],
    terms: &["privacy analytics", "google analytics alternative", "cookieless analytics", "gdpr analytics"],
};
const BING_ADS: Campaign = Campaign {
    source: "bing",
    medium: "cpc",
    campaigns: &["brand-eu", "privacy-analytics-generic"],
    contents: &[],
    terms: &["web analytics", "privacy analytics"],
};
const LINKEDIN_ADS: Campaign = Campaign {
    source: "linkedin",
    medium: "paid_social",
    campaigns: &["b2b-launch", "webinar-q3"],
    contents: &["carousel", "video"],
    terms: &[],
};
const LAUNCH_POSTS: Campaign = Campaign {
    source: "twitter",
    medium: "social",
    campaigns: &["launch-week"],
    contents: &["thread", "video"],
    terms: &[],
};
const CARBON_ADS: Campaign = Campaign {
    source: "carbon",
    medium: "display",
    campaigns: &["dev-audience"],
    contents: &["sidebar"],
    terms: &[],
};
const PARTNERS: Campaign = Campaign {
    source: "techreviews",
    medium: "affiliate",
    campaigns: &["spring-partners"],
    contents: &[],
    terms: &[],
};

/// The name of the source that sends traffic spikes (a front-page day).
pub(crate) const SPIKE_SOURCE: &str = "Hacker News";

/// Traffic sources, per mille of visits. Direct is about 40%.
pub(crate) const SOURCES: &[Source] = &[
    Source { channel: Channel::Direct, name: None, referrers: &[], campaign: None, weight: 400 },
    // Organic search: 275.
    source(
        Channel::OrganicSearch,
        "Google",
        &["www.google.com/", "www.google.de/", "www.google.co.uk/", "www.google.fr/"],
        None,
        200,
    ),
    source(Channel::OrganicSearch, "Bing", &["www.bing.com/"], None, 30),
    source(Channel::OrganicSearch, "DuckDuckGo", &["duckduckgo.com/"], None, 25),
    source(Channel::OrganicSearch, "Ecosia", &["www.ecosia.org/"], None, 10),
    source(Channel::OrganicSearch, "Startpage", &["www.startpage.com/"], None, 5),
    source(Channel::OrganicSearch, "Qwant", &["www.qwant.com/"], None, 5),
    // Organic social: 113.
    source(Channel::OrganicSocial, "Twitter", &["t.co/x7Gk2PqLmA", "t.co/Q9vR1sTz0b", "x.com/"], None, 25),
    source(Channel::OrganicSocial, "LinkedIn", &["www.linkedin.com/", "www.linkedin.com/feed/"], None, 20),
    source(
        Channel::OrganicSocial,
        "Reddit",
        &[
            "www.reddit.com/r/selfhosted/",
            "www.reddit.com/r/rust/",
            "www.reddit.com/r/privacy/",
            "old.reddit.com/r/webdev/",
        ],
        None,
        20,
    ),
    source(
        Channel::OrganicSocial,
        "Mastodon",
        &["mastodon.social/", "fosstodon.org/", "hachyderm.io/"],
        None,
        15,
    ),
    source(Channel::OrganicSocial, "Facebook", &["l.facebook.com/", "m.facebook.com/"], None, 10),
    source(Channel::OrganicSocial, "Bluesky", &["bsky.app/"], None, 8),
    source(Channel::OrganicSocial, "Twitter", &["t.co/Lw3nC8dKe2"], Some(&LAUNCH_POSTS), 15),
    // Referral: 110.
    source(
        Channel::Referral,
        SPIKE_SOURCE,
        &["news.ycombinator.com/item", "news.ycombinator.com/", "news.ycombinator.com/news"],
        None,
        35,
    ),
    source(
        Channel::Referral,
        "GitHub",
        &[
            "github.com/hitkeep/hitkeep",
            "github.com/awesome-selfhosted/awesome-selfhosted",
            "github.com/topics/analytics",
        ],
        None,
        30,
    ),
    source(Channel::Referral, "Product Hunt", &["www.producthunt.com/posts/hitkeep"], None, 10),
    source(Channel::Referral, "dev.to", &["dev.to/t/privacy", "dev.to/"], None, 10),
    source(Channel::Referral, "lobste.rs", &["lobste.rs/s/7kq2xz/hitkeep"], None, 5),
    source(
        Channel::Referral,
        "Stack Overflow",
        &["stackoverflow.com/questions/tagged/web-analytics"],
        None,
        8,
    ),
    source(
        Channel::Referral,
        "blog.example.org",
        &["blog.example.org/2025/05/ditching-google-analytics"],
        None,
        7,
    ),
    source(
        Channel::Referral,
        "alternativeto.net",
        &["alternativeto.net/software/google-analytics/"],
        None,
        5,
    ),
    // Campaigns: 102.
    source(Channel::Email, "newsletter", &[], Some(&NEWSLETTER), 40),
    source(Channel::PaidSearch, "Google", &["www.google.com/"], Some(&GOOGLE_ADS), 30),
    source(Channel::PaidSearch, "Bing", &["www.bing.com/"], Some(&BING_ADS), 5),
    source(Channel::PaidSocial, "LinkedIn", &["www.linkedin.com/"], Some(&LINKEDIN_ADS), 15),
    source(Channel::Display, "Carbon Ads", &["srv.carbonads.net/"], Some(&CARBON_ADS), 5),
    source(
        Channel::Affiliates,
        "techreviews",
        &["techreviews.example/best-analytics-tools"],
        Some(&PARTNERS),
        7,
    ),
];

/// Relative traffic per local hour of the day: a night trough around 3-4 am, a morning
/// climb and an afternoon peak around 3 pm. Linearly interpolated between hours.
pub(crate) const HOURLY: [f64; 24] = [
    0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.25, 0.45, 0.70, 0.90, 1.00, 1.05, //
    1.00, 1.05, 1.10, 1.12, 1.08, 1.00, 0.90, 0.85, 0.85, 0.75, 0.60, 0.40,
];

/// A custom event the generated visits send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CustomEvent {
    Signup,
    OutboundClick,
    FileDownload,
    NotFound,
    Purchase,
}

impl CustomEvent {
    /// The event name, as the tracker sends it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Signup => "Signup",
            Self::OutboundClick => "Outbound Link: Click",
            Self::FileDownload => "File Download",
            Self::NotFound => "404",
            Self::Purchase => "Purchase",
        }
    }
}

/// Paths that do not exist, for 404 events.
pub(crate) const MISSING_PATHS: &[&str] = &[
    "/old-pricing",
    "/blog/introducing-hitkeep-beta",
    "/docs/v1/getting-started",
    "/careers",
    "/en/about",
    "/wp-login.php",
    "/products/discontinued-mug",
    "/download/latest.zip",
];

/// How visitors sign up.
pub(crate) const SIGNUP_METHODS: &[(&str, u32)] = &[("email", 55), ("github", 30), ("google", 15)];

/// A subscription plan: name, monthly price in cents, share of purchases.
pub(crate) const PLANS: &[(&str, i64, u32)] =
    &[("starter", 900, 40), ("pro", 1_900, 45), ("business", 4_900, 15)];

/// Share of plan purchases billed yearly, at ten months' price.
pub(crate) const YEARLY_PERCENT: u32 = 30;

/// Shop orders: price of one item in cents (drawn uniformly) and items per order.
pub(crate) const ITEM_PRICE_CENTS: std::ops::Range<i64> = 1_200..6_000;
pub(crate) const ITEMS_PER_ORDER: &[(u32, u32)] = &[(1, 60), (2, 25), (3, 10), (4, 5)];

/// Cents a shop price ends in (`19.99`, `24.50`), weighted.
pub(crate) const PRICE_ENDINGS: &[(i64, u32)] = &[(99, 70), (50, 30)];

/// Discount codes on shop orders; `None` for most orders.
pub(crate) const COUPONS: &[(Option<&str>, u32)] =
    &[(None, 85), (Some("SPRING10"), 10), (Some("WELCOME5"), 5)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_fit_their_index_types() {
        // Visits store indices as `u8`, with `u8::MAX` meaning none.
        let longest = [COUNTRIES.len(), PLATFORMS.len(), SOURCES.len()]
            .into_iter()
            .chain(COUNTRIES.iter().map(|country| country.regions.len()))
            .chain(
                PLATFORMS
                    .iter()
                    .map(|platform| platform.browser_versions.len().max(platform.os_versions.len())),
            )
            .chain(SOURCES.iter().map(|source| source.referrers.len()))
            .chain(SOURCES.iter().filter_map(|source| source.campaign).map(|campaign| {
                campaign.campaigns.len().max(campaign.contents.len()).max(campaign.terms.len())
            }))
            .chain([MISSING_PATHS.len()])
            .max();
        assert!(longest < Some(usize::from(u8::MAX)));
    }

    #[test]
    fn codes_are_well_formed() {
        for country in COUNTRIES {
            assert!(country.code.len() == 2 && country.code.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(!country.regions.is_empty() && country.located_percent <= 100);
            for region in country.regions {
                assert!(region.code.starts_with(&format!("{}-", country.code)), "{}", region.code);
            }
        }
        for platform in PLATFORMS {
            assert!(!platform.browser_versions.is_empty());
            if platform.browser == "Safari" {
                assert!(matches!(platform.os, "macOS" | "iOS"));
            }
            if platform.os == "iOS" || platform.os == "Android" {
                assert_ne!(platform.device, Device::Desktop);
            }
        }
    }

    #[test]
    fn sources_are_consistent_with_their_channel() {
        assert_eq!(SOURCES.iter().filter(|s| s.name == Some(SPIKE_SOURCE)).count(), 1);
        for source in SOURCES {
            assert_eq!(source.channel == Channel::Direct, source.name.is_none());
            assert_eq!(
                source.channel == Channel::Direct,
                source.referrers.is_empty() && source.campaign.is_none()
            );
            for referrer in source.referrers {
                assert!(!referrer.contains("://") && !referrer.contains('?') && referrer.contains('/'));
            }
            let medium = source.campaign.map(|c| c.medium);
            match source.channel {
                Channel::Email => assert_eq!(medium, Some("email")),
                Channel::PaidSearch => assert_eq!(medium, Some("cpc")),
                Channel::OrganicSearch | Channel::Referral => assert_eq!(medium, None),
                _ => {}
            }
        }
    }
}
