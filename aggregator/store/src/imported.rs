//! Imported history: the aggregated tables of a Plausible CSV export (the zip its UI makes,
//! `imported_visitors_20240101_20241231.csv` and its siblings), kept per site and day beside
//! the events, and answered by the stats engine with `include.imports` (`stats/imported.rs`).
//!
//! Plausible exports one CSV per table, each row a day and the values of its table's
//! dimensions with the visitors, visits, pageviews, bounces and the visits' total duration
//! (seconds) of that day and group. They are kept as they are, in one wide table
//! (`imported_stats`, a column per dimension any table has), because the engine sums them:
//! visitors of several days add up (as Plausible's own imported visitors do), and rates are
//! recomputed from the sums.
//!
//! A day is imported only if the site has no events of its own on it, so that imported and
//! native numbers never count the same day twice, and a file replaces what an earlier import
//! of the same table held on its days: importing the same export twice stores it once.

use std::collections::HashMap;

use chrono::NaiveDate;
use duckdb::params;

use crate::{Error, Result, Store, in_transaction};

/// Plausible's tables, in the order of [`ImportedTable::code`].
pub const IMPORTED_TABLES: [ImportedTable; 10] = [
    ImportedTable::Visitors,
    ImportedTable::Sources,
    ImportedTable::Pages,
    ImportedTable::EntryPages,
    ImportedTable::ExitPages,
    ImportedTable::Locations,
    ImportedTable::Devices,
    ImportedTable::Browsers,
    ImportedTable::OperatingSystems,
    ImportedTable::CustomEvents,
];

/// Most rows one import may hold.
pub const MAX_IMPORTED_ROWS: u64 = 50_000_000;
/// Longest text value of an imported row.
const MAX_VALUE_LEN: usize = 2_000;

/// One of the tables of a Plausible CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportedTable {
    /// Per day: visitors, pageviews, bounces, visits, visit duration.
    Visitors,
    /// Per day and source, referrer and UTM parameters.
    Sources,
    /// Per day, hostname and page.
    Pages,
    /// Per day and entry page.
    EntryPages,
    /// Per day and exit page.
    ExitPages,
    /// Per day, country, region and city (a GeoNames id).
    Locations,
    /// Per day and device.
    Devices,
    /// Per day, browser and its version.
    Browsers,
    /// Per day, operating system and its version.
    OperatingSystems,
    /// Per day, custom event name, link and path.
    CustomEvents,
}

/// The dimension columns of `imported_stats`, in its order.
pub(crate) const DIMENSION_COLUMNS: [&str; 22] = [
    "source",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "hostname",
    "page",
    "entry_page",
    "exit_page",
    "country",
    "region",
    "city",
    "device",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "name",
    "link_url",
    "path",
];

/// The number columns, in the table's order.
const NUMBER_COLUMNS: [&str; 6] = ["visitors", "visits", "pageviews", "bounces", "visit_duration", "events"];

impl ImportedTable {
    pub(crate) fn code(self) -> u8 {
        IMPORTED_TABLES.iter().position(|t| *t == self).expect("listed") as u8 + 1
    }

