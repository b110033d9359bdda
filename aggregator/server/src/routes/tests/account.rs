use axum::http::Method;
use hitkeep_store::{AuditKind, InstanceRole};
use serde_json::json;

use crate::auth::secret::{SecretKind, digest};
use crate::test_app::{TestApp, password_of};

const ADA: &str = "ada@example.com";

fn with_ada() -> TestApp {
    TestApp::new().with_site("example.com").with_user(ADA, InstanceRole::Owner, &[])
}

fn login(email: &str, password: &str) -> serde_json::Value {
    json!({ "email": email, "password": password })
}

fn audit_events(app: &TestApp) -> Vec<String> {
    app.store().audit_log(100, None).unwrap().into_iter().map(|entry| entry.event).collect()
}

#[tokio::test]
async fn first_run_setup_creates_one_owner_with_the_code() {
    // A member made from the shell (`hitkeep user create`) does not close the setup: only an
    // owner does.
    let app = TestApp::new().with_user("member@example.com", InstanceRole::Member, &[]);
    let status = app.request(Method::GET, "/api/auth/status").send().await;
    assert_eq!(status.json()["setup_required"], true);
    let code = SecretKind::Setup.generate();
    app.store().replace_setup_code(&digest(&code), 0).unwrap();
    let body = |code: &str| json!({ "code": code, "email": "Olga@Example.com", "password": "a long enough password", "name": "Olga" });

    let wrong =
        app.request(Method::POST, "/api/auth/setup").json(body(&SecretKind::Setup.generate())).send().await;
    assert_eq!(wrong.status_code(), (403, "invalid_setup_code".into()));
    let garbage = app.request(Method::POST, "/api/auth/setup").json(body("garbage")).send().await;
    assert_eq!(garbage.status_code(), (403, "invalid_setup_code".into()));
    let weak = app
        .request(Method::POST, "/api/auth/setup")
        .json(json!({ "code": code, "email": "olga@example.com", "password": "short" }))
        .send()
        .await;
    assert_eq!(weak.status_code(), (400, "weak_password".into()));
    assert_eq!(app.store().user_count().unwrap(), 1, "refusals change nothing");

    let created = app.request(Method::POST, "/api/auth/setup").json(body(&code)).send().await;
    assert_eq!(created.status.as_u16(), 201, "{:?}", created.json());
    assert_eq!(
        (created.json()["email"].as_str(), created.json()["role"].as_str()),
        (Some("olga@example.com"), Some("owner"))
    );
    let cookie = created.session_cookie().expect("signed in");
    let again = app.request(Method::POST, "/api/auth/setup").json(body(&code)).send().await;
    assert_eq!(again.status_code(), (403, "invalid_setup_code".into()));
    let me = app.request(Method::GET, "/api/account").cookie(&cookie).send().await;
    assert_eq!(me.json()["email"], "olga@example.com");
    assert_eq!((app.store().user_count().unwrap(), app.store().owner_count().unwrap()), (2, 1));
    let status = app.request(Method::GET, "/api/auth/status").send().await;
    assert_eq!(status.json()["setup_required"], false);
    assert!(audit_events(&app).contains(&AuditKind::SetupCompleted.as_str().to_owned()));
}

#[tokio::test]
async fn password_sign_in_does_not_tell_which_accounts_exist() {
    let app = with_ada();
    let wrong =
        app.request(Method::POST, "/api/auth/login").json(login(ADA, "not the password")).send().await;
    let unknown = app
        .request(Method::POST, "/api/auth/login")
        .json(login("eve@example.com", "not the password"))
        .send()
        .await;
    assert_eq!(wrong.status_code(), (401, "invalid_credentials".into()));
    assert_eq!(unknown.status_code(), (401, "invalid_credentials".into()));
    assert_eq!(wrong.json(), unknown.json(), "the same answer for both");
    assert!(wrong.session_cookie().is_none());

    let signed_in = app
        .request(Method::POST, "/api/auth/login")
        .json(login(" ADA@example.com ", &password_of(ADA)))
        .send()
        .await;
    assert_eq!(signed_in.status.as_u16(), 200);
    let cookie = signed_in.session_cookie().expect("a session cookie");
    let set_cookie = signed_in.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let me = app.request(Method::GET, "/api/account").cookie(&cookie).send().await;
    assert_eq!(me.json()["email"], ADA);
    let events = audit_events(&app);
    assert_eq!(events.iter().filter(|e| *e == "sign_in_failed").count(), 2);
    assert!(events.contains(&"sign_in".to_owned()));
}

