//! The WASM runtime: one engine, the component compiled and pre-instantiated once, and an
//! instance with its own `Store`, memory limits and CPU deadline for every request.
//!
//! [`ComponentRuntime`] is the engine, the [`ProxyPre`] and the epoch ticker: compiled once,
//! shareable between hosts. [`Instances`] belongs to one host (it holds the host's sink): it
//! instantiates the component per request, or, with
//! [`RuntimeLimits::max_requests_per_instance`] above 1, keeps finished instances warm and
//! serves further requests with them (see the README for the trade-off).
//!
//! A ticker thread advances the engine's epoch every millisecond. Guest code yields back to
//! tokio at every tick it is running through (so a busy guest never holds a worker thread) and
//! is trapped once it has run through `cpu_deadline` worth of ticks: a looping guest costs its
//! request a 500 and nothing else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, StoreLimits,
    StoreLimitsBuilder, Trap, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::metrics as m;
use crate::sink::{BatchSink, SinkHooks};

/// How long one epoch tick lasts.
const EPOCH_TICK: Duration = Duration::from_millis(1);
/// How long a finished guest may take to close its response body.
const BODY_GRACE: Duration = Duration::from_millis(100);

/// Limits on each component instance.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeLimits {
    /// Linear memory of one instance (all its memories together).
    pub max_memory_bytes: usize,
    /// CPU time guest code may use for one request (counted in 1 ms epoch ticks); past it the
    /// guest traps and the request gets a 500.
    pub cpu_deadline: Duration,
    /// Wall-clock bound on a whole component call, waits included.
    pub wall_timeout: Duration,
    /// Instances alive at once (the size of the instance pool); further requests wait.
    pub max_concurrency: u32,
    /// Largest response body the component may produce.
    pub max_response_bytes: usize,
    /// Requests one instance serves before it is dropped. 1 (the default): a fresh instance
    /// for every request. Above 1: a finished instance is kept and serves the next request,
    /// which saves its instantiation and teardown; an instance that trapped, or that was
    /// created for an older configuration, is never reused. A host takes this one from its own
    /// [`EdgeConfig::runtime`](crate::EdgeConfig::runtime), also when it shares a runtime.
    pub max_requests_per_instance: u32,
    /// Component calls carrying `/api/event` requests at once (see `group`): events that
    /// arrive while every lane is busy wait and go together in the next call. Default: half
    /// the CPUs, at least 1, leaving the other half to HTTP; fewer lanes make larger groups
    /// (cheaper per event), more lanes shorter waits.
    pub event_lanes: u32,
    /// Events waiting for a free lane at most; more are refused with `503` and
    /// `Retry-After: 1` until the queue drains (the queue also holds at most 16 MiB).
    pub event_queue_limit: u32,
}

/// The default [`RuntimeLimits::event_lanes`]: half the CPUs, at least 1.
pub fn default_event_lanes() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cpus / 2).unwrap_or(u32::MAX).max(1)
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 32 * 1024 * 1024,
            cpu_deadline: Duration::from_millis(50),
            wall_timeout: Duration::from_secs(5),
            max_concurrency: 128,
            max_response_bytes: 64 * 1024,
            max_requests_per_instance: 1,
            event_lanes: default_event_lanes(),
            event_queue_limit: 4096,
        }
    }
}

/// Why a component call produced no response.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Guest code ran past its deadline and was interrupted.
    #[error("component ran past its deadline")]
    Deadline,
    /// The guest trapped (out of memory, a panic, unreachable code, ...).
    #[error("component trapped: {0}")]
    Trap(String),
    /// The guest returned without setting a response.
    #[error("component set no response")]
    NoResponse,
    /// The guest answered with an error code instead of a response.
    #[error("component answered with an error: {0}")]
    Guest(String),
    /// The response body was too large or broken.
    #[error("component response body: {0}")]
    Body(String),
    /// The call took longer than the wall-clock bound.
    #[error("component call timed out")]
    WallTimeout,
    /// The host could not set the call up.
    #[error("component host error: {0}")]
    Host(String),
}

impl CallError {
    /// Label for `hitkeep_edge_component_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Deadline => "deadline",
            Self::Trap(_) => "trap",
            Self::NoResponse => "no_response",
            Self::Guest(_) => "guest_error",
            Self::Body(_) => "body",
            Self::WallTimeout => "wall_timeout",
            Self::Host(_) => "host",
        }
    }

    fn from_guest(error: wasmtime::Error) -> Self {
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            Self::Deadline
        } else {
            // `{:#}` is the trap and its context; it holds no request data.
            Self::Trap(format!("{error:#}"))
        }
    }
}

/// The compiled collector, ready to be instantiated. Cheap to share (`Arc`); several hosts
/// may use one.
pub struct ComponentRuntime {
    engine: Engine,
    pre: ProxyPre<RequestState>,
    limits: RuntimeLimits,
    permits: Arc<Semaphore>,
    ticker: Option<EpochTicker>,
}