    /// Its name in Plausible (`imported_visitors`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Visitors => "imported_visitors",
            Self::Sources => "imported_sources",
            Self::Pages => "imported_pages",
            Self::EntryPages => "imported_entry_pages",
            Self::ExitPages => "imported_exit_pages",
            Self::Locations => "imported_locations",
            Self::Devices => "imported_devices",
            Self::Browsers => "imported_browsers",
            Self::OperatingSystems => "imported_operating_systems",
            Self::CustomEvents => "imported_custom_events",
        }
    }

    /// Its CSV columns as Plausible writes them: `(column, where it goes)`. A number column
    /// goes to one of `imported_stats`'s number columns (Plausible's `entrances` and `exits`
    /// are the visits of an entry or exit page); `None` is read and dropped.
    fn columns(self) -> &'static [(&'static str, Option<&'static str>)] {
        const VISIT_NUMBERS: [(&str, Option<&str>); 5] = [
            ("visitors", Some("visitors")),
            ("visits", Some("visits")),
            ("visit_duration", Some("visit_duration")),
            ("bounces", Some("bounces")),
            ("pageviews", Some("pageviews")),
        ];
        match self {
            Self::Visitors => &[
                ("visitors", Some("visitors")),
                ("pageviews", Some("pageviews")),
                ("bounces", Some("bounces")),
                ("visits", Some("visits")),
                ("visit_duration", Some("visit_duration")),
            ],
            Self::Sources => &[
                ("source", Some("source")),
                ("referrer", Some("referrer")),
                ("utm_source", Some("utm_source")),
                ("utm_medium", Some("utm_medium")),
                ("utm_campaign", Some("utm_campaign")),
                ("utm_content", Some("utm_content")),
                ("utm_term", Some("utm_term")),
                ("pageviews", Some("pageviews")),
                ("visitors", Some("visitors")),
                ("visits", Some("visits")),
                ("visit_duration", Some("visit_duration")),
                ("bounces", Some("bounces")),
            ],
            Self::Pages => &[
                ("hostname", Some("hostname")),
                ("page", Some("page")),
                ("visits", Some("visits")),
                ("visitors", Some("visitors")),
                ("pageviews", Some("pageviews")),
                ("scroll_depth", None),
                ("pageleave_visitors", None),
            ],
            Self::EntryPages => &[
                ("entry_page", Some("entry_page")),
                ("visitors", Some("visitors")),
                ("entrances", Some("visits")),
                ("visit_duration", Some("visit_duration")),
                ("bounces", Some("bounces")),
                ("pageviews", Some("pageviews")),
            ],
            Self::ExitPages => &[
                ("exit_page", Some("exit_page")),
                ("visitors", Some("visitors")),
                ("visit_duration", Some("visit_duration")),
                ("exits", Some("visits")),
                ("bounces", Some("bounces")),
                ("pageviews", Some("pageviews")),
            ],
            Self::Locations => &[
                ("country", Some("country")),
                ("region", Some("region")),
                ("city", Some("city")),
                VISIT_NUMBERS[0],
                VISIT_NUMBERS[1],
                VISIT_NUMBERS[2],
                VISIT_NUMBERS[3],
                VISIT_NUMBERS[4],
            ],
            Self::Devices => &[
                ("device", Some("device")),
                VISIT_NUMBERS[0],
                VISIT_NUMBERS[1],
                VISIT_NUMBERS[2],
                VISIT_NUMBERS[3],
                VISIT_NUMBERS[4],
            ],
            Self::Browsers => &[
                ("browser", Some("browser")),
                ("browser_version", Some("browser_version")),
                VISIT_NUMBERS[0],
                VISIT_NUMBERS[1],
                VISIT_NUMBERS[2],
                VISIT_NUMBERS[3],
                VISIT_NUMBERS[4],
            ],
            Self::OperatingSystems => &[
                ("operating_system", Some("os")),
                ("operating_system_version", Some("os_version")),
                VISIT_NUMBERS[0],
                VISIT_NUMBERS[1],
                VISIT_NUMBERS[2],
                VISIT_NUMBERS[3],
                VISIT_NUMBERS[4],
            ],
            Self::CustomEvents => &[
                ("name", Some("name")),
                ("link_url", Some("link_url")),
                ("path", Some("path")),
                ("visitors", Some("visitors")),
                ("events", Some("events")),
            ],
        }
    }
}

/// Reads a Plausible export's file name: `imported_devices_20240101_20241231.csv` (or
/// without `imported_`) is the table and the first and last day it covers.
pub fn parse_plausible_file_name(name: &str) -> Option<(ImportedTable, NaiveDate, NaiveDate)> {
    let base = name.rsplit('/').next()?.strip_suffix(".csv")?;
    let base = base.strip_prefix("imported_").unwrap_or(base);
    let (rest, last) = base.rsplit_once('_')?;
    let (table, first) = rest.rsplit_once('_')?;
    let day = |text: &str| {
        if text.len() == 8 { NaiveDate::parse_from_str(text, "%Y%m%d").ok() } else { None }
    };
    let table = IMPORTED_TABLES.into_iter().find(|t| t.name().strip_prefix("imported_") == Some(table))?;
    Some((table, day(first)?, day(last)?))
}

/// What a Plausible import stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlausibleImport {
    /// The import's id.
    pub id: u32,
    /// The first and last day of the files (`YYYY-MM-DD`).
    pub first_day: Option<String>,
    /// See `first_day`.
    pub last_day: Option<String>,
    /// Rows stored, per table name.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// Rows of days on which the site has events of its own, left out.
    pub skipped_native_days: u64,
}

/// A past import of a site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteImport {
    /// Its id.
    pub id: u32,
    /// Where it came from (`plausible_csv`).
    pub source: String,
    /// The first day it covers (`YYYY-MM-DD`).
    pub first_day: String,
    /// The last.
    pub last_day: String,
    /// Rows it stored.
    pub rows: u64,
    /// When, ms since the epoch.
    pub created_at_ms: i64,
}

fn invalid(file: &str, reason: String) -> Error {
    Error::Invalid { field: "takeout", reason: format!("{file}: {reason}") }
}

