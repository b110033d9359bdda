//! The running pipeline: a NATS queue subscription, the enrichment plugins, a bounded queue,
//! the writer thread that drives the [`Ingestor`], and the task that publishes acks.
//!
//! With plugins, each batch is decoded and enriched on tokio's blocking pool, up to
//! [`PipelineConfig::enrich_workers`] batches at once, before it joins the writer's queue:
//! the writer thread is the pipeline's bottleneck and must not wait for plugins. Batches may
//! then reach the writer in another order than they arrived, which is harmless: each is
//! deduplicated and committed under its own id.

use std::sync::Arc;
use std::thread::JoinHandle;

use futures_util::StreamExt;
use hitkeep_plugins::Plugins;
use hitkeep_protocol::{Ack, INGEST_SUBJECT};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ingestor::{Enriched, Incoming, Ingestor, ReplyTo};

/// Tuning of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Subject batches arrive on.
    pub subject: String,
    /// Queue group shared by all aggregators, so each batch goes to one of them.
    pub queue_group: String,
    /// Batches waiting for the writer at most; beyond this, intake waits (backpressure).
    pub queue_capacity: usize,
    /// Most hits written in one transaction.
    pub max_group_hits: usize,
    /// The enrichment plugins every batch runs through before it is written; `None` for
    /// none.
    pub plugins: Option<Arc<Plugins>>,
    /// Batches enriched at once (each on a thread of tokio's blocking pool); beyond this,
    /// intake waits. The default is one per CPU, at least 2.
    pub enrich_workers: usize,
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
    /// The writer thread could not be spawned.
    #[error("cannot start the writer thread: {0}")]
    Thread(std::io::Error),
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
    writer: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the writer thread and, when `nats` is given, the subscription and the acker.
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
        let writer = std::thread::Builder::new()
            .name("hitkeep-ingest-writer".into())
            .spawn(move || write_loop(ingestor, queue, ack_sender, max_group_hits))
            .map_err(PipelineError::Thread)?;

        let (subscriber, acker) = match nats {
            Some(client) => {
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
            None => (None, None),
        };
        Ok(Self { intake, enricher, cancel, subscriber, acker, writer: Some(writer) })
    }

    /// Submits one payload (from the HTTP batch endpoint) and waits for its ack. `None` when
    /// the pipeline is shutting down or could not make the batch durable.
    pub async fn submit(&self, payload: bytes::Bytes) -> Option<Ack> {
        submit(&self.intake, self.enricher.as_ref(), payload).await
    }

    /// A handle that submits payloads without keeping the pipeline alive: once
    /// [`Pipeline::shutdown`] has begun, its submissions answer `None`.
    pub fn submitter(&self) -> Submitter {
        Submitter { intake: self.intake.downgrade(), enricher: self.enricher.clone() }
    }

    /// Batches waiting for the writer.
    pub fn queued(&self) -> usize {
        self.intake.max_capacity() - self.intake.capacity()
    }

    /// Stops intake, writes and acks everything already received, checkpoints the database.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(subscriber) = self.subscriber.take() {
            let _ = subscriber.await;
        }
        // Closing intake lets the writer drain what is queued and then stop.
        let Self { intake, enricher, writer, acker, .. } = self;
        if let Some(enricher) = &enricher {
            // HTTP submissions being enriched still hold a sender of their own.
            enricher.drain().await;
        }
        drop(intake);
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        if let Some(acker) = acker {
            let _ = acker.await;
        }
        tracing::info!("ingest pipeline stopped");
    }
}

/// Submits payloads to a running pipeline (see [`Pipeline::submitter`]).
#[derive(Debug, Clone)]
pub struct Submitter {
    intake: mpsc::WeakSender<Enriched>,
    enricher: Option<Enricher>,
}

impl Submitter {
    /// Like [`Pipeline::submit`].
    pub async fn submit(&self, payload: bytes::Bytes) -> Option<Ack> {
        submit(&self.intake.upgrade()?, self.enricher.as_ref(), payload).await
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
    loop {
        let message = tokio::select! {
            _ = cancel.cancelled() => break,
            message = subscription.next() => message,
        };
        let Some(message) = message else { break };
        metrics::counter!("hitkeep_ingest_bytes_total").increment(message.payload.len() as u64);
        let reply = message.reply.map_or(ReplyTo::Nobody, ReplyTo::Nats);
        let Some(enricher) = &enricher else {
            // Decoding here, on the async side, keeps it off the writer thread.
            let incoming = Incoming::decode(message.payload, reply);
            if intake.send(Enriched::from(incoming)).await.is_err() {
                break;
            }
            continue;
        };
        // Waiting for a permit is the backpressure: at most `enrich_workers` batches are
        // being enriched, and each holds its permit until it has joined the queue.
        let Ok(permit) = enricher.permits.clone().acquire_owned().await else { break };
        let (plugins, intake) = (enricher.plugins.clone(), intake.clone());
        tokio::spawn(async move {
            if let Some(enriched) = Enricher::enrich(plugins, message.payload, reply).await {
                // Fails only when the writer is gone; the batch is then not acked.
                let _ = intake.send(enriched).await;
            }
            drop(permit);
        });
    }
    if let Some(enricher) = &enricher {
        enricher.drain().await;
    }
    if let Err(error) = subscription.unsubscribe().await {
        tracing::debug!(%error, "unsubscribe failed");
    }
}

fn write_loop(
    mut ingestor: Ingestor,
    mut queue: mpsc::Receiver<Enriched>,
    acks: mpsc::Sender<Vec<(async_nats::Subject, Ack)>>,
    max_group_hits: usize,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut hits = first.hits();
        let mut group = vec![first];
        while hits < max_group_hits {
            match queue.try_recv() {
                Ok(next) => {
                    hits += next.hits();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        metrics::gauge!("hitkeep_ingest_queue_depth").set(queue.len() as f64);
        let mut nats_acks = Vec::new();
        for (reply, ack) in ingestor.ingest_enriched(group) {
            match reply {
                ReplyTo::Nats(subject) => nats_acks.push((subject, ack)),
                ReplyTo::Channel(sender) => {
                    let _ = sender.send(ack);
                }
                ReplyTo::Nobody => {}
            }
        }
        if !nats_acks.is_empty() && acks.blocking_send(nats_acks).is_err() {
            tracing::warn!("ack publisher is gone; acks dropped, edges will resend");
        }
    }
    if let Err(error) = ingestor.checkpoint() {
        tracing::warn!(%error, "checkpoint at shutdown failed");
    }
}

async fn ack_loop(client: async_nats::Client, mut acks: mpsc::Receiver<Vec<(async_nats::Subject, Ack)>>) {
    while let Some(group) = acks.recv().await {
        for (subject, ack) in group {
            if let Err(error) = client.publish(subject, ack.encode().into()).await {
                tracing::warn!(%error, "cannot publish ack; the edge will resend");
            }
        }
        if let Err(error) = client.flush().await {
            tracing::warn!(%error, "cannot flush acks");
        }
    }
}
