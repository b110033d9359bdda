//! Deduplication, group commit and its fallback, across the prepare and writer halves.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use hitkeep_protocol::{Ack, AckStatus, Batch, Hit};
use hitkeep_store::{BatchWrite, EventRows, Store};

use crate::batch::{Incoming, ReplyTo};
use crate::prepare::PreparedGroup;
use crate::{Enriched, Ingestor, ManualClock, Pipeline, PipelineConfig, SiteDirectory};

const SITE: &str = "example.com";
const T0: i64 = 1_767_225_600_000;

fn hit(path: &str, visitor: u64) -> Hit {
    Hit {
        visitor,
        visitor_prev: visitor + 1_000_000,
        country: Some("DE".into()),
        browser: Some("Firefox".into()),
        props: vec![("n".into(), path.into())],
        ..Hit::pageview(T0, SITE, path)
    }
}

/// A batch `id` of `hits` pageviews with paths `/{id}/{n}`, from visitors `first_visitor..`.
fn batch(id: &str, hits: usize, first_visitor: u64) -> Batch {
    let hits = (0..hits).map(|n| hit(&format!("/{id}/{n}"), first_visitor + n as u64)).collect();
    Batch::new(id, "test-edge", hits)
}

fn incoming(batch: &Batch) -> Enriched {
    Enriched::from(Incoming::decoded(batch.clone(), ReplyTo::Nobody))
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    ingestor: Ingestor,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    store.add_site(SITE, "UTC").unwrap();
    let sites = SiteDirectory::new(&store.sites().unwrap());
    let ingestor = Ingestor::open(&store, sites, Arc::new(ManualClock::new(T0)), 30 * 60_000).unwrap();
    Fixture { _dir: dir, store, ingestor }
}

fn statuses(acks: &[(ReplyTo, Ack)]) -> HashMap<String, Vec<AckStatus>> {
    let mut out: HashMap<String, Vec<AckStatus>> = HashMap::new();
    for (_, ack) in acks {
        out.entry(ack.id.clone()).or_default().push(ack.status);
    }
    for list in out.values_mut() {
        list.sort_by_key(|status| format!("{status:?}"));
    }
    out
}

fn stored_paths(store: &Store) -> BTreeSet<String> {
    store.recent_events(SITE, 10_000).unwrap().into_iter().map(|event| event.hit.path).collect()
}

#[test]
fn duplicates_in_a_group_and_later_are_acked_and_written_once() {
    let mut fx = fixture();
    let (a, b) = (batch("a", 3, 1), batch("b", 2, 10));
    let acks = fx.ingestor.ingest_enriched(vec![incoming(&a), incoming(&b), incoming(&a)]);
    let statuses = statuses(&acks);
    assert_eq!(statuses["a"], [AckStatus::Duplicate, AckStatus::Stored]);
    assert_eq!(statuses["b"], [AckStatus::Stored]);
    let again = fx.ingestor.ingest_enriched(vec![incoming(&b)]);
    assert_eq!(again[0].1.status, AckStatus::Duplicate);
    let counts = fx.store.counts().unwrap();
    assert_eq!((counts.events, counts.props, counts.batches), (5, 5, 2));
}

/// A copy that arrives while the first one is between the prepare thread and its commit
/// never reaches the sessions or the table, and is answered once the first one committed.
#[test]
fn a_copy_in_flight_waits_for_the_first_and_never_reaches_the_sessions() {
    let fx = fixture();
    let (mut preparer, committer, mut writer) = fx.ingestor.into_parts();
    let first = batch("x", 4, 1);
    let mut prepared = PreparedGroup::default();
    assert!(preparer.prepare(vec![incoming(&first)], &mut prepared).is_empty());
    assert_eq!(preparer.open_sessions(), 4);

    // Same id, other content: were it prepared, its visitors would open sessions.
    let copy = batch("x", 4, 500);
    let mut waiting = PreparedGroup::default();
    let acks = preparer.prepare(vec![incoming(&copy)], &mut waiting);
    assert!(acks.is_empty(), "no answer before the first copy is durable");
    assert!(waiting.is_empty(), "the copy is not handed to the writer");
    assert_eq!(preparer.open_sessions(), 4, "the copy did not reach the sessions");

    let (acks, spent) = committer.commit(&mut writer, prepared);
    assert_eq!(statuses(&acks)["x"], [AckStatus::Duplicate, AckStatus::Stored]);
    assert_eq!(spent.len(), 1);
    assert_eq!(committer.dedupe_in_flight(), 0);
    assert_eq!(fx.store.counts().unwrap().events, 4);
    assert!(stored_paths(&fx.store).iter().all(|path| path.starts_with("/x/")));

    // Later copies are duplicates right away, without a transaction.
    let mut later = PreparedGroup::default();
    let acks = preparer.prepare(vec![incoming(&copy)], &mut later);
    assert!(later.is_empty());
    assert_eq!(acks[0].1.status, AckStatus::Duplicate);
}

