//! `hitkeep token create|list|remove`: API tokens from the shell (the operator's own, acting
//! for no person).

use hyper::Method;

use crate::cli::TokenCommand;
use crate::control::{ControlClient, encode_segment};
use crate::routes::tokens::TokenView;
use crate::state::format_utc;

/// Runs a token command.
pub async fn run(client: &ControlClient, command: TokenCommand) -> anyhow::Result<String> {
    Ok(match command {
        TokenCommand::Create { name, sites, all_sites, scope, expires } => {
            let sites = (!all_sites).then_some(sites);
            let body = serde_json::json!({
                "name": name, "scope": scope, "sites": sites, "all_sites": all_sites, "expires_in_days": expires,
            });
            let token: TokenView = client.call(Method::POST, "/control/tokens", Some(body)).await?;
            format!(
                "created {} token {}\n{}\nKeep it now: it is not shown again (Hitkeep stores only its SHA-256 digest).\n",
                token.scope,
                token.name,
                token.secret.as_deref().unwrap_or("(no secret in the answer)")
            )
        }
        TokenCommand::List { json } => {
            let tokens: Vec<TokenView> = client.call(Method::GET, "/control/tokens", None).await?;
            if json { serde_json::to_string_pretty(&tokens)? + "\n" } else { listing(&tokens) }
        }
        TokenCommand::Remove { name } => {
            let token: TokenView = client
                .call(Method::DELETE, &format!("/control/tokens/{}", encode_segment(&name)), None)
                .await?;
            format!("revoked token {}\n", token.name)
        }
    })
}

fn listing(tokens: &[TokenView]) -> String {
    let width = tokens.iter().map(|token| token.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:width$}  {:5}  {:16}  {:16}  {:16}  SITES\n",
        "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED"
    );
    let time = |ms: Option<i64>| ms.map_or_else(|| "-".to_owned(), format_utc);
    for token in tokens {
        let sites = token.sites.as_ref().map_or_else(|| "all".to_owned(), |sites| sites.join(","));
        out.push_str(&format!(
            "{:width$}  {:5}  {:16}  {:16}  {:16}  {sites}\n",
            token.name,
            token.scope,
            format_utc(token.created_at_ms),
            time(token.expires_at_ms),
            time(token.last_used_at_ms),
        ));
    }
    out
}
