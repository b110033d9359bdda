//! Events handed to the collector in groups (see [`hitkeep_protocol::group`]).
//!
//! A component call costs a store, an instance, its memory and a dozen `wasi:http` resources:
//! several times the collector's own work on one event. So `POST /api/event` requests do not
//! each get a call. Each joins a queue, and a *lane* (at most one per CPU) takes everything
//! queued, up to [`MAX_GROUP_EVENTS`] events or [`MAX_GROUP_BYTES`], and hands it to a fresh
//! instance as one internal request; the replies come back in order and each waiting request
//! gets its own.
//!
//! Nothing waits to fill a group: an idle edge sends an event on at once, alone. Groups form
//! only while every lane is busy, so they grow with the load and the per-event cost falls as
//! it rises. A lane runs in its own task: a client that disconnects cancels its own wait,
//! never the call that carries its neighbours' events.
//!
//! The queue is bounded, by events ([`RuntimeLimits::event_queue_limit`]) and by bytes
//! ([`MAX_QUEUED_BYTES`]): when the component cannot keep up, further events are refused at
//! once (`503` with `Retry-After`) instead of piling up in memory and waiting longer and
//! longer.
//!
//! [`RuntimeLimits::event_queue_limit`]: crate::RuntimeLimits::event_queue_limit

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hitkeep_protocol::group::{
    GROUP_KEY_HEADER, GROUP_PATH, GroupReply, GroupRequest, MAX_GROUP_BYTES, MAX_GROUP_EVENTS,
    decode_replies, encode_requests,
};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::sync::{Semaphore, oneshot};

use crate::host::Inner;
use crate::metrics as m;
use crate::runtime::GuestEnv;

/// The environment variable that gives the component the group key.
const GROUP_KEY_VAR: &str = "HITKEEP_GROUP_KEY";

/// The content type of group requests and replies.
const GROUP_CONTENT_TYPE: &str = "application/x-hitkeep-group";

/// Bytes an event adds to an encoded group besides its headers and body.
const ITEM_OVERHEAD: usize = 6;

/// The most bytes of events (headers and bodies) waiting for a lane at once: four full groups.
pub(crate) const MAX_QUEUED_BYTES: usize = 4 * MAX_GROUP_BYTES;

/// An event waiting for a lane.
struct Pending {
    request: GroupRequest,
    reply: oneshot::Sender<Result<GroupReply, Failed>>,
}

/// Why an event got no reply from a group.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The call failed (counted in `hitkeep_edge_component_errors_total` by reason).
    Call,
    /// The component does not serve groups (one built elsewhere, or an older collector): the
    /// event's body comes back, to be sent on alone, as every later event will be.
    Unsupported(Bytes),
    /// The queue is full: the event was not taken.
    Full,
}

/// What a group call came to.
enum Outcome {
    Replied(Vec<GroupReply>),
    Failed,
    Unsupported,
}

/// Events waiting for a lane, and their encoded size.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Pending>,
    bytes: usize,
}

/// The queue and the lanes of one host.
pub(crate) struct EventGroups {
    queue: Mutex<Queue>,
    /// The most events `queue` holds.
    limit: usize,
    lanes: Arc<Semaphore>,
    /// False once the component answered a group with something else than group replies.
    supported: AtomicBool,
    /// A random secret per process: the component serves the group route only to whoever
    /// presents it, and the host strips client-sent `x-hitkeep-*` headers.
    key: String,
}

impl std::fmt::Debug for EventGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventGroups").field("lanes", &self.lanes.available_permits()).finish_non_exhaustive()
    }
}

impl EventGroups {
    pub(crate) fn new(lanes: usize, limit: usize) -> Self {
        let mut secret = [0u8; 16];
        getrandom::fill(&mut secret).expect("the operating system's random source");
        let key = secret.iter().map(|byte| format!("{byte:02x}")).collect();
        Self {
            queue: Mutex::new(Queue::default()),
            limit: limit.max(1),
            lanes: Arc::new(Semaphore::new(lanes.max(1))),
            supported: AtomicBool::new(true),
            key,
        }
    }

    /// False when the component turned out not to serve groups: send events alone.
    pub(crate) fn supported(&self) -> bool {
        self.supported.load(Ordering::Relaxed)
    }

