//! Sessionization: which hits belong to one visit, and the visit's state.
//!
//! A session is a run of hits from one visitor on one site with no gap longer than the
//! timeout (30 minutes). Visitors are known only by their daily-salted hash, which changes at
//! midnight; a hit carries the hash under today's and yesterday's salt, and a session found
//! under the previous hash goes on under the new one, so visits that span midnight stay one
//! session. All hits of a session are stored with the visitor hash it started with.
//!
//! Each open session keeps its visit's state (pages, duration, bounce, where it came from),
//! which the pipeline writes to `visits` in the transaction of the hits that changed it
//! ([`SessionTracker::flush`]): the state's previous row is cancelled and the new one
//! appended, so the stats engine never has to fold events into visits.
//!
//! The state is a map from (site, visitor hash) to the open session. After a restart it is
//! rebuilt from the visits written in the last timeout window ([`SessionTracker::seed`]).

use std::collections::HashMap;
use std::sync::Arc;

use hitkeep_protocol::{EventKind, HitRef};
use hitkeep_store::{EventRowsBuilder, VisitOrigin, VisitRow};

/// Thirty minutes, the common definition of a visit's inactivity timeout.
pub const DEFAULT_SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1000;

#[derive(Debug, Clone)]
struct OpenSession {
    /// The state the next row of `visits` holds.
    visit: VisitRow,
    /// The state last written, which the next write cancels.
    written: Option<VisitRow>,
    /// Interactive custom events.
    interactive: u32,
    /// Time of the hit the entry page comes from, and whether that hit is a pageview.
    entry: (i64, bool),
    /// Time of the hit the exit page comes from, and whether that hit is a pageview.
    exit: (i64, bool),
    /// When this process last saw a hit of the session (ms, the clock's time, not the hit's):
    /// hits with old timestamps (imports) keep their session open while they arrive.
    seen_ms: i64,
    /// Changed since the last [`SessionTracker::flush`].
    dirty: bool,
}

impl OpenSession {
    fn last_ts_ms(&self) -> i64 {
        self.visit.end_ms
    }

    fn start(site_id: u32, session_id: u64, visitor_id: u64, hit: &HitRef<'_>, now_ms: i64) -> Self {
        let page: Arc<str> = Arc::from(hit.path);
        let is_pageview = hit.kind == EventKind::Pageview;
        let mut session = Self {
            visit: VisitRow {
                site_id,
                session_id,
                visitor_id,
                version: 0,
                start_ms: hit.ts,
                end_ms: hit.ts,
                pageviews: 0,
                events: 0,
                bounce: true,
                hostname: Arc::from(hit.hostname),
                entry_page: page.clone(),
                exit_page: page,
                origin: Arc::new(VisitOrigin::of(hit)),
            },
            written: None,
            interactive: 0,
            entry: (hit.ts, is_pageview),
            exit: (hit.ts, is_pageview),
            seen_ms: now_ms,
            dirty: true,
        };
        session.count(hit);
        session
    }

    /// A session restored from its last written state.
    fn restore(visit: VisitRow, now_ms: i64) -> Self {
        // Not stored, and only needed for the bounce: a bounce had none, a visit of one page
        // that is not a bounce had one, and more pages end a bounce anyway.
        let interactive = u32::from(!visit.bounce && visit.pageviews <= 1);
        let has_pageview = visit.pageviews > 0;
        Self {
            entry: (visit.start_ms, has_pageview),
            exit: (visit.end_ms, has_pageview),
            written: Some(visit.clone()),
            visit,
            interactive,
            seen_ms: now_ms,
            dirty: false,
        }
    }

