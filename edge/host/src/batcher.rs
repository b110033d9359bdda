//! The batcher: gathers hits and cuts a batch when it holds `max_hits` hits, would exceed
//! `max_bytes`, or its first hit is `max_age` old; each batch is spooled, then handed to the
//! publisher. Hits are written to the open batch's journal segment as they arrive
//! (`crate::journal`), so that what was answered `202` survives a crash before the cut.
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
use crate::journal::{Durable, Journal};
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
        Self { edge: edge.to_string(), boot_ms, next_seq: AtomicU64::new(1) }
    }

    /// The next sequence number.
    fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// The id of batch `seq` of this boot.
    fn id(&self, seq: u64) -> String {
        id_of(&self.edge, self.boot_ms, seq)
    }

    /// The next `(seq, id)`.
    #[cfg(test)]
    fn next(&self) -> (u64, String) {
        let seq = self.next_seq();
        (seq, self.id(seq))
    }

    pub(crate) fn boot_ms(&self) -> u64 {
        self.boot_ms
    }
}

/// The id of batch `seq` cut by edge `edge` in the process that started at `boot_ms`.
pub(crate) fn id_of(edge: &str, boot_ms: u64, seq: u64) -> String {
    format!("{edge}-{}-{seq}", base36(boot_ms))
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
    /// The open batch's sequence number.
    open_seq: u64,
    open_bytes: usize,
    opened_at: Option<Instant>,
    cut: VecDeque<CutBatch>,
}

/// A cut batch: its sequence number and its encoded hits.
type CutBatch = (u64, Vec<Vec<u8>>);

impl State {
    fn cut_open(&mut self) {
        let batch = std::mem::take(&mut self.open);
        self.cut.push_back((self.open_seq, batch));
        self.open_bytes = 0;
        self.opened_at = None;
    }
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
    ids: Arc<BatchIds>,
    /// `None`: answers do not wait for the disk (`BatchConfig::journal` off).
    journal: Option<Arc<Journal>>,
}

impl Batcher {
    pub(crate) fn new(config: BatchConfig, ids: BatchIds, journal: Arc<Journal>) -> Self {
        let max_bytes = config.max_bytes.clamp(4 * 1024, MAX_BATCH_BYTES - NATS_HEADER_ROOM);
        Self {
            max_hits: config.max_hits.clamp(1, MAX_BATCH_HITS),
            hit_bytes_budget: max_bytes - ENVELOPE_BYTES,
            max_age: config.max_age,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            held_bytes: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            ids: Arc::new(ids),
            journal: config.journal.then_some(journal),
        }
    }

    /// Bytes of hits held in memory, not yet spooled.
    pub(crate) fn held_bytes(&self) -> u64 {
        self.held_bytes.load(Ordering::Relaxed)
    }

    /// Adds encoded hits, journaling them; wait on the answer for them to be on disk.
    /// `None` for no hits; an error when the journal cannot be written (nothing was added).
    pub(crate) fn push(&self, hits: Vec<Vec<u8>>) -> std::io::Result<Option<Durable>> {
        if hits.is_empty() {
            return Ok(None);
        }
        let added: usize = hits.iter().map(Vec::len).sum();
        let mut wake = false;
        let mut durable = None;
        {
            let mut state = self.state.lock().expect("batcher lock");
            // Where each hit goes: the open batch, or the ones cut while these are added
            // (runs of `(seq, count)`, in order).
            let mut placed: Vec<(u64, usize)> = Vec::new();
            let (mut open, mut bytes, mut seq) = (state.open.len(), state.open_bytes, state.open_seq);
            for hit in &hits {
                let full = open >= self.max_hits || bytes + hit.len() > self.hit_bytes_budget;
                if full && open > 0 {
                    (open, bytes) = (0, 0);
                }
                if open == 0 {
                    seq = self.ids.next_seq();
                }
                match placed.last_mut() {
                    Some((last, count)) if *last == seq => *count += 1,
                    _ => placed.push((seq, 1)),
                }
                open += 1;
                bytes += hit.len();
            }
            // The journal first: what it refuses is not added.
            let mut from = 0;
            if let Some(journal) = &self.journal {
                for (seq, count) in &placed {
                    durable = Some(journal.append(*seq, &hits[from..from + count])?);
                    from += count;
                }
            }
            self.held_bytes.fetch_add(added as u64, Ordering::Relaxed);
            let mut hits = hits.into_iter();
            for (seq, count) in placed {
                if seq != state.open_seq && !state.open.is_empty() {
                    state.cut_open();
                    wake = true;
                }
                if state.open.is_empty() {
                    state.open_seq = seq;
                    state.opened_at = Some(Instant::now());
                    wake = true;
                }
                for hit in hits.by_ref().take(count) {
                    state.open_bytes += hit.len();
                    state.open.push(hit);
                }
            }
            if state.open.len() >= self.max_hits {
                state.cut_open();
                wake = true;
            }
        }
        if wake {
            self.wake.notify_one();
        }
        Ok(durable)
    }

