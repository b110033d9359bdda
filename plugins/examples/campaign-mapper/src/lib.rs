//! Campaign mapper: rules from the settings that set an event's channel, source and UTM
//! values from what it came with (source, referrer, UTM tags, page), for the campaigns the
//! edge's built-in classification cannot know: your newsletter's own `utm_source`, a partner
//! site that should count as an affiliate, inconsistent tagging by different teams.
//!
//! Settings:
//!
//! ```json
//! {
//!   "rules": [
//!     {"when": {"utm_source": "newsletter*"}, "set": {"channel": "email", "utm_campaign": "newsletter"}},
//!     {"when": {"referrer": "*.partner.example/*"}, "set": {"channel": "affiliates", "source": "Partner"}},
//!     {"when": {"utm_medium": ["cpc", "ppc"], "utm_source": "bing"}, "set": {"channel": "paid_search", "source": "Bing"}},
//!     {"when": {"path": {"regex": "^/lp/"}, "referrer": null}, "set": {"channel": "paid_other"}, "continue": true}
//!   ],
//!   "lowercase_utm": false
//! }
//! ```
//!
//! A rule matches when every condition in `when` holds (an empty `when` always matches).
//! Conditions are on `source`, `referrer`, `hostname`, `path`, `channel`, `utm_source`,
//! `utm_medium`, `utm_campaign`, `utm_content` and `utm_term`; a condition is a pattern
//! (case-insensitive, `*` matches any run of characters), a list of patterns (any of them),
//! `{"regex": "..."}`, or `null` (the field is absent). `set` gives new values for
//! `channel` (one of the contract's names), `source` and the UTM fields. The first matching
//! rule applies and ends the search, unless it says `"continue": true`. With
//! `lowercase_utm`, UTM values are lower-cased and trimmed before the rules run.

use std::collections::BTreeMap;

use hitkeep_plugin_sdk::limits::MAX_SHORT_FIELD_LEN;
use hitkeep_plugin_sdk::{Channel, Event, Plugin, Verdict, export_plugin};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    rules: Vec<RuleSetting>,
    #[serde(default)]
    lowercase_utm: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSetting {
    #[serde(default)]
    when: BTreeMap<String, Condition>,
    set: BTreeMap<String, String>,
    #[serde(default, rename = "continue")]
    keep_going: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Condition {
    Absent(()),
    Pattern(String),
    AnyOf(Vec<String>),
    Regex { regex: String },
}

/// The fields rules read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Source,
    Referrer,
    Hostname,
    Path,
    Channel,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
}

impl Field {
    fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "source" => Self::Source,
            "referrer" => Self::Referrer,
            "hostname" => Self::Hostname,
            "path" => Self::Path,
            "channel" => Self::Channel,
            "utm_source" => Self::UtmSource,
            "utm_medium" => Self::UtmMedium,
            "utm_campaign" => Self::UtmCampaign,
            "utm_content" => Self::UtmContent,
            "utm_term" => Self::UtmTerm,
            other => return Err(format!("unknown field `{other}`")),
        })
    }

    fn get(self, event: &Event) -> Option<&str> {
        match self {
            Self::Source => event.source.as_deref(),
            Self::Referrer => event.referrer.as_deref(),
            Self::Hostname => Some(&event.hostname),
            Self::Path => Some(&event.path),
            Self::Channel => Some(&event.channel),
            Self::UtmSource => event.utm.source.as_deref(),
            Self::UtmMedium => event.utm.medium.as_deref(),
            Self::UtmCampaign => event.utm.campaign.as_deref(),
            Self::UtmContent => event.utm.content.as_deref(),
            Self::UtmTerm => event.utm.term.as_deref(),
        }
    }

    /// The slot `set` writes (`None` for the fields that cannot be set this way).
    fn slot(self, event: &mut Event) -> Option<&mut Option<String>> {
        match self {
            Self::Source => Some(&mut event.source),
            Self::UtmSource => Some(&mut event.utm.source),
            Self::UtmMedium => Some(&mut event.utm.medium),
            Self::UtmCampaign => Some(&mut event.utm.campaign),
            Self::UtmContent => Some(&mut event.utm.content),
            Self::UtmTerm => Some(&mut event.utm.term),
            Self::Referrer | Self::Hostname | Self::Path | Self::Channel => None,
        }
    }
}

#[derive(Debug)]
enum Matcher {
    Absent,
    Any(Vec<Regex>),
}

impl Matcher {
    fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Self::Absent, value) => value.is_none(),
            (Self::Any(_), None) => false,
            (Self::Any(patterns), Some(value)) => patterns.iter().any(|pattern| pattern.is_match(value)),
        }
    }
}

