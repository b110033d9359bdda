//! Three aggregators on a three-node NATS cluster with JetStream (Debian's `nats-server`),
//! and a `hitkeep-edge`: steady load, the leader killed with `kill -9`, a new leader within
//! 10 seconds, the Stats API answering on the survivors throughout, every event the edge
//! answered `202` stored exactly once on every replica (the killed one too, once it is back),
//! a daily report due during the failover sent once, and a fourth aggregator that starts
//! empty and catches up from the stream alone. Then NATS servers killed under load, and a
//! leader cut off from NATS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::edge::{SITE, assert_accepted_stored_once, post_until, stored_pages, wait_until};
use crate::harness::{Edge, Server, Smtp, free_port, http_get, http_request, run_cli};

/// A NATS cluster of three `nats-server` processes with JetStream, on loopback.
struct NatsCluster {
    dir: PathBuf,
    ports: Vec<u16>,
    routes: Vec<u16>,
    servers: Vec<Option<Child>>,
}

impl NatsCluster {
    fn start(dir: &Path) -> Self {
        let mut cluster = Self {
            dir: dir.to_path_buf(),
            ports: (0..3).map(|_| free_port()).collect(),
            routes: (0..3).map(|_| free_port()).collect(),
            servers: (0..3).map(|_| None).collect(),
        };
        for node in 0..3 {
            cluster.start_node(node);
        }
        cluster.wait_for_jetstream();
        cluster
    }

    fn start_node(&mut self, node: usize) {
        let routes: Vec<String> = self.routes.iter().map(|port| format!("nats://127.0.0.1:{port}")).collect();
        let store = self.dir.join(format!("nats-{node}"));
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.ports[node].to_string()])
            .args(["-n", &format!("nats-{node}"), "--cluster_name", "hitkeep-test"])
            // Clients know the servers they are given, and only those: a node can be cut off.
            .arg("--no_advertise")
            .args(["--cluster", &format!("nats://127.0.0.1:{}", self.routes[node])])
            .args(["--routes", &routes.join(",")])
            .arg("-sd")
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join(format!("nats-{node}.log"))).unwrap())
            .spawn()
            .expect("nats-server is not installed: apt-get install nats-server (scripts/test.sh does)");
        self.servers[node] = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.ports[node])).is_err() {
            assert!(Instant::now() < deadline, "nats-server {node} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the cluster's JetStream has a meta leader (it answers account requests).
    fn wait_for_jetstream(&self) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = async_nats::connect(self.url(0)).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let answer = tokio::time::timeout(
                    Duration::from_secs(2),
                    client.request("$JS.API.INFO", bytes::Bytes::new()),
                )
                .await;
                if let Ok(Ok(message)) = answer
                    && !String::from_utf8_lossy(&message.payload).contains("\"error\"")
                {
                    return;
                }
                assert!(Instant::now() < deadline, "the NATS cluster's JetStream did not come up");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }

    fn url(&self, node: usize) -> String {
        format!("nats://127.0.0.1:{}", self.ports[node])
    }

    /// Every server, `first` first.
    fn urls(&self, first: usize) -> String {
        let mut urls = vec![self.url(first)];
        urls.extend((0..3).filter(|node| *node != first).map(|node| self.url(node)));
        urls.join(",")
    }

    fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.servers[node].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in 0..3 {
            self.kill(node);
        }
    }
}

/// Starts aggregator `name` of the cluster on `data_dir`.
fn aggregator(data_dir: &Path, name: &str, nats: &str) -> Server {
    aggregator_with(data_dir, name, nats, "", &[])
}

