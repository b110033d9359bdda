//! Second factors: TOTP secrets (sealed by the caller, see `secret_sealed`), one-time
//! recovery codes (digests), the challenges of a sign-in's second step, and the instance's
//! settings (whether everyone must have a second factor).

use duckdb::{OptionalExt, params};

use crate::{Result, Store, in_transaction};

/// A person's TOTP factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// The person.
    pub user_id: u32,
    /// The shared secret, sealed with the data directory's key.
    pub secret_sealed: Vec<u8>,
    /// Whether the person has confirmed it with a first code (else it is an enrolment).
    pub confirmed: bool,
    /// The time step of the last code accepted.
    pub last_step: i64,
    /// When enrolment began, ms since the epoch.
    pub created_at_ms: i64,
}

/// The second step of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInChallenge {
    /// The person whose password was right.
    pub user_id: u32,
    /// How the first step was made.
    pub method: String,
    /// Wrong codes entered so far.
    pub attempts: u32,
    /// Ends at, ms since the epoch.
    pub expires_at_ms: i64,
}

/// The instance setting that requires a second factor of everyone.
pub const REQUIRE_SECOND_FACTOR: &str = "require_second_factor";

impl Store {
    /// Starts (or restarts) a TOTP enrolment: an unconfirmed factor with this sealed secret.
    /// A confirmed factor is left alone (`false`): it must be removed first.
    pub fn begin_totp(&self, user_id: u32, secret_sealed: &[u8], now_ms: i64) -> Result<bool> {
        in_transaction(&self.conn(), |conn| {
            let confirmed: Option<bool> = conn
                .query_row("SELECT confirmed FROM totp_factors WHERE user_id = ?", [user_id], |row| {
                    row.get(0)
                })
                .optional()?;
            match confirmed {
                Some(true) => return Ok(false),
                Some(false) => {
                    conn.execute("DELETE FROM totp_factors WHERE user_id = ?", [user_id])?;
                }
                None => {}
            }
            conn.execute(
                "INSERT INTO totp_factors (user_id, secret_sealed, confirmed, last_step, created_at_ms) VALUES (?, ?, false, 0, ?)",
                params![user_id, secret_sealed, now_ms],
            )?;
            Ok(true)
        })
    }

    /// A person's TOTP factor, confirmed or not.
    pub fn totp_factor(&self, user_id: u32) -> Result<Option<TotpFactor>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_id, secret_sealed, confirmed, last_step, created_at_ms FROM totp_factors WHERE user_id = ?",
                [user_id],
                |row| {
                    Ok(TotpFactor {
                        user_id: row.get(0)?,
                        secret_sealed: row.get(1)?,
                        confirmed: row.get(2)?,
                        last_step: row.get(3)?,
                        created_at_ms: row.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Accepts a code's time step once: `true` when `step` is later than the last step
    /// accepted (and records it), `false` for a replay. With `confirm`, also confirms an
    /// enrolment and replaces the person's recovery codes with these digests, in the same
    /// transaction.
    pub fn accept_totp_step(&self, user_id: u32, step: i64, confirm: Option<&[[u8; 32]]>) -> Result<bool> {
        in_transaction(&self.conn(), |conn| {
            let updated = conn.execute(
                "UPDATE totp_factors SET last_step = ?, confirmed = confirmed OR ? WHERE user_id = ? AND last_step < ?",
                params![step, confirm.is_some(), user_id, step],
            )?;
            if updated == 0 {
                return Ok(false);
            }
            if let Some(codes) = confirm {
                replace_recovery_codes(conn, user_id, codes)?;
            }
            Ok(true)
        })
    }

    /// Removes a person's TOTP factor and recovery codes; whether they had one.
    pub fn remove_totp(&self, user_id: u32) -> Result<bool> {
        in_transaction(&self.conn(), |conn| {
            let removed = conn.execute("DELETE FROM totp_factors WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM recovery_codes WHERE user_id = ?", [user_id])?;
            Ok(removed > 0)
        })
    }

    /// Replaces a person's recovery codes with these digests.
    pub fn set_recovery_codes(&self, user_id: u32, codes: &[[u8; 32]]) -> Result<()> {
        in_transaction(&self.conn(), |conn| replace_recovery_codes(conn, user_id, codes))
    }

    /// Uses up a recovery code: `true` when it was one of the person's, unused.
    pub fn use_recovery_code(&self, user_id: u32, digest: &[u8; 32], now_ms: i64) -> Result<bool> {
        let used = self.conn().execute(
            "UPDATE recovery_codes SET used_at_ms = ? WHERE user_id = ? AND code_sha256 = ? AND used_at_ms IS NULL",
            params![now_ms, user_id, &digest[..]],
        )?;
        Ok(used > 0)
    }

    /// How many unused recovery codes a person has.
    pub fn recovery_codes_left(&self, user_id: u32) -> Result<u32> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at_ms IS NULL",
            [user_id],
            |row| row.get(0),
        )?)
    }

