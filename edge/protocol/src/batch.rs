//! The batch envelope and the aggregator's acknowledgement.

use serde::{Deserialize, Serialize};

use crate::Hit;
use crate::binary::{self, BINARY_ENVELOPE_VERSION};
use crate::limits::{MAX_BATCH_BYTES, MAX_BATCH_HITS, MAX_ID_LEN};

/// The version of the JSON envelope, and the value of [`Batch::v`]. The binary envelope,
/// version 2, is described in [`crate::binary`]; [`Batch::decode`] reads both.
pub const ENVELOPE_VERSION: u32 = 1;

/// The NATS subject edges publish batches to (as requests; the reply is an [`Ack`]).
pub const INGEST_SUBJECT: &str = "hitkeep.ingest.v1";

/// The NATS subject an edge sends a request to (empty payload) for its configuration: the
/// JSON snapshot of sites, their privacy rules and the daily salts that
/// `hitkeep_collector_core::Config::from_json` reads.
pub const EDGE_CONFIG_SUBJECT: &str = "hitkeep.edge.config.v1";

/// The aggregator publishes an empty message here whenever the edge configuration changes
/// (a site was added or edited, the salt rotated); edges then request it again.
pub const EDGE_CONFIG_CHANGED_SUBJECT: &str = "hitkeep.edge.config.v1.changed";

/// The reply inbox prefix of an edge that connects to NATS with an edge token (`hke_...`):
/// `_INBOX.edge.` and the first 16 bytes of the token's SHA-256 digest in hex. Such an edge
/// may publish to [`INGEST_SUBJECT`] and [`EDGE_CONFIG_SUBJECT`] and subscribe only to
/// [`EDGE_CONFIG_CHANGED_SUBJECT`] and beneath this prefix, so it hears its own replies and
/// nobody else's. The aggregator knows the digest, the edge the token; neither needs a name.
pub fn edge_inbox_prefix(token_sha256: &[u8; 32]) -> String {
    let mut prefix = String::from("_INBOX.edge.");
    for byte in &token_sha256[..16] {
        prefix.push_str(&format!("{byte:02x}"));
    }
    prefix
}

/// The header that carries [`Batch::id`], as JetStream expects it for deduplication.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// A batch of hits, published by an edge as one request.
///
/// It travels in one of two encodings, which [`Batch::decode`] tells apart by the first
/// byte: the binary envelope of version 2 ([`Batch::encode_binary`], layout in
/// [`crate::binary`]), which edges publish, and the JSON envelope of version 1
/// ([`Batch::encode`]), which the collector component posts to its host, Spin collectors post
/// to the aggregator's batch endpoint, and older edges publish:
///
/// ```json
/// {"v": 1, "id": "edge-a-000000000042", "edge": "edge-a", "hits": [ ... ]}
/// ```
///
/// Both carry the same fields, with the same limits.
///
/// `id` is chosen by the edge, unique per batch and stable across retries: the aggregator
/// stores it in the same transaction as the rows and answers a repeated id with
/// [`AckStatus::Duplicate`] without writing anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The JSON envelope's version field: [`ENVELOPE_VERSION`] in every batch this crate
    /// builds or decodes, whichever encoding it arrived in (the binary envelope carries its
    /// own version byte).
    pub v: u32,
    /// Batch id: 1 to 64 characters of `[A-Za-z0-9._:-]`.
    pub id: String,
    /// Name of the edge that sent it, same alphabet as `id`.
    pub edge: String,
    /// The hits, oldest first.
    pub hits: Vec<Hit>,
}

/// Why bytes are not a batch this aggregator can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is larger than [`MAX_BATCH_BYTES`].
    #[error("batch is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Payload size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not an envelope of the shape its version prescribes (for JSON, not
    /// JSON of that shape; for the binary envelope, a wrong checksum, a truncated field, an
    /// unknown code, bytes left over).
    #[error("malformed batch: {0}")]
    Malformed(String),
    /// The envelope has a version this code does not know.
    #[error(
        "unsupported envelope version {found}, this aggregator reads versions {ENVELOPE_VERSION} (JSON) and {BINARY_ENVELOPE_VERSION} (binary)"
    )]
    UnsupportedVersion {
        /// The version found in the payload.
        found: u64,
    },
    /// The batch id or edge name is empty, too long or uses other characters.
    #[error("invalid {field}: must be 1 to {MAX_ID_LEN} characters of [A-Za-z0-9._:-]")]
    InvalidId {
        /// `id` or `edge`.
        field: &'static str,
    },
    /// More hits than [`MAX_BATCH_HITS`].
    #[error("batch has {count} hits, the limit is {max}")]
    TooManyHits {
        /// The number of hits.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl DecodeError {
    /// A stable, machine-readable code for this error (used in acks and dead letters).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::InvalidId { .. } => "invalid_id",
            Self::TooManyHits { .. } => "too_many_hits",
        }
    }
}

