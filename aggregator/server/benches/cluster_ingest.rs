//! Ingest through the cluster's path beside the single-node path, in the same run.
//!
//! - **single node**: batches as NATS requests to the embedded broker, acked by the pipeline
//!   after its commit (what `hitkeep serve` alone does);
//! - **cluster**: the same requests to a three-node `nats-server` cluster with JetStream,
//!   acked by the replicated stream `HITKEEP_INGEST` (3 copies), which three pipelines (three
//!   aggregators, each its own DuckDB file, in this process) read whole, each with its own
//!   consumer, as `hitkeep serve` with `cluster = true` does.
//!
//! Prints, for each: the hits per second acked to the sender and the ack's p50 and p99; for
//! the cluster also when every replica had committed every hit. Rounds alternate (the
//! machine's speed drifts). All of it shares this machine's cores: three NATS servers and
//! three DuckDB writers on two cores are a floor, not what three machines do.
//!
//! `cargo bench -p hitkeep --bench cluster_ingest` (needs `nats-server`, Debian's);
//! `HITKEEP_BENCH_HITS` (default 1,000,000), `HITKEEP_BENCH_IN_FLIGHT` (batches in flight,
//! default 32), `HITKEEP_BENCH_ROUNDS` (default 2).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hitkeep_broker::{Broker, BrokerConfig};
use hitkeep_ingest::{Ingestor, Pipeline, PipelineConfig, SiteDirectory, SystemClock};
use hitkeep_protocol::{INGEST_SUBJECT, MSG_ID_HEADER};
use hitkeep_server::cluster::{ClusterSettings, ingest_stream, replica_consumer};
use hitkeep_store::Store;
use hitkeep_traffic::{Attribution, Traffic, TrafficConfig};

const HITS_PER_BATCH: usize = 1_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let hits = env_or("HITKEEP_BENCH_HITS", 1_000_000);
    let in_flight = env_or("HITKEEP_BENCH_IN_FLIGHT", 32) as usize;
    let rounds = env_or("HITKEEP_BENCH_ROUNDS", 2);
    let config =
        TrafficConfig { seed: 42, hits, days: 30, end_ms: 1_767_225_600_000, ..TrafficConfig::default() };
    let payloads: Vec<(String, bytes::Bytes)> = hitkeep_traffic::batches(
        Traffic::new(config.clone()).with_attribution(Attribution::Landing),
        "bench",
        HITS_PER_BATCH,
    )
    .map(|batch| (batch.id.clone(), batch.encode_binary().into()))
    .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("{hits} hits in batches of {HITS_PER_BATCH}, {in_flight} batches in flight, load {}", load());
    for round in 1..=rounds {
        let single = runtime.block_on(single_node(&config.sites, &payloads, in_flight));
        println!("round {round} single node: {single}  (load {})", load());
        let cluster = runtime.block_on(cluster(&config.sites, &payloads, in_flight));
        println!("round {round} cluster:     {cluster}  (load {})", load());
    }
}

struct Outcome {
    hits: u64,
    acked: Duration,
    p50: Duration,
    p99: Duration,
    /// When every replica had committed every hit (cluster only).
    replicated: Option<Duration>,
    cpu_us_per_hit: Option<f64>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>9.0} hits/s acked, ack p50 {:>6.1} ms, p99 {:>6.1} ms",
            self.hits as f64 / self.acked.as_secs_f64(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )?;
        if let Some(replicated) = self.replicated {
            write!(
                f,
                "; all 3 replicas committed after {:.1} s: {:.0} hits/s each",
                replicated.as_secs_f64(),
                self.hits as f64 / replicated.as_secs_f64()
            )?;
        }
        if let Some(cpu) = self.cpu_us_per_hit {
            write!(f, "; {cpu:.1} µs CPU/hit in this process")?;
        }
        Ok(())
    }
}

fn open_store(dir: &Path, sites: &[String]) -> Arc<Store> {
    let store = Arc::new(Store::open_dir(dir).unwrap());
    for domain in sites {
        store.add_site(domain, "UTC").unwrap();
    }
    store
}

async fn start_pipeline(
    store: &Arc<Store>,
    client: async_nats::Client,
    stream: Option<async_nats::jetstream::consumer::PullConsumer>,
) -> Pipeline {
    let sites = SiteDirectory::new(&store.sites().unwrap());
    let ingestor = Ingestor::open(store, sites, Arc::new(SystemClock), 30 * 60_000).unwrap();
    Pipeline::start(ingestor, Some(client), PipelineConfig { stream, ..PipelineConfig::default() })
        .await
        .unwrap()
}

/// Sends every payload as a NATS request, `in_flight` at a time; the time until the last
/// answer and the answers' latencies, sorted.
async fn send_all(
    client: &async_nats::Client,
    payloads: &[(String, bytes::Bytes)],
    in_flight: usize,
) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let mut answers = futures_util::stream::iter(payloads.iter().cloned())
        .map(|(id, payload)| {
            let client = client.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(MSG_ID_HEADER, id.as_str());
                let request = async_nats::Request::new()
                    .payload(payload)
                    .headers(headers)
                    .timeout(Some(Duration::from_secs(60)));
                let sent = Instant::now();
                let reply = client.send_request(INGEST_SUBJECT, request).await.expect("an answer");
                let text = String::from_utf8_lossy(&reply.payload);
                assert!(!text.contains("\"error\""), "refused: {text}");
                sent.elapsed()
            }
        })
        .buffer_unordered(in_flight);
    let mut latencies = Vec::with_capacity(payloads.len());
    while let Some(latency) = answers.next().await {
        latencies.push(latency);
    }
    latencies.sort();
    (started.elapsed(), latencies)
}

