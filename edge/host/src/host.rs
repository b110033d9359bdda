//! Starting and stopping an edge host: [`EdgeHost::start`] wires the runtime, the spool, the
//! batcher, the publisher and the configuration sync together and returns an [`EdgeHandle`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use http::HeaderName;
use ipnet::IpNet;
use metrics_exporter_prometheus::PrometheusHandle;
use sha2::Digest;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::batcher::{BatchIds, Batcher};
use crate::config::{
    ComponentSource, EdgeConfig, HttpLimits, NatsAuth, NatsConfig, redact_url, validate_edge_name,
};
use crate::config_sync::{self, ConfigCell};
use crate::geo::GeoDb;
use crate::group::EventGroups;
use crate::ingest::Ingest;
use crate::journal::{self, Journal};
use crate::metrics as m;
use crate::publisher::{PublishSettings, Publisher};
use crate::runtime::{ComponentRuntime, Instances};
use crate::spool::Spool;
use crate::{EMBEDDED_COLLECTOR, Error};

/// Entry point: `EdgeHost::start(config)`.
#[derive(Debug)]
pub struct EdgeHost;

/// A running edge host. Clones share it. Route requests to it with
/// [`EdgeHandle::handle`] (or let [`EdgeHandle::serve`] run a listener), and stop it with
/// [`EdgeHandle::shutdown`]. Dropping the last clone without shutting down stops the
/// background work at once, as a crash would: spooled batches wait for the next start, hits
/// not yet spooled are lost.
#[derive(Debug, Clone)]
pub struct EdgeHandle {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) edge_name: String,
    pub(crate) instances: Instances,
    pub(crate) config: Arc<ConfigCell>,
    pub(crate) geo: Option<GeoDb>,
    pub(crate) geo_country_header: Option<HeaderName>,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) http: HttpLimits,
    pub(crate) metrics: Option<PrometheusHandle>,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) groups: EventGroups,
    client: Client,
    batcher: Arc<Batcher>,
    journal: Arc<Journal>,
    publisher: Arc<Publisher>,
    spool: Arc<Spool>,
    cancel: CancellationToken,
    tasks: Mutex<Tasks>,
}

#[derive(Debug, Default)]
struct Tasks {
    batcher: Option<JoinHandle<()>>,
    journal: Option<JoinHandle<()>>,
    publisher: Option<JoinHandle<()>>,
    config: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Ok(tasks) = self.tasks.get_mut() {
            for task in [&tasks.batcher, &tasks.publisher, &tasks.config].into_iter().flatten() {
                task.abort();
            }
        }
    }
}

impl EdgeHost {
    /// Compiles the component, opens the spool (queueing what earlier runs left for
    /// publishing), starts connecting to NATS and fetching the configuration, and returns at
    /// once: NATS need not be up. Must be called inside a tokio runtime.
    pub async fn start(config: EdgeConfig) -> Result<EdgeHandle, Error> {
        validate_edge_name(&config.edge_name).map_err(Error::InvalidConfig)?;
        m::describe();
        let runtime = match config.component.clone() {
            ComponentSource::Runtime(runtime) => runtime,
            source => {
                let limits = config.runtime;
                let compiled = tokio::task::spawn_blocking(move || {
                    let bytes: std::borrow::Cow<'_, [u8]> = match &source {
                        ComponentSource::Embedded => EMBEDDED_COLLECTOR.into(),
                        ComponentSource::Path(path) => std::fs::read(path)
                            .map_err(|e| Error::Component(format!("reading {}: {e}", path.display())))?
                            .into(),
                        ComponentSource::Bytes(bytes) => bytes.to_vec().into(),
                        ComponentSource::Runtime(_) => unreachable!("handled above"),
                    };
                    ComponentRuntime::new(&bytes, limits).map_err(|e| Error::Component(format!("{e:#}")))
                })
                .await
                .map_err(|e| Error::Component(e.to_string()))??;
                Arc::new(compiled)
            }
        };

        let spool_dir = config.data_dir.join("spool");
        let (spool, recovered) = Spool::open(&spool_dir, config.spool_max_bytes)
            .map_err(|source| Error::Spool { path: spool_dir.clone(), source })?;
        if !recovered.entries.is_empty() {
            tracing::info!(
                batches = recovered.entries.len(),
                bytes = spool.used_bytes(),
                "replaying the spool"
            );
        }
        let spool = Arc::new(spool);
        let geo = match &config.geoip_db {
            Some(path) => {
                Some(GeoDb::open(path).map_err(|e| Error::GeoIp(format!("{}: {e}", path.display())))?)
            }
            None => None,
        };

