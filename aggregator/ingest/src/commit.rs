//! The second half of a group's way into the database: one transaction, then the acks.
//!
//! Everything that can be done before the transaction was done by the
//! [`crate::prepare::Preparer`]; what is left is what DuckDB must do, in two steps:
//!
//! 1. [`Committer::stage`] opens a transaction on an [`EventWriter`] and writes the group's
//!    rows, batch ids and dead letters into it (DuckDB converts and appends them to the
//!    transaction's local storage);
//! 2. [`Committer::complete`] commits it (DuckDB writes and syncs its write-ahead log, merges
//!    the rows into the table, and now and then checkpoints), falls back to committing the
//!    batches one by one if that fails, and produces the acks.
//!
//! The pipeline runs the two steps on two threads with two writers (two connections), so
//! that the next group is staged while the one before commits; [`crate::Ingestor`] runs
//! them one after the other with one writer.

use hitkeep_protocol::{Ack, AckStatus};
use hitkeep_store::{BatchWrite, EventRows, EventWriter};

use crate::batch::{Envelope, ReplyTo, ack};
use crate::dedupe::Dedupe;
use crate::prepare::{PreparedBatch, PreparedGroup, Rejection, answer_waiting};

/// Stages and commits prepared groups, on whichever writer it is given.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    dedupe: Dedupe,
}

/// A group written into an open transaction (or that could not be), waiting for
/// [`Committer::complete`] on the same writer.
#[derive(Debug)]
pub(crate) struct Staged {
    received_at_ms: i64,
    rows: EventRows,
    batches: Vec<PreparedBatch>,
    rejections: Vec<Rejection>,
    prune_before_ms: Option<i64>,
    state: StageState,
}

#[derive(Debug)]
enum StageState {
    /// No batch to commit (only rejections or a prune, done in `complete`).
    Empty,
    /// The transaction is open, with everything written into it.
    Open,
    /// Writing failed and the transaction was rolled back.
    Failed(hitkeep_store::Error),
    /// The rows could not be built (a bug): nothing is written or acked, edges resend.
    Unbuildable,
}

impl Committer {
    pub(crate) fn new(dedupe: Dedupe) -> Self {
        Self { dedupe }
    }

    /// Ids in flight now.
    #[cfg(test)]
    pub(crate) fn dedupe_in_flight(&self) -> usize {
        self.dedupe.in_flight()
    }

    /// Stages and completes `group` on `writer`, one after the other.
    pub(crate) fn commit(
        &self,
        writer: &mut EventWriter,
        group: PreparedGroup,
    ) -> (Vec<(ReplyTo, Ack)>, Vec<Envelope>) {
        let staged = self.stage(writer, group);
        self.complete(writer, staged)
    }

    /// Opens a transaction on `writer` and writes `group` into it. The transaction stays
    /// open until [`Committer::complete`] on the same writer.
    pub(crate) fn stage(&self, writer: &mut EventWriter, group: PreparedGroup) -> Staged {
        let PreparedGroup { received_at_ms, rows, batches, rejections, prune_before_ms } = group;
        let (rows, state) = match rows.finish() {
            Ok(rows) if batches.is_empty() => (rows, StageState::Empty),
            Ok(rows) => {
                let records: Vec<BatchWrite<'_>> = batches.iter().map(PreparedBatch::record).collect();
                match writer.stage(&rows, &records, received_at_ms) {
                    Ok(()) => (rows, StageState::Open),
                    Err(error) => (rows, StageState::Failed(error)),
                }
            }
            Err(error) => {
                // The columns are filled in lockstep, so this is a bug; fail safe.
                tracing::error!(%error, "cannot build the group's rows; leaving its batches unacked");
                (EventRows::default(), StageState::Unbuildable)
            }
        };
        Staged { received_at_ms, rows, batches, rejections, prune_before_ms, state }
    }

    /// Commits what [`Committer::stage`] wrote on `writer` (or, if that fails, the batches
    /// one by one), and returns each batch's ack with its destination (a batch missing from
    /// them could not be made durable and must not be acked), and the batches themselves,
    /// spent, for the caller to free where it costs the writer nothing.
    pub(crate) fn complete(
        &self,
        writer: &mut EventWriter,
        staged: Staged,
    ) -> (Vec<(ReplyTo, Ack)>, Vec<Envelope>) {
        let Staged { received_at_ms, rows, batches, rejections, prune_before_ms, state } = staged;
        let started = std::time::Instant::now();
        let outcomes = match state {
            StageState::Empty => Vec::new(),
            StageState::Open => match writer.commit_staged() {
                Ok(()) => vec![Some(AckStatus::Stored); batches.len()],
                Err(error) => self.one_by_one(writer, &rows, &batches, error, received_at_ms),
            },
            StageState::Failed(error) => self.one_by_one(writer, &rows, &batches, error, received_at_ms),
            StageState::Unbuildable => vec![None; batches.len()],
        };
        if !batches.is_empty() {
            metrics::histogram!("hitkeep_ingest_commit_seconds").record(started.elapsed().as_secs_f64());
        }

        let mut acks = Vec::new();
        let mut spent = Vec::with_capacity(batches.len());
        for (prepared, outcome) in batches.into_iter().zip(outcomes) {
            let (stored, sent, dropped) = (prepared.stored(), prepared.sent(), prepared.dropped);
            let PreparedBatch { batch, reply, .. } = prepared;
            match outcome {
                Some(AckStatus::Stored) => {
                    metrics::counter!("hitkeep_ingest_batches_total", "status" => "stored").increment(1);
                    metrics::counter!("hitkeep_ingest_hits_total").increment(u64::from(stored));
                    if dropped > 0 {
                        metrics::counter!("hitkeep_ingest_hits_dropped_total", "reason" => "plugin_dropped")
                            .increment(u64::from(dropped));
                    }
                    acks.push((reply, ack(batch.id(), AckStatus::Stored, stored, sent - stored, None)));
                }
                Some(status) => {
                    let error = Some("write_failed".to_string());
                    acks.push((reply, ack(batch.id(), status, 0, sent, error)));
                }
                // Not durable: no ack, the edge resends.
                None => drop(reply),
            }
            let durable = outcome.is_some();
            let waiting = self.dedupe.settle(batch.id(), durable.then_some(received_at_ms));
            answer_waiting(batch.id(), waiting, durable, &mut acks);
            spent.push(batch);
        }
        for rejection in rejections {
            self.reject(writer, rejection, received_at_ms, &mut acks);
        }
        if let Some(before_ms) = prune_before_ms {
            self.prune(writer, before_ms);
        }
        (acks, spent)
    }

