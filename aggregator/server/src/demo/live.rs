//! Live demo traffic: with `serve --demo` (and `demo_live_traffic`, on by default) a trickle
//! of generated visitors keeps arriving, so the dashboard's realtime view moves on first
//! start.
//!
//! The visitors come from `hitkeep-traffic` (the same profiles as the loaded demo data: pages,
//! sources, campaigns, countries, devices, custom events, revenue), a day of traffic at a
//! time, and each hit is sent through the embedded edge's collector component exactly as a
//! server-side event is (see `routes::backfill`): as a `POST /api/event` with a user agent
//! and an address, which stop in the component as always. The addresses are synthetic
//! (`2001:db8::/32`, the documentation prefix), one per generated visitor, so the component's
//! visitor hash groups a visitor's hits as it would a real one's; their place is the generated
//! one (no GeoIP database knows those addresses).
//!
//! On start, the last [`BACKLOG_MS`] of the first day's traffic are sent at once (with their
//! times), so "visitors now" is not zero for the first minutes.

use std::iter::Peekable;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hitkeep_edge::{EdgeHandle, Place};
use hitkeep_ingest::Clock;
use hitkeep_protocol::{Device, Hit};
use hitkeep_traffic::{Attribution, Traffic, TrafficConfig};
use http::{Request, header};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// Hits per day of live traffic over the demo sites: a few visitors a minute on average,
/// fewer at the sites' night and more in their afternoon.
pub const LIVE_HITS_PER_DAY: u64 = 12_000;
/// How far back the first day's traffic starts: those hits are sent at once.
pub const BACKLOG_MS: i64 = 10 * 60_000;
/// How often due hits are sent.
const TICK: Duration = Duration::from_secs(1);
/// The collector's header naming why it dropped an event.
const DROPPED_HEADER: &str = "x-hitkeep-dropped";
const DAY_MS: i64 = 86_400_000;

/// Generated traffic handed out as time passes: one day of [`Traffic`] after another.
pub struct LiveTraffic {
    seed: u64,
    hits_per_day: u64,
    day: u64,
    current: Peekable<Traffic>,
    end_ms: i64,
}

impl std::fmt::Debug for LiveTraffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTraffic").field("day", &self.day).field("end_ms", &self.end_ms).finish()
    }
}

impl LiveTraffic {
    /// Traffic from `start_ms` on, `hits_per_day` over the demo sites, drawn with `seed`.
    pub fn new(seed: u64, hits_per_day: u64, start_ms: i64) -> Self {
        let end_ms = start_ms + DAY_MS;
        Self { seed, hits_per_day, day: 0, current: Self::day_of(seed, hits_per_day, end_ms), end_ms }
    }

    fn day_of(seed: u64, hits: u64, end_ms: i64) -> Peekable<Traffic> {
        let config = TrafficConfig { seed, hits, days: 1, end_ms, ..TrafficConfig::default() };
        // As an edge reports it: referrer and campaign on the landing pageview only.
        Traffic::new(config).with_attribution(Attribution::Landing).peekable()
    }

    /// The hits due by `now_ms` not handed out before, in time order.
    pub fn due(&mut self, now_ms: i64) -> Vec<Hit> {
        let mut due = Vec::new();
        loop {
            while let Some(hit) = self.current.next_if(|hit| hit.ts <= now_ms) {
                due.push(hit);
            }
            if self.current.peek().is_some() || now_ms < self.end_ms {
                return due;
            }
            // The day is over: the next one, with other visitors.
            self.day += 1;
            self.end_ms += DAY_MS;
            self.current = Self::day_of(self.seed.wrapping_add(self.day), self.hits_per_day, self.end_ms);
        }
    }
}

/// Sends the live traffic through `edge` until `cancel` fires.
pub async fn run(edge: EdgeHandle, clock: Arc<dyn Clock>, cancel: CancellationToken) {
    let start_ms = clock.now_ms();
    // Other visitors on every start.
    let seed = start_ms.unsigned_abs();
    let mut live = LiveTraffic::new(seed, LIVE_HITS_PER_DAY, start_ms - BACKLOG_MS);
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(hits_per_day = LIVE_HITS_PER_DAY, "live demo traffic on");
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = cancel.cancelled() => return,
        }
        for hit in live.due(clock.now_ms()) {
            if cancel.is_cancelled() {
                return;
            }
            send(&edge, &hit).await;
        }
    }
}

