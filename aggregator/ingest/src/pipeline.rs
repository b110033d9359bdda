//! The running pipeline: a NATS queue subscription, a bounded queue, the writer thread that
//! drives the [`Ingestor`], and the task that publishes acks.

use std::thread::JoinHandle;

use futures_util::StreamExt;
use hitkeep_protocol::{Ack, INGEST_SUBJECT};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ingestor::{Incoming, Ingestor, ReplyTo};

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
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            subject: INGEST_SUBJECT.to_string(),
            queue_group: "hitkeep-aggregators".to_string(),
            queue_capacity: 256,
            max_group_hits: 50_000,
        }
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
    intake: mpsc::Sender<Incoming>,
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
                let subscriber = tokio::spawn(receive_loop(subscription, intake.clone(), cancel.clone()));
                let acker = tokio::spawn(ack_loop(client, ack_receiver));
                (Some(subscriber), Some(acker))
            }
            None => (None, None),
        };
        Ok(Self { intake, cancel, subscriber, acker, writer: Some(writer) })
    }

    /// Submits one payload (from the HTTP batch endpoint) and waits for its ack. `None` when
    /// the pipeline is shutting down or could not make the batch durable.
    pub async fn submit(&self, payload: bytes::Bytes) -> Option<Ack> {
        submit(&self.intake, payload).await
    }

    /// A handle that submits payloads without keeping the pipeline alive: once
    /// [`Pipeline::shutdown`] has begun, its submissions answer `None`.
    pub fn submitter(&self) -> Submitter {
        Submitter { intake: self.intake.downgrade() }
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
        let Self { intake, writer, acker, .. } = self;
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
    intake: mpsc::WeakSender<Incoming>,
}

impl Submitter {
    /// Like [`Pipeline::submit`].
    pub async fn submit(&self, payload: bytes::Bytes) -> Option<Ack> {
        submit(&self.intake.upgrade()?, payload).await
    }
}

async fn submit(intake: &mpsc::Sender<Incoming>, payload: bytes::Bytes) -> Option<Ack> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let incoming = Incoming::decode(payload, ReplyTo::Channel(sender));
    intake.send(incoming).await.ok()?;
    receiver.await.ok()
}

async fn receive_loop(
    mut subscription: async_nats::Subscriber,
    intake: mpsc::Sender<Incoming>,
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
        // Decoding here, on the async side, keeps it off the writer thread.
        let incoming = Incoming::decode(message.payload, reply);
        if intake.send(incoming).await.is_err() {
            break;
        }
    }
    if let Err(error) = subscription.unsubscribe().await {
        tracing::debug!(%error, "unsubscribe failed");
    }
}

fn write_loop(
    mut ingestor: Ingestor,
    mut queue: mpsc::Receiver<Incoming>,
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
        for (reply, ack) in ingestor.ingest(group) {
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
