//! The `hitkeep` binary: command line, logging, and dispatch to the subcommands.

mod api_error;
mod cli;
mod config;
mod control;
mod demo;
mod edge;
mod edge_api;
mod events;
mod http;
mod salts;
mod serve;
mod sites;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::config::LogFormat;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let file = args.config.clone();
            let config = config::load(file.as_deref(), &args, &env)?;
            init_logging(&config.log_level, config.log_format)?;
            tracing::debug!(?config, "configuration");
            runtime.block_on(serve::run(config))
        }
        Command::Site { data_dir, command } => {
            init_logging("warn", LogFormat::Text)?;
            runtime.block_on(sites::run(&data_dir, command))
        }
        Command::EdgeToken { data_dir, command } => {
            init_logging("warn", LogFormat::Text)?;
            runtime.block_on(edge_api::run_cli(&data_dir, command))
        }
        Command::Events { data_dir, site, limit, json } => {
            init_logging("warn", LogFormat::Text)?;
            runtime.block_on(events::run(&data_dir, site, limit, json))
        }
        Command::Plugin { command: cli::PluginCommand::Check { file, settings, samples } } => {
            init_logging("warn", LogFormat::Text)?;
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
        Command::Demo(args) => {
            init_logging("warn", LogFormat::Text)?;
            let store = hitkeep_store::Store::open_dir(&args.data_dir)?;
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
    }
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
