//! A site's time zone (`PUT /api/sites/{domain}`), its events' property keys
//! (`POST /api/sites/{domain}/property-keys`), and the plugins' status (`GET /api/plugins`).

use std::sync::Arc;

use axum::http::Method;
use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_protocol::{Batch, ENVELOPE_VERSION, EventKind, Hit};
use hitkeep_store::{InstanceRole, SiteRole, TokenScope};
use serde_json::{Value, json};

use crate::test_app::{START_MS, TestApp};

const ADMIN: &str = "admin@example.com";
const MANAGER: &str = "manager@example.com";
const VIEWER: &str = "viewer@example.com";
const DAY_MS: i64 = 86_400_000;

/// `a.example` with a manager and a viewer, an instance admin; events with properties over
/// the last days: each day a `Signup` with `plan` and `billing`, a `Download` with `url`,
/// and at 23:30 UTC a pageview (a day later in Berlin).
fn app() -> TestApp {
    let app = TestApp::new()
        .with_site("a.example")
        .with_site("b.example")
        .with_user(ADMIN, InstanceRole::Admin, &[])
        .with_user(MANAGER, InstanceRole::Member, &[("a.example", SiteRole::Admin)])
        .with_user(VIEWER, InstanceRole::Member, &[("a.example", SiteRole::Viewer)]);
    let mut hits = Vec::new();
    for day in 0..5 {
        let midnight = START_MS - (5 - day) * DAY_MS;
        let visitor = day as u64 * 10 + 1;
        let base = |ts: i64, path: &str| Hit {
            visitor,
            visitor_prev: visitor + 1_000,
            ..Hit::pageview(ts, "a.example", path)
        };
        hits.push(base(midnight + 10 * 3_600_000, "/pricing"));
        hits.push(Hit {
            kind: EventKind::Custom,
            name: "Signup".into(),
            props: vec![("plan".into(), "pro".into()), ("billing".into(), "yearly".into())],
            ..base(midnight + 10 * 3_600_000 + 60_000, "/pricing")
        });
        hits.push(Hit {
            kind: EventKind::Custom,
            name: "Download".into(),
            props: vec![("url".into(), "https://a.example/app.zip".into())],
            ..base(midnight + 10 * 3_600_000 + 120_000, "/pricing")
        });
        if day < 2 {
            hits.push(Hit {
                kind: EventKind::Custom,
                name: "Signup".into(),
                props: vec![("plan".into(), "free".into())],
                ..base(midnight + 11 * 3_600_000, "/")
            });
        }
        hits.push(Hit {
            visitor: visitor + 5,
            visitor_prev: visitor + 1_005,
            ..base(midnight + 23 * 3_600_000 + 1_800_000, "/late")
        });
    }
    let sites = SiteDirectory::new(&app.store().sites().unwrap());
    let mut ingestor =
        Ingestor::open(app.store(), sites, Arc::new(ManualClock::new(START_MS)), 30 * 60_000).unwrap();
    let batch = Batch { v: ENVELOPE_VERSION, id: "features".into(), edge: "test".into(), hits };
    ingestor.ingest(vec![Incoming::decoded(batch, ReplyTo::Nobody)]);
    app
}

fn pageviews_by_day(app: &TestApp, cookie: &str) -> impl std::future::Future<Output = Value> {
    let request = app
        .request(Method::POST, "/api/sites/a.example/stats")
        .cookie(cookie)
        .json(json!({"metrics": ["pageviews"], "date_range": "7d", "dimensions": ["time:day"]}));
    async move {
        let answer = request.send().await;
        assert_eq!(answer.status.as_u16(), 200, "{}", String::from_utf8_lossy(&answer.body));
        answer.json()["results"].clone()
    }
}

