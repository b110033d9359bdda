//! The host dies with batches in its spool; the next start replays them with their ids.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_host_replays_its_spool() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::connect(&broker.client_url()).await?;
    aggregator.serve_config(config_json()).await?;
    let dir = tempfile::tempdir()?;
    let host =
        TestHost::start(test_config("edge-crash", dir.path(), &broker.client_url(), collector())).await?;
    host.wait_ready().await?;

    let sent: BTreeSet<String> = (0..50).map(|n| format!("/crash/{n}")).collect();
    for path in &sent {
        assert_eq!(host.post_event(&pageview(path), &[]).await?.status, 202);
    }
    // No one acks: everything ends up in the spool.
    eventually(Duration::from_secs(10), "all hits spooled", || {
        spooled_batches(dir.path()).iter().map(|(_, b)| b.hits.len()).sum::<usize>() == sent.len()
    })
    .await?;
    let spooled_ids: BTreeSet<String> = spooled_batches(dir.path()).into_iter().map(|(_, b)| b.id).collect();
    host.crash().await;

    aggregator.serve_ingest().await?;
    let host =
        TestHost::start(test_config("edge-crash", dir.path(), &broker.client_url(), collector())).await?;
    let hits = aggregator.wait_for_hits(sent.len(), Duration::from_secs(20)).await?;
    let received: BTreeSet<String> = hits.iter().map(|h| h.path.clone()).collect();
    assert_eq!(received, sent);
    let received_ids: BTreeSet<String> = aggregator.batches().into_iter().map(|b| b.id).collect();
    assert_eq!(received_ids, spooled_ids, "replayed with their original ids");
    eventually(Duration::from_secs(5), "an empty spool", || spooled_batches(dir.path()).is_empty()).await?;

    // New batches of the new process never reuse an old id.
    assert_eq!(host.post_event(&pageview("/after-restart"), &[]).await?.status, 202);
    let hits = aggregator.wait_for_hits(sent.len() + 1, Duration::from_secs(10)).await?;
    assert_eq!(hits.len(), sent.len() + 1);

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

/// A spool left by a version that wrote JSON envelopes (version 1) is replayed unchanged by
/// one that writes binary envelopes (version 2): aggregators read both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_of_json_batches_from_an_older_version_replays() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::connect(&broker.client_url()).await?;
    aggregator.serve_config(config_json()).await?;
    let dir = tempfile::tempdir()?;
    let old =
        hitkeep_protocol::Batch::new("edge-old-lz3k1a-7", "edge-old", vec![hit("/old/0"), hit("/old/1")]);
    std::fs::create_dir_all(dir.path().join("spool"))?;
    let old_file = dir.path().join("spool").join("1700000000000-000000000007_edge-old-lz3k1a-7.batch");
    std::fs::write(&old_file, old.encode())?;

    let host =
        TestHost::start(test_config("edge-upgraded", dir.path(), &broker.client_url(), collector())).await?;
    host.wait_ready().await?;
    assert_eq!(host.post_event(&pageview("/new"), &[]).await?.status, 202);
    eventually(Duration::from_secs(10), "both batches in the spool", || {
        spooled_batches(dir.path()).len() == 2
    })
    .await?;
    let raw: Vec<Vec<u8>> =
        spooled_batches(dir.path()).iter().map(|(path, _)| std::fs::read(path).unwrap()).collect();
    assert_eq!(raw[0].first(), Some(&b'{'), "the old batch stays JSON");
    assert!(hitkeep_protocol::binary::is_binary(&raw[1]), "new batches are binary");

    aggregator.serve_ingest().await?;
    let hits = aggregator.wait_for_hits(3, Duration::from_secs(20)).await?;
    let paths: BTreeSet<String> = hits.iter().map(|h| h.path.clone()).collect();
    assert_eq!(paths, BTreeSet::from(["/old/0".into(), "/old/1".into(), "/new".into()]));
    assert!(aggregator.batches().iter().any(|b| b.id == old.id), "replayed under its own id");
    eventually(Duration::from_secs(5), "an empty spool", || spooled_batches(dir.path()).is_empty()).await?;

    host.shutdown(Duration::from_secs(2)).await;
    broker.shutdown().await;
    Ok(())
}

