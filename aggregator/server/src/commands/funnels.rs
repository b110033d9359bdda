//! `hitkeep funnel add|list|remove|report`: a site's funnels from the shell.

use hitkeep_store::stats::FunnelReport;
use hitkeep_store::{Funnel, GoalKind};
use hyper::Method;
use serde_json::{Value, json};

use crate::cli::FunnelCommand;
use crate::control::{ControlClient, encode_segment};

/// A step from the command line: `page:/pricing` or `event:Signup`.
fn step(text: &str) -> anyhow::Result<Value> {
    match text.split_once(':') {
        Some(("page", pattern)) => Ok(json!({ "page": pattern })),
        Some(("event", name)) => Ok(json!({ "event": name })),
        _ => anyhow::bail!("a step is page:<pattern> or event:<name>, not {text:?}"),
    }
}

fn describe(step: &GoalKind) -> String {
    match step {
        GoalKind::Page { pattern } => format!("page {pattern}"),
        GoalKind::Event { name, .. } => format!("event {name}"),
    }
}

/// Runs a funnel command.
pub async fn run(client: &ControlClient, command: FunnelCommand) -> anyhow::Result<String> {
    Ok(match command {
        FunnelCommand::Add { site, name, steps, window_minutes } => {
            let steps = steps.iter().map(|text| step(text)).collect::<anyhow::Result<Vec<_>>>()?;
            let body = json!({ "name": name, "steps": steps, "window_minutes": window_minutes });
            let path = format!("/control/sites/{}/funnels", encode_segment(&site));
            let funnel: Funnel = client.call(Method::POST, &path, Some(body)).await?;
            format!("added funnel {} of {site} ({} steps)\n", funnel.name, funnel.steps.len())
        }
        FunnelCommand::List { site, json } => {
            let path = format!("/control/sites/{}/funnels", encode_segment(&site));
            let funnels: Vec<Funnel> = client.call(Method::GET, &path, None).await?;
            if json {
                serde_json::to_string_pretty(&funnels)? + "\n"
            } else {
                let mut out = String::new();
                for funnel in &funnels {
                    let steps: Vec<String> = funnel.steps.iter().map(describe).collect();
                    let within = funnel.window_ms.map_or_else(
                        || "within a visit".to_owned(),
                        |ms| format!("within {} minutes", ms / 60_000),
                    );
                    out.push_str(&format!("{}: {} ({within})\n", funnel.name, steps.join(" -> ")));
                }
                out
            }
        }
        FunnelCommand::Remove { site, name } => {
            let path = format!("/control/sites/{}/funnels/{}", encode_segment(&site), encode_segment(&name));
            let _: Value = client.call(Method::DELETE, &path, None).await?;
            format!("removed funnel {name} of {site}\n")
        }
        FunnelCommand::Report { site, name, range, json } => {
            let range = match range.split_once("..") {
                Some((from, to)) => json!([from, to]),
                None => json!(range),
            };
            let path =
                format!("/control/sites/{}/funnels/{}/report", encode_segment(&site), encode_segment(&name));
            let report: FunnelReport =
                client.call(Method::POST, &path, Some(json!({ "date_range": range }))).await?;
            if json {
                serde_json::to_string_pretty(&report)? + "\n"
            } else {
                let mut out = format!("{} of {site}\n", report.funnel.name);
                for (index, (step, numbers)) in report.funnel.steps.iter().zip(&report.steps).enumerate() {
                    let median = numbers.median_seconds_from_previous.map_or_else(String::new, |seconds| {
                        format!(", median {seconds:.0} s after the step before")
                    });
                    out.push_str(&format!(
                        "{}. {:30} {:>8} visitors  {:>5.1}%  {:>8} dropped{median}\n",
                        index + 1,
                        describe(step),
                        numbers.visitors,
                        numbers.conversion_rate,
                        numbers.dropped
                    ));
                }
                out
            }
        }
    })
}