    /// Cuts what is open and makes [`Batcher::run`] return once everything is spooled.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Batches ready now, and when the open one will be due.
    fn take_ready(&self, now: Instant, closing: bool) -> (Vec<CutBatch>, Option<Instant>) {
        let mut state = self.state.lock().expect("batcher lock");
        let due = state.opened_at.map(|opened| opened + self.max_age);
        if !state.open.is_empty() && (closing || due.is_some_and(|due| due <= now)) {
            state.cut_open();
        }
        let ready = state.cut.drain(..).collect();
        (ready, state.opened_at.map(|opened| opened + self.max_age))
    }

    /// Spools cut batches and hands them to the publisher, until [`Batcher::close`] has been
    /// called and nothing is left.
    pub(crate) async fn run(self: Arc<Self>, spool: Arc<Spool>, publisher: Arc<Publisher>) {
        loop {
            let closing = self.closing.load(Ordering::SeqCst);
            let (ready, next_due) = self.take_ready(Instant::now(), closing);
            for (seq, hits) in ready {
                let bytes: u64 = hits.iter().map(|h| h.len() as u64).sum();
                let entry = spool_batch(&self.ids, &spool, seq, hits, closing).await;
                self.held_bytes.fetch_sub(bytes, Ordering::Relaxed);
                if let Some(entry) = entry {
                    // In the spool, durably: the journal's copy is not needed any more.
                    if let Some(journal) = &self.journal {
                        journal.retire(seq);
                    }
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
    seq: u64,
    hits: Vec<Vec<u8>>,
    closing: bool,
) -> Option<crate::spool::SpoolEntry> {
    let id = ids.id(seq);
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

    fn journaled(config: BatchConfig, dir: &std::path::Path) -> Batcher {
        let ids = BatchIds::new("e", None);
        let journal = Arc::new(Journal::open(dir, ids.boot_ms()).unwrap());
        Batcher::new(config, ids, journal)
    }

    #[test]
    fn cuts_by_count_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let batcher = journaled(
            BatchConfig { max_hits: 3, max_bytes: 4096, max_age: Duration::from_secs(60), journal: true },
            dir.path(),
        );
        batcher.push(vec![vec![b'1'; 10]; 7]).unwrap();
        let (ready, due) = batcher.take_ready(Instant::now(), false);
        assert_eq!(
            ready.iter().map(|(seq, hits)| (*seq, hits.len())).collect::<Vec<_>>(),
            vec![(1, 3), (2, 3)]
        );
        assert!(due.is_some());
        let (ready, _) = batcher.take_ready(Instant::now() + Duration::from_secs(61), false);
        assert_eq!(ready.iter().map(|(seq, hits)| (*seq, hits.len())).collect::<Vec<_>>(), vec![(3, 1)]);
        // Each batch's hits are in its own journal segment until it is spooled.
        let segments = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(segments, 3);

        let dir = tempfile::tempdir().unwrap();
        let by_bytes = journaled(
            BatchConfig { max_hits: 1000, max_bytes: 4096, max_age: Duration::from_secs(60), journal: true },
            dir.path(),
        );
        by_bytes.push(vec![vec![b'x'; 1500]; 3]).unwrap();
        by_bytes.push(vec![vec![b'x'; 1500]; 2]).unwrap();
        let (ready, _) = by_bytes.take_ready(Instant::now(), true);
        assert_eq!(
            ready.iter().map(|(seq, hits)| (*seq, hits.len())).collect::<Vec<_>>(),
            vec![(1, 2), (2, 2), (3, 1)]
        );
        assert!(
            ready.iter().all(|(_, hits)| hits.iter().map(Vec::len).sum::<usize>() <= 4096 - ENVELOPE_BYTES)
        );
    }
}
