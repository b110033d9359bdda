//! The normalized hit: one anonymized event as it leaves the edge.

use serde::{Deserialize, Serialize};

use crate::limits::*;

/// What kind of event a hit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum EventKind {
    /// A page was viewed (`name` is `pageview`).
    Pageview = 0,
    /// A custom event, named by `name` (goals, outbound clicks, downloads, 404s...).
    Custom = 1,
    /// Time on page and scroll depth, reported when a page is left (Plausible's `engagement`
    /// event; `name` is `engagement`, props `scroll_depth` and `engagement_ms`).
    Engagement = 2,
}

impl EventKind {
    /// The stable numeric code stored in the database.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind for a stored numeric code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Pageview),
            1 => Some(Self::Custom),
            2 => Some(Self::Engagement),
            _ => None,
        }
    }
}

/// The acquisition channel of a visit, derived at the edge from the referrer and UTM tags.
///
/// The numeric codes are stored in the database and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Channel {
    /// No referrer and no campaign tags.
    #[default]
    Direct = 0,
    /// Unpaid results of a search engine.
    OrganicSearch = 1,
    /// Paid search ads (`utm_medium=cpc` and the like, or a search click id).
    PaidSearch = 2,
    /// Unpaid links from a social network.
    OrganicSocial = 3,
    /// Paid social ads.
    PaidSocial = 4,
    /// Links in emails and newsletters.
    Email = 5,
    /// Any other linking site.
    Referral = 6,
    /// Affiliate programmes.
    Affiliates = 7,
    /// Display and banner ads.
    Display = 8,
    /// Unpaid video platforms.
    OrganicVideo = 9,
    /// Paid video ads.
    PaidVideo = 10,
    /// Shopping platforms, unpaid.
    OrganicShopping = 11,
    /// Shopping platforms, paid.
    PaidShopping = 12,
    /// Text messages.
    Sms = 13,
    /// Audio ads and podcasts.
    Audio = 14,
    /// Paid, but none of the above.
    PaidOther = 15,
}

impl Channel {
    /// Every channel, in code order.
    pub const ALL: [Channel; 16] = [
        Self::Direct,
        Self::OrganicSearch,
        Self::PaidSearch,
        Self::OrganicSocial,
        Self::PaidSocial,
        Self::Email,
        Self::Referral,
        Self::Affiliates,
        Self::Display,
        Self::OrganicVideo,
        Self::PaidVideo,
        Self::OrganicShopping,
        Self::PaidShopping,
        Self::Sms,
        Self::Audio,
        Self::PaidOther,
    ];

    /// The stable numeric code stored in the database.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The channel for a stored numeric code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The human name shown in reports ("Organic Search").
    pub fn label(self) -> &'static str {
        match self {
            Self::Direct => "Direct",
            Self::OrganicSearch => "Organic Search",
            Self::PaidSearch => "Paid Search",
            Self::OrganicSocial => "Organic Social",
            Self::PaidSocial => "Paid Social",
            Self::Email => "Email",
            Self::Referral => "Referral",
            Self::Affiliates => "Affiliates",
            Self::Display => "Display",
            Self::OrganicVideo => "Organic Video",
            Self::PaidVideo => "Paid Video",
            Self::OrganicShopping => "Organic Shopping",
            Self::PaidShopping => "Paid Shopping",
            Self::Sms => "SMS",
            Self::Audio => "Audio",
            Self::PaidOther => "Paid Other",
        }
    }
}

/// The class of device, derived at the edge from the user agent (which then goes no further).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Device {
    /// Could not be told.
    #[default]
    Unknown = 0,
    /// Desktop or laptop computer.
    Desktop = 1,
    /// Phone.
    Mobile = 2,
    /// Tablet.
    Tablet = 3,
}

impl Device {
    /// The stable numeric code stored in the database.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The device for a stored numeric code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Unknown),
            1 => Some(Self::Desktop),
            2 => Some(Self::Mobile),
            3 => Some(Self::Tablet),
            _ => None,
        }
    }
}

/// UTM campaign parameters, as found on the landing URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Utm {
    /// `utm_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `utm_medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// `utm_campaign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// `utm_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// `utm_term`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
}

impl Utm {
    /// True when no parameter is set.
    pub fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.medium.is_none()
            && self.campaign.is_none()
            && self.content.is_none()
            && self.term.is_none()
    }
}

