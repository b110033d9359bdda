use axum::http::Method;
use hitkeep_store::{InstanceRole, SiteRole, TokenScope};
use serde_json::json;

use crate::test_app::TestApp;

const VIEWER: &str = "viewer@example.com";

fn app() -> TestApp {
    TestApp::new().with_site("a.example").with_site("b.example").with_user(
        VIEWER,
        InstanceRole::Member,
        &[("a.example", SiteRole::Viewer)],
    )
}

fn rules() -> serde_json::Value {
    json!({ "honor_dnt": true, "honor_gpc": true, "excluded_ip_ranges": [], "excluded_paths": ["/admin/**"], "allowed_hostnames": [] })
}

#[tokio::test]
async fn a_read_token_reads_its_site_and_nothing_else() {
    let app = app();
    let token = app.token("read-a", None, TokenScope::Read, &["a.example"], None);
    let site = app.request(Method::GET, "/api/sites/a.example").bearer(&token).send().await;
    assert_eq!((site.status.as_u16(), site.json()["access"].as_str()), (200, Some("read")));
    let events = app.request(Method::GET, "/api/sites/a.example/events?limit=5").bearer(&token).send().await;
    assert_eq!(events.status.as_u16(), 200);
    assert_eq!(events.json(), json!([]));

    let write =
        app.request(Method::PUT, "/api/sites/a.example/rules").bearer(&token).json(rules()).send().await;
    assert_eq!(write.status_code(), (403, "insufficient_scope".into()));
    assert!(app.store().site("a.example").unwrap().rules.excluded_paths.is_empty(), "nothing changed");

    let other = app.request(Method::GET, "/api/sites/b.example").bearer(&token).send().await;
    assert_eq!(other.status_code(), (404, "site_not_found".into()));
    let missing = app.request(Method::GET, "/api/sites/nowhere.example").bearer(&token).send().await;
    assert_eq!(missing.json(), other.json().clone().as_object().map(|_| missing.json()).unwrap());
    let listed = app.request(Method::GET, "/api/sites").bearer(&token).send().await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // A token is not a person: no account routes.
    let account = app.request(Method::GET, "/api/account").bearer(&token).send().await;
    assert_eq!(account.status_code(), (403, "person_required".into()));
    assert!(
        app.store()
            .api_token_by_digest(&crate::auth::secret::digest(&token))
            .unwrap()
            .unwrap()
            .last_used_at_ms
            .is_some()
    );
}

#[tokio::test]
async fn a_write_token_changes_settings_of_its_sites() {
    let app = app();
    let token = app.token("write-all", None, TokenScope::Write, &[], None);
    let changed =
        app.request(Method::PUT, "/api/sites/b.example/rules").bearer(&token).json(rules()).send().await;
    assert_eq!(changed.status.as_u16(), 200, "{:?}", changed.json());
    assert_eq!(app.store().site("b.example").unwrap().rules.excluded_paths, ["/admin/**"]);
    // But never owns: removing a site needs a person.
    let removed = app.request(Method::DELETE, "/api/sites/b.example").bearer(&token).send().await;
    assert_eq!(removed.status_code(), (403, "insufficient_scope".into()));
    assert!(app.store().site("b.example").is_ok());
}

#[tokio::test]
async fn expired_revoked_and_malformed_tokens_are_refused() {
    let app = app();
    let expired =
        app.token("old", None, TokenScope::Read, &["a.example"], Some(crate::test_app::START_MS + 1_000));
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").bearer(&expired).send().await.status.as_u16(),
        200
    );
    app.clock.advance(1_000);
    let answer = app.request(Method::GET, "/api/sites/a.example").bearer(&expired).send().await;
    assert_eq!(answer.status_code(), (401, "token_expired".into()));

    let revoked = app.token("gone", None, TokenScope::Read, &["a.example"], None);
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").bearer(&revoked).send().await.status.as_u16(),
        200
    );
    app.store().remove_api_token("gone").unwrap();
    app.state.auth.forget();
    let answer = app.request(Method::GET, "/api/sites/a.example").bearer(&revoked).send().await;
    assert_eq!(answer.status_code(), (401, "invalid_token".into()));

    for bad in ["hkt_nothex", "Basic abc", ""] {
        let answer =
            app.request(Method::GET, "/api/sites/a.example").header("authorization", bad).send().await;
        assert_eq!(answer.status_code(), (401, "invalid_token".into()), "{bad:?}");
    }
    let unknown = crate::auth::secret::SecretKind::ApiToken.generate();
    let answer = app.request(Method::GET, "/api/sites/a.example").bearer(&unknown).send().await;
    assert_eq!(answer.status_code(), (401, "invalid_token".into()));
}