/// One hit, through the collector component.
async fn send(edge: &EdgeHandle, hit: &Hit) {
    let request = request_of(hit);
    let place = Place { country: hit.country.clone(), region: hit.region.clone(), city: hit.city.clone() };
    let response = edge.handle_generated(request, visitor_address(hit.visitor), Some(hit.ts), place).await;
    let status = response.status().as_u16();
    if status >= 300 {
        tracing::debug!(status, "a live demo hit was refused");
    } else if let Some(reason) = response.headers().get(DROPPED_HEADER).and_then(|value| value.to_str().ok())
    {
        tracing::debug!(reason, "a live demo hit was dropped");
    }
}

/// The `POST /api/event` a browser would have sent for `hit`.
pub fn request_of(hit: &Hit) -> Request<Body> {
    let mut url = format!("https://{}{}", hit.hostname, hit.path);
    let utm = [
        ("utm_source", &hit.utm.source),
        ("utm_medium", &hit.utm.medium),
        ("utm_campaign", &hit.utm.campaign),
        ("utm_content", &hit.utm.content),
        ("utm_term", &hit.utm.term),
    ];
    let mut separator = '?';
    for (key, value) in utm {
        if let Some(value) = value {
            url.push(separator);
            url.push_str(key);
            url.push('=');
            url.push_str(&percent_encode(value));
            separator = '&';
        }
    }
    let mut payload = json!({ "name": hit.name, "url": url, "domain": hit.domain });
    if let Some(referrer) = &hit.referrer {
        payload["referrer"] = Value::String(format!("https://{referrer}"));
    }
    if !hit.props.is_empty() {
        let props: Map<String, Value> =
            hit.props.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect();
        payload["props"] = Value::Object(props);
    }
    if let Some(revenue) = &hit.revenue {
        let micros = revenue.amount_micros;
        let sign = if micros < 0 { "-" } else { "" };
        let amount =
            format!("{sign}{}.{:06}", micros.unsigned_abs() / 1_000_000, micros.unsigned_abs() % 1_000_000);
        payload["revenue"] = json!({ "currency": revenue.currency, "amount": amount });
    }
    if !hit.interactive {
        payload["interactive"] = Value::Bool(false);
    }
    Request::post("/api/event")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, user_agent(hit))
        .body(Body::from(payload.to_string()))
        .expect("a generated user agent is a header value")
}

/// A generated visitor's address: in the documentation prefix, so it is nobody's.
pub fn visitor_address(visitor: u64) -> IpAddr {
    let part = |shift: u32| ((visitor >> shift) & 0xffff) as u16;
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x0db8, 0, 0, part(48), part(32), part(16), part(0)))
}

