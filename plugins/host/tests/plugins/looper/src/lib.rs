//! Never returns: loops forever in `enrich`, or in `configure` with `{"in": "configure"}`.

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};

struct Looper;

fn forever() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

impl Plugin for Looper {
    fn configure(settings: &str) -> Result<Self, String> {
        if settings.contains("\"configure\"") {
            forever();
        }
        Ok(Self)
    }

    fn enrich(&mut self, _event: &mut Event) -> Verdict {
        forever()
    }
}

export_plugin!(Looper);
