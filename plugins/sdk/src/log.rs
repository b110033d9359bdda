//! The host's log, through the contract's `log` import. Each message is tagged with the
//! plugin's name; the host caps messages at 1 KiB and 32 per call. Never log personal data.
//!
//! Compiled natively (a plugin's unit tests), messages go to stderr instead.

use crate::LogLevel;

/// Logs `message` at `level`.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(LogLevel::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(LogLevel::Error, message);
}
