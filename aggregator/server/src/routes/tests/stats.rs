//! The stats routes: who may ask (through the one check), Plausible's request examples and
//! error shape, the dashboard's query with comparisons, and CSV.

use std::sync::Arc;

use axum::http::Method;
use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_protocol::{Batch, ENVELOPE_VERSION, EventKind, Hit};
use hitkeep_store::{InstanceRole, SiteRole, TokenScope};
use serde_json::{Value, json};

use crate::test_app::{START_MS, TestApp};

const VIEWER: &str = "viewer@example.com";
const DAY_MS: i64 = 86_400_000;

/// Two sites; a week of visits on `a.example` before [`START_MS`] (2026-01-01): each day
/// `day + 1` visits from Germany via Google landing on `/`, and one direct visit from France
/// of two pages and a signup.
fn app() -> TestApp {
    let app = TestApp::new().with_site("a.example").with_site("b.example").with_user(
        VIEWER,
        InstanceRole::Member,
        &[("a.example", SiteRole::Viewer)],
    );
    let mut hits = Vec::new();
    let mut visitor = 1;
    for day in 0..7 {
        let midnight = START_MS - (7 - day) * DAY_MS;
        for index in 0..=day {
            visitor += 1;
            hits.push(Hit {
                visitor,
                visitor_prev: visitor + 100_000,
                source: Some("Google".into()),
                country: Some("DE".into()),
                ..Hit::pageview(midnight + 10 * 3_600_000 + index * 60_000, "a.example", "/")
            });
        }
        visitor += 1;
        let base = |ts: i64, path: &str| Hit {
            visitor,
            visitor_prev: visitor + 100_000,
            country: Some("FR".into()),
            ..Hit::pageview(ts, "a.example", path)
        };
        let at = midnight + 15 * 3_600_000;
        hits.push(base(at, "/pricing"));
        hits.push(base(at + 60_000, "/docs"));
        hits.push(Hit {
            kind: EventKind::Custom,
            name: "Signup".into(),
            revenue: Some(hitkeep_protocol::Revenue { amount_micros: 20_000_000, currency: "EUR".into() }),
            ..base(at + 120_000, "/docs")
        });
    }
    let sites = SiteDirectory::new(&app.store().sites().unwrap());
    let mut ingestor =
        Ingestor::open(app.store(), sites, Arc::new(ManualClock::new(START_MS)), 30 * 60_000).unwrap();
    let batch = Batch { v: ENVELOPE_VERSION, id: "stats-test".into(), edge: "test".into(), hits };
    ingestor.ingest(vec![Incoming::decoded(batch, ReplyTo::Nobody)]);
    app
}

fn query(body: Value) -> Value {
    let mut body = body;
    body["site_id"] = json!("a.example");
    body
}

