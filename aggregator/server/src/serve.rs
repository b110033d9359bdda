//! `hitkeep serve`: everything in one process.
//!
//! Start order: database (migrations), optional demo data, NATS broker (unless an external
//! URL is configured), NATS client, ingest pipeline, HTTP server, control socket. Stop order
//! is the reverse: stop accepting HTTP, drain the pipeline (write and ack what was
//! received), close the NATS client, stop the broker, checkpoint the database.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hitkeep_broker::{Auth as BrokerAuth, Broker, BrokerConfig, TlsConfig};
use hitkeep_edge::{EdgeConfig, EdgeHost, NatsAuth};
use hitkeep_ingest::{Ingestor, Pipeline, PipelineConfig, SiteDirectory, SystemClock};
use hitkeep_store::Store;
use tokio_util::sync::CancellationToken;

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{Auth, AuthSettings};
use crate::config::Config;
use crate::edge_credentials::EdgeCredentials;
use crate::state::{AppState, Readiness};

/// Hits loaded by `serve --demo` into an empty database.
pub const DEMO_HITS: u64 = 300_000;

#[derive(Debug)]
struct NatsReadiness {
    client: async_nats::Client,
}

impl Readiness for NatsReadiness {
    fn check(&self) -> Result<(), String> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(format!("nats is {state:?}")),
        }
    }
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let signal_cancel = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        signal_cancel.cancel();
    });
    run_until(config, cancel).await
}

