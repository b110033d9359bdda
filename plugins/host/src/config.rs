//! What to load and how: the plugins directory, per-plugin entries (order, settings, sites,
//! failure policy, limits) and the host's defaults. Deserializable, so `hitkeep serve` reads
//! it straight from its TOML configuration.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Longest plugin name (it is a metric label and part of log lines).
pub const MAX_PLUGIN_NAME_LEN: usize = 64;

/// The plugins to run and the host's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// A directory of plugins: every `*.wasm` file in it is a plugin named after the file
    /// (`url-normalizer.wasm` is `url-normalizer`). Files whose name starts with `.` are
    /// ignored, so a plugin can be written under a hidden name and renamed into place.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Entries for plugins, in the order they run. An entry names a file of `dir` (or gives
    /// its own `path`) and sets its settings, sites and policy. Files of `dir` without an
    /// entry run after these, in file-name order, with the defaults.
    #[serde(default)]
    pub plugins: Vec<PluginConfig>,
    /// How often the files are checked for changes, in milliseconds; 0 turns hot reload off.
    #[serde(default = "default_reload_interval_ms")]
    pub reload_interval_ms: u64,
    /// Deadline of one `enrich` call (at most 1,000 events), in milliseconds, unless the
    /// plugin's entry sets its own.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Deadline of instantiating a plugin and calling its `configure`, in milliseconds.
    #[serde(default = "default_configure_timeout_ms")]
    pub configure_timeout_ms: u64,
    /// Linear memory of one plugin instance, in MiB, unless the plugin's entry sets its own.
    #[serde(default = "default_max_memory_mb")]
    pub max_memory_mb: u64,
    /// Idle instances kept per plugin, so that concurrent batches do not wait for each
    /// other; 0 means one per CPU (at most 8). More concurrent callers get extra, short-lived
    /// instances.
    #[serde(default)]
    pub instances: usize,
}

fn default_reload_interval_ms() -> u64 {
    1_000
}
fn default_timeout_ms() -> u64 {
    100
}
fn default_configure_timeout_ms() -> u64 {
    1_000
}
fn default_max_memory_mb() -> u64 {
    64
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: None,
            plugins: Vec::new(),
            reload_interval_ms: default_reload_interval_ms(),
            timeout_ms: default_timeout_ms(),
            configure_timeout_ms: default_configure_timeout_ms(),
            max_memory_mb: default_max_memory_mb(),
            instances: 0,
        }
    }
}

impl PluginsConfig {
    /// Every `*.wasm` file of `dir`, with the defaults.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: Some(dir.into()), ..Self::default() }
    }

    /// The given entries, with the defaults.
    pub fn from_plugins(plugins: Vec<PluginConfig>) -> Self {
        Self { plugins, ..Self::default() }
    }

    /// True when there is nothing to load: no directory and no entries.
    pub fn is_empty(&self) -> bool {
        self.dir.is_none() && self.plugins.is_empty()
    }

    /// The hot-reload interval, `None` when hot reload is off.
    pub fn reload_interval(&self) -> Option<Duration> {
        (self.reload_interval_ms > 0).then(|| Duration::from_millis(self.reload_interval_ms))
    }

    pub(crate) fn instances_per_plugin(&self) -> usize {
        match self.instances {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8),
            n => n,
        }
    }

    pub(crate) fn limits_for(&self, entry: Option<&PluginConfig>) -> Limits {
        let timeout_ms = entry.and_then(|e| e.timeout_ms).unwrap_or(self.timeout_ms);
        let memory_mb = entry.and_then(|e| e.max_memory_mb).unwrap_or(self.max_memory_mb);
        Limits {
            timeout: Duration::from_millis(timeout_ms.max(1)),
            configure_timeout: Duration::from_millis(self.configure_timeout_ms.max(1)),
            max_memory_bytes: usize::try_from(memory_mb.max(1).saturating_mul(1024 * 1024))
                .unwrap_or(usize::MAX),
        }
    }
}

/// One plugin's entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The plugin's name: letters, digits, `-`, `_` and `.`, at most 64 bytes. Without a
    /// `path` it names the file `<dir>/<name>.wasm`.
    pub name: String,
    /// The component's file, when it is not `<dir>/<name>.wasm`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Settings handed to the plugin's `configure` as JSON; `{}` when absent.
    #[serde(default = "empty_settings")]
    pub settings: serde_json::Value,
    /// Domains of the sites the plugin runs on; absent means every site.
    #[serde(default)]
    pub sites: Option<Vec<String>>,
    /// What happens to events when the plugin fails on them.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Deadline of one `enrich` call, in milliseconds (default: the host's).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Linear memory of one instance, in MiB (default: the host's).
    #[serde(default)]
    pub max_memory_mb: Option<u64>,
    /// False keeps a file of the plugins directory from running without deleting it.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn empty_settings() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}
