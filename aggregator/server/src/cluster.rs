//! Scale-out: several aggregators on a NATS cluster with JetStream (`cluster = true`).
//!
//! - **The ingest stream is the log** ([`ingest_stream`]): the stream `HITKEEP_INGEST`
//!   holds the ingest subject, so an edge's batch request is answered by JetStream once the
//!   batch is stored in the replicated stream (its `Nats-Msg-Id`, the batch id, drops a
//!   resend within the duplicate window). No aggregator subscribes to the subject itself.
//! - **Every aggregator is a replica** ([`replica_consumer`]): it reads the whole stream, in
//!   order, with a durable consumer of its own (`replica-<node>`), and acks each batch after
//!   the commit that stores it. The position of every batch taken from the stream is stored
//!   with its id in the same transaction (`ingested_batches.stream_seq`), so the database
//!   knows where it stands: at start the consumer is made again from there. A node restored
//!   from another's backup resumes from the backup's position; a node whose database is
//!   empty reads the stream from its start, and refuses to start when the stream no longer
//!   holds its start. The batch-id dedupe of the database (30 days) covers the few batches a
//!   restart reads twice, and the stream keeps batches at most as long.
//! - **Salts** ([`SharedSalts`]) live in the key-value bucket `hitkeep_salts`, whose values
//!   expire 48 hours after they are written: the first node to need a day's salt creates it
//!   (compare-and-set), every node and so every edge uses that one.
//! - **Members** ([`announce`]): each node writes a heartbeat into the bucket
//!   `hitkeep_nodes` every few seconds; [`status`] puts them beside the stream's state, each
//!   replica's consumer (position and lag) and the leader's lease, for `hitkeep cluster
//!   status`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use async_nats::jetstream::{self, consumer, kv, stream};
use futures_util::StreamExt;
use hitkeep_collector_core::Salts;
use hitkeep_protocol::INGEST_SUBJECT;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The ingest stream.
pub const INGEST_STREAM: &str = "HITKEEP_INGEST";
/// The bucket of the daily salts.
pub const SALTS_BUCKET: &str = "hitkeep_salts";
/// The bucket of the members' heartbeats.
pub const NODES_BUCKET: &str = "hitkeep_nodes";
/// The bucket of the e-mails sent (or being sent) by any node.
pub const MAIL_BUCKET: &str = "hitkeep_mail";
/// How long a sent e-mail is remembered: longer than any catch-up of a missed report.
const MAIL_CLAIM_TTL: Duration = Duration::from_secs(35 * 86_400);
/// Batches a replica may have taken and not yet acknowledged; also how far before its own
/// position a replica starts reading again, since batches commit in groups.
pub const MAX_ACK_PENDING: u64 = 1024;
/// A batch not acknowledged this long after delivery is delivered again.
const ACK_WAIT: Duration = Duration::from_secs(60);
/// Resends of one batch id within this window are dropped by the stream itself.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(300);
/// The longest the stream may keep batches: the database's own dedupe window, beyond which
/// reading a batch again would store it twice.
pub const MAX_STREAM_AGE_HOURS: u32 = 30 * 24;
/// How often a node writes its heartbeat, and how long one lives.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const HEARTBEAT_TTL: Duration = Duration::from_secs(20);
const DAY_MS: i64 = 86_400_000;

/// How this node takes part.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// This node's name: its consumer's and heartbeat's name, unique in the cluster.
    pub node: String,
    /// Copies of the stream and the buckets (the NATS cluster's size, at most 5).
    pub replicas: usize,
    /// How long the stream keeps a batch.
    pub stream_max_age: Duration,
    /// The most the stream holds, in bytes (`None`: no limit); beyond it the oldest go.
    pub stream_max_bytes: Option<i64>,
}

/// The name of `node`'s consumer.
pub fn consumer_name(node: &str) -> String {
    format!("replica-{node}")
}