/// Runs until `cancel` fires.
pub async fn run_until(config: Config, cancel: CancellationToken) -> anyhow::Result<()> {
    crate::state::metrics_handle();
    let data_dir = config.data_dir.clone();
    let store = {
        let data_dir = data_dir.clone();
        let memory_limit_mib = config.memory_limit_mib;
        let compact = config.compact_at_start;
        tokio::task::spawn_blocking(move || {
            if compact && let Err(error) = crate::retention::compact_if_worth_it(&data_dir) {
                tracing::warn!(error = format!("{error:#}"), "the database was not compacted");
            }
            let store = Store::open_dir(&data_dir)?;
            store.set_memory_limit(memory_limit_mib)?;
            Ok::<_, hitkeep_store::Error>(store)
        })
        .await??
    };
    let store = Arc::new(store);
    tracing::info!(path = %store.path().display(), schema = store.schema_version()?, "database open");

    if config.demo && store.counts()?.events == 0 {
        let store = store.clone();
        let report = tokio::task::spawn_blocking(move || {
            crate::demo::load(&store, DEMO_HITS, 30, 1, std::io::IsTerminal::is_terminal(&std::io::stderr()))
        })
        .await??;
        tracing::info!(hits = report.stored, seconds = report.seconds, "demo data loaded");
    }

    let edge_credentials = {
        let (store, own) = (store.clone(), own_credentials(&config));
        Arc::new(tokio::task::spawn_blocking(move || EdgeCredentials::load(&store, own)).await??)
    };
    let (broker, nats_url) = match &config.nats_url {
        Some(url) => (None, url.clone()),
        None => {
            let broker = Broker::start(broker_config(&config, edge_credentials.broker_auth())?)
                .await
                .context("starting the embedded NATS broker")?;
            edge_credentials.attach(broker.reauthenticator());
            tracing::info!(addr = %broker.local_addr(), "embedded nats broker listening");
            let url = broker.client_url();
            (Some(broker), url)
        }
    };
    let client = connect_nats(&config, &nats_url).await?;
    let node = config.node_name.clone().unwrap_or_else(|| default_node_name(config.cluster));
    // In a cluster: the ingest stream this node reads whole, from where its database stops,
    // and the shared salts.
    // The control stream's pull that caught up at start, for its applier to go on with.
    let mut control_pull = None;
    let cluster = match config.cluster {
        true => {
            let settings = crate::cluster::ClusterSettings {
                node: node.clone(),
                replicas: config.cluster_replicas,
                stream_max_age: Duration::from_secs(u64::from(config.stream_max_age_hours) * 3600),
                stream_max_bytes: match config.stream_max_bytes_mib {
                    0 => None,
                    mib => Some(i64::try_from(mib.saturating_mul(1 << 20)).unwrap_or(i64::MAX)),
                },
            };
            let jetstream = async_nats::jetstream::new(client.clone());
            let mut stream = crate::cluster::ingest_stream(&jetstream, &settings)
                .await
                .context("joining the cluster (cluster = true needs a NATS server with JetStream)")?;
            let (position, has_events) = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    Ok::<_, hitkeep_store::Error>((store.stream_position()?, store.counts()?.events > 0))
                })
                .await??
            };
            let consumer = crate::cluster::replica_consumer(&mut stream, &node, position, has_events).await?;
            let salts = crate::cluster::SharedSalts::open(&jetstream, settings.replicas).await?;
            salts
                .refresh(hitkeep_ingest::Clock::now_ms(&SystemClock))
                .await
                .context("fetching the cluster's salts")?;
            // The control-plane writes made while this node was away, before anything reads
            // the sites.
            let (control, mut control_stream) =
                crate::replicated::ControlStream::open(jetstream.clone(), settings.replicas).await?;
            let applied = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || crate::replicated::position(&store)).await??
            };
            let control_consumer = crate::replicated::consumer(&control_stream, &node, applied).await?;
            control_pull =
                Some(crate::replicated::catch_up(&store, &control_consumer, &mut control_stream).await?);
            tracing::info!(node = %node, ?position, "cluster member");
            Some((jetstream, consumer, Arc::new(salts), control, control_consumer))
        }
        false => None,
    };
    // Singleton jobs run on the leader: this node alone, or the holder of the lease.
    let lease_secs = match config.leader_lease_secs {
        0 if config.cluster => DEFAULT_CLUSTER_LEASE_SECS,
        secs => secs,
    };
    let (leadership, lease) = if lease_secs > 0 {
        let settings = crate::leader::LeaseSettings {
            node: node.clone(),
            ttl: Duration::from_secs(lease_secs),
            replicas: config.cluster_replicas,
        };
        let (leadership, task) =
            crate::leader::start_lease(client.clone(), settings, cancel.clone()).await.context(
                "joining the leader election (leader_lease_secs needs a NATS server with JetStream)",
            )?;
        (leadership, Some(task))
    } else {
        (crate::leader::Leadership::single(), None)
    };

    let sites = SiteDirectory::new(&store.sites()?);
    let timeout_ms = i64::from(config.session_timeout_minutes) * 60_000;
    let ingestor = {
        let (store, sites) = (store.clone(), sites.clone());
        tokio::task::spawn_blocking(move || Ingestor::open(&store, sites, Arc::new(SystemClock), timeout_ms))
            .await??
    };
    let plugins = match config.plugins_config()? {
        Some(plugins_config) => {
            let plugins = tokio::task::spawn_blocking(move || hitkeep_plugins::Plugins::load(plugins_config))
                .await?
                .context("loading the enrichment plugins")?;
            tracing::info!(plugins = ?plugins.names(), "enrichment plugins loaded");
            Some(Arc::new(plugins))
        }
        None => None,
    };
    let commits = tokio::sync::watch::Sender::new(0);
    let pipeline_config = PipelineConfig {
        plugins: plugins.clone(),
        commits: Some(commits.clone()),
        stream: cluster.as_ref().map(|(_, consumer, ..)| consumer.clone()),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(ingestor, Some(client.clone()), pipeline_config).await?;
    // Batches posted over HTTP go where the edges' go: into this pipeline, or the stream.
    let submitter = match &cluster {
        Some((jetstream, ..)) => {
            hitkeep_ingest::Submitter::stream(jetstream.clone(), hitkeep_protocol::INGEST_SUBJECT.to_string())
        }
        None => pipeline.submitter(),
    };

    let salts = match &cluster {
        Some((_, _, salts, ..)) => crate::edge::SaltSource::Shared(salts.clone()),
        None => crate::edge::SaltSource::File(crate::salts::SaltKeeper::new(&data_dir)),
    };
    let edge_config =
        Arc::new(crate::edge::EdgeConfigSource::with_salts(store.clone(), salts, Arc::new(SystemClock)));
    edge_config.snapshot().context("building the edge configuration")?;
    let edge_service = tokio::spawn(crate::edge::serve(client.clone(), edge_config.clone(), cancel.clone()));
    let edge = if config.collect {
        let edge = EdgeHost::start(embedded_edge_config(&config, &nats_url)?)
            .await
            .context("starting the embedded edge collector")?;
        // The edge asks this process for its configuration over NATS; waiting for it here
        // means the first events after start are counted rather than answered 503.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !edge.has_config() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !edge.has_config() {
            tracing::warn!("the embedded edge has no configuration yet; events get 503 until it has");
        }
        tracing::info!("collecting events on /api/event with the embedded edge");
        Some(edge)
    } else {
        None
    };
    let clock = crate::state::clock_from_env()?;
    let demo_code = if config.demo { Some(SecretKind::Demo.generate()) } else { None };
    let sealer = crate::auth::sealing::SecretBox::open_dir(&data_dir)?;
    let auth = Arc::new(Auth::new(auth_settings(&config, demo_code.as_deref())?, clock, sealer));
    auth.load_policy(&store)?;
    let first_run = prepare_accounts(&store, config.demo, auth.now_ms()).await?;
    // Bound before the state is made: mailed links need the address people open.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding http listener on {}", config.listen))?;
    let http_addr = listener.local_addr()?;
    let base = config.base_url(http_addr);
    let mailer = match config.mail_settings() {
        Some(settings) => {
            let mailer = crate::mail::Mailer::new(&settings, base.clone()).context("setting up e-mail")?;
            tracing::info!(host = %settings.host, port = settings.port, "e-mail over smtp");
            Some(mailer)
        }
        None => None,
    };
    let state = AppState {
        store: store.clone(),
        sites: sites.clone(),
        readiness: Arc::new(NatsReadiness { client: client.clone() }),
        edge_config,
        ingest: Some(submitter),
        edge: edge.clone(),
        auth: auth.clone(),
        edge_credentials,
        mailer,
        passkeys: Arc::new(crate::auth::passkeys::Passkeys::new(config.public_origin().as_deref())?),
        oidc: match config.oidc_settings() {
            Some(settings) => {
                let oidc = crate::oidc::Oidc::new(settings, &base)?;
                tracing::info!(issuer = %oidc.settings.issuer, callback = oidc.redirect_url(), "single sign-on");
                Some(Arc::new(oidc))
            }
            None => None,
        },
        commits,
        favicons: Arc::new(crate::favicons::Favicons::new(
            &data_dir,
            config.favicons,
            crate::favicons::FetchPolicy::public(),
        )?),
        plugins,
        cluster: cluster
            .as_ref()
            .map(|_| crate::state::ClusterMember { node: node.clone(), client: client.clone() }),
        control_stream: cluster.as_ref().map(|(.., control, _)| control.clone()),
    };
    let control = crate::control::serve(&data_dir, state.clone(), cancel.clone()).await?;
    tracing::info!(addr = %http_addr, "http listening");
    let runtime_file = write_runtime_file(&data_dir, http_addr, &nats_url)?;
    // Printed, never logged: the link is a credential until it is used.
    match (&demo_code, first_run) {
        (Some(code), _) => {
            println!("hitkeep: demo dashboard, signed in at once: {base}/login/demo?code={code}")
        }
        (None, Some(code)) => println!(
            "hitkeep: no account yet. Create the owner at {base}/setup?code={code} (valid until used; a restart makes a new one)"
        ),
        (None, None) => println!("hitkeep: dashboard at {base}/"),
    }
    let sweeper = tokio::spawn(sweep_sessions(state.clone(), cancel.clone()));
    let live_demo = match (&edge, config.demo && config.demo_live_traffic) {
        (Some(edge), true) => {
            Some(tokio::spawn(crate::demo::live::run(edge.clone(), Arc::new(SystemClock), cancel.clone())))
        }
        (None, true) => {
            tracing::warn!("no live demo traffic: collect is off, so there is no embedded edge");
            None
        }
        _ => None,
    };
    let rollup_interval = Duration::from_secs(config.rollup_interval_secs);
    let rollups = tokio::spawn(build_rollups(state.clone(), rollup_interval, cancel.clone()));
    let retention = tokio::spawn(crate::retention::run(
        state.clone(),
        data_dir.clone(),
        (config.retention_days, config.retention_archive),
        leadership.clone(),
        cancel.clone(),
    ));
    let claims = match &cluster {
        Some((jetstream, ..)) if state.mailer.is_some() => Some(Arc::new(
            crate::cluster::MailClaims::open(jetstream, config.cluster_replicas, &node)
                .await
                .context("opening the cluster's bucket of sent e-mails")?,
        )),
        _ => None,
    };
    let applier = cluster.as_ref().map(|(.., control_consumer)| {
        let pull = control_pull.take();
        tokio::spawn(crate::replicated::run_applier(
            state.clone(),
            control_consumer.clone(),
            pull,
            cancel.clone(),
        ))
    });
    let heartbeat = cluster.map(|(jetstream, ..)| {
        let (leadership, url, node) = (leadership.clone(), base.clone(), node.clone());
        let beat = move || crate::cluster::Heartbeat {
            node: node.clone(),
            url: url.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            leader: leadership.is_leader(),
            at_ms: hitkeep_ingest::Clock::now_ms(&SystemClock),
        };
        tokio::spawn(crate::cluster::announce(jetstream, config.cluster_replicas, beat, cancel.clone()))
    });
    let reports = tokio::spawn(crate::reports::run(
        state.clone(),
        config.report_hour,
        leadership,
        claims,
        cancel.clone(),
    ));
    let app = crate::app::app(state);
    let limits = crate::listener::Limits {
        max_connections: config.http_max_connections,
        header_read_timeout: Duration::from_secs(config.http_header_read_timeout_secs),
    };
    let served = crate::listener::serve(listener, app, limits, cancel.clone().cancelled_owned()).await;
    let _ = sweeper.await;
    cancel.cancel();
    let _ = rollups.await;
    let _ = retention.await;
    let _ = reports.await;
    if let Some(heartbeat) = heartbeat {
        let _ = heartbeat.await;
    }
    if let Some(applier) = applier {
        let _ = applier.await;
    }
    if let Some(lease) = lease {
        let _ = lease.await;
    }
    if let Some(live_demo) = live_demo {
        let _ = live_demo.await;
    }

    tracing::info!("draining");
    cancel.cancel();
    if let Some(edge) = edge {
        // Publishes what the embedded edge holds while the pipeline still takes it; what
        // is left stays in its spool for the next start.
        edge.shutdown(Duration::from_secs(5)).await;
    }
    match edge_service.await {
        Ok(Err(error)) => tracing::warn!(%error, "edge configuration service failed"),
        Err(error) => tracing::warn!(%error, "edge configuration service panicked"),
        Ok(Ok(())) => {}
    }
    pipeline.shutdown().await;
    if let Err(error) = tokio::time::timeout(Duration::from_secs(5), client.drain()).await {
        tracing::warn!(%error, "nats client did not drain in time");
    }
    if let Some(broker) = broker {
        broker.shutdown().await;
    }
    let _ = control.await;
    let _ = std::fs::remove_file(&runtime_file);
    tokio::task::spawn_blocking(move || store.checkpoint()).await??;
    tracing::info!("stopped");
    served.context("http server failed")
}

