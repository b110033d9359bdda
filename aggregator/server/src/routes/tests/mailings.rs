//! E-mail reports and alerts of a site: who may manage them, the refusals, and a traffic
//! drop found by the scheduler's check and sent through a real SMTP server.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::Method;
use hitkeep_ingest::{Incoming, Ingestor, ManualClock, ReplyTo, SiteDirectory};
use hitkeep_protocol::{Batch, ENVELOPE_VERSION, Hit};
use hitkeep_store::{AlertKind, InstanceRole, MailStatus, NewAlert, SiteRole, TokenScope};
use serde_json::json;

use crate::test_app::{START_MS, SmtpSink, TestApp};

const MANAGER: &str = "manager@example.com";
const VIEWER: &str = "viewer@example.com";
const DAY_MS: i64 = 86_400_000;

fn app(smtp: Option<&SmtpSink>) -> TestApp {
    let app = TestApp::new()
        .with_site("a.example")
        .with_site("b.example")
        .with_user(MANAGER, InstanceRole::Member, &[("a.example", SiteRole::Admin)])
        .with_user(VIEWER, InstanceRole::Member, &[("a.example", SiteRole::Viewer)]);
    match smtp {
        Some(smtp) => app.with_mailer(smtp),
        None => app,
    }
}

#[tokio::test]
async fn a_sites_managers_manage_its_reports_and_alerts_and_nobody_else() {
    let smtp = SmtpSink::start();
    let app = app(Some(&smtp));
    let manager = app.session(MANAGER);
    let viewer = app.session(VIEWER);
    let report = json!({"email": "Ada@Example.com", "frequency": "weekly", "language": "it"});
    let added = app
        .request(Method::POST, "/api/sites/a.example/reports")
        .cookie(&manager)
        .json(report.clone())
        .send()
        .await;
    assert_eq!(added.status.as_u16(), 201, "{}", String::from_utf8_lossy(&added.body));
    assert_eq!(added.json()["email"], "ada@example.com");
    assert_eq!(added.json()["frequency"], "weekly");
    let id = added.json()["id"].as_u64().unwrap();
    let twice = app
        .request(Method::POST, "/api/sites/a.example/reports")
        .cookie(&manager)
        .json(report.clone())
        .send()
        .await;
    assert_eq!(twice.status_code(), (409, "mailing_exists".into()));
    for (body, code) in [
        (json!({"email": "ada", "frequency": "daily"}), "invalid_email"),
        (json!({"email": "ada@example.com", "frequency": "daily", "language": "nl"}), "invalid_language"),
    ] {
        let refused = app
            .request(Method::POST, "/api/sites/a.example/reports")
            .cookie(&manager)
            .json(body)
            .send()
            .await;
        assert_eq!(refused.status_code(), (400, code.into()));
    }
    let unknown = app
        .request(Method::POST, "/api/sites/a.example/reports")
        .cookie(&manager)
        .json(json!({"email": "ada@example.com", "frequency": "hourly"}))
        .send()
        .await;
    assert!(unknown.status.is_client_error());
    // A viewer, a read token, another site, nobody.
    let listed = app.request(Method::GET, "/api/sites/a.example/reports").cookie(&viewer).send().await;
    assert_eq!(listed.status_code(), (403, "insufficient_role".into()));
    let read = app.token("read", None, TokenScope::Read, &["a.example"], None);
    let listed = app.request(Method::GET, "/api/sites/a.example/alerts").bearer(&read).send().await;
    assert_eq!(listed.status_code(), (403, "insufficient_scope".into()));
    let other =
        app.request(Method::POST, "/api/sites/b.example/reports").cookie(&manager).json(report).send().await;
    assert_eq!(other.status_code(), (404, "site_not_found".into()));
    let nobody = app.request(Method::GET, "/api/sites/a.example/reports").send().await;
    assert_eq!(nobody.status.as_u16(), 401);
    // A write token manages too.
    let write = app.token("write", None, TokenScope::Write, &["a.example"], None);
    let alert = app
        .request(Method::POST, "/api/sites/a.example/alerts")
        .bearer(&write)
        .json(json!({"email": "ops@example.com", "kind": "traffic_drop", "threshold": 40}))
        .send()
        .await;
    assert_eq!(alert.status.as_u16(), 201, "{}", String::from_utf8_lossy(&alert.body));
    assert_eq!(alert.json()["language"], "en");
    let too_high = app
        .request(Method::POST, "/api/sites/a.example/alerts")
        .bearer(&write)
        .json(json!({"email": "ops@example.com", "kind": "visitors_above", "threshold": 0}))
        .send()
        .await;
    assert_eq!(too_high.status_code(), (400, "invalid_alert".into()));
    let listed = app.request(Method::GET, "/api/sites/a.example/alerts").cookie(&manager).send().await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    // Removing.
    let path = format!("/api/sites/a.example/reports/{id}");
    let wrong_site = app
        .request(Method::DELETE, &format!("/api/sites/b.example/reports/{id}"))
        .cookie(&manager)
        .send()
        .await;
    assert_eq!(wrong_site.status.as_u16(), 404);
    assert_eq!(app.request(Method::DELETE, &path).cookie(&viewer).send().await.status.as_u16(), 403);
    assert_eq!(app.request(Method::DELETE, &path).cookie(&manager).send().await.status.as_u16(), 204);
    let again = app.request(Method::DELETE, &path).cookie(&manager).send().await;
    assert_eq!(again.status_code(), (404, "mailing_not_found".into()));
    // A link that matches nothing.
    let page = app.request(Method::GET, &format!("/unsubscribe/hkx_{}", "0".repeat(64))).send().await;
    assert_eq!(page.status.as_u16(), 404);
    assert!(String::from_utf8_lossy(&page.body).contains("not valid"));
}

