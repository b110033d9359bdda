//! Batches over NATS into the real process: exactly once, bad input, `kill -9`, external NATS.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;

use futures_util::StreamExt;
use hitkeep_protocol::{AckStatus, Batch};

use crate::harness::*;

const SITE: &str = "e2e.example";

fn add_site(data_dir: &std::path::Path) {
    let out = run_cli(&["site", "--data-dir", data_dir.to_str().unwrap(), "add", SITE]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn batches_are_stored_once_and_duplicates_are_acked() {
    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let mut server = Server::start(dir.path(), &[]);
    let batches = traffic_batches(SITE, 7, 20_000, 400, "edge-e2e");
    runtime().block_on(async {
        let client = nats(&server.nats_url).await;
        for batch in &batches {
            let ack = send_batch(&client, batch).await.unwrap();
            assert_eq!(ack.status, AckStatus::Stored, "{ack:?}");
            assert_eq!(ack.id, batch.id);
            assert_eq!(ack.stored as usize, batch.hits.len());
        }
        // An edge that lost its acks resends: nothing is written twice, whichever envelope
        // the copy comes in (an edge from before the binary envelope sends JSON).
        for (index, batch) in batches[..10].iter().enumerate() {
            let ack = if index % 2 == 0 {
                send_batch(&client, batch).await.unwrap()
            } else {
                send_raw(&client, &batch.id, batch.encode()).await.unwrap()
            };
            assert_eq!(ack.status, AckStatus::Duplicate);
            assert_eq!(ack.stored, 0);
        }
    });
    let (_, metrics) = http_get(server.http, "/metrics");
    assert!(metrics.contains("hitkeep_ingest_hits_total"), "{metrics}");
    server.stop();
    let counts = open_store(dir.path()).counts().unwrap();
    assert_eq!(counts.events, hits_in(&batches));
    assert_eq!(counts.batches, batches.len() as u64);
    assert_eq!(counts.dead_letters, 0);
}

#[test]
fn bad_input_is_answered_and_never_blocks_good_batches() {
    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let mut server = Server::start(dir.path(), &[]);
    let good = traffic_batches(SITE, 11, 1_000, 500, "edge-bad");
    runtime().block_on(async {
        let client = nats(&server.nats_url).await;

        let ack = send_raw(&client, "x", b"{not json".to_vec()).await.unwrap();
        assert_eq!((ack.status, ack.error.as_deref()), (AckStatus::Rejected, Some("malformed")));

        let future = br#"{"v":2,"id":"from-the-future","edge":"e","columns":{}}"#.to_vec();
        let ack = send_raw(&client, "from-the-future", future.clone()).await.unwrap();
        assert_eq!((ack.status, ack.error.as_deref()), (AckStatus::Rejected, Some("unsupported_version")));
        assert_eq!(ack.id, "from-the-future");
        // Resent: remembered, not dead-lettered twice.
        let ack = send_raw(&client, "from-the-future", future).await.unwrap();
        assert_eq!(ack.status, AckStatus::Duplicate);

        let bad_id = br#"{"v":1,"id":"has spaces","edge":"e","hits":[]}"#.to_vec();
        let ack = send_raw(&client, "bad", bad_id).await.unwrap();
        assert_eq!(ack.error.as_deref(), Some("invalid_id"));

        // Larger than the broker's max_payload: refused before it reaches the pipeline.
        let huge = vec![b' '; 2 * 1024 * 1024];
        assert!(send_raw(&client, "huge", huge).await.is_err());

        // A batch with some invalid hits keeps its good hits.
        let mut mixed = good[0].clone();
        mixed.id = "mixed-1".into();
        mixed.hits[0].path = "no-leading-slash".into();
        mixed.hits[1].props = (0..40).map(|i| (format!("k{i}"), "v".into())).collect();
        mixed.hits[2].domain = "not-a-site.example".into();
        let ack = send_batch(&client, &mixed).await.unwrap();
        assert_eq!(ack.status, AckStatus::Stored);
        assert_eq!(ack.stored as usize, mixed.hits.len() - 3);
        assert_eq!(ack.dropped, 3);

        for batch in &good {
            assert_eq!(send_batch(&client, batch).await.unwrap().status, AckStatus::Stored);
        }
    });
    let (status, _) = http_get(server.http, "/readyz");
    assert_eq!(status, 200);
    server.stop();
    let counts = open_store(dir.path()).counts().unwrap();
    assert_eq!(counts.events, hits_in(&good) + 500 - 3);
    // malformed, future version, invalid id, and the two invalid hits.
    assert_eq!(counts.dead_letters, 5);
}

#[test]
fn kill_9_mid_stream_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let batches = Arc::new(traffic_batches(SITE, 23, 200_000, 500, "edge-crash"));
    let total = hits_in(&batches);
    let mut server = Server::start(dir.path(), &[]);
    let rt = runtime();

    // Eight requests in flight; the server is killed once a third of the batches are acked.
    let acked: HashSet<String> = rt.block_on(async {
        let client = nats(&server.nats_url).await;
        let kill_after = batches.len() / 3;
        let mut acked = HashSet::new();
        let mut stream = futures_util::stream::iter(batches.iter().cloned())
            .map(|batch| {
                let client = client.clone();
                async move { (batch.id.clone(), send_batch(&client, &batch).await) }
            })
            .buffer_unordered(8);
        while let Some((id, result)) = stream.next().await {
            if let Ok(ack) = result {
                assert_eq!(ack.status, AckStatus::Stored);
                acked.insert(id);
            }
            if acked.len() == kill_after {
                server.kill9();
            }
            if acked.len() >= kill_after {
                // Whatever is still in flight dies with the process.
                break;
            }
        }
        acked
    });
    assert!(acked.len() >= batches.len() / 3);

    // Every acked batch must already be durable: restart and check before resending.
    let mut server = Server::start(dir.path(), &[]);
    server.stop();
    {
        let store = open_store(dir.path());
        let known = store.known_batches().unwrap();
        let missing: Vec<&String> = acked.iter().filter(|id| !known.contains(id).unwrap()).collect();
        assert!(missing.is_empty(), "acked batches missing after kill -9: {missing:?}");
        let acked_hits: u64 =
            batches.iter().filter(|b| acked.contains(&b.id)).map(|b| b.hits.len() as u64).sum();
        assert!(store.counts().unwrap().events >= acked_hits);
    }

    // The edge resends everything it holds no ack for (and, to be sure, the acked ones too).
    let mut server = Server::start(dir.path(), &[]);
    rt.block_on(async {
        let client = nats(&server.nats_url).await;
        for batch in batches.iter() {
            let ack = send_batch(&client, batch).await.unwrap();
            if acked.contains(&batch.id) {
                assert_eq!(ack.status, AckStatus::Duplicate, "acked batch {} was not remembered", batch.id);
            }
        }
    });
    server.stop();
    let counts = open_store(dir.path()).counts().unwrap();
    assert_eq!(counts.events, total, "every hit exactly once");
    assert_eq!(counts.batches, batches.len() as u64);
}

#[test]
fn works_against_an_external_nats_server() {
    let Ok(nats_server) = which("nats-server") else {
        panic!("nats-server is not installed: apt-get install nats-server (scripts/test.sh does)");
    };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut nats_child = Command::new(nats_server)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("nats://127.0.0.1:{port}");
    let rt = runtime();
    rt.block_on(async {
        for _ in 0..100 {
            if async_nats::connect(&url).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("nats-server did not start");
    });

    let dir = tempfile::tempdir().unwrap();
    add_site(dir.path());
    let mut server = Server::start(dir.path(), &["--nats-url", &url]);
    let batches: Vec<Batch> = traffic_batches(SITE, 5, 5_000, 500, "edge-ext");
    rt.block_on(async {
        let client = nats(&url).await;
        for batch in &batches {
            assert_eq!(send_batch(&client, batch).await.unwrap().status, AckStatus::Stored);
        }
    });
    server.stop();
    let _ = nats_child.kill();
    let _ = nats_child.wait();
    assert_eq!(open_store(dir.path()).counts().unwrap().events, hits_in(&batches));
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|path| path.is_file())
        })
        .ok_or(())
}