/// The authentication settings of a configuration.
fn auth_settings(config: &Config, demo_code: Option<&str>) -> anyhow::Result<AuthSettings> {
    let public_origin = config.public_origin();
    Ok(AuthSettings {
        secure: public_origin.as_deref().is_some_and(|origin| origin.starts_with("https://")),
        public_origin,
        session_idle_ms: i64::from(config.session_idle_hours) * 3_600_000,
        session_max_ms: i64::from(config.session_max_days) * 86_400_000,
        trusted_proxies: parse_ranges(&config.trusted_proxies)?,
        demo_code: demo_code.map(digest),
    })
}

/// Before the first account: a new setup code (its digest stored, the code returned to be
/// printed). With `--demo`: the demo owner, signed in by the demo link.
async fn prepare_accounts(store: &Arc<Store>, demo: bool, now_ms: i64) -> anyhow::Result<Option<String>> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        if demo {
            crate::routes::account::ensure_demo_user(&store, now_ms)?;
            return Ok(None);
        }
        if store.owner_count()? > 0 {
            return Ok(None);
        }
        let code = SecretKind::Setup.generate();
        store.replace_setup_code(&digest(&code), now_ms)?;
        Ok(Some(code))
    })
    .await?
}

/// Builds the daily rollups of settled days, and rebuilds the days that got events since,
/// at start and then every `every` (see `hitkeep_store::stats::rollup`).
async fn build_rollups(state: AppState, every: Duration, cancel: CancellationToken) {
    let store = state.store.clone();
    let mut builder = match tokio::task::spawn_blocking(move || store.rollup_builder()).await {
        Ok(Ok(builder)) => builder,
        Ok(Err(error)) => {
            return tracing::warn!(code = crate::error::AppError::from(error).code(), "cannot build rollups");
        }
        Err(_) => return,
    };
    let mut interval = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = cancel.cancelled() => return,
        }
        let now = state.now_ms();
        let stop = cancel.clone();
        let pass = tokio::task::spawn_blocking(move || {
            let report = builder.run(now, &|| stop.is_cancelled());
            (builder, report)
        });
        let Ok((returned, report)) = pass.await else { return };
        builder = returned;
        match report {
            Ok(report) if report.days_built > 0 || report.marks_cleared > 0 => {
                tracing::info!(days = report.days_built, marks = report.marks_cleared, "rollups built")
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(code = crate::error::AppError::from(error).code(), "rollups not built")
            }
        }
    }
}