impl Store {
    /// Imports the CSV files of a Plausible export into `site_id`'s imported history, in one
    /// transaction: all of them or nothing. `files` are `(file name, contents)`.
    pub fn import_plausible(
        &self,
        site_id: u32,
        files: Vec<(String, Box<dyn std::io::Read + Send>)>,
        now_ms: i64,
    ) -> Result<PlausibleImport> {
        let site = self.sites()?.into_iter().find(|site| site.id == site_id);
        let Some(site) = site else { return Err(Error::SiteNotFound(site_id.to_string())) };
        let zone: chrono_tz::Tz = site.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
        let mut files: Vec<_> = files
            .into_iter()
            .map(|(name, reader)| {
                let parsed = parse_plausible_file_name(&name).ok_or_else(|| {
                    invalid(
                        &name,
                        "not a file of a Plausible export (imported_<table>_<yyyymmdd>_<yyyymmdd>.csv)"
                            .into(),
                    )
                })?;
                Ok((name, parsed, reader))
            })
            .collect::<Result<_>>()?;
        if files.is_empty() {
            return Err(Error::Invalid {
                field: "takeout",
                reason: "no imported_*.csv file in the export".into(),
            });
        }
        files.sort_by_key(|(_, (table, ..), _)| table.code());
        let conn = self.conn();
        // The first day with events of the site's own, in its zone: imported days stop there.
        let first_native: Option<i64> =
            conn.query_row("SELECT epoch_ms(min(ts)) FROM events WHERE site_id = ?", [site_id], |row| {
                row.get(0)
            })?;
        let first_native_day = first_native.map(|ms| crate::stats::utc_to_local(zone, ms).date());
        let mut report = PlausibleImport::default();
        conn.execute_batch("BEGIN TRANSACTION")?;
        let outcome = (|| -> Result<()> {
            report.id = conn.query_row(
                "INSERT INTO site_imports (site_id, source, first_day, last_day, rows, created_at_ms)
                 VALUES (?, 'plausible_csv', DATE '1970-01-01', DATE '1970-01-01', 0, ?) RETURNING id",
                params![site_id, now_ms],
                |row| row.get(0),
            )?;
            let mut total = 0u64;
            let (mut first_day, mut last_day) = (NaiveDate::MAX, NaiveDate::MIN);
            for (name, (table, first, last), reader) in files {
                (first_day, last_day) = (first_day.min(first), last_day.max(last));
                conn.execute(
                    "DELETE FROM imported_stats WHERE site_id = ? AND kind = ? AND day BETWEEN ?::DATE AND ?::DATE",
                    params![site_id, table.code(), first.to_string(), last.to_string()],
                )?;
                let file = ImportFile { name: &name, table, first, last };
                let (stored, skipped) =
                    append_file(&conn, site_id, report.id, &file, first_native_day, reader)?;
                total += stored;
                report.skipped_native_days += skipped;
                if total > MAX_IMPORTED_ROWS {
                    return Err(invalid(&name, format!("an import holds at most {MAX_IMPORTED_ROWS} rows")));
                }
                *report.rows.entry(table.name().to_owned()).or_default() += stored;
            }
            // Imports whose every row was replaced are gone.
            conn.execute(
                "DELETE FROM site_imports WHERE site_id = ? AND id <> ?
                 AND id NOT IN (SELECT DISTINCT import_id FROM imported_stats WHERE site_id = ?)",
                params![site_id, report.id, site_id],
            )?;
            conn.execute(
                "UPDATE site_imports SET first_day = ?::DATE, last_day = ?::DATE, rows = ? WHERE id = ?",
                params![first_day.to_string(), last_day.to_string(), total, report.id],
            )?;
            report.first_day = Some(first_day.to_string());
            report.last_day = Some(last_day.to_string());
            Ok(())
        })();
        match outcome {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(error) => {
                conn.execute_batch("ROLLBACK")?;
                return Err(error);
            }
        }
        tracing::info!(site_id, import = report.id, rows = ?report.rows, "plausible export imported");
        Ok(report)
    }

