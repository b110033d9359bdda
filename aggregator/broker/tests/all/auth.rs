//! Token, user/password and custom authentication with async-nats, per-client permissions,
//! and the raw refusal lines.

use bytes::Bytes;
use futures_util::StreamExt;
use hitkeep_broker::{Auth, BrokerConfig, Permissions, UserPass};

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

/// Edges' credentials: may publish batches and request configuration, and hear replies only
/// in their own inbox.
struct EdgeCredentials;

impl hitkeep_broker::Authenticator for EdgeCredentials {
    fn authenticate(&self, credentials: &hitkeep_broker::Credentials<'_>) -> Option<Permissions> {
        match credentials.token? {
            "aggregator" => Some(Permissions::all()),
            "edge-1" => Some(Permissions::only(["batches", "config"], ["config.changed", "_INBOX.e1.>"])),
            _ => None,
        }
    }
}

#[tokio::test]
async fn custom_auth_confines_a_client_to_its_permissions() {
    let auth = Auth::Custom(std::sync::Arc::new(EdgeCredentials));
    let broker = start(BrokerConfig { auth, ..config() }).await;
    let url = broker.client_url();
    assert!(options().token("edge-2".into()).connect(&url).await.is_err(), "unknown credential");

    let aggregator = options().token("aggregator".into()).connect(&url).await.unwrap();
    let mut batches = aggregator.subscribe("batches").await.unwrap();
    let mut snooped = aggregator.subscribe("elsewhere").await.unwrap();
    let responder = aggregator.clone();
    let mut config_requests = aggregator.subscribe("config").await.unwrap();
    tokio::spawn(async move {
        while let Some(request) = config_requests.next().await {
            let reply = request.reply.unwrap();
            responder.publish(reply, Bytes::from_static(b"{\"sites\":[]}")).await.unwrap();
        }
    });
    crate::support::sync(&aggregator).await;

    let (errors, mut server_errors) = tokio::sync::mpsc::unbounded_channel();
    let edge = options()
        .token("edge-1".into())
        .custom_inbox_prefix("_INBOX.e1")
        .event_callback(move |event| {
            let errors = errors.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    let _ = errors.send(error.to_string());
                }
            }
        })
        .connect(&url)
        .await
        .unwrap();
    // Allowed: a batch, and a request whose reply comes back to its own inbox.
    edge.publish("batches", Bytes::from_static(b"hits")).await.unwrap();
    assert_eq!(next(&mut batches).await.payload, "hits");
    let reply = edge.request("config", Bytes::new()).await.unwrap();
    assert_eq!(reply.payload, "{\"sites\":[]}");

    // Refused: publishing elsewhere, subscribing to batches or to everyone's replies.
    edge.publish("elsewhere", Bytes::from_static(b"x")).await.unwrap();
    let _sub = edge.subscribe("batches").await.unwrap();
    let _inboxes = edge.subscribe("_INBOX.>").await.unwrap();
    edge.flush().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let error = tokio::time::timeout(crate::support::WAIT, server_errors.recv()).await.unwrap().unwrap();
        seen.push(error.to_lowercase());
    }
    seen.sort();
    assert!(seen[0].contains("permissions violation for publish to \"elsewhere\""), "{seen:?}");
    assert!(seen[1].contains("permissions violation for subscription to \"_inbox.>\""), "{seen:?}");
    assert!(seen[2].contains("permissions violation for subscription to \"batches\""), "{seen:?}");
    aggregator.publish("batches", Bytes::from_static(b"second")).await.unwrap();
    assert_eq!(next(&mut batches).await.payload, "second");
    crate::support::assert_no_more(&mut snooped, &aggregator, &aggregator).await;

    // The connection stays open after a violation, and still works.
    let reply = edge.request("config", Bytes::new()).await.unwrap();
    assert_eq!(reply.payload, "{\"sites\":[]}");
    assert_eq!(broker.stats().permission_violations, 3);
    assert_eq!(broker.stats().auth_failures, 1);
}

#[tokio::test]
async fn raw_permission_violations_keep_the_connection() {
    let auth = Auth::Custom(std::sync::Arc::new(EdgeCredentials));
    let broker = start(BrokerConfig { auth, ..config() }).await;
    let mut raw = Raw::connected(broker.local_addr(), r#"{"auth_token":"edge-1"}"#).await;
    raw.send("SUB hitkeep.> 1\r\n").await;
    raw.expect("-ERR 'Permissions Violation for Subscription to \"hitkeep.>\"'").await;
    raw.send("PUB other 2\r\nhi\r\n").await;
    raw.expect("-ERR 'Permissions Violation for Publish to \"other\"'").await;
    raw.send("SUB _INBOX.e1.x.* 2\r\n").await;
    raw.sync().await;
}

/// Credentials that can be revoked while their clients are connected.
#[derive(Default)]
struct Revocable {
    revoked: std::sync::atomic::AtomicBool,
}

impl hitkeep_broker::Authenticator for Revocable {
    fn authenticate(&self, credentials: &hitkeep_broker::Credentials<'_>) -> Option<Permissions> {
        let revoked = self.revoked.load(std::sync::atomic::Ordering::Relaxed);
        match credentials.token? {
            "admin" => Some(Permissions::all()),
            "edge" if !revoked => Some(Permissions::only(["batches"], Vec::<String>::new())),
            _ => None,
        }
    }
}

#[tokio::test]
async fn reauthenticate_cuts_off_revoked_credentials_only() {
    let authenticator = std::sync::Arc::new(Revocable::default());
    let broker = start(BrokerConfig { auth: Auth::Custom(authenticator.clone()), ..config() }).await;
    let mut edge = Raw::connected(broker.local_addr(), r#"{"auth_token":"edge"}"#).await;
    edge.sync().await;
    let mut admin = Raw::connected(broker.local_addr(), r#"{"auth_token":"admin"}"#).await;
    admin.sync().await;

    broker.reauthenticate();
    edge.sync().await;
    authenticator.revoked.store(true, std::sync::atomic::Ordering::Relaxed);
    broker.reauthenticate();
    edge.expect("-ERR 'Authorization Violation'").await;
    edge.expect_closed().await;
    admin.sync().await;
    assert!(options().token("edge".into()).connect(broker.client_url()).await.is_err());
}
