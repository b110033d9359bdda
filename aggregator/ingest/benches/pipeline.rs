//! Pipeline throughput: hits per second from NATS batch requests to committed, acked rows,
//! through the embedded broker, on a real DuckDB file. The batches are binary envelopes
//! (version 2), as edges publish them. Also prints the database's bytes per hit after the
//! run.
//!
//! `cargo bench -p hitkeep-ingest --bench pipeline` (set `HITKEEP_BENCH_HITS` to change the
//! number of hits, default 2,000,000, and `HITKEEP_BENCH_IN_FLIGHT` the batches in flight,
//! default 128). `HITKEEP_BENCH_PLUGINS=noop` runs every batch through
//! the trivial enrichment plugin (every event unchanged), to measure what plugins cost in the
//! pipeline; `url-normalizer`, `prop-scrubber`, `campaign-mapper` or `examples` (all three)
//! run the example plugins instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hitkeep_broker::{Broker, BrokerConfig};
use hitkeep_ingest::{Ingestor, Pipeline, PipelineConfig, SiteDirectory, SystemClock};
use hitkeep_plugins::{PluginConfig, Plugins, PluginsConfig, fixtures};
use hitkeep_protocol::{Ack, AckStatus, INGEST_SUBJECT, MSG_ID_HEADER};
use hitkeep_store::Store;
use hitkeep_traffic::{Attribution, Traffic, TrafficConfig};

/// An edge's default batch size.
const HITS_PER_BATCH: usize = 1_000;
/// The load of 32 edges at their default of 4 batches in flight: about what 250,000 hits/s
/// takes, since one edge serves about 11,500 (see `edge/host/README.md`).
const IN_FLIGHT: usize = 128;

