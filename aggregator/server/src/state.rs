//! What every handler shares: [`AppState`].

use std::sync::{Arc, OnceLock};

use hitkeep_edge::EdgeHandle;
use hitkeep_ingest::{Clock, SiteDirectory, Submitter, SystemClock};
use hitkeep_store::{Site, Store};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::auth::sealing::SecretBox;
use crate::auth::{Auth, AuthSettings};
use crate::edge::EdgeConfigSource;
use crate::edge_credentials::EdgeCredentials;
use crate::error::AppError;

/// What handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Arc<Store>,
    /// The pipeline's site directory, refreshed when sites change.
    pub sites: SiteDirectory,
    /// Reports whether the process can take traffic.
    pub readiness: Arc<dyn Readiness>,
    /// The edges' configuration, announced again when sites change.
    pub edge_config: Arc<EdgeConfigSource>,
    /// The ingest pipeline, for batches posted over HTTP.
    pub ingest: Option<Submitter>,
    /// The embedded edge host that serves `/api/event`, when it runs in this process.
    pub edge: Option<EdgeHandle>,
    /// Who is asking: sessions, tokens, throttles, and the clock they run on.
    pub auth: Arc<Auth>,
    /// The edge tokens, for edges over HTTP and the embedded broker.
    pub edge_credentials: Arc<EdgeCredentials>,
    /// Outgoing e-mail, when SMTP is configured.
    pub mailer: Option<crate::mail::Mailer>,
    /// The WebAuthn relying party and the passkey ceremonies under way.
    pub passkeys: Arc<crate::auth::passkeys::Passkeys>,
    /// The single sign-on provider, when one is configured.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
    /// Bumped by the ingest pipeline after each commit: the live stream waits on it.
    pub commits: tokio::sync::watch::Sender<u64>,
    /// Referrers' icons, fetched and cached on disk (off: nothing is fetched).
    pub favicons: Arc<crate::favicons::Favicons>,
    /// The enrichment plugins, when any are configured.
    pub plugins: Option<Arc<hitkeep_plugins::Plugins>>,
    /// In a cluster: this node's name and its NATS connection, for the cluster's state.
    pub cluster: Option<ClusterMember>,
    /// In a cluster: the control stream that control-plane writes go through
    /// (`crate::replicated`).
    pub control_stream: Option<Arc<crate::replicated::ControlStream>>,
}

/// This node as a member of a cluster.
#[derive(Clone, Debug)]
pub struct ClusterMember {
    /// Its name.
    pub node: String,
    /// Its NATS connection.
    pub client: async_nats::Client,
}

impl AppState {
    /// A state for the command line's in-process control calls and for tests: no NATS, no
    /// pipeline, no edge.
    pub fn offline(
        store: Arc<Store>,
        data_dir: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let sites = SiteDirectory::new(&store.sites()?);
        let edge_config = Arc::new(EdgeConfigSource::new(store.clone(), data_dir, clock.clone()));
        let edge_credentials = Arc::new(EdgeCredentials::load(&store, hitkeep_edge::NatsAuth::None)?);
        let auth = Auth::new(AuthSettings::default(), clock, SecretBox::open_dir(data_dir)?);
        auth.load_policy(&store)?;
        Ok(Self {
            store,
            sites,
            readiness: Arc::new(NotServing),
            edge_config,
            ingest: None,
            edge: None,
            auth: Arc::new(auth),
            edge_credentials,
            mailer: None,
            passkeys: Arc::new(crate::auth::passkeys::Passkeys::new(None)?),
            oidc: None,
            commits: tokio::sync::watch::Sender::new(0),
            // The command line's calls and tests fetch nothing unless a test says so.
            favicons: Arc::new(crate::favicons::Favicons::new(
                data_dir,
                false,
                crate::favicons::FetchPolicy::public(),
            )?),
            plugins: None,
            cluster: None,
            control_stream: None,
        })
    }

    /// The same state on the system clock.
    pub fn offline_now(store: Arc<Store>, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        Self::offline(store, data_dir, Arc::new(SystemClock))
    }

    /// Runs `work` on the store on the blocking pool (DuckDB calls block), with the store's
    /// and the task's errors as API errors.
    pub async fn with_store<T, E>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        E: Into<AppError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&store)).await?.map_err(Into::into)
    }

    /// The clock's now, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.auth.now_ms()
    }

    /// After sites changed: the pipeline's directory, the edges and the access cache learn it.
    pub fn sites_changed(&self, all: &[Site]) {
        self.sites.replace(all);
        self.edge_config.notify_changed();
        self.auth.forget();
    }
}

/// Something that knows whether the process is ready (NATS connected, pipeline running).
pub trait Readiness: Send + Sync + std::fmt::Debug {
    /// `Err(reason)` when not ready.
    fn check(&self) -> Result<(), String>;
}

/// The readiness of a process that serves no traffic (the command line's own calls).
#[derive(Debug)]
struct NotServing;

impl Readiness for NotServing {
    fn check(&self) -> Result<(), String> {
        Err("not serving".into())
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics will be empty");
        }
        handle
    })
}

/// `YYYY-MM-DD HH:MM` in UTC for a time in ms since the epoch.
pub fn format_utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let minutes = ms_of_day / 60_000;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

/// The environment variable that starts the server's clock at another instant (RFC 3339,
/// `2026-03-09T06:59:50-04:00`), from which it runs at the normal pace: for tests of what
/// happens at a given time (a report falling due, sessions expiring). Hits are still
/// stamped by the system clock.
pub const TEST_CLOCK_VAR: &str = "HITKEEP_TEST_CLOCK";

/// A clock that runs at the system's pace from another start.
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock {
    offset_ms: i64,
}

impl ShiftedClock {
    /// A clock that reads `start_ms` now.
    pub fn starting_at(start_ms: i64) -> Self {
        Self { offset_ms: start_ms - SystemClock.now_ms() }
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms
    }
}

/// The server's clock: the system's, or [`ShiftedClock`] when [`TEST_CLOCK_VAR`] is set.
pub fn clock_from_env() -> anyhow::Result<Arc<dyn Clock>> {
    match std::env::var(TEST_CLOCK_VAR) {
        Ok(start) if !start.is_empty() => {
            let start = chrono::DateTime::parse_from_rfc3339(&start).map_err(|error| {
                anyhow::anyhow!("{TEST_CLOCK_VAR}={start:?} is not an RFC 3339 time: {error}")
            })?;
            tracing::warn!(start = %start, "the server's clock is shifted ({TEST_CLOCK_VAR}); for tests only");
            Ok(Arc::new(ShiftedClock::starting_at(start.timestamp_millis())))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}
