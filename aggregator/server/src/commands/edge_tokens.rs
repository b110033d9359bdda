//! `hitkeep edge-token add|list|remove`.

use hyper::Method;

use crate::cli::EdgeTokenCommand;
use crate::control::ControlClient;
use crate::routes::edge::TokenView;
use crate::state::format_utc;

/// Runs an edge-token command.
pub async fn run(client: &ControlClient, command: EdgeTokenCommand) -> anyhow::Result<String> {
    Ok(match command {
        EdgeTokenCommand::Add { name } => {
            let body = serde_json::json!({ "name": name });
            added(&client.call(Method::POST, "/control/edge-tokens", Some(body)).await?)
        }
        EdgeTokenCommand::List { json } => {
            listing(&client.call::<Vec<TokenView>>(Method::GET, "/control/edge-tokens", None).await?, json)?
        }
        EdgeTokenCommand::Remove { name } => {
            hitkeep_store::validate_edge_token_name(&name)?;
            removed(&client.call(Method::DELETE, &format!("/control/edge-tokens/{name}"), None).await?)
        }
    })
}

fn added(token: &TokenView) -> String {
    format!(
        "added edge token {}\n{}\nKeep it now: it is not shown again (Hitkeep stores only its SHA-256 digest).\n",
        token.name,
        token.secret.as_deref().unwrap_or("(no secret in the answer)")
    )
}

fn removed(token: &TokenView) -> String {
    format!("removed edge token {}\n", token.name)
}

fn listing(tokens: &[TokenView], json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(tokens)? + "\n");
    }
    let width = tokens.iter().map(|token| token.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:width$}  CREATED (UTC)\n", "NAME");
    for token in tokens {
        out.push_str(&format!("{:width$}  {}\n", token.name, format_utc(token.created_at_ms)));
    }
    Ok(out)
}
