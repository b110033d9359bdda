//! Deadlines and memory limits: a plugin that loops or allocates without end is stopped,
//! its events survive, and the caller waits no longer than the deadline.

use std::time::{Duration, Instant};

use hitkeep_plugins::{
    Error, FailureKind, FailurePolicy, LoadError, PluginConfig, Plugins, PluginsConfig, fixtures,
};
use serde_json::json;

use crate::support::{hits, load, prop};

/// What a call may take beyond its deadline: the next epoch tick (1 ms), converting the
/// events, instantiating a fresh instance after the previous timeout (unoptimized in tests),
/// and a busy two-core machine.
const MARGIN: Duration = Duration::from_millis(250);

#[test]
fn an_infinite_loop_is_interrupted_within_its_deadline() {
    let deadline = Duration::from_millis(50);
    let plugins = load(vec![PluginConfig::new("looper", fixtures::LOOPER).timeout(deadline)]);
    for round in 0..3 {
        let mut batch = hits(20);
        let original = batch.clone();
        let started = Instant::now();
        let report = plugins.apply(&mut batch);
        let elapsed = started.elapsed();
        assert!(elapsed >= deadline, "round {round}: interrupted before its deadline ({elapsed:?})");
        // Rounds after the first also instantiate and configure a fresh instance.
        assert!(elapsed < deadline + MARGIN, "round {round}: took {elapsed:?} for a {deadline:?} deadline");
        assert_eq!(batch, original, "the pass policy leaves the events as they were");
        assert_eq!(report.passed, 20);
    }
}

#[test]
fn a_timeout_is_reported_as_such_under_dead_letter() {
    let plugins = load(vec![
        PluginConfig::new("looper", fixtures::LOOPER)
            .timeout(Duration::from_millis(20))
            .on_failure(FailurePolicy::DeadLetter),
    ]);
    let mut batch = hits(3);
    let original = batch.clone();
    let report = plugins.apply(&mut batch);
    assert!(batch.is_empty());
    assert_eq!(report.failed.len(), 3);
    for (failed, original) in report.failed.iter().zip(&original) {
        assert_eq!(failed.hit, *original);
        assert_eq!((failed.plugin.as_str(), failed.kind), ("looper", FailureKind::Timeout));
        assert!(failed.detail.contains("deadline of 20 ms"), "{}", failed.detail);
    }
}

#[test]
fn a_loop_in_configure_fails_the_load_within_its_deadline() {
    let config = PluginsConfig {
        reload_interval_ms: 0,
        configure_timeout_ms: 100,
        ..PluginsConfig::from_plugins(vec![
            PluginConfig::new("looper", fixtures::LOOPER).settings(json!({"in": "configure"})),
        ])
    };
    // Compile first (cached), so the timing below is instantiation and configure only.
    let _ = hitkeep_plugins::check_file(std::path::Path::new(fixtures::LOOPER), "{}", &[]).unwrap();
    let started = Instant::now();
    let error = Plugins::load(config).unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(100) + MARGIN, "took {:?}", started.elapsed());
    match error {
        Error::Load { plugin, source: LoadError::Failed { kind: FailureKind::Timeout, .. }, .. } => {
            assert_eq!(plugin, "looper")
        }
        other => panic!("expected a configure timeout, got {other}"),
    }
}

#[test]
fn a_memory_hog_is_stopped_at_its_limit() {
    let plugins = load(vec![
        PluginConfig::new("hog", fixtures::HOG).max_memory_mb(16).on_failure(FailurePolicy::DeadLetter),
    ]);
    let mut batch = hits(2);
    let original = batch.clone();
    let started = Instant::now();
    let report = plugins.apply(&mut batch);
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(report.failed.len(), 2);
    assert_eq!(report.failed[0].kind, FailureKind::Memory, "{:?}", report.failed[0]);
    assert_eq!(report.failed.iter().map(|failed| failed.hit.clone()).collect::<Vec<_>>(), original);

    // Under the pass policy the events go on untouched.
    let plugins = load(vec![PluginConfig::new("hog", fixtures::HOG).max_memory_mb(16)]);
    let mut batch = hits(2);
    let report = plugins.apply(&mut batch);
    assert_eq!((batch, report.passed), (original, 2));
}

#[test]
fn a_slow_plugin_within_its_deadline_is_fine() {
    let plugins = load(vec![
        PluginConfig::new("slow", fixtures::SLOW)
            .settings(json!({"iterations": 200_000}))
            .timeout(Duration::from_secs(5)),
    ]);
    let mut batch = hits(50);
    let started = Instant::now();
    let report = plugins.apply(&mut batch);
    let elapsed = started.elapsed();
    assert_eq!(report.changed, 50, "{report:?}");
    assert!(batch.iter().all(|hit| prop(hit, "slow").is_some()));
    // It really was slow: 10 million rounds of arithmetic.
    assert!(elapsed > Duration::from_millis(5), "{elapsed:?}");
}
