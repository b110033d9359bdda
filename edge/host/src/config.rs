//! What an edge host is configured with: [`EdgeConfig`] and its parts, with defaults that work.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::runtime::{ComponentRuntime, RuntimeLimits};

/// Longest edge name: a batch id is `{edge}-{boot}-{seq}` and must fit in
/// [`hitkeep_protocol::limits::MAX_ID_LEN`] (64) characters, with up to 9 characters of boot
/// id and 12 of sequence number.
pub const MAX_EDGE_NAME_LEN: usize = 40;

/// The host name the component posts batches to; intercepted in-process, never resolved.
pub const SINK_AUTHORITY: &str = "hitkeep-sink.internal";
/// The full URL given to the component as `HITKEEP_SINK_URL`.
pub const SINK_URL: &str = "http://hitkeep-sink.internal/batch";

/// Everything [`EdgeHost::start`](crate::EdgeHost::start) needs.
///
/// Build it with [`EdgeConfig::new`] and change the fields that matter; every default is the
/// `hitkeep-edge` binary's.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Name of this edge, in batch ids and the batch envelope. See [`validate_edge_name`].
    pub edge_name: String,
    /// Data directory; the spool lives in `data_dir/spool/`.
    pub data_dir: PathBuf,
    /// The collector component to run.
    pub component: ComponentSource,
    /// Limits applied to each component instance (for [`ComponentSource::Runtime`], which
    /// brings its own, only `max_requests_per_instance` is taken from here).
    pub runtime: RuntimeLimits,
    /// How to reach NATS.
    pub nats: NatsConfig,
    /// When a batch is cut.
    pub batch: BatchConfig,
    /// Bound on the spool (bytes on disk plus hits waiting in the batcher).
    pub spool_max_bytes: u64,
    /// HTTP request limits enforced before the component runs.
    pub http: HttpLimits,
    /// Proxies whose `X-Forwarded-For` (and geo header) are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// A MaxMind-format (`.mmdb`) database for country, region and city.
    pub geoip_db: Option<PathBuf>,
    /// A header carrying the visitor's country, set by a CDN in front of the edge
    /// (`cf-ipcountry`); believed only from trusted proxies.
    pub geo_country_header: Option<HeaderName>,
    /// How often the configuration is requested even without a change notice.
    pub config_refresh: Duration,
    /// Where `/metrics` renders from; `None` answers `/metrics` with 404 (an embedding
    /// process serves its own).
    pub metrics: Option<PrometheusHandle>,
}

impl EdgeConfig {
    /// A configuration with every default, for the given edge name and data directory.
    pub fn new(edge_name: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            edge_name: edge_name.into(),
            data_dir: data_dir.into(),
            component: ComponentSource::Embedded,
            runtime: RuntimeLimits::default(),
            nats: NatsConfig::default(),
            batch: BatchConfig::default(),
            spool_max_bytes: 1024 * 1024 * 1024,
            http: HttpLimits::default(),
            trusted_proxies: Vec::new(),
            geoip_db: None,
            geo_country_header: None,
            config_refresh: Duration::from_secs(60),
            metrics: None,
        }
    }
}

/// Which collector component runs.
#[derive(Clone, Default)]
pub enum ComponentSource {
    /// The collector built into this crate ([`EMBEDDED_COLLECTOR`](crate::EMBEDDED_COLLECTOR)).
    #[default]
    Embedded,
    /// A `.wasm` component file.
    Path(PathBuf),
    /// A component's bytes.
    Bytes(Arc<[u8]>),
    /// An already compiled component, shared (tests run several hosts on one; compiling a
    /// component takes a while).
    Runtime(Arc<ComponentRuntime>),
}

impl std::fmt::Debug for ComponentSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded => f.write_str("Embedded"),
            Self::Path(path) => f.debug_tuple("Path").field(path).finish(),
            Self::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Self::Runtime(_) => f.write_str("Runtime(..)"),
        }
    }
}

/// How the edge reaches NATS.
#[derive(Clone)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated: `nats://host:4222`, `tls://host:4222`.
    pub url: String,
    /// Credentials.
    pub auth: NatsAuth,
    /// PEM file of a private CA to trust for TLS (implies TLS).
    pub tls_ca: Option<PathBuf>,
    /// How long a batch request waits for its ack before it is retried.
    pub request_timeout: Duration,
    /// Batches published at once.
    pub in_flight: usize,
    /// Longest wait between two attempts at one batch (exponential backoff with jitter).
    pub max_backoff: Duration,
    /// First wait after a failed attempt.
    pub min_backoff: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            auth: NatsAuth::None,
            tls_ca: None,
            request_timeout: Duration::from_secs(10),
            in_flight: 4,
            max_backoff: Duration::from_secs(30),
            min_backoff: Duration::from_millis(200),
        }
    }
}

impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &redact_url(&self.url))
            .field("auth", &self.auth)
            .field("tls_ca", &self.tls_ca)
            .field("request_timeout", &self.request_timeout)
            .field("in_flight", &self.in_flight)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// NATS credentials. `Debug` never shows the secret.
#[derive(Clone, Default)]
pub enum NatsAuth {
    /// No authentication.
    #[default]
    None,
    /// `auth_token`.
    Token(String),
    /// User and password.
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Token(_) => f.write_str("Token(..)"),
            Self::UserPassword { user, .. } => {
                f.debug_struct("UserPassword").field("user", user).finish_non_exhaustive()
            }
        }
    }
}

/// `nats://user:secret@host` → `nats://***@host`, for logs.
pub(crate) fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|one| match (one.find("://"), one.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}***{}", &one[..scheme_end + 3], &one[at..])
            }
            _ => one.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// When the batcher cuts a batch: whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Hits per batch (at most [`hitkeep_protocol::limits::MAX_BATCH_HITS`]).
    pub max_hits: usize,
    /// Encoded bytes per batch (clamped below [`hitkeep_protocol::limits::MAX_BATCH_BYTES`]
    /// with room for the NATS headers).
    pub max_bytes: usize,
    /// Age of a batch's first hit after which it is cut anyway.
    pub max_age: Duration,
    /// Answer `202` only once the hits are on disk (the journal, `crate::journal`). Off,
    /// an answer comes as soon as the hits are in memory, and a crash loses what was
    /// answered in the last `max_age`: for benchmarks and for operators who choose so.
    pub journal: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { max_hits: 1_000, max_bytes: 512 * 1024, max_age: Duration::from_millis(500), journal: true }
    }
}

/// Limits on what a client may send, enforced by the host before the component runs.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// Most request headers (431 beyond).
    pub max_headers: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Time a client has to send its request body.
    pub body_read_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Checks an edge name: 1 to [`MAX_EDGE_NAME_LEN`] characters of `[A-Za-z0-9._:-]`.
pub fn validate_edge_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_EDGE_NAME_LEN {
        return Err(format!("edge name must be 1 to {MAX_EDGE_NAME_LEN} characters long"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')) {
        return Err("edge name may only use the characters [A-Za-z0-9._:-]".into());
    }
    Ok(())
}

/// An edge name derived from a host name: characters outside the id alphabet become `-`,
/// and it is cut to [`MAX_EDGE_NAME_LEN`].
pub fn edge_name_from_hostname(hostname: &str) -> String {
    let cleaned: String = hostname
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .take(MAX_EDGE_NAME_LEN)
        .collect();
    let cleaned = cleaned.trim_matches(|c| c == '-' || c == '.').to_string();
    if cleaned.is_empty() { "edge".to_string() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_names() {
        assert!(validate_edge_name("edge-a.eu:1_x").is_ok());
        assert!(validate_edge_name("").is_err());
        assert!(validate_edge_name("has space").is_err());
        assert!(validate_edge_name(&"a".repeat(MAX_EDGE_NAME_LEN + 1)).is_err());
        assert_eq!(edge_name_from_hostname("web-1.example.com\n"), "web-1.example.com");
        assert_eq!(edge_name_from_hostname("mäx höst"), "m-x-h-st");
        assert_eq!(edge_name_from_hostname("   "), "edge");
        let long = edge_name_from_hostname(&"x".repeat(100));
        assert_eq!(long.len(), MAX_EDGE_NAME_LEN);
        assert!(validate_edge_name(&long).is_ok());
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact_url("nats://tok@host:4222"), "nats://***@host:4222");
        assert_eq!(redact_url("nats://u:p@a:1,nats://b:2"), "nats://***@a:1,nats://b:2");
        assert_eq!(redact_url("nats://host:4222"), "nats://host:4222");
        let auth = NatsAuth::UserPassword { user: "u".into(), password: "hunter2".into() };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(!format!("{:?}", NatsAuth::Token("hunter2".into())).contains("hunter2"));
    }
}
