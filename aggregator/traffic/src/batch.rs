//! Cutting generated traffic into batch envelopes, as an edge would publish them.

use std::iter::{FusedIterator, Peekable};

use hitkeep_protocol::limits::{MAX_BATCH_BYTES, MAX_BATCH_HITS, MAX_ID_LEN};
use hitkeep_protocol::{Batch, Hit};

use crate::Traffic;

/// Digits of the sequence number in batch ids (`edge-a-000000000042`).
const SEQ_DIGITS: usize = 12;
/// Bytes of a hit's JSON that do not come from its strings: keys, punctuation, numbers and
/// enum names, with every optional field present. Checked against real encodings in tests.
const HIT_JSON_OVERHEAD: usize = 640;
/// Bytes of JSON around each custom property besides its key and value (`["",""],`).
const PROP_JSON_OVERHEAD: usize = 8;
/// Bytes of the envelope besides its hits, with the longest id and edge name.
const ENVELOPE_JSON_OVERHEAD: usize = 64 + 2 * MAX_ID_LEN;

/// Cuts traffic into batches of at most `hits_per_batch` hits, with ids
/// `"{edge}-{seq:012}"` counting from 0. A batch is closed early if another hit could take
/// its encoding past [`MAX_BATCH_BYTES`], so every batch decodes.
///
/// `hits_per_batch` is clamped to `1..=MAX_BATCH_HITS`.
///
/// # Panics
///
/// If `edge` is not a valid edge name (`[A-Za-z0-9._:-]`) short enough for the ids.
pub fn batches(traffic: Traffic, edge: &str, hits_per_batch: usize) -> Batches {
    let longest_id = format!("{edge}-{}", "9".repeat(SEQ_DIGITS));
    assert!(
        is_valid_id(edge) && is_valid_id(&longest_id),
        "invalid edge name {edge:?}: batch ids must be 1 to {MAX_ID_LEN} characters of [A-Za-z0-9._:-]"
    );
    Batches {
        hits: traffic.peekable(),
        edge: edge.to_owned(),
        hits_per_batch: hits_per_batch.clamp(1, MAX_BATCH_HITS),
        seq: 0,
    }
}

/// The iterator [`batches`] returns.
#[derive(Debug)]
pub struct Batches {
    hits: Peekable<Traffic>,
    edge: String,
    hits_per_batch: usize,
    seq: u64,
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let mut hits = Vec::with_capacity(self.hits_per_batch);
        let mut bytes = ENVELOPE_JSON_OVERHEAD;
        while hits.len() < self.hits_per_batch {
            let Some(next) = self.hits.peek() else { break };
            let hit_bytes = json_len_bound(next) + 1;
            if !hits.is_empty() && bytes + hit_bytes > MAX_BATCH_BYTES {
                break;
            }
            bytes += hit_bytes;
            hits.extend(self.hits.next());
        }
        if hits.is_empty() {
            return None;
        }
        let id = format!("{}-{:0width$}", self.edge, self.seq, width = SEQ_DIGITS);
        self.seq += 1;
        Some(Batch::new(id, self.edge.clone(), hits))
    }
}

impl FusedIterator for Batches {}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Bytes of a string in JSON: quotes, and escapes (at most 6 bytes, `\u001f`, per byte).
fn json_str_len(text: &str) -> usize {
    let escaped = text.bytes().filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\').count();
    text.len() + 5 * escaped + 2
}

