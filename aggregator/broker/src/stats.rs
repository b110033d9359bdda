//! Broker counters: kept as atomics for [`BrokerStats`] snapshots and mirrored to the `metrics`
//! facade (no recorder is installed here; the embedding binary chooses one).
//!
//! Metric names: `hitkeep_broker_connections` (gauge), `hitkeep_broker_subscriptions` (gauge),
//! and the counters `hitkeep_broker_connections_total`, `hitkeep_broker_messages_in_total`,
//! `hitkeep_broker_bytes_in_total`, `hitkeep_broker_messages_out_total`,
//! `hitkeep_broker_bytes_out_total`, `hitkeep_broker_slow_consumers_total`,
//! `hitkeep_broker_auth_failures_total`, `hitkeep_broker_permission_violations_total`,
//! `hitkeep_broker_no_responders_total`,
//! `hitkeep_broker_rejected_connections_total` and `hitkeep_broker_protocol_errors_total`
//! (label `reason`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the broker's counters, from [`crate::BrokerHandle::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Open client connections.
    pub connections: u64,
    /// Connections accepted since start.
    pub total_connections: u64,
    /// Active subscriptions.
    pub subscriptions: u64,
    /// Messages published by clients.
    pub messages_in: u64,
    /// Bytes of published messages (headers and payload).
    pub bytes_in: u64,
    /// Messages delivered to subscribers.
    pub messages_out: u64,
    /// Bytes of delivered messages (headers and payload).
    pub bytes_out: u64,
    /// Clients disconnected for falling behind.
    pub slow_consumers: u64,
    /// CONNECTs refused for bad credentials, or ops sent before an authenticated CONNECT.
    pub auth_failures: u64,
    /// Publishes and subscriptions refused by a client's permissions.
    pub permission_violations: u64,
    /// Connections refused because `max_connections` was reached.
    pub rejected_connections: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    connections: AtomicU64,
    total_connections: AtomicU64,
    subscriptions: AtomicU64,
    messages_in: AtomicU64,
    bytes_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_out: AtomicU64,
    slow_consumers: AtomicU64,
    auth_failures: AtomicU64,
    permission_violations: AtomicU64,
    rejected_connections: AtomicU64,
}

/// Traffic counted by one connection over one read, added to the shared counters at once.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) messages_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) messages_out: u64,
    pub(crate) bytes_out: u64,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> BrokerStats {
        BrokerStats {
            connections: self.connections.load(Relaxed),
            total_connections: self.total_connections.load(Relaxed),
            subscriptions: self.subscriptions.load(Relaxed),
            messages_in: self.messages_in.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            messages_out: self.messages_out.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            slow_consumers: self.slow_consumers.load(Relaxed),
            auth_failures: self.auth_failures.load(Relaxed),
            permission_violations: self.permission_violations.load(Relaxed),
            rejected_connections: self.rejected_connections.load(Relaxed),
        }
    }

    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }

    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Relaxed);
        self.total_connections.fetch_add(1, Relaxed);
        metrics::gauge!("hitkeep_broker_connections").increment(1.0);
        metrics::counter!("hitkeep_broker_connections_total").increment(1);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections.fetch_sub(1, Relaxed);
        metrics::gauge!("hitkeep_broker_connections").decrement(1.0);
    }

    pub(crate) fn connection_rejected(&self) {
        self.rejected_connections.fetch_add(1, Relaxed);
        metrics::counter!("hitkeep_broker_rejected_connections_total").increment(1);
    }

    pub(crate) fn subscription_added(&self) {
        self.subscriptions.fetch_add(1, Relaxed);
        metrics::gauge!("hitkeep_broker_subscriptions").increment(1.0);
    }

    pub(crate) fn subscription_removed(&self) {
        self.subscriptions.fetch_sub(1, Relaxed);
        metrics::gauge!("hitkeep_broker_subscriptions").decrement(1.0);
    }

    pub(crate) fn add_traffic(&self, traffic: &mut Traffic) {
        if traffic.messages_in > 0 {
            self.messages_in.fetch_add(traffic.messages_in, Relaxed);
            self.bytes_in.fetch_add(traffic.bytes_in, Relaxed);
            metrics::counter!("hitkeep_broker_messages_in_total").increment(traffic.messages_in);
            metrics::counter!("hitkeep_broker_bytes_in_total").increment(traffic.bytes_in);
        }
        if traffic.messages_out > 0 {
            self.messages_out.fetch_add(traffic.messages_out, Relaxed);
            self.bytes_out.fetch_add(traffic.bytes_out, Relaxed);
            metrics::counter!("hitkeep_broker_messages_out_total").increment(traffic.messages_out);
            metrics::counter!("hitkeep_broker_bytes_out_total").increment(traffic.bytes_out);
        }
        *traffic = Traffic::default();
    }

    pub(crate) fn slow_consumer(&self) {
        self.slow_consumers.fetch_add(1, Relaxed);
        metrics::counter!("hitkeep_broker_slow_consumers_total").increment(1);
    }

    pub(crate) fn permission_violation(&self) {
        self.permission_violations.fetch_add(1, Relaxed);
        metrics::counter!("hitkeep_broker_permission_violations_total").increment(1);
    }

    pub(crate) fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Relaxed);
        metrics::counter!("hitkeep_broker_auth_failures_total").increment(1);
    }

    pub(crate) fn no_responders(&self) {
        metrics::counter!("hitkeep_broker_no_responders_total").increment(1);
    }

    pub(crate) fn protocol_error(&self, reason: &'static str) {
        metrics::counter!("hitkeep_broker_protocol_errors_total", "reason" => reason).increment(1);
    }
}
