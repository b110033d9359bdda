//! The first half of a group's way into the database, everything before the transaction:
//! deduplication, validation, site resolution, sessionization, and the rows in DuckDB's
//! column layout.
//!
//! [`Preparer`] owns the session state and is driven by one thread (the pipeline's prepare
//! thread, or the caller of [`crate::Ingestor`]). It adds batches to a [`PreparedGroup`],
//! which leaves the writer nothing but appending and committing.

use std::sync::Arc;

use hitkeep_plugins::FailedHit;
use hitkeep_protocol::{Ack, AckStatus, Batch, DecodeError};
use hitkeep_store::{BatchWrite, DeadLetter, EventRowsBuilder, NewEvent, RowRanges};

use crate::batch::{Enriched, Envelope, ReplyTo, ack};
use crate::clock::Clock;
use crate::dedupe::{Claim, Dedupe};
use crate::sessions::SessionTracker;
use crate::sites::SiteDirectory;

const SWEEP_EVERY_MS: i64 = 60_000;
/// Batch ids are remembered this long for deduplication; an edge whose spool holds a batch
/// longer than this may have it stored twice.
pub(crate) const DEDUPE_WINDOW_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// A group of batches for one transaction. The [`Preparer`] adds batches to it until the
/// writer takes it; its rows are built in place, so that a group grows without copies.
#[derive(Debug, Default)]
pub(crate) struct PreparedGroup {
    /// When a batch was last added; stored as the batches' `received_at`.
    pub(crate) received_at_ms: i64,
    /// The rows of every batch in `batches`, in that order.
    pub(crate) rows: EventRowsBuilder,
    /// The batches whose ids are claimed, with their row ranges.
    pub(crate) batches: Vec<PreparedBatch>,
    /// Payloads that did not decode, to dead-letter.
    pub(crate) rejections: Vec<Rejection>,
    /// Delete the batch ids received before this time (the dedupe window's end).
    pub(crate) prune_before_ms: Option<i64>,
}

impl PreparedGroup {
    /// Rows of `events` in the group.
    pub(crate) fn hits(&self) -> usize {
        self.rows.events()
    }

    /// True when the writer has nothing to do for this group.
    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty() && self.rejections.is_empty() && self.prune_before_ms.is_none()
    }
}

/// One batch of a [`Prepared`] group.
#[derive(Debug)]
pub(crate) struct PreparedBatch {
    /// The batch as decoded and enriched, kept only in case its write fails and it must be
    /// dead-lettered whole.
    pub(crate) batch: Envelope,
    /// Hits the plugins failed on (under `dead_letter`), for that dead letter.
    pub(crate) failed: Vec<FailedHit>,
    /// Hits the plugins dropped.
    pub(crate) dropped: u32,
    /// Invalid hits and hits the plugins failed on, stored in the batch's transaction.
    pub(crate) dead_letters: Vec<DeadLetter>,
    /// Its rows of each table in the group's rows.
    pub(crate) rows: RowRanges,
    /// Where its ack goes.
    pub(crate) reply: ReplyTo,
}

impl PreparedBatch {
    /// Hits stored when the batch commits.
    pub(crate) fn stored(&self) -> u32 {
        u32::try_from(self.rows.events.len()).unwrap_or(u32::MAX)
    }

    /// Hits the edge sent: those left, those dropped and those failed.
    pub(crate) fn sent(&self) -> u32 {
        let sent = self.batch.len() + self.failed.len();
        u32::try_from(sent).unwrap_or(u32::MAX).saturating_add(self.dropped)
    }

    /// Its record in the transaction.
    pub(crate) fn record(&self) -> BatchWrite<'_> {
        BatchWrite {
            id: self.batch.id(),
            edge: self.batch.edge(),
            hits: self.stored(),
            dead_letters: &self.dead_letters,
            stream_seq: self.reply.stream_seq(),
        }
    }
}

