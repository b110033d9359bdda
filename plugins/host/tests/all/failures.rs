//! Traps and bad output: the events survive (pass) or are handed back for dead-lettering
//! (dead_letter), and the plugin keeps working afterwards.

use hitkeep_plugins::{FailureKind, FailurePolicy, PluginConfig, fixtures};
use hitkeep_protocol::Hit;
use serde_json::json;

use crate::support::{hit, hits, load, prop};

fn with_boom(count: usize) -> Vec<Hit> {
    let mut batch = hits(count);
    batch[count / 2].path = "/boom".into();
    batch
}

#[test]
fn a_trap_leaves_the_events_intact_under_pass() {
    let plugins = load(vec![PluginConfig::new("panicker", fixtures::PANICKER)]);
    let mut batch = with_boom(10);
    let original = batch.clone();
    let report = plugins.apply(&mut batch);
    assert_eq!(batch, original);
    assert_eq!((report.passed, report.changed, report.failed.len()), (10, 0, 0));
}

#[test]
fn a_trap_hands_the_events_back_under_dead_letter() {
    let plugins =
        load(vec![PluginConfig::new("panicker", fixtures::PANICKER).on_failure(FailurePolicy::DeadLetter)]);
    let mut batch = with_boom(10);
    let original = batch.clone();
    let report = plugins.apply(&mut batch);
    assert!(batch.is_empty());
    assert_eq!(report.failed.iter().map(|failed| failed.hit.clone()).collect::<Vec<_>>(), original);
    let failed = &report.failed[0];
    assert_eq!((failed.plugin.as_str(), failed.kind), ("panicker", FailureKind::Trap));
    // The guest's panic message, captured from its stderr, says what happened.
    assert!(failed.detail.contains("boom on purpose"), "{}", failed.detail);
}

#[test]
fn the_plugin_works_again_after_a_trap() {
    let plugins = load(vec![PluginConfig::new("panicker", fixtures::PANICKER)]);
    for _ in 0..3 {
        let mut trapping = with_boom(4);
        assert_eq!(plugins.apply(&mut trapping).passed, 4);
        let mut fine = hits(4);
        let report = plugins.apply(&mut fine);
        assert_eq!(report.changed, 4, "{report:?}");
        assert!(fine.iter().all(|hit| prop(hit, "survived") == Some("yes")));
    }
}

#[test]
fn a_wrong_number_of_verdicts_is_bad_output() {
    for mode in ["extra", "missing"] {
        let plugins =
            load(vec![PluginConfig::new("garbage", fixtures::GARBAGE).settings(json!({"mode": mode}))]);
        let mut batch = hits(5);
        let original = batch.clone();
        let report = plugins.apply(&mut batch);
        assert_eq!((batch, report.passed), (original.clone(), 5), "{mode}");

        let plugins = load(vec![
            PluginConfig::new("garbage", fixtures::GARBAGE)
                .settings(json!({"mode": mode}))
                .on_failure(FailurePolicy::DeadLetter),
        ]);
        let mut batch = hits(5);
        let report = plugins.apply(&mut batch);
        assert!(batch.is_empty(), "{mode}");
        assert_eq!(report.failed.len(), 5);
        assert_eq!(report.failed[0].kind, FailureKind::BadOutput);
        let expected = if mode == "extra" { "6 verdicts for 5 events" } else { "4 verdicts for 5 events" };
        assert_eq!(report.failed[0].detail, expected);
        assert_eq!(report.failed.iter().map(|failed| failed.hit.clone()).collect::<Vec<_>>(), original);
    }
}

#[test]
fn values_out_of_bounds_are_bad_output_and_keep_the_original() {
    for (mode, reason) in [
        ("long_path", "field `path` is 3000 bytes long, the limit is 2048"),
        ("bad_channel", "unknown channel"),
        ("domain", "`domain` is read-only"),
    ] {
        let plugins = load(vec![
            PluginConfig::new("garbage", fixtures::GARBAGE)
                .settings(json!({"mode": mode}))
                .on_failure(FailurePolicy::DeadLetter),
        ]);
        let mut batch = hits(2);
        let original = batch.clone();
        let report = plugins.apply(&mut batch);
        assert_eq!(report.failed.len(), 2, "{mode}");
        for (failed, original) in report.failed.iter().zip(&original) {
            assert_eq!(failed.hit, *original, "{mode}: the original is dead-lettered, not the garbage");
            assert_eq!(failed.kind, FailureKind::BadOutput);
            assert!(failed.detail.contains(reason), "{mode}: {}", failed.detail);
        }
    }
}

