//! E-mail reports and alerts: the scheduler that queues them, the checks that fire alerts,
//! and the sender that works through the outbox (see `hitkeep_store::mailings` for why it
//! is exactly-once).
//!
//! Every [`TICK`] (and at once at start, which is how a report missed while the process was
//! down is caught up) the scheduler:
//! 1. queues each subscription's reports whose due time has passed ([`schedule`]); a period
//!    queued before, by this process or an earlier one, stays as it was;
//! 2. checks the alerts: visitors of the last five minutes against a threshold (the episode
//!    ends when they are back at 80% of it or below), and yesterday's visitors against the
//!    median of the same weekday in the four weeks before (checked from 01:00, local time,
//!    so that late hits are in);
//! 3. sends what is due, oldest first: claims the row, draws the message from the data as it
//!    is now ([`render`]) with a new unsubscribe secret, hands it to the SMTP server, and
//!    records the outcome (a failure is tried again after 1, 5, 15, 60 and 240 minutes).
//!
//! It is a singleton job: with several aggregators it ticks on the leader only
//! (`crate::leader`); a single `hitkeep serve` is always the leader.

pub mod i18n;
pub mod render;
pub mod schedule;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use hitkeep_store::stats::{Metric, Query, local_to_utc_ms, utc_to_local};
use hitkeep_store::{Alert, AlertFiring, AlertKind, MailKind, OutboxMail, Site, Store};
use tokio_util::sync::CancellationToken;

use crate::auth::secret::{SecretKind, digest};
use crate::mail::{MailError, Mailer};
use crate::state::AppState;

/// How often the scheduler looks.
pub const TICK: Duration = Duration::from_secs(15);
/// Messages sent per tick at most.
const BATCH: usize = 50;
/// Finished outbox rows are kept this long (their unsubscribe links work as long).
const OUTBOX_KEPT_MS: i64 = 400 * 86_400_000;
/// Visitors now: the last five minutes, as the dashboard's realtime.
const NOW_MS: i64 = 5 * 60_000;
/// A traffic drop is judged only against a usual day with at least this many visitors.
const MIN_BASELINE: f64 = 10.0;

/// Runs the scheduler until `cancel`; nothing when the instance has no SMTP server.
pub async fn run(
    state: AppState,
    report_hour: u8,
    leadership: crate::leader::Leadership,
    claims: Option<Arc<crate::cluster::MailClaims>>,
    cancel: CancellationToken,
) {
    let Some(mailer) = state.mailer.clone() else {
        tracing::info!("no e-mail reports or alerts: smtp_host is not set");
        return;
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.interrupt_unfinished_mail()).await {
        Ok(Ok(0)) => {}
        Ok(Ok(count)) => tracing::warn!(
            count,
            "the last run stopped while sending these reports or alerts; they are not sent again (the SMTP server may have them)"
        ),
        Ok(Err(error)) => tracing::error!(%error, "reading the outbox"),
        Err(error) => tracing::error!(%error, "reading the outbox"),
    }
    let mut scheduler = Scheduler::new(report_hour);
    scheduler.claims = claims;
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = cancel.cancelled() => return,
        }
        if leadership.is_leader() {
            scheduler.tick(&state, &mailer).await;
        }
    }
}

/// The scheduler's memory between ticks.
#[derive(Debug)]
pub struct Scheduler {
    report_hour: u8,
    /// The last day each traffic-drop alert was judged on.
    checked_days: HashMap<u32, NaiveDate>,
    ticks: u64,
    /// In a cluster: the messages any leader has sent.
    claims: Option<Arc<crate::cluster::MailClaims>>,
}

impl Scheduler {
    /// A scheduler sending reports at `report_hour`.
    pub fn new(report_hour: u8) -> Self {
        Self { report_hour, checked_days: HashMap::new(), ticks: 0, claims: None }
    }

