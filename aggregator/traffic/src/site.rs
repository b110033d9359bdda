//! Simulated sites: what kind of site each domain is, its pages and how popular they are,
//! its time zone, and how its traffic rises and falls over days, weeks and months.

use crate::random::{Cumulative, Draw, Random, mix, unit_of};
use crate::tables::CustomEvent;
use crate::visit::Yields;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;
const YEAR_MS: f64 = 365.0 * DAY_MS as f64;

/// Day-to-day noise: a site's traffic on a given day is scaled by a factor in
/// `DAILY_NOISE_MIN..DAILY_NOISE_MIN + DAILY_NOISE_SPREAD`.
const DAILY_NOISE_MIN: f64 = 0.85;
const DAILY_NOISE_SPREAD: f64 = 0.30;
/// Chance that a site has a front-page day (a link on Hacker News), per site and day.
const SPIKE_CHANCE: f64 = 1.0 / 45.0;
/// A spike starts at a local hour in `SPIKE_FIRST_HOUR..SPIKE_FIRST_HOUR + SPIKE_HOURS`...
const SPIKE_FIRST_HOUR: f64 = 8.0;
const SPIKE_HOURS: f64 = 12.0;
/// ...multiplies the traffic of that hour by `1 + amplitude` (amplitude drawn in
/// `SPIKE_MIN_AMPLITUDE..SPIKE_MIN_AMPLITUDE + SPIKE_AMPLITUDE_SPREAD`), then decays
/// exponentially with this time constant, until local midnight.
const SPIKE_MIN_AMPLITUDE: f64 = 2.0;
const SPIKE_AMPLITUDE_SPREAD: f64 = 4.0;
const SPIKE_DECAY_HOURS: f64 = 5.0;

