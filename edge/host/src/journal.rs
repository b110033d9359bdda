//! The journal: what makes a `202` mean stored. Hits wait in the batcher for up to
//! `max_age` (500 ms) before their batch is cut and spooled; the journal writes them to disk
//! as they arrive, and the answer to the browser waits for that write.
//!
//! Each open batch has a segment, `{boot_ms:013}-{seq:012}.journal`, named like the spool
//! file its batch will become. Appends go to memory, and one writer task writes whatever
//! arrived since its last round and `fdatasync`s it: a group commit, one sync for every hit
//! of the last few milliseconds, however many requests they came in. A request's answer waits
//! until the writer reports the position of its hits as durable. Once a batch is in the spool
//! (fsynced there), its segment is deleted.
//!
//! At start, a segment whose batch is in the spool is deleted; any other is a batch the
//! process died before spooling: its hits are read back (up to the first record the crash
//! cut short, which no answer waited on) and spooled as the batch it would have been, with
//! the same id, so that the aggregator's batch dedupe still applies if it had been sent.
//!
//! A record is `length (u32, little-endian) || one encoded hit`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::metrics as m;

const SUFFIX: &str = ".journal";
/// How long an answer waits for its hits to be written before it gives up (503).
pub(crate) const DURABLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A segment's `(boot_ms, seq)`, from its name.
fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (boot, seq) = stem.split_once('-')?;
    if boot.is_empty() || seq.is_empty() || !boot.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((boot.parse().ok()?, seq.parse().ok()?))
}

fn file_name(boot_ms: u64, seq: u64) -> String {
    format!("{boot_ms:013}-{seq:012}{SUFFIX}")
}

#[derive(Debug, Default)]
struct State {
    /// Bytes appended and not yet written, per segment, in order.
    pending: Vec<(u64, Vec<u8>)>,
    /// Appends so far (a position: an answer waits until the durable one reaches it).
    appended: u64,
    /// Open segments.
    files: HashMap<u64, Arc<File>>,
    /// Segments created since the directory was last synced.
    new_files: bool,
}

/// The journal of the open batches.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    boot_ms: u64,
    state: Mutex<State>,
    wake: Notify,
    durable: watch::Sender<u64>,
    closing: AtomicBool,
}

/// Where an append's hits stand: wait on it for them to be on disk.
#[derive(Debug)]
pub(crate) struct Durable {
    position: u64,
    durable: watch::Receiver<u64>,
}

impl Durable {
    /// Waits until the hits are on disk; false when that did not happen within
    /// [`DURABLE_TIMEOUT`].
    pub(crate) async fn wait(mut self) -> bool {
        let position = self.position;
        matches!(
            tokio::time::timeout(DURABLE_TIMEOUT, self.durable.wait_for(|durable| *durable >= position))
                .await,
            Ok(Ok(_))
        )
    }
}

impl Journal {
    /// Opens (creating) the journal directory for a process whose batch ids use `boot_ms`.
    pub(crate) fn open(dir: &Path, boot_ms: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            boot_ms,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            durable: watch::Sender::new(0),
            closing: AtomicBool::new(false),
        })
    }

    /// Appends the hits of batch `seq` (called under the batcher's lock, so appends are in
    /// the order the batcher takes the hits).
    pub(crate) fn append(&self, seq: u64, hits: &[Vec<u8>]) -> io::Result<Durable> {
        let mut bytes = Vec::with_capacity(hits.iter().map(|h| h.len() + 4).sum());
        for hit in hits {
            bytes.extend_from_slice(&(hit.len() as u32).to_le_bytes());
            bytes.extend_from_slice(hit);
        }
        let mut state = self.state.lock().expect("journal lock");
        if let std::collections::hash_map::Entry::Vacant(slot) = state.files.entry(seq) {
            let path = self.dir.join(file_name(self.boot_ms, seq));
            slot.insert(Arc::new(OpenOptions::new().append(true).create_new(true).open(path)?));
            state.new_files = true;
        }
        state.pending.push((seq, bytes));
        state.appended += 1;
        let position = state.appended;
        drop(state);
        self.wake.notify_one();
        Ok(Durable { position, durable: self.durable.subscribe() })
    }

    /// Batch `seq` is in the spool: its segment goes.
    pub(crate) fn retire(&self, seq: u64) {
        let removed = self.state.lock().expect("journal lock").files.remove(&seq);
        if removed.is_some()
            && let Err(error) = fs::remove_file(self.dir.join(file_name(self.boot_ms, seq)))
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(%error, seq, "could not delete a spooled batch's journal segment");
        }
    }

    /// Makes [`Journal::run`] return once everything appended is written.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Writes and syncs what is appended, round after round, until [`Journal::close`].
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            let round = {
                let mut state = self.state.lock().expect("journal lock");
                let pending = std::mem::take(&mut state.pending);
                let files: Vec<(Option<Arc<File>>, Vec<u8>)> =
                    pending.into_iter().map(|(seq, bytes)| (state.files.get(&seq).cloned(), bytes)).collect();
                let new_files = std::mem::take(&mut state.new_files);
                (files, new_files, state.appended)
            };
            let (writes, new_files, position) = round;
            if !writes.is_empty() {
                let dir = self.dir.clone();
                let started = std::time::Instant::now();
                let written = tokio::task::spawn_blocking(move || write_round(&dir, writes, new_files)).await;
                match written {
                    Ok(Ok(())) => {
                        metrics::histogram!(m::JOURNAL_SYNC_SECONDS).record(started.elapsed().as_secs_f64());
                        self.durable.send_replace(position);
                    }
                    Ok(Err(error)) => {
                        metrics::counter!(m::SPOOL_ERRORS).increment(1);
                        tracing::error!(%error, "could not write the journal; answers wait (and fail after 10 s)");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(error) => tracing::error!(%error, "the journal writer failed"),
                }
                continue;
            }
            if self.closing.load(Ordering::SeqCst) {
                return;
            }
            self.wake.notified().await;
        }
    }
}

