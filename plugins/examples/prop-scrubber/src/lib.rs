//! Property scrubber: keeps personal data out of custom properties. E-mail addresses and
//! phone numbers (and any patterns you add) in property values and keys are masked, or the
//! property is removed; properties with given keys are removed outright. Optionally it
//! scrubs the page path and referrer too.
//!
//! Settings (all optional):
//!
//! ```json
//! {
//!   "emails": "mask",
//!   "phones": "mask",
//!   "patterns": [{"regex": "\\b(?:\\d[ -]?){13,19}\\b", "action": "mask", "mask": "[card]"}],
//!   "drop_keys": ["email", "phone", "name"],
//!   "email_mask": "[email]",
//!   "phone_mask": "[phone]",
//!   "urls": false
//! }
//! ```
//!
//! An action is `mask` (replace each match by the mask), `remove` (remove the whole
//! property when a key or value holds a match) or `keep` (do nothing). `drop_keys` are
//! compared without regard to case. With `urls`, matches in the path and the referrer are
//! masked (those cannot be removed). A key that becomes equal to an earlier key when masked
//! is removed, since keys must stay unique.
//!
//! E-mail addresses are `local@domain.tld` (also with `%40` for `@`). Phone numbers are runs
//! of 7 to 15 digits that look like one: with a leading `+` or `00`, with a `(` area code,
//! in three or more groups that are not a date, in two groups of 9 or more digits, or as one
//! run of 10 to 12 digits starting with `0`. Order numbers and timestamps without such
//! shapes are left alone; add a pattern for formats of your own.

