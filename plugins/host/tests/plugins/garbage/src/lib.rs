//! Answers against the contract, written against the raw bindings (the SDK's batching would
//! not let it). Settings `{"mode": ...}`:
//!
//! * `extra`: one verdict more than there are events;
//! * `missing`: one verdict less;
//! * `long_path`: every event kept with a path of 3,000 bytes (the limit is 2,048);
//! * `bad_channel`: every event kept with the channel `bogus`;
//! * `domain`: every event moved to `other.example` (the domain is read-only);
//! * `odd_long`: events at odd positions get an over-long path, the others a valid change
//!   (the property `ok`), so a test sees that one bad event spoils only itself.

use hitkeep_plugin_sdk::bindings::hitkeep::plugin::types::{Event, Verdict};
use hitkeep_plugin_sdk::bindings::{__export_enricher, Guest};

struct Garbage;

thread_local! {
    static MODE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl Guest for Garbage {
    fn configure(settings: String) -> Result<(), String> {
        let settings: serde_json::Value = serde_json::from_str(&settings).map_err(|e| e.to_string())?;
        let mode = settings.get("mode").and_then(|m| m.as_str()).ok_or("`mode` is required")?;
        MODE.with(|m| *m.borrow_mut() = mode.to_string());
        Ok(())
    }

    fn enrich(events: Vec<Event>) -> Vec<Verdict> {
        let mode = MODE.with(|m| m.borrow().clone());
        let count = events.len();
        match mode.as_str() {
            "extra" => (0..count + 1).map(|_| Verdict::Unchanged).collect(),
            "missing" => (0..count.saturating_sub(1)).map(|_| Verdict::Unchanged).collect(),
            "long_path" => events
                .into_iter()
                .map(|mut event| {
                    event.path = format!("/{}", "x".repeat(2_999));
                    Verdict::Keep(event)
                })
                .collect(),
            "bad_channel" => events
                .into_iter()
                .map(|mut event| {
                    event.channel = "bogus".into();
                    Verdict::Keep(event)
                })
                .collect(),
            "domain" => events
                .into_iter()
                .map(|mut event| {
                    event.domain = "other.example".into();
                    Verdict::Keep(event)
                })
                .collect(),
            "odd_long" => events
                .into_iter()
                .enumerate()
                .map(|(index, mut event)| {
                    if index % 2 == 1 {
                        event.path = format!("/{}", "x".repeat(2_999));
                    } else {
                        event.props.push(("ok".into(), "yes".into()));
                    }
                    Verdict::Keep(event)
                })
                .collect(),
            other => panic!("unknown mode {other}"),
        }
    }
}

__export_enricher!(Garbage with_types_in hitkeep_plugin_sdk::bindings);