impl std::fmt::Debug for ComponentRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentRuntime").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl ComponentRuntime {
    /// Compiles a `wasi:http/proxy` component (this takes a while: do it once).
    pub fn new(wasm: &[u8], limits: RuntimeLimits) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Per-request instantiation must be cheap: the pooling allocator keeps instance slots
        // (memories, tables, fiber stacks) mapped and reuses them; copy-on-write memory
        // images make a fresh instance's data segments free. The first 2 MiB of a memory
        // slot and 128 KiB of a fiber stack are kept resident and cleared with memset
        // instead of madvise: madvise makes the kernel flush the TLBs of every core running
        // this process (IPIs were the top of the profile), and the faults that follow cost
        // more than the memset. Measured in-process, sequential: 330 -> 240 µs per request.
        // (`pagemap_scan`, clearing only dirty pages, saved CPU but lowered throughput under
        // concurrency here; left off.)
        let concurrency = limits.max_concurrency.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(concurrency)
            .total_core_instances(concurrency * 8)
            .total_memories(concurrency * 2)
            .total_tables(concurrency * 4)
            .total_stacks(concurrency)
            .max_core_instances_per_component(32)
            .max_memories_per_component(2)
            .max_tables_per_component(4)
            .max_memory_size(limits.max_memory_bytes)
            .linear_memory_keep_resident(2 * 1024 * 1024)
            .async_stack_keep_resident(128 * 1024)
            .table_keep_resident(64 * 1024);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        config.memory_init_cow(true);
        let engine = Engine::new(&config)?;
        let component = Component::new(&engine, wasm)?;
        let mut linker = Linker::<RequestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // The collector reads its settings from `wasi:config/store` first (Spin's variables
        // arrive there). This host passes them in the environment, per request, so its
        // store is empty.
        wasmtime_wasi_config::add_to_linker(&mut linker, |_| WasiConfig::from(&*NO_CONFIG))?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Self {
            engine,
            pre,
            limits,
            permits: Arc::new(Semaphore::new(concurrency as usize)),
            ticker: Some(ticker),
        })
    }

    /// The limits this runtime applies.
    pub fn limits(&self) -> RuntimeLimits {
        self.limits
    }
}

impl Drop for ComponentRuntime {
    fn drop(&mut self) {
        drop(self.ticker.take());
    }
}

/// The environment an instance is created with. Instances are reused only for requests with
/// the same configuration (the same `Arc`).
pub(crate) struct GuestEnv<'a> {
    pub vars: &'a [(&'a str, &'a str)],
    pub config: Option<&'a Arc<str>>,
}

/// One instance and its store.
struct Instance {
    store: Store<RequestState>,
    proxy: Proxy,
    config: Option<Arc<str>>,
    served: u32,
}

/// One host's instances of the component.
pub(crate) struct Instances {
    runtime: Arc<ComponentRuntime>,
    sink: Arc<dyn BatchSink>,
    max_requests_per_instance: u32,
    idle: Mutex<Vec<Instance>>,
}

impl std::fmt::Debug for Instances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instances").field("runtime", &self.runtime).finish_non_exhaustive()
    }
}

impl Instances {
    pub(crate) fn new(
        runtime: Arc<ComponentRuntime>,
        sink: Arc<dyn BatchSink>,
        max_requests_per_instance: u32,
    ) -> Self {
        Self {
            runtime,
            sink,
            max_requests_per_instance: max_requests_per_instance.max(1),
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn runtime(&self) -> &Arc<ComponentRuntime> {
        &self.runtime
    }

    /// Runs one request through the component; its response body may hold at most
    /// `max_response_bytes`.
    pub(crate) async fn call(
        &self,
        request: http::Request<Full<Bytes>>,
        env: GuestEnv<'_>,
        max_response_bytes: usize,
    ) -> Result<http::Response<Bytes>, CallError> {
        let started = Instant::now();
        let limits = self.runtime.limits;
        let call = self.call_inner(request, env, max_response_bytes);
        let result = tokio::time::timeout(limits.wall_timeout, call).await;
        let result = result.unwrap_or(Err(CallError::WallTimeout));
        metrics::histogram!(m::COMPONENT_SECONDS).record(started.elapsed().as_secs_f64());
        if let Err(error) = &result {
            metrics::counter!(m::COMPONENT_ERRORS, "reason" => error.reason()).increment(1);
        }
        result
    }

    async fn call_inner(
        &self,
        request: http::Request<Full<Bytes>>,
        env: GuestEnv<'_>,
        max_response_bytes: usize,
    ) -> Result<http::Response<Bytes>, CallError> {
        let runtime = &self.runtime;
        let _permit = runtime.permits.acquire().await.map_err(|e| CallError::Host(e.to_string()))?;
        let mut instance = match self.take_idle(env.config) {
            Some(instance) => instance,
            None => self.instantiate(&env).await?,
        };
        instance.served += 1;
        instance.store.data_mut().ticks_left = ticks(runtime.limits.cpu_deadline);
        instance.store.set_epoch_deadline(1);

        let (sender, mut receiver) = tokio::sync::oneshot::channel();
        let incoming = instance
            .store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| CallError::Host(e.to_string()))?;
        let outparam = instance
            .store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|e| CallError::Host(e.to_string()))?;

        // The guest runs beside us in this task: its response body streams to us while it is
        // still running. Dropping `guest` (an error, the client gone, the wall timeout) drops
        // the store, which frees the instance slot and closes every channel to us.
        let guest = async move {
            let result = instance
                .proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut instance.store, incoming, outparam)
                .await;
            (instance, result)
        };
        let mut guest = std::pin::pin!(guest);
        let mut finished: Option<(Instance, wasmtime::Result<()>)> = None;