    /// One round: queue, check, send.
    pub async fn tick(&mut self, state: &AppState, mailer: &Mailer) {
        let now_ms = state.now_ms();
        let store = state.store.clone();
        let hour = self.report_hour;
        let mut checked = std::mem::take(&mut self.checked_days);
        let prune = self.ticks.is_multiple_of(240);
        self.ticks += 1;
        let planned = tokio::task::spawn_blocking(move || {
            let queued = queue_due_reports(&store, hour, now_ms);
            let alerts = check_alerts(&store, now_ms, &mut checked);
            if prune && let Err(error) = store.prune_outbox(now_ms - OUTBOX_KEPT_MS) {
                tracing::warn!(%error, "pruning the outbox");
            }
            (queued, alerts, checked)
        })
        .await;
        match planned {
            Ok((queued, alerts, checked)) => {
                self.checked_days = checked;
                if let Err(error) = queued {
                    tracing::error!(%error, "queueing reports");
                }
                if let Err(error) = alerts {
                    tracing::error!(%error, "checking alerts");
                }
            }
            Err(error) => tracing::error!(%error, "the report scheduler failed"),
        }
        if let Err(error) = send_due(state, mailer, self.claims.as_deref(), now_ms).await {
            tracing::error!(%error, "sending reports and alerts");
        }
    }
}

/// Queues every report whose due time has passed and that was not queued before.
pub fn queue_due_reports(store: &Store, hour: u8, now_ms: i64) -> hitkeep_store::Result<usize> {
    let sites: HashMap<u32, Site> = store.sites()?.into_iter().map(|site| (site.id, site)).collect();
    let mut queued = 0;
    for subscription in store.report_subscriptions(None)? {
        let Some(site) = sites.get(&subscription.site_id) else { continue };
        let zone = zone(site);
        for period in
            schedule::due_periods(zone, subscription.frequency, hour, subscription.created_at_ms, now_ms)
        {
            let (start, end) = period.utc_ms(zone);
            if store.queue_report(subscription.id, start, end, now_ms)? {
                queued += 1;
                tracing::info!(
                    site_id = site.id,
                    subscription = subscription.id,
                    from = %period.start,
                    until = %period.end,
                    "report queued"
                );
            }
        }
    }
    Ok(queued)
}

fn zone(site: &Site) -> Tz {
    site.timezone.parse().unwrap_or(Tz::UTC)
}

fn visitors(store: &Store, site: &Site, start_ms: i64, end_ms: i64) -> hitkeep_store::Result<f64> {
    let result =
        store.query_stats(&Query::new(site.id, start_ms, end_ms, zone(site), vec![Metric::Visitors]))?;
    Ok(result.rows.first().and_then(|row| row.metrics[0]).unwrap_or(0.0))
}

/// Checks every alert at `now_ms`, queueing the message of each episode that begins.
pub fn check_alerts(
    store: &Store,
    now_ms: i64,
    checked_days: &mut HashMap<u32, NaiveDate>,
) -> hitkeep_store::Result<usize> {
    let sites: HashMap<u32, Site> = store.sites()?.into_iter().map(|site| (site.id, site)).collect();
    let mut fired = 0;
    for alert in store.alerts(None)? {
        let Some(site) = sites.get(&alert.site_id) else { continue };
        let verdict = match alert.kind {
            AlertKind::VisitorsAbove => visitors_above(store, site, &alert, now_ms)?,
            AlertKind::TrafficDrop => traffic_drop(store, site, &alert, now_ms, checked_days)?,
        };
        let Some(firing) = verdict else { continue };
        if store.record_alert_check(alert.id, firing, now_ms)? {
            fired += 1;
            tracing::info!(site_id = site.id, alert = alert.id, kind = ?alert.kind, "alert fired");
        }
    }
    Ok(fired)
}

/// `Some(Some(_))`: the condition holds; `Some(None)`: the episode is over; `None`: no change.
type Verdict = Option<Option<AlertFiring>>;

