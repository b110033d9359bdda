//! The contract's event from a [`Hit`] and back, and the checks on what a plugin returns.
//!
//! The event carries the hit's dimensions and nothing else: the visitor hashes stay on the
//! host's side and are copied from the original hit into the plugin's version.

use hitkeep_protocol::{Channel, Device, EventKind, Hit, Revenue, Utm};

use crate::bindings::hitkeep::plugin::types as wit;

/// The snake_case names of the channels, in code order (the protocol's serde names).
const CHANNEL_NAMES: [&str; 16] = [
    "direct",
    "organic_search",
    "paid_search",
    "organic_social",
    "paid_social",
    "email",
    "referral",
    "affiliates",
    "display",
    "organic_video",
    "paid_video",
    "organic_shopping",
    "paid_shopping",
    "sms",
    "audio",
    "paid_other",
];

/// The snake_case names of the device classes, in code order.
const DEVICE_NAMES: [&str; 4] = ["unknown", "desktop", "mobile", "tablet"];

pub(crate) fn channel_name(channel: Channel) -> &'static str {
    CHANNEL_NAMES[usize::from(channel.code())]
}

pub(crate) fn device_name(device: Device) -> &'static str {
    DEVICE_NAMES[usize::from(device.code())]
}

fn parse_channel(name: &str) -> Option<Channel> {
    let code = CHANNEL_NAMES.iter().position(|known| *known == name)?;
    Channel::from_code(u8::try_from(code).ok()?)
}

fn parse_device(name: &str) -> Option<Device> {
    let code = DEVICE_NAMES.iter().position(|known| *known == name)?;
    Device::from_code(u8::try_from(code).ok()?)
}

/// The event a plugin sees for `hit`, borrowing its strings. `props` are the hit's
/// properties as pairs of `&str` (the caller keeps them, one flat list per call).
pub(crate) fn to_event<'h>(hit: &'h Hit, props: &'h [(&'h str, &'h str)]) -> wit::EventParam<'h> {
    debug_assert_eq!(props.len(), hit.props.len());
    wit::EventParam {
        ts: hit.ts,
        domain: &hit.domain,
        kind: match hit.kind {
            EventKind::Pageview => wit::EventKind::Pageview,
            EventKind::Custom => wit::EventKind::Custom,
            EventKind::Engagement => wit::EventKind::Engagement,
        },
        name: &hit.name,
        hostname: &hit.hostname,
        path: &hit.path,
        referrer: hit.referrer.as_deref(),
        source: hit.source.as_deref(),
        channel: channel_name(hit.channel),
        utm: wit::UtmParam {
            source: hit.utm.source.as_deref(),
            medium: hit.utm.medium.as_deref(),
            campaign: hit.utm.campaign.as_deref(),
            content: hit.utm.content.as_deref(),
            term: hit.utm.term.as_deref(),
        },
        country: hit.country.as_deref(),
        region: hit.region.as_deref(),
        city: hit.city.as_deref(),
        browser: hit.browser.as_deref(),
        browser_version: hit.browser_version.as_deref(),
        os: hit.os.as_deref(),
        os_version: hit.os_version.as_deref(),
        device: device_name(hit.device),
        props,
        revenue: hit.revenue.as_ref().map(|revenue| wit::RevenueParam {
            amount_micros: revenue.amount_micros,
            currency: &revenue.currency,
        }),
        interactive: hit.interactive,
    }
}

/// The events of `hits`, for one call: the property pairs of all of them in one list, and
/// the events borrowing from it and from the hits.
pub(crate) fn prop_pairs<'h>(hits: impl Iterator<Item = &'h Hit>) -> Vec<(&'h str, &'h str)> {
    hits.flat_map(|hit| hit.props.iter().map(|(key, value)| (key.as_str(), value.as_str()))).collect()
}

/// [`to_event`] for consecutive hits whose pairs are, in order, in `pairs`.
pub(crate) fn to_events<'h>(
    hits: impl Iterator<Item = &'h Hit>,
    pairs: &'h [(&'h str, &'h str)],
) -> Vec<wit::EventParam<'h>> {
    let mut offset = 0;
    hits.map(|hit| {
        let props = &pairs[offset..offset + hit.props.len()];
        offset += hit.props.len();
        to_event(hit, props)
    })
    .collect()
}

