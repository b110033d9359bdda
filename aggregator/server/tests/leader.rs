//! The leadership lease against Debian's `nats-server` with JetStream: one leader among
//! three, never two; a released lease is taken over at once, a dead leader's after its time
//! to live; a leader cut off from NATS stops leading before its lease can expire, and a
//! leader comes back with the server. And the cluster's claims on e-mails, which keep a
//! report from going out twice across a failover.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hitkeep_server::leader::{Leadership, LeaseSettings, current_leader, start_lease};
use tokio_util::sync::CancellationToken;

const TTL: Duration = Duration::from_secs(2);

struct NatsServer {
    child: Child,
}

impl NatsServer {
    fn start(port: u16, store: &std::path::Path) -> Self {
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is not installed: apt-get install nats-server (scripts/test.sh does)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Node {
    leadership: Leadership,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn node(url: &str, name: &str) -> Node {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(1))
        .request_timeout(Some(Duration::from_millis(400)))
        .connect(url)
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let settings = LeaseSettings { node: name.into(), ttl: TTL, replicas: 1 };
    let (leadership, task) = start_lease(client, settings, cancel.clone()).await.unwrap();
    Node { leadership, cancel, task }
}

/// The nodes that lead now.
fn leaders(nodes: &[Option<Node>]) -> Vec<usize> {
    nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.as_ref().is_some_and(|n| n.leadership.is_leader()))
        .map(|(i, _)| i)
        .collect()
}

/// Samples every 20 ms until `done` holds (or panics after `within`), asserting that no two
/// nodes ever lead at once; how long it took.
async fn watch_until(nodes: &[Option<Node>], within: Duration, done: impl Fn(&[usize]) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let now = leaders(nodes);
        assert!(now.len() <= 1, "two leaders at once: {now:?}");
        if done(&now) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "not within {within:?}: leaders {now:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time_and_a_new_one_when_it_goes() {
    let store = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = NatsServer::start(port, store.path());
    let url = format!("nats://127.0.0.1:{port}");
    let mut nodes =
        vec![Some(node(&url, "a").await), Some(node(&url, "b").await), Some(node(&url, "c").await)];

    watch_until(&nodes, Duration::from_secs(5), |now| now.len() == 1).await;
    // Stable: the same leader for two lease times.
    let first = leaders(&nodes)[0];
    let stable = Instant::now();
    while stable.elapsed() < TTL * 2 {
        assert_eq!(leaders(&nodes), [first]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = async_nats::connect(&url).await.unwrap();
    let name = ["a", "b", "c"][first];
    assert_eq!(current_leader(client.clone()).await.unwrap().as_deref(), Some(name));

    // A leader that shuts down hands over within an attempt interval.
    let leaving = nodes[first].take().unwrap();
    leaving.cancel.cancel();
    leaving.task.await.unwrap();
    let took = watch_until(&nodes, Duration::from_secs(3), |now| now.len() == 1).await;
    assert!(took < TTL, "a released lease is taken at once, took {took:?}");
    let second = leaders(&nodes)[0];

    // A leader that dies (no release): another leads once the lease has expired.
    let dead = nodes[second].take().unwrap();
    dead.task.abort();
    drop(dead);
    let took = watch_until(&nodes, TTL * 3, |now| now.len() == 1).await;
    assert!(took >= TTL / 2, "nobody may lead while the dead leader's lease lives, took {took:?}");

    // Cut off: the server goes; the leader stops within half a lease time and a bit.
    let cut = Instant::now();
    server.kill();
    watch_until(&nodes, TTL, |now| now.is_empty()).await;
    assert!(cut.elapsed() < TTL, "stopped leading after {:?}", cut.elapsed());
    // The server is back (same store): a leader again.
    let _server = NatsServer::start(port, store.path());
    watch_until(&nodes, TTL * 5, |now| now.len() == 1).await;
    for node in nodes.into_iter().flatten() {
        node.cancel.cancel();
        let _ = node.task.await;
    }
}

/// Two leaders in turn (a failover) claim the same e-mail: only the first may send it; a
/// different message is free; the keys hold no address.
#[tokio::test(flavor = "multi_thread")]
async fn an_email_claimed_by_one_leader_is_not_sent_by_the_next() {
    let store = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = NatsServer::start(port, store.path());
    let url = format!("nats://127.0.0.1:{port}");
    let connect = || async_nats::ConnectOptions::new().retry_on_initial_connect().connect(url.clone());
    let first = hitkeep_server::cluster::MailClaims::open(
        &async_nats::jetstream::new(connect().await.unwrap()),
        1,
        "a",
    )
    .await
    .unwrap();
    let second = hitkeep_server::cluster::MailClaims::open(
        &async_nats::jetstream::new(connect().await.unwrap()),
        1,
        "b",
    )
    .await
    .unwrap();
    let report = "report|shop.example|ops@example.com|Daily|1767225600000";
    assert!(first.claim(report).await.unwrap());
    assert!(!second.claim(report).await.unwrap(), "sent before the failover");
    assert!(!first.claim(report).await.unwrap());
    assert!(second.claim("report|shop.example|ops@example.com|Daily|1767312000000").await.unwrap());
    // What NATS holds: digests and node names, no address.
    let client = connect().await.unwrap();
    let bucket =
        async_nats::jetstream::new(client).get_key_value(hitkeep_server::cluster::MAIL_BUCKET).await.unwrap();
    let mut keys = bucket.keys().await.unwrap();
    let mut count = 0;
    while let Some(key) = futures_util::StreamExt::next(&mut keys).await {
        let key = key.unwrap();
        assert!(key.len() == 64 && !key.contains('@'), "{key}");
        count += 1;
    }
    assert_eq!(count, 2);
}