/// When a group's commit fails, its batches are committed one by one, each with its own
/// rows; the one that fails alone is dead-lettered and rejected, and its copies are
/// duplicates from then on.
#[test]
fn a_failed_group_commit_falls_back_to_batch_by_batch() {
    let mut fx = fixture();
    // Another writer commits `b-2` behind the ingestor's back, so the ingestor takes it for
    // new and its group's commit fails on the primary key of `ingested_batches`.
    let record = BatchWrite { id: "b-2", edge: "elsewhere", hits: 0, dead_letters: &[], stream_seq: None };
    fx.store.event_writer().unwrap().commit(&EventRows::default(), &[record], T0).unwrap();

    let group = [batch("b-1", 3, 1), batch("b-2", 2, 10), batch("b-3", 4, 20)];
    let acks = fx.ingestor.ingest_enriched(group.iter().map(incoming).collect());
    let by_id: HashMap<String, Ack> = acks.into_iter().map(|(_, ack)| (ack.id.clone(), ack)).collect();
    assert_eq!((by_id["b-1"].status, by_id["b-1"].stored), (AckStatus::Stored, 3));
    assert_eq!((by_id["b-3"].status, by_id["b-3"].stored), (AckStatus::Stored, 4));
    assert_eq!(by_id["b-2"].status, AckStatus::Rejected);
    assert_eq!(by_id["b-2"].error.as_deref(), Some("write_failed"));
    assert_eq!(by_id["b-2"].dropped, 2);

    let expected: BTreeSet<String> =
        (0..3).map(|n| format!("/b-1/{n}")).chain((0..4).map(|n| format!("/b-3/{n}"))).collect();
    assert_eq!(stored_paths(&fx.store), expected, "each batch committed with its own rows");
    let counts = fx.store.counts().unwrap();
    assert_eq!((counts.events, counts.props, counts.dead_letters), (7, 7, 1));

    let again = fx.ingestor.ingest_enriched(vec![incoming(&group[1])]);
    assert_eq!(again[0].1.status, AckStatus::Duplicate);
}

#[test]
fn undecodable_batches_are_rejected_once_then_duplicates() {
    let mut fx = fixture();
    let future = bytes::Bytes::from_static(br#"{"v":9,"id":"from-the-future","edge":"e"}"#);
    let group = vec![
        Enriched::from(Incoming::decode(future.clone(), ReplyTo::Nobody)),
        // A second copy in the same group waits for the first one's rejection.
        Enriched::from(Incoming::decode(future.clone(), ReplyTo::Nobody)),
        Enriched::from(Incoming::decode(bytes::Bytes::from_static(b"garbage"), ReplyTo::Nobody)),
    ];
    let acks = fx.ingestor.ingest_enriched(group);
    let statuses = statuses(&acks);
    assert_eq!(statuses["from-the-future"], [AckStatus::Duplicate, AckStatus::Rejected]);
    assert_eq!(statuses[""], [AckStatus::Rejected]);
    let acks = fx.ingestor.ingest_enriched(vec![Enriched::from(Incoming::decode(future, ReplyTo::Nobody))]);
    assert_eq!(acks[0].1.status, AckStatus::Duplicate);
    assert_eq!(fx.store.counts().unwrap().dead_letters, 2);
}

/// Through the running pipeline's two threads: every batch submitted twice at once is
/// stored once and acked once as stored, once as a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_through_the_pipeline_are_stored_once() {
    let fx = fixture();
    let pipeline = Pipeline::start(fx.ingestor, None, PipelineConfig::default()).await.unwrap();
    let batches: Vec<Batch> = (0..40).map(|n| batch(&format!("c-{n}"), 25, n * 100)).collect();
    let mut submissions = Vec::new();
    for batch in &batches {
        for payload in [batch.encode_binary(), batch.encode()] {
            let submitter = pipeline.submitter();
            submissions.push(tokio::spawn(async move { submitter.submit(payload.into()).await }));
        }
    }
    let mut acks = Vec::new();
    for submission in submissions {
        acks.push((ReplyTo::Nobody, submission.await.unwrap().expect("every copy is answered")));
    }
    pipeline.shutdown().await;
    let statuses = statuses(&acks);
    for batch in &batches {
        assert_eq!(statuses[&batch.id], [AckStatus::Duplicate, AckStatus::Stored], "{}", batch.id);
    }
    let counts = fx.store.counts().unwrap();
    assert_eq!((counts.events, counts.batches), (40 * 25, 40));
}

