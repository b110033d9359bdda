//! `hitkeep backup DIR`: asks whoever holds the database (the running `serve`, or this
//! process) to write a backup into DIR.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::backup::Manifest;
use crate::control::ControlClient;
use crate::state::format_utc;

/// Runs `hitkeep backup`.
pub async fn run(client: &ControlClient, dir: PathBuf) -> anyhow::Result<String> {
    // The server resolves paths from its own working directory, not ours.
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir().context("reading the working directory")?.join(dir)
    };
    let started = Instant::now();
    let body = serde_json::json!({ "dir": dir });
    let manifest: Manifest = client.call(hyper::Method::POST, "/control/backup", Some(body)).await?;
    Ok(format!(
        "backed up {} events ({} batches, as of {}) into {} in {:.1} s\n",
        manifest.counts.events,
        manifest.counts.batches,
        format_utc(manifest.created_at_ms),
        dir.display(),
        started.elapsed().as_secs_f64()
    ))
}
