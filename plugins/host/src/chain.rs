//! Running the plugins, in order, over a batch of hits: what each changes, drops or fails
//! on, and what the caller must dead-letter.

use std::fmt;
use std::sync::Arc;

use hitkeep_protocol::Hit;

use crate::bindings::hitkeep::plugin::types as wit;
use crate::config::FailurePolicy;
use crate::convert::{from_event, prop_pairs, to_events};
use crate::metrics as m;
use crate::plugin::{CallFailure, Plugin};

/// Most events in one `enrich` call (the contract promises 1 to 1,000).
pub const MAX_EVENTS_PER_CALL: usize = 1_000;

/// How a plugin failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The guest trapped: a panic, `unreachable`, a stack overflow, an exit.
    Trap,
    /// The call ran past its deadline and was interrupted.
    Timeout,
    /// The instance hit its memory limit.
    Memory,
    /// The answer broke the contract: the wrong number of verdicts, or a changed event
    /// with a value out of bounds or a read-only field changed.
    BadOutput,
}

impl FailureKind {
    /// The kind's name in metrics and dead letters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trap => "trap",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
            Self::BadOutput => "bad_output",
        }
    }
}

impl FailureKind {
    /// What happened, in a sentence for an operator (no event data, no plugin output).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Trap => "the plugin trapped (a panic, unreachable code, a stack overflow or an exit)",
            Self::Timeout => "a call ran past its deadline and was interrupted",
            Self::Memory => "the plugin reached its memory limit",
            Self::BadOutput => "the plugin answered against the contract",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hit a plugin with the `dead_letter` policy failed on, taken out of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedHit {
    /// The hit as it was when it reached the failing plugin (earlier plugins' changes
    /// included).
    pub hit: Hit,
    /// The failing plugin.
    pub plugin: String,
    /// How it failed.
    pub kind: FailureKind,
    /// What happened, for an operator (no event data beyond what the plugin printed).
    pub detail: String,
}

/// What [`crate::Plugins::apply`] did to a batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Changes made to hits (a hit changed by two plugins counts twice).
    pub changed: usize,
    /// Hits dropped by plugins, on purpose.
    pub dropped: usize,
    /// Hits whose plugin failed under the `pass` policy and went on unchanged by it.
    pub passed: usize,
    /// Hits taken out of the batch under the `dead_letter` policy: the caller stores them as
    /// dead letters.
    pub failed: Vec<FailedHit>,
}

/// The plugins in the order they run: one consistent version, shared by the calls that
/// started while it was current.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    pub(crate) plugins: Vec<Arc<Plugin>>,
}

/// What has become of one hit so far.
enum Fate {
    /// Still in the batch.
    Live,
    /// In the batch, but no plugin sees it: it breaks the protocol's limits and the
    /// pipeline dead-letters it as it would without plugins.
    Invalid,
    Dropped,
    Failed {
        plugin: Arc<str>,
        kind: FailureKind,
        detail: String,
    },
}

impl Chain {
    pub(crate) fn apply(&self, hits: &mut Vec<Hit>) -> ApplyReport {
        let mut report = ApplyReport::default();
        if self.plugins.is_empty() || hits.is_empty() {
            return report;
        }
        let mut fates: Vec<Fate> =
            hits.iter().map(|hit| if hit.validate().is_ok() { Fate::Live } else { Fate::Invalid }).collect();
        for plugin in &self.plugins {
            let targets: Vec<usize> = (0..hits.len())
                .filter(|&index| matches!(fates[index], Fate::Live) && plugin.applies_to(&hits[index].domain))
                .collect();
            for chunk in targets.chunks(MAX_EVENTS_PER_CALL) {
                run_chunk(plugin, chunk, hits, &mut fates, &mut report);
            }
        }

        let mut kept = Vec::with_capacity(hits.len());
        for (hit, fate) in std::mem::take(hits).into_iter().zip(fates) {
            match fate {
                Fate::Live | Fate::Invalid => kept.push(hit),
                Fate::Dropped => report.dropped += 1,
                Fate::Failed { plugin, kind, detail } => {
                    report.failed.push(FailedHit { hit, plugin: plugin.to_string(), kind, detail })
                }
            }
        }
        *hits = kept;
        report
    }
}

/// One `enrich` call on the hits at `chunk`, and its verdicts applied.
fn run_chunk(
    plugin: &Plugin,
    chunk: &[usize],
    hits: &mut [Hit],
    fates: &mut [Fate],
    report: &mut ApplyReport,
) {
    let pairs = prop_pairs(chunk.iter().map(|&index| &hits[index]));
    let events = to_events(chunk.iter().map(|&index| &hits[index]), &pairs);
    let name = || plugin.name.to_string();
    let result = plugin.enrich(&events);
    drop(events);
    drop(pairs);
    let verdicts = match result {
        Ok(verdicts) => verdicts,
        Err(CallFailure { kind, detail }) => {
            plugin.counters.failed(kind);
            tracing::warn!(plugin = &*plugin.name, kind = kind.as_str(), %detail, events = chunk.len(), "plugin call failed");
            metrics::counter!(m::ERRORS, "plugin" => name(), "kind" => kind.as_str()).increment(1);
            for &index in chunk {
                fail(plugin, &mut fates[index], kind, &detail, report);
            }
            return;
        }
    };
    let (mut changed, mut dropped) = (0u64, 0u64);
    for (&index, verdict) in chunk.iter().zip(verdicts) {
        match verdict {
            wit::Verdict::Unchanged => {}
            wit::Verdict::Drop => {
                fates[index] = Fate::Dropped;
                dropped += 1;
            }
            wit::Verdict::Keep(event) => match from_event(event, &hits[index]) {
                Ok(hit) => {
                    hits[index] = hit;
                    changed += 1;
                }
                Err(reason) => {
                    plugin.counters.failed(FailureKind::BadOutput);
                    tracing::warn!(plugin = &*plugin.name, %reason, "plugin returned an invalid event");
                    metrics::counter!(m::ERRORS, "plugin" => name(), "kind" => FailureKind::BadOutput.as_str())
                        .increment(1);
                    fail(plugin, &mut fates[index], FailureKind::BadOutput, &reason, report);
                }
            },
        }
    }
    report.changed += changed as usize;
    if changed > 0 {
        metrics::counter!(m::CHANGED, "plugin" => name()).increment(changed);
    }
    if dropped > 0 {
        metrics::counter!(m::DROPS, "plugin" => name()).increment(dropped);
    }
}

/// Applies the plugin's failure policy to one hit.
fn fail(plugin: &Plugin, fate: &mut Fate, kind: FailureKind, detail: &str, report: &mut ApplyReport) {
    let policy = plugin.spec.policy;
    metrics::counter!(m::FAILED_EVENTS, "plugin" => plugin.name.to_string(), "policy" => policy.as_str())
        .increment(1);
    match policy {
        FailurePolicy::Pass => report.passed += 1,
        FailurePolicy::DeadLetter => {
            *fate = Fate::Failed { plugin: plugin.name.clone(), kind, detail: detail.to_string() };
        }
    }
}
