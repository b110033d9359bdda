//! The example plugins, compiled to components, on real events.

use hitkeep_plugins::{PluginConfig, fixtures};
use hitkeep_protocol::{Channel, EventKind, Hit};
use serde_json::json;

use crate::support::{hit, load, prop};

#[test]
fn url_normalizer_collapses_ids_and_routes() {
    let plugins = load(vec![
        PluginConfig::new("url-normalizer", fixtures::URL_NORMALIZER)
            .settings(json!({"routes": ["/blog/:slug"], "strip_trailing_slash": true})),
    ]);
    let mut hits = vec![
        hit("/users/4711/orders/550e8400-e29b-41d4-a716-446655440000"),
        hit("/blog/how-we-count-visitors/"),
        hit("/pricing"),
        hit("/c/9f86d081884c7d659a2feaa0c55ad015"),
    ];
    let original = hits.clone();
    let report = plugins.apply(&mut hits);
    let paths: Vec<&str> = hits.iter().map(|hit| hit.path.as_str()).collect();
    assert_eq!(paths, ["/users/:id/orders/:uuid", "/blog/:slug", "/pricing", "/c/:hash"]);
    assert_eq!((report.changed, report.dropped, report.passed), (3, 0, 0));
    assert!(report.failed.is_empty());
    // Everything but the path is as it was, visitor hashes included.
    for (before, after) in original.iter().zip(&hits) {
        assert_eq!(Hit { path: before.path.clone(), ..after.clone() }, *before);
    }
}

#[test]
fn campaign_mapper_sets_channel_source_and_campaign() {
    let plugins = load(vec![PluginConfig::new("campaign-mapper", fixtures::CAMPAIGN_MAPPER).settings(json!({
        "rules": [
            {"when": {"utm_source": "newsletter*"}, "set": {"channel": "email", "utm_campaign": "newsletter"}},
            {"when": {"referrer": "*.partner.example/*"}, "set": {"channel": "affiliates", "source": "Partner"}}
        ]
    }))]);
    let mut newsletter = hit("/");
    newsletter.utm.source = Some("Newsletter-May".into());
    let mut partner = hit("/");
    partner.referrer = Some("blog.partner.example/review".into());
    partner.channel = Channel::Referral;
    let unrelated = hit("/about");
    let mut hits = vec![newsletter, partner, unrelated.clone()];
    let report = plugins.apply(&mut hits);
    assert_eq!(report.changed, 2);
    assert_eq!(hits[0].channel, Channel::Email);
    assert_eq!(hits[0].utm.campaign.as_deref(), Some("newsletter"));
    assert_eq!(hits[1].channel, Channel::Affiliates);
    assert_eq!(hits[1].source.as_deref(), Some("Partner"));
    assert_eq!(hits[2], unrelated);
}

#[test]
fn prop_scrubber_removes_personal_data() {
    let plugins = load(vec![
        PluginConfig::new("prop-scrubber", fixtures::PROP_SCRUBBER).settings(json!({"drop_keys": ["name"]})),
    ]);
    let mut signup = hit("/signup");
    signup.kind = EventKind::Custom;
    signup.name = "Signup".into();
    signup.props = vec![
        ("email".into(), "jane.doe@example.org".into()),
        ("note".into(), "call me at +49 30 1234567".into()),
        ("name".into(), "Jane Doe".into()),
        ("plan".into(), "pro".into()),
    ];
    let mut hits = vec![signup];
    let report = plugins.apply(&mut hits);
    assert_eq!(report.changed, 1);
    assert_eq!(
        hits[0].props,
        vec![
            ("email".to_string(), "[email]".to_string()),
            ("note".to_string(), "call me at [phone]".to_string()),
            ("plan".to_string(), "pro".to_string()),
        ]
    );
}

#[test]
fn the_three_examples_chain_in_order() {
    let plugins = load(vec![
        PluginConfig::new("url-normalizer", fixtures::URL_NORMALIZER),
        PluginConfig::new("campaign-mapper", fixtures::CAMPAIGN_MAPPER).settings(
            json!({"rules": [{"when": {"path": "/users/:id"}, "set": {"utm_campaign": "profiles"}}]}),
        ),
        PluginConfig::new("prop-scrubber", fixtures::PROP_SCRUBBER),
    ]);
    let mut profile = hit("/users/42");
    profile.props = vec![("by".into(), "jane@example.org".into())];
    let mut hits = vec![profile];
    plugins.apply(&mut hits);
    // The mapper saw the normalizer's path, the scrubber the mapper's output.
    assert_eq!(hits[0].path, "/users/:id");
    assert_eq!(hits[0].utm.campaign.as_deref(), Some("profiles"));
    assert_eq!(prop(&hits[0], "by"), Some("[email]"));
}
