//! `hitkeep events`: the newest stored events of a site, to check that tracking works.

use crate::control::{ControlClient, encode_segment};
use crate::state::format_utc;

/// Runs `hitkeep events`.
pub async fn run(client: &ControlClient, site: String, limit: u32, json: bool) -> anyhow::Result<String> {
    let site = hitkeep_store::normalize_domain(&site)?;
    let uri = format!("/control/events?site={}&limit={limit}", encode_segment(&site));
    let events: Vec<serde_json::Value> = client.call(hyper::Method::GET, &uri, None).await?;
    let mut out = String::new();
    for event in &events {
        if json {
            out.push_str(&serde_json::to_string(event)?);
        } else {
            let hit = &event["hit"];
            let text = |key: &str| hit[key].as_str().unwrap_or("-").to_string();
            out.push_str(&format!(
                "{}  {:8}  {:24}  {:32}  {:10}  {}",
                format_utc(hit["ts"].as_i64().unwrap_or(0)),
                text("kind"),
                text("name"),
                text("path"),
                text("channel"),
                text("browser"),
            ));
        }
        out.push('\n');
    }
    Ok(out)
}
