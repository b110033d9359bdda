//! One HTTP request: the host's own routes (`/healthz`, `/readyz`, `/metrics`), the checks made
//! before the component runs, and the request the component gets.
//!
//! Before the component sees a request, the host enforces the body and header limits, strips
//! every client-sent `x-hitkeep-*` header (and the forwarding headers it has already
//! resolved), and adds `x-hitkeep-client-ip` and, when known, `x-hitkeep-geo-country`,
//! `x-hitkeep-geo-region` and `x-hitkeep-geo-city`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};

use crate::client_ip::{client_ip, is_trusted};
use crate::config::SINK_URL;
use crate::geo::{Place, country_code};
use crate::group::{self, EventGroups, Failed, group_request};
use crate::host::{EdgeHandle, Inner};
use crate::metrics as m;
use crate::runtime::GuestEnv;

/// The body type of every response.
pub type EdgeBody = Full<Bytes>;

/// The header carrying the client address to the component.
pub const CLIENT_IP_HEADER: &str = "x-hitkeep-client-ip";
/// Country (ISO 3166-1 alpha-2).
pub const GEO_COUNTRY_HEADER: &str = "x-hitkeep-geo-country";
/// Region (ISO 3166-2).
pub const GEO_REGION_HEADER: &str = "x-hitkeep-geo-region";
/// City name.
pub const GEO_CITY_HEADER: &str = "x-hitkeep-geo-city";

/// When an event sent on a visitor's behalf happened (ms since the epoch).
pub const EVENT_TIME_HEADER: &str = "x-hitkeep-event-time";

/// Where an event came from.
#[derive(Debug, Clone)]
enum Origin {
    /// A browser (or a proxy in front of it) at this socket address.
    Peer(SocketAddr),
    /// A server, on behalf of the visitor at `client`.
    Server { client: std::net::IpAddr, event_time_ms: Option<i64>, place: Option<Place> },
}

/// The prefix of the headers only the host may set.
const HOST_HEADER_PREFIX: &str = "x-hitkeep-";
/// Forwarding headers: resolved by the host into `x-hitkeep-client-ip`, then removed so the
/// component cannot be misled by them.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

const EVENT_PATH: &str = "/api/event";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    Ready,
    Metrics,
    Event,
    Other,
}

impl Route {
    fn of(path: &str) -> Self {
        match path {
            "/healthz" => Self::Health,
            "/readyz" => Self::Ready,
            "/metrics" => Self::Metrics,
            EVENT_PATH => Self::Event,
            _ => Self::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Health | Self::Ready | Self::Metrics => "host",
            Self::Event => "event",
            Self::Other => "other",
        }
    }
}

impl EdgeHandle {
    /// Answers one request that arrived from `peer` (the socket's remote address).
    ///
    /// This is the whole HTTP surface of the edge, for embedding: an axum router can send
    /// `POST` and `OPTIONS /api/event` here (`axum::body::Body` and hyper's `Incoming` both
    /// work as `B`).
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<EdgeBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let route = Route::of(request.uri().path());
        let response = match route {
            Route::Health => json(StatusCode::OK, r#"{"status":"ok"}"#.into()),
            Route::Ready => self.readiness(),
            Route::Metrics => match &self.inner.metrics {
                Some(handle) => {
                    let mut response = Response::new(Full::new(Bytes::from(handle.render())));
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
                    response
                }
                None => error_response(StatusCode::NOT_FOUND, "not_found", "metrics are served elsewhere"),
            },
            Route::Event | Route::Other => self.through_component(request, Origin::Peer(peer), route).await,
        };
        metrics::counter!(m::HTTP_REQUESTS, "route" => route.label(), "status" => response.status().as_u16().to_string())
            .increment(1);
        response
    }

