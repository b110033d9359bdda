//! The running pipeline: a NATS queue subscription, the enrichment plugins, a bounded queue,
//! and four threads that drive the two halves of the [`Ingestor`]: prepare, stage, commit,
//! checkpoint; and the task that publishes acks.
//!
//! ```text
//! tokio tasks          prepare thread             stage thread          commit thread        tokio task
//! receive, decode ─► intake ─► group, dedupe, ─► 1 ─► open a transaction ─► commit it, fall ─► acks
//! (plugins: on the  (bounded)  validate, resolve  (one on a free writer,    back one by one,   (publish,
//!  blocking pool)              sites, sessionize, group) append the group   dead letters       flush)
//!                              build Arrow rows         ▲                   │        │
//!                                  ▲                    └── free writer ────┘        ▼
//!                                  └──────────── spent batches, to free ─────  checkpoint thread
//!                                                                              (at 256 MB of log)
//! ```
//!
//! DuckDB's work is most of the pipeline's, so everything that can happen before the
//! transaction happens on the prepare thread, and DuckDB's part is split in three:
//!
//! * the stage thread appends a group to a transaction on one of two writers (database
//!   connections) while the commit thread commits the group before on the other: a group's
//!   append and the commit before it overlap, and commits stay in order;
//! * the checkpoint thread checkpoints (writes the log into the database file, compressed)
//!   once the write-ahead log has passed [`PipelineConfig::checkpoint_wal_bytes`]. DuckDB lets
//!   insert-only transactions commit meanwhile, so the pipeline does not stop for it.
//!
//! Between the prepare and stage threads waits at most one prepared group: while no writer
//! is free the prepare thread blocks, batches pile up in the intake, and the next group is
//! larger, so the transactions grow with the load (up to [`PipelineConfig::max_group_hits`]).
//! The commit thread hands the spent batches back, so that even freeing their hits costs it
//! nothing. Deduplication spans the threads: a batch id is claimed before its hits reach the
//! sessions and settled only after its commit (see `dedupe.rs`), so a second copy that
//! arrives meanwhile waits for the first one's outcome and is acked as a duplicate, never
//! prepared or written.
//!
//! With plugins, each batch is decoded and enriched on tokio's blocking pool, up to
//! [`PipelineConfig::enrich_workers`] batches at once, before it joins the writer's queue:
//! the writer thread is the pipeline's bottleneck and must not wait for plugins. They still
//! join the queue in the order they arrived (see `Forwarder`): sessions are assigned in that
//! order, and replicas reading the same stream must assign them alike. Batches posted over
//! HTTP, which have no order among them, join as soon as they are enriched.

use std::sync::Arc;
use std::sync::mpsc as sync_mpsc;
use std::thread::JoinHandle;

use futures_util::StreamExt;
use hitkeep_plugins::Plugins;
use hitkeep_protocol::{Ack, AckStatus, INGEST_SUBJECT};
use hitkeep_store::EventWriter;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::batch::{Enriched, Envelope, Incoming, ReplyTo};
use crate::commit::{Committer, Staged, checkpoint};
use crate::ingestor::Ingestor;
use crate::prepare::{PreparedGroup, Preparer};

