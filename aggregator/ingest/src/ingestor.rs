//! What enters the pipeline ([`Incoming`], [`Enriched`]), where its acks go ([`ReplyTo`]),
//! and [`Ingestor`]: one group of batches in, one transaction, acks out, on the calling
//! thread (`hitkeep demo` loading generated traffic, tests). The running pipeline splits the
//! same work over two threads; see [`crate::Pipeline`].

use std::sync::Arc;

use hitkeep_plugins::{FailedHit, Plugins};
use hitkeep_protocol::binary::{self, BinaryBatch};
use hitkeep_protocol::{Ack, AckStatus, Batch, DecodeError, Hit, HitRef};
use hitkeep_store::{DeadLetter, EventWriter, Store};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::commit::Committer;
use crate::dedupe::Dedupe;
use crate::prepare::{PreparedGroup, Preparer};
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

/// A batch that decoded: whole (a JSON envelope, or any batch the plugins ran on), or
/// framed only (a binary envelope, whose hits the prepare thread reads in place, without a
/// string of their own: see [`BinaryBatch`]).
#[derive(Debug)]
pub enum Envelope {
    /// Decoded whole.
    Decoded(Batch),
    /// A binary envelope whose frame is checked.
    Framed(BinaryBatch<bytes::Bytes>),
}

impl Envelope {
    /// The batch id.
    pub fn id(&self) -> &str {
        match self {
            Self::Decoded(batch) => &batch.id,
            Self::Framed(framed) => framed.id(),
        }
    }

    /// The edge's name.
    pub fn edge(&self) -> &str {
        match self {
            Self::Decoded(batch) => &batch.edge,
            Self::Framed(framed) => framed.edge(),
        }
    }

    /// Hits in the batch.
    pub fn len(&self) -> usize {
        match self {
            Self::Decoded(batch) => batch.hits.len(),
            Self::Framed(framed) => framed.len(),
        }
    }

    /// True when the batch has no hit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hits, borrowed; an error when a framed envelope's hits do not decode.
    pub(crate) fn hits(&self) -> Result<Vec<HitRef<'_>>, DecodeError> {
        match self {
            Self::Decoded(batch) => Ok(batch.hits.iter().map(Hit::view).collect()),
            Self::Framed(framed) => framed.hits(),
        }
    }

    /// The batch decoded whole.
    pub(crate) fn into_batch(self) -> Result<Batch, (DecodeError, bytes::Bytes)> {
        match self {
            Self::Decoded(batch) => Ok(batch),
            Self::Framed(framed) => framed.to_batch().map_err(|error| (error, framed.into_payload())),
        }
    }

    /// A dead letter filed under this batch's id and edge.
    pub(crate) fn dead_letter(&self, reason: &str, detail: String, payload: Vec<u8>) -> DeadLetter {
        DeadLetter {
            batch_id: Some(self.id().to_owned()),
            edge: Some(self.edge().to_owned()),
            reason: reason.to_owned(),
            detail,
            payload,
        }
    }

    /// The batch as a dead letter stores it, with `failed` (hits the plugins failed on) put
    /// back: the envelope as it arrived when there are none.
    pub(crate) fn dead_letter_payload(&self, failed: &[FailedHit]) -> Vec<u8> {
        match self {
            Self::Framed(framed) if failed.is_empty() => framed.payload().to_vec(),
            Self::Decoded(batch) if failed.is_empty() => batch.encode(),
            Self::Framed(framed) => match framed.to_batch() {
                Ok(batch) => with_failed(batch, failed),
                Err(_) => framed.payload().to_vec(),
            },
            Self::Decoded(batch) => with_failed(batch.clone(), failed),
        }
    }
}

fn with_failed(mut batch: Batch, failed: &[FailedHit]) -> Vec<u8> {
    batch.hits.extend(failed.iter().map(|failed| failed.hit.clone()));
    batch.encode()
}

/// A batch as it arrives at the writer: decoded, or refused with the bytes kept.
#[derive(Debug)]
pub struct Incoming {
    /// The decoded batch, or why it could not be decoded and its raw bytes.
    pub batch: Result<Envelope, (DecodeError, bytes::Bytes)>,
    /// Where the ack goes.
    pub reply: ReplyTo,
}