    /// Answers an event a server sends on a visitor's behalf (server-side tracking, imports:
    /// the aggregator's backfill API, for a token with write scope): `request` is a `POST
    /// /api/event` with the visitor's user agent, `client` the visitor's address, and
    /// `event_time_ms` when it happened (absent: now). It goes through the collector like any
    /// event, so the address and the user agent stop in the component as always.
    pub async fn handle_on_behalf<B>(
        &self,
        request: Request<B>,
        client: std::net::IpAddr,
        event_time_ms: Option<i64>,
    ) -> Response<EdgeBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let origin = Origin::Server { client, event_time_ms, place: None };
        self.server_event(request, origin, "event_on_behalf", "only events are sent on a visitor's behalf")
            .await
    }

    /// As [`EdgeHandle::handle_on_behalf`], with the visitor's place given instead of looked
    /// up: for generated traffic (`serve --demo`'s live visitors), whose synthetic addresses
    /// no database knows. Not reachable over HTTP.
    pub async fn handle_generated<B>(
        &self,
        request: Request<B>,
        client: std::net::IpAddr,
        event_time_ms: Option<i64>,
        place: Place,
    ) -> Response<EdgeBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let origin = Origin::Server { client, event_time_ms, place: Some(place) };
        self.server_event(request, origin, "event_generated", "only events are generated").await
    }

    /// An event the server sends itself (on a visitor's behalf, or generated): `POST
    /// /api/event` only, through the component, counted under `label`.
    async fn server_event<B>(
        &self,
        request: Request<B>,
        origin: Origin,
        label: &'static str,
        refusal: &'static str,
    ) -> Response<EdgeBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let route = Route::of(request.uri().path());
        if route != Route::Event || request.method() != Method::POST {
            return error_response(StatusCode::NOT_FOUND, "not_found", refusal);
        }
        let response = self.through_component(request, origin, route).await;
        metrics::counter!(m::HTTP_REQUESTS, "route" => label, "status" => response.status().as_u16().to_string())
            .increment(1);
        response
    }

    fn readiness(&self) -> Response<EdgeBody> {
        let (config, nats) = (self.has_config(), self.is_connected());
        let status = if config && nats { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        let word = if status == StatusCode::OK { "ok" } else { "unavailable" };
        json(status, format!(r#"{{"status":"{word}","config_loaded":{config},"nats_connected":{nats}}}"#))
    }

    async fn through_component<B>(
        &self,
        request: Request<B>,
        origin: Origin,
        route: Route,
    ) -> Response<EdgeBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let inner = &self.inner;
        let config = inner.config.get();
        let takes_events = route == Route::Event && request.method() != Method::OPTIONS;
        if takes_events && inner.shutting_down.load(Ordering::Relaxed) {
            return refused(
                route,
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the edge is shutting down",
            );
        }
        if takes_events && config.is_none() {
            return refused(
                route,
                StatusCode::SERVICE_UNAVAILABLE,
                "config_unavailable",
                "no configuration loaded yet",
            );
        }
        if request.headers().len() > inner.http.max_headers {
            return refused(
                route,
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too_many_headers",
                "too many headers",
            );
        }
        let max_body = inner.http.max_body_bytes;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max_body as u64) {
            return refused(route, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is too large");
        }
        let (mut parts, body) = request.into_parts();
        let body =
            match tokio::time::timeout(inner.http.body_read_timeout, Limited::new(body, max_body).collect())
                .await
            {
                Ok(Ok(collected)) => collected.to_bytes(),
                Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
                    return refused(
                        route,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        "the body is too large",
                    );
                }
                Ok(Err(_)) => {
                    return refused(
                        route,
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "the body could not be read",
                    );
                }
                Err(_) => {
                    return refused(route, StatusCode::REQUEST_TIMEOUT, "timeout", "the body took too long");
                }
            };

        let (client, place, event_time_ms) = match origin {
            Origin::Peer(peer) => {
                let client = client_ip(peer.ip(), &parts.headers, &inner.trusted_proxies);
                (client, self.place(peer, &parts.headers, client), None)
            }
            // The server that sent it is no proxy whose country header counts: the database only.
            Origin::Server { client, event_time_ms, place: Some(place) } => (client, place, event_time_ms),
            Origin::Server { client, event_time_ms, place: None } => {
                (client, inner.geo.as_ref().map(|db| db.lookup(client)).unwrap_or_default(), event_time_ms)
            }
        };
        strip_host_only_headers(&mut parts.headers, inner.geo_country_header.as_ref());
        let headers = &mut parts.headers;
        headers.insert(
            HeaderName::from_static(CLIENT_IP_HEADER),
            HeaderValue::from_str(&client.to_string()).expect("an ip is a header value"),
        );
        if let Some(ts) = event_time_ms {
            headers.insert(HeaderName::from_static(EVENT_TIME_HEADER), HeaderValue::from(ts));
        }
        for (name, value) in [
            (GEO_COUNTRY_HEADER, place.country),
            (GEO_REGION_HEADER, place.region),
            (GEO_CITY_HEADER, place.city),
        ] {
            if let Some(value) = value.and_then(|v| {
                HeaderValue::from_str(&v).ok().or_else(|| HeaderValue::from_bytes(v.as_bytes()).ok())
            }) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        if !headers.contains_key(HOST) {
            headers.insert(HOST, HeaderValue::from_static("localhost"));
        }
        // The hot path: the event joins a group (see `group`).
        let body = if takes_events && parts.method == Method::POST && inner.groups.supported() {
            match EventGroups::submit(&self.inner, group_request(&parts.headers, body)).await {
                Ok(reply) => return group::response(reply),
                Err(Failed::Call) => return collector_failed(route),
                Err(Failed::Full) => {
                    let mut response = refused(
                        route,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "overloaded",
                        "the edge has more events waiting than it takes; try again shortly",
                    );
                    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
                    return response;
                }
                Err(Failed::Unsupported(body)) => body,
            }
        } else {
            body
        };
        parts.version = http::Version::HTTP_11;
        // A component answers HEAD with an empty body, and `wasi:http` refuses a declared length
        // that is not written, so `HEAD /hk.js` would say `content-length: 0`. The component
        // gets a GET instead; hyper, which knows the request was HEAD, sends that answer's
        // headers, its length included, and no body.
        if parts.method == Method::HEAD {
            parts.method = Method::GET;
        }
        let request = Request::from_parts(parts, Full::new(body));
        let env = inner.guest_vars(config.as_deref());
        let limit = inner.instances.runtime().limits().max_response_bytes;
        match inner.instances.call(request, GuestEnv { vars: &env, config: config.as_ref() }, limit).await {
            Ok(response) => response.map(Full::new),
            Err(error) => {
                tracing::warn!(reason = error.reason(), %error, "the collector component failed");
                collector_failed(route)
            }
        }
    }

    /// The client's place: the CDN's country header (trusted proxies only) and the database.
    fn place(&self, peer: SocketAddr, headers: &HeaderMap, client: std::net::IpAddr) -> Place {
        let inner = &self.inner;
        let mut place = inner.geo.as_ref().map(|db| db.lookup(client)).unwrap_or_default();
        let cdn_country = inner
            .geo_country_header
            .as_ref()
            .filter(|_| is_trusted(peer.ip(), &inner.trusted_proxies))
            .and_then(|name| headers.get(name))
            .and_then(|value| value.to_str().ok())
            .and_then(country_code);
        if let Some(country) = cdn_country {
            // The CDN saw the connection: it wins. The database's finer detail only if it agrees.
            if place.country.as_deref() != Some(country.as_str()) {
                place = Place { country: Some(country), region: None, city: None };
            }
        }
        place
    }
}

impl Inner {
    /// The environment every instance gets: the sink, the edge's name and, once loaded, the
    /// configuration.
    pub(crate) fn guest_vars<'a>(&'a self, config: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        let mut vars = vec![("HITKEEP_SINK_URL", SINK_URL), ("HITKEEP_EDGE_NAME", self.edge_name.as_str())];
        if let Some(config) = config {
            vars.push(("HITKEEP_EDGE_CONFIG", config));
        }
        vars
    }
}

