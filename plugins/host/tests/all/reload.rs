//! Hot reload: a changed file replaces its plugin atomically, a broken one keeps the old
//! version, and a reload under load loses and doubles nothing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hitkeep_plugins::{PluginConfig, Plugins, PluginsConfig, fixtures};

use crate::support::{hit, hits, prop};

/// Puts `source` at `dir/name` the safe way: written under a hidden name, renamed into place.
fn install(dir: &Path, name: &str, source: &[u8]) {
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, source).unwrap();
    std::fs::rename(&temporary, dir.join(name)).unwrap();
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn reload_replaces_changed_plugins_and_keeps_old_ones_when_new_files_fail() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "p.wasm", &read(fixtures::TAGGER));
    let config = PluginsConfig {
        reload_interval_ms: 0,
        timeout_ms: 5_000,
        plugins: vec![PluginConfig::new("pinned", dir.path().join("pinned.wasm"))],
        ..PluginsConfig::from_dir(dir.path())
    };
    install(dir.path(), "pinned.wasm", &read(fixtures::NOOP));
    let plugins = Plugins::load(config).unwrap();
    assert_eq!(plugins.names(), ["pinned", "p"]);
    assert!(plugins.reload().is_empty());

    // The same bytes again (a new inode and time): read, found identical, kept.
    install(dir.path(), "p.wasm", &read(fixtures::TAGGER));
    assert!(plugins.reload().is_empty());

    // A new version takes effect.
    install(dir.path(), "p.wasm", &read(fixtures::PANICKER));
    assert_eq!(plugins.reload().loaded, ["p"]);
    let mut batch = hits(2);
    plugins.apply(&mut batch);
    assert!(batch.iter().all(|hit| prop(hit, "survived") == Some("yes") && prop(hit, "tag").is_none()));

    // A file that is not a component, then one whose configure refuses: the panicker stays.
    for broken in [b"truncated".to_vec(), read(fixtures::GARBAGE)] {
        install(dir.path(), "p.wasm", &broken);
        let report = plugins.reload();
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert_eq!(report.failed[0].0, "p");
        assert!(report.loaded.is_empty() && report.removed.is_empty());
        let mut batch = hits(2);
        plugins.apply(&mut batch);
        assert!(batch.iter().all(|hit| prop(hit, "survived") == Some("yes")));
        // A broken file is not retried until it changes.
        assert!(plugins.reload().is_empty());
    }

    // New files join, removed ones leave; a configured plugin whose file is gone stays.
    install(dir.path(), "q.wasm", &read(fixtures::TAGGER));
    assert_eq!(plugins.reload().loaded, ["q"]);
    assert_eq!(plugins.names(), ["pinned", "p", "q"]);
    std::fs::remove_file(dir.path().join("q.wasm")).unwrap();
    std::fs::remove_file(dir.path().join("pinned.wasm")).unwrap();
    assert_eq!(plugins.reload().removed, ["q"]);
    assert_eq!(plugins.names(), ["pinned", "p"]);
}

/// What the worker saw in one batch.
struct Seen {
    paths_in_order: bool,
    count: usize,
    tags: Vec<Option<String>>,
}

#[test]
fn a_reload_under_load_loses_nothing_and_takes_effect() {
    const BATCH: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "p.wasm", &read(fixtures::NOOP));
    let config =
        PluginsConfig { reload_interval_ms: 10, timeout_ms: 5_000, ..PluginsConfig::from_dir(dir.path()) };
    let plugins = Arc::new(Plugins::load(config).unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let tagged_batches = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (plugins, stop, tagged_batches) = (plugins.clone(), stop.clone(), tagged_batches.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut number = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut batch: Vec<_> = (0..BATCH).map(|i| hit(&format!("/b{number}/{i}"))).collect();
                let report = plugins.apply(&mut batch);
                assert!(report.failed.is_empty() && report.passed == 0 && report.dropped == 0, "{report:?}");
                let tags: Vec<Option<String>> =
                    batch.iter().map(|hit| prop(hit, "tag").map(str::to_string)).collect();
                if tags.iter().any(Option::is_some) {
                    tagged_batches.fetch_add(1, Ordering::Relaxed);
                }
                let paths_in_order =
                    batch.iter().enumerate().all(|(i, hit)| hit.path == format!("/b{number}/{i}"));
                seen.push(Seen { paths_in_order, count: batch.len(), tags });
                number += 1;
            }
            seen
        })
    };

    std::thread::sleep(Duration::from_millis(100));
    install(dir.path(), "p.wasm", &read(fixtures::TAGGER));
    let waiting = Instant::now();
    while tagged_batches.load(Ordering::Relaxed) == 0 {
        assert!(waiting.elapsed() < Duration::from_secs(120), "the new version never took effect");
        std::thread::sleep(Duration::from_millis(5));
    }
    // A broken new version: the running one stays. Reloading here as well makes sure the
    // broken file has been looked at before the worker's last batches.
    install(dir.path(), "p.wasm", b"\0asm broken");
    let tagged_before_break = tagged_batches.load(Ordering::Relaxed);
    plugins.reload();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let seen = worker.join().expect("worker");

    assert!(
        tagged_batches.load(Ordering::Relaxed) > tagged_before_break,
        "batches ran after the broken file"
    );
    assert_eq!(plugins.names(), ["p"]);
    let mut tagged_from = None;
    for (number, batch) in seen.iter().enumerate() {
        assert_eq!(batch.count, BATCH, "batch {number} lost or gained events");
        assert!(batch.paths_in_order, "batch {number} is out of order");
        // Each event went through the plugin once: untagged (the old version) or tagged
        // once (the new one), never twice, and each batch saw one version only.
        let tagged = batch.tags.iter().filter(|tag| tag.as_deref() == Some("t")).count();
        let untagged = batch.tags.iter().filter(|tag| tag.is_none()).count();
        assert!(tagged == BATCH || untagged == BATCH, "batch {number} mixes versions: {:?}", batch.tags);
        match (tagged_from, tagged == BATCH) {
            (None, true) => tagged_from = Some(number),
            (Some(from), false) => {
                panic!("batch {number} ran the old version after batch {from} ran the new one")
            }
            _ => {}
        }
    }
    let from = tagged_from.expect("some batches ran the new version");
    assert!(from > 0, "some batches ran the old version");
    assert!(seen.len() > from + 1);
}
