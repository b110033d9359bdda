//! The publisher: sends each spooled batch as a NATS request on the ingest subject, with the
//! batch id as `Nats-Msg-Id`, until the aggregator acknowledges it; then deletes its file.
//!
//! A few batches are in flight at once. A failed attempt (timeout, no responders, a broken
//! connection, a reply that is not an ack) is retried with the same id after an exponential
//! backoff with jitter, forever; a reconnect cuts the wait short. Any ack (stored, duplicate
//! or rejected) frees the spool: the aggregator has made the batch durable or dead-lettered it.
//!
//! In a cluster the ingest subject belongs to a JetStream stream, and the answer is the
//! stream's publish ack instead: the batch is then stored in the replicated stream (or was
//! already, under the same `Nats-Msg-Id`, within the stream's duplicate window), which is
//! as durable as an aggregator's commit. The same request serves both; only the answer
//! differs.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{Client, HeaderMap, Request};
use bytes::Bytes;
use hitkeep_protocol::{Ack, AckStatus, INGEST_SUBJECT, MSG_ID_HEADER};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::metrics as m;
use crate::spool::{Spool, SpoolEntry};

/// Publisher settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublishSettings {
    pub request_timeout: Duration,
    pub in_flight: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

/// Spooled batches waiting to be acknowledged.
#[derive(Debug)]
pub(crate) struct Publisher {
    queue: Mutex<VecDeque<SpoolEntry>>,
    wake: Notify,
    /// Batches queued or in flight.
    outstanding: watch::Sender<usize>,
    /// Notified on every (re)connect, so waiting retries go at once.
    reconnected: Arc<Notify>,
}

impl Publisher {
    pub(crate) fn new(reconnected: Arc<Notify>) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            outstanding: watch::Sender::new(0),
            reconnected,
        }
    }

    /// Queues a spooled batch.
    pub(crate) fn enqueue(&self, entry: SpoolEntry) {
        self.outstanding.send_modify(|n| *n += 1);
        self.queue.lock().expect("publisher lock").push_back(entry);
        self.wake.notify_one();
    }

    /// Batches not yet acknowledged.
    pub(crate) fn outstanding(&self) -> usize {
        *self.outstanding.borrow()
    }

    /// Waits until every queued batch is acknowledged.
    pub(crate) async fn drained(&self) {
        let mut outstanding = self.outstanding.subscribe();
        let _ = outstanding.wait_for(|n| *n == 0).await;
    }

    async fn next(&self, cancel: &CancellationToken) -> Option<SpoolEntry> {
        loop {
            let notified = self.wake.notified();
            if let Some(entry) = self.queue.lock().expect("publisher lock").pop_front() {
                return Some(entry);
            }
            tokio::select! {
                () = notified => {}
                () = cancel.cancelled() => return None,
            }
        }
    }

    /// Publishes queued batches until cancelled. Unacknowledged batches stay in the spool.
    pub(crate) async fn run(
        self: Arc<Self>,
        client: Client,
        spool: Arc<Spool>,
        settings: PublishSettings,
        cancel: CancellationToken,
    ) {
        let permits = Arc::new(Semaphore::new(settings.in_flight.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit.expect("never closed"),
                () = cancel.cancelled() => break,
            };
            let Some(entry) = self.next(&cancel).await else { break };
            let publisher = self.clone();
            let (client, spool, cancel) = (client.clone(), spool.clone(), cancel.clone());
            tasks.spawn(async move {
                if publisher.publish_until_acked(&client, &spool, &entry, settings, &cancel).await {
                    publisher.outstanding.send_modify(|n| *n = n.saturating_sub(1));
                }
                drop(permit);
            });
            // Reap finished tasks so the set does not grow.
            while tasks.try_join_next().is_some() {}
        }
        tasks.shutdown().await;
    }

    /// True once acknowledged (or gone), false if cancelled first.
    async fn publish_until_acked(
        &self,
        client: &Client,
        spool: &Spool,
        entry: &SpoolEntry,
        settings: PublishSettings,
        cancel: &CancellationToken,
    ) -> bool {
        let mut failures = 0u32;
        loop {
            let reason = match tokio::fs::read(&entry.path).await {
                Ok(payload) => match self.attempt(client, entry, payload, settings, cancel).await {
                    Attempt::Acked => {
                        spool.remove(entry);
                        return true;
                    }
                    Attempt::Cancelled => return false,
                    Attempt::Failed(reason) => reason,
                },
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(batch = %entry.id, "a spooled batch disappeared before it was acknowledged");
                    spool.forget(entry);
                    return true;
                }
                Err(error) => {
                    tracing::error!(batch = %entry.id, %error, "could not read a spooled batch");
                    "read"
                }
            };
            failures += 1;
            metrics::counter!(m::BATCHES_RETRIED, "reason" => reason).increment(1);
            if failures == 1 || failures.is_multiple_of(20) {
                tracing::warn!(batch = %entry.id, reason, failures, "batch not acknowledged, will retry");
            }
            let delay = backoff(failures, settings.min_backoff, settings.max_backoff);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.reconnected.notified() => {}
                () = cancel.cancelled() => return false,
            }
        }
    }

    async fn attempt(
        &self,
        client: &Client,
        entry: &SpoolEntry,
        payload: Vec<u8>,
        settings: PublishSettings,
        cancel: &CancellationToken,
    ) -> Attempt {
        let mut headers = HeaderMap::new();
        headers.insert(MSG_ID_HEADER, entry.id.as_str());
        let request = Request::new()
            .headers(headers)
            .payload(Bytes::from(payload))
            .timeout(Some(settings.request_timeout));
        metrics::counter!(m::BATCHES_PUBLISHED).increment(1);
        let reply = tokio::select! {
            reply = client.send_request(INGEST_SUBJECT, request) => reply,
            () = cancel.cancelled() => return Attempt::Cancelled,
        };
        let message = match reply {
            Ok(message) => message,
            Err(error) => {
                return Attempt::Failed(match error.kind() {
                    async_nats::RequestErrorKind::TimedOut => "timeout",
                    async_nats::RequestErrorKind::NoResponders => "no_responders",
                    async_nats::RequestErrorKind::MaxPayloadExceeded => {
                        tracing::error!(batch = %entry.id, "batch exceeds the server's max_payload: raise it to 1 MiB");
                        "max_payload"
                    }
                    _ => "nats",
                });
            }
        };
        match Ack::decode(&message.payload) {
            Ok(ack) if ack.id == entry.id => {
                let status = match ack.status {
                    AckStatus::Stored => "stored",
                    AckStatus::Duplicate => "duplicate",
                    AckStatus::Rejected => {
                        tracing::warn!(batch = %entry.id, error = ?ack.error, "the aggregator rejected a batch");
                        "rejected"
                    }
                };
                metrics::counter!(m::BATCHES_ACKED, "status" => status).increment(1);
                Attempt::Acked
            }
            Ok(ack) => {
                tracing::warn!(batch = %entry.id, acked = %ack.id, "ack for another batch");
                Attempt::Failed("wrong_ack")
            }
            Err(_) => match StreamAck::decode(&message.payload) {
                Some(StreamAck::Stored { duplicate }) => {
                    let status = if duplicate { "duplicate" } else { "stream" };
                    metrics::counter!(m::BATCHES_ACKED, "status" => status).increment(1);
                    Attempt::Acked
                }
                Some(StreamAck::Refused(error)) => {
                    tracing::warn!(batch = %entry.id, %error, "the ingest stream refused a batch");
                    Attempt::Failed("stream_error")
                }
                None => Attempt::Failed("bad_ack"),
            },
        }
    }
}

