use axum::Router;
use axum::http::Method;
use axum::routing::get;
use hitkeep_store::{AuditKind, InstanceRole, SiteRole};
use serde_json::json;

use crate::auth::{NeedsView, SiteAccess};
use crate::state::AppState;
use crate::test_app::TestApp;

const ADA: &str = "ada@example.com";
const VIEWER: &str = "viewer@example.com";
const SHARE: &str = "x-hitkeep-share";

fn app() -> TestApp {
    TestApp::new()
        .with_site("example.com")
        .with_site("other.example")
        .with_user(ADA, InstanceRole::Owner, &[])
        .with_user(VIEWER, InstanceRole::Member, &[("example.com", SiteRole::Viewer)])
}

async fn create(app: &TestApp, cookie: &str, body: serde_json::Value) -> crate::test_app::TestResponse {
    app.request(Method::POST, "/api/sites/example.com/shares").cookie(cookie).json(body).send().await
}

async fn code_of(app: &TestApp, body: serde_json::Value) -> String {
    let made = create(app, &app.session(ADA), body).await;
    assert_eq!(made.status.as_u16(), 201, "{:?}", made.json());
    made.json()["code"].as_str().unwrap().to_owned()
}

/// What a route taking [`NeedsView`] (the stats routes) answers a share link's code.
async fn view(app: &TestApp, domain: &str, code: &str) -> (u16, String) {
    async fn domain_of(access: SiteAccess<NeedsView>) -> String {
        access.site.domain
    }
    let router: Router =
        Router::<AppState>::new().route("/view/{domain}", get(domain_of)).with_state(app.state.clone());
    let request = axum::http::Request::builder()
        .uri(format!("/view/{domain}"))
        .header(SHARE, code)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    let status = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn managers_make_list_and_revoke_share_links() {
    let app = app();
    let ada = app.session(ADA);
    let made = create(&app, &ada, json!({ "name": "board", "expires_in_days": 30 })).await;
    assert_eq!(made.status.as_u16(), 201, "{:?}", made.json());
    let link = made.json();
    let code = link["code"].as_str().unwrap();
    assert!(crate::auth::secret::SecretKind::ShareLink.matches(code));
    assert_eq!(link["path"], format!("/share/{code}"));
    assert_eq!((link["has_password"].clone(), link["embed"].clone()), (json!(false), json!(false)));

    let twice = create(&app, &ada, json!({ "name": "board" })).await;
    assert_eq!(twice.status_code(), (409, "share_link_exists".into()));
    let badly_named = create(&app, &ada, json!({ "name": "no spaces" })).await;
    assert_eq!(badly_named.status_code(), (400, "invalid_share_name".into()));
    let weak = create(&app, &ada, json!({ "name": "weak", "password": "short" })).await;
    assert_eq!(weak.status_code(), (400, "weak_password".into()));
    let forever = create(&app, &ada, json!({ "name": "long", "expires_in_days": 0 })).await;
    assert_eq!(forever.status_code(), (400, "invalid_expiry".into()));
    let by_viewer = create(&app, &app.session(VIEWER), json!({ "name": "mine" })).await;
    assert_eq!(by_viewer.status_code(), (403, "insufficient_role".into()));

    let listed = app.request(Method::GET, "/api/sites/example.com/shares").cookie(&ada).send().await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("code").is_none(), "the code is shown once: {listed}");
    assert_eq!(app.store().share_links(app.store().site("example.com").unwrap().id).unwrap().len(), 1);

    assert_eq!(view(&app, "example.com", code).await.0, 200);
    let revoked =
        app.request(Method::DELETE, "/api/sites/example.com/shares/board").cookie(&ada).send().await;
    assert_eq!(revoked.status.as_u16(), 200);
    let (status, body) = view(&app, "example.com", code).await;
    assert_eq!(status, 404, "revoked at once: {body}");
    assert!(body.contains("invalid_share_link"), "{body}");
    let gone = app.request(Method::DELETE, "/api/sites/example.com/shares/board").cookie(&ada).send().await;
    assert_eq!(gone.status_code(), (404, "share_link_not_found".into()));
    let kinds: Vec<String> =
        app.store().audit_log(50, None).unwrap().into_iter().map(|entry| entry.event).collect();
    for kind in [AuditKind::ShareLinkCreated, AuditKind::ShareLinkRevoked] {
        assert!(kinds.contains(&kind.as_str().to_owned()), "{kind:?}");
    }
}

