//! Takeout: the raw events of sites, streamed out as Parquet, CSV, JSON or NDJSON.
//!
//! The export reads in one transaction (one snapshot, while ingest goes on) and in time
//! slices of at most [`SLICE_ROWS`] events, each an ordered query joined with its events'
//! properties, so that memory stays flat whatever the export's size: DuckDB holds one
//! slice's join and sort, the encoder one row group. Rows go out in time order, site by site.
//!
//! Every format carries the same columns, [`TAKEOUT_COLUMNS`], in schema version
//! [`TAKEOUT_SCHEMA_VERSION`] (documented in `docs/takeout.md`). Values are what the
//! dashboard shows (channel and device labels, country codes), the time in UTC, revenue as
//! a decimal amount, the visitor and visit ids (daily-salted hashes, not people) as 16 hex
//! digits, and the properties as an object (a JSON string in CSV).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use chrono_tz::Tz;
use duckdb::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, RecordBatch, StringBuilder, TimestampMicrosecondArray,
};
use duckdb::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit, UInt64Type};
use hitkeep_protocol::{Channel, Device, EventKind};

use crate::stats::sql::{Param, Sql, filter_sql, range};
use crate::stats::{Filter, Metric, Query};
use crate::{Error, Result, Site, Store};

/// The version of the takeout's columns; a change to them is a new version.
pub const TAKEOUT_SCHEMA_VERSION: u32 = 1;

/// The key of the schema version in a Parquet file's metadata.
pub const PARQUET_VERSION_KEY: &str = "hitkeep.takeout.schema_version";

/// The takeout's columns, in order.
pub const TAKEOUT_COLUMNS: [&str; 29] = [
    "site",
    "time",
    "kind",
    "name",
    "hostname",
    "path",
    "referrer",
    "source",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "country",
    "region",
    "city",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "revenue",
    "revenue_currency",
    "interactive",
    "props",
    "visitor_id",
    "session_id",
    "schema_version",
];

/// Events per slice: what one query joins and sorts at a time. An hour is never split, so
/// a slice is larger when one hour holds more.
pub const SLICE_ROWS: u64 = 100_000;

/// Batches (of DuckDB's 2,048 rows) read ahead of the encoder.
const QUEUED_BATCHES: usize = 16;

/// Rows per Parquet row group (the encoder holds one in memory).
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The formats an export is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Apache Parquet, Snappy-compressed, row groups of 128 Ki rows.
    Parquet,
    /// RFC 4180 CSV with a header row; `props` as a JSON object.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl ExportFormat {
    /// Every format, as named on the command line and in the API.
    pub const ALL: [ExportFormat; 4] = [Self::Parquet, Self::Csv, Self::Json, Self::Ndjson];

    /// The format named `name` (`parquet`, `csv`, `json`, `ndjson`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.name() == name)
    }

    /// Its name, which is also the file extension.
    pub fn name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Ndjson => "ndjson",
        }
    }

    /// The media type of its files.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Parquet => "application/vnd.apache.parquet",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
            Self::Ndjson => "application/x-ndjson",
        }
    }
}

