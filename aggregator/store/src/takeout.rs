//! Reading a Hitkeep takeout (any of its formats) back, for imports: each row as an
//! [`ImportedEvent`] of the site it names, in steps of [`IMPORT_CHUNK`] rows, so that memory
//! stays flat whatever the file's size.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};

use std::path::Path;

use duckdb::arrow::array::{Array, AsArray, RecordBatch};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Decimal128Type, TimeUnit, TimestampMicrosecondType};
use hitkeep_protocol::{Channel, Device, EventKind};
use serde::Deserialize;

use crate::export::{device_name, kind_label};
use crate::{
    Error, ExportFormat, IMPORT_CHUNK, ImportReport, ImportedEvent, Result, Store, TAKEOUT_SCHEMA_VERSION,
};

/// Where the rows of a takeout go.
#[derive(Debug, Clone)]
pub enum ImportTarget {
    /// Every row into this site, whatever site it names.
    Site(u32),
    /// Each row into the site of the domain it names (by id); a row naming another is an
    /// error.
    BySite(HashMap<String, u32>),
}

/// How far an import got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// The file's size, in bytes.
    Size(u64),
    /// Bytes read so far, and the counts so far.
    Step {
        /// Bytes of the file read.
        bytes: u64,
        /// Counts.
        report: ImportReport,
    },
}

/// A takeout row as JSON and CSV carry it.
#[derive(Debug, Deserialize)]
struct TextRow {
    site: String,
    time: String,
    kind: String,
    name: String,
    hostname: String,
    path: String,
    referrer: Option<String>,
    source: Option<String>,
    channel: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    utm_content: Option<String>,
    utm_term: Option<String>,
    country: Option<String>,
    region: Option<String>,
    city: Option<String>,
    browser: Option<String>,
    browser_version: Option<String>,
    os: Option<String>,
    os_version: Option<String>,
    device: Option<String>,
    revenue: Option<serde_json::Value>,
    revenue_currency: Option<String>,
    interactive: bool,
    /// An object (JSON), or an object's JSON text (CSV).
    props: Option<serde_json::Value>,
    visitor_id: String,
    session_id: String,
    schema_version: Option<u32>,
}

fn invalid(row: u64, reason: impl std::fmt::Display) -> Error {
    Error::Invalid { field: "takeout", reason: format!("row {row}: {reason}") }
}

fn kind_code(label: &str) -> Option<u8> {
    [EventKind::Pageview, EventKind::Custom, EventKind::Engagement]
        .into_iter()
        .find(|kind| kind_label(*kind) == label)
        .map(EventKind::code)
}

fn channel_code(label: Option<&str>) -> Option<u8> {
    match label {
        None | Some("") => Some(Channel::Direct.code()),
        Some(label) => Channel::ALL.into_iter().find(|c| c.label() == label).map(Channel::code),
    }
}

fn device_code(label: Option<&str>) -> Option<u8> {
    match label {
        None | Some("") => Some(Device::Unknown.code()),
        Some(label) => [Device::Desktop, Device::Mobile, Device::Tablet]
            .into_iter()
            .find(|d| device_name(*d) == Some(label))
            .map(Device::code),
    }
}

fn hex_id(text: &str) -> Option<u64> {
    (!text.is_empty() && text.len() <= 16).then(|| u64::from_str_radix(text, 16).ok()).flatten()
}

/// A decimal amount ("12.5", "-3", "1e2" is refused) in millionths, exactly.
fn decimal_micros(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 6
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut micros = whole.checked_mul(1_000_000)?;
    if !fraction.is_empty() {
        let scaled: i64 = format!("{fraction:0<6}").parse().ok()?;
        micros = micros.checked_add(scaled)?;
    }
    Some(if negative { -micros } else { micros })
}

fn empty_none(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.is_empty())
}

impl TextRow {
    fn event(self, row: u64) -> Result<(String, ImportedEvent)> {
        let ts_us = chrono::DateTime::parse_from_rfc3339(&self.time)
            .or_else(|_| chrono::DateTime::parse_from_str(&self.time, "%Y-%m-%dT%H:%M:%S%.f%#z"))
            .map_err(|e| invalid(row, format!("time {:?}: {e}", self.time)))?
            .timestamp_micros();
        self.event_at(row, ts_us)
    }

