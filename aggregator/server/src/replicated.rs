//! The control stream: control-plane writes as commands that every node of a cluster applies
//! in the same order to its own database (`cluster = true`; see `docs/operations.md`).
//!
//! A node that takes a write (an API call, the command line through its control socket)
//! publishes the [`Command`] on the stream `HITKEEP_CONTROL` and answers once its own
//! replica has applied it, with what applying it gave ([`ControlStream::execute`]). Every
//! node reads the stream with a consumer of its own (`control-<node>`) and applies each
//! command in order ([`run_applier`]); the position it has applied is kept in the database
//! (`instance_settings`), so a restart resumes after it. Commands are deterministic and
//! carry every value they need: applying one twice (a crash between the write and the
//! position) leaves the same state, and the second answer is an error nobody waits for.
//!
//! Replicated so far: sites (add, remove, time zone, retention, privacy rules), goals and
//! funnels. Accounts, tokens, share links and e-mail subscriptions are still each node's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};
use axum::http::StatusCode;
use futures_util::StreamExt;
use hitkeep_store::{Funnel, Goal, GoalKind, Site, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::AppError;
use crate::routes::sites::RulesView;
use crate::state::AppState;

/// The control stream.
pub const CONTROL_STREAM: &str = "HITKEEP_CONTROL";
/// Its subject.
pub const CONTROL_SUBJECT: &str = "hitkeep.control.v1";
/// The setting that holds the last position applied.
const POSITION_SETTING: &str = "control_stream_position";
/// How long a write waits for its own replica to apply it.
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Results of commands applied before their writer asked, kept at most.
const KEPT_RESULTS: usize = 1024;

/// A control-plane write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Add a site.
    AddSite {
        /// Its domain.
        domain: String,
        /// Its IANA time zone.
        timezone: String,
    },
    /// Remove a site and its data.
    RemoveSite {
        /// Its domain.
        domain: String,
    },
    /// Change a site's time zone and retention.
    ChangeSite {
        /// Its domain.
        domain: String,
        /// A new time zone.
        timezone: Option<String>,
        /// A new retention; `None`: unchanged.
        retention: Option<Retention>,
    },
    /// Replace a site's privacy rules.
    SetSiteRules {
        /// Its domain.
        domain: String,
        /// The rules.
        rules: RulesView,
    },
    /// Add a goal to a site.
    AddGoal {
        /// The site's domain.
        domain: String,
        /// Its name (default: made from its kind).
        name: Option<String>,
        /// What completes it.
        kind: GoalKind,
        /// When it was added, ms since the epoch.
        at_ms: i64,
    },
    /// Remove a site's goal.
    RemoveGoal {
        /// The site's domain.
        domain: String,
        /// The goal's name.
        name: String,
    },
    /// Add a funnel to a site.
    AddFunnel {
        /// The site's domain.
        domain: String,
        /// Its name.
        name: String,
        /// Its steps, in order.
        steps: Vec<GoalKind>,
        /// Within this many ms of the first step (`None`: within a visit).
        window_ms: Option<i64>,
        /// When it was added, ms since the epoch.
        at_ms: i64,
    },
    /// Remove a site's funnel.
    RemoveFunnel {
        /// The site's domain.
        domain: String,
        /// The funnel's name.
        name: String,
    },
}

/// What applying a command gave.
#[derive(Debug)]
pub enum Applied {
    /// The site as it is after it.
    Site(Site),
    /// The goal added.
    Goal(Goal),
    /// The funnel added.
    Funnel(Funnel),
    /// What was to be removed is gone.
    Removed,
}

/// A site's retention as a command sets it (a JSON `null` could not tell "the default" from
/// "unchanged").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// The instance's default.
    Default,
    /// This many days (0: for ever).
    Days(u32),
}

impl Retention {
    /// From the API's `retention_days` (null: the default).
    pub fn from_days(days: Option<u32>) -> Self {
        days.map_or(Self::Default, Self::Days)
    }

    fn days(self) -> Option<u32> {
        match self {
            Self::Default => None,
            Self::Days(days) => Some(days),
        }
    }
}

