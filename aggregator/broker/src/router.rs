//! Routing: the broker-wide subscription registry, each connection's cache of subject matches,
//! and the fan-out of one published message into its subscribers' outbound queues.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustc_hash::FxHashMap;
use tokio::sync::watch;

use crate::encode::Outgoing;
use crate::index::{Matches, SubIndex};
use crate::outbound::{Enqueued, Outbound};
use crate::parser::Publish;
use crate::stats::{Stats, Traffic};
use crate::subject;

/// The part of a connection that other connections touch.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) id: u64,
    pub(crate) out: Outbound,
    /// Set once to stop both of the connection's tasks at once (slow consumer, write error).
    pub(crate) abort: watch::Sender<bool>,
    /// The client announced header support, so it gets HMSG.
    pub(crate) headers: AtomicBool,
    /// Subscriptions by sid. Subscriptions point back at the client; [`Router::remove_all`]
    /// breaks the cycle when the connection ends.
    subs: Mutex<FxHashMap<Box<[u8]>, Arc<Subscription>>>,
}

impl Client {
    pub(crate) fn new(id: u64, max_pending: usize) -> Self {
        Self {
            id,
            out: Outbound::new(max_pending),
            abort: watch::Sender::new(false),
            headers: AtomicBool::new(false),
            subs: Mutex::default(),
        }
    }

    /// Drops the outbound queue and stops the connection. Returns whether this call did it.
    pub(crate) fn abort(&self) -> bool {
        self.out.abort();
        !self.abort.send_replace(true)
    }
}

#[derive(Debug)]
pub(crate) struct Subscription {
    id: u64,
    client: Arc<Client>,
    sid: Box<[u8]>,
    filter: Box<[u8]>,
    queue: Option<Box<[u8]>>,
    /// Messages after which the subscription ends; 0 for none.
    max: AtomicU64,
    delivered: AtomicU64,
    removed: AtomicBool,
}

/// Why a SUB was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscribeError {
    TooMany,
}

type SubMatches = Matches<Arc<Subscription>>;

/// All subscriptions of the broker.
#[derive(Debug, Default)]
pub(crate) struct Router {
    index: RwLock<SubIndex<Arc<Subscription>>>,
    /// Bumped on every change of the index, so match caches know when to start over.
    generation: AtomicU64,
    next_subscription_id: AtomicU64,
}

impl Router {
    /// Adds a subscription for a valid filter. A sid the client already uses is left as is.
    pub(crate) fn subscribe(
        &self,
        stats: &Stats,
        client: &Arc<Client>,
        filter: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
        max_subscriptions: usize,
    ) -> Result<(), SubscribeError> {
        let mut subs = client.subs.lock().unwrap_or_else(PoisonError::into_inner);
        if subs.contains_key(sid) {
            return Ok(());
        }
        if subs.len() >= max_subscriptions {
            return Err(SubscribeError::TooMany);
        }
        let subscription = Arc::new(Subscription {
            id: self.next_subscription_id.fetch_add(1, Relaxed),
            client: Arc::clone(client),
            sid: sid.into(),
            filter: filter.into(),
            queue: queue.map(Into::into),
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            removed: AtomicBool::new(false),
        });
        subs.insert(sid.into(), Arc::clone(&subscription));
        // Indexed while the client's map is still locked, so a concurrent UNSUB of the same sid
        // cannot run between the two inserts.
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        index.insert(filter, queue, subscription.id, Arc::clone(&subscription));
        self.generation.fetch_add(1, Relaxed);
        drop(index);
        stats.subscription_added();
        Ok(())
    }

    /// UNSUB: now, or after `max` messages in total have been delivered.
    pub(crate) fn unsubscribe(&self, stats: &Stats, client: &Client, sid: &[u8], max: Option<u64>) {
        let subscription = {
            let subs = client.subs.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(subscription) = subs.get(sid) else { return };
            Arc::clone(subscription)
        };
        if let Some(max) = max.filter(|&max| max > 0) {
            subscription.max.store(max, Relaxed);
            if subscription.delivered.load(Relaxed) < max {
                return;
            }
        }
        self.remove(stats, &subscription);
    }