/// Revenue attached to a custom event (a purchase goal, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revenue {
    /// The amount in millionths of the currency unit (12.5 EUR is `12_500_000`), so sums are
    /// exact.
    pub amount_micros: i64,
    /// ISO 4217 code, upper case (`EUR`).
    pub currency: String,
}

/// One anonymized, classified event, as an edge hands it to the aggregator.
///
/// It holds no IP address and no user-agent string; the visitor is known only by keyed
/// hashes that change with the daily salt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// When the edge received the event, in milliseconds since the Unix epoch (UTC).
    pub ts: i64,
    /// The site's domain, as registered in Hitkeep (`example.com`).
    pub domain: String,
    /// Pageview or custom event.
    pub kind: EventKind,
    /// `pageview` for pageviews, else the custom event's name.
    pub name: String,
    /// `keyed_hash(today's salt, site, ip, user_agent)`.
    pub visitor: u64,
    /// The same hash under yesterday's salt, so a visit that spans midnight stays one session.
    pub visitor_prev: u64,
    /// Normalized hostname of the page (lower case, no `www.` rule applied).
    pub hostname: String,
    /// Normalized path of the page, without query string or fragment.
    pub path: String,
    /// Referring page as `host/path`, without query string; absent for direct visits and
    /// internal navigation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Referrer source name (`Google`, `Hacker News`, or a UTM source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Acquisition channel.
    #[serde(default)]
    pub channel: Channel,
    /// Campaign parameters.
    #[serde(default, skip_serializing_if = "Utm::is_empty")]
    pub utm: Utm,
    /// Country as ISO 3166-1 alpha-2 (`DE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Region (ISO 3166-2 subdivision code, `DE-BE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// City name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Browser family (`Firefox`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// Browser major version (`131`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_version: Option<String>,
    /// Operating system family (`Android`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Operating system version (`15`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Device class.
    #[serde(default)]
    pub device: Device,
    /// Custom properties, in the order sent, keys unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<(String, String)>,
    /// Revenue of a custom event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<Revenue>,
    /// False for events that should not end a bounce (Plausible's `interactive: false`).
    #[serde(default = "default_true")]
    pub interactive: bool,
}

fn default_true() -> bool {
    true
}

/// Why a hit (or a batch) breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A field is empty but must not be.
    #[error("field `{field}` must not be empty")]
    Empty {
        /// The field's name.
        field: &'static str,
    },
    /// A field is longer than its limit.
    #[error("field `{field}` is {len} bytes long, the limit is {max}")]
    TooLong {
        /// The field's name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Too many elements in a list.
    #[error("field `{field}` has {count} entries, the limit is {max}")]
    TooMany {
        /// The field's name.
        field: &'static str,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A field holds a value outside its domain.
    #[error("field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field's name.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.len() > max {
        return Err(ValidationError::TooLong { field, len: value.len(), max });
    }
    Ok(())
}

fn check_required(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    check_len(field, value, max)
}

fn check_optional(field: &'static str, value: Option<&str>, max: usize) -> Result<(), ValidationError> {
    match value {
        Some(value) => check_len(field, value, max),
        None => Ok(()),
    }
}

/// Earliest accepted timestamp: 2000-01-01T00:00:00Z.
const MIN_TS_MS: i64 = 946_684_800_000;
/// Latest accepted timestamp: 2200-01-01T00:00:00Z.
const MAX_TS_MS: i64 = 7_258_118_400_000;

impl Hit {
    /// A pageview of `path` on `domain` at `ts` (ms since the epoch), by visitor `1` (`2` under
    /// yesterday's salt), direct, from a desktop, with every optional field empty: a base for
    /// tests, benchmarks and examples to change what they need on (`Hit { country: ..,
    /// ..Hit::pageview(ts, domain, path) }`).
    pub fn pageview(ts: i64, domain: &str, path: &str) -> Self {
        Self {
            ts,
            domain: domain.to_owned(),
            kind: EventKind::Pageview,
            name: "pageview".to_owned(),
            visitor: 1,
            visitor_prev: 2,
            hostname: domain.to_owned(),
            path: path.to_owned(),
            referrer: None,
            source: None,
            channel: Channel::Direct,
            utm: Utm::default(),
            country: None,
            region: None,
            city: None,
            browser: None,
            browser_version: None,
            os: None,
            os_version: None,
            device: Device::Desktop,
            props: Vec::new(),
            revenue: None,
            interactive: true,
        }
    }

