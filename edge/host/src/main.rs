//! `hitkeep-edge`: the standalone edge host. Every flag has a `HITKEEP_EDGE_*` environment
//! variable; secrets can come from files (`--nats-token-file`, `--nats-password-file`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use hitkeep_edge::{
    BatchConfig, ComponentSource, EdgeConfig, EdgeHost, NatsAuth, NatsConfig, edge_name_from_hostname,
    validate_edge_name,
};
use http::HeaderName;
use ipnet::IpNet;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
#[command(
    name = "hitkeep-edge",
    version,
    about = "Hitkeep edge host: runs the collector component, spools and publishes hits over NATS"
)]
struct Args {
    /// Address to serve HTTP on.
    #[arg(long, env = "HITKEEP_EDGE_LISTEN", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// NATS server URL(s), comma-separated (`nats://`, `tls://`).
    #[arg(long, env = "HITKEEP_EDGE_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// NATS auth token.
    #[arg(long, env = "HITKEEP_EDGE_NATS_TOKEN", hide_env_values = true, conflicts_with = "nats_token_file")]
    nats_token: Option<String>,
    /// File holding the NATS auth token.
    #[arg(long, env = "HITKEEP_EDGE_NATS_TOKEN_FILE")]
    nats_token_file: Option<PathBuf>,
    /// NATS user (with --nats-password or --nats-password-file).
    #[arg(long, env = "HITKEEP_EDGE_NATS_USER", conflicts_with_all = ["nats_token", "nats_token_file"])]
    nats_user: Option<String>,
    /// NATS password.
    #[arg(
        long,
        env = "HITKEEP_EDGE_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user",
        conflicts_with = "nats_password_file"
    )]
    nats_password: Option<String>,
    /// File holding the NATS password.
    #[arg(long, env = "HITKEEP_EDGE_NATS_PASSWORD_FILE", requires = "nats_user")]
    nats_password_file: Option<PathBuf>,
    /// PEM file of a private CA that signed the NATS server's certificate (implies TLS).
    #[arg(long, env = "HITKEEP_EDGE_NATS_TLS_CA")]
    nats_tls_ca: Option<PathBuf>,
    /// Data directory (the spool lives in DIR/spool).
    #[arg(long, env = "HITKEEP_EDGE_DATA_DIR", default_value = "./hitkeep-edge-data")]
    data_dir: PathBuf,
    /// Name of this edge, 1-40 characters of [A-Za-z0-9._:-]. Default: from the host name.
    #[arg(long, env = "HITKEEP_EDGE_NAME")]
    edge_name: Option<String>,
    /// A collector component (.wasm) to run instead of the embedded one.
    #[arg(long, env = "HITKEEP_EDGE_COMPONENT")]
    component: Option<PathBuf>,
    /// A MaxMind-format GeoIP database (.mmdb: GeoLite2/GeoIP2 City or Country, DB-IP lite).
    #[arg(long, env = "HITKEEP_EDGE_GEOIP_DB")]
    geoip_db: Option<PathBuf>,
    /// A request header with the visitor's country set by a CDN (`cf-ipcountry`); believed
    /// only from --trusted-proxy addresses.
    #[arg(long, env = "HITKEEP_EDGE_GEO_COUNTRY_HEADER")]
    geo_country_header: Option<HeaderName>,
    /// A proxy (CIDR or address) whose X-Forwarded-For is believed. Repeatable; the
    /// environment variable takes a comma-separated list.
    #[arg(long = "trusted-proxy", env = "HITKEEP_EDGE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    trusted_proxies: Vec<IpNet>,
    /// Hits per batch.
    #[arg(long, env = "HITKEEP_EDGE_BATCH_HITS", default_value_t = 1000)]
    batch_hits: usize,
    /// Milliseconds after its first hit when a batch is cut anyway.
    #[arg(long, env = "HITKEEP_EDGE_BATCH_MS", default_value_t = 500)]
    batch_ms: u64,
    /// Answer 202 before the hits are on disk (no journal): faster, but a crash loses what
    /// was answered in the last batch interval.
    #[arg(long, env = "HITKEEP_EDGE_ANSWER_BEFORE_DISK")]
    answer_before_disk: bool,
    /// Spool bound (bytes; suffixes K, M, G, KiB, MiB, GiB). Beyond it new hits get 503.
    #[arg(long, env = "HITKEEP_EDGE_SPOOL_MAX_BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    spool_max_bytes: u64,
    /// Component instances running at once.
    #[arg(long, env = "HITKEEP_EDGE_MAX_CONCURRENCY", default_value_t = 128)]
    max_concurrency: u32,
    /// Requests one component instance serves before it is dropped: 1 is a fresh instance per
    /// request (full isolation between requests); more saves instantiation and teardown.
    #[arg(long, env = "HITKEEP_EDGE_MAX_REQUESTS_PER_INSTANCE", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    max_requests_per_instance: u32,
    /// Component calls carrying events at once; events arriving while all are busy go
    /// together in the next call. Default: half the CPUs, at least 1.
    #[arg(long, env = "HITKEEP_EDGE_EVENT_LANES", value_parser = clap::value_parser!(u32).range(1..))]
    event_lanes: Option<u32>,
    /// Events waiting for a free lane at most; more are refused with 503 and `Retry-After`.
    #[arg(long, env = "HITKEEP_EDGE_EVENT_QUEUE_LIMIT", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    event_queue_limit: u32,
    /// Seconds to keep publishing the spool after SIGTERM before exiting.
    #[arg(long, env = "HITKEEP_EDGE_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    shutdown_grace_secs: u64,
    /// Log filter: a level (`info`) or tracing directives (`hitkeep_edge=debug,warn`).
    #[arg(long, env = "HITKEEP_EDGE_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long, env = "HITKEEP_EDGE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