/// A family of pages generated from a pattern.
#[derive(Debug)]
pub(crate) enum Family {
    /// `{prefix}{slug}` with `count` slugs made of [`SLUG_WORDS`].
    Slugs { prefix: &'static str, count: usize },
    /// `{prefix}{section}/{page}` for every section and page.
    Grid { prefix: &'static str, sections: &'static [&'static str], pages: &'static [&'static str] },
    /// `{prefix}{n}` for `count` numbers from `first`.
    Numbered { prefix: &'static str, first: u32, count: u32 },
}

/// The words blog and guide slugs are made of: one from each list.
const SLUG_WORDS: [&[&str]; 3] = [
    &[
        "why",
        "how",
        "building",
        "understanding",
        "migrating",
        "measuring",
        "scaling",
        "testing",
        "designing",
        "debugging",
    ],
    &[
        "privacy-first",
        "cookieless",
        "self-hosted",
        "open-source",
        "server-side",
        "real-time",
        "lightweight",
        "gdpr-compliant",
    ],
    &[
        "analytics",
        "dashboards",
        "funnels",
        "web-vitals",
        "event-tracking",
        "retention",
        "attribution",
        "sessions",
        "goals",
        "reports",
    ],
];

/// What a site sells when a visitor buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sales {
    /// Subscription plans (`plan`, `billing` props).
    Plans,
    /// Shop orders (`items`, `coupon` props).
    Orders,
}

/// A kind of site, with the behaviour of its visitors.
#[derive(Debug)]
pub(crate) struct SiteKind {
    pub label: &'static str,
    /// The most visited pages, most visited first.
    pub head: &'static [&'static str],
    /// The long tail, ranked after the head in a per-site shuffled order.
    pub families: &'static [Family],
    /// Exponent of the Zipf law over page ranks.
    pub zipf_exponent: f64,
    /// Share of visits with a single pageview.
    pub bounce: f64,
    /// In visits of two pageviews or more, the chance of each further pageview.
    pub continue_chance: f64,
    /// Chance that a custom event follows a pageview.
    pub custom_chance: f64,
    /// Which custom events, weighted.
    pub customs: &'static [(CustomEvent, u32)],
    pub sales: Sales,
    /// The one currency the site charges in (as a real shop or SaaS does; a goal's revenue
    /// then adds up without conversion).
    pub currency: &'static str,
    /// Targets of outbound link clicks.
    pub outbound: &'static [&'static str],
    /// Paths of downloadable files on the site.
    pub downloads: &'static [&'static str],
    /// Traffic on Saturdays and Sundays relative to weekdays.
    pub weekend: f64,
    /// Yearly growth of traffic (0.5: +50% a year).
    pub growth_per_year: f64,
}

const DOC_SECTIONS: &[&str] = &[
    "getting-started",
    "tracking",
    "dashboard",
    "api",
    "self-hosting",
    "plugins",
    "integrations",
    "security",
];
const DOC_PAGES: &[&str] = &[
    "overview",
    "installation",
    "configuration",
    "custom-events",
    "troubleshooting",
    "faq",
    "examples",
    "reference",
];
const SHOP_CATEGORIES: &[&str] = &["mugs", "shirts", "stickers", "hoodies", "posters", "notebooks"];
const SHOP_LISTING_PAGES: &[&str] = &["page-2", "page-3", "page-4"];
const API_ENDPOINTS: &[&str] = &["events", "stats", "sites", "goals", "query", "tokens", "exports"];
const API_PAGES: &[&str] = &["get", "post", "delete", "errors"];

const PRODUCT_OUTBOUND: &[&str] = &[
    "https://github.com/hitkeep/hitkeep",
    "https://github.com/hitkeep/hitkeep/releases",
    "https://docs.rs/hitkeep-protocol",
    "https://mastodon.social/@hitkeep",
    "https://www.linkedin.com/company/hitkeep",
    "https://discord.gg/hitkeep",
];

/// The kinds of site a domain can be.
pub(crate) const SITE_KINDS: &[SiteKind] = &[SAAS, SHOP, DOCS, BLOG];

const SAAS: SiteKind = SiteKind {
    label: "saas",
    head: &[
        "/",
        "/pricing",
        "/features",
        "/blog",
        "/docs",
        "/signup",
        "/login",
        "/about",
        "/changelog",
        "/compare/google-analytics",
        "/self-hosting",
        "/privacy",
        "/contact",
        "/compare/plausible",
        "/terms",
    ],
    families: &[
        Family::Slugs { prefix: "/blog/", count: 120 },
        Family::Grid { prefix: "/docs/", sections: DOC_SECTIONS, pages: DOC_PAGES },
    ],
    zipf_exponent: 1.1,
    bounce: 0.47,
    continue_chance: 0.6,
    custom_chance: 0.07,
    customs: &[
        (CustomEvent::OutboundClick, 35),
        (CustomEvent::Signup, 30),
        (CustomEvent::NotFound, 15),
        (CustomEvent::Purchase, 10),
        (CustomEvent::FileDownload, 10),
    ],
    sales: Sales::Plans,
    currency: "EUR",
    outbound: PRODUCT_OUTBOUND,
    downloads: &["/files/hitkeep-privacy-whitepaper.pdf", "/files/dpa-template.pdf"],
    weekend: 0.6,
    growth_per_year: 0.6,
};

const SHOP: SiteKind = SiteKind {
    label: "shop",
    head: &[
        "/",
        "/products",
        "/cart",
        "/category/mugs",
        "/category/shirts",
        "/checkout",
        "/sale",
        "/category/stickers",
        "/search",
        "/account",
        "/category/hoodies",
        "/shipping",
        "/returns",
        "/about",
    ],
    families: &[
        Family::Numbered { prefix: "/products/", first: 1001, count: 400 },
        Family::Grid { prefix: "/category/", sections: SHOP_CATEGORIES, pages: SHOP_LISTING_PAGES },
    ],
    zipf_exponent: 1.0,
    bounce: 0.42,
    continue_chance: 0.65,
    custom_chance: 0.08,
    customs: &[
        (CustomEvent::Purchase, 45),
        (CustomEvent::Signup, 20),
        (CustomEvent::NotFound, 20),
        (CustomEvent::OutboundClick, 10),
        (CustomEvent::FileDownload, 5),
    ],
    sales: Sales::Orders,
    currency: "EUR",
    outbound: &[
        "https://www.instagram.com/shop.example",
        "https://www.dhl.com/tracking",
        "https://www.paypal.com/",
    ],
    downloads: &["/files/size-guide.pdf", "/files/catalogue-2025.pdf"],
    weekend: 1.2,
    growth_per_year: 0.3,
};

const DOCS: SiteKind = SiteKind {
    label: "docs",
    head: &[
        "/",
        "/docs",
        "/docs/getting-started/installation",
        "/docs/getting-started/overview",
        "/download",
        "/api",
        "/changelog",
        "/search",
    ],
    families: &[
        Family::Grid { prefix: "/docs/", sections: DOC_SECTIONS, pages: DOC_PAGES },
        Family::Grid { prefix: "/api/", sections: API_ENDPOINTS, pages: API_PAGES },
        Family::Slugs { prefix: "/guides/", count: 60 },
    ],
    zipf_exponent: 1.0,
    bounce: 0.55,
    continue_chance: 0.55,
    custom_chance: 0.08,
    customs: &[
        (CustomEvent::OutboundClick, 40),
        (CustomEvent::FileDownload, 40),
        (CustomEvent::NotFound, 15),
        (CustomEvent::Signup, 5),
    ],
    sales: Sales::Plans,
    currency: "USD",
    outbound: PRODUCT_OUTBOUND,
    downloads: &[
        "/releases/hitkeep-0.4.2-x86_64-unknown-linux-gnu.tar.gz",
        "/releases/hitkeep-0.4.2-aarch64-apple-darwin.tar.gz",
        "/releases/hitkeep-0.4.2-x86_64-pc-windows-msvc.zip",
        "/releases/hitkeep-collector-0.4.2.wasm",
    ],
    weekend: 0.45,
    growth_per_year: 0.4,
};

const BLOG: SiteKind = SiteKind {
    label: "blog",
    head: &["/", "/archive", "/about", "/tags", "/feed.xml"],
    families: &[
        Family::Slugs { prefix: "/posts/", count: 300 },
        Family::Grid {
            prefix: "/tags/",
            sections: &["rust", "privacy", "web", "self-hosting"],
            pages: &["1", "2"],
        },
    ],
    zipf_exponent: 0.95,
    bounce: 0.6,
    continue_chance: 0.5,
    custom_chance: 0.04,
    customs: &[(CustomEvent::OutboundClick, 60), (CustomEvent::Signup, 20), (CustomEvent::NotFound, 20)],
    sales: Sales::Plans,
    currency: "USD",
    outbound: &["https://github.com/", "https://news.ycombinator.com/", "https://www.rust-lang.org/"],
    downloads: &["/files/slides.pdf"],
    weekend: 0.9,
    growth_per_year: 0.2,
};

/// Time zones sites are placed in, with their standard offset from UTC in minutes (daylight
/// saving is not simulated).
const TIME_ZONES: &[(&str, i32)] = &[
    ("Europe/Berlin", 60),
    ("America/New_York", -300),
    ("Europe/London", 0),
    ("America/Los_Angeles", -480),
    ("Europe/Helsinki", 120),
    ("Asia/Kolkata", 330),
    ("Asia/Tokyo", 540),
];

/// Hand-made profiles of the default demo sites: domain, kind, time zone, traffic share.
const KNOWN_SITES: &[(&str, &SiteKind, usize, f64)] =
    &[("demo.hitkeep.dev", &SAAS, 0, 1.0), ("shop.example", &SHOP, 1, 0.6), ("docs.example", &DOCS, 2, 0.4)];

/// Traffic share of sites other than the known ones, relative to `demo.hitkeep.dev`'s 1.0:
/// drawn in `OTHER_SHARE_MIN..OTHER_SHARE_MIN + OTHER_SHARE_SPREAD` from the domain.
const OTHER_SHARE_MIN: f64 = 0.3;
const OTHER_SHARE_SPREAD: f64 = 0.7;

/// The default demo sites.
pub(crate) fn default_domains() -> Vec<String> {
    KNOWN_SITES.iter().map(|(domain, ..)| (*domain).to_owned()).collect()
}

/// FNV-1a: a stable hash of a domain (the standard library's hasher may change between
/// releases).
fn stable_hash(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// One simulated site.
#[derive(Debug)]
pub struct Site {
    domain: String,
    pub(crate) kind: &'static SiteKind,
    timezone: &'static str,
    offset_ms: i64,
    share: f64,
    growth_per_ms: f64,
    /// Keys the per-day noise and spikes.
    salt: u64,
    pub(crate) pages: Vec<String>,
    page_ranks: Cumulative,
    yields: Yields,
}

/// A site's traffic weight at an instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Intensity {
    /// Relative rate of new visits.
    pub weight: f64,
    /// The share of that rate due to a spike (visits to be attributed to the spike source).
    pub spike_share: f64,
}

impl Site {
    pub(crate) fn new(domain: &str, seed: u64) -> Self {
        let domain_hash = stable_hash(domain);
        let (kind, zone, share) = match KNOWN_SITES.iter().find(|(known, ..)| *known == domain) {
            Some(&(_, kind, zone, share)) => (kind, zone, share),
            None => {
                let by_name = [("shop", &SHOP), ("store", &SHOP), ("docs", &DOCS), ("blog", &BLOG)]
                    .into_iter()
                    .find(|(word, _)| domain.contains(word))
                    .map(|(_, kind)| kind);
                let kind =
                    by_name.unwrap_or(&SITE_KINDS[(mix(domain_hash) % SITE_KINDS.len() as u64) as usize]);
                let zone = (mix(domain_hash ^ 1) % TIME_ZONES.len() as u64) as usize;
                (kind, zone, OTHER_SHARE_MIN + OTHER_SHARE_SPREAD * unit_of(mix(domain_hash ^ 2)))
            }
        };
        let (timezone, offset_minutes) = TIME_ZONES[zone];
        let salt = mix(seed ^ domain_hash);
        let pages = site_map(kind, &mut Random::new(salt));
        let page_ranks =
            Cumulative::new((1..=pages.len()).map(|rank| (rank as f64).powf(-kind.zipf_exponent)));
        Self {
            domain: domain.to_owned(),
            kind,
            timezone,
            offset_ms: i64::from(offset_minutes) * MINUTE_MS,
            share,
            growth_per_ms: (1.0 + kind.growth_per_year).ln() / YEAR_MS,
            salt,
            pages,
            page_ranks,
            yields: Yields::estimate(kind, mix(salt ^ 3)),
        }
    }

