//! Attribution: the source name and acquisition channel of a visit, from its UTM tags, click
//! ids and referrer.
//!
//! The rules follow Google Analytics 4's default channel grouping, as Plausible does, in the
//! same order (first match wins), mapped onto [`Channel`]:
//!
//! | channel | when |
//! |---|---|
//! | Paid Other | campaign contains `cross-network` (GA4's Cross-network) |
//! | Paid Shopping | shopping source or shopping campaign, and a paid medium |
//! | Paid Search | search source and a paid medium, or a search ad click id (`gclid`, `msclkid`...) |
//! | Paid Social | social source and a paid medium, a social ad click id (`ttclid`...), or `fbclid` with a paid medium |
//! | Paid Video | video source and a paid medium |
//! | Display | medium `display`, `banner`, `expandable`, `interstitial`, `cpm`; `dclid`; an ad-network referrer |
//! | Paid Other | any other paid medium: `cpc`, `ppc`, `retargeting`, `paid*`, anything containing `cp` |
//! | Organic Shopping | shopping source or shopping campaign |
//! | Organic Social | social source, medium `social`/`social-network`/`social-media`/`sm`, or `fbclid` |
//! | Organic Video | video source, or a medium containing `video` |
//! | Organic Search | search source, or medium `organic` |
//! | Referral | medium `referral`, `app` or `link` |
//! | Email | webmail referrer, or source or medium containing `email`/`e-mail`/`e_mail`/`e mail`, or medium `newsletter` |
//! | Affiliates | medium `affiliate` or `affiliates` |
//! | Audio | medium `audio` or `podcast` |
//! | SMS | source or medium `sms` |
//! | Referral | any other source (GA4's Mobile Push Notifications and Unassigned end here) |
//! | Direct | nothing at all |

use hitkeep_protocol::Channel;

use crate::campaign::{Campaign, ClickKind};
use crate::limits::MAX_SHORT_FIELD_LEN;
use crate::referrer::{KnownSource, Medium, Referrer, lookup_host, lookup_name};
use crate::url::{strip_www, truncate};

/// Where a visit came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribution {
    /// `Google`, `Hacker News`, a `utm_source` as sent, or an unknown referrer's host.
    pub source: Option<String>,
    /// The channel.
    pub channel: Channel,
}

/// Names the source and channel. The landing URL's `utm_source` (or `source`/`ref`) wins
/// over the referrer, and the referrer over a click id's platform.
pub(crate) fn attribute(campaign: &Campaign, referrer: Option<&Referrer>) -> Attribution {
    let (source, known): (Option<String>, Option<KnownSource>) = if let Some(named) = campaign.named_source()
    {
        let known = lookup_name(named);
        (Some(known.map_or_else(|| named.to_owned(), |known| known.name.to_owned())), known)
    } else if let Some(referrer) = referrer {
        let known = lookup_host(&referrer.host);
        (
            Some(known.map_or_else(|| strip_www(&referrer.host).to_owned(), |known| known.name.to_owned())),
            known,
        )
    } else if let Some(click) = campaign.click {
        (Some(click.source().to_owned()), lookup_name(click.source()))
    } else {
        (None, None)
    };
    let source = source.map(|mut source| {
        truncate(&mut source, MAX_SHORT_FIELD_LEN);
        source
    });
    let channel = classify(&Signals {
        medium: known.map(|known| known.medium),
        utm_medium: campaign.utm.medium.as_deref().map(str::to_lowercase),
        utm_campaign: campaign.utm.campaign.as_deref().map(str::to_lowercase),
        source: source.as_deref().map(str::to_lowercase),
        click: campaign.click.map(|click| click.kind()),
    });
    Attribution { source, channel }
}

/// The lower-cased inputs of the channel rules.
struct Signals {
    medium: Option<Medium>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    source: Option<String>,
    click: Option<ClickKind>,
}

