//! The ingest side of the store: appending hits, batch-id deduplication, dead letters, and
//! the session state the pipeline rebuilds after a restart.
//!
//! The work is split so that the ingest pipeline can run it on two threads: building the
//! rows in DuckDB's column layout ([`EventRowsBuilder`]) and answering "was this batch id
//! committed before?" ([`KnownBatches`], on its own connection) need no write transaction,
//! and leave the [`EventWriter`] nothing but appending and committing.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::path::PathBuf;

use duckdb::types::{TimeUnit, ToSqlOutput, Value};
use std::sync::Arc;

use duckdb::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder, UInt8Builder, UInt32Array, UInt32Builder, UInt64Builder,
};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::vtab::arrow::{ArrowBatchRegistration, ArrowVTab};
use duckdb::{Connection, ToSql, params};
use hitkeep_protocol::HitRef;

use crate::visits::{VisitColumns, VisitRow};
use crate::{Error, Result};

/// One hit, sessionized and ready to store.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The anonymized hit (from [`hitkeep_protocol::Hit::view`], or read in place from a
    /// binary envelope).
    pub hit: HitRef<'a>,
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

/// A batch's record in a transaction: its id, committed with its rows (a later batch with
/// the same id is a duplicate), and its dead letters. Its rows are in the [`EventRows`]
/// committed with it.
#[derive(Debug, Clone, Copy)]
pub struct BatchWrite<'a> {
    /// The batch id.
    pub id: &'a str,
    /// The edge that sent it.
    pub edge: &'a str,
    /// How many of its hits are stored.
    pub hits: u32,
    /// Its bad hits.
    pub dead_letters: &'a [DeadLetter],
    /// Its sequence number in the cluster's ingest stream, when it came from there.
    pub stream_seq: Option<u64>,
}

/// Row counts of the ingest tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Rows in `events`.
    pub events: u64,
    /// Rows in `event_props`.
    pub props: u64,
    /// Rows in `visits` (states and their cancellations).
    pub visit_rows: u64,
    /// Batch ids remembered for deduplication.
    pub batches: u64,
    /// Rows in `dead_letters`.
    pub dead_letters: u64,
}

const MAX_DEAD_LETTER_PAYLOAD: usize = 64 * 1024;

/// A timestamp parameter in milliseconds since the epoch.
pub(crate) struct Millis(pub(crate) i64);

impl ToSql for Millis {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Owned(Value::Timestamp(TimeUnit::Millisecond, self.0)))
    }
}

/// The ingest pipeline's handle on the database for writing: its own connection, used by one
/// thread.
pub struct EventWriter {
    conn: Connection,
    /// The write-ahead log's path, to watch its size.
    wal: PathBuf,
}

/// The batch ids committed in the dedupe window, for deduplication, on a connection of their
/// own (so the thread that deduplicates is not the one that writes).
///
/// The ids are held in memory as 64-bit hashes so that deduplication never scans
/// `ingested_batches` (a lookup by a bound parameter does not use DuckDB's index, and the
/// table holds every batch of the dedupe window). A hash match is confirmed in the table, so
/// a collision can cost a query, never a lost batch. The table is written by the
/// [`EventWriter`]; whoever commits a batch id tells this index with
/// [`KnownBatches::remember`].
pub struct KnownBatches {
    conn: Connection,
    index: BatchIdIndex,
}

impl std::fmt::Debug for KnownBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownBatches").field("ids", &self.index.hashes.len()).finish_non_exhaustive()
    }
}

impl KnownBatches {
    pub(crate) fn new(conn: Connection) -> Result<Self> {
        let mut index = BatchIdIndex::default();
        {
            let mut statement = conn.prepare(
                "SELECT batch_id, epoch_ms(received_at) FROM ingested_batches ORDER BY received_at",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                index.insert(&id, row.get(1)?);
            }
        }
        Ok(Self { conn, index })
    }

    /// True when `id` was committed (and not yet forgotten).
    pub fn contains(&self, id: &str) -> Result<bool> {
        if !self.index.may_contain(id) {
            return Ok(false);
        }
        let count: u64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM ingested_batches WHERE batch_id = ?")?
            .query_row([id], |row| row.get(0))?;
        Ok(count > 0)
    }