    /// Removes a subscription from the index and its client; only the first call does anything.
    fn remove(&self, stats: &Stats, subscription: &Subscription) {
        if subscription.removed.swap(true, Relaxed) {
            return;
        }
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        index.remove(&subscription.filter, subscription.queue.as_deref(), subscription.id);
        self.generation.fetch_add(1, Relaxed);
        drop(index);
        let mut subs = subscription.client.subs.lock().unwrap_or_else(PoisonError::into_inner);
        if subs.get(&subscription.sid).is_some_and(|current| current.id == subscription.id) {
            subs.remove(&subscription.sid);
        }
        drop(subs);
        stats.subscription_removed();
    }

    /// Removes every subscription of a closing connection.
    pub(crate) fn remove_all(&self, stats: &Stats, client: &Client) {
        let subs = std::mem::take(&mut *client.subs.lock().unwrap_or_else(PoisonError::into_inner));
        for subscription in subs.values() {
            self.remove(stats, subscription);
        }
    }

    /// Matches without caching, for one-off subjects.
    fn matches(&self, subject: &[u8]) -> SubMatches {
        self.index.read().unwrap_or_else(PoisonError::into_inner).matches(subject)
    }
}

/// One connection's cache of match results by publish subject, valid for one generation of the
/// index. Publishers mostly reuse a few subjects, so most messages skip the trie and its lock.
#[derive(Debug, Default)]
pub(crate) struct MatchCache {
    generation: u64,
    entries: FxHashMap<Box<[u8]>, Arc<SubMatches>>,
    subject_bytes: usize,
}

/// Subjects, and bytes of subjects, a connection remembers before starting over: replies to
/// unique inboxes would otherwise grow the cache forever, and long subjects would let one
/// client hold megabytes.
const MATCH_CACHE_ENTRIES: usize = 4096;
const MATCH_CACHE_SUBJECT_BYTES: usize = 256 * 1024;

impl MatchCache {
    /// The matches of a publish subject, or `None` if it is not a valid literal subject.
    pub(crate) fn lookup(&mut self, router: &Router, subject: &[u8]) -> Option<Arc<SubMatches>> {
        let generation = router.generation.load(Relaxed);
        if generation != self.generation {
            self.clear();
            self.generation = generation;
        }
        if let Some(matches) = self.entries.get(subject) {
            return Some(Arc::clone(matches));
        }
        if !subject::is_valid_literal(subject) {
            return None;
        }
        let matches = Arc::new(router.matches(subject));
        if self.entries.len() >= MATCH_CACHE_ENTRIES || self.subject_bytes >= MATCH_CACHE_SUBJECT_BYTES {
            self.clear();
        }
        self.subject_bytes += subject.len();
        self.entries.insert(subject.into(), Arc::clone(&matches));
        Some(matches)
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.subject_bytes = 0;
    }
}

/// One connection's fan-out state: which writers to wake and which queues are congested once
/// the current read has been processed.
#[derive(Debug)]
pub(crate) struct Fanout {
    to_signal: Vec<Arc<Client>>,
    congested: Vec<Arc<Client>>,
    slow: Vec<(Arc<Client>, usize)>,
    rng: u64,
    pub(crate) traffic: Traffic,
}

