//! Single sign-on's refusals that need no provider; signing in through a real one
//! (`oidc-provider`) is tested in Chromium (tests/browser/sso.test.mjs).

use axum::http::Method;
use hitkeep_store::InstanceRole;
use serde_json::json;

use crate::oidc::{Oidc, OidcSettings};
use crate::test_app::{TestApp, password_of};

const ADA: &str = "ada@example.com";

/// An instance whose provider listens nowhere.
fn with_sso(only: bool) -> TestApp {
    let mut app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]);
    let settings = OidcSettings {
        issuer: "http://127.0.0.1:9".into(),
        client_id: "hitkeep".into(),
        client_secret: Some("a secret".into()),
        name: "Acme SSO".into(),
        only,
    };
    app.state.oidc = Some(std::sync::Arc::new(Oidc::new(settings, "http://stats.test").unwrap()));
    app
}

fn text(response: &crate::test_app::TestResponse) -> String {
    String::from_utf8(response.body.clone()).unwrap()
}

#[tokio::test]
async fn sso_only_refuses_passwords_and_shows_only_the_provider() {
    let app = with_sso(true);
    let login = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": ADA, "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(login.status_code(), (403, "sso_only".into()));
    let page = text(&app.request(Method::GET, "/basic/login").send().await);
    assert!(page.contains("href=\"/login/oidc\"") && page.contains("Sign in with Acme SSO"), "{page}");
    assert!(!page.contains("type=\"password\""), "no password form: {page}");
    let status = app.request(Method::GET, "/api/auth/status").send().await.json();
    assert_eq!(
        (status["oidc"].clone(), status["password_sign_in"].clone()),
        (json!("Acme SSO"), json!(false))
    );

    let mixed = with_sso(false);
    let page = text(&mixed.request(Method::GET, "/basic/login").send().await);
    assert!(page.contains("type=\"password\"") && page.contains("Sign in with Acme SSO"), "{page}");
}

#[tokio::test]
async fn an_unreachable_provider_or_a_bad_callback_signs_nobody_in() {
    let app = with_sso(false);
    let begin = app.request(Method::GET, "/login/oidc").send().await;
    assert_eq!(begin.status.as_u16(), 502);
    assert!(text(&begin).contains("oidc_provider_error"));
    let no_state = app.request(Method::GET, "/login/oidc/callback?code=abc").send().await;
    assert_eq!(no_state.status.as_u16(), 400);
    assert!(text(&no_state).contains("oidc_state_invalid"));
    let unknown = app
        .request(Method::GET, "/login/oidc/callback?code=abc&state=made-up")
        .header("cookie", "hitkeep_oidc=0123")
        .send()
        .await;
    assert_eq!(unknown.status.as_u16(), 400);
    let denied = app
        .request(Method::GET, "/login/oidc/callback?error=access_denied&error_description=no")
        .send()
        .await;
    assert_eq!(denied.status.as_u16(), 401);
    assert!(text(&denied).contains("oidc_denied"));
    assert!(denied.session_cookie().is_none());

    let without = TestApp::new();
    assert_eq!(without.request(Method::GET, "/login/oidc").send().await.status.as_u16(), 404);
}
