//! Appends `value` to the property `key` of every event (creating it), so a test can tell
//! which plugins ran on an event, in which order ("ab"), and whether one ran twice ("aa").
//! Events whose path equals `drop_path` are dropped. Settings: `{"key": "tag", "value": "a",
//! "drop_path": "/drop-me"}` (all optional).

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin, log};

struct Tagger {
    key: String,
    value: String,
    drop_path: Option<String>,
}

impl Plugin for Tagger {
    fn configure(settings: &str) -> Result<Self, String> {
        let settings: serde_json::Value = serde_json::from_str(settings).map_err(|e| e.to_string())?;
        let text = |name: &str| settings.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let tagger = Self {
            key: text("key").unwrap_or_else(|| "tag".into()),
            value: text("value").unwrap_or_else(|| "t".into()),
            drop_path: text("drop_path"),
        };
        if tagger.key.is_empty() {
            return Err("`key` must not be empty".into());
        }
        log::info(&format!("tagger configured with key {}", tagger.key));
        Ok(tagger)
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        if self.drop_path.as_deref() == Some(event.path.as_str()) {
            return Verdict::Drop;
        }
        let value = format!("{}{}", event.prop(&self.key).unwrap_or(""), self.value);
        event.set_prop(self.key.clone(), value);
        Verdict::Changed
    }
}

export_plugin!(Tagger);
