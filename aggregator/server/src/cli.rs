//! The command line: `hitkeep serve`, `site`, `user`, `token`, `edge-token`, `audit`,
//! `events`, `stats`, `goal`, `funnel`, `share`, `export`, `import`, `backup`, `restore`, `demo`, `plugin`.
//!
//! `--data-dir`, `--config` and `--log-level` are global: they may stand anywhere on the
//! line, before or after the subcommand, for every command.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::config::LogFormat;

/// Privacy-first web analytics in one binary.
#[derive(Debug, Parser)]
#[command(name = "hitkeep", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes, anywhere on the command line.
#[derive(Debug, Default, Args)]
pub struct GlobalArgs {
    /// TOML config file (its `data_dir` is used by every command).
    #[arg(long, global = true, env = "HITKEEP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./hitkeep-data, or the config file's].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Log level filter (`info`, `debug`, `hitkeep=debug,info`).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Hitkeep: the NATS broker, the ingest pipeline, the API and the dashboard.
    Serve(ServeArgs),
    /// Add, list or remove tracked sites (works whether or not `serve` is running).
    Site {
        /// What to do with sites.
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// Issue, list or revoke the tokens of edges that post batches over HTTP (Spin).
    EdgeToken {
        /// What to do with tokens.
        #[command(subcommand)]
        command: EdgeTokenCommand,
    },
    /// Print a site's newest stored events, to check that its tracking works.
    Events {
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
    /// Print a stats report for a site: metrics, broken down by dimensions, over a range.
    ///
    /// Names are those of the Stats API (`docs/stats-api.md`), e.g.
    /// `hitkeep stats --site example.com --metrics visitors,bounce_rate --dimensions visit:source --range 30d`.
    Stats(StatsArgs),
    /// Create, list or remove the accounts of people (works whether or not `serve` runs).
    User {
        /// What to do with accounts.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Create, list or revoke API tokens for programs (works whether or not `serve` runs).
    Token {
        /// What to do with tokens.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Create, list or revoke a site's share links (public read-only dashboards).
    Share {
        /// What to do with share links.
        #[command(subcommand)]
        command: ShareCommand,
    },
    /// Add, list or remove a site's goals (pages or custom events that count as conversions).
    Goal {
        /// What to do with goals.
        #[command(subcommand)]
        command: GoalCommand,
    },
    /// Add, list or remove who gets a site's e-mail reports.
    Report {
        /// What to do with report recipients.
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Add, list or remove a site's e-mail alerts.
    Alert {
        /// What to do with alerts.
        #[command(subcommand)]
        command: AlertCommand,
    },
    /// Add, list, remove or report a site's funnels (ordered steps, within a visit).
    Funnel {
        /// What to do with funnels.
        #[command(subcommand)]
        command: FunnelCommand,
    },
    /// Print the newest security events (sign-ins, failures, token and account changes).
    Audit {
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Write the raw events of a site, or of every site, to a file (Parquet, CSV, JSON or
    /// NDJSON; takeout schema in `docs/takeout.md`), whether `serve` runs or not.
    ///
    /// `hitkeep export --site example.com --format parquet --from 2026-01-01 --to 2026-06-30 --output events.parquet`
    Export(ExportArgs),
    /// Import a Hitkeep takeout (a file written by `hitkeep export`, from this or another
    /// instance): events the site has already are skipped, so importing twice stores once.
    Import(ImportArgs),
    /// Write a consistent copy of the data directory into DIR (new or empty), while `serve`
    /// runs and ingests or not: every event acknowledged before it began is in it.
    Backup {
        /// Where to write it.
        dir: PathBuf,
    },
    /// Rewrite the database without the space deletions freed (retention, removed sites),
    /// so that the file shrinks. `serve` must not run on the data directory (it compacts at
    /// start by itself when a quarter of the file is free).
    Compact,
    /// Bring a backup written by `hitkeep backup` back into `--data-dir`, which must be
    /// empty or not exist (no `serve` may run on it).
    Restore {
        /// The backup's directory.
        dir: PathBuf,
    },
    /// Load deterministic synthetic traffic into a data directory.
    Demo(DemoArgs),
    /// Work with enrichment plugins.
    Plugin {
        /// What to do.
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Look at a cluster of aggregators (`cluster = true`).
    Cluster {
        /// What to do.
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

/// `hitkeep cluster` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Show the cluster: its members, the leader, the ingest stream, and each replica's
    /// position and lag. Reads the NATS server of the configuration (`nats_url`, or
    /// `--nats-url`), so it works from any machine that reaches it.
    Status {
        /// The NATS server, instead of the configuration's `nats_url`.
        #[arg(long)]
        nats_url: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
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

/// `hitkeep user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from the first line of standard input;
    /// when standard input is a terminal (or with `--generate-password`) one is generated and
    /// printed once.
    Create {
        /// The person's e-mail address.
        email: String,
        /// Instance role: `owner`, `admin` (every site, and people) or `member` (the sites
        /// they are given).
        #[arg(long, default_value = "member")]
        role: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Generate the password instead of reading it.
        #[arg(long)]
        generate_password: bool,
    },
    /// List accounts.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove an account with its sessions and API tokens.
    Remove {
        /// The account's e-mail address.
        email: String,
    },
    /// Set a person's password (read from the first line of standard input, or generated and
    /// printed once) and end their sessions: for an instance that sends no e-mail.
    SetPassword {
        /// The account's e-mail address.
        email: String,
        /// Generate the password instead of reading it.
        #[arg(long)]
        generate_password: bool,
    },
    /// Remove a person's second factors (authenticator app and recovery codes), for someone
    /// who lost both; they sign in with their password alone and set up a new one.
    ResetFactors {
        /// The account's e-mail address.
        email: String,
    },
}

/// `hitkeep token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token and print it (once).
    Create {
        /// A unique name (`ci-export`).
        #[arg(long)]
        name: String,
        /// A site it may use (repeatable).
        #[arg(long = "site", required_unless_present = "all_sites")]
        sites: Vec<String>,
        /// Every site instead.
        #[arg(long, conflicts_with = "sites")]
        all_sites: bool,
        /// `read` (stats and settings) or `write` (also events and settings changes).
        #[arg(long)]
        scope: String,
        /// Days until it expires (default: never).
        #[arg(long)]
        expires: Option<u32>,
    },
    /// List tokens (never their secrets).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token.
    Remove {
        /// The token's name.
        name: String,
    },
}

/// `hitkeep share` subcommands.
#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Make a share link of a site and print it (once).
    Create {
        /// The site's domain.
        site: String,
        /// A name, unique on the site (`board`).
        #[arg(long)]
        name: String,
        /// Ask visitors for a password, read from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Days until it ends (default: never).
        #[arg(long)]
        expires: Option<u32>,
        /// Let other sites show it in an `<iframe>`.
        #[arg(long)]
        embed: bool,
    },
    /// List a site's share links (never their codes).
    List {
        /// The site's domain.
        site: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a share link: whoever has it sees nothing from now on.
    Remove {
        /// The site's domain.
        site: String,
        /// The link's name.
        name: String,
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
    /// Change the time zone of a site's reports (its daily rollups are rebuilt in the new
    /// zone; until then its stats are read from the events).
    SetTimezone {
        /// The domain.
        domain: String,
        /// The IANA time zone (`Europe/Berlin`).
        timezone: String,
    },
    /// Keep a site's events for DAYS days (0: for ever; `default`: the instance's
    /// `retention_days`); older days are deleted by `serve` within the hour.
    SetRetention {
        /// The domain.
        domain: String,
        /// Days, 0, or `default`.
        days: String,
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
    /// Data directory (from the global `--data-dir`).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Log level (from the global `--log-level`).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
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
    /// The dashboard's public URL (`https://stats.example.com`): printed links, and `https`
    /// turns on secure cookies and HSTS.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Log format.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Flags of `hitkeep demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
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

/// `hitkeep stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// The site's domain.
    #[arg(long)]
    pub site: String,
    /// Comma-separated metrics (visitors, visits, pageviews, views_per_visit, bounce_rate,
    /// visit_duration, events, percentage).
    #[arg(long, default_value = "visitors,visits,pageviews,bounce_rate,visit_duration")]
    pub metrics: String,
    /// Comma-separated dimensions (event:page, visit:source, time:day...); none for totals.
    #[arg(long, default_value = "")]
    pub dimensions: String,
    /// The range: day, 7d, 30d, month, 6mo, 12mo, year, all, 24h, or FROM..TO (dates,
    /// inclusive).
    #[arg(long, default_value = "30d")]
    pub range: String,
    /// Filters as the Stats API's JSON, e.g. '[["is","visit:country",["DE"]]]'.
    #[arg(long)]
    pub filters: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// The Stats API's JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `hitkeep export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The site's domain; every site when absent.
    #[arg(long)]
    pub site: Option<String>,
    /// parquet, csv, json or ndjson [default: the output's extension, else parquet].
    #[arg(long)]
    pub format: Option<String>,
    /// The first day (YYYY-MM-DD, in the site's time zone); from the first event when absent.
    #[arg(long)]
    pub from: Option<String>,
    /// The last day, inclusive; to the last event when absent.
    #[arg(long)]
    pub to: Option<String>,
    /// Only the events that match: the Stats API's filters as JSON, e.g.
    /// '[["is","visit:country",["DE"]]]' (a visit filter keeps whole visits).
    #[arg(long)]
    pub filters: Option<String>,
    /// The file to write (replaced only when the export is complete).
    #[arg(long, short)]
    pub output: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `hitkeep import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The takeout file, or a Plausible CSV export (its zip, a directory of its
    /// `imported_*.csv` files, or one of them).
    pub file: PathBuf,
    /// Every event into this site [default: each into the site it names, which must exist];
    /// a Plausible export needs it.
    #[arg(long)]
    pub site: Option<String>,
    /// parquet, csv, json, ndjson or plausible [default: from the file's name].
    #[arg(long)]
    pub format: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `hitkeep goal` subcommands.
#[derive(Debug, Subcommand)]
pub enum GoalCommand {
    /// Add a goal: `--page /thank-you` (a path pattern: `*` any characters but `/`, `**` any)
    /// or `--event Signup` (with `--prop plan=pro` conditions).
    Add {
        /// The site's domain.
        site: String,
        /// A page's path pattern.
        #[arg(long, conflicts_with = "event")]
        page: Option<String>,
        /// A custom event's name.
        #[arg(long, required_unless_present = "page")]
        event: Option<String>,
        /// A property the event must have, `key=value` (repeatable).
        #[arg(long = "prop", requires = "event")]
        props: Vec<String>,
        /// What it is shown as (default: `Visit <page>` or the event's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// List a site's goals.
    List {
        /// The site's domain.
        site: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a goal by its name.
    Remove {
        /// The site's domain.
        site: String,
        /// The goal's name.
        name: String,
    },
}

/// `hitkeep report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Send a site's report to an address (at `report_hour` in the site's zone, the day after
    /// each period).
    Add {
        /// The site's domain.
        site: String,
        /// Where it goes.
        email: String,
        /// daily, weekly or monthly.
        #[arg(long, default_value = "weekly")]
        frequency: String,
        /// en, de, es, fr or it.
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// List who gets a site's reports.
    List {
        /// The site's domain.
        site: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a report, by its id (`list` shows it).
    Remove {
        /// The site's domain.
        site: String,
        /// The recipient's id.
        id: u32,
    },
}

/// `hitkeep alert` subcommands.
#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Mail an address when more than N visitors are on the site now (`--visitors-above N`),
    /// or when a day's visitors fall below P percent of the usual (`--traffic-drop P`).
    Add {
        /// The site's domain.
        site: String,
        /// Where it goes.
        email: String,
        /// Visitors in the last five minutes.
        #[arg(long, conflicts_with = "traffic_drop")]
        visitors_above: Option<u32>,
        /// Percent of the usual day (1 to 99).
        #[arg(long, required_unless_present = "visitors_above")]
        traffic_drop: Option<u32>,
        /// en, de, es, fr or it.
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// List a site's alerts.
    List {
        /// The site's domain.
        site: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an alert, by its id.
    Remove {
        /// The site's domain.
        site: String,
        /// The alert's id.
        id: u32,
    },
}

/// `hitkeep funnel` subcommands.
#[derive(Debug, Subcommand)]
pub enum FunnelCommand {
    /// Add a funnel of 2 to 8 steps: `--step page:/pricing --step event:Signup`.
    Add {
        /// The site's domain.
        site: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// A step, in order: `page:<pattern>` or `event:<name>` (repeat 2 to 8 times).
        #[arg(long = "step", required = true)]
        steps: Vec<String>,
        /// Let the steps span visits, within this many minutes of the first (at most 1440).
        #[arg(long)]
        window_minutes: Option<u32>,
    },
    /// List a site's funnels.
    List {
        /// The site's domain.
        site: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a funnel by its name.
    Remove {
        /// The site's domain.
        site: String,
        /// The funnel's name.
        name: String,
    },
    /// Print a funnel's visitors and drop-off per step over a range.
    Report {
        /// The site's domain.
        site: String,
        /// The funnel's name.
        name: String,
        /// The range, as for `hitkeep stats`.
        #[arg(long, default_value = "30d")]
        range: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}
