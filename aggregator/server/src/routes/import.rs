//! `POST /control/import`: imports a Hitkeep takeout file for `hitkeep import`, reporting
//! its progress as one JSON object per line (the control socket only: whoever may use it
//! owns the data already).

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

/// Body of `POST /control/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    /// The takeout file: an absolute path.
    file: PathBuf,
    /// Its format: `parquet`, `csv`, `json` or `ndjson`.
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
    let format = ExportFormat::parse(&request.format).ok_or_else(|| {
        AppError::bad_request("invalid_import", format!("unknown format {:?}", request.format))
    })?;
    if !request.file.is_absolute() {
        return Err(AppError::bad_request("invalid_import", "the file's path must be absolute"));
    }
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
