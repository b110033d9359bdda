//! Share links: a public, read-only view of one site, by a link secret (its digest here),
//! optionally behind a password (argon2id, checked by the caller) and an expiry.

use duckdb::{OptionalExt, params};

use crate::{Error, Result, Store, in_transaction};

/// Longest share link name.
pub const MAX_SHARE_NAME_LEN: usize = 64;

/// A share link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// Row id.
    pub id: u32,
    /// The site it shows.
    pub site_id: u32,
    /// Its name, unique per site ("newsletter", "board").
    pub name: String,
    /// The argon2id hash of its password, if it has one.
    pub password_hash: Option<String>,
    /// Whether other sites may frame it.
    pub embed: bool,
    /// Who made it (`None`: the command line).
    pub created_by: Option<u32>,
    /// Made at, ms since the epoch.
    pub created_at_ms: i64,
    /// Ends at, ms since the epoch.
    pub expires_at_ms: Option<i64>,
}

/// What a new share link is.
#[derive(Debug, Clone)]
pub struct NewShareLink<'a> {
    /// The site it shows.
    pub site_id: u32,
    /// Its name.
    pub name: &'a str,
    /// The digest of its secret.
    pub digest: &'a [u8; 32],
    /// The argon2id hash of its password.
    pub password_hash: Option<&'a str>,
    /// Whether other sites may frame it.
    pub embed: bool,
    /// Who makes it.
    pub created_by: Option<u32>,
    /// When it ends.
    pub expires_at_ms: Option<i64>,
}

const COLUMNS: &str = "id, site_id, name, password_hash, embed, created_by, created_at_ms, expires_at_ms";

fn from_row(row: &duckdb::Row<'_>) -> duckdb::Result<ShareLink> {
    Ok(ShareLink {
        id: row.get(0)?,
        site_id: row.get(1)?,
        name: row.get(2)?,
        password_hash: row.get(3)?,
        embed: row.get(4)?,
        created_by: row.get(5)?,
        created_at_ms: row.get(6)?,
        expires_at_ms: row.get(7)?,
    })
}

/// Checks a share link's name: 1 to [`MAX_SHARE_NAME_LEN`] letters, digits, `-`, `_`, `.`.
pub fn validate_share_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_SHARE_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "share_name",
            reason: format!("1 to {MAX_SHARE_NAME_LEN} letters, digits, '-', '_' or '.'"),
        })
    }
}

impl Store {
    /// Records a new share link.
    pub fn add_share_link(&self, link: &NewShareLink<'_>, now_ms: i64) -> Result<ShareLink> {
        validate_share_name(link.name)?;
        let conn = self.conn();
        let exists: Option<u32> = conn
            .query_row(
                "SELECT id FROM share_links WHERE site_id = ? AND name = ?",
                params![link.site_id, link.name],
                |row| row.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(Error::ShareLinkExists(link.name.to_owned()));
        }
        Ok(conn.query_row(
            &format!(
                "INSERT INTO share_links (site_id, name, token_sha256, password_hash, embed, created_by, created_at_ms, expires_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
            ),
            params![
                link.site_id,
                link.name,
                &link.digest[..],
                link.password_hash,
                link.embed,
                link.created_by,
                now_ms,
                link.expires_at_ms
            ],
            from_row,
        )?)
    }

    /// The share link whose secret has this digest, whatever its expiry.
    pub fn share_link_by_digest(&self, digest: &[u8; 32]) -> Result<Option<ShareLink>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM share_links WHERE token_sha256 = ?"),
                [&digest[..]],
                from_row,
            )
            .optional()?)
    }

    /// A site's share links, by name.
    pub fn share_links(&self, site_id: u32) -> Result<Vec<ShareLink>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare(&format!("SELECT {COLUMNS} FROM share_links WHERE site_id = ? ORDER BY name"))?;
        let links = statement.query_map([site_id], from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(links)
    }

    /// Revokes a share link with the browsers it was unlocked in.
    pub fn remove_share_link(&self, site_id: u32, name: &str) -> Result<ShareLink> {
        let conn = self.conn();
        let link = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM share_links WHERE site_id = ? AND name = ?"),
                params![site_id, name],
                from_row,
            )
            .optional()?
            .ok_or_else(|| Error::ShareLinkNotFound(name.to_owned()))?;
        in_transaction(&conn, |conn| {
            conn.execute("DELETE FROM share_sessions WHERE link_id = ?", [link.id])?;
            conn.execute("DELETE FROM share_links WHERE id = ?", [link.id])?;
            Ok(())
        })?;
        Ok(link)
    }

    /// Records that a password-protected link was unlocked, by the unlocked secret's digest.
    pub fn add_share_session(&self, digest: &[u8; 32], link_id: u32, expires_at_ms: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO share_sessions (token_sha256, link_id, expires_at_ms) VALUES (?, ?, ?)",
            params![&digest[..], link_id, expires_at_ms],
        )?;
        Ok(())
    }

    /// The link an unlocked secret opens, and when that unlocking ends.
    pub fn share_session(&self, digest: &[u8; 32]) -> Result<Option<(ShareLink, i64)>> {
        let conn = self.conn();
        let found: Option<(u32, i64)> = conn
            .query_row(
                "SELECT link_id, expires_at_ms FROM share_sessions WHERE token_sha256 = ?",
                [&digest[..]],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((link_id, expires_at_ms)) = found else { return Ok(None) };
        let link = conn
            .query_row(&format!("SELECT {COLUMNS} FROM share_links WHERE id = ?"), [link_id], from_row)
            .optional()?;
        Ok(link.map(|link| (link, expires_at_ms)))
    }

    /// Deletes unlockings that ended before `now_ms`.
    pub fn remove_expired_share_sessions(&self, now_ms: i64) -> Result<usize> {
        Ok(self.conn().execute("DELETE FROM share_sessions WHERE expires_at_ms <= ?", [now_ms])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_links_are_named_per_site_and_revoked_with_their_unlockings() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let site = store.add_site("example.com", "UTC").unwrap();
        let link = NewShareLink {
            site_id: site.id,
            name: "board",
            digest: &[1; 32],
            password_hash: Some("$argon2id$..."),
            embed: false,
            created_by: None,
            expires_at_ms: Some(5_000),
        };
        let made = store.add_share_link(&link, 10).unwrap();
        assert!(matches!(store.add_share_link(&link, 11), Err(Error::ShareLinkExists(_))));
        assert!(matches!(
            store.add_share_link(&NewShareLink { name: "no spaces", ..link.clone() }, 11),
            Err(Error::Invalid { field: "share_name", .. })
        ));
        assert_eq!(store.share_link_by_digest(&[1; 32]).unwrap(), Some(made.clone()));
        store.add_share_session(&[2; 32], made.id, 900).unwrap();
        assert_eq!(store.share_session(&[2; 32]).unwrap(), Some((made.clone(), 900)));
        assert_eq!(store.share_links(site.id).unwrap().len(), 1);
        store.remove_share_link(site.id, "board").unwrap();
        assert_eq!(store.share_session(&[2; 32]).unwrap(), None);
        assert!(matches!(store.remove_share_link(site.id, "board"), Err(Error::ShareLinkNotFound(_))));
        store.add_share_link(&link, 12).unwrap();
        store.remove_site("example.com").unwrap();
        assert_eq!(store.share_link_by_digest(&[1; 32]).unwrap(), None);
    }
}
