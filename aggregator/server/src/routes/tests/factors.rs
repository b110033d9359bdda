use axum::http::Method;
use hitkeep_store::{AuditKind, InstanceRole, SiteRole};
use serde_json::json;

use crate::auth::totp;
use crate::test_app::{TestApp, password_of};

const ADA: &str = "ada@example.com";
const BOB: &str = "bob@example.com";

fn app() -> TestApp {
    TestApp::new().with_site("example.com").with_user(ADA, InstanceRole::Owner, &[]).with_user(
        BOB,
        InstanceRole::Member,
        &[("example.com", SiteRole::Viewer)],
    )
}

fn secret_of(enrolment: &serde_json::Value) -> Vec<u8> {
    let base32 = enrolment["secret"].as_str().unwrap().to_owned();
    totp_rs::Secret::try_from_base32(base32).unwrap().as_bytes().to_vec()
}

/// Enrols an authenticator for `email` (signed in with `cookie`): its secret and recovery codes.
async fn enrol(app: &TestApp, email: &str, cookie: &str) -> (Vec<u8>, Vec<String>) {
    let begun = app
        .request(Method::POST, "/api/account/totp")
        .cookie(cookie)
        .json(json!({ "password": password_of(email) }))
        .send()
        .await;
    assert_eq!(begun.status.as_u16(), 201, "{:?}", begun.json());
    let secret = secret_of(&begun.json());
    let code = totp::code_at(&secret, app.state.now_ms());
    let confirmed = app
        .request(Method::POST, "/api/account/totp/confirm")
        .cookie(cookie)
        .json(json!({ "code": code }))
        .send()
        .await;
    assert_eq!(confirmed.status.as_u16(), 200, "{:?}", confirmed.json());
    let codes = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn password_step(app: &TestApp, email: &str) -> String {
    let answer = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": email, "password": password_of(email) }))
        .send()
        .await;
    assert_eq!(answer.status.as_u16(), 202, "{:?}", answer.json());
    assert!(answer.session_cookie().is_none(), "no session before the second factor");
    assert_eq!(answer.json()["second_factor_required"], true);
    answer.json()["challenge"].as_str().unwrap().to_owned()
}

fn second_step(app: &TestApp, challenge: &str, code: &str) -> crate::test_app::TestRequest {
    app.request(Method::POST, "/api/auth/login/second-factor")
        .json(json!({ "challenge": challenge, "code": code }))
}

#[tokio::test]
async fn enrolment_needs_the_password_and_a_first_code() {
    let app = app();
    let cookie = app.session(ADA);
    let wrong = app
        .request(Method::POST, "/api/account/totp")
        .cookie(&cookie)
        .json(json!({ "password": "not the password" }))
        .send()
        .await;
    assert_eq!(wrong.status_code(), (401, "invalid_credentials".into()));
    let none = app
        .request(Method::POST, "/api/account/totp/confirm")
        .cookie(&cookie)
        .json(json!({ "code": "123456" }))
        .send()
        .await;
    assert_eq!(none.status_code(), (409, "no_enrolment".into()));

    let begun = app
        .request(Method::POST, "/api/account/totp")
        .cookie(&cookie)
        .json(json!({ "password": password_of(ADA) }))
        .send()
        .await;
    let enrolment = begun.json();
    let url = enrolment["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/Hitkeep:ada%40example.com?secret="), "{url}");
    assert!(
        enrolment["qr_svg"].as_str().unwrap().starts_with("<?xml")
            || enrolment["qr_svg"].as_str().unwrap().contains("<svg")
    );
    let secret = secret_of(&enrolment);
    let bad = app
        .request(Method::POST, "/api/account/totp/confirm")
        .cookie(&cookie)
        .json(json!({ "code": "000000" }))
        .send()
        .await;
    let right = totp::code_at(&secret, app.state.now_ms());
    assert_ne!(right, "000000");
    assert_eq!(bad.status_code(), (400, "invalid_code".into()));
    let factors = app.request(Method::GET, "/api/account/factors").cookie(&cookie).send().await.json();
    assert_eq!(
        (factors["totp"]["confirmed"].clone(), factors["recovery_codes_left"].clone()),
        (json!(false), json!(0))
    );

    let confirmed = app
        .request(Method::POST, "/api/account/totp/confirm")
        .cookie(&cookie)
        .json(json!({ "code": right }))
        .send()
        .await;
    assert_eq!(confirmed.json()["recovery_codes"].as_array().unwrap().len(), totp::RECOVERY_CODES);
    let factors = app.request(Method::GET, "/api/account/factors").cookie(&cookie).send().await.json();
    assert_eq!(
        (factors["totp"]["confirmed"].clone(), factors["recovery_codes_left"].clone()),
        (json!(true), json!(10))
    );
    let me = app.request(Method::GET, "/api/account").cookie(&cookie).send().await.json();
    assert_eq!(me["has_second_factor"], true);
    let again = app
        .request(Method::POST, "/api/account/totp")
        .cookie(&cookie)
        .json(json!({ "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(again.status_code(), (409, "factor_exists".into()));
    // The secret is sealed at rest: its bytes are nowhere in the database's row.
    let sealed = app.store().totp_factor(app.user_id(ADA)).unwrap().unwrap().secret_sealed;
    assert!(!sealed.windows(secret.len()).any(|window| window == secret.as_slice()));
}

#[tokio::test]
async fn a_sign_in_with_an_authenticator_takes_each_code_once() {
    let app = app();
    let (secret, _codes) = enrol(&app, ADA, &app.session(ADA)).await;
    app.clock.advance(30_000);
    let challenge = password_step(&app, ADA).await;
    let code = totp::code_at(&secret, app.state.now_ms());
    let signed_in = second_step(&app, &challenge, &code).send().await;
    assert_eq!(signed_in.status.as_u16(), 200, "{:?}", signed_in.json());
    let cookie = signed_in.session_cookie().expect("a session");
    let sessions = app.request(Method::GET, "/api/account/sessions").cookie(&cookie).send().await.json();
    assert!(
        sessions.as_array().unwrap().iter().any(|session| session["method"] == "password+totp"),
        "{sessions}"
    );

    // The same code again, even on a new challenge, is a replay.
    let challenge = password_step(&app, ADA).await;
    let replayed = second_step(&app, &challenge, &code).send().await;
    assert_eq!(replayed.status_code(), (401, "code_already_used".into()));
    assert!(replayed.session_cookie().is_none());
    let never_issued = crate::auth::secret::SecretKind::Challenge.generate();
    let used = second_step(&app, &never_issued, &code).send().await;
    assert_eq!(used.status_code(), (401, "challenge_expired".into()));
    let audit: Vec<String> =
        app.store().audit_log(50, None).unwrap().into_iter().map(|entry| entry.event).collect();
    assert!(audit.contains(&AuditKind::SignInFailed.as_str().to_owned()));
}

#[tokio::test]
async fn wrong_codes_end_the_challenge_and_change_nothing() {
    let app = app();
    let (secret, _codes) = enrol(&app, ADA, &app.session(ADA)).await;
    app.clock.advance(30_000);
    let challenge = password_step(&app, ADA).await;
    let right = totp::code_at(&secret, app.state.now_ms());
    let wrong = if right == "111111" { "222222" } else { "111111" };
    for _ in 0..crate::routes::factors::CHALLENGE_ATTEMPTS {
        let answer = second_step(&app, &challenge, wrong).send().await;
        assert_eq!(answer.status_code(), (401, "invalid_code".into()));
    }
    let after = second_step(&app, &challenge, &right).send().await;
    assert_eq!(after.status_code(), (401, "challenge_expired".into()), "five wrong codes end it");
    let garbage = second_step(&app, "hkc_garbage", &right).send().await;
    assert_eq!(garbage.status_code(), (401, "challenge_expired".into()));
    assert!(app.store().sessions_of(app.user_id(ADA)).unwrap().len() == 1, "only the enrolling session");

    // A challenge lasts five minutes.
    app.clock.advance(30_000);
    let challenge = password_step(&app, ADA).await;
    app.clock.advance(crate::routes::account::CHALLENGE_TTL_MS + 1);
    let late = second_step(&app, &challenge, &totp::code_at(&secret, app.state.now_ms())).send().await;
    assert_eq!(late.status_code(), (401, "challenge_expired".into()));
}

#[tokio::test]
async fn recovery_codes_work_once_each_and_can_be_replaced() {
    let app = app();
    let cookie = app.session(ADA);
    let (secret, codes) = enrol(&app, ADA, &cookie).await;
    let challenge = password_step(&app, ADA).await;
    let upper = codes[0].to_uppercase();
    let signed_in = second_step(&app, &challenge, &upper).send().await;
    assert_eq!(signed_in.status.as_u16(), 200, "recovery codes are case-insensitive: {:?}", signed_in.json());
    let challenge = password_step(&app, ADA).await;
    let again = second_step(&app, &challenge, &codes[0]).send().await;
    assert_eq!(again.status_code(), (401, "invalid_code".into()));
    let factors = app.request(Method::GET, "/api/account/factors").cookie(&cookie).send().await.json();
    assert_eq!(factors["recovery_codes_left"], 9);

    app.clock.advance(30_000);
    let code = totp::code_at(&secret, app.state.now_ms());
    let replaced = app
        .request(Method::POST, "/api/account/recovery-codes")
        .cookie(&cookie)
        .json(json!({ "code": code }))
        .send()
        .await;
    assert_eq!(replaced.status.as_u16(), 200, "{:?}", replaced.json());
    let fresh = replaced.json()["recovery_codes"][0].as_str().unwrap().to_owned();
    let challenge = password_step(&app, ADA).await;
    let old = second_step(&app, &challenge, &codes[1]).send().await;
    assert_eq!(old.status_code(), (401, "invalid_code".into()), "the old set is void");
    let new = second_step(&app, &challenge, &fresh).send().await;
    assert_eq!(new.status.as_u16(), 200);
    let kinds: Vec<String> =
        app.store().audit_log(50, None).unwrap().into_iter().map(|entry| entry.event).collect();
    for kind in [AuditKind::FactorAdded, AuditKind::RecoveryCodeUsed, AuditKind::RecoveryCodesReplaced] {
        assert!(kinds.contains(&kind.as_str().to_owned()), "{kind:?} in {kinds:?}");
    }
}

#[tokio::test]
async fn removing_the_authenticator_needs_the_password() {
    let app = app();
    let cookie = app.session(ADA);
    enrol(&app, ADA, &cookie).await;
    let wrong = app
        .request(Method::DELETE, "/api/account/totp")
        .cookie(&cookie)
        .json(json!({ "password": "not it" }))
        .send()
        .await;
    assert_eq!(wrong.status_code(), (401, "invalid_credentials".into()));
    let removed = app
        .request(Method::DELETE, "/api/account/totp")
        .cookie(&cookie)
        .json(json!({ "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(removed.status.as_u16(), 204);
    let signed_in = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": ADA, "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(signed_in.status.as_u16(), 200, "the password alone again");
    let none = app
        .request(Method::DELETE, "/api/account/totp")
        .cookie(&cookie)
        .json(json!({ "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(none.status_code(), (409, "no_authenticator".into()));
}

#[tokio::test]
async fn a_required_second_factor_locks_out_all_but_enrolment() {
    let app = app();
    let ada = app.session(ADA);
    let bob = app.session(BOB);
    let bob_token = app.token("bob-ci", Some(BOB), hitkeep_store::TokenScope::Read, &["example.com"], None);
    let put = |cookie: &str, required: bool| {
        app.request(Method::PUT, "/api/instance/settings")
            .cookie(cookie)
            .json(json!({ "require_second_factor": required }))
    };
    let first = put(&ada, true).send().await;
    assert_eq!(first.status_code(), (409, "enroll_first".into()), "an admin cannot lock themselves out");
    let by_member = put(&bob, true).send().await;
    assert_eq!(by_member.status_code(), (403, "insufficient_role".into()));
    enrol(&app, ADA, &ada).await;
    let required = put(&ada, true).send().await;
    assert_eq!(required.status.as_u16(), 200, "{:?}", required.json());
    assert_eq!(required.json()["people_without_second_factor"], 1);

    for path in ["/api/sites/example.com", "/api/sites", "/api/tokens"] {
        let answer = app.request(Method::GET, path).cookie(&bob).send().await;
        assert_eq!(answer.status_code(), (403, "second_factor_required".into()), "{path}");
    }
    let by_token = app.request(Method::GET, "/api/sites/example.com").bearer(&bob_token).send().await;
    assert_eq!(by_token.status_code(), (403, "second_factor_required".into()));
    let me = app.request(Method::GET, "/api/account").cookie(&bob).send().await;
    assert_eq!((me.status.as_u16(), me.json()["second_factor_required"].clone()), (200, json!(true)));
    assert_eq!(
        app.request(Method::GET, "/api/sites/example.com").cookie(&ada).send().await.status.as_u16(),
        200
    );

    // Bob enrols from his account page and is let in.
    enrol(&app, BOB, &bob).await;
    assert_eq!(
        app.request(Method::GET, "/api/sites/example.com").cookie(&bob).send().await.status.as_u16(),
        200
    );
    assert_eq!(
        app.request(Method::GET, "/api/sites/example.com").bearer(&bob_token).send().await.status.as_u16(),
        200
    );

    // The policy survives a restart: it is read from the database.
    let policy = crate::auth::Auth::new(
        Default::default(),
        std::sync::Arc::new(app.clock.clone()),
        crate::auth::sealing::SecretBox::from_key([7; 32]),
    );
    policy.load_policy(app.store()).unwrap();
    assert!(policy.require_second_factor());
}

#[tokio::test]
async fn the_operator_resets_a_lost_factor() {
    let app = app();
    enrol(&app, ADA, &app.session(ADA)).await;
    let client = crate::control::ControlClient::InProcess(crate::app::control_app(app.state.clone()));
    let output =
        crate::commands::users::run(&client, crate::cli::UserCommand::ResetFactors { email: ADA.into() })
            .await
            .unwrap();
    assert!(output.contains("removed the second factors of ada@example.com"), "{output}");
    let signed_in = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": ADA, "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(signed_in.status.as_u16(), 200);
    let unknown = crate::commands::users::run(
        &client,
        crate::cli::UserCommand::ResetFactors { email: "nobody@example.com".into() },
    )
    .await;
    assert!(unknown.is_err());
}

#[tokio::test]
async fn the_fallback_pages_ask_for_the_code() {
    let app = app();
    let (secret, _) = enrol(&app, ADA, &app.session(ADA)).await;
    app.clock.advance(30_000);
    let form = format!("email={}&password={}", "ada%40example.com", password_of(ADA).replace(' ', "+"));
    let page = app
        .request(Method::POST, "/basic/login")
        .header("origin", "http://127.0.0.1:8080")
        .form(&form)
        .send()
        .await;
    assert_eq!(page.status.as_u16(), 200);
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("name=\"challenge\"") && page.session_cookie().is_none(), "{html}");
    assert!(html.contains("action=\"/basic/login/code\""), "{html}");
    let start = html.find("hkc_").unwrap();
    let challenge = &html[start..start + 68];
    let code = totp::code_at(&secret, app.state.now_ms());
    let done = app
        .request(Method::POST, "/basic/login/code")
        .header("origin", "http://127.0.0.1:8080")
        .form(&format!("challenge={challenge}&code={code}"))
        .send()
        .await;
    assert_eq!(done.status.as_u16(), 303);
    assert!(done.session_cookie().is_some());
}