    /// Queues one event and waits for the component's reply to it.
    pub(crate) async fn submit(inner: &Arc<Inner>, request: GroupRequest) -> Result<GroupReply, Failed> {
        let (reply, answer) = oneshot::channel();
        let groups = &inner.groups;
        groups.enqueue(Pending { request, reply })?;
        if let Ok(lane) = groups.lanes.clone().try_acquire_owned() {
            let inner = inner.clone();
            tokio::spawn(async move {
                run_lane(&inner).await;
                drop(lane);
                // An event queued between the lane's last look and the permit's release found
                // no free lane: look again.
                reopen(inner);
            });
        }
        // Every lane is busy: one of them takes this event when it next looks at the queue.
        answer.await.unwrap_or(Err(Failed::Call))
    }

    /// Adds an event to the queue, unless it is full (by count or bytes).
    fn enqueue(&self, pending: Pending) -> Result<(), Failed> {
        let size = encoded_size(&pending.request);
        let mut queue = self.queue.lock().expect("group queue lock");
        if queue.waiting.len() >= self.limit || queue.bytes + size > MAX_QUEUED_BYTES {
            drop(queue);
            metrics::counter!(m::EVENT_QUEUE_FULL).increment(1);
            return Err(Failed::Full);
        }
        queue.bytes += size;
        queue.waiting.push_back(pending);
        let waiting = queue.waiting.len();
        drop(queue);
        metrics::gauge!(m::EVENT_QUEUE).set(waiting as f64);
        Ok(())
    }

    fn take_group(&self) -> Vec<Pending> {
        let mut queue = self.queue.lock().expect("group queue lock");
        let mut group = Vec::new();
        let mut bytes = 8;
        while let Some(next) = queue.waiting.front() {
            let size = encoded_size(&next.request);
            if !group.is_empty() && (group.len() == MAX_GROUP_EVENTS || bytes + size > MAX_GROUP_BYTES) {
                break;
            }
            bytes += size;
            queue.bytes -= size;
            group.extend(queue.waiting.pop_front());
        }
        metrics::gauge!(m::EVENT_QUEUE).set(queue.waiting.len() as f64);
        group
    }
}

/// Starts a lane for events left in the queue, if there are any and a lane is free.
fn reopen(inner: Arc<Inner>) {
    let groups = &inner.groups;
    if groups.queue.lock().expect("group queue lock").waiting.is_empty() {
        return;
    }
    if let Ok(lane) = groups.lanes.clone().try_acquire_owned() {
        tokio::spawn(async move {
            run_lane(&inner).await;
            drop(lane);
            reopen(inner);
        });
    }
}

/// Calls the component with what is queued until the queue is empty.
async fn run_lane(inner: &Inner) {
    loop {
        let group = inner.groups.take_group();
        if group.is_empty() {
            return;
        }
        metrics::histogram!(m::EVENT_GROUP_SIZE).record(group.len() as f64);
        let (requests, waiting): (Vec<GroupRequest>, Vec<_>) =
            group.into_iter().map(|pending| (pending.request, pending.reply)).unzip();
        match call(inner, &requests).await {
            Outcome::Replied(replies) => {
                for (waiter, reply) in waiting.into_iter().zip(replies) {
                    let _ = waiter.send(Ok(reply));
                }
            }
            Outcome::Failed => {
                for waiter in waiting {
                    let _ = waiter.send(Err(Failed::Call));
                }
            }
            Outcome::Unsupported => {
                if inner.groups.supported.swap(false, Ordering::Relaxed) {
                    tracing::info!("the component does not serve event groups; sending events one by one");
                }
                for (waiter, request) in waiting.into_iter().zip(requests) {
                    let _ = waiter.send(Err(Failed::Unsupported(request.body.into())));
                }
            }
        }
    }
}

