//! What people and programs present: sign-in sessions, API tokens, the first-run setup code
//! and invitation codes.
//!
//! Every one of them is 256 random bits made by the server; the store keeps only their
//! SHA-256 digest (a fast hash is enough for secrets that cannot be guessed), so a copy of the
//! database lets nobody sign in.

use duckdb::{OptionalExt, params};

use crate::users::{InstanceRole, SiteRole};
use crate::{Error, Result, Store, in_transaction};

/// Longest API token name.
pub const MAX_TOKEN_NAME_LEN: usize = 64;

/// A sign-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Row id (shown in the session list, used to revoke one).
    pub id: u64,
    /// The person.
    pub user_id: u32,
    /// How it was opened (`password`, `setup`, `invitation`, `demo`).
    pub method: String,
    /// A coarse browser label, never the user agent.
    pub client: String,
    /// Opened at, ms since the epoch.
    pub created_at_ms: i64,
    /// Last request, ms since the epoch (updated at most every few minutes).
    pub last_seen_at_ms: i64,
    /// Absolute end, ms since the epoch.
    pub expires_at_ms: i64,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenScope {
    /// Read stats and settings.
    Read = 1,
    /// Also send events and change settings.
    Write = 2,
}

impl TokenScope {
    /// The name the API and the command line use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    fn from_code(code: u8) -> Self {
        if code == Self::Write as u8 { Self::Write } else { Self::Read }
    }
}

impl std::str::FromStr for TokenScope {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            _ => Err(Error::Invalid { field: "scope", reason: format!("`{text}` is not read or write") }),
        }
    }
}

/// The sites an API token reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSites {
    /// Every site its person may see (every site for an operator's token).
    All,
    /// These sites only (ids), and only while its person may see them.
    Only(Vec<u32>),
}

/// An API token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Row id.
    pub id: u32,
    /// Unique name (`ci-export`).
    pub name: String,
    /// The person it acts for; `None`: the operator's.
    pub user_id: Option<u32>,
    /// Read or write.
    pub scope: TokenScope,
    /// Which sites.
    pub sites: TokenSites,
    /// Made at, ms since the epoch.
    pub created_at_ms: i64,
    /// Refused from then on, if set.
    pub expires_at_ms: Option<i64>,
    /// Last accepted request, ms since the epoch (recorded about once a minute).
    pub last_used_at_ms: Option<i64>,
}

/// An invitation, found by its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Row id.
    pub id: u32,
    /// Who is invited (the account's address once accepted).
    pub email: String,
    /// The instance role the new account gets.
    pub role: InstanceRole,
    /// A site role the new account gets, with the site's id.
    pub site: Option<(u32, SiteRole)>,
    /// Who invited, if a person did.
    pub invited_by: Option<u32>,
    /// Made at, ms since the epoch.
    pub created_at_ms: i64,
    /// Unusable from then on.
    pub expires_at_ms: i64,
}

/// Checks an API token name: 1 to 64 characters of `[A-Za-z0-9._-]`.
pub fn validate_token_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TOKEN_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "token_name",
            reason: format!(
                "`{name}` is not a token name (1 to {MAX_TOKEN_NAME_LEN} letters, digits, `.`, `_` or `-`)"
            ),
        })
    }
}

const SESSION_COLUMNS: &str = "id, user_id, method, client, created_at_ms, last_seen_at_ms, expires_at_ms";

fn session_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        method: row.get(2)?,
        client: row.get(3)?,
        created_at_ms: row.get(4)?,
        last_seen_at_ms: row.get(5)?,
        expires_at_ms: row.get(6)?,
    })
}

/// The site list of each token is aggregated in the same query: `list(site_id)` is NULL
/// for a token without rows.
const TOKEN_SELECT: &str =
    "SELECT t.id, t.name, t.user_id, t.scope, t.all_sites, t.created_at_ms, t.expires_at_ms,
        t.last_used_at_ms, list(s.site_id ORDER BY s.site_id) FILTER (WHERE s.site_id IS NOT NULL)
     FROM api_tokens t LEFT JOIN api_token_sites s ON s.token_id = t.id";