    /// The event, at `ts_us` (the row's `time` is not read).
    fn event_at(self, row: u64, ts_us: i64) -> Result<(String, ImportedEvent)> {
        if let Some(version) = self.schema_version
            && version != TAKEOUT_SCHEMA_VERSION
        {
            return Err(invalid(row, format!("takeout schema version {version}; this build reads 1")));
        }
        let props = match self.props {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(text)) if text.is_empty() => Vec::new(),
            Some(serde_json::Value::String(text)) => object_props(
                &serde_json::from_str(&text).map_err(|e| invalid(row, format!("props: {e}")))?,
                row,
            )?,
            Some(value) => object_props(&value, row)?,
        };
        let revenue_micros = match self.revenue {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(text)) if text.is_empty() => None,
            Some(serde_json::Value::String(text)) => Some(text),
            Some(serde_json::Value::Number(number)) => Some(number.to_string()),
            Some(other) => return Err(invalid(row, format!("revenue {other}"))),
        }
        .map(|text| decimal_micros(&text).ok_or_else(|| invalid(row, format!("revenue {text:?}"))))
        .transpose()?;
        let event = ImportedEvent {
            ts_us,
            kind: kind_code(&self.kind).ok_or_else(|| invalid(row, format!("kind {:?}", self.kind)))?,
            name: self.name,
            hostname: self.hostname,
            path: self.path,
            referrer: empty_none(self.referrer),
            source: empty_none(self.source),
            channel: channel_code(self.channel.as_deref())
                .ok_or_else(|| invalid(row, format!("channel {:?}", self.channel)))?,
            utm: [
                empty_none(self.utm_source),
                empty_none(self.utm_medium),
                empty_none(self.utm_campaign),
                empty_none(self.utm_content),
                empty_none(self.utm_term),
            ],
            country: empty_none(self.country),
            region: empty_none(self.region),
            city: empty_none(self.city),
            browser: empty_none(self.browser),
            browser_version: empty_none(self.browser_version),
            os: empty_none(self.os),
            os_version: empty_none(self.os_version),
            device: device_code(self.device.as_deref())
                .ok_or_else(|| invalid(row, format!("device {:?}", self.device)))?,
            revenue_micros,
            revenue_currency: empty_none(self.revenue_currency),
            interactive: self.interactive,
            props,
            visitor_id: hex_id(&self.visitor_id)
                .ok_or_else(|| invalid(row, format!("visitor_id {:?}", self.visitor_id)))?,
            session_id: hex_id(&self.session_id)
                .ok_or_else(|| invalid(row, format!("session_id {:?}", self.session_id)))?,
        };
        Ok((self.site, event))
    }
}

fn object_props(value: &serde_json::Value, row: u64) -> Result<Vec<(String, String)>> {
    let Some(object) = value.as_object() else {
        return Err(invalid(row, "props is not an object"));
    };
    object
        .iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => Ok((key.clone(), text.clone())),
            other => Err(invalid(row, format!("property {key} is {other}, not text"))),
        })
        .collect()
}

/// A reader that counts the bytes read, for progress.
struct Counted<R> {
    inner: R,
    bytes: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.bytes.set(self.bytes.get() + read as u64);
        Ok(read)
    }
}

/// Rows gathered per site and stored a step at a time.
struct Steps<'a> {
    store: &'a Store,
    target: &'a ImportTarget,
    now_ms: i64,
    pending: HashMap<u32, Vec<ImportedEvent>>,
    report: ImportReport,
    bytes: std::rc::Rc<std::cell::Cell<u64>>,
    progress: &'a mut dyn FnMut(ImportProgress),
    rows: u64,
}

