//! Funnels: 2 to 8 ordered steps of a site (each a page or a custom event, defined as goals
//! are), done in order within a visit or within a window of time. The report is in
//! [`crate::stats`].

use duckdb::{OptionalExt, params};
use serde::{Deserialize, Serialize};

use crate::{Error, GoalKind, Result, Store};

/// Fewest steps of a funnel.
pub const MIN_FUNNEL_STEPS: usize = 2;
/// Most steps of a funnel.
pub const MAX_FUNNEL_STEPS: usize = 8;
/// Most funnels of a site.
pub const MAX_FUNNELS: usize = 50;
/// The longest window (a visitor hash changes daily: a longer window could not be met).
pub const MAX_FUNNEL_WINDOW_MS: i64 = 24 * 3_600_000;

/// A funnel of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    /// Its id.
    pub id: u32,
    /// The site.
    pub site_id: u32,
    /// Its name, unique on the site.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<GoalKind>,
    /// `None`: within one visit; else within this many ms of the first step.
    pub window_ms: Option<i64>,
    /// When it was added, ms since the epoch.
    pub created_at_ms: i64,
}

fn validate(name: &str, steps: &[GoalKind], window_ms: Option<i64>) -> Result<()> {
    let invalid = |reason: String| Error::Invalid { field: "funnel", reason };
    if name.trim().is_empty()
        || name.chars().count() > crate::MAX_GOAL_NAME_LEN
        || name.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "a funnel's name has 1 to {} printable characters",
            crate::MAX_GOAL_NAME_LEN
        )));
    }
    if !(MIN_FUNNEL_STEPS..=MAX_FUNNEL_STEPS).contains(&steps.len()) {
        return Err(invalid(format!("a funnel has {MIN_FUNNEL_STEPS} to {MAX_FUNNEL_STEPS} steps")));
    }
    for step in steps {
        step.validate().map_err(|error| match error {
            Error::Invalid { reason, .. } => invalid(format!("a step: {reason}")),
            other => other,
        })?;
    }
    if window_ms.is_some_and(|window| !(1..=MAX_FUNNEL_WINDOW_MS).contains(&window)) {
        return Err(invalid("a funnel's window is 1 ms to 24 hours".into()));
    }
    Ok(())
}

const FUNNEL_COLUMNS: &str = "id, site_id, name, steps, window_ms, created_at_ms";

fn funnel_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<Funnel> {
    let steps: String = row.get(3)?;
    Ok(Funnel {
        id: row.get(0)?,
        site_id: row.get(1)?,
        name: row.get(2)?,
        steps: serde_json::from_str(&steps).unwrap_or_default(),
        window_ms: row.get(4)?,
        created_at_ms: row.get(5)?,
    })
}

impl Store {
    /// Adds a funnel to a site.
    pub fn add_funnel(
        &self,
        site_id: u32,
        name: &str,
        steps: &[GoalKind],
        window_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Funnel> {
        validate(name, steps, window_ms)?;
        let json = serde_json::to_string(steps)
            .map_err(|error| Error::Invalid { field: "funnel", reason: error.to_string() })?;
        let conn = self.conn();
        let count: usize =
            conn.query_row("SELECT count(*) FROM funnels WHERE site_id = ?", [site_id], |row| row.get(0))?;
        if count >= MAX_FUNNELS {
            return Err(Error::Invalid {
                field: "funnel",
                reason: format!("a site has at most {MAX_FUNNELS} funnels"),
            });
        }
        let exists: Option<u32> = conn
            .query_row(
                "SELECT id FROM funnels WHERE site_id = ? AND name = ?",
                params![site_id, name],
                |row| row.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(Error::FunnelExists(name.to_owned()));
        }
        Ok(conn.query_row(
            &format!(
                "INSERT INTO funnels (site_id, name, steps, window_ms, created_at_ms) VALUES (?, ?, ?, ?, ?)
                 RETURNING {FUNNEL_COLUMNS}"
            ),
            params![site_id, name, json, window_ms, now_ms],
            funnel_from_row,
        )?)
    }

    /// A site's funnels, by name.
    pub fn funnels(&self, site_id: u32) -> Result<Vec<Funnel>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare(&format!("SELECT {FUNNEL_COLUMNS} FROM funnels WHERE site_id = ? ORDER BY name"))?;
        let funnels = statement.query_map([site_id], funnel_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(funnels)
    }

    /// A site's funnel by its name.
    pub fn funnel(&self, site_id: u32, name: &str) -> Result<Funnel> {
        self.conn()
            .query_row(
                &format!("SELECT {FUNNEL_COLUMNS} FROM funnels WHERE site_id = ? AND name = ?"),
                params![site_id, name],
                funnel_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::FunnelNotFound(name.to_owned()))
    }

    /// Removes a site's funnel by its name.
    pub fn remove_funnel(&self, site_id: u32, name: &str) -> Result<()> {
        let removed = self
            .conn()
            .execute("DELETE FROM funnels WHERE site_id = ? AND name = ?", params![site_id, name])?;
        if removed == 0 {
            return Err(Error::FunnelNotFound(name.to_owned()));
        }
        Ok(())
    }
}
