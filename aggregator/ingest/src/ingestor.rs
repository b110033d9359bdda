//! The synchronous heart of the pipeline: one group of batches in, one transaction, acks out.
//!
//! [`Ingestor`] owns the store's event writer and the session state, and is driven by one
//! thread (the pipeline's writer thread, or `hitkeep demo` loading generated traffic).

use std::collections::HashSet;
use std::sync::Arc;

use hitkeep_plugins::{FailedHit, Plugins};
use hitkeep_protocol::{Ack, AckStatus, Batch, DecodeError};
use hitkeep_store::{BatchWrite, DeadLetter, EventWriter, NewEvent, Store};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::sessions::SessionTracker;
use crate::sites::SiteDirectory;

/// Where the ack of a batch goes.
#[derive(Debug)]
pub enum ReplyTo {
    /// A NATS reply subject.
    Nats(async_nats::Subject),
    /// A waiting caller (the HTTP batch endpoint).
    Channel(oneshot::Sender<Ack>),
    /// Nobody is waiting (a plain NATS publish, or a bulk load).
    Nobody,
}

/// A batch as it arrives at the writer: decoded, or refused with the bytes kept.
#[derive(Debug)]
pub struct Incoming {
    /// The decoded batch, or why it could not be decoded and its raw bytes.
    pub batch: Result<Batch, (DecodeError, bytes::Bytes)>,
    /// Where the ack goes.
    pub reply: ReplyTo,
}

impl Incoming {
    /// Decodes a payload.
    pub fn decode(payload: bytes::Bytes, reply: ReplyTo) -> Self {
        let batch = Batch::decode(&payload).map_err(|error| (error, payload));
        Self { batch, reply }
    }

    /// Hits in the batch (0 when it did not decode).
    pub fn hits(&self) -> usize {
        self.batch.as_ref().map_or(0, |batch| batch.hits.len())
    }
}

/// A batch after the enrichment plugins ran on it (or without plugins: nothing to add).
#[derive(Debug)]
pub struct Enriched {
    /// The batch, its hits as the plugins left them.
    pub incoming: Incoming,
    /// Hits a plugin failed on under the `dead_letter` policy, taken out of the batch: they
    /// are stored as dead letters (reason `plugin_failed`) in the batch's transaction.
    pub failed: Vec<FailedHit>,
    /// Hits the plugins dropped on purpose.
    pub dropped: u32,
}

impl From<Incoming> for Enriched {
    fn from(incoming: Incoming) -> Self {
        Self { incoming, failed: Vec::new(), dropped: 0 }
    }
}

impl Enriched {
    /// Runs `plugins` on a decoded batch. Blocks for as long as the plugins' deadlines allow:
    /// call it on a blocking thread.
    pub fn new(mut incoming: Incoming, plugins: &Plugins) -> Self {
        let Ok(batch) = &mut incoming.batch else { return Self::from(incoming) };
        let report = plugins.apply(&mut batch.hits);
        if !report.failed.is_empty() || report.passed > 0 {
            // The plugin host logged each failed call already.
            tracing::debug!(
                batch_id = %batch.id,
                dead_lettered = report.failed.len(),
                passed_unchanged = report.passed,
                "enrichment plugins failed on some hits"
            );
        }
        Self { incoming, failed: report.failed, dropped: u32::try_from(report.dropped).unwrap_or(u32::MAX) }
    }

    /// Hits that reach the writer (0 when the batch did not decode).
    pub fn hits(&self) -> usize {
        self.incoming.hits()
    }
}

/// A decoded batch on its way into a transaction, with what the plugins took out of it.
struct Fresh {
    batch: Batch,
    failed: Vec<FailedHit>,
    dropped: u32,
}

impl Fresh {
    /// Hits the edge sent: those left, those dropped and those failed.
    fn sent(&self) -> u32 {
        let sent = self.batch.hits.len() + self.failed.len();
        u32::try_from(sent).unwrap_or(u32::MAX).saturating_add(self.dropped)
    }
}

/// Sessionizes and stores groups of batches.
#[derive(Debug)]
pub struct Ingestor {
    writer: EventWriter,
    sessions: SessionTracker,
    sites: SiteDirectory,
    clock: Arc<dyn Clock>,
    last_sweep_ms: i64,
}

const SWEEP_EVERY_MS: i64 = 60_000;
/// Batch ids are remembered this long for deduplication; an edge whose spool holds a batch
/// longer than this may have it stored twice.
pub const DEDUPE_WINDOW_MS: i64 = 30 * 24 * 60 * 60 * 1000;

impl Ingestor {
    /// An ingestor on `store`, with its session state rebuilt from recent events.
    pub fn open(
        store: &Store,
        sites: SiteDirectory,
        clock: Arc<dyn Clock>,
        session_timeout_ms: i64,
    ) -> hitkeep_store::Result<Self> {
        let writer = store.event_writer()?;
        let now_ms = clock.now_ms();
        let mut sessions = SessionTracker::new(writer.max_session_id()?, session_timeout_ms);
        sessions.seed(writer.recent_sessions(now_ms - session_timeout_ms)?);
        tracing::info!(open_sessions = sessions.len(), "session state restored");
        Ok(Self { writer, sessions, sites, clock, last_sweep_ms: now_ms })
    }

