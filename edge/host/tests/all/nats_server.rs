//! Against a real `nats-server` (Debian's package) instead of the embedded broker.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

struct NatsServer {
    child: Child,
    url: String,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn nats_server() -> AnyResult<NatsServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| {
            anyhow::anyhow!("cannot run `nats-server` ({error}): install it (`apt-get install -y nats-server`) to run this test")
        })?;
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "nats-server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(NatsServer { child, url })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_against_nats_server() -> AnyResult {
    let server = nats_server().await?;
    let aggregator = Aggregator::start(&server.url).await?;
    let dir = tempfile::tempdir()?;
    let host = TestHost::start(test_config("edge-natsd", dir.path(), &server.url, collector())).await?;
    host.wait_ready().await?;

    let sent: BTreeSet<String> = (0..100).map(|n| format!("/natsd/{n}")).collect();
    let mut connection = Connection::open(host.addr).await?;
    for path in &sent {
        let reply = connection.send("POST", "/api/event", &[("user-agent", FIREFOX)], pageview(path)).await?;
        assert_eq!(reply.status, 202, "{}", reply.text());
    }
    let hits = aggregator.wait_for_hits(sent.len(), Duration::from_secs(20)).await?;
    let received: BTreeSet<String> = hits.iter().map(|h| h.path.clone()).collect();
    assert_eq!(received, sent);
    assert_eq!(hits.len(), sent.len());
    assert_eq!(aggregator.header_mismatches(), 0);

    host.shutdown(Duration::from_secs(2)).await;
    Ok(())
}
