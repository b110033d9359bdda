//! Demo data: loads generated traffic straight into the store, through the same ingestor
//! (validation, sessionization, batch ids) that live traffic goes through; [`live`] keeps
//! generated visitors arriving while `serve --demo` runs.

pub mod live;

use std::sync::Arc;
use std::time::Instant;

use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_store::Store;
use hitkeep_traffic::{Attribution, Traffic, TrafficConfig};
use indicatif::{ProgressBar, ProgressStyle};

/// What a load did.
#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    /// Hits generated.
    pub hits: u64,
    /// Hits stored (less than `hits` when batches were loaded before: they are deduplicated).
    pub stored: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Hits per batch of generated traffic.
const HITS_PER_BATCH: usize = 5_000;
/// Batches per transaction.
const BATCHES_PER_COMMIT: usize = 10;

/// Generates `hits` hits over `days` days ending now, with `seed`, into `store`; creates the
/// demo sites when missing.
pub fn load(
    store: &Store,
    hits: u64,
    days: u32,
    seed: u64,
    show_progress: bool,
) -> anyhow::Result<LoadReport> {
    let config = TrafficConfig { seed, hits, days, end_ms: now_ms(), ..TrafficConfig::default() };
    let start_ms = config.end_ms - i64::from(days) * 86_400_000;
    // As an edge reports it: referrer and campaign on the landing pageview only.
    let traffic = Traffic::new(config).with_attribution(Attribution::Landing);
    let existing: Vec<String> = store.sites()?.into_iter().map(|site| site.domain).collect();
    for site in traffic.sites() {
        if !existing.iter().any(|domain| domain == site.domain()) {
            let added = store.add_site(site.domain(), site.timezone())?;
            add_goals_and_funnels(store, &added)?;
        }
    }
    let sites = SiteDirectory::new(&store.sites()?);
    // The ingestor's clock follows the generated data, so sessions expire as they would have.
    let clock = ManualClock::new(start_ms);
    let mut ingestor =
        Ingestor::open(store, sites, Arc::new(clock.clone()), hitkeep_ingest::DEFAULT_SESSION_TIMEOUT_MS)?;

    let progress = if show_progress { ProgressBar::new(hits) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{spinner} {bar:40} {human_pos}/{human_len} hits  {per_sec}  eta {eta}")
            .expect("the template is valid"),
    );
    let started = Instant::now();
    let mut stored = 0u64;
    let edge = format!("demo-{seed}");
    let mut batches = hitkeep_traffic::batches(traffic, &edge, HITS_PER_BATCH).peekable();
    while batches.peek().is_some() {
        let group: Vec<Incoming> = batches
            .by_ref()
            .take(BATCHES_PER_COMMIT)
            .map(|batch| {
                if let Some(last) = batch.hits.last() {
                    clock.set(last.ts);
                }
                Incoming::decoded(batch, ReplyTo::Nobody)
            })
            .collect();
        let generated: usize = group.iter().map(Incoming::hits).sum();
        let acks = ingestor.ingest(group);
        stored += acks.iter().map(|(_, ack)| u64::from(ack.stored)).sum::<u64>();
        progress.inc(generated as u64);
    }
    // The settled days' rollups, so that the first dashboard reads them at once.
    store.rollup_builder()?.run(now_ms(), &|| false)?;
    ingestor.checkpoint()?;
    progress.finish_and_clear();
    Ok(LoadReport { hits, stored, seconds: started.elapsed().as_secs_f64() })
}

/// The goals and funnels a demo site starts with, so the dashboard's goal and funnel panels
/// have something to show: the custom events and pages its generated traffic has.
fn add_goals_and_funnels(store: &Store, site: &hitkeep_store::Site) -> anyhow::Result<()> {
    use hitkeep_store::GoalKind;
    let page = |pattern: &str| GoalKind::Page { pattern: pattern.to_owned() };
    let event = |name: &str| GoalKind::Event { name: name.to_owned(), props: Default::default() };
    type Goals = Vec<(&'static str, GoalKind)>;
    type Funnels = Vec<(&'static str, Vec<GoalKind>)>;
    let (goals, funnels): (Goals, Funnels) = match site.domain.as_str() {
        "demo.hitkeep.dev" => (
            vec![
                ("Signup", event("Signup")),
                ("Purchase", event("Purchase")),
                ("Visit /pricing", page("/pricing")),
                ("Read the docs", page("/docs/**")),
                ("File Download", event("File Download")),
            ],
            vec![("Signup", vec![page("/pricing"), page("/signup"), event("Signup")])],
        ),
        "shop.example" => (
            vec![
                ("Purchase", event("Purchase")),
                ("Visit /checkout", page("/checkout")),
                ("Signup", event("Signup")),
            ],
            vec![(
                "Checkout",
                vec![page("/products/*"), page("/cart"), page("/checkout"), event("Purchase")],
            )],
        ),
        "docs.example" => (
            vec![
                ("File Download", event("File Download")),
                ("Outbound Link: Click", event("Outbound Link: Click")),
            ],
            vec![(
                "Getting started",
                vec![page("/docs/getting-started/overview"), page("/docs/getting-started/installation")],
            )],
        ),
        _ => return Ok(()),
    };
    let now = now_ms();
    for (name, kind) in goals {
        store.add_goal(site.id, Some(name), &kind, now)?;
    }
    for (name, steps) in funnels {
        store.add_funnel(site.id, name, &steps, None, now)?;
    }
    Ok(())
}

fn now_ms() -> i64 {
    use hitkeep_ingest::Clock;
    hitkeep_ingest::SystemClock.now_ms()
}
