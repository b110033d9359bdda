//! Edge tokens: the credentials of edges that reach the aggregator over HTTP instead of NATS
//! (a collector on Spin posting to `/api/edge/batch`).
//!
//! The store never sees a token, only its SHA-256 digest: tokens are 256 random bits made by
//! the caller, so a fast hash is as good as a password hash here, and a database leak reveals
//! nothing an attacker can present.

use duckdb::{OptionalExt, params};

use crate::{Error, Result, Store};

/// Longest token name.
pub const MAX_EDGE_TOKEN_NAME_LEN: usize = 64;

/// An edge token as listed: its name and when it was made, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeToken {
    /// Row id.
    pub id: u32,
    /// Operator-chosen name (`spin-eu`, `fastly-us`...), shown in logs and batch edges.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
}

/// Checks a token name: 1 to 64 characters of `[A-Za-z0-9._-]`.
pub fn validate_edge_token_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_EDGE_TOKEN_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "token_name",
            reason: format!(
                "`{name}` is not a token name (1 to {MAX_EDGE_TOKEN_NAME_LEN} letters, digits, `.`, `_` or `-`)"
            ),
        })
    }
}

const COLUMNS: &str = "id, name, epoch_ms(created_at)";

fn token_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<EdgeToken> {
    Ok(EdgeToken { id: row.get(0)?, name: row.get(1)?, created_at_ms: row.get(2)? })
}

impl Store {
    /// Records a new token by the SHA-256 digest of its secret.
    pub fn add_edge_token(&self, name: &str, sha256: &[u8; 32]) -> Result<EdgeToken> {
        validate_edge_token_name(name)?;
        let conn = self.conn();
        let exists: Option<u32> = conn
            .query_row("SELECT id FROM edge_tokens WHERE name = ?", [name], |row| row.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(Error::TokenExists(name.to_string()));
        }
        let token = conn.query_row(
            &format!(
                "INSERT INTO edge_tokens (name, token_sha256, created_at)
                 VALUES (?, ?, current_timestamp::TIMESTAMP) RETURNING {COLUMNS}"
            ),
            params![name, &sha256[..]],
            token_from_row,
        )?;
        tracing::info!(token = %token.name, "edge token added");
        Ok(token)
    }

    /// Every edge token, by name.
    pub fn edge_tokens(&self) -> Result<Vec<EdgeToken>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM edge_tokens ORDER BY name"))?;
        let tokens = statement.query_map([], token_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(tokens)
    }

    /// Every edge token with the SHA-256 digest of its secret, to check secrets against.
    pub fn edge_token_digests(&self) -> Result<Vec<([u8; 32], EdgeToken)>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!("SELECT token_sha256, {COLUMNS} FROM edge_tokens"))?;
        let rows = statement.query_map([], |row| {
            let digest: Vec<u8> = row.get(0)?;
            let token = EdgeToken { id: row.get(1)?, name: row.get(2)?, created_at_ms: row.get(3)? };
            Ok((digest, token))
        })?;
        let mut tokens = Vec::new();
        for row in rows {
            let (digest, token) = row?;
            // Written by `add_edge_token` only, always 32 bytes; a row that is not cannot match.
            if let Ok(digest) = <[u8; 32]>::try_from(digest.as_slice()) {
                tokens.push((digest, token));
            }
        }
        Ok(tokens)
    }

    /// Revokes a token.
    pub fn remove_edge_token(&self, name: &str) -> Result<EdgeToken> {
        let conn = self.conn();
        let token = conn
            .query_row(
                &format!("DELETE FROM edge_tokens WHERE name = ? RETURNING {COLUMNS}"),
                [name],
                token_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::TokenNotFound(name.to_string()))?;
        tracing::info!(token = %token.name, "edge token removed");
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_listed_with_their_digests_and_revoked_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let token = store.add_edge_token("spin-eu", &[7; 32]).unwrap();
        assert_eq!(token.name, "spin-eu");
        assert!(matches!(store.add_edge_token("spin-eu", &[8; 32]), Err(Error::TokenExists(_))));
        assert!(matches!(store.add_edge_token("bad name", &[9; 32]), Err(Error::Invalid { .. })));
        assert_eq!(store.edge_token_digests().unwrap(), vec![([7; 32], token.clone())]);
        assert_eq!(store.edge_tokens().unwrap(), std::slice::from_ref(&token));
        assert_eq!(store.remove_edge_token("spin-eu").unwrap(), token);
        assert!(store.edge_token_digests().unwrap().is_empty());
        assert!(matches!(store.remove_edge_token("spin-eu"), Err(Error::TokenNotFound(_))));
    }

    #[test]
    fn the_secret_itself_is_never_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        store.add_edge_token("a", &[0xAB; 32]).unwrap();
        let stored: Vec<u8> =
            store.conn().query_row("SELECT token_sha256 FROM edge_tokens", [], |row| row.get(0)).unwrap();
        assert_eq!(stored, vec![0xAB; 32]);
    }
}
