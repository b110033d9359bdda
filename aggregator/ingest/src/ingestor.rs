//! [`Ingestor`]: one group of batches in, one transaction, acks out, on the calling thread
//! (`hitkeep demo` loading generated traffic, tests). The running pipeline splits the same
//! work over several threads; see [`crate::Pipeline`].

use std::sync::Arc;

use hitkeep_protocol::Ack;
use hitkeep_store::{EventWriter, Store};

use crate::batch::{Enriched, Incoming, ReplyTo};
use crate::clock::Clock;
use crate::commit::Committer;
use crate::dedupe::Dedupe;
use crate::prepare::{PreparedGroup, Preparer};
use crate::sessions::SessionTracker;
use crate::sites::SiteDirectory;

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
    /// An ingestor on `store`, with its session state rebuilt from the visits that may still be open.
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
        sessions.seed(writer.open_visits(now_ms - session_timeout_ms)?, now_ms);
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
