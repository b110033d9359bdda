//! Slow but well-behaved: burns `{"iterations": N}` rounds of arithmetic on every event,
//! then sets the property `slow` on it.

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};

struct Slow {
    iterations: u64,
}

impl Plugin for Slow {
    fn configure(settings: &str) -> Result<Self, String> {
        let settings: serde_json::Value = serde_json::from_str(settings).map_err(|e| e.to_string())?;
        let iterations =
            settings.get("iterations").and_then(|v| v.as_u64()).ok_or("`iterations` is required")?;
        Ok(Self { iterations })
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..self.iterations {
            state = std::hint::black_box(state.rotate_left(7) ^ round).wrapping_mul(0x2545_F491_4F6C_DD1D);
        }
        event.set_prop("slow", format!("{:x}", state & 0xff));
        Verdict::Changed
    }
}

export_plugin!(Slow);