/// [`aggregator`] with more configuration and environment variables.
fn aggregator_with(data_dir: &Path, name: &str, nats: &str, more: &str, env: &[(&str, &str)]) -> Server {
    std::fs::create_dir_all(data_dir).unwrap();
    let config = data_dir.join("hitkeep.toml");
    std::fs::write(
        &config,
        format!(
            "trusted_proxies = [\"127.0.0.1/32\"]\ncluster = true\ncluster_replicas = 3\nnode_name = \"{name}\"\nleader_lease_secs = 4\n{more}"
        ),
    )
    .unwrap();
    Server::start_with_env(data_dir, &["--config", config.to_str().unwrap(), "--nats-url", nats], env)
}

/// The next 07:00 UTC, when a daily report of a site in UTC falls due (`report_hour = 7`).
fn next_report_time() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    let today = now.date_naive().and_hms_opt(7, 0, 0).unwrap().and_utc();
    if today > now { today } else { today + chrono::Duration::days(1) }
}

/// Adds the site through the running node on `data_dir` (its control socket), and waits
/// until every node of `all` has it: sites go through the control stream.
fn add_site_to_cluster(data_dir: &Path, all: &[&Path]) {
    let out = run_cli(&["site", "add", SITE, "--data-dir", data_dir.to_str().unwrap()]);
    assert!(out.status.success(), "site add: {}", String::from_utf8_lossy(&out.stderr));
    wait_for_site(all);
}

/// Waits until every node of `all` has the site.
fn wait_for_site(all: &[&Path]) {
    for data in all {
        wait_until(
            Duration::from_secs(20),
            || {
                let out = run_cli(&["site", "list", "--data-dir", data.to_str().unwrap()]);
                String::from_utf8_lossy(&out.stdout).contains(SITE)
            },
            "every node has the site",
        );
    }
}

fn cluster_status(nats: &str) -> Value {
    let out = run_cli(&["cluster", "status", "--json", "--nats-url", nats]);
    assert!(out.status.success(), "cluster status: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn leader_of(status: &Value) -> Option<String> {
    status["leader"].as_str().map(str::to_owned)
}

/// Each node's lag (`None`: not known) by name.
fn lags(status: &Value) -> Vec<(String, Option<u64>)> {
    status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| (node["node"].as_str().unwrap().to_owned(), node["lag"].as_u64()))
        .collect()
}

