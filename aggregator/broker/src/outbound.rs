//! Per-connection outbound queue: the bytes waiting to be written to one client, bounded by
//! `max_pending_bytes`, filled under a short lock by whoever routes a message to the client and
//! drained by the client's writer task in large writes.
//!
//! Small frames are copied into one contiguous buffer, so hundreds of MSGs leave in a single
//! syscall; payloads of [`SHARE_THRESHOLD`] bytes or more are queued as shared [`Bytes`]
//! segments instead, so a large message fanned out to many clients is never copied per client.
//! Writers are woken once per batch of work (see [`Enqueued::Queued`]), not once per message.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

/// Payloads at least this large are shared between clients instead of copied.
pub(crate) const SHARE_THRESHOLD: usize = 16 * 1024;

/// Initial and retained capacity of the contiguous buffers.
const BUFFER_CAPACITY: usize = 64 * 1024;
/// Buffers that grew past this are dropped after use rather than kept for reuse.
const RETAINED_CAPACITY_LIMIT: usize = 1024 * 1024;

#[derive(Debug)]
pub(crate) struct Outbound {
    state: Mutex<State>,
    /// Wakes the writer task.
    data_ready: Notify,
    /// Wakes publishers waiting for the queue to drain below the high-water mark.
    drained: Notify,
    max_pending: usize,
}

#[derive(Debug)]
struct State {
    /// Frames after the last shared segment.
    tail: BytesMut,
    /// Frames before `tail`, in order, when shared payloads are queued.
    segments: Vec<Bytes>,
    /// Bytes in `tail` and `segments`.
    queued: usize,
    /// Bytes taken by the writer and not yet written.
    in_flight: usize,
    /// Somebody has been told to wake the writer for the queued bytes.
    signaled: bool,
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    /// No more frames are accepted; the writer flushes what is queued and stops.
    Closing,
    /// Queued frames are dropped; the writer stops at once.
    Aborted,
}

/// The outcome of [`Outbound::enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Queued. When `signal` is set the caller must call [`Outbound::signal`] once it has
    /// finished its current batch of work; otherwise someone else will. `congested` means the
    /// queue is above its high-water mark and the caller should slow down.
    Queued { signal: bool, congested: bool },
    /// The connection is closing; the frame was dropped.
    Closed,
    /// The frame would exceed the pending bound: the queue has been aborted and the client is a
    /// slow consumer.
    Overflow { pending: usize },
}

/// Where a frame is written while the queue is locked.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    tail: &'a mut BytesMut,
    segments: &'a mut Vec<Bytes>,
    added: usize,
}

impl Frame<'_> {
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.added += bytes.len();
    }

    /// Queues `payload` without copying it.
    pub(crate) fn put_shared(&mut self, payload: &Bytes) {
        if !self.tail.is_empty() {
            self.segments.push(self.tail.split().freeze());
        }
        self.segments.push(payload.clone());
        self.added += payload.len();
    }
}

/// What the writer took from the queue.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) contiguous: BytesMut,
    pub(crate) segments: Vec<Bytes>,
    pub(crate) len: usize,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Self { contiguous: BytesMut::with_capacity(BUFFER_CAPACITY), segments: Vec::new(), len: 0 }
    }

    /// Empties the batch after it was written, keeping a reasonably sized buffer for reuse.
    pub(crate) fn clear(&mut self) {
        if self.contiguous.capacity() > RETAINED_CAPACITY_LIMIT {
            self.contiguous = BytesMut::with_capacity(BUFFER_CAPACITY);
        } else {
            self.contiguous.clear();
        }
        self.segments.clear();
        self.len = 0;
    }
}

/// What [`Outbound::take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// The batch holds bytes to write.
    Data,
    /// Nothing queued; wait for [`Outbound::wait_for_data`].
    Idle,
    /// Closing and fully flushed.
    Finished,
    /// Aborted.
    Aborted,
}

