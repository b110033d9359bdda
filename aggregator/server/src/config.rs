//! Configuration of `hitkeep serve`: defaults, then a TOML file, then `HITKEEP_*`
//! environment variables, then command-line flags, each overriding the one before.
//!
//! Unknown keys are errors at every layer, so a typo never silently falls back to a default.
//! Every secret can also be read from a file named by the same key with `_file` appended
//! (`nats_token_file`, `HITKEEP_NATS_TOKEN_FILE`), as container secrets are mounted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The whole configuration of `hitkeep serve`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding `hitkeep.db`, the spool and the control socket.
    pub data_dir: PathBuf,
    /// HTTP address of the dashboard, the API and the collector.
    pub listen: SocketAddr,
    /// Address of the embedded NATS broker (loopback only unless changed).
    pub nats_listen: SocketAddr,
    /// Use this external NATS server instead of the embedded broker.
    pub nats_url: Option<String>,
    /// Token that NATS clients must present (embedded broker and external server alike).
    pub nats_token: Option<String>,
    /// File holding `nats_token`.
    pub nats_token_file: Option<PathBuf>,
    /// User name for NATS user/password authentication.
    pub nats_user: Option<String>,
    /// Password for NATS user/password authentication.
    pub nats_password: Option<String>,
    /// File holding `nats_password`.
    pub nats_password_file: Option<PathBuf>,
    /// PEM certificate chain for TLS on the embedded broker.
    pub nats_tls_cert: Option<PathBuf>,
    /// PEM private key for TLS on the embedded broker.
    pub nats_tls_key: Option<PathBuf>,
    /// Largest message the embedded broker accepts, in bytes.
    pub nats_max_payload: usize,
    /// Visit inactivity timeout, in minutes.
    pub session_timeout_minutes: u32,
    /// Collect events on this process's HTTP port (`/api/event`) with the embedded edge
    /// host; turn off when only separate edges collect.
    pub collect: bool,
    /// Proxies (CIDR ranges) in front of this process whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// MaxMind-format database (`.mmdb`) for visitors' country, region and city.
    pub geoip_db: Option<PathBuf>,
    /// Header a trusted CDN sets to the visitor's country (`cf-ipcountry`).
    pub geo_country_header: Option<String>,
    /// A directory of enrichment plugins (`*.wasm`), run on every batch before it is
    /// stored, hot-reloaded when a file changes. Shorthand for `plugins.dir`.
    pub plugins_dir: Option<PathBuf>,
    /// The `[plugins]` table: `dir`, `timeout_ms`, `max_memory_mb`, `reload_interval_ms`,
    /// `instances`, and `[[plugins.plugins]]` entries (`name`, `path`, `settings`, `sites`,
    /// `on_failure`, ...): see `plugins/README.md`. Checked at load.
    pub plugins: Option<figment::value::Value>,
    /// Load demo traffic into an empty database at start.
    pub demo: bool,
    /// With `demo`: keep a trickle of generated live visitors arriving (a few a minute, through
    /// the embedded edge), so the realtime view moves.
    pub demo_live_traffic: bool,
    /// Fetch the icons of referrers for the dashboard's sources panel (from the referrers'
    /// own sites, cached on disk); off for air-gapped installs: nothing is ever fetched.
    pub favicons: bool,
    /// The dashboard's public URL (`https://stats.example.com`, no path): the links printed
    /// at start, the origin cross-site checks expect; `https` turns on `Secure` cookies and
    /// HSTS.
    pub public_url: Option<String>,
    /// A sign-in session unused this long ends, in hours.
    pub session_idle_hours: u32,
    /// A sign-in session ends this long after signing in, in days.
    pub session_max_days: u32,
    /// Open HTTP connections at most; more wait to be accepted.
    pub http_max_connections: usize,
    /// Seconds a client gets to send a request's headers (also between keep-alive requests).
    pub http_header_read_timeout_secs: u64,
    /// Memory DuckDB may hold for its buffers and query state, in MiB; a query that needs
    /// more spills to `hitkeep.db.tmp` instead of growing the process.
    pub memory_limit_mib: u32,
    /// Seconds between two passes of the daily rollups' builder (it also runs at start).
    pub rollup_interval_secs: u64,
    /// Days a site's events are kept when the site sets none (0: for ever).
    pub retention_days: u32,
    /// Write the events retention deletes into Parquet files under `archive/` in the data
    /// directory first (the takeout's schema).
    pub retention_archive: bool,
    /// Rewrite the database at start when a quarter of it (and at least 64 MiB) is free
    /// space left by deletions, so that the file shrinks.
    pub compact_at_start: bool,
    /// The hour of the day (0-23, in each site's zone) at which e-mail reports are sent.
    pub report_hour: u8,
    /// One of several aggregators on a NATS cluster with JetStream (`nats_url`): edges'
    /// batches go to the replicated ingest stream, which this node reads whole into its own
    /// database; the salts are shared through a bucket; a lease picks the leader
    /// (`crate::cluster`, `docs/operations.md`).
    pub cluster: bool,
    /// Copies of the ingest stream and the cluster's buckets (the NATS cluster's size, 1
    /// to 5).
    pub cluster_replicas: usize,
    /// Hours the ingest stream keeps a batch (at most 720, the database's dedupe window): a
    /// node can be restored from a backup this old, or start empty while the stream still
    /// holds everything.
    pub stream_max_age_hours: u32,
    /// The most the ingest stream holds, in MiB (0: no limit); beyond it the oldest go.
    pub stream_max_bytes_mib: u64,
    /// Seconds a leader's lease lives without renewal; 0 (the default): this node alone runs
    /// the singleton jobs, or, with `cluster`, 10. With several aggregators on a NATS server
    /// with JetStream, the holder of the lease does (`crate::leader`).
    pub leader_lease_secs: u64,
    /// This node's name in the cluster and the election (default: the host's name; outside
    /// a cluster with the process id). Letters, digits, `-` and `_`.
    pub node_name: Option<String>,
    /// SMTP server for password resets and invitations by e-mail (none: no e-mail).
    pub smtp_host: Option<String>,
    /// Its port.
    pub smtp_port: u16,
    /// `starttls` (default), `tls` (from the first byte, port 465) or `none` (a relay on
    /// the same machine only).
    pub smtp_tls: crate::mail::SmtpTls,
    /// SMTP user name.
    pub smtp_username: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<String>,
    /// File holding `smtp_password`.
    pub smtp_password_file: Option<PathBuf>,
    /// The sender of Hitkeep's mail (`Hitkeep <stats@example.com>`).
    pub smtp_from: Option<String>,
    /// Single sign-on: the OpenID Connect provider's issuer URL (none: no SSO).
    pub oidc_issuer: Option<String>,
    /// This instance's client id at the provider.
    pub oidc_client_id: Option<String>,
    /// Its client secret.
    pub oidc_client_secret: Option<String>,
    /// File holding `oidc_client_secret`.
    pub oidc_client_secret_file: Option<PathBuf>,
    /// The provider's name on the sign-in button ("Sign in with ...").
    pub oidc_name: String,
    /// Single sign-on only: password sign-in is refused.
    pub oidc_only: bool,
    /// Log level filter (`info`, `debug`, `hitkeep=debug,info`...).
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./hitkeep-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            nats_listen: SocketAddr::from(([127, 0, 0, 1], 4222)),
            nats_url: None,
            nats_token: None,
            nats_token_file: None,
            nats_user: None,
            nats_password: None,
            nats_password_file: None,
            nats_tls_cert: None,
            nats_tls_key: None,
            nats_max_payload: 1024 * 1024,
            session_timeout_minutes: 30,
            collect: true,
            trusted_proxies: Vec::new(),
            geoip_db: None,
            geo_country_header: None,
            plugins_dir: None,
            plugins: None,
            demo: false,
            demo_live_traffic: true,
            favicons: true,
            public_url: None,
            session_idle_hours: 7 * 24,
            session_max_days: 30,
            http_max_connections: 4096,
            http_header_read_timeout_secs: 10,
            memory_limit_mib: 768,
            rollup_interval_secs: 60,
            retention_days: 0,
            retention_archive: false,
            compact_at_start: true,
            report_hour: 7,
            cluster: false,
            cluster_replicas: 1,
            stream_max_age_hours: 7 * 24,
            stream_max_bytes_mib: 0,
            leader_lease_secs: 0,
            node_name: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: crate::mail::SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            smtp_from: None,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_client_secret_file: None,
            oidc_name: "single sign-on".into(),
            oidc_only: false,
            log_level: "info".into(),
            log_format: LogFormat::Text,
        }
    }
}

