//! Hitkeep's ingest pipeline: batches in, sessionized rows committed, acks out.
//!
//! ```text
//! NATS queue subscription ──► decode ──► bounded queue ──► prepare thread ──► writer thread ──► acks
//! (or the HTTP batch API)     (binary or   (backpressure)   dedupe by batch   append, commit,
//!                              JSON, on                     id, validate,     then ack
//!                              tokio)                       resolve site,
//!                                                           sessionize, build
//!                                                           the Arrow rows
//! ```
//!
//! The prepare thread groups whatever batches are waiting, and the writer thread writes each
//! group in one DuckDB transaction (group commit) and acknowledges each batch only after that
//! transaction committed; the module docs of [`Pipeline`] explain how the two threads share
//! the work. A batch whose id was
//! committed before is acknowledged as a duplicate and not written again. A batch that can
//! never be written (bad envelope, unknown version) is stored in the dead-letter table and
//! acknowledged as rejected, so it never blocks the ones behind it. A batch that is not
//! acknowledged, for whatever reason, is resent by its edge with the same id.

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

pub use clock::{Clock, ManualClock, SystemClock};
pub use ingestor::{Enriched, Envelope, Incoming, Ingestor, ReplyTo};
pub use pipeline::{Pipeline, PipelineConfig, PipelineError, Submitter};
pub use sessions::{Assignment, DEFAULT_SESSION_TIMEOUT_MS, SessionTracker};
pub use sites::SiteDirectory;
