//! The ingest side of the store: appending hits, batch-id deduplication, dead letters, and
//! the session state the pipeline rebuilds after a restart.

use std::collections::HashSet;

use duckdb::types::{TimeUnit, ToSqlOutput, Value};
use duckdb::{Connection, ToSql, params};
use hitkeep_protocol::Hit;

use crate::Result;

/// One hit, sessionized and ready to store.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// The anonymized hit.
    pub hit: &'a Hit,
    /// The site it belongs to.
    pub site_id: u32,
    /// The visitor of its session (the hash the session started with).
    pub visitor_id: u64,
    /// The session it belongs to.
    pub session_id: u64,
}

/// A hit of a batch that breaks the contract, kept for an operator to inspect.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Batch id, when the payload had a readable one.
    pub batch_id: Option<String>,
    /// Sending edge, when known.
    pub edge: Option<String>,
    /// Machine-readable reason (`malformed`, `invalid_hit`, `unknown_site`...).
    pub reason: String,
    /// Human-readable detail.
    pub detail: String,
    /// The offending bytes (already anonymized by the edge), truncated to 64 KiB.
    pub payload: Vec<u8>,
}

/// Everything one batch writes, committed together with its id.
#[derive(Debug)]
pub struct BatchWrite<'a> {
    /// The batch id; a later batch with the same id is a duplicate.
    pub id: &'a str,
    /// The edge that sent it.
    pub edge: &'a str,
    /// Its good hits.
    pub events: Vec<NewEvent<'a>>,
    /// Its bad hits.
    pub dead_letters: Vec<DeadLetter>,
}

/// A session that may still be open, as found in stored events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSeed {
    /// Site.
    pub site_id: u32,
    /// Visitor hash the session is stored under.
    pub visitor_id: u64,
    /// Session id.
    pub session_id: u64,
    /// Time of its last event, ms since the epoch.
    pub last_ts_ms: i64,
}

/// Row counts of the ingest tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Rows in `events`.
    pub events: u64,
    /// Rows in `event_props`.
    pub props: u64,
    /// Batch ids remembered for deduplication.
    pub batches: u64,
    /// Rows in `dead_letters`.
    pub dead_letters: u64,
}

const MAX_DEAD_LETTER_PAYLOAD: usize = 64 * 1024;

/// A timestamp parameter in milliseconds since the epoch.
struct Millis(i64);

impl ToSql for Millis {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Owned(Value::Timestamp(TimeUnit::Millisecond, self.0)))
    }
}

/// The ingest pipeline's handle on the database: its own connection, used by one task.
pub struct EventWriter {
    conn: Connection,
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter").finish_non_exhaustive()
    }
}

impl EventWriter {
    pub(crate) fn new(conn: Connection) -> Self {
        Self { conn }
    }