/// With a tiny threshold the checkpoint thread checkpoints while batches keep committing:
/// rows reach the database file before shutdown, and none is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_thread_checkpoints_while_commits_go_on() {
    let fx = fixture();
    let db_file = fx.store.path().to_path_buf();
    let file_size = || std::fs::metadata(&db_file).unwrap().len();
    let before = file_size();
    let config = PipelineConfig { checkpoint_wal_bytes: 1, ..PipelineConfig::default() };
    let pipeline = Pipeline::start(fx.ingestor, None, config).await.unwrap();
    let batches: Vec<Batch> = (0..60).map(|n| batch(&format!("k-{n}"), 200, n * 1_000)).collect();
    let submissions: Vec<_> = batches
        .iter()
        .map(|batch| {
            let (submitter, payload) = (pipeline.submitter(), batch.encode_binary());
            tokio::spawn(async move { submitter.submit(payload.into()).await })
        })
        .collect();
    for submission in submissions {
        let ack = submission.await.unwrap().expect("every batch is answered");
        assert_eq!((ack.status, ack.stored), (AckStatus::Stored, 200));
    }
    // The pipeline is still running: only its checkpoint thread writes the database file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while file_size() == before {
        assert!(std::time::Instant::now() < deadline, "no checkpoint while the pipeline ran");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    pipeline.shutdown().await;
    let counts = fx.store.counts().unwrap();
    assert_eq!((counts.events, counts.props, counts.batches), (60 * 200, 60 * 200, 60));
}

/// A binary envelope whose frame is sound but whose hits are not (here an unknown channel
/// code, under a correct checksum) is refused whole, as a JSON envelope that does not decode
/// is: dead-lettered as `malformed` under its id, and a resent copy is a duplicate.
#[test]
fn a_framed_batch_with_a_broken_hit_is_rejected_whole() {
    let mut fx = fixture();
    let mut payload = batch("broken", 3, 1).encode_binary();
    payload.truncate(payload.len() - 4);
    // Magic and version, id, edge name, hit count; then ts, visitor, visitor_prev and kind.
    let channel_at = 4 + 1 + "broken".len() + 1 + "test-edge".len() + 1 + 24 + 1;
    payload[channel_at] = 200;
    let checksum = crc32fast::hash(&payload);
    payload.extend_from_slice(&checksum.to_le_bytes());
    let payload = bytes::Bytes::from(payload);

    let incoming = Incoming::decode(payload.clone(), ReplyTo::Nobody);
    assert!(incoming.batch.is_ok(), "the frame is sound");
    let acks = fx.ingestor.ingest(vec![incoming]);
    let ack = &acks[0].1;
    assert_eq!(
        (ack.id.as_str(), ack.status, ack.error.as_deref()),
        ("broken", AckStatus::Rejected, Some("malformed"))
    );
    let counts = fx.store.counts().unwrap();
    assert_eq!((counts.events, counts.dead_letters, counts.batches), (0, 1, 1));
    let again = fx.ingestor.ingest(vec![Incoming::decode(payload, ReplyTo::Nobody)]);
    assert_eq!(again[0].1.status, AckStatus::Duplicate);
}