#[tokio::test]
async fn brute_force_reaches_the_throttle() {
    let app = with_ada();
    for _ in 0..5 {
        let answer =
            app.request(Method::POST, "/api/auth/login").json(login(ADA, "guess guess guess")).send().await;
        assert_eq!(answer.status_code(), (401, "invalid_credentials".into()));
    }
    let sixth =
        app.request(Method::POST, "/api/auth/login").json(login(ADA, "guess guess guess")).send().await;
    assert_eq!(sixth.status_code(), (401, "invalid_credentials".into()));
    // Now even the right password waits, from any address.
    let blocked = app
        .request(Method::POST, "/api/auth/login")
        .from("198.51.100.9:1")
        .json(login(ADA, &password_of(ADA)))
        .send()
        .await;
    assert_eq!(blocked.status_code(), (429, "too_many_attempts".into()));
    assert!(blocked.headers.contains_key("retry-after"));
    assert!(blocked.session_cookie().is_none());
    assert!(audit_events(&app).contains(&"sign_in_throttled".to_owned()));
    app.clock.advance(2_000);
    let later = app.request(Method::POST, "/api/auth/login").json(login(ADA, &password_of(ADA))).send().await;
    assert_eq!(later.status.as_u16(), 200);
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_end_and_when_revoked() {
    let app = with_ada();
    let settings = app.state.auth.settings.clone();
    let cookie = app.session(ADA);
    assert_eq!(app.request(Method::GET, "/api/account").cookie(&cookie).send().await.status.as_u16(), 200);
    app.clock.advance(settings.session_idle_ms + 1);
    let idle = app.request(Method::GET, "/api/account").cookie(&cookie).send().await;
    assert_eq!(idle.status_code(), (401, "session_expired".into()));
    assert!(
        idle.headers.get_all("set-cookie").iter().any(|value| value.to_str().unwrap().contains("Max-Age=0"))
    );

    // Used every day, a session still ends at its absolute end.
    let cookie = app.session(ADA);
    let mut used = 0;
    while used + 86_400_000 < settings.session_max_ms {
        app.clock.advance(86_400_000);
        used += 86_400_000;
        assert_eq!(
            app.request(Method::GET, "/api/account").cookie(&cookie).send().await.status.as_u16(),
            200
        );
    }
    app.clock.advance(settings.session_max_ms - used);
    let ended = app.request(Method::GET, "/api/account").cookie(&cookie).send().await;
    assert_eq!(ended.status_code(), (401, "session_expired".into()));

    let garbage =
        app.request(Method::GET, "/api/account").cookie("hitkeep_session=hks_nonsense").send().await;
    assert_eq!(garbage.status_code(), (401, "session_expired".into()));
    let nobody = app.request(Method::GET, "/api/account").send().await;
    assert_eq!(nobody.status_code(), (401, "unauthenticated".into()));
}

#[tokio::test]
async fn people_list_and_end_their_sessions() {
    let app = with_ada();
    let (here, laptop, phone) = (app.session(ADA), app.session(ADA), app.session(ADA));
    let listed = app.request(Method::GET, "/api/account/sessions").cookie(&here).send().await.json();
    let sessions = listed.as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let laptop_id = app
        .request(Method::GET, "/api/account/sessions")
        .cookie(&laptop)
        .send()
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_u64()
        .unwrap();

    let revoked =
        app.request(Method::DELETE, &format!("/api/account/sessions/{laptop_id}")).cookie(&here).send().await;
    assert_eq!(revoked.status.as_u16(), 204);
    assert_eq!(
        app.request(Method::GET, "/api/account").cookie(&laptop).send().await.status_code(),
        (401, "session_expired".into())
    );
    let missing = app.request(Method::DELETE, "/api/account/sessions/999999").cookie(&here).send().await;
    assert_eq!(missing.status_code(), (404, "session_not_found".into()));

    let others = app.request(Method::DELETE, "/api/account/sessions/others").cookie(&here).send().await;
    assert_eq!(others.status.as_u16(), 204);
    assert_eq!(app.request(Method::GET, "/api/account").cookie(&phone).send().await.status.as_u16(), 401);
    assert_eq!(app.request(Method::GET, "/api/account").cookie(&here).send().await.status.as_u16(), 200);

    let out = app.request(Method::POST, "/api/auth/logout").cookie(&here).send().await;
    assert_eq!(out.status.as_u16(), 204);
    assert_eq!(
        app.request(Method::GET, "/api/account").cookie(&here).send().await.status_code(),
        (401, "session_expired".into())
    );
}

#[tokio::test]
async fn people_change_their_own_name_and_nothing_else() {
    let app = with_ada();
    let session = app.session(ADA);
    let renamed = app
        .request(Method::PATCH, "/api/account")
        .cookie(&session)
        .json(json!({"name": "  Ada L.  "}))
        .send()
        .await;
    assert_eq!(renamed.status.as_u16(), 200);
    assert_eq!(
        (renamed.json()["name"].clone(), renamed.json()["email"].clone()),
        (json!("Ada L."), json!(ADA))
    );
    // The next request sees it (the cached account is dropped).
    assert_eq!(
        app.request(Method::GET, "/api/account").cookie(&session).send().await.json()["name"],
        "Ada L."
    );
    let long = "x".repeat(101);
    let refused =
        app.request(Method::PATCH, "/api/account").cookie(&session).json(json!({"name": long})).send().await;
    assert_eq!(refused.status_code(), (400, "invalid_name".into()));
    let control = app
        .request(Method::PATCH, "/api/account")
        .cookie(&session)
        .json(json!({"name": "a\u{7}b"}))
        .send()
        .await;
    assert_eq!(control.status_code(), (400, "invalid_name".into()));
    // Not the address, nor anyone else's name; not without a session.
    let email = app
        .request(Method::PATCH, "/api/account")
        .cookie(&session)
        .json(json!({"name": "Ada", "email": "eve@example.com"}))
        .send()
        .await;
    assert_eq!(email.status.as_u16(), 422);
    let anonymous = app.request(Method::PATCH, "/api/account").json(json!({"name": "Eve"})).send().await;
    assert_eq!(anonymous.status.as_u16(), 401);
    // Empty: no name.
    let cleared =
        app.request(Method::PATCH, "/api/account").cookie(&session).json(json!({"name": ""})).send().await;
    assert_eq!(cleared.json()["name"], "");
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_other_sessions() {
    let app = with_ada();
    let (here, elsewhere) = (app.session(ADA), app.session(ADA));
    let change = |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let wrong = app
        .request(Method::PUT, "/api/account/password")
        .cookie(&here)
        .json(change("nope", "a brand new password"))
        .send()
        .await;
    assert_eq!(wrong.status_code(), (401, "invalid_credentials".into()));
    let weak = app
        .request(Method::PUT, "/api/account/password")
        .cookie(&here)
        .json(change(&password_of(ADA), "short"))
        .send()
        .await;
    assert_eq!(weak.status_code(), (400, "weak_password".into()));
    assert_eq!(app.request(Method::GET, "/api/account").cookie(&elsewhere).send().await.status.as_u16(), 200);

    let changed = app
        .request(Method::PUT, "/api/account/password")
        .cookie(&here)
        .json(change(&password_of(ADA), "a brand new password"))
        .send()
        .await;
    assert_eq!(changed.status.as_u16(), 204);
    assert_eq!(app.request(Method::GET, "/api/account").cookie(&elsewhere).send().await.status.as_u16(), 401);
    assert_eq!(app.request(Method::GET, "/api/account").cookie(&here).send().await.status.as_u16(), 200);
    let old = app.request(Method::POST, "/api/auth/login").json(login(ADA, &password_of(ADA))).send().await;
    assert_eq!(old.status_code(), (401, "invalid_credentials".into()));
    let new =
        app.request(Method::POST, "/api/auth/login").json(login(ADA, "a brand new password")).send().await;
    assert_eq!(new.status.as_u16(), 200);
    assert!(audit_events(&app).contains(&"password_changed".to_owned()));
}

#[tokio::test]
async fn the_fallback_pages_sign_in_without_script() {
    let app = TestApp::new();
    let code = SecretKind::Setup.generate();
    app.store().replace_setup_code(&digest(&code), 0).unwrap();
    let page = app.request(Method::GET, &format!("/basic/setup?code={code}")).send().await;
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/basic/setup\">") && html.contains(&code),
        "{html}"
    );
    assert!(!html.contains("<script"), "no script");
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");

    let form = format!("code={code}&email=olga%40example.com&password=a+long+enough+password&name=Olga");
    let posted = app
        .request(Method::POST, "/basic/setup")
        .header("origin", "http://127.0.0.1:8080")
        .form(&form)
        .send()
        .await;
    assert_eq!(posted.status.as_u16(), 303);
    assert_eq!(posted.headers.get("location").unwrap(), "/");
    let cookie = posted.session_cookie().expect("signed in");
    let home = app.request(Method::GET, "/basic/account").cookie(&cookie).send().await;
    let home = String::from_utf8_lossy(&home.body);
    assert!(home.contains("olga@example.com") && home.contains("action=\"/basic/logout\""), "{home}");
    let again = app.request(Method::GET, "/basic/setup").send().await;
    assert_eq!((again.status.as_u16(), again.headers["location"].to_str().unwrap()), (303, "/basic/login"));
    let out = app.request(Method::POST, "/basic/logout").cookie(&cookie).send().await;
    assert_eq!(out.headers["location"], "/basic/login");
    let gone = app.request(Method::GET, "/basic/account").cookie(&cookie).send().await;
    assert_eq!(gone.headers["location"], "/basic/login", "signed out");

    let bad = app
        .request(Method::POST, "/basic/login")
        .header("origin", "http://127.0.0.1:8080")
        .form("email=olga%40example.com&password=wrong")
        .send()
        .await;
    assert_eq!(bad.status.as_u16(), 401);
    assert!(String::from_utf8_lossy(&bad.body).contains("invalid_credentials"));
}

#[tokio::test]
async fn the_demo_link_signs_in_as_the_demo_owner() {
    let code = SecretKind::Demo.generate();
    let settings = crate::auth::AuthSettings { demo_code: Some(digest(&code)), ..Default::default() };
    let app = TestApp::with_settings(settings);
    crate::routes::account::ensure_demo_user(app.store(), 0).unwrap();
    let wrong =
        app.request(Method::GET, &format!("/login/demo?code={}", SecretKind::Demo.generate())).send().await;
    assert_eq!(wrong.status_code(), (403, "invalid_demo_code".into()));
    let opened = app.request(Method::GET, &format!("/login/demo?code={code}")).send().await;
    assert_eq!(opened.status.as_u16(), 303);
    let cookie = opened.session_cookie().unwrap();
    let me = app.request(Method::GET, "/api/account").cookie(&cookie).send().await.json();
    assert_eq!(
        (me["email"].as_str(), me["role"].as_str()),
        (Some(crate::routes::account::DEMO_EMAIL), Some("owner"))
    );
}
