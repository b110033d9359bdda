//! Hitkeep's enrichment plugin host: WebAssembly components of the `hitkeep:plugin/enricher`
//! world (`plugins/wit/hitkeep-plugin.wit`), run by wasmtime on the aggregator's batches.
//!
//! ```text
//! Plugins::load(config) ── resolve: entries, then *.wasm of the plugins directory
//!                          compile, pre-instantiate, configure one instance each
//!
//! Plugins::apply(&mut hits)        (any thread; several at once)
//!   for each plugin, in order:
//!     hits it applies to (its sites, still in the batch, valid)
//!     ── in calls of ≤ 1,000 events, on an instance from its pool ──►  enrich
//!     ◄── one verdict per event: keep(changed) │ unchanged │ drop
//!     changed events are checked (limits, read-only fields) before they replace the hit
//!   trap / timeout / memory / bad output ──► policy: pass (unchanged) or dead_letter
//!
//! reloader thread (every second): changed file ── load ──► swap the chain atomically
//!                                  fails to load ──► keep the old version, log, count
//! ```
//!
//! The sandbox: a plugin sees only the anonymized event (no IP, no user agent, no visitor
//! hash), has no file system, network, environment or clock (see [`sandbox`'s
//! docs](crate#sandbox)), runs each call under a deadline (epoch interruption) and a memory
//! limit. A failing plugin never loses an event and never stalls the caller longer than
//! its deadline.
//!
//! # Sandbox
//!
//! WASI Preview 2 is linked so that guests built by ordinary toolchains load, but it grants
//! nothing: no preopened directories, environment variables or arguments; sockets and name
//! lookups refused; stdin closed; stdout and stderr captured (4 KiB per call, logged at
//! debug level); both clocks fixed at 0 and sleeps returning at once. `wasi:http` and any
//! other import are not linked, so a component that imports them is refused at load.

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/hitkeep-plugin.wit",
        world: "enricher",
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

mod chain;
mod check;
mod config;
mod convert;
mod engine;
mod error;
mod host;
pub mod metrics;
mod plugin;
mod sandbox;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use hitkeep_protocol::Hit;

pub use chain::{ApplyReport, FailedHit, FailureKind, MAX_EVENTS_PER_CALL};
pub use check::{CheckReport, LogLine, SampleOutcome, check_file, check_file_with, sample_hits};
pub use config::{FailurePolicy, Limits, MAX_PLUGIN_NAME_LEN, PluginConfig, PluginsConfig};
pub use error::{Error, LoadError};
pub use host::ReloadReport;

use crate::host::Host;

/// Paths of the plugins `build.rs` builds from source, for tests and benchmarks (here and
/// in the crates that use this one): the examples of `plugins/examples` and the test
/// plugins of `plugins/host/tests/plugins`.
#[doc(hidden)]
pub mod fixtures {
    /// `plugins/examples/url-normalizer`.
    pub const URL_NORMALIZER: &str = env!("HITKEEP_PLUGIN_URL_NORMALIZER");
    /// `plugins/examples/campaign-mapper`.
    pub const CAMPAIGN_MAPPER: &str = env!("HITKEEP_PLUGIN_CAMPAIGN_MAPPER");
    /// `plugins/examples/prop-scrubber`.
    pub const PROP_SCRUBBER: &str = env!("HITKEEP_PLUGIN_PROP_SCRUBBER");
    /// Every event unchanged.
    pub const NOOP: &str = env!("HITKEEP_PLUGIN_TEST_NOOP");
    /// Appends its `value` to the property `key`; drops `drop_path`.
    pub const TAGGER: &str = env!("HITKEEP_PLUGIN_TEST_TAGGER");
    /// Loops forever in `enrich` (or in `configure` with `{"in": "configure"}`).
    pub const LOOPER: &str = env!("HITKEEP_PLUGIN_TEST_LOOPER");
    /// Allocates without end.
    pub const HOG: &str = env!("HITKEEP_PLUGIN_TEST_HOG");
    /// Panics on events whose path holds `boom`; sets `survived` on the others.
    pub const PANICKER: &str = env!("HITKEEP_PLUGIN_TEST_PANICKER");
    /// Answers against the contract, by `{"mode": ...}`.
    pub const GARBAGE: &str = env!("HITKEEP_PLUGIN_TEST_GARBAGE");
    /// Burns `{"iterations": N}` rounds per event, then sets `slow`.
    pub const SLOW: &str = env!("HITKEEP_PLUGIN_TEST_SLOW");
    /// Reports what the sandbox lets it do.
    pub const SANDBOX_PROBE: &str = env!("HITKEEP_PLUGIN_TEST_SANDBOX_PROBE");
    /// Imports `wasi:http`: refused at load.
    pub const NET_HTTP: &str = env!("HITKEEP_PLUGIN_TEST_NET_HTTP");
}