impl Outbound {
    pub(crate) fn new(max_pending: usize) -> Self {
        let state = State {
            tail: BytesMut::with_capacity(BUFFER_CAPACITY),
            segments: Vec::new(),
            queued: 0,
            in_flight: 0,
            signaled: false,
            mode: Mode::Open,
        };
        Self { state: Mutex::new(state), data_ready: Notify::new(), drained: Notify::new(), max_pending }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is a few
        // assignments that cannot panic halfway in a way that matters for the byte counts.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn high_water(&self) -> usize {
        self.max_pending / 2
    }

    /// Appends one frame, written by `write` (which should add about `size_hint` bytes).
    pub(crate) fn enqueue(&self, size_hint: usize, write: impl FnOnce(&mut Frame<'_>)) -> Enqueued {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.mode != Mode::Open {
            return Enqueued::Closed;
        }
        if size_hint < SHARE_THRESHOLD {
            state.tail.reserve(size_hint);
        }
        let mut frame = Frame { tail: &mut state.tail, segments: &mut state.segments, added: 0 };
        write(&mut frame);
        let added = frame.added;
        state.queued += added;
        let pending = state.queued + state.in_flight;
        if pending > self.max_pending {
            Self::abort_locked(state);
            drop(guard);
            self.wake_all();
            return Enqueued::Overflow { pending };
        }
        let signal = !state.signaled;
        state.signaled = true;
        Enqueued::Queued { signal, congested: pending > self.high_water() }
    }

    /// Wakes the writer.
    pub(crate) fn signal(&self) {
        self.data_ready.notify_one();
    }

    /// Waits until [`Outbound::signal`] was called (possibly before this call).
    pub(crate) async fn wait_for_data(&self) {
        self.data_ready.notified().await;
    }

    /// Moves everything queued into `batch` (which must be empty).
    pub(crate) fn take(&self, batch: &mut Batch) -> Take {
        debug_assert!(batch.len == 0 && batch.contiguous.is_empty() && batch.segments.is_empty());
        let mut guard = self.lock();
        let state = &mut *guard;
        match state.mode {
            Mode::Aborted => return Take::Aborted,
            Mode::Closing if state.queued == 0 => return Take::Finished,
            Mode::Open if state.queued == 0 => return Take::Idle,
            Mode::Open | Mode::Closing => {}
        }
        if state.segments.is_empty() {
            std::mem::swap(&mut state.tail, &mut batch.contiguous);
        } else {
            if !state.tail.is_empty() {
                state.segments.push(state.tail.split().freeze());
            }
            std::mem::swap(&mut state.segments, &mut batch.segments);
        }
        batch.len = state.queued;
        state.in_flight += state.queued;
        state.queued = 0;
        state.signaled = false;
        Take::Data
    }

    /// Records that the writer wrote `written` bytes it had taken.
    pub(crate) fn written(&self, written: usize) {
        let below_high_water = {
            let mut state = self.lock();
            state.in_flight -= written;
            state.queued + state.in_flight <= self.high_water()
        };
        if below_high_water {
            self.drained.notify_waiters();
        }
    }

    /// Bytes queued or being written.
    pub(crate) fn pending(&self) -> usize {
        let state = self.lock();
        state.queued + state.in_flight
    }

