//! Token and user/password authentication with async-nats, and the raw refusal lines.

use bytes::Bytes;
use hitkeep_broker::{Auth, BrokerConfig, UserPass};

use crate::support::{Raw, config, next, options, start};

async fn round_trip(client: &async_nats::Client) {
    let mut subscriber = client.subscribe("auth.check").await.unwrap();
    client.publish("auth.check", Bytes::from_static(b"ok")).await.unwrap();
    assert_eq!(next(&mut subscriber).await.payload, "ok");
}

#[tokio::test]
async fn token_auth_refuses_wrong_tokens() {
    let broker = start(BrokerConfig { auth: Auth::Token("s3cret-token".into()), ..config() }).await;
    let url = broker.client_url();

    assert!(options().connect(&url).await.is_err(), "no token");
    assert!(options().token("wrong".into()).connect(&url).await.is_err(), "wrong token");
    let client = options().token("s3cret-token".into()).connect(&url).await.unwrap();
    round_trip(&client).await;
    assert_eq!(broker.stats().auth_failures, 2);
}

#[tokio::test]
async fn user_password_auth_refuses_wrong_passwords() {
    let users = vec![UserPass::new("edge", "edge-pass"), UserPass::new("admin", "admin-pass")];
    let broker = start(BrokerConfig { auth: Auth::Users(users), ..config() }).await;
    let url = broker.client_url();

    let attempt =
        |user: &str, pass: &str| options().user_and_password(user.into(), pass.into()).connect(url.clone());
    assert!(attempt("edge", "admin-pass").await.is_err(), "another user's password");
    assert!(attempt("nobody", "edge-pass").await.is_err(), "unknown user");
    round_trip(&attempt("edge", "edge-pass").await.unwrap()).await;
    round_trip(&attempt("admin", "admin-pass").await.unwrap()).await;
}

#[tokio::test]
async fn raw_refusals() {
    let broker = start(BrokerConfig { auth: Auth::Token("s3cret-token".into()), ..config() }).await;
    let mut raw = Raw::connect(broker.local_addr()).await;
    assert_eq!(raw.info["auth_required"], true);
    raw.send("CONNECT {\"auth_token\":\"nope\"}\r\n").await;
    raw.expect("-ERR 'Authorization Violation'").await;
    raw.expect_closed().await;

    // Anything before an authenticated CONNECT is refused too.
    let mut raw = Raw::connect(broker.local_addr()).await;
    raw.send("SUB foo 1\r\n").await;
    raw.expect("-ERR 'Authorization Violation'").await;
    raw.expect_closed().await;

    let mut raw =
        Raw::connected(broker.local_addr(), r#"{"auth_token":"s3cret-token","verbose":true}"#).await;
    raw.expect("+OK").await;
    raw.sync().await;
}

#[tokio::test]
async fn silent_clients_are_closed_when_auth_is_required() {
    let broker = start(BrokerConfig {
        auth: Auth::Token("t".into()),
        connect_timeout: std::time::Duration::from_millis(100),
        ..config()
    })
    .await;
    let mut raw = Raw::connect(broker.local_addr()).await;
    raw.expect("-ERR 'Authentication Timeout'").await;
    raw.expect_closed().await;
}