#[tokio::test]
async fn without_an_smtp_server_reports_are_refused_with_a_reason() {
    let app = app(None);
    let manager = app.session(MANAGER);
    let refused = app
        .request(Method::POST, "/api/sites/a.example/reports")
        .cookie(&manager)
        .json(json!({"email": "ada@example.com", "frequency": "daily"}))
        .send()
        .await;
    assert_eq!(refused.status_code(), (409, "mail_not_configured".into()));
}

/// Four weeks of 20 visitors a day, then a day of 3: the check the morning after fires
/// one alert, which goes out with the day's numbers; checking again sends nothing.
#[tokio::test]
async fn a_day_far_below_its_usual_level_sends_one_alert() {
    let smtp = SmtpSink::start();
    let app = app(Some(&smtp));
    let mut hits = Vec::new();
    let yesterday = START_MS - DAY_MS;
    for day in 1..=29 {
        let midnight = START_MS - day * DAY_MS;
        let visitors = if midnight == yesterday { 3 } else { 20 };
        for visitor in 0..visitors {
            let visitor = (day as u64) * 1_000 + visitor;
            hits.push(Hit {
                visitor,
                visitor_prev: 0,
                ..Hit::pageview(midnight + 36_000_000, "a.example", "/")
            });
        }
    }
    let sites = SiteDirectory::new(&app.store().sites().unwrap());
    let mut ingestor =
        Ingestor::open(app.store(), sites, Arc::new(ManualClock::new(START_MS)), 30 * 60_000).unwrap();
    let batch = Batch { v: ENVELOPE_VERSION, id: "drop".into(), edge: "test".into(), hits };
    ingestor.ingest(vec![Incoming::decoded(batch, ReplyTo::Nobody)]);
    let site = app.store().site("a.example").unwrap();
    let new =
        NewAlert { email: "ops@example.com", language: "en", kind: AlertKind::TrafficDrop, threshold: 50 };
    app.store().add_alert(site.id, &new, None, START_MS - 3 * DAY_MS).unwrap();

    let store = app.store();
    let mut checked = HashMap::new();
    // Before 01:00 the day is not judged yet.
    assert_eq!(crate::reports::check_alerts(store, START_MS + 1_800_000, &mut checked).unwrap(), 0);
    assert_eq!(crate::reports::check_alerts(store, START_MS + 7_200_000, &mut checked).unwrap(), 1);
    assert_eq!(crate::reports::check_alerts(store, START_MS + 7_300_000, &mut HashMap::new()).unwrap(), 0);
    let mailer = app.state.mailer.clone().unwrap();
    let sent = crate::reports::send_due(&app.state, &mailer, None, START_MS + 7_200_000).await.unwrap();
    assert_eq!(sent, 1);
    let messages = smtp.wait_for(1).await;
    let message = &messages[0];
    assert!(
        message.contains("Subject: a.example: traffic on 31 December 2025 was 15% of the usual"),
        "{message}"
    );
    assert!(
        message.contains("a.example had 3 visitors on 31 December 2025, 15% of a usual day like it (20"),
        "{message}"
    );
    assert!(message.contains("List-Unsubscribe: <http://stats.test/unsubscribe/hkx_"), "{message}");
    assert!(message.contains("multipart/alternative"), "{message}");
    assert_eq!(store.outbox(5).unwrap()[0].status, MailStatus::Sent);
    assert_eq!(crate::reports::send_due(&app.state, &mailer, None, START_MS + 9_000_000).await.unwrap(), 0);
}