/// One site's part of an export.
#[derive(Debug, Clone)]
pub struct ExportSite {
    /// The site.
    pub site: Site,
    /// Its events from, ms since the epoch (UTC, inclusive); `None`: from the first.
    pub start_ms: Option<i64>,
    /// Its events until, ms since the epoch (UTC, exclusive); `None`: to the last.
    pub end_ms: Option<i64>,
    /// Which events: the Stats API's filters (a visit filter keeps whole visits).
    pub filter: Option<Filter>,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportSummary {
    /// Events written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// A time slice of one site's events.
#[derive(Debug, Clone, Copy)]
struct Slice {
    start_ms: i64,
    end_ms: i64,
}

/// An export being planned and run: its sites' slices, read in one transaction.
#[derive(Debug)]
struct SitePlan {
    query: Query,
    domain: String,
    slices: Vec<Slice>,
    /// Events in the slices.
    rows: u64,
}

impl Store {
    /// Writes the events of `sites` to `out` in `format`, as of one moment; calls `progress`
    /// first with the number of rows to write, then with the number written so far after
    /// each batch (so a caller can show how far it got, or stop by making `out` fail).
    pub fn export_events(
        &self,
        sites: &[ExportSite],
        format: ExportFormat,
        out: impl Write + Send,
        progress: &mut dyn FnMut(ExportProgress),
    ) -> Result<ExportSummary> {
        let conn = self.reader()?;
        // One snapshot for the plan and every slice: a transaction that only reads (nothing
        // is written, so it ends with a rollback, which only releases the snapshot).
        conn.execute_batch("BEGIN TRANSACTION")?;
        let planned = sites.iter().map(|site| self.plan_site(&conn, site)).collect::<Result<Vec<_>>>();
        let plans = match planned {
            Ok(plans) => plans,
            Err(error) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(error);
            }
        };
        let slices = plans.iter().map(|plan| plan.slices.len() as u64).sum();
        let rows = plans.iter().map(|plan| plan.rows).sum();
        progress(ExportProgress::Planned { rows, slices });
        // Two threads: this one encodes and writes while the other runs the slices' queries
        // (in the transaction, on its connection), a few batches ahead.
        let (batches, received) = std::sync::mpsc::sync_channel::<Result<RecordBatch>>(QUEUED_BATCHES);
        std::thread::scope(|scope| {
            let plans = &plans;
            let reader = scope.spawn(move || {
                'slices: for plan in plans {
                    for slice in &plan.slices {
                        let read = (|| -> Result<bool> {
                            let sql = slice_sql(plan, *slice)?;
                            let mut statement = conn.prepare(&sql.text)?;
                            let stream =
                                statement.stream_arrow(duckdb::params_from_iter(sql.params.iter()))?;
                            for batch in stream {
                                let batch = takeout_batch(&batch?)?;
                                if batches.send(Ok(batch)).is_err() {
                                    // The writer stopped: its error says why.
                                    return Ok(false);
                                }
                            }
                            Ok(true)
                        })();
                        match read {
                            Ok(true) => {}
                            Ok(false) => break 'slices,
                            Err(error) => {
                                let _ = batches.send(Err(error));
                                break 'slices;
                            }
                        }
                    }
                }
                let _ = conn.execute_batch("ROLLBACK");
            });
            let written = (|| {
                let mut writer = Encoder::new(format, Counting::new(out))?;
                let mut written = 0u64;
                for batch in &received {
                    let batch = batch?;
                    written += batch.num_rows() as u64;
                    writer.write(&batch)?;
                    progress(ExportProgress::Wrote { rows: written });
                }
                let bytes = writer.finish()?;
                Ok(ExportSummary { rows: written, bytes })
            })();
            // The reader stops at its next batch when this side has stopped early.
            drop(received);
            let _ = reader.join();
            written
        })
    }

    /// One site's slices: consecutive hours with events, cut at [`SLICE_ROWS`].
    fn plan_site(&self, conn: &duckdb::Connection, site: &ExportSite) -> Result<SitePlan> {
        let zone: Tz = site.site.timezone.parse().unwrap_or(Tz::UTC);
        // The range a filter's visits are looked for in: the events' own when open-ended.
        let (first, last): (Option<i64>, Option<i64>) = conn.query_row(
            "SELECT epoch_ms(min(ts)), epoch_ms(max(ts)) FROM events WHERE site_id = ?",
            [site.site.id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(SitePlan {
                query: Query::new(site.site.id, 0, 1, zone, vec![Metric::Events]),
                domain: site.site.domain.clone(),
                slices: Vec::new(),
                rows: 0,
            });
        };
        let start_ms = site.start_ms.unwrap_or(first).max(first);
        let end_ms = site.end_ms.unwrap_or(last + 1).min(last + 1);
        let mut query =
            Query::new(site.site.id, start_ms, end_ms.max(start_ms + 1), zone, vec![Metric::Events]);
        query.filter = site.filter.clone();
        if query.needs_goals() {
            query.goals = self.goals(site.site.id)?;
        }
        let mut plan = SitePlan { query, domain: site.site.domain.clone(), slices: Vec::new(), rows: 0 };
        if end_ms <= start_ms {
            return Ok(plan);
        }
        let mut sql = Sql::default();
        sql.push(
            "SELECT epoch_ms(date_trunc('hour', e.ts)) AS hour, count(*) FROM events e WHERE e.site_id = ",
        )
        .bind(Param::Int(i64::from(site.site.id)))
        .push(" AND ");
        range(&mut sql, "e.ts", plan.query.start_ms, plan.query.end_ms);
        if let Some(filter) = &plan.query.filter {
            sql.push(" AND ").append(filter_sql(filter, crate::stats::sql::Source::Events, &plan.query)?);
        }
        sql.push(" GROUP BY ALL ORDER BY hour");
        let mut statement = conn.prepare(&sql.text)?;
        let hours = statement
            .query_map(duckdb::params_from_iter(sql.params.iter()), |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as u64))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        plan.slices = cut_slices(&hours, plan.query.start_ms, plan.query.end_ms);
        plan.rows = hours.iter().map(|(_, rows)| rows).sum();
        Ok(plan)
    }
}