/// Tuning of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Subject batches arrive on.
    pub subject: String,
    /// Queue group shared by all aggregators, so each batch goes to one of them.
    pub queue_group: String,
    /// Batches waiting to be prepared at most; beyond this, intake waits (backpressure).
    pub queue_capacity: usize,
    /// Most hits written in one transaction.
    pub max_group_hits: usize,
    /// The enrichment plugins every batch runs through before it is written; `None` for
    /// none.
    pub plugins: Option<Arc<Plugins>>,
    /// Batches enriched at once (each on a thread of tokio's blocking pool); beyond this,
    /// intake waits. The default is one per CPU, at least 2.
    pub enrich_workers: usize,
    /// The pipeline checkpoints (writes the write-ahead log into the database file,
    /// compressed) once the log has grown past this many bytes.
    pub checkpoint_wal_bytes: u64,
    /// Counts commits, for whoever waits for new data (the dashboard's live stream): bumped
    /// after every group's commit.
    pub commits: Option<tokio::sync::watch::Sender<u64>>,
    /// In a cluster: this replica's consumer of the ingest stream (JetStream), read in
    /// stream order instead of subscribing to `subject`; each batch is acknowledged to the
    /// stream after its commit, and its position stored with it.
    pub stream: Option<async_nats::jetstream::consumer::PullConsumer>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            subject: INGEST_SUBJECT.to_string(),
            queue_group: "hitkeep-aggregators".to_string(),
            queue_capacity: 256,
            max_group_hits: 50_000,
            plugins: None,
            enrich_workers: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            checkpoint_wal_bytes: hitkeep_store::CHECKPOINT_WAL_BYTES,
            commits: None,
            stream: None,
        }
    }
}

/// Runs the plugins on batches, a bounded number at a time.
#[derive(Debug, Clone)]
struct Enricher {
    plugins: Arc<Plugins>,
    permits: Arc<Semaphore>,
    workers: u32,
}

impl Enricher {
    fn new(config: &PipelineConfig) -> Option<Self> {
        let plugins = config.plugins.clone()?;
        let workers = u32::try_from(config.enrich_workers.max(1)).unwrap_or(u32::MAX);
        Some(Self { plugins, permits: Arc::new(Semaphore::new(workers as usize)), workers })
    }

    /// Decodes and enriches on the blocking pool. `None` when the blocking task could not
    /// finish (the runtime is shutting down): the batch is then not acked and its edge
    /// resends it.
    async fn enrich(plugins: Arc<Plugins>, payload: bytes::Bytes, reply: ReplyTo) -> Option<Enriched> {
        let enriched =
            tokio::task::spawn_blocking(move || Enriched::new(Incoming::decode(payload, reply), &plugins))
                .await;
        match enriched {
            Ok(enriched) => Some(enriched),
            Err(error) => {
                tracing::error!(%error, "enrichment task failed; the batch stays unacked");
                None
            }
        }
    }

    /// Waits until every batch being enriched has joined the queue.
    async fn drain(&self) {
        let _all = self.permits.acquire_many(self.workers).await;
    }
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The NATS subscription failed.
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The cause.
        source: async_nats::SubscribeError,
    },
    /// A pipeline thread could not be spawned.
    #[error("cannot start a pipeline thread: {0}")]
    Thread(std::io::Error),
    /// The second database connection could not be opened.
    #[error("cannot open a second writer: {0}")]
    Writer(hitkeep_store::Error),
}

