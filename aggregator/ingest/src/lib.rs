//! Hitkeep's ingest pipeline: batches in, sessionized rows committed, acks out.
//!
//! ```text
//! NATS queue subscription ──► frame ──► bounded queue ──► prepare ──► stage ──► commit ──► acks
//! (or the HTTP batch API)     check     (backpressure)    dedupe,     append    commit,
//!                             (tokio)                     read hits   to a      then ack
//!                                                         in place,   trans-       │
//!                                                         validate,   action       ▼
//!                                                         sessions,           checkpoint
//!                                                         Arrow rows
//! ```
//!
//! The prepare thread groups whatever batches are waiting; the stage and commit threads
//! write each group in one DuckDB transaction (group commit), on two connections in turn,
//! and each batch is acknowledged only after its transaction committed; a fourth thread
//! checkpoints while commits go on. The module docs of [`Pipeline`] explain how the threads
//! share the work. A batch whose id was
//! committed before is acknowledged as a duplicate and not written again. A batch that can
//! never be written (bad envelope, unknown version) is stored in the dead-letter table and
//! acknowledged as rejected, so it never blocks the ones behind it. A batch that is not
//! acknowledged, for whatever reason, is resent by its edge with the same id.

mod batch;
mod clock;
mod commit;
mod dedupe;
mod ingestor;
mod pipeline;
mod prepare;
mod sessions;
mod sites;
#[cfg(test)]
mod tests;

pub use batch::{Enriched, Envelope, Incoming, ReplyTo};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ingestor::Ingestor;
pub use pipeline::{Pipeline, PipelineConfig, PipelineError, Submitter};
pub use sessions::{Assignment, DEFAULT_SESSION_TIMEOUT_MS, SessionTracker};
pub use sites::SiteDirectory;
