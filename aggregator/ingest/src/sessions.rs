//! Sessionization: which hits belong to one visit.
//!
//! A session is a run of hits from one visitor on one site with no gap longer than the
//! timeout (30 minutes). Visitors are known only by their daily-salted hash, which changes at
//! midnight; a hit carries the hash under today's and yesterday's salt, and a session found
//! under the previous hash goes on under the new one, so visits that span midnight stay one
//! session. All hits of a session are stored with the visitor hash it started with.
//!
//! The state is a map from (site, visitor hash) to the open session. After a restart it is
//! rebuilt from the events of the last timeout window ([`SessionTracker::seed`]).

use std::collections::HashMap;

use hitkeep_store::SessionSeed;

/// Thirty minutes, the common definition of a visit's inactivity timeout.
pub const DEFAULT_SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1000;

#[derive(Debug, Clone, Copy)]
struct OpenSession {
    session_id: u64,
    visitor_id: u64,
    last_ts_ms: i64,
}

/// What the tracker decided for one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// The visitor hash the session is stored under.
    pub visitor_id: u64,
    /// The session.
    pub session_id: u64,
    /// True when this hit opened the session.
    pub new_session: bool,
}

/// Open sessions, keyed by site and visitor hash.
#[derive(Debug)]
pub struct SessionTracker {
    /// Hashed with foldhash rather than SipHash: the map is looked up for every hit, and the
    /// keys are keyed hashes already, which no client can steer into collisions.
    open: HashMap<(u32, u64), OpenSession, foldhash::fast::RandomState>,
    next_session_id: u64,
    timeout_ms: i64,
}

impl SessionTracker {
    /// An empty tracker whose next session id is `last_session_id + 1`.
    pub fn new(last_session_id: u64, timeout_ms: i64) -> Self {
        debug_assert!(timeout_ms > 0);
        Self { open: HashMap::default(), next_session_id: last_session_id + 1, timeout_ms }
    }

    /// Restores sessions found in stored events.
    pub fn seed(&mut self, seeds: impl IntoIterator<Item = SessionSeed>) {
        for seed in seeds {
            self.next_session_id = self.next_session_id.max(seed.session_id + 1);
            let entry = self.open.entry((seed.site_id, seed.visitor_id)).or_insert(OpenSession {
                session_id: seed.session_id,
                visitor_id: seed.visitor_id,
                last_ts_ms: seed.last_ts_ms,
            });
            // Of two sessions of one visitor, the later one is the open one.
            if seed.last_ts_ms > entry.last_ts_ms {
                *entry = OpenSession {
                    session_id: seed.session_id,
                    visitor_id: seed.visitor_id,
                    last_ts_ms: seed.last_ts_ms,
                };
            }
        }
    }

    fn is_open(&self, session: &OpenSession, ts_ms: i64) -> bool {
        ts_ms - session.last_ts_ms <= self.timeout_ms
    }

    /// Assigns a hit of `site_id` at `ts_ms` from `visitor` (today's hash) and
    /// `visitor_prev` (yesterday's) to a session.
    pub fn assign(&mut self, site_id: u32, visitor: u64, visitor_prev: u64, ts_ms: i64) -> Assignment {
        let timeout_ms = self.timeout_ms;
        // Most hits go on a session open under today's hash: one lookup, updated in place.
        if let Some(session) = self.open.get_mut(&(site_id, visitor))
            && ts_ms - session.last_ts_ms <= timeout_ms
        {
            session.last_ts_ms = session.last_ts_ms.max(ts_ms);
            return Assignment {
                visitor_id: session.visitor_id,
                session_id: session.session_id,
                new_session: false,
            };
        }
        let found = (visitor_prev != visitor)
            .then(|| self.open.get(&(site_id, visitor_prev)))
            .flatten()
            .filter(|session| self.is_open(session, ts_ms))
            .copied();
        let (session, new_session) = match found {
            Some(session) => (session, false),
            None => {
                let session_id = self.next_session_id;
                self.next_session_id += 1;
                (OpenSession { session_id, visitor_id: visitor, last_ts_ms: ts_ms }, true)
            }
        };
        let updated = OpenSession { last_ts_ms: session.last_ts_ms.max(ts_ms), ..session };
        self.open.insert((site_id, visitor), updated);
        Assignment { visitor_id: session.visitor_id, session_id: session.session_id, new_session }
    }

    /// Forgets sessions idle since before `now_ms - timeout`; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.open.len();
        let horizon = now_ms - self.timeout_ms;
        self.open.retain(|_, session| session.last_ts_ms >= horizon);
        before - self.open.len()
    }

    /// Sessions held in memory.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when no session is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_767_225_600_000;

    #[test]
    fn hits_within_the_timeout_share_a_session() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        let first = tracker.assign(1, 10, 11, T0);
        assert!(first.new_session);
        let second = tracker.assign(1, 10, 11, T0 + 29 * MIN);
        assert_eq!(second.session_id, first.session_id);
        assert!(!second.new_session);
        // The timeout counts from the last hit, not the first.
        let third = tracker.assign(1, 10, 11, T0 + 58 * MIN);
        assert_eq!(third.session_id, first.session_id);
        let fourth = tracker.assign(1, 10, 11, T0 + 89 * MIN);
        assert_ne!(fourth.session_id, first.session_id);
        assert!(fourth.new_session);
    }

    #[test]
    fn sites_and_visitors_are_separate() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        let a = tracker.assign(1, 10, 11, T0);
        let b = tracker.assign(2, 10, 11, T0);
        let c = tracker.assign(1, 20, 21, T0);
        assert_ne!(a.session_id, b.session_id);
        assert_ne!(a.session_id, c.session_id);
    }

    #[test]
    fn a_session_survives_midnight() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        // 23:50 under yesterday's salt the visitor hashes to 10.
        let before = tracker.assign(1, 10, 9, T0 - 10 * MIN);
        // 00:05: today's hash is 30, yesterday's (10) finds the session.
        let after = tracker.assign(1, 30, 10, T0 + 5 * MIN);
        assert_eq!(after.session_id, before.session_id);
        assert_eq!(after.visitor_id, 10, "the session keeps the visitor it started with");
        // And the next hit finds it under today's hash alone.
        let later = tracker.assign(1, 30, 10, T0 + 20 * MIN);
        assert_eq!(later.session_id, before.session_id);
    }

    #[test]
    fn seeding_restores_open_sessions_and_ids() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        tracker.seed([
            SessionSeed { site_id: 1, visitor_id: 10, session_id: 5, last_ts_ms: T0 - 40 * MIN },
            SessionSeed { site_id: 1, visitor_id: 10, session_id: 7, last_ts_ms: T0 - 10 * MIN },
        ]);
        let resumed = tracker.assign(1, 10, 11, T0);
        assert_eq!(resumed.session_id, 7);
        let fresh = tracker.assign(1, 99, 98, T0);
        assert_eq!(fresh.session_id, 8);
    }

    #[test]
    fn expiry_bounds_memory() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        for visitor in 0..1000 {
            tracker.assign(1, visitor, visitor + 1, T0);
        }
        tracker.assign(1, 5000, 5001, T0 + 20 * MIN);
        assert_eq!(tracker.expire(T0 + 31 * MIN), 1000);
        assert_eq!(tracker.len(), 1);
    }
}