/// A running pipeline. Dropping it without [`Pipeline::shutdown`] abandons queued batches
/// unacked (their edges resend them).
#[derive(Debug)]
pub struct Pipeline {
    intake: mpsc::Sender<Enriched>,
    enricher: Option<Enricher>,
    cancel: CancellationToken,
    subscriber: Option<tokio::task::JoinHandle<()>>,
    acker: Option<tokio::task::JoinHandle<()>>,
    preparer: Option<JoinHandle<()>>,
    stager: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the prepare and writer threads and, when `nats` is given, the subscription and
    /// the acker.
    pub async fn start(
        ingestor: Ingestor,
        nats: Option<async_nats::Client>,
        config: PipelineConfig,
    ) -> Result<Self, PipelineError> {
        let (intake, queue) = mpsc::channel(config.queue_capacity);
        let (ack_sender, ack_receiver) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let enricher = Enricher::new(&config);
        if let Some(enricher) = &enricher {
            tracing::info!(plugins = ?enricher.plugins.names(), workers = enricher.workers, "ingest runs enrichment plugins");
        }

        let max_group_hits = config.max_group_hits;
        let acks = AckSink(ack_sender);
        let (preparer, committer, writer) = ingestor.into_parts();
        // Two writers (connections): one stages a group while the other commits.
        let (free_sender, free_writers) = sync_mpsc::channel();
        let checkpointer = writer.try_clone().map_err(PipelineError::Writer)?;
        for writer in [writer.try_clone().map_err(PipelineError::Writer)?, writer] {
            free_sender.send(writer).expect("the receiver is here");
        }
        // A rendezvous: the prepare thread hands a group over only when a writer is free.
        let (handoff_sender, handoff) = sync_mpsc::sync_channel(0);
        let (staged_sender, staged) = sync_mpsc::channel();
        let (spent_sender, spent) = sync_mpsc::channel();
        let stage_committer = committer.clone();
        let stager = spawn("hitkeep-ingest-stage", move || {
            stage_loop(stage_committer, free_writers, handoff, staged_sender)
        })?;
        let commit_acks = acks.clone();
        let (committed_sender, committed) = sync_mpsc::channel();
        let wal_bytes = config.checkpoint_wal_bytes;
        let commits = config.commits.clone();
        let checkpoint_thread =
            spawn("hitkeep-ingest-checkpoint", move || checkpoint_loop(checkpointer, committed, wal_bytes))?;
        let writer = spawn("hitkeep-ingest-commit", move || {
            commit_loop(committer, staged, free_sender, spent_sender, commit_acks, committed_sender, commits)
        })?;
        let preparer = spawn("hitkeep-ingest-prepare", move || {
            prepare_loop(preparer, queue, handoff_sender, spent, acks, max_group_hits)
        })?;

        let (subscriber, acker) = match (nats, config.stream.clone()) {
            (Some(client), Some(consumer)) => {
                tracing::info!(subject = %config.subject, "ingest reads the cluster's stream");
                let subscriber =
                    tokio::spawn(stream_loop(consumer, intake.clone(), enricher.clone(), cancel.clone()));
                let acker = tokio::spawn(ack_loop(client, ack_receiver));
                (Some(subscriber), Some(acker))
            }
            (Some(client), None) => {
                let subscription = client
                    .queue_subscribe(config.subject.clone(), config.queue_group.clone())
                    .await
                    .map_err(|source| PipelineError::Subscribe { subject: config.subject.clone(), source })?;
                tracing::info!(subject = %config.subject, queue_group = %config.queue_group, "ingest subscribed");
                let subscriber = tokio::spawn(receive_loop(
                    subscription,
                    intake.clone(),
                    enricher.clone(),
                    cancel.clone(),
                ));
                let acker = tokio::spawn(ack_loop(client, ack_receiver));
                (Some(subscriber), Some(acker))
            }
            (None, _) => (None, None),
        };
        Ok(Self {
            intake,
            enricher,
            cancel,
            subscriber,
            acker,
            preparer: Some(preparer),
            stager: Some(stager),
            writer: Some(writer),
            checkpointer: Some(checkpoint_thread),
        })
    }

    /// Submits one payload (from the HTTP batch endpoint) and waits for its ack. `None` when
    /// the pipeline is shutting down or could not make the batch durable.
    pub async fn submit(&self, payload: bytes::Bytes) -> Option<Ack> {
        submit(&self.intake, self.enricher.as_ref(), payload).await
    }

    /// A handle that submits payloads without keeping the pipeline alive: once
    /// [`Pipeline::shutdown`] has begun, its submissions answer `None`.
    pub fn submitter(&self) -> Submitter {
        Submitter(SubmitTo::Pipeline { intake: self.intake.downgrade(), enricher: self.enricher.clone() })
    }

    /// Batches waiting to be prepared.
    pub fn queued(&self) -> usize {
        self.intake.max_capacity() - self.intake.capacity()
    }