    /// After the group's transaction failed: commits its batches one by one, so that one bad
    /// batch cannot hold back its neighbours, and dead-letters a batch that fails alone.
    /// `None` for a batch that could not be made durable at all.
    fn one_by_one(
        &self,
        writer: &mut EventWriter,
        rows: &EventRows,
        batches: &[PreparedBatch],
        error: hitkeep_store::Error,
        received_at_ms: i64,
    ) -> Vec<Option<AckStatus>> {
        if let [batch] = batches {
            return vec![self.dead_letter_batch(writer, batch, &error, received_at_ms)];
        }
        tracing::warn!(%error, batches = batches.len(), "group commit failed; committing batches one by one");
        batches
            .iter()
            .map(|batch| {
                let own_rows = rows.slice(&batch.rows);
                match writer.commit(&own_rows, &[batch.record()], received_at_ms) {
                    Ok(()) => Some(AckStatus::Stored),
                    Err(error) => self.dead_letter_batch(writer, batch, &error, received_at_ms),
                }
            })
            .collect()
    }

    /// Deletes the batch ids that have left the dedupe window.
    fn prune(&self, writer: &mut EventWriter, before_ms: i64) {
        match writer.prune_batch_ids(before_ms) {
            // Only once they are gone from the table: an id the index forgot while the table
            // still held it would be written again and fail the primary key.
            Ok(_) => self.dedupe.forget_before(before_ms),
            Err(error) => tracing::warn!(%error, "cannot prune old batch ids"),
        }
    }

    /// Stores a payload that did not decode in the dead-letter table and acks it as
    /// rejected.
    fn reject(
        &self,
        writer: &mut EventWriter,
        rejection: Rejection,
        received_at_ms: i64,
        acks: &mut Vec<(ReplyTo, Ack)>,
    ) {
        let Rejection { letter, code, reply } = rejection;
        let durable = match writer.reject(&letter, received_at_ms) {
            Ok(()) => {
                metrics::counter!("hitkeep_ingest_batches_total", "status" => "rejected").increment(1);
                let id = letter.batch_id.clone().unwrap_or_default();
                acks.push((reply, ack(&id, AckStatus::Rejected, 0, 0, Some(code.to_string()))));
                true
            }
            Err(error) => {
                tracing::error!(%error, "cannot write dead letter; leaving the batch unacked");
                false
            }
        };
        if let Some(id) = &letter.batch_id {
            let waiting = self.dedupe.settle(id, durable.then_some(received_at_ms));
            answer_waiting(id, waiting, durable, acks);
        }
    }

    /// Parks a batch that cannot be written in the dead-letter table, with the hits the
    /// plugins failed on. `None` when even that failed: the batch then stays unacked and its
    /// edge will send it again.
    fn dead_letter_batch(
        &self,
        writer: &mut EventWriter,
        prepared: &PreparedBatch,
        error: &hitkeep_store::Error,
        received_at_ms: i64,
    ) -> Option<AckStatus> {
        let batch = &prepared.batch;
        tracing::error!(%error, batch_id = batch.id(), "batch cannot be written; dead-lettering it");
        let letter =
            batch.dead_letter("write_failed", error.to_string(), batch.dead_letter_payload(&prepared.failed));
        match writer.reject(&letter, received_at_ms) {
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
}

/// Checkpoints; false when that failed. A failure is logged as a warning once in a row.
pub(crate) fn checkpoint(checkpointer: &EventWriter, failing: bool) -> bool {
    let started = std::time::Instant::now();
    match checkpointer.checkpoint() {
        Ok(()) => {
            let seconds = started.elapsed().as_secs_f64();
            metrics::histogram!("hitkeep_ingest_checkpoint_seconds").record(seconds);
            tracing::debug!(seconds, "checkpoint");
            true
        }
        // Typically a transaction that is not insert-only (a site change, a dead letter's
        // sequence number) holds DuckDB's checkpoint lock: the next commit tries again.
        Err(error) if failing => {
            tracing::debug!(%error, "checkpoint failed again");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "checkpoint failed; trying again after the next commit");
            false
        }
    }
}
