//! Goals: what a site counts as a conversion, a page (a path pattern) or a custom event (its
//! name, and property values it must have), each shown by its name.

use std::collections::BTreeMap;

use duckdb::{OptionalExt, params};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, Store};

/// Longest goal name.
pub const MAX_GOAL_NAME_LEN: usize = 120;
/// Longest page pattern.
pub const MAX_PAGE_PATTERN_LEN: usize = 2_000;
/// Most property conditions of an event goal.
pub const MAX_GOAL_PROPS: usize = 10;
/// Most goals of a site.
pub const MAX_GOALS: usize = 100;

/// What completes a goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GoalKind {
    /// A pageview of a path matching `pattern`: `*` stands for any characters but `/`, `**`
    /// for any characters (`/blog/*`, `/docs/**`, `/thank-you`).
    Page {
        /// The path pattern.
        pattern: String,
    },
    /// A custom event of this name with these property values.
    Event {
        /// The event's name (`event` in JSON, beside the goal's own `name`).
        #[serde(rename = "event")]
        name: String,
        /// Properties the event must have, with these values (all of them).
        #[serde(default)]
        props: BTreeMap<String, String>,
    },
}

/// A goal of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    /// Its id.
    pub id: u32,
    /// The site.
    pub site_id: u32,
    /// What it is shown as (`Signup`, `Visit /pricing`).
    pub name: String,
    /// What completes it.
    #[serde(flatten)]
    pub kind: GoalKind,
    /// When it was added, ms since the epoch.
    pub created_at_ms: i64,
}

impl GoalKind {
    /// The name Plausible would give it: the event's name, or `Visit <pattern>`.
    pub fn default_name(&self) -> String {
        match self {
            Self::Page { pattern } => format!("Visit {pattern}"),
            Self::Event { name, .. } => name.clone(),
        }
    }

