//! Authentication: checks the credentials of a CONNECT against the configured [`Auth`] and
//! gives the connection its [`Permissions`].

use crate::config::{Auth, Credentials};
use crate::encode::ConnectOptions;
use crate::permissions::Permissions;

/// The permissions the CONNECT's credentials give, or `None` when they are refused. Every
/// configured secret is compared in constant time, and all users are checked, so timing
/// reveals neither a secret nor which user names exist.
pub(crate) fn authenticate(auth: &Auth, connect: &ConnectOptions) -> Option<Permissions> {
    let accepted = match auth {
        Auth::None => true,
        Auth::Token(token) => connect
            .auth_token
            .as_deref()
            .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes())),
        Auth::Users(users) => {
            let (Some(user), Some(pass)) = (connect.user.as_deref(), connect.pass.as_deref()) else {
                return None;
            };
            let mut accepted = false;
            for candidate in users {
                let user_ok = constant_time_eq(user.as_bytes(), candidate.user.as_bytes());
                let pass_ok = constant_time_eq(pass.as_bytes(), candidate.password.as_bytes());
                accepted |= user_ok & pass_ok;
            }
            accepted
        }
        Auth::Custom(authenticator) => {
            return authenticator.authenticate(&Credentials {
                token: connect.auth_token.as_deref(),
                user: connect.user.as_deref(),
                password: connect.pass.as_deref(),
            });
        }
    };
    accepted.then(Permissions::all)
}

/// Compares in time that depends only on the lengths, not on where the inputs differ.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (index, expected_byte) in expected.iter().enumerate() {
        let given_byte = given.get(index).copied().unwrap_or(0);
        diff |= std::hint::black_box(given_byte ^ expected_byte);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserPass;

    fn connect(json: &str) -> ConnectOptions {
        serde_json::from_str(json).unwrap()
    }

    fn authorized(auth: &Auth, connect: &ConnectOptions) -> bool {
        authenticate(auth, connect).is_some()
    }

    #[test]
    fn constant_time_eq_matches_equality() {
        for (a, b) in
            [("", ""), ("a", "a"), ("a", "b"), ("ab", "a"), ("a", "ab"), ("", "x"), ("secret", "secreT")]
        {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn token_auth() {
        let auth = Auth::Token("s3cret".into());
        assert!(authorized(&auth, &connect(r#"{"auth_token":"s3cret"}"#)));
        assert!(!authorized(&auth, &connect(r#"{"auth_token":"s3cre"}"#)));
        assert!(!authorized(&auth, &connect(r#"{}"#)));
        assert!(!authorized(&auth, &connect(r#"{"user":"s3cret","pass":"s3cret"}"#)));
    }

    #[test]
    fn user_auth() {
        let auth = Auth::Users(vec![UserPass::new("alice", "a-pass"), UserPass::new("bob", "b-pass")]);
        assert!(authorized(&auth, &connect(r#"{"user":"bob","pass":"b-pass"}"#)));
        assert!(!authorized(&auth, &connect(r#"{"user":"bob","pass":"a-pass"}"#)));
        assert!(!authorized(&auth, &connect(r#"{"user":"carol","pass":"a-pass"}"#)));
        assert!(!authorized(&auth, &connect(r#"{"user":"bob"}"#)));
        assert!(!authorized(&auth, &connect(r#"{"auth_token":"b-pass"}"#)));
    }

    #[test]
    fn custom_auth_gives_each_client_its_permissions() {
        struct Edges;
        impl crate::config::Authenticator for Edges {
            fn authenticate(&self, credentials: &Credentials<'_>) -> Option<Permissions> {
                match credentials.token? {
                    "admin" => Some(Permissions::all()),
                    "edge" => Some(Permissions::only(["in"], ["_INBOX.e.>"])),
                    _ => None,
                }
            }
        }
        let auth = Auth::Custom(std::sync::Arc::new(Edges));
        assert_eq!(authenticate(&auth, &connect(r#"{"auth_token":"admin"}"#)), Some(Permissions::all()));
        let edge = authenticate(&auth, &connect(r#"{"auth_token":"edge"}"#)).unwrap();
        assert!(edge.may_publish(b"in") && !edge.may_publish(b"out"));
        assert_eq!(authenticate(&auth, &connect(r#"{"auth_token":"other"}"#)), None);
        assert_eq!(authenticate(&auth, &connect(r#"{}"#)), None);
        assert_eq!(format!("{auth:?}"), "Custom(..)");
    }
}
