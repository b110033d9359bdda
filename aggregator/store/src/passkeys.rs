//! The ways into an account besides its password: passkeys (WebAuthn credentials, as the
//! server's WebAuthn library serializes them: public key, signature counter, flags, nothing
//! secret), the random user handle authenticators keep for an account, and the single sign-on
//! identities (a provider's issuer and subject) linked to it.

use duckdb::{OptionalExt, params};

use crate::{Error, Result, Store};

/// Longest passkey name.
pub const MAX_PASSKEY_NAME_LEN: usize = 64;

/// A passkey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Row id.
    pub id: u32,
    /// Whose.
    pub user_id: u32,
    /// What its person calls it ("laptop", "YubiKey").
    pub name: String,
    /// The authenticator's credential id.
    pub credential_id: Vec<u8>,
    /// The credential as JSON (webauthn-rs's `Passkey`).
    pub passkey: String,
    /// Registered at, ms since the epoch.
    pub created_at_ms: i64,
    /// Last signed in with.
    pub last_used_at_ms: Option<i64>,
}

const COLUMNS: &str = "id, user_id, name, credential_id, passkey, created_at_ms, last_used_at_ms";

fn from_row(row: &duckdb::Row<'_>) -> duckdb::Result<StoredPasskey> {
    Ok(StoredPasskey {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        credential_id: row.get(3)?,
        passkey: row.get(4)?,
        created_at_ms: row.get(5)?,
        last_used_at_ms: row.get(6)?,
    })
}

/// Checks a passkey's name: 1 to [`MAX_PASSKEY_NAME_LEN`] characters, no control characters.
pub fn validate_passkey_name(name: &str) -> Result<()> {
    let count = name.chars().count();
    if (1..=MAX_PASSKEY_NAME_LEN).contains(&count) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "passkey_name",
            reason: format!("1 to {MAX_PASSKEY_NAME_LEN} characters without control characters"),
        })
    }
}

impl Store {
    /// The account linked to a single sign-on provider's subject.
    pub fn user_of_identity(&self, issuer: &str, subject: &str) -> Result<Option<u32>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_id FROM oidc_identities WHERE issuer = ? AND subject = ?",
                [issuer, subject],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Links an account to a single sign-on provider's subject.
    pub fn link_identity(&self, issuer: &str, subject: &str, user_id: u32, now_ms: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO oidc_identities (issuer, subject, user_id, created_at_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (issuer, subject) DO NOTHING",
            params![issuer, subject, user_id, now_ms],
        )?;
        Ok(())
    }

