//! Panics (a trap) on any batch holding an event whose path contains `boom`; otherwise sets
//! the property `survived` on every event, so a test sees that a fresh instance works after
//! a trap.

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};

struct Panicker;

impl Plugin for Panicker {
    fn configure(_settings: &str) -> Result<Self, String> {
        Ok(Self)
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        if event.path.contains("boom") {
            panic!("boom on purpose");
        }
        event.set_prop("survived", "yes");
        Verdict::Changed
    }
}

export_plugin!(Panicker);