    /// Notes that `id` has been committed.
    pub fn remember(&mut self, id: &str, received_at_ms: i64) {
        self.index.insert(id, received_at_ms);
    }

    /// Forgets the ids received before `before_ms` (after [`EventWriter::prune_batch_ids`]
    /// deleted them from the table).
    pub fn forget_before(&mut self, before_ms: i64) {
        self.index.prune(before_ms);
    }
}

#[derive(Default)]
struct BatchIdIndex {
    hashes: HashSet<u64>,
    /// `(received_at_ms, hash)` in the order the ids were remembered, for pruning.
    order: VecDeque<(i64, u64)>,
}

impl BatchIdIndex {
    fn hash(id: &str) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        id.hash(&mut hasher);
        hasher.finish()
    }

    fn may_contain(&self, id: &str) -> bool {
        self.hashes.contains(&Self::hash(id))
    }

    fn insert(&mut self, id: &str, received_at_ms: i64) {
        let hash = Self::hash(id);
        if self.hashes.insert(hash) {
            self.order.push_back((received_at_ms, hash));
        }
    }

    fn prune(&mut self, before_ms: i64) {
        while let Some(&(received_at_ms, hash)) = self.order.front() {
            if received_at_ms >= before_ms {
                break;
            }
            self.order.pop_front();
            self.hashes.remove(&hash);
        }
    }
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter").finish_non_exhaustive()
    }
}