/// How far an export got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportProgress {
    /// The rows it will write, in how many slices.
    Planned {
        /// Events to write.
        rows: u64,
        /// Queries to run.
        slices: u64,
    },
    /// Rows written so far.
    Wrote {
        /// Events written.
        rows: u64,
    },
}

/// Hours (start ms, events) grouped into slices of at most [`SLICE_ROWS`] events (an hour
/// with more is a slice of its own), the first from `start_ms`, the last to `end_ms`.
fn cut_slices(hours: &[(i64, u64)], start_ms: i64, end_ms: i64) -> Vec<Slice> {
    let mut slices = Vec::new();
    let mut open: Option<(i64, u64)> = None;
    for &(hour, rows) in hours {
        match open {
            Some((from, count)) if count + rows > SLICE_ROWS => {
                slices.push(Slice { start_ms: from.max(start_ms), end_ms: hour });
                open = Some((hour, rows));
            }
            Some((from, count)) => open = Some((from, count + rows)),
            None => open = Some((hour, rows)),
        }
    }
    if let Some((from, _)) = open {
        slices.push(Slice { start_ms: from.max(start_ms), end_ms });
    }
    slices
}

/// A `CASE` that turns a stored code into its label (`NULL` for codes without one).
fn label_case(column: &str, labels: impl IntoIterator<Item = (u8, &'static str)>) -> String {
    let mut sql = format!("CASE {column}");
    for (code, label) in labels {
        let _ = write!(sql, " WHEN {code} THEN '{label}'");
    }
    sql.push_str(" END");
    sql
}

/// The label of an event kind in the takeout.
pub fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Pageview => "pageview",
        EventKind::Custom => "custom",
        EventKind::Engagement => "engagement",
    }
}

/// The label of a device class in the takeout (`None`: it could not be told).
pub fn device_name(device: Device) -> Option<&'static str> {
    match device {
        Device::Unknown => None,
        Device::Desktop => Some("Desktop"),
        Device::Mobile => Some("Mobile"),
        Device::Tablet => Some("Tablet"),
    }
}