fn collector_failed(route: Route) -> Response<EdgeBody> {
    cors(route, error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "the collector failed"))
}

/// Removes what only the host may say: `x-hitkeep-*`, the forwarding headers, the CDN geo
/// header.
fn strip_host_only_headers(headers: &mut HeaderMap, geo_header: Option<&HeaderName>) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            name.as_str().starts_with(HOST_HEADER_PREFIX)
                || FORWARDING_HEADERS.contains(&name.as_str())
                || geo_header == Some(*name)
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

fn json(status: StatusCode, body: String) -> Response<EdgeBody> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response<EdgeBody> {
    json(status, serde_json::json!({ "error": { "code": code, "message": message } }).to_string())
}

/// A request the host answers itself, counted by reason.
fn refused(route: Route, status: StatusCode, code: &'static str, message: &str) -> Response<EdgeBody> {
    metrics::counter!(m::HTTP_REFUSED, "reason" => code).increment(1);
    cors(route, error_response(status, code, message))
}

/// Host answers to `/api/event` carry the CORS header the component's answers carry, so a
/// browser can read them.
fn cors(route: Route, mut response: Response<EdgeBody>) -> Response<EdgeBody> {
    if route == Route::Event {
        response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_what_only_the_host_may_say() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-hitkeep-client-ip", "1.2.3.4"),
            ("X-HitKeep-Geo-Country", "US"),
            ("x-hitkeep-anything", "x"),
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=1.2.3.4"),
            ("cf-ipcountry", "US"),
            ("user-agent", "Mozilla/5.0"),
            ("content-type", "application/json"),
        ] {
            headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        let geo = HeaderName::from_static("cf-ipcountry");
        strip_host_only_headers(&mut headers, Some(&geo));
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort();
        assert_eq!(left, vec!["content-type", "user-agent"]);
    }

    #[test]
    fn routes() {
        assert_eq!(Route::of("/api/event"), Route::Event);
        assert_eq!(Route::of("/api/event/"), Route::Other);
        assert_eq!(Route::of("/healthz"), Route::Health);
    }
}