/// `*` matches any run of characters; everything else literally, ignoring case.
fn glob(pattern: &str) -> Result<Regex, String> {
    let body: Vec<String> = pattern.split('*').map(regex::escape).collect();
    Regex::new(&format!("(?i)^{}$", body.join(".*"))).map_err(|error| format!("pattern `{pattern}`: {error}"))
}

#[derive(Debug)]
enum Action {
    Channel(Channel),
    Set(Field, String),
}

#[derive(Debug)]
struct Rule {
    conditions: Vec<(Field, Matcher)>,
    actions: Vec<Action>,
    keep_going: bool,
}

/// The campaign mapper.
#[derive(Debug)]
pub struct CampaignMapper {
    rules: Vec<Rule>,
    lowercase_utm: bool,
}

impl Plugin for CampaignMapper {
    fn configure(settings: &str) -> Result<Self, String> {
        let settings: Settings =
            serde_json::from_str(settings).map_err(|error| format!("settings: {error}"))?;
        let mut rules = Vec::with_capacity(settings.rules.len());
        for (index, rule) in settings.rules.into_iter().enumerate() {
            let context = |error: String| format!("rule #{index}: {error}");
            let mut conditions = Vec::new();
            for (name, condition) in rule.when {
                let field = Field::parse(&name).map_err(context)?;
                let matcher = match condition {
                    Condition::Absent(()) => Matcher::Absent,
                    Condition::Pattern(pattern) => Matcher::Any(vec![glob(&pattern).map_err(context)?]),
                    Condition::AnyOf(patterns) => Matcher::Any(
                        patterns
                            .iter()
                            .map(|pattern| glob(pattern))
                            .collect::<Result<_, _>>()
                            .map_err(context)?,
                    ),
                    Condition::Regex { regex } => {
                        Matcher::Any(vec![Regex::new(&regex).map_err(|error| context(error.to_string()))?])
                    }
                };
                conditions.push((field, matcher));
            }
            if rule.set.is_empty() {
                return Err(context("`set` is empty".into()));
            }
            let mut actions = Vec::new();
            for (name, value) in rule.set {
                if value.is_empty() || value.len() > MAX_SHORT_FIELD_LEN {
                    return Err(context(format!("`{name}` must be 1 to {MAX_SHORT_FIELD_LEN} bytes long")));
                }
                let field = Field::parse(&name).map_err(context)?;
                actions.push(match field {
                    Field::Channel => Action::Channel(
                        value
                            .parse()
                            .map_err(|error: hitkeep_plugin_sdk::UnknownName| context(error.to_string()))?,
                    ),
                    Field::Referrer | Field::Hostname | Field::Path => {
                        return Err(context(format!("`{name}` cannot be set")));
                    }
                    field => Action::Set(field, value),
                });
            }
            rules.push(Rule { conditions, actions, keep_going: rule.keep_going });
        }
        Ok(Self { rules, lowercase_utm: settings.lowercase_utm })
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        let before = (event.channel.clone(), event.source.clone(), event.utm.clone());
        if self.lowercase_utm {
            for value in [
                &mut event.utm.source,
                &mut event.utm.medium,
                &mut event.utm.campaign,
                &mut event.utm.content,
                &mut event.utm.term,
            ]
            .into_iter()
            .flatten()
            {
                let normalized = value.trim().to_lowercase();
                if normalized.len() <= MAX_SHORT_FIELD_LEN {
                    *value = normalized;
                }
            }
        }
        for rule in &self.rules {
            if !rule.conditions.iter().all(|(field, matcher)| matcher.matches(field.get(event))) {
                continue;
            }
            for action in &rule.actions {
                match action {
                    Action::Channel(channel) => event.set_channel(*channel),
                    Action::Set(field, value) => {
                        if let Some(slot) = field.slot(event) {
                            *slot = Some(value.clone());
                        }
                    }
                }
            }
            if !rule.keep_going {
                break;
            }
        }
        if (&event.channel, &event.source, &event.utm) == (&before.0, &before.1, &before.2) {
            Verdict::Unchanged
        } else {
            Verdict::Changed
        }
    }
}

export_plugin!(CampaignMapper);

#[cfg(test)]
mod tests {
    use super::*;
    use hitkeep_plugin_sdk::testing;