impl EventWriter {
    pub(crate) fn new(conn: Connection, wal: PathBuf) -> Result<Self> {
        conn.register_table_function::<ArrowVTab>(ARROW_SCAN)?;
        Ok(Self { conn, wal })
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Another writer on the same database, on a connection of its own, so that one can
    /// write a transaction while the other commits.
    pub fn try_clone(&self) -> Result<Self> {
        Self::new(self.conn.try_clone()?, self.wal.clone())
    }

    /// Writes `rows` and the batches they came from (their ids and dead letters) in one
    /// transaction. Either all of it is durable when this returns `Ok`, or none of it is.
    pub fn commit(
        &mut self,
        rows: &EventRows,
        batches: &[BatchWrite<'_>],
        received_at_ms: i64,
    ) -> Result<()> {
        self.stage(rows, batches, received_at_ms)?;
        self.commit_staged()
    }

    /// The first half of [`EventWriter::commit`]: opens a transaction and writes into it.
    /// Nothing is visible to others or durable until [`EventWriter::commit_staged`]. On an
    /// error the transaction is rolled back.
    pub fn stage(&mut self, rows: &EventRows, batches: &[BatchWrite<'_>], received_at_ms: i64) -> Result<()> {
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        let written = self.write_all(rows, batches, received_at_ms);
        if written.is_err() {
            self.rollback();
        }
        written
    }

    /// The second half of [`EventWriter::commit`]: commits what [`EventWriter::stage`]
    /// wrote. On an error nothing of it is kept.
    pub fn commit_staged(&mut self) -> Result<()> {
        let committed = self.conn.execute_batch("COMMIT");
        if committed.is_err() && !self.conn.is_autocommit() {
            self.rollback();
        }
        Ok(committed?)
    }

    fn rollback(&self) {
        if let Err(error) = self.conn.execute_batch("ROLLBACK") {
            tracing::error!(%error, "rollback failed");
        }
    }

    fn write_all(&self, rows: &EventRows, batches: &[BatchWrite<'_>], received_at_ms: i64) -> Result<()> {
        // Rows go in column by column: Arrow record batches, scanned by an `INSERT ... SELECT`
        // (several times faster than binding 27 values per row, and faster than DuckDB's
        // appender, which copies the rows twice more before they reach the transaction).
        if let Some(events) = &rows.events {
            self.insert_arrow(INSERT_EVENTS, events.clone())?;
        }
        if let Some(props) = &rows.props {
            self.insert_arrow(INSERT_EVENT_PROPS, props.clone())?;
        }
        if let Some(visits) = &rows.visits {
            self.insert_arrow(INSERT_VISITS, visits.clone())?;
        }
        if !batches.is_empty() {
            self.insert_arrow(INSERT_BATCH_IDS, batch_ids(batches, received_at_ms)?)?;
        }
        // Rows for a day whose rollups may be built mark it, in this same transaction.
        let late = late_days(rows, received_at_ms - crate::stats::rollup::DIRTY_AGE_MS);
        if !late.is_empty() {
            crate::stats::rollup::mark_dirty(&self.conn, &late)?;
        }
        for letter in batches.iter().flat_map(|batch| batch.dead_letters) {
            insert_dead_letter(&self.conn, letter, received_at_ms)?;
        }
        Ok(())
    }

    fn insert_arrow(&self, sql: &str, rows: RecordBatch) -> Result<()> {
        let registration = ArrowBatchRegistration::new(rows);
        self.conn.prepare_cached(sql)?.execute([&registration])?;
        Ok(())
    }

    /// Stores a batch that can never be written, and records its id (when it has one) so
    /// that a resent copy is answered as a duplicate (tell the [`KnownBatches`]).
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

    /// The highest session id the ingest path gave (0 when there is none); imported visits'
    /// ids are above the counter's range (see [`crate::IMPORTED_SESSIONS`]).
    pub fn max_session_id(&self) -> Result<u64> {
        let max: Option<u64> = self.conn.query_row(
            "SELECT greatest((SELECT max(session_id) FROM events WHERE session_id < ?),
                             (SELECT max(session_id) FROM visits WHERE session_id < ?))",
            [crate::IMPORTED_SESSIONS, crate::IMPORTED_SESSIONS],
            |row| row.get(0),
        )?;
        Ok(max.unwrap_or(0))
    }

    /// Deletes the batch ids received before `before_ms`; returns how many (then tell the
    /// [`KnownBatches`]).
    pub fn prune_batch_ids(&mut self, before_ms: i64) -> Result<usize> {
        let deleted =
            self.conn.execute("DELETE FROM ingested_batches WHERE received_at < ?", [Millis(before_ms)])?;
        Ok(deleted)
    }

    /// Writes the write-ahead log into the database file.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.execute_batch("CHECKPOINT")?;
        Ok(())
    }

    /// The write-ahead log's size in bytes (0 when there is none).
    pub fn wal_bytes(&self) -> u64 {
        std::fs::metadata(&self.wal).map_or(0, |meta| meta.len())
    }
}

/// The name of the table function that scans a registered Arrow record batch.
macro_rules! arrow_scan {
    () => {
        "hitkeep_arrow"
    };
}
const ARROW_SCAN: &str = arrow_scan!();
// The record batches' columns are the tables' columns, in the tables' order.
const INSERT_EVENTS: &str = concat!("INSERT INTO events SELECT * FROM ", arrow_scan!(), "(?)");
const INSERT_EVENT_PROPS: &str = concat!("INSERT INTO event_props SELECT * FROM ", arrow_scan!(), "(?)");
const INSERT_VISITS: &str = concat!("INSERT INTO visits SELECT * FROM ", arrow_scan!(), "(?)");
const INSERT_BATCH_IDS: &str = concat!("INSERT INTO ingested_batches SELECT * FROM ", arrow_scan!(), "(?)");

/// The rows of `ingested_batches` for `batches`.
fn batch_ids(batches: &[BatchWrite<'_>], received_at_ms: i64) -> Result<RecordBatch> {
    let mut id = StringBuilder::new();
    let mut edge = StringBuilder::new();
    let mut received_at = TimestampMicrosecondBuilder::with_capacity(batches.len());
    let mut hits = UInt32Builder::with_capacity(batches.len());
    let mut stream_seq = UInt64Builder::with_capacity(batches.len());
    for batch in batches {
        id.append_value(batch.id);
        edge.append_value(batch.edge);
        received_at.append_value(received_at_ms * 1000);
        hits.append_value(batch.hits);
        stream_seq.append_option(batch.stream_seq);
    }
    record_batch(vec![
        ("batch_id", column(id.finish())),
        ("edge", column(edge.finish())),
        ("received_at", column(received_at.finish())),
        ("hits", column(hits.finish())),
        ("stream_seq", column(stream_seq.finish())),
    ])
}

/// Rows of `events`, `event_props` and `visits` in the tables' column layout (Arrow record batches),
/// built by an [`EventRowsBuilder`] on any thread and appended by [`EventWriter::commit`].
/// Clones and slices share the columns.
#[derive(Clone, Default)]
pub struct EventRows {
    events: Option<RecordBatch>,
    props: Option<RecordBatch>,
    visits: Option<RecordBatch>,
}

/// Which rows of each table in an [`EventRows`] belong to one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowRanges {
    /// Rows of `events`.
    pub events: Range<usize>,
    /// Rows of `event_props`.
    pub props: Range<usize>,
    /// Rows of `visits`.
    pub visits: Range<usize>,
}

impl std::fmt::Debug for EventRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRows")
            .field("events", &self.events())
            .field("props", &self.props())
            .field("visits", &self.visits())
            .finish()
    }
}