#[tokio::test]
async fn a_share_link_views_its_one_site_and_nothing_else() {
    let app = app();
    let code = code_of(&app, json!({ "name": "public" })).await;
    assert_eq!(view(&app, "example.com", &code).await, (200, "example.com".into()));
    let (status, body) = view(&app, "other.example", &code).await;
    assert_eq!(status, 404, "another site does not exist for it");
    assert!(body.contains("site_not_found"));

    let described = app.request(Method::GET, "/api/share").header(SHARE, &code).send().await;
    assert_eq!(described.status.as_u16(), 200);
    assert_eq!(
        described.json(),
        json!({ "domain": "example.com", "timezone": "UTC", "name": "public", "embed": false, "expires_at_ms": null })
    );
    // Not the settings, raw events, members, shares, account or writes.
    for (method, path) in [
        (Method::GET, "/api/sites/example.com"),
        (Method::GET, "/api/sites/example.com/events"),
        (Method::GET, "/api/sites/example.com/members"),
        (Method::GET, "/api/sites/example.com/shares"),
    ] {
        let answer = app.request(method, path).header(SHARE, &code).send().await;
        assert_eq!(answer.status_code(), (403, "insufficient_scope".into()), "{path}");
    }
    let put = app
        .request(Method::PUT, "/api/sites/example.com/rules")
        .header(SHARE, &code)
        .json(json!({ "honor_dnt": false, "honor_gpc": false, "excluded_ip_ranges": [], "excluded_paths": [], "allowed_hostnames": [] }))
        .send()
        .await;
    assert_eq!(put.status_code(), (403, "insufficient_scope".into()));
    assert!(app.store().site("example.com").unwrap().rules.honor_dnt, "unchanged");
    let listed = app.request(Method::GET, "/api/sites").header(SHARE, &code).send().await;
    assert_eq!(listed.json(), json!([]));
    for path in ["/api/account", "/api/tokens"] {
        let answer = app.request(Method::GET, path).header(SHARE, &code).send().await;
        assert_eq!(answer.status_code(), (403, "person_required".into()), "{path}");
    }
    let users = app.request(Method::GET, "/api/users").header(SHARE, &code).send().await;
    assert_eq!(users.status_code(), (403, "person_required".into()));

    let garbage = app.request(Method::GET, "/api/share").header(SHARE, "hkl_nope").send().await;
    assert_eq!(garbage.status_code(), (404, "invalid_share_link".into()));
    let without = app.request(Method::GET, "/api/share").cookie(&app.session(ADA)).send().await;
    assert_eq!(without.status_code(), (400, "share_link_required".into()));
}

#[tokio::test]
async fn an_expired_share_link_shows_nothing() {
    let app = app();
    let code = code_of(&app, json!({ "name": "week", "expires_in_days": 7 })).await;
    assert_eq!(view(&app, "example.com", &code).await.0, 200);
    app.clock.advance(7 * 86_400_000);
    let (status, body) = view(&app, "example.com", &code).await;
    assert_eq!(status, 410);
    assert!(body.contains("share_link_expired"), "{body}");
    let page = app.request(Method::GET, &format!("/share/{code}")).send().await;
    assert_eq!(page.status.as_u16(), 410);
    let basic = app.request(Method::GET, &format!("/basic/share/{code}")).send().await;
    assert_eq!(basic.status.as_u16(), 410);
    assert!(String::from_utf8_lossy(&basic.body).contains("share_link_expired"));
}

