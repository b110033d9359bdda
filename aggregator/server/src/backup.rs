//! `hitkeep backup` and `hitkeep restore`: a consistent copy of a data directory, taken
//! while `serve` runs and ingests, and brought back into an empty one.
//!
//! The database is copied in one snapshot transaction (see `hitkeep_store::Store::backup_into`):
//! the copy holds every batch committed before the backup began, and of later ones either
//! all hits or none. Beside it go the files the database needs to be read as it was: the key
//! that seals secrets kept in it (second factors, SMTP and OIDC settings) and the visitor
//! hashes' salts of the current days. A manifest, written last, marks the backup complete and
//! says what it holds; `restore` checks the database against it.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use hitkeep_store::{BackupCounts, DB_FILE, Store};
use serde::{Deserialize, Serialize};

use crate::auth::sealing::KEY_FILE;
use crate::salts::SALTS_FILE;

/// The manifest's file name in a backup.
pub const MANIFEST_FILE: &str = "backup.json";
/// The manifest's format.
const FORMAT: u32 = 1;
/// The data directory's files a backup carries beside the database.
const CARRIED: [&str; 2] = [KEY_FILE, SALTS_FILE];

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest's format (1).
    pub format: u32,
    /// The version of Hitkeep that wrote it.
    pub hitkeep: String,
    /// When its snapshot was taken, ms since the epoch.
    pub created_at_ms: i64,
    /// What the database holds, counted in the snapshot.
    #[serde(flatten)]
    pub counts: BackupCounts,
    /// The files of the backup, the database first.
    pub files: Vec<String>,
}

/// Writes a backup of the store (and the files carried beside it from its data directory)
/// into `dir`, which must be absolute and empty or not exist.
pub fn backup(store: &Store, dir: &Path, now_ms: i64) -> anyhow::Result<Manifest> {
    if !dir.is_absolute() {
        bail!("the backup directory {} must be an absolute path", dir.display());
    }
    make_empty_dir(dir)?;
    let data_dir = store.path().parent().context("the database file is in a directory")?;
    let counts = store
        .backup_into(&dir.join(DB_FILE))
        .with_context(|| format!("copying the database into {}", dir.display()))?;
    let mut files = vec![DB_FILE.to_owned()];
    for name in CARRIED {
        if copy_private(&data_dir.join(name), &dir.join(name))? {
            files.push(name.to_owned());
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        hitkeep: env!("CARGO_PKG_VERSION").to_owned(),
        created_at_ms: now_ms,
        counts,
        files,
    };
    // Written last, under a temporary name first: its presence marks a complete backup.
    let staged = dir.join(format!(".{MANIFEST_FILE}.tmp"));
    std::fs::write(&staged, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("writing {}", staged.display()))?;
    std::fs::rename(&staged, dir.join(MANIFEST_FILE))?;
    Ok(manifest)
}

/// Brings the backup in `backup_dir` back into `data_dir`, which must be empty or not exist,
/// and checks that the database opens and holds what the manifest says.
pub fn restore(backup_dir: &Path, data_dir: &Path) -> anyhow::Result<Manifest> {
    let manifest_path = backup_dir.join(MANIFEST_FILE);
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(&manifest_path).with_context(|| {
        format!("{} is not a complete Hitkeep backup (no {MANIFEST_FILE})", backup_dir.display())
    })?)
    .with_context(|| format!("reading {}", manifest_path.display()))?;
    if manifest.format != FORMAT {
        bail!(
            "{} has backup format {}; this Hitkeep reads format {FORMAT}",
            manifest_path.display(),
            manifest.format
        );
    }
    if manifest.files.first().map(String::as_str) != Some(DB_FILE)
        || manifest.files.iter().any(|name| name != DB_FILE && !CARRIED.contains(&name.as_str()))
    {
        bail!("{} lists files a backup does not have", manifest_path.display());
    }
    make_empty_dir(data_dir)?;
    let restored = (|| -> anyhow::Result<()> {
        for name in &manifest.files {
            if !copy_private(&backup_dir.join(name), &data_dir.join(name))? {
                bail!("{} is missing from the backup", backup_dir.join(name).display());
            }
        }
        let store = Store::open_dir(data_dir).context("opening the restored database")?;
        let counts = store.counts()?;
        if counts.events != manifest.counts.events || counts.batches != manifest.counts.batches {
            bail!(
                "the restored database holds {} events and {} batches; the backup's manifest says {} and {}",
                counts.events,
                counts.batches,
                manifest.counts.events,
                manifest.counts.batches
            );
        }
        Ok(())
    })();
    if let Err(error) = restored {
        // Leave the directory as it was found: empty.
        if let Ok(entries) = std::fs::read_dir(data_dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        return Err(error);
    }
    Ok(manifest)
}

/// Creates `dir` (mode 0700) or checks that it is an empty directory.
fn make_empty_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{} is not empty", dir.display());
            }
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display())),
        Err(error) => Err(error).with_context(|| format!("reading {}", dir.display())),
    }
}

/// Copies `from` to the new file `to`, readable by its owner only; false when `from` does
/// not exist.
fn copy_private(from: &Path, to: &Path) -> anyhow::Result<bool> {
    let mut source = match std::fs::File::open(from) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error).with_context(|| format!("reading {}", from.display())),
    };
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .with_context(|| format!("creating {}", to.display()))?;
    std::io::copy(&mut source, &mut target).with_context(|| format!("copying {}", from.display()))?;
    target.sync_all()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_goes_into_an_empty_directory_and_comes_back_whole() {
        let data = tempfile::tempdir().unwrap();
        let store = Store::open_dir(data.path()).unwrap();
        store.add_site("a.example", "UTC").unwrap();
        std::fs::write(data.path().join(KEY_FILE), b"0123456789abcdef0123456789abcdef").unwrap();
        let target = tempfile::tempdir().unwrap();
        let dir = target.path().join("nightly");

        let manifest = backup(&store, &dir, 1_767_225_600_000).unwrap();
        assert_eq!(manifest.files, [DB_FILE, KEY_FILE]);
        assert_eq!(manifest.counts.events, 0);
        // Not into a directory that holds something, nor a relative one.
        assert!(backup(&store, &dir, 0).unwrap_err().to_string().contains("is not empty"));
        assert!(backup(&store, Path::new("relative"), 0).unwrap_err().to_string().contains("absolute"));

        let restored = tempfile::tempdir().unwrap();
        let again = restore(&dir, restored.path()).unwrap();
        assert_eq!(again, manifest);
        let key = restored.path().join(KEY_FILE);
        assert_eq!(std::fs::read(&key).unwrap(), b"0123456789abcdef0123456789abcdef");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let reopened = Store::open_dir(restored.path()).unwrap();
        assert_eq!(reopened.sites().unwrap()[0].domain, "a.example");
        // Never over a data directory in use.
        assert!(restore(&dir, restored.path()).unwrap_err().to_string().contains("is not empty"));
        // A backup cut short (no manifest) is refused.
        std::fs::remove_file(dir.join(MANIFEST_FILE)).unwrap();
        let empty = tempfile::tempdir().unwrap();
        assert!(
            restore(&dir, empty.path()).unwrap_err().to_string().contains("not a complete Hitkeep backup")
        );
        assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
    }
}
