//! What enters the pipeline and what leaves it, shared by its stages: a batch as it
//! arrives ([`Incoming`]), after the enrichment plugins ([`Enriched`]), its envelope
//! ([`Envelope`]), and where its ack goes ([`ReplyTo`]).

use hitkeep_plugins::{FailedHit, Plugins};
use hitkeep_protocol::binary::{self, BinaryBatch};
use hitkeep_protocol::{Ack, AckStatus, Batch, DecodeError, Hit, HitRef};
use hitkeep_store::DeadLetter;
use tokio::sync::oneshot;

/// Where the ack of a batch goes.
#[derive(Debug)]
pub enum ReplyTo {
    /// A NATS reply subject.
    Nats(async_nats::Subject),
    /// A waiting caller (the HTTP batch endpoint).
    Channel(oneshot::Sender<Ack>),
    /// A message of the cluster's ingest stream (JetStream): acknowledged to the stream
    /// (`+ACK` on the message's `ack` subject) once durable here; its position `seq` in the
    /// stream is stored with the batch, so that this database knows where it stands.
    Stream {
        /// The message's ack subject.
        ack: async_nats::Subject,
        /// Its sequence number in the stream.
        seq: u64,
    },
    /// Nobody is waiting (a plain NATS publish, or a bulk load).
    Nobody,
}

impl ReplyTo {
    /// The batch's position in the ingest stream, when it came from there.
    pub fn stream_seq(&self) -> Option<u64> {
        match self {
            Self::Stream { seq, .. } => Some(*seq),
            _ => None,
        }
    }
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

/// An ack.
pub(crate) fn ack(id: &str, status: AckStatus, stored: u32, dropped: u32, error: Option<String>) -> Ack {
    Ack { id: id.to_string(), status, stored, dropped, error }
}
