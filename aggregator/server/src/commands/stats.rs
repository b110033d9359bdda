//! `hitkeep stats`: a site's numbers on the command line, so that an operator can check
//! them without a browser.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::StatsArgs;
use crate::control::{ControlClient, encode_segment};

fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

/// The Stats API query of the arguments.
pub fn query(args: &StatsArgs) -> anyhow::Result<Value> {
    let range = match args.range.split_once("..") {
        Some((from, to)) => json!([from, to]),
        None => json!(args.range),
    };
    let mut query = json!({
        "metrics": list(&args.metrics),
        "date_range": range,
        "dimensions": list(&args.dimensions),
        "pagination": {"limit": args.limit},
    });
    if let Some(filters) = &args.filters {
        query["filters"] = serde_json::from_str(filters).context("--filters is not JSON")?;
    }
    Ok(query)
}

/// Runs `hitkeep stats`.
pub async fn run(client: &ControlClient, args: StatsArgs) -> anyhow::Result<String> {
    let site = hitkeep_store::normalize_domain(&args.site)?;
    let query = query(&args)?;
    let uri = format!("/control/sites/{}/stats", encode_segment(&site));
    let answer: Value = client.call(hyper::Method::POST, &uri, Some(query)).await?;
    if args.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&answer)?));
    }
    table(&answer)
}

/// The answer as an aligned text table, with the range on top.
fn table(answer: &Value) -> anyhow::Result<String> {
    let query = &answer["query"];
    let names: Vec<String> = query["dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(query["metrics"].as_array().into_iter().flatten())
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();
    let Some(results) = answer["results"].as_array() else {
        bail!("the server's answer has no results");
    };
    let mut rows: Vec<Vec<String>> = vec![names];
    for result in results {
        let cells = result["dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(result["metrics"].as_array().into_iter().flatten())
            .map(|value| match value {
                Value::String(text) => text.clone(),
                Value::Null => "-".into(),
                // Money, as `1,234.50 EUR`.
                Value::Object(money) => {
                    money.get("long").and_then(Value::as_str).unwrap_or_default().to_owned()
                }
                other => other.to_string(),
            })
            .collect();
        rows.push(cells);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter().map(|row| row.get(column).map_or(0, |cell| cell.chars().count())).max().unwrap_or(0)
        })
        .collect();
    let dimensions = query["dimensions"].as_array().map_or(0, Vec::len);
    let range = &query["date_range"];
    let mut out = format!(
        "{}  {} .. {}\n",
        query["site_id"].as_str().unwrap_or(""),
        range[0].as_str().unwrap_or(""),
        range[1].as_str().unwrap_or("")
    );
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| {
                // Dimensions to the left, numbers to the right.
                if column < dimensions {
                    format!("{cell:<width$}", width = widths[column])
                } else {
                    format!("{cell:>width$}", width = widths[column])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}