fn visitors_above(store: &Store, site: &Site, alert: &Alert, now_ms: i64) -> hitkeep_store::Result<Verdict> {
    let now = visitors(store, site, now_ms - NOW_MS, now_ms + 1)?;
    let threshold = f64::from(alert.threshold);
    Ok(if now > threshold {
        Some(Some(AlertFiring {
            episode_start_ms: now_ms,
            episode_end_ms: now_ms,
            value: now,
            baseline: None,
        }))
    } else if now <= threshold * 0.8 {
        Some(None)
    } else {
        None
    })
}

fn traffic_drop(
    store: &Store,
    site: &Site,
    alert: &Alert,
    now_ms: i64,
    checked_days: &mut HashMap<u32, NaiveDate>,
) -> hitkeep_store::Result<Verdict> {
    let zone = zone(site);
    let local = utc_to_local(zone, now_ms);
    let day = local.date() - Days::new(1);
    let hour_one = NaiveTime::from_hms_opt(1, 0, 0).expect("valid");
    if local.time() < hour_one || checked_days.get(&alert.id) == Some(&day) {
        return Ok(None);
    }
    let bounds = |day: NaiveDate| {
        (
            local_to_utc_ms(zone, day.and_time(NaiveTime::MIN)),
            local_to_utc_ms(zone, (day + Days::new(1)).and_time(NaiveTime::MIN)),
        )
    };
    let (start, end) = bounds(day);
    // Days that ended before the alert existed are not judged.
    if end <= alert.created_at_ms {
        checked_days.insert(alert.id, day);
        return Ok(None);
    }
    let value = visitors(store, site, start, end)?;
    let mut usual = Vec::with_capacity(4);
    for weeks in 1..=4u64 {
        let (start, end) = bounds(day - Days::new(7 * weeks));
        usual.push(visitors(store, site, start, end)?);
    }
    checked_days.insert(alert.id, day);
    usual.sort_by(f64::total_cmp);
    let baseline = (usual[1] + usual[2]) / 2.0;
    if baseline < MIN_BASELINE {
        return Ok(None);
    }
    let limit = baseline * f64::from(alert.threshold) / 100.0;
    Ok(if value < limit {
        Some(Some(AlertFiring {
            episode_start_ms: start,
            episode_end_ms: end,
            value,
            baseline: Some(baseline),
        }))
    } else {
        Some(None)
    })
}

/// A message ready to send.
struct Prepared {
    to: String,
    message: render::Rendered,
    /// What makes it this message, the same on every node: the site, the recipient, the
    /// kind and the period (see [`crate::cluster::MailClaims`]).
    identity: String,
}

/// Draws an outbox message from its subscription or alert and the data; `None` when the
/// subscription or alert (or its site) is gone.
fn prepare(
    store: &Store,
    mail: &OutboxMail,
    base: &str,
    unsubscribe: &str,
) -> hitkeep_store::Result<Option<Prepared>> {
    let site_of = |site_id: u32| -> hitkeep_store::Result<Option<Site>> {
        Ok(store.sites()?.into_iter().find(|site| site.id == site_id))
    };
    match mail.kind {
        MailKind::Report => {
            let Some(subscription) = store.report_subscription(mail.ref_id)? else { return Ok(None) };
            let Some(site) = site_of(subscription.site_id)? else { return Ok(None) };
            let zone = zone(&site);
            let first = utc_to_local(zone, mail.period_start_ms).date();
            let period = schedule::Period::containing(subscription.frequency, first);
            let data = render::report_data(store, &site, subscription.frequency, period)?;
            let dashboard = render::dashboard_url(base, &site.domain, period);
            let message = render::render_report(
                &data,
                &subscription.language,
                &subscription.email,
                &dashboard,
                unsubscribe,
            );
            let identity = format!(
                "report|{}|{}|{:?}|{}",
                site.domain,
                subscription.email.to_lowercase(),
                subscription.frequency,
                mail.period_start_ms
            );
            Ok(Some(Prepared { to: subscription.email, message, identity }))
        }
        MailKind::Alert => {
            let Some(alert) = store.alert(mail.ref_id)? else { return Ok(None) };
            let Some(site) = site_of(alert.site_id)? else { return Ok(None) };
            let dashboard = format!("{base}/sites/{}", site.domain);
            let message = render::render_alert(&alert, mail, &site, &dashboard, unsubscribe);
            let identity = format!(
                "alert|{}|{}|{:?}|{}|{}",
                site.domain,
                alert.email.to_lowercase(),
                alert.kind,
                alert.threshold,
                mail.period_start_ms
            );
            Ok(Some(Prepared { to: alert.email, message, identity }))
        }
    }
}