impl std::fmt::Debug for Config {
    // Written out so that secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("nats_listen", &self.nats_listen)
            .field("nats_url", &self.nats_url.as_ref().map(|url| redact_url(url)))
            .field("nats_token", &redact(&self.nats_token))
            .field("nats_user", &self.nats_user)
            .field("nats_password", &redact(&self.nats_password))
            .field("nats_tls_cert", &self.nats_tls_cert)
            .field("nats_max_payload", &self.nats_max_payload)
            .field("session_timeout_minutes", &self.session_timeout_minutes)
            .field("collect", &self.collect)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("geoip_db", &self.geoip_db)
            .field("geo_country_header", &self.geo_country_header)
            .field("plugins_dir", &self.plugins_dir)
            .field("plugins", &self.plugins.is_some())
            .field("demo", &self.demo)
            .field("demo_live_traffic", &self.demo_live_traffic)
            .field("favicons", &self.favicons)
            .field("public_url", &self.public_url)
            .field("session_idle_hours", &self.session_idle_hours)
            .field("session_max_days", &self.session_max_days)
            .field("http_max_connections", &self.http_max_connections)
            .field("http_header_read_timeout_secs", &self.http_header_read_timeout_secs)
            .field("memory_limit_mib", &self.memory_limit_mib)
            .field("rollup_interval_secs", &self.rollup_interval_secs)
            .field("retention_days", &self.retention_days)
            .field("retention_archive", &self.retention_archive)
            .field("compact_at_start", &self.compact_at_start)
            .field("report_hour", &self.report_hour)
            .field("leader_lease_secs", &self.leader_lease_secs)
            .field("cluster", &self.cluster)
            .field("cluster_replicas", &self.cluster_replicas)
            .field("stream_max_age_hours", &self.stream_max_age_hours)
            .field("stream_max_bytes_mib", &self.stream_max_bytes_mib)
            .field("node_name", &self.node_name)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &redact(&self.smtp_password))
            .field("smtp_from", &self.smtp_from)
            .field("oidc_issuer", &self.oidc_issuer)
            .field("oidc_client_id", &self.oidc_client_id)
            .field("oidc_client_secret", &redact(&self.oidc_client_secret))
            .field("oidc_name", &self.oidc_name)
            .field("oidc_only", &self.oidc_only)
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]` of a public URL, which must be http(s) without path or query.
fn public_origin(url: &str) -> Result<String, ConfigError> {
    let bad =
        || ConfigError::Conflict(format!("public_url {url:?} must be http(s)://host[:port] without a path"));
    let trimmed = url.trim().trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

/// `nats://user:pass@host` without the credentials.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}<redacted>{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer has an unknown key or a value of the wrong type.
    #[error("configuration error: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// The named config file does not exist.
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// A secret file cannot be read.
    #[error("cannot read {key} from {path}: {source}")]
    SecretFile {
        /// The key whose file it is.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Two settings contradict each other.
    #[error("{0}")]
    Conflict(String),
}

