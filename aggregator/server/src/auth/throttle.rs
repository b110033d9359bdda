//! Brute-force protection: sign-in failures slow down per account and per client address,
//! and the auth routes have a request budget per client address.
//!
//! Everything here is in memory (addresses are never written anywhere) and bounded: each map
//! holds at most [`MAX_ENTRIES`] keys, the oldest going first. IPv6 clients are keyed by
//! their /64, since anyone with one address usually has the whole prefix.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Keys kept per map.
pub const MAX_ENTRIES: usize = 100_000;

/// How failures turn into waiting.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures per account before waits begin.
    pub free_per_account: u32,
    /// Failures per client address before waits begin.
    pub free_per_client: u32,
    /// Failures further apart than this start over.
    pub window_ms: i64,
    /// The longest wait.
    pub max_wait_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self { free_per_account: 5, free_per_client: 20, window_ms: 15 * 60_000, max_wait_ms: 15 * 60_000 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_ms: i64,
    blocked_until_ms: i64,
}

/// A bounded map of failure counts.
#[derive(Debug)]
struct Counter<K> {
    entries: HashMap<K, Failures>,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn new() -> Self {
        Self { entries: HashMap::new() }
    }

    fn blocked_for(&self, key: &K, now_ms: i64) -> Option<i64> {
        let failures = self.entries.get(key)?;
        (failures.blocked_until_ms > now_ms).then(|| failures.blocked_until_ms - now_ms)
    }

    /// Counts a failure; `true` when it starts a wait.
    fn fail(&mut self, key: K, free: u32, policy: &Policy, now_ms: i64) -> bool {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
            self.evict(now_ms, policy.window_ms);
        }
        let failures =
            self.entries.entry(key).or_insert(Failures { count: 0, last_ms: now_ms, blocked_until_ms: 0 });
        if now_ms - failures.last_ms > policy.window_ms && failures.blocked_until_ms <= now_ms {
            failures.count = 0;
        }
        failures.count += 1;
        failures.last_ms = now_ms;
        if failures.count <= free {
            return false;
        }
        // 1 s, 2 s, 4 s... after the free attempts, up to the longest wait.
        let doublings = (failures.count - free - 1).min(30);
        let wait = (1_000i64 << doublings).min(policy.max_wait_ms);
        failures.blocked_until_ms = now_ms + wait;
        true
    }

    fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops entries whose window is over, then, if still full, the older half.
    fn evict(&mut self, now_ms: i64, window_ms: i64) {
        self.entries.retain(|_, f| now_ms - f.last_ms <= window_ms || f.blocked_until_ms > now_ms);
        if self.entries.len() >= MAX_ENTRIES {
            let mut ages: Vec<i64> = self.entries.values().map(|f| f.last_ms).collect();
            let middle = ages.len() / 2;
            let (_, median, _) = ages.select_nth_unstable(middle);
            let median = *median;
            self.entries.retain(|_, f| f.last_ms > median);
        }
    }
}

/// The client key: the address, or an IPv6 address's /64.
pub fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
    }
}

/// Sign-in failures per account and per client.
#[derive(Debug)]
pub struct SignInThrottle {
    policy: Policy,
    accounts: Mutex<Counter<String>>,
    clients: Mutex<Counter<IpAddr>>,
}

impl SignInThrottle {
    /// A throttle with this policy.
    pub fn new(policy: Policy) -> Self {
        Self { policy, accounts: Mutex::new(Counter::new()), clients: Mutex::new(Counter::new()) }
    }

