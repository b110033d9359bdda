//! Why plugins could not be loaded or checked.

use std::path::PathBuf;

use crate::chain::FailureKind;

/// Why [`crate::Plugins::load`] or [`crate::check_file`] failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is inconsistent (a bad or duplicate name, say).
    #[error("plugin configuration: {0}")]
    Config(String),
    /// The plugins directory could not be read.
    #[error("cannot read the plugins directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// One plugin could not be loaded.
    #[error("plugin `{plugin}` ({path}): {source}")]
    Load {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// What went wrong.
        source: LoadError,
    },
    /// The WebAssembly engine could not be set up.
    #[error("cannot set up the plugin engine: {0}")]
    Engine(String),
    /// A background thread could not be started.
    #[error("cannot start a plugin host thread: {0}")]
    Thread(std::io::Error),
}

/// Why one plugin file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(std::io::Error),
    /// The file is not a WebAssembly component this host can compile.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component does not implement `hitkeep:plugin/enricher@0.1.0`, or imports
    /// something plugins may not use.
    #[error("does not fit the hitkeep:plugin/enricher@0.1.0 contract: {0}")]
    Contract(String),
    /// The plugin's `configure` refused its settings.
    #[error("configure refused the settings: {0}")]
    Refused(String),
    /// Instantiating the plugin or its `configure` trapped, ran past its deadline or its
    /// memory.
    #[error("instantiation or configure failed ({kind}): {detail}")]
    Failed {
        /// How it failed.
        kind: FailureKind,
        /// The detail.
        detail: String,
    },
}