#[tokio::test]
async fn every_stats_route_refuses_missing_wrong_expired_and_other_sites_tokens() {
    let app = app();
    let good = app.token("read-a", None, TokenScope::Read, &["a.example"], None);
    let other_site = app.token("read-b", None, TokenScope::Read, &["b.example"], None);
    let expired = app.token("old", None, TokenScope::Read, &["a.example"], Some(START_MS - 1));
    let wrong = "hkt_0000000000000000000000000000000000000000000";
    let body = query(json!({"metrics": ["visitors"], "date_range": "7d"}));

    // Plausible's route, in Plausible's words.
    let send = |token: Option<&str>| {
        let mut request = app.request(Method::POST, "/api/v2/query").json(body.clone());
        if let Some(token) = token {
            request = request.bearer(token);
        }
        request.send()
    };
    let missing = send(None).await;
    assert_eq!(missing.status.as_u16(), 401);
    assert_eq!(
        missing.json(),
        json!({"error": "Missing API key. Please use a valid Plausible API key as a Bearer Token."})
    );
    for token in [wrong, expired.as_str(), other_site.as_str()] {
        let refused = send(Some(token)).await;
        assert_eq!(refused.status.as_u16(), 401, "{token}");
        assert!(refused.json()["error"].as_str().unwrap().starts_with("Invalid API key or site ID."));
    }
    let unknown = app
        .request(Method::POST, "/api/v2/query")
        .bearer(&good)
        .json(json!({"site_id": "nowhere.example", "metrics": ["visitors"], "date_range": "7d"}))
        .send()
        .await;
    assert_eq!(unknown.status.as_u16(), 401);
    assert_eq!(send(Some(&good)).await.status.as_u16(), 200);

    // The dashboard's routes, through the same check, in Hitkeep's error shape.
    for path in ["/api/sites/a.example/stats", "/api/sites/a.example/stats.csv"] {
        let request = |token: Option<&str>| {
            let mut request = app.request(Method::POST, path).json(body.clone());
            if let Some(token) = token {
                request = request.bearer(token);
            }
            request.send()
        };
        assert_eq!(request(None).await.status_code(), (401, "unauthenticated".into()), "{path}");
        assert_eq!(request(Some(wrong)).await.status.as_u16(), 401, "{path}");
        assert_eq!(request(Some(&expired)).await.status.as_u16(), 401, "{path}");
        assert_eq!(request(Some(&other_site)).await.status_code(), (404, "site_not_found".into()), "{path}");
        assert_eq!(request(Some(&good)).await.status.as_u16(), 200, "{path}");
    }
    // A viewer's session reads the site's stats; not another site's.
    let session = app.session(VIEWER);
    let own = app
        .request(Method::POST, "/api/sites/a.example/stats")
        .cookie(&session)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(own.status.as_u16(), 200);
    let other = app
        .request(Method::POST, "/api/sites/b.example/stats")
        .cookie(&session)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(other.status_code(), (404, "site_not_found".into()));
}

async fn ask(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let response = app.request(Method::POST, "/api/v2/query").bearer(token).json(body).send().await;
    (response.status.as_u16(), response.json())
}