#[tokio::test]
async fn a_new_time_zone_moves_the_days_and_the_stats_stay_right() {
    let app = app();
    let manager = app.session(MANAGER);
    // Settled days rolled up in UTC.
    let built = app.store().rollup_builder().unwrap().run(START_MS, &|| false).unwrap();
    assert!(built.days_built > 0);
    let utc = pageviews_by_day(&app, &manager).await;
    // 23:30 UTC is the next day in Berlin: each day's late pageview moves to the day after.
    let put =
        |body: Value| app.request(Method::PUT, "/api/sites/a.example").cookie(&manager).json(body).send();
    let changed = put(json!({"timezone": "Europe/Berlin"})).await;
    assert_eq!(changed.status.as_u16(), 200, "{}", String::from_utf8_lossy(&changed.body));
    assert_eq!(changed.json()["timezone"], "Europe/Berlin");
    assert_eq!(app.store().site("a.example").unwrap().timezone, "Europe/Berlin");
    let berlin = pageviews_by_day(&app, &manager).await;
    assert_ne!(utc, berlin);
    let day_of = |results: &Value, date: &str| {
        results
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["dimensions"][0].as_str().unwrap().starts_with(date))
            .map_or(0, |row| row["metrics"][0].as_u64().unwrap())
    };
    // In UTC each day has its pricing page and its late page; in Berlin the first day has
    // only its pricing page, the others theirs and the late page of the day before.
    for date in ["2025-12-27", "2025-12-28", "2025-12-31"] {
        assert_eq!(day_of(&utc, date), 2, "{date} in UTC");
    }
    assert_eq!(day_of(&berlin, "2025-12-27"), 1, "the late pageview is on the next day in Berlin");
    assert_eq!(day_of(&berlin, "2025-12-28"), 2);
    assert_eq!(day_of(&berlin, "2025-12-31"), 2);
    // Rolled up again in the new zone: the same numbers.
    app.store().rollup_builder().unwrap().run(START_MS, &|| false).unwrap();
    assert_eq!(pageviews_by_day(&app, &manager).await, berlin);

    // Refusals.
    assert_eq!(
        put(json!({"timezone": "Mars/Olympus"})).await.status_code(),
        (400, "invalid_timezone".into())
    );
    assert_eq!(put(json!({})).await.status_code(), (400, "invalid_input".into()));
    assert_eq!(
        put(json!({"timezone": "UTC", "name": "x"})).await.status_code(),
        (400, "invalid_json".into())
    );
    let viewer = app.session(VIEWER);
    let as_viewer = app
        .request(Method::PUT, "/api/sites/a.example")
        .cookie(&viewer)
        .json(json!({"timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(as_viewer.status_code(), (403, "insufficient_role".into()));
    let other = app
        .request(Method::PUT, "/api/sites/b.example")
        .cookie(&viewer)
        .json(json!({"timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(other.status_code(), (404, "site_not_found".into()));
    let read_token = app.token("reader", None, TokenScope::Read, &["a.example"], None);
    let by_token = app
        .request(Method::PUT, "/api/sites/a.example")
        .bearer(&read_token)
        .json(json!({"timezone": "UTC"}))
        .send()
        .await;
    assert_eq!(by_token.status_code(), (403, "insufficient_scope".into()));
    assert_eq!(app.store().site("a.example").unwrap().timezone, "Europe/Berlin");
}

#[tokio::test]
async fn property_keys_are_listed_most_frequent_first() {
    let app = app();
    let viewer = app.session(VIEWER);
    let keys = |body: Value| {
        app.request(Method::POST, "/api/sites/a.example/property-keys").cookie(&viewer).json(body).send()
    };
    let all = keys(json!({"date_range": "7d"})).await;
    assert_eq!(all.status.as_u16(), 200, "{}", String::from_utf8_lossy(&all.body));
    assert_eq!(
        all.json(),
        json!([{"key": "plan", "events": 7}, {"key": "billing", "events": 5}, {"key": "url", "events": 5}])
    );
    assert_eq!(keys(json!({})).await.json(), all.json(), "30 days by default");
    let downloads = keys(json!({"date_range": "7d", "filters": [["is", "event:name", ["Download"]]]})).await;
    assert_eq!(downloads.json(), json!([{"key": "url", "events": 5}]));
    let free = keys(json!({"date_range": "7d", "filters": [["is", "event:props:plan", ["free"]]]})).await;
    assert_eq!(free.json(), json!([{"key": "plan", "events": 2}]));
    assert_eq!(
        keys(json!({"date_range": "7d", "limit": 1})).await.json(),
        json!([{"key": "plan", "events": 7}])
    );
    assert_eq!(keys(json!({"date_range": "day", "date": "2025-12-20"})).await.json(), json!([]));

    // Refusals.
    for bad in [
        json!({"date_range": "7d", "metrics": ["visitors"]}),
        json!({"date_range": "fortnight"}),
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"filters": [["is", "event:nope", ["x"]]]}),
        json!([1]),
    ] {
        assert_eq!(keys(bad.clone()).await.status_code(), (400, "invalid_query".into()), "{bad}");
    }
    let not_json = app
        .request(Method::POST, "/api/sites/a.example/property-keys")
        .cookie(&viewer)
        .raw("application/json", "{")
        .send()
        .await;
    assert_eq!(not_json.status_code(), (400, "invalid_json".into()));
    let path = "/api/sites/a.example/property-keys";
    assert_eq!(
        app.request(Method::POST, path).json(json!({})).send().await.status_code(),
        (401, "unauthenticated".into())
    );
    let other = app.token("b-only", None, TokenScope::Read, &["b.example"], None);
    let refused = app.request(Method::POST, path).bearer(&other).json(json!({})).send().await;
    assert_eq!(refused.status_code(), (404, "site_not_found".into()));
}

#[tokio::test]
async fn the_plugins_status_is_for_instance_admins() {
    let mut app = app();
    let admin = app.session(ADMIN);
    let status = app.request(Method::GET, "/api/plugins").cookie(&admin).send().await;
    assert_eq!(status.status.as_u16(), 200);
    assert_eq!(status.json(), json!({"enabled": false, "plugins": []}));

    let config = hitkeep_plugins::PluginsConfig {
        reload_interval_ms: 0,
        timeout_ms: 5_000,
        ..hitkeep_plugins::PluginsConfig::from_plugins(vec![
            hitkeep_plugins::PluginConfig::new("panicker", hitkeep_plugins::fixtures::PANICKER)
                .on_failure(hitkeep_plugins::FailurePolicy::DeadLetter),
            hitkeep_plugins::PluginConfig::new("noop", hitkeep_plugins::fixtures::NOOP).sites(["a.example"]),
        ])
    };
    let plugins = Arc::new(
        tokio::task::spawn_blocking(move || hitkeep_plugins::Plugins::load(config)).await.unwrap().unwrap(),
    );
    let loaded = plugins.clone();
    tokio::task::spawn_blocking(move || {
        let mut batch = vec![
            Hit::pageview(START_MS, "a.example", "/boom/secret-path"),
            Hit { visitor: 2, ..Hit::pageview(START_MS, "a.example", "/fine") },
        ];
        loaded.apply(&mut batch);
    })
    .await
    .unwrap();
    app.state.plugins = Some(plugins);
    let status = app.request(Method::GET, "/api/plugins").cookie(&admin).send().await;
    assert_eq!(status.status.as_u16(), 200);
    let body = status.json();
    assert_eq!(body["enabled"], true);
    let listed = body["plugins"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["name"], "panicker");
    assert_eq!(listed[0]["sites"], Value::Null);
    assert_eq!(listed[0]["on_failure"], "dead_letter");
    assert_eq!((listed[0]["calls"].as_u64(), listed[0]["failures"].as_u64()), (Some(1), Some(1)));
    assert_eq!(listed[0]["last_error_kind"], "trap");
    assert!(listed[0]["last_error_at_ms"].as_i64().unwrap() >= listed[0]["loaded_at_ms"].as_i64().unwrap());
    assert!(
        !body.to_string().contains("secret-path") && !body.to_string().contains("boom"),
        "no event data: {body}"
    );
    assert_eq!(listed[1]["name"], "noop");
    assert_eq!(listed[1]["sites"], json!(["a.example"]));
    assert_eq!((listed[1]["calls"].as_u64(), listed[1]["failures"].as_u64()), (Some(0), Some(0)));
    assert_eq!(listed[1]["last_error"], Value::Null);

    let viewer = app.session(VIEWER);
    assert_eq!(
        app.request(Method::GET, "/api/plugins").cookie(&viewer).send().await.status_code(),
        (403, "insufficient_role".into())
    );
    assert_eq!(
        app.request(Method::GET, "/api/plugins").send().await.status_code(),
        (401, "unauthenticated".into())
    );
    let token = app.token("all", Some(ADMIN), TokenScope::Read, &[], None);
    assert_eq!(app.request(Method::GET, "/api/plugins").bearer(&token).send().await.status_code().0, 403);
}