fn main() {
    let hits: u64 =
        std::env::var("HITKEEP_BENCH_HITS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run(hits));
}

/// Batches in flight: `HITKEEP_BENCH_IN_FLIGHT`, default [`IN_FLIGHT`].
fn in_flight() -> usize {
    std::env::var("HITKEEP_BENCH_IN_FLIGHT").ok().and_then(|v| v.parse().ok()).unwrap_or(IN_FLIGHT)
}

/// The plugins `HITKEEP_BENCH_PLUGINS` names, if any.
fn plugins() -> Option<Arc<Plugins>> {
    let choice = std::env::var("HITKEEP_BENCH_PLUGINS").ok().filter(|choice| !choice.is_empty())?;
    let entries = match choice.as_str() {
        "noop" => vec![PluginConfig::new("noop", fixtures::NOOP)],
        "url-normalizer" => vec![PluginConfig::new("url-normalizer", fixtures::URL_NORMALIZER)],
        "prop-scrubber" => vec![PluginConfig::new("prop-scrubber", fixtures::PROP_SCRUBBER)],
        "campaign-mapper" => vec![
            PluginConfig::new("campaign-mapper", fixtures::CAMPAIGN_MAPPER).settings(serde_json::json!({"rules": [
                {"when": {"utm_source": "newsletter*"}, "set": {"channel": "email", "utm_campaign": "newsletter"}}
            ]})),
        ],
        "examples" => vec![
            PluginConfig::new("url-normalizer", fixtures::URL_NORMALIZER),
            PluginConfig::new("campaign-mapper", fixtures::CAMPAIGN_MAPPER)
                .settings(serde_json::json!({"rules": [{"when": {"utm_source": "x"}, "set": {"channel": "email"}}]})),
            PluginConfig::new("prop-scrubber", fixtures::PROP_SCRUBBER),
        ],
        other => panic!("HITKEEP_BENCH_PLUGINS={other}: expected noop, url-normalizer, prop-scrubber, campaign-mapper or examples"),
    };
    let config = PluginsConfig { reload_interval_ms: 0, ..PluginsConfig::from_plugins(entries) };
    println!("plugins: {choice}");
    Some(Arc::new(Plugins::load(config).expect("plugins load")))
}

async fn run(hits: u64) {
    let plugins = tokio::task::spawn_blocking(plugins).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_dir(dir.path()).unwrap());
    let config =
        TrafficConfig { seed: 42, hits, days: 30, end_ms: 1_767_225_600_000, ..TrafficConfig::default() };
    for domain in &config.sites {
        store.add_site(domain, "UTC").unwrap();
    }
    // Encode up front, as edges do: the benchmark measures the pipeline, not the generator.
    let payloads: Vec<(String, bytes::Bytes)> = hitkeep_traffic::batches(
        Traffic::new(config).with_attribution(Attribution::Landing),
        "bench",
        HITS_PER_BATCH,
    )
    .map(|batch| (batch.id.clone(), batch.encode_binary().into()))
    .collect();
    let payload_bytes: usize = payloads.iter().map(|(_, p)| p.len()).sum();

    let broker =
        Broker::start(BrokerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..BrokerConfig::default() })
            .await
            .unwrap();
    let connect =
        || async_nats::ConnectOptions::new().subscription_capacity(65_536).connect(broker.client_url());
    let sites = SiteDirectory::new(&store.sites().unwrap());
    let ingestor = Ingestor::open(&store, sites, Arc::new(SystemClock), 30 * 60_000).unwrap();
    let config = PipelineConfig { plugins, ..PipelineConfig::default() };
    let pipeline = Pipeline::start(ingestor, Some(connect().await.unwrap()), config).await.unwrap();

    let edge = connect().await.unwrap();
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(payloads.len());
    let mut acks = futures_util::stream::iter(payloads)
        .map(|(id, payload)| {
            let edge = edge.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(MSG_ID_HEADER, id.as_str());
                let request = async_nats::Request::new()
                    .payload(payload)
                    .headers(headers)
                    .timeout(Some(Duration::from_secs(60)));
                let sent = Instant::now();
                let reply = edge.send_request(INGEST_SUBJECT, request).await.expect("ack");
                (Ack::decode(&reply.payload).expect("ack decodes"), sent.elapsed())
            }
        })
        .buffer_unordered(in_flight());
    let mut stored = 0u64;
    while let Some((ack, latency)) = acks.next().await {
        assert_eq!(ack.status, AckStatus::Stored);
        stored += u64::from(ack.stored);
        latencies.push(latency);
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    let wal_bytes = std::fs::metadata(store.path().with_extension("db.wal")).map_or(0, |m| m.len());
    pipeline.shutdown().await;
    let with_checkpoint = started.elapsed();
    broker.shutdown().await;
    store.checkpoint().unwrap();
    assert_eq!(store.counts().unwrap().events, stored);
    let db_bytes = std::fs::metadata(store.path()).unwrap().len();

    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!("pipeline: {stored} hits in {:.2} s", elapsed.as_secs_f64());
    println!("  throughput      {:>12.0} hits/s", stored as f64 / elapsed.as_secs_f64());
    println!(
        "  with checkpoint {:>12.0} hits/s  (until the shutdown checkpoint of the {:.0} MB write-ahead log left)",
        stored as f64 / with_checkpoint.as_secs_f64(),
        wal_bytes as f64 / 1e6
    );
    println!(
        "  batch ack p99   {:>12.1} ms  ({HITS_PER_BATCH} hits per batch, {IN_FLIGHT} in flight)",
        p99.as_secs_f64() * 1e3,
        IN_FLIGHT = in_flight()
    );
    println!("  wire size       {:>12.0} bytes/hit (binary envelope)", payload_bytes as f64 / stored as f64);
    println!("  database        {:>12.1} bytes/hit ({db_bytes} bytes)", db_bytes as f64 / stored as f64);
    if let Some(cpu) = cpu {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "  CPU             {:>12.2} µs/hit ({:.0}% of {cores} cores, whole process: edge side and broker included)",
            cpu * 1e6 / stored as f64,
            cpu / elapsed.as_secs_f64() * 100.0 / cores as f64
        );
    }
}

/// CPU time of this process so far (user and system), from `/proc/self/stat`; `None` where
/// there is no such file.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, 100 on every mainstream architecture.
    Some(ticks as f64 / 100.0)
}
