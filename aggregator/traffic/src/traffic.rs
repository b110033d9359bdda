//! The generator: walks time forward, starts visits at a seasonal rate, and hands out their
//! hits in time order.
//!
//! # How the total comes out exact
//!
//! Time advances in steps of [`STEP_MS`]. A step's seasonal weight says how many visits it
//! should get relative to the others; times the hits a visit started then yields (visits
//! that start shortly before the end are cut short), it is the step's hit weight. Each step
//! gets the share of the hits not yet promised that its hit weight is of the steps left,
//! and visits start in it as a Poisson process with the matching mean.
//!
//! A visit draws its plan (pageviews, custom events) and a seed for its own pauses when it
//! starts, so it knows then how many of its hits fall before the end; it promises those
//! (cut to the hits left). The stream therefore holds exactly `hits` hits, all inside the
//! span; should chance leave some unpromised after the last step, a few more visits start
//! between the last hit and the end.
//!
//! # Memory
//!
//! Only visits in flight are held: a slot each, and one entry each in a min-heap keyed by
//! the time of their next hit. Visits that ended recently are remembered per site, up to a
//! fixed number, so that some visitors come back.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

use hitkeep_protocol::Hit;

use crate::config::{Attribution, ConfigError, TrafficConfig};
use crate::random::{Draw, Random};
use crate::session::{Person, Session, Spare, blank_hit};
use crate::site::Site;

/// The time step of the arrival process.
const STEP_MS: i64 = 60_000;
/// Chance that a visit is by someone who visited the site in the last day...
const RETURN_CHANCE: f64 = 0.2;
/// ...at least this long after their last hit (Plausible's session timeout, plus a margin)...
const RETURN_MIN_GAP_MS: i64 = 31 * 60_000;
/// ...and at most this long after.
const RETURN_MAX_AGE_MS: i64 = 24 * 60 * 60_000;
/// How many recently ended visits each site remembers for returns.
const RETURN_MEMORY: usize = 4_096;

/// A visit that ended: its visitor may come back.
#[derive(Debug, Clone, Copy)]
struct Ended {
    person: Person,
    at: i64,
    /// The visitor came back already (and is remembered again when that visit ends).
    returned: bool,
}

/// A stream of synthetic hits, in non-decreasing time order.
///
/// Build it with [`Traffic::new`] and iterate: it yields exactly [`TrafficConfig::hits`]
/// hits, each valid under [`Hit::validate`], all inside the configured time span. Memory is
/// proportional to the visits in flight, not to the number of hits.
pub struct Traffic {
    random: Random,
    sites: Vec<Site>,
    attribution: Attribution,
    hits: u64,
    start_ms: i64,
    end_ms: i64,

    /// Visits have been started up to here (exclusive).
    frontier: i64,
    /// The expected hits, up to a common factor, of the steps not yet walked: each step's
    /// seasonal visit weight times the hits a visit started then yields.
    hit_weight_left: f64,
    /// The arrival process's remaining distance to the next visit, in expected visits.
    arrival_gap: f64,
    /// Per site, this step's cumulative visit weight and the share of it due to a spike.
    step_weights: Vec<f64>,
    step_spike_shares: Vec<f64>,

    /// Hits promised to visits so far (sent, or pending in a visit in flight).
    promised: u64,
    sent: u64,
    last_ts: i64,

    /// Visits in flight by the time of their next hit; ties go to the lower slot.
    queue: BinaryHeap<Reverse<(i64, u32)>>,
    sessions: Vec<Session>,
    free_slots: Vec<u32>,
    spare: Spare,
    ended: Vec<VecDeque<Ended>>,
    peak_in_flight: usize,
}

