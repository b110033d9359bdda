//! The daily salts of the cookieless visitor hash.
//!
//! `visitor = keyed_hash(salt of the day, site, ip, user_agent)`: a new random salt every UTC
//! day makes yesterday's hashes unlinkable to today's. Edges get today's and yesterday's salt
//! (to continue visits across midnight) from the aggregator, which keeps them in
//! `salts.json` in the data directory, mode 0600, rewritten whole on every rotation. A salt is
//! created at the start of its day and deleted at the end of the next, so none is kept for
//! more than 48 hours. They are not in `hitkeep.db` on purpose: DuckDB may keep deleted rows
//! in the file until a row group is rewritten, and a salt must really be gone.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hitkeep_collector_core::Salts;
use serde::{Deserialize, Serialize};

/// The file's name in the data directory.
pub const SALTS_FILE: &str = "salts.json";

const DAY_MS: i64 = 86_400_000;

#[derive(Serialize, Deserialize)]
struct DaySalt {
    /// Days since the Unix epoch (UTC).
    day: i64,
    salt: String,
}

#[derive(Serialize, Deserialize, Default)]
struct SaltFile {
    days: Vec<DaySalt>,
}

/// Keeps the salts file of one data directory.
#[derive(Debug)]
pub struct SaltKeeper {
    path: PathBuf,
}

impl SaltKeeper {
    /// The keeper of `data_dir/salts.json`.
    pub fn new(data_dir: &Path) -> Self {
        Self { path: data_dir.join(SALTS_FILE) }
    }

    /// Today's and yesterday's salts at `now_ms`, creating and deleting salts as the days
    /// require.
    pub fn salts(&self, now_ms: i64) -> anyhow::Result<Salts> {
        let today = now_ms.div_euclid(DAY_MS);
        let file = match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice::<SaltFile>(&bytes).unwrap_or_else(|_| {
                tracing::warn!("salts file unreadable; starting new salts");
                SaltFile::default()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => SaltFile::default(),
            Err(error) => return Err(error.into()),
        };
        let find =
            |day: i64| file.days.iter().find(|entry| entry.day == day).and_then(|entry| decode(&entry.salt));
        let (current, previous) = (find(today), find(today - 1));
        if let (Some(current), Some(previous)) = (current, previous)
            && file.days.len() == 2
        {
            return Ok(Salts { current, previous });
        }
        let current = current.unwrap_or_else(random_salt);
        // On a new install there is no yesterday: a random salt matches no earlier visit,
        // which is the truth.
        let previous = previous.unwrap_or_else(random_salt);
        let rotated = SaltFile {
            days: vec![
                DaySalt { day: today, salt: encode(&current) },
                DaySalt { day: today - 1, salt: encode(&previous) },
            ],
        };
        self.write(&rotated)?;
        tracing::info!("salts rotated");
        Ok(Salts { current, previous })
    }

    fn write(&self, file: &SaltFile) -> anyhow::Result<()> {
        let temporary = self.path.with_extension("json.tmp");
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        out.write_all(&serde_json::to_vec(file)?)?;
        out.sync_all()?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&temporary, &self.path)?;
        Ok(())
    }
}

/// Milliseconds from `now_ms` to the next UTC midnight.
pub fn until_next_day_ms(now_ms: i64) -> i64 {
    DAY_MS - now_ms.rem_euclid(DAY_MS)
}

fn random_salt() -> [u8; 32] {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    salt
}

fn encode(salt: &[u8; 32]) -> String {
    salt.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn decode(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut salt = [0u8; 32];
    for (index, pair) in bytes.chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        salt[index] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    #[test]
    fn salts_are_stable_within_a_day_and_rotate_at_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = SaltKeeper::new(dir.path());
        let morning = keeper.salts(T0 + 1_000).unwrap();
        let evening = keeper.salts(T0 + DAY_MS - 1).unwrap();
        assert_eq!(morning, evening);
        assert_ne!(morning.current, morning.previous);
        let next_day = keeper.salts(T0 + DAY_MS).unwrap();
        assert_eq!(next_day.previous, morning.current, "today's salt becomes yesterday's");
        assert_ne!(next_day.current, morning.current);
        // Two days later nothing of the first day is left in the file.
        let later = keeper.salts(T0 + 2 * DAY_MS).unwrap();
        let text = std::fs::read_to_string(dir.path().join(SALTS_FILE)).unwrap();
        assert!(!text.contains(&encode(&morning.current)));
        assert_eq!(later.previous, next_day.current);
        let mode = std::fs::metadata(dir.path().join(SALTS_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn salts_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = SaltKeeper::new(dir.path()).salts(T0).unwrap();
        let again = SaltKeeper::new(dir.path()).salts(T0 + 5_000).unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn midnight_is_computed_in_utc() {
        assert_eq!(until_next_day_ms(T0), DAY_MS);
        assert_eq!(until_next_day_ms(T0 + 1), DAY_MS - 1);
    }
}
