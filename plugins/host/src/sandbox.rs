//! What a plugin instance lives in: its store state, a WASI context that grants nothing, the
//! memory limiter, fixed clocks, captured stdout/stderr, and the `log` import.
//!
//! WASI is linked because every Preview 2 toolchain's standard library imports it, but the
//! context gives nothing: no preopened directories, no environment, no arguments, sockets
//! refused (TCP, UDP and name lookups are off, and every address is denied), stdin closed,
//! stdout and stderr captured into a small buffer, and clocks that always read the same
//! value. Sleeping (`subscribe-duration`, `subscribe-instant`) returns at once: time does not
//! pass inside a plugin, so no plugin can block the host in a wait that epoch interruption
//! cannot cut short (it only interrupts guest code).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, StoreContextMut, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamResult, subscribe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::hitkeep::plugin::types::{self as wit, LogLevel};
use crate::bindings::{Enricher, EnricherImports};

/// Bytes of stdout and stderr kept per call; the rest is discarded.
pub(crate) const OUTPUT_CAP: usize = 4 * 1024;
/// Longest `log` message; longer ones are cut.
pub(crate) const LOG_MESSAGE_CAP: usize = 1024;
/// `log` calls honoured per call; further ones are discarded.
pub(crate) const LOG_MESSAGES_PER_CALL: u32 = 32;
/// Largest `get-random-bytes` request (the default, 64 MiB, would be host memory).
const MAX_RANDOM_BYTES: u64 = 64 * 1024;
/// WASI interfaces are registered in the linker under this version of their package;
/// guests importing any 0.2.x version are served by them.
const WASI_CLOCKS_MONOTONIC: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The state of one instance's store.
pub(crate) struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: GuestLimits,
    plugin: Arc<str>,
    logs_this_call: u32,
    /// `log` messages, kept for `hitkeep plugin check` instead of being logged.
    pub(crate) captured_logs: Option<Vec<(LogLevel, String)>>,
    pub(crate) output: CapturedOutput,
}

impl GuestState {
    pub(crate) fn new(plugin: Arc<str>, max_memory_bytes: usize, capture_logs: bool) -> Self {
        let output = CapturedOutput::default();
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(FixedClock)
            .monotonic_clock(FixedClock)
            .max_random_size(MAX_RANDOM_BYTES)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: GuestLimits::new(max_memory_bytes),
            plugin,
            logs_this_call: 0,
            captured_logs: capture_logs.then(Vec::new),
            output,
        }
    }

    /// Resets the per-call budgets before a call.
    pub(crate) fn begin_call(&mut self) {
        self.logs_this_call = 0;
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit::Host for GuestState {}

impl EnricherImports for GuestState {
    fn log(&mut self, level: LogLevel, message: String) {
        self.logs_this_call += 1;
        if self.logs_this_call > LOG_MESSAGES_PER_CALL {
            if self.logs_this_call == LOG_MESSAGES_PER_CALL + 1 {
                metrics::counter!(crate::metrics::LOG_DISCARDED, "plugin" => self.plugin.to_string())
                    .increment(1);
            }
            return;
        }
        let message = truncate(&message, LOG_MESSAGE_CAP);
        if let Some(captured) = &mut self.captured_logs {
            captured.push((level, message.to_string()));
            return;
        }
        let plugin = &*self.plugin;
        match level {
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// `value` cut to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// The linker every plugin is instantiated with: WASI (granting nothing, see the module
/// docs), the sleep overrides, and the contract's `log`.
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    linker.allow_shadowing(true);
    {
        let mut clock = linker.instance(WASI_CLOCKS_MONOTONIC)?;
        clock.func_wrap("subscribe-duration", |store: StoreContextMut<'_, GuestState>, (_,): (u64,)| {
            Ok((ready_pollable(store)?,))
        })?;
        clock.func_wrap("subscribe-instant", |store: StoreContextMut<'_, GuestState>, (_,): (u64,)| {
            Ok((ready_pollable(store)?,))
        })?;
    }
    linker.allow_shadowing(false);
    Enricher::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |state| state)?;
    Ok(linker)
}

fn ready_pollable(mut store: StoreContextMut<'_, GuestState>) -> wasmtime::Result<Resource<DynPollable>> {
    let table = &mut store.data_mut().table;
    let ready = table.push(Ready)?;
    subscribe(table, ready)
}

/// A pollable that is always ready: what a sleep is when time does not pass.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

/// Both clocks: always the same instant (the Unix epoch on the wall clock, 0 on the
/// monotonic one). The contract gives plugins the event's `ts` and no other time.
struct FixedClock;

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// The memory and table limits of one instance, remembering whether the memory limit was
/// hit (a trap is then reported as `memory` rather than `trap`).
pub(crate) struct GuestLimits {
    inner: StoreLimits,
    pub(crate) memory_exceeded: bool,
}

impl GuestLimits {
    fn new(max_memory_bytes: usize) -> Self {
        let inner = StoreLimitsBuilder::new()
            .memory_size(max_memory_bytes)
            .table_elements(100_000)
            .instances(64)
            .memories(16)
            .tables(64)
            .trap_on_grow_failure(true)
            .build();
        Self { inner, memory_exceeded: false }
    }
}

impl ResourceLimiter for GuestLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let result = self.inner.memory_growing(current, desired, maximum);
        if !matches!(result, Ok(true)) {
            self.memory_exceeded = true;
        }
        result
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
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

/// stdout and stderr of one instance: the first [`OUTPUT_CAP`] bytes since the last
/// [`CapturedOutput::take`]; the rest is accepted and discarded, so a chatty guest never
/// sees a write error (Rust's `println!` would panic on one).
#[derive(Clone, Default)]
pub(crate) struct CapturedOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CapturedOutput {
    fn push(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let room = OUTPUT_CAP.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was written since the last call, as text.
    pub(crate) fn take(&self) -> String {
        let mut buffer = self.buffer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let text = String::from_utf8_lossy(&buffer).into_owned();
        buffer.clear();
        text
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped_and_never_refused() {
        let mut output = CapturedOutput::default();
        for _ in 0..10 {
            output.write(bytes::Bytes::from(vec![b'x'; 1000])).unwrap();
        }
        assert_eq!(output.check_write().unwrap(), 64 * 1024);
        assert_eq!(output.take().len(), OUTPUT_CAP);
        assert_eq!(output.take(), "");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