/// A payload that did not decode, on its way to the dead-letter table.
#[derive(Debug)]
pub(crate) struct Rejection {
    /// The dead letter; its `batch_id`, when the payload had a readable one, is claimed.
    pub(crate) letter: DeadLetter,
    /// The [`DecodeError::code`], for the ack.
    pub(crate) code: &'static str,
    /// Where its ack goes.
    pub(crate) reply: ReplyTo,
}

/// Deduplicates, validates, resolves and sessionizes groups of batches.
#[derive(Debug)]
pub(crate) struct Preparer {
    sessions: SessionTracker,
    sites: SiteDirectory,
    dedupe: Dedupe,
    clock: Arc<dyn Clock>,
    last_sweep_ms: i64,
}

impl Preparer {
    pub(crate) fn new(
        sessions: SessionTracker,
        sites: SiteDirectory,
        dedupe: Dedupe,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let last_sweep_ms = clock.now_ms();
        Self { sessions, sites, dedupe, clock, last_sweep_ms }
    }

    /// Sessions held in memory.
    pub(crate) fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Adds `batches` to `group`, and answers at once what needs no transaction: duplicates
    /// of batches committed before.
    pub(crate) fn prepare(
        &mut self,
        batches: Vec<Enriched>,
        group: &mut PreparedGroup,
    ) -> Vec<(ReplyTo, Ack)> {
        let now_ms = self.clock.now_ms();
        group.received_at_ms = now_ms;
        if let Some(before_ms) = self.sweep(now_ms) {
            group.prune_before_ms = Some(before_ms);
        }
        let mut acks = Vec::new();
        let sites = self.sites.snapshot();
        for Enriched { incoming, failed, dropped } in batches {
            let batch = match incoming.batch {
                Ok(batch) => batch,
                Err((error, payload)) => {
                    self.reject_undecodable(
                        &error,
                        &payload,
                        incoming.reply,
                        &mut group.rejections,
                        &mut acks,
                    );
                    continue;
                }
            };
            let reply = match self.claim(batch.id(), incoming.reply) {
                Some(Claim::Fresh(reply)) => reply,
                Some(Claim::Committed(reply)) => {
                    acks.push((reply, duplicate(batch.id())));
                    continue;
                }
                Some(Claim::InFlight) | None => continue,
            };
            let hits = match batch.hits() {
                Ok(hits) => hits,
                Err(error) => {
                    // A binary envelope whose frame was sound but whose hits are not: refused
                    // whole, as a JSON envelope of that kind would have been at decoding.
                    tracing::warn!(reason = error.code(), batch_id = batch.id(), "rejected batch");
                    let letter = batch.dead_letter(
                        error.code(),
                        error.to_string(),
                        batch.dead_letter_payload(&failed),
                    );
                    group.rejections.push(Rejection { letter, code: error.code(), reply });
                    continue;
                }
            };
            let rows = &mut group.rows;
            let start = rows.positions();
            let mut dead_letters = Vec::new();
            for failed in &failed {
                metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "plugin_failed")
                    .increment(1);
                dead_letters.push(batch.dead_letter(
                    "plugin_failed",
                    format!("plugin `{}` failed ({}): {}", failed.plugin, failed.kind, failed.detail),
                    serde_json::to_vec(&failed.hit).unwrap_or_default(),
                ));
            }
            // Hits of a batch mostly share their site: look the domain up when it changes.
            let mut site: Option<(&str, u32)> = None;
            for hit in hits {
                if let Err(error) = hit.validate() {
                    metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "invalid_hit")
                        .increment(1);
                    dead_letters.push(batch.dead_letter(
                        "invalid_hit",
                        error.to_string(),
                        serde_json::to_vec(&hit.to_hit()).unwrap_or_default(),
                    ));
                    continue;
                }
                let site_id = match site {
                    Some((domain, id)) if domain == hit.domain => id,
                    _ => {
                        let Some(&id) = sites.get(hit.domain) else {
                            // The site was removed after the edge accepted the hit.
                            metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "unknown_site")
                                .increment(1);
                            continue;
                        };
                        site = Some((hit.domain, id));
                        id
                    }
                };
                let assigned = self.sessions.record(site_id, &hit, now_ms);
                rows.push(&NewEvent {
                    hit,
                    site_id,
                    visitor_id: assigned.visitor_id,
                    session_id: assigned.session_id,
                });
            }
            group.batches.push(PreparedBatch {
                rows: rows.since(&start),
                batch,
                failed,
                dropped,
                dead_letters,
                reply,
            });
        }
        // The new state of every visit these batches changed, once: a visit seen in many
        // batches of a group gets one cancelled and one new row, not two per batch. The rows
        // go with the group's last batch, so that a group retried batch by batch still
        // writes them (with that batch).
        if let Some(last) = group.batches.last_mut() {
            self.sessions.flush(&mut group.rows);
            last.rows.visits.end = group.rows.visits();
        }
        acks
    }

    fn claim(&self, id: &str, reply: ReplyTo) -> Option<Claim> {
        match self.dedupe.claim(id, reply) {
            Ok(claim) => Some(claim),
            Err(error) => {
                tracing::error!(%error, batch_id = %id, "cannot look up a batch id; leaving the batch unacked");
                None
            }
        }
    }

    /// An undecodable payload: a duplicate if its id was committed (or rejected) before,
    /// else a dead letter to write.
    fn reject_undecodable(
        &self,
        error: &DecodeError,
        payload: &[u8],
        reply: ReplyTo,
        rejections: &mut Vec<Rejection>,
        acks: &mut Vec<(ReplyTo, Ack)>,
    ) {
        let batch_id = Batch::probe_id(payload);
        let reply = match &batch_id {
            None => reply,
            Some(id) => match self.claim(id, reply) {
                Some(Claim::Fresh(reply)) => reply,
                Some(Claim::Committed(reply)) => return acks.push((reply, duplicate(id))),
                Some(Claim::InFlight) | None => return,
            },
        };
        tracing::warn!(
            reason = error.code(),
            batch_id = batch_id.as_deref().unwrap_or("-"),
            "rejected batch"
        );
        let letter = DeadLetter {
            batch_id,
            edge: None,
            reason: error.code().into(),
            detail: error.to_string(),
            payload: payload.to_vec(),
        };
        rejections.push(Rejection { letter, code: error.code(), reply });
    }

    /// Every minute: expires idle sessions, and says which batch ids have left the dedupe
    /// window.
    fn sweep(&mut self, now_ms: i64) -> Option<i64> {
        if now_ms - self.last_sweep_ms < SWEEP_EVERY_MS {
            return None;
        }
        self.last_sweep_ms = now_ms;
        let expired = self.sessions.expire(now_ms);
        metrics::gauge!("hitkeep_ingest_open_sessions").set(self.sessions.len() as f64);
        tracing::debug!(expired, open = self.sessions.len(), "session sweep");
        Some(now_ms - DEDUPE_WINDOW_MS)
    }
}

fn duplicate(id: &str) -> Ack {
    metrics::counter!("hitkeep_ingest_batches_total", "status" => "duplicate").increment(1);
    ack(id, AckStatus::Duplicate, 0, 0, None)
}

/// Answers the copies that waited for a batch: duplicates when it was made durable.
pub(crate) fn answer_waiting(id: &str, waiting: Vec<ReplyTo>, durable: bool, acks: &mut Vec<(ReplyTo, Ack)>) {
    if waiting.is_empty() {
        return;
    }
    if durable {
        acks.extend(waiting.into_iter().map(|reply| (reply, duplicate(id))));
    } else {
        tracing::debug!(batch_id = %id, copies = waiting.len(), "copies of a batch that could not be written stay unacked");
    }
}
