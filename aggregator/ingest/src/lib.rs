//! Hitkeep's ingest pipeline: batches in, sessionized rows committed, acks out.
//!
//! ```text
//! NATS queue subscription ──► decode ──► bounded queue ──► writer thread ──► acks
//! (or the HTTP batch API)     (envelope    (backpressure)   dedupe by batch id,
//!                              checks)                      validate, resolve site,
//!                                                           sessionize, append,
//!                                                           commit, then ack
//! ```
//!
//! The writer groups whatever batches are waiting into one DuckDB transaction (group commit)
//! and acknowledges each only after that transaction committed. A batch whose id was
//! committed before is acknowledged as a duplicate and not written again. A batch that can
//! never be written (bad envelope, unknown version) is stored in the dead-letter table and
//! acknowledged as rejected, so it never blocks the ones behind it. A batch that is not
//! acknowledged, for whatever reason, is resent by its edge with the same id.

mod clock;
mod ingestor;
mod pipeline;
mod sessions;
mod sites;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ingestor::{Enriched, Incoming, Ingestor, ReplyTo};
pub use pipeline::{Pipeline, PipelineConfig, PipelineError, Submitter};
pub use sessions::{Assignment, DEFAULT_SESSION_TIMEOUT_MS, SessionTracker};
pub use sites::SiteDirectory;
