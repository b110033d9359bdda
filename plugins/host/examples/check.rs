//! `hitkeep plugin check` without the `hitkeep` binary: checks a plugin file against the
//! contract and runs it on the sample events.
//!
//! `cargo run --release -p hitkeep-plugins --example check -- FILE [SETTINGS_JSON]`
//! (settings default to `{}`). Exits with 1 when the plugin cannot load or fails on a sample.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next().map(PathBuf::from) else {
        eprintln!("usage: check FILE [SETTINGS_JSON]");
        return ExitCode::from(2);
    };
    let settings = args.next().unwrap_or_else(|| "{}".to_string());
    match hitkeep_plugins::check_file(&file, &settings, &hitkeep_plugins::sample_hits()) {
        Ok(report) => {
            println!("{report}");
            if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
