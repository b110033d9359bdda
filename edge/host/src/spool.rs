//! The on-disk spool: one file per batch, written durably before the batch is published and
//! deleted only once the aggregator has acknowledged it.
//!
//! A batch is written to `.{name}.tmp`, fsynced, renamed to `{name}` and the directory is
//! fsynced, so after a crash a batch file is either complete or absent (leftover temporary
//! files are deleted on start). `{name}` is `{boot_ms:013}-{seq:012}_{id}.batch`: sorting the
//! names gives the order the batches were cut in, across restarts, and the batch id is
//! known without reading the file. Nothing but the batch (anonymized hits) is ever written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics as m;

const SUFFIX: &str = ".batch";
const TMP_SUFFIX: &str = ".tmp";

/// One spooled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpoolEntry {
    /// The batch id (also the `Nats-Msg-Id`).
    pub id: String,
    /// The file holding the encoded batch.
    pub path: PathBuf,
    /// Its size in bytes.
    pub len: u64,
}

impl SpoolEntry {
    /// Its `(boot_ms, seq)`, from its file name.
    pub(crate) fn order(&self) -> Option<(u64, u64)> {
        let name = self.path.file_name()?.to_str()?;
        let (order, _) = name.split_once('_')?;
        let (boot, seq) = order.split_once('-')?;
        Some((boot.parse().ok()?, seq.parse().ok()?))
    }
}

/// What [`Spool::open`] found on disk.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// Batches left by earlier runs, oldest first.
    pub entries: Vec<SpoolEntry>,
    /// The highest boot time found in file names, so a new boot id never repeats one.
    pub last_boot_ms: Option<u64>,
}

/// The spool directory and its running totals.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    bytes: AtomicU64,
    files: AtomicU64,
}

impl Spool {
    /// Opens (creating) `dir`, deletes unfinished temporary files and lists the batches left
    /// by earlier runs.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> io::Result<(Self, Recovered)> {
        fs::create_dir_all(dir)?;
        let mut entries = Vec::new();
        let mut last_boot_ms = None;
        for dirent in fs::read_dir(dir)? {
            let dirent = dirent?;
            let name = dirent.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(TMP_SUFFIX) {
                fs::remove_file(dirent.path())?;
                continue;
            }
            let Some((boot_ms, id)) = parse_name(name) else {
                if name.ends_with(SUFFIX) {
                    tracing::warn!(file = name, "ignoring a spool file with an unexpected name");
                }
                continue;
            };
            let len = dirent.metadata()?.len();
            last_boot_ms = last_boot_ms.max(Some(boot_ms));
            entries.push((name.to_string(), SpoolEntry { id: id.to_string(), path: dirent.path(), len }));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let entries: Vec<SpoolEntry> = entries.into_iter().map(|(_, entry)| entry).collect();
        let spool = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            bytes: AtomicU64::new(entries.iter().map(|e| e.len).sum()),
            files: AtomicU64::new(entries.len() as u64),
        };
        spool.update_gauges();
        Ok((spool, Recovered { entries, last_boot_ms }))
    }

    /// Writes a batch durably (blocking: call from a blocking thread).
    pub(crate) fn write(&self, boot_ms: u64, seq: u64, id: &str, payload: &[u8]) -> io::Result<SpoolEntry> {
        let name = file_name(boot_ms, seq, id);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}{TMP_SUFFIX}"));
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(payload)?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        })();
        if let Err(error) = written {
            let _ = fs::remove_file(&tmp);
            let _ = fs::remove_file(&path);
            return Err(error);
        }
        let len = payload.len() as u64;
        self.bytes.fetch_add(len, Ordering::Relaxed);
        self.files.fetch_add(1, Ordering::Relaxed);
        self.update_gauges();
        Ok(SpoolEntry { id: id.to_string(), path, len })
    }

    /// Deletes an acknowledged batch. A file already gone is not an error (and not counted
    /// twice).
    pub(crate) fn remove(&self, entry: &SpoolEntry) {
        match fs::remove_file(&entry.path) {
            Ok(()) => self.forget(entry),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::error!(batch = %entry.id, %error, "could not delete an acknowledged batch from the spool");
            }
        }
    }

    /// Takes a batch whose file has disappeared out of the totals.
    pub(crate) fn forget(&self, entry: &SpoolEntry) {
        self.bytes.fetch_sub(entry.len.min(self.bytes.load(Ordering::Relaxed)), Ordering::Relaxed);
        let _ = self.files.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
        self.update_gauges();
    }

    /// Bytes in the spool now.
    pub(crate) fn used_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Files in the spool now.
    pub(crate) fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    /// The configured bound.
    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn update_gauges(&self) {
        metrics::gauge!(m::SPOOL_BYTES).set(self.used_bytes() as f64);
        metrics::gauge!(m::SPOOL_FILES).set(self.files() as f64);
    }
}

fn file_name(boot_ms: u64, seq: u64, id: &str) -> String {
    format!("{boot_ms:013}-{seq:012}_{id}{SUFFIX}")
}

/// `(boot_ms, id)` of a batch file name.
fn parse_name(name: &str) -> Option<(u64, &str)> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (order, id) = stem.split_once('_')?;
    let (boot, seq) = order.split_once('-')?;
    if boot.is_empty() || seq.is_empty() || !boot.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    hitkeep_protocol::is_valid_id(id).then_some(())?;
    Some((boot.parse().ok()?, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_in_cut_order() {
        let a = file_name(1_700_000_000_000, 9, "e-x-9");
        let b = file_name(1_700_000_000_000, 10, "e-x-10");
        let c = file_name(1_700_000_000_001, 1, "e-y-1");
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(parse_name(&b), Some((1_700_000_000_000, "e-x-10")));
        assert_eq!(parse_name("0000000000001-000000000001_a b.batch"), None);
        assert_eq!(parse_name("junk.batch"), None);
        assert_eq!(parse_name(".0000000000001-000000000001_a.batch.tmp"), None);
    }

    #[test]
    fn writes_lists_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, recovered) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(recovered.entries.is_empty());
        let first = spool.write(5, 1, "e-5-1", b"{}").unwrap();
        let second = spool.write(5, 2, "e-5-2", b"{\"x\":1}").unwrap();
        assert_eq!(spool.used_bytes(), 9);
        fs::write(dir.path().join(".junk.tmp"), b"partial").unwrap();
        drop(spool);

        let (spool, recovered) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(recovered.entries, vec![first.clone(), second.clone()]);
        assert_eq!(recovered.last_boot_ms, Some(5));
        assert!(!dir.path().join(".junk.tmp").exists());
        assert_eq!((spool.files(), spool.used_bytes()), (2, 9));
        spool.remove(&first);
        spool.remove(&first);
        assert_eq!((spool.files(), spool.used_bytes()), (1, 7));
    }
}