    /// Stops intake, writes and acks everything already received, checkpoints the database.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(subscriber) = self.subscriber.take() {
            let _ = subscriber.await;
        }
        // Closing intake lets the prepare thread drain what is queued and stop, and then the
        // writer thread.
        let Self { intake, enricher, preparer, stager, writer, checkpointer, acker, .. } = self;
        if let Some(enricher) = &enricher {
            // HTTP submissions being enriched still hold a sender of their own.
            enricher.drain().await;
        }
        drop(intake);
        let threads = [preparer, stager, writer, checkpointer];
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads.into_iter().flatten() {
                let _ = thread.join();
            }
        })
        .await;
        if let Some(acker) = acker {
            let _ = acker.await;
        }
        tracing::info!("ingest pipeline stopped");
    }
}

/// Submits payloads to a running pipeline (see [`Pipeline::submitter`]), or, in a cluster,
/// to the ingest stream every replica reads (see [`Submitter::stream`]).
#[derive(Debug, Clone)]
pub struct Submitter(SubmitTo);

#[derive(Debug, Clone)]
enum SubmitTo {
    Pipeline { intake: mpsc::WeakSender<Enriched>, enricher: Option<Enricher> },
    Stream { jetstream: Box<async_nats::jetstream::Context>, subject: String },
}

impl Submitter {
    /// A submitter that publishes each batch on `subject` of a JetStream stream, under its
    /// id as `Nats-Msg-Id`, and answers once the stream has stored it: in a cluster a batch
    /// posted to one node must reach every replica, as the edges' batches do.
    pub fn stream(jetstream: async_nats::jetstream::Context, subject: String) -> Self {
        Self(SubmitTo::Stream { jetstream: Box::new(jetstream), subject })
    }

    /// Like [`Pipeline::submit`]. On the stream, `stored` counts the batch's hits, which
    /// every replica validates on its own; a payload that does not decode is refused here.
    pub async fn submit(&self, payload: bytes::Bytes) -> Option<Ack> {
        match &self.0 {
            SubmitTo::Pipeline { intake, enricher } => {
                submit(&intake.upgrade()?, enricher.as_ref(), payload).await
            }
            SubmitTo::Stream { jetstream, subject } => {
                let (id, hits) = match Incoming::decode(payload.clone(), ReplyTo::Nobody).batch {
                    Ok(envelope) => (envelope.id().to_owned(), envelope.len()),
                    Err((error, _)) => {
                        return Some(crate::batch::ack(
                            "",
                            AckStatus::Rejected,
                            0,
                            0,
                            Some(error.to_string()),
                        ));
                    }
                };
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(hitkeep_protocol::MSG_ID_HEADER, id.as_str());
                let stored = jetstream.publish_with_headers(subject.clone(), headers, payload).await;
                let acked = match stored {
                    Ok(future) => future.await,
                    Err(error) => Err(error),
                };
                match acked {
                    Ok(ack) => {
                        let status = if ack.duplicate { AckStatus::Duplicate } else { AckStatus::Stored };
                        let stored = if ack.duplicate { 0 } else { u32::try_from(hits).unwrap_or(u32::MAX) };
                        Some(crate::batch::ack(&id, status, stored, 0, None))
                    }
                    Err(error) => {
                        tracing::warn!(%error, batch_id = %id, "the ingest stream did not take a batch");
                        None
                    }
                }
            }
        }
    }
}

async fn submit(
    intake: &mpsc::Sender<Enriched>,
    enricher: Option<&Enricher>,
    payload: bytes::Bytes,
) -> Option<Ack> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let reply = ReplyTo::Channel(sender);
    let enriched = match enricher {
        None => Enriched::from(Incoming::decode(payload, reply)),
        Some(enricher) => {
            let _permit = enricher.permits.acquire().await.ok()?;
            Enricher::enrich(enricher.plugins.clone(), payload, reply).await?
        }
    };
    intake.send(enriched).await.ok()?;
    receiver.await.ok()
}