impl EventRows {
    /// The rows of `events`.
    pub fn build<'e, 'h: 'e>(events: impl IntoIterator<Item = &'e NewEvent<'h>>) -> Result<Self> {
        let mut builder = EventRowsBuilder::default();
        for event in events {
            builder.push(event);
        }
        builder.finish()
    }

    /// Rows of `events`.
    pub fn events(&self) -> usize {
        self.events.as_ref().map_or(0, RecordBatch::num_rows)
    }

    /// Rows of `event_props`.
    pub fn props(&self) -> usize {
        self.props.as_ref().map_or(0, RecordBatch::num_rows)
    }

    /// Rows of `visits`.
    pub fn visits(&self) -> usize {
        self.visits.as_ref().map_or(0, RecordBatch::num_rows)
    }

    /// The rows in `ranges` (as counted by the [`EventRowsBuilder`] while it was filled),
    /// without copying.
    ///
    /// # Panics
    ///
    /// If a range reaches past the rows there are.
    pub fn slice(&self, ranges: &RowRanges) -> Self {
        let part = |batch: &Option<RecordBatch>, range: &Range<usize>| {
            batch.as_ref().filter(|_| !range.is_empty()).map(|batch| batch.slice(range.start, range.len()))
        };
        Self {
            events: part(&self.events, &ranges.events),
            props: part(&self.props, &ranges.props),
            visits: part(&self.visits, &ranges.visits),
        }
    }
}

/// Fills [`EventRows`], one event at a time.
#[derive(Default)]
pub struct EventRowsBuilder {
    events: EventColumns,
    props: PropColumns,
    visits: VisitColumns,
}

impl std::fmt::Debug for EventRowsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRowsBuilder")
            .field("events", &self.events())
            .field("props", &self.props())
            .field("visits", &self.visits())
            .finish()
    }
}

impl EventRowsBuilder {
    /// A builder with room for `events` events.
    pub fn with_capacity(events: usize) -> Self {
        Self {
            events: EventColumns::with_capacity(events),
            props: PropColumns::default(),
            visits: VisitColumns::default(),
        }
    }

    /// Adds an event and its properties.
    pub fn push(&mut self, event: &NewEvent<'_>) {
        self.events.push(event);
        self.props.push(event);
    }

    /// Adds a row of `visits`: a visit's state (`sign` 1), or the cancellation of a state
    /// written before (`sign` -1, with that state's values).
    pub fn push_visit(&mut self, visit: &VisitRow, sign: i8) {
        self.visits.push(visit, sign);
    }

    /// Events added so far.
    pub fn events(&self) -> usize {
        self.events.len
    }

    /// Rows of `visits` added so far.
    pub fn visits(&self) -> usize {
        self.visits.len
    }

    /// How many rows of each table were added so far: where the next batch's rows start.
    pub fn positions(&self) -> RowRanges {
        let (events, props, visits) = (self.events.len, self.props.len, self.visits.len);
        RowRanges { events: events..events, props: props..props, visits: visits..visits }
    }

    /// The rows added since `start` (what [`EventRowsBuilder::positions`] said then).
    pub fn since(&self, start: &RowRanges) -> RowRanges {
        RowRanges {
            events: start.events.start..self.events.len,
            props: start.props.start..self.props.len,
            visits: start.visits.start..self.visits.len,
        }
    }

    /// Properties added so far.
    pub fn props(&self) -> usize {
        self.props.len
    }