impl fmt::Debug for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Traffic")
            .field("sites", &self.sites.iter().map(Site::domain).collect::<Vec<_>>())
            .field("hits", &self.hits)
            .field("sent", &self.sent)
            .field("start_ms", &self.start_ms)
            .field("end_ms", &self.end_ms)
            .field("frontier", &self.frontier)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl Traffic {
    /// Starts generating the traffic a config describes.
    ///
    /// # Panics
    ///
    /// If the config is invalid; see [`Traffic::try_new`].
    pub fn new(config: TrafficConfig) -> Self {
        Self::try_new(config).unwrap_or_else(|error| panic!("invalid traffic config: {error}"))
    }

    /// Starts generating the traffic a config describes, or says why it cannot.
    pub fn try_new(config: TrafficConfig) -> Result<Self, ConfigError> {
        let (start_ms, end_ms) = config.span()?;
        let sites: Vec<Site> = config.sites.iter().map(|domain| Site::new(domain, config.seed)).collect();
        let mut traffic = Self {
            random: Random::new(config.seed),
            attribution: Attribution::default(),
            hits: config.hits,
            start_ms,
            end_ms,
            frontier: start_ms,
            hit_weight_left: 0.0,
            arrival_gap: 0.0,
            step_weights: vec![0.0; sites.len()],
            step_spike_shares: vec![0.0; sites.len()],
            promised: 0,
            sent: 0,
            last_ts: start_ms,
            queue: BinaryHeap::new(),
            sessions: Vec::new(),
            free_slots: Vec::new(),
            spare: Spare::default(),
            ended: (0..sites.len()).map(|_| VecDeque::new()).collect(),
            peak_in_flight: 0,
            sites,
        };
        let mut step_start = start_ms;
        while step_start < end_ms {
            traffic.hit_weight_left += traffic.weigh_step(step_start).1;
            step_start += STEP_MS;
        }
        traffic.arrival_gap = traffic.random.exponential(1.0);
        Ok(traffic)
    }

    /// Chooses which hits of a visit carry its acquisition (by default, all of them). Call
    /// it before taking any hit.
    pub fn with_attribution(mut self, attribution: Attribution) -> Self {
        self.attribution = attribution;
        self
    }

    /// The simulated sites, in the order of [`TrafficConfig::sites`].
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// The time span the hits fall in, `[start, end)` in milliseconds since the epoch.
    pub fn span_ms(&self) -> (i64, i64) {
        (self.start_ms, self.end_ms)
    }

    /// Visits in flight now: the generator's memory is proportional to this.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// The most visits that were in flight at once so far.
    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight
    }

    /// Visit slots allocated and ended visits remembered for returns, for memory tests.
    #[cfg(test)]
    pub(crate) fn memory_footprint(&self) -> (usize, usize) {
        (self.sessions.len(), self.ended.iter().map(VecDeque::len).sum())
    }

    /// Fills the per-site weights for the step starting at `step_start`; returns their sum
    /// (the step's visit weight) and the sum weighted by hits per visit (its hit weight),
    /// both scaled by the step's length (the last step may be short).
    fn weigh_step(&mut self, step_start: i64) -> (f64, f64) {
        let step_end = (step_start + STEP_MS).min(self.end_ms);
        let middle = step_start + (step_end - step_start) / 2;
        let length = (step_end - step_start) as f64 / STEP_MS as f64;
        let mut visit_weight = 0.0;
        let mut hit_weight = 0.0;
        for (index, site) in self.sites.iter().enumerate() {
            let intensity = site.intensity(middle, self.start_ms);
            let weight = intensity.weight * length;
            visit_weight += weight;
            hit_weight += weight * site.hits_per_visit(self.end_ms - middle);
            self.step_weights[index] = visit_weight;
            self.step_spike_shares[index] = intensity.spike_share;
        }
        (visit_weight, hit_weight)
    }

    /// Starts the visits of the next time step.
    fn walk_step(&mut self) {
        let step_start = self.frontier;
        let step_end = (step_start + STEP_MS).min(self.end_ms);
        let (visit_weight, hit_weight) = self.weigh_step(step_start);
        // The hits left are spread over the steps left by their hit weight; this step's share,
        // divided by the hits a visit yields now, is its number of visits.
        let last = step_end >= self.end_ms || hit_weight >= self.hit_weight_left;
        let hit_weight_left = if last { hit_weight } else { self.hit_weight_left };
        self.hit_weight_left = (self.hit_weight_left - hit_weight).max(0.0);
        let expected_visits = (self.hits - self.promised) as f64 * visit_weight / hit_weight_left;
        if expected_visits > 0.0 {
            let mut visits_left = expected_visits;
            while self.arrival_gap <= visits_left {
                visits_left -= self.arrival_gap;
                let elapsed = 1.0 - visits_left / expected_visits;
                let ts = (step_start + (elapsed * (step_end - step_start) as f64) as i64).min(step_end - 1);
                self.start_visit(ts);
                self.arrival_gap = self.random.exponential(1.0);
            }
            self.arrival_gap -= visits_left;
        }
        self.frontier = step_end;
    }

    /// Starts a visit at `ts`, on a site drawn by this step's weights.
    fn start_visit(&mut self, ts: i64) {
        let budget = self.hits - self.promised;
        if budget == 0 {
            return;
        }
        let total = self.step_weights[self.step_weights.len() - 1];
        let target = self.random.unit() * total;
        let site_index =
            self.step_weights.iter().position(|bound| target < *bound).unwrap_or(self.sites.len() - 1);
        let from_spike = self.random.chance(self.step_spike_shares[site_index]);

        let ended = &mut self.ended[site_index];
        while ended.front().is_some_and(|visit| visit.at + RETURN_MAX_AGE_MS < ts) {
            ended.pop_front();
        }
        // Visits ended long enough ago to start a new one form a prefix of the queue; the
        // most recent of them are likelier to come back (a triangular draw).
        let mut returning = None;
        let eligible = if self.random.chance(RETURN_CHANCE) {
            ended.partition_point(|visit| visit.at + RETURN_MIN_GAP_MS <= ts) as u64
        } else {
            0
        };
        if eligible > 0 {
            let back = self.random.below(eligible).min(self.random.below(eligible));
            let visit = &mut ended[(eligible - 1 - back) as usize];
            if !visit.returned {
                visit.returned = true;
                returning = Some(visit.person);
            }
        }
        let person = returning.unwrap_or_else(|| Person::draw(site_index as u32, &mut self.random));

        let site = &self.sites[site_index];
        let (session, planned) =
            Session::plan(person, site, from_spike, (ts, self.end_ms), budget, &mut self.random);
        self.promised += u64::from(planned);
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.sessions[slot as usize] = session;
                slot
            }
            None => {
                self.sessions.push(session);
                (self.sessions.len() - 1) as u32
            }
        };
        self.queue.push(Reverse((ts, slot)));
        self.peak_in_flight = self.peak_in_flight.max(self.queue.len());
    }

    /// Writes the next hit of the visit in `slot`, due at `ts`, over `hit`, and schedules
    /// the one after.
    fn send(&mut self, ts: i64, slot: u32, hit: &mut Hit) {
        let session = &mut self.sessions[slot as usize];
        let site = &self.sites[session.person.site as usize];
        session.write_next_hit(ts, site, self.attribution, &mut self.random, &mut self.spare, hit);
        match session.next_pause() {
            Some(pause) => {
                // Plans are cut to the hits that fall before the end.
                debug_assert!(ts + pause < self.end_ms);
                self.queue.push(Reverse((ts + pause, slot)));
            }
            None => {
                let site_index = session.person.site as usize;
                let ended = &mut self.ended[site_index];
                if ended.len() == RETURN_MEMORY {
                    ended.pop_front();
                }
                ended.push_back(Ended { person: session.person, at: ts, returned: false });
                self.free_slots.push(slot);
            }
        }
        self.sent += 1;
        self.last_ts = ts;
    }

    /// Writes the next hit over `hit`, reusing its strings' buffers, and returns true; or
    /// returns false, leaving `hit` as it was, when all hits have been generated.
    ///
    /// Equivalent to [`Iterator::next`], but allocates next to nothing once `hit` has
    /// grown its buffers: for benchmarks that consume each hit before the next (encode it,
    /// hash it) and should not measure the allocator.
    pub fn next_into(&mut self, hit: &mut Hit) -> bool {
        if self.sent == self.hits {
            return false;
        }
        loop {
            if let Some(&Reverse((ts, slot))) = self.queue.peek() {
                // Visits of later steps start at or after the frontier, so everything before
                // it is final.
                if ts < self.frontier {
                    self.queue.pop();
                    self.send(ts, slot, hit);
                    return true;
                }
            }
            if self.frontier < self.end_ms {
                self.walk_step();
            } else {
                // Every step is walked and every visit is over, but visits cut by the end of
                // the span gave hits back: start more visits between the last hit and the end.
                debug_assert!(self.queue.is_empty() && self.promised == self.sent && self.sent < self.hits);
                let ts = self.last_ts + self.random.below((self.end_ms - self.last_ts) as u64) as i64;
                self.weigh_step(ts);
                self.start_visit(ts);
            }
        }
    }
}

impl Iterator for Traffic {
    type Item = Hit;

    fn next(&mut self) -> Option<Hit> {
        let mut hit = blank_hit();
        self.next_into(&mut hit).then_some(hit)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.hits - self.sent).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

impl std::iter::FusedIterator for Traffic {}