async fn receive_loop(
    mut subscription: async_nats::Subscriber,
    intake: mpsc::Sender<Enriched>,
    enricher: Option<Enricher>,
    cancel: CancellationToken,
) {
    let forwarder = Forwarder::new(intake, enricher);
    loop {
        let message = tokio::select! {
            _ = cancel.cancelled() => break,
            message = subscription.next() => message,
        };
        let Some(message) = message else { break };
        let reply = message.reply.map_or(ReplyTo::Nobody, ReplyTo::Nats);
        if !forwarder.forward(message.payload, reply).await {
            break;
        }
    }
    forwarder.finish().await;
    if let Err(error) = subscription.unsubscribe().await {
        tracing::debug!(%error, "unsubscribe failed");
    }
}

/// Hands received payloads to the writer's queue, in the order they arrived: decoded here,
/// on the async side, to keep it off the writer thread; or enriched on tokio's blocking pool
/// first, up to `enrich_workers` at once, and then queued in arrival order all the same (a
/// replica reads the ingest stream in order, and its sessions must not depend on which
/// plugin call ended first).
struct Forwarder {
    intake: mpsc::Sender<Enriched>,
    enricher: Option<Enricher>,
    /// With plugins: the batches being enriched, oldest first, and the task that queues them.
    ordered: Option<(mpsc::Sender<Enriching>, tokio::task::JoinHandle<()>)>,
}

/// A batch being enriched on the blocking pool (`None` if that failed).
type Enriching = tokio::task::JoinHandle<Option<Enriched>>;

impl Forwarder {
    fn new(intake: mpsc::Sender<Enriched>, enricher: Option<Enricher>) -> Self {
        let ordered = enricher.as_ref().map(|enricher| {
            let (sender, mut pending) = mpsc::channel::<Enriching>(enricher.workers as usize);
            let intake = intake.clone();
            let task = tokio::spawn(async move {
                while let Some(enriching) = pending.recv().await {
                    // A batch whose enrichment failed stays unacked; its sender resends it.
                    if let Ok(Some(enriched)) = enriching.await
                        && intake.send(enriched).await.is_err()
                    {
                        break;
                    }
                }
            });
            (sender, task)
        });
        Self { intake, enricher, ordered }
    }

    /// Queues one payload. False once the writer is gone.
    async fn forward(&self, payload: bytes::Bytes, reply: ReplyTo) -> bool {
        metrics::counter!("hitkeep_ingest_bytes_total").increment(payload.len() as u64);
        let (Some(enricher), Some((ordered, _))) = (&self.enricher, &self.ordered) else {
            return self.intake.send(Enriched::from(Incoming::decode(payload, reply))).await.is_ok();
        };
        // Waiting for a permit is the backpressure: at most `enrich_workers` batches are being
        // enriched at once.
        let Ok(permit) = enricher.permits.clone().acquire_owned().await else { return false };
        let plugins = enricher.plugins.clone();
        let enriching = tokio::spawn(async move {
            let enriched = Enricher::enrich(plugins, payload, reply).await;
            drop(permit);
            enriched
        });
        ordered.send(enriching).await.is_ok()
    }

    /// Waits until every payload forwarded has joined the queue.
    async fn finish(self) {
        if let Some((ordered, task)) = self.ordered {
            drop(ordered);
            let _ = task.await;
        }
        if let Some(enricher) = &self.enricher {
            enricher.drain().await;
        }
    }
}

/// Reads this replica's consumer of the ingest stream, in stream order, until `cancel`;
/// a broken pull (the NATS server restarting, a leader moving) is opened again.
async fn stream_loop(
    consumer: async_nats::jetstream::consumer::PullConsumer,
    intake: mpsc::Sender<Enriched>,
    enricher: Option<Enricher>,
    cancel: CancellationToken,
) {
    let forwarder = Forwarder::new(intake, enricher);
    let mut failures = 0u32;
    'pulls: loop {
        if failures > 0 {
            let pause = std::time::Duration::from_millis(250 * u64::from(failures.min(8)));
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        let messages = tokio::select! {
            () = cancel.cancelled() => break,
            messages = consumer.messages() => messages,
        };
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, failures, "cannot read the ingest stream; trying again");
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => break 'pulls,
                next = messages.next() => next,
            };
            let message = match next {
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "the ingest stream's pull failed; pulling again");
                    continue 'pulls;
                }
                None => {
                    failures += 1;
                    continue 'pulls;
                }
            };
            failures = 0;
            let seq = match message.info() {
                Ok(info) => info.stream_sequence,
                Err(error) => {
                    tracing::warn!(%error, "a stream message without its position; left for redelivery");
                    continue;
                }
            };
            // Acked by the acker task after the commit: the message's reply subject is its
            // ack subject.
            let message = message.message;
            let Some(ack) = message.reply else { continue };
            if !forwarder.forward(message.payload, ReplyTo::Stream { ack, seq }).await {
                break 'pulls;
            }
        }
    }
    forwarder.finish().await;
}

