//! `hitkeep plugin check FILE`: loads one component against the contract, configures it
//! and runs it on sample events, reporting what it did to each.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hitkeep_protocol::{Channel, Device, EventKind, Hit, Revenue, Utm};

use crate::bindings::hitkeep::plugin::types::{self as wit, LogLevel};
use crate::chain::{FailureKind, MAX_EVENTS_PER_CALL};
use crate::config::Limits;
use crate::convert::{from_event, prop_pairs, to_events};
use crate::engine::{Ticking, compile, shared};
use crate::error::{Error, LoadError};
use crate::host::check_spec;
use crate::plugin::Plugin;
use crate::sandbox::linker;

/// What a plugin did to one sample event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleOutcome {
    /// Left as it was.
    Unchanged,
    /// Changed into `hit`; `changes` lists each changed field as `field: old → new`.
    Changed {
        /// The new value.
        hit: Box<Hit>,
        /// The changed fields.
        changes: Vec<String>,
    },
    /// Dropped.
    Dropped,
    /// The plugin failed on it.
    Failed {
        /// How.
        kind: FailureKind,
        /// The detail.
        detail: String,
    },
}

/// A line the plugin logged through the contract's `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The message (at most 1 KiB).
    pub message: String,
}

/// The result of [`check_file`].
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The plugin's name (the file's stem).
    pub plugin: String,
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: usize,
    /// What the component imports (WASI interfaces, the contract's `log`).
    pub imports: Vec<String>,
    /// Time to compile it.
    pub compile_time: Duration,
    /// Time to instantiate and configure it.
    pub configure_time: Duration,
    /// Time of the `enrich` calls on the samples, together.
    pub call_time: Duration,
    /// The samples and what became of each, in order.
    pub samples: Vec<(Hit, SampleOutcome)>,
    /// What it logged, in `configure` and `enrich`.
    pub logs: Vec<LogLine>,
    /// What it wrote to stdout and stderr (the first 4 KiB of each call).
    pub output: String,
}

impl CheckReport {
    /// True when the plugin failed on no sample.
    pub fn passed(&self) -> bool {
        self.samples.iter().all(|(_, outcome)| !matches!(outcome, SampleOutcome::Failed { .. }))
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plugin {} ({}, {} bytes)", self.plugin, self.path.display(), self.bytes)?;
        writeln!(f, "  contract     hitkeep:plugin/enricher@0.1.0: ok")?;
        writeln!(
            f,
            "  imports      {}",
            if self.imports.is_empty() { "none".to_string() } else { self.imports.join(", ") }
        )?;
        writeln!(f, "  compile      {:.1} ms", self.compile_time.as_secs_f64() * 1e3)?;
        writeln!(f, "  configure    {:.1} ms: ok", self.configure_time.as_secs_f64() * 1e3)?;
        let per_event = self.call_time.as_secs_f64() * 1e6 / self.samples.len().max(1) as f64;
        writeln!(
            f,
            "  enrich       {} samples in {:.1} ms ({per_event:.1} µs/event, first call included)",
            self.samples.len(),
            self.call_time.as_secs_f64() * 1e3
        )?;
        for (index, (hit, outcome)) in self.samples.iter().enumerate() {
            let what = format!("{} {}{}", hit.name, hit.domain, hit.path);
            match outcome {
                SampleOutcome::Unchanged => writeln!(f, "  #{index:<3} {what}: unchanged")?,
                SampleOutcome::Dropped => writeln!(f, "  #{index:<3} {what}: dropped")?,
                SampleOutcome::Failed { kind, detail } => {
                    writeln!(f, "  #{index:<3} {what}: FAILED ({kind}): {detail}")?
                }
                SampleOutcome::Changed { changes, .. } => {
                    writeln!(f, "  #{index:<3} {what}: changed")?;
                    for change in changes {
                        writeln!(f, "         {change}")?;
                    }
                }
            }
        }
        for line in &self.logs {
            writeln!(f, "  log {:<5}    {}", line.level, line.message)?;
        }
        if !self.output.is_empty() {
            writeln!(f, "  output       {}", self.output.trim_end().replace('\n', "\n               "))?;
        }
        write!(f, "{}", if self.passed() { "ok" } else { "FAILED on some samples" })
    }
}