impl Command {
    /// Applies the command to `store`.
    pub fn apply(&self, store: &Store) -> Result<Applied, AppError> {
        let site_id = |domain: &str| store.site(domain).map(|site| site.id);
        Ok(match self {
            Self::AddGoal { domain, name, kind, at_ms } => {
                Applied::Goal(store.add_goal(site_id(domain)?, name.as_deref(), kind, *at_ms)?)
            }
            Self::RemoveGoal { domain, name } => {
                store.remove_goal(site_id(domain)?, name)?;
                Applied::Removed
            }
            Self::AddFunnel { domain, name, steps, window_ms, at_ms } => {
                Applied::Funnel(store.add_funnel(site_id(domain)?, name, steps, *window_ms, *at_ms)?)
            }
            Self::RemoveFunnel { domain, name } => {
                store.remove_funnel(site_id(domain)?, name)?;
                Applied::Removed
            }
            site => Applied::Site(site.apply_to_site(store)?),
        })
    }

    /// True for the commands that change sites (the pipeline, the edges and the access
    /// cache are told after them).
    fn changes_sites(&self) -> bool {
        matches!(
            self,
            Self::AddSite { .. }
                | Self::RemoveSite { .. }
                | Self::ChangeSite { .. }
                | Self::SetSiteRules { .. }
        )
    }

    /// Applies a site's command: the site after it.
    fn apply_to_site(&self, store: &Store) -> Result<Site, AppError> {
        Ok(match self {
            Self::AddSite { domain, timezone } => store.add_site(domain, timezone)?,
            Self::RemoveSite { domain } => store.remove_site(domain)?,
            Self::ChangeSite { domain, timezone, retention } => {
                let mut site = store.site(domain)?;
                if let Some(timezone) = timezone {
                    site = store.set_site_timezone(&site.domain, timezone.trim())?;
                }
                if let Some(retention) = retention {
                    site = store.set_site_retention(&site.domain, retention.days())?;
                }
                site
            }
            Self::SetSiteRules { domain, rules } => {
                crate::routes::sites::set_rules(store, domain, rules.clone())?
            }
            Self::AddGoal { domain, .. }
            | Self::RemoveGoal { domain, .. }
            | Self::AddFunnel { domain, .. }
            | Self::RemoveFunnel { domain, .. } => store.site(domain)?,
        })
    }
}

/// Runs a command where this node's writes go: applied here at once on a node alone, or
/// through the control stream in a cluster; after a site's change, tells the pipeline, the
/// edges and the access cache.
pub async fn execute(state: &AppState, command: Command) -> Result<Applied, AppError> {
    let Some(stream) = &state.control_stream else {
        let sites = command.changes_sites();
        let (applied, all) = state
            .with_store(move |store| {
                let applied = command.apply(store)?;
                Ok::<_, AppError>((applied, if sites { Some(store.sites()?) } else { None }))
            })
            .await?;
        if let Some(all) = all {
            state.sites_changed(&all);
        }
        return Ok(applied);
    };
    // The applier tells the caches on every node, this one included.
    stream.execute(command).await
}

/// [`execute`] for a command on a site: the site after it.
pub async fn execute_on_site(state: &AppState, command: Command) -> Result<Site, AppError> {
    match execute(state, command).await? {
        Applied::Site(site) => Ok(site),
        other => Err(AppError::internal(format!("a site command gave {other:?}"))),
    }
}

/// This node's end of the control stream.
#[derive(Debug)]
pub struct ControlStream {
    jetstream: jetstream::Context,
    /// Writers waiting for their command's result, and results nobody asked for yet, by
    /// stream position.
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    waiting: HashMap<u64, oneshot::Sender<Result<Applied, AppError>>>,
    done: HashMap<u64, Result<Applied, AppError>>,
}

impl ControlStream {
    /// Makes (or finds) the stream, with `replicas` copies.
    pub async fn open(
        jetstream: jetstream::Context,
        replicas: usize,
    ) -> anyhow::Result<(Arc<Self>, stream::Stream)> {
        let config = stream::Config {
            name: CONTROL_STREAM.into(),
            description: Some("control-plane writes every Hitkeep aggregator applies in order".into()),
            subjects: vec![CONTROL_SUBJECT.into()],
            // Kept for ever: a node that starts empty replays every write.
            retention: stream::RetentionPolicy::Limits,
            max_message_size: 1024 * 1024,
            duplicate_window: Duration::from_secs(120),
            num_replicas: replicas.clamp(1, 5),
            storage: stream::StorageType::File,
            ..Default::default()
        };
        let stream = jetstream.get_or_create_stream(config).await.context("creating the control stream")?;
        Ok((Arc::new(Self { jetstream, pending: Mutex::new(Pending::default()) }), stream))
    }