/// Where acks go from the pipeline threads: NATS replies and stream acks to the acker task
/// (as the payloads to publish), HTTP callers straight to their waiting task.
#[derive(Debug, Clone)]
struct AckSink(mpsc::Sender<Vec<(async_nats::Subject, bytes::Bytes)>>);

impl AckSink {
    fn deliver(&self, acks: Vec<(ReplyTo, Ack)>) {
        let mut nats_acks = Vec::new();
        for (reply, ack) in acks {
            match reply {
                ReplyTo::Nats(subject) => nats_acks.push((subject, bytes::Bytes::from(ack.encode()))),
                // Every outcome is final here (stored, duplicate, dead-lettered): the stream
                // may let the message go.
                ReplyTo::Stream { ack: subject, .. } => {
                    nats_acks.push((subject, bytes::Bytes::from_static(b"+ACK")))
                }
                ReplyTo::Channel(sender) => {
                    let _ = sender.send(ack);
                }
                ReplyTo::Nobody => {}
            }
        }
        if !nats_acks.is_empty() && self.0.blocking_send(nats_acks).is_err() {
            tracing::warn!("ack publisher is gone; acks dropped, edges will resend");
        }
    }
}

/// The prepare thread: adds whatever batches wait in the intake to the group being
/// prepared, and hands the group to the writer as soon as the writer is free.
///
/// `handoff` is a rendezvous channel: a send completes only when the writer is waiting for
/// work. While the writer is busy the group keeps growing, so each transaction takes
/// everything prepared during the one before (up to `max_group_hits` hits).
fn prepare_loop(
    mut preparer: Preparer,
    mut queue: mpsc::Receiver<Enriched>,
    handoff: sync_mpsc::SyncSender<PreparedGroup>,
    spent: sync_mpsc::Receiver<Vec<Envelope>>,
    acks: AckSink,
    max_group_hits: usize,
) {
    let mut group = PreparedGroup::default();
    loop {
        // Free what the writer is done with (the hits of committed batches) here, not there.
        while let Ok(batches) = spent.try_recv() {
            drop(batches);
        }
        let first = if group.is_empty() {
            // Nothing to hand over: wait for batches.
            match queue.blocking_recv() {
                Some(first) => first,
                None => break,
            }
        } else {
            // Hand the group over if the writer is free, else keep adding to it.
            group = match handoff.try_send(group) {
                Ok(()) => {
                    group = PreparedGroup::default();
                    continue;
                }
                Err(sync_mpsc::TrySendError::Full(group)) => group,
                Err(sync_mpsc::TrySendError::Disconnected(_)) => return writer_gone(),
            };
            let next = if group.hits() < max_group_hits { queue.try_recv().ok() } else { None };
            match next {
                Some(first) => first,
                None => {
                    // Full, or nothing new: wait for the writer.
                    if handoff.send(std::mem::take(&mut group)).is_err() {
                        return writer_gone();
                    }
                    continue;
                }
            }
        };
        let mut hits = group.hits() + first.hits();
        let mut batches = vec![first];
        while hits < max_group_hits {
            match queue.try_recv() {
                Ok(next) => {
                    hits += next.hits();
                    batches.push(next);
                }
                Err(_) => break,
            }
        }
        metrics::gauge!("hitkeep_ingest_queue_depth").set(queue.len() as f64);
        let duplicates = preparer.prepare(batches, &mut group);
        acks.deliver(duplicates);
    }
    // The intake is closed: hand over what is left.
    if !group.is_empty() && handoff.send(group).is_err() {
        writer_gone();
    }
}

