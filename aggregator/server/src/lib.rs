//! The `hitkeep` server: the HTTP application and its authorization, the command line,
//! `hitkeep serve`. The binary (`src/main.rs`) only calls [`main`]; the library exists so
//! benchmarks and tests reach the same code.

pub mod app;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod control;
pub mod demo;
pub mod edge;
pub mod edge_credentials;
pub mod error;
pub mod favicons;
pub mod leader;
pub mod listener;
pub mod mail;
pub mod oidc;
pub mod replicated;
pub mod reports;
pub mod retention;
pub mod routes;
pub mod salts;
pub mod serve;
pub mod state;
pub mod stats;
#[doc(hidden)]
pub mod test_app;

use std::path::PathBuf;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::LogFormat;
use crate::control::ControlClient;

/// Parses the command line and runs the command.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let global = cli.global;
    match cli.command {
        Command::Serve(mut args) => {
            args.data_dir = global.data_dir.clone();
            args.log_level = global.log_level.clone();
            let config = config::load(global.config.as_deref(), &args, &env)?;
            init_logging(&config.log_level, config.log_format)?;
            tracing::debug!(?config, "configuration");
            runtime.block_on(serve::run(config))
        }
        Command::Plugin { command: cli::PluginCommand::Check { file, settings, samples } } => {
            init_logging(global.log_level.as_deref().unwrap_or("warn"), LogFormat::Text)?;
            let samples = match samples {
                Some(path) => std::fs::read_to_string(&path)?
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(serde_json::from_str)
                    .collect::<Result<Vec<hitkeep_protocol::Hit>, _>>()?,
                None => hitkeep_plugins::sample_hits(),
            };
            let report = hitkeep_plugins::check_file(&file, &settings, &samples)?;
            println!("{report}");
            if !report.passed() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Cluster { command: cli::ClusterCommand::Status { nats_url, json } } => {
            init_logging(global.log_level.as_deref().unwrap_or("warn"), LogFormat::Text)?;
            let args = cli::ServeArgs { nats_url, ..Default::default() };
            let config = config::load(global.config.as_deref(), &args, &env)?;
            let status = runtime.block_on(async {
                let url = config.nats_url.clone().ok_or_else(|| {
                    anyhow::anyhow!("no NATS server: give --nats-url, or nats_url in the configuration")
                })?;
                let client = serve::connect_nats(&config, &url).await?;
                cluster::status(client).await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!(
                    "{}",
                    cluster::render(&status, hitkeep_ingest::Clock::now_ms(&hitkeep_ingest::SystemClock))
                );
            }
            Ok(())
        }
        Command::Demo(args) => {
            init_logging(global.log_level.as_deref().unwrap_or("warn"), LogFormat::Text)?;
            let data_dir = data_dir(&global, &env)?;
            let store = hitkeep_store::Store::open_dir(&data_dir)?;
            let report = demo::load(&store, args.hits, args.days, args.seed, !args.quiet)?;
            println!(
                "loaded {} hits ({} new) in {:.1} s: {:.0} hits/s into {}",
                report.hits,
                report.stored,
                report.seconds,
                report.hits as f64 / report.seconds.max(1e-9),
                store.path().display()
            );
            Ok(())
        }
        Command::Compact => {
            init_logging(global.log_level.as_deref().unwrap_or("warn"), LogFormat::Text)?;
            let data_dir = data_dir(&global, &env)?;
            let (before, after) = hitkeep_store::Store::compact_file(&data_dir.join(hitkeep_store::DB_FILE))?;
            println!(
                "compacted {}: {:.1} MB, was {:.1} MB",
                data_dir.display(),
                after as f64 / 1e6,
                before as f64 / 1e6
            );
            Ok(())
        }
        Command::Restore { dir } => {
            init_logging(global.log_level.as_deref().unwrap_or("warn"), LogFormat::Text)?;
            let data_dir = data_dir(&global, &env)?;
            let manifest = backup::restore(&dir, &data_dir)?;
            println!(
                "restored {} events ({} batches, taken {}) into {}",
                manifest.counts.events,
                manifest.counts.batches,
                state::format_utc(manifest.created_at_ms),
                data_dir.display()
            );
            Ok(())
        }
        command => {
            init_logging(global.log_level.as_deref().unwrap_or("warn"), LogFormat::Text)?;
            let data_dir = data_dir(&global, &env)?;
            let output = runtime.block_on(async move {
                let client = ControlClient::open(&data_dir).await?;
                match command {
                    Command::Site { command } => commands::sites::run(&client, command).await,
                    Command::EdgeToken { command } => commands::edge_tokens::run(&client, command).await,
                    Command::User { command } => commands::users::run(&client, command).await,
                    Command::Token { command } => commands::tokens::run(&client, command).await,
                    Command::Share { command } => commands::shares::run(&client, command).await,
                    Command::Audit { limit, json } => commands::audit::run(&client, limit, json).await,
                    Command::Events { site, limit, json } => {
                        commands::events::run(&client, site, limit, json).await
                    }
                    Command::Stats(args) => commands::stats::run(&client, args).await,
                    Command::Goal { command } => commands::goals::run(&client, command).await,
                    Command::Report { command } => commands::mailings::run_report(&client, command).await,
                    Command::Alert { command } => commands::mailings::run_alert(&client, command).await,
                    Command::Funnel { command } => commands::funnels::run(&client, command).await,
                    Command::Backup { dir } => commands::backup::run(&client, dir).await,
                    Command::Export(args) => commands::export::run(&client, args).await,
                    Command::Import(args) => commands::import::run(&client, args).await,
                    Command::Serve(_)
                    | Command::Plugin { .. }
                    | Command::Cluster { .. }
                    | Command::Demo(_)
                    | Command::Compact
                    | Command::Restore { .. } => {
                        unreachable!("dispatched above")
                    }
                }
            })?;
            print!("{output}");
            Ok(())
        }
    }
}

/// The data directory of a command other than `serve`: `--data-dir`, else
/// `HITKEEP_DATA_DIR`, else the config file's, else `./hitkeep-data`.
fn data_dir(global: &GlobalArgs, env: &[(String, String)]) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.data_dir {
        return Ok(dir.clone());
    }
    if let Some((_, dir)) = env.iter().find(|(key, _)| key == "HITKEEP_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(file) = &global.config {
        return Ok(config::load(Some(file), cli::ServeArgs::default(), &[])?.data_dir);
    }
    Ok(config::Config::default().data_dir)
}

fn init_logging(level: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(level)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
