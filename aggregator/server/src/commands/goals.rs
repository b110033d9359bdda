//! `hitkeep goal add|list|remove`: a site's goals from the shell.

use hitkeep_store::{Goal, GoalKind};
use hyper::Method;

use crate::cli::GoalCommand;
use crate::control::{ControlClient, encode_segment};

/// Runs a goal command.
pub async fn run(client: &ControlClient, command: GoalCommand) -> anyhow::Result<String> {
    Ok(match command {
        GoalCommand::Add { site, page, event, props, name } => {
            let mut properties = serde_json::Map::new();
            for prop in &props {
                let Some((key, value)) = prop.split_once('=') else {
                    anyhow::bail!("--prop takes key=value, not {prop:?}");
                };
                properties.insert(key.to_owned(), serde_json::Value::String(value.to_owned()));
            }
            let body = serde_json::json!({ "name": name, "page": page, "event": event, "props": properties });
            let path = format!("/control/sites/{}/goals", encode_segment(&site));
            let goal: Goal = client.call(Method::POST, &path, Some(body)).await?;
            format!("added goal {} of {site}\n", goal.name)
        }
        GoalCommand::List { site, json } => {
            let path = format!("/control/sites/{}/goals", encode_segment(&site));
            let goals: Vec<Goal> = client.call(Method::GET, &path, None).await?;
            if json { serde_json::to_string_pretty(&goals)? + "\n" } else { listing(&goals) }
        }
        GoalCommand::Remove { site, name } => {
            let path = format!("/control/sites/{}/goals/{}", encode_segment(&site), encode_segment(&name));
            let _: serde_json::Value = client.call(Method::DELETE, &path, None).await?;
            format!("removed goal {name} of {site}\n")
        }
    })
}

fn listing(goals: &[Goal]) -> String {
    let width = goals.iter().map(|goal| goal.name.chars().count()).max().unwrap_or(4).max(4);
    let mut out = format!("{:width$}  WHAT\n", "NAME");
    for goal in goals {
        let what = match &goal.kind {
            GoalKind::Page { pattern } => format!("page {pattern}"),
            GoalKind::Event { name, props } if props.is_empty() => format!("event {name}"),
            GoalKind::Event { name, props } => {
                let conditions: Vec<String> =
                    props.iter().map(|(key, value)| format!("{key}={value}")).collect();
                format!("event {name} with {}", conditions.join(", "))
            }
        };
        out.push_str(&format!("{:width$}  {what}\n", goal.name));
    }
    out
}