/// Sends what is due; in a cluster, only what no other leader has sent (`claims`).
pub async fn send_due(
    state: &AppState,
    mailer: &Mailer,
    claims: Option<&crate::cluster::MailClaims>,
    now_ms: i64,
) -> anyhow::Result<usize> {
    let store = state.store.clone();
    let due = tokio::task::spawn_blocking(move || store.due_mail(now_ms, BATCH)).await??;
    let mut sent = 0;
    for mail in due {
        let secret = SecretKind::Unsubscribe.generate();
        let unsubscribe = format!("{}/unsubscribe/{secret}", mailer.base_url());
        let (store, base, link) = (state.store.clone(), mailer.base_url().to_owned(), unsubscribe.clone());
        let prepared = tokio::task::spawn_blocking(move || -> hitkeep_store::Result<_> {
            if !store.claim_mail(mail.id, &digest(&secret))? {
                return Ok((mail, None, false));
            }
            let prepared = prepare(&store, &mail, &base, &link);
            match prepared {
                Ok(Some(prepared)) => Ok((mail, Some(prepared), true)),
                Ok(None) => {
                    store.mail_cancelled(mail.id)?;
                    Ok((mail, None, true))
                }
                Err(error) => {
                    store.mail_failed(mail.id, &error.to_string(), false, now_ms)?;
                    Err(error)
                }
            }
        })
        .await??;
        let (mail, Some(prepared), true) = prepared else { continue };
        let kind = match mail.kind {
            MailKind::Report => "report",
            MailKind::Alert => "alert",
        };
        if let Some(claims) = claims {
            let store = state.store.clone();
            match claims.claim(&prepared.identity).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another leader sent it (or began to) before a failover.
                    tracing::info!(mail = mail.id, kind, "sent by another node before");
                    let finished_ms = state.now_ms();
                    tokio::task::spawn_blocking(move || store.mail_sent(mail.id, finished_ms)).await??;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(
                        mail = mail.id,
                        kind,
                        error = format!("{error:#}"),
                        "not sent: the cluster cannot say whether another node sent it"
                    );
                    let text = error.to_string();
                    let finished_ms = state.now_ms();
                    tokio::task::spawn_blocking(move || {
                        store.mail_failed(mail.id, &text, false, finished_ms)
                    })
                    .await??;
                    continue;
                }
            }
        }
        let id = format!("hitkeep-{kind}-{}", mail.id);
        let outcome = mailer.send_mailing(&prepared.to, &id, &prepared.message, &unsubscribe).await;
        let store = state.store.clone();
        let finished_ms = state.now_ms();
        match outcome {
            Ok(()) => {
                tracing::info!(mail = mail.id, kind, "sent");
                sent += 1;
                tokio::task::spawn_blocking(move || store.mail_sent(mail.id, finished_ms)).await??;
            }
            Err(error) => {
                let permanent = matches!(error, MailError::To) || is_permanent(&error);
                let text = error.to_string();
                let status = tokio::task::spawn_blocking(move || {
                    store.mail_failed(mail.id, &text, permanent, finished_ms)
                })
                .await??;
                tracing::warn!(mail = mail.id, kind, %error, ?status, "not sent");
            }
        }
    }
    Ok(sent)
}

/// A 5xx answer of the SMTP server: trying again would not help.
fn is_permanent(error: &MailError) -> bool {
    matches!(error, MailError::Smtp(smtp) if smtp.is_permanent())
}
