//! The engine all plugins of the process share, the thread that makes its deadlines work,
//! and the cache of compiled components.
//!
//! Deadlines use epoch interruption: a ticker thread advances the engine's epoch every
//! millisecond, and a store whose deadline (in ticks) has passed traps at the next check in
//! guest code (function entries and loop back-edges). That costs far less than fuel
//! metering, which counts every instruction. The ticker runs while any [`Ticking`] guard is
//! alive (one per [`crate::Plugins`] and per [`crate::check_file`] call).
//!
//! Compiling a component is the slow part of loading (Cranelift, about a second per MiB of
//! WebAssembly in release builds, far more in debug builds), so compiled components are kept,
//! keyed by their exact bytes, for the last few files loaded: a reload of unchanged bytes, a
//! second `Plugins` in the same process, or a plugin that flips back to an earlier version
//! costs nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::error::{Error, LoadError};

/// How long one epoch tick lasts.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);
/// Compiled components kept.
const COMPILED_CACHE_ENTRIES: usize = 16;

/// The process's plugin engine: the component model, epoch interruption, no async support
/// (the host calls plugins synchronously, from the caller's thread).
pub(crate) fn shared() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        Engine::new(&config).map_err(|error| format!("{error:#}"))
    });
    engine.as_ref().map_err(|error| Error::Engine(error.clone()))
}

/// Ticks that give a call at least `timeout` (the first tick may come at once).
pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
    u64::try_from(ticks).unwrap_or(u64::MAX / 2).saturating_add(1)
}

/// Keeps the epoch ticker running while alive.
#[derive(Debug)]
pub(crate) struct Ticking(());

struct TickerState {
    users: usize,
    ticker: Option<EpochTicker>,
}

static TICKER: Mutex<TickerState> = Mutex::new(TickerState { users: 0, ticker: None });

fn ticker_state() -> std::sync::MutexGuard<'static, TickerState> {
    TICKER.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Ticking {
    pub(crate) fn start(engine: &Engine) -> Result<Self, Error> {
        let mut state = ticker_state();
        if state.ticker.is_none() {
            state.ticker = Some(EpochTicker::start(engine.clone()).map_err(Error::Thread)?);
        }
        state.users += 1;
        Ok(Self(()))
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        let stopped = {
            let mut state = ticker_state();
            state.users -= 1;
            if state.users == 0 { state.ticker.take() } else { None }
        };
        drop(stopped);
    }
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("hitkeep-plugin-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
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

/// Compiles `bytes` with the shared engine, or takes the compiled component from the cache.
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    static COMPILED: Mutex<Vec<(Arc<[u8]>, Component)>> = Mutex::new(Vec::new());
    let cache = || COMPILED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    {
        let mut cache = cache();
        if let Some(position) = cache.iter().position(|(cached, _)| **cached == *bytes) {
            let entry = cache.remove(position);
            let component = entry.1.clone();
            cache.push(entry);
            return Ok(component);
        }
    }
    // Compiled outside the lock: other loads need not wait for this one.
    let component =
        Component::new(engine, bytes).map_err(|error| LoadError::Compile(format!("{error:#}")))?;
    let mut cache = cache();
    if cache.len() >= COMPILED_CACHE_ENTRIES {
        cache.remove(0);
    }
    cache.push((Arc::from(bytes), component.clone()));
    Ok(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_add_a_tick() {
        assert_eq!(deadline_ticks(Duration::from_millis(100)), 101);
        assert_eq!(deadline_ticks(Duration::from_micros(1500)), 3);
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
        assert!(deadline_ticks(Duration::MAX) > 1 << 40);
    }

    #[test]
    fn garbage_is_not_a_component() {
        let engine = shared().unwrap();
        assert!(matches!(compile(engine, b"not wasm"), Err(LoadError::Compile(_))));
        // A core module (the 8-byte empty one) is WebAssembly but not a component.
        let error = compile(engine, b"\0asm\x01\0\0\0").unwrap_err();
        assert!(matches!(error, LoadError::Compile(_)), "{error}");
    }
}