fn classify(signals: &Signals) -> Channel {
    let medium = signals.utm_medium.as_deref().unwrap_or("");
    let campaign = signals.utm_campaign.as_deref().unwrap_or("");
    let source = signals.source.as_deref().unwrap_or("");
    let is = |known: Medium| signals.medium == Some(known);
    let click = |kind: ClickKind| signals.click == Some(kind);
    let paid = is_paid_medium(medium);
    let shopping_campaign = is_shopping_campaign(campaign);

    if campaign.contains("cross-network") {
        Channel::PaidOther
    } else if (is(Medium::Shopping) || shopping_campaign) && paid {
        Channel::PaidShopping
    } else if (is(Medium::Search) && paid) || click(ClickKind::PaidSearch) {
        Channel::PaidSearch
    } else if (is(Medium::Social) && paid)
        || click(ClickKind::PaidSocial)
        || (click(ClickKind::Social) && paid)
    {
        Channel::PaidSocial
    } else if is(Medium::Video) && paid {
        Channel::PaidVideo
    } else if matches!(medium, "display" | "banner" | "expandable" | "interstitial" | "cpm")
        || click(ClickKind::Display)
        || is(Medium::Paid)
    {
        Channel::Display
    } else if paid {
        Channel::PaidOther
    } else if is(Medium::Shopping) || shopping_campaign {
        Channel::OrganicShopping
    } else if is(Medium::Social)
        || matches!(
            medium,
            "social" | "social-network" | "social-media" | "sm" | "social network" | "social media"
        )
        || click(ClickKind::Social)
    {
        Channel::OrganicSocial
    } else if is(Medium::Video) || medium.contains("video") {
        Channel::OrganicVideo
    } else if is(Medium::Search) || medium == "organic" {
        Channel::OrganicSearch
    } else if matches!(medium, "referral" | "app" | "link") {
        Channel::Referral
    } else if is(Medium::Email) || is_email(source) || is_email(medium) || medium == "newsletter" {
        Channel::Email
    } else if matches!(medium, "affiliate" | "affiliates") {
        Channel::Affiliates
    } else if matches!(medium, "audio" | "podcast") {
        Channel::Audio
    } else if source == "sms" || medium == "sms" {
        Channel::Sms
    } else if !source.is_empty() {
        Channel::Referral
    } else {
        Channel::Direct
    }
}

/// GA4's `^(.*cp.*|ppc|retargeting|paid.*)$`.
fn is_paid_medium(medium: &str) -> bool {
    medium.contains("cp") || medium == "ppc" || medium == "retargeting" || medium.starts_with("paid")
}

/// GA4's `^(.*(([^a-df-z]|^)shop|shopping).*)$`: `shop` at a word start (or after an `e`, as
/// in `eshop`), or `shopping` anywhere.
fn is_shopping_campaign(campaign: &str) -> bool {
    campaign.contains("shopping")
        || campaign
            .match_indices("shop")
            .any(|(at, _)| at == 0 || !matches!(campaign.as_bytes()[at - 1], b'a'..=b'd' | b'f'..=b'z'))
}