    /// The people with a second factor: a confirmed authenticator app or a passkey.
    pub fn users_with_second_factor(&self) -> Result<Vec<u32>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT user_id FROM totp_factors WHERE confirmed UNION SELECT user_id FROM passkeys ORDER BY user_id",
        )?;
        let ids = statement.query_map([], |row| row.get(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// The second factors a person can sign in with: `totp` (with `recovery_code`), `passkey`.
    pub fn second_factor_methods(&self, user_id: u32) -> Result<Vec<&'static str>> {
        let conn = self.conn();
        let (totp, passkeys): (bool, u64) = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ? AND confirmed),
                    (SELECT count(*) FROM passkeys WHERE user_id = ?)",
            [user_id, user_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let mut methods = Vec::new();
        if totp {
            methods.extend(["totp", "recovery_code"]);
        }
        if passkeys > 0 {
            methods.push("passkey");
        }
        Ok(methods)
    }

    /// Records the challenge of a sign-in's second step.
    pub fn add_sign_in_challenge(
        &self,
        digest: &[u8; 32],
        user_id: u32,
        method: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sign_in_challenges (token_sha256, user_id, method, attempts, expires_at_ms) VALUES (?, ?, ?, 0, ?)",
            params![&digest[..], user_id, method, expires_at_ms],
        )?;
        Ok(())
    }

    /// The challenge with this digest, whatever its expiry (the caller checks).
    pub fn sign_in_challenge(&self, digest: &[u8; 32]) -> Result<Option<SignInChallenge>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_id, method, attempts, expires_at_ms FROM sign_in_challenges WHERE token_sha256 = ?",
                [&digest[..]],
                |row| {
                    Ok(SignInChallenge {
                        user_id: row.get(0)?,
                        method: row.get(1)?,
                        attempts: row.get(2)?,
                        expires_at_ms: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Counts a wrong code against a challenge; past `limit` wrong codes it is removed.
    /// The attempts so far.
    pub fn fail_sign_in_challenge(&self, digest: &[u8; 32], limit: u32) -> Result<u32> {
        in_transaction(&self.conn(), |conn| {
            let attempts: Option<u32> = conn
                .query_row(
                    "UPDATE sign_in_challenges SET attempts = attempts + 1 WHERE token_sha256 = ? RETURNING attempts",
                    [&digest[..]],
                    |row| row.get(0),
                )
                .optional()?;
            let attempts = attempts.unwrap_or(limit);
            if attempts >= limit {
                conn.execute("DELETE FROM sign_in_challenges WHERE token_sha256 = ?", [&digest[..]])?;
            }
            Ok(attempts)
        })
    }

    /// Uses up a challenge; whether it existed.
    pub fn remove_sign_in_challenge(&self, digest: &[u8; 32]) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM sign_in_challenges WHERE token_sha256 = ?", [&digest[..]])? > 0)
    }

    /// Deletes the challenges that ended before `now_ms`.
    pub fn remove_expired_challenges(&self, now_ms: i64) -> Result<usize> {
        Ok(self.conn().execute("DELETE FROM sign_in_challenges WHERE expires_at_ms <= ?", [now_ms])?)
    }

    /// An instance setting.
    pub fn setting(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM instance_settings WHERE name = ?", [name], |row| row.get(0))
            .optional()?)
    }

    /// Sets an instance setting.
    pub fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        in_transaction(&self.conn(), |conn| {
            conn.execute("DELETE FROM instance_settings WHERE name = ?", [name])?;
            conn.execute("INSERT INTO instance_settings (name, value) VALUES (?, ?)", [name, value])?;
            Ok(())
        })
    }
}