/// Builds the configuration from its layers. `flags` holds only the flags actually given.
pub fn load(
    file: Option<&Path>,
    flags: impl Serialize,
    env: &[(String, String)],
) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError::MissingFile(file.to_path_buf()));
        }
        figment = figment.merge(Toml::file(file));
    }
    // `HITKEEP_CONFIG` names the file itself, `HITKEEP_LOG` is read by the logger setup and
    // `HITKEEP_TEST_CLOCK` by the server's clock (`crate::state::clock_from_env`).
    let env_pairs: Vec<(String, String)> = env
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix("HITKEEP_").map(|rest| (rest.to_ascii_lowercase(), value.clone()))
        })
        .filter(|(key, _)| key != "config" && key != "test_clock")
        .collect();
    for (key, value) in env_pairs {
        figment = figment.merge(Serialized::global(&key, env_value(&value)));
    }
    figment = figment.merge(Serialized::globals(flags));
    let mut config: Config = figment.extract().map_err(Box::new)?;
    config.resolve_secret_files()?;
    config.check()?;
    Ok(config)
}

/// Parses an environment value the way figment's `Env` provider does (numbers, booleans,
/// else a string), so `HITKEEP_DEMO=true` is a bool and `HITKEEP_DATA_DIR=/x` a string.
fn env_value(raw: &str) -> figment::value::Value {
    raw.parse::<figment::value::Value>().unwrap_or_else(|_| figment::value::Value::from(raw.to_string()))
}