    /// Checks the limits.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Error::Invalid { field: "goal", reason };
        match self {
            Self::Page { pattern } => {
                if !pattern.starts_with('/') || pattern.len() > MAX_PAGE_PATTERN_LEN {
                    return Err(invalid(format!(
                        "a page pattern starts with / and has at most {MAX_PAGE_PATTERN_LEN} characters"
                    )));
                }
            }
            Self::Event { name, props } => {
                if name.trim().is_empty()
                    || name.len() > MAX_GOAL_NAME_LEN
                    || name == "pageview"
                    || name == "engagement"
                {
                    return Err(invalid(format!(
                        "an event goal names a custom event of 1 to {MAX_GOAL_NAME_LEN} characters"
                    )));
                }
                if props.len() > MAX_GOAL_PROPS
                    || props
                        .iter()
                        .any(|(key, value)| key.is_empty() || key.len() > 300 || value.len() > 2_000)
                {
                    return Err(invalid(format!(
                        "an event goal has at most {MAX_GOAL_PROPS} property conditions, with keys of 1 to 300 characters"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The page pattern as an anchored regular expression (RE2 syntax).
    pub fn page_regex(pattern: &str) -> String {
        let mut regex = String::from("^");
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    regex.push_str(".*");
                }
                '*' => regex.push_str("[^/]*"),
                c if c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_' => regex.push(c),
                c => {
                    regex.push('\\');
                    regex.push(c);
                }
            }
        }
        regex.push('$');
        regex
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_GOAL_NAME_LEN
        || name.chars().any(char::is_control)
    {
        return Err(Error::Invalid {
            field: "goal",
            reason: format!("a goal's name has 1 to {MAX_GOAL_NAME_LEN} printable characters"),
        });
    }
    Ok(())
}

const GOAL_COLUMNS: &str = "id, site_id, name, kind, page_pattern, event_name, props, created_at_ms";

fn goal_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<Goal> {
    let kind: u8 = row.get(3)?;
    let kind = if kind == 0 {
        GoalKind::Page { pattern: row.get::<_, Option<String>>(4)?.unwrap_or_default() }
    } else {
        let props: String = row.get(6)?;
        let props: BTreeMap<String, String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&props)
                .unwrap_or_default()
                .into_iter()
                .map(|(key, value)| (key, value.as_str().unwrap_or_default().to_owned()))
                .collect();
        GoalKind::Event { name: row.get::<_, Option<String>>(5)?.unwrap_or_default(), props }
    };
    Ok(Goal { id: row.get(0)?, site_id: row.get(1)?, name: row.get(2)?, kind, created_at_ms: row.get(7)? })
}

impl Store {
    /// Adds a goal to a site; `name` defaults to [`GoalKind::default_name`].
    pub fn add_goal(&self, site_id: u32, name: Option<&str>, kind: &GoalKind, now_ms: i64) -> Result<Goal> {
        kind.validate()?;
        let name = name.map_or_else(|| kind.default_name(), str::to_owned);
        validate_name(&name)?;
        let (code, pattern, event, props) = match kind {
            GoalKind::Page { pattern } => (0u8, Some(pattern.as_str()), None, "{}".to_owned()),
            GoalKind::Event { name, props } => {
                let object: serde_json::Map<String, serde_json::Value> = props
                    .iter()
                    .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
                    .collect();
                (1u8, None, Some(name.as_str()), serde_json::Value::Object(object).to_string())
            }
        };
        let conn = self.conn();
        let count: usize =
            conn.query_row("SELECT count(*) FROM goals WHERE site_id = ?", [site_id], |row| row.get(0))?;
        if count >= MAX_GOALS {
            return Err(Error::Invalid {
                field: "goal",
                reason: format!("a site has at most {MAX_GOALS} goals"),
            });
        }
        let exists: Option<u32> = conn
            .query_row("SELECT id FROM goals WHERE site_id = ? AND name = ?", params![site_id, name], |row| {
                row.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(Error::GoalExists(name));
        }
        let goal = conn.query_row(
            &format!(
                "INSERT INTO goals (site_id, name, kind, page_pattern, event_name, props, created_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {GOAL_COLUMNS}"
            ),
            params![site_id, name, code, pattern, event, props, now_ms],
            goal_from_row,
        )?;
        Ok(goal)
    }

    /// A site's goals, by name.
    pub fn goals(&self, site_id: u32) -> Result<Vec<Goal>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare(&format!("SELECT {GOAL_COLUMNS} FROM goals WHERE site_id = ? ORDER BY name"))?;
        let goals = statement.query_map([site_id], goal_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(goals)
    }

    /// Removes a site's goal by its name.
    pub fn remove_goal(&self, site_id: u32, name: &str) -> Result<()> {
        let removed = self
            .conn()
            .execute("DELETE FROM goals WHERE site_id = ? AND name = ?", params![site_id, name])?;
        if removed == 0 {
            return Err(Error::GoalNotFound(name.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_are_added_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let site = store.add_site("example.com", "UTC").unwrap();
        let page = GoalKind::Page { pattern: "/thank-you".into() };
        let signup =
            GoalKind::Event { name: "Signup".into(), props: BTreeMap::from([("plan".into(), "pro".into())]) };
        assert_eq!(store.add_goal(site.id, None, &page, 1).unwrap().name, "Visit /thank-you");
        let added = store.add_goal(site.id, Some("Pro signup"), &signup, 2).unwrap();
        assert_eq!(added.kind, signup);
        assert!(matches!(store.add_goal(site.id, None, &page, 3), Err(Error::GoalExists(_))));
        let names: Vec<String> = store.goals(site.id).unwrap().into_iter().map(|goal| goal.name).collect();
        assert_eq!(names, ["Pro signup", "Visit /thank-you"]);
        store.remove_goal(site.id, "Pro signup").unwrap();
        assert!(matches!(store.remove_goal(site.id, "Pro signup"), Err(Error::GoalNotFound(_))));
        assert_eq!(store.goals(site.id).unwrap().len(), 1);
        let bad = GoalKind::Page { pattern: "no-slash".into() };
        assert!(matches!(store.add_goal(site.id, None, &bad, 4), Err(Error::Invalid { field: "goal", .. })));
        // Removing the site removes its goals.
        store.remove_site("example.com").unwrap();
        assert!(store.goals(site.id).unwrap().is_empty());
    }

    #[test]
    fn page_patterns_become_anchored_expressions() {
        assert_eq!(GoalKind::page_regex("/blog/*"), "^/blog/[^/]*$");
        assert_eq!(GoalKind::page_regex("/docs/**"), "^/docs/.*$");
        assert_eq!(GoalKind::page_regex("/a.b?c"), "^/a\\.b\\?c$");
        let regex = regex::Regex::new(&GoalKind::page_regex("/blog/*")).unwrap();
        assert!(regex.is_match("/blog/launch") && !regex.is_match("/blog/a/b") && !regex.is_match("/blogs"));
    }
}
