//! TLS: the INFO-then-upgrade handshake with async-nats trusting a self-signed certificate.

use bytes::Bytes;
use hitkeep_broker::{Broker, BrokerConfig, Error, TlsConfig};

use crate::support::{Raw, config, next, options, start};

/// A self-signed certificate for localhost and 127.0.0.1, as PEM files.
fn self_signed(dir: &tempfile::TempDir) -> TlsConfig {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    TlsConfig::pem_files(cert, key)
}

#[tokio::test]
async fn async_nats_connects_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(BrokerConfig { tls: Some(self_signed(&dir)), ..config() }).await;
    let url = broker.client_url();
    assert!(url.starts_with("tls://127.0.0.1:"), "{url}");

    let client = options()
        .add_root_certificates(dir.path().join("cert.pem"))
        .require_tls(true)
        .connect(&url)
        .await
        .unwrap();
    let mut subscriber = client.subscribe("secure.>").await.unwrap();
    for n in 0..100 {
        client.publish(format!("secure.{n}"), Bytes::from(vec![b'x'; n * 100])).await.unwrap();
    }
    for n in 0..100 {
        let message = next(&mut subscriber).await;
        assert_eq!(
            (message.subject.as_str(), message.payload.len()),
            (format!("secure.{n}").as_str(), n * 100)
        );
    }
    let response = client.request("nobody.listens", Bytes::new()).await.unwrap_err();
    assert_eq!(response.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn plain_text_clients_are_dropped_after_info() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(BrokerConfig { tls: Some(self_signed(&dir)), ..config() }).await;
    let mut raw = Raw::connect(broker.local_addr()).await;
    assert_eq!(raw.info["tls_required"], true);
    raw.send("CONNECT {}\r\nPING\r\n").await;
    let answer = raw.expect_closed().await;
    assert!(!answer.starts_with(b"PONG"), "no plain-text protocol after INFO");
}

#[tokio::test]
async fn missing_certificate_files_fail_startup() {
    let config = BrokerConfig {
        tls: Some(TlsConfig::pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")),
        ..config()
    };
    let error = Broker::start(config).await.unwrap_err();
    assert!(matches!(error, Error::TlsPem { what: "certificate chain", .. }), "{error:?}");
}
