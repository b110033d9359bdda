//! The shared state behind [`crate::Plugins`]: the engine, the linker, the current chain,
//! and loading: at start (every plugin must load) and on reload (a plugin whose new file
//! fails keeps its old version).

use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::chain::Chain;
use crate::config::{PluginsConfig, check_name};
use crate::engine::{Ticking, compile};
use crate::error::{Error, LoadError};
use crate::metrics as m;
use crate::plugin::{Plugin, Spec};
use crate::sandbox::{GuestState, linker};

/// What a reload changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// Plugins loaded anew (new files, or new versions that replaced the old ones).
    pub loaded: Vec<String>,
    /// Plugins whose new file failed to load, with the reason; their old version (if any)
    /// keeps running.
    pub failed: Vec<(String, String)>,
    /// Plugins no longer running because their file left the plugins directory.
    pub removed: Vec<String>,
}

impl ReloadReport {
    /// True when the reload changed nothing and nothing failed.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty() && self.failed.is_empty() && self.removed.is_empty()
    }
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Renaming a new file into place changes the inode even when size and time agree.
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        if !metadata.is_file() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
        }
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Self { len: metadata.len(), modified: metadata.modified().ok(), inode })
    }
}

pub(crate) struct Host {
    engine: &'static Engine,
    linker: Linker<GuestState>,
    config: PluginsConfig,
    chain: RwLock<Arc<Chain>>,
    /// The stamp of each plugin's file when it was last looked at (loaded or failed), so
    /// that an unchanged file is not read again and a broken one is not retried until it
    /// changes. The lock also keeps two reloads from running at once.
    stamps: Mutex<HashMap<String, FileStamp>>,
    _ticking: Ticking,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Host {
    /// Sets up the engine and loads every plugin; any that fails is an error.
    pub(crate) fn start(config: PluginsConfig) -> Result<Self, Error> {
        let engine = crate::engine::shared()?;
        let linker = linker(engine).map_err(|error| Error::Engine(format!("{error:#}")))?;
        let ticking = Ticking::start(engine)?;
        let host = Self {
            engine,
            linker,
            config,
            chain: RwLock::new(Arc::new(Chain::default())),
            stamps: Mutex::new(HashMap::new()),
            _ticking: ticking,
        };
        let specs = resolve(&host.config)?;
        let mut plugins = Vec::with_capacity(specs.len());
        let mut stamps = host.stamps();
        for spec in specs {
            let load_error =
                |source| Error::Load { plugin: spec.name.clone(), path: spec.path.clone(), source };
            let stamp = FileStamp::of(&spec.path).map_err(|error| load_error(LoadError::Read(error)))?;
            let bytes = std::fs::read(&spec.path).map_err(|error| load_error(LoadError::Read(error)))?;
            let plugin = host.load(spec.clone(), &bytes).map_err(load_error)?;
            tracing::info!(plugin = %spec.name, path = %spec.path.display(), sites = ?spec.sites, policy = spec.policy.as_str(), "plugin loaded");
            metrics::counter!(m::RELOADS, "plugin" => spec.name.clone(), "outcome" => "loaded").increment(1);
            stamps.insert(spec.name, stamp);
            plugins.push(Arc::new(plugin));
        }
        drop(stamps);
        host.swap(Chain { plugins });
        Ok(host)
    }

    pub(crate) fn config(&self) -> &PluginsConfig {
        &self.config
    }

    /// The chain calls run with now.
    pub(crate) fn chain(&self) -> Arc<Chain> {
        self.chain.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn swap(&self, chain: Chain) {
        metrics::gauge!(m::LOADED).set(chain.plugins.len() as f64);
        *self.chain.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(chain);
    }

    fn stamps(&self) -> std::sync::MutexGuard<'_, HashMap<String, FileStamp>> {
        self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn load(&self, spec: Spec, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let component = compile(self.engine, bytes)?;
        Plugin::new(&self.linker, &component, digest(bytes), spec, self.config.instances_per_plugin(), false)
    }

    /// Looks at every plugin file again: loads new and changed ones, drops those that left
    /// the directory, and swaps the chain when anything changed. A file that fails to load
    /// leaves the plugin's running version in place.
    pub(crate) fn reload(&self) -> ReloadReport {
        let mut report = ReloadReport::default();
        let mut stamps = self.stamps();
        let current = self.chain();
        let specs = match resolve(&self.config) {
            Ok(specs) => specs,
            Err(error) => {
                tracing::warn!(%error, "cannot reload plugins; the running ones stay");
                report.failed.push(("*".to_string(), error.to_string()));
                return report;
            }
        };
        let mut next = Vec::with_capacity(specs.len());
        for spec in &specs {
            let running = current.plugins.iter().find(|plugin| plugin.spec.name == spec.name).cloned();
            let stamp = match FileStamp::of(&spec.path) {
                Ok(stamp) => stamp,
                Err(error) => {
                    // The file is gone (a configured plugin's) or cannot be read right now:
                    // it may be being replaced, so the running version stays.
                    if let Some(running) = running {
                        tracing::warn!(plugin = %spec.name, %error, "plugin file unreadable; the running version stays");
                        next.push(running);
                    }
                    continue;
                }
            };
            if stamps.get(&spec.name) == Some(&stamp) {
                next.extend(running);
                continue;
            }
            stamps.insert(spec.name.clone(), stamp);
            let outcome =
                std::fs::read(&spec.path).map_err(LoadError::Read).and_then(|bytes| match &running {
                    Some(running) if running.digest == digest(&bytes) => Ok(None),
                    _ => self.load(spec.clone(), &bytes).map(Some),
                });
            match outcome {
                Ok(None) => next.extend(running),
                Ok(Some(plugin)) => {
                    tracing::info!(plugin = %spec.name, path = %spec.path.display(), replaced = running.is_some(), "plugin loaded");
                    metrics::counter!(m::RELOADS, "plugin" => spec.name.clone(), "outcome" => "loaded")
                        .increment(1);
                    report.loaded.push(spec.name.clone());
                    next.push(Arc::new(plugin));
                }
                Err(error) => {
                    tracing::warn!(plugin = %spec.name, path = %spec.path.display(), %error, kept_old = running.is_some(), "plugin failed to load");
                    metrics::counter!(m::RELOADS, "plugin" => spec.name.clone(), "outcome" => "failed")
                        .increment(1);
                    report.failed.push((spec.name.clone(), error.to_string()));
                    next.extend(running);
                }
            }
        }
        for plugin in &current.plugins {
            if !next.iter().any(|kept| kept.spec.name == plugin.spec.name) {
                tracing::info!(plugin = &*plugin.name, "plugin removed");
                metrics::counter!(m::RELOADS, "plugin" => plugin.name.to_string(), "outcome" => "removed")
                    .increment(1);
                report.removed.push(plugin.name.to_string());
            }
        }
        stamps.retain(|name, _| specs.iter().any(|spec| spec.name == *name));
        if !report.loaded.is_empty() || !report.removed.is_empty() {
            self.swap(Chain { plugins: next });
        }
        report
    }
}

fn digest(bytes: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(bytes);
    hasher.finish()
}

/// The plugins the configuration asks for, in the order they run: its entries, then the
/// other files of the plugins directory by name.
pub(crate) fn resolve(config: &PluginsConfig) -> Result<Vec<Spec>, Error> {
    let mut specs = Vec::new();
    let mut named = HashSet::new();
    for entry in &config.plugins {
        check_name(&entry.name).map_err(Error::Config)?;
        if !named.insert(entry.name.as_str()) {
            return Err(Error::Config(format!("plugin `{}` is configured twice", entry.name)));
        }
        if !entry.enabled {
            continue;
        }
        let path = match (&entry.path, &config.dir) {
            (Some(path), _) => path.clone(),
            (None, Some(dir)) => dir.join(format!("{}.wasm", entry.name)),
            (None, None) => {
                return Err(Error::Config(format!(
                    "plugin `{}` has no `path` and there is no plugins directory",
                    entry.name
                )));
            }
        };
        let sites = match &entry.sites {
            None => None,
            Some(sites) => {
                let sites: HashSet<String> =
                    sites.iter().map(|site| site.trim().to_ascii_lowercase()).collect();
                if sites.iter().any(String::is_empty) {
                    return Err(Error::Config(format!("plugin `{}` lists an empty site", entry.name)));
                }
                Some(sites)
            }
        };
        let settings = serde_json::to_string(&entry.settings)
            .map_err(|error| Error::Config(format!("plugin `{}`: settings: {error}", entry.name)))?;
        specs.push(Spec {
            name: entry.name.clone(),
            path,
            settings,
            sites,
            policy: entry.on_failure,
            limits: config.limits_for(Some(entry)),
        });
    }
    if let Some(dir) = &config.dir {
        let mut found = Vec::new();
        let listing = std::fs::read_dir(dir).map_err(|source| Error::Dir { path: dir.clone(), source })?;
        for item in listing {
            let item = item.map_err(|source| Error::Dir { path: dir.clone(), source })?;
            let path = item.path();
            let Some(name) = plugin_file_name(&path) else { continue };
            if named.contains(name.as_str()) || !path.is_file() {
                continue;
            }
            if let Err(error) = check_name(&name) {
                tracing::warn!(path = %path.display(), %error, "plugin file ignored");
                continue;
            }
            found.push((name, path));
        }
        found.sort();
        for (name, path) in found {
            specs.push(Spec {
                name,
                path,
                settings: "{}".to_string(),
                sites: None,
                policy: Default::default(),
                limits: config.limits_for(None),
            });
        }
    }
    Ok(specs)
}

/// The plugin name of a file of the plugins directory: the stem of a `*.wasm` file whose
/// name does not start with `.`.
fn plugin_file_name(path: &Path) -> Option<String> {
    let file_name = path.file_name()?.to_str()?;
    if file_name.starts_with('.') {
        return None;
    }
    file_name.strip_suffix(".wasm").filter(|stem| !stem.is_empty()).map(str::to_string)
}

/// The spec `check_file` runs a file with.
pub(crate) fn check_spec(path: PathBuf, settings: String, limits: crate::Limits) -> Spec {
    let name = plugin_file_name(&path).unwrap_or_else(|| "plugin".to_string());
    Spec { name, path, settings, sites: None, policy: Default::default(), limits }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PluginConfig;

    #[test]
    fn configured_entries_run_first_then_the_other_files_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["b.wasm", "a.wasm", "z.wasm", ".hidden.wasm", "notes.txt", "off.wasm"] {
            std::fs::write(dir.path().join(file), b"").unwrap();
        }
        let mut off = PluginConfig::named("off");
        off.enabled = false;
        let config = PluginsConfig {
            plugins: vec![PluginConfig::named("z"), PluginConfig::new("elsewhere", "/opt/x.wasm"), off],
            ..PluginsConfig::from_dir(dir.path())
        };
        let specs = resolve(&config).unwrap();
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(names, ["z", "elsewhere", "a", "b"]);
        assert_eq!(specs[0].path, dir.path().join("z.wasm"));
        assert_eq!(specs[1].path, PathBuf::from("/opt/x.wasm"));
        assert_eq!(specs[2].path, dir.path().join("a.wasm"));
    }

    #[test]
    fn inconsistent_configurations_are_refused() {
        let twice =
            PluginsConfig::from_plugins(vec![PluginConfig::new("a", "/a"), PluginConfig::new("a", "/b")]);
        assert!(matches!(resolve(&twice), Err(Error::Config(message)) if message.contains("twice")));
        let no_path = PluginsConfig::from_plugins(vec![PluginConfig::named("a")]);
        assert!(matches!(resolve(&no_path), Err(Error::Config(message)) if message.contains("no `path`")));
        let bad_name = PluginsConfig::from_plugins(vec![PluginConfig::new("a/b", "/a")]);
        assert!(matches!(resolve(&bad_name), Err(Error::Config(_))));
        let empty_site = PluginsConfig::from_plugins(vec![PluginConfig::new("a", "/a").sites([" "])]);
        assert!(matches!(resolve(&empty_site), Err(Error::Config(_))));
        let missing_dir = PluginsConfig::from_dir("/nonexistent/hitkeep-plugins");
        assert!(matches!(resolve(&missing_dir), Err(Error::Dir { .. })));
    }

    #[test]
    fn sites_are_compared_in_lower_case() {
        let config = PluginsConfig::from_plugins(vec![PluginConfig::new("a", "/a").sites(["Example.COM "])]);
        let specs = resolve(&config).unwrap();
        assert_eq!(specs[0].sites, Some(HashSet::from(["example.com".to_string()])));
    }
}
