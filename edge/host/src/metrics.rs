//! Every metric the edge host records, named and described in one place.
//!
//! They go to the `metrics` facade; the `hitkeep-edge` binary installs a Prometheus recorder,
//! an embedding process installs its own.

/// Requests answered, by `route` (`event`, `other`, `health`) and `status`.
pub const HTTP_REQUESTS: &str = "hitkeep_edge_http_requests_total";
/// Requests refused by the host before the component ran, by `reason`.
pub const HTTP_REFUSED: &str = "hitkeep_edge_http_refused_total";
/// Seconds per component call (instantiate + run + response body).
pub const COMPONENT_SECONDS: &str = "hitkeep_edge_component_seconds";
/// Largest linear memory of the instance that served a request, in bytes.
pub const COMPONENT_MEMORY: &str = "hitkeep_edge_component_memory_bytes";
/// Histogram: events per component call on `/api/event` (see `group`).
pub const EVENT_GROUP_SIZE: &str = "hitkeep_edge_event_group_size";
/// Events waiting for a lane.
pub const EVENT_QUEUE: &str = "hitkeep_edge_event_queue";
/// Events refused because the queue was full.
pub const EVENT_QUEUE_FULL: &str = "hitkeep_edge_event_queue_full_total";
/// Component calls that gave no response, by `reason` (`deadline`, `trap`, ...).
pub const COMPONENT_ERRORS: &str = "hitkeep_edge_component_errors_total";
/// Outgoing requests of the component to anything but the sink, refused.
pub const OUTGOING_REFUSED: &str = "hitkeep_edge_outgoing_refused_total";
/// Hits taken from the component into the batcher.
pub const HITS_ACCEPTED: &str = "hitkeep_edge_hits_accepted_total";
/// Hits the component posted that break the wire contract, dropped.
pub const HITS_INVALID: &str = "hitkeep_edge_hits_invalid_total";
/// Batches the component posted that did not decode, by `reason`.
pub const SINK_INVALID: &str = "hitkeep_edge_sink_invalid_batches_total";
/// Posted batches refused because the spool was full (their hits are lost unless the
/// tracker retries).
pub const SPOOL_FULL: &str = "hitkeep_edge_spool_full_total";
/// Hits refused because the spool was full.
pub const SPOOL_FULL_HITS: &str = "hitkeep_edge_spool_full_hits_total";
/// Batches written to the spool.
pub const BATCHES_SPOOLED: &str = "hitkeep_edge_batches_spooled_total";
/// Hits written to the spool; equal to the hits accepted once the batcher holds none (what
/// a `kill -9` would lose is the difference).
pub const HITS_SPOOLED: &str = "hitkeep_edge_hits_spooled_total";
/// Spool write failures (the batch is kept in memory and written again).
pub const JOURNAL_SYNC_SECONDS: &str = "hitkeep_edge_journal_sync_seconds";
/// Counter: hits answered 503 because the journal did not get them on disk in time.
pub const JOURNAL_TIMEOUTS: &str = "hitkeep_edge_journal_timeouts_total";
/// Counter: spool or journal writes that failed (retried).
pub const SPOOL_ERRORS: &str = "hitkeep_edge_spool_errors_total";
/// Files in the spool.
pub const SPOOL_FILES: &str = "hitkeep_edge_spool_files";
/// Bytes in the spool.
pub const SPOOL_BYTES: &str = "hitkeep_edge_spool_bytes";
/// Batch publish attempts (a request on the ingest subject).
pub const BATCHES_PUBLISHED: &str = "hitkeep_edge_batches_published_total";
/// Batches acknowledged by the aggregator, by `status` (`stored`, `duplicate`, `rejected`).
pub const BATCHES_ACKED: &str = "hitkeep_edge_batches_acked_total";
/// Failed publish attempts that will be retried, by `reason`.
pub const BATCHES_RETRIED: &str = "hitkeep_edge_batches_retried_total";
/// Configuration requests, by `result` (`ok`, `invalid`, `error`).
pub const CONFIG_FETCHES: &str = "hitkeep_edge_config_fetches_total";
/// 1 once a configuration has been loaded.
pub const CONFIG_LOADED: &str = "hitkeep_edge_config_loaded";
/// 1 while connected to NATS.
pub const NATS_CONNECTED: &str = "hitkeep_edge_nats_connected";

/// Registers the descriptions (shown as `# HELP` by Prometheus).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route and status");
    describe_counter!(HTTP_REFUSED, "requests refused by the host before the component ran, by reason");
    describe_histogram!(
        COMPONENT_SECONDS,
        metrics::Unit::Seconds,
        "component call time: instantiate, run, response"
    );
    describe_histogram!(COMPONENT_MEMORY, metrics::Unit::Bytes, "peak linear memory of a component instance");
    describe_histogram!(EVENT_GROUP_SIZE, "events handed to the collector in one component call");
    describe_gauge!(EVENT_QUEUE, "events waiting for a free lane");
    describe_counter!(EVENT_QUEUE_FULL, "events refused with 503 because the event queue was full");
    describe_counter!(COMPONENT_ERRORS, "component calls without a response, by reason");
    describe_counter!(OUTGOING_REFUSED, "outgoing requests of the component to anything but the sink");
    describe_counter!(HITS_ACCEPTED, "hits taken into the batcher");
    describe_histogram!(
        JOURNAL_SYNC_SECONDS,
        metrics::Unit::Seconds,
        "one group commit of the journal: writing and syncing the hits that arrived since the last"
    );
    describe_counter!(JOURNAL_TIMEOUTS, "posts answered 503 because their hits were not on disk within 10 s");
    describe_counter!(HITS_INVALID, "hits from the component that break the wire contract, dropped");
    describe_counter!(SINK_INVALID, "batches posted by the component that did not decode, by reason");
    describe_counter!(SPOOL_FULL, "posted batches refused because the spool was full");
    describe_counter!(SPOOL_FULL_HITS, "hits refused because the spool was full");
    describe_counter!(BATCHES_SPOOLED, "batches written to the spool");
    describe_counter!(HITS_SPOOLED, "hits written to the spool");
    describe_counter!(SPOOL_ERRORS, "spool write failures");
    describe_gauge!(SPOOL_FILES, "batch files in the spool");
    describe_gauge!(SPOOL_BYTES, metrics::Unit::Bytes, "bytes in the spool");
    describe_counter!(BATCHES_PUBLISHED, "batch publish attempts");
    describe_counter!(BATCHES_ACKED, "batches acknowledged by the aggregator, by status");
    describe_counter!(BATCHES_RETRIED, "failed publish attempts, retried later, by reason");
    describe_counter!(CONFIG_FETCHES, "configuration requests, by result");
    describe_gauge!(CONFIG_LOADED, "1 once a configuration has been loaded");
    describe_gauge!(NATS_CONNECTED, "1 while connected to NATS");
}
