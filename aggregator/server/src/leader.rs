//! Leadership: which node runs the singleton jobs (reports and alerts, retention).
//!
//! A single `hitkeep serve` is always the leader ([`Leadership::single`]). With several
//! aggregators on a NATS cluster with JetStream, the leader is whoever holds a lease in a
//! JetStream key-value bucket ([`run_lease`]):
//!
//! - the bucket keeps one value per key (`history` 1) for at most the lease's time to live
//!   (`max_age`): a value nobody renews is gone after `ttl`;
//! - a node takes the lease with `create` (only if nobody holds it) and renews it every
//!   `ttl / 4` with `update` on the revision it wrote (compare-and-set), so two nodes can
//!   never both renew it;
//! - a leader whose renewal fails, or that has not renewed for `ttl / 2` (cut off from NATS),
//!   stops being the leader at once, while the server keeps its value until `ttl` after the
//!   last write: its jobs stop before anyone else can take the lease;
//! - a leader that shuts down deletes the lease (on its revision), so another takes over
//!   within one attempt interval instead of a whole `ttl`.
//!
//! Jobs read [`Leadership::is_leader`] before each pass.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::kv;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The bucket of the lease.
pub const LEASE_BUCKET: &str = "hitkeep_leader";
/// Its key.
const LEASE_KEY: &str = "singleton-jobs";

/// Whether this node is the leader now.
#[derive(Debug, Clone)]
pub struct Leadership {
    leader: watch::Receiver<bool>,
}

impl Leadership {
    /// A node alone: always the leader.
    pub fn single() -> Self {
        let (_, leader) = watch::channel(true);
        Self { leader }
    }

    /// Whether this node is the leader now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }
}

/// How the lease is held.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// This node's name (in the lease's value, and in `cluster status`).
    pub node: String,
    /// How long a lease lives without renewal.
    pub ttl: Duration,
    /// Replicas of the bucket (the cluster's size, at most 5).
    pub replicas: usize,
}

/// Takes part in the election through `client`'s JetStream until `cancel`; the returned
/// [`Leadership`] follows it.
pub async fn start_lease(
    client: async_nats::Client,
    settings: LeaseSettings,
    cancel: CancellationToken,
) -> anyhow::Result<(Leadership, tokio::task::JoinHandle<()>)> {
    let store = crate::cluster::bucket(
        &jetstream::new(client),
        LEASE_BUCKET,
        "the leader of the Hitkeep aggregators (singleton jobs)",
        settings.ttl,
        settings.replicas,
    )
    .await?;
    let (sender, leader) = watch::channel(false);
    let task = tokio::spawn(run_lease(store, settings, sender, cancel));
    Ok((Leadership { leader }, task))
}

/// Holds or waits for the lease until `cancel`.
async fn run_lease(
    store: kv::Store,
    settings: LeaseSettings,
    leader: watch::Sender<bool>,
    cancel: CancellationToken,
) {
    let renew_every = settings.ttl / 4;
    let hold_for = settings.ttl / 2;
    let value = bytes::Bytes::from(settings.node.clone());
    // `(revision, when the write that made it was sent)` while leading.
    let mut held: Option<(u64, Instant)> = None;
    loop {
        match held {
            None => {
                let asked = Instant::now();
                if let Ok(Ok(revision)) =
                    tokio::time::timeout(renew_every, store.create(LEASE_KEY, value.clone())).await
                {
                    held = Some((revision, asked));
                    leader.send_replace(true);
                    tracing::info!(node = %settings.node, "took the leadership: running the singleton jobs");
                }
            }
            Some((revision, since)) => {
                let asked = Instant::now();
                let renewed =
                    tokio::time::timeout(renew_every, store.update(LEASE_KEY, value.clone(), revision)).await;
                match renewed {
                    Ok(Ok(revision)) => held = Some((revision, asked)),
                    outcome => {
                        // Refused (someone else holds it: ours expired) or no answer: once
                        // the last good renewal is `hold_for` old, stop, well before the
                        // server lets the value expire.
                        let lost = matches!(outcome, Ok(Err(_))) || since.elapsed() >= hold_for;
                        if lost {
                            held = None;
                            leader.send_replace(false);
                            tracing::warn!(node = %settings.node, "lost the leadership: singleton jobs stop");
                        }
                    }
                }
            }
        }
        // A leader also stops on its own clock if renewals hang.
        let wait = match held {
            Some((_, since)) => renew_every.min(hold_for.saturating_sub(since.elapsed())),
            None => renew_every,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => break,
        }
    }
    if let Some((revision, _)) = held {
        leader.send_replace(false);
        let released = tokio::time::timeout(
            Duration::from_secs(2),
            store.delete_expect_revision(LEASE_KEY, Some(revision)),
        );
        if matches!(released.await, Ok(Ok(()))) {
            tracing::info!(node = %settings.node, "released the leadership");
        }
    }
}

/// Who holds the lease now, if anyone.
pub async fn current_leader(client: async_nats::Client) -> anyhow::Result<Option<String>> {
    let store = jetstream::new(client).get_key_value(LEASE_BUCKET).await?;
    Ok(store
        .entry(LEASE_KEY)
        .await?
        .filter(|entry| entry.operation == kv::Operation::Put)
        .map(|entry| String::from_utf8_lossy(&entry.value).into_owned()))
}
