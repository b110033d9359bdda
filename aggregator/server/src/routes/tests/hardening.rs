use axum::http::Method;
use hitkeep_store::InstanceRole;
use serde_json::json;

use crate::test_app::{TestApp, password_of};

const ADA: &str = "ada@example.com";

#[tokio::test]
async fn cross_site_writes_with_the_cookie_are_refused() {
    let app = TestApp::new().with_site("example.com").with_user(ADA, InstanceRole::Owner, &[]);
    let cookie = app.session(ADA);
    let body = json!({ "domain": "evil.example" });
    let cross = app
        .request(Method::POST, "/api/sites")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .json(body.clone())
        .send()
        .await;
    assert_eq!(cross.status_code(), (403, "cross_site_request".into()));
    let evil_origin = app
        .request(Method::POST, "/api/sites")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .json(body.clone())
        .send()
        .await;
    assert_eq!(evil_origin.status_code(), (403, "cross_site_request".into()));
    let hidden_origin =
        app.request(Method::POST, "/api/sites").header("cookie", &cookie).json(body.clone()).send().await;
    assert_eq!(hidden_origin.status_code(), (403, "cross_site_request".into()));
    assert!(app.store().site("evil.example").is_err(), "nothing was created");
    // Reads are not writes; the own origin may write.
    assert_eq!(
        app.request(Method::GET, "/api/sites")
            .header("cookie", &cookie)
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .status
            .as_u16(),
        200
    );
    let own = app
        .request(Method::POST, "/api/sites")
        .header("cookie", &cookie)
        .header("origin", "http://127.0.0.1:8080")
        .json(body)
        .send()
        .await;
    assert_eq!(own.status.as_u16(), 201);
    // Sign-in from another site is refused too (login CSRF).
    let login = app
        .request(Method::POST, "/api/auth/login")
        .header("sec-fetch-site", "cross-site")
        .json(json!({ "email": ADA, "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(login.status_code(), (403, "cross_site_request".into()));
}

#[tokio::test]
async fn answers_carry_security_headers_and_secure_cookies_behind_tls() {
    let settings = crate::auth::AuthSettings {
        secure: true,
        public_origin: Some("https://stats.example.com".into()),
        ..Default::default()
    };
    let app = TestApp::with_settings(settings).with_user(ADA, InstanceRole::Owner, &[]);
    let answer = app
        .request(Method::POST, "/api/auth/login")
        .header("origin", "https://stats.example.com")
        .json(json!({ "email": ADA, "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(answer.status.as_u16(), 200);
    let cookie = answer.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.starts_with("__Host-hitkeep_session=hks_") && cookie.contains("; Secure"), "{cookie}");
    for name in [
        "content-security-policy",
        "strict-transport-security",
        "x-frame-options",
        "referrer-policy",
        "x-content-type-options",
    ] {
        assert!(answer.headers.contains_key(name), "{name} missing");
    }
    assert_eq!(answer.headers.get("cache-control").unwrap(), "no-store");
    // The collector's routes are loaded by other sites: no frame or CSP rules there.
    let collector = app.request(Method::POST, "/api/event").json(json!({})).send().await;
    assert!(!collector.headers.contains_key("x-frame-options"));
    let wrong_origin = app
        .request(Method::POST, "/api/auth/login")
        .header("origin", "http://stats.example.com")
        .json(json!({ "email": ADA, "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(wrong_origin.status_code(), (403, "cross_site_request".into()));
}

#[tokio::test]
async fn auth_routes_have_a_request_budget_and_a_body_limit() {
    let app = TestApp::new();
    let big = "x".repeat(crate::routes::account::MAX_AUTH_BODY + 1);
    let too_big = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": big, "password": "x" }))
        .send()
        .await;
    assert_eq!(too_big.status.as_u16(), 413);
    for _ in 1..crate::auth::AUTH_REQUESTS_PER_MINUTE {
        app.request(Method::GET, "/api/auth/status").send().await;
    }
    let over = app.request(Method::GET, "/api/auth/status").send().await;
    assert_eq!(over.status_code(), (429, "too_many_attempts".into()));
    let other_client = app.request(Method::GET, "/api/auth/status").from("198.51.100.20:1").send().await;
    assert_eq!(other_client.status.as_u16(), 200);
    app.clock.advance(60_000);
    assert_eq!(app.request(Method::GET, "/api/auth/status").send().await.status.as_u16(), 200);
}

#[tokio::test]
async fn unknown_routes_get_json_errors_and_bodies_must_be_json() {
    let app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]);
    let missing = app.request(Method::GET, "/api/nothing").send().await;
    assert_eq!(missing.status_code(), (404, "not_found".into()));
    let cookie = app.session(ADA);
    let not_json = app
        .request(Method::POST, "/api/sites")
        .cookie(&cookie)
        .header("content-type", "text/plain")
        .send()
        .await;
    assert_eq!(not_json.status.as_u16(), 415);
}