/// A user agent that the collector classifies as the hit's browser, system and device.
pub fn user_agent(hit: &Hit) -> String {
    let browser = hit.browser.as_deref().unwrap_or("Chrome");
    let version = hit.browser_version.as_deref().unwrap_or("133");
    let os = hit.os.as_deref().unwrap_or("Windows");
    let os_version = hit.os_version.as_deref().unwrap_or("");
    let webkit = "AppleWebKit/537.36 (KHTML, like Gecko)";
    let chrome = format!("{webkit} Chrome/{version}.0.0.0");
    match (os, hit.device) {
        ("iOS", device) => {
            let ios = if os_version.is_empty() { "18_0".to_string() } else { format!("{os_version}_0") };
            let platform = if device == Device::Tablet {
                format!("iPad; CPU OS {ios} like Mac OS X")
            } else {
                format!("iPhone; CPU iPhone OS {ios} like Mac OS X")
            };
            let product = match browser {
                "Chrome" => format!("CriOS/{version}.0.0.0 Mobile/15E148 Safari/604.1"),
                _ => format!("Version/{version}.0 Mobile/15E148 Safari/604.1"),
            };
            format!("Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) {product}")
        }
        ("Android", device) => {
            let android = if os_version.is_empty() { "14" } else { os_version };
            let mobile = if device == Device::Tablet { "" } else { "Mobile " };
            match browser {
                "Firefox" => format!(
                    "Mozilla/5.0 (Android {android}; Mobile; rv:{version}.0) Gecko/{version}.0 Firefox/{version}.0"
                ),
                "Samsung Internet" => format!(
                    "Mozilla/5.0 (Linux; Android {android}; K) {webkit} SamsungBrowser/{version}.0 Chrome/130.0.0.0 {mobile}Safari/537.36"
                ),
                "Opera" => {
                    format!(
                        "Mozilla/5.0 (Linux; Android {android}; K) {webkit} Chrome/131.0.0.0 {mobile}Safari/537.36 OPR/{version}.0.0.0"
                    )
                }
                _ => format!("Mozilla/5.0 (Linux; Android {android}; K) {chrome} {mobile}Safari/537.36"),
            }
        }
        (os, _) => {
            let platform = match os {
                "macOS" => "Macintosh; Intel Mac OS X 10_15_7",
                "Linux" => "X11; Linux x86_64",
                "ChromeOS" => "X11; CrOS x86_64 14541.0.0",
                _ => "Windows NT 10.0; Win64; x64",
            };
            match browser {
                "Firefox" => {
                    let platform = platform.replace("10_15_7", "10.15");
                    format!("Mozilla/5.0 ({platform}; rv:{version}.0) Gecko/20100101 Firefox/{version}.0")
                }
                "Safari" => format!(
                    "Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{version}.0 Safari/605.1.15"
                ),
                "Edge" => format!("Mozilla/5.0 ({platform}) {chrome} Safari/537.36 Edg/{version}.0.0.0"),
                "Opera" => format!(
                    "Mozilla/5.0 ({platform}) {webkit} Chrome/131.0.0.0 Safari/537.36 OPR/{version}.0.0.0"
                ),
                _ => format!("Mozilla/5.0 ({platform}) {chrome} Safari/537.36"),
            }
        }
    }
}