    /// The rows.
    pub fn finish(self) -> Result<EventRows> {
        let events = if self.events.len > 0 { Some(self.events.finish()?) } else { None };
        let props = if self.props.len > 0 { Some(self.props.finish()?) } else { None };
        let visits = if self.visits.len > 0 { Some(self.visits.finish()?) } else { None };
        Ok(EventRows { events, props, visits })
    }
}

/// The columns of `events`, in schema order, being filled for one append.
#[derive(Default)]
struct EventColumns {
    len: usize,
    site_id: UInt32Builder,
    ts: TimestampMicrosecondBuilder,
    visitor_id: UInt64Builder,
    session_id: UInt64Builder,
    kind: UInt8Builder,
    name: StringBuilder,
    hostname: StringBuilder,
    path: StringBuilder,
    referrer: StringBuilder,
    source: StringBuilder,
    channel: UInt8Builder,
    utm: [StringBuilder; 5],
    country: StringBuilder,
    region: StringBuilder,
    city: StringBuilder,
    browser: StringBuilder,
    browser_version: StringBuilder,
    os: StringBuilder,
    os_version: StringBuilder,
    device: UInt8Builder,
    revenue_micros: Int64Builder,
    revenue_currency: StringBuilder,
    interactive: BooleanBuilder,
}

fn strings(rows: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * 8)
}

impl EventColumns {
    fn with_capacity(rows: usize) -> Self {
        Self {
            len: 0,
            site_id: UInt32Builder::with_capacity(rows),
            ts: TimestampMicrosecondBuilder::with_capacity(rows),
            visitor_id: UInt64Builder::with_capacity(rows),
            session_id: UInt64Builder::with_capacity(rows),
            kind: UInt8Builder::with_capacity(rows),
            name: strings(rows),
            hostname: strings(rows),
            path: strings(rows),
            referrer: strings(rows),
            source: strings(rows),
            channel: UInt8Builder::with_capacity(rows),
            utm: std::array::from_fn(|_| strings(rows)),
            country: strings(rows),
            region: strings(rows),
            city: strings(rows),
            browser: strings(rows),
            browser_version: strings(rows),
            os: strings(rows),
            os_version: strings(rows),
            device: UInt8Builder::with_capacity(rows),
            revenue_micros: Int64Builder::with_capacity(rows),
            revenue_currency: strings(rows),
            interactive: BooleanBuilder::with_capacity(rows),
        }
    }

    fn push(&mut self, event: &NewEvent<'_>) {
        let hit = &event.hit;
        self.len += 1;
        self.site_id.append_value(event.site_id);
        self.ts.append_value(hit.ts * 1000);
        self.visitor_id.append_value(event.visitor_id);
        self.session_id.append_value(event.session_id);
        self.kind.append_value(hit.kind.code());
        self.name.append_value(hit.name);
        self.hostname.append_value(hit.hostname);
        self.path.append_value(hit.path);
        self.referrer.append_option(hit.referrer);
        self.source.append_option(hit.source);
        self.channel.append_value(hit.channel.code());
        let utm = &hit.utm;
        for (column, value) in
            self.utm.iter_mut().zip([utm.source, utm.medium, utm.campaign, utm.content, utm.term])
        {
            column.append_option(value);
        }
        self.country.append_option(hit.country);
        self.region.append_option(hit.region);
        self.city.append_option(hit.city);
        self.browser.append_option(hit.browser);
        self.browser_version.append_option(hit.browser_version);
        self.os.append_option(hit.os);
        self.os_version.append_option(hit.os_version);
        self.device.append_value(hit.device.code());
        self.revenue_micros.append_option(hit.revenue.map(|revenue| revenue.amount_micros));
        self.revenue_currency.append_option(hit.revenue.map(|revenue| revenue.currency));
        self.interactive.append_value(hit.interactive);
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let [utm_source, utm_medium, utm_campaign, utm_content, utm_term] =
            self.utm.map(|mut b| column(b.finish()));
        record_batch(vec![
            ("site_id", column(self.site_id.finish())),
            ("ts", column(self.ts.finish())),
            ("visitor_id", column(self.visitor_id.finish())),
            ("session_id", column(self.session_id.finish())),
            ("kind", column(self.kind.finish())),
            ("name", column(self.name.finish())),
            ("hostname", column(self.hostname.finish())),
            ("path", column(self.path.finish())),
            ("referrer", column(self.referrer.finish())),
            ("source", column(self.source.finish())),
            ("channel", column(self.channel.finish())),
            ("utm_source", utm_source),
            ("utm_medium", utm_medium),
            ("utm_campaign", utm_campaign),
            ("utm_content", utm_content),
            ("utm_term", utm_term),
            ("country", column(self.country.finish())),
            ("region", column(self.region.finish())),
            ("city", column(self.city.finish())),
            ("browser", column(self.browser.finish())),
            ("browser_version", column(self.browser_version.finish())),
            ("os", column(self.os.finish())),
            ("os_version", column(self.os_version.finish())),
            ("device", column(self.device.finish())),
            ("revenue_micros", column(self.revenue_micros.finish())),
            ("revenue_currency", column(self.revenue_currency.finish())),
            ("interactive", column(self.interactive.finish())),
        ])
    }
}