#[test]
fn one_bad_event_spoils_only_itself() {
    let plugins = load(vec![
        PluginConfig::new("garbage", fixtures::GARBAGE)
            .settings(json!({"mode": "odd_long"}))
            .on_failure(FailurePolicy::DeadLetter),
    ]);
    let mut batch = hits(6);
    let original = batch.clone();
    let report = plugins.apply(&mut batch);
    assert_eq!(report.changed, 3);
    assert_eq!(batch.iter().map(|hit| hit.path.as_str()).collect::<Vec<_>>(), ["/p/0", "/p/2", "/p/4"]);
    assert!(batch.iter().all(|hit| prop(hit, "ok") == Some("yes")));
    assert_eq!(
        report.failed.iter().map(|failed| failed.hit.clone()).collect::<Vec<_>>(),
        [original[1].clone(), original[3].clone(), original[5].clone()]
    );
}

#[test]
fn invalid_hits_are_left_for_the_pipeline() {
    let plugins = load(vec![PluginConfig::new("tagger", fixtures::TAGGER)]);
    let mut invalid = hit("no-leading-slash");
    invalid.props = vec![("tag".into(), "before".into())];
    let mut batch = vec![hit("/a"), invalid.clone()];
    let report = plugins.apply(&mut batch);
    assert_eq!(report.changed, 1);
    assert_eq!(prop(&batch[0], "tag"), Some("t"));
    assert_eq!(batch[1], invalid, "no plugin saw it; the pipeline dead-letters it as invalid");
}

#[test]
fn policies_are_per_plugin() {
    // The panicker fails everything; under pass, the tagger after it still runs.
    let plugins = load(vec![
        PluginConfig::new("panicker", fixtures::PANICKER),
        PluginConfig::new("tagger", fixtures::TAGGER),
    ]);
    let mut batch = with_boom(4);
    let report = plugins.apply(&mut batch);
    assert_eq!((report.passed, report.changed, batch.len()), (4, 4, 4));
    assert!(batch.iter().all(|hit| prop(hit, "tag") == Some("t") && prop(hit, "survived").is_none()));

    // Under dead_letter, failed events leave the batch and reach no later plugin.
    let plugins = load(vec![
        PluginConfig::new("panicker", fixtures::PANICKER).on_failure(FailurePolicy::DeadLetter),
        PluginConfig::new("tagger", fixtures::TAGGER),
    ]);
    let mut batch = with_boom(4);
    let report = plugins.apply(&mut batch);
    assert_eq!((batch.len(), report.failed.len(), report.changed), (0, 4, 0));
    assert!(report.failed.iter().all(|failed| prop(&failed.hit, "tag").is_none()));
}

#[test]
fn the_status_counts_calls_and_failures_with_no_event_data() {
    let before =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let plugins = load(vec![
        PluginConfig::new("panicker", fixtures::PANICKER).on_failure(FailurePolicy::DeadLetter),
        PluginConfig::new("noop", fixtures::NOOP).sites(["b.example", "a.example"]),
    ]);
    let status = plugins.status();
    assert_eq!(status.len(), 2);
    assert_eq!((status[0].name.as_str(), status[0].on_failure), ("panicker", FailurePolicy::DeadLetter));
    assert_eq!(status[0].sites, None);
    assert_eq!(status[1].sites, Some(vec!["a.example".to_string(), "b.example".to_string()]));
    assert!(status[0].loaded_at_ms >= before);
    assert_eq!((status[0].calls, status[0].failures, status[0].last_failure), (0, 0, None));

    let mut fine = hits(4);
    plugins.apply(&mut fine);
    let mut trapping = with_boom(4);
    plugins.apply(&mut trapping);
    let status = plugins.status();
    assert_eq!((status[0].calls, status[0].failures), (2, 1));
    let (at_ms, kind) = status[0].last_failure.expect("a failure");
    assert!(at_ms >= status[0].loaded_at_ms);
    assert_eq!(kind, FailureKind::Trap);
    assert!(!kind.describe().contains("boom"), "the description holds nothing of the event");
    // The other plugin ran on none of these hits: they are not of its sites.
    assert_eq!((status[1].calls, status[1].failures), (0, 0));
}