    /// Sessions held in memory.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Writes the write-ahead log into the database file.
    pub fn checkpoint(&self) -> hitkeep_store::Result<()> {
        self.writer.checkpoint()
    }

    /// Stores a group of batches and returns each one's ack with its destination. A batch
    /// missing from the result could not be made durable and must not be acked.
    pub fn ingest(&mut self, group: Vec<Incoming>) -> Vec<(ReplyTo, Ack)> {
        self.ingest_enriched(group.into_iter().map(Enriched::from).collect())
    }

    /// [`Ingestor::ingest`] for batches the enrichment plugins ran on: the hits they failed
    /// on are stored as dead letters with their batch, and the ones they dropped count as
    /// dropped in the ack.
    pub fn ingest_enriched(&mut self, group: Vec<Enriched>) -> Vec<(ReplyTo, Ack)> {
        let now_ms = self.clock.now_ms();
        self.sweep(now_ms);
        let mut acks = Vec::with_capacity(group.len());
        let mut decoded = Vec::with_capacity(group.len());
        for Enriched { incoming, failed, dropped } in group {
            match incoming.batch {
                Ok(batch) => decoded.push((Fresh { batch, failed, dropped }, incoming.reply)),
                Err((error, payload)) => {
                    if let Some(ack) = self.reject_undecodable(&error, &payload, now_ms) {
                        acks.push((incoming.reply, ack));
                    }
                }
            }
        }
        if decoded.is_empty() {
            return acks;
        }

        let known = match self.writer.known_batches(decoded.iter().map(|(fresh, _)| fresh.batch.id.as_str()))
        {
            Ok(known) => known,
            Err(error) => {
                tracing::error!(%error, "cannot look up batch ids; leaving the group unacked");
                return acks;
            }
        };
        let mut seen = HashSet::with_capacity(decoded.len());
        let mut fresh = Vec::with_capacity(decoded.len());
        let mut replies = Vec::with_capacity(decoded.len());
        for (batch, reply) in decoded {
            let id = &batch.batch.id;
            if known.contains(id) || !seen.insert(id.clone()) {
                metrics::counter!("hitkeep_ingest_batches_total", "status" => "duplicate").increment(1);
                acks.push((reply, ack(id, AckStatus::Duplicate, 0, 0, None)));
            } else {
                fresh.push(batch);
                replies.push(reply);
            }
        }

        let writes: Vec<BatchWrite<'_>> = fresh.iter().map(|batch| self.prepare(batch)).collect();
        let started = std::time::Instant::now();
        let outcomes: Vec<Option<AckStatus>> = match self.writer.commit(&writes, now_ms) {
            Ok(()) => vec![Some(AckStatus::Stored); writes.len()],
            Err(error) if writes.len() > 1 => {
                // Find the batch that fails, so that it alone is held back.
                tracing::warn!(%error, batches = writes.len(), "group commit failed; committing batches one by one");
                writes
                    .iter()
                    .zip(&fresh)
                    .map(|(write, batch)| match self.writer.commit(std::slice::from_ref(write), now_ms) {
                        Ok(()) => Some(AckStatus::Stored),
                        Err(error) => self.dead_letter_batch(batch, &error, now_ms),
                    })
                    .collect()
            }
            Err(error) => vec![self.dead_letter_batch(&fresh[0], &error, now_ms)],
        };
        metrics::histogram!("hitkeep_ingest_commit_seconds").record(started.elapsed().as_secs_f64());

        for ((write, outcome), (fresh, reply)) in writes.iter().zip(outcomes).zip(fresh.iter().zip(replies)) {
            let stored = write.events.len() as u32;
            let dropped = fresh.sent() - stored;
            match outcome {
                Some(AckStatus::Stored) => {
                    metrics::counter!("hitkeep_ingest_batches_total", "status" => "stored").increment(1);
                    metrics::counter!("hitkeep_ingest_hits_total").increment(u64::from(stored));
                    if fresh.dropped > 0 {
                        metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "plugin_dropped")
                            .increment(u64::from(fresh.dropped));
                    }
                    acks.push((reply, ack(&fresh.batch.id, AckStatus::Stored, stored, dropped, None)));
                }
                Some(status) => {
                    let error = Some("write_failed".to_string());
                    acks.push((reply, ack(&fresh.batch.id, status, 0, fresh.sent(), error)));
                }
                None => {}
            }
        }
        acks
    }

    /// Validates, resolves and sessionizes the hits of one batch, and dead-letters the ones
    /// the plugins failed on.
    fn prepare<'b>(&mut self, fresh: &'b Fresh) -> BatchWrite<'b> {
        let batch = &fresh.batch;
        let sites = self.sites.snapshot();
        let mut events = Vec::with_capacity(batch.hits.len());
        let mut dead_letters = Vec::with_capacity(fresh.failed.len());
        for failed in &fresh.failed {
            metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "plugin_failed").increment(1);
            dead_letters.push(DeadLetter {
                batch_id: Some(batch.id.clone()),
                edge: Some(batch.edge.clone()),
                reason: "plugin_failed".into(),
                detail: format!("plugin `{}` failed ({}): {}", failed.plugin, failed.kind, failed.detail),
                payload: serde_json::to_vec(&failed.hit).unwrap_or_default(),
            });
        }
        for hit in &batch.hits {
            if let Err(error) = hit.validate() {
                metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "invalid_hit")
                    .increment(1);
                dead_letters.push(DeadLetter {
                    batch_id: Some(batch.id.clone()),
                    edge: Some(batch.edge.clone()),
                    reason: "invalid_hit".into(),
                    detail: error.to_string(),
                    payload: serde_json::to_vec(hit).unwrap_or_default(),
                });
                continue;
            }
            let Some(&site_id) = sites.get(&hit.domain) else {
                // The site was removed after the edge accepted the hit.
                metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "unknown_site")
                    .increment(1);
                continue;
            };
            let assigned = self.sessions.assign(site_id, hit.visitor, hit.visitor_prev, hit.ts);
            events.push(NewEvent {
                hit,
                site_id,
                visitor_id: assigned.visitor_id,
                session_id: assigned.session_id,
            });
        }
        BatchWrite { id: &batch.id, edge: &batch.edge, events, dead_letters }
    }

    /// Parks a batch that cannot be written in the dead-letter table, with the hits the
    /// plugins failed on. `None` when even that failed: the batch then stays unacked and its
    /// edge will send it again.
    fn dead_letter_batch(
        &mut self,
        fresh: &Fresh,
        error: &hitkeep_store::Error,
        now_ms: i64,
    ) -> Option<AckStatus> {
        let batch = &fresh.batch;
        tracing::error!(%error, batch_id = %batch.id, "batch cannot be written; dead-lettering it");
        let payload = if fresh.failed.is_empty() {
            batch.encode()
        } else {
            let mut whole = batch.clone();
            whole.hits.extend(fresh.failed.iter().map(|failed| failed.hit.clone()));
            whole.encode()
        };
        let letter = DeadLetter {
            batch_id: Some(batch.id.clone()),
            edge: Some(batch.edge.clone()),
            reason: "write_failed".into(),
            detail: error.to_string(),
            payload,
        };
        match self.writer.reject(&letter, now_ms) {
            Ok(()) => {
                metrics::counter!("hitkeep_ingest_batches_total", "status" => "rejected").increment(1);
                Some(AckStatus::Rejected)
            }
            Err(error) => {
                tracing::error!(%error, "cannot write dead letter; leaving the batch unacked");
                None
            }
        }
    }

    /// Stores an undecodable payload as a dead letter and acks it as rejected.
    fn reject_undecodable(&mut self, error: &DecodeError, payload: &[u8], now_ms: i64) -> Option<Ack> {
        let batch_id = Batch::probe_id(payload);
        if let Some(id) = &batch_id {
            match self.writer.known_batches([id.as_str()]) {
                Ok(known) if !known.is_empty() => {
                    metrics::counter!("hitkeep_ingest_batches_total", "status" => "duplicate").increment(1);
                    return Some(ack(id, AckStatus::Duplicate, 0, 0, None));
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot look up a batch id; leaving the batch unacked");
                    return None;
                }
            }
        }
        tracing::warn!(
            reason = error.code(),
            batch_id = batch_id.as_deref().unwrap_or("-"),
            "rejected batch"
        );
        let letter = DeadLetter {
            batch_id: batch_id.clone(),
            edge: None,
            reason: error.code().into(),
            detail: error.to_string(),
            payload: payload.to_vec(),
        };
        match self.writer.reject(&letter, now_ms) {
            Ok(()) => {
                metrics::counter!("hitkeep_ingest_batches_total", "status" => "rejected").increment(1);
                let id = batch_id.unwrap_or_default();
                Some(ack(&id, AckStatus::Rejected, 0, 0, Some(error.code().to_string())))
            }
            Err(store_error) => {
                tracing::error!(error = %store_error, "cannot write dead letter; leaving the batch unacked");
                None
            }
        }
    }

    fn sweep(&mut self, now_ms: i64) {
        if now_ms - self.last_sweep_ms < SWEEP_EVERY_MS {
            return;
        }
        self.last_sweep_ms = now_ms;
        let expired = self.sessions.expire(now_ms);
        metrics::gauge!("hitkeep_ingest_open_sessions").set(self.sessions.len() as f64);
        if let Err(error) = self.writer.prune_batch_ids(now_ms - DEDUPE_WINDOW_MS) {
            tracing::warn!(%error, "cannot prune old batch ids");
        }
        tracing::debug!(expired, open = self.sessions.len(), "session sweep");
    }
}

fn ack(id: &str, status: AckStatus, stored: u32, dropped: u32, error: Option<String>) -> Ack {
    Ack { id: id.to_string(), status, stored, dropped, error }
}