/// True for a name a node may have: it names a durable consumer and a key.
pub fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// The ingest stream, made or brought to `settings` (its age and size limits can change;
/// its replicas are fixed when it is made).
pub async fn ingest_stream(
    jetstream: &jetstream::Context,
    settings: &ClusterSettings,
) -> anyhow::Result<stream::Stream> {
    let config = stream::Config {
        name: INGEST_STREAM.into(),
        description: Some("batches of hits from the edges; every Hitkeep aggregator reads all of it".into()),
        subjects: vec![INGEST_SUBJECT.into()],
        retention: stream::RetentionPolicy::Limits,
        max_age: settings.stream_max_age,
        max_bytes: settings.stream_max_bytes.unwrap_or(-1),
        max_message_size: 8 * 1024 * 1024,
        duplicate_window: DUPLICATE_WINDOW,
        discard: stream::DiscardPolicy::Old,
        num_replicas: settings.replicas.clamp(1, 5),
        storage: stream::StorageType::File,
        ..Default::default()
    };
    match jetstream.get_stream(INGEST_STREAM).await {
        Ok(mut stream) => {
            let current = stream.info().await.context("reading the ingest stream")?.config.clone();
            if current.max_age != config.max_age || current.max_bytes != config.max_bytes {
                let updated = stream::Config { num_replicas: current.num_replicas, ..config };
                jetstream.update_stream(updated).await.context("changing the ingest stream's limits")?;
                tracing::info!(stream = INGEST_STREAM, "the ingest stream's limits changed");
            }
            Ok(stream)
        }
        Err(error) if matches!(error.kind(), jetstream::context::GetStreamErrorKind::JetStream(_)) => {
            let stream =
                jetstream.get_or_create_stream(config).await.context("creating the ingest stream")?;
            tracing::info!(stream = INGEST_STREAM, "created the ingest stream");
            Ok(stream)
        }
        Err(error) => Err(error).context("looking up the ingest stream"),
    }
}

/// Where a replica starts reading, given the position its database holds (`position`) and
/// whether it holds any event at all, and the stream's first sequence: `Ok(start)`, or why
/// the stream cannot bring this database up to date.
pub fn start_sequence(position: Option<u64>, has_events: bool, first_in_stream: u64) -> Result<u64, String> {
    let needed = position.map_or(1, |position| position + 1);
    // A database of events that never came from a stream (a single node joining) reads the
    // whole stream: what it has is its own.
    if first_in_stream > needed && (position.is_some() || !has_events) {
        return Err(match position {
            Some(position) => format!(
                "this database stops at position {position} of the ingest stream, which now starts at {first_in_stream}: \
                 the batches between are gone. Restore a newer backup of another node (hitkeep backup, hitkeep restore)"
            ),
            None => format!(
                "the ingest stream starts at {first_in_stream}: it no longer holds all the data. Start this node \
                 from a backup of another (hitkeep backup, hitkeep restore)"
            ),
        });
    }
    Ok(position.map_or(1, |position| (position + 1).saturating_sub(MAX_ACK_PENDING).max(1)))
}

/// This node's consumer of the ingest stream, made again from the position its database
/// holds (see [`start_sequence`]).
pub async fn replica_consumer(
    stream: &mut stream::Stream,
    node: &str,
    position: Option<u64>,
    has_events: bool,
) -> anyhow::Result<consumer::PullConsumer> {
    let first = stream.info().await.context("reading the ingest stream")?.state.first_sequence;
    let start = start_sequence(position, has_events, first).map_err(anyhow::Error::msg)?;
    let name = consumer_name(node);
    // Made again at every start: the database, not the consumer, knows what is stored.
    if let Err(error) = stream.delete_consumer(&name).await {
        tracing::debug!(%error, consumer = %name, "no consumer to replace");
    }
    let deliver_policy = if start <= 1 {
        consumer::DeliverPolicy::All
    } else {
        consumer::DeliverPolicy::ByStartSequence { start_sequence: start }
    };
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(name.clone()),
            description: Some(format!("the Hitkeep aggregator {node}")),
            deliver_policy,
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: MAX_ACK_PENDING as i64,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating the consumer {name}"))?;
    tracing::info!(consumer = %name, start, "reading the ingest stream");
    Ok(consumer)
}