/// `application/x-www-form-urlencoded` value encoding: unreserved bytes as they are.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitkeep_collector_core::classify_user_agent;

    const START: i64 = 1_767_225_600_000;

    #[test]
    fn hands_out_each_hit_once_in_time_order_and_goes_on_day_after_day() {
        let mut live = LiveTraffic::new(7, 2_000, START);
        let first = live.due(START + 30 * 60_000);
        assert!(!first.is_empty(), "half an hour of 2,000 hits a day has hits");
        assert!(first.iter().all(|hit| hit.ts >= START && hit.ts <= START + 30 * 60_000));
        assert!(first.windows(2).all(|pair| pair[0].ts <= pair[1].ts));
        assert!(live.due(START + 30 * 60_000).is_empty(), "nothing twice");
        let rest_of_day = live.due(START + DAY_MS - 1);
        assert_eq!((first.len() + rest_of_day.len()) as u64, 2_000);
        let next_day = live.due(START + DAY_MS + 6 * 3_600_000);
        assert!(!next_day.is_empty(), "a second day follows");
        assert!(next_day.iter().all(|hit| hit.ts >= START + DAY_MS));
    }

    /// Realtime visitors and today's pageviews over the demo sites, through the control socket
    /// of the running server.
    async fn now_and_today(client: &crate::control::ControlClient) -> (u64, u64) {
        let (mut visitors, mut pageviews) = (0, 0);
        for site in ["demo.hitkeep.dev", "shop.example", "docs.example"] {
            let uri = format!("/control/sites/{site}/stats");
            let ask = |range: &str| json!({"metrics": ["visitors", "pageviews"], "date_range": range});
            let now: Value = client.call(http::Method::POST, &uri, Some(ask("realtime"))).await.unwrap();
            let today: Value = client.call(http::Method::POST, &uri, Some(ask("day"))).await.unwrap();
            let metric = |answer: &Value, index: usize| {
                answer["results"].get(0).and_then(|row| row["metrics"][index].as_u64()).unwrap_or(0)
            };
            visitors += metric(&now, 0);
            pageviews += metric(&today, 1);
        }
        (visitors, pageviews)
    }

    /// `serve --demo` as it runs: visitors are there within seconds of the start (the
    /// backlog), and new ones keep arriving, all through the embedded edge and the pipeline.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_demo_keeps_visitors_arriving() {
        let dir = tempfile::tempdir().unwrap();
        {
            // One old hit: the demo sites exist, and nothing more is loaded at start.
            let store = hitkeep_store::Store::open_dir(dir.path()).unwrap();
            crate::demo::load(&store, 1, 1, 5, false).unwrap();
        }
        let config = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            nats_listen: "127.0.0.1:0".parse().unwrap(),
            demo: true,
            ..crate::config::Config::default()
        };
        let cancel = CancellationToken::new();
        let server = tokio::spawn(crate::serve::run_until(config, cancel.clone()));
        let runtime = dir.path().join(crate::serve::RUNTIME_FILE);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        while !runtime.exists() {
            assert!(tokio::time::Instant::now() < deadline, "the server did not start");
            assert!(!server.is_finished(), "the server stopped");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let client = crate::control::ControlClient::open(dir.path()).await.unwrap();
        assert!(client.is_remote());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let first_pageviews = loop {
            let (visitors, pageviews) = now_and_today(&client).await;
            if visitors > 0 {
                break pageviews;
            }
            assert!(tokio::time::Instant::now() < deadline, "no live visitors");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
        loop {
            let (_, pageviews) = now_and_today(&client).await;
            if pageviews > first_pageviews {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no new pageviews in four minutes");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        cancel.cancel();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn generated_user_agents_classify_as_the_generated_platform() {
        let mut live = LiveTraffic::new(3, 5_000, START);
        let hits = live.due(START + DAY_MS - 1);
        let mut checked = 0;
        for hit in hits.iter().filter(|hit| hit.browser.is_some()) {
            let info = classify_user_agent(&user_agent(hit));
            assert_eq!(info.browser, hit.browser.as_deref(), "{}", user_agent(hit));
            assert_eq!(info.os, hit.os.as_deref(), "{}", user_agent(hit));
            assert_eq!(info.device, hit.device, "{}", user_agent(hit));
            assert_eq!(info.browser_version, hit.browser_version, "{}", user_agent(hit));
            checked += 1;
        }
        assert!(checked > 1_000);
    }

    #[test]
    fn a_request_carries_the_page_campaign_referrer_and_props() {
        let mut live = LiveTraffic::new(11, 20_000, START);
        let hits = live.due(START + DAY_MS - 1);
        let tagged =
            hits.iter().find(|hit| hit.utm.source.is_some() && hit.referrer.is_some()).expect("a campaign");
        let request = request_of(tagged);
        assert_eq!(request.uri().path(), "/api/event");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let body = rt.block_on(http_body_util::BodyExt::collect(request.into_body())).unwrap().to_bytes();
        let payload: Value = serde_json::from_slice(&body).unwrap();
        let url = payload["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("https://{}{}?utm_source=", tagged.hostname, tagged.path)), "{url}");
        assert_eq!(payload["referrer"], format!("https://{}", tagged.referrer.as_deref().unwrap()));
        let with_props = hits.iter().find(|hit| !hit.props.is_empty()).expect("a custom event with props");
        let body = rt.block_on(http_body_util::BodyExt::collect(request_of(with_props).into_body())).unwrap();
        let payload: Value = serde_json::from_slice(&body.to_bytes()).unwrap();
        assert_eq!(payload["props"][&with_props.props[0].0], with_props.props[0].1.as_str());
        assert_eq!(percent_encode("spring sale/ä"), "spring%20sale%2F%C3%A4");
        assert_eq!(visitor_address(0x0001_0002_0003_0004).to_string(), "2001:db8::1:2:3:4");
    }
}
