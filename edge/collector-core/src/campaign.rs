//! Campaign parameters of the landing URL: UTM tags, source fallbacks and ad click ids.
//!
//! Click ids decide the channel (a `gclid` means a Google ad was clicked) but their values
//! identify single clicks, so they are never kept.

use hitkeep_protocol::Utm;

use crate::limits::MAX_SHORT_FIELD_LEN;
use crate::url::{decode_query_component, query_pairs, truncate};

/// An ad platform's click id found on the landing URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClickId {
    /// `gclid`, `gbraid`, `wbraid`: a Google Ads click.
    Google,
    /// `dclid`: a Google Display & Video 360 click.
    GoogleDisplay,
    /// `msclkid`: a Microsoft Advertising (Bing) click.
    Microsoft,
    /// `yclid`: a Yandex Direct click.
    Yandex,
    /// `fbclid`: any link followed from Facebook or Instagram, paid or not.
    Facebook,
    /// `ttclid`: a TikTok ad click.
    TikTok,
    /// `twclid`: an X (Twitter) ad click.
    Twitter,
    /// `li_fat_id`: a LinkedIn ad click.
    LinkedIn,
    /// `ScCid`: a Snapchat ad click.
    Snapchat,
    /// `epik`: a Pinterest ad click.
    Pinterest,
    /// `rdt_cid`: a Reddit ad click.
    Reddit,
}

/// What a click id says about the visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClickKind {
    /// A paid search ad.
    PaidSearch,
    /// A display ad.
    Display,
    /// A paid social ad.
    PaidSocial,
    /// A link from a social network; paid only if the UTM medium says so.
    Social,
}

impl ClickId {
    /// The click id a lower-case parameter name is.
    fn from_param(key: &[u8]) -> Option<Self> {
        Some(match key {
            b"gclid" | b"gbraid" | b"wbraid" => Self::Google,
            b"dclid" => Self::GoogleDisplay,
            b"msclkid" => Self::Microsoft,
            b"yclid" => Self::Yandex,
            b"fbclid" => Self::Facebook,
            b"ttclid" => Self::TikTok,
            b"twclid" => Self::Twitter,
            b"li_fat_id" => Self::LinkedIn,
            b"sccid" => Self::Snapchat,
            b"epik" => Self::Pinterest,
            b"rdt_cid" => Self::Reddit,
            _ => return None,
        })
    }

    /// The source to report when neither UTM tags nor the referrer name one.
    pub(crate) fn source(self) -> &'static str {
        match self {
            Self::Google | Self::GoogleDisplay => "Google",
            Self::Microsoft => "Bing",
            Self::Yandex => "Yandex",
            Self::Facebook => "Facebook",
            Self::TikTok => "TikTok",
            Self::Twitter => "Twitter",
            Self::LinkedIn => "LinkedIn",
            Self::Snapchat => "Snapchat",
            Self::Pinterest => "Pinterest",
            Self::Reddit => "Reddit",
        }
    }

    pub(crate) fn kind(self) -> ClickKind {
        match self {
            Self::Google | Self::Microsoft | Self::Yandex => ClickKind::PaidSearch,
            Self::GoogleDisplay => ClickKind::Display,
            Self::Facebook => ClickKind::Social,
            Self::TikTok
            | Self::Twitter
            | Self::LinkedIn
            | Self::Snapchat
            | Self::Pinterest
            | Self::Reddit => ClickKind::PaidSocial,
        }
    }

    /// Which id wins when a URL carries several: paid evidence over the organic `fbclid`.
    fn rank(self) -> u8 {
        match self.kind() {
            ClickKind::PaidSearch => 3,
            ClickKind::PaidSocial => 2,
            ClickKind::Display => 1,
            ClickKind::Social => 0,
        }
    }
}

/// The campaign parameters of a landing URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Campaign {
    /// `utm_*` values: decoded, trimmed, cut to [`MAX_SHORT_FIELD_LEN`]; empty ones absent.
    pub utm: Utm,
    /// `source` or `ref`, Plausible's fallbacks for `utm_source` (kept only as the source
    /// name, not as a UTM value).
    pub source_param: Option<String>,
    /// The strongest click id present.
    pub click: Option<ClickId>,
}

