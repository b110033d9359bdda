//! `hitkeep site add|list|remove`: through a running server's control socket when there is
//! one, else directly on the database file.

use std::path::Path;

use hitkeep_store::Store;

use crate::cli::SiteCommand;
use crate::control::ControlClient;
use crate::http::SiteView;

/// Runs a site command against the data directory.
pub async fn run(data_dir: &Path, command: SiteCommand) -> anyhow::Result<()> {
    let output = match ControlClient::connect(data_dir).await {
        Some(client) => remote(&client, command).await?,
        None => {
            let data_dir = data_dir.to_path_buf();
            tokio::task::spawn_blocking(move || local(&Store::open_dir(&data_dir)?, command)).await??
        }
    };
    print!("{output}");
    Ok(())
}

async fn remote(client: &ControlClient, command: SiteCommand) -> anyhow::Result<String> {
    Ok(match command {
        SiteCommand::Add { domain, timezone } => {
            let body = serde_json::json!({ "domain": domain, "timezone": timezone });
            added(&client.call(hyper::Method::POST, "/control/sites", Some(body)).await?)
        }
        SiteCommand::List { json } => {
            listing(&client.call::<Vec<SiteView>>(hyper::Method::GET, "/control/sites", None).await?, json)?
        }
        SiteCommand::Remove { domain } => {
            let uri = format!("/control/sites/{}", percent_encode_segment(&domain));
            removed(&client.call(hyper::Method::DELETE, &uri, None).await?)
        }
    })
}

fn local(store: &Store, command: SiteCommand) -> anyhow::Result<String> {
    Ok(match command {
        SiteCommand::Add { domain, timezone } => added(&store.add_site(&domain, &timezone)?.into()),
        SiteCommand::List { json } => {
            let sites: Vec<SiteView> = store.sites()?.into_iter().map(SiteView::from).collect();
            listing(&sites, json)?
        }
        SiteCommand::Remove { domain } => removed(&store.remove_site(&domain)?.into()),
    })
}

fn added(site: &SiteView) -> String {
    format!("added {} ({})\n", site.domain, site.timezone)
}

fn removed(site: &SiteView) -> String {
    format!("removed {} and its data\n", site.domain)
}

fn listing(sites: &[SiteView], json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(sites)? + "\n");
    }
    let width = sites.iter().map(|site| site.domain.len()).max().unwrap_or(6).max(6);
    let mut out = format!("{:width$}  TIMEZONE\n", "DOMAIN");
    for site in sites {
        out.push_str(&format!("{:width$}  {}\n", site.domain, site.timezone));
    }
    Ok(out)
}

/// Domains are host names, but a user may type anything: keep the path segment intact.
fn percent_encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