    /// A site's imports, newest first.
    pub fn site_imports(&self, site_id: u32) -> Result<Vec<SiteImport>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, source, first_day::VARCHAR, last_day::VARCHAR, rows, created_at_ms FROM site_imports
             WHERE site_id = ? ORDER BY id DESC",
        )?;
        let rows = statement.query_map([site_id], |row| {
            Ok(SiteImport {
                id: row.get(0)?,
                source: row.get(1)?,
                first_day: row.get(2)?,
                last_day: row.get(3)?,
                rows: row.get(4)?,
                created_at_ms: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
    }

    /// Removes an import of a site and what it stored.
    pub fn remove_site_import(&self, site_id: u32, id: u32) -> Result<()> {
        let removed = in_transaction(&self.conn(), |conn| {
            conn.execute(
                "DELETE FROM imported_stats WHERE site_id = ? AND import_id = ?",
                params![site_id, id],
            )?;
            conn.execute("DELETE FROM site_imports WHERE site_id = ? AND id = ?", params![site_id, id])
        })?;
        if removed == 0 {
            return Err(Error::Invalid { field: "import", reason: format!("the site has no import {id}") });
        }
        Ok(())
    }
}

/// A file of an export.
struct ImportFile<'a> {
    name: &'a str,
    table: ImportedTable,
    first: NaiveDate,
    last: NaiveDate,
}

/// Appends one file's rows; `(stored, skipped)`.
fn append_file(
    conn: &duckdb::Connection,
    site_id: u32,
    import_id: u32,
    file: &ImportFile<'_>,
    first_native_day: Option<NaiveDate>,
    reader: Box<dyn std::io::Read + Send>,
) -> Result<(u64, u64)> {
    let ImportFile { name, table, first, last } = *file;
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let headers =
        csv.headers().map_err(|error| invalid(name, format!("reading its header: {error}")))?.clone();
    let position: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h.trim(), i)).collect();
    let date_at = *position.get("date").ok_or_else(|| invalid(name, "no `date` column".into()))?;
    // The table's first column (its dimension, or visitors) and visitors must be there;
    // the others are filled when they are (older exports lack some).
    let mut targets = Vec::new();
    for (index, (column, target)) in table.columns().iter().enumerate() {
        match (position.get(column), target) {
            (Some(at), Some(target)) => targets.push((*at, *target)),
            (None, _) if index == 0 || *column == "visitors" => {
                return Err(invalid(
                    name,
                    format!("no `{column}` column ({} has {})", table.name(), columns_list(table)),
                ));
            }
            _ => {}
        }
    }
    let mut appender = conn.appender("imported_stats")?;
    let (mut stored, mut skipped) = (0u64, 0u64);
    let mut record = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => return Err(invalid(name, format!("row {}: {error}", line + 1))),
        }
        line += 1;
        let row_error = |reason: String| invalid(name, format!("row {line}: {reason}"));
        let day = NaiveDate::parse_from_str(record.get(date_at).unwrap_or("").trim(), "%Y-%m-%d")
            .map_err(|_| row_error("`date` is not a YYYY-MM-DD day".into()))?;
        if day < first || day > last {
            return Err(row_error(format!("{day} is outside the file's days ({first} to {last})")));
        }
        if first_native_day.is_some_and(|native| day >= native) {
            skipped += 1;
            continue;
        }
        let mut texts: [Option<String>; DIMENSION_COLUMNS.len()] = Default::default();
        let mut numbers = [0u64; NUMBER_COLUMNS.len()];
        for (at, target) in &targets {
            let value = record.get(*at).unwrap_or("").trim();
            if let Some(slot) = NUMBER_COLUMNS.iter().position(|c| c == target) {
                numbers[slot] = if value.is_empty() {
                    0
                } else {
                    value
                        .parse()
                        .map_err(|_| row_error(format!("`{target}` is not a whole number: {value:?}")))?
                };
            } else if let Some(slot) = DIMENSION_COLUMNS.iter().position(|c| c == target) {
                if value.len() > MAX_VALUE_LEN || value.chars().any(char::is_control) {
                    return Err(row_error(format!(
                        "`{target}` is longer than {MAX_VALUE_LEN} bytes or has control characters"
                    )));
                }
                // Plausible writes an empty string for "none" (a direct visit's source).
                texts[slot] = (!value.is_empty() && value != "(none)").then(|| value.to_owned());
            }
        }
        appender.append_row(duckdb::appender_params_from_iter(
            [
                duckdb::types::Value::UInt(site_id),
                duckdb::types::Value::UInt(import_id),
                duckdb::types::Value::UTinyInt(table.code()),
                duckdb::types::Value::Date32(
                    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days() as i32,
                ),
            ]
            .into_iter()
            .chain(
                texts
                    .into_iter()
                    .map(|text| text.map_or(duckdb::types::Value::Null, duckdb::types::Value::Text)),
            )
            .chain(numbers.into_iter().map(duckdb::types::Value::UBigInt)),
        ))?;
        stored += 1;
    }
    appender.flush()?;
    Ok((stored, skipped))
}

fn columns_list(table: ImportedTable) -> String {
    std::iter::once("date").chain(table.columns().iter().map(|(c, _)| *c)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_the_table_and_its_days() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            parse_plausible_file_name("imported_operating_systems_20240101_20241231.csv"),
            Some((ImportedTable::OperatingSystems, day(2024, 1, 1), day(2024, 12, 31)))
        );
        assert_eq!(
            parse_plausible_file_name("export/devices_20240101_20240131.csv"),
            Some((ImportedTable::Devices, day(2024, 1, 1), day(2024, 1, 31)))
        );
        assert_eq!(parse_plausible_file_name("imported_devices_2024_20240131.csv"), None);
        assert_eq!(parse_plausible_file_name("my_data.csv"), None);
        assert_eq!(parse_plausible_file_name("imported_cats_20240101_20240131.csv"), None);
    }
}
