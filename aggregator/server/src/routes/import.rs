//! `POST /control/import`: imports a Hitkeep takeout file, or a Plausible CSV export (its zip,
//! a directory of its `imported_*.csv` files, or one of them) as imported history, for
//! `hitkeep import`, reporting its progress as one JSON object per line (the control socket
//! only: whoever may use it owns the data already).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use hitkeep_store::{ExportFormat, ImportProgress, ImportReport, ImportTarget};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::AppError;
use crate::state::AppState;

/// `POST /control/import`.
pub fn control_router() -> Router<AppState> {
    Router::new().route("/control/import", post(control_import))
}

/// A site's imported history over the API: upload a Plausible export, list and remove
/// imports (`/api/sites/{domain}/imports`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/sites/{domain}/imports",
            axum::routing::get(list_imports).post(upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/sites/{domain}/imports/{id}", axum::routing::delete(remove_import))
}

/// The largest upload: a Plausible export of a big site is some hundreds of MiB.
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// How long an upload may take to arrive.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// One upload at a time: each holds a file on disk and a write transaction.
static UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Query of `POST /api/sites/{domain}/imports`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    /// The file's name: a `.zip`, or one `imported_<table>_<first>_<last>.csv`.
    name: String,
}

/// `GET /api/sites/{domain}/imports`: the site's imports, newest first.
async fn list_imports(
    State(state): State<AppState>,
    access: crate::auth::SiteAccess<crate::auth::NeedsManage>,
) -> Result<Json<Vec<hitkeep_store::SiteImport>>, AppError> {
    let site_id = access.site.id;
    Ok(Json(state.with_store(move |store| store.site_imports(site_id)).await?))
}

/// `DELETE /api/sites/{domain}/imports/{id}`: removes an import and what it stored.
async fn remove_import(
    State(state): State<AppState>,
    access: crate::auth::SiteAccess<crate::auth::NeedsManage>,
    axum::extract::Path((_, id)): axum::extract::Path<(String, u32)>,
) -> Result<axum::http::StatusCode, AppError> {
    let site_id = access.site.id;
    state.with_store(move |store| store.remove_site_import(site_id, id)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `POST /api/sites/{domain}/imports?name=export.zip`: the body is a Plausible CSV export
/// (its zip, or one of its files), streamed to a temporary file in the data directory and
/// imported in one transaction.
async fn upload(
    State(state): State<AppState>,
    access: crate::auth::SiteAccess<crate::auth::NeedsManage>,
    axum::extract::Query(query): axum::extract::Query<UploadQuery>,
    body: axum::body::Body,
) -> Result<(axum::http::StatusCode, Json<hitkeep_store::PlausibleImport>), AppError> {
    let name = query.name.rsplit(['/', '\\']).next().unwrap_or_default().to_owned();
    let is_zip = name.to_ascii_lowercase().ends_with(".zip");
    if !is_zip && hitkeep_store::parse_plausible_file_name(&name).is_none() {
        return Err(AppError::bad_request(
            "invalid_import",
            "name the file: a Plausible export's .zip, or one of its imported_<table>_<yyyymmdd>_<yyyymmdd>.csv",
        ));
    }
    let _permit = UPLOADS.try_acquire().map_err(|_| {
        AppError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_imports",
            "an import is running; try again when it has finished",
        )
    })?;
    let data_dir = state.store.path().parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let upload_dir = tempfile::Builder::new()
        .prefix(".upload-")
        .tempdir_in(&data_dir)
        .map_err(|error| AppError::internal(format!("making the upload's directory: {error}")))?;
    let file = upload_dir.path().join(&name);
    let received = tokio::time::timeout(UPLOAD_TIMEOUT, receive(body, &file)).await.map_err(|_| {
        AppError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "upload_timeout",
            "the upload took longer than 15 minutes",
        )
    })??;
    tracing::info!(site_id = access.site.id, bytes = received, "plausible export uploaded");
    let (store, site_id, now_ms) = (state.store.clone(), access.site.id, state.now_ms());
    let report = tokio::task::spawn_blocking(move || {
        let (files, _unpacked) = plausible_files(&file, &data_dir)?;
        let report = store.import_plausible(site_id, files, now_ms).map_err(AppError::from);
        drop(upload_dir);
        report
    })
    .await??;
    Ok((axum::http::StatusCode::CREATED, Json(report)))
}