impl Config {
    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        resolve_secret("nats_token", &mut self.nats_token, &self.nats_token_file)?;
        resolve_secret("nats_password", &mut self.nats_password, &self.nats_password_file)?;
        resolve_secret("smtp_password", &mut self.smtp_password, &self.smtp_password_file)?;
        resolve_secret("oidc_client_secret", &mut self.oidc_client_secret, &self.oidc_client_secret_file)?;
        Ok(())
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.nats_user.is_some() != self.nats_password.is_some() {
            return Err(ConfigError::Conflict("nats_user and nats_password go together".into()));
        }
        if self.nats_token.is_some() && self.nats_user.is_some() {
            return Err(ConfigError::Conflict(
                "use either nats_token or nats_user/nats_password, not both".into(),
            ));
        }
        if self.nats_tls_cert.is_some() != self.nats_tls_key.is_some() {
            return Err(ConfigError::Conflict("nats_tls_cert and nats_tls_key go together".into()));
        }
        if self.session_timeout_minutes == 0 {
            return Err(ConfigError::Conflict("session_timeout_minutes must be at least 1".into()));
        }
        if self.nats_max_payload < 64 * 1024 {
            return Err(ConfigError::Conflict("nats_max_payload must be at least 65536".into()));
        }
        if let Some(url) = &self.public_url {
            public_origin(url)?;
        }
        if self.session_idle_hours == 0 || self.session_max_days == 0 {
            return Err(ConfigError::Conflict(
                "session_idle_hours and session_max_days must be at least 1".into(),
            ));
        }
        if self.http_max_connections == 0 || self.http_header_read_timeout_secs == 0 {
            return Err(ConfigError::Conflict(
                "http_max_connections and http_header_read_timeout_secs must be at least 1".into(),
            ));
        }
        if self.retention_days > hitkeep_store::MAX_RETENTION_DAYS {
            return Err(ConfigError::Conflict(format!(
                "retention_days must be at most {} (0 keeps events for ever)",
                hitkeep_store::MAX_RETENTION_DAYS
            )));
        }
        if (self.leader_lease_secs > 0 || self.cluster) && self.nats_url.is_none() {
            return Err(ConfigError::Conflict(
                "cluster and leader_lease_secs need nats_url (a NATS server with JetStream); a node alone is always the leader".into(),
            ));
        }
        if self.leader_lease_secs > 0 && self.leader_lease_secs < 2
            || !(1..=5).contains(&self.cluster_replicas)
        {
            return Err(ConfigError::Conflict(
                "leader_lease_secs must be 0 or at least 2, cluster_replicas 1 to 5".into(),
            ));
        }
        if self.stream_max_age_hours == 0 || self.stream_max_age_hours > crate::cluster::MAX_STREAM_AGE_HOURS
        {
            return Err(ConfigError::Conflict(format!(
                "stream_max_age_hours must be 1 to {} (the database's dedupe window)",
                crate::cluster::MAX_STREAM_AGE_HOURS
            )));
        }
        if let Some(name) = &self.node_name
            && !crate::cluster::valid_node_name(name)
        {
            return Err(ConfigError::Conflict("node_name: 1 to 64 letters, digits, '-' or '_'".into()));
        }
        if self.cluster && self.demo {
            return Err(ConfigError::Conflict(
                "demo loads data into this node's database alone: not in a cluster".into(),
            ));
        }
        if self.report_hour > 23 {
            return Err(ConfigError::Conflict("report_hour must be 0 to 23".into()));
        }
        if self.rollup_interval_secs == 0 {
            return Err(ConfigError::Conflict("rollup_interval_secs must be at least 1".into()));
        }
        if self.memory_limit_mib < 128 {
            return Err(ConfigError::Conflict("memory_limit_mib must be at least 128".into()));
        }
        self.plugins_config()?;
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            return Err(ConfigError::Conflict("smtp_username and smtp_password go together".into()));
        }
        if self.smtp_host.is_some() != self.smtp_from.is_some() {
            return Err(ConfigError::Conflict("smtp_host and smtp_from go together".into()));
        }
        if self.oidc_issuer.is_some() != self.oidc_client_id.is_some() {
            return Err(ConfigError::Conflict("oidc_issuer and oidc_client_id go together".into()));
        }
        if self.oidc_only && self.oidc_issuer.is_none() {
            return Err(ConfigError::Conflict("oidc_only needs oidc_issuer".into()));
        }
        if let Some(settings) = self.oidc_settings() {
            crate::oidc::Oidc::new(settings, "http://localhost")
                .map_err(|error| ConfigError::Conflict(error.to_string()))?;
        }
        if let Some(settings) = self.mail_settings() {
            crate::mail::Mailer::new(&settings, String::new())
                .map_err(|error| ConfigError::Conflict(error.to_string()))?;
        }
        Ok(())
    }

    /// The single sign-on provider, when one is configured.
    pub fn oidc_settings(&self) -> Option<crate::oidc::OidcSettings> {
        Some(crate::oidc::OidcSettings {
            issuer: self.oidc_issuer.clone()?,
            client_id: self.oidc_client_id.clone()?,
            client_secret: self.oidc_client_secret.clone(),
            name: self.oidc_name.clone(),
            only: self.oidc_only,
        })
    }

    /// The SMTP settings, when e-mail is configured.
    pub fn mail_settings(&self) -> Option<crate::mail::MailSettings> {
        Some(crate::mail::MailSettings {
            host: self.smtp_host.clone()?,
            port: self.smtp_port,
            tls: self.smtp_tls,
            credentials: self.smtp_username.clone().zip(self.smtp_password.clone()),
            from: self.smtp_from.clone()?,
        })
    }

    /// The public origin (`https://stats.example.com`), when configured.
    pub fn public_origin(&self) -> Option<String> {
        self.public_url.as_deref().and_then(|url| public_origin(url).ok())
    }

    /// Where people open the dashboard: the public URL, else this process's address.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        match self.public_origin() {
            Some(origin) => origin,
            None => {
                let host = if bound.ip().is_unspecified() {
                    SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), bound.port())
                } else {
                    bound
                };
                format!("http://{host}")
            }
        }
    }

    /// The plugins to run, `None` when none are configured.
    pub fn plugins_config(&self) -> Result<Option<hitkeep_plugins::PluginsConfig>, ConfigError> {
        let mut plugins = match &self.plugins {
            Some(table) => table
                .deserialize::<hitkeep_plugins::PluginsConfig>()
                .map_err(|error| ConfigError::Conflict(format!("plugins: {error}")))?,
            None => hitkeep_plugins::PluginsConfig::default(),
        };
        if let Some(dir) = &self.plugins_dir {
            if plugins.dir.is_some() {
                return Err(ConfigError::Conflict("set plugins_dir or plugins.dir, not both".into()));
            }
            plugins.dir = Some(dir.clone());
        }
        Ok((!plugins.is_empty()).then_some(plugins))
    }
}

