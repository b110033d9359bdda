//! `hitkeep report` and `hitkeep alert`: who gets a site's e-mail reports and alerts, from
//! the shell (through `serve`'s control socket, or in-process when it is not running).

use hitkeep_store::{Alert, AlertKind, ReportSubscription};
use hyper::Method;
use serde_json::json;

use crate::cli::{AlertCommand, ReportCommand};
use crate::control::{ControlClient, encode_segment};

/// Runs a report command.
pub async fn run_report(client: &ControlClient, command: ReportCommand) -> anyhow::Result<String> {
    Ok(match command {
        ReportCommand::Add { site, email, frequency, language } => {
            let body = json!({ "email": email, "frequency": frequency, "language": language });
            let path = format!("/control/sites/{}/reports", encode_segment(&site));
            let added: ReportSubscription = client.call(Method::POST, &path, Some(body)).await?;
            format!(
                "{} gets the {} report of {site} in {} (id {})\n",
                added.email,
                frequency_word(&added),
                added.language,
                added.id
            )
        }
        ReportCommand::List { site, json } => {
            let path = format!("/control/sites/{}/reports", encode_segment(&site));
            let all: Vec<ReportSubscription> = client.call(Method::GET, &path, None).await?;
            if json {
                serde_json::to_string_pretty(&all)? + "\n"
            } else {
                let rows: Vec<[String; 4]> = all
                    .iter()
                    .map(|s| {
                        [s.id.to_string(), s.email.clone(), frequency_word(s).into(), s.language.clone()]
                    })
                    .collect();
                table(["ID", "EMAIL", "FREQUENCY", "LANGUAGE"], &rows)
            }
        }
        ReportCommand::Remove { site, id } => {
            let path = format!("/control/sites/{}/reports/{id}", encode_segment(&site));
            let _: serde_json::Value = client.call(Method::DELETE, &path, None).await?;
            format!("removed report recipient {id} of {site}\n")
        }
    })
}

/// Runs an alert command.
pub async fn run_alert(client: &ControlClient, command: AlertCommand) -> anyhow::Result<String> {
    Ok(match command {
        AlertCommand::Add { site, email, visitors_above, traffic_drop, language } => {
            let (kind, threshold) = match (visitors_above, traffic_drop) {
                (Some(visitors), _) => ("visitors_above", visitors),
                (None, Some(percent)) => ("traffic_drop", percent),
                (None, None) => anyhow::bail!("say --visitors-above N or --traffic-drop PERCENT"),
            };
            let body = json!({ "email": email, "kind": kind, "threshold": threshold, "language": language });
            let path = format!("/control/sites/{}/alerts", encode_segment(&site));
            let added: Alert = client.call(Method::POST, &path, Some(body)).await?;
            format!("{} is alerted on {site} when {} (id {})\n", added.email, condition(&added), added.id)
        }
        AlertCommand::List { site, json } => {
            let path = format!("/control/sites/{}/alerts", encode_segment(&site));
            let all: Vec<Alert> = client.call(Method::GET, &path, None).await?;
            if json {
                serde_json::to_string_pretty(&all)? + "\n"
            } else {
                let rows: Vec<[String; 4]> = all
                    .iter()
                    .map(|a| {
                        let state = if a.episode_start_ms.is_some() { "firing" } else { "quiet" };
                        [a.id.to_string(), a.email.clone(), condition(a), state.into()]
                    })
                    .collect();
                table(["ID", "EMAIL", "WHEN", "NOW"], &rows)
            }
        }
        AlertCommand::Remove { site, id } => {
            let path = format!("/control/sites/{}/alerts/{id}", encode_segment(&site));
            let _: serde_json::Value = client.call(Method::DELETE, &path, None).await?;
            format!("removed alert {id} of {site}\n")
        }
    })
}

fn frequency_word(subscription: &ReportSubscription) -> &'static str {
    match subscription.frequency {
        hitkeep_store::Frequency::Daily => "daily",
        hitkeep_store::Frequency::Weekly => "weekly",
        hitkeep_store::Frequency::Monthly => "monthly",
    }
}

fn condition(alert: &Alert) -> String {
    match alert.kind {
        AlertKind::VisitorsAbove => format!("more than {} visitors are on the site now", alert.threshold),
        AlertKind::TrafficDrop => format!("a day falls below {}% of the usual", alert.threshold),
    }
}

/// Rows under a header, in columns as wide as their widest cell.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths: [usize; N] = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
