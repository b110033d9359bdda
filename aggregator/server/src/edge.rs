//! What the aggregator serves its edges: the configuration snapshot (sites, their privacy
//! rules, today's and yesterday's salt) as a NATS request/reply service, and a change
//! notice whenever it changes (a site added, removed or edited; the salt rotated at UTC
//! midnight), so edges can fetch it again.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use hitkeep_collector_core::{Config, Salts, SiteSettings};
use hitkeep_ingest::Clock;
use hitkeep_protocol::{EDGE_CONFIG_CHANGED_SUBJECT, EDGE_CONFIG_SUBJECT};
use hitkeep_store::{Site, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::cluster::SharedSalts;
use crate::salts::{SaltKeeper, until_next_day_ms};

/// Where the daily salts come from: this node's data directory, or the cluster's bucket.
#[derive(Debug)]
pub enum SaltSource {
    /// `salts.json` in the data directory (a single node).
    File(SaltKeeper),
    /// The cluster's bucket, shared by every node.
    Shared(Arc<SharedSalts>),
}

impl SaltSource {
    fn salts(&self, now_ms: i64) -> anyhow::Result<Salts> {
        match self {
            Self::File(keeper) => keeper.salts(now_ms),
            Self::Shared(shared) => {
                shared.cached(now_ms).context("the cluster's salts of today are not fetched yet")
            }
        }
    }

    /// Makes or fetches the salts of `now_ms`'s day.
    pub async fn rotate(&self, now_ms: i64) -> anyhow::Result<Salts> {
        match self {
            Self::File(keeper) => keeper.salts(now_ms),
            Self::Shared(shared) => shared.refresh(now_ms).await,
        }
    }

    /// How long until the salts should be looked at again: past the next UTC midnight; in
    /// a cluster at least every minute too (another node may have made the day's salt).
    fn recheck_in(&self, now_ms: i64) -> Duration {
        let midnight = Duration::from_millis(until_next_day_ms(now_ms) as u64) + Duration::from_secs(1);
        match self {
            Self::File(_) => midnight,
            Self::Shared(_) => midnight.min(Duration::from_secs(60)),
        }
    }
}

/// Builds edge configuration snapshots.
#[derive(Debug)]
pub struct EdgeConfigSource {
    store: Arc<Store>,
    salts: SaltSource,
    clock: Arc<dyn Clock>,
    changed: Notify,
}

impl EdgeConfigSource {
    /// A source over `store`, keeping salts in `data_dir`.
    pub fn new(store: Arc<Store>, data_dir: &std::path::Path, clock: Arc<dyn Clock>) -> Self {
        Self::with_salts(store, SaltSource::File(SaltKeeper::new(data_dir)), clock)
    }

    /// A source over `store` with the salts of `salts`.
    pub fn with_salts(store: Arc<Store>, salts: SaltSource, clock: Arc<dyn Clock>) -> Self {
        Self { store, salts, clock, changed: Notify::new() }
    }

    /// The snapshot edges load with `Config::from_json`, as JSON.
    pub fn snapshot(&self) -> anyhow::Result<Vec<u8>> {
        let sites = self.store.sites()?.iter().map(site_settings).collect::<anyhow::Result<Vec<_>>>()?;
        let salts = self.salts.salts(self.clock.now_ms())?;
        let config = Config::new(sites, salts).context("building the edge configuration")?;
        Ok(serde_json::to_vec(&config)?)
    }

    /// Tells edges to fetch the configuration again.
    pub fn notify_changed(&self) {
        self.changed.notify_one();
    }
}

/// A site as edges see it. Rules were checked when they were set; a rule that no longer
/// parses is an error here rather than a silently dropped rule.
pub(crate) fn site_settings(site: &Site) -> anyhow::Result<SiteSettings> {
    fn parse_all<T: std::str::FromStr>(site: &Site, field: &str, rules: &[String]) -> anyhow::Result<Vec<T>>
    where
        T::Err: std::fmt::Display,
    {
        rules
            .iter()
            .map(|rule| {
                rule.parse().map_err(|e| anyhow::anyhow!("site {}: {field} {rule:?}: {e}", site.domain))
            })
            .collect()
    }
    let mut settings = SiteSettings::new(site.domain.clone());
    settings.honor_dnt = site.rules.honor_dnt;
    settings.honor_gpc = site.rules.honor_gpc;
    settings.excluded_ip_ranges = parse_all(site, "excluded_ip_ranges", &site.rules.excluded_ip_ranges)?;
    settings.excluded_paths = parse_all(site, "excluded_paths", &site.rules.excluded_paths)?;
    settings.allowed_hostnames = parse_all(site, "allowed_hostnames", &site.rules.allowed_hostnames)?;
    Ok(settings)
}

/// Answers configuration requests and announces changes until `cancel` fires.
pub async fn serve(
    client: async_nats::Client,
    source: Arc<EdgeConfigSource>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut requests = client
        .queue_subscribe(EDGE_CONFIG_SUBJECT, "hitkeep-aggregators".to_string())
        .await
        .context("subscribing to edge configuration requests")?;
    let mut last_salts = source.salts.salts(source.clock.now_ms()).ok();
    loop {
        let recheck_in = source.salts.recheck_in(source.clock.now_ms());
        tokio::select! {
            _ = cancel.cancelled() => break,
            request = requests.next() => {
                let Some(request) = request else { break };
                let Some(reply) = request.reply else { continue };
                match source.snapshot() {
                    Ok(snapshot) => {
                        if let Err(error) = client.publish(reply, snapshot.into()).await {
                            tracing::warn!(%error, "cannot answer an edge configuration request");
                        }
                    }
                    Err(error) => tracing::error!(%error, "cannot build the edge configuration"),
                }
            }
            _ = source.changed.notified() => announce(&client).await,
            // A second past midnight, so the new day's salt exists for whoever asks.
            _ = tokio::time::sleep(recheck_in) => {
                match source.salts.rotate(source.clock.now_ms()).await {
                    Ok(salts) if last_salts.as_ref() != Some(&salts) => {
                        last_salts = Some(salts);
                        announce(&client).await;
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(error = format!("{error:#}"), "cannot rotate the salts"),
                }
            }
        }
    }
    Ok(())
}

async fn announce(client: &async_nats::Client) {
    if let Err(error) = client.publish(EDGE_CONFIG_CHANGED_SUBJECT, bytes::Bytes::new()).await {
        tracing::warn!(%error, "cannot announce an edge configuration change");
    }
}