fn replace_recovery_codes(conn: &duckdb::Connection, user_id: u32, codes: &[[u8; 32]]) -> duckdb::Result<()> {
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?", [user_id])?;
    let mut insert = conn.prepare("INSERT INTO recovery_codes (user_id, code_sha256) VALUES (?, ?)")?;
    for code in codes {
        insert.execute(params![user_id, &code[..]])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InstanceRole;

    fn store_with_ada() -> (tempfile::TempDir, Store, u32) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let user = store.add_user("ada@example.com", "", None, InstanceRole::Owner, 0).unwrap();
        (dir, store, user.id)
    }

    #[test]
    fn a_totp_step_is_accepted_once_and_only_forward() {
        let (_dir, store, ada) = store_with_ada();
        assert!(store.begin_totp(ada, b"sealed", 1).unwrap());
        assert!(!store.totp_factor(ada).unwrap().unwrap().confirmed);
        let codes = [[1u8; 32], [2u8; 32]];
        assert!(store.accept_totp_step(ada, 100, Some(&codes)).unwrap());
        assert!(store.totp_factor(ada).unwrap().unwrap().confirmed);
        assert_eq!(store.recovery_codes_left(ada).unwrap(), 2);
        assert!(!store.begin_totp(ada, b"other", 2).unwrap(), "a confirmed factor stays");
        assert!(!store.accept_totp_step(ada, 100, None).unwrap(), "replay");
        assert!(!store.accept_totp_step(ada, 99, None).unwrap(), "older");
        assert!(store.accept_totp_step(ada, 101, None).unwrap());
        assert_eq!(store.users_with_second_factor().unwrap(), vec![ada]);
    }

    #[test]
    fn recovery_codes_are_used_once() {
        let (_dir, store, ada) = store_with_ada();
        store.set_recovery_codes(ada, &[[7u8; 32], [8u8; 32]]).unwrap();
        assert!(store.use_recovery_code(ada, &[7u8; 32], 5).unwrap());
        assert!(!store.use_recovery_code(ada, &[7u8; 32], 6).unwrap());
        assert!(!store.use_recovery_code(ada + 1, &[8u8; 32], 6).unwrap(), "another person's");
        assert_eq!(store.recovery_codes_left(ada).unwrap(), 1);
        assert!(store.remove_totp(ada).is_ok());
        assert_eq!(store.recovery_codes_left(ada).unwrap(), 0);
    }

    #[test]
    fn challenges_end_after_too_many_wrong_codes() {
        let (_dir, store, ada) = store_with_ada();
        let key = [3u8; 32];
        store.add_sign_in_challenge(&key, ada, "password", 1_000).unwrap();
        assert_eq!(store.fail_sign_in_challenge(&key, 3).unwrap(), 1);
        assert_eq!(store.fail_sign_in_challenge(&key, 3).unwrap(), 2);
        assert_eq!(store.sign_in_challenge(&key).unwrap().unwrap().attempts, 2);
        assert_eq!(store.fail_sign_in_challenge(&key, 3).unwrap(), 3);
        assert!(store.sign_in_challenge(&key).unwrap().is_none());
        store.add_sign_in_challenge(&key, ada, "password", 1_000).unwrap();
        assert_eq!(store.remove_expired_challenges(1_000).unwrap(), 1);
    }

    #[test]
    fn settings_are_replaced() {
        let (_dir, store, _) = store_with_ada();
        assert_eq!(store.setting(REQUIRE_SECOND_FACTOR).unwrap(), None);
        store.set_setting(REQUIRE_SECOND_FACTOR, "true").unwrap();
        store.set_setting(REQUIRE_SECOND_FACTOR, "false").unwrap();
        assert_eq!(store.setting(REQUIRE_SECOND_FACTOR).unwrap().as_deref(), Some("false"));
    }
}
