//! Shared helpers: hits, and plugins loaded without the reloader.

use hitkeep_plugins::{PluginConfig, Plugins, PluginsConfig};
use hitkeep_protocol::Hit;

/// A valid pageview of `path` on `example.com`, with distinct visitor hashes.
pub fn hit(path: &str) -> Hit {
    Hit {
        visitor: 0x1111_2222_3333_4444,
        visitor_prev: 0x5555_6666_7777_8888,
        country: Some("DE".into()),
        browser: Some("Firefox".into()),
        browser_version: Some("131".into()),
        os: Some("Linux".into()),
        ..Hit::pageview(1_767_225_600_000, "example.com", path)
    }
}

/// `count` pageviews, `/p/0`, `/p/1`, ...
pub fn hits(count: usize) -> Vec<Hit> {
    (0..count).map(|index| hit(&format!("/p/{index}"))).collect()
}

/// Loads `entries`, with hot reload off and a call deadline of 5 s unless an entry sets its
/// own: tests run unoptimized builds on a busy machine, where lowering 1,000 events into a
/// guest alone can approach the 100 ms default. Deadline tests set theirs.
pub fn load(entries: Vec<PluginConfig>) -> Plugins {
    Plugins::load(PluginsConfig {
        reload_interval_ms: 0,
        timeout_ms: 5_000,
        ..PluginsConfig::from_plugins(entries)
    })
    .expect("plugins load")
}

/// The value of property `key`.
pub fn prop<'h>(hit: &'h Hit, key: &str) -> Option<&'h str> {
    hit.props.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