/// The stream of a key-value bucket, made as the key-value layer would make it (the
/// client's own `create_key_value` first reads the account's information, whose answer from
/// Debian's nats-server 2.9 it cannot parse).
pub(crate) async fn bucket(
    jetstream: &jetstream::Context,
    name: &str,
    description: &str,
    max_age: Duration,
    replicas: usize,
) -> anyhow::Result<kv::Store> {
    let config = stream::Config {
        name: format!("KV_{name}"),
        description: Some(description.into()),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        duplicate_window: max_age.min(Duration::from_secs(120)),
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: replicas.clamp(1, 5),
        storage: stream::StorageType::File,
        ..Default::default()
    };
    jetstream
        .get_or_create_stream(config)
        .await
        .map_err(|error| anyhow::anyhow!("creating the bucket {name}: {error}"))?;
    jetstream.get_key_value(name).await.map_err(|error| anyhow::anyhow!("opening the bucket {name}: {error}"))
}

/// The daily salts, shared by every node through [`SALTS_BUCKET`]. Reading them needs the
/// network, so they are fetched by [`SharedSalts::refresh`] (at start, at each UTC midnight,
/// and every minute) and read from memory by [`SharedSalts::cached`].
#[derive(Debug)]
pub struct SharedSalts {
    bucket: kv::Store,
    cached: Mutex<Option<(i64, Salts)>>,
}

impl SharedSalts {
    /// Opens (or makes) the bucket.
    pub async fn open(jetstream: &jetstream::Context, replicas: usize) -> anyhow::Result<Self> {
        let bucket = bucket(
            jetstream,
            SALTS_BUCKET,
            "the daily salts of the visitor hash, each kept 48 hours",
            Duration::from_secs(48 * 3600),
            replicas,
        )
        .await?;
        Ok(Self { bucket, cached: Mutex::new(None) })
    }

    /// Today's and yesterday's salts at `now_ms`: the bucket's, or new ones put there by
    /// this node when nobody has made them yet.
    pub async fn refresh(&self, now_ms: i64) -> anyhow::Result<Salts> {
        let today = now_ms.div_euclid(DAY_MS);
        let salts = Salts { current: self.day(today).await?, previous: self.day(today - 1).await? };
        *self.cached.lock().expect("salts lock") = Some((today, salts.clone()));
        Ok(salts)
    }

    /// The salts of `now_ms`'s day, once [`SharedSalts::refresh`] has fetched them.
    pub fn cached(&self, now_ms: i64) -> Option<Salts> {
        let today = now_ms.div_euclid(DAY_MS);
        match &*self.cached.lock().expect("salts lock") {
            Some((day, salts)) if *day == today => Some(salts.clone()),
            _ => None,
        }
    }

    async fn day(&self, day: i64) -> anyhow::Result<[u8; 32]> {
        let key = format!("day.{day}");
        for _ in 0..3 {
            if let Some(value) = self.bucket.get(&key).await.context("reading a salt")? {
                return <[u8; 32]>::try_from(value.as_ref())
                    .map_err(|_| anyhow::anyhow!("a salt of the wrong size"));
            }
            let mut salt = [0u8; 32];
            getrandom::fill(&mut salt).expect("the operating system provides randomness");
            match self.bucket.create(&key, bytes::Bytes::copy_from_slice(&salt)).await {
                Ok(_) => {
                    tracing::info!(day, "made a new daily salt for the cluster");
                    return Ok(salt);
                }
                // Another node made it first: read theirs.
                Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error).context("storing a salt"),
            }
        }
        bail!("could not agree on the salt of day {day}")
    }
}

/// The e-mails (reports, alerts) any node has begun to send, in [`MAIL_BUCKET`]: each node's
/// outbox is its own, so before a leader sends, it claims the message there with `create`,
/// and a message another leader claimed before (a failover in between) is not sent again.
/// Keys are SHA-256 digests of what identifies a message (site, recipient, kind, period), so
/// that no address is written into NATS.
#[derive(Debug)]
pub struct MailClaims {
    bucket: kv::Store,
    node: String,
}

impl MailClaims {
    /// Opens (or makes) the bucket.
    pub async fn open(jetstream: &jetstream::Context, replicas: usize, node: &str) -> anyhow::Result<Self> {
        let bucket = bucket(
            jetstream,
            MAIL_BUCKET,
            "e-mails sent by the Hitkeep aggregators",
            MAIL_CLAIM_TTL,
            replicas,
        )
        .await?;
        Ok(Self { bucket, node: node.to_owned() })
    }