impl Campaign {
    /// Reads a query string (without `?`). Parameter names are matched case-insensitively;
    /// the first occurrence of each wins.
    pub(crate) fn from_query(query: Option<&str>) -> Self {
        let mut campaign = Self::default();
        let Some(query) = query else { return campaign };
        let mut source_param = None;
        let mut ref_param = None;
        for (raw_key, raw_value) in query_pairs(query) {
            // Longer than any name below, even percent-encoded: skip without decoding.
            if raw_key.len() > 36 {
                continue;
            }
            let decoded = decode_query_component(raw_key);
            let mut lower = [0u8; 12];
            let Some(key) = lower.get_mut(..decoded.len()) else { continue };
            key.copy_from_slice(decoded.as_bytes());
            key.make_ascii_lowercase();
            let slot = match &*key {
                b"utm_source" => &mut campaign.utm.source,
                b"utm_medium" => &mut campaign.utm.medium,
                b"utm_campaign" => &mut campaign.utm.campaign,
                b"utm_content" => &mut campaign.utm.content,
                b"utm_term" => &mut campaign.utm.term,
                b"source" => &mut source_param,
                b"ref" => &mut ref_param,
                other => {
                    if let Some(click) = ClickId::from_param(other)
                        && campaign.click.is_none_or(|known| click.rank() > known.rank())
                    {
                        campaign.click = Some(click);
                    }
                    continue;
                }
            };
            if slot.is_none() {
                *slot = clean_value(raw_value);
            }
        }
        campaign.source_param = source_param.or(ref_param);
        campaign
    }

    /// The source the landing URL names: `utm_source`, else `source`, else `ref`.
    pub(crate) fn named_source(&self) -> Option<&str> {
        self.utm.source.as_deref().or(self.source_param.as_deref())
    }
}

fn clean_value(raw: &str) -> Option<String> {
    let decoded = decode_query_component(raw);
    let trimmed = decoded.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut value = trimmed.to_owned();
    truncate(&mut value, MAX_SHORT_FIELD_LEN);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utm_tags() {
        let campaign = Campaign::from_query(Some(
            "utm_source=Newsletter&utm_medium=email&utm_campaign=spring+sale%21&utm_content=cta&utm_term=shoes&x=1",
        ));
        assert_eq!(campaign.utm.source.as_deref(), Some("Newsletter"));
        assert_eq!(campaign.utm.medium.as_deref(), Some("email"));
        assert_eq!(campaign.utm.campaign.as_deref(), Some("spring sale!"));
        assert_eq!(campaign.utm.content.as_deref(), Some("cta"));
        assert_eq!(campaign.utm.term.as_deref(), Some("shoes"));
        assert_eq!(campaign.click, None);
        assert_eq!(campaign.named_source(), Some("Newsletter"));
    }

    #[test]
    fn first_value_wins_and_empty_values_are_absent() {
        let campaign = Campaign::from_query(Some("UTM_SOURCE=a&utm_source=b&utm_medium=&utm_term=%20%20"));
        assert_eq!(campaign.utm.source.as_deref(), Some("a"));
        assert_eq!(campaign.utm.medium, None);
        assert_eq!(campaign.utm.term, None);
        assert_eq!(Campaign::from_query(None), Campaign::default());
        assert_eq!(Campaign::from_query(Some("")), Campaign::default());
    }

    #[test]
    fn long_values_are_cut() {
        let query = format!("utm_campaign={}", "é".repeat(MAX_SHORT_FIELD_LEN));
        let campaign = Campaign::from_query(Some(&query)).utm.campaign.unwrap();
        assert_eq!(campaign.len(), MAX_SHORT_FIELD_LEN);
    }

    #[test]
    fn source_fallbacks() {
        assert_eq!(Campaign::from_query(Some("ref=producthunt")).named_source(), Some("producthunt"));
        let both = Campaign::from_query(Some("ref=a&source=b"));
        assert_eq!(both.named_source(), Some("b"));
        assert_eq!(both.utm.source, None, "fallbacks are not UTM values");
        assert_eq!(Campaign::from_query(Some("source=b&utm_source=c")).named_source(), Some("c"));
    }

    #[test]
    fn click_ids() {
        for (query, click) in [
            ("gclid=abc", ClickId::Google),
            ("gbraid=abc", ClickId::Google),
            ("wbraid=abc", ClickId::Google),
            ("dclid=abc", ClickId::GoogleDisplay),
            ("msclkid=abc", ClickId::Microsoft),
            ("fbclid=abc", ClickId::Facebook),
            ("ttclid=abc", ClickId::TikTok),
            ("twclid=abc", ClickId::Twitter),
            ("li_fat_id=abc", ClickId::LinkedIn),
            ("ScCid=abc", ClickId::Snapchat),
            ("epik=abc", ClickId::Pinterest),
            ("rdt_cid=abc", ClickId::Reddit),
            ("yclid=abc", ClickId::Yandex),
            ("fbclid=1&gclid=2", ClickId::Google),
            ("gclid=2&fbclid=1", ClickId::Google),
        ] {
            assert_eq!(Campaign::from_query(Some(query)).click, Some(click), "{query}");
        }
        assert_eq!(Campaign::from_query(Some("igshid=abc&gclidx=1")).click, None);
        assert_eq!(Campaign::from_query(Some("%67clid=abc")).click, Some(ClickId::Google), "encoded name");
        let long = format!("{}=1&utm_source=x", "k".repeat(100));
        assert_eq!(Campaign::from_query(Some(&long)).named_source(), Some("x"));
    }
}
