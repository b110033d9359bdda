//! People: accounts, their instance role, and their roles on sites.
//!
//! An account is known by its e-mail address (lower-cased, unique). Its password is kept as
//! the argon2id PHC string the server computed; this module never sees a password. Removing
//! an account removes everything that lets it act: sessions, API tokens, site roles.

use duckdb::{OptionalExt, params};

use crate::{Error, Result, Store, in_transaction};

/// Longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest display name.
pub const MAX_NAME_LEN: usize = 100;

/// What a person may do on the whole instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceRole {
    /// Sees the sites they are a member of.
    Member = 1,
    /// Every site, and people (but cannot make or remove owners).
    Admin = 2,
    /// Everything.
    Owner = 3,
}

/// What a person may do on one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SiteRole {
    /// Reads the site's dashboard and API.
    Viewer = 1,
    /// Also changes its settings (rules, goals, share links).
    Admin = 2,
    /// Also manages its members and may remove it.
    Owner = 3,
}

macro_rules! role_codes {
    ($role:ty, $name:literal, [$($variant:ident => $text:literal),+]) => {
        impl $role {
            /// The code stored in the database.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// The role of a stored code.
            pub fn from_code(code: u8) -> Option<Self> {
                [$(Self::$variant),+].into_iter().find(|role| role.code() == code)
            }

            /// The name the API and the command line use.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $role {
            type Err = Error;

            fn from_str(text: &str) -> Result<Self> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(Error::Invalid {
                        field: $name,
                        reason: format!("`{text}` is not one of {}", [$($text),+].join(", ")),
                    }),
                }
            }
        }
    };
}

role_codes!(InstanceRole, "role", [Member => "member", Admin => "admin", Owner => "owner"]);
role_codes!(SiteRole, "site_role", [Viewer => "viewer", Admin => "admin", Owner => "owner"]);

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: u32,
    /// E-mail address, lower case.
    pub email: String,
    /// Display name (may be empty).
    pub name: String,
    /// Instance role.
    pub role: InstanceRole,
    /// Whether the account has a password (else it signs in another way).
    pub has_password: bool,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
}

/// A person's role on a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The site's id.
    pub site_id: u32,
    /// The site's domain.
    pub domain: String,
    /// The person.
    pub user_id: u32,
    /// Their e-mail address.
    pub email: String,
    /// Their role there.
    pub role: SiteRole,
}

/// Lower-cases and checks an e-mail address: one `@`, something on each side, no spaces or
/// control characters, at most [`MAX_EMAIL_LEN`] bytes. Deliverability is not checked.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_LEN
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && email.rsplit('@').next().is_some_and(|domain| domain.contains('.') || domain == "localhost")
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(Error::Invalid { field: "email", reason: "not an e-mail address".into() })
    }
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(Error::Invalid {
            field: "name",
            reason: format!("at most {MAX_NAME_LEN} characters, no control characters"),
        });
    }
    Ok(name.to_owned())
}

const USER_COLUMNS: &str = "id, email, name, role, password_hash IS NOT NULL, created_at_ms";

fn user_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<User> {
    let code: u8 = row.get(3)?;
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        role: InstanceRole::from_code(code).unwrap_or(InstanceRole::Member),
        has_password: row.get(4)?,
        created_at_ms: row.get(5)?,
    })
}

impl Store {
    /// Creates an account. `password_hash` is the argon2id PHC string (none: no password).
    pub fn add_user(
        &self,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        role: InstanceRole,
        now_ms: i64,
    ) -> Result<User> {
        let email = normalize_email(email)?;
        let name = check_name(name)?;
        let conn = self.conn();
        let exists: Option<u32> =
            conn.query_row("SELECT id FROM users WHERE email = ?", [&email], |row| row.get(0)).optional()?;
        if exists.is_some() {
            return Err(Error::UserExists);
        }
        let user = conn.query_row(
            &format!(
                "INSERT INTO users (email, name, password_hash, role, created_at_ms)
                 VALUES (?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}"
            ),
            params![email, name, password_hash, role.code(), now_ms],
            user_from_row,
        )?;
        tracing::info!(user_id = user.id, role = role.as_str(), "account created");
        Ok(user)
    }

