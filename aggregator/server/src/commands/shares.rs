//! `hitkeep share create|list|remove`: a site's share links from the shell.

use std::io::BufRead;

use hyper::Method;

use crate::cli::ShareCommand;
use crate::control::{ControlClient, encode_segment};
use crate::routes::shares::ShareView;
use crate::state::format_utc;

/// Runs a share command. `create --password-stdin` reads the password from the first line
/// of standard input.
pub async fn run(client: &ControlClient, command: ShareCommand) -> anyhow::Result<String> {
    run_with_input(client, command, &mut std::io::stdin().lock()).await
}

/// [`run`], reading a password from `input`.
pub async fn run_with_input(
    client: &ControlClient,
    command: ShareCommand,
    input: &mut dyn BufRead,
) -> anyhow::Result<String> {
    Ok(match command {
        ShareCommand::Create { site, name, password_stdin, expires, embed } => {
            let password = if password_stdin {
                let mut line = String::new();
                input.read_line(&mut line)?;
                let line = line.trim_end_matches(['\r', '\n']).to_owned();
                anyhow::ensure!(!line.is_empty(), "no password on standard input");
                Some(line)
            } else {
                None
            };
            let body = serde_json::json!({
                "name": name, "password": password, "expires_in_days": expires, "embed": embed,
            });
            let path = format!("/control/sites/{}/shares", encode_segment(&site));
            let link: ShareView = client.call(Method::POST, &path, Some(body)).await?;
            let address = match (&link.url, &link.path) {
                (Some(url), _) => url.clone(),
                (None, Some(path)) => {
                    format!("{path}\n(on this instance's address: set public_url to see the whole link)")
                }
                (None, None) => "(no link in the answer)".to_owned(),
            };
            format!(
                "created share link {} of {site}\n{address}\nKeep it now: it is not shown again (Hitkeep stores only its SHA-256 digest).\n",
                link.name
            )
        }
        ShareCommand::List { site, json } => {
            let path = format!("/control/sites/{}/shares", encode_segment(&site));
            let links: Vec<ShareView> = client.call(Method::GET, &path, None).await?;
            if json { serde_json::to_string_pretty(&links)? + "\n" } else { listing(&links) }
        }
        ShareCommand::Remove { site, name } => {
            let path = format!("/control/sites/{}/shares/{}", encode_segment(&site), encode_segment(&name));
            let link: ShareView = client.call(Method::DELETE, &path, None).await?;
            format!("revoked share link {} of {site}\n", link.name)
        }
    })
}

fn listing(links: &[ShareView]) -> String {
    let width = links.iter().map(|link| link.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:width$}  {:8}  {:5}  {:16}  EXPIRES\n", "NAME", "PASSWORD", "EMBED", "CREATED");
    for link in links {
        let yes_no = |flag: bool| if flag { "yes" } else { "no" };
        out.push_str(&format!(
            "{:width$}  {:8}  {:5}  {:16}  {}\n",
            link.name,
            yes_no(link.has_password),
            yes_no(link.embed),
            format_utc(link.created_at_ms),
            link.expires_at_ms.map_or_else(|| "never".to_owned(), format_utc),
        ));
    }
    out
}