/// Checks the component at `path` against the contract with the default [`Limits`]:
/// compiles it, links it with what plugins may import, configures it with `settings` (JSON
/// text), and runs it on `samples` (see [`sample_hits`]). An `Err` means the plugin cannot
/// be loaded at all; a plugin that loads but fails on samples gives a report that has not
/// [`CheckReport::passed`].
pub fn check_file(path: &Path, settings: &str, samples: &[Hit]) -> Result<CheckReport, Error> {
    check_file_with(path, settings, samples, Limits::default())
}

/// [`check_file`] with the given limits.
pub fn check_file_with(
    path: &Path,
    settings: &str,
    samples: &[Hit],
    limits: Limits,
) -> Result<CheckReport, Error> {
    serde_json::from_str::<serde_json::Value>(settings)
        .map_err(|error| Error::Config(format!("the settings are not JSON: {error}")))?;
    for (index, sample) in samples.iter().enumerate() {
        sample
            .validate()
            .map_err(|error| Error::Config(format!("sample #{index} is not a valid hit: {error}")))?;
    }
    let spec = check_spec(path.to_path_buf(), settings.to_string(), limits);
    let plugin_name = spec.name.clone();
    let load_error = |source| Error::Load { plugin: plugin_name.clone(), path: path.to_path_buf(), source };

    let engine = shared()?;
    let linker = linker(engine).map_err(|error| Error::Engine(format!("{error:#}")))?;
    let _ticking = Ticking::start(engine)?;
    let bytes = std::fs::read(path).map_err(|error| load_error(LoadError::Read(error)))?;

    let started = Instant::now();
    let component = compile(engine, &bytes).map_err(load_error)?;
    let compile_time = started.elapsed();
    let imports = component.component_type().imports(engine).map(|(name, _)| name.to_string()).collect();

    let started = Instant::now();
    let plugin = Plugin::new(&linker, &component, 0, spec, 1, true).map_err(load_error)?;
    let configure_time = started.elapsed();
    let mut instance = plugin
        .take_idle()
        .map(Ok)
        .unwrap_or_else(|| plugin.instantiate())
        .map_err(|error| load_error(error.into()))?;
    let mut logs: Vec<LogLine> = instance.take_logs().into_iter().map(log_line).collect();
    let mut output = instance.take_output();
    let mut outcomes = Vec::with_capacity(samples.len());
    let mut call_time = Duration::ZERO;
    for chunk in samples.chunks(MAX_EVENTS_PER_CALL) {
        let pairs = prop_pairs(chunk.iter());
        let events = to_events(chunk.iter(), &pairs);
        let started = Instant::now();
        let result = instance.enrich(&events, limits.timeout);
        call_time += started.elapsed();
        logs.extend(instance.take_logs().into_iter().map(log_line));
        output.push_str(&instance.take_output());
        match result {
            Ok(verdicts) => {
                for (sample, verdict) in chunk.iter().zip(verdicts) {
                    outcomes.push((sample.clone(), outcome(sample, verdict)));
                }
            }
            Err(failure) => {
                for sample in chunk {
                    let failed = SampleOutcome::Failed { kind: failure.kind, detail: failure.detail.clone() };
                    outcomes.push((sample.clone(), failed));
                }
                instance = plugin.instantiate().map_err(|error| load_error(error.into()))?;
                // Its configure logged again: that is not news.
                instance.take_logs();
                instance.take_output();
            }
        }
    }
    Ok(CheckReport {
        plugin: plugin.name.to_string(),
        path: path.to_path_buf(),
        bytes: bytes.len(),
        imports,
        compile_time,
        configure_time,
        call_time,
        samples: outcomes,
        logs,
        output,
    })
}

fn log_line((level, message): (LogLevel, String)) -> LogLine {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    LogLine { level, message }
}