impl Fanout {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            to_signal: Vec::new(),
            congested: Vec::new(),
            slow: Vec::new(),
            rng: seed | 1,
            traffic: Traffic::default(),
        }
    }

    /// Delivers to every plain subscriber and one member of each queue group; returns how many
    /// subscriptions got the message.
    pub(crate) fn publish(
        &mut self,
        router: &Router,
        stats: &Stats,
        publisher: &Arc<Client>,
        echo: bool,
        publish: &Publish<'_>,
        matches: &SubMatches,
    ) -> usize {
        self.traffic.messages_in += 1;
        self.traffic.bytes_in += publish.data.len() as u64;
        if matches.is_empty() {
            return 0;
        }
        let outgoing = Outgoing::new(publish);
        let mut delivered = 0;
        for subscription in &matches.plain {
            if (echo || !Arc::ptr_eq(&subscription.client, publisher))
                && self.deliver(router, stats, subscription, &outgoing, publish.data.len())
            {
                delivered += 1;
            }
        }
        for group in &matches.groups {
            let members = &group.members;
            let start = (self.next_random() % members.len() as u64) as usize;
            // Start at a random member; skip members that just ended or are closing.
            for offset in 0..members.len() {
                let subscription = &members[(start + offset) % members.len()];
                if (echo || !Arc::ptr_eq(&subscription.client, publisher))
                    && self.deliver(router, stats, subscription, &outgoing, publish.data.len())
                {
                    delivered += 1;
                    break;
                }
            }
        }
        delivered
    }

    fn deliver(
        &mut self,
        router: &Router,
        stats: &Stats,
        subscription: &Subscription,
        outgoing: &Outgoing<'_>,
        data_len: usize,
    ) -> bool {
        if subscription.removed.load(Relaxed) {
            return false;
        }
        let count = subscription.delivered.fetch_add(1, Relaxed) + 1;
        let max = subscription.max.load(Relaxed);
        if max != 0 && count > max {
            return false;
        }
        let client = &subscription.client;
        let headers = client.headers.load(Relaxed);
        let queued = client.out.enqueue(outgoing.size_hint(&subscription.sid), |frame| {
            outgoing.write(frame, &subscription.sid, headers)
        });
        if !self.note(client, queued) {
            return false;
        }
        if max != 0 && count == max {
            router.remove(stats, subscription);
        }
        self.traffic.messages_out += 1;
        self.traffic.bytes_out += data_len as u64;
        true
    }

    /// Sends a 503 status to the publisher's own subscription for `reply`, if it has one.
    pub(crate) fn no_responders(&mut self, router: &Router, publisher: &Arc<Client>, reply: &[u8]) -> bool {
        if !subject::is_valid_literal(reply) {
            return false;
        }
        let matches = router.matches(reply);
        let own = matches
            .plain
            .iter()
            .chain(matches.groups.iter().flat_map(|group| group.members.iter()))
            .find(|subscription| Arc::ptr_eq(&subscription.client, publisher));
        let Some(subscription) = own else { return false };
        let queued = publisher.out.enqueue(64 + reply.len(), |frame| {
            crate::encode::no_responders(frame, reply, &subscription.sid);
        });
        self.note(publisher, queued)
    }

    /// Queues a control line (PONG, +OK, -ERR, PING) for the connection itself.
    pub(crate) fn send_own(
        &mut self,
        client: &Arc<Client>,
        write: impl FnOnce(&mut crate::outbound::Frame<'_>),
    ) {
        let queued = client.out.enqueue(64, write);
        self.note(client, queued);
    }

    fn note(&mut self, client: &Arc<Client>, queued: Enqueued) -> bool {
        match queued {
            Enqueued::Queued { signal, congested } => {
                if signal {
                    self.to_signal.push(Arc::clone(client));
                }
                if congested && !self.congested.last().is_some_and(|last| Arc::ptr_eq(last, client)) {
                    self.congested.push(Arc::clone(client));
                }
                true
            }
            Enqueued::Closed => false,
            Enqueued::Overflow { pending } => {
                self.slow.push((Arc::clone(client), pending));
                false
            }
        }
    }

    /// Wakes the writers of everyone who got data since the last call.
    pub(crate) fn signal_writers(&mut self) {
        for client in self.to_signal.drain(..) {
            client.out.signal();
        }
    }

    /// Clients whose queue overflowed since the last call, with their pending bytes.
    pub(crate) fn take_slow(&mut self) -> std::vec::Drain<'_, (Arc<Client>, usize)> {
        self.slow.drain(..)
    }

    /// Clients whose queue went above its high-water mark since the last call.
    pub(crate) fn take_congested(&mut self) -> Vec<Arc<Client>> {
        std::mem::take(&mut self.congested)
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: spreads queue-group picks without a shared RNG.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{Batch, Take};

    fn publish(subject: &'static [u8]) -> Publish<'static> {
        Publish { subject, reply: None, header_len: None, data: b"x" }
    }

    fn drain(client: &Client) -> String {
        let mut batch = Batch::new();
        match client.out.take(&mut batch) {
            Take::Data => String::from_utf8(batch.contiguous.to_vec()).unwrap(),
            _ => String::new(),
        }
    }

    struct Setup {
        router: Router,
        stats: Stats,
        cache: MatchCache,
        fanout: Fanout,
    }

    impl Setup {
        fn new() -> Self {
            Self {
                router: Router::default(),
                stats: Stats::default(),
                cache: MatchCache::default(),
                fanout: Fanout::new(7),
            }
        }

        fn subscribe(&self, client: &Arc<Client>, filter: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
            self.router.subscribe(&self.stats, client, filter, queue, sid, 10).unwrap();
        }

        fn publish(&mut self, publisher: &Arc<Client>, subject: &'static [u8]) -> usize {
            let matches = self.cache.lookup(&self.router, subject).unwrap();
            self.fanout.publish(&self.router, &self.stats, publisher, true, &publish(subject), &matches)
        }
    }

    #[test]
    fn cached_matches_follow_subscription_changes() {
        let mut setup = Setup::new();
        let (publisher, subscriber) = (Arc::new(Client::new(1, 1 << 20)), Arc::new(Client::new(2, 1 << 20)));
        assert_eq!(setup.publish(&publisher, b"a.b"), 0);
        setup.subscribe(&subscriber, b"a.*", None, b"1");
        assert_eq!(setup.publish(&publisher, b"a.b"), 1, "the cached empty result was dropped");
        setup.router.unsubscribe(&setup.stats, &subscriber, b"1", None);
        assert_eq!(setup.publish(&publisher, b"a.b"), 0);
        assert_eq!(drain(&subscriber), "MSG a.b 1 1\r\nx\r\n");
        assert!(setup.cache.lookup(&setup.router, b"a.*").is_none(), "wildcards are not publishable");
    }

    #[test]
    fn max_messages_end_the_subscription() {
        let mut setup = Setup::new();
        let (publisher, subscriber) = (Arc::new(Client::new(1, 1 << 20)), Arc::new(Client::new(2, 1 << 20)));
        setup.subscribe(&subscriber, b"m", None, b"9");
        setup.router.unsubscribe(&setup.stats, &subscriber, b"9", Some(2));
        let delivered: Vec<usize> = (0..4).map(|_| setup.publish(&publisher, b"m")).collect();
        assert_eq!(delivered, [1, 1, 0, 0]);
        assert_eq!(setup.stats.snapshot().subscriptions, 0);
        assert!(subscriber.subs.lock().unwrap().is_empty());
    }

    #[test]
    fn one_member_per_queue_group_and_every_plain_subscriber() {
        let mut setup = Setup::new();
        let publisher = Arc::new(Client::new(1, 1 << 20));
        let members: Vec<_> = (2..5).map(|id| Arc::new(Client::new(id, 1 << 20))).collect();
        for member in &members {
            setup.subscribe(member, b"jobs", Some(b"workers"), b"1");
        }
        let plain = Arc::new(Client::new(9, 1 << 20));
        setup.subscribe(&plain, b"jobs", None, b"1");
        for _ in 0..30 {
            assert_eq!(setup.publish(&publisher, b"jobs"), 2);
        }
        let per_member: Vec<usize> =
            members.iter().map(|member| drain(member).matches("MSG").count()).collect();
        assert_eq!(per_member.iter().sum::<usize>(), 30);
        assert!(per_member.iter().all(|&count| count > 0), "{per_member:?}");
        assert_eq!(drain(&plain).matches("MSG").count(), 30);
    }

    #[test]
    fn echo_off_skips_own_subscriptions() {
        let setup = Setup::new();
        let client = Arc::new(Client::new(1, 1 << 20));
        setup.subscribe(&client, b"self", None, b"1");
        let matches = setup.router.matches(b"self");
        let mut fanout = Fanout::new(1);
        assert_eq!(
            fanout.publish(&setup.router, &setup.stats, &client, false, &publish(b"self"), &matches),
            0
        );
        assert_eq!(
            fanout.publish(&setup.router, &setup.stats, &client, true, &publish(b"self"), &matches),
            1
        );
    }
}
