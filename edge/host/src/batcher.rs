//! The batcher: gathers hits and cuts a batch when it holds `max_hits` hits, would exceed
//! `max_bytes`, or its first hit is `max_age` old; each batch is spooled, then handed to the
//! publisher.
//!
//! Hits are kept already encoded (in the binary envelope's encoding, version 2: see
//! `hitkeep_protocol::binary`), so the byte bound is exact and a batch is assembled by
//! concatenation. Batch ids are `{edge}-{boot}-{seq}`: `boot` is the
//! process start in milliseconds, base 36 (greater than any boot found in the spool, so a
//! clock set back cannot repeat one), `seq` counts from 1.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hitkeep_protocol::binary;
use hitkeep_protocol::limits::{MAX_BATCH_BYTES, MAX_BATCH_HITS};
use tokio::sync::Notify;

use crate::config::BatchConfig;
use crate::metrics as m;
use crate::publisher::Publisher;
use crate::spool::Spool;

/// Room kept in a batch for the envelope around the hits: magic, version, id and edge name
/// (at most 64 bytes each, with their lengths), the hit count and the checksum take at most
/// 147 bytes.
const ENVELOPE_BYTES: usize = 256;
/// Room kept under NATS's 1 MiB `max_payload` for the message headers.
const NATS_HEADER_ROOM: usize = 8 * 1024;

/// Names batches: `{edge}-{boot}-{seq}`.
#[derive(Debug)]
pub(crate) struct BatchIds {
    edge: String,
    boot_ms: u64,
    boot: String,
    next_seq: AtomicU64,
}

impl BatchIds {
    /// Ids for this process: the boot time is now, or one past the last boot in the spool.
    pub(crate) fn new(edge: &str, last_boot_ms: Option<u64>) -> Self {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let boot_ms = match last_boot_ms {
            Some(last) if last >= now_ms => last + 1,
            _ => now_ms,
        };
        Self { edge: edge.to_string(), boot_ms, boot: base36(boot_ms), next_seq: AtomicU64::new(1) }
    }

    /// The next `(seq, id)`.
    fn next(&self) -> (u64, String) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        (seq, format!("{}-{}-{seq}", self.edge, self.boot))
    }

    pub(crate) fn boot_ms(&self) -> u64 {
        self.boot_ms
    }
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

#[derive(Debug, Default)]
struct State {
    open: Vec<Vec<u8>>,
    open_bytes: usize,
    opened_at: Option<Instant>,
    cut: VecDeque<Vec<Vec<u8>>>,
}

/// Hits waiting to become batches.
#[derive(Debug)]
pub(crate) struct Batcher {
    max_hits: usize,
    hit_bytes_budget: usize,
    max_age: Duration,
    state: Mutex<State>,
    wake: Notify,
    held_bytes: AtomicU64,
    closing: AtomicBool,
}

impl Batcher {
    pub(crate) fn new(config: BatchConfig) -> Self {
        let max_bytes = config.max_bytes.clamp(4 * 1024, MAX_BATCH_BYTES - NATS_HEADER_ROOM);
        Self {
            max_hits: config.max_hits.clamp(1, MAX_BATCH_HITS),
            hit_bytes_budget: max_bytes - ENVELOPE_BYTES,
            max_age: config.max_age,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            held_bytes: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        }
    }

    /// Bytes of hits held in memory, not yet spooled.
    pub(crate) fn held_bytes(&self) -> u64 {
        self.held_bytes.load(Ordering::Relaxed)
    }

    /// Adds encoded hits.
    pub(crate) fn push(&self, hits: Vec<Vec<u8>>) {
        if hits.is_empty() {
            return;
        }
        let added: usize = hits.iter().map(Vec::len).sum();
        self.held_bytes.fetch_add(added as u64, Ordering::Relaxed);
        let mut wake = false;
        {
            let mut state = self.state.lock().expect("batcher lock");
            for hit in hits {
                let full =
                    state.open.len() >= self.max_hits || state.open_bytes + hit.len() > self.hit_bytes_budget;
                if full && !state.open.is_empty() {
                    let batch = std::mem::take(&mut state.open);
                    state.cut.push_back(batch);
                    state.open_bytes = 0;
                    state.opened_at = None;
                    wake = true;
                }
                if state.open.is_empty() {
                    state.opened_at = Some(Instant::now());
                    wake = true;
                }
                state.open_bytes += hit.len();
                state.open.push(hit);
            }
            if state.open.len() >= self.max_hits {
                let batch = std::mem::take(&mut state.open);
                state.cut.push_back(batch);
                state.open_bytes = 0;
                state.opened_at = None;
                wake = true;
            }
        }
        if wake {
            self.wake.notify_one();
        }
    }

    /// Cuts what is open and makes [`Batcher::run`] return once everything is spooled.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Batches ready now, and when the open one will be due.
    fn take_ready(&self, now: Instant, closing: bool) -> (Vec<Vec<Vec<u8>>>, Option<Instant>) {
        let mut state = self.state.lock().expect("batcher lock");
        let due = state.opened_at.map(|opened| opened + self.max_age);
        if !state.open.is_empty() && (closing || due.is_some_and(|due| due <= now)) {
            let batch = std::mem::take(&mut state.open);
            state.cut.push_back(batch);
            state.open_bytes = 0;
            state.opened_at = None;
        }
        let ready = state.cut.drain(..).collect();
        (ready, state.opened_at.map(|opened| opened + self.max_age))
    }

