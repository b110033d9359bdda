//! Password resets by e-mail: the digest of the link's code, for one account, valid once and
//! for a while. A new request replaces the account's earlier links; using one sets the
//! password and ends every session of the account, in one transaction.

use duckdb::{OptionalExt, params};

use crate::{Error, Result, Store, User, in_transaction};

/// An outstanding password reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    /// The account.
    pub user_id: u32,
    /// Asked for at, ms since the epoch.
    pub created_at_ms: i64,
    /// Ends at, ms since the epoch.
    pub expires_at_ms: i64,
}

impl Store {
    /// The newest outstanding reset of an account (to space out e-mails).
    pub fn latest_password_reset(&self, user_id: u32) -> Result<Option<PasswordReset>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_id, created_at_ms, expires_at_ms FROM password_resets
                 WHERE user_id = ? ORDER BY created_at_ms DESC LIMIT 1",
                [user_id],
                |row| {
                    Ok(PasswordReset {
                        user_id: row.get(0)?,
                        created_at_ms: row.get(1)?,
                        expires_at_ms: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records a reset link by its code's digest; the account's earlier links stop working.
    pub fn add_password_reset(
        &self,
        digest: &[u8; 32],
        user_id: u32,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<()> {
        let conn = self.conn();
        in_transaction(&conn, |conn| {
            conn.execute("DELETE FROM password_resets WHERE user_id = ?", [user_id])?;
            conn.execute(
                "INSERT INTO password_resets (token_sha256, user_id, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)",
                params![&digest[..], user_id, now_ms, expires_at_ms],
            )?;
            Ok(())
        })
    }

    /// The account a reset code is for, if it is valid at `now_ms`.
    pub fn password_reset(&self, digest: &[u8; 32], now_ms: i64) -> Result<Option<User>> {
        let user_id: Option<u32> = self
            .conn()
            .query_row(
                "SELECT user_id FROM password_resets WHERE token_sha256 = ? AND expires_at_ms > ?",
                params![&digest[..], now_ms],
                |row| row.get(0),
            )
            .optional()?;
        match user_id {
            Some(user_id) => Ok(Some(self.user(user_id)?)),
            None => Ok(None),
        }
    }

    /// Uses a reset code: sets the new password hash, voids the account's reset links and
    /// ends all its sessions and pending sign-ins. Its second factors stay.
    pub fn complete_password_reset(
        &self,
        digest: &[u8; 32],
        password_hash: &str,
        now_ms: i64,
    ) -> Result<User> {
        let user = self.password_reset(digest, now_ms)?.ok_or(Error::ResetCodeInvalid)?;
        let conn = self.conn();
        let used = in_transaction(&conn, |conn| {
            let used = conn.execute(
                "DELETE FROM password_resets WHERE token_sha256 = ? AND expires_at_ms > ?",
                params![&digest[..], now_ms],
            )?;
            if used == 0 {
                // Used by a concurrent request since it was read.
                return Ok(false);
            }
            conn.execute("DELETE FROM password_resets WHERE user_id = ?", [user.id])?;
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", params![password_hash, user.id])?;
            conn.execute("DELETE FROM sessions WHERE user_id = ?", [user.id])?;
            conn.execute("DELETE FROM sign_in_challenges WHERE user_id = ?", [user.id])?;
            Ok(true)
        })?;
        if !used {
            return Err(Error::ResetCodeInvalid);
        }
        Ok(user)
    }

    /// Deletes reset links that ended before `now_ms`.
    pub fn remove_expired_password_resets(&self, now_ms: i64) -> Result<usize> {
        Ok(self.conn().execute("DELETE FROM password_resets WHERE expires_at_ms <= ?", [now_ms])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InstanceRole;

    #[test]
    fn a_reset_works_once_replaces_older_links_and_ends_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let user = store.add_user("ada@example.com", "", Some("old"), InstanceRole::Owner, 0).unwrap();
        store.add_session(&[9; 32], user.id, "password", "test", 0, 1_000_000).unwrap();
        store.add_password_reset(&[1; 32], user.id, 10, 1_000).unwrap();
        store.add_password_reset(&[2; 32], user.id, 20, 1_020).unwrap();
        assert_eq!(store.password_reset(&[1; 32], 30).unwrap(), None, "the newer link replaces it");
        assert_eq!(store.latest_password_reset(user.id).unwrap().unwrap().created_at_ms, 20);
        assert!(matches!(
            store.complete_password_reset(&[2; 32], "new", 1_020),
            Err(Error::ResetCodeInvalid)
        ));
        let reset = store.complete_password_reset(&[2; 32], "new", 500).unwrap();
        assert_eq!(reset.id, user.id);
        assert_eq!(store.password_hash(user.id).unwrap().as_deref(), Some("new"));
        assert!(store.sessions_of(user.id).unwrap().is_empty());
        assert!(matches!(
            store.complete_password_reset(&[2; 32], "again", 600),
            Err(Error::ResetCodeInvalid)
        ));
        store.add_password_reset(&[3; 32], user.id, 700, 800).unwrap();
        assert_eq!(store.remove_expired_password_resets(800).unwrap(), 1);
    }
}