/// JetStream's answer to a publish on a stream's subject.
#[derive(Debug, PartialEq, Eq)]
enum StreamAck {
    /// Stored (or already stored under the same message id).
    Stored { duplicate: bool },
    /// Not stored (the stream is full, has no quorum, ...): try again.
    Refused(String),
}

impl StreamAck {
    fn decode(payload: &[u8]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct PubAck {
            stream: Option<String>,
            seq: Option<u64>,
            #[serde(default)]
            duplicate: bool,
            error: Option<PubAckError>,
        }
        #[derive(serde::Deserialize)]
        struct PubAckError {
            #[serde(default)]
            description: String,
        }
        let ack: PubAck = serde_json::from_slice(payload).ok()?;
        match ack {
            PubAck { error: Some(error), .. } => Some(Self::Refused(error.description)),
            PubAck { stream: Some(_), seq: Some(_), duplicate, .. } => Some(Self::Stored { duplicate }),
            _ => None,
        }
    }
}

enum Attempt {
    Acked,
    Cancelled,
    Failed(&'static str),
}

/// `min · 2^(failures-1)`, capped at `max`, with "equal jitter": half fixed, half random, so
/// edges that failed together do not retry together.
pub(crate) fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    let ceiling = min.saturating_mul(1 << exponent).min(max);
    let half = ceiling / 2;
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let jitter_nanos = (half.as_nanos() as u64).checked_add(1).map_or(0, |span| random % span);
    half + Duration::from_nanos(jitter_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_acks_are_read() {
        assert_eq!(
            StreamAck::decode(br#"{"stream":"HITKEEP_INGEST","seq":7}"#),
            Some(StreamAck::Stored { duplicate: false })
        );
        assert_eq!(
            StreamAck::decode(br#"{"stream":"HITKEEP_INGEST","domain":"hub","seq":7,"duplicate":true}"#),
            Some(StreamAck::Stored { duplicate: true })
        );
        assert_eq!(
            StreamAck::decode(
                br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#
            ),
            Some(StreamAck::Refused("maximum messages exceeded".into()))
        );
        assert_eq!(StreamAck::decode(br#"{"id":"b-1"}"#), None);
        assert_eq!(StreamAck::decode(b"garbage"), None);
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let (min, max) = (Duration::from_millis(200), Duration::from_secs(30));
        let first = backoff(1, min, max);
        assert!(first >= Duration::from_millis(100) && first <= min, "{first:?}");
        let fifth = backoff(5, min, max);
        assert!(fifth >= Duration::from_millis(1600) && fifth <= Duration::from_millis(3200), "{fifth:?}");
        for failures in [30, 1000, u32::MAX] {
            let capped = backoff(failures, min, max);
            assert!(capped >= max / 2 && capped <= max, "{capped:?}");
        }
    }
}
