//! `hitkeep audit`: the newest security events.

use hitkeep_store::AuditEntry;

use crate::control::ControlClient;
use crate::state::format_utc;

/// Runs `hitkeep audit`.
pub async fn run(client: &ControlClient, limit: u32, json: bool) -> anyhow::Result<String> {
    let entries: Vec<AuditEntry> =
        client.call(hyper::Method::GET, &format!("/control/audit?limit={limit}"), None).await?;
    if json {
        let mut out = String::new();
        for entry in &entries {
            out.push_str(&serde_json::to_string(entry)?);
            out.push('\n');
        }
        return Ok(out);
    }
    let mut out = format!("{:16}  {:20}  {:7}  {:7}  DETAIL\n", "WHEN (UTC)", "EVENT", "USER", "BY");
    let id = |id: Option<u32>| id.map_or_else(|| "-".to_owned(), |id| id.to_string());
    for entry in entries {
        out.push_str(&format!(
            "{:16}  {:20}  {:7}  {:7}  {}\n",
            format_utc(entry.at_ms),
            entry.event,
            id(entry.user_id),
            id(entry.actor_id),
            entry.detail
        ));
    }
    Ok(out)
}