    /// Publishes `command` and waits until this node has applied it.
    async fn execute(&self, command: Command) -> Result<Applied, AppError> {
        let unavailable = |what: &str| {
            AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cluster_unavailable",
                format!("{what}; the change may still be applied, check before trying again"),
            )
        };
        let payload = serde_json::to_vec(&command).map_err(|error| AppError::internal(error.to_string()))?;
        let published = self.jetstream.publish(CONTROL_SUBJECT, payload.into()).await;
        let acked = match published {
            Ok(future) => tokio::time::timeout(APPLY_TIMEOUT, future.into_future()).await,
            Err(error) => {
                tracing::warn!(%error, "cannot publish a control command");
                return Err(unavailable("the cluster did not take the change"));
            }
        };
        let seq = match acked {
            Ok(Ok(ack)) => ack.sequence,
            _ => return Err(unavailable("the cluster did not confirm the change")),
        };
        let receiver = {
            let mut pending = self.pending.lock().expect("control lock");
            if let Some(result) = pending.done.remove(&seq) {
                return result;
            }
            let (sender, receiver) = oneshot::channel();
            pending.waiting.insert(seq, sender);
            receiver
        };
        match tokio::time::timeout(APPLY_TIMEOUT, receiver).await {
            Ok(Ok(result)) => result,
            _ => {
                self.pending.lock().expect("control lock").waiting.remove(&seq);
                Err(unavailable("this node did not apply the change in time"))
            }
        }
    }

    /// Hands the result of the command at `seq` to its writer, if one waits or will ask.
    fn applied(&self, seq: u64, result: Result<Applied, AppError>) {
        let mut pending = self.pending.lock().expect("control lock");
        match pending.waiting.remove(&seq) {
            Some(writer) => {
                let _ = writer.send(result);
            }
            None => {
                if pending.done.len() >= KEPT_RESULTS {
                    // The oldest, whose writers gave up or were elsewhere.
                    if let Some(&oldest) = pending.done.keys().min() {
                        pending.done.remove(&oldest);
                    }
                }
                pending.done.insert(seq, result);
            }
        }
    }
}

/// The last position this database has applied.
pub fn position(store: &Store) -> hitkeep_store::Result<u64> {
    Ok(store.setting(POSITION_SETTING)?.and_then(|value| value.parse().ok()).unwrap_or(0))
}

/// This node's consumer of the control stream, from after the position its database holds.
pub async fn consumer(
    stream: &stream::Stream,
    node: &str,
    position: u64,
) -> anyhow::Result<consumer::PullConsumer> {
    let name = format!("control-{node}");
    if let Err(error) = stream.delete_consumer(&name).await {
        tracing::debug!(%error, consumer = %name, "no control consumer to replace");
    }
    let deliver_policy = match position {
        0 => consumer::DeliverPolicy::All,
        position => consumer::DeliverPolicy::ByStartSequence { start_sequence: position + 1 },
    };
    stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(name.clone()),
            description: Some(format!("the control-plane writes applied by {node}")),
            deliver_policy,
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 1,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating the consumer {name}"))
}

/// Applies every command the stream holds now, before this node takes traffic (its caches
/// are built afterwards); [`run_applier`] goes on from there with the pull it hands back
/// (a new pull would leave a command the old one took waiting for its redelivery).
pub async fn catch_up(
    store: &Arc<Store>,
    consumer: &consumer::PullConsumer,
    stream: &mut stream::Stream,
) -> anyhow::Result<consumer::pull::Stream> {
    let last = stream.info().await.context("reading the control stream")?.state.last_sequence;
    let mut applied = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || position(&store)).await??
    };
    let mut messages = consumer.messages().await.context("reading the control stream")?;
    while applied < last {
        let next = tokio::time::timeout(Duration::from_secs(30), messages.next()).await;
        let Ok(Some(message)) = next else {
            anyhow::bail!("the control stream stopped at {applied} of {last}");
        };
        let message = message.map_err(|error| anyhow::anyhow!("reading the control stream: {error}"))?;
        let (seq, _) = apply_to_store(store.clone(), &message).await?;
        message.ack().await.map_err(|error| anyhow::anyhow!("acking a control command: {error}"))?;
        applied = seq;
    }
    tracing::info!(position = applied, "control stream applied");
    Ok(messages)
}

