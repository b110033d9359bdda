//! Per-event cost of plugins in `Plugins::apply`, in batches of 1,000 events: no plugin at
//! all, the trivial plugin (every event unchanged: the host's own overhead, the contract's
//! target is 5 µs or less), and the example plugins.
//!
//! `cargo bench -p hitkeep-plugins --bench overhead`; criterion reports the time per batch
//! and the throughput in events per second, and the bench prints µs per event at the end.

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use hitkeep_plugins::{PluginConfig, Plugins, PluginsConfig, fixtures, sample_hits};
use hitkeep_protocol::Hit;
use serde_json::json;

const BATCH: usize = 1_000;

/// 1,000 hits cycling through the check command's samples (ids in paths, a campaign, a
/// signup with personal data, a purchase, a social visit), each with its own path.
fn batch() -> Vec<Hit> {
    let samples = sample_hits();
    (0..BATCH)
        .map(|index| {
            let mut hit = samples[index % samples.len()].clone();
            hit.path = format!("{}/{index}", hit.path.trim_end_matches('/'));
            hit
        })
        .collect()
}

fn load(entries: Vec<PluginConfig>) -> Plugins {
    Plugins::load(PluginsConfig { reload_interval_ms: 0, ..PluginsConfig::from_plugins(entries) })
        .expect("plugins load")
}

fn setups() -> Vec<(&'static str, Plugins)> {
    vec![
        ("no plugin", load(vec![])),
        ("noop", load(vec![PluginConfig::new("noop", fixtures::NOOP)])),
        ("url-normalizer", load(vec![PluginConfig::new("url-normalizer", fixtures::URL_NORMALIZER)])),
        ("prop-scrubber", load(vec![PluginConfig::new("prop-scrubber", fixtures::PROP_SCRUBBER)])),
        (
            "campaign-mapper",
            load(vec![PluginConfig::new("campaign-mapper", fixtures::CAMPAIGN_MAPPER).settings(json!({"rules": [
                {"when": {"utm_source": "newsletter*"}, "set": {"channel": "email", "utm_campaign": "newsletter"}},
                {"when": {"referrer": "t.co/*"}, "set": {"source": "X"}}
            ]}))]),
        ),
        (
            "all three examples",
            load(vec![
                PluginConfig::new("url-normalizer", fixtures::URL_NORMALIZER),
                PluginConfig::new("campaign-mapper", fixtures::CAMPAIGN_MAPPER)
                    .settings(json!({"rules": [{"when": {"utm_source": "newsletter*"}, "set": {"channel": "email"}}]})),
                PluginConfig::new("prop-scrubber", fixtures::PROP_SCRUBBER),
            ]),
        ),
    ]
}

fn overhead(c: &mut Criterion) {
    let setups = setups();
    let mut group = c.benchmark_group("apply_1000_events");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, plugins) in &setups {
        group.bench_function(*name, |b| {
            b.iter_batched(
                batch,
                |mut hits| {
                    let report = plugins.apply(&mut hits);
                    assert!(report.failed.is_empty() && report.passed == 0);
                    hits
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// A plain summary, independent of criterion's statistics: the mean of 2,000 batches.
fn summary() {
    let setups = setups();
    let mut per_event = Vec::new();
    for (name, plugins) in &setups {
        let batches: Vec<Vec<Hit>> = (0..2_000).map(|_| batch()).collect();
        let started = Instant::now();
        for mut hits in batches {
            plugins.apply(&mut hits);
        }
        let micros = started.elapsed().as_secs_f64() * 1e6 / (2_000 * BATCH) as f64;
        per_event.push((*name, micros));
    }
    let baseline = per_event[0].1;
    println!("\nper event, batches of {BATCH} (mean of 2,000 batches):");
    for (name, micros) in per_event {
        println!("  {name:<20} {micros:>7.3} µs   (+{:.3} µs over no plugin)", micros - baseline);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = overhead
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