/// True for a valid batch id or edge name.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl Batch {
    /// Builds a current-version batch.
    pub fn new(id: impl Into<String>, edge: impl Into<String>, hits: Vec<Hit>) -> Self {
        Self { v: ENVELOPE_VERSION, id: id.into(), edge: edge.into(), hits }
    }

    /// Encodes the batch as a JSON envelope (version 1). Edges publish the binary envelope
    /// instead ([`Batch::encode_binary`]): it is smaller and much cheaper to decode.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a batch always serializes")
    }

    /// Decodes and checks an envelope of either encoding: binary (version 2) when it starts
    /// with [`binary::MAGIC`], else JSON (version 1). The hits themselves are checked one by
    /// one with [`Hit::validate`], so that one bad hit does not take its neighbours down with
    /// it.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.len() > MAX_BATCH_BYTES {
            return Err(DecodeError::TooLarge { len: payload.len(), max: MAX_BATCH_BYTES });
        }
        if binary::is_binary(payload) {
            return binary::decode(payload);
        }
        let batch: Batch = match serde_json::from_slice(payload) {
            Ok(batch) => batch,
            Err(error) => {
                // A future envelope may not parse as this one: say so rather than "malformed".
                if let Some(found) = probe_version(payload).filter(|v| *v != u64::from(ENVELOPE_VERSION)) {
                    return Err(DecodeError::UnsupportedVersion { found });
                }
                return Err(DecodeError::Malformed(error.to_string()));
            }
        };
        if batch.v != ENVELOPE_VERSION {
            return Err(DecodeError::UnsupportedVersion { found: u64::from(batch.v) });
        }
        if !is_valid_id(&batch.id) {
            return Err(DecodeError::InvalidId { field: "id" });
        }
        if !is_valid_id(&batch.edge) {
            return Err(DecodeError::InvalidId { field: "edge" });
        }
        if batch.hits.len() > MAX_BATCH_HITS {
            return Err(DecodeError::TooManyHits { count: batch.hits.len(), max: MAX_BATCH_HITS });
        }
        Ok(batch)
    }

    /// The batch id of a payload that may not decode, for dead-lettering and acking it: the
    /// `id` of a JSON object, or the id in a binary envelope's preamble (of any version).
    pub fn probe_id(payload: &[u8]) -> Option<String> {
        if binary::is_binary(payload) {
            return binary::probe_id(payload);
        }
        #[derive(Deserialize)]
        struct Probe {
            id: String,
        }
        serde_json::from_slice::<Probe>(payload).ok().map(|p| p.id).filter(|id| is_valid_id(id))
    }
}

fn probe_version(payload: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Probe {
        v: u64,
    }
    serde_json::from_slice::<Probe>(payload).ok().map(|p| p.v)
}

/// How the aggregator disposed of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// Written and committed now.
    Stored,
    /// Its id had been committed before; nothing was written.
    Duplicate,
    /// It can never be written; it was put in the dead-letter table. Do not resend it.
    Rejected,
}

/// The aggregator's reply to a batch. Any reply means "durable, free your spool"; a batch
/// without a reply must be sent again with the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The batch id this answers.
    pub id: String,
    /// What happened to it.
    pub status: AckStatus,
    /// Hits written (0 for duplicates and rejections).
    pub stored: u32,
    /// Hits of the batch that were dead-lettered or dropped.
    #[serde(default)]
    pub dropped: u32,
    /// Machine-readable reason for a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Ack {
    /// Encodes the ack as JSON.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an ack always serializes")
    }

    /// Decodes an ack.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(payload).map_err(|e| DecodeError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_inbox_prefix_is_one_subject_token_per_digest() {
        let mut digest = [0u8; 32];
        digest[0] = 0xab;
        digest[15] = 0x01;
        digest[16] = 0xff;
        assert_eq!(edge_inbox_prefix(&digest), "_INBOX.edge.ab000000000000000000000000000001");
    }
    use crate::hit::tests::sample;

    #[test]
    fn round_trip() {
        let batch = Batch::new("edge-a-1", "edge-a", vec![sample(), sample()]);
        assert_eq!(Batch::decode(&batch.encode()), Ok(batch));
    }

    #[test]
    fn rejects_bad_envelopes_with_a_clear_code() {
        assert_eq!(Batch::decode(b"{").unwrap_err().code(), "malformed");
        assert_eq!(Batch::decode(b"[]").unwrap_err().code(), "malformed");
        let future = br#"{"v":2,"id":"x","edge":"e","payload":"columnar"}"#;
        assert_eq!(Batch::decode(future), Err(DecodeError::UnsupportedVersion { found: 2 }));
        let old = br#"{"v":0,"id":"x","edge":"e","hits":[]}"#;
        assert_eq!(Batch::decode(old), Err(DecodeError::UnsupportedVersion { found: 0 }));
        let bad_id = br#"{"v":1,"id":"a b","edge":"e","hits":[]}"#;
        assert_eq!(Batch::decode(bad_id), Err(DecodeError::InvalidId { field: "id" }));
        let huge = vec![b' '; MAX_BATCH_BYTES + 1];
        assert_eq!(Batch::decode(&huge).unwrap_err().code(), "too_large");
        let many = Batch::new("x", "e", vec![sample(); MAX_BATCH_HITS + 1]);
        let many = serde_json::to_vec(&many).unwrap();
        if many.len() <= MAX_BATCH_BYTES {
            assert_eq!(Batch::decode(&many).unwrap_err().code(), "too_many_hits");
        }
    }

    #[test]
    fn probes_the_id_of_a_batch_that_does_not_decode() {
        assert_eq!(Batch::probe_id(br#"{"v":9,"id":"b-1"}"#), Some("b-1".into()));
        assert_eq!(Batch::probe_id(br#"{"id":"has space"}"#), None);
        assert_eq!(Batch::probe_id(b"garbage"), None);
    }

    #[test]
    fn ack_round_trip() {
        let ack = Ack { id: "b".into(), status: AckStatus::Duplicate, stored: 0, dropped: 0, error: None };
        assert_eq!(Ack::decode(&ack.encode()), Ok(ack));
    }
}
