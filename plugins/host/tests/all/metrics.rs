//! The per-plugin metrics, read back through a debugging recorder.

use hitkeep_plugins::{PluginConfig, fixtures, metrics as names};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::json;

use crate::support::{hits, load};

/// A metric's name, labels and value.
type Sample = (String, Vec<(String, String)>, DebugValue);

fn counter(snapshot: &[Sample], name: &str, labels: &[(&str, &str)]) -> u64 {
    snapshot
        .iter()
        .filter(|(metric, metric_labels, _)| {
            metric == name
                && labels.iter().all(|(k, v)| metric_labels.iter().any(|(mk, mv)| mk == k && mv == v))
        })
        .map(|(_, _, value)| match value {
            DebugValue::Counter(count) => *count,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}

#[test]
fn calls_events_time_errors_and_drops_are_counted_per_plugin() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let plugins = load(vec![
            PluginConfig::new("dropper", fixtures::TAGGER).settings(json!({"drop_path": "/p/0"})),
            PluginConfig::new("panicker", fixtures::PANICKER),
        ]);
        let mut batch = hits(5);
        batch[3].path = "/boom".into();
        plugins.apply(&mut batch);
    });
    let snapshot: Vec<Sample> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels = key.key().labels().map(|l| (l.key().to_string(), l.value().to_string())).collect();
            (key.key().name().to_string(), labels, value)
        })
        .collect();
    let dropper = [("plugin", "dropper")];
    let panicker = [("plugin", "panicker")];
    assert_eq!(counter(&snapshot, names::CALLS, &dropper), 1);
    assert_eq!(counter(&snapshot, names::EVENTS, &dropper), 5);
    assert_eq!(counter(&snapshot, names::DROPS, &dropper), 1);
    assert_eq!(counter(&snapshot, names::CHANGED, &dropper), 4);
    assert_eq!(counter(&snapshot, names::EVENTS, &panicker), 4, "the dropped event reached no later plugin");
    assert_eq!(counter(&snapshot, names::ERRORS, &[("plugin", "panicker"), ("kind", "trap")]), 1);
    assert_eq!(counter(&snapshot, names::FAILED_EVENTS, &[("plugin", "panicker"), ("policy", "pass")]), 4);
    assert_eq!(counter(&snapshot, names::RELOADS, &[("plugin", "panicker"), ("outcome", "loaded")]), 1);
    let timed = snapshot.iter().any(|(name, labels, value)| {
        name == names::CALL_SECONDS
            && labels.iter().any(|(k, v)| k == "plugin" && v == "dropper")
            && matches!(value, DebugValue::Histogram(samples) if samples.len() == 1 && samples[0].into_inner() > 0.0)
    });
    assert!(timed, "one timed call of the dropper");
}