#[tokio::test]
async fn a_password_protected_link_opens_after_unlocking() {
    let app = app();
    let code = code_of(&app, json!({ "name": "board", "password": "correct horse battery" })).await;
    let locked = app.request(Method::GET, "/api/share").header(SHARE, &code).send().await;
    assert_eq!(locked.status_code(), (401, "share_password_required".into()));
    assert_eq!(view(&app, "example.com", &code).await.0, 401);

    let unlock = |password: &str| {
        app.request(Method::POST, "/api/share/unlock").json(json!({ "code": code, "password": password }))
    };
    let wrong = unlock("not the password").send().await;
    assert_eq!(wrong.status_code(), (401, "invalid_share_password".into()));
    let unknown = app
        .request(Method::POST, "/api/share/unlock")
        .json(json!({ "code": crate::auth::secret::SecretKind::ShareLink.generate(), "password": "whatever it is" }))
        .send()
        .await;
    assert_eq!(unknown.status_code(), (404, "invalid_share_link".into()));

    app.clock.advance(60_000);
    let unlocked = unlock("correct horse battery").send().await;
    assert_eq!(unlocked.status.as_u16(), 200, "{:?}", unlocked.json());
    let unlocking = unlocked.json()["unlock"].as_str().unwrap().to_owned();
    assert!(crate::auth::secret::SecretKind::ShareUnlock.matches(&unlocking));
    assert_eq!(unlocked.json()["share"]["domain"], "example.com");
    assert_eq!(view(&app, "example.com", &unlocking).await, (200, "example.com".into()));

    // An unlocking lasts a day; revoking the link ends it sooner.
    app.clock.advance(crate::routes::shares::UNLOCK_MS);
    let (status, body) = view(&app, "example.com", &unlocking).await;
    assert_eq!(status, 401);
    assert!(body.contains("share_unlock_expired"), "{body}");
    let again = unlock("correct horse battery").send().await.json()["unlock"].as_str().unwrap().to_owned();
    app.request(Method::DELETE, "/api/sites/example.com/shares/board").cookie(&app.session(ADA)).send().await;
    assert_eq!(view(&app, "example.com", &again).await.0, 401);
}

#[tokio::test]
async fn guessing_a_share_password_reaches_the_backoff() {
    let app = app();
    let code = code_of(&app, json!({ "name": "board", "password": "correct horse battery" })).await;
    let mut throttled = None;
    for attempt in 0..20 {
        let answer = app
            .request(Method::POST, "/api/share/unlock")
            .json(json!({ "code": code, "password": format!("guess number {attempt}") }))
            .send()
            .await;
        if answer.status.as_u16() == 429 {
            assert!(answer.headers.contains_key("retry-after"));
            throttled = Some(attempt);
            break;
        }
        assert_eq!(answer.status_code(), (401, "invalid_share_password".into()));
    }
    assert!(throttled.is_some(), "wrong passwords reach the backoff");
    let right = app
        .request(Method::POST, "/api/share/unlock")
        .json(json!({ "code": code, "password": "correct horse battery" }))
        .send()
        .await;
    assert_eq!(right.status.as_u16(), 429, "even the right one waits out the backoff");
}