#[tokio::test]
async fn plausibles_documented_examples_answer_in_its_shape() {
    let app = app();
    let token = app.token("read-a", None, TokenScope::Read, &["a.example"], None);
    // The examples of Plausible's Stats API documentation, with our site and dates.
    let examples = [
        json!({"metrics": ["visitors", "events"], "date_range": "7d"}),
        json!({"metrics": ["visitors"], "date_range": ["2025-12-25", "2025-12-31"]}),
        json!({"metrics": ["visitors", "pageviews", "bounce_rate"], "date_range": "7d",
               "filters": [["is_not", "visit:country_name", [""]]], "dimensions": ["visit:country_name", "visit:city_name"]}),
        json!({"metrics": ["visitors", "events", "pageviews"], "date_range": "7d", "dimensions": ["visit:utm_medium", "visit:utm_source"]}),
        json!({"metrics": ["visitors"], "date_range": "7d",
               "filters": [["contains", "event:page", ["/docs", "/pricing"]], ["is", "visit:country_name", ["France", "United States"]]]}),
        json!({"metrics": ["visitors"], "date_range": "7d", "filters": [["contains", "event:page", ["DOCS"], {"case_sensitive": false}]]}),
        json!({"metrics": ["visitors", "events"], "date_range": "7d", "filters": [["is", "visit:os", ["GNU/Linux", "Mac"]]], "dimensions": ["time:day"]}),
        json!({"metrics": ["visitors"], "date_range": "day", "dimensions": ["time:hour"], "include": {"time_labels": true}}),
        json!({"metrics": ["visitors"], "date_range": "7d", "dimensions": ["time:day", "event:props:is_customer"],
               "order_by": [["time:day", "asc"], ["event:props:is_customer", "desc"]]}),
        json!({"metrics": ["visitors", "events", "pageviews"], "date_range": "7d", "dimensions": ["visit:utm_medium", "visit:utm_source"],
               "include": {"total_rows": true}, "pagination": {"limit": 3, "offset": 1}}),
        json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:source"], "include": {"imports": true}}),
        json!({"metrics": ["visitors"], "date_range": "all", "filters": [["is", "event:name", ["Signup"]], ["has_done", ["is", "event:page", ["/pricing"]]]]}),
        json!({"metrics": ["pageviews", "visits", "views_per_visit", "visitors", "bounce_rate", "visit_duration"], "date_range": "all"}),
    ];
    for example in examples {
        let body = query(example.clone());
        let (status, answer) = ask(&app, &token, body.clone()).await;
        assert_eq!(status, 200, "{example}: {answer}");
        let metrics = body["metrics"].as_array().unwrap().len();
        let dimensions = body.get("dimensions").and_then(Value::as_array).map_or(0, Vec::len);
        for row in answer["results"].as_array().unwrap() {
            assert_eq!(row["metrics"].as_array().unwrap().len(), metrics, "{example}");
            assert_eq!(row["dimensions"].as_array().unwrap().len(), dimensions, "{example}");
        }
        assert!(answer["meta"].is_object());
        let echo = &answer["query"];
        assert_eq!(echo["site_id"], "a.example");
        assert_eq!(echo["metrics"], body["metrics"]);
        assert_eq!(echo["date_range"].as_array().unwrap().len(), 2);
    }

    // The numbers, for the last seven days (24 to 31 December).
    let (_, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration", "views_per_visit"], "date_range": "7d"})),
    )
    .await;
    // All seven days of the fixture: 1+2+...+7 = 28 visits from Google (bounces), 7 from
    // France (two pages and a signup in two minutes).
    assert_eq!(answer["results"], json!([{"metrics": [35, 35, 42, 49, 80, 24, 1.2], "dimensions": []}]));
    assert_eq!(
        answer["query"]["date_range"],
        json!(["2025-12-25T00:00:00+00:00", "2025-12-31T23:59:59+00:00"])
    );

    let (_, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors", "percentage"], "date_range": "7d", "dimensions": ["visit:source"]})),
    )
    .await;
    assert_eq!(
        answer["results"],
        json!([{"metrics": [28, 80.0], "dimensions": ["Google"]}, {"metrics": [7, 20.0], "dimensions": ["Direct / None"]}])
    );
    let (_, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors"], "date_range": "7d", "dimensions": ["visit:country_name"],
                     "filters": [["is", "visit:country_name", ["France"]]]})),
    )
    .await;
    assert_eq!(answer["results"], json!([{"metrics": [7], "dimensions": ["France"]}]));
    let (_, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors"], "date_range": ["2025-12-30", "2025-12-31"], "dimensions": ["time:day"],
                     "include": {"time_labels": true, "total_rows": true}})),
    )
    .await;
    assert_eq!(
        answer["results"],
        json!([{"metrics": [7], "dimensions": ["2025-12-30"]}, {"metrics": [8], "dimensions": ["2025-12-31"]}])
    );
    assert_eq!(answer["meta"], json!({"time_labels": ["2025-12-30", "2025-12-31"], "total_rows": 2}));
}