/// The columns of `event_props`, in schema order.
#[derive(Default)]
struct PropColumns {
    len: usize,
    site_id: UInt32Builder,
    ts: TimestampMicrosecondBuilder,
    visitor_id: UInt64Builder,
    session_id: UInt64Builder,
    name: StringBuilder,
    key: StringBuilder,
    value: StringBuilder,
}

impl PropColumns {
    fn push(&mut self, event: &NewEvent<'_>) {
        for (key, value) in &event.hit.props {
            self.len += 1;
            self.site_id.append_value(event.site_id);
            self.ts.append_value(event.hit.ts * 1000);
            self.visitor_id.append_value(event.visitor_id);
            self.session_id.append_value(event.session_id);
            self.name.append_value(event.hit.name);
            self.key.append_value(key);
            self.value.append_value(value);
        }
    }

    fn finish(mut self) -> Result<RecordBatch> {
        record_batch(vec![
            ("site_id", column(self.site_id.finish())),
            ("ts", column(self.ts.finish())),
            ("visitor_id", column(self.visitor_id.finish())),
            ("session_id", column(self.session_id.finish())),
            ("name", column(self.name.finish())),
            ("key", column(self.key.finish())),
            ("value", column(self.value.finish())),
        ])
    }
}

pub(crate) fn column(array: impl Array + 'static) -> ArrayRef {
    Arc::new(array)
}

pub(crate) fn record_batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    RecordBatch::try_from_iter(columns)
        .map_err(|error| Error::Invalid { field: "append batch", reason: error.to_string() })
}

/// The (site, UTC day) of every row of `rows` (events by `ts`, visits by `start_ts`) from
/// before `before_ms`: the days the rollups may have built without them.
fn late_days(rows: &EventRows, before_ms: i64) -> Vec<(u32, i64)> {
    const DAY_US: i64 = 86_400_000_000;
    let before_us = before_ms.saturating_mul(1000);
    let mut late = std::collections::BTreeSet::new();
    for (batch, ts) in [(&rows.events, "ts"), (&rows.visits, "start_ts")] {
        let Some(batch) = batch else { continue };
        let sites = batch.column_by_name("site_id").and_then(|c| c.as_any().downcast_ref::<UInt32Array>());
        let times =
            batch.column_by_name(ts).and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>());
        let (Some(sites), Some(times)) = (sites, times) else { continue };
        // Live traffic has none: one pass over the times, no lookups.
        if times.values().iter().all(|us| *us >= before_us) {
            continue;
        }
        for (site, us) in sites.values().iter().zip(times.values().iter()) {
            if *us < before_us {
                late.insert((*site, us.div_euclid(DAY_US)));
            }
        }
    }
    late.into_iter().collect()
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
                (SELECT count(*) FROM visits), (SELECT count(*) FROM ingested_batches),
                (SELECT count(*) FROM dead_letters)",
        [],
        |row| {
            Ok(StoreCounts {
                events: row.get(0)?,
                props: row.get(1)?,
                visit_rows: row.get(2)?,
                batches: row.get(3)?,
                dead_letters: row.get(4)?,
            })
        },
    )?)
}

