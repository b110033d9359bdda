//! The passkey routes' refusals; the ceremonies that succeed need an authenticator and are
//! tested in Chromium with its virtual one (tests/browser).

use axum::http::Method;
use hitkeep_store::InstanceRole;
use serde_json::json;

use crate::test_app::{TestApp, password_of};

const ADA: &str = "ada@example.com";

fn app() -> TestApp {
    TestApp::new().with_user(ADA, InstanceRole::Owner, &[])
}

/// A registration answer that is well formed but was made by no authenticator.
fn forged_registration() -> serde_json::Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": { "attestationObject": "AAAA", "clientDataJSON": "e30" },
        "extensions": {}
    })
}

fn forged_assertion() -> serde_json::Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": { "authenticatorData": "AAAA", "clientDataJSON": "e30", "signature": "AAAA", "userHandle": "AAAAAAAAAAAAAAAAAAAAAA" },
        "extensions": {}
    })
}

#[tokio::test]
async fn registering_needs_the_password_and_an_authenticators_answer() {
    let app = app();
    let cookie = app.session(ADA);
    let options = |body: serde_json::Value| {
        app.request(Method::POST, "/api/account/passkeys/options").cookie(&cookie).json(body)
    };
    let wrong = options(json!({ "name": "laptop", "password": "not it" })).send().await;
    assert_eq!(wrong.status_code(), (401, "invalid_credentials".into()));
    let unnamed = options(json!({ "name": "", "password": password_of(ADA) })).send().await;
    assert_eq!(unnamed.status_code(), (400, "invalid_passkey_name".into()));

    let started = options(json!({ "name": "laptop", "password": password_of(ADA) })).send().await;
    assert_eq!(started.status.as_u16(), 200, "{:?}", started.json());
    let answer = started.json();
    let ceremony = answer["ceremony"].as_str().unwrap().to_owned();
    assert!(crate::auth::secret::SecretKind::Ceremony.matches(&ceremony));
    let public_key = &answer["options"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(public_key["user"]["name"], ADA);
    assert_eq!(public_key["authenticatorSelection"]["residentKey"], "preferred");
    assert_eq!(public_key["authenticatorSelection"]["userVerification"], "required");
    assert!(public_key["challenge"].as_str().is_some_and(|challenge| challenge.len() >= 43));
    // The handle is random, and the same for every registration of the account.
    let again = options(json!({ "name": "phone", "password": password_of(ADA) })).send().await.json();
    assert_eq!(again["options"]["user"]["id"], public_key["user"]["id"]);
    assert_ne!(public_key["user"]["id"], json!(ADA));

    let register = |ceremony: &str| {
        app.request(Method::POST, "/api/account/passkeys")
            .cookie(&cookie)
            .json(json!({ "ceremony": ceremony, "credential": forged_registration() }))
    };
    let forged = register(&ceremony).send().await;
    assert_eq!(forged.status_code(), (400, "invalid_passkey".into()));
    let replayed = register(&ceremony).send().await;
    assert_eq!(replayed.status_code(), (401, "ceremony_expired".into()), "a ceremony is taken once");
    let late = options(json!({ "name": "late", "password": password_of(ADA) })).send().await.json();
    app.clock.advance(crate::auth::passkeys::CEREMONY_TTL_MS);
    let expired = register(late["ceremony"].as_str().unwrap()).send().await;
    assert_eq!(expired.status_code(), (401, "ceremony_expired".into()));
    assert!(app.store().passkeys_of(app.user_id(ADA)).unwrap().is_empty(), "nothing was registered");

    // Someone else's ceremony does not register a passkey for you.
    let other = TestApp::new().with_user(ADA, InstanceRole::Owner, &[]).with_user(
        "bob@example.com",
        InstanceRole::Member,
        &[],
    );
    let ada = other.session(ADA);
    let bob = other.session("bob@example.com");
    let started = other
        .request(Method::POST, "/api/account/passkeys/options")
        .cookie(&ada)
        .json(json!({ "name": "laptop", "password": password_of(ADA) }))
        .send()
        .await
        .json();
    let stolen = other
        .request(Method::POST, "/api/account/passkeys")
        .cookie(&bob)
        .json(json!({ "ceremony": started["ceremony"], "credential": forged_registration() }))
        .send()
        .await;
    assert_eq!(stolen.status_code(), (401, "ceremony_expired".into()));
}

#[tokio::test]
async fn a_forged_assertion_signs_nobody_in() {
    let app = app();
    let started = app.request(Method::POST, "/api/auth/passkey/options").json(json!({})).send().await;
    assert_eq!(started.status.as_u16(), 200, "{:?}", started.json());
    let answer = started.json();
    assert!(answer["options"]["allowCredentials"].as_array().is_none_or(Vec::is_empty), "discoverable");
    assert!(answer["options"].get("mediation").is_none(), "a modal request unless asked");
    let conditional = app
        .request(Method::POST, "/api/auth/passkey/options")
        .json(json!({ "conditional": true }))
        .send()
        .await;
    assert_eq!(conditional.json()["options"]["mediation"], "conditional");

    let sign_in = |ceremony: &str| {
        app.request(Method::POST, "/api/auth/passkey")
            .json(json!({ "ceremony": ceremony, "credential": forged_assertion() }))
    };
    let forged = sign_in(answer["ceremony"].as_str().unwrap()).send().await;
    assert_eq!(forged.status_code(), (401, "invalid_passkey".into()));
    assert!(forged.session_cookie().is_none());
    let unknown = sign_in(&crate::auth::secret::SecretKind::Ceremony.generate()).send().await;
    assert_eq!(unknown.status_code(), (401, "ceremony_expired".into()));
}

#[tokio::test]
async fn a_passkey_is_offered_as_the_second_step_of_its_account_only() {
    let app = app();
    let login = || {
        app.request(Method::POST, "/api/auth/login")
            .json(json!({ "email": ADA, "password": password_of(ADA) }))
    };
    // Without a second factor the password signs in at once.
    assert_eq!(login().send().await.status.as_u16(), 200);
    let no_challenge = app
        .request(Method::POST, "/api/auth/login/passkey/options")
        .json(json!({ "challenge": crate::auth::secret::SecretKind::Challenge.generate() }))
        .send()
        .await;
    assert_eq!(no_challenge.status_code(), (401, "challenge_expired".into()));

    // A stored passkey makes it a second factor (the JSON is never read on this path).
    app.store().add_passkey(app.user_id(ADA), "laptop", &[7; 16], "{}", 0).unwrap();
    app.state.auth.forget();
    let step = login().send().await;
    assert_eq!(step.status.as_u16(), 202, "{:?}", step.json());
    assert_eq!(step.json()["methods"], json!(["passkey"]));
    let me = app.request(Method::GET, "/api/account").cookie(&app.session(ADA)).send().await.json();
    assert_eq!(me["has_second_factor"], true);

    let finish = app
        .request(Method::POST, "/api/auth/login/passkey")
        .json(json!({
            "challenge": step.json()["challenge"],
            "ceremony": crate::auth::secret::SecretKind::Ceremony.generate(),
            "credential": forged_assertion(),
        }))
        .send()
        .await;
    assert_eq!(finish.status_code(), (401, "ceremony_expired".into()));
}

#[tokio::test]
async fn removing_a_passkey_needs_the_password() {
    let app = app();
    let cookie = app.session(ADA);
    let key = app.store().add_passkey(app.user_id(ADA), "laptop", &[7; 16], "{}", 0).unwrap();
    let listed = app.request(Method::GET, "/api/account/passkeys").cookie(&cookie).send().await.json();
    assert_eq!(listed[0]["name"], "laptop");
    let remove = |id: u32, password: &str| {
        app.request(Method::DELETE, &format!("/api/account/passkeys/{id}"))
            .cookie(&cookie)
            .json(json!({ "password": password }))
    };
    assert_eq!(remove(key.id, "not it").send().await.status_code(), (401, "invalid_credentials".into()));
    assert_eq!(
        remove(key.id + 1, &password_of(ADA)).send().await.status_code(),
        (404, "passkey_not_found".into())
    );
    assert_eq!(remove(key.id, &password_of(ADA)).send().await.status.as_u16(), 204);
    assert!(app.store().passkeys_of(app.user_id(ADA)).unwrap().is_empty());
}