const TOKEN_GROUP: &str = "GROUP BY t.id, t.name, t.user_id, t.scope, t.all_sites, t.created_at_ms, t.expires_at_ms, t.last_used_at_ms";

fn token_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<ApiToken> {
    let all_sites: bool = row.get(4)?;
    let sites = if all_sites {
        TokenSites::All
    } else {
        let ids: Option<duckdb::types::Value> = row.get(8)?;
        let ids = match ids {
            Some(duckdb::types::Value::List(values)) => values
                .into_iter()
                .filter_map(|value| match value {
                    duckdb::types::Value::UInt(id) => Some(id),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        TokenSites::Only(ids)
    };
    let scope: u8 = row.get(3)?;
    Ok(ApiToken {
        id: row.get(0)?,
        name: row.get(1)?,
        user_id: row.get(2)?,
        scope: TokenScope::from_code(scope),
        sites,
        created_at_ms: row.get(5)?,
        expires_at_ms: row.get(6)?,
        last_used_at_ms: row.get(7)?,
    })
}

impl Store {
    /// Records a new session by its token's digest.
    pub fn add_session(
        &self,
        digest: &[u8; 32],
        user_id: u32,
        method: &str,
        client: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<SessionRecord> {
        Ok(self.conn().query_row(
            &format!(
                "INSERT INTO sessions (token_sha256, user_id, method, client, created_at_ms, last_seen_at_ms, expires_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {SESSION_COLUMNS}"
            ),
            params![&digest[..], user_id, method, client, now_ms, now_ms, expires_at_ms],
            session_from_row,
        )?)
    }

    /// The session whose token has this digest, whatever its expiry (the caller checks).
    pub fn session_by_digest(&self, digest: &[u8; 32]) -> Result<Option<SessionRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_sha256 = ?"),
                [&digest[..]],
                session_from_row,
            )
            .optional()?)
    }

    /// Records a session's last request.
    pub fn touch_session(&self, id: u64, now_ms: i64) -> Result<()> {
        self.conn().execute("UPDATE sessions SET last_seen_at_ms = ? WHERE id = ?", params![now_ms, id])?;
        Ok(())
    }

    /// A person's sessions, newest first.
    pub fn sessions_of(&self, user_id: u32) -> Result<Vec<SessionRecord>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? ORDER BY created_at_ms DESC, id DESC"
        ))?;
        let sessions = statement.query_map([user_id], session_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(sessions)
    }

    /// Ends one session of a person; `false` when they have none with this id.
    pub fn remove_session(&self, user_id: u32, id: u64) -> Result<bool> {
        let removed =
            self.conn().execute("DELETE FROM sessions WHERE id = ? AND user_id = ?", params![id, user_id])?;
        Ok(removed > 0)
    }

    /// Ends every session of a person but `keep` (sign out everywhere else); how many.
    pub fn remove_sessions_of(&self, user_id: u32, keep: Option<u64>) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM sessions WHERE user_id = ? AND id IS DISTINCT FROM ?",
            params![user_id, keep],
        )?)
    }

    /// Deletes sessions past their absolute end or idle since before `idle_before_ms`.
    pub fn remove_expired_sessions(&self, now_ms: i64, idle_before_ms: i64) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM sessions WHERE expires_at_ms <= ? OR last_seen_at_ms < ?",
            params![now_ms, idle_before_ms],
        )?)
    }

    /// Replaces the first-run setup code (one at a time).
    pub fn replace_setup_code(&self, digest: &[u8; 32], now_ms: i64) -> Result<()> {
        in_transaction(&self.conn(), |conn| {
            conn.execute("DELETE FROM setup_codes", [])?;
            conn.execute("INSERT INTO setup_codes VALUES (?, ?)", params![&digest[..], now_ms])?;
            Ok(())
        })
    }

    /// Whether this is the current setup code.
    pub fn setup_code_valid(&self, digest: &[u8; 32]) -> Result<bool> {
        let found: Option<i64> = self
            .conn()
            .query_row("SELECT created_at_ms FROM setup_codes WHERE code_sha256 = ?", [&digest[..]], |row| {
                row.get(0)
            })
            .optional()?;
        Ok(found.is_some())
    }

    /// Creates the first owner with a setup code, which is used up: in one transaction, and
    /// only while the instance has no owner, so two people racing for a public instance
    /// cannot both become owners.
    pub fn complete_setup(
        &self,
        digest: &[u8; 32],
        email: &str,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<crate::User> {
        let conn = self.conn();
        let email = crate::normalize_email(email)?;
        let user_id = in_transaction(&conn, |conn| {
            let owners: u64 = conn.query_row(
                "SELECT count(*) FROM users WHERE role = ?",
                [InstanceRole::Owner.code()],
                |row| row.get(0),
            )?;
            let used = conn.execute("DELETE FROM setup_codes WHERE code_sha256 = ?", [&digest[..]])?;
            if owners > 0 || used == 0 {
                return Ok(None);
            }
            let id: u32 = conn.query_row(
                "INSERT INTO users (email, name, password_hash, role, created_at_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
                params![email, name.trim(), password_hash, InstanceRole::Owner.code(), now_ms],
                |row| row.get(0),
            )?;
            Ok(Some(id))
        })?;
        drop(conn);
        let user_id = user_id.ok_or(Error::SetupCodeInvalid)?;
        tracing::info!(user_id, "first owner created");
        self.user(user_id)
    }

    /// Records a new API token by its secret's digest.
    #[allow(clippy::too_many_arguments)]
    pub fn add_api_token(
        &self,
        name: &str,
        digest: &[u8; 32],
        user_id: Option<u32>,
        scope: TokenScope,
        sites: &TokenSites,
        now_ms: i64,
        expires_at_ms: Option<i64>,
    ) -> Result<ApiToken> {
        validate_token_name(name)?;
        let conn = self.conn();
        let exists: Option<u32> = conn
            .query_row("SELECT id FROM api_tokens WHERE name = ?", [name], |row| row.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(Error::TokenExists(name.to_string()));
        }
        let id = in_transaction(&conn, |conn| {
            let id: u32 = conn.query_row(
                "INSERT INTO api_tokens (name, token_sha256, user_id, scope, all_sites, created_at_ms, expires_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                params![
                    name,
                    &digest[..],
                    user_id,
                    scope as u8,
                    matches!(sites, TokenSites::All),
                    now_ms,
                    expires_at_ms
                ],
                |row| row.get(0),
            )?;
            if let TokenSites::Only(site_ids) = sites {
                for site_id in site_ids {
                    conn.execute(
                        "INSERT INTO api_token_sites (token_id, site_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        [id, *site_id],
                    )?;
                }
            }
            Ok(id)
        })?;
        drop(conn);
        tracing::info!(token_id = id, scope = scope.as_str(), "api token created");
        self.api_token(id)?.ok_or(Error::TokenNotFound(name.to_string()))
    }

    fn api_token(&self, id: u32) -> Result<Option<ApiToken>> {
        Ok(self
            .conn()
            .query_row(&format!("{TOKEN_SELECT} WHERE t.id = ? {TOKEN_GROUP}"), [id], token_from_row)
            .optional()?)
    }

    /// The API token whose secret has this digest, whatever its expiry (the caller checks).
    pub fn api_token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<ApiToken>> {
        Ok(self
            .conn()
            .query_row(
                &format!("{TOKEN_SELECT} WHERE t.token_sha256 = ? {TOKEN_GROUP}"),
                [&digest[..]],
                token_from_row,
            )
            .optional()?)
    }

    /// API tokens by name: all of them, or those acting for one person.
    pub fn api_tokens(&self, user_id: Option<u32>) -> Result<Vec<ApiToken>> {
        let conn = self.conn();
        let tokens = match user_id {
            Some(user_id) => conn
                .prepare(&format!("{TOKEN_SELECT} WHERE t.user_id = ? {TOKEN_GROUP} ORDER BY t.name"))?
                .query_map([user_id], token_from_row)?
                .collect::<Result<Vec<_>, _>>()?,
            None => conn
                .prepare(&format!("{TOKEN_SELECT} {TOKEN_GROUP} ORDER BY t.name"))?
                .query_map([], token_from_row)?
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(tokens)
    }

    /// Revokes an API token by name.
    pub fn remove_api_token(&self, name: &str) -> Result<ApiToken> {
        let token = self
            .api_tokens(None)?
            .into_iter()
            .find(|token| token.name == name)
            .ok_or_else(|| Error::TokenNotFound(name.to_string()))?;
        in_transaction(&self.conn(), |conn| {
            conn.execute("DELETE FROM api_token_sites WHERE token_id = ?", [token.id])?;
            conn.execute("DELETE FROM api_tokens WHERE id = ?", [token.id])?;
            Ok(())
        })?;
        tracing::info!(token_id = token.id, "api token revoked");
        Ok(token)
    }

    /// Records when tokens were last used (the server batches these).
    pub fn touch_api_tokens(&self, used: &[(u32, i64)]) -> Result<()> {
        if used.is_empty() {
            return Ok(());
        }
        in_transaction(&self.conn(), |conn| {
            let mut statement = conn.prepare("UPDATE api_tokens SET last_used_at_ms = ? WHERE id = ?")?;
            for (id, at_ms) in used {
                statement.execute(params![at_ms, id])?;
            }
            Ok(())
        })
    }

    /// Records an invitation by its code's digest.
    #[allow(clippy::too_many_arguments)]
    pub fn add_invitation(
        &self,
        digest: &[u8; 32],
        email: &str,
        role: InstanceRole,
        site: Option<(u32, SiteRole)>,
        invited_by: Option<u32>,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<Invitation> {
        let email = crate::normalize_email(email)?;
        let id: u32 = self.conn().query_row(
            "INSERT INTO invitations (code_sha256, email, role, site_id, site_role, invited_by, created_at_ms, expires_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            params![
                &digest[..],
                email,
                role.code(),
                site.map(|(id, _)| id),
                site.map(|(_, role)| role.code()),
                invited_by,
                now_ms,
                expires_at_ms
            ],
            |row| row.get(0),
        )?;
        Ok(Invitation { id, email, role, site, invited_by, created_at_ms: now_ms, expires_at_ms })
    }

    /// The invitations neither used nor expired at `now_ms`, newest first.
    pub fn pending_invitations(&self, now_ms: i64) -> Result<Vec<Invitation>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, email, role, site_id, site_role, invited_by, created_at_ms, expires_at_ms
             FROM invitations WHERE expires_at_ms > ? ORDER BY created_at_ms DESC, id DESC",
        )?;
        let invitations =
            statement.query_map([now_ms], invitation_from_row)?.collect::<duckdb::Result<Vec<_>>>()?;
        Ok(invitations)
    }

    /// Withdraws an invitation, so that its link no longer works (and drops the expired
    /// ones on the way); `InvitationInvalid` when there is no such invitation.
    pub fn revoke_invitation(&self, id: u32, now_ms: i64) -> Result<Invitation> {
        let conn = self.conn();
        let invitation = conn
            .query_row(
                "SELECT id, email, role, site_id, site_role, invited_by, created_at_ms, expires_at_ms
                 FROM invitations WHERE id = ? AND expires_at_ms > ?",
                params![id, now_ms],
                invitation_from_row,
            )
            .optional()?
            .ok_or(Error::InvitationInvalid)?;
        conn.execute("DELETE FROM invitations WHERE id = ? OR expires_at_ms <= ?", params![id, now_ms])?;
        Ok(invitation)
    }

    /// The invitation with this code, whatever its expiry (the caller checks).
    pub fn invitation_by_digest(&self, digest: &[u8; 32]) -> Result<Option<Invitation>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, email, role, site_id, site_role, invited_by, created_at_ms, expires_at_ms
                 FROM invitations WHERE code_sha256 = ?",
                [&digest[..]],
                invitation_from_row,
            )
            .optional()?)
    }

    /// Accepts an invitation: creates the account (with its site role) and uses the
    /// invitation up, in one transaction.
    pub fn accept_invitation(
        &self,
        invitation: &Invitation,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<crate::User> {
        let conn = self.conn();
        let exists: Option<u32> = conn
            .query_row("SELECT id FROM users WHERE email = ?", [&invitation.email], |row| row.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(Error::UserExists);
        }
        let user_id = in_transaction(&conn, |conn| {
            let used = conn.execute("DELETE FROM invitations WHERE id = ?", [invitation.id])?;
            if used == 0 {
                return Ok(None);
            }
            let id: u32 = conn.query_row(
                "INSERT INTO users (email, name, password_hash, role, created_at_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
                params![invitation.email, name.trim(), password_hash, invitation.role.code(), now_ms],
                |row| row.get(0),
            )?;
            if let Some((site_id, role)) = invitation.site {
                conn.execute(
                    "INSERT INTO site_members (site_id, user_id, role, created_at_ms) VALUES (?, ?, ?, ?)",
                    params![site_id, id, role.code(), now_ms],
                )?;
            }
            Ok(Some(id))
        })?;
        drop(conn);
        self.user(user_id.ok_or(Error::InvitationInvalid)?)
    }
}