#[cfg(test)]
mod tests {
    use hitkeep_protocol::{Channel, Device, EventKind, Hit, Revenue, Utm};

    use super::*;
    use crate::Store;

    fn hit(ts: i64) -> Hit {
        Hit {
            kind: EventKind::Custom,
            name: "Purchase".into(),
            visitor: 7,
            visitor_prev: 8,
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
            props: vec![("plan".into(), "pro".into()), ("seats".into(), "3".into())],
            revenue: Some(Revenue { amount_micros: 49_000_000, currency: "EUR".into() }),
            ..Hit::pageview(ts, "example.com", "/checkout")
        }
    }

    const T0: i64 = 1_767_225_600_000;

    #[test]
    fn commits_rows_props_and_batch_ids_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let mut writer = store.event_writer().unwrap();
        let hits = [hit(T0), hit(T0 + 1000)];
        let events: Vec<NewEvent<'_>> = hits
            .iter()
            .map(|hit| NewEvent { hit: hit.view(), site_id: 1, visitor_id: 7, session_id: 42 })
            .collect();
        let letter = DeadLetter {
            batch_id: Some("b-1".into()),
            edge: Some("e".into()),
            reason: "invalid_hit".into(),
            detail: "path".into(),
            payload: b"{}".to_vec(),
        };
        let rows = EventRows::build(&events).unwrap();
        assert_eq!((rows.events(), rows.props()), (2, 4));
        let batch = BatchWrite {
            id: "b-1",
            edge: "e",
            hits: 2,
            dead_letters: std::slice::from_ref(&letter),
            stream_seq: None,
        };
        writer.commit(&rows, &[batch], T0).unwrap();
        assert_eq!(
            store.counts().unwrap(),
            StoreCounts { events: 2, props: 4, visit_rows: 0, batches: 1, dead_letters: 1 }
        );
        let known = store.known_batches().unwrap();
        assert!(known.contains("b-1").unwrap() && !known.contains("b-2").unwrap());
        assert_eq!(writer.max_session_id().unwrap(), 42);

        // Every column lands where the schema says (rows go in column by column).
        type Row = (i64, u8, String, String, Option<String>, Option<String>, Option<String>, Option<String>);
        let row: Row = store
            .conn()
            .query_row(
                "SELECT epoch_ms(ts), kind, name, path, utm_campaign, utm_source, city, os_version
                 FROM events ORDER BY ts LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )
            .unwrap();
        let expected: Row = (
            T0,
            EventKind::Custom.code(),
            "Purchase".into(),
            "/checkout".into(),
            Some("launch".into()),
            None,
            Some("Berlin".into()),
            None,
        );
        assert_eq!(row, expected);
        let money: (i64, String, bool, u8, u8) = store
            .conn()
            .query_row(
                "SELECT revenue_micros, revenue_currency, interactive, channel, device FROM events LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(money, (49_000_000, "EUR".into(), true, Channel::Referral.code(), Device::Desktop.code()));
        let props: Vec<(String, String, u64)> = store
            .conn()
            .prepare("SELECT key, value, session_id FROM event_props ORDER BY ts, key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(props[0], ("plan".into(), "pro".into(), 42));
        assert_eq!(props[1], ("seats".into(), "3".into(), 42));
    }

    #[test]
    fn the_stream_position_is_stored_with_the_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        assert_eq!(store.stream_position().unwrap(), None);
        let mut writer = store.event_writer().unwrap();
        let hits = [hit(T0)];
        let rows =
            EventRows::build(&[NewEvent { hit: hits[0].view(), site_id: 1, visitor_id: 7, session_id: 1 }])
                .unwrap();
        let batch = |id, stream_seq| BatchWrite { id, edge: "e", hits: 1, dead_letters: &[], stream_seq };
        // A batch from elsewhere (the HTTP endpoint, a bulk load) has no position.
        writer.commit(&rows, &[batch("b-1", None)], T0).unwrap();
        assert_eq!(store.stream_position().unwrap(), None);
        writer.commit(&rows, &[batch("b-3", Some(12)), batch("b-2", Some(11))], T0).unwrap();
        assert_eq!(store.stream_position().unwrap(), Some(12));
        // A failed group moves nothing.
        assert!(writer.commit(&rows, &[batch("b-4", Some(13)), batch("b-1", Some(14))], T0).is_err());
        assert_eq!(store.stream_position().unwrap(), Some(12));
    }