    /// `Err(wait_ms)` while the account or the client must wait.
    pub fn check(&self, account: &str, client: IpAddr, now_ms: i64) -> Result<(), i64> {
        let account_wait = lock(&self.accounts).blocked_for(&account.to_owned(), now_ms);
        let client_wait = lock(&self.clients).blocked_for(&client_key(client), now_ms);
        match account_wait.max(client_wait) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failure; `true` when it starts a wait for the account or the client.
    pub fn failed(&self, account: &str, client: IpAddr, now_ms: i64) -> bool {
        let policy = self.policy;
        let account_blocked =
            lock(&self.accounts).fail(account.to_owned(), policy.free_per_account, &policy, now_ms);
        let client_blocked =
            lock(&self.clients).fail(client_key(client), policy.free_per_client, &policy, now_ms);
        account_blocked || client_blocked
    }

    /// A successful sign-in forgets the account's failures (not the client's: one right
    /// password must not reset an address that is trying many accounts).
    pub fn succeeded(&self, account: &str) {
        lock(&self.accounts).clear(&account.to_owned());
    }
}

/// A fixed-window request budget per client address.
#[derive(Debug)]
pub struct RateLimit {
    per_window: u32,
    window_ms: i64,
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl RateLimit {
    /// `per_window` requests per `window_ms` per client.
    pub fn new(per_window: u32, window_ms: i64) -> Self {
        Self { per_window, window_ms, windows: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait_ms)` when the client has used its budget for this window.
    pub fn take(&self, client: IpAddr, now_ms: i64) -> Result<(), i64> {
        let mut windows = lock(&self.windows);
        if windows.len() >= MAX_ENTRIES {
            windows.retain(|_, (start, _)| now_ms - *start < self.window_ms);
            if windows.len() >= MAX_ENTRIES {
                windows.clear();
            }
        }
        let window = windows.entry(client_key(client)).or_insert((now_ms, 0));
        if now_ms - window.0 >= self.window_ms {
            *window = (now_ms, 0);
        }
        if window.1 >= self.per_window {
            return Err(window.0 + self.window_ms - now_ms);
        }
        window.1 += 1;
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str = "ada@example.com";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_account_waits_longer_after_each_failure_past_the_free_ones() {
        let throttle = SignInThrottle::new(Policy::default());
        let client = ip("203.0.113.1");
        for attempt in 0..5 {
            assert_eq!(throttle.check(ADA, client, attempt), Ok(()));
            assert!(!throttle.failed(ADA, client, attempt));
        }
        assert!(throttle.failed(ADA, client, 10));
        assert_eq!(throttle.check(ADA, client, 10), Err(1_000));
        // Another address does not help: the account waits.
        assert_eq!(throttle.check(ADA, ip("198.51.100.1"), 500), Err(510));
        assert_eq!(throttle.check("bob@example.com", ip("198.51.100.1"), 500), Ok(()));
        assert!(throttle.failed(ADA, client, 2_000));
        assert_eq!(throttle.check(ADA, client, 2_000), Err(2_000));
        for n in 0..20 {
            throttle.failed(ADA, client, 10_000 + n);
        }
        assert_eq!(throttle.check(ADA, client, 20_000), Err(15 * 60_000 + 10_019 - 20_000));
        throttle.succeeded(ADA);
        assert_eq!(throttle.check(ADA, ip("192.0.2.1"), 20_000), Ok(()));
    }

    #[test]
    fn a_client_trying_many_accounts_waits_too() {
        let throttle = SignInThrottle::new(Policy::default());
        let client = ip("2001:db8:1:2:3:4:5:6");
        for n in 0..20 {
            throttle.failed(&format!("user{n}@example.com"), client, n);
        }
        assert_eq!(throttle.check("new@example.com", client, 30), Ok(()));
        assert!(throttle.failed("user21@example.com", client, 30));
        // The same /64 is the same client.
        assert!(throttle.check("new@example.com", ip("2001:db8:1:2:ffff::1"), 31).is_err());
        assert_eq!(throttle.check("new@example.com", ip("2001:db8:1:3::1"), 31), Ok(()));
    }

    #[test]
    fn failures_far_apart_start_over() {
        let policy = Policy::default();
        let throttle = SignInThrottle::new(policy);
        let client = ip("203.0.113.1");
        for n in 0..5 {
            throttle.failed(ADA, client, n * (policy.window_ms + 1));
        }
        assert!(!throttle.failed(ADA, client, 6 * (policy.window_ms + 1)));
    }

    #[test]
    fn the_maps_stay_bounded() {
        let policy = Policy::default();
        let mut counter = Counter::new();
        for n in 0..(MAX_ENTRIES as u32 + 10) {
            counter.fail(n, 5, &policy, i64::from(n));
        }
        assert!(counter.entries.len() <= MAX_ENTRIES);
    }

    #[test]
    fn the_rate_limit_refills_each_window() {
        let limit = RateLimit::new(3, 1_000);
        let client = ip("203.0.113.9");
        for _ in 0..3 {
            assert_eq!(limit.take(client, 0), Ok(()));
        }
        assert_eq!(limit.take(client, 400), Err(600));
        assert_eq!(limit.take(ip("203.0.113.10"), 400), Ok(()));
        assert_eq!(limit.take(client, 1_000), Ok(()));
    }
}
