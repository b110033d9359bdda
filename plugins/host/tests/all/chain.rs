//! The chain: order, sites, drops, the plugins directory, batches above one call, and
//! concurrent callers.

use std::sync::Arc;

use hitkeep_plugins::{MAX_EVENTS_PER_CALL, PluginConfig, Plugins, PluginsConfig, fixtures};
use serde_json::json;

use crate::support::{hit, hits, load, prop};

fn tagger(name: &str, value: &str) -> PluginConfig {
    PluginConfig::new(name, fixtures::TAGGER).settings(json!({"key": "trail", "value": value}))
}

#[test]
fn plugins_run_in_the_configured_order() {
    let plugins = load(vec![tagger("a", "a"), tagger("b", "b"), tagger("c", "c")]);
    assert_eq!(plugins.names(), ["a", "b", "c"]);
    let mut batch = hits(3);
    assert_eq!(plugins.apply(&mut batch).changed, 9);
    assert!(batch.iter().all(|hit| prop(hit, "trail") == Some("abc")));

    let plugins = load(vec![tagger("c", "c"), tagger("a", "a"), tagger("b", "b")]);
    let mut batch = hits(3);
    plugins.apply(&mut batch);
    assert!(batch.iter().all(|hit| prop(hit, "trail") == Some("cab")));
}

#[test]
fn a_plugin_runs_only_on_its_sites() {
    let plugins =
        load(vec![tagger("a", "a").sites(["example.com"]), tagger("b", "b").sites(["Other.Example"])]);
    let mut mine = hit("/");
    mine.domain = "example.com".into();
    let mut other = hit("/");
    other.domain = "other.example".into();
    let mut third = hit("/");
    third.domain = "third.example".into();
    let mut batch = vec![mine, other, third.clone()];
    let report = plugins.apply(&mut batch);
    assert_eq!(report.changed, 2);
    assert_eq!(prop(&batch[0], "trail"), Some("a"));
    assert_eq!(prop(&batch[1], "trail"), Some("b"));
    assert_eq!(batch[2], third);
}

#[test]
fn dropped_events_leave_the_batch_and_reach_no_later_plugin() {
    let plugins = load(vec![
        PluginConfig::new("dropper", fixtures::TAGGER)
            .settings(json!({"key": "trail", "value": "d", "drop_path": "/p/1"})),
        tagger("after", "x"),
    ]);
    let mut batch = hits(3);
    let report = plugins.apply(&mut batch);
    assert_eq!(report.dropped, 1);
    assert_eq!(batch.iter().map(|hit| hit.path.as_str()).collect::<Vec<_>>(), ["/p/0", "/p/2"]);
    assert!(batch.iter().all(|hit| prop(hit, "trail") == Some("dx")));
}

#[test]
fn batches_larger_than_one_call_are_split() {
    let plugins = load(vec![tagger("a", "a")]);
    let mut batch = hits(MAX_EVENTS_PER_CALL * 2 + 7);
    let report = plugins.apply(&mut batch);
    assert_eq!(report.changed, MAX_EVENTS_PER_CALL * 2 + 7);
    assert!(
        batch
            .iter()
            .enumerate()
            .all(|(index, hit)| hit.path == format!("/p/{index}") && prop(hit, "trail") == Some("a"))
    );
}

#[test]
fn the_plugins_directory_runs_after_the_configured_entries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures::TAGGER, dir.path().join("zeta.wasm")).unwrap();
    std::fs::copy(fixtures::TAGGER, dir.path().join("alpha.wasm")).unwrap();
    std::fs::copy(fixtures::TAGGER, dir.path().join("configured.wasm")).unwrap();
    std::fs::copy(fixtures::LOOPER, dir.path().join(".partial.wasm")).unwrap();
    let config = PluginsConfig {
        reload_interval_ms: 0,
        timeout_ms: 5_000,
        plugins: vec![PluginConfig::named("configured").settings(json!({"value": "c"}))],
        ..PluginsConfig::from_dir(dir.path())
    };
    let plugins = Plugins::load(config).unwrap();
    assert_eq!(plugins.names(), ["configured", "alpha", "zeta"]);
    let mut batch = hits(1);
    plugins.apply(&mut batch);
    // Unconfigured plugins get `{}`: the tagger's default value `t`.
    assert_eq!(prop(&batch[0], "tag"), Some("ctt"));
}

#[test]
fn a_plugin_that_cannot_load_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.wasm"), b"not a component").unwrap();
    let error = Plugins::load(PluginsConfig::from_dir(dir.path())).unwrap_err();
    assert!(error.to_string().contains("plugin `broken`"), "{error}");
    assert!(error.to_string().contains("not a valid WebAssembly component"), "{error}");

    let refused = PluginConfig::new("garbage", fixtures::GARBAGE); // it needs a `mode`
    let error = Plugins::load(PluginsConfig::from_plugins(vec![refused])).unwrap_err();
    assert!(error.to_string().contains("configure refused the settings: `mode` is required"), "{error}");

    let missing = PluginConfig::new("missing", "/nonexistent/missing.wasm");
    assert!(Plugins::load(PluginsConfig::from_plugins(vec![missing])).is_err());
}

#[test]
fn concurrent_callers_each_get_their_own_instance() {
    let plugins = Arc::new(load(vec![
        PluginConfig::new("slow", fixtures::SLOW).settings(json!({"iterations": 20_000})),
        tagger("a", "a"),
    ]));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let plugins = plugins.clone();
            std::thread::spawn(move || {
                for round in 0..10 {
                    let mut batch: Vec<_> =
                        (0..50).map(|i| hit(&format!("/w{worker}/r{round}/{i}"))).collect();
                    let report = plugins.apply(&mut batch);
                    assert_eq!(report.changed, 100);
                    for (i, hit) in batch.iter().enumerate() {
                        assert_eq!(hit.path, format!("/w{worker}/r{round}/{i}"));
                        assert_eq!(prop(hit, "trail"), Some("a"));
                        assert!(prop(hit, "slow").is_some());
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
}