#[tokio::test]
async fn malformed_queries_get_plausibles_400() {
    let app = app();
    let token = app.token("read-a", None, TokenScope::Read, &["a.example"], None);
    let cases = [
        (json!({"metrics": ["visitors", "baa"], "date_range": "7d"}), "#/metrics/1: Invalid metric \"baa\""),
        (
            json!({"metrics": ["visitors"], "date_range": "bad_period"}),
            "#/date_range: Invalid date range \"bad_period\"",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "7d", "dimensions": ["visit:hostname"]}),
            "#/dimensions/0: Invalid dimension \"visit:hostname\"",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "7d", "bogus": 1}),
            "#/bogus: Schema does not allow additional properties.",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "7d", "filters": "x"}),
            "#/filters: Type mismatch. Expected Array but got String.",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = ask(&app, &token, query(body)).await;
        assert_eq!((status, answer), (400, json!({"error": message})));
    }
    let (status, answer) = ask(&app, &token, json!({"metrics": ["visitors"], "date_range": "7d"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "Missing site ID. Please provide the required site_id parameter with your request."
    );
    // Not JSON at all.
    let response = app
        .request(Method::POST, "/api/v2/query")
        .bearer(&token)
        .raw("application/json", "{not json")
        .send()
        .await;
    assert_eq!(response.status.as_u16(), 400);
    assert!(response.json()["error"].is_string());
    // Too large.
    let huge = query(json!({"metrics": ["visitors"], "date_range": "7d",
        "filters": [["is", "event:page", vec!["x".repeat(1000); 80]]]}));
    let response = app.request(Method::POST, "/api/v2/query").bearer(&token).json(huge).send().await;
    assert_eq!(response.status.as_u16(), 413);
}

#[tokio::test]
async fn the_dashboard_compares_periods_and_exports_csv() {
    let app = app();
    let session = app.session(VIEWER);
    let body = json!({
        "metrics": ["visitors", "bounce_rate"],
        "date_range": ["2025-12-31", "2025-12-31"],
        "dimensions": ["visit:source"],
        "include": {"comparisons": {"mode": "previous_period"}},
    });
    let answer = app
        .request(Method::POST, "/api/sites/a.example/stats")
        .cookie(&session)
        .json(body)
        .send()
        .await
        .json();
    // The 31st (day 6: 7 from Google) against the 30th (6 from Google).
    assert_eq!(
        answer["results"][0],
        json!({"metrics": [7, 100], "dimensions": ["Google"],
               "comparison": {"metrics": [6, 100], "dimensions": ["Google"], "change": [16.7, 0]}})
    );
    let body =
        json!({"metrics": ["visitors", "pageviews"], "date_range": "7d", "dimensions": ["event:page"]});
    let csv =
        app.request(Method::POST, "/api/sites/a.example/stats.csv").cookie(&session).json(body).send().await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        String::from_utf8(csv.body).unwrap(),
        "event:page,visitors,pageviews\r\n/,28,28\r\n/docs,7,7\r\n/pricing,7,7\r\n"
    );
    // A bad query, in Hitkeep's error shape.
    let bad = app
        .request(Method::POST, "/api/sites/a.example/stats")
        .cookie(&session)
        .json(json!({"metrics": ["nope"], "date_range": "7d"}))
        .send()
        .await;
    assert_eq!(bad.status_code(), (400, "invalid_query".into()));
}

#[tokio::test]
async fn realtime_counts_the_last_minutes() {
    let app = app();
    let recent = |visitor: u64, minutes_ago: i64, path: &str| Hit {
        visitor,
        visitor_prev: visitor + 1,
        ..Hit::pageview(START_MS - minutes_ago * 60_000, "a.example", path)
    };
    let hits = vec![recent(900, 2, "/now"), recent(901, 20, "/earlier"), recent(902, 3, "/now")];
    let sites = SiteDirectory::new(&app.store().sites().unwrap());
    let mut ingestor =
        Ingestor::open(app.store(), sites, Arc::new(ManualClock::new(START_MS)), 30 * 60_000).unwrap();
    let batch = Batch { v: ENVELOPE_VERSION, id: "recent".into(), edge: "test".into(), hits };
    ingestor.ingest(vec![Incoming::decoded(batch, ReplyTo::Nobody)]);
    let session = app.session(VIEWER);
    let now = app.request(Method::GET, "/api/sites/a.example/realtime").cookie(&session).send().await.json();
    assert_eq!(now["visitors"], 2, "two visitors in the last five minutes");
    assert_eq!(now["pageviews"], 3, "three pageviews in the last thirty");
    assert_eq!(now["pages"], json!([["/now", 2], ["/earlier", 1]]));
    assert_eq!(now["sources"], json!([["Direct / None", 3]]));
    let other = app.request(Method::GET, "/api/sites/b.example/realtime").cookie(&session).send().await;
    assert_eq!(other.status_code(), (404, "site_not_found".into()));
    let anonymous = app.request(Method::GET, "/api/sites/a.example/realtime/stream").send().await;
    assert_eq!(anonymous.status_code(), (401, "unauthenticated".into()));
}

