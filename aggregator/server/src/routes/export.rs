//! Takeout: a site's raw events (`GET /api/sites/{domain}/export`), or those of every site
//! the caller may read (`GET /api/export`), streamed as Parquet, CSV, JSON or NDJSON; and
//! `POST /control/export`, which writes a file for `hitkeep export` and reports its progress.
//!
//! The store writes in slices (see `hitkeep_store::Store::export_events`) into a bounded
//! channel that the response body drains, so memory stays flat for any size and a slow
//! client slows the export down rather than filling memory. A client that stops reading for
//! [`STALL_TIMEOUT`] ends it. Errors found before the first byte (a bad filter) are answered
//! as usual; an error after it cuts the response short, which every HTTP client reports.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono_tz::Tz;
use hitkeep_store::{ExportFormat, ExportProgress, ExportSite, ExportSummary, Site};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::auth::{Access, NeedsRead, Principal, SiteAccess};
use crate::error::AppError;
use crate::state::AppState;

/// Exports running at once; another is refused with `429 too_many_exports`.
pub const MAX_EXPORTS: usize = 2;

/// How long a client may stop reading before its export is ended.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The size of the chunks sent to the client.
const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks in flight between the export and the response.
const CHANNEL_CHUNKS: usize = 8;

static EXPORTS: Semaphore = Semaphore::const_new(MAX_EXPORTS);

/// The takeout's API routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/sites/{domain}/export", get(site_export)).route("/api/export", get(all_export))
}

/// `POST /control/export`, for `hitkeep export`.
pub fn control_router() -> Router<AppState> {
    Router::new().route("/control/export", post(control_export))
}

/// The query string of the export routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    /// `parquet` (the default), `csv`, `json` or `ndjson`.
    format: Option<String>,
    /// As the Stats API's (`30d`, `month`, `all`...), or two dates: `2026-01-01,2026-01-31`;
    /// all of the events when absent.
    date_range: Option<String>,
    /// The Stats API's filters, as JSON.
    filters: Option<String>,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::bad_request("invalid_export", message)
}

fn parse_format(name: Option<&str>) -> Result<ExportFormat, AppError> {
    let name = name.unwrap_or("parquet");
    ExportFormat::parse(name).ok_or_else(|| {
        let names: Vec<&str> = ExportFormat::ALL.iter().map(|format| format.name()).collect();
        invalid(format!("unknown format {name:?}: one of {}", names.join(", ")))
    })
}

/// The Stats API's `date_range` for a query-string value: a name, or two dates.
fn date_range_json(value: &str) -> Value {
    match value.split_once(',') {
        Some((from, to)) => json!([from.trim(), to.trim()]),
        None => json!(value),
    }
}

/// What to export of `site`: the range (in the site's zone) and the filters, read with the
/// Stats API's parser so that they mean what they mean in a query.
fn export_site(
    state: &AppState,
    site: &Site,
    date_range: Option<&Value>,
    filters: Option<&Value>,
) -> Result<ExportSite, AppError> {
    let all = date_range.is_none_or(|range| *range == "all");
    let mut body = json!({
        "site_id": site.domain,
        "metrics": ["events"],
        "date_range": date_range.cloned().unwrap_or(json!("all")),
    });
    if let Some(filters) = filters {
        body["filters"] = filters.clone();
    }
    let timezone: Tz = site.timezone.parse().unwrap_or(Tz::UTC);
    let request = crate::stats::parse(&body, site.id, &site.domain, timezone, state.now_ms(), false)
        .map_err(|error| invalid(error.0))?;
    let (start_ms, end_ms) =
        if all { (None, None) } else { (Some(request.query.start_ms), Some(request.query.end_ms)) };
    Ok(ExportSite { site: site.clone(), start_ms, end_ms, filter: request.query.filter })
}

fn filters_json(filters: Option<&str>) -> Result<Option<Value>, AppError> {
    filters
        .map(|text| {
            serde_json::from_str(text).map_err(|error| invalid(format!("filters are not JSON: {error}")))
        })
        .transpose()
}

