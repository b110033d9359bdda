//! Allocates memory without end: every event adds 1 MiB, touched so it is really used, to a
//! hoard that is never freed.

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};

struct Hog {
    hoard: Vec<Vec<u8>>,
}

impl Plugin for Hog {
    fn configure(_settings: &str) -> Result<Self, String> {
        Ok(Self { hoard: Vec::new() })
    }

    fn enrich(&mut self, _event: &mut Event) -> Verdict {
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            for page in chunk.chunks_mut(4096) {
                page[0] = 1;
            }
            self.hoard.push(std::hint::black_box(chunk));
        }
    }
}

export_plugin!(Hog);