/// The hit a plugin's changed `event` stands for, or why it breaks the contract. Fields the
/// event does not carry (the visitor hashes) come from `original`.
pub(crate) fn from_event(event: wit::EventResult, original: &Hit) -> Result<Hit, String> {
    if event.ts != original.ts {
        return Err("field `ts` is read-only".into());
    }
    if event.domain != original.domain {
        return Err("field `domain` is read-only".into());
    }
    let channel = parse_channel(&event.channel)
        .ok_or_else(|| format!("field `channel` holds an unknown channel: {:?}", clip(&event.channel)))?;
    let device = parse_device(&event.device)
        .ok_or_else(|| format!("field `device` holds an unknown device: {:?}", clip(&event.device)))?;
    let hit = Hit {
        ts: event.ts,
        domain: event.domain,
        kind: match event.kind {
            wit::EventKind::Pageview => EventKind::Pageview,
            wit::EventKind::Custom => EventKind::Custom,
            wit::EventKind::Engagement => EventKind::Engagement,
        },
        name: event.name,
        visitor: original.visitor,
        visitor_prev: original.visitor_prev,
        hostname: event.hostname,
        path: event.path,
        referrer: event.referrer,
        source: event.source,
        channel,
        utm: Utm {
            source: event.utm.source,
            medium: event.utm.medium,
            campaign: event.utm.campaign,
            content: event.utm.content,
            term: event.utm.term,
        },
        country: event.country,
        region: event.region,
        city: event.city,
        browser: event.browser,
        browser_version: event.browser_version,
        os: event.os,
        os_version: event.os_version,
        device,
        props: event.props,
        revenue: event
            .revenue
            .map(|revenue| Revenue { amount_micros: revenue.amount_micros, currency: revenue.currency }),
        interactive: event.interactive,
    };
    hit.validate().map_err(|error| error.to_string())?;
    Ok(hit)
}

