//! `GET /api/sites/{domain}/favicons/{source}` against a real local HTTP server: only hosts
//! seen as referrers are fetched, once, then served from disk; oversized, non-image and SVG
//! answers are refused; the switch turns fetching off; the one access check applies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_protocol::{Batch, ENVELOPE_VERSION, Hit};
use hitkeep_store::{InstanceRole, SiteRole};

use crate::favicons::{Favicons, FetchPolicy, MAX_ICON_BYTES};
use crate::test_app::{START_MS, TestApp};

const VIEWER_A: &str = "viewer-a@example.com";
const VIEWER_B: &str = "viewer-b@example.com";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0\x1f\xf3\xffa";

/// The icon servers of every host, on one loopback port: what each host answers, by its
/// `Host` header, and how many requests each got.
struct IconServer {
    addr: SocketAddr,
    requests: Arc<Mutex<HashMap<String, u32>>>,
}

impl IconServer {
    async fn start() -> Self {
        let requests: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counted = requests.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
            let counted = counted.clone();
            async move {
                let host = headers
                    .get(header::HOST)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("")
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .to_owned();
                *counted.lock().unwrap().entry(host.clone()).or_default() += 1;
                answer(&host, uri.path(), addr.port())
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, requests }
    }

    fn requests(&self, host: &str) -> u32 {
        self.requests.lock().unwrap().get(host).copied().unwrap_or(0)
    }

    fn total(&self) -> u32 {
        self.requests.lock().unwrap().values().sum()
    }
}

fn answer(host: &str, path: &str, port: u16) -> Response {
    let image = |content_type: &'static str, body: Vec<u8>| {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let page = |head: String| {
        image(
            "text/html",
            format!("<!doctype html><html><head>{head}</head><body></body></html>").into_bytes(),
        )
    };
    match (host, path) {
        // Sites that declare their icon in the page, with no /favicon.ico.
        ("page.example.org", "/") => page(
            "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/icon.svg\"><link rel=\"icon\" sizes=\"32x32\" href=\"/static/icon.png?v=3\">".into(),
        ),
        ("page.example.org", "/static/icon.png") => image("image/png", PNG.to_vec()),
        ("pagecdn.example.org", "/") => {
            page(format!("<link rel=\"shortcut icon\" href=\"http://cdn.example.org:{port}/shared/icon.png\">"))
        }
        ("pagesvg.example.org", "/") => page("<link rel=\"icon\" href=\"/icon.svg\">".into()),
        ("page.example.org" | "pagecdn.example.org" | "pagesvg.example.org", _) => StatusCode::NOT_FOUND.into_response(),
        (host, _) => answer_any_path(host, port),
    }
}