    /// Waits up to `max_wait` for the queue to drop below its high-water mark (or close).
    pub(crate) async fn wait_drained(&self, max_wait: Duration) {
        let drained = async {
            loop {
                // Created before the check, so a wakeup between the check and the await counts.
                let notified = self.drained.notified();
                {
                    let state = self.lock();
                    if state.mode != Mode::Open || state.queued + state.in_flight <= self.high_water() {
                        return;
                    }
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(max_wait, drained).await;
    }

    /// Stops accepting frames; the writer flushes what is queued, then finishes.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        if state.mode == Mode::Open {
            state.mode = Mode::Closing;
        }
        drop(state);
        self.wake_all();
    }

    /// Drops everything queued; the writer stops. Returns whether this call aborted the queue.
    pub(crate) fn abort(&self) -> bool {
        let mut state = self.lock();
        let first = state.mode != Mode::Aborted;
        Self::abort_locked(&mut state);
        drop(state);
        self.wake_all();
        first
    }

    fn abort_locked(state: &mut State) {
        state.mode = Mode::Aborted;
        state.tail = BytesMut::new();
        state.segments = Vec::new();
        state.queued = 0;
    }

    fn wake_all(&self) {
        self.data_ready.notify_one();
        self.drained.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(outbound: &Outbound, bytes: &[u8]) -> Enqueued {
        outbound.enqueue(bytes.len(), |frame| frame.put(bytes))
    }

    fn take_all(outbound: &Outbound) -> Vec<u8> {
        let mut batch = Batch::new();
        assert_eq!(outbound.take(&mut batch), Take::Data);
        let mut bytes = batch.contiguous.to_vec();
        for segment in &batch.segments {
            bytes.extend_from_slice(segment);
        }
        assert_eq!(bytes.len(), batch.len);
        outbound.written(batch.len);
        bytes
    }

    #[test]
    fn only_the_first_enqueue_of_a_batch_signals() {
        let outbound = Outbound::new(1024);
        assert_eq!(put(&outbound, b"a"), Enqueued::Queued { signal: true, congested: false });
        assert_eq!(put(&outbound, b"b"), Enqueued::Queued { signal: false, congested: false });
        assert_eq!(take_all(&outbound), b"ab");
        assert_eq!(put(&outbound, b"c"), Enqueued::Queued { signal: true, congested: false });
    }

    #[test]
    fn shared_segments_keep_order() {
        let outbound = Outbound::new(1 << 20);
        let big = Bytes::from(vec![b'x'; SHARE_THRESHOLD]);
        outbound.enqueue(10, |frame| {
            frame.put(b"MSG a 1 ");
            frame.put_shared(&big);
            frame.put(b"\r\n");
        });
        put(&outbound, b"PING\r\n");
        let mut expected = b"MSG a 1 ".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\nPING\r\n");
        assert_eq!(take_all(&outbound), expected);
        assert_eq!(outbound.pending(), 0);
    }

    #[test]
    fn overflow_aborts_and_counts_in_flight_bytes() {
        let outbound = Outbound::new(10);
        assert!(matches!(put(&outbound, b"123456"), Enqueued::Queued { congested: true, .. }));
        let mut batch = Batch::new();
        assert_eq!(outbound.take(&mut batch), Take::Data);
        // Six bytes are still in flight, so five more exceed the bound.
        assert_eq!(put(&outbound, b"12345"), Enqueued::Overflow { pending: 11 });
        assert_eq!(put(&outbound, b"1"), Enqueued::Closed);
        batch.clear();
        assert_eq!(outbound.take(&mut batch), Take::Aborted);
        assert!(!outbound.abort(), "already aborted");
    }

    #[test]
    fn close_flushes_then_finishes() {
        let outbound = Outbound::new(100);
        put(&outbound, b"-ERR 'x'\r\n");
        outbound.close();
        assert_eq!(put(&outbound, b"late"), Enqueued::Closed);
        assert_eq!(take_all(&outbound), b"-ERR 'x'\r\n");
        assert_eq!(outbound.take(&mut Batch::new()), Take::Finished);
    }

    #[tokio::test]
    async fn drained_wakes_stalled_publishers() {
        let outbound = std::sync::Arc::new(Outbound::new(10));
        put(&outbound, b"1234567");
        let mut batch = Batch::new();
        outbound.take(&mut batch);
        let waiter = tokio::spawn({
            let outbound = outbound.clone();
            async move { outbound.wait_drained(Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        outbound.written(batch.len);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
    }
}