/// A bounded excerpt of a value a plugin produced, for an error message.
fn clip(value: &str) -> &str {
    match value.char_indices().nth(32) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn full_hit() -> Hit {
        Hit {
            ts: 1_767_225_600_000,
            domain: "example.com".into(),
            kind: EventKind::Custom,
            name: "Purchase".into(),
            visitor: 0xdead_beef,
            visitor_prev: 0xfeed_f00d,
            hostname: "shop.example.com".into(),
            path: "/checkout/done".into(),
            referrer: Some("news.ycombinator.com/item".into()),
            source: Some("Hacker News".into()),
            channel: Channel::OrganicSocial,
            utm: Utm {
                source: Some("hn".into()),
                medium: Some("social".into()),
                campaign: Some("launch".into()),
                content: Some("top".into()),
                term: Some("analytics".into()),
            },
            country: Some("DE".into()),
            region: Some("DE-BE".into()),
            city: Some("Berlin".into()),
            browser: Some("Firefox".into()),
            browser_version: Some("131".into()),
            os: Some("Linux".into()),
            os_version: Some("6".into()),
            device: Device::Tablet,
            props: vec![("plan".into(), "pro".into()), ("seats".into(), "3".into())],
            revenue: Some(Revenue { amount_micros: 12_500_000, currency: "EUR".into() }),
            interactive: false,
        }
    }

    #[test]
    fn names_are_the_protocols_serde_names() {
        for channel in Channel::ALL {
            let serde_name = serde_json::to_value(channel).unwrap();
            assert_eq!(serde_name, channel_name(channel), "{channel:?}");
            assert_eq!(parse_channel(channel_name(channel)), Some(channel));
        }
        for device in [Device::Unknown, Device::Desktop, Device::Mobile, Device::Tablet] {
            assert_eq!(serde_json::to_value(device).unwrap(), device_name(device));
            assert_eq!(parse_device(device_name(device)), Some(device));
        }
    }

    /// What a plugin that changes nothing would send back for `hit`.
    fn echoed(hit: &Hit) -> wit::EventResult {
        let pairs = prop_pairs(std::iter::once(hit));
        let event = to_event(hit, &pairs);
        wit::EventResult {
            ts: event.ts,
            domain: event.domain.into(),
            kind: event.kind,
            name: event.name.into(),
            hostname: event.hostname.into(),
            path: event.path.into(),
            referrer: event.referrer.map(Into::into),
            source: event.source.map(Into::into),
            channel: event.channel.into(),
            utm: wit::UtmResult {
                source: event.utm.source.map(Into::into),
                medium: event.utm.medium.map(Into::into),
                campaign: event.utm.campaign.map(Into::into),
                content: event.utm.content.map(Into::into),
                term: event.utm.term.map(Into::into),
            },
            country: event.country.map(Into::into),
            region: event.region.map(Into::into),
            city: event.city.map(Into::into),
            browser: event.browser.map(Into::into),
            browser_version: event.browser_version.map(Into::into),
            os: event.os.map(Into::into),
            os_version: event.os_version.map(Into::into),
            device: event.device.into(),
            props: event.props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            revenue: event
                .revenue
                .map(|r| wit::RevenueResult { amount_micros: r.amount_micros, currency: r.currency.into() }),
            interactive: event.interactive,
        }
    }

    #[test]
    fn a_hit_round_trips_through_the_event() {
        let hit = full_hit();
        assert_eq!(from_event(echoed(&hit), &hit), Ok(hit));
    }

    #[test]
    fn events_of_a_call_share_one_list_of_pairs() {
        let mut second = full_hit();
        second.props = vec![("a".into(), "1".into())];
        let hits = [full_hit(), Hit { props: Vec::new(), ..full_hit() }, second];
        let pairs = prop_pairs(hits.iter());
        let events = to_events(hits.iter(), &pairs);
        assert_eq!(events[0].props, [("plan", "pro"), ("seats", "3")]);
        assert!(events[1].props.is_empty());
        assert_eq!(events[2].props, [("a", "1")]);
    }

    #[test]
    fn visitor_hashes_come_from_the_original() {
        let hit = full_hit();
        let mut event = echoed(&hit);
        event.path = "/checkout/:step".into();
        let changed = from_event(event, &hit).unwrap();
        assert_eq!((changed.visitor, changed.visitor_prev), (hit.visitor, hit.visitor_prev));
        assert_eq!(changed.path, "/checkout/:step");
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let hit = full_hit();
        type Change = Box<dyn Fn(&mut wit::EventResult)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|e| e.ts += 1), "`ts` is read-only"),
            (Box::new(|e| e.domain = "other.example".into()), "`domain` is read-only"),
            (Box::new(|e| e.channel = "Organic Social".into()), "unknown channel"),
            (Box::new(|e| e.device = "phone".into()), "unknown device"),
            (Box::new(|e| e.path = format!("/{}", "x".repeat(3000))), "`path` is 3001 bytes long"),
            (Box::new(|e| e.path = "no-slash".into()), "`path` is invalid"),
            (Box::new(|e| e.kind = wit::EventKind::Pageview), "`name` is invalid"),
            (Box::new(|e| e.props.push(("plan".into(), "x".into()))), "keys must be unique"),
            (
                Box::new(|e| e.props = (0..31).map(|i| (format!("k{i}"), String::new())).collect()),
                "`props` has 31",
            ),
            (Box::new(|e| e.country = Some("Germany".into())), "`country` is invalid"),
        ];
        for (change, reason) in cases {
            let mut event = echoed(&hit);
            change(&mut event);
            let error = from_event(event, &hit).unwrap_err();
            assert!(error.contains(reason), "{error} should mention {reason}");
        }
    }

    #[test]
    fn error_excerpts_are_bounded() {
        let hit = full_hit();
        let mut event = echoed(&hit);
        event.channel = "é".repeat(10_000);
        let error = from_event(event, &hit).unwrap_err();
        assert!(error.len() < 200, "{error}");
    }
}