fn read_token(data_dir: &Path) -> String {
    let out = run_cli(&[
        "token",
        "create",
        "--name",
        "reader",
        "--site",
        SITE,
        "--scope",
        "read",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let start = text.find("hkt_").expect("a token is printed");
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

/// The site's pageviews by the Stats API, or the status it answered.
fn pageviews(addr: SocketAddr, token: &str) -> Result<u64, u16> {
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let query = json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all"});
    let (status, _, body) =
        http_request(addr, "POST", "/api/v2/query", &headers, query.to_string().as_bytes());
    if status != 200 {
        return Err(status);
    }
    let answer: Value = serde_json::from_str(&body).unwrap();
    Ok(answer["results"][0]["metrics"][0].as_u64().unwrap())
}

/// Events per day and in all, read from a stopped node's database.
fn per_day(data_dir: &Path) -> Vec<(String, u64)> {
    let db = duckdb::Connection::open(data_dir.join("hitkeep.db")).unwrap();
    let mut statement = db
        .prepare("SELECT CAST(CAST(ts AS DATE) AS VARCHAR), count(*) FROM events GROUP BY ALL ORDER BY 1")
        .unwrap();
    statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn three_aggregators_survive_the_leader_killed_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsCluster::start(dir.path());
    let names = ["agg-0", "agg-1", "agg-2"];
    let dirs: Vec<PathBuf> = names.iter().map(|name| dir.path().join(name)).collect();
    // A daily report falls due around the leader's death: the nodes' clocks start 20 s
    // before its hour (HITKEEP_TEST_CLOCK), and each node has the subscription (those are not
    // replicated yet).
    let smtp = Smtp::start(dir.path());
    let mail = format!(
        "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nsmtp_from = \"Hitkeep <hitkeep@localhost>\"\nreport_hour = 7\n",
        smtp.port
    );
    let clock = (next_report_time() - chrono::Duration::seconds(20)).to_rfc3339();
    let clock_env = [("HITKEEP_TEST_CLOCK", clock.as_str())];
    let mut servers: Vec<Option<Server>> = (0..3)
        .map(|node| Some(aggregator_with(&dirs[node], names[node], &nats.urls(node), &mail, &clock_env)))
        .collect();
    // The site, added on one node, reaches every node through the control stream.
    add_site_to_cluster(&dirs[1], &dirs.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    for data in &dirs {
        let data = data.to_str().unwrap();
        let out =
            run_cli(&["report", "add", SITE, "ops@example.com", "--frequency", "daily", "--data-dir", data]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let tokens: Vec<String> = dirs.iter().map(|data| read_token(data)).collect();
    let mut edge = start_edge(&dir.path().join("edge"), &nats.urls(0));

    // One leader among the three.
    let mut leader = None;
    wait_until(
        Duration::from_secs(20),
        || {
            leader = leader_of(&cluster_status(&nats.url(0)));
            leader.is_some()
        },
        "a leader is chosen",
    );
    let leader = leader.unwrap();
    let killed = names.iter().position(|name| *name == leader).unwrap();

    // Steady load on the edge; after 3 s the leader dies.
    let load = Load::start(edge.http);
    std::thread::sleep(Duration::from_secs(3));
    servers[killed].as_mut().unwrap().kill9();
    let killed_at = Instant::now();
    let survivors: Vec<usize> = (0..3).filter(|node| *node != killed).collect();
    // The survivors answer the Stats API throughout, and one of them leads within 10 s.
    let mut new_leader = None;
    let mut answers = 0;
    while killed_at.elapsed() < Duration::from_secs(8) || new_leader.is_none() {
        for &node in &survivors {
            let server = servers[node].as_ref().unwrap();
            let answer = pageviews(server.http, &tokens[node]);
            assert!(answer.is_ok(), "{} answered {answer:?} during the failover", names[node]);
            answers += 1;
        }
        if new_leader.is_none() {
            let status = cluster_status(&nats.url(survivors[0]));
            if let Some(name) = leader_of(&status)
                && name != leader
            {
                new_leader = Some((name, killed_at.elapsed()));
            }
        }
        assert!(killed_at.elapsed() < Duration::from_secs(30), "no new leader");
        std::thread::sleep(Duration::from_millis(200));
    }
    let accepted = load.stop();
    let (new_leader, took) = new_leader.unwrap();
    assert!(took < Duration::from_secs(10), "{new_leader} took over after {took:?}");
    assert!(survivors.iter().any(|&node| names[node] == new_leader));
    assert!(accepted.len() > 500, "only {} events accepted", accepted.len());
    assert!(answers > 10);
    eprintln!(
        "{} events accepted; {leader} killed, {new_leader} leads after {:.1} s; {answers} stats answers",
        accepted.len(),
        took.as_secs_f64()
    );

    // The killed node comes back and catches up from its own position; a fourth node starts
    // empty and reads the stream from its start.
    edge.wait_drained(Duration::from_secs(60));
    servers[killed] =
        Some(aggregator_with(&dirs[killed], names[killed], &nats.urls(killed), &mail, &clock_env));
    // It has no site of its own: the control stream brings it before it reads any event.
    let late_dir = dir.path().join("agg-3");
    let late = aggregator(&late_dir, "agg-3", &nats.urls(0));
    wait_caught_up(&nats.url(0), 4);
    // Every replica's Stats API counts the same.
    let mut all =
        servers.iter().map(|server| server.as_ref().unwrap().http).zip(tokens.clone()).collect::<Vec<_>>();
    all.push((late.http, read_token(&late_dir)));
    let counts: Vec<u64> = all.iter().map(|(addr, token)| pageviews(*addr, token).unwrap()).collect();
    assert!(counts.windows(2).all(|pair| pair[0] == pair[1]), "replicas disagree: {counts:?}");

    // The report went out once, whoever sent it; another round of the new leader's
    // scheduler (every 15 s) sends nothing more.
    smtp.wait_for_messages(1, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(16));
    assert_eq!(smtp.messages().len(), 1, "the report is sent once across the failover");
    let skipped = servers
        .iter()
        .flatten()
        .map(|server| server.log().matches("sent by another node before").count())
        .sum::<usize>();
    eprintln!("the report: sent once; {skipped} other node(s) found it sent");

    for server in servers.iter_mut().flatten() {
        server.stop();
    }
    let mut late = late;
    late.stop();
    edge.stop();
    nats.kill(0);
    // Every event answered 202 is stored exactly once on every replica, and the replicas
    // agree day by day.
    let mut replicas = dirs.clone();
    replicas.push(late_dir);
    let reference = per_day(&replicas[0]);
    for data in &replicas {
        assert_accepted_stored_once(data, &accepted);
        assert_eq!(per_day(data), reference, "{} disagrees", data.display());
        assert_eq!(stored_pages(data).len(), stored_pages(&replicas[0]).len());
    }
}

/// A `hitkeep-edge` on `dir` publishing to `nats`, once it is ready.
fn start_edge(dir: &Path, nats: &str) -> Edge {
    let edge = Edge::start(dir, nats, &["--trusted-proxy", "127.0.0.1/32"]);
    wait_until(Duration::from_secs(30), || http_get(edge.http, "/readyz").0 == 200, "the edge is ready");
    edge
}

/// Steady load on an edge (`post_until`) until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<u64>>,
}

impl Load {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || post_until(addr, stop))
        };
        Self { stop, thread }
    }

    /// Stops it: the events answered `202` without a drop header.
    fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Waits until every replica's consumer has acknowledged the whole stream.
fn wait_caught_up(nats: &str, replicas: usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = cluster_status(nats);
        let lags = lags(&status);
        if lags.len() == replicas && lags.iter().all(|(_, lag)| *lag == Some(0)) {
            return;
        }
        assert!(Instant::now() < deadline, "the replicas did not catch up: {status:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_nats_node_killed_and_restarted_under_load_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsCluster::start(dir.path());
    let names = ["agg-0", "agg-1"];
    let dirs: Vec<PathBuf> = names.iter().map(|name| dir.path().join(name)).collect();
    let mut servers: Vec<Server> =
        (0..2).map(|node| aggregator(&dirs[node], names[node], &nats.urls(node))).collect();
    add_site_to_cluster(&dirs[0], &[&dirs[0], &dirs[1]]);
    // A goal added on one node is on the other (the control stream), and answers there.
    let data = |node: usize| dirs[node].to_str().unwrap().to_owned();
    let out = run_cli(&["goal", "add", SITE, "--page", "/k/**", "--data-dir", &data(1)]);
    assert!(out.status.success(), "goal add: {}", String::from_utf8_lossy(&out.stderr));
    wait_until(
        Duration::from_secs(20),
        || {
            String::from_utf8_lossy(&run_cli(&["goal", "list", SITE, "--data-dir", &data(0)]).stdout)
                .contains("/k/**")
        },
        "the goal is on both nodes",
    );
    let again = run_cli(&["goal", "add", SITE, "--page", "/k/**", "--data-dir", &data(0)]);
    assert!(!again.status.success(), "the goal exists on every node");
    // The edge talks to the server that dies first.
    let mut edge = start_edge(&dir.path().join("edge"), &nats.urls(2));

    let load = Load::start(edge.http);
    std::thread::sleep(Duration::from_secs(3));
    nats.kill(2);
    std::thread::sleep(Duration::from_secs(4));
    nats.start_node(2);
    std::thread::sleep(Duration::from_secs(4));
    // Then the server of the first aggregator.
    nats.kill(0);
    std::thread::sleep(Duration::from_secs(4));
    nats.start_node(0);
    std::thread::sleep(Duration::from_secs(3));
    let accepted = load.stop();
    assert!(accepted.len() > 500, "only {} events accepted", accepted.len());
    edge.wait_drained(Duration::from_secs(90));
    wait_caught_up(&nats.url(1), 2);
    for server in &mut servers {
        server.stop();
    }
    edge.stop();
    eprintln!("{} events accepted while two NATS servers went down in turn", accepted.len());
    for data in &dirs {
        assert_accepted_stored_once(data, &accepted);
    }
    assert_eq!(per_day(&dirs[0]), per_day(&dirs[1]));
}

/// A TCP proxy to a NATS server that the test can cut: the connections through it are shut
/// and new ones dropped until it is restored.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (accepting, tracked) = (open.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !accepting.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
                let mut kept = tracked.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self { port, open, connections }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_leader_cut_off_from_nats_steps_down_and_catches_up_when_back() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsCluster::start(dir.path());
    // `agg-a` reaches NATS through the proxy alone, and leads (it starts first).
    let proxy = Proxy::start(nats.ports[0]);
    let (dir_a, dir_b) = (dir.path().join("agg-a"), dir.path().join("agg-b"));
    let mut agg_a = aggregator(&dir_a, "agg-a", &proxy.url());
    add_site_to_cluster(&dir_a, &[&dir_a]);
    let mut leader = None;
    wait_until(
        Duration::from_secs(20),
        || {
            leader = leader_of(&cluster_status(&nats.url(1)));
            leader.is_some()
        },
        "a leader is chosen",
    );
    assert_eq!(leader.as_deref(), Some("agg-a"));
    let mut agg_b = aggregator(&dir_b, "agg-b", &nats.urls(1));
    // Started after the site was added: it had it before it took any event.
    wait_for_site(&[&dir_b]);
    let mut edge = start_edge(&dir.path().join("edge"), &nats.urls(2));

    let load = Load::start(edge.http);
    std::thread::sleep(Duration::from_secs(2));
    proxy.cut();
    let cut_at = Instant::now();
    // It stops leading before anyone else can lead; agg-b takes over.
    let (mut stepped_down, mut taken_over) = (None, None);
    while taken_over.is_none() {
        if stepped_down.is_none() && agg_a.log().contains("lost the leadership") {
            stepped_down = Some(cut_at.elapsed());
        }
        if leader_of(&cluster_status(&nats.url(1))).as_deref() == Some("agg-b") {
            taken_over = Some(cut_at.elapsed());
        }
        assert!(cut_at.elapsed() < Duration::from_secs(20), "agg-b did not take over");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (stepped_down, taken_over) =
        (stepped_down.expect("agg-a stepped down before agg-b led"), taken_over.unwrap());
    assert!(stepped_down < taken_over, "agg-a stopped at {stepped_down:?}, agg-b led at {taken_over:?}");
    // Cut off, it still answers its dashboard from what it has.
    assert_eq!(http_get(agg_a.http, "/healthz").0, 200);
    std::thread::sleep(Duration::from_secs(2));
    proxy.restore();
    std::thread::sleep(Duration::from_secs(2));
    let accepted = load.stop();
    edge.wait_drained(Duration::from_secs(60));
    wait_caught_up(&nats.url(1), 2);
    eprintln!(
        "{} events accepted; agg-a stepped down {:.1} s after the cut, agg-b led after {:.1} s",
        accepted.len(),
        stepped_down.as_secs_f64(),
        taken_over.as_secs_f64()
    );
    agg_a.stop();
    agg_b.stop();
    edge.stop();
    for data in [&dir_a, &dir_b] {
        assert_accepted_stored_once(data, &accepted);
    }
    assert_eq!(per_day(&dir_a), per_day(&dir_b));
}