impl Steps<'_> {
    fn push(&mut self, site: &str, event: ImportedEvent) -> Result<()> {
        self.rows += 1;
        let site_id = match self.target {
            ImportTarget::Site(id) => *id,
            ImportTarget::BySite(sites) => *sites.get(site).ok_or_else(|| {
                invalid(
                    self.rows,
                    format!("site {site:?} does not exist here: add it, or import with --site"),
                )
            })?,
        };
        let pending = self.pending.entry(site_id).or_default();
        pending.push(event);
        if pending.len() >= IMPORT_CHUNK {
            let events = std::mem::take(pending);
            self.store_step(site_id, &events)?;
        }
        Ok(())
    }

    fn store_step(&mut self, site_id: u32, events: &[ImportedEvent]) -> Result<()> {
        let report = self.store.import_events(site_id, events, self.now_ms)?;
        self.report.add(report);
        (self.progress)(ImportProgress::Step { bytes: self.bytes.get(), report: self.report });
        Ok(())
    }

    fn finish(mut self) -> Result<ImportReport> {
        let pending: Vec<(u32, Vec<ImportedEvent>)> = self.pending.drain().collect();
        for (site_id, events) in pending {
            self.store_step(site_id, &events)?;
        }
        Ok(self.report)
    }
}

impl Store {
    /// Imports the takeout file at `path` (written by `hitkeep export` in `format`), in steps
    /// of [`IMPORT_CHUNK`] rows, each its own transaction; an import that stops half way can
    /// be run again (what is stored already is skipped).
    pub fn import_takeout(
        &self,
        path: &Path,
        format: ExportFormat,
        target: &ImportTarget,
        now_ms: i64,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let io = |source| Error::Io { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        progress(ImportProgress::Size(size));
        let bytes = std::rc::Rc::new(std::cell::Cell::new(0));
        let reader = Counted { inner: file, bytes: bytes.clone() };
        let mut steps = Steps {
            store: self,
            target,
            now_ms,
            pending: HashMap::new(),
            report: ImportReport::default(),
            bytes: bytes.clone(),
            progress,
            rows: 0,
        };
        match format {
            ExportFormat::Ndjson => {
                for (index, line) in BufReader::new(reader).lines().enumerate() {
                    let line = line.map_err(io)?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let row: TextRow =
                        serde_json::from_str(&line).map_err(|e| invalid(index as u64 + 1, e))?;
                    let (site, event) = row.event(index as u64 + 1)?;
                    steps.push(&site, event)?;
                }
            }
            ExportFormat::Json => {
                let mut deserializer = serde_json::Deserializer::from_reader(BufReader::new(reader));
                serde::Deserializer::deserialize_seq(&mut deserializer, RowsVisitor { steps: &mut steps })
                    .map_err(|e| invalid(steps.rows, e))?;
            }
            ExportFormat::Csv => {
                let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
                for (index, row) in csv.deserialize::<TextRow>().enumerate() {
                    let row = row.map_err(|e| invalid(index as u64 + 1, e))?;
                    let (site, event) = row.event(index as u64 + 1)?;
                    steps.push(&site, event)?;
                }
            }
            ExportFormat::Parquet => {
                let file = std::fs::File::open(path).map_err(io)?;
                let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|e| invalid(0, e))?;
                let total_rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
                let reader = builder.with_batch_size(8192).build().map_err(|e| invalid(0, e))?;
                for batch in reader {
                    let batch = batch.map_err(|e| invalid(steps.rows, e))?;
                    for (site, event) in parquet_rows(&batch, steps.rows)? {
                        steps.push(&site, event)?;
                    }
                    // Progress by rows, as a share of the file's size.
                    bytes.set(size.saturating_mul(steps.rows) / total_rows);
                }
            }
        }
        steps.finish()
    }
}

/// Each element of a JSON array, pushed as it is read.
struct RowsVisitor<'s, 'a> {
    steps: &'s mut Steps<'a>,
}

impl<'de> serde::de::Visitor<'de> for RowsVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of takeout rows")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(row) = seq.next_element::<TextRow>()? {
            let row_number = self.steps.rows + 1;
            let pushed = row.event(row_number).and_then(|(site, event)| self.steps.push(&site, event));
            if let Err(error) = pushed {
                return Err(serde::de::Error::custom(error));
            }
        }
        Ok(())
    }
}