    /// Adds a hit of this session.
    fn add(&mut self, hit: &HitRef<'_>, now_ms: i64) {
        let visit = &mut self.visit;
        if hit.ts < visit.start_ms {
            // A hit from before the first one seen (hits may arrive out of order): the visit
            // came with what this one came with.
            visit.start_ms = hit.ts;
            visit.hostname = Arc::from(hit.hostname);
            visit.origin = Arc::new(VisitOrigin::of(hit));
        }
        visit.end_ms = visit.end_ms.max(hit.ts);
        let is_pageview = hit.kind == EventKind::Pageview;
        // The entry page is the first pageview's (the first hit's while there is none), the
        // exit page the last pageview's.
        if (is_pageview, std::cmp::Reverse(hit.ts)) > (self.entry.1, std::cmp::Reverse(self.entry.0)) {
            self.entry = (hit.ts, is_pageview);
            if *visit.entry_page != *hit.path {
                visit.entry_page = Arc::from(hit.path);
            }
        }
        if (is_pageview, hit.ts) >= (self.exit.1, self.exit.0) {
            self.exit = (hit.ts, is_pageview);
            if *visit.exit_page != *hit.path {
                visit.exit_page = Arc::from(hit.path);
            }
        }
        self.count(hit);
        self.seen_ms = now_ms;
        self.dirty = true;
    }

    fn count(&mut self, hit: &HitRef<'_>) {
        match hit.kind {
            EventKind::Pageview => self.visit.pageviews += 1,
            EventKind::Custom => {
                self.visit.events += 1;
                self.interactive += u32::from(hit.interactive);
            }
            // Time on page and scroll depth: they lengthen the visit, nothing else.
            EventKind::Engagement => {}
        }
        self.visit.bounce = self.visit.pageviews <= 1 && self.interactive == 0;
    }
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
    /// Keys of sessions that changed since the last flush (a key may be stale: a session
    /// that moved to today's hash, or one flushed already; the flush skips those).
    changed: Vec<(u32, u64)>,
    /// Sessions that left the map with changes not yet written.
    leaving: Vec<OpenSession>,
    next_session_id: u64,
    timeout_ms: i64,
}

impl SessionTracker {
    /// An empty tracker whose next session id is `last_session_id + 1`.
    pub fn new(last_session_id: u64, timeout_ms: i64) -> Self {
        debug_assert!(timeout_ms > 0);
        Self {
            open: HashMap::default(),
            changed: Vec::new(),
            leaving: Vec::new(),
            next_session_id: last_session_id + 1,
            timeout_ms,
        }
    }

    /// Restores the visits of sessions that may still be open (their last written state).
    pub fn seed(&mut self, visits: impl IntoIterator<Item = VisitRow>, now_ms: i64) {
        for visit in visits {
            self.next_session_id = self.next_session_id.max(visit.session_id + 1);
            let key = (visit.site_id, visit.visitor_id);
            // Of two sessions of one visitor, the later one is the open one.
            if self.open.get(&key).is_none_or(|open| visit.end_ms > open.last_ts_ms()) {
                self.open.insert(key, OpenSession::restore(visit, now_ms));
            }
        }
    }

    /// True when a hit at `ts_ms` belongs to `session`: no more than the timeout before its
    /// first hit or after its last.
    fn belongs(&self, session: &OpenSession, ts_ms: i64) -> bool {
        ts_ms >= session.visit.start_ms - self.timeout_ms && ts_ms <= session.last_ts_ms() + self.timeout_ms
    }

