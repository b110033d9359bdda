//! Keeps the latest edge configuration (sites and salts) in memory.
//!
//! The configuration is requested on `EDGE_CONFIG_SUBJECT` at start, on every (re)connect,
//! whenever a message arrives on `EDGE_CONFIG_CHANGED_SUBJECT`, and every `refresh` interval
//! (every second until a first one is loaded). A reply is accepted only if
//! `hitkeep_collector_core::Config::from_json` reads it. It lives in memory only: the salts
//! are never written to disk by the edge.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::{Client, Request};
use futures_util::StreamExt as _;
use hitkeep_collector_core::{Config, ConfigError};
use hitkeep_protocol::{EDGE_CONFIG_CHANGED_SUBJECT, EDGE_CONFIG_SUBJECT};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;

/// Wait between requests until a first configuration is loaded.
const FIRST_CONFIG_RETRY: Duration = Duration::from_secs(1);
/// How long a configuration request waits for its reply.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The latest good configuration JSON, as handed to the component.
#[derive(Debug, Default)]
pub(crate) struct ConfigCell {
    current: RwLock<Option<Arc<str>>>,
}

impl ConfigCell {
    pub(crate) fn get(&self) -> Option<Arc<str>> {
        self.current.read().expect("config lock").clone()
    }

    /// Replaces the configuration if `json` is a valid one; false if it is not.
    pub(crate) fn set_if_valid(&self, json: &[u8]) -> Result<bool, ConfigError> {
        Config::from_json(json)?;
        let text = std::str::from_utf8(json).map_err(|_| ConfigError::Invalid("not utf-8".into()))?;
        let mut current = self.current.write().expect("config lock");
        let changed = current.as_deref() != Some(text);
        if changed {
            *current = Some(Arc::from(text));
        }
        Ok(changed)
    }
}

/// Fetches the configuration until cancelled.
pub(crate) async fn run(
    client: Client,
    cell: Arc<ConfigCell>,
    refresh: Duration,
    connected: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut changes = match client.subscribe(EDGE_CONFIG_CHANGED_SUBJECT).await {
        Ok(subscriber) => Some(subscriber),
        Err(error) => {
            tracing::warn!(%error, "could not subscribe to configuration changes; polling only");
            None
        }
    };
    loop {
        fetch(&client, &cell).await;
        let wait = if cell.get().is_some() { refresh } else { FIRST_CONFIG_RETRY };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = connected.notified() => {}
            change = async { changes.as_mut()?.next().await }, if changes.is_some() => {
                if change.is_none() {
                    changes = None;
                }
            }
            () = cancel.cancelled() => return,
        }
    }
}

async fn fetch(client: &Client, cell: &ConfigCell) {
    let request = Request::new().timeout(Some(REQUEST_TIMEOUT));
    let reply = match client.send_request(EDGE_CONFIG_SUBJECT, request).await {
        Ok(reply) => reply,
        Err(error) => {
            metrics::counter!(m::CONFIG_FETCHES, "result" => "error").increment(1);
            tracing::debug!(%error, "configuration request failed");
            return;
        }
    };
    match cell.set_if_valid(&reply.payload) {
        Ok(changed) => {
            metrics::counter!(m::CONFIG_FETCHES, "result" => "ok").increment(1);
            metrics::gauge!(m::CONFIG_LOADED).set(1.0);
            if changed {
                tracing::info!(bytes = reply.payload.len(), "edge configuration loaded");
            }
        }
        Err(error) => {
            metrics::counter!(m::CONFIG_FETCHES, "result" => "invalid").increment(1);
            // A JSON error may quote the value it choked on, and that could be a salt.
            let detail = match &error {
                ConfigError::Invalid(_) => "the configuration does not parse".to_string(),
                other => other.to_string(),
            };
            tracing::warn!(error = %detail, "ignoring an invalid edge configuration; keeping the last good one");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_good_configuration() {
        let cell = ConfigCell::default();
        let good = br#"{"sites":[{"domain":"example.com"}],"salts":{"current":"0000000000000000000000000000000000000000000000000000000000000001","previous":"0000000000000000000000000000000000000000000000000000000000000002"}}"#;
        assert!(cell.set_if_valid(good).unwrap());
        assert!(!cell.set_if_valid(good).unwrap());
        assert!(cell.set_if_valid(b"{\"sites\":").is_err());
        assert_eq!(cell.get().as_deref().map(str::as_bytes), Some(&good[..]));
    }
}
