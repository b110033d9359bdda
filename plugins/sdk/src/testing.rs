//! Sample events for a plugin's unit tests.

use crate::{Event, EventKind, Utm};

/// A pageview of `path` on `example.com`: a desktop Firefox visitor from Germany who came
/// directly, with no properties.
pub fn pageview(path: &str) -> Event {
    Event {
        ts: 1_767_225_600_000,
        domain: "example.com".into(),
        kind: EventKind::Pageview,
        name: "pageview".into(),
        hostname: "example.com".into(),
        path: path.into(),
        referrer: None,
        source: None,
        channel: "direct".into(),
        utm: Utm { source: None, medium: None, campaign: None, content: None, term: None },
        country: Some("DE".into()),
        region: None,
        city: None,
        browser: Some("Firefox".into()),
        browser_version: Some("131".into()),
        os: Some("Linux".into()),
        os_version: None,
        device: "desktop".into(),
        props: Vec::new(),
        revenue: None,
        interactive: true,
    }
}

/// A custom event named `name` on `/`, with the given properties.
pub fn custom(name: &str, props: &[(&str, &str)]) -> Event {
    Event {
        kind: EventKind::Custom,
        name: name.into(),
        props: props.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
        ..pageview("/")
    }
}