    /// True when this node claimed the message named `identity` first and may send it.
    pub async fn claim(&self, identity: &str) -> anyhow::Result<bool> {
        use sha2::Digest;
        let key: String =
            sha2::Sha256::digest(identity.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        match self.bucket.create(&key, bytes::Bytes::from(self.node.clone())).await {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(error).context("claiming an e-mail in the cluster"),
        }
    }
}

/// A node's heartbeat in [`NODES_BUCKET`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Heartbeat {
    /// The node's name.
    pub node: String,
    /// Where its dashboard and API answer.
    pub url: String,
    /// Hitkeep's version.
    pub version: String,
    /// Whether it runs the singleton jobs now.
    pub leader: bool,
    /// When it wrote this, ms since the epoch.
    pub at_ms: i64,
}

/// Writes this node's heartbeat every few seconds until `cancel`; `beat` makes each one.
pub async fn announce(
    jetstream: jetstream::Context,
    replicas: usize,
    mut beat: impl FnMut() -> Heartbeat + Send,
    cancel: CancellationToken,
) {
    let nodes = loop {
        match bucket(&jetstream, NODES_BUCKET, "the Hitkeep aggregators alive", HEARTBEAT_TTL, replicas).await
        {
            Ok(nodes) => break nodes,
            Err(error) => tracing::warn!(error = format!("{error:#}"), "cannot open the members' bucket"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
    };
    loop {
        let heartbeat = beat();
        match serde_json::to_vec(&heartbeat) {
            Ok(value) => {
                if let Err(error) = nodes.put(&heartbeat.node, value.into()).await {
                    tracing::debug!(%error, "cannot write this node's heartbeat");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot encode this node's heartbeat"),
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
    }
}

/// The cluster as `hitkeep cluster status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Who holds the lease of the singleton jobs.
    pub leader: Option<String>,
    /// The ingest stream.
    pub stream: StreamStatus,
    /// Every aggregator: alive (a heartbeat) or known by its consumer.
    pub nodes: Vec<NodeStatus>,
}

/// The ingest stream's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamStatus {
    /// Batches held.
    pub messages: u64,
    /// Bytes held.
    pub bytes: u64,
    /// The first and last positions held.
    pub first_seq: u64,
    /// See `first_seq`.
    pub last_seq: u64,
    /// The NATS server leading the stream's group, when clustered.
    pub leader: Option<String>,
    /// The NATS servers holding copies besides the leader, and whether they are current.
    pub copies: Vec<CopyStatus>,
}

/// A copy of the stream on a NATS server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyStatus {
    /// The server's name.
    pub server: String,
    /// Caught up with the leader.
    pub current: bool,
    /// Unreachable.
    pub offline: bool,
    /// Operations behind the leader.
    pub lag: Option<u64>,
}

/// One aggregator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its name.
    pub node: String,
    /// Its last heartbeat, when one is still alive.
    pub heartbeat: Option<Heartbeat>,
    /// The last position its consumer has acknowledged (all before it are stored).
    pub acked: Option<u64>,
    /// Batches in the stream after its position: how far it is behind.
    pub lag: Option<u64>,
}

/// Reads the cluster's state through `client`.
pub async fn status(client: async_nats::Client) -> anyhow::Result<ClusterStatus> {
    let jetstream = jetstream::new(client.clone());
    let mut stream = jetstream
        .get_stream(INGEST_STREAM)
        .await
        .context("no ingest stream on this NATS server: no aggregator has started with cluster = true yet")?;
    let info = stream.info().await.context("reading the ingest stream")?.clone();
    let cluster = info.cluster.clone();
    let stream_status = StreamStatus {
        messages: info.state.messages,
        bytes: info.state.bytes,
        first_seq: info.state.first_sequence,
        last_seq: info.state.last_sequence,
        leader: cluster.as_ref().and_then(|cluster| cluster.leader.clone()),
        copies: cluster
            .map(|cluster| {
                cluster
                    .replicas
                    .into_iter()
                    .map(|peer| CopyStatus {
                        server: peer.name,
                        current: peer.current,
                        offline: peer.offline,
                        lag: peer.lag,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut nodes: BTreeMap<String, NodeStatus> = BTreeMap::new();
    let mut consumers = stream.consumers();
    while let Some(consumer) = consumers.next().await {
        let consumer = consumer.context("listing the stream's consumers")?;
        let Some(node) = consumer.name.strip_prefix("replica-") else { continue };
        nodes.insert(
            node.to_owned(),
            NodeStatus {
                node: node.to_owned(),
                heartbeat: None,
                acked: Some(consumer.ack_floor.stream_sequence),
                lag: Some(consumer.num_pending + consumer.num_ack_pending as u64),
            },
        );
    }
    if let Ok(bucket) = jetstream.get_key_value(NODES_BUCKET).await
        && let Ok(mut keys) = bucket.keys().await
    {
        while let Some(Ok(key)) = keys.next().await {
            let Ok(Some(value)) = bucket.get(&key).await else { continue };
            let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&value) else { continue };
            let node = heartbeat.node.clone();
            nodes
                .entry(node.clone())
                .or_insert_with(|| NodeStatus { node, heartbeat: None, acked: None, lag: None })
                .heartbeat = Some(heartbeat);
        }
    }
    let leader = crate::leader::current_leader(client).await.ok().flatten();
    Ok(ClusterStatus { leader, stream: stream_status, nodes: nodes.into_values().collect() })
}

/// `status` as a table.
pub fn render(status: &ClusterStatus, now_ms: i64) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let stream = &status.stream;
    let _ = writeln!(
        out,
        "ingest stream {INGEST_STREAM}: {} batches, {} bytes, positions {}-{}{}",
        stream.messages,
        stream.bytes,
        stream.first_seq,
        stream.last_seq,
        stream.leader.as_ref().map(|leader| format!(", led by NATS server {leader}")).unwrap_or_default()
    );
    for copy in &stream.copies {
        let state = if copy.offline {
            "offline"
        } else if copy.current {
            "current"
        } else {
            "catching up"
        };
        let _ = writeln!(
            out,
            "  copy on {}: {state}{}",
            copy.server,
            copy.lag.map(|lag| format!(", {lag} behind")).unwrap_or_default()
        );
    }
    let _ = writeln!(out, "leader (singleton jobs): {}", status.leader.as_deref().unwrap_or("none"));
    let _ = writeln!(out, "{:<24} {:<8} {:>10} {:>8} {:>9}  url", "node", "state", "position", "lag", "seen");
    for node in &status.nodes {
        let (state, seen, url) = match &node.heartbeat {
            Some(heartbeat) => (
                if heartbeat.leader { "leader" } else { "replica" },
                format!("{:.0}s ago", ((now_ms - heartbeat.at_ms).max(0) as f64) / 1000.0),
                heartbeat.url.as_str(),
            ),
            None => ("down", "-".into(), "-"),
        };
        let position = node.acked.map_or("-".into(), |position| position.to_string());
        let lag = node.lag.map_or("-".into(), |lag| lag.to_string());
        let _ = writeln!(out, "{:<24} {state:<8} {position:>10} {lag:>8} {seen:>9}  {url}", node.node);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_starts_where_its_database_stops() {
        // A new database reads everything, while the stream holds everything.
        assert_eq!(start_sequence(None, false, 1), Ok(1));
        assert_eq!(start_sequence(None, false, 0), Ok(1));
        // A single node joining keeps what it has and reads the rest.
        assert_eq!(start_sequence(None, true, 500), Ok(1));
        // A database at 5,000 reads again from a little before it (groups commit together).
        assert_eq!(start_sequence(Some(5_000), true, 1), Ok(5_001 - MAX_ACK_PENDING));
        assert_eq!(start_sequence(Some(10), true, 1), Ok(1));
        // Up to date with a stream whose older batches aged out.
        assert_eq!(start_sequence(Some(5_000), true, 4_000), Ok(5_001 - MAX_ACK_PENDING));
        assert_eq!(start_sequence(Some(5_000), true, 5_001), Ok(5_001 - MAX_ACK_PENDING));
        // Gaps refuse.
        let gap = start_sequence(Some(5_000), true, 6_000).unwrap_err();
        assert!(gap.contains("5000") && gap.contains("6000") && gap.contains("hitkeep restore"), "{gap}");
        let empty = start_sequence(None, false, 2).unwrap_err();
        assert!(empty.contains("backup"), "{empty}");
    }

    #[test]
    fn node_names_are_checked() {
        assert!(valid_node_name("agg-1"));
        assert!(valid_node_name("eu_west_2"));
        for bad in ["", "a.b", "a b", "a*", &"x".repeat(65)] {
            assert!(!valid_node_name(bad), "{bad}");
        }
    }
}