    /// The ids among `ids` that were committed before.
    pub fn known_batches<'i>(&self, ids: impl IntoIterator<Item = &'i str>) -> Result<HashSet<String>> {
        let mut statement =
            self.conn.prepare_cached("SELECT count(*) FROM ingested_batches WHERE batch_id = ?")?;
        let mut known = HashSet::new();
        for id in ids {
            let count: u64 = statement.query_row([id], |row| row.get(0))?;
            if count > 0 {
                known.insert(id.to_string());
            }
        }
        Ok(known)
    }

    /// Writes the batches (rows, properties, dead letters and batch ids) in one transaction.
    /// Either all of it is durable when this returns `Ok`, or none of it is.
    pub fn commit(&mut self, batches: &[BatchWrite<'_>], received_at_ms: i64) -> Result<()> {
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        match self.write_all(batches, received_at_ms) {
            Ok(()) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(())
            }
            Err(error) => {
                if let Err(rollback) = self.conn.execute_batch("ROLLBACK") {
                    tracing::error!(error = %rollback, "rollback failed");
                }
                Err(error)
            }
        }
    }

    fn write_all(&self, batches: &[BatchWrite<'_>], received_at_ms: i64) -> Result<()> {
        let mut events = self.conn.appender("events")?;
        let mut props = self.conn.appender("event_props")?;
        for batch in batches {
            for event in &batch.events {
                append_event(&mut events, event)?;
                for (key, value) in &event.hit.props {
                    props.append_row(params![
                        event.site_id,
                        Millis(event.hit.ts),
                        event.visitor_id,
                        event.session_id,
                        event.hit.name,
                        key,
                        value,
                    ])?;
                }
            }
        }
        events.flush()?;
        props.flush()?;
        drop(events);
        drop(props);

        let mut remember = self.conn.prepare_cached(
            "INSERT INTO ingested_batches (batch_id, edge, received_at, hits) VALUES (?, ?, ?, ?)",
        )?;
        for batch in batches {
            remember.execute(params![
                batch.id,
                batch.edge,
                Millis(received_at_ms),
                batch.events.len() as u32
            ])?;
            for letter in &batch.dead_letters {
                insert_dead_letter(&self.conn, letter, received_at_ms)?;
            }
        }
        Ok(())
    }

    /// Stores a batch that can never be written, and remembers its id (when it has one) so
    /// that a resent copy is answered as a duplicate.
    pub fn reject(&mut self, letter: &DeadLetter, received_at_ms: i64) -> Result<()> {
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        let written = (|| -> Result<()> {
            insert_dead_letter(&self.conn, letter, received_at_ms)?;
            if let Some(id) = &letter.batch_id {
                self.conn.execute(
                    "INSERT INTO ingested_batches (batch_id, edge, received_at, hits) VALUES (?, ?, ?, 0)
                     ON CONFLICT DO NOTHING",
                    params![id, letter.edge.as_deref().unwrap_or(""), Millis(received_at_ms)],
                )?;
            }
            Ok(())
        })();
        match written {
            Ok(()) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(())
            }
            Err(error) => {
                self.conn.execute_batch("ROLLBACK")?;
                Err(error)
            }
        }
    }

    /// Sessions with an event at or after `since_ms`: the state a restarted pipeline needs.
    pub fn recent_sessions(&self, since_ms: i64) -> Result<Vec<SessionSeed>> {
        let mut statement = self.conn.prepare(
            "SELECT site_id, visitor_id, session_id, epoch_ms(max(ts))
             FROM events WHERE ts >= ? GROUP BY site_id, visitor_id, session_id",
        )?;
        let seeds = statement
            .query_map([Millis(since_ms)], |row| {
                Ok(SessionSeed {
                    site_id: row.get(0)?,
                    visitor_id: row.get(1)?,
                    session_id: row.get(2)?,
                    last_ts_ms: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(seeds)
    }

    /// The highest session id in use (0 when there is none).
    pub fn max_session_id(&self) -> Result<u64> {
        let max: Option<u64> =
            self.conn.query_row("SELECT max(session_id) FROM events", [], |row| row.get(0))?;
        Ok(max.unwrap_or(0))
    }

    /// Forgets batch ids received before `before_ms`; returns how many.
    pub fn prune_batch_ids(&self, before_ms: i64) -> Result<usize> {
        Ok(self.conn.execute("DELETE FROM ingested_batches WHERE received_at < ?", [Millis(before_ms)])?)
    }

    /// Writes the write-ahead log into the database file.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.execute_batch("CHECKPOINT")?;
        Ok(())
    }
}

fn append_event(appender: &mut duckdb::Appender<'_>, event: &NewEvent<'_>) -> Result<()> {
    let hit = event.hit;
    let (revenue_micros, revenue_currency) = match &hit.revenue {
        Some(revenue) => (Some(revenue.amount_micros), Some(revenue.currency.as_str())),
        None => (None, None),
    };
    // The order is the column order of `events` in the schema.
    appender.append_row(params![
        event.site_id,
        Millis(hit.ts),
        event.visitor_id,
        event.session_id,
        hit.kind.code(),
        hit.name,
        hit.hostname,
        hit.path,
        hit.referrer,
        hit.source,
        hit.channel.code(),
        hit.utm.source,
        hit.utm.medium,
        hit.utm.campaign,
        hit.utm.content,
        hit.utm.term,
        hit.country,
        hit.region,
        hit.city,
        hit.browser,
        hit.browser_version,
        hit.os,
        hit.os_version,
        hit.device.code(),
        revenue_micros,
        revenue_currency,
        hit.interactive,
    ])?;
    Ok(())
}

fn insert_dead_letter(conn: &Connection, letter: &DeadLetter, received_at_ms: i64) -> Result<()> {
    let payload = &letter.payload[..letter.payload.len().min(MAX_DEAD_LETTER_PAYLOAD)];
    conn.prepare_cached(
        "INSERT INTO dead_letters (received_at, batch_id, edge, reason, detail, payload) VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![Millis(received_at_ms), letter.batch_id, letter.edge, letter.reason, letter.detail, payload])?;
    Ok(())
}

pub(crate) fn counts(conn: &Connection) -> Result<StoreCounts> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_props),
                (SELECT count(*) FROM ingested_batches), (SELECT count(*) FROM dead_letters)",
        [],
        |row| {
            Ok(StoreCounts {
                events: row.get(0)?,
                props: row.get(1)?,
                batches: row.get(2)?,
                dead_letters: row.get(3)?,
            })
        },
    )?)
}