#[tokio::test]
async fn goals_are_managed_by_managers_and_counted_by_the_stats_api() {
    let app = app().with_user("admin@example.com", InstanceRole::Member, &[("a.example", SiteRole::Admin)]);
    let admin = app.session("admin@example.com");
    let viewer = app.session(VIEWER);
    let goals = "/api/sites/a.example/goals";
    let added = app.request(Method::POST, goals).cookie(&admin).json(json!({"event": "Signup"})).send().await;
    assert_eq!(added.status.as_u16(), 201);
    assert_eq!(added.json()["name"], "Signup");
    let page = app.request(Method::POST, goals).cookie(&admin).json(json!({"page": "/doc*"})).send().await;
    assert_eq!(page.json()["name"], "Visit /doc*");
    let again = app.request(Method::POST, goals).cookie(&admin).json(json!({"event": "Signup"})).send().await;
    assert_eq!(again.status_code(), (409, "goal_exists".into()));
    let both = app
        .request(Method::POST, goals)
        .cookie(&admin)
        .json(json!({"event": "Signup", "page": "/x", "name": "Both"}))
        .send()
        .await;
    assert_eq!(both.status_code(), (400, "invalid_goal".into()));
    // A viewer sees the goals and may not change them.
    let listed = app.request(Method::GET, goals).cookie(&viewer).send().await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let refused =
        app.request(Method::POST, goals).cookie(&viewer).json(json!({"event": "Other"})).send().await;
    assert_eq!(refused.status_code(), (403, "insufficient_role".into()));

    // The Stats API: goals as a dimension, and the conversion rate of a goal filter.
    let token = app.token("read-a", None, TokenScope::Read, &["a.example"], None);
    let (status, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors", "events", "conversion_rate"], "date_range": "7d", "dimensions": ["event:goal"]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // 35 visitors; the 7 from France read /docs and signed up.
    assert_eq!(
        answer["results"],
        json!([{"metrics": [7, 7, 20.0], "dimensions": ["Signup"]}, {"metrics": [7, 7, 20.0], "dimensions": ["Visit /doc*"]}])
    );
    let (_, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors", "conversion_rate"], "date_range": "7d", "filters": [["is", "event:goal", ["Signup"]]]})),
    )
    .await;
    assert_eq!(answer["results"], json!([{"metrics": [7, 20.0], "dimensions": []}]));
    let (status, answer) =
        ask(&app, &token, query(json!({"metrics": ["conversion_rate"], "date_range": "7d"}))).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "Metric `conversion_rate` can only be queried with event:goal filters or dimensions."
    );
    // Of each source's own visitors (all 7 direct visitors signed up), beside the share of
    // all 35.
    let (status, answer) = ask(
        &app,
        &token,
        query(
            json!({"metrics": ["visitors", "group_conversion_rate", "conversion_rate"], "date_range": "7d",
                     "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Signup"]]]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"], json!([{"metrics": [7, 100.0, 20.0], "dimensions": ["Direct / None"]}]));
    let (status, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["group_conversion_rate"], "date_range": "7d", "filters": [["is", "event:goal", ["Signup"]]]})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().starts_with("Metric `group_conversion_rate` can only be queried")
    );

    // Revenue, as Plausible shows money: the seven signups paid 20 EUR each.
    let (status, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["total_revenue", "average_revenue"], "date_range": "7d", "dimensions": ["event:goal"]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let money = |value: f64, short: &str, long: &str| json!({"value": value, "currency": "EUR", "short": short, "long": long});
    assert_eq!(
        answer["results"],
        json!([
            {"metrics": [money(140.0, "140.00 EUR", "140.00 EUR"), money(20.0, "20.00 EUR", "20.00 EUR")], "dimensions": ["Signup"]},
            {"metrics": [null, null], "dimensions": ["Visit /doc*"]},
        ])
    );
    let (status, answer) =
        ask(&app, &token, query(json!({"metrics": ["total_revenue"], "date_range": "7d"}))).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "Metric `total_revenue` can only be queried with event:goal filters or dimensions."
    );

    let removed = app.request(Method::DELETE, &format!("{goals}/Signup")).cookie(&admin).send().await;
    assert_eq!(removed.status.as_u16(), 204);
    let gone = app.request(Method::DELETE, &format!("{goals}/Signup")).cookie(&admin).send().await;
    assert_eq!(gone.status_code(), (404, "goal_not_found".into()));
}

