use axum::http::Method;
use hitkeep_store::{AuditKind, InstanceRole};
use serde_json::json;

use crate::test_app::{SmtpSink, TestApp, password_of};

const ADA: &str = "ada@example.com";

fn reset_link(message: &str) -> String {
    let start = message.find("http://stats.test/reset?code=").expect("a reset link");
    message[start..].split_whitespace().next().unwrap().to_owned()
}

fn code_of(link: &str) -> String {
    link.split("code=").nth(1).unwrap().to_owned()
}

async fn ask(app: &TestApp, email: &str) -> crate::test_app::TestResponse {
    app.request(Method::POST, "/api/auth/password-reset").json(json!({ "email": email })).send().await
}

#[tokio::test]
async fn a_mailed_link_resets_the_password_once() {
    let smtp = SmtpSink::start();
    let app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]).with_mailer(&smtp);
    let old_session = app.session(ADA);

    let asked = ask(&app, "ADA@example.com").await;
    assert_eq!(asked.status.as_u16(), 202, "{:?}", asked.json());
    let unknown = ask(&app, "nobody@example.com").await;
    assert_eq!(unknown.status.as_u16(), 202);
    assert_eq!(asked.json(), unknown.json(), "the same answer for every address");

    let messages = smtp.wait_for(1).await;
    let message = &messages[0];
    assert!(message.contains("To: ada@example.com"), "{message}");
    assert!(message.contains("Subject: Reset your Hitkeep password"), "{message}");
    let link = reset_link(message);
    let code = code_of(&link);
    assert!(crate::auth::secret::SecretKind::PasswordReset.matches(&code), "{link}");
    // The store keeps the link's digest only.
    let stored = crate::auth::secret::digest(&code);
    assert!(app.store().password_reset(&stored, app.state.now_ms()).unwrap().is_some());

    let weak = app
        .request(Method::POST, "/api/auth/password-reset/complete")
        .json(json!({ "code": code, "password": "short" }))
        .send()
        .await;
    assert_eq!(weak.status_code(), (400, "weak_password".into()));
    let done = app
        .request(Method::POST, "/api/auth/password-reset/complete")
        .json(json!({ "code": code, "password": "a brand new passphrase" }))
        .send()
        .await;
    assert_eq!(done.status.as_u16(), 200, "{:?}", done.json());
    assert_eq!(done.json()["email"], ADA);
    let again = app
        .request(Method::POST, "/api/auth/password-reset/complete")
        .json(json!({ "code": code, "password": "yet another passphrase" }))
        .send()
        .await;
    assert_eq!(again.status_code(), (403, "invalid_reset_code".into()));

    let me = app.request(Method::GET, "/api/account").cookie(&old_session).send().await;
    assert_eq!(me.status_code(), (401, "session_expired".into()), "every session ended");
    let old = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": ADA, "password": password_of(ADA) }))
        .send()
        .await;
    assert_eq!(old.status_code(), (401, "invalid_credentials".into()));
    let new = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": ADA, "password": "a brand new passphrase" }))
        .send()
        .await;
    assert_eq!(new.status.as_u16(), 200);
    let kinds: Vec<String> =
        app.store().audit_log(50, None).unwrap().into_iter().map(|entry| entry.event).collect();
    for kind in [AuditKind::PasswordResetRequested, AuditKind::PasswordReset] {
        assert!(kinds.contains(&kind.as_str().to_owned()), "{kind:?}");
    }
    assert_eq!(smtp.messages().len(), 1, "nothing was mailed for the unknown address");
}

#[tokio::test]
async fn reset_links_expire_and_are_spaced_out() {
    let smtp = SmtpSink::start();
    let app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]).with_mailer(&smtp);
    ask(&app, ADA).await;
    let first = code_of(&reset_link(&smtp.wait_for(1).await[0]));
    ask(&app, ADA).await;
    app.clock.advance(crate::routes::reset::RESET_SPACING_MS);
    ask(&app, ADA).await;
    let messages = smtp.wait_for(2).await;
    assert_eq!(messages.len(), 2, "the second request within a minute sent nothing");
    let second = code_of(&reset_link(&messages[1]));
    let with = |code: &str| {
        app.request(Method::POST, "/api/auth/password-reset/complete")
            .json(json!({ "code": code, "password": "a brand new passphrase" }))
    };
    assert_eq!(with(&first).send().await.status_code(), (403, "invalid_reset_code".into()), "replaced");
    app.clock.advance(crate::routes::reset::RESET_TTL_MS);
    assert_eq!(with(&second).send().await.status_code(), (403, "invalid_reset_code".into()), "expired");
    assert_eq!(with("hkr_garbage").send().await.status_code(), (403, "invalid_reset_code".into()));
}