        let connected = Arc::new(Notify::new());
        let client = connect(&config.nats, &config.edge_name, connected.clone()).await?;

        // Hits answered `202` whose batch the last run did not spool are in the journal.
        let journal_dir = config.data_dir.join("journal");
        let journal_error = |source| Error::Spool { path: journal_dir.clone(), source };
        let spooled: std::collections::HashSet<(u64, u64)> =
            recovered.entries.iter().filter_map(|entry| entry.order()).collect();
        let unspooled = journal::recover(&journal_dir, |boot, seq| spooled.contains(&(boot, seq)))
            .map_err(journal_error)?;
        let mut last_boot_ms = recovered.last_boot_ms;
        let mut entries = recovered.entries;
        for batch in unspooled {
            let id = crate::batcher::id_of(&config.edge_name, batch.boot_ms, batch.seq);
            let payload = hitkeep_protocol::binary::encode_batch(&id, &config.edge_name, &batch.hits);
            let entry = spool.write(batch.boot_ms, batch.seq, &id, &payload).map_err(journal_error)?;
            journal::remove_recovered(&journal_dir, batch.boot_ms, batch.seq).map_err(journal_error)?;
            tracing::info!(batch = %id, hits = batch.hits.len(), "spooled a batch the last run had journaled only");
            last_boot_ms = last_boot_ms.max(Some(batch.boot_ms));
            entries.push(entry);
        }
        let ids = BatchIds::new(&config.edge_name, last_boot_ms);
        let journal = Arc::new(Journal::open(&journal_dir, ids.boot_ms()).map_err(journal_error)?);
        let batcher = Arc::new(Batcher::new(config.batch, ids, journal.clone()));
        let publisher = Arc::new(Publisher::new(connected.clone()));
        for entry in entries {
            publisher.enqueue(entry);
        }
        let cell = Arc::new(ConfigCell::default());
        let cancel = CancellationToken::new();
        let settings = PublishSettings {
            request_timeout: config.nats.request_timeout,
            in_flight: config.nats.in_flight,
            min_backoff: config.nats.min_backoff,
            max_backoff: config.nats.max_backoff,
        };
        let tasks = Tasks {
            batcher: Some(tokio::spawn(batcher.clone().run(spool.clone(), publisher.clone()))),
            journal: Some(tokio::spawn(journal.clone().run())),
            publisher: Some(tokio::spawn(publisher.clone().run(
                client.clone(),
                spool.clone(),
                settings,
                cancel.clone(),
            ))),
            config: Some(tokio::spawn(config_sync::run(
                client.clone(),
                cell.clone(),
                config.config_refresh,
                connected,
                cancel.clone(),
            ))),
        };
        tracing::info!(
            edge = %config.edge_name,
            nats = %redact_url(&config.nats.url),
            spool = %spool_dir.display(),
            "edge host started"
        );
        Ok(EdgeHandle {
            inner: Arc::new(Inner {
                edge_name: config.edge_name,
                instances: Instances::new(
                    runtime,
                    Arc::new(Ingest::new(batcher.clone(), spool.clone())),
                    config.runtime.max_requests_per_instance,
                ),
                config: cell,
                geo,
                geo_country_header: config.geo_country_header,
                trusted_proxies: config.trusted_proxies,
                http: config.http,
                metrics: config.metrics,
                shutting_down: AtomicBool::new(false),
                groups: EventGroups::new(
                    config.runtime.event_lanes as usize,
                    config.runtime.event_queue_limit as usize,
                ),
                client,
                batcher,
                journal,
                publisher,
                spool,
                cancel,
                tasks: Mutex::new(tasks),
            }),
        })
    }
}

async fn connect(nats: &NatsConfig, edge_name: &str, connected: Arc<Notify>) -> Result<Client, Error> {
    let mut options = ConnectOptions::new()
        .name(format!("hitkeep-edge {edge_name}"))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(nats.request_timeout))
        .event_callback(move |event| {
            let connected = connected.clone();
            async move {
                match event {
                    Event::Connected => {
                        metrics::gauge!(m::NATS_CONNECTED).set(1.0);
                        tracing::info!("connected to nats");
                        connected.notify_waiters();
                    }
                    Event::Disconnected => {
                        metrics::gauge!(m::NATS_CONNECTED).set(0.0);
                        tracing::warn!("disconnected from nats, reconnecting");
                    }
                    other => tracing::debug!(event = %other, "nats event"),
                }
            }
        });
    if let Some(token) = edge_token(nats) {
        // An edge token gives this edge its own reply inbox and nothing else (see
        // `hitkeep_protocol::edge_inbox_prefix`); the default `_INBOX` would be refused.
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        options = options.custom_inbox_prefix(hitkeep_protocol::edge_inbox_prefix(&digest));
    }
    options = match &nats.auth {
        NatsAuth::None => options,
        NatsAuth::Token(token) => options.token(token.clone()),
        NatsAuth::UserPassword { user, password } => {
            options.user_and_password(user.clone(), password.clone())
        }
    };
    if let Some(ca) = &nats.tls_ca {
        if !ca.is_file() {
            return Err(Error::InvalidConfig(format!("nats tls ca {} is not a file", ca.display())));
        }
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    // A cluster's servers may be listed with commas; the client also learns the others from
    // the server it reaches.
    let servers: Vec<&str> = nats.url.split(',').map(str::trim).filter(|url| !url.is_empty()).collect();
    options.connect(servers).await.map_err(|e| Error::Nats(e.to_string()))
}