/// Writes a request body to `path`, at most [`MAX_UPLOAD_BYTES`]; its size.
async fn receive(body: axum::body::Body, path: &std::path::Path) -> Result<u64, AppError> {
    use futures_util::StreamExt as _;
    use tokio::io::AsyncWriteExt as _;
    let failed = |error: std::io::Error| AppError::internal(format!("writing the upload: {error}"));
    let mut out = tokio::fs::File::create(path).await.map_err(failed)?;
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            AppError::bad_request("invalid_import", format!("reading the upload: {error}"))
        })?;
        total += chunk.len() as u64;
        if total > MAX_UPLOAD_BYTES {
            return Err(AppError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "import_too_large",
                format!(
                    "an upload is at most {} MiB; import larger exports with `hitkeep import`",
                    MAX_UPLOAD_BYTES >> 20
                ),
            ));
        }
        out.write_all(&chunk).await.map_err(failed)?;
    }
    out.flush().await.map_err(failed)?;
    Ok(total)
}

/// Body of `POST /control/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    /// The takeout file: an absolute path.
    file: PathBuf,
    /// Its format: `parquet`, `csv`, `json`, `ndjson`, or `plausible`.
    format: String,
    /// Every row into this site; else each into the site it names.
    site: Option<String>,
}

/// A line of `POST /control/import`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportLine {
    /// The file's size in bytes.
    Size {
        /// Bytes.
        bytes: u64,
    },
    /// How far it got (at most five lines a second).
    Step {
        /// Bytes of the file read.
        bytes: u64,
        /// Counts so far.
        report: ImportReport,
    },
    /// It is complete.
    Done(ImportReport),
    /// A Plausible export is imported.
    Imported(hitkeep_store::PlausibleImport),
    /// It failed; the steps before were stored (running it again skips them).
    Error {
        /// Machine-readable.
        code: String,
        /// For people.
        message: String,
        /// What was stored before the error.
        report: ImportReport,
    },
}

const PROGRESS_EVERY: Duration = Duration::from_millis(200);

async fn control_import(
    State(state): State<AppState>,
    Json(request): Json<ImportRequest>,
) -> Result<Response, AppError> {
    if !request.file.is_absolute() {
        return Err(AppError::bad_request("invalid_import", "the file's path must be absolute"));
    }
    if request.format == "plausible" {
        return import_plausible(state, request).await;
    }
    let format = ExportFormat::parse(&request.format).ok_or_else(|| {
        AppError::bad_request("invalid_import", format!("unknown format {:?}", request.format))
    })?;
    let target = match &request.site {
        Some(domain) => ImportTarget::Site(crate::routes::control_site(&state, domain.clone()).await?.id),
        None => ImportTarget::BySite(
            state
                .with_store(|store| store.sites())
                .await?
                .into_iter()
                .map(|site| (site.domain, site.id))
                .collect(),
        ),
    };
    let (lines, receiver) = mpsc::unbounded_channel::<ImportLine>();
    let store = state.store.clone();
    let now_ms = state.now_ms();
    tokio::task::spawn_blocking(move || {
        let mut last_line = Instant::now();
        let mut report = ImportReport::default();
        let result =
            store.import_takeout(&request.file, format, &target, now_ms, &mut |progress| match progress {
                ImportProgress::Size(bytes) => {
                    let _ = lines.send(ImportLine::Size { bytes });
                }
                ImportProgress::Step { bytes, report: so_far } => {
                    report = so_far;
                    if last_line.elapsed() >= PROGRESS_EVERY {
                        last_line = Instant::now();
                        let _ = lines.send(ImportLine::Step { bytes, report: so_far });
                    }
                }
            });
        let last = match result {
            Ok(report) => {
                tracing::info!(read = report.read, stored = report.stored, "takeout imported");
                ImportLine::Done(report)
            }
            Err(error) => {
                let message = error.to_string();
                ImportLine::Error { code: AppError::from(error).code().to_owned(), message, report }
            }
        };
        let _ = lines.send(last);
    });
    Ok(super::ndjson_lines(receiver))
}

