//! Enrichment plugins in the real pipeline: batches published as NATS requests through the
//! embedded broker, enriched, committed to a DuckDB file in a temporary directory, acked.
//! The plugins are the examples and test plugins `hitkeep-plugins` builds from source.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hitkeep_broker::{Broker, BrokerConfig};
use hitkeep_ingest::{Ingestor, Pipeline, PipelineConfig, SiteDirectory, SystemClock};
use hitkeep_plugins::{FailurePolicy, PluginConfig, Plugins, PluginsConfig, fixtures};
use hitkeep_protocol::{
    Ack, AckStatus, Batch, Channel, ENVELOPE_VERSION, EventKind, Hit, INGEST_SUBJECT, MSG_ID_HEADER,
};
use hitkeep_store::{Store, StoredEvent};
use serde_json::json;

const SITE: &str = "example.com";
const BASE_TS: i64 = 1_767_225_600_000;

/// A pageview of `path`; `index` makes its time (and so its stored row) unique.
fn hit(index: u64, path: &str) -> Hit {
    Hit {
        visitor: 1_000 + index % 7,
        visitor_prev: 2_000 + index % 7,
        country: Some("DE".into()),
        browser: Some("Firefox".into()),
        browser_version: Some("131".into()),
        os: Some("Linux".into()),
        ..Hit::pageview(BASE_TS + index as i64, SITE, path)
    }
}

fn batch(id: &str, hits: Vec<Hit>) -> Batch {
    Batch { v: ENVELOPE_VERSION, id: id.into(), edge: "test-edge".into(), hits }
}

fn prop<'h>(hit: &'h Hit, key: &str) -> Option<&'h str> {
    hit.props.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Loads plugins on a blocking thread (guests may use WASI, which must not run on a tokio
/// worker), with a call deadline for unoptimized test builds unless an entry sets its own.
async fn load(config: PluginsConfig) -> Arc<Plugins> {
    let config = PluginsConfig { timeout_ms: 5_000, ..config };
    Arc::new(tokio::task::spawn_blocking(move || Plugins::load(config)).await.unwrap().expect("plugins load"))
}

async fn load_entries(entries: Vec<PluginConfig>) -> Arc<Plugins> {
    load(PluginsConfig { reload_interval_ms: 0, ..PluginsConfig::from_plugins(entries) }).await
}

/// A store on a fresh DuckDB file, the embedded broker, a pipeline with `plugins`, and an
/// edge's NATS connection.
struct Harness {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    broker: hitkeep_broker::BrokerHandle,
    pipeline: Pipeline,
    edge: async_nats::Client,
}

impl Harness {
    async fn start(plugins: Arc<Plugins>, other_sites: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_dir(dir.path()).unwrap());
        for site in std::iter::once(&SITE).chain(other_sites) {
            store.add_site(site, "UTC").unwrap();
        }
        let broker =
            Broker::start(BrokerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..BrokerConfig::default() })
                .await
                .unwrap();
        let sites = SiteDirectory::new(&store.sites().unwrap());
        let ingestor = Ingestor::open(&store, sites, Arc::new(SystemClock), 30 * 60_000).unwrap();
        let nats = async_nats::connect(broker.client_url()).await.unwrap();
        let config = PipelineConfig { plugins: Some(plugins), ..PipelineConfig::default() };
        let pipeline = Pipeline::start(ingestor, Some(nats), config).await.unwrap();
        let edge = async_nats::connect(broker.client_url()).await.unwrap();
        Self { dir, store, broker, pipeline, edge }
    }

    /// Publishes a batch as an edge does and waits for its ack.
    async fn send(&self, batch: &Batch) -> Ack {
        send(&self.edge, batch).await
    }

    fn rows(&self) -> Vec<StoredEvent> {
        self.store.recent_events(SITE, 10_000).unwrap()
    }

    /// Stops everything and hands back the data directory with the closed database.
    async fn stop(self) -> (tempfile::TempDir, PathBuf) {
        self.pipeline.shutdown().await;
        self.broker.shutdown().await;
        let path = self.store.path().to_path_buf();
        drop(self.store);
        (self.dir, path)
    }
}

async fn send(edge: &async_nats::Client, batch: &Batch) -> Ack {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MSG_ID_HEADER, batch.id.as_str());
    let request = async_nats::Request::new()
        .payload(batch.encode().into())
        .headers(headers)
        .timeout(Some(Duration::from_secs(60)));
    let reply = edge.send_request(INGEST_SUBJECT, request).await.expect("ack");
    Ack::decode(&reply.payload).expect("ack decodes")
}