    const RULES: &str = r#"{
        "rules": [
            {"when": {"utm_source": "newsletter*"}, "set": {"channel": "email", "utm_campaign": "newsletter"}},
            {"when": {"referrer": "*.partner.example/*"}, "set": {"channel": "affiliates", "source": "Partner"}},
            {"when": {"utm_medium": ["cpc", "ppc"], "utm_source": "bing"}, "set": {"channel": "paid_search", "source": "Bing"}},
            {"when": {"path": {"regex": "^/lp/"}, "referrer": null}, "set": {"channel": "paid_other"}, "continue": true},
            {"when": {"channel": "paid_other"}, "set": {"utm_medium": "landing"}}
        ]
    }"#;

    fn mapper(settings: &str) -> CampaignMapper {
        CampaignMapper::configure(settings).unwrap()
    }

    #[test]
    fn maps_utm_sources_with_patterns() {
        let mut m = mapper(RULES);
        let mut event = testing::pageview("/");
        event.utm.source = Some("Newsletter-2026-05".into());
        assert_eq!(m.enrich(&mut event), Verdict::Changed);
        assert_eq!(event.channel(), Some(Channel::Email));
        assert_eq!(event.utm.campaign.as_deref(), Some("newsletter"));
    }

    #[test]
    fn maps_referrers_and_sets_the_source() {
        let mut m = mapper(RULES);
        let mut event = testing::pageview("/");
        event.referrer = Some("blog.partner.example/reviews".into());
        event.channel = "referral".into();
        assert_eq!(m.enrich(&mut event), Verdict::Changed);
        assert_eq!(event.channel(), Some(Channel::Affiliates));
        assert_eq!(event.source.as_deref(), Some("Partner"));
    }

    #[test]
    fn every_condition_must_hold() {
        let mut m = mapper(RULES);
        let mut event = testing::pageview("/");
        event.utm.medium = Some("CPC".into());
        event.utm.source = Some("google".into());
        assert_eq!(m.enrich(&mut event), Verdict::Unchanged);
        event.utm.source = Some("bing".into());
        assert_eq!(m.enrich(&mut event), Verdict::Changed);
        assert_eq!(event.channel(), Some(Channel::PaidSearch));
    }

    #[test]
    fn null_means_absent_and_continue_runs_later_rules() {
        let mut m = mapper(RULES);
        let mut event = testing::pageview("/lp/spring");
        assert_eq!(m.enrich(&mut event), Verdict::Changed);
        assert_eq!(event.channel(), Some(Channel::PaidOther));
        assert_eq!(event.utm.medium.as_deref(), Some("landing"));

        let mut referred = testing::pageview("/lp/spring");
        referred.referrer = Some("example.org/".into());
        assert_eq!(m.enrich(&mut referred), Verdict::Unchanged);
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let mut m = mapper(
            r#"{"rules": [
                {"when": {"utm_source": "*"}, "set": {"utm_campaign": "first"}},
                {"when": {"utm_source": "*"}, "set": {"utm_campaign": "second"}}
            ]}"#,
        );
        let mut event = testing::pageview("/");
        event.utm.source = Some("x".into());
        m.enrich(&mut event);
        assert_eq!(event.utm.campaign.as_deref(), Some("first"));
    }

    #[test]
    fn lowercase_utm_normalizes_before_matching() {
        let mut m = mapper(
            r#"{"lowercase_utm": true, "rules": [{"when": {"utm_medium": {"regex": "^email$"}}, "set": {"channel": "email"}}]}"#,
        );
        let mut event = testing::pageview("/");
        event.utm.medium = Some(" EMail ".into());
        event.utm.source = Some("News".into());
        assert_eq!(m.enrich(&mut event), Verdict::Changed);
        assert_eq!(event.utm.medium.as_deref(), Some("email"));
        assert_eq!(event.utm.source.as_deref(), Some("news"));
        assert_eq!(event.channel(), Some(Channel::Email));
    }

    #[test]
    fn bad_settings_are_refused() {
        for settings in [
            r#"{"rules": [{"when": {"utm_source": "x"}, "set": {"channel": "Organic Search"}}]}"#,
            r#"{"rules": [{"when": {"colour": "x"}, "set": {"channel": "email"}}]}"#,
            r#"{"rules": [{"when": {"utm_source": "x"}, "set": {"path": "/x"}}]}"#,
            r#"{"rules": [{"when": {"utm_source": "x"}, "set": {}}]}"#,
            r#"{"rules": [{"when": {"utm_source": {"regex": "("}}, "set": {"channel": "email"}}]}"#,
            r#"{"rules": [{"when": {}, "set": {"source": ""}}]}"#,
            r#"{"rules": [], "extra": 1}"#,
            r#"{}"#,
        ] {
            assert!(CampaignMapper::configure(settings).is_err(), "{settings}");
        }
    }
}