impl Incoming {
    /// Decodes a payload: a binary envelope's frame only (its hits are read by the prepare
    /// thread), a JSON envelope whole.
    pub fn decode(payload: bytes::Bytes, reply: ReplyTo) -> Self {
        let batch = if binary::is_binary(&payload) {
            BinaryBatch::open(payload.clone()).map(Envelope::Framed)
        } else {
            Batch::decode(&payload).map(Envelope::Decoded)
        };
        Self { batch: batch.map_err(|error| (error, payload)), reply }
    }

    /// A batch decoded elsewhere (a bulk load).
    pub fn decoded(batch: Batch, reply: ReplyTo) -> Self {
        Self { batch: Ok(Envelope::Decoded(batch)), reply }
    }

    /// Hits in the batch (0 when it did not decode).
    pub fn hits(&self) -> usize {
        self.batch.as_ref().map_or(0, Envelope::len)
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
    pub fn new(incoming: Incoming, plugins: &Plugins) -> Self {
        let Incoming { batch, reply } = incoming;
        // The plugins work on hits of their own.
        let mut batch = match batch.and_then(Envelope::into_batch) {
            Ok(batch) => batch,
            Err(refused) => return Self::from(Incoming { batch: Err(refused), reply }),
        };
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
        Self {
            incoming: Incoming::decoded(batch, reply),
            failed: report.failed,
            dropped: u32::try_from(report.dropped).unwrap_or(u32::MAX),
        }
    }

    /// Hits that reach the writer (0 when the batch did not decode).
    pub fn hits(&self) -> usize {
        self.incoming.hits()
    }
}

/// Sessionizes and stores groups of batches, on the calling thread: the
/// [`crate::prepare::Preparer`] and the [`crate::commit::Committer`] one after the other,
/// on one connection. [`crate::Pipeline`] runs the same steps on three threads.
#[derive(Debug)]
pub struct Ingestor {
    preparer: Preparer,
    committer: Committer,
    writer: EventWriter,
    /// The last checkpoint failed.
    failing_checkpoint: bool,
}

impl Ingestor {
    /// An ingestor on `store`, with its session state rebuilt from recent events.
    pub fn open(
        store: &Store,
        sites: SiteDirectory,
        clock: Arc<dyn Clock>,
        session_timeout_ms: i64,
    ) -> hitkeep_store::Result<Self> {
        let writer = store.event_writer()?;
        let dedupe = Dedupe::new(store.known_batches()?);
        let now_ms = clock.now_ms();
        let mut sessions = SessionTracker::new(writer.max_session_id()?, session_timeout_ms);
        sessions.seed(writer.recent_sessions(now_ms - session_timeout_ms)?);
        tracing::info!(open_sessions = sessions.len(), "session state restored");
        Ok(Self {
            preparer: Preparer::new(sessions, sites, dedupe.clone(), clock),
            committer: Committer::new(dedupe),
            writer,
            failing_checkpoint: false,
        })
    }

    /// Sessions held in memory.
    pub fn open_sessions(&self) -> usize {
        self.preparer.open_sessions()
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
        let mut prepared = PreparedGroup::default();
        let mut acks = self.preparer.prepare(group, &mut prepared);
        let (committed, _spent) = self.committer.commit(&mut self.writer, prepared);
        acks.extend(committed);
        // No thread of its own here: checkpoint between groups, as the pipeline's checkpoint
        // thread would.
        if self.writer.wal_bytes() >= hitkeep_store::CHECKPOINT_WAL_BYTES {
            self.failing_checkpoint = !crate::commit::checkpoint(&self.writer, self.failing_checkpoint);
        }
        acks
    }

    /// The parts, for the pipeline's threads.
    pub(crate) fn into_parts(self) -> (Preparer, Committer, EventWriter) {
        let Self { preparer, committer, writer, .. } = self;
        (preparer, committer, writer)
    }
}

pub(crate) fn ack(id: &str, status: AckStatus, stored: u32, dropped: u32, error: Option<String>) -> Ack {
    Ack { id: id.to_string(), status, stored, dropped, error }
}
