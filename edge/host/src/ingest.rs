//! The sink behind `http://hitkeep-sink.internal/batch`: checks what the component posts and
//! hands the hits to the batcher, or refuses them when the spool is full.
//!
//! **Spool full: refuse new, keep old.** When the spool (bytes on disk plus hits held by the
//! batcher) reaches its bound, newly posted hits are refused with 503, which the component
//! passes on to the browser, and `hitkeep_edge_spool_full_total` counts it. Dropping the oldest
//! batches instead would keep the edge answering 202, but it would lose data silently, and
//! data that is already spooled was accepted with a 202 that promised it would be delivered.
//! Refusing at the door breaks no promise, shows the loss where it happens (in the tracker's
//! responses, in the metric), and lets a client that retries (a server-side integration, the
//! Events API) try again once the aggregator is back and the spool drains.

use std::sync::Arc;

use hitkeep_protocol::{Batch, binary};

use crate::batcher::Batcher;
use crate::journal::Durable;
use crate::metrics as m;
use crate::sink::{BatchSink, SinkStatus};
use crate::spool::Spool;

/// Room reserved for one encoded hit (a typical pageview takes 100 to 200 bytes).
const ENCODED_HIT_GUESS: usize = 192;

/// Takes the component's batches into the batcher.
#[derive(Debug)]
pub(crate) struct Ingest {
    batcher: Arc<Batcher>,
    spool: Arc<Spool>,
}

impl Ingest {
    pub(crate) fn new(batcher: Arc<Batcher>, spool: Arc<Spool>) -> Self {
        Self { batcher, spool }
    }
}

impl BatchSink for Ingest {
    fn accept(&self, payload: &[u8]) -> (SinkStatus, Option<Durable>) {
        let batch = match Batch::decode(payload) {
            Ok(batch) => batch,
            Err(error) => {
                metrics::counter!(m::SINK_INVALID, "reason" => error.code()).increment(1);
                tracing::warn!(error = error.code(), "the component posted a batch that does not decode");
                return (SinkStatus::Invalid, None);
            }
        };
        // Each hit is kept in the binary envelope's encoding: the batcher assembles batches
        // by concatenation, and its byte bound is exact.
        let mut encoded = Vec::with_capacity(batch.hits.len());
        for hit in &batch.hits {
            if hit.validate().is_err() {
                metrics::counter!(m::HITS_INVALID).increment(1);
                continue;
            }
            let mut bytes = Vec::with_capacity(ENCODED_HIT_GUESS);
            binary::encode_hit(hit, &mut bytes);
            encoded.push(bytes);
        }
        let incoming: u64 = encoded.iter().map(|hit| hit.len() as u64).sum();
        if self.spool.used_bytes() + self.batcher.held_bytes() + incoming > self.spool.max_bytes() {
            metrics::counter!(m::SPOOL_FULL).increment(1);
            metrics::counter!(m::SPOOL_FULL_HITS).increment(encoded.len() as u64);
            return (SinkStatus::Full, None);
        }
        let count = encoded.len() as u64;
        match self.batcher.push(encoded) {
            Ok(durable) => {
                metrics::counter!(m::HITS_ACCEPTED).increment(count);
                (SinkStatus::Accepted, durable)
            }
            Err(error) => {
                metrics::counter!(m::SPOOL_ERRORS).increment(1);
                tracing::error!(%error, "could not open a journal segment; the hits are refused");
                (SinkStatus::Full, None)
            }
        }
    }
}