    /// The site's domain, also the hostname of its pages.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The IANA name of the site's notional time zone (`Europe/Berlin`), for registering the
    /// site; the generator itself uses the zone's standard offset all year.
    pub fn timezone(&self) -> &'static str {
        self.timezone
    }

    /// The offset from UTC, in minutes, that shapes the site's daily rhythm.
    pub fn utc_offset_minutes(&self) -> i32 {
        (self.offset_ms / MINUTE_MS) as i32
    }

    /// What kind of site it simulates: `saas`, `shop`, `docs` or `blog`.
    pub fn kind(&self) -> &'static str {
        self.kind.label
    }

    /// The number of distinct pages in the site map.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Draws a page index, Zipf-distributed over the site map.
    pub(crate) fn draw_page(&self, random: &mut impl Draw) -> usize {
        self.page_ranks.sample(random)
    }

    /// Expected hits of a visit that starts `ms_left` before the end of the time span.
    pub(crate) fn hits_per_visit(&self, ms_left: i64) -> f64 {
        self.yields.at(ms_left)
    }

    /// The rate of new visits at `ts`, for a time span starting at `start_ms`.
    pub(crate) fn intensity(&self, ts: i64, start_ms: i64) -> Intensity {
        let local = ts + self.offset_ms;
        let day = local.div_euclid(DAY_MS);
        let hour = local.rem_euclid(DAY_MS) as f64 / HOUR_MS as f64;
        let whole_hour = hour as usize;
        let fraction = hour - whole_hour as f64;
        let hourly = crate::tables::HOURLY[whole_hour] * (1.0 - fraction)
            + crate::tables::HOURLY[(whole_hour + 1) % 24] * fraction;
        // 1970-01-01 was a Thursday: with Monday as 0, day 0 is weekday 3.
        let weekday = (day + 3).rem_euclid(7);
        let weekly = if weekday >= 5 { self.kind.weekend } else { 1.0 };
        let growth = (self.growth_per_ms * (ts - start_ms) as f64).exp();

        let day_key = mix(self.salt ^ day as u64);
        let noise = DAILY_NOISE_MIN + DAILY_NOISE_SPREAD * unit_of(day_key);
        let spike_key = mix(day_key);
        let mut spike = 0.0;
        if unit_of(spike_key) < SPIKE_CHANCE {
            let spike_start = SPIKE_FIRST_HOUR + SPIKE_HOURS * unit_of(mix(spike_key ^ 1));
            if hour >= spike_start {
                let amplitude = SPIKE_MIN_AMPLITUDE + SPIKE_AMPLITUDE_SPREAD * unit_of(mix(spike_key ^ 2));
                spike = amplitude * (-(hour - spike_start) / SPIKE_DECAY_HOURS).exp();
            }
        }
        Intensity {
            weight: self.share * hourly * weekly * growth * noise * (1.0 + spike),
            spike_share: spike / (1.0 + spike),
        }
    }
}

