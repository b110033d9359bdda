//! One loaded plugin: the compiled, pre-instantiated component, its settings, sites, policy
//! and limits, and a small pool of configured instances, each with its own store.
//!
//! An instance serves calls one at a time and goes back to the pool afterwards. One that
//! trapped, ran out of time or memory, or answered with the wrong number of verdicts is
//! dropped instead: the next call gets a fresh instance (instantiated and configured anew).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker};
use wasmtime::{Store, Trap};

use crate::bindings::hitkeep::plugin::types as wit;
use crate::bindings::{Enricher, EnricherPre};
use crate::chain::FailureKind;
use crate::config::{FailurePolicy, Limits};
use crate::engine::deadline_ticks;
use crate::error::LoadError;
use crate::metrics as m;
use crate::sandbox::{GuestState, truncate};

/// An instance is replaced after this many calls, so that a plugin that leaks a little
/// memory per call is renewed before it reaches its limit.
const CALLS_PER_INSTANCE: u32 = 10_000;
/// Longest error detail kept from a plugin (a `configure` error, a panic message).
const DETAIL_CAP: usize = 512;

/// Where a plugin came from and how it runs: everything but the code.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) settings: String,
    /// Lower-case domains, `None` for every site.
    pub(crate) sites: Option<HashSet<String>>,
    pub(crate) policy: FailurePolicy,
    pub(crate) limits: Limits,
}

/// How a call failed.
#[derive(Debug, Clone)]
pub(crate) struct CallFailure {
    pub(crate) kind: FailureKind,
    pub(crate) detail: String,
}

/// Why an instance could not be made.
pub(crate) enum InstantiateError {
    Refused(String),
    Failed(CallFailure),
}

impl From<InstantiateError> for LoadError {
    fn from(error: InstantiateError) -> Self {
        match error {
            InstantiateError::Refused(message) => LoadError::Refused(message),
            InstantiateError::Failed(CallFailure { kind, detail }) => LoadError::Failed { kind, detail },
        }
    }
}

/// What a plugin version did since it was loaded, for the operator's status page.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) loaded_at_ms: i64,
    pub(crate) calls: AtomicU64,
    pub(crate) failures: AtomicU64,
    /// When it last failed and how.
    pub(crate) last_failure: Mutex<Option<(i64, FailureKind)>>,
}

impl Counters {
    /// Counts a failure (a failed call, or an event it answered against the contract).
    pub(crate) fn failed(&self, kind: FailureKind) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((now_ms(), kind));
    }
}

/// Wall-clock time for the status page only (the plugins themselves see no clock).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

/// A loaded plugin.
pub(crate) struct Plugin {
    pub(crate) name: Arc<str>,
    pub(crate) spec: Spec,
    pub(crate) counters: Counters,
    /// Hash of the component's bytes: a file touched but not changed is not reloaded.
    pub(crate) digest: u64,
    pre: EnricherPre<GuestState>,
    idle: Mutex<Vec<Instance>>,
    pool_size: usize,
    capture_logs: bool,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("spec", &self.spec).finish_non_exhaustive()
    }
}

impl Plugin {
    /// Pre-instantiates `component` against the contract and makes (and keeps) one
    /// configured instance, so a plugin that cannot start is refused here.
    pub(crate) fn new(
        linker: &Linker<GuestState>,
        component: &Component,
        digest: u64,
        spec: Spec,
        pool_size: usize,
        capture_logs: bool,
    ) -> Result<Self, LoadError> {
        let pre =
            linker.instantiate_pre(component).map_err(|error| LoadError::Contract(format!("{error:#}")))?;
        let pre = EnricherPre::new(pre).map_err(|error| LoadError::Contract(format!("{error:#}")))?;
        let plugin = Self {
            name: Arc::from(spec.name.as_str()),
            spec,
            counters: Counters { loaded_at_ms: now_ms(), ..Counters::default() },
            digest,
            pre,
            idle: Mutex::new(Vec::new()),
            pool_size: pool_size.max(1),
            capture_logs,
        };
        let instance = plugin.instantiate()?;
        plugin.idle().push(instance);
        Ok(plugin)
    }

    /// An idle instance, taken out of the pool.
    pub(crate) fn take_idle(&self) -> Option<Instance> {
        self.idle().pop()
    }

