//! `hitkeep export`: writes the raw events of a site (or of every site) into a file, through
//! whoever holds the database (the running `serve`, or this process), with a progress bar.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::ExportArgs;
use crate::control::ControlClient;
use crate::routes::export::ExportLine;

/// The format: `--format`, else the output's extension, else Parquet.
fn format(args: &ExportArgs) -> String {
    if let Some(format) = &args.format {
        return format.clone();
    }
    let extension = args.output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some(name @ ("parquet" | "csv" | "json" | "ndjson")) => name.to_owned(),
        Some("jsonl") => "ndjson".to_owned(),
        _ => "parquet".to_owned(),
    }
}

/// Runs `hitkeep export`.
pub async fn run(client: &ControlClient, args: ExportArgs) -> anyhow::Result<String> {
    // The server resolves paths from its own working directory, not ours.
    let output: PathBuf = if args.output.is_absolute() {
        args.output.clone()
    } else {
        std::env::current_dir().context("reading the working directory")?.join(&args.output)
    };
    let site = args.site.as_deref().map(hitkeep_store::normalize_domain).transpose()?;
    let mut body = json!({ "site": site, "format": format(&args), "output": output });
    if args.from.is_some() || args.to.is_some() {
        let from = args.from.as_deref().unwrap_or("1970-01-01");
        let to = args.to.as_deref().unwrap_or("9999-12-31");
        body["date_range"] = json!([from, to]);
    }
    if let Some(filters) = &args.filters {
        body["filters"] = serde_json::from_str(filters).context("--filters is not JSON")?;
    }
    let started = Instant::now();
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bar:40} {human_pos}/{human_len} events  {per_sec}  eta {eta}",
        )
        .expect("the template is valid"),
    );
    let mut summary = None;
    let mut failure = None;
    client
        .call_lines(hyper::Method::POST, "/control/export", Some(body), |line: ExportLine| {
            match line {
                ExportLine::Planned { rows } => bar.set_length(rows),
                ExportLine::Wrote { rows } => bar.set_position(rows),
                ExportLine::Done(done) => summary = Some(done),
                ExportLine::Error { code, message } => failure = Some(format!("{message} ({code})")),
            }
            Ok(())
        })
        .await?;
    bar.finish_and_clear();
    if let Some(failure) = failure {
        bail!("the export failed: {failure}");
    }
    let Some(summary) = summary else { bail!("the export ended without an answer") };
    let seconds = started.elapsed().as_secs_f64();
    Ok(format!(
        "exported {} events ({:.1} MB) into {} in {:.1} s ({:.0} events/s)\n",
        summary.rows,
        summary.bytes as f64 / 1e6,
        output.display(),
        seconds,
        summary.rows as f64 / seconds.max(1e-9)
    ))
}