        let head = tokio::select! {
            head = &mut receiver => head.ok(),
            done = &mut guest => {
                // The guest sets its response synchronously: if it did, it is there now.
                let head = receiver.try_recv().ok();
                finished = Some(done);
                head
            }
        };
        let response = match head {
            Some(Ok(response)) => response,
            Some(Err(code)) => return Err(CallError::Guest(format!("{code:?}"))),
            None => {
                return Err(match finished {
                    Some((_, Err(error))) => CallError::from_guest(error),
                    _ => CallError::NoResponse,
                });
            }
        };
        if let Some((_, Err(error))) = finished {
            return Err(CallError::from_guest(error));
        }

        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_response_bytes).collect();
        let mut body = std::pin::pin!(body);
        let collected = loop {
            tokio::select! {
                collected = &mut body => break collected,
                done = &mut guest, if finished.is_none() => {
                    if let (_, Err(error)) = done {
                        // Dropping the store ends the body; the trap says why.
                        return Err(CallError::from_guest(error));
                    }
                    finished = Some(done);
                }
                () = tokio::time::sleep(BODY_GRACE), if finished.is_some() => {
                    return Err(CallError::Body("the guest returned without finishing its response body".into()));
                }
            }
        };
        let body = collected.map_err(|e| CallError::Body(e.to_string()))?.to_bytes();
        let (instance, result) = match finished {
            Some(done) => done,
            None => guest.await,
        };
        match result {
            Ok(()) => self.release(instance),
            Err(error) => return Err(CallError::from_guest(error)),
        }
        Ok(http::Response::from_parts(parts, body))
    }

    fn take_idle(&self, config: Option<&Arc<str>>) -> Option<Instance> {
        let mut idle = self.idle.lock().expect("instances lock");
        // Instances made for another configuration are of no further use.
        idle.retain(|instance| same_config(instance.config.as_ref(), config));
        idle.pop()
    }

    fn release(&self, instance: Instance) {
        let reuse = self.max_requests_per_instance;
        metrics::histogram!(m::COMPONENT_MEMORY).record(instance.store.data().limits.peak_memory as f64);
        if instance.served < reuse {
            self.idle.lock().expect("instances lock").push(instance);
        }
    }

    async fn instantiate(&self, env: &GuestEnv<'_>) -> Result<Instance, CallError> {
        let runtime = &self.runtime;
        let mut wasi = WasiCtxBuilder::new();
        wasi.envs(env.vars).allow_ip_name_lookup(false).allow_tcp(false).allow_udp(false);
        let state = RequestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: GuestLimits {
                inner: StoreLimitsBuilder::new()
                    .memory_size(runtime.limits.max_memory_bytes)
                    .memories(2)
                    .instances(32)
                    .tables(8)
                    .table_elements(100_000)
                    .build(),
                peak_memory: 0,
            },
            hooks: SinkHooks::new(self.sink.clone()),
            ticks_left: ticks(runtime.limits.cpu_deadline),
        };
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut context| {
            let state = context.data_mut();
            state.ticks_left = state.ticks_left.saturating_sub(1);
            if state.ticks_left == 0 { Ok(UpdateDeadline::Interrupt) } else { Ok(UpdateDeadline::Yield(1)) }
        });
        let proxy = runtime.pre.instantiate_async(&mut store).await.map_err(CallError::from_guest)?;
        Ok(Instance { store, proxy, config: env.config.cloned(), served: 0 })
    }
}

/// The configuration store of every instance: empty (see [`ComponentRuntime::new`]).
static NO_CONFIG: LazyLock<WasiConfigVariables> = LazyLock::new(WasiConfigVariables::new);

fn same_config(a: Option<&Arc<str>>, b: Option<&Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn ticks(budget: Duration) -> u64 {
    (budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// The data of each instance's `Store`.
pub(crate) struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: GuestLimits,
    hooks: SinkHooks,
    /// Epoch ticks the guest may still run through in this request.
    ticks_left: u64,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// [`StoreLimits`], plus the largest linear memory the instance has had (reported after each
/// request as `hitkeep_edge_component_memory_bytes`).
struct GuestLimits {
    inner: StoreLimits,
    peak_memory: usize,
}

impl ResourceLimiter for GuestLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hitkeep-epoch".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self { stop, thread: Some(thread) }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