/// One slice's rows, in the takeout's columns (revenue still in micros, the time without
/// its zone: [`takeout_batch`] finishes both).
fn slice_sql(plan: &SitePlan, slice: Slice) -> Result<Sql> {
    let kinds = label_case(
        "e.kind",
        [EventKind::Pageview, EventKind::Custom, EventKind::Engagement].map(|k| (k.code(), kind_label(k))),
    );
    let channels = label_case("e.channel", Channel::ALL.map(|c| (c.code(), c.label())));
    let devices = label_case(
        "e.device",
        [Device::Desktop, Device::Mobile, Device::Tablet]
            .map(|d| (d.code(), device_name(d).expect("a device with a name"))),
    );
    let site_id = Param::Int(i64::from(plan.query.site_id));
    let mut sql = Sql::default();
    sql.push("SELECT ").bind(Param::Text(plan.domain.clone()));
    let _ = write!(
        sql.text,
        " AS site, e.ts AS time, {kinds} AS kind, e.name, e.hostname, e.path, e.referrer, e.source, \
         {channels} AS channel, e.utm_source, e.utm_medium, e.utm_campaign, e.utm_content, e.utm_term, \
         e.country, e.region, e.city, e.browser, e.browser_version, e.os, e.os_version, \
         {devices} AS device, e.revenue_micros AS revenue, e.revenue_currency, e.interactive, p.props, \
         e.visitor_id, e.session_id, \
         {TAKEOUT_SCHEMA_VERSION}::UTINYINT AS schema_version \
         FROM events e LEFT JOIN (\
           SELECT ts, session_id, name, map(list(key ORDER BY key), list(value ORDER BY key)) AS props \
           FROM (SELECT ts, session_id, name, key, min(value) AS value FROM event_props WHERE site_id = "
    );
    // Properties belong to an event by its time, visit and name: two events alike in all
    // three (the same click twice in one millisecond) share theirs, one value per key.
    sql.bind(site_id.clone()).push(" AND ");
    range(&mut sql, "ts", slice.start_ms, slice.end_ms);
    sql.push(
        " GROUP BY ALL) GROUP BY ALL) p ON p.ts = e.ts AND p.session_id = e.session_id AND p.name = e.name",
    );
    sql.push(" WHERE e.site_id = ").bind(site_id).push(" AND ");
    range(&mut sql, "e.ts", slice.start_ms, slice.end_ms);
    if let Some(filter) = &plan.query.filter {
        // The filter's visits are those of the whole export's range: a visit that crosses
        // into this slice keeps the events it had before.
        sql.push(" AND ").append(filter_sql(filter, crate::stats::sql::Source::Events, &plan.query)?);
    }
    sql.push(" ORDER BY e.ts, e.session_id");
    Ok(sql)
}

/// A batch as DuckDB returned it, made a takeout batch: the time in UTC (DuckDB's
/// `TIMESTAMP` has no zone), revenue from micros to a decimal amount.
fn takeout_batch(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        match field.name().as_str() {
            "time" => {
                let micros = column
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .ok_or_else(|| Error::Encode(format!("time is {}", column.data_type())))?;
                let utc = micros.clone().with_timezone("+00:00");
                fields.push(Field::new("time", utc.data_type().clone(), false));
                columns.push(Arc::new(utc));
            }
            "visitor_id" | "session_id" => {
                let ids = column
                    .as_primitive_opt::<UInt64Type>()
                    .ok_or_else(|| Error::Encode(format!("{} is {}", field.name(), column.data_type())))?;
                fields.push(Field::new(field.name(), DataType::Utf8, false));
                columns.push(Arc::new(hex_ids(ids)));
            }
            "revenue" => {
                let micros = column
                    .as_primitive_opt::<Int64Type>()
                    .ok_or_else(|| Error::Encode(format!("revenue is {}", column.data_type())))?;
                let amounts: Decimal128Array = micros.unary(i128::from);
                let amounts = amounts
                    .with_precision_and_scale(REVENUE_PRECISION, REVENUE_SCALE)
                    .map_err(|e| Error::Encode(e.to_string()))?;
                fields.push(Field::new("revenue", amounts.data_type().clone(), true));
                columns.push(Arc::new(amounts));
            }
            _ => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| Error::Encode(e.to_string()))
}