/// `GET /api/sites/{domain}/export?format=parquet&date_range=30d&filters=[...]`.
async fn site_export(
    State(state): State<AppState>,
    access: SiteAccess<NeedsRead>,
    params: Result<UrlQuery<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let UrlQuery(params) = params.map_err(|rejection| invalid(rejection.body_text()))?;
    let format = parse_format(params.format.as_deref())?;
    let range = params.date_range.as_deref().map(date_range_json);
    let filters = filters_json(params.filters.as_deref())?;
    let site = export_site(&state, &access.site, range.as_ref(), filters.as_ref())?;
    let name = format!("{}-events.{}", file_safe(&access.site.domain), format.name());
    stream(&state, vec![site], format, &name).await
}

/// `GET /api/export?format=...`: every site the caller may read, one after the other.
async fn all_export(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<UrlQuery<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let UrlQuery(params) = params.map_err(|rejection| invalid(rejection.body_text()))?;
    let format = parse_format(params.format.as_deref())?;
    let range = params.date_range.as_deref().map(date_range_json);
    let filters = filters_json(params.filters.as_deref())?;
    let sites = state.with_store(|store| store.sites()).await?;
    let mut export = Vec::new();
    for site in sites.iter().filter(|site| principal.access(site.id).is_some_and(|a| a >= Access::Read)) {
        export.push(export_site(&state, site, range.as_ref(), filters.as_ref())?);
    }
    stream(&state, export, format, &format!("hitkeep-events.{}", format.name())).await
}

/// A name for a download: the domain with anything odd replaced.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

fn too_many() -> AppError {
    AppError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many_exports",
        format!("{MAX_EXPORTS} exports are running; try again when one has finished"),
    )
}