use hitkeep_plugin_sdk::limits::{MAX_PATH_LEN, MAX_PROP_KEY_LEN, MAX_PROP_VALUE_LEN, MAX_REFERRER_LEN};
use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum Action {
    #[default]
    Mask,
    Remove,
    Keep,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    emails: Action,
    phones: Action,
    patterns: Vec<PatternSetting>,
    drop_keys: Vec<String>,
    email_mask: String,
    phone_mask: String,
    urls: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            emails: Action::Mask,
            phones: Action::Mask,
            patterns: Vec::new(),
            drop_keys: Vec::new(),
            email_mask: "[email]".into(),
            phone_mask: "[phone]".into(),
            urls: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSetting {
    regex: String,
    #[serde(default)]
    action: Action,
    #[serde(default = "default_mask")]
    mask: String,
}

fn default_mask() -> String {
    "[redacted]".into()
}

/// What finds one kind of personal data.
#[derive(Debug)]
struct Detector {
    regex: Regex,
    /// Decides whether a match of `regex` really is one (phone numbers need a closer look).
    accept: fn(&str) -> bool,
    action: Action,
    mask: String,
}

fn always(_: &str) -> bool {
    true
}

/// The outcome of scrubbing one string.
enum Scrubbed {
    Clean,
    Masked(String),
    Remove,
}

impl Detector {
    fn scrub(&self, text: &str, removable: bool) -> Scrubbed {
        let mut found = false;
        let mut out = String::new();
        let mut last = 0;
        for hit in self.regex.find_iter(text) {
            if !(self.accept)(hit.as_str()) {
                continue;
            }
            found = true;
            if self.action == Action::Remove && removable {
                return Scrubbed::Remove;
            }
            out.push_str(&text[last..hit.start()]);
            out.push_str(&self.mask);
            last = hit.end();
        }
        if !found {
            return Scrubbed::Clean;
        }
        out.push_str(&text[last..]);
        Scrubbed::Masked(out)
    }
}

/// The property scrubber.
#[derive(Debug)]
pub struct PropScrubber {
    detectors: Vec<Detector>,
    drop_keys: Vec<String>,
    urls: bool,
}

impl PropScrubber {
    /// `text` with every detector applied; `None` when a `remove` detector matched.
    fn scrub(&self, text: &str, removable: bool) -> Option<Option<String>> {
        let mut current: Option<String> = None;
        for detector in &self.detectors {
            match detector.scrub(current.as_deref().unwrap_or(text), removable) {
                Scrubbed::Clean => {}
                Scrubbed::Masked(masked) => current = Some(masked),
                Scrubbed::Remove => return None,
            }
        }
        Some(current)
    }
}

/// True for what [`PHONE`] finds that has the shape of a phone number (see the crate docs).
fn is_phone(candidate: &str) -> bool {
    let digits = candidate.bytes().filter(u8::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    let groups: Vec<&str> =
        candidate.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    if candidate.starts_with('+') || candidate.starts_with("00") {
        return digits >= 8;
    }
    if candidate.contains('(') {
        return true;
    }
    match groups.len() {
        1 => candidate.starts_with('0') && (10..=12).contains(&digits),
        2 => digits >= 9 && !candidate.contains('.'),
        _ => !is_date(&groups),
    }
}

/// `2026-05-01`, `01.05.2026`, `5/1/26`: three groups of date lengths.
fn is_date(groups: &[&str]) -> bool {
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    matches!(lens.as_slice(), [4, 1..=2, 1..=2] | [1..=2, 1..=2, 2] | [1..=2, 1..=2, 4])
}

const EMAIL: &str = r"(?i)[a-z0-9._%+\-]+(?:@|%40)[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}";
const PHONE: &str = r"(?:\+|\(|\b)[\d(][\d \-./()]{5,24}\d\b";

impl Plugin for PropScrubber {
    fn configure(settings: &str) -> Result<Self, String> {
        let settings: Settings =
            serde_json::from_str(settings).map_err(|error| format!("settings: {error}"))?;
        let mut detectors = Vec::new();
        let mut add =
            |regex: &str, accept: fn(&str) -> bool, action: Action, mask: String| -> Result<(), String> {
                if action == Action::Keep {
                    return Ok(());
                }
                if mask.is_empty() || mask.len() > 64 {
                    return Err(format!("the mask `{mask}` must be 1 to 64 bytes long"));
                }
                let regex = Regex::new(regex).map_err(|error| format!("pattern `{regex}`: {error}"))?;
                detectors.push(Detector { regex, accept, action, mask });
                Ok(())
            };
        add(EMAIL, always, settings.emails, settings.email_mask)?;
        add(PHONE, is_phone, settings.phones, settings.phone_mask)?;
        for pattern in settings.patterns {
            add(&pattern.regex, always, pattern.action, pattern.mask)?;
        }
        let drop_keys = settings.drop_keys.iter().map(|key| key.to_lowercase()).collect();
        Ok(Self { detectors, drop_keys, urls: settings.urls })
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        let mut changed = false;
        let mut props: Vec<(String, String)> = Vec::with_capacity(event.props.len());
        for (key, value) in std::mem::take(&mut event.props) {
            if self.drop_keys.iter().any(|dropped| dropped.eq_ignore_ascii_case(&key)) {
                changed = true;
                continue;
            }
            let (Some(new_key), Some(new_value)) = (self.scrub(&key, true), self.scrub(&value, true)) else {
                changed = true;
                continue;
            };
            let key = match new_key {
                Some(masked) if masked.len() <= MAX_PROP_KEY_LEN => {
                    changed = true;
                    masked
                }
                Some(_) => {
                    changed = true;
                    continue;
                }
                None => key,
            };
            let value = match new_value {
                Some(masked) => {
                    changed = true;
                    if masked.len() <= MAX_PROP_VALUE_LEN { masked } else { String::new() }
                }
                None => value,
            };
            if props.iter().any(|(earlier, _)| *earlier == key) {
                changed = true;
                continue;
            }
            props.push((key, value));
        }
        event.props = props;
        if self.urls {
            if let Some(Some(path)) = self.scrub(&event.path, false)
                && path.len() <= MAX_PATH_LEN
            {
                event.path = path;
                changed = true;
            }
            if let Some(referrer) = &event.referrer
                && let Some(Some(masked)) = self.scrub(referrer, false)
                && masked.len() <= MAX_REFERRER_LEN
            {
                event.referrer = Some(masked);
                changed = true;
            }
        }
        if changed { Verdict::Changed } else { Verdict::Unchanged }
    }
}

export_plugin!(PropScrubber);

#[cfg(test)]
mod tests {
    use super::*;
    use hitkeep_plugin_sdk::testing;

    fn scrubber(settings: &str) -> PropScrubber {
        PropScrubber::configure(settings).unwrap()
    }

    fn scrub(settings: &str, props: &[(&str, &str)]) -> (Verdict, Vec<(String, String)>) {
        let mut event = testing::custom("Signup", props);
        let verdict = scrubber(settings).enrich(&mut event);
        (verdict, event.props)
    }

    fn pairs(props: &[(&str, &str)]) -> Vec<(String, String)> {
        props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn masks_emails_and_phones_in_values() {
        let (verdict, props) = scrub(
            "{}",
            &[
                ("contact", "write to jane.doe+news@example.co.uk today"),
                ("encoded", "jane%40example.org"),
                ("note", "call +49 30 1234567 or (030) 123-4567"),
                ("plan", "pro"),
            ],
        );
        assert_eq!(verdict, Verdict::Changed);
        assert_eq!(
            props,
            pairs(&[
                ("contact", "write to [email] today"),
                ("encoded", "[email]"),
                ("note", "call [phone] or [phone]"),
                ("plan", "pro"),
            ])
        );
    }

    #[test]
    fn recognizes_phone_shapes_and_leaves_other_numbers() {
        for phone in [
            "+1 415 555 2671",
            "0049 30 1234567",
            "030 12345678",
            "0171-1234567",
            "01711234567",
            "555-123-4567",
            "(555) 1234567",
        ] {
            let (_, props) = scrub("{}", &[("p", phone)]);
            assert_eq!(props, pairs(&[("p", "[phone]")]), "{phone}");
        }
        for other in [
            "2026-05-01",
            "01.05.2026",
            "order 12345678",
            "1714567890123",
            "v1.2.3",
            "3.14159265",
            "42",
            "12/31/2026",
        ] {
            let (verdict, props) = scrub("{}", &[("p", other)]);
            assert_eq!((verdict, props), (Verdict::Unchanged, pairs(&[("p", other)])), "{other}");
        }
    }

    #[test]
    fn keys_are_scrubbed_and_stay_unique() {
        let (_, props) = scrub("{}", &[("jane@example.org", "1"), ("bob@example.org", "2"), ("plan", "x")]);
        assert_eq!(props, pairs(&[("[email]", "1"), ("plan", "x")]));
    }

    #[test]
    fn remove_drops_the_whole_property() {
        let (verdict, props) = scrub(
            r#"{"emails": "remove"}"#,
            &[("contact", "jane@example.org"), ("plan", "pro"), ("x@y.io", "1")],
        );
        assert_eq!(verdict, Verdict::Changed);
        assert_eq!(props, pairs(&[("plan", "pro")]));
    }

    #[test]
    fn drop_keys_ignore_case_and_keep_turns_a_detector_off() {
        let (_, props) = scrub(
            r#"{"drop_keys": ["Email", "name"], "phones": "keep"}"#,
            &[("EMAIL", "a"), ("Name", "Jane"), ("tel", "+49 30 1234567")],
        );
        assert_eq!(props, pairs(&[("tel", "+49 30 1234567")]));
    }

    #[test]
    fn custom_patterns_with_their_masks() {
        let (_, props) = scrub(
            r#"{"patterns": [{"regex": "\\b(?:\\d[ -]?){13,19}\\b", "mask": "[card]"}], "phones": "keep"}"#,
            &[("card", "4111 1111 1111 1111"), ("ok", "A-1001")],
        );
        assert_eq!(props, pairs(&[("card", "[card]"), ("ok", "A-1001")]));
    }

    #[test]
    fn urls_only_when_asked() {
        let mut event = testing::pageview("/unsubscribe/jane@example.org");
        event.referrer = Some("mail.example.com/read/jane@example.org".into());
        assert_eq!(scrubber("{}").enrich(&mut event), Verdict::Unchanged);
        assert_eq!(scrubber(r#"{"urls": true, "emails": "remove"}"#).enrich(&mut event), Verdict::Changed);
        assert_eq!(event.path, "/unsubscribe/[email]");
        assert_eq!(event.referrer.as_deref(), Some("mail.example.com/read/[email]"));
    }

    #[test]
    fn clean_events_are_unchanged() {
        let (verdict, props) = scrub("{}", &[("plan", "pro"), ("seats", "3")]);
        assert_eq!((verdict, props), (Verdict::Unchanged, pairs(&[("plan", "pro"), ("seats", "3")])));
    }

    #[test]
    fn bad_settings_are_refused() {
        for settings in [
            r#"{"emails": "hide"}"#,
            r#"{"patterns": [{"regex": "("}]}"#,
            r#"{"email_mask": ""}"#,
            r#"{"unknown": 1}"#,
        ] {
            assert!(PropScrubber::configure(settings).is_err(), "{settings}");
        }
    }
}