/// An invitation from `id, email, role, site_id, site_role, invited_by, created_at_ms,
/// expires_at_ms`.
fn invitation_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<Invitation> {
    let role: u8 = row.get(2)?;
    let site_id: Option<u32> = row.get(3)?;
    let site_role: Option<u8> = row.get(4)?;
    Ok(Invitation {
        id: row.get(0)?,
        email: row.get(1)?,
        role: InstanceRole::from_code(role).unwrap_or(InstanceRole::Member),
        site: site_id.zip(site_role.and_then(SiteRole::from_code)),
        invited_by: row.get(5)?,
        created_at_ms: row.get(6)?,
        expires_at_ms: row.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn sessions_are_found_by_digest_listed_and_ended() {
        let (_dir, store) = store();
        let user = store.add_user("a@example.com", "", None, InstanceRole::Owner, 0).unwrap();
        let first = store.add_session(&[1; 32], user.id, "password", "Firefox on Linux", 10, 100).unwrap();
        let second = store.add_session(&[2; 32], user.id, "password", "Safari on iOS", 20, 200).unwrap();
        assert_eq!(store.session_by_digest(&[1; 32]).unwrap(), Some(first.clone()));
        store.touch_session(first.id, 50).unwrap();
        assert_eq!(store.session_by_digest(&[1; 32]).unwrap().unwrap().last_seen_at_ms, 50);
        let listed: Vec<u64> = store.sessions_of(user.id).unwrap().iter().map(|s| s.id).collect();
        assert_eq!(listed, [second.id, first.id]);
        assert!(!store.remove_session(user.id + 1, first.id).unwrap());
        assert_eq!(store.remove_sessions_of(user.id, Some(second.id)).unwrap(), 1);
        assert!(store.session_by_digest(&[1; 32]).unwrap().is_none());
        assert_eq!(store.remove_expired_sessions(200, 0).unwrap(), 1);
        assert!(store.sessions_of(user.id).unwrap().is_empty());
    }

    #[test]
    fn the_setup_code_makes_one_owner_once() {
        let (_dir, store) = store();
        store.replace_setup_code(&[1; 32], 0).unwrap();
        store.replace_setup_code(&[2; 32], 1).unwrap();
        assert!(!store.setup_code_valid(&[1; 32]).unwrap());
        assert!(store.setup_code_valid(&[2; 32]).unwrap());
        assert!(matches!(
            store.complete_setup(&[1; 32], "o@example.com", "", "h", 2),
            Err(Error::SetupCodeInvalid)
        ));
        // Accounts made from the shell as members or admins leave the setup open.
        store.add_user("m@example.com", "", None, InstanceRole::Admin, 1).unwrap();
        assert_eq!(store.owner_count().unwrap(), 0);
        let owner = store.complete_setup(&[2; 32], "O@example.com", " Olga ", "h", 2).unwrap();
        assert_eq!(store.owner_count().unwrap(), 1);
        assert_eq!(
            (owner.email.as_str(), owner.name.as_str(), owner.role),
            ("o@example.com", "Olga", InstanceRole::Owner)
        );
        // Used up, and with an owner there no new code helps either.
        assert!(matches!(
            store.complete_setup(&[2; 32], "p@example.com", "", "h", 3),
            Err(Error::SetupCodeInvalid)
        ));
        store.replace_setup_code(&[3; 32], 4).unwrap();
        assert!(matches!(
            store.complete_setup(&[3; 32], "p@example.com", "", "h", 5),
            Err(Error::SetupCodeInvalid)
        ));
        assert_eq!(store.user_count().unwrap(), 2);
    }

    #[test]
    fn api_tokens_keep_their_scope_sites_and_use() {
        let (_dir, store) = store();
        let a = store.add_site("a.example", "UTC").unwrap();
        let b = store.add_site("b.example", "UTC").unwrap();
        let only = TokenSites::Only(vec![b.id, a.id]);
        let token =
            store.add_api_token("export", &[5; 32], None, TokenScope::Read, &only, 10, Some(99)).unwrap();
        assert_eq!(token.sites, TokenSites::Only(vec![a.id, b.id]));
        assert_eq!(
            (token.scope, token.expires_at_ms, token.last_used_at_ms),
            (TokenScope::Read, Some(99), None)
        );
        assert!(matches!(
            store.add_api_token("export", &[6; 32], None, TokenScope::Read, &only, 10, None),
            Err(Error::TokenExists(_))
        ));
        assert!(matches!(
            store.add_api_token("bad name", &[6; 32], None, TokenScope::Read, &only, 10, None),
            Err(Error::Invalid { .. })
        ));
        let all = store
            .add_api_token("ingest", &[7; 32], None, TokenScope::Write, &TokenSites::All, 11, None)
            .unwrap();
        assert_eq!(all.sites, TokenSites::All);
        store.touch_api_tokens(&[(token.id, 42)]).unwrap();
        assert_eq!(store.api_token_by_digest(&[5; 32]).unwrap().unwrap().last_used_at_ms, Some(42));
        let names: Vec<String> = store.api_tokens(None).unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["export", "ingest"]);
        store.remove_site("a.example").unwrap();
        assert_eq!(store.api_token_by_digest(&[5; 32]).unwrap().unwrap().sites, TokenSites::Only(vec![b.id]));
        assert_eq!(store.remove_api_token("export").unwrap().id, token.id);
        assert!(store.api_token_by_digest(&[5; 32]).unwrap().is_none());
        assert!(matches!(store.remove_api_token("export"), Err(Error::TokenNotFound(_))));
    }

    #[test]
    fn an_invitation_is_accepted_once() {
        let (_dir, store) = store();
        let site = store.add_site("example.com", "UTC").unwrap();
        let invitation = store
            .add_invitation(
                &[9; 32],
                "New@Example.com",
                InstanceRole::Member,
                Some((site.id, SiteRole::Viewer)),
                None,
                1,
                100,
            )
            .unwrap();
        let found = store.invitation_by_digest(&[9; 32]).unwrap().unwrap();
        assert_eq!(found, invitation);
        let user = store.accept_invitation(&found, "New", "h", 2).unwrap();
        assert_eq!(user.email, "new@example.com");
        assert_eq!(store.site_role(site.id, user.id).unwrap(), Some(SiteRole::Viewer));
        assert!(store.invitation_by_digest(&[9; 32]).unwrap().is_none());
    }

    #[test]
    fn pending_invitations_list_newest_first_and_a_revoked_one_is_gone() {
        let (_dir, store) = store();
        let add = |digest: u8, email: &str, at: i64, until: i64| {
            store.add_invitation(&[digest; 32], email, InstanceRole::Member, None, None, at, until).unwrap()
        };
        let old = add(1, "old@example.com", 1, 50);
        let first = add(2, "first@example.com", 10, 1_000);
        let second = add(3, "second@example.com", 20, 1_000);
        let pending = store.pending_invitations(100).unwrap();
        assert_eq!(pending, vec![second.clone(), first.clone()], "the expired one is not pending");
        assert_eq!(store.revoke_invitation(first.id, 100).unwrap(), first);
        assert!(store.invitation_by_digest(&[2; 32]).unwrap().is_none(), "its link no longer works");
        assert!(store.invitation_by_digest(&[1; 32]).unwrap().is_none(), "expired ones go on the way");
        assert!(matches!(store.revoke_invitation(first.id, 100), Err(Error::InvitationInvalid)));
        assert!(matches!(store.revoke_invitation(old.id, 100), Err(Error::InvitationInvalid)));
        assert_eq!(store.pending_invitations(100).unwrap(), vec![second]);
    }
}