/// The aggregator's edge token (`hke_...`) this edge connects with: the NATS token, or the
/// token in the URL (`nats://hke_...@host`).
fn edge_token(nats: &NatsConfig) -> Option<&str> {
    let token = match &nats.auth {
        NatsAuth::Token(token) => token.as_str(),
        NatsAuth::UserPassword { .. } => return None,
        NatsAuth::None => {
            let first = nats.url.split(',').next()?;
            let (_, rest) = first.split_once("://")?;
            let (userinfo, _) = rest.split_once('@')?;
            userinfo
        }
    };
    token.starts_with(EDGE_TOKEN_PREFIX).then_some(token)
}

/// What the aggregator's edge tokens begin with.
const EDGE_TOKEN_PREFIX: &str = "hke_";

impl EdgeHandle {
    /// True when a configuration is loaded and NATS is connected (what `/readyz` says).
    pub fn is_ready(&self) -> bool {
        self.has_config() && self.is_connected()
    }

    /// True once a configuration has been received.
    pub fn has_config(&self) -> bool {
        self.inner.config.get().is_some()
    }

    /// True while connected to NATS.
    pub fn is_connected(&self) -> bool {
        self.inner.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Batches spooled and not yet acknowledged.
    pub fn pending_batches(&self) -> usize {
        self.inner.publisher.outstanding()
    }

    /// Bytes in the spool.
    pub fn spool_bytes(&self) -> u64 {
        self.inner.spool.used_bytes()
    }

    /// The edge's name.
    pub fn edge_name(&self) -> &str {
        &self.inner.edge_name
    }

    /// The compiled component (to share it with another host).
    pub fn runtime(&self) -> Arc<ComponentRuntime> {
        self.inner.instances.runtime().clone()
    }

    /// Stops: new events get 503, the batcher's hits are spooled, and spooled batches are
    /// published for up to `grace`; what is left stays in the spool for the next start.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let (batcher, journal, publisher, config) = {
            let mut tasks = self.inner.tasks.lock().expect("tasks lock");
            (tasks.batcher.take(), tasks.journal.take(), tasks.publisher.take(), tasks.config.take())
        };
        self.inner.batcher.close();
        if let Some(batcher) = batcher {
            let _ = batcher.await;
        }
        // Everything is spooled: the journal's last round finishes the answers still waiting.
        self.inner.journal.close();
        if let Some(journal) = journal {
            let _ = journal.await;
        }
        let pending = self.inner.publisher.outstanding();
        if pending > 0 && tokio::time::timeout(grace, self.inner.publisher.drained()).await.is_err() {
            tracing::warn!(
                batches = self.inner.publisher.outstanding(),
                "shutting down with unacknowledged batches; they stay in the spool"
            );
        }
        self.inner.cancel.cancel();
        for task in [publisher, config].into_iter().flatten() {
            let _ = task.await;
        }
        let _ = self.inner.client.flush().await;
        tracing::info!("edge host stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_token_is_found_in_the_credentials_or_the_url() {
        let with = |url: &str, auth: NatsAuth| NatsConfig { url: url.into(), auth, ..NatsConfig::default() };
        let token = NatsAuth::Token("hke_abc".into());
        assert_eq!(edge_token(&with("nats://h:4222", token)), Some("hke_abc"));
        assert_eq!(
            edge_token(&with("nats://hke_def@h:4222,nats://other:4222", NatsAuth::None)),
            Some("hke_def")
        );
        assert_eq!(edge_token(&with("nats://h:4222", NatsAuth::Token("shared".into()))), None);
        assert_eq!(edge_token(&with("nats://user:pw@h:4222", NatsAuth::None)), None);
        let user = NatsAuth::UserPassword { user: "hke_x".into(), password: "p".into() };
        assert_eq!(edge_token(&with("nats://h:4222", user)), None);
    }
}
