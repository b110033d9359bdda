//! `hitkeep import`: imports a Hitkeep takeout through whoever holds the database (the
//! running `serve`, or this process), with a progress bar.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::ImportArgs;
use crate::control::ControlClient;
use crate::routes::import::ImportLine;

/// Runs `hitkeep import`.
pub async fn run(client: &ControlClient, args: ImportArgs) -> anyhow::Result<String> {
    let file: PathBuf = if args.file.is_absolute() {
        args.file.clone()
    } else {
        std::env::current_dir().context("reading the working directory")?.join(&args.file)
    };
    let plausible_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| hitkeep_store::parse_plausible_file_name(name).is_some());
    let format = match &args.format {
        Some(format) => format.clone(),
        None if file.is_dir() || plausible_name => "plausible".to_owned(),
        None => match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("zip") => "plausible".to_owned(),
            Some(name @ ("parquet" | "csv" | "json" | "ndjson")) => name.to_owned(),
            Some("jsonl") => "ndjson".to_owned(),
            _ => bail!("say the file's format with --format (parquet, csv, json, ndjson or plausible)"),
        },
    };
    let site = args.site.as_deref().map(hitkeep_store::normalize_domain).transpose()?;
    let body = json!({ "file": file, "format": format, "site": site });
    let started = Instant::now();
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bar:40} {binary_bytes}/{binary_total_bytes}  {msg}  eta {eta}",
        )
        .expect("the template is valid"),
    );
    let mut done = None;
    let mut imported = None;
    let mut failure = None;
    client
        .call_lines(hyper::Method::POST, "/control/import", Some(body), |line: ImportLine| {
            match line {
                ImportLine::Size { bytes } => bar.set_length(bytes),
                ImportLine::Step { bytes, report } => {
                    bar.set_position(bytes);
                    bar.set_message(format!("{} stored, {} skipped", report.stored, report.skipped));
                }
                ImportLine::Done(report) => done = Some(report),
                ImportLine::Imported(report) => imported = Some(report),
                ImportLine::Error { code, message, report } => failure = Some((code, message, report)),
            }
            Ok(())
        })
        .await?;
    bar.finish_and_clear();
    if let Some((code, message, report)) = failure {
        bail!(
            "the import failed: {message} ({code}); {} events were stored before it, and running it again skips them",
            report.stored
        );
    }
    if let Some(report) = imported {
        let tables: Vec<String> = report.rows.iter().map(|(table, rows)| format!("{table} {rows}")).collect();
        let skipped = if report.skipped_native_days > 0 {
            format!(
                "; {} rows of days the site has events of its own were left out",
                report.skipped_native_days
            )
        } else {
            String::new()
        };
        return Ok(format!(
            "imported the Plausible export {} ({} to {}) as imported history #{}: {}{skipped}, in {:.1} s\n",
            file.display(),
            report.first_day.as_deref().unwrap_or("?"),
            report.last_day.as_deref().unwrap_or("?"),
            report.id,
            tables.join(", "),
            started.elapsed().as_secs_f64()
        ));
    }
    let Some(report) = done else { bail!("the import ended without an answer") };
    Ok(format!(
        "imported {} events from {}: {} stored, {} already there, in {:.1} s\n",
        report.read,
        file.display(),
        report.stored,
        report.skipped,
        started.elapsed().as_secs_f64()
    ))
}