/// Deletes ended sessions every hour.
async fn sweep_sessions(state: AppState, cancel: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = cancel.cancelled() => return,
        }
        let now = state.now_ms();
        let idle_before = now - state.auth.settings.session_idle_ms;
        let swept = state.with_store(move |store| {
            let sessions = store.remove_expired_sessions(now, idle_before)?;
            let others = store.remove_expired_challenges(now)?
                + store.remove_expired_share_sessions(now)?
                + store.remove_expired_password_resets(now)?;
            Ok::<_, hitkeep_store::Error>(sessions + others)
        });
        match swept.await {
            Ok(0) => {}
            Ok(removed) => {
                state.auth.forget();
                tracing::debug!(removed, "ended sessions deleted");
            }
            Err(error) => tracing::warn!(code = error.code(), "could not delete ended sessions"),
        }
    }
}

fn parse_ranges(ranges: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    ranges
        .iter()
        .map(|range| {
            let range = range.trim();
            range
                .parse::<ipnet::IpNet>()
                .or_else(|_| range.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| format!("trusted_proxies: {range:?} is not an IP address or CIDR range"))
        })
        .collect()
}

/// The file a running `serve` describes itself in (`hitkeep.runtime.json` in the data
/// directory): its pid and the addresses it actually bound, which matters with port 0.
pub const RUNTIME_FILE: &str = "hitkeep.runtime.json";

