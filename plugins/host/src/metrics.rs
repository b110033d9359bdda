//! The host's metrics (through the `metrics` facade; `hitkeep serve` exports them on
//! `/metrics`). Every series carries the `plugin` label; the names are listed in
//! `plugins/README.md`.

/// `enrich` calls made.
pub const CALLS: &str = "hitkeep_plugin_calls_total";
/// Events handed to `enrich`.
pub const EVENTS: &str = "hitkeep_plugin_events_total";
/// Duration of `enrich` calls, in seconds (histogram).
pub const CALL_SECONDS: &str = "hitkeep_plugin_call_seconds";
/// Events a plugin changed.
pub const CHANGED: &str = "hitkeep_plugin_changed_total";
/// Events a plugin dropped.
pub const DROPS: &str = "hitkeep_plugin_drops_total";
/// Failures, by `kind`: `trap`, `timeout`, `memory` (one per failed call) and `bad_output`
/// (one per call with the wrong number of verdicts, or per refused event).
pub const ERRORS: &str = "hitkeep_plugin_errors_total";
/// Events a failure policy was applied to, by `policy` (`pass`, `dead_letter`).
pub const FAILED_EVENTS: &str = "hitkeep_plugin_failed_events_total";
/// Loads and reloads, by `outcome` (`loaded`, `failed`, `removed`).
pub const RELOADS: &str = "hitkeep_plugin_reloads_total";
/// Plugins loaded and running (gauge, no `plugin` label).
pub const LOADED: &str = "hitkeep_plugins_loaded";
/// Calls whose `log` messages went over the per-call budget.
pub const LOG_DISCARDED: &str = "hitkeep_plugin_log_discarded_total";
