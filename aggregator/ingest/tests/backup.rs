//! A backup taken while batches are being committed holds every batch acknowledged before it
//! began, and of the others each whole or not at all: the copy is one snapshot.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_protocol::{AckStatus, Batch, ENVELOPE_VERSION, Hit};
use hitkeep_store::Store;

const SITE: &str = "backup.example";
/// 2026-03-02 00:00 UTC.
const T0: i64 = 1_772_409_600_000;
const HITS_PER_BATCH: u64 = 200;
/// Most batches the test sends (it stops earlier once the backup is done).
const MAX_BATCHES: u64 = 2_000;

fn batch(index: u64) -> Incoming {
    let hits = (0..HITS_PER_BATCH)
        .map(|n| {
            // A thousand visitors coming back: the open sessions stay few.
            let visitor = (index * HITS_PER_BATCH + n) % 1_000;
            let ts = T0 + ((index * HITS_PER_BATCH + n) as i64) * 50;
            Hit { visitor, visitor_prev: visitor + 1_000, ..Hit::pageview(ts, SITE, "/") }
        })
        .collect();
    let batch = Batch { v: ENVELOPE_VERSION, id: format!("backup-{index}"), edge: "test".into(), hits };
    Incoming::decoded(batch, ReplyTo::Nobody)
}

#[test]
fn a_backup_during_ingest_holds_every_batch_acknowledged_before_it() {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open_dir(data.path()).unwrap();
    store.add_site(SITE, "UTC").unwrap();
    let sites = SiteDirectory::new(&store.sites().unwrap());
    let mut ingestor = Ingestor::open(&store, sites, Arc::new(ManualClock::new(T0)), 30 * 60_000).unwrap();
    let acked: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let target = tempfile::tempdir().unwrap();
    let copy = target.path().join("hitkeep.db");

    let (before, counts, acked_after) = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut index = 0;
            while !stop.load(Ordering::SeqCst) && index < MAX_BATCHES {
                // Groups of two batches, as the pipeline commits them.
                for (_, ack) in ingestor.ingest(vec![batch(index), batch(index + 1)]) {
                    assert_eq!(ack.status, AckStatus::Stored, "{ack:?}");
                    acked.lock().unwrap().push(ack.id);
                }
                index += 2;
            }
        });
        while acked.lock().unwrap().len() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let before: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
        let counts = store.backup_into(&copy).unwrap();
        // Ingest goes on after it.
        let after = acked.lock().unwrap().len();
        while acked.lock().unwrap().len() < after + 4 && acked.lock().unwrap().len() < MAX_BATCHES as usize {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        stop.store(true, Ordering::SeqCst);
        (before, counts, acked.lock().unwrap().len())
    });

    assert!(acked_after > before.len());
    // The copy opens on its own, as the manifest's counts say, one whole batch per row of
    // `ingested_batches`.
    let restored = Store::open(&copy).unwrap();
    let restored_counts = restored.counts().unwrap();
    assert_eq!((restored_counts.events, restored_counts.batches), (counts.events, counts.batches));
    assert_eq!(counts.events, counts.batches * HITS_PER_BATCH, "no batch is in the copy in part");
    let known = restored.known_batches().unwrap();
    for id in &before {
        assert!(known.contains(id).unwrap(), "{id} was acknowledged before the backup began");
    }
    assert!(counts.batches >= before.len() as u64);
    assert!((counts.batches as usize) < acked_after, "later batches are not in it");
    // A backup never goes over an existing file.
    assert!(store.backup_into(&copy).is_err());
}
