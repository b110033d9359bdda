//! Deduplication by batch id, shared by the two pipeline threads: the ids committed before
//! and the ids on their way to a commit, under one lock.
//!
//! The prepare thread *claims* each batch id before it sessionizes the batch's hits; the
//! writer thread *settles* the id once the batch's transaction has committed (or failed).
//! A second copy of a batch that arrives while the first is in flight (an edge that timed
//! out and resent, two aggregators' worth of redelivery) is neither prepared nor written:
//! its reply waits for the first copy's outcome and is then answered as a duplicate, or not
//! at all if the first copy could not be made durable (its edge resends both). Checking both
//! sets under one lock, and settling (the id becomes known before it stops being in flight)
//! under the same lock, leaves no moment at which a copy could slip through as fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use hitkeep_store::KnownBatches;

use crate::batch::ReplyTo;

/// What a claim found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Neither committed nor in flight: prepare it. The id is now in flight.
    Fresh(ReplyTo),
    /// Committed before: answer it as a duplicate now.
    Committed(ReplyTo),
    /// Another copy is in flight; the reply waits for its outcome.
    InFlight,
}

#[derive(Debug)]
struct State {
    known: KnownBatches,
    /// Ids in flight, with the replies of the copies that wait for them.
    in_flight: HashMap<String, Vec<ReplyTo>>,
}

/// The dedupe state, shared between the prepare and writer threads.
#[derive(Debug, Clone)]
pub(crate) struct Dedupe {
    state: Arc<Mutex<State>>,
}

impl Dedupe {
    pub(crate) fn new(known: KnownBatches) -> Self {
        Self { state: Arc::new(Mutex::new(State { known, in_flight: HashMap::new() })) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims `id` for a batch about to be prepared. An error (the confirming query failed)
    /// drops the reply: the batch stays unacked and its edge resends it.
    pub(crate) fn claim(&self, id: &str, reply: ReplyTo) -> hitkeep_store::Result<Claim> {
        let mut state = self.lock();
        if let Some(waiting) = state.in_flight.get_mut(id) {
            waiting.push(reply);
            return Ok(Claim::InFlight);
        }
        if state.known.contains(id)? {
            return Ok(Claim::Committed(reply));
        }
        state.in_flight.insert(id.to_string(), Vec::new());
        Ok(Claim::Fresh(reply))
    }

    /// Ends the flight of a claimed id: `durable_at` is the time it was committed (its rows,
    /// or its dead letter), `None` when nothing was made durable. Returns the replies of the
    /// copies that waited for it: duplicates to answer when it is durable, to leave
    /// unanswered when it is not.
    pub(crate) fn settle(&self, id: &str, durable_at: Option<i64>) -> Vec<ReplyTo> {
        let mut state = self.lock();
        if let Some(at) = durable_at {
            state.known.remember(id, at);
        }
        state.in_flight.remove(id).unwrap_or_default()
    }

    /// Forgets ids received before `before_ms`, once the writer has deleted them.
    pub(crate) fn forget_before(&self, before_ms: i64) {
        self.lock().known.forget_before(before_ms);
    }

    /// Ids in flight now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight.len()
    }
}