fn write_runtime_file(
    data_dir: &std::path::Path,
    http: std::net::SocketAddr,
    nats_url: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let path = data_dir.join(RUNTIME_FILE);
    let nats = nats_url.rsplit_once('@').map_or(nats_url.to_string(), |(scheme_and_credentials, host)| {
        let scheme = scheme_and_credentials.split("://").next().unwrap_or("nats");
        format!("{scheme}://{host}")
    });
    let body = serde_json::json!({ "pid": std::process::id(), "http": http.to_string(), "nats": nats });
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(&body)?)?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

/// The embedded edge: the same host `hitkeep-edge` runs, talking to this process's NATS
/// (the embedded broker or the external server), spooling under `data_dir/edge`.
fn embedded_edge_config(config: &Config, nats_url: &str) -> anyhow::Result<EdgeConfig> {
    let mut edge = EdgeConfig::new("local", config.data_dir.join("edge"));
    edge.nats.url = nats_url.to_string();
    edge.nats.auth = own_credentials(config);
    edge.nats.tls_ca = config.nats_tls_cert.clone();
    edge.trusted_proxies = parse_ranges(&config.trusted_proxies)?;
    edge.geoip_db = config.geoip_db.clone();
    edge.geo_country_header = config
        .geo_country_header
        .as_deref()
        .map(|name| {
            name.parse::<http::HeaderName>()
                .with_context(|| format!("geo_country_header: {name:?} is not a header name"))
        })
        .transpose()?;
    Ok(edge)
}

