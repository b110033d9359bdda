//! `hitkeep site add|list|remove|set-timezone|rules`.

use hyper::Method;

use crate::cli::SiteCommand;
use crate::control::{ControlClient, encode_segment};
use crate::routes::sites::{RulesView, SiteView};

/// Runs a site command.
pub async fn run(client: &ControlClient, command: SiteCommand) -> anyhow::Result<String> {
    Ok(match command {
        SiteCommand::Add { domain, timezone } => {
            let body = serde_json::json!({ "domain": domain, "timezone": timezone });
            added(&client.call(Method::POST, "/control/sites", Some(body)).await?)
        }
        SiteCommand::List { json } => {
            listing(&client.call::<Vec<SiteView>>(Method::GET, "/control/sites", None).await?, json)?
        }
        SiteCommand::Remove { domain } => removed(
            &client
                .call(Method::DELETE, &format!("/control/sites/{}", encode_segment(&domain)), None)
                .await?,
        ),
        SiteCommand::SetTimezone { domain, timezone } => {
            let uri = format!("/control/sites/{}", encode_segment(&domain));
            let site: SiteView =
                client.call(Method::PUT, &uri, Some(serde_json::json!({ "timezone": timezone }))).await?;
            format!("{} now reports in {}\n", site.domain, site.timezone)
        }
        SiteCommand::SetRetention { domain, days } => {
            let uri = format!("/control/sites/{}", encode_segment(&domain));
            let days: Option<u32> = match days.as_str() {
                "default" => None,
                text => Some(
                    text.parse().map_err(|_| anyhow::anyhow!("DAYS is a number of days, 0, or `default`"))?,
                ),
            };
            let site: SiteView =
                client.call(Method::PUT, &uri, Some(serde_json::json!({ "retention_days": days }))).await?;
            match site.retention_days {
                None => format!("{} keeps its events as long as the instance's default says\n", site.domain),
                Some(0) => format!("{} keeps its events for ever\n", site.domain),
                Some(days) => format!("{} keeps its events for {days} days\n", site.domain),
            }
        }
        SiteCommand::Rules {
            domain,
            honor_dnt,
            honor_gpc,
            exclude_ip,
            exclude_path,
            allow_hostname,
            json,
        } => {
            let domain = hitkeep_store::normalize_domain(&domain)?;
            let sites = client.call::<Vec<SiteView>>(Method::GET, "/control/sites", None).await?;
            let site = sites
                .into_iter()
                .find(|site| site.domain == domain)
                .ok_or_else(|| anyhow::anyhow!("site {domain} does not exist (site_not_found)"))?;
            let changes = RuleChanges { honor_dnt, honor_gpc, exclude_ip, exclude_path, allow_hostname };
            let site = match changes.apply(site.rules.clone()) {
                Some(rules) => {
                    let uri = format!("/control/sites/{}/rules", encode_segment(&domain));
                    client.call(Method::PUT, &uri, Some(serde_json::to_value(rules)?)).await?
                }
                None => site,
            };
            rules_text(&site, json)?
        }
    })
}

/// The options of `hitkeep site rules`: each one given replaces that rule.
struct RuleChanges {
    honor_dnt: Option<bool>,
    honor_gpc: Option<bool>,
    exclude_ip: Option<Vec<String>>,
    exclude_path: Option<Vec<String>>,
    allow_hostname: Option<Vec<String>>,
}

impl RuleChanges {
    /// The changed rules, or `None` when nothing was asked to change.
    fn apply(self, mut rules: RulesView) -> Option<RulesView> {
        let list =
            |values: Vec<String>| values.into_iter().filter(|value| !value.trim().is_empty()).collect();
        let mut changed = false;
        if let Some(value) = self.honor_dnt {
            (rules.honor_dnt, changed) = (value, true);
        }
        if let Some(value) = self.honor_gpc {
            (rules.honor_gpc, changed) = (value, true);
        }
        if let Some(values) = self.exclude_ip {
            (rules.excluded_ip_ranges, changed) = (list(values), true);
        }
        if let Some(values) = self.exclude_path {
            (rules.excluded_paths, changed) = (list(values), true);
        }
        if let Some(values) = self.allow_hostname {
            (rules.allowed_hostnames, changed) = (list(values), true);
        }
        changed.then_some(rules)
    }
}

fn rules_text(site: &SiteView, json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(&site.rules)? + "\n");
    }
    let list = |values: &[String]| if values.is_empty() { "-".to_string() } else { values.join(" ") };
    let rules = &site.rules;
    Ok(format!(
        "{}\n  honor DNT         {}\n  honor GPC         {}\n  excluded IPs      {}\n  excluded paths    {}\n  allowed hostnames {}\n",
        site.domain,
        rules.honor_dnt,
        rules.honor_gpc,
        list(&rules.excluded_ip_ranges),
        list(&rules.excluded_paths),
        list(&rules.allowed_hostnames),
    ))
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