#[cfg(test)]
mod tests {
    use hitkeep_protocol::{Channel, Device, EventKind, Revenue, Utm};

    use super::*;
    use crate::Store;

    fn hit(ts: i64) -> Hit {
        Hit {
            ts,
            domain: "example.com".into(),
            kind: EventKind::Custom,
            name: "Purchase".into(),
            visitor: 7,
            visitor_prev: 8,
            hostname: "example.com".into(),
            path: "/checkout".into(),
            referrer: Some("news.ycombinator.com/item".into()),
            source: Some("Hacker News".into()),
            channel: Channel::Referral,
            utm: Utm { campaign: Some("launch".into()), ..Utm::default() },
            country: Some("DE".into()),
            region: Some("DE-BE".into()),
            city: Some("Berlin".into()),
            browser: Some("Firefox".into()),
            browser_version: Some("131".into()),
            os: Some("Linux".into()),
            os_version: None,
            device: Device::Desktop,
            props: vec![("plan".into(), "pro".into()), ("seats".into(), "3".into())],
            revenue: Some(Revenue { amount_micros: 49_000_000, currency: "EUR".into() }),
            interactive: true,
        }
    }

    const T0: i64 = 1_767_225_600_000;

    #[test]
    fn commits_rows_props_and_batch_ids_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let mut writer = store.event_writer().unwrap();
        let hits = [hit(T0), hit(T0 + 1000)];
        let events =
            hits.iter().map(|hit| NewEvent { hit, site_id: 1, visitor_id: 7, session_id: 42 }).collect();
        let letter = DeadLetter {
            batch_id: Some("b-1".into()),
            edge: Some("e".into()),
            reason: "invalid_hit".into(),
            detail: "path".into(),
            payload: b"{}".to_vec(),
        };
        writer
            .commit(&[BatchWrite { id: "b-1", edge: "e", events, dead_letters: vec![letter] }], T0)
            .unwrap();
        assert_eq!(store.counts().unwrap(), StoreCounts { events: 2, props: 4, batches: 1, dead_letters: 1 });
        assert_eq!(writer.known_batches(["b-1", "b-2"]).unwrap(), HashSet::from(["b-1".to_string()]));
        assert_eq!(writer.max_session_id().unwrap(), 42);
        assert_eq!(
            writer.recent_sessions(T0).unwrap(),
            [SessionSeed { site_id: 1, visitor_id: 7, session_id: 42, last_ts_ms: T0 + 1000 }]
        );
        assert!(writer.recent_sessions(T0 + 2000).unwrap().is_empty());
    }

    #[test]
    fn a_failed_commit_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let mut writer = store.event_writer().unwrap();
        let hits = [hit(T0)];
        let batch = |id| BatchWrite {
            id,
            edge: "e",
            events: vec![NewEvent { hit: &hits[0], site_id: 1, visitor_id: 7, session_id: 1 }],
            dead_letters: vec![],
        };
        writer.commit(&[batch("b-1")], T0).unwrap();
        // The same id twice violates the primary key: the whole transaction must roll back,
        // including the rows the appender had already flushed.
        assert!(writer.commit(&[batch("b-2"), batch("b-1")], T0).is_err());
        assert_eq!(store.counts().unwrap().events, 1);
        assert_eq!(store.counts().unwrap().batches, 1);
        // The writer is still usable.
        writer.commit(&[batch("b-2")], T0).unwrap();
        assert_eq!(store.counts().unwrap().events, 2);
    }

    #[test]
    fn rejected_batches_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let mut writer = store.event_writer().unwrap();
        let letter = DeadLetter {
            batch_id: Some("bad-1".into()),
            edge: None,
            reason: "unsupported_version".into(),
            detail: "v9".into(),
            payload: vec![0; MAX_DEAD_LETTER_PAYLOAD * 2],
        };
        writer.reject(&letter, T0).unwrap();
        writer.reject(&letter, T0).unwrap();
        assert_eq!(store.counts().unwrap().batches, 1);
        assert_eq!(writer.known_batches(["bad-1"]).unwrap().len(), 1);
        assert_eq!(writer.prune_batch_ids(T0 + 1).unwrap(), 1);
    }

    #[test]
    fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_dir(dir.path()).unwrap();
            let mut writer = store.event_writer().unwrap();
            let hits = [hit(T0)];
            let events = vec![NewEvent { hit: &hits[0], site_id: 1, visitor_id: 7, session_id: 1 }];
            writer.commit(&[BatchWrite { id: "b", edge: "e", events, dead_letters: vec![] }], T0).unwrap();
        }
        let store = Store::open_dir(dir.path()).unwrap();
        assert_eq!(store.counts().unwrap().events, 1);
    }
}
