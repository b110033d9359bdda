//! The trivial plugin: every event unchanged. The overhead benchmark measures the host's
//! cost with it.

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};

struct Noop;

impl Plugin for Noop {
    fn configure(_settings: &str) -> Result<Self, String> {
        Ok(Self)
    }

    fn enrich(&mut self, _event: &mut Event) -> Verdict {
        Verdict::Unchanged
    }
}

export_plugin!(Noop);