#[tokio::test]
async fn only_embed_links_may_be_framed() {
    let app = app();
    let plain = code_of(&app, json!({ "name": "plain" })).await;
    let embed = code_of(&app, json!({ "name": "embed", "embed": true })).await;
    // The dashboard's page of the link (index.html) and the plain page alike.
    for prefix in ["", "/basic"] {
        let page = app.request(Method::GET, &format!("{prefix}/share/{plain}")).send().await;
        assert_eq!(page.status.as_u16(), 200, "{prefix}");
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert_eq!(page.headers["referrer-policy"], "no-referrer", "the code never leaks in a Referer");

        let framed = app.request(Method::GET, &format!("{prefix}/share/{embed}")).send().await;
        assert_eq!(framed.status.as_u16(), 200, "{prefix}");
        let csp = framed.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors *") && csp.contains("script-src 'self'"), "{csp}");
        assert!(!framed.headers.contains_key("x-frame-options"));
        let revoked = app.request(Method::GET, &format!("{prefix}/share/hkl_unknown")).send().await;
        assert_eq!(revoked.status.as_u16(), 404);
        assert_eq!(revoked.headers["x-frame-options"], "DENY");
    }
    let app_page = app.request(Method::GET, &format!("/share/{plain}")).send().await;
    assert!(String::from_utf8_lossy(&app_page.body).contains("<div id=\"app\">"), "the dashboard's page");
    let basic = app.request(Method::GET, &format!("/basic/share/{plain}")).send().await;
    let html = String::from_utf8(basic.body.clone()).unwrap();
    assert!(html.contains("example.com") && html.contains("“plain”"), "{html}");
    assert!(html.contains(&format!("href=\"/share/{plain}\"")), "a link to the dashboard's page: {html}");
}

#[tokio::test]
async fn the_fallback_page_asks_for_the_password() {
    let app = app();
    let code = code_of(&app, json!({ "name": "board", "password": "correct horse battery" })).await;
    let page = app.request(Method::GET, &format!("/basic/share/{code}")).send().await;
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("type=\"password\"") && !html.contains("example.com"), "{html}");
    assert!(html.contains(&format!("action=\"/basic/share/{code}/unlock\"")), "{html}");
    let form = |password: &str| {
        app.request(Method::POST, &format!("/basic/share/{code}/unlock"))
            .header("origin", "http://127.0.0.1:8080")
            .form(&format!("password={password}"))
    };
    let wrong = form("nope").send().await;
    assert_eq!(wrong.status.as_u16(), 401);
    assert!(String::from_utf8(wrong.body.clone()).unwrap().contains("type=\"password\""));
    let right = form("correct+horse+battery").send().await;
    assert_eq!(right.status.as_u16(), 200);
    assert!(String::from_utf8(right.body.clone()).unwrap().contains("<h1>example.com</h1>"));
}

#[tokio::test]
async fn the_command_line_manages_share_links() {
    use crate::cli::ShareCommand;
    use crate::commands::shares::run_with_input;
    let app = app();
    let client = crate::control::ControlClient::InProcess(crate::app::control_app(app.state.clone()));
    let create = ShareCommand::Create {
        site: "example.com".into(),
        name: "board".into(),
        password_stdin: true,
        expires: Some(30),
        embed: true,
    };
    let output = run_with_input(&client, create, &mut "correct horse battery\n".as_bytes()).await.unwrap();
    let path = output.lines().nth(1).unwrap();
    let code = path.strip_prefix("/share/").unwrap_or_else(|| panic!("{output}"));
    assert!(crate::auth::secret::SecretKind::ShareLink.matches(code), "{output}");
    let unlocked = app
        .request(Method::POST, "/api/share/unlock")
        .json(json!({ "code": code, "password": "correct horse battery" }))
        .send()
        .await;
    assert_eq!(unlocked.status.as_u16(), 200);

    let listing = run_with_input(
        &client,
        ShareCommand::List { site: "example.com".into(), json: false },
        &mut &b""[..],
    )
    .await
    .unwrap();
    assert!(listing.contains("board") && listing.contains("yes") && !listing.contains(code), "{listing}");
    let removed = ShareCommand::Remove { site: "example.com".into(), name: "board".into() };
    run_with_input(&client, removed, &mut &b""[..]).await.unwrap();
    let missing = ShareCommand::Remove { site: "example.com".into(), name: "board".into() };
    let error = run_with_input(&client, missing, &mut &b""[..]).await.unwrap_err().to_string();
    assert!(error.contains("share_link_not_found"), "{error}");
}