fn is_email(text: &str) -> bool {
    ["email", "e-mail", "e_mail", "e mail"].iter().any(|needle| text.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referrer::parse_referrer;

    fn channel(query: &str, referrer: Option<&str>) -> (Option<String>, Channel) {
        let campaign = Campaign::from_query(Some(query));
        let referrer = referrer.and_then(|raw| parse_referrer(raw, "example.com"));
        let attribution = attribute(&campaign, referrer.as_ref());
        (attribution.source, attribution.channel)
    }

    fn source_and_channel(source: &str, channel: Channel) -> (Option<String>, Channel) {
        (Some(source.to_owned()), channel)
    }

    #[test]
    fn referrers_alone() {
        assert_eq!(channel("", None), (None, Channel::Direct));
        assert_eq!(
            channel("", Some("https://www.google.com/")),
            source_and_channel("Google", Channel::OrganicSearch)
        );
        assert_eq!(
            channel("", Some("https://duckduckgo.com/")),
            source_and_channel("DuckDuckGo", Channel::OrganicSearch)
        );
        assert_eq!(
            channel("", Some("https://news.ycombinator.com/item?id=1")),
            source_and_channel("Hacker News", Channel::OrganicSocial)
        );
        assert_eq!(
            channel("", Some("https://m.youtube.com/")),
            source_and_channel("YouTube", Channel::OrganicVideo)
        );
        assert_eq!(
            channel("", Some("https://mail.google.com/")),
            source_and_channel("Gmail", Channel::Email)
        );
        assert_eq!(
            channel("", Some("https://www.amazon.com/")),
            source_and_channel("Amazon", Channel::OrganicShopping)
        );
        assert_eq!(
            channel("", Some("https://chatgpt.com/")),
            source_and_channel("ChatGPT", Channel::Referral)
        );
        assert_eq!(
            channel("", Some("https://doubleclick.net/x")),
            source_and_channel("DoubleClick", Channel::Display)
        );
        assert_eq!(
            channel("", Some("https://www.someblog.net/post")),
            source_and_channel("someblog.net", Channel::Referral)
        );
    }

    #[test]
    fn utm_rules() {
        let cases = [
            ("utm_source=google&utm_medium=cpc", "Google", Channel::PaidSearch),
            ("utm_source=bing&utm_medium=ppc", "Bing", Channel::PaidSearch),
            ("utm_source=facebook&utm_medium=paid_social", "Facebook", Channel::PaidSocial),
            ("utm_source=youtube&utm_medium=cpv", "YouTube", Channel::PaidVideo),
            ("utm_source=amazon&utm_medium=cpc", "Amazon", Channel::PaidShopping),
            ("utm_source=foo&utm_medium=cpc&utm_campaign=summer-shopping", "foo", Channel::PaidShopping),
            ("utm_source=carbon&utm_medium=display", "carbon", Channel::Display),
            ("utm_source=carbon&utm_medium=banner", "carbon", Channel::Display),
            ("utm_source=carbon&utm_medium=cpc", "carbon", Channel::PaidOther),
            ("utm_source=x&utm_medium=retargeting", "Twitter", Channel::PaidSocial),
            ("utm_source=y&utm_campaign=cross-network-q3", "y", Channel::PaidOther),
            ("utm_source=shop&utm_campaign=eshop-days", "shop", Channel::OrganicShopping),
            ("utm_source=mastodon", "Mastodon", Channel::OrganicSocial),
            ("utm_source=whatever&utm_medium=social", "whatever", Channel::OrganicSocial),
            ("utm_source=vendor&utm_medium=video", "vendor", Channel::OrganicVideo),
            ("utm_source=partner&utm_medium=organic", "partner", Channel::OrganicSearch),
            ("utm_source=newsletter&utm_medium=email", "newsletter", Channel::Email),
            ("utm_source=weekly&utm_medium=newsletter", "weekly", Channel::Email),
            ("utm_source=mailchimp-e-mail", "mailchimp-e-mail", Channel::Email),
            ("utm_source=techreviews&utm_medium=affiliate", "techreviews", Channel::Affiliates),
            ("utm_source=spotify&utm_medium=audio", "spotify", Channel::Audio),
            ("utm_source=sms", "sms", Channel::Sms),
            ("utm_source=twilio&utm_medium=SMS", "twilio", Channel::Sms),
            ("utm_source=partner&utm_medium=referral", "partner", Channel::Referral),
            ("utm_source=partner", "partner", Channel::Referral),
            ("ref=producthunt", "Product Hunt", Channel::OrganicSocial),
            ("utm_source=news.ycombinator.com", "Hacker News", Channel::OrganicSocial),
        ];
        for (query, source, expected) in cases {
            assert_eq!(channel(query, None), source_and_channel(source, expected), "{query}");
        }
    }

    #[test]
    fn utm_source_beats_the_referrer() {
        assert_eq!(
            channel("utm_source=newsletter&utm_medium=email", Some("https://mail.google.com/")),
            source_and_channel("newsletter", Channel::Email)
        );
        assert_eq!(
            channel("utm_medium=cpc", Some("https://www.google.de/")),
            source_and_channel("Google", Channel::PaidSearch),
            "a medium without a source keeps the referrer's source"
        );
    }

    #[test]
    fn click_ids() {
        assert_eq!(channel("gclid=x", None), source_and_channel("Google", Channel::PaidSearch));
        assert_eq!(
            channel("gclid=x", Some("https://www.google.com/")),
            source_and_channel("Google", Channel::PaidSearch)
        );
        assert_eq!(
            channel("msclkid=x", Some("https://www.bing.com/")),
            source_and_channel("Bing", Channel::PaidSearch)
        );
        assert_eq!(
            channel("fbclid=x", Some("https://l.facebook.com/")),
            source_and_channel("Facebook", Channel::OrganicSocial)
        );
        assert_eq!(channel("fbclid=x", None), source_and_channel("Facebook", Channel::OrganicSocial));
        assert_eq!(
            channel("fbclid=x&utm_source=fb&utm_medium=paid", None),
            source_and_channel("Facebook", Channel::PaidSocial)
        );
        assert_eq!(channel("ttclid=x", None), source_and_channel("TikTok", Channel::PaidSocial));
        assert_eq!(channel("li_fat_id=x", None), source_and_channel("LinkedIn", Channel::PaidSocial));
        assert_eq!(
            channel("twclid=x", Some("https://t.co/abc")),
            source_and_channel("Twitter", Channel::PaidSocial)
        );
        assert_eq!(channel("dclid=x", None), source_and_channel("Google", Channel::Display));
    }

    #[test]
    fn shopping_campaigns() {
        for yes in ["shop", "summer-shop", "eshop", "shopping-days", "myshopping", "shop_now"] {
            assert!(is_shopping_campaign(yes), "{yes}");
        }
        for no in ["workshop", "bishop", "", "sho"] {
            assert!(!is_shopping_campaign(no), "{no}");
        }
    }
}