/// Writes one round: each segment's bytes, one `fdatasync` per segment touched, and the
/// directory when a segment was created.
fn write_round(dir: &Path, writes: Vec<(Option<Arc<File>>, Vec<u8>)>, new_files: bool) -> io::Result<()> {
    let mut touched: Vec<Arc<File>> = Vec::new();
    for (file, bytes) in writes {
        // A segment retired meanwhile: its batch is in the spool already.
        let Some(file) = file else { continue };
        (&*file).write_all(&bytes)?;
        if !touched.iter().any(|t| Arc::ptr_eq(t, &file)) {
            touched.push(file);
        }
    }
    for file in touched {
        file.sync_data()?;
    }
    if new_files {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A batch the journal held that never reached the spool.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unspooled {
    /// Its boot time and sequence number (its id and spool name follow).
    pub boot_ms: u64,
    /// See `boot_ms`.
    pub seq: u64,
    /// Its hits, encoded.
    pub hits: Vec<Vec<u8>>,
}

/// Reads the journal left by earlier runs: segments whose batch is in the spool
/// (`spooled(boot_ms, seq)`) are deleted; the others are returned, oldest first, to be
/// spooled and then [`remove_recovered`].
pub(crate) fn recover(dir: &Path, spooled: impl Fn(u64, u64) -> bool) -> io::Result<Vec<Unspooled>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some((boot_ms, seq)) = name.to_str().and_then(parse_name) else { continue };
        if spooled(boot_ms, seq) {
            fs::remove_file(entry.path())?;
            continue;
        }
        let mut bytes = Vec::new();
        File::open(entry.path())?.read_to_end(&mut bytes)?;
        let mut hits = Vec::new();
        let mut rest = bytes.as_slice();
        while rest.len() >= 4 {
            let len = u32::from_le_bytes(rest[..4].try_into().expect("four bytes")) as usize;
            if rest.len() < 4 + len {
                break;
            }
            hits.push(rest[4..4 + len].to_vec());
            rest = &rest[4 + len..];
        }
        if hits.is_empty() {
            fs::remove_file(entry.path())?;
            continue;
        }
        found.push(Unspooled { boot_ms, seq, hits });
    }
    found.sort_by_key(|u| (u.boot_ms, u.seq));
    Ok(found)
}

/// Deletes a recovered segment once its batch is spooled.
pub(crate) fn remove_recovered(dir: &Path, boot_ms: u64, seq: u64) -> io::Result<()> {
    match fs::remove_file(dir.join(file_name(boot_ms, seq))) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_are_durable_once_written_and_recovered_unless_spooled() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Journal::open(dir.path(), 42).unwrap());
        let writer = tokio::spawn(journal.clone().run());
        let first = journal.append(1, &[b"one".to_vec(), b"two".to_vec()]).unwrap();
        let second = journal.append(2, &[b"three".to_vec()]).unwrap();
        assert!(first.wait().await && second.wait().await);
        // Batch 1 was spooled; batch 2 was not when the process "died".
        journal.retire(1);
        let found = recover(dir.path(), |_, _| false).unwrap();
        assert_eq!(found, [Unspooled { boot_ms: 42, seq: 2, hits: vec![b"three".to_vec()] }]);
        // A torn last record is dropped; what came before it is kept.
        let path = dir.path().join(file_name(42, 2));
        OpenOptions::new().append(true).open(&path).unwrap().write_all(&[9, 0, 0, 0, b'x']).unwrap();
        assert_eq!(recover(dir.path(), |_, _| false).unwrap()[0].hits, [b"three".to_vec()]);
        // A segment whose batch is in the spool is deleted.
        assert!(recover(dir.path(), |boot, seq| (boot, seq) == (42, 2)).unwrap().is_empty());
        assert!(!path.exists());
        journal.close();
        writer.await.unwrap();
        assert_eq!(parse_name(&file_name(1_700_000_000_000, 7)), Some((1_700_000_000_000, 7)));
        assert_eq!(parse_name("junk.journal"), None);
    }
}