    /// How many accounts there are (0 before the first-run setup).
    pub fn user_count(&self) -> Result<u64> {
        Ok(self.conn().query_row("SELECT count(*) FROM users", [], |row| row.get(0))?)
    }

    /// How many accounts own the instance. None: the first-run setup is still open (even
    /// when `hitkeep user create` already made members or admins).
    pub fn owner_count(&self) -> Result<u64> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM users WHERE role = ?",
            [InstanceRole::Owner.code()],
            |row| row.get(0),
        )?)
    }

    /// Every account, by e-mail address.
    pub fn users(&self) -> Result<Vec<User>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))?;
        let users = statement.query_map([], user_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(users)
    }

    /// The account with this id.
    pub fn user(&self, id: u32) -> Result<User> {
        self.conn()
            .query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"), [id], user_from_row)
            .optional()?
            .ok_or(Error::UserNotFound)
    }

    /// The account with this e-mail address and its password hash, for signing in.
    pub fn user_for_sign_in(&self, email: &str) -> Result<Option<(User, Option<String>)>> {
        let Ok(email) = normalize_email(email) else { return Ok(None) };
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?"),
                [email],
                |row| Ok((user_from_row(row)?, row.get(6)?)),
            )
            .optional()?)
    }

    /// The account with this e-mail address.
    pub fn user_by_email(&self, email: &str) -> Result<User> {
        Ok(self.user_for_sign_in(email)?.ok_or(Error::UserNotFound)?.0)
    }

    /// The password hash of an account, for checking the current password.
    pub fn password_hash(&self, user_id: u32) -> Result<Option<String>> {
        self.conn()
            .query_row("SELECT password_hash FROM users WHERE id = ?", [user_id], |row| row.get(0))
            .optional()?
            .ok_or(Error::UserNotFound)
    }

    /// Replaces an account's password hash.
    pub fn set_password_hash(&self, user_id: u32, password_hash: &str) -> Result<()> {
        let changed = self
            .conn()
            .execute("UPDATE users SET password_hash = ? WHERE id = ?", params![password_hash, user_id])?;
        if changed == 0 {
            return Err(Error::UserNotFound);
        }
        Ok(())
    }

    /// Changes the name an account is shown by (empty: none); the e-mail address stays.
    pub fn set_user_name(&self, user_id: u32, name: &str) -> Result<User> {
        let name = check_name(name)?;
        let changed =
            self.conn().execute("UPDATE users SET name = ? WHERE id = ?", params![name, user_id])?;
        if changed == 0 {
            return Err(Error::UserNotFound);
        }
        self.user(user_id)
    }

    /// Changes an account's instance role. The last owner cannot stop being one.
    pub fn set_user_role(&self, user_id: u32, role: InstanceRole) -> Result<User> {
        let user = self.user(user_id)?;
        if user.role == InstanceRole::Owner && role != InstanceRole::Owner && self.owner_count()? <= 1 {
            return Err(Error::LastOwner);
        }
        self.conn().execute("UPDATE users SET role = ? WHERE id = ?", params![role.code(), user_id])?;
        self.user(user_id)
    }

    /// Removes an account with its sessions, API tokens, second factors and site roles, in one
    /// transaction.
    /// The last owner cannot be removed.
    pub fn remove_user(&self, user_id: u32) -> Result<User> {
        let user = self.user(user_id)?;
        if user.role == InstanceRole::Owner && self.owner_count()? <= 1 {
            return Err(Error::LastOwner);
        }
        in_transaction(&self.conn(), |conn| {
            conn.execute(
                "DELETE FROM api_token_sites WHERE token_id IN (SELECT id FROM api_tokens WHERE user_id = ?)",
                [user_id],
            )?;
            conn.execute("DELETE FROM api_tokens WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM sign_in_challenges WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM totp_factors WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM recovery_codes WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM password_resets WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM passkeys WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM webauthn_handles WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM oidc_identities WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM site_members WHERE user_id = ?", [user_id])?;
            conn.execute("DELETE FROM users WHERE id = ?", [user_id])?;
            Ok(())
        })?;
        tracing::info!(user_id, "account removed");
        Ok(user)
    }

    /// Gives a person a role on a site (replacing the one they had).
    pub fn set_site_member(&self, site_id: u32, user_id: u32, role: SiteRole, now_ms: i64) -> Result<()> {
        self.user(user_id)?;
        let conn = self.conn();
        let updated = conn.execute(
            "UPDATE site_members SET role = ? WHERE site_id = ? AND user_id = ?",
            params![role.code(), site_id, user_id],
        )?;
        if updated == 0 {
            conn.execute(
                "INSERT INTO site_members (site_id, user_id, role, created_at_ms) VALUES (?, ?, ?, ?)",
                params![site_id, user_id, role.code(), now_ms],
            )?;
        }
        Ok(())
    }

    /// Takes a person's role on a site away, with their API tokens' access to it.
    pub fn remove_site_member(&self, site_id: u32, user_id: u32) -> Result<()> {
        let removed = in_transaction(&self.conn(), |conn| {
            let removed = conn
                .execute("DELETE FROM site_members WHERE site_id = ? AND user_id = ?", [site_id, user_id])?;
            conn.execute(
                "DELETE FROM api_token_sites WHERE site_id = ?
                 AND token_id IN (SELECT id FROM api_tokens WHERE user_id = ?)",
                [site_id, user_id],
            )?;
            Ok(removed)
        })?;
        if removed == 0 {
            return Err(Error::NotAMember);
        }
        Ok(())
    }

    /// The members of a site, by e-mail address.
    pub fn site_members(&self, site_id: u32) -> Result<Vec<Membership>> {
        self.memberships("m.site_id = ?", site_id)
    }

    /// The sites a person is a member of, by domain.
    pub fn memberships_of(&self, user_id: u32) -> Result<Vec<Membership>> {
        self.memberships("m.user_id = ?", user_id)
    }

    fn memberships(&self, filter: &'static str, id: u32) -> Result<Vec<Membership>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT m.site_id, s.domain, m.user_id, u.email, m.role
             FROM site_members m JOIN sites s ON s.id = m.site_id JOIN users u ON u.id = m.user_id
             WHERE {filter} ORDER BY s.domain, u.email"
        ))?;
        let members = statement
            .query_map([id], |row| {
                let code: u8 = row.get(4)?;
                Ok(Membership {
                    site_id: row.get(0)?,
                    domain: row.get(1)?,
                    user_id: row.get(2)?,
                    email: row.get(3)?,
                    role: SiteRole::from_code(code).unwrap_or(SiteRole::Viewer),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(members)
    }

    /// A person's role on one site, if any.
    pub fn site_role(&self, site_id: u32, user_id: u32) -> Result<Option<SiteRole>> {
        let code: Option<u8> = self
            .conn()
            .query_row(
                "SELECT role FROM site_members WHERE site_id = ? AND user_id = ?",
                [site_id, user_id],
                |row| row.get(0),
            )
            .optional()?;
        Ok(code.and_then(SiteRole::from_code))
    }
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
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        assert_eq!(normalize_email("demo@localhost").unwrap(), "demo@localhost");
        for bad in ["", "ada", "@example.com", "ada@", "a@b@c.com", "ada @example.com", "ada@example"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn roles_round_trip_through_codes_and_names() {
        for role in [InstanceRole::Member, InstanceRole::Admin, InstanceRole::Owner] {
            assert_eq!(InstanceRole::from_code(role.code()), Some(role));
            assert_eq!(role.as_str().parse::<InstanceRole>().unwrap(), role);
        }
        for role in [SiteRole::Viewer, SiteRole::Admin, SiteRole::Owner] {
            assert_eq!(SiteRole::from_code(role.code()), Some(role));
            assert_eq!(role.as_str().parse::<SiteRole>().unwrap(), role);
        }
        assert!("root".parse::<InstanceRole>().is_err());
        assert!(SiteRole::Viewer < SiteRole::Admin && InstanceRole::Admin < InstanceRole::Owner);
    }

    #[test]
    fn accounts_are_unique_by_email_and_the_last_owner_stays() {
        let (_dir, store) = store();
        let owner = store
            .add_user("Owner@example.com", "Owner", Some("$argon2id$x"), InstanceRole::Owner, 1)
            .unwrap();
        assert!(owner.has_password);
        assert!(matches!(
            store.add_user("owner@EXAMPLE.com", "", None, InstanceRole::Member, 2),
            Err(Error::UserExists)
        ));
        assert_eq!(store.user_count().unwrap(), 1);
        assert!(matches!(store.remove_user(owner.id), Err(Error::LastOwner)));
        assert!(matches!(store.set_user_role(owner.id, InstanceRole::Admin), Err(Error::LastOwner)));
        let (found, hash) = store.user_for_sign_in("OWNER@example.com").unwrap().unwrap();
        assert_eq!((found, hash.as_deref()), (owner.clone(), Some("$argon2id$x")));
        assert!(store.user_for_sign_in("nobody@example.com").unwrap().is_none());
        assert!(store.user_for_sign_in("not an address").unwrap().is_none());

        let second = store.add_user("second@example.com", "", None, InstanceRole::Member, 3).unwrap();
        assert!(!second.has_password);
        store.set_user_role(second.id, InstanceRole::Owner).unwrap();
        assert_eq!(store.remove_user(owner.id).unwrap(), owner);
        assert!(matches!(store.user(owner.id), Err(Error::UserNotFound)));
    }

    #[test]
    fn removing_a_person_removes_their_sessions_tokens_and_roles() {
        let (_dir, store) = store();
        store.add_user("keep@example.com", "", None, InstanceRole::Owner, 1).unwrap();
        let user = store.add_user("gone@example.com", "", None, InstanceRole::Member, 1).unwrap();
        let site = store.add_site("example.com", "UTC").unwrap();
        store.set_site_member(site.id, user.id, SiteRole::Viewer, 1).unwrap();
        store.set_site_member(site.id, user.id, SiteRole::Admin, 2).unwrap();
        assert_eq!(store.site_role(site.id, user.id).unwrap(), Some(SiteRole::Admin));
        assert_eq!(store.memberships_of(user.id).unwrap().len(), 1);
        store.add_session(&[1; 32], user.id, "password", "Firefox on Linux", 10, 1_000).unwrap();
        let scope = crate::TokenSites::Only(vec![site.id]);
        store
            .add_api_token("ci", &[2; 32], Some(user.id), crate::TokenScope::Read, &scope, 10, None)
            .unwrap();

        store.remove_user(user.id).unwrap();
        assert!(store.session_by_digest(&[1; 32]).unwrap().is_none());
        assert!(store.api_token_by_digest(&[2; 32]).unwrap().is_none());
        assert!(store.site_members(site.id).unwrap().is_empty());
        let rows: u32 =
            store.conn().query_row("SELECT count(*) FROM api_token_sites", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0);
    }

    #[test]
    fn removing_a_member_takes_their_tokens_access_to_the_site() {
        let (_dir, store) = store();
        let user = store.add_user("m@example.com", "", None, InstanceRole::Member, 1).unwrap();
        let site = store.add_site("example.com", "UTC").unwrap();
        assert!(matches!(store.remove_site_member(site.id, user.id), Err(Error::NotAMember)));
        store.set_site_member(site.id, user.id, SiteRole::Viewer, 1).unwrap();
        let scope = crate::TokenSites::Only(vec![site.id]);
        let token = store
            .add_api_token("t", &[3; 32], Some(user.id), crate::TokenScope::Read, &scope, 1, None)
            .unwrap();
        store.remove_site_member(site.id, user.id).unwrap();
        // The person's token no longer names the site they left.
        let after = store.api_token_by_digest(&[3; 32]).unwrap().unwrap();
        assert_eq!((after.id, after.sites), (token.id, crate::TokenSites::Only(Vec::new())));
        assert_eq!(store.site_role(site.id, user.id).unwrap(), None);
    }
}