fn outcome(sample: &Hit, verdict: wit::Verdict) -> SampleOutcome {
    match verdict {
        wit::Verdict::Unchanged => SampleOutcome::Unchanged,
        wit::Verdict::Drop => SampleOutcome::Dropped,
        wit::Verdict::Keep(event) => match from_event(event, sample) {
            Ok(hit) if hit == *sample => SampleOutcome::Unchanged,
            Ok(hit) => SampleOutcome::Changed { changes: changes(sample, &hit), hit: Box::new(hit) },
            Err(detail) => SampleOutcome::Failed { kind: FailureKind::BadOutput, detail },
        },
    }
}

/// `field: old → new` for every field that differs, in the JSON form of hits.
fn changes(before: &Hit, after: &Hit) -> Vec<String> {
    let as_map = |hit: &Hit| match serde_json::to_value(hit) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_map(before), as_map(after));
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    let show =
        |value: Option<&serde_json::Value>| value.map_or_else(|| "(none)".to_string(), |v| v.to_string());
    fields
        .into_iter()
        .filter(|field| before.get(*field) != after.get(*field))
        .map(|field| format!("{field}: {} → {}", show(before.get(field)), show(after.get(field))))
        .collect()
}

/// Sample events for `hitkeep plugin check`: pageviews with ids in their paths, a search
/// visit, a newsletter campaign, a signup with personal data in its properties, a purchase
/// with revenue, and a social visit from a phone.
pub fn sample_hits() -> Vec<Hit> {
    let base = Hit {
        country: Some("DE".into()),
        region: Some("DE-BE".into()),
        city: Some("Berlin".into()),
        browser: Some("Firefox".into()),
        browser_version: Some("131".into()),
        os: Some("Linux".into()),
        ..Hit::pageview(1_767_225_600_000, "example.com", "/")
    };
    vec![
        Hit { path: "/users/12345/profile".into(), ..base.clone() },
        Hit {
            path: "/blog/how-we-count-visitors".into(),
            referrer: Some("www.google.com/".into()),
            source: Some("Google".into()),
            channel: Channel::OrganicSearch,
            ..base.clone()
        },
        Hit {
            path: "/orders/550e8400-e29b-41d4-a716-446655440000".into(),
            source: Some("newsletter".into()),
            channel: Channel::Email,
            utm: Utm {
                source: Some("newsletter".into()),
                medium: Some("email".into()),
                campaign: Some("spring-sale".into()),
                content: None,
                term: None,
            },
            ..base.clone()
        },
        Hit {
            kind: EventKind::Custom,
            name: "Signup".into(),
            path: "/signup".into(),
            props: vec![
                ("email".into(), "jane.doe@example.org".into()),
                ("plan".into(), "pro".into()),
                ("note".into(), "call me at +49 30 1234567".into()),
            ],
            ..base.clone()
        },
        Hit {
            kind: EventKind::Custom,
            name: "Purchase".into(),
            path: "/checkout/9f86d081884c7d659a2feaa0c55ad015".into(),
            props: vec![("order".into(), "A-1001".into())],
            revenue: Some(Revenue { amount_micros: 49_900_000, currency: "EUR".into() }),
            ..base.clone()
        },
        Hit {
            path: "/".into(),
            referrer: Some("t.co/".into()),
            source: Some("Twitter".into()),
            channel: Channel::OrganicSocial,
            device: Device::Mobile,
            browser: Some("Safari".into()),
            os: Some("iOS".into()),
            os_version: Some("18".into()),
            ..base
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_valid_hits() {
        for sample in sample_hits() {
            assert_eq!(sample.validate(), Ok(()), "{sample:?}");
        }
    }

    #[test]
    fn changes_name_each_changed_field() {
        let before = sample_hits().remove(0);
        let after = Hit { path: "/users/:id/profile".into(), channel: Channel::Referral, ..before.clone() };
        assert_eq!(
            changes(&before, &after),
            ["channel: \"direct\" → \"referral\"", "path: \"/users/12345/profile\" → \"/users/:id/profile\""]
        );
    }
}