    /// Spools cut batches and hands them to the publisher, until [`Batcher::close`] has been
    /// called and nothing is left.
    pub(crate) async fn run(self: Arc<Self>, ids: BatchIds, spool: Arc<Spool>, publisher: Arc<Publisher>) {
        let ids = Arc::new(ids);
        loop {
            let closing = self.closing.load(Ordering::SeqCst);
            let (ready, next_due) = self.take_ready(Instant::now(), closing);
            for hits in ready {
                let bytes: u64 = hits.iter().map(|h| h.len() as u64).sum();
                let entry = spool_batch(&ids, &spool, hits, closing).await;
                self.held_bytes.fetch_sub(bytes, Ordering::Relaxed);
                if let Some(entry) = entry {
                    publisher.enqueue(entry);
                }
            }
            if closing {
                let state = self.state.lock().expect("batcher lock");
                if state.open.is_empty() && state.cut.is_empty() {
                    return;
                }
                continue;
            }
            match next_due {
                Some(due) => {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep_until(due.into()) => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }
}

/// Writes one batch to the spool, retrying while the disk refuses (a batch in memory is
/// only lost if the process stops before the disk recovers).
async fn spool_batch(
    ids: &Arc<BatchIds>,
    spool: &Arc<Spool>,
    hits: Vec<Vec<u8>>,
    closing: bool,
) -> Option<crate::spool::SpoolEntry> {
    let (seq, id) = ids.next();
    let payload = Arc::new(binary::encode_batch(&id, &ids.edge, &hits));
    let count = hits.len() as u64;
    drop(hits);
    let mut attempts = 0u32;
    loop {
        let (spool, ids, payload, id_for_write) = (spool.clone(), ids.clone(), payload.clone(), id.clone());
        let written =
            tokio::task::spawn_blocking(move || spool.write(ids.boot_ms(), seq, &id_for_write, &payload))
                .await;
        match written {
            Ok(Ok(entry)) => {
                metrics::counter!(m::BATCHES_SPOOLED).increment(1);
                metrics::counter!(m::HITS_SPOOLED).increment(count);
                return Some(entry);
            }
            Ok(Err(error)) => {
                metrics::counter!(m::SPOOL_ERRORS).increment(1);
                tracing::error!(batch = %id, %error, "could not write a batch to the spool, retrying");
            }
            Err(join) => {
                metrics::counter!(m::SPOOL_ERRORS).increment(1);
                tracing::error!(batch = %id, error = %join, "spool writer failed, retrying");
            }
        }
        attempts += 1;
        if closing && attempts >= 3 {
            tracing::error!(batch = %id, "giving up on spooling a batch at shutdown: its hits are lost");
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitkeep_protocol::{Batch, Hit, is_valid_id};

    #[test]
    fn ids_are_valid_and_unique_across_boots() {
        let ids = BatchIds::new("edge-a", None);
        let (seq, id) = ids.next();
        assert_eq!(seq, 1);
        assert!(is_valid_id(&id), "{id}");
        let (_, second) = ids.next();
        assert_ne!(id, second);
        let later = BatchIds::new("edge-a", Some(u64::MAX / 2));
        assert_eq!(later.boot_ms(), u64::MAX / 2 + 1);
        let longest = BatchIds::new(&"e".repeat(crate::config::MAX_EDGE_NAME_LEN), Some(7_258_118_400_000)); // year 2200
        longest.next_seq.store(999_999_999_999, Ordering::Relaxed);
        assert!(is_valid_id(&longest.next().1));
    }

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    fn pageview(path: &str) -> Hit {
        Hit::pageview(1_767_225_600_000, "example.com", path)
    }

    #[test]
    fn encoded_batches_decode() {
        let hits = [pageview("/a"), pageview("/b")];
        let encoded: Vec<Vec<u8>> = hits
            .iter()
            .map(|hit| {
                let mut bytes = Vec::new();
                binary::encode_hit(hit, &mut bytes);
                bytes
            })
            .collect();
        let payload = binary::encode_batch("e-1-1", "e", &encoded);
        let batch = Batch::decode(&payload).unwrap();
        assert_eq!((batch.id.as_str(), batch.edge.as_str()), ("e-1-1", "e"));
        assert_eq!(batch.hits, hits);
        // The room kept for the envelope holds the longest id and edge name.
        let longest = "e".repeat(hitkeep_protocol::limits::MAX_ID_LEN);
        let envelope = binary::encode_batch::<Vec<u8>>(&longest, &longest, &[]);
        assert!(envelope.len() <= ENVELOPE_BYTES, "{}", envelope.len());
        assert!(Batch::decode(&envelope).unwrap().hits.is_empty());
    }

    #[test]
    fn cuts_by_count_and_bytes() {
        let batcher =
            Batcher::new(BatchConfig { max_hits: 3, max_bytes: 4096, max_age: Duration::from_secs(60) });
        batcher.push(vec![vec![b'1'; 10]; 7]);
        let (ready, due) = batcher.take_ready(Instant::now(), false);
        assert_eq!(ready.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3]);
        assert!(due.is_some());
        let (ready, _) = batcher.take_ready(Instant::now() + Duration::from_secs(61), false);
        assert_eq!(ready.iter().map(Vec::len).collect::<Vec<_>>(), vec![1]);

        let by_bytes =
            Batcher::new(BatchConfig { max_hits: 1000, max_bytes: 4096, max_age: Duration::from_secs(60) });
        by_bytes.push(vec![vec![b'x'; 1500]; 5]);
        let (ready, _) = by_bytes.take_ready(Instant::now(), true);
        assert_eq!(ready.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        assert!(ready.iter().all(|hits| hits.iter().map(Vec::len).sum::<usize>() <= 4096 - ENVELOPE_BYTES));
    }
}