/// An upper bound of the length of a hit's JSON encoding, without encoding it.
pub(crate) fn json_len_bound(hit: &Hit) -> usize {
    let optional = |text: &Option<String>| text.as_deref().map_or(0, json_str_len);
    let strings = [&hit.domain, &hit.name, &hit.hostname, &hit.path]
        .into_iter()
        .map(|s| json_str_len(s))
        .sum::<usize>()
        + [
            &hit.referrer,
            &hit.source,
            &hit.utm.source,
            &hit.utm.medium,
            &hit.utm.campaign,
            &hit.utm.content,
            &hit.utm.term,
            &hit.country,
            &hit.region,
            &hit.city,
            &hit.browser,
            &hit.browser_version,
            &hit.os,
            &hit.os_version,
        ]
        .into_iter()
        .map(optional)
        .sum::<usize>();
    let props: usize = hit
        .props
        .iter()
        .map(|(key, value)| json_str_len(key) + json_str_len(value) + PROP_JSON_OVERHEAD)
        .sum();
    let currency = hit.revenue.as_ref().map_or(0, |revenue| json_str_len(&revenue.currency));
    HIT_JSON_OVERHEAD + strings + props + currency
}

#[cfg(test)]
mod tests {
    use hitkeep_protocol::{Channel, Device, EventKind, Revenue, Utm};

    use super::*;
    use crate::TrafficConfig;

    fn traffic(hits: u64) -> Traffic {
        Traffic::new(TrafficConfig { hits, ..TrafficConfig::default() })
    }

    #[test]
    fn batches_cover_the_stream_in_order_with_sequential_ids() {
        let expected: Vec<Hit> = traffic(2_345).collect();
        let batches: Vec<Batch> = batches(traffic(2_345), "edge-a", 1_000).collect();
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].id, "edge-a-000000000000");
        assert_eq!(batches[2].id, "edge-a-000000000002");
        assert_eq!(batches[2].hits.len(), 345);
        for batch in &batches {
            assert_eq!(batch.edge, "edge-a");
            assert_eq!(Batch::decode(&batch.encode()).as_ref(), Ok(batch));
        }
        let hits: Vec<Hit> = batches.into_iter().flat_map(|batch| batch.hits).collect();
        assert_eq!(hits, expected);
    }

    #[test]
    fn large_batches_stay_under_the_byte_limit() {
        let batches: Vec<Batch> = batches(traffic(12_000), "e", MAX_BATCH_HITS).collect();
        assert!(batches.len() >= 3, "{} batches", batches.len());
        for batch in &batches {
            assert!(batch.hits.len() <= MAX_BATCH_HITS);
            assert!(batch.encode().len() <= MAX_BATCH_BYTES);
        }
    }

    #[test]
    fn the_size_bound_holds() {
        for hit in traffic(20_000) {
            let encoded = serde_json::to_vec(&hit).unwrap().len();
            assert!(encoded <= json_len_bound(&hit), "{encoded} > {}", json_len_bound(&hit));
        }
        // Every optional field present, with the longest enum names and numbers.
        let full = Hit {
            ts: i64::MIN,
            domain: "d".into(),
            kind: EventKind::Pageview,
            name: "pageview".into(),
            visitor: u64::MAX,
            visitor_prev: u64::MAX,
            hostname: "h".into(),
            path: "/\"quoted\"\n".into(),
            referrer: Some("r".into()),
            source: Some("s".into()),
            channel: Channel::OrganicShopping,
            utm: Utm {
                source: Some("s".into()),
                medium: Some("m".into()),
                campaign: Some("c".into()),
                content: Some("c".into()),
                term: Some("t".into()),
            },
            country: Some("DE".into()),
            region: Some("DE-BE".into()),
            city: Some("Berlin".into()),
            browser: Some("b".into()),
            browser_version: Some("1".into()),
            os: Some("o".into()),
            os_version: Some("1".into()),
            device: Device::Unknown,
            props: vec![("k".into(), "v".into()), ("k2".into(), String::new())],
            revenue: Some(Revenue { amount_micros: i64::MIN, currency: "EUR".into() }),
            interactive: false,
        };
        assert!(serde_json::to_vec(&full).unwrap().len() <= json_len_bound(&full));
    }

    #[test]
    #[should_panic(expected = "invalid edge name")]
    fn rejects_bad_edge_names() {
        let _ = batches(traffic(1), "has space", 10);
    }
}