/// Runs the export on a blocking thread into the response body.
async fn stream(
    state: &AppState,
    sites: Vec<ExportSite>,
    format: ExportFormat,
    file: &str,
) -> Result<Response, AppError> {
    let permit = EXPORTS.try_acquire().map_err(|_| too_many())?;
    let (chunks, receiver) = mpsc::channel::<std::io::Result<Bytes>>(CHANNEL_CHUNKS);
    let (planned, planned_rows) = oneshot::channel::<Result<u64, AppError>>();
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let failed = chunks.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let mut planned = Some(planned);
        let out = ChannelWriter::new(chunks, runtime);
        let result = store.export_events(&sites, format, out, &mut |progress| {
            if let (ExportProgress::Planned { rows, .. }, Some(planned)) = (progress, planned.take()) {
                let _ = planned.send(Ok(rows));
            }
        });
        match result {
            Ok(summary) => tracing::info!(
                rows = summary.rows,
                bytes = summary.bytes,
                seconds = started.elapsed().as_secs_f64(),
                format = format.name(),
                "export streamed"
            ),
            Err(error) => match planned.take() {
                Some(planned) => {
                    let _ = planned.send(Err(error.into()));
                }
                None => {
                    tracing::warn!(%error, "export ended early");
                    let _ = failed.blocking_send(Err(std::io::Error::other(error.to_string())));
                }
            },
        }
    });
    let rows = planned_rows.await.map_err(|_| AppError::internal("the export stopped before it began"))??;
    let mut receiver = receiver;
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert("x-export-rows", HeaderValue::from(rows));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A [`Write`] that sends what is written, in chunks, through a bounded channel: it blocks
/// while the channel is full (the client is slow), and fails when the client is gone or has
/// stalled for [`STALL_TIMEOUT`].
struct ChannelWriter {
    chunks: mpsc::Sender<std::io::Result<Bytes>>,
    runtime: tokio::runtime::Handle,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn new(chunks: mpsc::Sender<std::io::Result<Bytes>>, runtime: tokio::runtime::Handle) -> Self {
        Self { chunks, runtime, buffer: Vec::with_capacity(CHUNK_BYTES) }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES)));
        let sent = self.runtime.block_on(self.chunks.send_timeout(Ok(chunk), STALL_TIMEOUT));
        sent.map_err(|error| match error {
            mpsc::error::SendTimeoutError::Timeout(_) => {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading")
            }
            mpsc::error::SendTimeoutError::Closed(_) => {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            }
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Body of `POST /control/export`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlExport {
    /// The site; every site when absent.
    site: Option<String>,
    /// `parquet`, `csv`, `json` or `ndjson`.
    format: String,
    /// As `date_range` of the API (a name, or two dates); all of the events when absent.
    date_range: Option<Value>,
    /// The Stats API's filters.
    filters: Option<Value>,
    /// The file to write: an absolute path, replaced only when the export succeeds.
    output: PathBuf,
}

/// A line of `POST /control/export`'s answer (one JSON object per line).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportLine {
    /// The rows the export will write.
    Planned {
        /// Events to write.
        rows: u64,
    },
    /// Rows written so far (at most five lines a second).
    Wrote {
        /// Events written.
        rows: u64,
    },
    /// The file is complete.
    Done(ExportSummary),
    /// It failed; no file was left behind.
    Error {
        /// Machine-readable.
        code: String,
        /// For people.
        message: String,
    },
}

/// How often a progress line is sent.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

async fn control_export(
    State(state): State<AppState>,
    Json(request): Json<ControlExport>,
) -> Result<Response, AppError> {
    let format = parse_format(Some(&request.format))?;
    if !request.output.is_absolute() {
        return Err(invalid("the output path must be absolute"));
    }
    let sites = match &request.site {
        Some(domain) => vec![crate::routes::control_site(&state, domain.clone()).await?],
        None => state.with_store(|store| store.sites()).await?,
    };
    let mut export = Vec::with_capacity(sites.len());
    for site in &sites {
        export.push(export_site(&state, site, request.date_range.as_ref(), request.filters.as_ref())?);
    }
    let permit = EXPORTS.try_acquire().map_err(|_| too_many())?;
    let (lines, receiver) = mpsc::unbounded_channel::<ExportLine>();
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let last = match write_file(&store, &export, format, &request.output, &lines) {
            Ok(summary) => {
                tracing::info!(rows = summary.rows, bytes = summary.bytes, "export written");
                ExportLine::Done(summary)
            }
            Err(error) => {
                let message = error.to_string();
                ExportLine::Error { code: AppError::from(error).code().to_owned(), message }
            }
        };
        let _ = lines.send(last);
    });
    Ok(super::ndjson_lines(receiver))
}

/// Writes the export into a file beside `output`, renamed to it once complete.
fn write_file(
    store: &hitkeep_store::Store,
    sites: &[ExportSite],
    format: ExportFormat,
    output: &Path,
    lines: &mpsc::UnboundedSender<ExportLine>,
) -> hitkeep_store::Result<ExportSummary> {
    let io = |source| hitkeep_store::Error::Io { path: output.to_path_buf(), source };
    let name = output.file_name().ok_or_else(|| hitkeep_store::Error::Invalid {
        field: "output",
        reason: format!("{} names no file", output.display()),
    })?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(format!(".partial-{}", std::process::id()));
    let partial = output.with_file_name(partial_name);
    let file = std::fs::File::create(&partial).map_err(io)?;
    let mut last_line = Instant::now();
    let result = store.export_events(
        sites,
        format,
        std::io::BufWriter::with_capacity(CHUNK_BYTES, file),
        &mut |progress| match progress {
            ExportProgress::Planned { rows, .. } => {
                let _ = lines.send(ExportLine::Planned { rows });
            }
            ExportProgress::Wrote { rows } if last_line.elapsed() >= PROGRESS_EVERY => {
                last_line = Instant::now();
                let _ = lines.send(ExportLine::Wrote { rows });
            }
            ExportProgress::Wrote { .. } => {}
        },
    );
    let finished = result.and_then(|summary| {
        std::fs::File::open(&partial).and_then(|file| file.sync_all()).map_err(io)?;
        std::fs::rename(&partial, output).map_err(io)?;
        Ok(summary)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}