/// Ids as 16 lower-case hex digits (DuckDB's `hex` and `lpad` take several times longer).
fn hex_ids(ids: &duckdb::arrow::array::UInt64Array) -> duckdb::arrow::array::StringArray {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = StringBuilder::with_capacity(ids.len(), ids.len() * 16);
    let mut digits = [0u8; 16];
    for id in ids.iter() {
        match id {
            Some(id) => {
                for (index, digit) in digits.iter_mut().enumerate() {
                    *digit = DIGITS[((id >> ((15 - index) * 4)) & 0xf) as usize];
                }
                text.append_value(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
            }
            None => text.append_null(),
        }
    }
    text.finish()
}

/// Revenue in the takeout: up to 10^12 in the currency's unit, to a millionth.
const REVENUE_PRECISION: u8 = 18;
const REVENUE_SCALE: i8 = 6;

/// A writer that counts what passes.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Counting<W> {
    fn new(inner: W) -> Self {
        Self { inner, bytes: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The encoder of one format.
enum Encoder<W: Write + Send> {
    /// Opened at the first batch (the schema comes with it).
    Parquet(Option<parquet::arrow::ArrowWriter<Counting<W>>>, Option<Counting<W>>),
    Csv(arrow_csv::Writer<Counting<W>>),
    Json(arrow_json::ArrayWriter<Counting<W>>),
    Ndjson(arrow_json::LineDelimitedWriter<Counting<W>>),
}

fn encode_error(error: impl std::fmt::Display) -> Error {
    Error::Encode(error.to_string())
}

/// An encoder's error: the output's own when the output failed (a client that went away).
fn arrow_error(error: duckdb::arrow::error::ArrowError) -> Error {
    match error {
        duckdb::arrow::error::ArrowError::IoError(_, source) => Error::Output(source),
        error => encode_error(error),
    }
}

fn parquet_error(error: parquet::errors::ParquetError) -> Error {
    match error {
        parquet::errors::ParquetError::External(source) => match source.downcast::<std::io::Error>() {
            Ok(io) => Error::Output(*io),
            Err(other) => encode_error(other),
        },
        error => encode_error(error),
    }
}

impl<W: Write + Send> Encoder<W> {
    fn new(format: ExportFormat, out: Counting<W>) -> Result<Self> {
        Ok(match format {
            ExportFormat::Parquet => Self::Parquet(None, Some(out)),
            ExportFormat::Csv => Self::Csv(arrow_csv::WriterBuilder::new().with_header(true).build(out)),
            ExportFormat::Json => {
                Self::Json(arrow_json::WriterBuilder::new().with_explicit_nulls(true).build(out))
            }
            ExportFormat::Ndjson => {
                Self::Ndjson(arrow_json::WriterBuilder::new().with_explicit_nulls(true).build(out))
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Self::Parquet(writer, out) => {
                if writer.is_none() {
                    let out = out.take().expect("the output until the writer opens");
                    *writer = Some(parquet_writer(out, batch.schema())?);
                }
                writer.as_mut().expect("opened").write(batch).map_err(parquet_error)
            }
            Self::Csv(writer) => writer.write(&props_as_json(batch)?).map_err(arrow_error),
            Self::Json(writer) => writer.write(batch).map_err(arrow_error),
            Self::Ndjson(writer) => writer.write(batch).map_err(arrow_error),
        }
    }

    /// Ends the output; returns the bytes written.
    fn finish(self) -> Result<u64> {
        let mut out = match self {
            Self::Parquet(Some(writer), _) => writer.into_inner().map_err(parquet_error)?,
            // No rows: a file with the schema and no row group.
            Self::Parquet(None, out) => {
                let out = out.expect("the output until the writer opens");
                let writer = parquet_writer(out, empty_schema())?;
                writer.into_inner().map_err(parquet_error)?
            }
            Self::Csv(writer) => {
                let mut out = writer.into_inner();
                if out.bytes == 0 {
                    // No rows: the header alone.
                    out.write_all(TAKEOUT_COLUMNS.join(",").as_bytes()).map_err(Error::Output)?;
                    out.write_all(b"\n").map_err(Error::Output)?;
                }
                out
            }
            Self::Json(mut writer) => {
                writer.finish().map_err(arrow_error)?;
                let mut out = writer.into_inner();
                if out.bytes == 0 {
                    out.write_all(b"[]").map_err(Error::Output)?;
                }
                out
            }
            Self::Ndjson(mut writer) => {
                writer.finish().map_err(arrow_error)?;
                writer.into_inner()
            }
        };
        out.flush().map_err(Error::Output)?;
        Ok(out.bytes)
    }
}

fn parquet_writer<W: Write + Send>(out: W, schema: SchemaRef) -> Result<parquet::arrow::ArrowWriter<W>> {
    use parquet::basic::Compression;
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        // Ids are all but unique: a dictionary would cost time and save nothing.
        .set_column_dictionary_enabled(ColumnPath::from("visitor_id"), false)
        .set_column_dictionary_enabled(ColumnPath::from("session_id"), false)
        .set_created_by(format!("hitkeep {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            PARQUET_VERSION_KEY.to_owned(),
            TAKEOUT_SCHEMA_VERSION.to_string(),
        )]))
        .build();
    parquet::arrow::ArrowWriter::try_new(out, schema, Some(properties)).map_err(parquet_error)
}

/// The takeout's schema as Arrow types, for an export without rows.
pub fn empty_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let mut fields = Vec::with_capacity(TAKEOUT_COLUMNS.len());
    for name in TAKEOUT_COLUMNS {
        fields.push(match name {
            "site" | "kind" | "name" | "hostname" | "path" | "channel" | "visitor_id" | "session_id" => {
                text(name, false)
            }
            "time" => {
                Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())), false)
            }
            "revenue" => Field::new(name, DataType::Decimal128(REVENUE_PRECISION, REVENUE_SCALE), true),
            "interactive" => Field::new(name, DataType::Boolean, false),
            "schema_version" => Field::new(name, DataType::UInt8, false),
            "props" => Field::new_map(
                name,
                "entries",
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, true),
                false,
                true,
            ),
            _ => text(name, true),
        });
    }
    Arc::new(Schema::new(fields))
}