async fn single_node(sites: &[String], payloads: &[(String, bytes::Bytes)], in_flight: usize) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), sites);
    let broker =
        Broker::start(BrokerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..BrokerConfig::default() })
            .await
            .unwrap();
    let connect =
        || async_nats::ConnectOptions::new().subscription_capacity(65_536).connect(broker.client_url());
    let pipeline = start_pipeline(&store, connect().await.unwrap(), None).await;
    let sender = connect().await.unwrap();
    let cpu_before = process_cpu_seconds();
    let (acked, latencies) = send_all(&sender, payloads, in_flight).await;
    let cpu = process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    pipeline.shutdown().await;
    broker.shutdown().await;
    let hits = store.counts().unwrap().events;
    Outcome {
        hits,
        acked,
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
        replicated: None,
        cpu_us_per_hit: cpu.map(|cpu| cpu * 1e6 / hits as f64),
    }
}

struct NatsCluster(Vec<Child>, Vec<u16>);

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn nats_cluster(dir: &Path) -> NatsCluster {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let route_urls: Vec<String> = routes.iter().map(|port| format!("nats://127.0.0.1:{port}")).collect();
    let children = (0..3)
        .map(|node| {
            Command::new("nats-server")
                .args([
                    "-js",
                    "-a",
                    "127.0.0.1",
                    "-p",
                    &ports[node].to_string(),
                    "-n",
                    &format!("nats-{node}"),
                ])
                .args([
                    "--cluster_name",
                    "bench",
                    "--cluster",
                    &route_urls[node],
                    "--routes",
                    &route_urls.join(","),
                ])
                .arg("-sd")
                .arg(dir.join(format!("nats-{node}")))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server is not installed: apt-get install nats-server")
        })
        .collect();
    NatsCluster(children, ports)
}

async fn cluster(sites: &[String], payloads: &[(String, bytes::Bytes)], in_flight: usize) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let nats = nats_cluster(dir.path());
    let url = |node: usize| format!("nats://127.0.0.1:{}", nats.1[node]);
    let connect = |node: usize| {
        let url = url(node);
        async move {
            async_nats::ConnectOptions::new()
                .subscription_capacity(65_536)
                .retry_on_initial_connect()
                .connect(url)
                .await
                .unwrap()
        }
    };
    // The stream, once the cluster's JetStream has a leader.
    let first = connect(0).await;
    let settings = ClusterSettings {
        node: "bench".into(),
        replicas: 3,
        stream_max_age: Duration::from_secs(3600),
        stream_max_bytes: None,
    };
    let jetstream = async_nats::jetstream::new(first.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        match ingest_stream(&jetstream, &settings).await {
            Ok(stream) => break stream,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => panic!("no JetStream: {error:#}"),
        }
    };
    let mut replicas = Vec::new();
    for node in 0..3 {
        let store_dir = dir.path().join(format!("agg-{node}"));
        let store = open_store(&store_dir, sites);
        let consumer = replica_consumer(&mut stream, &format!("agg-{node}"), None, false).await.unwrap();
        let pipeline = start_pipeline(&store, connect(node).await, Some(consumer)).await;
        replicas.push((store, pipeline));
    }
    let sender = connect(0).await;
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let (acked, latencies) = send_all(&sender, payloads, in_flight).await;
    let sent_hits = payloads.len() as u64 * HITS_PER_BATCH as u64;
    // Every replica has committed every hit when each consumer has nothing pending.
    let last = stream.info().await.unwrap().state.last_sequence;
    loop {
        let mut done = true;
        for node in 0..3 {
            let mut consumer: async_nats::jetstream::consumer::PullConsumer =
                stream.get_consumer(&format!("replica-agg-{node}")).await.unwrap();
            let info = consumer.info().await.unwrap();
            done &= info.ack_floor.stream_sequence >= last;
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let replicated = started.elapsed();
    let cpu = process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    let nats_cpu: f64 =
        nats.0.iter().filter_map(|child| cpu_seconds(&format!("/proc/{}/stat", child.id()))).sum();
    let mut stored = Vec::new();
    for (store, pipeline) in replicas {
        pipeline.shutdown().await;
        stored.push(store.counts().unwrap().events);
    }
    drop(nats);
    assert!(stored.iter().all(|count| *count == stored[0]), "the replicas disagree: {stored:?}");
    let hits = stored[0];
    assert!(hits <= sent_hits && hits > sent_hits * 9 / 10, "the replicas stored {hits} of {sent_hits}");
    println!(
        "  (the three nats-servers: {:.1} µs CPU per hit, from their start)",
        nats_cpu * 1e6 / hits as f64
    );
    Outcome {
        hits,
        acked,
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
        replicated: Some(replicated),
        // Three replicas' pipelines: per hit stored on each.
        cpu_us_per_hit: cpu.map(|cpu| cpu * 1e6 / (3 * hits) as f64),
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// CPU time of this process so far (user and system), from `/proc/self/stat`.
fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds("/proc/self/stat")
}

/// CPU time (user and system) in a `/proc/*/stat` file.
fn cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