/// The aggregator's own NATS credentials: what it and its embedded edge connect with, and
/// what the embedded broker gives every permission.
fn own_credentials(config: &Config) -> NatsAuth {
    match (&config.nats_token, &config.nats_user, &config.nats_password) {
        (Some(token), _, _) => NatsAuth::Token(token.clone()),
        (None, Some(user), Some(password)) => {
            NatsAuth::UserPassword { user: user.clone(), password: password.clone() }
        }
        _ => NatsAuth::None,
    }
}

/// The embedded broker: the aggregator's own credentials may do everything, edge tokens what
/// an edge does (see [`crate::edge_credentials`]).
fn broker_config(config: &Config, auth: BrokerAuth) -> anyhow::Result<BrokerConfig> {
    let tls = match (&config.nats_tls_cert, &config.nats_tls_key) {
        (Some(cert), Some(key)) => Some(TlsConfig::pem_files(cert.clone(), key.clone())),
        _ => None,
    };
    if !config.nats_listen.ip().is_loopback() && matches!(auth, BrokerAuth::None) {
        tracing::warn!(addr = %config.nats_listen, "the embedded broker listens beyond loopback without authentication");
    }
    Ok(BrokerConfig {
        listen: config.nats_listen,
        max_payload: config.nats_max_payload,
        auth,
        tls,
        ..BrokerConfig::default()
    })
}

pub(crate) async fn connect_nats(config: &Config, url: &str) -> anyhow::Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name("hitkeep-aggregator")
        .subscription_capacity(4096)
        .connection_timeout(Duration::from_secs(5));
    options = match own_credentials(config) {
        NatsAuth::None => options,
        NatsAuth::Token(token) => options.token(token),
        NatsAuth::UserPassword { user, password } => options.user_and_password(user, password),
    };
    if let Some(cert) = &config.nats_tls_cert {
        options = options.require_tls(true).add_root_certificates(cert.clone());
    }
    // A cluster's servers may be listed with commas; the client also learns the others from
    // the server it reaches.
    let servers: Vec<&str> = url.split(',').map(str::trim).filter(|url| !url.is_empty()).collect();
    options.connect(servers).await.context("connecting to nats")
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The lease's time to live in a cluster unless `leader_lease_secs` says otherwise.
const DEFAULT_CLUSTER_LEASE_SECS: u64 = 10;

/// This node's name: the host's name (in a cluster it names the node's consumer, which
/// must outlive a restart); outside a cluster with the process id too.
fn default_node_name(cluster: bool) -> String {
    let host: String = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| {
            name.trim()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                .take(48)
                .collect()
        })
        .filter(|name: &String| !name.is_empty())
        .unwrap_or_else(|| "hitkeep".into());
    if cluster { host } else { format!("{host}-{}", std::process::id()) }
}