/// The batch with `props` as JSON text, for CSV (which has no nested values).
fn props_as_json(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let Some((index, _)) = schema.column_with_name("props") else {
        return Ok(batch.clone());
    };
    let column = batch.column(index);
    let Some(maps) = column.as_map_opt() else {
        return Ok(batch.clone());
    };
    let keys =
        maps.keys().as_string_opt::<i32>().ok_or_else(|| encode_error("property keys are not text"))?;
    let values =
        maps.values().as_string_opt::<i32>().ok_or_else(|| encode_error("property values are not text"))?;
    let mut text = StringBuilder::with_capacity(maps.len(), maps.len() * 16);
    let offsets = maps.value_offsets();
    for row in 0..maps.len() {
        if maps.is_null(row) {
            text.append_null();
            continue;
        }
        let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
        let object: BTreeMap<&str, Option<&str>> =
            (from..to).map(|i| (keys.value(i), (!values.is_null(i)).then(|| values.value(i)))).collect();
        text.append_value(serde_json::to_string(&object).map_err(encode_error)?);
    }
    let mut fields: Vec<Field> = schema.fields().iter().map(|field| field.as_ref().clone()).collect();
    fields[index] = Field::new("props", DataType::Utf8, true);
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(text.finish());
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(encode_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cut_at_the_row_limit_and_never_split_an_hour() {
        let hour = 3_600_000;
        let hours =
            [(0, SLICE_ROWS - 10), (hour, 5), (2 * hour, 20), (5 * hour, SLICE_ROWS * 3), (6 * hour, 1)];
        let slices = cut_slices(&hours, 123, 7 * hour);
        let bounds: Vec<(i64, i64)> = slices.iter().map(|s| (s.start_ms, s.end_ms)).collect();
        assert_eq!(
            bounds,
            vec![(123, 2 * hour), (2 * hour, 5 * hour), (5 * hour, 6 * hour), (6 * hour, 7 * hour)]
        );
        assert!(cut_slices(&[], 0, hour).is_empty());
    }

    #[test]
    fn ids_are_sixteen_hex_digits() {
        let ids =
            duckdb::arrow::array::UInt64Array::from(vec![Some(0), Some(0xdead_beef), Some(u64::MAX), None]);
        let text = hex_ids(&ids);
        assert_eq!(text.value(0), "0000000000000000");
        assert_eq!(text.value(1), "00000000deadbeef");
        assert_eq!(text.value(2), "ffffffffffffffff");
        assert!(text.is_null(3));
    }

    #[test]
    fn formats_parse_by_name() {
        for format in ExportFormat::ALL {
            assert_eq!(ExportFormat::parse(format.name()), Some(format));
        }
        assert_eq!(ExportFormat::parse("xlsx"), None);
    }
}