/// One call of the component with a group.
async fn call(inner: &Inner, requests: &[GroupRequest]) -> Outcome {
    let body = Bytes::from(encode_requests(requests));
    let request = Request::post(GROUP_PATH)
        .header(http::header::HOST, "localhost")
        .header(GROUP_KEY_HEADER, inner.groups.key.as_str())
        .header(http::header::CONTENT_TYPE, GROUP_CONTENT_TYPE)
        .body(Full::new(body));
    let Ok(request) = request else { return Outcome::Failed };
    let config = inner.config.get();
    let mut vars = inner.guest_vars(config.as_deref());
    vars.push((GROUP_KEY_VAR, inner.groups.key.as_str()));
    let env = GuestEnv { vars: &vars, config: config.as_ref() };
    let response = match inner.instances.call(request, env, MAX_GROUP_BYTES).await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(reason = error.reason(), %error, events = requests.len(), "the collector component failed on a group");
            return Outcome::Failed;
        }
    };
    let is_group =
        response.headers().get(http::header::CONTENT_TYPE).is_some_and(|value| value == GROUP_CONTENT_TYPE);
    if response.status() != StatusCode::OK || !is_group {
        return Outcome::Unsupported;
    }
    match decode_replies(response.body()) {
        Ok(replies) if replies.len() == requests.len() => Outcome::Replied(replies),
        Ok(replies) => {
            tracing::error!(
                sent = requests.len(),
                answered = replies.len(),
                "the collector answered a group partly"
            );
            Outcome::Failed
        }
        Err(error) => {
            tracing::error!(%error, "the collector's group replies do not decode");
            Outcome::Failed
        }
    }
}

fn encoded_size(request: &GroupRequest) -> usize {
    let headers: usize = request.headers.iter().map(|(name, value)| 6 + name.len() + value.len()).sum();
    ITEM_OVERHEAD + headers + request.body.len()
}

/// A request's headers as a group carries them.
pub(crate) fn group_request(headers: &HeaderMap, body: Bytes) -> GroupRequest {
    let headers =
        headers.iter().map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec())).collect();
    GroupRequest { headers, body: body.into() }
}

/// The HTTP response for one event's reply.
pub(crate) fn response(reply: GroupReply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value))
        else {
            continue;
        };
        headers.append(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_become_responses() {
        let reply = GroupReply {
            status: 202,
            headers: vec![
                ("x-hitkeep-dropped".into(), b"bot".to_vec()),
                ("access-control-allow-origin".into(), b"*".to_vec()),
                ("bad name".into(), b"x".to_vec()),
            ],
            body: vec![],
        };
        let converted = response(reply);
        assert_eq!(converted.status(), StatusCode::ACCEPTED);
        assert_eq!(converted.headers()["x-hitkeep-dropped"], "bot");
        assert_eq!(converted.headers().len(), 2);
        assert_eq!(response(GroupReply { status: 1000, ..GroupReply::default() }).status(), 500);
    }

    #[test]
    fn groups_are_cut_by_count_and_bytes() {
        let groups = EventGroups::new(1, 1000);
        let small = GroupRequest { headers: vec![("a".into(), vec![1])], body: vec![0; 100] };
        let big = GroupRequest { headers: vec![], body: vec![0; MAX_GROUP_BYTES / 2] };
        let mut answers = Vec::new();
        let mut push = |request: &GroupRequest| {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            assert!(groups.enqueue(Pending { request: request.clone(), reply }).is_ok());
        };
        for _ in 0..MAX_GROUP_EVENTS + 5 {
            push(&small);
        }
        push(&big);
        push(&big);
        assert_eq!(groups.take_group().len(), MAX_GROUP_EVENTS);
        assert_eq!(groups.take_group().len(), 6, "5 small ones and the first big one");
        assert_eq!(groups.take_group().len(), 1);
        assert!(groups.take_group().is_empty());
        assert_eq!(groups.key.len(), 32);
        assert_ne!(groups.key, EventGroups::new(1, 1).key);
        assert_eq!(groups.queue.lock().unwrap().bytes, 0);
    }

    #[test]
    fn a_full_queue_refuses_events_and_takes_them_again_once_drained() {
        let groups = EventGroups::new(1, 3);
        let event = GroupRequest { headers: vec![], body: vec![0; 10] };
        let mut answers = Vec::new();
        let mut push = |request: GroupRequest| {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            groups.enqueue(Pending { request, reply })
        };
        for _ in 0..3 {
            assert!(push(event.clone()).is_ok());
        }
        assert!(matches!(push(event.clone()), Err(Failed::Full)), "the fourth event is over the limit");
        assert_eq!(groups.take_group().len(), 3);
        assert!(push(event.clone()).is_ok(), "a drained queue takes events again");

        // The byte bound holds whatever the count.
        let groups = EventGroups::new(1, 1000);
        let (reply, _answer) = oneshot::channel();
        let huge = GroupRequest { headers: vec![], body: vec![0; MAX_QUEUED_BYTES] };
        assert!(matches!(groups.enqueue(Pending { request: huge, reply }), Err(Failed::Full)));
        assert_eq!(groups.queue.lock().unwrap().bytes, 0);
    }
}