/// All pages of a site of this kind, most visited first: the head in its order, then the
/// families' pages shuffled.
fn site_map(kind: &SiteKind, random: &mut Random) -> Vec<String> {
    let mut tail = Vec::new();
    for family in kind.families {
        match *family {
            Family::Slugs { prefix, count } => {
                let [first, second, third] = SLUG_WORDS;
                let combinations = first.len() * second.len() * third.len();
                // Stepping by a number coprime with the count visits distinct combinations
                // in an order that varies every word from one slug to the next.
                for index in 0..count.min(combinations) {
                    let code = index * 37 % combinations;
                    let (a, rest) = (code % first.len(), code / first.len());
                    let (b, c) = (rest % second.len(), rest / second.len());
                    tail.push(format!("{prefix}{}-{}-{}", first[a], second[b], third[c]));
                }
            }
            Family::Grid { prefix, sections, pages } => {
                for section in sections {
                    for page in pages {
                        tail.push(format!("{prefix}{section}/{page}"));
                    }
                }
            }
            Family::Numbered { prefix, first, count } => {
                tail.extend((first..first + count).map(|number| format!("{prefix}{number}")));
            }
        }
    }
    // Fisher-Yates, so each site (and seed) has its own popular articles.
    for index in (1..tail.len()).rev() {
        tail.swap(index, random.index(index + 1));
    }
    let mut pages: Vec<String> = kind.head.iter().map(|page| (*page).to_owned()).collect();
    for page in tail {
        if !pages.contains(&page) {
            pages.push(page);
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_maps_are_large_and_valid() {
        for kind in SITE_KINDS {
            let pages = site_map(kind, &mut Random::new(3));
            assert!(pages.len() >= 100, "{}: {}", kind.label, pages.len());
            assert_eq!(pages[0], "/");
            let mut unique = pages.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), pages.len(), "{}", kind.label);
            assert!(pages.iter().all(|page| page.starts_with('/') && !page.contains("//")));
        }
    }

    #[test]
    fn known_and_unknown_domains_get_profiles() {
        let demo = Site::new("demo.hitkeep.dev", 1);
        assert_eq!((demo.kind(), demo.timezone(), demo.utc_offset_minutes()), ("saas", "Europe/Berlin", 60));
        assert_eq!(Site::new("myshop.example", 1).kind(), "shop");
        let other = Site::new("example.org", 1);
        assert!(other.share > 0.0 && other.hits_per_visit(i64::MAX) > 1.5);
    }

    #[test]
    fn intensity_has_a_night_trough_and_afternoon_peak() {
        let site = Site::new("docs.example", 9); // UTC
        let monday = 1_767_571_200_000; // 2026-01-05T00:00:00Z, a Monday
        let at = |hour: i64| site.intensity(monday + hour * HOUR_MS, monday).weight;
        assert!(at(15) > 5.0 * at(3), "{} vs {}", at(15), at(3));
        let saturday = monday + 5 * DAY_MS;
        let weekday_total: f64 = (0..24).map(at).sum();
        let weekend_total: f64 =
            (0..24).map(|hour| site.intensity(saturday + hour * HOUR_MS, monday).weight).sum();
        // Daily noise is at most ±15%, spikes aside.
        assert!(weekend_total < weekday_total, "{weekend_total} vs {weekday_total}");
    }
}