fn resolve_secret(
    key: &'static str,
    value: &mut Option<String>,
    file: &Option<PathBuf>,
) -> Result<(), ConfigError> {
    let Some(path) = file else { return Ok(()) };
    if value.is_some() {
        return Err(ConfigError::Conflict(format!("set {key} or {key}_file, not both")));
    }
    let secret = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        key,
        path: path.clone(),
        source,
    })?;
    *value = Some(secret.trim_end_matches(['\r', '\n']).to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        listen: Option<SocketAddr>,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_work() {
        let config = load(None, Flags::default(), &[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hitkeep.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1111\"\ndata_dir = \"/from/file\"\ndemo = true\n")
            .unwrap();
        let vars = env(&[
            ("HITKEEP_LISTEN", "127.0.0.1:2222"),
            ("HITKEEP_SESSION_TIMEOUT_MINUTES", "45"),
            ("PATH", "/bin"),
        ]);
        let config = load(Some(&file), Flags::default(), &vars).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/file"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:2222");
        assert_eq!(config.session_timeout_minutes, 45);
        assert!(config.demo);
        let flags = Flags { listen: Some("127.0.0.1:3333".parse().unwrap()) };
        let config = load(Some(&file), flags, &vars).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3333");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hitkeep.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:1111\"\n").unwrap();
        let error = load(Some(&file), Flags::default(), &[]).unwrap_err().to_string();
        assert!(error.contains("lisen"), "{error}");
        let error = load(None, Flags::default(), &env(&[("HITKEEP_DATADIR", "/x")])).unwrap_err().to_string();
        assert!(error.contains("datadir"), "{error}");
        assert!(matches!(
            load(Some(&dir.path().join("nope.toml")), Flags::default(), &[]),
            Err(ConfigError::MissingFile(_))
        ));
    }

    #[test]
    fn secrets_come_from_files_and_stay_out_of_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("token");
        std::fs::write(&secret, "s3cret-token\n").unwrap();
        let vars = env(&[("HITKEEP_NATS_TOKEN_FILE", secret.to_str().unwrap())]);
        let config = load(None, Flags::default(), &vars).unwrap();
        assert_eq!(config.nats_token.as_deref(), Some("s3cret-token"));
        assert!(!format!("{config:?}").contains("s3cret"));
        let both = env(&[("HITKEEP_NATS_TOKEN", "a"), ("HITKEEP_NATS_TOKEN_FILE", secret.to_str().unwrap())]);
        assert!(matches!(load(None, Flags::default(), &both), Err(ConfigError::Conflict(_))));
    }

    #[test]
    fn reports_and_the_leader_lease_are_checked() {
        let load_with = |pairs: &[(&str, &str)]| load(None, Flags::default(), &env(pairs));
        let config = load_with(&[("HITKEEP_REPORT_HOUR", "6")]).unwrap();
        assert_eq!((config.report_hour, config.leader_lease_secs), (6, 0));
        assert!(load_with(&[("HITKEEP_REPORT_HOUR", "24")]).is_err());
        // A lease needs a NATS server of its own (JetStream), and a sensible time to live.
        let error = load_with(&[("HITKEEP_LEADER_LEASE_SECS", "10")]).unwrap_err().to_string();
        assert!(error.contains("nats_url"), "{error}");
        let nats = ("HITKEEP_NATS_URL", "nats://nats.example:4222");
        let config =
            load_with(&[nats, ("HITKEEP_LEADER_LEASE_SECS", "10"), ("HITKEEP_CLUSTER_REPLICAS", "3")])
                .unwrap();
        assert_eq!((config.leader_lease_secs, config.cluster_replicas), (10, 3));
        assert!(load_with(&[nats, ("HITKEEP_LEADER_LEASE_SECS", "1")]).is_err());
        assert!(
            load_with(&[nats, ("HITKEEP_LEADER_LEASE_SECS", "10"), ("HITKEEP_CLUSTER_REPLICAS", "7")])
                .is_err()
        );
        // A cluster needs NATS, a valid node name, a stream age within the dedupe window.
        let error = load_with(&[("HITKEEP_CLUSTER", "true")]).unwrap_err().to_string();
        assert!(error.contains("nats_url"), "{error}");
        let config = load_with(&[nats, ("HITKEEP_CLUSTER", "true"), ("HITKEEP_NODE_NAME", "agg-1")]).unwrap();
        assert!(config.cluster && config.stream_max_age_hours == 168);
        assert!(load_with(&[nats, ("HITKEEP_CLUSTER", "true"), ("HITKEEP_NODE_NAME", "agg 1")]).is_err());
        assert!(
            load_with(&[nats, ("HITKEEP_CLUSTER", "true"), ("HITKEEP_STREAM_MAX_AGE_HOURS", "721")]).is_err()
        );
        assert!(load_with(&[nats, ("HITKEEP_CLUSTER", "true"), ("HITKEEP_DEMO", "true")]).is_err());
        // The test clock is not a setting.
        assert!(load_with(&[("HITKEEP_TEST_CLOCK", "2026-03-09T07:00:00-04:00")]).is_ok());
    }

    #[test]
    fn smtp_settings_come_together_and_hide_their_password() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("smtp");
        std::fs::write(&secret, "mail-s3cret\n").unwrap();
        let vars = env(&[
            ("HITKEEP_SMTP_HOST", "smtp.example.com"),
            ("HITKEEP_SMTP_TLS", "tls"),
            ("HITKEEP_SMTP_PORT", "465"),
            ("HITKEEP_SMTP_USERNAME", "hitkeep"),
            ("HITKEEP_SMTP_PASSWORD_FILE", secret.to_str().unwrap()),
            ("HITKEEP_SMTP_FROM", "Hitkeep <stats@example.com>"),
        ]);
        let config = load(None, Flags::default(), &vars).unwrap();
        let mail = config.mail_settings().unwrap();
        assert_eq!((mail.port, mail.tls), (465, crate::mail::SmtpTls::Tls));
        assert_eq!(mail.credentials, Some(("hitkeep".into(), "mail-s3cret".into())));
        assert!(!format!("{config:?}").contains("s3cret") && !format!("{mail:?}").contains("s3cret"));
        assert_eq!(Config::default().mail_settings(), None);

        let no_from = env(&[("HITKEEP_SMTP_HOST", "smtp.example.com")]);
        assert!(matches!(load(None, Flags::default(), &no_from), Err(ConfigError::Conflict(_))));
        let bad_from =
            env(&[("HITKEEP_SMTP_HOST", "smtp.example.com"), ("HITKEEP_SMTP_FROM", "not an address")]);
        let error = load(None, Flags::default(), &bad_from).unwrap_err().to_string();
        assert!(error.contains("smtp_from"), "{error}");
        let no_password = env(&[
            ("HITKEEP_SMTP_HOST", "smtp.example.com"),
            ("HITKEEP_SMTP_FROM", "stats@example.com"),
            ("HITKEEP_SMTP_USERNAME", "hitkeep"),
        ]);
        assert!(matches!(load(None, Flags::default(), &no_password), Err(ConfigError::Conflict(_))));
        let bad_tls = env(&[("HITKEEP_SMTP_TLS", "ssl")]);
        assert!(load(None, Flags::default(), &bad_tls).is_err());
    }

    #[test]
    fn single_sign_on_settings_come_together_and_hide_the_client_secret() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("oidc");
        std::fs::write(&secret, "oidc-s3cret\n").unwrap();
        let vars = env(&[
            ("HITKEEP_OIDC_ISSUER", "https://sso.example.com/realms/acme"),
            ("HITKEEP_OIDC_CLIENT_ID", "hitkeep"),
            ("HITKEEP_OIDC_CLIENT_SECRET_FILE", secret.to_str().unwrap()),
            ("HITKEEP_OIDC_NAME", "Acme SSO"),
            ("HITKEEP_OIDC_ONLY", "true"),
        ]);
        let config = load(None, Flags::default(), &vars).unwrap();
        let oidc = config.oidc_settings().unwrap();
        assert_eq!((oidc.client_secret.as_deref(), oidc.only), (Some("oidc-s3cret"), true));
        assert!(!format!("{config:?}").contains("s3cret") && !format!("{oidc:?}").contains("s3cret"));
        assert_eq!(Config::default().oidc_settings(), None);
        let alone = env(&[("HITKEEP_OIDC_ISSUER", "https://sso.example.com")]);
        assert!(matches!(load(None, Flags::default(), &alone), Err(ConfigError::Conflict(_))));
        let only = env(&[("HITKEEP_OIDC_ONLY", "true")]);
        assert!(matches!(load(None, Flags::default(), &only), Err(ConfigError::Conflict(_))));
        let bad = env(&[("HITKEEP_OIDC_ISSUER", "not a url"), ("HITKEEP_OIDC_CLIENT_ID", "x")]);
        assert!(load(None, Flags::default(), &bad).unwrap_err().to_string().contains("oidc_issuer"));
    }

    #[test]
    fn urls_lose_their_credentials_in_debug_output() {
        assert_eq!(redact_url("nats://user:pw@host:4222"), "nats://<redacted>@host:4222");
        assert_eq!(redact_url("nats://host:4222"), "nats://host:4222");
    }
}