    /// True when the plugin runs on events of `domain`.
    pub(crate) fn applies_to(&self, domain: &str) -> bool {
        match &self.spec.sites {
            None => true,
            Some(sites) => sites.contains(domain),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // An instance is pushed or popped whole; a panic elsewhere cannot leave one half-made.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new instance, configured.
    pub(crate) fn instantiate(&self) -> Result<Instance, InstantiateError> {
        let state = GuestState::new(self.name.clone(), self.spec.limits.max_memory_bytes, self.capture_logs);
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks(self.spec.limits.configure_timeout));
        store.data_mut().begin_call();
        let timeout = self.spec.limits.configure_timeout;
        let enricher = match self.pre.instantiate(&mut store) {
            Ok(enricher) => enricher,
            Err(error) => return Err(InstantiateError::Failed(classify(&store, &error, timeout))),
        };
        let configured = enricher.call_configure(&mut store, &self.spec.settings);
        let output = store.data().output.take();
        if !output.is_empty() {
            tracing::debug!(
                plugin = &*self.name,
                output = truncate(&output, DETAIL_CAP),
                "plugin output in configure"
            );
        }
        match configured {
            Ok(Ok(())) => Ok(Instance { store, enricher, calls: 0 }),
            Ok(Err(message)) => Err(InstantiateError::Refused(truncate(&message, DETAIL_CAP).to_string())),
            Err(error) => {
                Err(InstantiateError::Failed(with_output(classify(&store, &error, timeout), &output)))
            }
        }
    }

    /// Runs `enrich` on `events` (at most 1,000) with an instance from the pool: exactly
    /// one verdict per event, or why not.
    pub(crate) fn enrich(&self, events: &[wit::EventParam<'_>]) -> Result<Vec<wit::Verdict>, CallFailure> {
        let pooled = self.idle().pop();
        let mut instance = match pooled {
            Some(instance) => instance,
            None => self.instantiate().map_err(|error| match error {
                InstantiateError::Failed(failure) => failure,
                // It configured before with the same settings; refusing now is a fault.
                InstantiateError::Refused(message) => CallFailure {
                    kind: FailureKind::Trap,
                    detail: format!("configure refused its settings on a new instance: {message}"),
                },
            })?,
        };
        let plugin = self.name.to_string();
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(m::CALLS, "plugin" => plugin.clone()).increment(1);
        metrics::counter!(m::EVENTS, "plugin" => plugin.clone()).increment(events.len() as u64);
        let started = Instant::now();
        let result = instance.enrich(events, self.spec.limits.timeout);
        metrics::histogram!(m::CALL_SECONDS, "plugin" => plugin).record(started.elapsed().as_secs_f64());
        if result.is_ok() {
            let output = instance.take_output();
            if !output.is_empty() {
                tracing::debug!(
                    plugin = &*self.name,
                    output = truncate(&output, DETAIL_CAP),
                    "plugin output"
                );
            }
            if instance.calls < CALLS_PER_INSTANCE {
                let mut idle = self.idle();
                if idle.len() < self.pool_size {
                    idle.push(instance);
                }
            }
        }
        // Any other outcome drops the instance here: a fresh one serves the next call.
        result
    }
}

/// One instance of a plugin with its store.
pub(crate) struct Instance {
    store: Store<GuestState>,
    enricher: Enricher,
    calls: u32,
}

impl Instance {
    /// One `enrich` call under `timeout`. The instance must not be reused after an error
    /// (or a wrong number of verdicts).
    pub(crate) fn enrich(
        &mut self,
        events: &[wit::EventParam<'_>],
        timeout: Duration,
    ) -> Result<Vec<wit::Verdict>, CallFailure> {
        self.calls += 1;
        self.store.set_epoch_deadline(deadline_ticks(timeout));
        self.store.data_mut().begin_call();
        match self.enricher.call_enrich(&mut self.store, events) {
            Ok(verdicts) if verdicts.len() == events.len() => Ok(verdicts),
            Ok(verdicts) => Err(CallFailure {
                kind: FailureKind::BadOutput,
                detail: format!("{} verdicts for {} events", verdicts.len(), events.len()),
            }),
            Err(error) => {
                let output = self.store.data().output.take();
                Err(with_output(classify(&self.store, &error, timeout), &output))
            }
        }
    }

    /// What the guest wrote to stdout and stderr since the last look.
    pub(crate) fn take_output(&self) -> String {
        self.store.data().output.take()
    }

    /// `log` messages kept by an instance made for `check_file`.
    pub(crate) fn take_logs(&mut self) -> Vec<(wit::LogLevel, String)> {
        self.store.data_mut().captured_logs.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// What kind of failure a guest error is.
fn classify(store: &Store<GuestState>, error: &wasmtime::Error, timeout: Duration) -> CallFailure {
    let limits = &store.data().limits;
    if limits.memory_exceeded {
        return CallFailure { kind: FailureKind::Memory, detail: "memory limit reached".to_string() };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallFailure {
            kind: FailureKind::Timeout,
            detail: format!("deadline of {} ms passed", timeout.as_millis()),
        },
        Some(trap) => CallFailure { kind: FailureKind::Trap, detail: trap.to_string() },
        None => match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => {
                CallFailure { kind: FailureKind::Trap, detail: format!("exited with status {}", exit.0) }
            }
            None => CallFailure {
                kind: FailureKind::Trap,
                detail: truncate(&error.to_string(), DETAIL_CAP).to_string(),
            },
        },
    }
}

/// Adds the end of what the guest printed (a panic message) to a failure's detail.
fn with_output(mut failure: CallFailure, output: &str) -> CallFailure {
    let output = output.trim();
    if !output.is_empty() && failure.kind == FailureKind::Trap {
        let start = output.len().saturating_sub(DETAIL_CAP);
        let start = (start..output.len()).find(|&i| output.is_char_boundary(i)).unwrap_or(output.len());
        let tail = output[start..].replace('\n', " ");
        failure.detail = format!("{}; output: {tail}", failure.detail);
    }
    failure
}