/// `(reason, detail, payload)` of every dead letter, read from the closed database file.
fn dead_letters(db: &Path) -> Vec<(String, String, Vec<u8>)> {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut statement = conn.prepare("SELECT reason, detail, payload FROM dead_letters ORDER BY id").unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_is_visible_in_stored_rows() {
    let plugins = load_entries(vec![
        PluginConfig::new("url-normalizer", fixtures::URL_NORMALIZER),
        PluginConfig::new("campaign-mapper", fixtures::CAMPAIGN_MAPPER).settings(json!({"rules": [
            {"when": {"utm_source": "newsletter*"}, "set": {"channel": "email", "utm_campaign": "newsletter"}}
        ]})),
        PluginConfig::new("prop-scrubber", fixtures::PROP_SCRUBBER),
    ])
    .await;
    let harness = Harness::start(plugins, &[]).await;

    let mut campaign = hit(1, "/users/4711");
    campaign.utm.source = Some("newsletter-may".into());
    let mut signup = hit(2, "/signup");
    signup.kind = EventKind::Custom;
    signup.name = "Signup".into();
    signup.props = vec![("email".into(), "jane.doe@example.org".into()), ("plan".into(), "pro".into())];
    let plain = hit(3, "/pricing");
    let ack = harness.send(&batch("enrich-nats", vec![campaign, signup, plain])).await;
    assert_eq!((ack.status, ack.stored, ack.dropped), (AckStatus::Stored, 3, 0));

    // The HTTP batch endpoint's path (`Pipeline::submit`) is enriched the same way.
    let ack = harness
        .pipeline
        .submit(
            batch("enrich-http", vec![hit(4, "/orders/550e8400-e29b-41d4-a716-446655440000")])
                .encode()
                .into(),
        )
        .await;
    assert_eq!(ack.map(|ack| (ack.status, ack.stored)), Some((AckStatus::Stored, 1)));

    let rows = harness.rows();
    let by_ts = |index: i64| &rows.iter().find(|row| row.hit.ts == BASE_TS + index).expect("row").hit;
    assert_eq!(by_ts(1).path, "/users/:id");
    assert_eq!(by_ts(1).channel, Channel::Email);
    assert_eq!(by_ts(1).utm.campaign.as_deref(), Some("newsletter"));
    assert_eq!(
        by_ts(2).props,
        [("email".to_string(), "[email]".to_string()), ("plan".to_string(), "pro".to_string())]
    );
    assert_eq!(by_ts(3).path, "/pricing");
    assert_eq!(by_ts(4).path, "/orders/:uuid");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_plugins_lose_no_events() {
    let plugins = load_entries(vec![
        PluginConfig::new("looper", fixtures::LOOPER)
            .timeout(Duration::from_millis(50))
            .sites(["looped.example"]),
        PluginConfig::new("panicker", fixtures::PANICKER),
        PluginConfig::new("garbage", fixtures::GARBAGE).settings(json!({"mode": "missing"})),
    ])
    .await;
    let harness = Harness::start(plugins, &["looped.example"]).await;

    // A trap (the batch holds `/boom`), bad output (one verdict short) and, on the second
    // site, a timeout: under the pass policy every hit is stored as it came.
    let mut hits: Vec<Hit> = (0..20).map(|i| hit(i, &format!("/p/{i}"))).collect();
    hits[7].path = "/boom".into();
    let sent = hits.clone();
    let started = Instant::now();
    let ack = harness.send(&batch("fails-1", hits)).await;
    assert_eq!((ack.status, ack.stored, ack.dropped), (AckStatus::Stored, 20, 0));
    let rows = harness.rows();
    assert_eq!(rows.len(), 20);
    for original in &sent {
        let row = rows.iter().find(|row| row.hit.ts == original.ts).expect("stored");
        assert_eq!(row.hit.path, original.path);
        assert!(row.hit.props.is_empty(), "no plugin's change got through: {:?}", row.hit.props);
    }
    let looped: Vec<Hit> = (100..105)
        .map(|i| Hit { domain: "looped.example".into(), hostname: "looped.example".into(), ..hit(i, "/l") })
        .collect();
    let ack = harness.send(&batch("fails-2", looped)).await;
    assert_eq!((ack.status, ack.stored), (AckStatus::Stored, 5));
    assert!(started.elapsed() < Duration::from_secs(30), "failures stalled ingest: {:?}", started.elapsed());
    assert_eq!(harness.store.counts().unwrap().events, 25);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_hits_are_stored_with_their_batch() {
    let plugins = load_entries(vec![
        PluginConfig::new("panicker", fixtures::PANICKER).on_failure(FailurePolicy::DeadLetter),
        PluginConfig::new("dropper", fixtures::TAGGER).settings(json!({"drop_path": "/drop-me"})),
    ])
    .await;
    let harness = Harness::start(plugins, &[]).await;

    let mut trapping: Vec<Hit> = (0..4).map(|i| hit(i, &format!("/t/{i}"))).collect();
    trapping[2].path = "/boom".into();
    let original = trapping.clone();
    let ack = harness.send(&batch("dead-1", trapping)).await;
    assert_eq!((ack.status, ack.stored, ack.dropped), (AckStatus::Stored, 0, 4));

    let fine: Vec<Hit> = vec![hit(10, "/a"), hit(11, "/drop-me"), hit(12, "/b")];
    let ack = harness.send(&batch("dead-2", fine)).await;
    assert_eq!((ack.status, ack.stored, ack.dropped), (AckStatus::Stored, 2, 1));
    let rows = harness.rows();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|row| prop(&row.hit, "survived") == Some("yes") && prop(&row.hit, "tag") == Some("t"))
    );

    // A resent batch is a duplicate: its dead letters are not written twice.
    let ack = harness.send(&batch("dead-1", original.clone())).await;
    assert_eq!(ack.status, AckStatus::Duplicate);
    let (_dir, db) = harness.stop().await;

    let letters = dead_letters(&db);
    assert_eq!(letters.len(), 4);
    for ((reason, detail, payload), original) in letters.iter().zip(&original) {
        assert_eq!(reason, "plugin_failed");
        assert!(detail.starts_with("plugin `panicker` failed (trap)"), "{detail}");
        assert!(detail.contains("boom on purpose"), "{detail}");
        let stored: Hit = serde_json::from_slice(payload).unwrap();
        assert_eq!(stored, *original, "the dead letter holds the hit as it came, hashes included");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_under_load_loses_nothing() {
    const HITS_PER_BATCH: u64 = 20;
    /// Batches at most, so that every row fits one listing of the store (10,000).
    const MAX_BATCHES: u64 = 450;
    // Compile the new version ahead (the engine keeps compiled components), so that the
    // switch below takes a reload interval rather than an unoptimized test build's compile.
    tokio::task::spawn_blocking(|| hitkeep_plugins::check_file(Path::new(fixtures::TAGGER), "{}", &[]))
        .await
        .unwrap()
        .unwrap();
    let plugin_dir = tempfile::tempdir().unwrap();
    let install = |source: &[u8]| {
        let temporary = plugin_dir.path().join(".p.wasm.tmp");
        std::fs::write(&temporary, source).unwrap();
        std::fs::rename(&temporary, plugin_dir.path().join("p.wasm")).unwrap();
    };
    install(&std::fs::read(fixtures::NOOP).unwrap());
    let plugins =
        load(PluginsConfig { reload_interval_ms: 10, ..PluginsConfig::from_dir(plugin_dir.path()) }).await;
    let harness = Arc::new(Harness::start(plugins.clone(), &[]).await);

    // Edges publish 8 batches at a time until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let load_task = {
        let (harness, stop, acked) = (harness.clone(), stop.clone(), acked.clone());
        tokio::spawn(async move {
            let edge = harness.edge.clone();
            let batches = futures_util::stream::iter(0u64..MAX_BATCHES)
                .take_while(move |_| std::future::ready(!stop.load(Ordering::Relaxed)))
                .map(|number| {
                    let edge = edge.clone();
                    async move {
                        // A steady stream rather than a flood: edges send as hits come.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        let hits = (0..HITS_PER_BATCH)
                            .map(|i| {
                                let index = number * HITS_PER_BATCH + i;
                                hit(index, &format!("/b{number}/{i}"))
                            })
                            .collect();
                        send(&edge, &batch(&format!("load-{number}"), hits)).await
                    }
                })
                .buffer_unordered(8);
            let mut stored = 0u64;
            let mut batches_acked = 0u64;
            futures_util::pin_mut!(batches);
            while let Some(ack) = batches.next().await {
                assert_eq!((ack.status, ack.dropped), (AckStatus::Stored, 0), "{ack:?}");
                stored += u64::from(ack.stored);
                batches_acked += 1;
                acked.store(batches_acked, Ordering::Relaxed);
            }
            (batches_acked, stored)
        })
    };
    let wait_for = |what: &'static str, done: Box<dyn Fn() -> bool + Send>| async move {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(180), "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let acked_probe = acked.clone();
    wait_for("the first batches", Box::new(move || acked_probe.load(Ordering::Relaxed) >= 20)).await;

    // A new version, while batches flow: it takes effect.
    install(&std::fs::read(fixtures::TAGGER).unwrap());
    let probe_plugins = plugins.clone();
    let tagged = move || {
        let mut probe = vec![hit(0, "/probe")];
        probe_plugins.apply(&mut probe);
        prop(&probe[0], "tag") == Some("t")
    };
    let started = Instant::now();
    while !tokio::task::spawn_blocking(tagged.clone()).await.unwrap() {
        assert!(started.elapsed() < Duration::from_secs(180), "the new version never took effect");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let switched_at = acked.load(Ordering::Relaxed);
    // A broken version: the running one stays.
    install(b"\0asm not really");
    let reloading = plugins.clone();
    tokio::task::spawn_blocking(move || reloading.reload()).await.unwrap();
    let acked_probe = acked.clone();
    wait_for(
        "batches after the reload",
        Box::new(move || acked_probe.load(Ordering::Relaxed) >= switched_at + 20),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let (batches, stored) = load_task.await.unwrap();
    assert!(batches < MAX_BATCHES, "the load ended before the reloads were done");

    assert_eq!(stored, batches * HITS_PER_BATCH, "every hit of every batch was stored");
    let rows = harness.rows();
    assert_eq!(rows.len() as u64, stored);
    assert_eq!(harness.store.counts().unwrap().events, stored);
    let mut paths: Vec<&str> = rows.iter().map(|row| row.hit.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len() as u64, stored, "no hit was stored twice");
    let tags: Vec<Option<&str>> = rows.iter().map(|row| prop(&row.hit, "tag")).collect();
    assert!(tags.iter().all(|tag| matches!(tag, None | Some("t"))), "a hit went through a plugin twice");
    let tagged_rows = tags.iter().filter(|tag| tag.is_some()).count() as u64;
    assert!(tagged_rows > 0 && tagged_rows < stored, "{tagged_rows} of {stored} rows ran the new version");
    // The last batches, sent after the broken file, still ran the new version.
    let last = rows.iter().max_by_key(|row| row.hit.ts).unwrap();
    assert_eq!(prop(&last.hit, "tag"), Some("t"));
    assert_eq!(plugins.names(), ["p"]);

    let harness = Arc::into_inner(harness).expect("the load task is done");
    harness.stop().await;
}

/// Batches reach the writer in the order they arrived, however long their plugins take: a
/// long batch followed by a short one (each of a new visitor) gets the earlier visit, as it
/// would without plugins and on every replica reading the same stream. Unordered, the short
/// one's enrichment ends first and would take the first session id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_keep_the_order_batches_arrived_in() {
    let plugins =
        load_entries(vec![PluginConfig::new("slow", fixtures::SLOW).settings(json!({"iterations": 20_000}))])
            .await;
    let harness = Harness::start(plugins, &[]).await;
    let visitor = |id: u64, index: u64| Hit { visitor: id, visitor_prev: id + 1, ..hit(index, "/") };
    let rounds = 4u64;
    for round in 0..rounds {
        let long: Vec<Hit> = (0..300).map(|i| visitor(10 * round + 100, 1_000 * round + i)).collect();
        let short = vec![visitor(10 * round + 105, 1_000 * round + 500)];
        for (id, hits) in [(format!("long-{round}"), long), (format!("short-{round}"), short)] {
            let batch = batch(&id, hits);
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(MSG_ID_HEADER, batch.id.as_str());
            harness.edge.publish_with_headers(INGEST_SUBJECT, headers, batch.encode().into()).await.unwrap();
        }
    }
    harness.edge.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while harness.rows().len() < (rounds * 301) as usize {
        assert!(Instant::now() < deadline, "{} rows stored", harness.rows().len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = harness.rows();
    let session_of = |visitor: u64| {
        rows.iter().find(|row| row.hit.visitor == visitor).map(|row| row.session_id).expect("stored")
    };
    let sessions: Vec<u64> =
        (0..rounds).flat_map(|round| [session_of(10 * round + 100), session_of(10 * round + 105)]).collect();
    assert!(sessions.windows(2).all(|pair| pair[0] < pair[1]), "sessions out of arrival order: {sessions:?}");
    harness.stop().await;
}
