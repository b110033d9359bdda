//! One request in, one reply out: routing, the event pipeline and every error, over a [`Host`]
//! that does the I/O (WASI in the component, a fake in tests).

use std::fmt;
use std::fmt::Write as _;

use std::net::IpAddr;

use hitkeep_collector_core::limits::MAX_BODY_BYTES;
use hitkeep_collector_core::{Config, ConfigError, RequestError, RequestInfo, opt_out_header, process};
use hitkeep_protocol::group::{
    GROUP_KEY_HEADER, GroupReply, MAX_GROUP_BYTES, decode_requests, encode_replies,
};
use hitkeep_protocol::{Ack, AckStatus, Batch, Hit};

use crate::reply::Reply;
use crate::request::{AddressError, RequestHead, Route, client_address, event_time, geo, route};
use crate::settings::{Endpoint, Settings, env};

/// The content type of a group's replies.
pub const GROUP_CONTENT_TYPE: &str = "application/x-hitkeep-group";

const EVENT_PATH: &str = "/api/event";

/// Most bytes of the configuration response read (a few hundred bytes per site).
pub const CONFIG_RESPONSE_LIMIT: usize = 4 * 1024 * 1024;

/// Most bytes of the sink's response read (an [`Ack`]).
pub const SINK_RESPONSE_LIMIT: usize = 64 * 1024;

/// What the component needs from the runtime it runs in.
pub trait Host {
    /// A setting, by its environment variable's name: in the component, the host's
    /// `wasi:config/store` under [`crate::settings::config_key`] first, then the environment.
    fn env(&self, name: &str) -> Option<String>;

    /// Wall-clock time, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// 16 random bytes from a secure source.
    fn random_bytes(&mut self) -> [u8; 16];

    /// The request body. Reading stops once more than `max` bytes have arrived, so this
    /// returns at most `max + 1` bytes: never an unbounded read.
    fn read_body(&mut self, max: usize) -> Result<Vec<u8>, String>;

    /// Sends an outgoing request and reads at most `outbound.response_limit` bytes of the
    /// response body (the rest is discarded). `Err` says why no response came.
    fn send(&mut self, outbound: Outbound) -> Result<Inbound, String>;

    /// Writes a log line: lowercase, with no IP address, user agent, token or salt.
    fn log(&mut self, message: &str);
}

/// An outgoing request.
#[derive(Clone, PartialEq, Eq)]
pub struct Outbound {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Where to.
    pub endpoint: Endpoint,
    /// Header names (lower-case) and values.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
    /// Most bytes of the response body to read.
    pub response_limit: usize,
}