#[tokio::test]
async fn a_persons_token_never_exceeds_the_person() {
    let app = app();
    let token = app.token("viewer-write", Some(VIEWER), TokenScope::Write, &[], None);
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").bearer(&token).send().await.status.as_u16(),
        200
    );
    let write =
        app.request(Method::PUT, "/api/sites/a.example/rules").bearer(&token).json(rules()).send().await;
    assert_eq!(write.status_code(), (403, "insufficient_scope".into()));
    let other = app.request(Method::GET, "/api/sites/b.example").bearer(&token).send().await;
    assert_eq!(other.status_code(), (404, "site_not_found".into()));
    // When the person goes, so does the token.
    app.store().remove_user(app.user_id(VIEWER)).unwrap();
    app.state.auth.forget();
    let gone = app.request(Method::GET, "/api/sites/a.example").bearer(&token).send().await;
    assert_eq!(gone.status_code(), (401, "invalid_token".into()));
}

#[tokio::test]
async fn people_make_list_and_revoke_their_own_tokens() {
    let app = app();
    let cookie = app.session(VIEWER);
    let made = app
        .request(Method::POST, "/api/tokens")
        .cookie(&cookie)
        .json(json!({ "name": "export", "scope": "read", "sites": ["a.example"], "expires_in_days": 30 }))
        .send()
        .await;
    assert_eq!(made.status.as_u16(), 201, "{:?}", made.json());
    let secret = made.json()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("hkt_"));
    assert_eq!(made.json()["expires_at_ms"], crate::test_app::START_MS + 30 * 86_400_000);
    let listed = app.request(Method::GET, "/api/tokens").cookie(&cookie).send().await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    assert!(!String::from_utf8_lossy(&listed.body).contains(&secret), "the secret is shown once");
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").bearer(&secret).send().await.status.as_u16(),
        200
    );

    let elsewhere = app
        .request(Method::POST, "/api/tokens")
        .cookie(&cookie)
        .json(json!({ "name": "sneaky", "scope": "read", "sites": ["b.example"] }))
        .send()
        .await;
    assert_eq!(elsewhere.status_code(), (404, "site_not_found".into()));
    let unscoped = app
        .request(Method::POST, "/api/tokens")
        .cookie(&cookie)
        .json(json!({ "name": "x", "scope": "read" }))
        .send()
        .await;
    assert_eq!(unscoped.status_code(), (400, "invalid_input".into()));
    let bad_scope = app
        .request(Method::POST, "/api/tokens")
        .cookie(&cookie)
        .json(json!({ "name": "x", "scope": "admin", "all_sites": true }))
        .send()
        .await;
    assert_eq!(bad_scope.status_code(), (400, "invalid_scope".into()));

    let revoked = app.request(Method::DELETE, "/api/tokens/export").cookie(&cookie).send().await;
    assert_eq!(revoked.status.as_u16(), 200);
    let answer = app.request(Method::GET, "/api/sites/a.example").bearer(&secret).send().await;
    assert_eq!(answer.status_code(), (401, "invalid_token".into()));
}

#[tokio::test]
async fn the_command_line_manages_operator_tokens_in_process() {
    let app = app();
    let client = crate::control::ControlClient::InProcess(crate::app::control_app(app.state.clone()));
    let created = crate::commands::tokens::run(
        &client,
        crate::cli::TokenCommand::Create {
            name: "ci".into(),
            sites: vec!["a.example".into()],
            all_sites: false,
            scope: "read".into(),
            expires: Some(7),
        },
    )
    .await
    .unwrap();
    let secret = created.lines().nth(1).unwrap().to_owned();
    assert!(crate::auth::secret::SecretKind::ApiToken.matches(&secret), "{created}");
    let listing =
        crate::commands::tokens::run(&client, crate::cli::TokenCommand::List { json: false }).await.unwrap();
    assert!(
        listing.contains("ci") && listing.contains("a.example") && !listing.contains(&secret),
        "{listing}"
    );
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").bearer(&secret).send().await.status.as_u16(),
        200
    );
    crate::commands::tokens::run(&client, crate::cli::TokenCommand::Remove { name: "ci".into() })
        .await
        .unwrap();
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").bearer(&secret).send().await.status.as_u16(),
        401
    );
}
