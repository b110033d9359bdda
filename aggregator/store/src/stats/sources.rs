//! Small lookups the dashboard's panels need beside the stats queries: the custom property
//! keys of a site's events ([`Store::property_keys`]), and the referrer host behind a source
//! name ([`Store::referrer_host`], for the sources panel's icons).

use std::fmt::Write as _;

use duckdb::ToSql;
use serde::{Deserialize, Serialize};

use super::sql::{Param, Source, Sql, filter_sql, range};
use super::{Deadline, QUERY_TIMEOUT, Query};
use crate::{Error, Result, Store};

/// Most property keys one listing returns.
pub const MAX_PROPERTY_KEYS: usize = 100;

/// A custom property key and how many events of the range carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyKey {
    /// The key.
    pub key: String,
    /// Events (not engagement reports) in the range, matching the filters, with the key.
    pub events: u64,
}

impl Store {
    /// The property keys of the site's events in `query`'s range that match its filters, most
    /// frequent first (ties by key), at most `limit` (capped at [`MAX_PROPERTY_KEYS`]).
    /// `query`'s metrics and dimensions are not used.
    pub fn property_keys(&self, query: &Query, limit: usize) -> Result<Vec<PropertyKey>> {
        query.validate()?;
        let query = self.with_goals(query)?;
        let query = query.as_ref();
        let mut sql = Sql::default();
        sql.push("SELECT p.key, count(*) AS n FROM event_props p WHERE p.site_id = ");
        sql.bind(Param::Int(i64::from(query.site_id))).push(" AND ");
        range(&mut sql, "p.ts", query.start_ms, query.end_ms);
        // Engagement reports carry the engine's own keys (`engagement_ms`, `scroll`).
        sql.push(" AND p.name <> ").bind(Param::Text("engagement".into()));
        if let Some(filter) = &query.filter {
            sql.push(" AND ").append(filter_sql(filter, Source::Props, query)?);
        }
        let _ = write!(sql.text, " GROUP BY p.key ORDER BY n DESC, p.key LIMIT ");
        sql.bind(Param::Int(limit.min(MAX_PROPERTY_KEYS) as i64));
        let conn = self.reader()?;
        let deadline = Deadline::start(&conn, QUERY_TIMEOUT);
        let outcome = (|| -> Result<Vec<PropertyKey>> {
            let mut statement = conn.prepare(&sql.text)?;
            let params: Vec<&dyn ToSql> = sql.params.iter().map(|param| param as &dyn ToSql).collect();
            let rows = statement.query_map(params.as_slice(), |row| {
                Ok(PropertyKey { key: row.get(0)?, events: row.get::<_, i64>(1)?.unsigned_abs() })
            })?;
            rows.collect::<std::result::Result<Vec<_>, _>>().map_err(Error::from)
        })();
        if deadline.finish() {
            return Err(Error::QueryTimeout(QUERY_TIMEOUT.as_secs()));
        }
        outcome
    }

    /// The referrer host seen for `source` on the site: `source` itself when visits came from
    /// that host, else the most frequent referrer host of the visits with that source name
    /// (`Google` -> `www.google.com`). `None` when no visit of the site came from it.
    /// Hosts come back lower case, without a port.
    pub fn referrer_host(&self, site_id: u32, source: &str) -> Result<Option<String>> {
        let lowered = source.trim().to_ascii_lowercase();
        let conn = self.reader()?;
        // `referrer` is `host[:port]/path`; visits' rows are summed by sign, so a visit counts once.
        let found = conn.query_row(
            "SELECT host FROM (
                 SELECT split_part(lower(split_part(v.referrer, '/', 1)), ':', 1) AS host,
                        sum(v.sign) AS n
                 FROM visits v
                 WHERE v.site_id = ? AND v.referrer IS NOT NULL
                   AND (v.source = ? OR split_part(lower(split_part(v.referrer, '/', 1)), ':', 1) = ?)
                 GROUP BY host HAVING sum(v.sign) > 0
             ) ORDER BY host = ? DESC, n DESC, host LIMIT 1",
            duckdb::params![site_id, source, lowered, lowered],
            |row| row.get::<_, String>(0),
        );
        match found {
            Ok(host) if !host.is_empty() => Ok(Some(host)),
            Ok(_) | Err(duckdb::Error::QueryReturnedNoRows) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}