impl Outbound {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for Outbound {
    /// Header names only: `authorization` holds the token.
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        formatter
            .debug_struct("Outbound")
            .field("method", &self.method)
            .field("endpoint", &self.endpoint.to_string())
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The response to an [`Outbound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// HTTP status.
    pub status: u16,
    /// The body, cut at the request's `response_limit`.
    pub body: Vec<u8>,
}

/// Answers one request.
pub fn handle(head: &RequestHead, host: &mut impl Host) -> Reply {
    match route(&head.method, &head.path) {
        Route::Event => event(head, host).with_cors(),
        Route::Group => group(head, host),
        Route::Preflight => Reply::preflight(),
        Route::Health => Reply::health(head.method == "HEAD"),
        Route::HealthMethodNotAllowed | Route::ScriptMethodNotAllowed => {
            Reply::method_not_allowed("GET, HEAD")
        }
        Route::Script => {
            crate::script::serve(&head.path, head.method == "HEAD", head.header("if-none-match"))
        }
        Route::NotFound => Reply::not_found(),
    }
}

/// A batch id: `c-` and 32 hexadecimal digits of randomness, so edges never collide.
pub fn batch_id(random: [u8; 16]) -> String {
    let mut id = String::with_capacity(34);
    id.push_str("c-");
    for byte in random {
        write!(id, "{byte:02x}").expect("writing to a string cannot fail");
    }
    id
}

/// `POST /api/event`. Cheap checks first; the configuration (possibly a request away) only
/// once the request is known to be well-formed enough to need it.
fn event(head: &RequestHead, host: &mut impl Host) -> Reply {
    if head.method != "POST" {
        return Reply::request_error(&RequestError::MethodNotAllowed);
    }
    let settings = match settings(host) {
        Ok(settings) => settings,
        Err(reply) => return reply,
    };
    if let Err(reply) = client_ip(head, &settings, host) {
        return reply;
    }
    if let Some(len) = head.content_length().filter(|len| *len > MAX_BODY_BYTES as u64) {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        return Reply::request_error(&RequestError::BodyTooLarge { len, max: MAX_BODY_BYTES });
    }
    let body = match host.read_body(MAX_BODY_BYTES) {
        Ok(body) => body,
        Err(error) => {
            host.log(&format!("request body unreadable: {error}"));
            return Reply::error(400, "unreadable_body", "the request body could not be read");
        }
    };
    let config = match config(&settings, host) {
        Ok(config) => config,
        Err(reply) => return reply,
    };
    let now_ms = host.now_ms();
    let (reply, hits) = evaluate(head, &body, &settings, &config, now_ms, host);
    if hits.is_empty() {
        return reply;
    }
    let batch = Batch::new(batch_id(host.random_bytes()), settings.edge_name.clone(), hits);
    match forward(&batch, &settings, host) {
        Ok(()) => reply,
        Err(error) => {
            host.log(&format!("sink unavailable: {error} batch={}", batch.id));
            sink_unavailable()
        }
    }
}

/// `POST` [`hitkeep_protocol::group::GROUP_PATH`]: several events from our host in one request (see
/// [`hitkeep_protocol::group`]). Each event gets the reply it would have had alone; the hits of
/// all of them go to the sink as one batch. Without the host's key the route does not exist.
fn group(head: &RequestHead, host: &mut impl Host) -> Reply {
    let key = host.env(env::GROUP_KEY).filter(|key| !key.is_empty());
    let presented = head.header(GROUP_KEY_HEADER);
    let (Some(key), Some(presented)) = (key, presented) else { return Reply::not_found() };
    if !same_secret(key.as_bytes(), presented.as_bytes()) {
        return Reply::not_found();
    }
    let settings = match settings(host) {
        Ok(settings) if settings.trust_host_headers => settings,
        Ok(_) => return Reply::not_found(),
        Err(reply) => return reply,
    };
    let requests = match host.read_body(MAX_GROUP_BYTES).map(|body| decode_requests(&body)) {
        Ok(Ok(requests)) => requests,
        Ok(Err(error)) => {
            host.log(&format!("event group refused: {error}"));
            return Reply::error(400, "bad_group", "the event group does not decode");
        }
        Err(error) => {
            host.log(&format!("event group unreadable: {error}"));
            return Reply::error(400, "unreadable_body", "the request body could not be read");
        }
    };
    let config = match config(&settings, host) {
        Ok(config) => config,
        Err(reply) => {
            // Every event gets the answer it would have had alone.
            return group_reply(requests.iter().map(|_| reply.clone().with_cors()).collect());
        }
    };
    let now_ms = host.now_ms();
    let mut replies = Vec::with_capacity(requests.len());
    let mut hits = Vec::new();
    let mut forwarded = Vec::with_capacity(requests.len());
    for request in requests {
        let head = RequestHead::new("POST", EVENT_PATH, request.headers);
        // The host enforces the same limit; an event over it is refused alone.
        let (reply, event_hits) = if request.body.len() > MAX_BODY_BYTES {
            let error = RequestError::BodyTooLarge { len: request.body.len(), max: MAX_BODY_BYTES };
            (Reply::request_error(&error), Vec::new())
        } else {
            evaluate(&head, &request.body, &settings, &config, now_ms, host)
        };
        forwarded.push(!event_hits.is_empty());
        hits.extend(event_hits);
        replies.push(reply.with_cors());
    }
    if !hits.is_empty() {
        let batch = Batch::new(batch_id(host.random_bytes()), settings.edge_name.clone(), hits);
        if let Err(error) = forward(&batch, &settings, host) {
            host.log(&format!("sink unavailable: {error} batch={}", batch.id));
            for (reply, _) in replies.iter_mut().zip(&forwarded).filter(|(_, forwarded)| **forwarded) {
                *reply = sink_unavailable().with_cors();
            }
        }
    }
    group_reply(replies)
}

/// The replies to a group as one response body.
fn group_reply(replies: Vec<Reply>) -> Reply {
    let replies: Vec<GroupReply> = replies
        .into_iter()
        .map(|reply| GroupReply {
            status: reply.status,
            headers: reply
                .headers
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.into_bytes()))
                .collect(),
            body: reply.body,
        })
        .collect();
    Reply::body(200, GROUP_CONTENT_TYPE, encode_replies(&replies))
}

/// Compares two secrets in time that depends on their lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn settings(host: &mut impl Host) -> Result<Settings, Reply> {
    Settings::from_env(|name| host.env(name)).map_err(|error| {
        host.log(&format!("misconfigured host: {error}"));
        Reply::error(500, "misconfigured", "the collector is misconfigured")
    })
}

fn client_ip(head: &RequestHead, settings: &Settings, host: &mut impl Host) -> Result<IpAddr, Reply> {
    client_address(head, settings.trust_host_headers).map_err(|error| match error {
        // Only a client can have sent it: its own bad request, nothing for the operator.
        AddressError::InvalidClientAddr => {
            Reply::error(400, "invalid_client_address", "the spin-client-addr header is not an address")
        }
        AddressError::Missing | AddressError::InvalidHostHeader => {
            host.log(&format!("misconfigured host: {error}"));
            Reply::error(500, "no_client_address", "the host did not pass the client address")
        }
    })
}

fn config(settings: &Settings, host: &mut impl Host) -> Result<Config, Reply> {
    load_config(settings, host).map_err(|error| {
        host.log(&format!("config unavailable: {error}"));
        Reply::error(503, "config_unavailable", "the collector has no configuration; try again later")
    })
}

fn sink_unavailable() -> Reply {
    Reply::error(503, "sink_unavailable", "the event could not be stored; try again later")
}

/// One event through the core: its reply, and the hits to forward (none when every site
/// dropped it or it was refused).
fn evaluate(
    head: &RequestHead,
    body: &[u8],
    settings: &Settings,
    config: &Config,
    now_ms: i64,
    host: &mut impl Host,
) -> (Reply, Vec<Hit>) {
    let client_ip = match client_ip(head, settings, host) {
        Ok(client_ip) => client_ip,
        Err(reply) => return (reply, Vec::new()),
    };
    let Ok(now_ms) = event_time(head, settings.trust_host_headers, now_ms) else {
        let reply = Reply::error(
            400,
            "invalid_event_time",
            "the event time is unreadable, before 2000 or in the future",
        );
        return (reply, Vec::new());
    };
    let request = RequestInfo {
        method: "POST",
        content_type: head.header("content-type"),
        body,
        user_agent: head.header("user-agent"),
        dnt: opt_out_header(head.header("dnt")),
        gpc: opt_out_header(head.header("sec-gpc")),
        client_ip,
        geo: geo(head, settings),
        now_ms,
    };
    match process(config, &request) {
        Ok(outcome) => (Reply::accepted(&outcome.drop_codes()), outcome.hits),
        Err(error) => (Reply::request_error(&error), Vec::new()),
    }
}

/// The configuration: from the environment (our host), else fetched (Spin).
fn load_config(settings: &Settings, host: &mut impl Host) -> Result<Config, String> {
    let json = match host.env(env::EDGE_CONFIG).filter(|json| !json.trim().is_empty()) {
        Some(json) => json.into_bytes(),
        None => {
            let Some(url) = &settings.config_url else {
                return Err(format!("neither {} nor {} is set", env::EDGE_CONFIG, env::CONFIG_URL));
            };
            let mut headers = vec![("accept", "application/json".to_owned())];
            headers.extend(settings.token.as_ref().map(|token| ("authorization", token.bearer())));
            let outbound = Outbound {
                method: "GET",
                endpoint: url.clone(),
                headers,
                body: Vec::new(),
                response_limit: CONFIG_RESPONSE_LIMIT,
            };
            let inbound = host.send(outbound).map_err(|error| format!("config request failed: {error}"))?;
            if !(200..300).contains(&inbound.status) {
                return Err(format!("config request answered status={}", inbound.status));
            }
            inbound.body
        }
    };
    // The detail of a parse error may quote the salts: name the kind of error only.
    Config::from_json(&json).map_err(|error| match error {
        ConfigError::Invalid(_) => "invalid config: not the edge config format".to_owned(),
        other => format!("invalid config: {other}"),
    })
}

/// Posts the batch to the sink; any answer but 2xx is a failure.
fn forward(batch: &Batch, settings: &Settings, host: &mut impl Host) -> Result<(), String> {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    headers.extend(settings.token.as_ref().map(|token| ("authorization", token.bearer())));
    let outbound = Outbound {
        method: "POST",
        endpoint: settings.sink.clone(),
        headers,
        body: batch.encode(),
        response_limit: SINK_RESPONSE_LIMIT,
    };
    let inbound = host.send(outbound)?;
    // A rejected batch is durable (dead-lettered; the aggregator's batch endpoint answers it
    // with 422): retrying cannot help, so the browser still gets its 202, but the operator
    // should hear of it.
    if let Ok(ack) = Ack::decode(&inbound.body)
        && ack.status == AckStatus::Rejected
        && ((200..300).contains(&inbound.status) || inbound.status == 422)
    {
        let reason = ack.error.as_deref().unwrap_or("unknown");
        host.log(&format!("batch rejected by the aggregator: batch={} error={reason}", batch.id));
        return Ok(());
    }
    if !(200..300).contains(&inbound.status) {
        return Err(format!("sink answered status={}", inbound.status));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};

    use hitkeep_protocol::EventKind;

    use hitkeep_protocol::group::{GroupRequest, decode_replies, encode_requests};

    use super::*;
    use crate::reply::DROPPED_HEADER;
    use crate::request::{CLIENT_IP_HEADER, GEO_COUNTRY_HEADER, SPIN_CLIENT_ADDR_HEADER};

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/131.0.0.0 Safari/537.36";
    const IP: &str = "203.0.113.77";
    const NOW: i64 = 1_767_225_600_000;

    fn config_json() -> String {
        format!(
            r#"{{"sites":[{{"domain":"example.com"}},{{"domain":"lax.com","honor_dnt":false}}],
                "salts":{{"current":"{}","previous":"{}"}}}}"#,
            "11".repeat(32),
            "22".repeat(32)
        )
    }

    struct FakeHost {
        env: HashMap<&'static str, String>,
        body: Result<Vec<u8>, String>,
        responses: VecDeque<Result<Inbound, String>>,
        sent: Vec<Outbound>,
        logs: Vec<String>,
        body_reads: usize,
    }

    impl FakeHost {
        fn new() -> Self {
            let env = HashMap::from([(env::EDGE_CONFIG, config_json())]);
            Self {
                env,
                body: Ok(Vec::new()),
                responses: VecDeque::new(),
                sent: Vec::new(),
                logs: Vec::new(),
                body_reads: 0,
            }
        }

        fn with_env(mut self, name: &'static str, value: &str) -> Self {
            self.env.insert(name, value.to_owned());
            self
        }

        fn without_env(mut self, name: &'static str) -> Self {
            self.env.remove(name);
            self
        }

        fn with_body(mut self, body: &str) -> Self {
            self.body = Ok(body.as_bytes().to_vec());
            self
        }

        fn with_response(mut self, response: Result<Inbound, String>) -> Self {
            self.responses.push_back(response);
            self
        }
    }

    impl Host for FakeHost {
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }

        fn now_ms(&self) -> i64 {
            NOW
        }

        fn random_bytes(&mut self) -> [u8; 16] {
            [0xab; 16]
        }

        fn read_body(&mut self, max: usize) -> Result<Vec<u8>, String> {
            self.body_reads += 1;
            let mut body = self.body.clone()?;
            body.truncate(max + 1);
            Ok(body)
        }

        fn send(&mut self, outbound: Outbound) -> Result<Inbound, String> {
            self.sent.push(outbound);
            self.responses.pop_front().unwrap_or(Ok(Inbound { status: 200, body: Vec::new() }))
        }

        fn log(&mut self, message: &str) {
            self.logs.push(message.to_owned());
        }
    }

    fn post(headers: &[(&str, &str)]) -> RequestHead {
        let mut all = vec![
            ("content-type".to_owned(), b"application/json".to_vec()),
            ("user-agent".to_owned(), CHROME.as_bytes().to_vec()),
            (CLIENT_IP_HEADER.to_owned(), IP.as_bytes().to_vec()),
        ];
        // A name given replaces the default; given twice, both values are sent, in order.
        all.retain(|(key, _)| headers.iter().all(|(name, _)| key != name));
        all.extend(headers.iter().map(|(name, value)| (name.to_string(), value.as_bytes().to_vec())));
        RequestHead::new("POST", "/api/event", all)
    }

    /// Extra request headers, the event's domain, the expected drop code.
    type DropCase = (&'static [(&'static str, &'static str)], &'static str, &'static str);

    fn pageview(domain: &str) -> String {
        format!(r#"{{"n":"pageview","u":"https://{domain}/pricing?utm_source=news","d":"{domain}"}}"#)
    }

    fn sent_batch(host: &FakeHost) -> Batch {
        assert_eq!(host.sent.len(), 1, "one sink request: {:?}", host.sent);
        Batch::decode(&host.sent[0].body).expect("the sink gets a valid batch")
    }

    #[test]
    fn pageview_is_accepted_and_forwarded_as_one_batch() {
        let mut host =
            FakeHost::new().with_body(&pageview("example.com")).with_env(env::EDGE_TOKEN, "secret");
        let head = post(&[(GEO_COUNTRY_HEADER, "de")]);
        let reply = handle(&head, &mut host);
        assert_eq!(reply.status, 202);
        assert!(reply.body.is_empty());
        assert_eq!(reply.header(DROPPED_HEADER), None);
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));

        let sink = &host.sent[0];
        assert_eq!(
            (sink.method, sink.endpoint.to_string().as_str()),
            ("POST", "http://hitkeep-sink.internal/batch")
        );
        assert_eq!(sink.header("content-type"), Some("application/json"));
        assert_eq!(sink.header("authorization"), Some("Bearer secret"));
        assert!(!format!("{sink:?}").contains("secret"));
        let batch = sent_batch(&host);
        assert_eq!(
            (batch.id.as_str(), batch.edge.as_str()),
            ("c-abababababababababababababababab", "collector")
        );
        assert_eq!(batch.hits.len(), 1);
        let hit = &batch.hits[0];
        assert_eq!(
            (hit.domain.as_str(), hit.kind, hit.path.as_str()),
            ("example.com", EventKind::Pageview, "/pricing")
        );
        assert_eq!((hit.ts, hit.country.as_deref()), (NOW, Some("DE")));
        assert!(hit.validate().is_ok());
        let body = String::from_utf8(sink.body.clone()).unwrap();
        assert!(!body.contains(IP) && !body.contains("Mozilla") && !body.contains("Chrome/131"), "{body}");
        assert!(host.logs.is_empty(), "{:?}", host.logs);
    }

    #[test]
    fn dropped_events_answer_202_with_the_reasons_and_send_nothing() {
        let cases: [DropCase; 4] = [
            (&[("user-agent", "curl/8.5.0")], "example.com", "bot"),
            (&[("dnt", "1")], "example.com", "dnt"),
            (&[("sec-gpc", "1")], "example.com", "gpc"),
            (&[], "unknown.org", "unknown_site"),
        ];
        for (headers, domain, code) in cases {
            let mut host = FakeHost::new().with_body(&pageview(domain));
            let reply = handle(&post(headers), &mut host);
            assert_eq!((reply.status, reply.header(DROPPED_HEADER)), (202, Some(code)), "{code}");
            assert!(reply.body.is_empty());
            assert!(host.sent.is_empty(), "{code}: no sink request");
        }
    }

    #[test]
    fn partly_dropped_events_are_forwarded_with_the_drop_header() {
        let body = r#"{"n":"pageview","u":"https://example.com/","d":"example.com,lax.com,nope.com"}"#;
        let mut host = FakeHost::new().with_body(body);
        let reply = handle(&post(&[("dnt", "1")]), &mut host);
        assert_eq!((reply.status, reply.header(DROPPED_HEADER)), (202, Some("dnt,unknown_site")));
        let batch = sent_batch(&host);
        assert_eq!(batch.hits.iter().map(|hit| hit.domain.as_str()).collect::<Vec<_>>(), ["lax.com"]);
    }

    #[test]
    fn malformed_requests_get_the_core_error() {
        let cases = [
            ("{", "application/json", 400, "invalid_json"),
            (r#"{"n":"pageview","d":"example.com"}"#, "application/json", 400, "missing_field"),
            (r#"{"n":"pageview","u":"/relative","d":"example.com"}"#, "text/plain", 400, "invalid_field"),
            ("{}", "application/xml", 415, "unsupported_media_type"),
        ];
        for (body, content_type, status, code) in cases {
            let mut host = FakeHost::new().with_body(body);
            let reply = handle(&post(&[("content-type", content_type)]), &mut host);
            assert_eq!((reply.status, reply.error_code().as_deref()), (status, Some(code)), "{body}");
            assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
            assert!(host.sent.is_empty());
        }
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let large = "x".repeat(MAX_BODY_BYTES + 100);
        let mut host = FakeHost::new().with_body(&large);
        let reply = handle(&post(&[]), &mut host);
        assert_eq!((reply.status, reply.error_code().as_deref()), (413, Some("body_too_large")));

        // A declared length over the limit is refused without reading.
        let mut host = FakeHost::new().with_body(&large);
        let reply = handle(&post(&[("content-length", "1000000")]), &mut host);
        assert_eq!(reply.status, 413);
        assert_eq!(host.body_reads, 0);
    }

    #[test]
    fn other_methods_on_the_event_route() {
        let mut host = FakeHost::new();
        let get = RequestHead::new("GET", "/api/event", Vec::new());
        let reply = handle(&get, &mut host);
        assert_eq!((reply.status, reply.error_code().as_deref()), (405, Some("method_not_allowed")));
        assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
        assert_eq!(host.body_reads, 0);

        let preflight = handle(&RequestHead::new("OPTIONS", "/api/event", Vec::new()), &mut host);
        assert_eq!(preflight.status, 204);
        assert_eq!(preflight.header("access-control-allow-methods"), Some("POST"));
    }

    #[test]
    fn health_and_unknown_routes() {
        let mut host = FakeHost::new();
        let health = handle(&RequestHead::new("GET", "/healthz", Vec::new()), &mut host);
        assert_eq!((health.status, health.body.as_slice()), (200, br#"{"status":"ok"}"#.as_slice()));
        let missing = handle(&RequestHead::new("GET", "/api/events", Vec::new()), &mut host);
        assert_eq!((missing.status, missing.error_code().as_deref()), (404, Some("not_found")));
        let post_health = handle(&RequestHead::new("POST", "/healthz", Vec::new()), &mut host);
        assert_eq!(post_health.status, 405);
    }

    #[test]
    fn no_client_address_is_a_host_error() {
        let mut host = FakeHost::new().with_body(&pageview("example.com"));
        let head = RequestHead::new("POST", "/api/event", vec![("user-agent".into(), CHROME.into())]);
        let reply = handle(&head, &mut host);
        assert_eq!((reply.status, reply.error_code().as_deref()), (500, Some("no_client_address")));
        assert_eq!(host.body_reads, 0);
    }

    #[test]
    fn spin_mode_fetches_the_config_and_ignores_client_sent_host_headers() {
        let config = Inbound { status: 200, body: config_json().into_bytes() };
        let mut host = FakeHost::new()
            .without_env(env::EDGE_CONFIG)
            .with_env(env::CONFIG_URL, "https://hk.example.com/api/edge/config")
            .with_env(env::SINK_URL, "https://hk.example.com/api/edge/batch")
            .with_env(env::EDGE_TOKEN, "secret")
            .with_env(env::TRUST_HOST_HEADERS, "false")
            .with_env(env::EDGE_NAME, "spin")
            .with_body(&pageview("example.com"))
            .with_response(Ok(config));
        // Under Spin a client could send the host's headers itself: they must not count.
        let head = post(&[(SPIN_CLIENT_ADDR_HEADER, "198.51.100.1:4444"), (GEO_COUNTRY_HEADER, "aq")]);
        let reply = handle(&head, &mut host);
        assert_eq!(reply.status, 202);
        assert_eq!(host.sent.len(), 2);
        let fetch = &host.sent[0];
        assert_eq!(
            (fetch.method, fetch.endpoint.to_string().as_str()),
            ("GET", "https://hk.example.com/api/edge/config")
        );
        assert_eq!(fetch.header("authorization"), Some("Bearer secret"));
        let sink = &host.sent[1];
        assert_eq!(sink.endpoint.to_string(), "https://hk.example.com/api/edge/batch");
        let batch = Batch::decode(&sink.body).unwrap();
        assert_eq!((batch.edge.as_str(), batch.hits[0].country.as_deref()), ("spin", None));

        // The visitor hash is the one of Spin's address, not of the spoofed header's.
        let mut trusted = FakeHost::new().with_body(&pageview("example.com"));
        handle(&post(&[(CLIENT_IP_HEADER, "198.51.100.1")]), &mut trusted);
        assert_eq!(sent_batch(&trusted).hits[0].visitor, batch.hits[0].visitor);
    }

    /// A host that trusts no `x-hitkeep-*` header, as under Spin (config from the env here).
    fn untrusting_host() -> FakeHost {
        FakeHost::new().with_env(env::TRUST_HOST_HEADERS, "false").with_body(&pageview("example.com"))
    }

    #[test]
    fn a_client_sent_spin_address_never_decides_the_visitor() {
        // What Spin passes on: the client's own `spin-client-addr` values, then its own.
        let mut plain = untrusting_host();
        assert_eq!(handle(&post(&[(SPIN_CLIENT_ADDR_HEADER, "192.0.2.10:50000")]), &mut plain).status, 202);
        let expected = sent_batch(&plain).hits[0].visitor;
        for spoofed in ["203.0.113.5:1234", "198.51.100.7:1", "garbage"] {
            let mut host = untrusting_host();
            let head =
                post(&[(SPIN_CLIENT_ADDR_HEADER, spoofed), (SPIN_CLIENT_ADDR_HEADER, "192.0.2.10:50001")]);
            let reply = handle(&head, &mut host);
            assert_eq!(reply.status, 202, "{spoofed}: {:?}", reply.error_code());
            assert_eq!(sent_batch(&host).hits[0].visitor, expected, "{spoofed}");
            assert!(host.logs.is_empty(), "{:?}", host.logs);
        }
    }

    #[test]
    fn a_malformed_spin_address_is_the_clients_bad_request() {
        // Only possible where the host appends none (wasmtime serve): a 400, not a host alarm.
        let mut host = untrusting_host();
        let reply = handle(&post(&[(SPIN_CLIENT_ADDR_HEADER, "garbage")]), &mut host);
        assert_eq!((reply.status, reply.error_code().as_deref()), (400, Some("invalid_client_address")));
        assert!(host.logs.is_empty(), "{:?}", host.logs);
        assert!(host.sent.is_empty());
    }

    #[test]
    fn no_config_is_503() {
        let cases = [
            FakeHost::new().without_env(env::EDGE_CONFIG),
            FakeHost::new().with_env(env::EDGE_CONFIG, r#"{"sites":[]}"#),
            FakeHost::new()
                .without_env(env::EDGE_CONFIG)
                .with_env(env::CONFIG_URL, "http://agg/config")
                .with_response(Ok(Inbound { status: 401, body: Vec::new() })),
            FakeHost::new()
                .without_env(env::EDGE_CONFIG)
                .with_env(env::CONFIG_URL, "http://agg/config")
                .with_response(Err("connection refused".into())),
        ];
        for host in cases {
            let mut host = host.with_body(&pageview("example.com"));
            let reply = handle(&post(&[]), &mut host);
            assert_eq!((reply.status, reply.error_code().as_deref()), (503, Some("config_unavailable")));
            assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
            assert!(host.logs[0].starts_with("config unavailable"), "{:?}", host.logs);
            assert!(!host.logs[0].contains(&"11".repeat(32)));
        }
    }

    #[test]
    fn sink_failures_are_503() {
        for response in [Ok(Inbound { status: 500, body: Vec::new() }), Err("connection refused".to_owned())]
        {
            let mut host = FakeHost::new().with_body(&pageview("example.com")).with_response(response);
            let reply = handle(&post(&[]), &mut host);
            assert_eq!((reply.status, reply.error_code().as_deref()), (503, Some("sink_unavailable")));
            assert_eq!(host.sent.len(), 1);
            assert!(host.logs[0].starts_with("sink unavailable"), "{:?}", host.logs);
        }
    }

    #[test]
    fn a_rejected_batch_is_logged_but_accepted() {
        let ack = Ack {
            id: "c-x".into(),
            status: AckStatus::Rejected,
            stored: 0,
            dropped: 1,
            error: Some("invalid_id".into()),
        };
        // The aggregator's HTTP batch endpoint answers 422; a NATS-side sink may say 200.
        for status in [200, 422] {
            let mut host = FakeHost::new()
                .with_body(&pageview("example.com"))
                .with_response(Ok(Inbound { status, body: ack.encode() }));
            assert_eq!(handle(&post(&[]), &mut host).status, 202);
            assert!(
                host.logs[0].contains("rejected") && host.logs[0].contains("invalid_id"),
                "{:?}",
                host.logs
            );
        }
        // A 422 without a rejected ack is a failure like any other.
        let mut host = FakeHost::new()
            .with_body(&pageview("example.com"))
            .with_response(Ok(Inbound { status: 422, body: b"{}".to_vec() }));
        assert_eq!(handle(&post(&[]), &mut host).status, 503);
    }

    #[test]
    fn misconfiguration_is_500() {
        let mut host =
            FakeHost::new().with_env(env::SINK_URL, "not a url").with_body(&pageview("example.com"));
        let reply = handle(&post(&[]), &mut host);
        assert_eq!((reply.status, reply.error_code().as_deref()), (500, Some("misconfigured")));
        assert!(host.logs[0].contains(env::SINK_URL));
    }

    #[test]
    fn unreadable_body_is_400() {
        let mut host = FakeHost::new();
        host.body = Err("stream closed".into());
        let reply = handle(&post(&[]), &mut host);
        assert_eq!((reply.status, reply.error_code().as_deref()), (400, Some("unreadable_body")));
    }

    #[test]
    fn batch_ids_are_valid_and_distinct() {
        let id = batch_id([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255]);
        assert_eq!(id, "c-000102030405060708090a0b0c0d0eff");
        assert_ne!(batch_id([1; 16]), batch_id([2; 16]));
        let batch = Batch::new(id, "collector", Vec::new());
        assert!(Batch::decode(&batch.encode()).is_ok());
    }

    fn group_head(key: Option<&str>) -> RequestHead {
        let headers =
            key.map(|key| (GROUP_KEY_HEADER.to_owned(), key.as_bytes().to_vec())).into_iter().collect();
        RequestHead::new("POST", hitkeep_protocol::group::GROUP_PATH, headers)
    }

    fn group_request(headers: &[(&str, &str)], body: &str) -> GroupRequest {
        let head = post(headers);
        let names = ["content-type", "user-agent", CLIENT_IP_HEADER, "dnt", GEO_COUNTRY_HEADER];
        let headers = names
            .iter()
            .filter_map(|name| head.header(name).map(|value| ((*name).to_owned(), value.as_bytes().to_vec())))
            .collect();
        GroupRequest { headers, body: body.as_bytes().to_vec() }
    }

    fn grouped_host(requests: &[GroupRequest]) -> FakeHost {
        let mut host = FakeHost::new().with_env(env::GROUP_KEY, "k3y");
        host.body = Ok(encode_requests(requests));
        host
    }

    fn replies(reply: &Reply) -> Vec<GroupReply> {
        assert_eq!((reply.status, reply.header("content-type")), (200, Some(GROUP_CONTENT_TYPE)));
        decode_replies(&reply.body).expect("the replies decode")
    }

    fn header<'r>(reply: &'r GroupReply, name: &str) -> Option<&'r str> {
        reply
            .headers
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    #[test]
    fn a_group_answers_each_event_as_alone_and_forwards_one_batch() {
        let bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        let requests = [
            group_request(&[(GEO_COUNTRY_HEADER, "de")], &pageview("example.com")),
            group_request(&[("user-agent", bot)], &pageview("example.com")),
            group_request(&[], "{not json"),
            group_request(&[(CLIENT_IP_HEADER, "198.51.100.9")], &pageview("lax.com")),
            group_request(
                &[],
                &format!(
                    r#"{{"n":"x","u":"https://example.com/{}","d":"example.com"}}"#,
                    "a".repeat(MAX_BODY_BYTES)
                ),
            ),
        ];
        let mut host = grouped_host(&requests);
        let replies = replies(&handle(&group_head(Some("k3y")), &mut host));
        let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
        assert_eq!(statuses, [202, 202, 400, 202, 413]);
        assert_eq!(header(&replies[0], DROPPED_HEADER), None);
        assert_eq!(header(&replies[1], DROPPED_HEADER), Some("bot"));
        assert!(replies.iter().all(|reply| header(reply, "access-control-allow-origin") == Some("*")));
        let alone = handle(&post(&[]), &mut FakeHost::new().with_body("{not json"));
        assert_eq!(replies[2].body, alone.body);

        // One sink request for the group, one config read, one body read.
        let batch = sent_batch(&host);
        let domains: Vec<&str> = batch.hits.iter().map(|hit| hit.domain.as_str()).collect();
        assert_eq!(domains, ["example.com", "lax.com"]);
        assert_eq!(batch.hits[0].country.as_deref(), Some("DE"));
        assert_ne!(batch.hits[0].visitor, batch.hits[1].visitor, "each event keeps its own client address");
        assert_eq!(host.body_reads, 1);
        assert!(host.logs.is_empty(), "{:?}", host.logs);
    }

    #[test]
    fn a_group_needs_the_hosts_key() {
        let requests = [group_request(&[], &pageview("example.com"))];
        for (key, presented) in
            [(None, Some("k3y")), (Some("k3y"), None), (Some("k3y"), Some("k3Y")), (Some(""), Some(""))]
        {
            let mut host = grouped_host(&requests);
            match key {
                Some(key) => host.env.insert(env::GROUP_KEY, key.to_owned()),
                None => host.env.remove(env::GROUP_KEY),
            };
            let reply = handle(&group_head(presented), &mut host);
            assert_eq!(
                (reply.status, reply.error_code().as_deref()),
                (404, Some("not_found")),
                "{key:?} {presented:?}"
            );
            assert!(host.sent.is_empty() && host.body_reads == 0);
        }
        // Where client-sent x-hitkeep-* headers are not stripped (Spin), not even the key opens it.
        let mut host = grouped_host(&requests).with_env(env::TRUST_HOST_HEADERS, "false");
        assert_eq!(handle(&group_head(Some("k3y")), &mut host).status, 404);
        // Only POST.
        let mut host = grouped_host(&requests);
        let get = RequestHead::new(
            "GET",
            hitkeep_protocol::group::GROUP_PATH,
            vec![(GROUP_KEY_HEADER.into(), b"k3y".to_vec())],
        );
        assert_eq!(handle(&get, &mut host).status, 404);
    }

    #[test]
    fn a_broken_group_is_refused_whole() {
        let mut host = FakeHost::new().with_env(env::GROUP_KEY, "k3y").with_body("HKQ1garbage");
        let reply = handle(&group_head(Some("k3y")), &mut host);
        assert_eq!((reply.status, reply.error_code().as_deref()), (400, Some("bad_group")));
        assert!(host.sent.is_empty());
    }

    #[test]
    fn a_failed_sink_fails_only_the_events_that_had_hits() {
        let requests =
            [group_request(&[], &pageview("example.com")), group_request(&[], &pageview("nobody.example"))];
        let mut host = grouped_host(&requests).with_response(Ok(Inbound { status: 503, body: Vec::new() }));
        let replies = replies(&handle(&group_head(Some("k3y")), &mut host));
        assert_eq!(replies[0].status, 503);
        assert_eq!((replies[1].status, header(&replies[1], DROPPED_HEADER)), (202, Some("unknown_site")));
        assert_eq!(host.logs.len(), 1);
    }

    #[test]
    fn without_config_every_event_of_a_group_gets_503() {
        let requests =
            [group_request(&[], &pageview("example.com")), group_request(&[], &pageview("lax.com"))];
        let mut host = grouped_host(&requests).without_env(env::EDGE_CONFIG);
        let replies = replies(&handle(&group_head(Some("k3y")), &mut host));
        assert!(replies.iter().all(|reply| reply.status == 503), "{replies:?}");
    }
}
