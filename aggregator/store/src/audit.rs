//! The audit log: security events (sign-ins and their failures, factor, token and account
//! changes), kept in the database and read by `hitkeep audit`.
//!
//! Entries name accounts by id and never hold a secret, an IP address or a user agent; a
//! failed sign-in for an address that has no account is recorded without the address.

use duckdb::params;

use crate::{Result, Store};

/// What happened. The names are stable: they are what `hitkeep audit` prints and filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// The first owner was created through the setup link.
    SetupCompleted,
    /// A person signed in.
    SignIn,
    /// A sign-in was refused (wrong password, unknown account).
    SignInFailed,
    /// Sign-ins were refused for a while after repeated failures.
    SignInThrottled,
    /// A person signed out.
    SignOut,
    /// A session was ended by its person (or all of them: "sign out everywhere").
    SessionRevoked,
    /// A password was changed.
    PasswordChanged,
    /// An account was created.
    UserCreated,
    /// An account was removed.
    UserRemoved,
    /// An account's instance role changed.
    RoleChanged,
    /// A person's role on a site changed or was taken away.
    SiteRoleChanged,
    /// An invitation was made.
    InvitationCreated,
    /// An invitation was accepted.
    InvitationAccepted,
    /// An invitation was withdrawn before it was used.
    InvitationRevoked,
    /// An API token was made.
    TokenCreated,
    /// An API token was revoked.
    TokenRevoked,
    /// A second factor was added (detail: `factor=totp`).
    FactorAdded,
    /// A second factor was removed.
    FactorRemoved,
    /// New recovery codes were made (the old ones no longer work).
    RecoveryCodesReplaced,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed,
    /// An instance setting changed (detail: `name=value`).
    SettingChanged,
    /// A share link was made.
    ShareLinkCreated,
    /// A share link was revoked.
    ShareLinkRevoked,
    /// A password reset was asked for by e-mail (for an existing account only).
    PasswordResetRequested,
    /// A password was reset with a link from an e-mail.
    PasswordReset,
    /// An account was linked to a single sign-on identity (detail: the issuer).
    IdentityLinked,
}

impl AuditKind {
    /// Every kind, for parsing and listing.
    pub const ALL: [Self; 26] = [
        Self::SetupCompleted,
        Self::SignIn,
        Self::SignInFailed,
        Self::SignInThrottled,
        Self::SignOut,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::UserCreated,
        Self::UserRemoved,
        Self::RoleChanged,
        Self::SiteRoleChanged,
        Self::InvitationCreated,
        Self::InvitationAccepted,
        Self::InvitationRevoked,
        Self::TokenCreated,
        Self::TokenRevoked,
        Self::FactorAdded,
        Self::FactorRemoved,
        Self::RecoveryCodesReplaced,
        Self::RecoveryCodeUsed,
        Self::SettingChanged,
        Self::ShareLinkCreated,
        Self::ShareLinkRevoked,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::IdentityLinked,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SetupCompleted => "setup_completed",
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInThrottled => "sign_in_throttled",
            Self::SignOut => "sign_out",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::UserCreated => "user_created",
            Self::UserRemoved => "user_removed",
            Self::RoleChanged => "role_changed",
            Self::SiteRoleChanged => "site_role_changed",
            Self::InvitationCreated => "invitation_created",
            Self::InvitationAccepted => "invitation_accepted",
            Self::InvitationRevoked => "invitation_revoked",
            Self::TokenCreated => "token_created",
            Self::TokenRevoked => "token_revoked",
            Self::FactorAdded => "factor_added",
            Self::FactorRemoved => "factor_removed",
            Self::RecoveryCodesReplaced => "recovery_codes_replaced",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::SettingChanged => "setting_changed",
            Self::ShareLinkCreated => "share_link_created",
            Self::ShareLinkRevoked => "share_link_revoked",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::IdentityLinked => "identity_linked",
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Row id, increasing.
    pub id: u64,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// What ([`AuditKind::as_str`]).
    pub event: String,
    /// The account it concerns.
    pub user_id: Option<u32>,
    /// Who did it (`None`: the operator's command line, or nobody signed in).
    pub actor_id: Option<u32>,
    /// Details without secrets or personal data (`method=password`, `token=ci`).
    pub detail: String,
}

impl Store {
    /// Appends an entry.
    pub fn audit(
        &self,
        kind: AuditKind,
        user_id: Option<u32>,
        actor_id: Option<u32>,
        detail: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO audit_log (at_ms, event, user_id, actor_id, detail) VALUES (?, ?, ?, ?, ?)",
            params![now_ms, kind.as_str(), user_id, actor_id, detail],
        )?;
        Ok(())
    }

    /// The newest entries, newest first, optionally of one account only.
    pub fn audit_log(&self, limit: u32, user_id: Option<u32>) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, at_ms, event, user_id, actor_id, detail FROM audit_log
             WHERE ?::UINTEGER IS NULL OR user_id = ? ORDER BY id DESC LIMIT ?",
        )?;
        let entries = statement
            .query_map(params![user_id, user_id, limit], |row| {
                Ok(AuditEntry {
                    id: row.get(0)?,
                    at_ms: row.get(1)?,
                    event: row.get(2)?,
                    user_id: row.get(3)?,
                    actor_id: row.get(4)?,
                    detail: row.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_newest_first_and_filtered_by_account() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        store.audit(AuditKind::SignIn, Some(1), Some(1), "method=password", 10).unwrap();
        store.audit(AuditKind::SignInFailed, None, None, "reason=unknown_account", 11).unwrap();
        store.audit(AuditKind::TokenCreated, Some(2), Some(1), "token=ci", 12).unwrap();
        let all = store.audit_log(10, None).unwrap();
        let events: Vec<&str> = all.iter().map(|entry| entry.event.as_str()).collect();
        assert_eq!(events, ["token_created", "sign_in_failed", "sign_in"]);
        let mine = store.audit_log(10, Some(1)).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].detail, "method=password");
        assert_eq!(store.audit_log(1, None).unwrap().len(), 1);
        let names: std::collections::HashSet<&str> =
            AuditKind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(names.len(), AuditKind::ALL.len());
    }
}