    /// Assigns a hit of `site_id` to a session (the visitor's under today's hash, else under
    /// yesterday's, else a new one) and adds it to the session's visit. `now_ms` is the
    /// clock's time. The visit's new state is written by the next [`SessionTracker::flush`].
    pub fn record(&mut self, site_id: u32, hit: &HitRef<'_>, now_ms: i64) -> Assignment {
        let key = (site_id, hit.visitor);
        // Most hits go on a session open under today's hash: one lookup, updated in place.
        if let Some(session) = self.open.get(&key)
            && self.belongs(session, hit.ts)
        {
            let session = self.open.get_mut(&key).expect("looked up above");
            if !session.dirty {
                self.changed.push(key);
            }
            session.add(hit, now_ms);
            return Assignment {
                visitor_id: session.visit.visitor_id,
                session_id: session.visit.session_id,
                new_session: false,
            };
        }
        let previous_key = (site_id, hit.visitor_prev);
        let carried_over = hit.visitor_prev != hit.visitor
            && self.open.get(&previous_key).is_some_and(|session| self.belongs(session, hit.ts));
        let (session, new_session) = if carried_over {
            // The visit goes on past midnight, under today's hash from now on.
            let mut session = self.open.remove(&previous_key).expect("looked up above");
            session.add(hit, now_ms);
            (session, false)
        } else {
            let session_id = self.next_session_id;
            self.next_session_id += 1;
            (OpenSession::start(site_id, session_id, hit.visitor, hit, now_ms), true)
        };
        let assignment = Assignment {
            visitor_id: session.visit.visitor_id,
            session_id: session.visit.session_id,
            new_session,
        };
        // A session of this visitor that timed out gives way; its changes are still written.
        if let Some(replaced) = self.open.insert(key, session)
            && replaced.dirty
        {
            self.leaving.push(replaced);
        }
        self.changed.push(key);
        assignment
    }

    /// Appends to `rows` the new state of every visit that changed since the last flush,
    /// with the cancellation of its previous state: the pipeline calls it once per group,
    /// whose transaction then holds the visits' rows with the hits that changed them.
    pub fn flush(&mut self, rows: &mut EventRowsBuilder) {
        for mut session in self.leaving.drain(..) {
            write_visit(&mut session, rows);
        }
        for key in self.changed.drain(..) {
            if let Some(session) = self.open.get_mut(&key)
                && session.dirty
            {
                write_visit(session, rows);
            }
        }
    }

    /// Forgets sessions idle since before `now_ms - timeout` (both by their hits' time and
    /// by the time this process last saw one of them); returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.open.len();
        let horizon = now_ms - self.timeout_ms;
        let leaving = &mut self.leaving;
        self.open.retain(|_, session| {
            let keep = session.last_ts_ms() >= horizon || session.seen_ms >= horizon;
            if !keep && session.dirty {
                leaving.push(session.clone());
            }
            keep
        });
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

/// Writes a changed visit: the cancellation of its last written state, then its new state.
fn write_visit(session: &mut OpenSession, rows: &mut EventRowsBuilder) {
    session.dirty = false;
    if let Some(written) = &session.written {
        if written.same_state(&session.visit) {
            return;
        }
        rows.push_visit(written, -1);
    }
    session.visit.version = session.written.as_ref().map_or(1, |written| written.version + 1);
    rows.push_visit(&session.visit, 1);
    session.written = Some(session.visit.clone());
}

#[cfg(test)]
impl SessionTracker {
    /// The visit of the session open for `visitor` on `site_id`.
    fn visit(&self, site_id: u32, visitor: u64) -> Option<&VisitRow> {
        self.open.get(&(site_id, visitor)).map(|session| &session.visit)
    }
}

#[cfg(test)]
mod tests {
    use hitkeep_protocol::Hit;

    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_767_225_600_000;

    fn hit(visitor: u64, visitor_prev: u64, ts: i64, path: &str) -> Hit {
        Hit { visitor, visitor_prev, ..Hit::pageview(ts, "example.com", path) }
    }

    fn event(visitor: u64, ts: i64, name: &str, interactive: bool) -> Hit {
        Hit {
            kind: EventKind::Custom,
            name: name.into(),
            interactive,
            ..hit(visitor, visitor + 1, ts, "/signup")
        }
    }

    fn record(tracker: &mut SessionTracker, site_id: u32, hit: &Hit) -> Assignment {
        tracker.record(site_id, &hit.view(), T0)
    }

    fn assign(tracker: &mut SessionTracker, site_id: u32, visitor: u64, prev: u64, ts: i64) -> Assignment {
        record(tracker, site_id, &hit(visitor, prev, ts, "/"))
    }