#[tokio::test]
async fn funnels_report_steps_done_in_order() {
    let app = app().with_user("admin@example.com", InstanceRole::Member, &[("a.example", SiteRole::Admin)]);
    let admin = app.session("admin@example.com");
    let funnels = "/api/sites/a.example/funnels";
    let body =
        json!({"name": "Checkout", "steps": [{"page": "/pricing"}, {"page": "/docs"}, {"event": "Signup"}]});
    let added = app.request(Method::POST, funnels).cookie(&admin).json(body).send().await;
    assert_eq!(added.status.as_u16(), 201, "{}", String::from_utf8_lossy(&added.body));
    let reversed = json!({"name": "Backwards", "steps": [{"page": "/docs"}, {"page": "/pricing"}]});
    app.request(Method::POST, funnels).cookie(&admin).json(reversed).send().await;
    let one = json!({"name": "Short", "steps": [{"page": "/docs"}]});
    let refused = app.request(Method::POST, funnels).cookie(&admin).json(one).send().await;
    assert_eq!(refused.status_code(), (400, "invalid_funnel".into()));

    let viewer = app.session(VIEWER);
    let report = app
        .request(Method::POST, &format!("{funnels}/Checkout/report"))
        .cookie(&viewer)
        .json(json!({"date_range": "7d"}))
        .send()
        .await
        .json();
    let steps = report["steps"].as_array().unwrap();
    let visitors: Vec<u64> = steps.iter().map(|step| step["visitors"].as_u64().unwrap()).collect();
    assert_eq!(visitors, [7, 7, 7]);
    assert_eq!(steps[1]["median_seconds_from_previous"], 60.0);
    let backwards = app
        .request(Method::POST, &format!("{funnels}/Backwards/report"))
        .cookie(&viewer)
        .json(json!({"date_range": "7d"}))
        .send()
        .await
        .json();
    assert_eq!(backwards["steps"][1]["visitors"], 0, "pricing came before the docs");
    assert_eq!(backwards["steps"][1]["dropped"], 7);
    let missing = app
        .request(Method::POST, &format!("{funnels}/Nope/report"))
        .cookie(&viewer)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(missing.status_code(), (404, "funnel_not_found".into()));
}

#[tokio::test]
async fn time_on_page_needs_the_page_dimension() {
    let app = app();
    let token = app.token("read-a", None, TokenScope::Read, &["a.example"], None);
    let (status, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors", "time_on_page", "scroll_depth"], "date_range": "7d", "dimensions": ["event:page"]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // The fixture has no engagement reports: no time, no scroll.
    assert_eq!(answer["results"][0], json!({"metrics": [28, null, null], "dimensions": ["/"]}));
    let (status, answer) =
        ask(&app, &token, query(json!({"metrics": ["time_on_page"], "date_range": "7d"}))).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "Metric `time_on_page` can only be queried with the event:page dimension, or with event:page filters \
         (and at most a time dimension)."
    );
    let (status, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors", "time_on_page"], "date_range": "7d", "filters": [["is", "event:page", ["/docs"]]]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"], json!([{"metrics": [7, null], "dimensions": []}]));
}

#[tokio::test]
async fn event_and_visit_dimensions_combine() {
    let app = app();
    let token = app.token("read-a", None, TokenScope::Read, &["a.example"], None);
    // Each pageview under its visit's source and country; a page's bounce rate is that of
    // the visits that entered on it from there (every Google visit bounced on /; none
    // entered on /docs, shown as 0 as Plausible does).
    let (status, answer) = ask(
        &app,
        &token,
        query(json!({"metrics": ["visitors", "pageviews", "bounce_rate"], "date_range": "7d",
                     "dimensions": ["event:page", "visit:source", "visit:country"]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["results"],
        json!([
            {"metrics": [28, 28, 100], "dimensions": ["/", "Google", "DE"]},
            {"metrics": [7, 7, 0], "dimensions": ["/docs", "Direct / None", "FR"]},
            {"metrics": [7, 7, 0], "dimensions": ["/pricing", "Direct / None", "FR"]},
        ])
    );
    let (status, answer) = ask(
        &app,
        &token,
        query(
            json!({"metrics": ["events"], "date_range": "7d", "dimensions": ["event:name", "visit:channel"],
                     "filters": [["is", "visit:country", ["FR"]]]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["results"],
        json!([
            {"metrics": [14], "dimensions": ["pageview", "Direct"]},
            {"metrics": [7], "dimensions": ["Signup", "Direct"]},
        ])
    );
}
