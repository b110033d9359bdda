//! The server's secrets: 256 random bits with a prefix that says what they are, kept only as
//! their SHA-256 digest.
//!
//! The prefixes let people and secret scanners recognize a leaked value (`hkt_` in a CI
//! log is an API token) and let the server refuse a secret of the wrong kind before any
//! lookup.

use sha2::{Digest, Sha256};

/// What a secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A sign-in session (the cookie's value).
    Session,
    /// An API token (`Authorization: Bearer`).
    ApiToken,
    /// The first-run setup code.
    Setup,
    /// An invitation code.
    Invitation,
    /// The demo sign-in code of `serve --demo`.
    Demo,
    /// An edge's token for `/api/edge/*` (Spin collectors).
    EdgeToken,
    /// The second step of a sign-in (between the password and the code).
    Challenge,
    /// A share link's code (the public link of a site's dashboard).
    ShareLink,
    /// What unlocking a password-protected share link gives, for its requests.
    ShareUnlock,
    /// A password reset link's code, sent by e-mail.
    PasswordReset,
    /// A WebAuthn ceremony under way (registering or signing in with a passkey).
    Ceremony,
    /// The unsubscribe link of one report or alert e-mail.
    Unsubscribe,
}

impl SecretKind {
    /// The prefix of every secret of this kind.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Session => "hks_",
            Self::ApiToken => "hkt_",
            Self::Setup => "hku_",
            Self::Invitation => "hki_",
            Self::Demo => "hkd_",
            Self::EdgeToken => "hke_",
            Self::Challenge => "hkc_",
            Self::ShareLink => "hkl_",
            Self::ShareUnlock => "hkv_",
            Self::PasswordReset => "hkr_",
            Self::Ceremony => "hkw_",
            Self::Unsubscribe => "hkx_",
        }
    }

    /// A new secret: the prefix and 64 hex digits of the operating system's randomness.
    pub fn generate(self) -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system provides randomness");
        let mut secret = String::with_capacity(self.prefix().len() + 64);
        secret.push_str(self.prefix());
        for byte in bytes {
            secret.push_str(&format!("{byte:02x}"));
        }
        secret
    }

    /// Whether `value` has this kind's shape (prefix and 64 lower-case hex digits), checked
    /// before any lookup so that garbage never reaches the database.
    pub fn matches(self, value: &str) -> bool {
        value.strip_prefix(self.prefix()).is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }
}

/// The digest the store keeps of a secret.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two byte strings in time that depends on their lengths only.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_recognized() {
        for kind in [
            SecretKind::Session,
            SecretKind::ApiToken,
            SecretKind::Setup,
            SecretKind::Invitation,
            SecretKind::EdgeToken,
            SecretKind::Challenge,
            SecretKind::ShareLink,
            SecretKind::ShareUnlock,
            SecretKind::PasswordReset,
            SecretKind::Ceremony,
            SecretKind::Unsubscribe,
        ] {
            let (a, b) = (kind.generate(), kind.generate());
            assert_ne!(a, b);
            assert!(kind.matches(&a), "{a}");
            assert_eq!(a.len(), kind.prefix().len() + 64);
            assert_ne!(digest(&a), digest(&b));
        }
        let token = SecretKind::ApiToken.generate();
        assert!(!SecretKind::Session.matches(&token));
        assert!(!SecretKind::ApiToken.matches(&token.to_uppercase()));
        assert!(!SecretKind::ApiToken.matches(&token[..token.len() - 1]));
        assert!(!SecretKind::ApiToken.matches("hkt_"));
        assert!(same_bytes(b"abc", b"abc") && !same_bytes(b"abc", b"abd") && !same_bytes(b"ab", b"abc"));
    }
}