    #[test]
    fn hits_within_the_timeout_share_a_session() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        let first = assign(&mut tracker, 1, 10, 11, T0);
        assert!(first.new_session);
        let second = assign(&mut tracker, 1, 10, 11, T0 + 29 * MIN);
        assert_eq!(second.session_id, first.session_id);
        assert!(!second.new_session);
        // The timeout counts from the last hit, not the first.
        let third = assign(&mut tracker, 1, 10, 11, T0 + 58 * MIN);
        assert_eq!(third.session_id, first.session_id);
        let fourth = assign(&mut tracker, 1, 10, 11, T0 + 89 * MIN);
        assert_ne!(fourth.session_id, first.session_id);
        assert!(fourth.new_session);
    }

    #[test]
    fn sites_and_visitors_are_separate() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        let a = assign(&mut tracker, 1, 10, 11, T0);
        let b = assign(&mut tracker, 2, 10, 11, T0);
        let c = assign(&mut tracker, 1, 20, 21, T0);
        assert_ne!(a.session_id, b.session_id);
        assert_ne!(a.session_id, c.session_id);
    }

    #[test]
    fn a_session_survives_midnight() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        // 23:50 under yesterday's salt the visitor hashes to 10.
        let before = assign(&mut tracker, 1, 10, 9, T0 - 10 * MIN);
        // 00:05: today's hash is 30, yesterday's (10) finds the session.
        let after = assign(&mut tracker, 1, 30, 10, T0 + 5 * MIN);
        assert_eq!(after.session_id, before.session_id);
        assert_eq!(after.visitor_id, 10, "the session keeps the visitor it started with");
        // And the next hit finds it under today's hash alone.
        let later = assign(&mut tracker, 1, 30, 10, T0 + 20 * MIN);
        assert_eq!(later.session_id, before.session_id);
        // One visit of three pages, held once.
        assert_eq!(tracker.len(), 1);
        let visit = tracker.visit(1, 30).unwrap();
        assert_eq!((visit.pageviews, visit.end_ms - visit.start_ms), (3, 30 * MIN));
    }

    #[test]
    fn the_visit_keeps_its_entry_exit_bounce_and_origin() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        let landing = Hit { source: Some("Google".into()), ..hit(10, 11, T0, "/") };
        record(&mut tracker, 1, &landing);
        let visit = tracker.visit(1, 10).unwrap();
        assert!(visit.bounce);
        assert_eq!((&*visit.entry_page, &*visit.exit_page), ("/", "/"));
        // A non-interactive event leaves it a bounce; an interactive one ends the bounce.
        record(&mut tracker, 1, &event(10, T0 + MIN, "Scroll", false));
        assert!(tracker.visit(1, 10).unwrap().bounce);
        record(&mut tracker, 1, &event(10, T0 + 2 * MIN, "Signup", true));
        let visit = tracker.visit(1, 10).unwrap();
        assert!(!visit.bounce);
        assert_eq!((visit.pageviews, visit.events), (1, 2));
        // Events do not move the exit page; pageviews do, and an engagement report only
        // lengthens the visit.
        assert_eq!(&*visit.exit_page, "/");
        record(&mut tracker, 1, &hit(10, 11, T0 + 3 * MIN, "/pricing"));
        let engagement = Hit {
            kind: EventKind::Engagement,
            name: "engagement".into(),
            ..hit(10, 11, T0 + 5 * MIN, "/pricing")
        };
        record(&mut tracker, 1, &engagement);
        let visit = tracker.visit(1, 10).unwrap();
        assert_eq!((&*visit.entry_page, &*visit.exit_page), ("/", "/pricing"));
        assert_eq!((visit.pageviews, visit.events, visit.end_ms - visit.start_ms), (2, 2, 5 * MIN));
        // A hit that arrives late but happened first takes over the entry and the origin.
        let earlier = Hit { source: Some("Bing".into()), ..hit(10, 11, T0 - MIN, "/blog") };
        record(&mut tracker, 1, &earlier);
        let visit = tracker.visit(1, 10).unwrap();
        assert_eq!((&*visit.entry_page, visit.origin.source.as_deref()), ("/blog", Some("Bing")));
        assert_eq!(&*visit.exit_page, "/pricing");
    }

    #[test]
    fn a_visit_of_events_only_enters_and_exits_on_their_pages_until_a_pageview() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        record(&mut tracker, 1, &event(10, T0, "Signup", true));
        assert_eq!(&*tracker.visit(1, 10).unwrap().entry_page, "/signup");
        record(&mut tracker, 1, &hit(10, 11, T0 + MIN, "/welcome"));
        let visit = tracker.visit(1, 10).unwrap();
        assert_eq!((&*visit.entry_page, &*visit.exit_page), ("/welcome", "/welcome"));
    }

    #[test]
    fn each_flush_writes_changed_visits_once_and_cancels_their_previous_state() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        let mut rows = EventRowsBuilder::default();
        assign(&mut tracker, 1, 10, 11, T0);
        assign(&mut tracker, 1, 10, 11, T0 + MIN);
        assign(&mut tracker, 1, 20, 21, T0);
        tracker.flush(&mut rows);
        assert_eq!(rows.visits(), 2, "one state per visit");
        tracker.flush(&mut rows);
        assert_eq!(rows.visits(), 2, "nothing changed");
        assign(&mut tracker, 1, 10, 11, T0 + 2 * MIN);
        tracker.flush(&mut rows);
        assert_eq!(rows.visits(), 4, "the old state cancelled, the new one written");
        assert_eq!(tracker.visit(1, 10).unwrap().version, 2);
        // A visit that times out within a batch is still written, as is the one after it.
        assign(&mut tracker, 1, 20, 21, T0 + 10 * MIN);
        assign(&mut tracker, 1, 20, 21, T0 + 60 * MIN);
        tracker.flush(&mut rows);
        assert_eq!(rows.visits(), 7);
    }

    #[test]
    fn seeding_restores_open_sessions_and_ids() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        let mut rows = EventRowsBuilder::default();
        let mut other = SessionTracker::new(4, DEFAULT_SESSION_TIMEOUT_MS);
        assign(&mut other, 1, 10, 11, T0 - 40 * MIN);
        assign(&mut other, 1, 10, 11, T0 - 5 * MIN);
        other.flush(&mut rows);
        let old = VisitRow { session_id: 5, end_ms: T0 - 40 * MIN, ..other.visit(1, 10).unwrap().clone() };
        let open = VisitRow { session_id: 7, start_ms: T0 - 10 * MIN, ..other.visit(1, 10).unwrap().clone() };
        tracker.seed([old, open.clone()], T0);
        let resumed = assign(&mut tracker, 1, 10, 11, T0);
        assert_eq!(resumed.session_id, 7);
        let fresh = assign(&mut tracker, 1, 99, 98, T0);
        assert_eq!(fresh.session_id, 8);
        // The resumed visit cancels the state it was restored from.
        let mut rows = EventRowsBuilder::default();
        tracker.flush(&mut rows);
        assert_eq!(rows.visits(), 3);
        assert_eq!(tracker.visit(1, 10).unwrap().version, open.version + 1);
    }

    #[test]
    fn expiry_bounds_memory() {
        let mut tracker = SessionTracker::new(0, DEFAULT_SESSION_TIMEOUT_MS);
        for visitor in 0..1000 {
            assign(&mut tracker, 1, visitor, visitor + 1, T0);
        }
        // An import: hits from long ago, seen now, stay open while they arrive.
        tracker.record(1, &hit(5000, 5001, T0 - 1000 * MIN, "/").view(), T0 + 20 * MIN);
        assert_eq!(tracker.expire(T0 + 31 * MIN), 1000);
        assert_eq!(tracker.len(), 1);
        let mut rows = EventRowsBuilder::default();
        tracker.flush(&mut rows);
        assert_eq!(rows.visits(), 1001, "visits that expired before a flush are still written");
    }
}