    /// Checks every field against [`crate::limits`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.view().validate()
    }

    /// The hit as a [`HitRef`], borrowing its strings.
    pub fn view(&self) -> HitRef<'_> {
        let utm = &self.utm;
        HitRef {
            ts: self.ts,
            domain: &self.domain,
            kind: self.kind,
            name: &self.name,
            visitor: self.visitor,
            visitor_prev: self.visitor_prev,
            hostname: &self.hostname,
            path: &self.path,
            referrer: self.referrer.as_deref(),
            source: self.source.as_deref(),
            channel: self.channel,
            utm: UtmRef {
                source: utm.source.as_deref(),
                medium: utm.medium.as_deref(),
                campaign: utm.campaign.as_deref(),
                content: utm.content.as_deref(),
                term: utm.term.as_deref(),
            },
            country: self.country.as_deref(),
            region: self.region.as_deref(),
            city: self.city.as_deref(),
            browser: self.browser.as_deref(),
            browser_version: self.browser_version.as_deref(),
            os: self.os.as_deref(),
            os_version: self.os_version.as_deref(),
            device: self.device,
            props: self.props.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect(),
            revenue: self.revenue.as_ref().map(|revenue| RevenueRef {
                amount_micros: revenue.amount_micros,
                currency: &revenue.currency,
            }),
            interactive: self.interactive,
        }
    }
}

/// A [`Hit`] whose strings are borrowed: from a [`Hit`] ([`Hit::view`]), or straight from
/// the bytes of a binary envelope ([`crate::binary::BinaryBatch::hits`]), so that the
/// aggregator reads a batch without allocating a string per field. The fields are those of
/// [`Hit`], with the same meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct HitRef<'a> {
    pub ts: i64,
    pub domain: &'a str,
    pub kind: EventKind,
    pub name: &'a str,
    pub visitor: u64,
    pub visitor_prev: u64,
    pub hostname: &'a str,
    pub path: &'a str,
    pub referrer: Option<&'a str>,
    pub source: Option<&'a str>,
    pub channel: Channel,
    pub utm: UtmRef<'a>,
    pub country: Option<&'a str>,
    pub region: Option<&'a str>,
    pub city: Option<&'a str>,
    pub browser: Option<&'a str>,
    pub browser_version: Option<&'a str>,
    pub os: Option<&'a str>,
    pub os_version: Option<&'a str>,
    pub device: Device,
    pub props: Vec<(&'a str, &'a str)>,
    pub revenue: Option<RevenueRef<'a>>,
    pub interactive: bool,
}

/// [`Utm`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UtmRef<'a> {
    pub source: Option<&'a str>,
    pub medium: Option<&'a str>,
    pub campaign: Option<&'a str>,
    pub content: Option<&'a str>,
    pub term: Option<&'a str>,
}

/// [`Revenue`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct RevenueRef<'a> {
    pub amount_micros: i64,
    pub currency: &'a str,
}