/// Applies commands as they come, until `cancel`: each in the database, then the caches, then
/// its writer's answer.
pub async fn run_applier(
    state: AppState,
    consumer: consumer::PullConsumer,
    mut pull: Option<consumer::pull::Stream>,
    cancel: CancellationToken,
) {
    loop {
        let messages = match pull.take() {
            Some(messages) => Ok(messages),
            None => tokio::select! {
                () = cancel.cancelled() => return,
                messages = consumer.messages() => messages,
            },
        };
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "cannot read the control stream; trying again");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => return,
                next = messages.next() => next,
            };
            let message = match next {
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    tracing::warn!(%error, "the control stream's pull failed; pulling again");
                    break;
                }
                None => break,
            };
            match apply_to_store(state.store.clone(), &message).await {
                Ok((seq, applied)) => {
                    if let Some((result, all)) = applied {
                        if let Some(all) = all {
                            state.sites_changed(&all);
                        }
                        if let Some(stream) = &state.control_stream {
                            stream.applied(seq, result);
                        }
                    }
                    if let Err(error) = message.ack().await {
                        tracing::warn!(%error, "cannot ack a control command; it comes again and is skipped");
                    }
                }
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "a control command was not applied; it comes again"
                    );
                }
            }
        }
    }
}

/// What applying a message gave: its position, and (unless applied before) the command's
/// result and, after a site's change, the sites.
type AppliedMessage = (u64, Option<(Result<Applied, AppError>, Option<Vec<Site>>)>);

/// Applies one message to `store` once (a position applied before is skipped) and records
/// its position.
async fn apply_to_store(store: Arc<Store>, message: &jetstream::Message) -> anyhow::Result<AppliedMessage> {
    let seq = message.info().map_err(|error| anyhow::anyhow!("{error}"))?.stream_sequence;
    let command: Result<Command, String> =
        serde_json::from_slice(&message.payload).map_err(|error| error.to_string());
    let applied = tokio::task::spawn_blocking(move || -> hitkeep_store::Result<_> {
        if position(&store)? >= seq {
            return Ok(None);
        }
        let (result, sites) = match &command {
            Ok(command) => (command.apply(&store), command.changes_sites()),
            Err(error) => (Err(AppError::bad_request("invalid_command", error.clone())), false),
        };
        store.set_setting(POSITION_SETTING, &seq.to_string())?;
        Ok(Some((result, if sites { Some(store.sites()?) } else { None })))
    })
    .await??;
    Ok((seq, applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_back_as_written() {
        let commands = [
            Command::AddSite { domain: "a.example".into(), timezone: "Europe/Berlin".into() },
            Command::RemoveSite { domain: "a.example".into() },
            Command::ChangeSite {
                domain: "a.example".into(),
                timezone: None,
                retention: Some(Retention::Default),
            },
            Command::ChangeSite { domain: "a.example".into(), timezone: None, retention: None },
            Command::ChangeSite {
                domain: "a.example".into(),
                timezone: Some("UTC".into()),
                retention: Some(Retention::Days(30)),
            },
        ];
        for command in commands {
            let text = serde_json::to_string(&command).unwrap();
            assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), command, "{text}");
        }
        assert!(serde_json::from_str::<Command>(r#"{"command":"drop_everything"}"#).is_err());
    }

    #[test]
    fn applying_a_command_twice_leaves_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let add = Command::AddSite { domain: "a.example".into(), timezone: "Europe/Berlin".into() };
        let change = Command::ChangeSite {
            domain: "a.example".into(),
            timezone: Some("UTC".into()),
            retention: Some(Retention::Days(30)),
        };
        for command in [&add, &change, &add, &change] {
            let _ = command.apply(&store);
        }
        let sites = store.sites().unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].timezone, "UTC");
        assert!(add.apply(&store).is_err(), "a second add answers that it exists");
        let goal = Command::AddGoal {
            domain: "a.example".into(),
            name: None,
            kind: GoalKind::Event { name: "Signup".into(), props: Default::default() },
            at_ms: 1_767_225_600_000,
        };
        let funnel = Command::AddFunnel {
            domain: "a.example".into(),
            name: "signup".into(),
            steps: vec![
                GoalKind::Page { pattern: "/pricing".into() },
                GoalKind::Event { name: "Signup".into(), props: Default::default() },
            ],
            window_ms: None,
            at_ms: 1_767_225_600_000,
        };
        for command in [&goal, &funnel, &goal, &funnel] {
            let _ = command.apply(&store);
        }
        assert_eq!(store.goals(sites[0].id).unwrap().len(), 1);
        assert_eq!(store.funnels(sites[0].id).unwrap().len(), 1);
        let text = serde_json::to_string(&funnel).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), funnel);
        let remove = Command::RemoveGoal { domain: "a.example".into(), name: "Signup".into() };
        assert!(matches!(remove.apply(&store), Ok(Applied::Removed)));
        assert!(remove.apply(&store).is_err(), "gone");
    }
}