fn answer_any_path(host: &str, port: u16) -> Response {
    let image = |content_type: &'static str, body: Vec<u8>| {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    match host {
        "news.example.org" | "www.google.com" | "cdn.example.org" => image("image/png", PNG.to_vec()),
        "octet.example.org" => image("application/octet-stream", PNG.to_vec()),
        "big.example.org" => {
            let mut body = PNG.to_vec();
            body.resize(MAX_ICON_BYTES + 1, 0);
            image("image/png", body)
        }
        "html.example.org" => image("text/html", b"<html><body>hi</body></html>".to_vec()),
        "svg.example.org" => image("image/svg+xml", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec()),
        "fake.example.org" => image("image/png", b"<html>not a png</html>".to_vec()),
        "redirect.example.org" => {
            let to = format!("http://cdn.example.org:{port}/favicon.ico");
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
        "loop.example.org" => {
            let to = format!("http://loop.example.org:{port}/favicon.ico");
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
        "elsewhere.example.org" => {
            (StatusCode::FOUND, [(header::LOCATION, "http://cdn.example.org:1/favicon.ico")]).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `a.example` with visits from each test host (as their referrers) and from Google; its
/// viewer, and a viewer of `b.example` only.
fn app(server: &IconServer, data: &std::path::Path, enabled: bool) -> TestApp {
    let mut app = TestApp::new().with_site("a.example").with_site("b.example").with_user(
        VIEWER_A,
        InstanceRole::Member,
        &[("a.example", SiteRole::Viewer)],
    );
    app = app.with_user(VIEWER_B, InstanceRole::Member, &[("b.example", SiteRole::Viewer)]);
    app.state.favicons = Arc::new(Favicons::new(data, enabled, FetchPolicy::local(server.addr)).unwrap());
    let hosts = [
        "news.example.org",
        "octet.example.org",
        "big.example.org",
        "html.example.org",
        "svg.example.org",
        "fake.example.org",
        "redirect.example.org",
        "loop.example.org",
        "elsewhere.example.org",
        "page.example.org",
        "pagecdn.example.org",
        "pagesvg.example.org",
    ];
    let mut hits = Vec::new();
    for (index, host) in hosts.iter().enumerate() {
        let visitor = index as u64 + 1;
        hits.push(Hit {
            visitor,
            visitor_prev: visitor + 1_000,
            referrer: Some(format!("{host}/some/story")),
            source: Some((*host).to_owned()),
            ..Hit::pageview(START_MS - 3_600_000 + index as i64 * 60_000, "a.example", "/")
        });
    }
    // Google, from two of its hosts: the more frequent one is asked.
    for (index, host) in ["www.google.com", "www.google.com", "www.google.de"].iter().enumerate() {
        let visitor = 100 + index as u64;
        hits.push(Hit {
            visitor,
            visitor_prev: visitor + 1_000,
            referrer: Some(format!("{host}/")),
            source: Some("Google".into()),
            ..Hit::pageview(START_MS - 1_800_000 + index as i64 * 60_000, "a.example", "/")
        });
    }
    let sites = SiteDirectory::new(&app.store().sites().unwrap());
    let mut ingestor =
        Ingestor::open(app.store(), sites, Arc::new(ManualClock::new(START_MS)), 30 * 60_000).unwrap();
    let batch = Batch { v: ENVELOPE_VERSION, id: "favicons".into(), edge: "test".into(), hits };
    ingestor.ingest(vec![Incoming::decoded(batch, ReplyTo::Nobody)]);
    app
}

async fn icon(app: &TestApp, cookie: &str, source: &str) -> crate::test_app::TestResponse {
    app.request(Method::GET, &format!("/api/sites/a.example/favicons/{source}")).cookie(cookie).send().await
}

#[tokio::test]
async fn seen_hosts_are_fetched_once_then_served_from_disk() {
    let server = IconServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let app = app(&server, data.path(), true);
    let cookie = app.session(VIEWER_A);

    let news = icon(&app, &cookie, "news.example.org").await;
    assert_eq!(news.status.as_u16(), 200);
    assert_eq!(news.body, PNG);
    assert_eq!(news.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(news.headers[header::CACHE_CONTROL], "private, max-age=86400");
    assert_eq!(news.headers[header::CONTENT_SECURITY_POLICY], "default-src 'none'; sandbox");
    assert_eq!(news.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(server.requests("news.example.org"), 1);
    let cached = std::fs::read_dir(data.path().join("favicons")).unwrap().count();
    assert_eq!(cached, 1, "one file per host");

    // Again: from disk, even after a restart of the fetcher.
    assert_eq!(icon(&app, &cookie, "news.example.org").await.body, PNG);
    assert_eq!(server.requests("news.example.org"), 1);
    let mut app = app;
    app.state.favicons = Arc::new(Favicons::new(data.path(), true, FetchPolicy::local(server.addr)).unwrap());
    assert_eq!(icon(&app, &cookie, "news.example.org").await.status.as_u16(), 200);
    assert_eq!(server.requests("news.example.org"), 1);
    // A week later it is fetched anew.
    app.clock.advance(6 * 86_400_000);
    let cookie = app.session(VIEWER_A);
    app.clock.advance(2 * 86_400_000);
    assert_eq!(icon(&app, &cookie, "news.example.org").await.status.as_u16(), 200);
    assert_eq!(server.requests("news.example.org"), 2);

    // A source name: its most frequent referrer host.
    assert_eq!(icon(&app, &cookie, "Google").await.status.as_u16(), 200);
    assert_eq!((server.requests("www.google.com"), server.requests("www.google.de")), (1, 0));
    // A declared `application/octet-stream` that is a PNG is taken, as a PNG.
    let octet = icon(&app, &cookie, "octet.example.org").await;
    assert_eq!(octet.status.as_u16(), 200);
    assert_eq!(octet.headers[header::CONTENT_TYPE], "image/png");
    // A redirect to another name, checked again.
    assert_eq!(icon(&app, &cookie, "redirect.example.org").await.status.as_u16(), 200);
    assert_eq!(server.requests("cdn.example.org"), 1);
}

#[tokio::test]
async fn unseen_hosts_and_bad_icons_are_refused() {
    let server = IconServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let app = app(&server, data.path(), true);
    let cookie = app.session(VIEWER_A);

    // Never seen as a referrer of this site: nothing is asked.
    for unseen in ["cdn.example.org", "evil.example.com", "Bing", "localhost", "127.0.0.1"] {
        assert_eq!(icon(&app, &cookie, unseen).await.status_code(), (204, String::new()), "{unseen}");
    }
    assert_eq!(server.total(), 0, "no request for an unseen host");
    assert_eq!(app.state.favicons.fetches(), 0);
    let long = "a".repeat(254);
    assert_eq!(icon(&app, &cookie, &long).await.status_code(), (400, "invalid_source".into()));

    // Too large, not an image, SVG, a lie about the type, too many redirects, a redirect to
    // another port: each asked once, then remembered as a miss.
    for bad in [
        "big.example.org",
        "html.example.org",
        "svg.example.org",
        "fake.example.org",
        "loop.example.org",
        "elsewhere.example.org",
    ] {
        assert_eq!(icon(&app, &cookie, bad).await.status_code(), (204, String::new()), "{bad}");
        assert_eq!(icon(&app, &cookie, bad).await.status_code(), (204, String::new()), "{bad}");
    }
    for asked_once in ["big.example.org", "elsewhere.example.org"] {
        assert_eq!(server.requests(asked_once), 1, "{asked_once}");
    }
    // Those that answered with something else than an icon were asked for their page too
    // (which declares no icon).
    for asked_twice in ["html.example.org", "svg.example.org", "fake.example.org"] {
        assert_eq!(server.requests(asked_twice), 2, "{asked_twice}");
    }
    assert_eq!(server.requests("loop.example.org"), 4, "the first request and 3 redirects");
    assert_eq!(server.requests("cdn.example.org"), 0, "a redirect to another port is not followed");
    // A miss is asked again after a day.
    app.clock.advance(86_400_000 + 1);
    assert_eq!(icon(&app, &cookie, "html.example.org").await.status.as_u16(), 204);
    assert_eq!(server.requests("html.example.org"), 4);
}

#[tokio::test]
async fn icons_declared_in_the_page_are_found() {
    let server = IconServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let app = app(&server, data.path(), true);
    let cookie = app.session(VIEWER_A);
    // No /favicon.ico: the page's raster icon (its SVG one is passed over).
    let page = icon(&app, &cookie, "page.example.org").await;
    assert_eq!((page.status.as_u16(), page.body.as_ref()), (200, PNG));
    assert_eq!(server.requests("page.example.org"), 3, "/favicon.ico, the page, the icon");
    // An icon on another host (a CDN) is fetched under the same checks.
    let cdn = icon(&app, &cookie, "pagecdn.example.org").await;
    assert_eq!((cdn.status.as_u16(), cdn.body.as_ref()), (200, PNG));
    assert_eq!(server.requests("cdn.example.org"), 1);
    // Only an SVG declared: none.
    assert_eq!(icon(&app, &cookie, "pagesvg.example.org").await.status.as_u16(), 204);
    assert_eq!(server.requests("pagesvg.example.org"), 2);
    // Cached like any other.
    assert_eq!(icon(&app, &cookie, "page.example.org").await.status.as_u16(), 200);
    assert_eq!(server.requests("page.example.org"), 3);
}

#[tokio::test]
async fn switched_off_nothing_is_fetched() {
    let server = IconServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let app = app(&server, data.path(), false);
    let cookie = app.session(VIEWER_A);
    let answer = icon(&app, &cookie, "news.example.org").await;
    assert_eq!(answer.status_code(), (204, String::new()));
    assert_eq!(server.total(), 0);
    assert!(!data.path().join("favicons").exists());
}

#[tokio::test]
async fn only_those_who_may_view_the_site_get_its_icons() {
    let server = IconServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let app = app(&server, data.path(), true);
    let path = "/api/sites/a.example/favicons/news.example.org";
    assert_eq!(app.request(Method::GET, path).send().await.status_code(), (401, "unauthenticated".into()));
    let other = app.session(VIEWER_B);
    assert_eq!(
        app.request(Method::GET, path).cookie(&other).send().await.status_code(),
        (404, "site_not_found".into())
    );
    let missing = app
        .request(Method::GET, "/api/sites/nope.example/favicons/news.example.org")
        .cookie(&other)
        .send()
        .await;
    assert_eq!(missing.status_code(), (404, "site_not_found".into()));
    assert_eq!(server.total(), 0);
}