fn parse_net(value: &str) -> Result<IpNet, String> {
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{value:?} is neither a CIDR nor an ip address"))
}

fn parse_bytes(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let digits_end = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| format!("{value:?} is not a size"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("{value:?} is too large"))
}

fn read_secret(path: &PathBuf) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

fn default_edge_name() -> String {
    let hostname = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    edge_name_from_hostname(&hostname)
}

fn init_logging(level: &str, format: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .with_context(|| format!("invalid --log-level {level:?}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init()
    } else {
        builder.init()
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn config_from(
    args: Args,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
) -> anyhow::Result<EdgeConfig> {
    let edge_name = args.edge_name.clone().unwrap_or_else(default_edge_name);
    if let Err(reason) = validate_edge_name(&edge_name) {
        bail!("invalid --edge-name {edge_name:?}: {reason}");
    }
    let auth = match (args.nats_token, args.nats_token_file, args.nats_user) {
        (Some(token), _, _) => NatsAuth::Token(token),
        (None, Some(file), _) => NatsAuth::Token(read_secret(&file)?),
        (None, None, Some(user)) => {
            let password = match (args.nats_password, args.nats_password_file) {
                (Some(password), _) => password,
                (None, Some(file)) => read_secret(&file)?,
                (None, None) => bail!("--nats-user needs --nats-password or --nats-password-file"),
            };
            NatsAuth::UserPassword { user, password }
        }
        (None, None, None) => NatsAuth::None,
    };
    let mut config = EdgeConfig::new(edge_name, args.data_dir);
    config.component = match args.component {
        Some(path) => ComponentSource::Path(path),
        None => ComponentSource::Embedded,
    };
    config.runtime.max_concurrency = args.max_concurrency;
    config.runtime.max_requests_per_instance = args.max_requests_per_instance;
    if let Some(lanes) = args.event_lanes {
        config.runtime.event_lanes = lanes;
    }
    config.runtime.event_queue_limit = args.event_queue_limit;
    config.nats = NatsConfig { url: args.nats_url, auth, tls_ca: args.nats_tls_ca, ..NatsConfig::default() };
    config.batch = BatchConfig {
        max_hits: args.batch_hits,
        max_age: Duration::from_millis(args.batch_ms),
        journal: !args.answer_before_disk,
        ..BatchConfig::default()
    };
    config.spool_max_bytes = args.spool_max_bytes;
    config.trusted_proxies = args.trusted_proxies;
    config.geoip_db = args.geoip_db;
    config.geo_country_header = args.geo_country_header;
    config.metrics = Some(metrics);
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(&args.log_level, &args.log_format)?;
    let (listen, grace) = (args.listen, Duration::from_secs(args.shutdown_grace_secs));

    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });

    let config = config_from(args, metrics)?;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    let handle = EdgeHost::start(config).await?;
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, edge = handle.edge_name(), "listening");
    // A machine-readable line for scripts and tests that start us on port 0.
    println!("hitkeep-edge listening on http://{local}");

    handle.serve(listener, shutdown_signal()).await?;
    tracing::info!("shutting down");
    handle.shutdown(grace).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("10k"), Ok(10_000));
        assert_eq!(parse_bytes("42"), Ok(42));
        assert!(parse_bytes("ten").is_err());
        assert!(parse_bytes("1 parsec").is_err());
    }

    #[test]
    fn nets() {
        assert_eq!(parse_net("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_net("192.0.2.1").unwrap().to_string(), "192.0.2.1/32");
        assert!(parse_net("nope").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