/// The `hitkeep-edge` binary as a child process.
struct EdgeProcess {
    child: Child,
    addr: SocketAddr,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl EdgeProcess {
    fn start(data_dir: &Path, nats_url: &str, extra: &[&str]) -> AnyResult<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hitkeep-edge"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--nats-url",
                nats_url,
                "--edge-name",
                "edge-proc",
                "--batch-ms",
                "100",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--log-level", "hitkeep_edge=trace,info"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut child_stderr = child.stderr.take().expect("piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut child_stderr, &mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = lines.next().ok_or_else(|| anyhow::anyhow!("hitkeep-edge exited before listening"))??;
        let addr = line.rsplit("http://").next().unwrap_or_default().parse()?;
        std::thread::spawn(move || for _ in lines {});
        Ok(Self { child, addr, stderr })
    }

    fn logs(&self) -> Vec<u8> {
        self.stderr.lock().unwrap().clone()
    }

    fn kill_9(mut self) -> AnyResult<Vec<u8>> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(self.logs())
    }

    fn terminate(mut self) -> AnyResult<(std::process::ExitStatus, Vec<u8>)> {
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status()?;
        let status = self.child.wait()?;
        std::thread::sleep(Duration::from_millis(50));
        Ok((status, self.logs()))
    }
}

async fn wait_http_ready(addr: SocketAddr) -> AnyResult {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(reply) = request(addr, "GET", "/readyz", &[], "").await
            && reply.status == 200
        {
            return Ok(());
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "hitkeep-edge did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_survives_kill_9_and_sigterm() -> AnyResult {
    let broker = broker().await?;
    let aggregator = Aggregator::connect(&broker.client_url()).await?;
    aggregator.serve_config(config_json()).await?;
    let dir = tempfile::tempdir()?;
    let ip = "203.0.113.77";
    let agent = format!("{FIREFOX} PrivacyMarker/7.7");

    let edge = EdgeProcess::start(dir.path(), &broker.client_url(), &["--trusted-proxy", "127.0.0.1"])?;
    wait_http_ready(edge.addr).await?;
    let sent: BTreeSet<String> = (0..40).map(|n| format!("/proc/{n}")).collect();
    for path in &sent {
        let headers =
            [("content-type", "application/json"), ("user-agent", agent.as_str()), ("x-forwarded-for", ip)];
        let reply = request(edge.addr, "POST", "/api/event", &headers, pageview(path)).await?;
        assert_eq!(reply.status, 202, "{}", reply.text());
    }
    eventually(Duration::from_secs(10), "all hits spooled", || {
        spooled_batches(dir.path()).iter().map(|(_, b)| b.hits.len()).sum::<usize>() == sent.len()
    })
    .await?;
    let mut logs = edge.kill_9()?;

    // The privacy promise holds on disk and in the logs (trace level).
    let disk = all_file_bytes(dir.path());
    assert!(!disk.is_empty());
    for secret in [ip, "PrivacyMarker", FIREFOX] {
        assert!(!contains(&disk, secret), "{secret:?} found in the data directory");
        assert!(!contains(&logs, secret), "{secret:?} found in the logs");
    }

    aggregator.serve_ingest().await?;
    let edge = EdgeProcess::start(dir.path(), &broker.client_url(), &[])?;
    let hits = aggregator.wait_for_hits(sent.len(), Duration::from_secs(60)).await?;
    let received: BTreeSet<String> = hits.iter().map(|h| h.path.clone()).collect();
    assert_eq!(received, sent);
    wait_http_ready(edge.addr).await?;

    // SIGTERM: the open batch is flushed and published before exit.
    let reply =
        request(edge.addr, "POST", "/api/event", &[("user-agent", FIREFOX)], pageview("/last-words")).await?;
    assert_eq!(reply.status, 202);
    let (status, more_logs) = edge.terminate()?;
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    logs.extend_from_slice(&more_logs);
    assert!(aggregator.hits().iter().any(|h| h.path == "/last-words"), "flushed on shutdown");
    assert!(!contains(&logs, ip) && !contains(&logs, "PrivacyMarker"));

    broker.shutdown().await;
    Ok(())
}