#[tokio::test]
async fn a_reset_keeps_the_second_factor() {
    let smtp = SmtpSink::start();
    let app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]).with_mailer(&smtp);
    let cookie = app.session(ADA);
    let begun = app
        .request(Method::POST, "/api/account/totp")
        .cookie(&cookie)
        .json(json!({ "password": password_of(ADA) }))
        .send()
        .await
        .json();
    let secret =
        totp_rs::Secret::try_from_base32(begun["secret"].as_str().unwrap()).unwrap().as_bytes().to_vec();
    let code = crate::auth::totp::code_at(&secret, app.state.now_ms());
    app.request(Method::POST, "/api/account/totp/confirm")
        .cookie(&cookie)
        .json(json!({ "code": code }))
        .send()
        .await;
    ask(&app, ADA).await;
    let reset = code_of(&reset_link(&smtp.wait_for(1).await[0]));
    app.request(Method::POST, "/api/auth/password-reset/complete")
        .json(json!({ "code": reset, "password": "a brand new passphrase" }))
        .send()
        .await;
    let signed_in = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": ADA, "password": "a brand new passphrase" }))
        .send()
        .await;
    assert_eq!(signed_in.status.as_u16(), 202, "the authenticator is still asked for");
}

#[tokio::test]
async fn without_smtp_the_operator_sets_passwords() {
    let app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]);
    let asked = ask(&app, ADA).await;
    assert_eq!(asked.status_code(), (409, "email_not_configured".into()));
    let status = app.request(Method::GET, "/api/auth/status").send().await.json();
    assert_eq!(status["email_enabled"], false);

    let session = app.session(ADA);
    let client = crate::control::ControlClient::InProcess(crate::app::control_app(app.state.clone()));
    let command = crate::cli::UserCommand::SetPassword { email: ADA.into(), generate_password: true };
    let output = crate::commands::users::run(&client, command).await.unwrap();
    let generated =
        output.lines().find_map(|line| line.strip_prefix("password: ")).expect(&output).to_owned();
    let signed_in = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": ADA, "password": generated }))
        .send()
        .await;
    assert_eq!(signed_in.status.as_u16(), 200);
    let me = app.request(Method::GET, "/api/account").cookie(&session).send().await;
    assert_eq!(me.status_code(), (401, "session_expired".into()), "the old sessions ended");
}

#[tokio::test]
async fn the_fallback_pages_reset_a_password() {
    let smtp = SmtpSink::start();
    let app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]).with_mailer(&smtp);
    let login = String::from_utf8(app.request(Method::GET, "/basic/login").send().await.body).unwrap();
    assert!(login.contains("href=\"/basic/reset\""), "{login}");
    let form = app
        .request(Method::POST, "/basic/reset")
        .header("origin", "http://127.0.0.1:8080")
        .form("email=ada%40example.com")
        .send()
        .await;
    assert_eq!(form.status.as_u16(), 200);
    let link = reset_link(&smtp.wait_for(1).await[0]);
    let code = code_of(&link);
    let page = app.request(Method::GET, &format!("/basic/reset?code={code}")).send().await;
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("ada@example.com") && html.contains("new-password"), "{html}");
    let done = app
        .request(Method::POST, "/basic/reset/complete")
        .header("origin", "http://127.0.0.1:8080")
        .form(&format!("code={code}&password=a+brand+new+passphrase"))
        .send()
        .await;
    assert_eq!(done.status.as_u16(), 200);
    assert!(String::from_utf8(done.body).unwrap().contains("href=\"/basic/login\""));
    let used = app.request(Method::GET, &format!("/basic/reset?code={code}")).send().await;
    assert_eq!(used.status.as_u16(), 403);
}

#[tokio::test]
async fn invitations_are_mailed_when_smtp_is_configured() {
    let smtp = SmtpSink::start();
    let app = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]).with_mailer(&smtp);
    let made = app
        .request(Method::POST, "/api/invitations")
        .cookie(&app.session(ADA))
        .json(json!({ "email": "new@example.com", "role": "member" }))
        .send()
        .await;
    assert_eq!(made.status.as_u16(), 201, "{:?}", made.json());
    assert_eq!(made.json()["emailed"], true);
    let path = made.json()["path"].as_str().unwrap().to_owned();
    let message = &smtp.wait_for(1).await[0];
    assert!(message.contains("To: new@example.com"), "{message}");
    assert!(message.contains(&format!("http://stats.test{path}")), "{message}");
    assert!(message.contains("ada@example.com invites you"), "{message}");
}