impl HitRef<'_> {
    /// The hit with strings of its own.
    pub fn to_hit(&self) -> Hit {
        let owned = |value: Option<&str>| value.map(str::to_owned);
        let utm = &self.utm;
        Hit {
            ts: self.ts,
            domain: self.domain.to_owned(),
            kind: self.kind,
            name: self.name.to_owned(),
            visitor: self.visitor,
            visitor_prev: self.visitor_prev,
            hostname: self.hostname.to_owned(),
            path: self.path.to_owned(),
            referrer: owned(self.referrer),
            source: owned(self.source),
            channel: self.channel,
            utm: Utm {
                source: owned(utm.source),
                medium: owned(utm.medium),
                campaign: owned(utm.campaign),
                content: owned(utm.content),
                term: owned(utm.term),
            },
            country: owned(self.country),
            region: owned(self.region),
            city: owned(self.city),
            browser: owned(self.browser),
            browser_version: owned(self.browser_version),
            os: owned(self.os),
            os_version: owned(self.os_version),
            device: self.device,
            props: self.props.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect(),
            revenue: self.revenue.map(|revenue| Revenue {
                amount_micros: revenue.amount_micros,
                currency: revenue.currency.to_owned(),
            }),
            interactive: self.interactive,
        }
    }

    /// Checks every field against [`crate::limits`] (see [`Hit::validate`]).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(MIN_TS_MS..MAX_TS_MS).contains(&self.ts) {
            return Err(ValidationError::Invalid { field: "ts", reason: "outside 2000..2200" });
        }
        check_required("domain", self.domain, MAX_DOMAIN_LEN)?;
        check_required("name", self.name, MAX_EVENT_NAME_LEN)?;
        if (self.kind == EventKind::Pageview) != (self.name == "pageview") {
            return Err(ValidationError::Invalid {
                field: "name",
                reason: "`pageview` is the name of pageviews and of nothing else",
            });
        }
        check_required("hostname", self.hostname, MAX_HOSTNAME_LEN)?;
        check_required("path", self.path, MAX_PATH_LEN)?;
        if !self.path.starts_with('/') {
            return Err(ValidationError::Invalid { field: "path", reason: "must start with `/`" });
        }
        check_optional("referrer", self.referrer, MAX_REFERRER_LEN)?;
        for (field, value) in [
            ("source", self.source),
            ("utm.source", self.utm.source),
            ("utm.medium", self.utm.medium),
            ("utm.campaign", self.utm.campaign),
            ("utm.content", self.utm.content),
            ("utm.term", self.utm.term),
            ("region", self.region),
            ("city", self.city),
            ("browser", self.browser),
            ("browser_version", self.browser_version),
            ("os", self.os),
            ("os_version", self.os_version),
        ] {
            check_optional(field, value, MAX_SHORT_FIELD_LEN)?;
        }
        if let Some(country) = self.country
            && (country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(ValidationError::Invalid {
                field: "country",
                reason: "must be an upper-case ISO 3166-1 alpha-2 code",
            });
        }
        if self.props.len() > MAX_PROPS {
            return Err(ValidationError::TooMany { field: "props", count: self.props.len(), max: MAX_PROPS });
        }
        for (index, (key, value)) in self.props.iter().enumerate() {
            check_required("props.key", key, MAX_PROP_KEY_LEN)?;
            check_len("props.value", value, MAX_PROP_VALUE_LEN)?;
            if self.props[..index].iter().any(|(earlier, _)| earlier == key) {
                return Err(ValidationError::Invalid { field: "props.key", reason: "keys must be unique" });
            }
        }
        if let Some(revenue) = &self.revenue
            && (revenue.currency.len() != MAX_CURRENCY_LEN
                || !revenue.currency.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(ValidationError::Invalid {
                field: "revenue.currency",
                reason: "must be an upper-case ISO 4217 code",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Hit {
        Hit {
            country: Some("DE".into()),
            browser: Some("Firefox".into()),
            browser_version: Some("131".into()),
            ..Hit::pageview(1_767_225_600_000, "example.com", "/")
        }
    }

    #[test]
    fn a_sample_hit_is_valid() {
        assert_eq!(sample().validate(), Ok(()));
    }

    #[test]
    fn codes_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(Channel::from_code(channel.code()), Some(channel));
        }
        assert_eq!(Channel::from_code(16), None);
        for device in [Device::Unknown, Device::Desktop, Device::Mobile, Device::Tablet] {
            assert_eq!(Device::from_code(device.code()), Some(device));
        }
        assert_eq!(EventKind::from_code(EventKind::Custom.code()), Some(EventKind::Custom));
    }

    #[test]
    fn limits_are_enforced() {
        let mut hit = sample();
        hit.path = format!("/{}", "a".repeat(MAX_PATH_LEN));
        assert!(matches!(hit.validate(), Err(ValidationError::TooLong { field: "path", .. })));

        let mut hit = sample();
        hit.path = "relative".into();
        assert!(matches!(hit.validate(), Err(ValidationError::Invalid { field: "path", .. })));

        let mut hit = sample();
        hit.props = (0..=MAX_PROPS).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(matches!(hit.validate(), Err(ValidationError::TooMany { field: "props", .. })));

        let mut hit = sample();
        hit.props = vec![("k".into(), "1".into()), ("k".into(), "2".into())];
        assert!(matches!(hit.validate(), Err(ValidationError::Invalid { field: "props.key", .. })));

        let mut hit = sample();
        hit.kind = EventKind::Custom;
        assert!(matches!(hit.validate(), Err(ValidationError::Invalid { field: "name", .. })));

        let mut hit = sample();
        hit.country = Some("de".into());
        assert!(hit.validate().is_err());

        let mut hit = sample();
        hit.ts = 0;
        assert!(hit.validate().is_err());

        let mut hit = sample();
        hit.kind = EventKind::Custom;
        hit.name = "Purchase".into();
        hit.revenue = Some(Revenue { amount_micros: 1, currency: "eur".into() });
        assert!(hit.validate().is_err());
    }

    #[test]
    fn optional_fields_are_left_out_of_the_json() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(!json.contains("referrer"), "{json}");
        assert!(!json.contains("utm"), "{json}");
        let back: Hit = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sample());
    }
}
