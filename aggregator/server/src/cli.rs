//! The command line: `hitkeep serve`, `hitkeep site ...`, `hitkeep demo`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::config::LogFormat;

/// Privacy-first web analytics in one binary.
#[derive(Debug, Parser)]
#[command(name = "hitkeep", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Hitkeep: the NATS broker, the ingest pipeline, the API and the dashboard.
    Serve(ServeArgs),
    /// Add, list or remove tracked sites (works whether or not `serve` is running).
    Site {
        /// Data directory.
        #[arg(long, env = "HITKEEP_DATA_DIR", default_value = "./hitkeep-data")]
        data_dir: PathBuf,
        /// What to do with sites.
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// Issue, list or revoke the tokens of edges that post batches over HTTP (Spin).
    EdgeToken {
        /// Data directory.
        #[arg(long, env = "HITKEEP_DATA_DIR", default_value = "./hitkeep-data")]
        data_dir: PathBuf,
        /// What to do with tokens.
        #[command(subcommand)]
        command: EdgeTokenCommand,
    },
    /// Print a site's newest stored events, to check that its tracking works.
    Events {
        /// Data directory.
        #[arg(long, env = "HITKEEP_DATA_DIR", default_value = "./hitkeep-data")]
        data_dir: PathBuf,
        /// The site's domain.
        #[arg(long)]
        site: String,
        /// How many, newest first (at most 10,000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load deterministic synthetic traffic into a data directory.
    Demo(DemoArgs),
    /// Work with enrichment plugins.
    Plugin {
        /// What to do.
        #[command(subcommand)]
        command: PluginCommand,
    },
}

/// `hitkeep plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Check a plugin against the contract (`hitkeep:plugin/enricher@0.1.0`) and run it on
    /// sample events, printing what it did to each; exits 1 if it fails on any.
    Check {
        /// The plugin's `.wasm` component.
        file: PathBuf,
        /// Its settings, as JSON (what `configure` receives).
        #[arg(long, default_value = "{}")]
        settings: String,
        /// Sample events, one JSON hit per line (the wire format of `hitkeep_protocol::Hit`);
        /// a built-in set of realistic events when absent.
        #[arg(long)]
        samples: Option<PathBuf>,
    },
}

/// `hitkeep edge-token` subcommands.
#[derive(Debug, Subcommand)]
pub enum EdgeTokenCommand {
    /// Make a token and print its secret (once).
    Add {
        /// A name for the edge that will use it (`spin-eu`).
        name: String,
    },
    /// List tokens (names and dates; secrets are not kept).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: edges using it are refused from now on.
    Remove {
        /// The token's name.
        name: String,
    },
}

/// `hitkeep site` subcommands.
#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Start tracking a domain.
    Add {
        /// The domain, as the tracker's `data-domain` names it (`example.com`).
        domain: String,
        /// IANA time zone of the site's reports.
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
    /// List tracked sites.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop tracking a domain and delete its data.
    Remove {
        /// The domain.
        domain: String,
    },
    /// Show or change a site's privacy rules, applied by every edge before a hit counts.
    /// Without options, prints them. A list option replaces that whole list; give it once
    /// with an empty value (`--exclude-ip ''`) to empty it.
    Rules {
        /// The domain.
        domain: String,
        /// Drop hits from browsers that send `DNT: 1` (default true).
        #[arg(long)]
        honor_dnt: Option<bool>,
        /// Drop hits from browsers that send `Sec-GPC: 1` (default true).
        #[arg(long)]
        honor_gpc: Option<bool>,
        /// An address or CIDR range whose hits are dropped (repeatable).
        #[arg(long = "exclude-ip")]
        exclude_ip: Option<Vec<String>>,
        /// A path pattern whose hits are dropped, `*` within a segment, `**` across (repeatable).
        #[arg(long = "exclude-path")]
        exclude_path: Option<Vec<String>>,
        /// A host name pattern that counts, e.g. `*.example.com`; none means any (repeatable).
        #[arg(long = "allow-hostname")]
        allow_hostname: Option<Vec<String>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Flags of `hitkeep serve`. Only flags given on the command line override the config file
/// and the environment, so none has a default here (see [`crate::config::Config`]).
#[derive(Debug, Default, Args, Serialize)]
pub struct ServeArgs {
    /// TOML config file.
    #[arg(long, env = "HITKEEP_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./hitkeep-data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// HTTP address [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Embedded NATS broker address [default: 127.0.0.1:4222].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_listen: Option<SocketAddr>,
    /// Use an external NATS server instead of the embedded broker.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    /// File holding the NATS token.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_token_file: Option<PathBuf>,
    /// Load demo traffic into an empty database at start.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
    /// MaxMind-format database (`.mmdb`) for visitors' country, region and city.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_db: Option<PathBuf>,
    /// Directory of enrichment plugins (`*.wasm`), hot-reloaded.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins_dir: Option<PathBuf>,
    /// Log level filter.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Log format.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Flags of `hitkeep demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory to load into (must not be in use by `serve`).
    #[arg(long, env = "HITKEEP_DATA_DIR", default_value = "./hitkeep-data")]
    pub data_dir: PathBuf,
    /// Hits to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub hits: u64,
    /// Days of traffic, ending now.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Random seed; the same seed gives the same traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}