/// The enrichment plugins of one aggregator: loaded, configured, hot-reloaded.
///
/// Share it as `Arc<Plugins>`; [`Plugins::apply`] may run on several threads at once.
/// Dropping the last handle stops the reloader and the epoch ticker.
#[derive(Debug)]
pub struct Plugins {
    host: Arc<Host>,
    reloader: Option<Reloader>,
}

impl Plugins {
    /// Loads every plugin the configuration asks for (see [`PluginsConfig`]) and, unless
    /// its reload interval is 0, starts watching their files. Any plugin that cannot be
    /// loaded or configured is an error: the aggregator must not run without a plugin it
    /// was told to run (a scrubber of personal data, say).
    ///
    /// Blocking: it compiles every component (about a second per MiB of WebAssembly in a
    /// release build) and runs guest code. Call it before the async runtime starts or through
    /// `tokio::task::spawn_blocking`; guest code that uses WASI must not run on an async
    /// worker thread (wasmtime-wasi's synchronous bindings would block on the runtime).
    pub fn load(config: PluginsConfig) -> Result<Self, Error> {
        let interval = config.reload_interval();
        let host = Arc::new(Host::start(config)?);
        let reloader = match interval {
            Some(interval) => Some(Reloader::start(host.clone(), interval)?),
            None => None,
        };
        Ok(Self { host, reloader })
    }

    /// Runs the plugins, in order, over `hits`: changes hits in place, removes the ones a
    /// plugin dropped or (under the `dead_letter` policy) failed on, and reports them. Hits
    /// that break the protocol's limits are left alone for the pipeline to dead-letter.
    /// The order of the remaining hits is kept.
    ///
    /// Synchronous and CPU-bound (each call is bounded by its plugin's deadline): call it
    /// from a blocking context (`tokio::task::spawn_blocking`), never on an async worker.
    pub fn apply(&self, hits: &mut Vec<Hit>) -> ApplyReport {
        self.host.chain().apply(hits)
    }

    /// Looks at the plugin files now, as the reloader does every interval (blocking, like
    /// [`Plugins::load`]).
    pub fn reload(&self) -> ReloadReport {
        self.host.reload()
    }

    /// The names of the running plugins, in the order they run.
    pub fn names(&self) -> Vec<String> {
        self.host.chain().plugins.iter().map(|plugin| plugin.spec.name.clone()).collect()
    }

    /// True when no plugin runs.
    pub fn is_empty(&self) -> bool {
        self.host.chain().plugins.is_empty()
    }

    /// The running plugins, in order, with what each did since its current version was
    /// loaded (a reload starts its counters afresh).
    pub fn status(&self) -> Vec<PluginStatus> {
        use std::sync::atomic::Ordering;
        self.host
            .chain()
            .plugins
            .iter()
            .map(|plugin| {
                let counters = &plugin.counters;
                let last = *counters.last_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let mut sites: Option<Vec<String>> =
                    plugin.spec.sites.as_ref().map(|sites| sites.iter().cloned().collect());
                if let Some(sites) = &mut sites {
                    sites.sort();
                }
                PluginStatus {
                    name: plugin.spec.name.clone(),
                    sites,
                    on_failure: plugin.spec.policy,
                    loaded_at_ms: counters.loaded_at_ms,
                    calls: counters.calls.load(Ordering::Relaxed),
                    failures: counters.failures.load(Ordering::Relaxed),
                    last_failure: last,
                }
            })
            .collect()
    }

    /// The configuration the plugins were loaded with.
    pub fn config(&self) -> &PluginsConfig {
        self.host.config()
    }
}

impl Drop for Plugins {
    fn drop(&mut self) {
        drop(self.reloader.take());
    }
}

/// A running plugin, as [`Plugins::status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStatus {
    /// Its name.
    pub name: String,
    /// The sites it runs on (lower case, sorted); `None`: every site.
    pub sites: Option<Vec<String>>,
    /// What happens to an event it fails on.
    pub on_failure: FailurePolicy,
    /// When its current version was loaded, ms since the epoch.
    pub loaded_at_ms: i64,
    /// `enrich` calls since then.
    pub calls: u64,
    /// Failed calls, and events it answered against the contract, since then.
    pub failures: u64,
    /// When it last failed, and how.
    pub last_failure: Option<(i64, FailureKind)>,
}

/// The thread that calls [`Host::reload`] every interval.
#[derive(Debug)]
struct Reloader {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Reloader {
    fn start(host: Arc<Host>, interval: std::time::Duration) -> Result<Self, Error> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("hitkeep-plugin-reload".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    host.reload();
                }
            })
            .map_err(Error::Thread)?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