    /// The account's user handle, recording `candidate` (random bytes) as it if it has none.
    pub fn webauthn_handle(&self, user_id: u32, candidate: &[u8]) -> Result<Vec<u8>> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO webauthn_handles (user_id, handle) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
            params![user_id, candidate],
        )?;
        Ok(conn.query_row("SELECT handle FROM webauthn_handles WHERE user_id = ?", [user_id], |row| {
            row.get(0)
        })?)
    }

    /// The account of a user handle.
    pub fn user_of_webauthn_handle(&self, handle: &[u8]) -> Result<Option<u32>> {
        Ok(self
            .conn()
            .query_row("SELECT user_id FROM webauthn_handles WHERE handle = ?", [handle], |row| row.get(0))
            .optional()?)
    }

    /// Records a passkey.
    pub fn add_passkey(
        &self,
        user_id: u32,
        name: &str,
        credential_id: &[u8],
        passkey: &str,
        now_ms: i64,
    ) -> Result<StoredPasskey> {
        validate_passkey_name(name)?;
        let conn = self.conn();
        let taken: Option<u32> = conn
            .query_row("SELECT id FROM passkeys WHERE credential_id = ?", [credential_id], |row| row.get(0))
            .optional()?;
        if taken.is_some() {
            return Err(Error::PasskeyExists);
        }
        Ok(conn.query_row(
            &format!(
                "INSERT INTO passkeys (user_id, name, credential_id, passkey, created_at_ms) VALUES (?, ?, ?, ?, ?)
                 RETURNING {COLUMNS}"
            ),
            params![user_id, name, credential_id, passkey, now_ms],
            from_row,
        )?)
    }

    /// An account's passkeys, oldest first.
    pub fn passkeys_of(&self, user_id: u32) -> Result<Vec<StoredPasskey>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare(&format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = ? ORDER BY id"))?;
        let passkeys = statement.query_map([user_id], from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(passkeys)
    }

    /// The passkey with this credential id.
    pub fn passkey_by_credential(&self, credential_id: &[u8]) -> Result<Option<StoredPasskey>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = ?"),
                [credential_id],
                from_row,
            )
            .optional()?)
    }

    /// Records a sign-in with a passkey: its new state (signature counter) and the time.
    pub fn passkey_used(&self, id: u32, passkey: &str, now_ms: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE passkeys SET passkey = ?, last_used_at_ms = ? WHERE id = ?",
            params![passkey, now_ms, id],
        )?;
        Ok(())
    }

    /// Removes one of an account's passkeys.
    pub fn remove_passkey(&self, user_id: u32, id: u32) -> Result<StoredPasskey> {
        let conn = self.conn();
        let passkey = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM passkeys WHERE id = ? AND user_id = ?"),
                [id, user_id],
                from_row,
            )
            .optional()?
            .ok_or(Error::PasskeyNotFound)?;
        conn.execute("DELETE FROM passkeys WHERE id = ?", [id])?;
        Ok(passkey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InstanceRole;

    #[test]
    fn passkeys_belong_to_one_account_and_count_as_a_second_factor() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let ada = store.add_user("ada@example.com", "", None, InstanceRole::Admin, 0).unwrap().id;
        let bob = store.add_user("bob@example.com", "", None, InstanceRole::Owner, 0).unwrap().id;
        assert_eq!(store.webauthn_handle(ada, &[1; 16]).unwrap(), vec![1; 16]);
        assert_eq!(store.webauthn_handle(ada, &[2; 16]).unwrap(), vec![1; 16], "made once");
        assert_eq!(store.user_of_webauthn_handle(&[1; 16]).unwrap(), Some(ada));
        assert_eq!(store.second_factor_methods(ada).unwrap(), Vec::<&str>::new());

        let key = store.add_passkey(ada, "laptop", &[7; 20], "{}", 10).unwrap();
        assert!(matches!(store.add_passkey(bob, "copy", &[7; 20], "{}", 11), Err(Error::PasskeyExists)));
        assert!(matches!(store.add_passkey(ada, "", &[8; 20], "{}", 11), Err(Error::Invalid { .. })));
        assert_eq!(store.second_factor_methods(ada).unwrap(), vec!["passkey"]);
        assert_eq!(store.users_with_second_factor().unwrap(), vec![ada]);
        store.passkey_used(key.id, "{\"counter\":1}", 20).unwrap();
        let found = store.passkey_by_credential(&[7; 20]).unwrap().unwrap();
        assert_eq!((found.passkey.as_str(), found.last_used_at_ms), ("{\"counter\":1}", Some(20)));
        assert!(matches!(store.remove_passkey(bob, key.id), Err(Error::PasskeyNotFound)));
        store.remove_passkey(ada, key.id).unwrap();
        assert!(store.passkeys_of(ada).unwrap().is_empty());

        store.add_passkey(ada, "phone", &[9; 20], "{}", 30).unwrap();
        store.link_identity("https://sso.example.com", "sub-1", ada, 40).unwrap();
        store.link_identity("https://sso.example.com", "sub-1", bob, 41).unwrap();
        assert_eq!(
            store.user_of_identity("https://sso.example.com", "sub-1").unwrap(),
            Some(ada),
            "first link stays"
        );
        assert_eq!(store.user_of_identity("https://other.example.com", "sub-1").unwrap(), None);
        store.remove_user(ada).unwrap();
        assert_eq!(store.user_of_identity("https://sso.example.com", "sub-1").unwrap(), None);
        assert_eq!(store.passkey_by_credential(&[9; 20]).unwrap(), None);
        assert_eq!(store.user_of_webauthn_handle(&[1; 16]).unwrap(), None);
    }
}
