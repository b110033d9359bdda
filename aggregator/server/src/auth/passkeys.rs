//! Passkeys (WebAuthn, through `webauthn-rs`): the relying party of this instance and the
//! ceremonies under way.
//!
//! The relying party is the host of `public_url` (`stats.example.com`); without one it is
//! `localhost` on any port, since browsers take no IP address as a relying party: open
//! `http://localhost:8080`, not `http://127.0.0.1:8080`, to use passkeys there.
//!
//! A ceremony (registering a passkey, or signing in with one) is two requests: the first
//! answers the options for `navigator.credentials` and a ceremony id (`hkw_...`), the second
//! brings the authenticator's answer with it. The state between them stays in this process's
//! memory, never in a cookie or the database: it lasts [`CEREMONY_TTL_MS`], is taken once,
//! and at most [`MAX_CEREMONIES`] are open at a time.

use std::collections::HashMap;
use std::sync::Mutex;

use webauthn_rs::prelude::{DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, Url};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::auth::secret::{SecretKind, digest};

/// How long a ceremony waits for the authenticator.
pub const CEREMONY_TTL_MS: i64 = 5 * 60_000;
/// Ceremonies open at most; more are refused until some end.
pub const MAX_CEREMONIES: usize = 10_000;

/// What a ceremony is doing.
#[derive(Debug)]
pub enum Ceremony {
    /// Registering a passkey for an account.
    Register {
        /// The account.
        user_id: u32,
        /// The name its person gave it.
        name: String,
        /// webauthn-rs's state.
        state: PasskeyRegistration,
    },
    /// Signing in with a passkey alone (a discoverable credential names its account).
    SignIn {
        /// webauthn-rs's state.
        state: DiscoverableAuthentication,
    },
    /// The second step of a password sign-in.
    SecondFactor {
        /// The account.
        user_id: u32,
        /// The digest of the sign-in's challenge.
        challenge: [u8; 32],
        /// webauthn-rs's state.
        state: PasskeyAuthentication,
    },
}

/// This instance's relying party and its open ceremonies.
pub struct Passkeys {
    /// The relying party.
    pub webauthn: Webauthn,
    ceremonies: Mutex<HashMap<[u8; 32], (Ceremony, i64)>>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("rp_id", &self.webauthn.get_allowed_origins())
            .finish_non_exhaustive()
    }
}

/// Why passkeys could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("passkeys for {origin}: {reason}")]
pub struct PasskeyConfigError {
    origin: String,
    reason: String,
}

impl Passkeys {
    /// The relying party of `public_origin` (`https://stats.example.com`), or of `localhost`
    /// on any port when there is none.
    pub fn new(public_origin: Option<&str>) -> Result<Self, PasskeyConfigError> {
        let origin_text = public_origin.unwrap_or("http://localhost");
        let error = |reason: String| PasskeyConfigError { origin: origin_text.to_owned(), reason };
        let origin = Url::parse(origin_text).map_err(|e| error(e.to_string()))?;
        let rp_id = origin.host_str().ok_or_else(|| error("no host".into()))?.to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .map_err(|e| error(e.to_string()))?
            .rp_name("Hitkeep")
            .allow_any_port(public_origin.is_none())
            .build()
            .map_err(|e| error(e.to_string()))?;
        Ok(Self { webauthn, ceremonies: Mutex::new(HashMap::new()) })
    }

    /// Opens a ceremony; its id, or `None` when too many are open.
    pub fn open(&self, ceremony: Ceremony, now_ms: i64) -> Option<String> {
        let mut open = self.ceremonies.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.len() >= MAX_CEREMONIES {
            open.retain(|_, (_, expires_at_ms)| *expires_at_ms > now_ms);
            if open.len() >= MAX_CEREMONIES {
                return None;
            }
        }
        let id = SecretKind::Ceremony.generate();
        open.insert(digest(&id), (ceremony, now_ms + CEREMONY_TTL_MS));
        Some(id)
    }

    /// Takes a ceremony by its id, if it is open and has not expired.
    pub fn take(&self, id: &str, now_ms: i64) -> Option<Ceremony> {
        if !SecretKind::Ceremony.matches(id) {
            return None;
        }
        let mut open = self.ceremonies.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (ceremony, expires_at_ms) = open.remove(&digest(id))?;
        (expires_at_ms > now_ms).then_some(ceremony)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceremonies_are_taken_once_and_expire() {
        let passkeys = Passkeys::new(None).unwrap();
        let (_, state) = passkeys.webauthn.start_discoverable_authentication().unwrap();
        let id = passkeys.open(Ceremony::SignIn { state }, 0).unwrap();
        assert!(passkeys.take("hkw_nope", 1).is_none());
        assert!(passkeys.take(&id, 1).is_some());
        assert!(passkeys.take(&id, 1).is_none(), "once");
        let (_, state) = passkeys.webauthn.start_discoverable_authentication().unwrap();
        let id = passkeys.open(Ceremony::SignIn { state }, 0).unwrap();
        assert!(passkeys.take(&id, CEREMONY_TTL_MS).is_none(), "expired");
        assert!(Passkeys::new(Some("https://stats.example.com")).is_ok());
        assert!(Passkeys::new(Some("not a url")).is_err());
    }
}
