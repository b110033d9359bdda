//! Who may act as an edge: the edge tokens (`hitkeep edge-token`), held in memory and checked
//! on every `POST /api/edge/batch` and every CONNECT to the embedded NATS broker.
//!
//! On NATS, the aggregator's own credentials (`nats_token`, or `nats_user` and
//! `nats_password`) may do everything; an edge token may only publish batches and ask for
//! the configuration, and hears only the configuration notices and its own replies (see
//! [`hitkeep_protocol::edge_inbox_prefix`]). So an edge's secret, if it leaks, cannot read
//! the ingest stream, other edges' acks, or anything else on the broker.
//!
//! This process is the only writer of the database, so the tokens in memory are reloaded
//! whenever a token is added or removed ([`EdgeCredentials::reload`]); a removed token's
//! NATS connections are closed at once.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use hitkeep_broker::{Auth as BrokerAuth, Authenticator, Credentials, Permissions, Reauthenticator};
use hitkeep_edge::NatsAuth;
use hitkeep_protocol::{EDGE_CONFIG_CHANGED_SUBJECT, EDGE_CONFIG_SUBJECT, INGEST_SUBJECT, edge_inbox_prefix};
use hitkeep_store::{EdgeToken, Store};

use crate::auth::secret::{SecretKind, digest, same_bytes};

/// The edge tokens, by digest, and the aggregator's own NATS credentials.
///
/// The aggregator's own credentials are those it connects with ([`NatsAuth`], the same the
/// embedded edge uses): with none, the broker takes anyone (loopback only, unless the
/// operator chose otherwise).
#[derive(Debug, Default)]
pub struct EdgeCredentials {
    own: NatsAuth,
    tokens: RwLock<HashMap<[u8; 32], EdgeToken>>,
    broker: OnceLock<Reauthenticator>,
}

impl EdgeCredentials {
    /// The store's edge tokens, with the aggregator's own NATS credentials.
    pub fn load(store: &Store, own: NatsAuth) -> hitkeep_store::Result<Self> {
        let credentials = Self { own, ..Self::default() };
        credentials.reload(store)?;
        Ok(credentials)
    }

    /// Reads the tokens again, after one was added or removed, and has the broker check its
    /// edges' connections again.
    pub fn reload(&self, store: &Store) -> hitkeep_store::Result<()> {
        let tokens = store.edge_token_digests()?.into_iter().collect();
        *self.tokens.write().expect("edge tokens lock") = tokens;
        if let Some(broker) = self.broker.get() {
            broker.reauthenticate();
        }
        Ok(())
    }

    /// The token whose secret this is.
    pub fn token(&self, secret: &str) -> Option<EdgeToken> {
        if !SecretKind::EdgeToken.matches(secret) {
            return None;
        }
        self.tokens.read().expect("edge tokens lock").get(&digest(secret)).cloned()
    }

    /// How the embedded broker authenticates: not at all when the aggregator has no NATS
    /// credentials, otherwise through these.
    pub fn broker_auth(self: &Arc<Self>) -> BrokerAuth {
        match self.own {
            NatsAuth::None => BrokerAuth::None,
            _ => BrokerAuth::Custom(self.clone()),
        }
    }

    /// The broker whose connections a removed token must end.
    pub fn attach(&self, broker: Reauthenticator) {
        let _ = self.broker.set(broker);
    }

    /// What an edge with this token may do on NATS.
    fn edge_permissions(digest: &[u8; 32]) -> Permissions {
        Permissions::only(
            [INGEST_SUBJECT, EDGE_CONFIG_SUBJECT],
            [EDGE_CONFIG_CHANGED_SUBJECT.to_owned(), format!("{}.>", edge_inbox_prefix(digest))],
        )
    }
}

impl Authenticator for EdgeCredentials {
    fn authenticate(&self, credentials: &Credentials<'_>) -> Option<Permissions> {
        let own = match &self.own {
            NatsAuth::None => true,
            NatsAuth::Token(token) => {
                credentials.token.is_some_and(|given| same_bytes(given.as_bytes(), token.as_bytes()))
            }
            NatsAuth::UserPassword { user, password } => {
                let user_ok =
                    credentials.user.is_some_and(|given| same_bytes(given.as_bytes(), user.as_bytes()));
                let pass_ok = credentials
                    .password
                    .is_some_and(|given| same_bytes(given.as_bytes(), password.as_bytes()));
                user_ok & pass_ok
            }
        };
        if own {
            return Some(Permissions::all());
        }
        let secret = credentials.token?;
        let token = self.token(secret)?;
        tracing::debug!(edge = %token.name, "edge connected to nats");
        Some(Self::edge_permissions(&digest(secret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials<'a>(
        token: Option<&'a str>,
        user: Option<&'a str>,
        password: Option<&'a str>,
    ) -> Credentials<'a> {
        Credentials { token, user, password }
    }

    #[test]
    fn own_credentials_get_everything_and_edge_tokens_their_subjects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let made = crate::routes::edge::create(&store, "eu-1").unwrap();
        let secret = made.secret.unwrap();
        let edges =
            Arc::new(EdgeCredentials::load(&store, NatsAuth::Token("aggregator-secret".into())).unwrap());
        assert!(matches!(edges.broker_auth(), BrokerAuth::Custom(_)));

        let all = edges.authenticate(&credentials(Some("aggregator-secret"), None, None)).unwrap();
        assert_eq!(all, Permissions::all());
        let edge = edges.authenticate(&credentials(Some(&secret), None, None)).unwrap();
        let inbox = edge_inbox_prefix(&digest(&secret));
        assert!(edge.may_publish(INGEST_SUBJECT.as_bytes()));
        assert!(edge.may_publish(EDGE_CONFIG_SUBJECT.as_bytes()));
        assert!(!edge.may_publish(b"hitkeep.edge.config.v1.changed"));
        assert!(edge.may_subscribe(EDGE_CONFIG_CHANGED_SUBJECT.as_bytes()));
        assert!(edge.may_subscribe(format!("{inbox}.abc.*").as_bytes()));
        assert!(!edge.may_subscribe(INGEST_SUBJECT.as_bytes()));
        assert!(!edge.may_subscribe(b"_INBOX.>"));
        assert!(!edge.may_subscribe(b"_INBOX.edge.>"));

        for refused in [
            credentials(Some("aggregator-secreT"), None, None),
            credentials(
                Some("hke_0000000000000000000000000000000000000000000000000000000000000000"),
                None,
                None,
            ),
            credentials(None, Some("x"), Some("aggregator-secret")),
            credentials(None, None, None),
        ] {
            assert!(edges.authenticate(&refused).is_none());
        }

        store.remove_edge_token("eu-1").unwrap();
        edges.reload(&store).unwrap();
        assert!(edges.authenticate(&credentials(Some(&secret), None, None)).is_none(), "revoked");
        assert!(edges.token(&secret).is_none());
    }

    #[test]
    fn user_and_password_are_checked_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let own = NatsAuth::UserPassword { user: "hitkeep".into(), password: "pw".into() };
        let edges = Arc::new(EdgeCredentials::load(&store, own).unwrap());
        assert!(edges.authenticate(&credentials(None, Some("hitkeep"), Some("pw"))).is_some());
        assert!(edges.authenticate(&credentials(None, Some("hitkeep"), Some("pX"))).is_none());
        assert!(edges.authenticate(&credentials(None, Some("other"), Some("pw"))).is_none());
        let open = Arc::new(EdgeCredentials::load(&store, NatsAuth::None).unwrap());
        assert!(matches!(open.broker_auth(), BrokerAuth::None));
    }
}