    #[test]
    fn a_failed_commit_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let mut writer = store.event_writer().unwrap();
        let hits = [hit(T0)];
        let rows =
            EventRows::build(&[NewEvent { hit: hits[0].view(), site_id: 1, visitor_id: 7, session_id: 1 }])
                .unwrap();
        let batch = |id| BatchWrite { id, edge: "e", hits: 1, dead_letters: &[], stream_seq: None };
        writer.commit(&rows, &[batch("b-1")], T0).unwrap();
        // The same id twice violates the primary key: the whole transaction must roll back,
        // including the rows already inserted.
        assert!(writer.commit(&rows, &[batch("b-2"), batch("b-1")], T0).is_err());
        assert_eq!(store.counts().unwrap().events, 1);
        assert_eq!(store.counts().unwrap().batches, 1);
        // The writer is still usable.
        writer.commit(&rows, &[batch("b-2")], T0).unwrap();
        assert_eq!(store.counts().unwrap().events, 2);
    }

    #[test]
    fn slices_of_rows_commit_only_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let mut writer = store.event_writer().unwrap();
        let mut hits = [hit(T0), hit(T0 + 1), hit(T0 + 2)];
        hits[1].props.clear();
        let mut builder = EventRowsBuilder::with_capacity(3);
        let mut bounds = Vec::new();
        for (index, hit) in hits.iter().enumerate() {
            let start = builder.positions();
            builder.push(&NewEvent { hit: hit.view(), site_id: 1, visitor_id: 7, session_id: index as u64 });
            bounds.push(builder.since(&start));
        }
        let rows = builder.finish().unwrap();
        assert_eq!((rows.events(), rows.props()), (3, 4));
        // The second event alone (it has no properties), then the third.
        let second = rows.slice(&bounds[1]);
        assert_eq!((second.events(), second.props()), (1, 0));
        writer
            .commit(
                &second,
                &[BatchWrite { id: "b-2", edge: "e", hits: 1, dead_letters: &[], stream_seq: None }],
                T0,
            )
            .unwrap();
        let third = rows.slice(&bounds[2]);
        writer
            .commit(
                &third,
                &[BatchWrite { id: "b-3", edge: "e", hits: 1, dead_letters: &[], stream_seq: None }],
                T0,
            )
            .unwrap();
        let sessions: Vec<u64> = store
            .conn()
            .prepare("SELECT session_id FROM events ORDER BY session_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(sessions, [1, 2]);
        assert_eq!(store.counts().unwrap().props, 2);
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
        let mut known = store.known_batches().unwrap();
        assert!(known.contains("bad-1").unwrap());
        assert_eq!(writer.prune_batch_ids(T0 + 1).unwrap(), 1);
        // The table no longer has it: a hash match in the index is confirmed there.
        assert!(!known.contains("bad-1").unwrap());
        known.forget_before(T0 + 1);
        assert!(!known.contains("bad-1").unwrap());
        known.remember("later-1", T0 + 5);
        assert!(!known.contains("later-1").unwrap(), "remembered but never committed: not known");
    }

    #[test]
    fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_dir(dir.path()).unwrap();
            let mut writer = store.event_writer().unwrap();
            let hits = [hit(T0)];
            let rows = EventRows::build(&[NewEvent {
                hit: hits[0].view(),
                site_id: 1,
                visitor_id: 7,
                session_id: 1,
            }])
            .unwrap();
            writer
                .commit(
                    &rows,
                    &[BatchWrite { id: "b", edge: "e", hits: 1, dead_letters: &[], stream_seq: None }],
                    T0,
                )
                .unwrap();
        }
        let store = Store::open_dir(dir.path()).unwrap();
        assert_eq!(store.counts().unwrap().events, 1);
        // The batch-id index is rebuilt from the table.
        let known = store.known_batches().unwrap();
        assert!(known.contains("b").unwrap() && !known.contains("c").unwrap());
    }
}
