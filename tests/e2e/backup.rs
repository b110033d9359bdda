//! `hitkeep backup` against a running `serve` that ingests, and `hitkeep restore` into an
//! empty data directory that `serve` then runs on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hitkeep_protocol::AckStatus;

use crate::harness::*;

const SITE: &str = "backup.example";

#[test]
fn a_backup_taken_while_serve_ingests_restores_every_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = run_cli(&["site", "--data-dir", data_dir.to_str().unwrap(), "add", SITE]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut server = Server::start(&data_dir, &[]);
    let batches = Arc::new(traffic_batches(SITE, 3, 60_000, 300, "edge-backup"));
    let acked = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sender = {
        let (batches, acked, url) = (batches.clone(), acked.clone(), server.nats_url.clone());
        runtime.spawn(async move {
            let client = nats(&url).await;
            for batch in batches.iter() {
                let ack = send_batch(&client, batch).await.unwrap();
                assert_eq!(ack.status, AckStatus::Stored, "{ack:?}");
                acked.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Relative to the command's working directory, through the running server's socket.
    let before = acked.load(Ordering::SeqCst);
    let out = std::process::Command::new(hitkeep_bin())
        .args(["backup", "--data-dir", data_dir.to_str().unwrap(), "nightly"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("backed up "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    runtime.block_on(sender).unwrap();
    server.stop();

    // Restored into a directory that does not exist yet; never over one in use.
    let backup = dir.path().join("nightly");
    let restored = dir.path().join("restored");
    let out = run_cli(&["restore", "--data-dir", restored.to_str().unwrap(), backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_cli(&["restore", "--data-dir", data_dir.to_str().unwrap(), backup.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("backup.json")).unwrap()).unwrap();
    let counts = open_store(&restored).counts().unwrap();
    assert_eq!(counts.events, manifest["events"].as_u64().unwrap());
    assert!(counts.batches as usize >= before, "{} batches, {before} acknowledged before", counts.batches);
    let known = open_store(&restored).known_batches().unwrap();
    for batch in &batches[..before] {
        assert!(known.contains(&batch.id).unwrap(), "{} was acknowledged before the backup", batch.id);
    }
    // Each batch in the copy whole: its hits are the events.
    let in_copy: u64 = batches
        .iter()
        .filter(|batch| known.contains(&batch.id).unwrap())
        .map(|batch| batch.hits.len() as u64)
        .sum();
    assert_eq!(counts.events, in_copy);
    drop(known);
    // The restored directory runs.
    let mut again = Server::start(&restored, &[]);
    let (status, _) = http_get(again.http, "/healthz");
    assert_eq!(status, 200);
    again.stop();
}