/// The most a Plausible export may hold uncompressed.
const MAX_PLAUSIBLE_BYTES: u64 = 20 << 30;

/// Imports a Plausible CSV export into a site's imported history, in one transaction.
async fn import_plausible(state: AppState, request: ImportRequest) -> Result<Response, AppError> {
    let Some(domain) = request.site.clone() else {
        return Err(AppError::bad_request(
            "invalid_import",
            "a Plausible export needs the site it is for (--site)",
        ));
    };
    let site = crate::routes::control_site(&state, domain).await?;
    let (lines, receiver) = mpsc::unbounded_channel::<ImportLine>();
    let (store, now_ms) = (state.store.clone(), state.now_ms());
    let data_dir = store.path().parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let outcome = plausible_files(&request.file, &data_dir).and_then(|(files, _unpacked)| {
            store.import_plausible(site.id, files, now_ms).map_err(AppError::from)
        });
        let last = match outcome {
            Ok(report) => ImportLine::Imported(report),
            Err(error) => ImportLine::Error {
                code: error.code().to_owned(),
                message: error.message(),
                report: ImportReport::default(),
            },
        };
        let _ = lines.send(last);
    });
    Ok(super::ndjson_lines(receiver))
}

type PlausibleFiles = Vec<(String, Box<dyn std::io::Read + Send>)>;

/// The CSV files of a Plausible export at `path`: a zip (unpacked into a temporary directory
/// in the data directory, removed when the returned guard is dropped), a directory, or one
/// file.
fn plausible_files(
    path: &std::path::Path,
    data_dir: &std::path::Path,
) -> Result<(PlausibleFiles, Option<tempfile::TempDir>), AppError> {
    let unreadable = |error: &dyn std::fmt::Display| {
        AppError::bad_request("invalid_import", format!("reading {}: {error}", path.display()))
    };
    let open = |file: &std::path::Path| -> Result<Box<dyn std::io::Read + Send>, AppError> {
        Ok(Box::new(std::io::BufReader::new(std::fs::File::open(file).map_err(|e| unreadable(&e))?)))
    };
    let is_export_file = |name: &str| hitkeep_store::parse_plausible_file_name(name).is_some();
    if path.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| unreadable(&e))? {
            let entry = entry.map_err(|e| unreadable(&e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_export_file(&name) {
                files.push((name, open(&entry.path())?));
            }
        }
        return Ok((files, None));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.to_ascii_lowercase().ends_with(".zip") {
        return Ok((vec![(name, open(path)?)], None));
    }
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).map_err(|e| unreadable(&e))?)
        .map_err(|e| unreadable(&e))?;
    let unpacked = tempfile::Builder::new()
        .prefix(".plausible-import-")
        .tempdir_in(data_dir)
        .map_err(|e| unreadable(&e))?;
    let mut files = Vec::new();
    let mut total = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| unreadable(&e))?;
        let full_name = entry.name().map_err(|e| unreadable(&e))?.into_owned();
        let entry_name = full_name.rsplit('/').next().unwrap_or_default().to_owned();
        if !entry.is_file() || !is_export_file(&entry_name) {
            continue;
        }
        let target = unpacked.path().join(format!("{index}.csv"));
        let mut out = std::fs::File::create(&target).map_err(|e| unreadable(&e))?;
        // Counted as it is written, not as the archive claims: a zip bomb stops at the limit.
        let mut limited = std::io::Read::take(&mut entry, MAX_PLAUSIBLE_BYTES - total + 1);
        total += std::io::copy(&mut limited, &mut out).map_err(|e| unreadable(&e))?;
        if total > MAX_PLAUSIBLE_BYTES {
            return Err(AppError::bad_request(
                "invalid_import",
                format!("the export holds more than {} GiB of CSV", MAX_PLAUSIBLE_BYTES >> 30),
            ));
        }
        files.push((entry_name, open(&target)?));
    }
    Ok((files, Some(unpacked)))
}