fn enabled() -> bool {
    true
}

impl PluginConfig {
    /// An entry for the component at `path`, with the defaults.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self { path: Some(path.into()), ..Self::named(name) }
    }

    /// An entry for `<dir>/<name>.wasm`, with the defaults.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: None,
            settings: empty_settings(),
            sites: None,
            on_failure: FailurePolicy::default(),
            timeout_ms: None,
            max_memory_mb: None,
            enabled: true,
        }
    }

    /// With these settings.
    pub fn settings(mut self, settings: serde_json::Value) -> Self {
        self.settings = settings;
        self
    }

    /// Only on these sites.
    pub fn sites<S: Into<String>>(mut self, sites: impl IntoIterator<Item = S>) -> Self {
        self.sites = Some(sites.into_iter().map(Into::into).collect());
        self
    }

    /// With this failure policy.
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.on_failure = policy;
        self
    }

    /// With this call deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// With this memory limit, in MiB.
    pub fn max_memory_mb(mut self, mb: u64) -> Self {
        self.max_memory_mb = Some(mb);
        self
    }
}

/// What happens to the events of a call that fails (a trap, a timeout, the memory limit) or
/// to an event the plugin answered badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// The events go on unchanged, as if the plugin had not been there (the default: a
    /// broken enrichment must not cost data).
    #[default]
    Pass,
    /// The events are taken out of the batch and handed to the caller, which stores them as
    /// dead letters for an operator to inspect (for plugins whose output must not be
    /// skipped, such as a scrubber of personal data).
    DeadLetter,
}

impl FailurePolicy {
    /// The policy's name in configuration and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::DeadLetter => "dead_letter",
        }
    }
}

/// The limits one plugin runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deadline of one `enrich` call.
    pub timeout: Duration,
    /// Deadline of instantiation and `configure`.
    pub configure_timeout: Duration,
    /// Linear memory of one instance, in bytes (each of its memories).
    pub max_memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        PluginsConfig::default().limits_for(None)
    }
}

/// Checks a plugin name: it becomes a metric label and a file name.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_PLUGIN_NAME_LEN {
        return Err(format!("plugin name `{name}` must be 1 to {MAX_PLUGIN_NAME_LEN} bytes long"));
    }
    if name.starts_with('.')
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "plugin name `{name}` may hold only letters, digits, `-`, `_` and `.`, and must not start with `.`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_toml_shape_hitkeep_serve_uses() {
        let json = serde_json::json!({
            "dir": "/etc/hitkeep/plugins",
            "timeout_ms": 50,
            "plugins": [
                {"name": "url-normalizer", "settings": {"routes": ["/blog/:slug"]}, "sites": ["example.com"]},
                {"name": "scrubber", "path": "/opt/scrubber.wasm", "on_failure": "dead_letter", "max_memory_mb": 16},
            ],
        });
        let config: PluginsConfig = serde_json::from_value(json).unwrap();
        assert_eq!(config.plugins.len(), 2);
        assert_eq!(config.plugins[0].sites.as_deref(), Some(&["example.com".to_string()][..]));
        assert_eq!(config.plugins[1].on_failure, FailurePolicy::DeadLetter);
        assert_eq!(config.plugins[0].settings["routes"][0], "/blog/:slug");
        assert_eq!(config.plugins[1].settings, serde_json::json!({}));
        let limits = config.limits_for(Some(&config.plugins[1]));
        assert_eq!(limits.timeout, Duration::from_millis(50));
        assert_eq!(limits.max_memory_bytes, 16 * 1024 * 1024);
        assert_eq!(config.reload_interval(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let error = serde_json::from_value::<PluginConfig>(serde_json::json!({"name": "x", "setings": {}}));
        assert!(error.is_err());
        let error = serde_json::from_value::<FailurePolicy>(serde_json::json!("drop"));
        assert!(error.is_err());
    }

    #[test]
    fn plugin_names_are_checked() {
        assert!(check_name("url-normalizer").is_ok());
        assert!(check_name("v1.2_x").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(".hidden").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name(&"a".repeat(65)).is_err());
    }
}