/// The rows of a Parquet batch (column types as `hitkeep export` writes them, or what
/// casts to them: any string type, any time unit, any decimal or float amount).
fn parquet_rows(batch: &RecordBatch, before: u64) -> Result<Vec<(String, ImportedEvent)>> {
    let fail = |reason: String| invalid(before + 1, reason);
    let column = |name: &str, to: &DataType| {
        let array = batch.column_by_name(name).ok_or_else(|| fail(format!("no column {name}")))?;
        cast(array, to).map_err(|e| fail(format!("column {name}: {e}")))
    };
    let text = |name: &str| column(name, &DataType::Utf8);
    // Every column is read as text but the time, the amount, the flag, the properties and
    // the version.
    let names = crate::TAKEOUT_COLUMNS
        .into_iter()
        .filter(|name| !matches!(*name, "time" | "revenue" | "interactive" | "props" | "schema_version"));
    let mut columns = HashMap::new();
    for name in names {
        columns.insert(name, text(name)?);
    }
    let get = |name: &str, row: usize| -> Option<String> {
        let array = columns[name].as_string::<i32>();
        (!array.is_null(row)).then(|| array.value(row).to_owned())
    };
    let time = column("time", &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let time = time.as_primitive::<TimestampMicrosecondType>();
    let revenue = column("revenue", &DataType::Decimal128(18, 6))?;
    let revenue = revenue.as_primitive::<Decimal128Type>();
    let interactive = column("interactive", &DataType::Boolean)?;
    let interactive = interactive.as_boolean();
    let props = batch.column_by_name("props");
    if let Some(version) = batch.column_by_name("schema_version") {
        let version = cast(version, &DataType::UInt32).map_err(|e| fail(e.to_string()))?;
        let version = version.as_primitive::<duckdb::arrow::datatypes::UInt32Type>();
        if let Some(other) = version.iter().flatten().find(|v| *v != TAKEOUT_SCHEMA_VERSION) {
            return Err(fail(format!("takeout schema version {other}; this build reads 1")));
        }
    }
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let number = before + row as u64 + 1;
        let required = |name: &str| get(name, row).ok_or_else(|| invalid(number, format!("{name} is empty")));
        let text_row = TextRow {
            site: required("site")?,
            time: String::new(),
            kind: required("kind")?,
            name: required("name")?,
            hostname: required("hostname")?,
            path: required("path")?,
            referrer: get("referrer", row),
            source: get("source", row),
            channel: get("channel", row),
            utm_source: get("utm_source", row),
            utm_medium: get("utm_medium", row),
            utm_campaign: get("utm_campaign", row),
            utm_content: get("utm_content", row),
            utm_term: get("utm_term", row),
            country: get("country", row),
            region: get("region", row),
            city: get("city", row),
            browser: get("browser", row),
            browser_version: get("browser_version", row),
            os: get("os", row),
            os_version: get("os_version", row),
            device: get("device", row),
            revenue: None,
            revenue_currency: get("revenue_currency", row),
            interactive: !interactive.is_null(row) && interactive.value(row),
            props: None,
            visitor_id: required("visitor_id")?,
            session_id: required("session_id")?,
            schema_version: None,
        };
        if time.is_null(row) {
            return Err(invalid(number, "time is empty"));
        }
        let (site, mut event) = text_row.event_at(number, time.value(row))?;
        event.revenue_micros = (!revenue.is_null(row)).then(|| revenue.value(row) as i64);
        event.props = match props {
            None => Vec::new(),
            Some(array) => parquet_props(array.as_ref(), row).map_err(|reason| invalid(number, reason))?,
        };
        rows.push((site, event));
    }
    Ok(rows)
}

/// One row's properties: a map of text to text, or an object's JSON text.
fn parquet_props(array: &dyn Array, row: usize) -> std::result::Result<Vec<(String, String)>, String> {
    if array.is_null(row) {
        return Ok(Vec::new());
    }
    if let Some(maps) = array.as_map_opt() {
        let entries = maps.value(row);
        let keys = cast(entries.column(0), &DataType::Utf8).map_err(|e| e.to_string())?;
        let values = cast(entries.column(1), &DataType::Utf8).map_err(|e| e.to_string())?;
        let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
        return Ok((0..keys.len())
            .filter(|&i| !values.is_null(i))
            .map(|i| (keys.value(i).to_owned(), values.value(i).to_owned()))
            .collect());
    }
    let text = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
    let text = text.as_string::<i32>().value(row);
    let object: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| format!("props: {e}"))?;
    Ok(object.into_iter().collect())
}