fn writer_gone() {
    tracing::error!("the ingest writer thread is gone; batches stay unacked");
}

/// The stage thread: takes a free writer, then the prepared group, and writes the group into
/// a transaction on that writer for the commit thread to commit.
fn stage_loop(
    committer: Committer,
    free_writers: sync_mpsc::Receiver<EventWriter>,
    handoff: sync_mpsc::Receiver<PreparedGroup>,
    staged: sync_mpsc::Sender<(EventWriter, Staged)>,
) {
    // A writer first: a group taken before one is free would stop growing for nothing.
    while let Ok(mut writer) = free_writers.recv() {
        let Ok(group) = handoff.recv() else { break };
        let group = committer.stage(&mut writer, group);
        if staged.send((writer, group)).is_err() {
            tracing::error!("the ingest commit thread is gone; batches stay unacked");
            break;
        }
    }
}

/// The commit thread: commits each staged group, in order, publishes the acks, frees the
/// writer for the next group, and tells the checkpoint thread.
fn commit_loop(
    committer: Committer,
    staged: sync_mpsc::Receiver<(EventWriter, Staged)>,
    free_writers: sync_mpsc::Sender<EventWriter>,
    spent: sync_mpsc::Sender<Vec<Envelope>>,
    acks: AckSink,
    committed: sync_mpsc::Sender<()>,
    commits: Option<tokio::sync::watch::Sender<u64>>,
) {
    while let Ok((mut writer, group)) = staged.recv() {
        let (group_acks, batches) = committer.complete(&mut writer, group);
        acks.deliver(group_acks);
        if let Some(commits) = &commits {
            commits.send_modify(|count| *count += 1);
        }
        // Once the prepare thread has stopped, they are freed here.
        let _ = spent.send(batches);
        // Fails only once the stage thread has stopped; the writer is then closed.
        let _ = free_writers.send(writer);
        let _ = committed.send(());
    }
}

/// The checkpoint thread: after each commit, checkpoints once the write-ahead log has
/// passed `wal_bytes`; at the end (the commit thread has stopped), checkpoints whatever is
/// left.
///
/// DuckDB lets transactions that only insert commit while a checkpoint runs (they go to a
/// second log, which replaces the first when the checkpoint is done), so the commits do
/// not wait for the checkpoint's compression, as they would if DuckDB checkpointed on the
/// commit thread itself: that stalled the pipeline for a second at a time and cost a
/// quarter of its throughput.
fn checkpoint_loop(checkpointer: EventWriter, committed: sync_mpsc::Receiver<()>, wal_bytes: u64) {
    let mut failing = false;
    while committed.recv().is_ok() {
        // Commits that happened during the last checkpoint need one look, not one each.
        while committed.try_recv().is_ok() {}
        if checkpointer.wal_bytes() >= wal_bytes {
            failing = !checkpoint(&checkpointer, failing);
        }
    }
    checkpoint(&checkpointer, failing);
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, PipelineError> {
    std::thread::Builder::new().name(name.into()).spawn(work).map_err(PipelineError::Thread)
}

async fn ack_loop(
    client: async_nats::Client,
    mut acks: mpsc::Receiver<Vec<(async_nats::Subject, bytes::Bytes)>>,
) {
    while let Some(group) = acks.recv().await {
        for (subject, payload) in group {
            if let Err(error) = client.publish(subject, payload).await {
                tracing::warn!(%error, "cannot publish ack; the edge will resend");
            }
        }
        if let Err(error) = client.flush().await {
            tracing::warn!(%error, "cannot flush acks");
        }
    }
}
